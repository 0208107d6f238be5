//! Code generation for one adapter function: the flag protocol, parameter and result passing, and
//! the recursive translation of a value from a source (flat locals or memory) to a destination
//! (the operand stack or memory). Strings live in `strings.rs`.

use crate::{Resolved, ResourceFuncs, Side, val_type};
use kiln_environ::Trap;
use kiln_environ::component::{
    Context, FlatType, FuncType, MAX_LIST_BYTE_LENGTH, PtrSize, REALLOC_MAX, ValueType, align_in, discriminant_size,
    field_offsets_in, flags_size, flags_words, flat_count, flatten_func_in, params_tuple, size_in,
    variant_payload_flat_in, variant_payload_offset_in,
};
use wasm_encoder::{BlockType, Instruction as I, MemArg, MemArgTarget, ValType};

/// Where a value comes from.
#[derive(Clone, Copy)]
pub(crate) enum Src<'a> {
    /// Flat values held in locals (index, the local's type, which may be a variant join).
    Stack(&'a [(u32, FlatType)]),
    /// A value stored in memory.
    Mem(Mem),
}

/// Where a value goes.
#[derive(Clone, Copy)]
pub(crate) enum Dst<'a> {
    /// Pushed onto the operand stack, converted to these types (which may be variant joins).
    Stack(&'a [FlatType]),
    /// Stored into memory.
    Mem(Mem),
}

/// A location in memory: `memory[addr_local + offset]` (the local has the memory's pointer type).
#[derive(Clone, Copy)]
pub(crate) struct Mem {
    pub mem: u32,
    pub addr: u32,
    pub offset: u32,
}

impl Mem {
    fn at(self, delta: u32) -> Mem {
        Mem { offset: self.offset + delta, ..self }
    }
}

/// A block label: its nesting depth.
#[derive(Clone, Copy)]
pub(crate) struct Label(u32);

/// An operand of a `realloc` call: a constant or an `i32` local (sizes), or a local of the
/// side's pointer type (an old pointer). Sizes are widened for 64-bit memories.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    C(i32),
    L(u32),
    P(u32),
}

/// A byte length for bounds checks.
#[derive(Clone, Copy)]
pub(crate) enum Bytes {
    /// A constant.
    C(u32),
    /// An `i32` local (unsigned).
    L32(u32),
    /// An `i64` local.
    L64(u32),
}

/// The generated body of one adapter.
pub(crate) struct Body {
    pub locals: Vec<ValType>,
    pub code: Vec<I<'static>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prim {
    Bool,
    U8,
    S8,
    U16,
    S16,
    I32,
    I64,
    F32,
    F64,
    Char,
}

impl Prim {
    fn flat(self) -> FlatType {
        match self {
            Prim::I64 => FlatType::I64,
            Prim::F32 => FlatType::F32,
            Prim::F64 => FlatType::F64,
            _ => FlatType::I32,
        }
    }
}

pub(crate) fn memarg(mem: u32, offset: u32, align_log2: u32) -> MemArg {
    MemArg { offset: u64::from(offset), align: align_log2, target: MemArgTarget::Memory(mem), ordering: None }
}

pub(crate) struct Gen {
    num_params: u32,
    /// The adapter's parameter types (the caller's lowered signature).
    param_types: Vec<ValType>,
    pub locals: Vec<ValType>,
    pub code: Vec<I<'static>>,
    depth: u32,
    trap_func: u32,
    /// The side values are read from (the caller for parameters, the callee for results).
    pub src: Side,
    /// The side values are written to.
    pub dst: Side,
    /// The resource intrinsics, when the adapter's type has handles.
    resources: Option<ResourceFuncs>,
}

impl Gen {
    pub fn ins(&mut self, i: I<'static>) {
        self.code.push(i);
    }

    pub fn local(&mut self, ty: ValType) -> u32 {
        self.locals.push(ty);
        self.num_params + self.locals.len() as u32 - 1
    }

    /// The type of local (or parameter) `l`.
    pub fn ty_of(&self, l: u32) -> ValType {
        match l.checked_sub(self.num_params) {
            Some(i) => self.locals[i as usize],
            None => self.param_types[l as usize],
        }
    }

    /// Whether local `l` is an `i64` (a pointer into a 64-bit memory).
    pub fn is64(&self, l: u32) -> bool {
        self.ty_of(l) == ValType::I64
    }

    /// A new local for a pointer into `side`'s memory.
    pub fn ptr_local(&mut self, side: Side) -> u32 {
        self.local(val_type(side.ptr.flat()))
    }

    /// A new local of the same type as `l`.
    pub fn local_like(&mut self, l: u32) -> u32 {
        self.local(self.ty_of(l))
    }

    /// Pushes the `i32` local `l` widened to the type of `like` (a pointer local).
    pub fn get_as(&mut self, l: u32, like: u32) {
        self.get(l);
        if self.is64(like) && !self.is64(l) {
            self.ins(I::I64ExtendI32U);
        }
    }

    /// Pushes the `i32` constant `c` as the type of pointer local `like`.
    pub fn const_as(&mut self, c: u32, like: u32) {
        if self.is64(like) { self.ins(I::I64Const(i64::from(c))) } else { self.i32(c as i32) }
    }

    /// Pushes `a - b` for two pointer locals of the same type, as an `i32` (callers know the
    /// difference is below 2^32).
    pub fn push_diff(&mut self, a: u32, b: u32) {
        self.get(a);
        self.get(b);
        if self.is64(a) {
            self.ins(I::I64Sub);
            self.ins(I::I32WrapI64);
        } else {
            self.ins(I::I32Sub);
        }
    }

