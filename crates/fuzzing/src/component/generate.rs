//! Random component types and values for the component adapter check: a deterministic PRNG, a
//! depth-limited type generator, a value generator, and value comparison.

use kiln::component::Val;
use std::fmt;

/// splitmix64: small, fast, deterministic, and good enough for test generation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        let span = hi - lo;
        if span == u64::MAX {
            return self.next_u64();
        }
        lo + self.next_u64() % (span + 1)
    }

    pub fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.usize(0, items.len() - 1)]
    }

    /// A child generator with its own stream (so adding draws in one place does not shift the
    /// rest of a run).
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}

/// A generated component value type. Record, variant, enum and flags nodes carry a unique id:
/// in component text they must be named (imported or exported) types.
#[derive(Clone, Debug)]
pub enum Ty {
    Bool,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
    S64,
    U64,
    F32,
    F64,
    Char,
    String,
    List(Box<Ty>),
    /// `map<K, V>`.
    Map(Box<Ty>, Box<Ty>),
    /// `list<T, N>`.
    Fixed(Box<Ty>, u32),
    Record(usize, Vec<(String, Ty)>),
    Tuple(Vec<Ty>),
    Variant(usize, Vec<(String, Option<Ty>)>),
    Enum(usize, Vec<String>),
    Option(Box<Ty>),
    Result(Option<Box<Ty>>, Option<Box<Ty>>),
    Flags(usize, Vec<String>),
    /// `own<r>` of the host resource type `r` that every generated component imports.
    Own,
    /// `borrow<r>`: only as a top-level parameter (the relays drop their borrow handles after
    /// the inner call, which they can do for flat parameters; results cannot hold borrows).
    Borrow,
}

impl Ty {
    pub fn named_id(&self) -> Option<usize> {
        match self {
            Ty::Record(id, _) | Ty::Variant(id, _) | Ty::Enum(id, _) | Ty::Flags(id, _) => Some(*id),
            _ => None,
        }
    }

