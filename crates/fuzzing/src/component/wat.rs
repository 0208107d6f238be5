//! Component text for the component adapter check: an outer component that imports `echoN` from the host,
//! instantiates relay `B` over those imports and relay `A` over `B`'s exports, and exports `A`'s
//! functions. A relay's exported function `fN` is a `canon lift` of its own `canon lower` of
//! its import `fN`/`echoN` (through a small generated core wrapper when the lift and lower core
//! signatures differ), so every call crosses a fused adapter between A and B. Either relay may
//! have a 64-bit memory (the `cm64` feature), allocating above 4 GiB.

use super::generate::{Flat, Rng, Sig, Ty};
use std::collections::BTreeMap;
use std::fmt::Write;

/// A relay's canonical options for one function.
#[derive(Clone, Debug)]
pub struct RelayFn {
    /// `utf8`, `utf16` or `latin1+utf16`.
    pub encoding: &'static str,
    /// Whether the lift has a `post-return` (which resets the bump allocator).
    pub post_return: bool,
    /// Whether the lifted core function is a generated wrapper around the lowered import (needed
    /// when results are indirect, chosen at random otherwise).
    pub wrap: bool,
}

impl RelayFn {
    pub fn random(rng: &mut Rng, sig: &Sig) -> RelayFn {
        RelayFn {
            encoding: rng.pick::<&str>(&["utf8", "utf16", "latin1+utf16"]),
            post_return: rng.chance(3, 4),
            wrap: results_indirect(sig) || has_borrows(sig) || rng.chance(1, 4),
        }
    }
}

fn has_borrows(sig: &Sig) -> bool {
    sig.params.iter().any(|t| matches!(t, Ty::Borrow))
}

/// The flat positions of a signature's (top-level) borrow parameters: their handles, which the
/// relay drops after the inner call.
fn borrow_slots(sig: &Sig) -> Vec<usize> {
    let mut slots = Vec::new();
    let mut at = 0;
    for t in &sig.params {
        if matches!(t, Ty::Borrow) {
            slots.push(at);
        }
        at += t.flat().len();
    }
    slots
}

fn results_indirect(sig: &Sig) -> bool {
    sig.result.as_ref().is_some_and(|r| r.flat().len() > 1)
}

/// A reference to `ty` in component text, named types through `$<prefix><id>`.
fn tref(ty: &Ty, p: &str) -> String {
    match ty {
        Ty::Bool => "bool".into(),
        Ty::S8 => "s8".into(),
        Ty::U8 => "u8".into(),
        Ty::S16 => "s16".into(),
        Ty::U16 => "u16".into(),
        Ty::S32 => "s32".into(),
        Ty::U32 => "u32".into(),
        Ty::S64 => "s64".into(),
        Ty::U64 => "u64".into(),
        Ty::F32 => "f32".into(),
        Ty::F64 => "f64".into(),
        Ty::Char => "char".into(),
        Ty::String => "string".into(),
        Ty::List(t) => format!("(list {})", tref(t, p)),
        Ty::Map(k, v) => format!("(map {} {})", tref(k, p), tref(v, p)),
        Ty::Fixed(t, n) => format!("(list {} {n})", tref(t, p)),
        Ty::Tuple(types) => {
            format!("(tuple {})", types.iter().map(|t| tref(t, p)).collect::<Vec<_>>().join(" "))
        }
        Ty::Option(t) => format!("(option {})", tref(t, p)),
        Ty::Result(ok, err) => {
            let mut s = "(result".to_string();
            if let Some(ok) = ok {
                write!(s, " {}", tref(ok, p)).unwrap();
            }
            if let Some(err) = err {
                write!(s, " (error {})", tref(err, p)).unwrap();
            }
            s + ")"
        }
        Ty::Record(id, _) | Ty::Variant(id, _) | Ty::Enum(id, _) | Ty::Flags(id, _) => format!("${p}{id}"),
        Ty::Own => "(own $r)".into(),
        Ty::Borrow => "(borrow $r)".into(),
    }
}