    /// Pushes `a >= b` (unsigned) for two locals of the same type.
    pub fn push_ge(&mut self, a: u32, b: u32) {
        self.get(a);
        self.get(b);
        self.ins(if self.is64(a) { I::I64GeU } else { I::I32GeU });
    }

    pub fn block(&mut self) -> Label {
        self.ins(I::Block(BlockType::Empty));
        self.depth += 1;
        Label(self.depth)
    }

    pub fn loop_(&mut self) -> Label {
        self.ins(I::Loop(BlockType::Empty));
        self.depth += 1;
        Label(self.depth)
    }

    pub fn if_(&mut self) {
        self.ins(I::If(BlockType::Empty));
        self.depth += 1;
    }

    pub fn else_(&mut self) {
        self.ins(I::Else);
    }

    pub fn end(&mut self) {
        self.ins(I::End);
        self.depth -= 1;
    }

    pub fn br(&mut self, l: Label) {
        self.ins(I::Br(self.depth - l.0));
    }

    pub fn br_if(&mut self, l: Label) {
        self.ins(I::BrIf(self.depth - l.0));
    }

    pub fn get(&mut self, l: u32) {
        self.ins(I::LocalGet(l));
    }

    pub fn set(&mut self, l: u32) {
        self.ins(I::LocalSet(l));
    }

    pub fn i32(&mut self, v: i32) {
        self.ins(I::I32Const(v));
    }

    pub fn op(&mut self, op: Op) {
        match op {
            Op::C(v) => self.i32(v),
            Op::L(l) | Op::P(l) => self.get(l),
        }
    }

    /// `local += delta` for an `i32` local or a pointer local (either width).
    pub fn add_to(&mut self, l: u32, delta: i32) {
        self.get(l);
        if self.is64(l) {
            self.ins(I::I64Const(i64::from(delta)));
            self.ins(I::I64Add);
        } else {
            self.i32(delta);
            self.ins(I::I32Add);
        }
        self.set(l);
    }

    /// Pushes `(local & mask) == value` for an `i32` local.
    pub fn push_masked_eq(&mut self, local: u32, mask: i32, value: i32) {
        self.get(local);
        self.i32(mask);
        self.ins(I::I32And);
        self.i32(value);
        self.ins(I::I32Eq);
    }

    /// Raises `trap`: never returns.
    pub fn trap(&mut self, trap: Trap) {
        self.i32(i32::from(trap.as_u8()));
        self.ins(I::Call(self.trap_func));
        self.ins(I::Unreachable);
    }

    /// Pops an `i32` condition and raises `trap` if it is non-zero.
    pub fn trap_if(&mut self, trap: Trap) {
        self.if_();
        self.trap(trap);
        self.end();
    }

    fn flag_test(&mut self, global: u32, bit: i32, trap: Trap) {
        self.ins(I::GlobalGet(global));
        self.i32(bit);
        self.ins(I::I32And);
        self.ins(I::I32Eqz);
        self.trap_if(trap);
    }

    pub fn flag_set(&mut self, global: u32, bit: i32, on: bool) {
        self.ins(I::GlobalGet(global));
        if on {
            self.i32(bit);
            self.ins(I::I32Or);
        } else {
            self.i32(!bit);
            self.ins(I::I32And);
        }
        self.ins(I::GlobalSet(global));
    }

    /// Traps `UnalignedPointer` unless the pointer local `ptr` is a multiple of `align`.
    pub fn check_align(&mut self, ptr: u32, align: u32) {
        if align > 1 {
            self.get(ptr);
            if self.is64(ptr) {
                self.ins(I::I64Const(i64::from(align) - 1));
                self.ins(I::I64And);
                self.ins(I::I64Const(0));
                self.ins(I::I64Ne);
            } else {
                self.i32(align as i32 - 1);
                self.ins(I::I32And);
            }
            self.trap_if(Trap::UnalignedPointer);
        }
    }

    /// Traps with `trap` if `ptr + bytes` exceeds the size of `mem` (computed in `i64`): the
    /// Canonical ABI's bounds check, with the trap naming what is out of bounds
    /// (`StringOutOfBounds`, `ListOutOfBounds`, or `PointerOutOfBounds` for parameter and result
    /// tuples).
    pub fn check_bounds(&mut self, mem: u32, ptr: u32, bytes: Bytes, trap: Trap) {
        if self.is64(ptr) {
            return self.check_bounds64(mem, ptr, bytes, trap);
        }
        self.get(ptr);
        self.ins(I::I64ExtendI32U);
        match bytes {
            Bytes::C(0) => {}
            Bytes::C(c) => {
                self.ins(I::I64Const(i64::from(c)));
                self.ins(I::I64Add);
            }
            Bytes::L32(l) => {
                self.get(l);
                self.ins(I::I64ExtendI32U);
                self.ins(I::I64Add);
            }
            Bytes::L64(l) => {
                self.get(l);
                self.ins(I::I64Add);
            }
        }
        self.ins(I::MemorySize(mem));
        self.ins(I::I64ExtendI32U);
        self.ins(I::I64Const(i64::from(self.page_log2(mem))));
        self.ins(I::I64Shl);
        self.ins(I::I64GtU);
        self.trap_if(trap);
    }