    /// The direct children of this type.
    pub fn children(&self) -> Vec<&Ty> {
        match self {
            Ty::List(t) | Ty::Option(t) | Ty::Fixed(t, _) => vec![t],
            Ty::Map(k, v) => vec![k, v],
            Ty::Record(_, fields) => fields.iter().map(|(_, t)| t).collect(),
            Ty::Tuple(types) => types.iter().collect(),
            Ty::Variant(_, cases) => cases.iter().filter_map(|(_, t)| t.as_ref()).collect(),
            Ty::Result(ok, err) => ok.iter().chain(err.iter()).map(|t| &**t).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether values of this type hold `own` handles.
    pub fn has_own(&self) -> bool {
        matches!(self, Ty::Own) || self.children().iter().any(|t| t.has_own())
    }

    /// Whether this type has a map or a fixed-length list in it.
    pub fn has_map_or_fixed(&self) -> bool {
        matches!(self, Ty::Map(..) | Ty::Fixed(..)) || self.children().iter().any(|t| t.has_map_or_fixed())
    }

    /// Pushes every named node of this type, children before parents.
    pub fn collect_named<'a>(&'a self, out: &mut Vec<&'a Ty>) {
        for child in self.children() {
            child.collect_named(out);
        }
        if self.named_id().is_some() {
            out.push(self);
        }
    }

    /// The core types this type flattens to (the Canonical ABI's `flatten_type`), with 32-bit
    /// pointers.
    pub fn flatten(&self, out: &mut Vec<Flat>) {
        self.flatten_p(false, out)
    }

    /// [`Ty::flatten`] with 64-bit pointers if `p64` (a 64-bit memory).
    pub fn flatten_p(&self, p64: bool, out: &mut Vec<Flat>) {
        let ptr = if p64 { Flat::I64 } else { Flat::I32 };
        match self {
            Ty::S64 | Ty::U64 => out.push(Flat::I64),
            Ty::F32 => out.push(Flat::F32),
            Ty::F64 => out.push(Flat::F64),
            Ty::String | Ty::List(_) | Ty::Map(..) => out.extend([ptr, ptr]),
            Ty::Fixed(t, n) => (0..*n).for_each(|_| t.flatten_p(p64, out)),
            Ty::Record(..) | Ty::Tuple(_) => self.children().iter().for_each(|t| t.flatten_p(p64, out)),
            Ty::Flags(_, names) => out.extend(std::iter::repeat_n(Flat::I32, names.len().div_ceil(32))),
            Ty::Variant(..) | Ty::Enum(..) | Ty::Option(_) | Ty::Result(..) => {
                let mut joined: Vec<Flat> = Vec::new();
                for case in self.cases().into_iter().flatten() {
                    let mut flat = Vec::new();
                    case.flatten_p(p64, &mut flat);
                    for (i, t) in flat.into_iter().enumerate() {
                        match joined.get_mut(i) {
                            Some(slot) => *slot = slot.join(t),
                            None => joined.push(t),
                        }
                    }
                }
                out.push(Flat::I32);
                out.extend(joined);
            }
            _ => out.push(Flat::I32),
        }
    }

    pub fn flat(&self) -> Vec<Flat> {
        self.flat_p(false)
    }

    /// The flat types with 64-bit pointers if `p64`.
    pub fn flat_p(&self, p64: bool) -> Vec<Flat> {
        let mut out = Vec::new();
        self.flatten_p(p64, &mut out);
        out
    }

    /// The payloads of a variant-like type, one per case.
    fn cases(&self) -> Vec<Option<&Ty>> {
        match self {
            Ty::Variant(_, cases) => cases.iter().map(|(_, t)| t.as_ref()).collect(),
            Ty::Enum(_, names) => names.iter().map(|_| None).collect(),
            Ty::Option(t) => vec![None, Some(t)],
            Ty::Result(ok, err) => vec![ok.as_deref(), err.as_deref()],
            _ => unreachable!(),
        }
    }

    /// Alignment in a 32-bit linear memory (the Canonical ABI's `alignment`).
    pub fn align(&self) -> u32 {
        self.align_p(false)
    }

    /// Alignment in linear memory, 64-bit if `p64`.
    pub fn align_p(&self, p64: bool) -> u32 {
        let align = |t: &Ty| t.align_p(p64);
        match self {
            Ty::String | Ty::List(_) | Ty::Map(..) if p64 => 8,
            Ty::Bool | Ty::S8 | Ty::U8 => 1,
            Ty::S16 | Ty::U16 => 2,
            Ty::S32 | Ty::U32 | Ty::F32 | Ty::Char | Ty::String | Ty::List(_) | Ty::Map(..) | Ty::Own => 4,
            Ty::S64 | Ty::U64 | Ty::F64 => 8,
            Ty::Fixed(t, _) => align(t),
            Ty::Record(_, fields) => fields.iter().map(|(_, t)| align(t)).max().unwrap_or(1),
            Ty::Tuple(types) => types.iter().map(align).max().unwrap_or(1),
            Ty::Flags(_, names) => match names.len() {
                0..=8 => 1,
                9..=16 => 2,
                _ => 4,
            },
            _ => {
                let cases = self.cases();
                let disc = disc_size(cases.len());
                cases.iter().flatten().map(|t| align(t)).max().unwrap_or(1).max(disc)
            }
        }
    }

    /// Size in a 32-bit linear memory (the Canonical ABI's `elem_size`).
    pub fn size(&self) -> u32 {
        self.size_p(false)
    }

    /// Size in linear memory, 64-bit if `p64`.
    pub fn size_p(&self, p64: bool) -> u32 {
        let align_to = |x: u32, a: u32| x.div_ceil(a) * a;
        let (size, align) = (|t: &Ty| t.size_p(p64), |t: &Ty| t.align_p(p64));
        match self {
            Ty::String | Ty::List(_) | Ty::Map(..) if p64 => 16,
            Ty::Bool | Ty::S8 | Ty::U8 => 1,
            Ty::S16 | Ty::U16 => 2,
            Ty::S32 | Ty::U32 | Ty::F32 | Ty::Char | Ty::Own | Ty::Borrow => 4,
            Ty::S64 | Ty::U64 | Ty::F64 | Ty::String | Ty::List(_) | Ty::Map(..) => 8,
            Ty::Fixed(t, n) => size(t) * n,
            Ty::Record(..) | Ty::Tuple(_) => {
                let fields: Vec<&Ty> = self.children();
                let mut offset = 0;
                for f in fields {
                    offset = align_to(offset, align(f)) + size(f);
                }
                align_to(offset, align(self))
            }
            Ty::Flags(_, names) => match names.len() {
                0 => 0,
                1..=8 => 1,
                9..=16 => 2,
                n => 4 * n.div_ceil(32) as u32,
            },
            _ => {
                let cases = self.cases();
                let max_align = cases.iter().flatten().map(|t| align(t)).max().unwrap_or(1);
                let payload = align_to(disc_size(cases.len()), max_align);
                let max_size = cases.iter().flatten().map(|t| size(t)).max().unwrap_or(0);
                align_to(payload + max_size, align(self))
            }
        }
    }
}

fn disc_size(cases: usize) -> u32 {
    if cases <= 256 {
        1
    } else if cases <= 65536 {
        2
    } else {
        4
    }
}

/// A core value type of a flattened signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flat {
    I32,
    I64,
    F32,
    F64,
}