/// The definition of a named type, its children referenced with prefix `p`.
fn tdef(ty: &Ty, p: &str) -> String {
    let quoted = |names: &[String]| names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(" ");
    match ty {
        Ty::Record(_, fields) => format!(
            "(record {})",
            fields.iter().map(|(n, t)| format!("(field \"{n}\" {})", tref(t, p))).collect::<Vec<_>>().join(" ")
        ),
        Ty::Variant(_, cases) => format!(
            "(variant {})",
            cases
                .iter()
                .map(|(n, t)| match t {
                    Some(t) => format!("(case \"{n}\" {})", tref(t, p)),
                    None => format!("(case \"{n}\")"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Ty::Enum(_, names) => format!("(enum {})", quoted(names)),
        Ty::Flags(_, names) => format!("(flags {})", quoted(names)),
        _ => unreachable!("not a named type"),
    }
}

fn functype(sig: &Sig, p: &str) -> String {
    let mut s = String::new();
    for (i, t) in sig.params.iter().enumerate() {
        write!(s, " (param \"p{i}\" {})", tref(t, p)).unwrap();
    }
    if let Some(r) = &sig.result {
        write!(s, " (result {})", tref(r, p)).unwrap();
    }
    s
}

/// Every named type of the signatures, each once, children first.
fn named_types(sigs: &[Sig]) -> Vec<&Ty> {
    let mut all = Vec::new();
    for sig in sigs {
        for t in sig.params.iter().chain(&sig.result) {
            t.collect_named(&mut all);
        }
    }
    let mut by_id = BTreeMap::new();
    for t in all {
        by_id.entry(t.named_id().unwrap()).or_insert(t);
    }
    // Ids are allocated after the ids of their children, so id order is dependency order.
    by_id.into_values().collect()
}

/// Imports every named type as `$i<id>` (each bound to a local definition).
fn import_types(out: &mut String, named: &[&Ty]) {
    for t in named {
        let id = t.named_id().unwrap();
        writeln!(out, "    (type $d{id} {})", tdef(t, "i")).unwrap();
        writeln!(out, "    (import \"t{id}\" (type $i{id} (eq $d{id})))").unwrap();
    }
}

/// Exports every named type as `$e<id>` (fresh definitions over the exported children, so
/// exported function types only mention exported types).
fn export_types(out: &mut String, named: &[&Ty]) {
    for t in named {
        let id = t.named_id().unwrap();
        writeln!(out, "    (type $x{id} {})", tdef(t, "e")).unwrap();
        writeln!(out, "    (export $e{id} \"t{id}\" (type $x{id}))").unwrap();
    }
}

/// The relay's allocator, over a 32-bit memory or (`p64`) a 64-bit one whose allocations start
/// above 4 GiB.
fn libc(p64: bool) -> String {
    let (t, memory, heap) = if p64 { ("i64", "i64 0x10001", "0x1_0000_0010") } else { ("i32", "1", "16") };
    format!(
        r#"
    (core module $libc
      (memory (export "memory") {memory})
      (global $bump (mut {t}) ({t}.const {heap}))
      ;; A bump allocator: checks the alignment argument, aligns, grows the memory as needed,
      ;; fills new blocks with garbage (so nothing relies on zeroed memory), copies on
      ;; reallocation.
      (func (export "realloc") (param $old {t}) (param $old_size {t}) (param $align {t}) (param $size {t}) (result {t})
        (local $p {t}) (local $end {t})
        (if (i32.or ({t}.ne ({t}.popcnt (local.get $align)) ({t}.const 1)) ({t}.gt_u (local.get $align) ({t}.const 8)))
          (then unreachable))
        (local.set $p ({t}.and ({t}.add (global.get $bump) ({t}.sub (local.get $align) ({t}.const 1)))
                               ({t}.sub ({t}.const 0) (local.get $align))))
        (local.set $end ({t}.add (local.get $p) (local.get $size)))
        (block $ok
          (loop $grow
            (br_if $ok ({t}.le_u (local.get $end) ({t}.shl (memory.size) ({t}.const 16))))
            (if ({t}.eq (memory.grow ({t}.const 1)) ({t}.const -1)) (then unreachable))
            (br $grow)))
        (global.set $bump (local.get $end))
        (memory.fill (local.get $p) (i32.const 0xa5) (local.get $size))
        (if ({t}.ne (local.get $old) ({t}.const 0))
          (then (memory.copy (local.get $p) (local.get $old)
                  (select (local.get $old_size) (local.get $size) ({t}.lt_u (local.get $old_size) (local.get $size))))))
        (local.get $p))
      (func (export "reset") (global.set $bump ({t}.const {heap})))
      (func (export "reset-i32") (param i32) (global.set $bump ({t}.const {heap})))
      (func (export "reset-i64") (param i64) (global.set $bump ({t}.const {heap})))
      (func (export "reset-f32") (param f32) (global.set $bump ({t}.const {heap})))
      (func (export "reset-f64") (param f64) (global.set $bump ({t}.const {heap}))))
    (core instance $libc (instantiate $libc))
    (alias core export $libc "memory" (core memory $mem))
    (alias core export $libc "realloc" (core func $realloc))
"#
    )
}

/// One relay component definition: imports `<import_prefix>N`, exports `fN`; its memory is
/// 64-bit if `p64`.
fn relay(out: &mut String, name: &str, import_prefix: &str, sigs: &[Sig], cfg: &[RelayFn], named: &[&Ty], p64: bool) {
    let ptr = if p64 { Flat::I64 } else { Flat::I32 };
    let pw = ptr.wat();
    writeln!(out, "  (component ${name}").unwrap();
    out.push_str("    (import \"r\" (type $r (sub resource)))\n");
    import_types(out, named);
    for (n, sig) in sigs.iter().enumerate() {
        writeln!(out, "    (import \"{import_prefix}{n}\" (func $imp{n}{}))", functype(sig, "i")).unwrap();
    }
    out.push_str(&libc(p64));
    out.push_str("    (core func $drop-r (canon resource.drop $r))\n");
    let opts = |c: &RelayFn| format!("(memory $mem) (realloc (core func $realloc)) string-encoding={}", c.encoding);
    for (n, c) in cfg.iter().enumerate() {
        writeln!(out, "    (core func $low{n} (canon lower (func $imp{n}) {}))", opts(c)).unwrap();
    }
    // Wrappers: the lift signature over the lower signature.
    if cfg.iter().any(|c| c.wrap) {
        out.push_str("    (core module $wrapm\n");
        writeln!(out, "      (import \"libc\" \"realloc\" (func $realloc (param {pw} {pw} {pw} {pw}) (result {pw})))")
            .unwrap();
        out.push_str("      (import \"res\" \"drop\" (func $drop-r (param i32)))\n");
        // Imports come before definitions in a core module.
        let mut funcs = String::new();
        for (n, (sig, c)) in sigs.iter().zip(cfg).enumerate() {
            if !c.wrap {
                continue;
            }
            let mut params = sig.flat_params_p(p64);
            if params.len() > 16 {
                params = vec![ptr];
            }
            let ps: String = params.iter().map(|t| format!(" {}", t.wat())).collect();
            let gets: String = (0..params.len()).map(|i| format!(" (local.get {i})")).collect();
            // The relay's own borrow handles end before it returns.
            let drops: String = borrow_slots(sig).iter().map(|i| format!(" (call $drop-r (local.get {i}))")).collect();
            if results_indirect(sig) {
                let r = sig.result.as_ref().unwrap();
                let np = params.len();
                writeln!(out, "      (import \"low\" \"f{n}\" (func $low{n} (param{ps} {pw})))").unwrap();
                writeln!(
                    funcs,
                    "      (func (export \"f{n}\") (param{ps}) (result {pw}) (local {pw})\n        (local.set {np} (call $realloc ({pw}.const 0) ({pw}.const 0) ({pw}.const {}) ({pw}.const {})))\n        (call $low{n}{gets} (local.get {np})){drops}\n        (local.get {np}))",
                    r.align_p(p64),
                    r.size_p(p64)
                )
                .unwrap();
            } else {
                let rs: String = sig.result.iter().map(|r| format!(" (result {})", r.flat_p(p64)[0].wat())).collect();
                writeln!(out, "      (import \"low\" \"f{n}\" (func $low{n} (param{ps}){rs}))").unwrap();
                match sig.result.as_ref().map(|r| r.flat_p(p64)[0].wat()) {
                    Some(t) if !drops.is_empty() => {
                        let np = params.len();
                        writeln!(
                            funcs,
                            "      (func (export \"f{n}\") (param{ps}){rs} (local {t}) (local.set {np} (call $low{n}{gets})){drops} (local.get {np}))"
                        )
                        .unwrap()
                    }
                    _ => writeln!(funcs, "      (func (export \"f{n}\") (param{ps}){rs} (call $low{n}{gets}){drops})")
                        .unwrap(),
                }
            }
        }
        out.push_str(&funcs);
        out.push_str("    )\n    (core instance $lows");
        for (n, c) in cfg.iter().enumerate() {
            if c.wrap {
                write!(out, " (export \"f{n}\" (func $low{n}))").unwrap();
            }
        }
        out.push_str(")\n    (core instance $wrap (instantiate $wrapm (with \"libc\" (instance $libc)) (with \"low\" (instance $lows)) (with \"res\" (instance (export \"drop\" (func $drop-r))))))\n");
    }
    for (n, (sig, c)) in sigs.iter().zip(cfg).enumerate() {
        let core = if c.wrap {
            writeln!(out, "    (alias core export $wrap \"f{n}\" (core func $w{n}))").unwrap();
            format!("$w{n}")
        } else {
            format!("$low{n}")
        };
        let post_return = if c.post_return {
            let reset = match sig.result.as_ref().map(|r| if results_indirect(sig) { ptr } else { r.flat_p(p64)[0] }) {
                None => "reset".to_string(),
                Some(t) => format!("reset-{}", t.wat()),
            };
            format!(" (post-return (core func $libc \"{reset}\"))")
        } else {
            String::new()
        };
        writeln!(
            out,
            "    (func $lift{n}{} (canon lift (core func {core}) {}{post_return}))",
            functype(sig, "i"),
            opts(c)
        )
        .unwrap();
    }
    export_types(out, named);
    for (n, sig) in sigs.iter().enumerate() {
        writeln!(out, "    (export \"f{n}\" (func $lift{n}) (func{}))", functype(sig, "e")).unwrap();
    }
    out.push_str("  )\n");
}

/// The whole test component for `sigs`, with relay options `a` and `b`; a relay's memory is
/// 64-bit if its `*_64` is set.
pub fn component(sigs: &[Sig], a: &[RelayFn], b: &[RelayFn], a64: bool, b64: bool) -> String {
    let named = named_types(sigs);
    let mut out = String::from("(component\n");
    out.push_str("    (import \"r\" (type $r (sub resource)))\n");
    import_types(&mut out, &named);
    for (n, sig) in sigs.iter().enumerate() {
        writeln!(out, "    (import \"echo{n}\" (func $echo{n}{}))", functype(sig, "i")).unwrap();
    }
    relay(&mut out, "B", "echo", sigs, b, &named, b64);
    relay(&mut out, "A", "f", sigs, a, &named, a64);
    let types: String = std::iter::once(" (with \"r\" (type $r))".to_string())
        .chain(named.iter().map(|t| format!(" (with \"t{0}\" (type $i{0}))", t.named_id().unwrap())))
        .collect();
    out.push_str("  (instance $b (instantiate $B");
    out.push_str(&types);
    for n in 0..sigs.len() {
        write!(out, " (with \"echo{n}\" (func $echo{n}))").unwrap();
    }
    out.push_str("))\n");
    for n in 0..sigs.len() {
        writeln!(out, "  (alias export $b \"f{n}\" (func $bf{n}))").unwrap();
    }
    out.push_str("  (instance $a (instantiate $A");
    out.push_str(&types);
    for n in 0..sigs.len() {
        write!(out, " (with \"f{n}\" (func $bf{n}))").unwrap();
    }
    out.push_str("))\n");
    for n in 0..sigs.len() {
        writeln!(out, "  (alias export $a \"f{n}\" (func $af{n}))").unwrap();
    }
    export_types(&mut out, &named);
    for (n, sig) in sigs.iter().enumerate() {
        writeln!(out, "  (export \"f{n}\" (func $af{n}) (func{}))", functype(sig, "e")).unwrap();
    }
    out.push_str(")\n");
    out
}
