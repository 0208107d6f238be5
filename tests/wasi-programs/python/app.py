"""A WASI 0.2 command written in Python and built by componentize-py (scripts/build-wasi-programs):
arguments, environment, wall and monotonic clocks, random, and files in a preopened directory
(read, write, list, and an absolute path outside it that must not open). Its expected output is
checked by `wasi_p2::componentize_py` in tests/all/wasi_p2.rs."""

import os
import random
import sys
import time

from wit_world import exports


class Run(exports.Run):
    def run(self) -> None:
        print("args:", sys.argv[1:])
        print("env NAME:", os.environ.get("NAME"))
        t0 = time.monotonic()
        now = time.time()
        print("wall clock after 2020:", now > 1577836800)
        with open("/data/in.txt") as f:
            text = f.read()
        print("read:", text.strip())
        with open("/data/out.txt", "w") as f:
            f.write(text.upper())
        print("listdir:", sorted(os.listdir("/data")))
        draws = {random.getrandbits(64) for _ in range(4)}
        print("random draws distinct:", len(draws) == 4)
        print("urandom bytes:", len(os.urandom(16)))
        print("monotonic ok:", time.monotonic() >= t0)
        try:
            open("/etc/passwd")
            print("escape: opened")
        except OSError as e:
            print("escape: refused", type(e).__name__)