    /// [`Gen::check_bounds`] for a pointer into a 64-bit memory, where `ptr + bytes` could wrap:
    /// traps if `ptr > size` or `bytes > size - ptr`.
    fn check_bounds64(&mut self, mem: u32, ptr: u32, bytes: Bytes, trap: Trap) {
        let limit = self.local(ValType::I64);
        self.ins(I::MemorySize(mem));
        self.ins(I::I64Const(i64::from(self.page_log2(mem))));
        self.ins(I::I64Shl);
        self.set(limit);
        self.get(ptr);
        self.get(limit);
        self.ins(I::I64GtU);
        match bytes {
            Bytes::C(c) => self.ins(I::I64Const(i64::from(c))),
            Bytes::L32(l) => {
                self.get(l);
                self.ins(I::I64ExtendI32U);
            }
            Bytes::L64(l) => self.get(l),
        }
        self.get(limit);
        self.get(ptr);
        self.ins(I::I64Sub);
        self.ins(I::I64GtU);
        self.ins(I::I32Or);
        self.trap_if(trap);
    }

    /// The page size (a power of two) of adapter-module memory `mem`, one of the two sides'.
    fn page_log2(&self, mem: u32) -> u32 {
        if self.src.memory == Some(mem) { self.src.page_log2 } else { self.dst.page_log2 }
    }

    /// Traps `trap` if the `i64` local `bytes` exceeds `limit`.
    pub fn check_length(&mut self, bytes: u32, limit: u32, trap: Trap) {
        self.get(bytes);
        self.ins(I::I64Const(i64::from(limit)));
        self.ins(I::I64GtU);
        self.trap_if(trap);
    }

    /// `i64` local holding `len * factor` for an `i32` local `len`.
    pub fn mul64(&mut self, len: u32, factor: u32) -> u32 {
        let r = self.local(ValType::I64);
        self.get(len);
        self.ins(I::I64ExtendI32U);
        if factor != 1 {
            self.ins(I::I64Const(i64::from(factor)));
            self.ins(I::I64Mul);
        }
        self.set(r);
        r
    }

    /// Calls `side`'s realloc with its `may_leave` flag cleared around the call; stores the result
    /// in `out`.
    pub fn realloc(&mut self, side: Side, old_ptr: Op, old_size: Op, align: u32, new_size: Op, out: u32) {
        let func = side.realloc.expect("realloc presence checked before code generation");
        self.flag_set(side.flags, crate::FLAG_MAY_LEAVE, false);
        let wide = side.ptr.is_64();
        for op in [old_ptr, old_size, Op::C(align as i32), new_size] {
            match op {
                Op::C(c) if wide => self.ins(I::I64Const(i64::from(c as u32))),
                Op::L(l) if wide => {
                    self.get(l);
                    self.ins(I::I64ExtendI32U);
                }
                Op::C(_) | Op::L(_) => self.op(op),
                Op::P(l) => self.get(l),
            }
        }
        self.ins(I::Call(func));
        self.set(out);
        self.flag_set(side.flags, crate::FLAG_MAY_LEAVE, true);
    }

    /// Converts the value on top of the stack from `from` to `to` (the Canonical ABI's variant
    /// join coercions, in either direction).
    pub fn convert(&mut self, from: FlatType, to: FlatType) {
        use FlatType::*;
        match (from, to) {
            (a, b) if a == b => {}
            (I32, F32) => self.ins(I::F32ReinterpretI32),
            (F32, I32) => self.ins(I::I32ReinterpretF32),
            (I64, I32) => self.ins(I::I32WrapI64),
            (I32, I64) => self.ins(I::I64ExtendI32U),
            (I64, F32) => {
                self.ins(I::I32WrapI64);
                self.ins(I::F32ReinterpretI32);
            }
            (F32, I64) => {
                self.ins(I::I32ReinterpretF32);
                self.ins(I::I64ExtendI32U);
            }
            (I64, F64) => self.ins(I::F64ReinterpretI64),
            (F64, I64) => self.ins(I::I64ReinterpretF64),
            (a, b) => unreachable!("no conversion from {a:?} to {b:?}"),
        }
    }

    /// Pushes a zero of type `t`.
    fn zero(&mut self, t: FlatType) {
        self.ins(match t {
            FlatType::I32 => I::I32Const(0),
            FlatType::I64 => I::I64Const(0),
            FlatType::F32 => I::F32Const(0.0.into()),
            FlatType::F64 => I::F64Const(0.0.into()),
        });
    }

    /// Reads pointer word `slot` (0: the pointer, 1: the length) of a string or list from
    /// `src`, as the source side's pointer type.
    fn read_word(&mut self, src: Src<'_>, slot: usize) {
        let p = self.src.ptr;
        match src {
            Src::Stack(s) => {
                let (l, t) = s[slot];
                self.get(l);
                self.convert(t, p.flat());
            }
            Src::Mem(m) => {
                self.get(m.addr);
                let offset = m.offset + slot as u32 * p.bytes();
                self.ins(match p {
                    PtrSize::P32 => I::I32Load(memarg(m.mem, offset, 2)),
                    PtrSize::P64 => I::I64Load(memarg(m.mem, offset, 3)),
                });
            }
        }
    }