impl Flat {
    fn join(self, other: Flat) -> Flat {
        match (self, other) {
            (a, b) if a == b => a,
            (Flat::I32, Flat::F32) | (Flat::F32, Flat::I32) => Flat::I32,
            _ => Flat::I64,
        }
    }

    pub fn wat(self) -> &'static str {
        match self {
            Flat::I32 => "i32",
            Flat::I64 => "i64",
            Flat::F32 => "f32",
            Flat::F64 => "f64",
        }
    }
}

/// Same text as kiln's `ValueType` Display, so the two can be compared.
impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &mut dyn Iterator<Item = String>| -> fmt::Result {
            f.write_str(&items.collect::<Vec<_>>().join(", "))
        };
        match self {
            Ty::Bool => f.write_str("bool"),
            Ty::S8 => f.write_str("s8"),
            Ty::U8 => f.write_str("u8"),
            Ty::S16 => f.write_str("s16"),
            Ty::U16 => f.write_str("u16"),
            Ty::S32 => f.write_str("s32"),
            Ty::U32 => f.write_str("u32"),
            Ty::S64 => f.write_str("s64"),
            Ty::U64 => f.write_str("u64"),
            Ty::F32 => f.write_str("f32"),
            Ty::F64 => f.write_str("f64"),
            Ty::Char => f.write_str("char"),
            Ty::String => f.write_str("string"),
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::Map(k, v) => write!(f, "map<{k}, {v}>"),
            Ty::Fixed(t, n) => write!(f, "list<{t}, {n}>"),
            Ty::Record(_, fields) => {
                f.write_str("record { ")?;
                list(f, &mut fields.iter().map(|(n, t)| format!("{n}: {t}")))?;
                f.write_str(" }")
            }
            Ty::Tuple(types) => {
                f.write_str("tuple<")?;
                list(f, &mut types.iter().map(|t| t.to_string()))?;
                f.write_str(">")
            }
            Ty::Variant(_, cases) => {
                f.write_str("variant { ")?;
                list(
                    f,
                    &mut cases.iter().map(|(n, t)| match t {
                        Some(t) => format!("{n}({t})"),
                        None => n.clone(),
                    }),
                )?;
                f.write_str(" }")
            }
            Ty::Enum(_, names) => write!(f, "enum {{ {} }}", names.join(", ")),
            Ty::Option(t) => write!(f, "option<{t}>"),
            Ty::Result(ok, err) => match (ok, err) {
                (None, None) => f.write_str("result"),
                (Some(ok), None) => write!(f, "result<{ok}>"),
                (None, Some(err)) => write!(f, "result<_, {err}>"),
                (Some(ok), Some(err)) => write!(f, "result<{ok}, {err}>"),
            },
            Ty::Flags(_, names) => write!(f, "flags {{ {} }}", names.join(", ")),
            // The components import one resource type, run-time resource 0.
            Ty::Own => f.write_str("own<resource 0>"),
            Ty::Borrow => f.write_str("borrow<resource 0>"),
        }
    }
}

/// What the host `echo` returns, computed from what it received.
#[derive(Clone, Debug)]
pub enum Shape {
    /// No result.
    None,
    /// The result is parameter `k`.
    Param(usize),
    /// The result is a tuple of all parameters.
    Tuple,
}

/// A generated function signature.
#[derive(Clone, Debug)]
pub struct Sig {
    pub params: Vec<Ty>,
    pub result: Option<Ty>,
    pub shape: Shape,
}

