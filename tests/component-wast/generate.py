#!/usr/bin/env python3
"""Generates the `types-*.wast` scripts of kiln's component test suite.

Every type T of the catalogue below gets one outer component holding two inner components:

- `$callee` imports the runner's `host-echo` at `func(x: T) -> T`, lowers it into its core
  module and lifts a core function that forwards its arguments to that lowered import;
- `$caller` imports `$callee`'s export, lowers it (a fused adapter: caller core -> callee core)
  and lifts a core function that forwards to it in the same way.

The outer component exports both: `host` (host -> callee -> host and back, the reference ABI
in both directions) and `fused` (host -> caller -> adapter -> callee -> host and back). Each
value is then checked through both. The forwarders know only the flat signature of T, so the
values travel through every memory layout unchanged or the assertion fails.

Named types (records, variants, enums, flags) are imported with `(eq ...)` bounds by every
component, which also exercises type imports through nested instantiation.

Run from this folder: `python3 generate.py` (rewrites the `types-*.wast` files).
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------------------------
# Types: ("prim", name) | ("list", T) | ("record", [(name, T)]) | ("tuple", [T])
#        | ("map", K, V) | ("fixed", T, N)
#        | ("variant", [(name, T | None)]) | ("enum", [names]) | ("option", T)
#        | ("result", T | None, T | None) | ("flags", [names])

def prim(n):
    return ("prim", n)


U8, S8, U16, S16, U32, S32, U64, S64 = (prim(n) for n in ["u8", "s8", "u16", "s16", "u32", "s32", "u64", "s64"])
F32, F64, CHAR, BOOL, STRING = (prim(n) for n in ["f32", "f64", "char", "bool", "string"])

FLAT = {
    "bool": ["i32"], "s8": ["i32"], "u8": ["i32"], "s16": ["i32"], "u16": ["i32"], "s32": ["i32"],
    "u32": ["i32"], "char": ["i32"], "s64": ["i64"], "u64": ["i64"], "f32": ["f32"], "f64": ["f64"],
    "string": ["i32", "i32"],
}


def join(a, b):
    if a == b:
        return a
    if {a, b} == {"i32", "f32"}:
        return "i32"
    return "i64"


def flat(t):
    kind = t[0]
    if kind == "prim":
        return FLAT[t[1]]
    if kind in ("list", "map"):
        return ["i32", "i32"]
    if kind == "fixed":
        return flat(t[1]) * t[2]
    if kind == "record":
        return [f for _, ft in t[1] for f in flat(ft)]
    if kind == "tuple":
        return [f for ft in t[1] for f in flat(ft)]
    if kind == "enum":
        return ["i32"]
    if kind == "flags":
        return ["i32"]
    if kind == "variant":
        cases = [ct for _, ct in t[1]]
    elif kind == "option":
        cases = [None, t[1]]
    elif kind == "result":
        cases = [t[1], t[2]]
    else:
        raise ValueError(kind)
    payload = []
    for ct in cases:
        if ct is None:
            continue
        for i, f in enumerate(flat(ct)):
            if i < len(payload):
                payload[i] = join(payload[i], f)
            else:
                payload.append(f)
    return ["i32"] + payload


class Types:
    """Names the record/variant/enum/flags nodes of a type as `$t0`, `$t1`, ... (imported as
    `t0`, `t1`, ...) and renders type expressions."""

    def __init__(self):
        self.defs = []  # (index, definition text)
        self.ids = {}

    def expr(self, t):
        kind = t[0]
        if kind == "prim":
            return t[1]
        if kind == "list":
            return f"(list {self.expr(t[1])})"
        if kind == "map":
            return f"(map {self.expr(t[1])} {self.expr(t[2])})"
        if kind == "fixed":
            return f"(list {self.expr(t[1])} {t[2]})"
        if kind == "tuple":
            return "(tuple " + " ".join(self.expr(x) for x in t[1]) + ")"
        if kind == "option":
            return f"(option {self.expr(t[1])})"
        if kind == "result":
            parts = ["result"]
            if t[1] is not None:
                parts.append(self.expr(t[1]))
            if t[2] is not None:
                parts.append(f"(error {self.expr(t[2])})")
            return "(" + " ".join(parts) + ")"
        key = repr(t)
        if key not in self.ids:
            if kind == "record":
                body = "(record " + " ".join(f'(field "{n}" {self.expr(ft)})' for n, ft in t[1]) + ")"
            elif kind == "variant":
                cases = []
                for n, ct in t[1]:
                    cases.append(f'(case "{n}" {self.expr(ct)})' if ct is not None else f'(case "{n}")')
                body = "(variant " + " ".join(cases) + ")"
            elif kind == "enum":
                body = "(enum " + " ".join(f'"{n}"' for n in t[1]) + ")"
            elif kind == "flags":
                body = "(flags " + " ".join(f'"{n}"' for n in t[1]) + ")"
            else:
                raise ValueError(kind)
            index = len(self.defs)
            self.defs.append((index, body))
            self.ids[key] = f"$t{index}"
        return self.ids[key]

    def prelude(self, indent):
        lines = []
        for index, body in self.defs:
            lines.append(f"{indent}(type $t{index}-def {body})")
            lines.append(f'{indent}(import "t{index}" (type $t{index} (eq $t{index}-def)))')
        return "\n".join(lines)

    def withs(self):
        return " ".join(f'(with "t{i}" (type $t{i}))' for i, _ in self.defs)


LIBC = """(core module $libc
      (memory (export "memory") 1)
      (global $heap (mut i32) (i32.const 1024))
      ;; A bump allocator: never frees, grows the memory as needed, copies on reallocation.
      (func (export "realloc") (param $old i32) (param $old-size i32) (param $align i32) (param $new-size i32)
        (result i32)
        (local $p i32)
        (local.set $p
          (i32.and
            (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
            (i32.sub (i32.const 0) (local.get $align))))
        (global.set $heap (i32.add (local.get $p) (local.get $new-size)))
        (block $done
          (loop $grow
            (br_if $done (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
            (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
            (br $grow)))
        (if (local.get $old)
          (then (memory.copy (local.get $p) (local.get $old) (local.get $old-size))))
        (local.get $p)))
    (core instance $libc (instantiate $libc))"""

OPTS = '(memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))'


def opts(encoding="utf8"):
    return f"{OPTS} string-encoding={encoding}"
RET_AREA = 16


def forwarder(t):
    """A core module importing `echo` with the lowered signature of `func(x: T) -> T` and
    exporting `f` with the lifted one, forwarding its arguments."""
    f = flat(t)
    params = f if len(f) <= 16 else ["i32"]
    lifted_results = f if len(f) <= 1 else ["i32"]
    retptr = len(f) > 1
    lowered_params = params + (["i32"] if retptr else [])
    lowered_results = f if len(f) <= 1 else []

    def sig(ps, rs):
        out = ""
        if ps:
            out += " (param " + " ".join(ps) + ")"
        if rs:
            out += " (result " + " ".join(rs) + ")"
        return out

    body = " ".join(f"local.get {i}" for i in range(len(params)))
    if retptr:
        body += f" i32.const {RET_AREA}"
    body += " call $echo"
    if retptr:
        body += f" i32.const {RET_AREA}"
    return f"""(core module $m
      (import "" "echo" (func $echo{sig(lowered_params, lowered_results)}))
      (func (export "f"){sig(params, lifted_results)} {body}))"""


def component_for(t):
    types = Types()
    texpr = types.expr(t)
    prelude_outer = types.prelude("  ")
    prelude_inner = types.prelude("    ")
    withs = types.withs()
    fty = f'(param "x" {texpr}) (result {texpr})'
    fwd = forwarder(t)
    inner_body = f"""    {LIBC}
    (core func $echo (canon lower (func $echo) {OPTS}))
    {fwd}
    (core instance $i (instantiate $m (with "" (instance (export "echo" (func $echo))))))
    (func (export "echo") {fty} (canon lift (core func $i "f") {OPTS}))"""
    return f"""(component
{prelude_outer}
  (import "host-echo" (func $host-echo {fty}))
  (component $callee
{prelude_inner}
    (import "host-echo" (func $echo {fty}))
{inner_body}
  )
  (instance $c (instantiate $callee {withs} (with "host-echo" (func $host-echo))))
  (component $caller
{prelude_inner}
    (import "echo" (func $echo {fty}))
{inner_body}
  )
  (instance $k (instantiate $caller {withs} (with "echo" (func $c "echo"))))
  (export "host" (func $c "echo"))
  (export "fused" (func $k "echo"))
)"""


def script(title, cases):
    out = [f";; {title}", ";; Generated by generate.py: edit that, not this file.", ""]
    for t, values in cases:
        out.append(component_for(t))
        for v in values:
            for export in ["host", "fused"]:
                out.append(f'(assert_return (invoke "{export}" {v}) {v})')
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# The catalogue.

def r(*fields):
    return ("record", list(fields))


def rec_val(*fields):
    return "(record.const " + " ".join(f'(field "{n}" {v})' for n, v in fields) + ")"


def strip(v):
    """`(u8.const 1)` -> `u8.const 1`: record fields take their value without parentheses."""
    assert v.startswith("(") and v.endswith(")")
    return v[1:-1]


def lst(*vals):
    return "(list.const " + " ".join(vals) + ")"


SCALARS = [
    (BOOL, ["(bool.const true)", "(bool.const false)"]),
    (S8, ["(s8.const -128)", "(s8.const 127)", "(s8.const -1)"]),
    (U8, ["(u8.const 0)", "(u8.const 255)"]),
    (S16, ["(s16.const -32768)", "(s16.const 32767)"]),
    (U16, ["(u16.const 65535)", "(u16.const 1)"]),
    (S32, ["(s32.const -2147483648)", "(s32.const 2147483647)"]),
    (U32, ["(u32.const 4294967295)", "(u32.const 0)"]),
    (S64, ["(s64.const -9223372036854775808)", "(s64.const 9223372036854775807)"]),
    (U64, ["(u64.const 18446744073709551615)", "(u64.const 42)"]),
    (F32, ["(f32.const 1.5)", "(f32.const -0)", "(f32.const inf)", "(f32.const -inf)", "(f32.const nan)",
           "(f32.const 0x1p-149)", "(f32.const 0x1.fffffep+127)"]),
    (F64, ["(f64.const -2.25)", "(f64.const -0)", "(f64.const inf)", "(f64.const nan)",
           "(f64.const 0x1p-1074)", "(f64.const 0x1.fffffffffffffp+1023)"]),
    (CHAR, ['(char.const "a")', '(char.const "\\u{e9}")', '(char.const "\\u{ffff}")',
            '(char.const "\\u{1f600}")', '(char.const "\\u{10ffff}")', '(char.const "\\u{0}")']),
]

BIG_BYTES = lst(*[f"(u8.const {(i * 37) % 256})" for i in range(300)])

STRINGS_LISTS = [
    (STRING, ['(str.const "")', '(str.const "hello")', '(str.const "caf\\u{e9} \\u{fc}ber")',
              '(str.const "astral \\u{1f600}\\u{10348} end")']),
    (("list", U8), [lst(), lst("(u8.const 1)", "(u8.const 2)", "(u8.const 255)"), BIG_BYTES]),
    (("list", U32), [lst(), lst("(u32.const 1)", "(u32.const 4294967295)")]),
    (("list", F64), [lst("(f64.const 1.5)", "(f64.const -0)", "(f64.const nan)")]),
    (("list", CHAR), [lst('(char.const "x")', '(char.const "\\u{1f600}")')]),
    (("list", STRING), [lst(), lst('(str.const "a")', '(str.const "")', '(str.const "\\u{1f600}")')]),
    (("list", ("list", U16)), [lst(lst(), lst("(u16.const 7)"), lst("(u16.const 1)", "(u16.const 65535)"))]),
    (("list", ("list", STRING)), [lst(lst('(str.const "x")', '(str.const "yz")'), lst(), lst('(str.const "w")'))]),
    (("list", ("list", ("list", U8))), [lst(lst(lst("(u8.const 1)")), lst(), lst(lst(), lst("(u8.const 2)")))]),
    (("list", ("tuple", [U8, U64])), [lst("(tuple.const (u8.const 1) (u64.const 2))",
                                          "(tuple.const (u8.const 3) (u64.const 18446744073709551615))")]),
]

REC8 = r(("a", U8), ("b", U16), ("c", U32), ("d", U64), ("e", F32), ("f", F64), ("g", CHAR), ("h", STRING))
REC8_VAL = rec_val(("a", "u8.const 1"), ("b", "u16.const 2"), ("c", "u32.const 3"), ("d", "u64.const 4"),
                   ("e", "f32.const 5.5"), ("f", "f64.const 6.25"), ("g", 'char.const "\\u{1f600}"'),
                   ("h", 'str.const "eight"'))
# 17 u32 fields: more than 16 flat parameters, so the parameter is passed through memory.
REC17 = r(*[(f"f{i}", U32) for i in range(17)])
REC17_VAL = rec_val(*[(f"f{i}", f"u32.const {i * 1000 + 7}") for i in range(17)])
NESTED = r(("name", STRING), ("tags", ("list", STRING)), ("inner", r(("x", S8), ("y", ("option", F32)))))
NESTED_VAL = rec_val(("name", 'str.const "n"'), ("tags", strip(lst('(str.const "p")', '(str.const "q")'))),
                     ("inner", strip(rec_val(("x", "s8.const -3"), ("y", "option.some (f32.const 2.5)")))))

RECORDS = [
    (r(("x", U32)), [rec_val(("x", "u32.const 7"))]),
    (r(("a", BOOL), ("b", U64)), [rec_val(("a", "bool.const true"), ("b", "u64.const 18446744073709551615"))]),
    (REC8, [REC8_VAL]),
    (REC17, [REC17_VAL]),
    (NESTED, [NESTED_VAL]),
    (("list", r(("a", U8), ("b", F64))), [lst(rec_val(("a", "u8.const 1"), ("b", "f64.const 0.5")),
                                              rec_val(("a", "u8.const 2"), ("b", "f64.const -1")))]),
    (("tuple", [U8, STRING, F64]), ['(tuple.const (u8.const 9) (str.const "t") (f64.const 3.5))']),
    (("tuple", [("tuple", [S16]), ("list", BOOL)]),
     ['(tuple.const (tuple.const (s16.const -2)) (list.const (bool.const true) (bool.const false)))']),
    # 20 u64 elements: the result and the parameter both go through memory.
    (("tuple", [U64] * 20), ["(tuple.const " + " ".join(f"(u64.const {i})" for i in range(20)) + ")"]),
]


def v(name, payload=None):
    return f'(variant.const "{name}"' + (f" {payload}" if payload else "") + ")"


ENUM300 = ("enum", [f"e{i}" for i in range(300)])

VARIANTS = [
    # f32 and s64 payloads join to i64.
    (("variant", [("a", F32), ("b", S64), ("c", None)]),
     [v("a", "(f32.const 1.5)"), v("a", "(f32.const nan)"), v("b", "(s64.const -1)"), v("c")]),
    # u8 and f32 join to i32.
    (("variant", [("a", U8), ("b", F32)]), [v("a", "(u8.const 200)"), v("b", "(f32.const -0.5)")]),
    # f64 and u32 join to i64; f32 and f64 to i64.
    (("variant", [("a", F64), ("b", U32), ("c", F32)]),
     [v("a", "(f64.const 2.5)"), v("b", "(u32.const 4294967295)"), v("c", "(f32.const 0x1p-149)")]),
    # payloads of different widths: a string (i32, i32) and a u64 (i64).
    (("variant", [("s", STRING), ("n", U64), ("r", r(("p", U8), ("q", F64))), ("none", None)]),
     [v("s", '(str.const "\\u{1f600}")'), v("n", "(u64.const 18446744073709551615)"),
      v("r", rec_val(("p", "u8.const 1"), ("q", "f64.const -3.5"))), v("none")]),
    (("enum", ["red", "green", "blue"]), ['(enum.const "red")', '(enum.const "blue")']),
    # more than 256 cases: a 16-bit discriminant.
    (ENUM300, ['(enum.const "e0")', '(enum.const "e255")', '(enum.const "e256")', '(enum.const "e299")']),
    (("variant", [(f"c{i}", U8 if i % 2 else None) for i in range(260)]),
     [v("c0"), v("c259", "(u8.const 5)"), v("c257", "(u8.const 255)")]),
    (("list", ("variant", [("a", F32), ("b", S64)])),
     [lst(v("a", "(f32.const 1)"), v("b", "(s64.const 7)"), v("a", "(f32.const -2)"))]),
]

OPTIONS_RESULTS_FLAGS = [
    (("option", U32), ["(option.none)", "(option.some (u32.const 3))"]),
    (("option", STRING), ["(option.none)", '(option.some (str.const "s"))']),
    (("option", ("option", U8)), ["(option.none)", "(option.some (option.none))",
                                  "(option.some (option.some (u8.const 1)))"]),
    (("option", F64), ["(option.some (f64.const -0))"]),
    (("result", U32, STRING), ["(result.ok (u32.const 5))", '(result.err (str.const "bad"))']),
    (("result", None, None), ["(result.ok)", "(result.err)"]),
    (("result", None, U8), ["(result.ok)", "(result.err (u8.const 9))"]),
    (("result", STRING, None), ['(result.ok (str.const "fine"))', "(result.err)"]),
    (("result", F32, U64), ["(result.ok (f32.const 1.25))", "(result.err (u64.const 18446744073709551615))"]),
    (("list", ("result", ("option", STRING), F32)),
     [lst('(result.ok (option.some (str.const "x")))', "(result.ok (option.none))", "(result.err (f32.const 2))")]),
    (("flags", ["only"]), ["(flags.const)", '(flags.const "only")']),
    (("flags", [f"f{i}" for i in range(9)]), ["(flags.const)", '(flags.const "f0" "f8")',
                                               '(flags.const "f1" "f2" "f3" "f4" "f5" "f6" "f7")']),
    (("flags", [f"g{i}" for i in range(32)]), ['(flags.const "g0" "g15" "g16" "g31")',
                                                "(flags.const " + " ".join(f'"g{i}"' for i in range(32)) + ")"]),
    (r(("o", ("option", ("list", U8))), ("fl", ("flags", ["x", "y"])), ("e", ("enum", ["p", "q"]))),
     [rec_val(("o", "option.some (list.const (u8.const 1))"), ("fl", 'flags.const "y"'), ("e", 'enum.const "q"'))]),
]

def mp(*entries):
    return "(map.const " + " ".join(f"(entry {k} {v})" for k, v in entries) + ")"


def fixed(t, n):
    return ("fixed", t, n)


MAPS_FIXED = [
    (("map", STRING, U32), [mp(), mp(('(str.const "a")', "(u32.const 1)"),
                                    ('(str.const "b\\u{e9}\\u{1f600}")', "(u32.const 4294967295)"))]),
    (("map", U8, ("list", STRING)), [mp(("(u8.const 7)", lst('(str.const "x")', '(str.const "")')),
                                        ("(u8.const 0)", lst()))]),
    (("map", STRING, ("map", CHAR, BOOL)), [mp(('(str.const "outer")', mp(('(char.const "y")', "(bool.const true)"))),
                                               ('(str.const "")', mp()))]),
    (("list", ("map", U32, U64)), [lst(mp(("(u32.const 1)", "(u64.const 2)")), mp(),
                                       mp(("(u32.const 3)", "(u64.const 18446744073709551615)")))]),
    (("option", ("map", S8, F64)), ["(option.none)", "(option.some " + mp(("(s8.const -1)", "(f64.const -0.5)")) + ")"]),
    (fixed(U8, 3), [lst("(u8.const 1)", "(u8.const 2)", "(u8.const 255)")]),
    (fixed(STRING, 2), [lst('(str.const "")', '(str.const "caf\\u{e9} \\u{1f600}")')]),
    (fixed(CHAR, 1), [lst('(char.const "\\u{10ffff}")')]),
    # 16 flat values: parameters still flat, the result through memory.
    (fixed(F32, 16), [lst(*[f"(f32.const {i}.5)" for i in range(15)], "(f32.const nan)")]),
    # 20 u64s: both through memory, copied in one go by the adapter.
    (fixed(U64, 20), [lst(*[f"(u64.const {i * 1000003})" for i in range(20)])]),
    (fixed(fixed(CHAR, 2), 3), [lst(*[lst(f'(char.const "{a}")', f'(char.const "{b}")')
                                      for a, b in ["ab", "cd", "ef"]])]),
    (("option", fixed(F64, 2)), ["(option.none)", "(option.some " + lst("(f64.const 1.5)", "(f64.const -0)") + ")"]),
    (fixed(("variant", [("a", F32), ("b", S64)]), 2), [lst(v("a", "(f32.const 2.5)"), v("b", "(s64.const -7)"))]),
    # 40 records with a bool: element by element in a loop.
    (fixed(r(("a", BOOL), ("b", U16)), 40),
     [lst(*[rec_val(("a", f"bool.const {'true' if i % 3 else 'false'}"), ("b", f"u16.const {i * 1000}"))
            for i in range(40)])]),
    (("list", fixed(U16, 4)), [lst(), lst(lst(*[f"(u16.const {i})" for i in range(4)]),
                                          lst(*[f"(u16.const {65535 - i})" for i in range(4)]))]),
    (r(("m", ("map", STRING, STRING)), ("l", fixed(U32, 2))),
     [rec_val(("m", strip(mp(('(str.const "k")', '(str.const "v")')))),
              ("l", strip(lst("(u32.const 1)", "(u32.const 2)"))))]),
]

FIXED_INVALID = """
;; A fixed-length list has at least one element, and at most 2^28 bytes.
(assert_invalid
  (component (type (list u8 0)))
  "Fixed-length lists must have more than zero elements")
(assert_invalid
  (component (type (list u32 67108864)))
  "exceeds maximum byte size")
"""

FLAGS_INVALID = """
;; Flags need at least one and at most 32 names.
(assert_invalid
  (component (type (flags)))
  "flags must have at least one entry")
(assert_invalid
  (component (type (flags """ + " ".join(f'"h{i}"' for i in range(33)) + """)))
  "cannot have more than 32 flags")
"""


ENCODINGS = ["utf8", "utf16", "latin1+utf16"]

# (text as a wast string literal, the Python string)
STRING_SAMPLES = [
    ("", ""),
    ("hello, world", "hello, world"),
    ("caf\\u{e9} \\u{ff}\\u{a0}", "caf\u00e9 \u00ff\u00a0"),
    ("\\u{65e5}\\u{672c}", "\u65e5\u672c"),
    ("astral \\u{1f600}\\u{10348}", "astral \U0001f600\U00010348"),
    ("mixed \\u{e9}\\u{1f600}", "mixed \u00e9\U0001f600"),
]


def code_units(text, encoding):
    """The length the callee's core code receives for `text` in `encoding`."""
    if encoding == "utf8":
        return len(text.encode("utf-8"))
    if encoding == "utf16":
        return len(text.encode("utf-16-le")) // 2
    if all(ord(c) < 256 for c in text):
        return len(text)
    return (len(text.encode("utf-16-le")) // 2) | 0x80000000


def string_component(caller_enc, callee_enc):
    """Caller (`caller_enc`) -> adapter -> callee (`callee_enc`): `echo` round-trips a string
    through the host (in the callee's encoding), `len` returns the length the callee's core
    code received, in its own code units (latin1+utf16 tags UTF-16 with the high bit)."""
    echo_fwd = forwarder(STRING)
    return f"""(component
  (import "host-echo" (func $host-echo (param "s" string) (result string)))
  (component $callee
    (import "host-echo" (func $echo (param "s" string) (result string)))
    {LIBC}
    (core func $echo (canon lower (func $echo) {opts(callee_enc)}))
    {echo_fwd}
    (core instance $i (instantiate $m (with "" (instance (export "echo" (func $echo))))))
    (core module $len (func (export "len") (param i32 i32) (result i32) local.get 1))
    (core instance $len (instantiate $len))
    (func (export "echo") (param "s" string) (result string) (canon lift (core func $i "f") {opts(callee_enc)}))
    (func (export "len") (param "s" string) (result u32) (canon lift (core func $len "len") {opts(callee_enc)}))
  )
  (instance $c (instantiate $callee (with "host-echo" (func $host-echo))))
  (component $caller
    (import "echo" (func $echo (param "s" string) (result string)))
    (import "len" (func $len (param "s" string) (result u32)))
    {LIBC}
    (core func $echo (canon lower (func $echo) {opts(caller_enc)}))
    (core func $len (canon lower (func $len) {opts(caller_enc)}))
    {echo_fwd}
    (core instance $i (instantiate $m (with "" (instance (export "echo" (func $echo))))))
    (core module $fwd-len
      (import "" "len" (func $len (param i32 i32) (result i32)))
      (func (export "len") (param i32 i32) (result i32) local.get 0 local.get 1 call $len))
    (core instance $fwd-len (instantiate $fwd-len (with "" (instance (export "len" (func $len))))))
    (func (export "echo") (param "s" string) (result string) (canon lift (core func $i "f") {opts(caller_enc)}))
    (func (export "len") (param "s" string) (result u32) (canon lift (core func $fwd-len "len") {opts(caller_enc)}))
  )
  (instance $k (instantiate $caller (with "echo" (func $c "echo")) (with "len" (func $c "len"))))
  (export "echo" (func $k "echo"))
  (export "len" (func $k "len"))
  (export "callee-echo" (func $c "echo"))
  (export "callee-len" (func $c "len"))
)"""


def strings_script():
    out = [
        ";; Strings in every pair of encodings (caller -> callee), with ASCII, Latin-1, BMP and astral text.",
        ";; `len` is the length the callee's core code received, in the callee's code units.",
        ";; Generated by generate.py: edit that, not this file.",
        "",
    ]
    for caller_enc in ENCODINGS:
        for callee_enc in ENCODINGS:
            out.append(f";; caller {caller_enc}, callee {callee_enc}")
            out.append(string_component(caller_enc, callee_enc))
            for lit, text in STRING_SAMPLES:
                for export in ["echo", "callee-echo"]:
                    out.append(f'(assert_return (invoke "{export}" (str.const "{lit}")) (str.const "{lit}"))')
                n = code_units(text, callee_enc)
                for export in ["len", "callee-len"]:
                    out.append(f'(assert_return (invoke "{export}" (str.const "{lit}")) (u32.const {n}))')
            out.append("")
    return "\n".join(out)


def main():
    files = {
        "types-scalars.wast": script("Scalars through the host and through a fused adapter.", SCALARS),
        "types-strings-lists.wast": script("Strings and lists (nested; list<u8> in bulk).", STRINGS_LISTS),
        "types-records-tuples.wast": script("Records and tuples, including more than 16 flat values.", RECORDS),
        "types-variants-enums.wast": script("Variants (payload joins), enums (incl. > 256 cases).", VARIANTS),
        "types-options-results-flags.wast": script("Options, results and flags.", OPTIONS_RESULTS_FLAGS)
        + FLAGS_INVALID,
        "types-maps-fixed-lists.wast": script("Maps and fixed-length lists (flat, through memory, nested).", MAPS_FIXED)
        + FIXED_INVALID,
        "strings-encodings.wast": strings_script(),
    }
    for name, text in files.items():
        with open(os.path.join(HERE, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