    /// Reads the pointer and the length of a string or list from `src` into a new pointer local
    /// and a new `i32` local. A 64-bit length above `u32::MAX` traps with `too_long` (the byte
    /// length limits are far below it). With `tagged` (a `latin1+utf16` string), the length's top
    /// bit is the UTF-16 tag: bit 63 of a 64-bit length becomes bit 31 of the `i32`, and the rest
    /// must fit in 31 bits.
    pub fn read_ptr_len(&mut self, src: Src<'_>, too_long: Trap, tagged: bool) -> (u32, u32) {
        let ptr = self.ptr_local(self.src);
        self.read_word(src, 0);
        self.set(ptr);
        let len = self.local(ValType::I32);
        self.read_word(src, 1);
        if self.src.ptr.is_64() {
            let wide = self.local(ValType::I64);
            self.set(wide);
            let limit = if tagged { i64::from(u32::MAX >> 1) } else { i64::from(u32::MAX) };
            self.get(wide);
            if tagged {
                self.ins(I::I64Const(i64::MAX));
                self.ins(I::I64And);
            }
            self.ins(I::I64Const(limit));
            self.ins(I::I64GtU);
            self.trap_if(too_long);
            self.get(wide);
            self.ins(I::I32WrapI64);
            if tagged {
                // The low 31 bits, then the tag from bit 63.
                self.i32(i32::MAX);
                self.ins(I::I32And);
                self.get(wide);
                self.ins(I::I64Const(32));
                self.ins(I::I64ShrU);
                self.ins(I::I32WrapI64);
                self.i32(i32::MIN);
                self.ins(I::I32And);
                self.ins(I::I32Or);
            }
        }
        self.set(len);
        (ptr, len)
    }

    /// Pushes the `i32` length local `len` as the destination side's length type; with
    /// `tagged` (a `latin1+utf16` string) bit 31, the UTF-16 tag, moves to bit 63 of a 64-bit
    /// length.
    fn push_len(&mut self, len: u32, tagged: bool) {
        self.get(len);
        if self.dst.ptr.is_64() {
            if tagged {
                self.i32(i32::MAX);
                self.ins(I::I32And);
                self.ins(I::I64ExtendI32U);
                self.get(len);
                self.ins(I::I64ExtendI32U);
                self.ins(I::I64Const(31));
                self.ins(I::I64ShrU);
                self.ins(I::I64Const(63));
                self.ins(I::I64Shl);
                self.ins(I::I64Or);
            } else {
                self.ins(I::I64ExtendI32U);
            }
        }
    }

    /// Writes the pointer local `a` and the `i32` length local `b` to `dst`, in the destination
    /// side's pointer type (`tagged`: see [`Gen::push_len`]).
    pub fn write_pair(&mut self, dst: Dst<'_>, a: u32, b: u32, tagged: bool) {
        let p = self.dst.ptr;
        match dst {
            Dst::Stack(t) => {
                self.get(a);
                self.convert(p.flat(), t[0]);
                self.push_len(b, tagged);
                self.convert(p.flat(), t[1]);
            }
            Dst::Mem(m) => {
                let store = |offset| match p {
                    PtrSize::P32 => I::I32Store(memarg(m.mem, offset, 2)),
                    PtrSize::P64 => I::I64Store(memarg(m.mem, offset, 3)),
                };
                self.get(m.addr);
                self.get(a);
                self.ins(store(m.offset));
                self.get(m.addr);
                self.push_len(b, tagged);
                self.ins(store(m.offset + p.bytes()));
            }
        }
    }

    /// The size of `ty` in the memory values are read from and in the one they are written to.
    fn sizes(&self, ty: &ValueType) -> (u32, u32) {
        (size_in(ty, self.src.ptr), size_in(ty, self.dst.ptr))
    }

    /// Translates a value of type `ty` from `src` to `dst`.
    pub fn translate(&mut self, ty: &ValueType, src: Src<'_>, dst: Dst<'_>) {
        match ty {
            ValueType::Bool => self.prim(Prim::Bool, src, dst),
            ValueType::U8 => self.prim(Prim::U8, src, dst),
            ValueType::S8 => self.prim(Prim::S8, src, dst),
            ValueType::U16 => self.prim(Prim::U16, src, dst),
            ValueType::S16 => self.prim(Prim::S16, src, dst),
            ValueType::U32 | ValueType::S32 => self.prim(Prim::I32, src, dst),
            ValueType::U64 | ValueType::S64 => self.prim(Prim::I64, src, dst),
            ValueType::F32 => self.prim(Prim::F32, src, dst),
            ValueType::F64 => self.prim(Prim::F64, src, dst),
            ValueType::Char => self.prim(Prim::Char, src, dst),
            ValueType::String => self.translate_string(src, dst),
            ValueType::List(elem) => self.translate_list(elem, src, dst),
            ValueType::Map(..) => self.translate_list(&ty.list_element().unwrap(), src, dst),
            ValueType::FixedList(elem, n) => self.translate_fixed_list(elem, *n, src, dst),
            ValueType::Record(_) | ValueType::Tuple(_) => self.translate_record(ty, src, dst),
            ValueType::Flags(names) => self.translate_flags(names.len(), src, dst),
            ValueType::Variant(_) | ValueType::Enum(_) | ValueType::Option(_) | ValueType::Result { .. } => {
                self.translate_variant(ty, src, dst)
            }
            ValueType::Own(r) | ValueType::Borrow(r) => {
                let funcs = self.resources.expect("resource intrinsics imported for types with handles");
                let func = if matches!(ty, ValueType::Own(_)) { funcs.transfer_own } else { funcs.transfer_borrow };
                if let Dst::Mem(m) = dst {
                    self.get(m.addr);
                }
                self.read_prim(Prim::I32, src, false);
                self.i32(self.src.instance as i32);
                self.i32(self.dst.instance as i32);
                self.i32(r.0 as i32);
                self.ins(I::Call(func));
                self.write_prim(Prim::I32, dst);
            }
        }
    }