impl Sig {
    /// The result the echo computes from its parameters.
    pub fn echo_result(&self, params: &[Val]) -> Option<Val> {
        match self.shape {
            Shape::None => None,
            Shape::Param(k) => Some(params[k].clone()),
            Shape::Tuple => Some(Val::Tuple(params.to_vec())),
        }
    }

    /// The flattened parameters (before the 16-value limit is applied).
    pub fn flat_params(&self) -> Vec<Flat> {
        self.flat_params_p(false)
    }

    /// The flattened parameters with 64-bit pointers if `p64`.
    pub fn flat_params_p(&self, p64: bool) -> Vec<Flat> {
        let mut out = Vec::new();
        self.params.iter().for_each(|t| t.flatten_p(p64, &mut out));
        out
    }
}

impl fmt::Display for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("func(")?;
        for (i, t) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "p{i}: {t}")?;
        }
        f.write_str(")")?;
        if let Some(r) = &self.result {
            write!(f, " -> {r}")?;
        }
        Ok(())
    }
}

/// Feature switches of the generators (kept as constants so a failing feature can be turned off
/// while its bug is open, with the reason next to it).
pub struct Features {
    pub floats: bool,
    pub strings: bool,
    pub big_lists: bool,
    pub large_enums: bool,
    /// `own` handles of a host resource, anywhere in a type.
    pub resources: bool,
    /// `map<K, V>` and fixed-length `list<T, N>`.
    pub maps_and_fixed_lists: bool,
}

/// The validator (wasmparser 0.263, following the current Component Model) rejects `flags` with
/// more than 32 names, so the multi-word flags layouts cannot be reached through a component.
pub const MAX_FLAGS: usize = 32;

/// Generates types; ids of named nodes are unique within one generator.
pub struct TypeGen<'a> {
    pub rng: &'a mut Rng,
    pub next_id: usize,
    pub features: &'a Features,
}

const WORDS: &[&str] = &["a", "b", "x", "ok", "err", "none", "some", "val", "red", "big-one", "k"];

