"""A WASI 0.2 command written in Python and built by componentize-py (scripts/build-wasi-programs):
arguments, environment, wall and monotonic clocks, random, and files in a preopened directory
(read, write, list, and an absolute path outside it that must not open), then sockets: a TCP
echo over loopback and a UDP round trip when the host lets it onto the network, an error
otherwise. Its expected output is checked by `wasi_p2::componentize_py` in tests/all/wasi_p2.rs."""

import os
import random
import socket
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
        sockets()


def sockets() -> None:
    try:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    except OSError as e:
        print("sockets: refused", type(e).__name__)
        return
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    host, port = srv.getsockname()
    print("tcp listening on loopback:", host == "127.0.0.1" and port > 0)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect(("127.0.0.1", port))
    conn, peer = srv.accept()
    print("tcp peer is the client:", peer == client.getsockname())
    client.sendall(b"ping" * 10000)
    received = b""
    while len(received) < 40000:
        received += conn.recv(65536)
    print("tcp server got:", len(received), received[:8])
    conn.sendall(received[::-1])
    echoed = b""
    while len(echoed) < 40000:
        echoed += client.recv(65536)
    print("tcp client got the echo:", echoed == received[::-1])
    conn.close()
    print("tcp end of stream:", client.recv(16) == b"")
    client.close()
    srv.close()
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind(("127.0.0.1", 0))
    b.sendto(b"datagram", a.getsockname())
    data, sender = a.recvfrom(64)
    print("udp got:", data, sender == b.getsockname())
    a.sendto(data.upper(), sender)
    print("udp reply:", b.recvfrom(64)[0])