    fn read_prim(&mut self, p: Prim, src: Src<'_>, narrow: bool) {
        match src {
            Src::Stack(s) => {
                let (l, t) = s[0];
                self.get(l);
                self.convert(t, p.flat());
                match p {
                    Prim::U8 if narrow => {
                        self.i32(0xff);
                        self.ins(I::I32And);
                    }
                    Prim::U16 if narrow => {
                        self.i32(0xffff);
                        self.ins(I::I32And);
                    }
                    Prim::S8 if narrow => self.ins(I::I32Extend8S),
                    Prim::S16 if narrow => self.ins(I::I32Extend16S),
                    _ => {}
                }
            }
            Src::Mem(m) => {
                let (mem, off) = (m.mem, m.offset);
                self.get(m.addr);
                self.ins(match p {
                    Prim::Bool | Prim::U8 => I::I32Load8U(memarg(mem, off, 0)),
                    Prim::S8 => I::I32Load8S(memarg(mem, off, 0)),
                    Prim::U16 => I::I32Load16U(memarg(mem, off, 1)),
                    Prim::S16 => I::I32Load16S(memarg(mem, off, 1)),
                    Prim::I32 | Prim::Char => I::I32Load(memarg(mem, off, 2)),
                    Prim::I64 => I::I64Load(memarg(mem, off, 3)),
                    Prim::F32 => I::F32Load(memarg(mem, off, 2)),
                    Prim::F64 => I::F64Load(memarg(mem, off, 3)),
                });
            }
        }
        if p == Prim::Bool {
            self.i32(0);
            self.ins(I::I32Ne);
        }
    }

    fn write_prim(&mut self, p: Prim, dst: Dst<'_>) {
        match dst {
            Dst::Stack(t) => self.convert(p.flat(), t[0]),
            Dst::Mem(m) => {
                let (mem, off) = (m.mem, m.offset);
                self.ins(match p {
                    Prim::Bool | Prim::U8 | Prim::S8 => I::I32Store8(memarg(mem, off, 0)),
                    Prim::U16 | Prim::S16 => I::I32Store16(memarg(mem, off, 1)),
                    Prim::I32 | Prim::Char => I::I32Store(memarg(mem, off, 2)),
                    Prim::I64 => I::I64Store(memarg(mem, off, 3)),
                    Prim::F32 => I::F32Store(memarg(mem, off, 2)),
                    Prim::F64 => I::F64Store(memarg(mem, off, 3)),
                });
            }
        }
    }

    fn prim(&mut self, p: Prim, src: Src<'_>, dst: Dst<'_>) {
        let narrow = matches!(dst, Dst::Stack(_));
        if p == Prim::Char {
            let c = self.local(ValType::I32);
            self.read_prim(p, src, narrow);
            self.set(c);
            self.get(c);
            self.i32(0x110000);
            self.ins(I::I32GeU);
            self.trap_if(Trap::InvalidChar);
            self.push_masked_eq(c, 0xFFFF_F800_u32 as i32, 0xD800);
            self.trap_if(Trap::InvalidChar);
            if let Dst::Mem(m) = dst {
                self.get(m.addr);
            }
            self.get(c);
        } else {
            if let Dst::Mem(m) = dst {
                self.get(m.addr);
            }
            self.read_prim(p, src, narrow);
        }
        self.write_prim(p, dst);
    }

    fn translate_record(&mut self, ty: &ValueType, src: Src<'_>, dst: Dst<'_>) {
        let fields = ty.as_record_fields().unwrap();
        let src_offsets = field_offsets_in(ty, self.src.ptr);
        let dst_offsets = field_offsets_in(ty, self.dst.ptr);
        let (mut si, mut di) = (0, 0);
        for ((field, src_off), dst_off) in fields.into_iter().zip(src_offsets).zip(dst_offsets) {
            let n = flat_count(field) as usize;
            let s = match src {
                Src::Stack(s) => Src::Stack(&s[si..si + n]),
                Src::Mem(m) => Src::Mem(m.at(src_off)),
            };
            let d = match dst {
                Dst::Stack(t) => Dst::Stack(&t[di..di + n]),
                Dst::Mem(m) => Dst::Mem(m.at(dst_off)),
            };
            si += n;
            di += n;
            self.translate(field, s, d);
        }
    }

    fn translate_flags(&mut self, count: usize, src: Src<'_>, dst: Dst<'_>) {
        let bytes = flags_size(count);
        for word in 0..flags_words(count) {
            if let Dst::Mem(m) = dst {
                self.get(m.addr);
            }
            match src {
                Src::Stack(s) => {
                    let (l, t) = s[word];
                    self.get(l);
                    self.convert(t, FlatType::I32);
                }
                Src::Mem(m) => {
                    self.get(m.addr);
                    self.ins(match bytes {
                        1 => I::I32Load8U(memarg(m.mem, m.offset, 0)),
                        2 => I::I32Load16U(memarg(m.mem, m.offset, 1)),
                        _ => I::I32Load(memarg(m.mem, m.offset + 4 * word as u32, 2)),
                    });
                }
            }
            let bits = count - 32 * word;
            if bits < 32 {
                self.i32(((1u32 << bits) - 1) as i32);
                self.ins(I::I32And);
            }
            match dst {
                Dst::Stack(t) => self.convert(FlatType::I32, t[word]),
                Dst::Mem(m) => self.ins(match bytes {
                    1 => I::I32Store8(memarg(m.mem, m.offset, 0)),
                    2 => I::I32Store16(memarg(m.mem, m.offset, 1)),
                    _ => I::I32Store(memarg(m.mem, m.offset + 4 * word as u32, 2)),
                }),
            }
        }
    }