impl TypeGen<'_> {
    /// `n` distinct kebab-case names, some of them multi-word.
    fn names(&mut self, prefix: &str, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                let word = *self.rng.pick(WORDS);
                if self.rng.chance(1, 3) { format!("{word}-{prefix}{i}") } else { format!("{prefix}{i}") }
            })
            .collect()
    }

    fn id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id - 1
    }

    pub fn primitive(&mut self) -> Ty {
        loop {
            let t = match self.rng.usize(0, 13) {
                0 => Ty::Bool,
                1 => Ty::S8,
                2 => Ty::U8,
                3 => Ty::S16,
                4 => Ty::U16,
                5 => Ty::S32,
                6 => Ty::U32,
                7 => Ty::S64,
                8 => Ty::U64,
                9 => Ty::F32,
                10 => Ty::F64,
                11 => Ty::Char,
                12 => Ty::String,
                _ => Ty::Own,
            };
            if !self.features.resources && matches!(t, Ty::Own) {
                continue;
            }
            if !self.features.floats && matches!(t, Ty::F32 | Ty::F64) {
                continue;
            }
            if !self.features.strings && matches!(t, Ty::String) {
                continue;
            }
            return t;
        }
    }

    /// A payload chosen to make variant flattening join different core types
    /// (i32/f32 -> i32, i32/i64 -> i64, f32/f64 -> i64, ...).
    fn join_payload(&mut self, depth: u32) -> Ty {
        let floats = self.features.floats;
        match self.rng.usize(0, 7) {
            0 if floats => Ty::F32,
            1 if floats => Ty::F64,
            2 => Ty::U64,
            3 => Ty::S8,
            4 if floats => Ty::Tuple(vec![Ty::F32, Ty::U32]),
            5 if floats => Ty::Tuple(vec![Ty::U8, Ty::F64, Ty::F32]),
            6 => Ty::Tuple(vec![Ty::U32, Ty::S64]),
            _ => self.ty(depth),
        }
    }

    pub fn ty(&mut self, depth: u32) -> Ty {
        if depth == 0 || self.rng.chance(1, 3) {
            return self.primitive();
        }
        let d = depth - 1;
        match self.rng.usize(0, 10) {
            0 => Ty::List(Box::new(self.ty(d))),
            1 => {
                let n = self.rng.usize(1, 5);
                let names = self.names("f", n);
                let fields = names.into_iter().map(|n| (n, self.ty(d))).collect();
                Ty::Record(self.id(), fields)
            }
            2 => {
                let n = self.rng.usize(1, 5);
                Ty::Tuple((0..n).map(|_| self.ty(d)).collect())
            }
            3 => {
                let n = self.rng.usize(1, 6);
                let names = self.names("c", n);
                let mixed = self.rng.chance(1, 2);
                let cases = names
                    .into_iter()
                    .map(|name| {
                        let payload = if self.rng.chance(1, 3) {
                            None
                        } else if mixed {
                            Some(self.join_payload(d))
                        } else {
                            Some(self.ty(d))
                        };
                        (name, payload)
                    })
                    .collect();
                Ty::Variant(self.id(), cases)
            }
            4 => {
                let n = if self.features.large_enums && self.rng.chance(1, 12) {
                    self.rng.usize(200, 300)
                } else {
                    self.rng.usize(1, 10)
                };
                let names = self.names("e", n);
                Ty::Enum(self.id(), names)
            }
            5 => Ty::Option(Box::new(self.ty(d))),
            6 => {
                let ok = self.rng.chance(2, 3).then(|| Box::new(self.ty(d)));
                let err = self.rng.chance(2, 3).then(|| Box::new(self.ty(d)));
                Ty::Result(ok, err)
            }
            7 => {
                let n = match self.rng.usize(0, 3) {
                    0 => self.rng.usize(1, 8),
                    1 => self.rng.usize(9, 16),
                    2 => self.rng.usize(17, 32),
                    _ => self.rng.usize(17, MAX_FLAGS),
                };
                let names = self.names("g", n);
                Ty::Flags(self.id(), names)
            }
            8 if self.features.strings => Ty::List(Box::new(Ty::String)),
            9 if self.features.maps_and_fixed_lists => match self.rng.usize(0, 3) {
                0 | 1 => {
                    // Keys are non-float primitives; values hold no handles (validation rules).
                    let key = loop {
                        let t = self.primitive();
                        if !matches!(t, Ty::F32 | Ty::F64 | Ty::Own) {
                            break t;
                        }
                    };
                    let value = loop {
                        let t = self.ty(d);
                        if !t.has_own() {
                            break t;
                        }
                    };
                    Ty::Map(Box::new(key), Box::new(value))
                }
                // Short (flat when alone), or long enough to go through memory.
                2 => Ty::Fixed(Box::new(self.ty(d)), self.rng.usize(1, 4) as u32),
                _ => Ty::Fixed(Box::new(self.ty(d)), self.rng.usize(17, 40) as u32),
            },
            _ => Ty::List(Box::new(Ty::U8)),
        }
    }

    pub fn sig(&mut self) -> Sig {
        let roll = self.rng.usize(0, 99);
        if roll < 65 {
            // f(x: T) -> T
            let t = self.ty(3);
            return Sig { params: vec![t.clone()], result: Some(t), shape: Shape::Param(0) };
        }
        if roll < 67 {
            return Sig { params: Vec::new(), result: None, shape: Shape::None };
        }
        let n = if roll < 85 { self.rng.usize(2, 5) } else { self.rng.usize(6, 20) };
        let depth = if n > 8 { 1 } else { 2 };
        let mut params: Vec<Ty> = (0..n).map(|_| self.ty(depth)).collect();
        let (result, shape) = match self.rng.usize(0, 2) {
            0 => (None, Shape::None),
            1 => {
                let k = self.rng.usize(0, n - 1);
                (Some(params[k].clone()), Shape::Param(k))
            }
            _ => (Some(Ty::Tuple(params.clone())), Shape::Tuple),
        };
        // Borrows go after the other parameters, where no result shape refers to them, and
        // only where the parameters stay flat.
        if self.features.resources && !matches!(shape, Shape::Tuple) {
            let borrows = self.rng.usize(0, 2);
            let mut sig = Sig { params: params.clone(), result: None, shape: Shape::None };
            for _ in 0..borrows {
                sig.params.push(Ty::Borrow);
                if sig.flat_params().len() <= 16 {
                    params.push(Ty::Borrow);
                }
            }
        }
        Sig { params, result, shape }
    }
}

/// Generates values; `budget` bounds the total number of elements of nested lists.
pub struct ValueGen<'a> {
    pub rng: &'a mut Rng,
    pub features: &'a Features,
}