    fn translate_variant(&mut self, ty: &ValueType, src: Src<'_>, dst: Dst<'_>) {
        let cases = ty.as_variant_cases().unwrap();
        let n = cases.len() as u32;
        let disc_size = discriminant_size(cases.len());
        let src_payload_offset = variant_payload_offset_in(ty, self.src.ptr);
        let dst_payload_offset = variant_payload_offset_in(ty, self.dst.ptr);
        // The joined payload types, for a flat destination (only then are they few).
        let natural = if matches!(dst, Dst::Stack(_)) { variant_payload_flat_in(ty, self.dst.ptr) } else { Vec::new() };

        // The discriminant, checked.
        let d = self.local(ValType::I32);
        match src {
            Src::Stack(s) => {
                let (l, t) = s[0];
                self.get(l);
                self.convert(t, FlatType::I32);
            }
            Src::Mem(m) => {
                self.get(m.addr);
                self.ins(match disc_size {
                    1 => I::I32Load8U(memarg(m.mem, m.offset, 0)),
                    2 => I::I32Load16U(memarg(m.mem, m.offset, 1)),
                    _ => I::I32Load(memarg(m.mem, m.offset, 2)),
                });
            }
        }
        self.set(d);
        self.get(d);
        self.i32(n as i32);
        self.ins(I::I32GeU);
        self.trap_if(Trap::InvalidDiscriminant);
        match dst {
            Dst::Stack(t) => {
                self.get(d);
                self.convert(FlatType::I32, t[0]);
            }
            Dst::Mem(m) => {
                self.get(m.addr);
                self.get(d);
                self.ins(match disc_size {
                    1 => I::I32Store8(memarg(m.mem, m.offset, 0)),
                    2 => I::I32Store16(memarg(m.mem, m.offset, 1)),
                    _ => I::I32Store(memarg(m.mem, m.offset, 2)),
                });
            }
        }

        let psrc = match src {
            Src::Stack(s) => Src::Stack(&s[1..]),
            Src::Mem(m) => Src::Mem(m.at(src_payload_offset)),
        };
        if cases.iter().all(|c| c.is_none()) {
            if let Dst::Stack(t) = dst {
                for &want in &t[1..1 + natural.len()] {
                    self.zero(want);
                }
            }
            return;
        }

        // Payload temporaries in the variant's own joined types (stack destinations only).
        let temps: Vec<u32> = match dst {
            Dst::Stack(_) => natural.iter().map(|&t| self.local(val_type(t))).collect(),
            Dst::Mem(_) => Vec::new(),
        };
        let done = self.block();
        for _ in 0..n {
            self.block();
        }
        self.get(d);
        let targets: Vec<u32> = (0..n).collect();
        let default = n - 1;
        self.ins(I::BrTable(targets.into(), default));
        for case in &cases {
            self.end();
            let written = match (case, dst) {
                (Some(t), Dst::Stack(_)) => {
                    let k = flat_count(t) as usize;
                    self.translate(t, psrc, Dst::Stack(&natural[..k]));
                    for j in (0..k).rev() {
                        self.set(temps[j]);
                    }
                    k
                }
                (Some(t), Dst::Mem(m)) => {
                    self.translate(t, psrc, Dst::Mem(m.at(dst_payload_offset)));
                    0
                }
                (None, _) => 0,
            };
            for (j, &temp) in temps.iter().enumerate().skip(written) {
                self.zero(natural[j]);
                self.set(temp);
            }
            self.br(done);
        }
        self.end();
        if let Dst::Stack(t) = dst {
            for (j, &temp) in temps.iter().enumerate() {
                self.get(temp);
                self.convert(natural[j], t[1 + j]);
            }
        }
    }

    fn translate_list(&mut self, elem: &ValueType, src: Src<'_>, dst: Dst<'_>) {
        let (src_side, dst_side) = (self.src, self.dst);
        let src_mem = src_side.memory.expect("memory presence checked");
        let dst_mem = dst_side.memory.expect("memory presence checked");
        let (src_elem_size, dst_elem_size) = self.sizes(elem);
        let src_align = align_in(elem, src_side.ptr);
        let dst_align = align_in(elem, dst_side.ptr);
        let (sp, len) = self.read_ptr_len(src, Trap::LengthTooLarge, false);

        let bytes64 = self.mul64(len, src_elem_size);
        self.check_length(bytes64, MAX_LIST_BYTE_LENGTH, Trap::LengthTooLarge);
        self.check_align(sp, src_align);
        self.check_bounds(src_mem, sp, Bytes::L64(bytes64), Trap::ListOutOfBounds);
        let bytes = self.local(ValType::I32);
        self.get(bytes64);
        self.ins(I::I32WrapI64);
        self.set(bytes);
        // Elements with pointers are larger in a 64-bit memory.
        let dst_bytes = if dst_elem_size == src_elem_size {
            bytes
        } else {
            let dst_bytes64 = self.mul64(len, dst_elem_size);
            self.check_length(dst_bytes64, REALLOC_MAX, Trap::LengthTooLarge);
            let dst_bytes = self.local(ValType::I32);
            self.get(dst_bytes64);
            self.ins(I::I32WrapI64);
            self.set(dst_bytes);
            dst_bytes
        };

        let dp = self.ptr_local(dst_side);
        self.realloc(dst_side, Op::C(0), Op::C(0), dst_align, Op::L(dst_bytes), dp);
        self.check_align(dp, dst_align);
        self.check_bounds(dst_mem, dp, Bytes::L32(dst_bytes), Trap::ListOutOfBounds);

        if is_plain(elem) {
            self.get(dp);
            self.get(sp);
            self.push_copy_length(bytes, sp, dp);
            self.ins(I::MemoryCopy { src_mem, dst_mem });
        } else if src_elem_size > 0 {
            let (cs, cd, end) = (self.local_like(sp), self.local_like(dp), self.local_like(sp));
            self.get(sp);
            self.set(cs);
            self.get(dp);
            self.set(cd);
            self.get(sp);
            self.get_as(bytes, sp);
            self.ins(if self.is64(sp) { I::I64Add } else { I::I32Add });
            self.set(end);
            self.element_loop(elem, src_mem, dst_mem, cs, cd, end);
        }
        self.write_pair(dst, dp, len, false);
    }
}

impl Gen {
    /// Translates the `elem`s from the `i32` local `cs` up to `end` in `src_mem` to consecutive
    /// ones from `cd` in `dst_mem` (both locals are advanced): the loop of lists and long
    /// fixed-length lists.
    fn element_loop(&mut self, elem: &ValueType, src_mem: u32, dst_mem: u32, cs: u32, cd: u32, end: u32) {
        let (src_elem_size, dst_elem_size) = self.sizes(elem);
        let exit = self.block();
        let top = self.loop_();
        self.push_ge(cs, end);
        self.br_if(exit);
        self.translate(
            elem,
            Src::Mem(Mem { mem: src_mem, addr: cs, offset: 0 }),
            Dst::Mem(Mem { mem: dst_mem, addr: cd, offset: 0 }),
        );
        self.add_to(cs, src_elem_size as i32);
        self.add_to(cd, dst_elem_size as i32);
        self.br(top);
        self.end();
        self.end();
    }

    /// A fixed-length list: its `n` elements one by one like a tuple's fields, except between two
    /// memories, where a list of plain elements is one `memory.copy` and a long one a loop.
    fn translate_fixed_list(&mut self, elem: &ValueType, n: u32, src: Src<'_>, dst: Dst<'_>) {
        const UNROLL: u32 = 16;
        let (src_elem_size, dst_elem_size) = self.sizes(elem);
        match (src, dst) {
            (Src::Mem(s), Dst::Mem(d)) if is_plain(elem) => {
                self.get(d.addr);
                self.add_const(d.offset, d.addr);
                self.get(s.addr);
                self.add_const(s.offset, s.addr);
                if self.is64(s.addr) && self.is64(d.addr) {
                    self.ins(I::I64Const(i64::from(src_elem_size * n)));
                } else {
                    self.i32((src_elem_size * n) as i32);
                }
                self.ins(I::MemoryCopy { src_mem: s.mem, dst_mem: d.mem });
            }
            (Src::Mem(s), Dst::Mem(d)) if n > UNROLL => {
                let (cs, cd, end) = (self.local_like(s.addr), self.local_like(d.addr), self.local_like(s.addr));
                self.get(s.addr);
                self.add_const(s.offset, s.addr);
                self.set(cs);
                self.get(d.addr);
                self.add_const(d.offset, d.addr);
                self.set(cd);
                self.get(cs);
                self.add_const(src_elem_size * n, cs);
                self.set(end);
                self.element_loop(elem, s.mem, d.mem, cs, cd, end);
            }
            // Flat on at least one side (so at most `MAX_FLAT_PARAMS` values), or short.
            _ => {
                let k = flat_count(elem) as usize;
                for i in 0..n {
                    let s = match src {
                        Src::Stack(s) => Src::Stack(&s[i as usize * k..(i as usize + 1) * k]),
                        Src::Mem(m) => Src::Mem(m.at(i * src_elem_size)),
                    };
                    let d = match dst {
                        Dst::Stack(t) => Dst::Stack(&t[i as usize * k..(i as usize + 1) * k]),
                        Dst::Mem(m) => Dst::Mem(m.at(i * dst_elem_size)),
                    };
                    self.translate(elem, s, d);
                }
            }
        }
    }

    /// Adds a constant to the pointer on top of the stack, of the type of local `like` (nothing
    /// for zero).
    fn add_const(&mut self, c: u32, like: u32) {
        if c != 0 {
            self.const_as(c, like);
            self.ins(if self.is64(like) { I::I64Add } else { I::I32Add });
        }
    }

    /// Pushes the `i32` byte count `bytes` as the length operand of a `memory.copy` between the
    /// memories of pointer locals `a` and `b`: `i64` only if both are 64-bit.
    pub fn push_copy_length(&mut self, bytes: u32, a: u32, b: u32) {
        self.get(bytes);
        if self.is64(a) && self.is64(b) {
            self.ins(I::I64ExtendI32U);
        }
    }
}