impl ValueGen<'_> {
    pub fn char(&mut self) -> char {
        loop {
            let c = match self.rng.usize(0, 5) {
                0 | 1 => self.rng.range(0x20, 0x7e) as u32,
                2 => self.rng.range(0, 0xff) as u32,
                3 => self.rng.range(0x100, 0xffff) as u32,
                4 => self.rng.range(0x10000, 0x10ffff) as u32,
                _ => *self.rng.pick(&[
                    0, 0x7f, 0x80, 0xff, 0x100, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff,
                ]),
            };
            if let Some(c) = char::from_u32(c) {
                return c;
            }
        }
    }

    pub fn string(&mut self) -> String {
        let len = match self.rng.usize(0, 19) {
            0 => 0,
            1 => self.rng.usize(100, 3000),
            _ => self.rng.usize(1, 24),
        };
        // Mostly strings of one class, so latin1+utf16 takes both its Latin-1 and UTF-16 paths.
        let class = self.rng.usize(0, 5);
        if class == 5 {
            // Latin-1 until the very end: transcoders that guessed Latin-1 must switch late.
            let mut s: String = (0..len).map(|_| char::from_u32(self.rng.range(0x20, 0xff) as u32).unwrap()).collect();
            s.push(if self.rng.chance(1, 2) { '\u{2603}' } else { '\u{1f600}' });
            return s;
        }
        (0..len)
            .map(|_| match class {
                0 => self.rng.range(0x20, 0x7e) as u8 as char,
                1 => char::from_u32(self.rng.range(0, 0xff) as u32).unwrap(),
                2 if self.rng.chance(7, 8) => self.rng.range(0x20, 0x7e) as u8 as char,
                _ => self.char(),
            })
            .collect()
    }

    fn int(&mut self, bits: u32, signed: bool) -> u64 {
        let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
        let v = match self.rng.usize(0, 5) {
            0 => 0,
            1 => mask,
            2 if signed => mask >> 1,
            3 if signed => (mask >> 1) + 1,
            4 => self.rng.range(0, 3),
            _ => self.rng.next_u64(),
        };
        v & mask
    }

    fn f32(&mut self) -> f32 {
        match self.rng.usize(0, 9) {
            0 => f32::NAN,
            1 => {
                f32::from_bits(0x7f80_0000 | self.rng.range(1, 0x7f_ffff) as u32 | (self.rng.range(0, 1) as u32) << 31)
            }
            2 => *self.rng.pick(&[0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE, f32::MAX, 1.5]),
            3 => f32::from_bits(self.rng.range(1, 0x7f_ffff) as u32),
            _ => f32::from_bits(self.rng.next_u64() as u32),
        }
    }

    fn f64(&mut self) -> f64 {
        match self.rng.usize(0, 9) {
            0 => f64::NAN,
            1 => f64::from_bits(0x7ff0_0000_0000_0000 | self.rng.range(1, (1 << 52) - 1) | self.rng.range(0, 1) << 63),
            2 => *self.rng.pick(&[0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE, f64::MAX, -2.25]),
            3 => f64::from_bits(self.rng.range(1, (1 << 52) - 1)),
            _ => f64::from_bits(self.rng.next_u64()),
        }
    }

    pub fn val(&mut self, ty: &Ty, budget: &mut usize) -> Val {
        match ty {
            Ty::Bool => Val::Bool(self.rng.chance(1, 2)),
            Ty::S8 => Val::S8(self.int(8, true) as u8 as i8),
            Ty::U8 => Val::U8(self.int(8, false) as u8),
            Ty::S16 => Val::S16(self.int(16, true) as u16 as i16),
            Ty::U16 => Val::U16(self.int(16, false) as u16),
            Ty::S32 => Val::S32(self.int(32, true) as u32 as i32),
            Ty::U32 => Val::U32(self.int(32, false) as u32),
            Ty::S64 => Val::S64(self.int(64, true) as i64),
            Ty::U64 => Val::U64(self.int(64, false)),
            Ty::F32 => Val::Float32(self.f32()),
            Ty::F64 => Val::Float64(self.f64()),
            Ty::Char => Val::Char(self.char()),
            Ty::String => Val::String(self.string()),
            Ty::List(elem) => {
                if matches!(**elem, Ty::U8) && self.features.big_lists && self.rng.chance(1, 150) {
                    return Val::List((0..65536).map(|i| Val::U8((i * 7 + (i >> 8)) as u8)).collect());
                }
                let n = self.rng.usize(0, 20).min(*budget);
                *budget -= n;
                Val::List((0..n).map(|_| self.val(elem, budget)).collect())
            }
            Ty::Map(k, v) => {
                let n = self.rng.usize(0, 8).min(*budget);
                *budget -= n;
                Val::Map((0..n).map(|_| (self.val(k, budget), self.val(v, budget))).collect())
            }
            Ty::Fixed(t, n) => Val::List((0..*n).map(|_| self.val(t, budget)).collect()),
            Ty::Record(_, fields) => {
                Val::Record(fields.iter().map(|(n, t)| (n.clone(), self.val(t, budget))).collect())
            }
            Ty::Tuple(types) => Val::Tuple(types.iter().map(|t| self.val(t, budget)).collect()),
            Ty::Variant(_, cases) => {
                let (name, payload) = self.rng.pick(cases);
                let payload = payload.as_ref().map(|t| Box::new(self.val(t, budget)));
                Val::Variant(name.clone(), payload)
            }
            Ty::Enum(_, names) => Val::Enum(self.rng.pick(names).clone()),
            Ty::Option(t) => Val::Option(self.rng.chance(1, 2).then(|| Box::new(self.val(t, budget)))),
            Ty::Result(ok, err) => {
                if self.rng.chance(1, 2) {
                    Val::Result(Ok(ok.as_ref().map(|t| Box::new(self.val(t, budget)))))
                } else {
                    Val::Result(Err(err.as_ref().map(|t| Box::new(self.val(t, budget)))))
                }
            }
            Ty::Flags(_, names) => {
                let p = self.rng.usize(0, 4) as u64;
                Val::Flags(names.iter().filter(|_| self.rng.chance(p, 4)).cloned().collect())
            }
            Ty::Own => {
                let rep = self.int(32, false) as u32;
                Val::Resource(kiln::component::Resource::<HostResource>::new_own(rep).into_resource_any())
            }
            Ty::Borrow => {
                let rep = self.int(32, false) as u32;
                Val::Resource(kiln::component::Resource::<HostResource>::new_borrow(rep).into_resource_any())
            }
        }
    }
}

/// The host type of the resource `r` the generated components import.
pub struct HostResource;

/// Value equality for the round trip: NaNs compare as "is NaN" (the Canonical ABI canonicalizes
/// them), other floats bitwise (so `-0.0 != 0.0`), flags as sets.
pub fn vals_eq(a: &Val, b: &Val) -> bool {
    let opt = |a: &Option<Box<Val>>, b: &Option<Box<Val>>| match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => vals_eq(a, b),
        _ => false,
    };
    match (a, b) {
        (Val::Float32(x), Val::Float32(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Val::Float64(x), Val::Float64(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Val::List(x), Val::List(y)) | (Val::Tuple(x), Val::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| vals_eq(a, b))
        }
        (Val::Map(x), Val::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ak, av), (bk, bv))| vals_eq(ak, bk) && vals_eq(av, bv))
        }
        (Val::Record(x), Val::Record(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((n, a), (m, b))| n == m && vals_eq(a, b))
        }
        (Val::Variant(n, x), Val::Variant(m, y)) => n == m && opt(x, y),
        (Val::Option(x), Val::Option(y)) => opt(x, y),
        (Val::Result(x), Val::Result(y)) => match (x, y) {
            (Ok(x), Ok(y)) | (Err(x), Err(y)) => opt(x, y),
            _ => false,
        },
        (Val::Flags(x), Val::Flags(y)) => {
            let mut x = x.clone();
            let mut y = y.clone();
            x.sort();
            y.sort();
            x == y
        }
        _ => a == b,
    }
}

/// A short rendering of a value for failure reports (long lists and strings are elided in the
/// middle).
pub fn show(v: &Val) -> String {
    let s = format!("{v:?}");
    if s.len() > 4000 {
        format!(
            "{} ... [{} chars] ... {}",
            &s[..s.floor_char_boundary(1500)],
            s.len(),
            &s[s.ceil_char_boundary(s.len() - 1500)..]
        )
    } else {
        s
    }
}