/// Whether a list of `ty` can be copied byte for byte: no pointers, `char`s, `bool`s,
/// discriminants or flags (whose unused bits are dropped), only integers and floats.
fn is_plain(ty: &ValueType) -> bool {
    match ty {
        ValueType::U8
        | ValueType::S8
        | ValueType::U16
        | ValueType::S16
        | ValueType::U32
        | ValueType::S32
        | ValueType::U64
        | ValueType::S64
        | ValueType::F32
        | ValueType::F64 => true,
        ValueType::Record(_) | ValueType::Tuple(_) => ty.as_record_fields().unwrap().into_iter().all(is_plain),
        ValueType::FixedList(t, _) => is_plain(t),
        _ => false,
    }
}

/// Generates the body of the adapter for a function of type `ty`.
pub(crate) fn generate(ty: &FuncType, r: &Resolved) -> Body {
    let lower = flatten_func_in(ty, Context::Lower, r.caller.ptr);
    let lift = flatten_func_in(ty, Context::Lift, r.callee.ptr);
    let mut g = Gen {
        num_params: lower.params.len() as u32,
        param_types: lower.params.iter().map(|&t| val_type(t)).collect(),
        locals: Vec::new(),
        code: Vec::new(),
        depth: 0,
        trap_func: r.trap_func,
        src: r.caller,
        dst: r.callee,
        resources: r.resources,
    };

    // Entry: the caller must be allowed to leave, the callee to be entered.
    g.flag_test(r.caller.flags, crate::FLAG_MAY_LEAVE, Trap::CannotLeaveComponent);
    g.flag_test(r.callee.flags, crate::FLAG_MAY_ENTER, Trap::CannotEnterComponent);
    g.flag_set(r.callee.flags, crate::FLAG_MAY_ENTER | crate::FLAG_CONTEXT_LIVE, false);

    // Borrows lent to the callee live in a call scope that ends after post-return.
    let scope = ty.params.iter().any(|(_, t)| t.has_borrows()).then(|| r.resources.expect("resource intrinsics"));
    if let Some(funcs) = scope {
        g.i32(r.callee.instance as i32);
        g.ins(I::Call(funcs.enter_call));
    }

    // Parameters: caller -> callee.
    let tuple = params_tuple(ty);
    let param_locals: Vec<(u32, FlatType)> = lower.params.iter().enumerate().map(|(i, &t)| (i as u32, t)).collect();
    let src = if lower.params_indirect {
        let mem = r.caller.memory.expect("memory presence checked");
        g.check_align(0, align_in(&tuple, r.caller.ptr));
        g.check_bounds(mem, 0, Bytes::C(size_in(&tuple, r.caller.ptr)), Trap::PointerOutOfBounds);
        Src::Mem(Mem { mem, addr: 0, offset: 0 })
    } else {
        let n = param_locals.len() - usize::from(lower.results_indirect);
        Src::Stack(&param_locals[..n])
    };
    if lift.params_indirect {
        let mem = r.callee.memory.expect("memory presence checked");
        let p = g.ptr_local(r.callee);
        let (tuple_align, tuple_size) = (align_in(&tuple, r.callee.ptr), size_in(&tuple, r.callee.ptr));
        g.realloc(r.callee, Op::C(0), Op::C(0), tuple_align, Op::C(tuple_size as i32), p);
        g.check_align(p, tuple_align);
        g.check_bounds(mem, p, Bytes::C(tuple_size), Trap::PointerOutOfBounds);
        g.translate(&tuple, src, Dst::Mem(Mem { mem, addr: p, offset: 0 }));
        g.get(p);
    } else {
        g.translate(&tuple, src, Dst::Stack(&lift.params));
    }
    g.ins(I::Call(r.callee_func));

    // Results: callee -> caller.
    let ret = lift.results.first().map(|&t| (g.local(val_type(t)), t));
    if let Some((l, _)) = ret {
        g.set(l);
    }
    if let Some(result) = &ty.result {
        g.src = r.callee;
        g.dst = r.caller;
        let ret_slot = ret.map(|r| [r]);
        let src = if lift.results_indirect {
            let mem = r.callee.memory.expect("memory presence checked");
            let (l, _) = ret.unwrap();
            g.check_align(l, align_in(result, r.callee.ptr));
            g.check_bounds(mem, l, Bytes::C(size_in(result, r.callee.ptr)), Trap::PointerOutOfBounds);
            Src::Mem(Mem { mem, addr: l, offset: 0 })
        } else {
            Src::Stack(ret_slot.as_ref().map_or(&[][..], |s| &s[..]))
        };
        let dst = if lower.results_indirect {
            let mem = r.caller.memory.expect("memory presence checked");
            let out = g.num_params - 1;
            g.check_align(out, align_in(result, r.caller.ptr));
            g.check_bounds(mem, out, Bytes::C(size_in(result, r.caller.ptr)), Trap::PointerOutOfBounds);
            Dst::Mem(Mem { mem, addr: out, offset: 0 })
        } else {
            Dst::Stack(&lower.results)
        };
        g.translate(result, src, dst);
    }

    // post-return, then the callee may be entered again.
    if let Some(post_return) = r.post_return {
        g.flag_set(r.callee.flags, crate::FLAG_MAY_LEAVE, false);
        if let Some((l, _)) = ret {
            g.get(l);
        }
        g.ins(I::Call(post_return));
        g.flag_set(r.callee.flags, crate::FLAG_MAY_LEAVE, true);
    }
    if let Some(funcs) = scope {
        g.ins(I::Call(funcs.exit_call));
    }
    g.flag_set(r.callee.flags, crate::FLAG_MAY_ENTER, true);
    g.ins(I::End);
    Body { locals: g.locals, code: g.code }
}
