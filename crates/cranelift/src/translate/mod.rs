//! Translation of one wasm function body into Cranelift IR.
//!
//! The translator keeps wasm's operand stack as a stack of SSA values and wasm's control stack as a
//! stack of [`control::Frame`]s. Code after `br`, `br_table`, `return` and `unreachable` is skipped
//! (only its nesting is tracked) until the `else` or `end` that makes code reachable again.

mod atomics;
mod control;
mod exceptions;
mod gc;
mod memory;
mod simd;

use crate::{CompilerOptions, trap_code, value_type, wasm_signature};
use anyhow::{Context as _, Result, bail};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::types::{F32, F64, I8, I8X16, I16, I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, ConstantData, ExtFuncData, ExternalName, FuncRef, GlobalValueData, InstBuilder, MemFlagsData,
    SigRef, Signature, SourceLoc, Type, UserExternalName, UserFuncName, Value,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use kiln_environ::{Builtin, ModuleInfo, Trap, TypeIndex, VMOffsets, vmfuncref, vmstore_context};
use std::collections::HashMap;
use wasmparser::Operator;

/// Everything shared by the translation of all functions of a module.
pub(crate) struct ModuleEnv<'a> {
    pub info: &'a ModuleInfo,
    pub wasm: &'a [u8],
    pub options: &'a CompilerOptions,
    pub isa: &'a dyn TargetIsa,
    pub offsets: VMOffsets,
}

impl<'a> ModuleEnv<'a> {
    pub fn new(info: &'a ModuleInfo, wasm: &'a [u8], options: &'a CompilerOptions, isa: &'a dyn TargetIsa) -> Self {
        ModuleEnv { info, wasm, options, isa, offsets: VMOffsets::new(info) }
    }
}

/// Translates defined function `defined_index` into `func`.
pub(crate) fn translate_function(
    env: &ModuleEnv<'_>,
    defined_index: u32,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<()> {
    let info = env.info;
    let ty = info.func_type(info.func_index(defined_index));
    func.signature = wasm_signature(ty)?;
    func.name = UserFuncName::user(0, defined_index);

    // Stack limit: vmctx -> store context -> stack_limit.
    let vmctx_gv = func.create_global_value(GlobalValueData::VMContext);
    let readonly = insert_flags(func, MemFlagsData::trusted().with_readonly().with_can_move())?;
    let trusted = insert_flags(func, MemFlagsData::trusted())?;
    let store_ctx = func.create_global_value(GlobalValueData::Load {
        base: vmctx_gv,
        offset: (VMOffsets::STORE_CONTEXT as i32).into(),
        global_type: I64,
        flags: readonly,
    });
    let limit = func.create_global_value(GlobalValueData::Load {
        base: store_ctx,
        offset: (vmstore_context::STACK_LIMIT as i32).into(),
        global_type: I64,
        flags: trusted,
    });
    func.stack_limit = Some(limit);

    let range = info.bodies.get(defined_index as usize).context("missing function body")?.range.clone();
    let bytes = env.wasm.get(range.clone()).context("function body outside the module binary")?;
    let body = wasmparser::FunctionBody::new(wasmparser::BinaryReader::new(bytes, range.start as u64));

    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    b.set_srcloc(SourceLoc::new(range.start as u32));
    let params = b.block_params(entry).to_vec();
    let vmctx = params[0];

    let mut locals = Vec::new();
    for (i, p) in ty.params.iter().enumerate() {
        let var = b.declare_var(value_type(*p)?);
        if p.is_gc_ref() {
            b.declare_var_needs_stack_map(var);
        }
        b.def_var(var, params[2 + i]);
        locals.push(var);
    }
    let mut locals_reader = body.get_locals_reader()?;
    for _ in 0..locals_reader.get_count() {
        let (count, ty) = locals_reader.read()?;
        let wasm_ty = info.convert_val_type(ty)?;
        let ty = value_type(wasm_ty)?;
        let zero = match ty {
            F32 => b.ins().f32const(Ieee32::with_bits(0)),
            F64 => b.ins().f64const(Ieee64::with_bits(0)),
            I8X16 => {
                let zero = b.func.dfg.constants.insert(ConstantData::from(vec![0; 16]));
                b.ins().vconst(I8X16, zero)
            }
            _ => b.ins().iconst(ty, 0),
        };
        for _ in 0..count {
            let var = b.declare_var(ty);
            if wasm_ty.is_gc_ref() {
                b.declare_var_needs_stack_map(var);
            }
            b.def_var(var, zero);
            locals.push(var);
        }
    }

    let results = ty.results.iter().map(|t| value_type(*t)).collect::<Result<Vec<_>>>()?;
    let mut t = FuncTranslator {
        env,
        b,
        defined_index,
        vmctx,
        locals,
        stack: Vec::new(),
        control: Vec::new(),
        reachable: true,
        unreachable_depth: 0,
        wasm_offset: range.start as u32,
        sigs: HashMap::new(),
        direct: HashMap::new(),
        builtin_sigs: HashMap::new(),
        fuel_pending: 0,
    };
    t.push_function_frame(results);
    t.interruption_checks();

    let mut ops = body.get_operators_reader()?;
    while !ops.eof() {
        let (op, offset) = ops.read_with_offset()?;
        t.wasm_offset = offset as u32;
        t.b.set_srcloc(SourceLoc::new(offset as u32));
        t.translate(op).with_context(|| format!("at wasm offset {offset:#x}"))?;
    }
    if !t.control.is_empty() {
        bail!("function body ended with unclosed blocks");
    }
    t.b.seal_all_blocks();
    let FuncTranslator { b, .. } = t;
    b.finalize(env.isa.frontend_config());
    Ok(())
}

fn insert_flags(func: &mut ir::Function, flags: MemFlagsData) -> Result<ir::MemFlags> {
    func.dfg.mem_flags.insert(flags).map_err(|_| anyhow::anyhow!("too many distinct memory flags"))
}

/// Flags for loads from the VMContext and other runtime structures that are always valid.
pub(crate) fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Flags for loads of runtime fields that never change while the instance lives.
pub(crate) fn trusted_readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// The state of the translation of one function.
pub(crate) struct FuncTranslator<'a, 'f> {
    env: &'a ModuleEnv<'a>,
    b: FunctionBuilder<'f>,
    defined_index: u32,
    vmctx: Value,
    locals: Vec<Variable>,
    stack: Vec<Value>,
    control: Vec<control::Frame>,
    /// Whether the current position is reachable.
    reachable: bool,
    /// Nesting depth of blocks opened in unreachable code.
    unreachable_depth: u32,
    wasm_offset: u32,
    sigs: HashMap<TypeIndex, SigRef>,
    direct: HashMap<u32, FuncRef>,
    builtin_sigs: HashMap<Builtin, SigRef>,
    /// Fuel of the operators translated since the last flush to the store context.
    fuel_pending: i64,
}

macro_rules! unop {
    ($t:ident, $m:ident) => {{
        let x = $t.pop();
        let v = $t.b.ins().$m(x);
        $t.push(v);
    }};
}
macro_rules! binop {
    ($t:ident, $m:ident) => {{
        let (x, y) = $t.pop2();
        let v = $t.b.ins().$m(x, y);
        $t.push(v);
    }};
}
/// A scalar comparison (`$cmp` is `icmp` or `fcmp`) whose flag is pushed as an `i32`.
macro_rules! compare {
    ($t:ident, $cmp:ident, $cc:expr) => {{
        let (x, y) = $t.pop2();
        let c = $t.b.ins().$cmp($cc, x, y);
        let v = $t.b.ins().uextend(I32, c);
        $t.push(v);
    }};
}
macro_rules! icmp {
    ($t:ident, $cc:ident) => {
        compare!($t, icmp, IntCC::$cc)
    };
}
macro_rules! fcmp {
    ($t:ident, $cc:ident) => {
        compare!($t, fcmp, FloatCC::$cc)
    };
}
macro_rules! conv {
    ($t:ident, $m:ident, $ty:expr) => {{
        let x = $t.pop();
        let v = $t.b.ins().$m($ty, x);
        $t.push(v);
    }};
}

impl FuncTranslator<'_, '_> {
    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().expect("operand stack underflow in validated code")
    }

    fn pop2(&mut self) -> (Value, Value) {
        let y = self.pop();
        let x = self.pop();
        (x, y)
    }

    fn pop3(&mut self) -> (Value, Value, Value) {
        let z = self.pop();
        let (x, y) = self.pop2();
        (x, y, z)
    }

    fn popn(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len().checked_sub(n).expect("operand stack underflow");
        self.stack.split_off(at)
    }

    fn translate(&mut self, op: Operator<'_>) -> Result<()> {
        if !self.reachable {
            return self.translate_unreachable(op);
        }
        if self.env.options.consume_fuel {
            // Every operator costs one unit except those that do no work (wasmtime's convention).
            if !matches!(
                op,
                Operator::Nop
                    | Operator::Drop
                    | Operator::Block { .. }
                    | Operator::Loop { .. }
                    | Operator::End
                    | Operator::Else
            ) {
                self.fuel_pending += 1;
            }
            // Account before anything that leaves straight-line code.
            if matches!(
                op,
                Operator::Unreachable
                    | Operator::Loop { .. }
                    | Operator::If { .. }
                    | Operator::Else
                    | Operator::End
                    | Operator::Br { .. }
                    | Operator::BrIf { .. }
                    | Operator::BrTable { .. }
                    | Operator::Return
                    | Operator::Call { .. }
                    | Operator::CallIndirect { .. }
                    | Operator::CallRef { .. }
                    | Operator::ReturnCall { .. }
                    | Operator::ReturnCallIndirect { .. }
                    | Operator::ReturnCallRef { .. }
                    | Operator::BrOnNull { .. }
                    | Operator::BrOnNonNull { .. }
                    | Operator::BrOnCast { .. }
                    | Operator::BrOnCastFail { .. }
                    | Operator::Throw { .. }
                    | Operator::ThrowRef
                    | Operator::Try { .. }
                    | Operator::Catch { .. }
                    | Operator::CatchAll
                    | Operator::Delegate { .. }
                    | Operator::Rethrow { .. }
            ) {
                self.flush_fuel();
            }
        }
        match op {
            Operator::Unreachable => {
                self.raise_trap(Trap::UnreachableCodeReached);
                self.reachable = false;
            }
            Operator::Nop => {}
            Operator::Block { blockty } => self.block(blockty)?,
            Operator::Loop { blockty } => self.loop_(blockty)?,
            Operator::If { blockty } => self.if_(blockty)?,
            Operator::Else => self.else_(),
            Operator::End => self.end(),
            Operator::Br { relative_depth } => self.br(relative_depth),
            Operator::BrIf { relative_depth } => self.br_if(relative_depth),
            Operator::BrTable { targets } => self.br_table(&targets)?,
            Operator::Return => self.return_(),
            Operator::Call { function_index } => self.call(function_index, false)?,
            Operator::CallIndirect { type_index, table_index } => self.call_indirect(type_index, table_index, false)?,
            Operator::CallRef { type_index } => self.call_ref(type_index, false)?,
            Operator::ReturnCall { function_index } => self.call(function_index, true)?,
            Operator::ReturnCallIndirect { type_index, table_index } => {
                self.call_indirect(type_index, table_index, true)?
            }
            Operator::ReturnCallRef { type_index } => self.call_ref(type_index, true)?,
            Operator::TryTable { try_table } => self.try_table(try_table)?,
            Operator::Throw { tag_index } => self.throw(tag_index)?,
            Operator::ThrowRef => self.throw_ref(),
            Operator::Try { blockty } => self.legacy_try(blockty)?,
            Operator::Catch { tag_index } => self.legacy_catch(Some(tag_index)),
            Operator::CatchAll => self.legacy_catch(None),
            Operator::Delegate { relative_depth } => self.legacy_delegate(relative_depth),
            Operator::Rethrow { relative_depth } => self.legacy_rethrow(relative_depth),
            Operator::BrOnNull { relative_depth } => self.br_on_null(relative_depth),
            Operator::BrOnNonNull { relative_depth } => self.br_on_non_null(relative_depth),
            // Decided as `ref.test` decides them (`gc.rs`).
            Operator::BrOnCast { relative_depth, to_ref_type, .. }
            | Operator::BrOnCastFail { relative_depth, to_ref_type, .. } => {
                let on_fail = matches!(op, Operator::BrOnCastFail { .. });
                let heap = self.env.info.convert_heap_type(to_ref_type.heap_type())?;
                let r = *self.stack.last().expect("operand stack underflow");
                let exact = matches!(to_ref_type.heap_type(), wasmparser::HeapType::Exact(_));
                let ok = self.ref_test_heap(r, to_ref_type.is_nullable(), heap, exact);
                self.br_on_test(relative_depth, ok, on_fail);
            }
            Operator::RefAsNonNull => {
                let x = *self.stack.last().expect("operand stack underflow");
                self.b.ins().trapz(x, trap_code(Trap::NullReference));
            }
            Operator::Drop => {
                self.pop();
            }
            Operator::Select => {
                let (x, y, c) = self.pop3();
                let v = self.b.ins().select(c, x, y);
                self.push(v);
            }
            Operator::TypedSelect { ty } => {
                let (x, y, c) = self.pop3();
                let v = self.b.ins().select(c, x, y);
                self.note_gc_ref(v, self.env.info.convert_val_type(ty)?);
                self.push(v);
            }
            Operator::LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[local_index as usize]);
                self.push(v);
            }
            Operator::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize], v);
            }
            Operator::LocalTee { local_index } => {
                let v = *self.stack.last().expect("operand stack underflow");
                self.b.def_var(self.locals[local_index as usize], v);
            }
            Operator::GlobalGet { global_index } => self.global_get(global_index)?,
            Operator::GlobalSet { global_index } => self.global_set(global_index)?,

            Operator::I32Load { memarg } => self.load(&memarg, I32, memory::Ext::None)?,
            Operator::I64Load { memarg } => self.load(&memarg, I64, memory::Ext::None)?,
            Operator::F32Load { memarg } => self.load(&memarg, F32, memory::Ext::None)?,
            Operator::F64Load { memarg } => self.load(&memarg, F64, memory::Ext::None)?,
            Operator::I32Load8S { memarg } => self.load(&memarg, I32, memory::Ext::S8)?,
            Operator::I32Load8U { memarg } => self.load(&memarg, I32, memory::Ext::U8)?,
            Operator::I32Load16S { memarg } => self.load(&memarg, I32, memory::Ext::S16)?,
            Operator::I32Load16U { memarg } => self.load(&memarg, I32, memory::Ext::U16)?,
            Operator::I64Load8S { memarg } => self.load(&memarg, I64, memory::Ext::S8)?,
            Operator::I64Load8U { memarg } => self.load(&memarg, I64, memory::Ext::U8)?,
            Operator::I64Load16S { memarg } => self.load(&memarg, I64, memory::Ext::S16)?,
            Operator::I64Load16U { memarg } => self.load(&memarg, I64, memory::Ext::U16)?,
            Operator::I64Load32S { memarg } => self.load(&memarg, I64, memory::Ext::S32)?,
            Operator::I64Load32U { memarg } => self.load(&memarg, I64, memory::Ext::U32)?,
            Operator::I32Store { memarg }
            | Operator::I64Store { memarg }
            | Operator::F32Store { memarg }
            | Operator::F64Store { memarg } => self.store(&memarg, None)?,
            Operator::I32Store8 { memarg } | Operator::I64Store8 { memarg } => self.store(&memarg, Some(I8))?,
            Operator::I32Store16 { memarg } | Operator::I64Store16 { memarg } => self.store(&memarg, Some(I16))?,
            Operator::I64Store32 { memarg } => self.store(&memarg, Some(I32))?,
            Operator::MemorySize { mem } => self.memory_size(mem)?,
            Operator::MemoryGrow { mem } => self.memory_grow(mem),
            Operator::MemoryInit { data_index, mem } => self.memory_init(mem, data_index),
            Operator::DataDrop { data_index } => self.data_drop(data_index),
            Operator::MemoryCopy { dst_mem, src_mem } => self.memory_copy(dst_mem, src_mem),
            Operator::MemoryFill { mem } => self.memory_fill(mem),

            Operator::I32Const { value } => {
                let v = self.b.ins().iconst(I32, i64::from(value));
                self.push(v);
            }
            Operator::I64Const { value } => {
                let v = self.b.ins().iconst(I64, value);
                self.push(v);
            }
            Operator::F32Const { value } => {
                let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            Operator::F64Const { value } => {
                let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            Operator::I32Eqz | Operator::I64Eqz => {
                let x = self.pop();
                let c = self.b.ins().icmp_imm_u(IntCC::Equal, x, 0);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }
            Operator::I32Eq | Operator::I64Eq => icmp!(self, Equal),
            Operator::I32Ne | Operator::I64Ne => icmp!(self, NotEqual),
            Operator::I32LtS | Operator::I64LtS => icmp!(self, SignedLessThan),
            Operator::I32LtU | Operator::I64LtU => icmp!(self, UnsignedLessThan),
            Operator::I32GtS | Operator::I64GtS => icmp!(self, SignedGreaterThan),
            Operator::I32GtU | Operator::I64GtU => icmp!(self, UnsignedGreaterThan),
            Operator::I32LeS | Operator::I64LeS => icmp!(self, SignedLessThanOrEqual),
            Operator::I32LeU | Operator::I64LeU => icmp!(self, UnsignedLessThanOrEqual),
            Operator::I32GeS | Operator::I64GeS => icmp!(self, SignedGreaterThanOrEqual),
            Operator::I32GeU | Operator::I64GeU => icmp!(self, UnsignedGreaterThanOrEqual),
            Operator::F32Eq | Operator::F64Eq => fcmp!(self, Equal),
            Operator::F32Ne | Operator::F64Ne => fcmp!(self, NotEqual),
            Operator::F32Lt | Operator::F64Lt => fcmp!(self, LessThan),
            Operator::F32Gt | Operator::F64Gt => fcmp!(self, GreaterThan),
            Operator::F32Le | Operator::F64Le => fcmp!(self, LessThanOrEqual),
            Operator::F32Ge | Operator::F64Ge => fcmp!(self, GreaterThanOrEqual),

            Operator::I32Clz | Operator::I64Clz => unop!(self, clz),
            Operator::I32Ctz | Operator::I64Ctz => unop!(self, ctz),
            Operator::I32Popcnt | Operator::I64Popcnt => unop!(self, popcnt),
            Operator::I32Add | Operator::I64Add => binop!(self, iadd),
            Operator::I32Sub | Operator::I64Sub => binop!(self, isub),
            Operator::I32Mul | Operator::I64Mul => binop!(self, imul),
            // Cranelift traps on division by zero and on `INT_MIN / -1`, with the built-in codes
            // that kiln maps to `IntegerDivisionByZero` and `IntegerOverflow`.
            Operator::I32DivS | Operator::I64DivS => binop!(self, sdiv),
            Operator::I32DivU | Operator::I64DivU => binop!(self, udiv),
            // `srem` traps on a zero divisor only; `INT_MIN % -1` is 0 (x64 lowers it with an
            // explicit check for -1, aarch64 with sdiv+msub which does not trap).
            Operator::I32RemS | Operator::I64RemS => binop!(self, srem),
            Operator::I32RemU | Operator::I64RemU => binop!(self, urem),
            Operator::I32And | Operator::I64And => binop!(self, band),
            Operator::I32Or | Operator::I64Or => binop!(self, bor),
            Operator::I32Xor | Operator::I64Xor => binop!(self, bxor),
            // Cranelift shifts and rotates take the amount modulo the bit width, like wasm.
            Operator::I32Shl | Operator::I64Shl => binop!(self, ishl),
            Operator::I32ShrS | Operator::I64ShrS => binop!(self, sshr),
            Operator::I32ShrU | Operator::I64ShrU => binop!(self, ushr),
            Operator::I32Rotl | Operator::I64Rotl => binop!(self, rotl),
            Operator::I32Rotr | Operator::I64Rotr => binop!(self, rotr),

            Operator::F32Abs | Operator::F64Abs => unop!(self, fabs),
            Operator::F32Neg | Operator::F64Neg => unop!(self, fneg),
            Operator::F32Ceil | Operator::F64Ceil => unop!(self, ceil),
            Operator::F32Floor | Operator::F64Floor => unop!(self, floor),
            Operator::F32Trunc | Operator::F64Trunc => unop!(self, trunc),
            Operator::F32Nearest | Operator::F64Nearest => unop!(self, nearest),
            Operator::F32Sqrt | Operator::F64Sqrt => unop!(self, sqrt),
            Operator::F32Add | Operator::F64Add => binop!(self, fadd),
            Operator::F32Sub | Operator::F64Sub => binop!(self, fsub),
            Operator::F32Mul | Operator::F64Mul => binop!(self, fmul),
            Operator::F32Div | Operator::F64Div => binop!(self, fdiv),
            // Cranelift's fmin/fmax have wasm's semantics (NaN-propagating, -0 < +0).
            Operator::F32Min | Operator::F64Min => binop!(self, fmin),
            Operator::F32Max | Operator::F64Max => binop!(self, fmax),
            Operator::F32Copysign | Operator::F64Copysign => binop!(self, fcopysign),

            Operator::I32WrapI64 => conv!(self, ireduce, I32),
            Operator::I64ExtendI32S => conv!(self, sextend, I64),
            Operator::I64ExtendI32U => conv!(self, uextend, I64),
            Operator::I32TruncF32S | Operator::I32TruncF64S => conv!(self, fcvt_to_sint, I32),
            Operator::I32TruncF32U | Operator::I32TruncF64U => conv!(self, fcvt_to_uint, I32),
            Operator::I64TruncF32S | Operator::I64TruncF64S => conv!(self, fcvt_to_sint, I64),
            Operator::I64TruncF32U | Operator::I64TruncF64U => conv!(self, fcvt_to_uint, I64),
            Operator::I32TruncSatF32S | Operator::I32TruncSatF64S => {
                conv!(self, fcvt_to_sint_sat, I32)
            }
            Operator::I32TruncSatF32U | Operator::I32TruncSatF64U => {
                conv!(self, fcvt_to_uint_sat, I32)
            }
            Operator::I64TruncSatF32S | Operator::I64TruncSatF64S => {
                conv!(self, fcvt_to_sint_sat, I64)
            }
            Operator::I64TruncSatF32U | Operator::I64TruncSatF64U => {
                conv!(self, fcvt_to_uint_sat, I64)
            }
            Operator::F32ConvertI32S | Operator::F32ConvertI64S => conv!(self, fcvt_from_sint, F32),
            Operator::F32ConvertI32U | Operator::F32ConvertI64U => conv!(self, fcvt_from_uint, F32),
            Operator::F64ConvertI32S | Operator::F64ConvertI64S => conv!(self, fcvt_from_sint, F64),
            Operator::F64ConvertI32U | Operator::F64ConvertI64U => conv!(self, fcvt_from_uint, F64),
            Operator::F32DemoteF64 => conv!(self, fdemote, F32),
            Operator::F64PromoteF32 => conv!(self, fpromote, F64),
            Operator::I32ReinterpretF32 => self.bitcast(I32),
            Operator::I64ReinterpretF64 => self.bitcast(I64),
            Operator::F32ReinterpretI32 => self.bitcast(F32),
            Operator::F64ReinterpretI64 => self.bitcast(F64),
            Operator::I32Extend8S => self.sign_extend(I8, I32),
            Operator::I32Extend16S => self.sign_extend(I16, I32),
            Operator::I64Extend8S => self.sign_extend(I8, I64),
            Operator::I64Extend16S => self.sign_extend(I16, I64),
            Operator::I64Extend32S => self.sign_extend(I32, I64),

            Operator::RefNull { .. } => {
                let v = self.b.ins().iconst(I64, 0);
                self.push(v);
            }
            Operator::RefIsNull => {
                let x = self.pop();
                let c = self.b.ins().icmp_imm_u(IntCC::Equal, x, 0);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }
            // Funcrefs of defined functions are written on first use (`kiln_runtime::FuncRefs`).
            Operator::RefFunc { function_index } => {
                let f = self.i32_const(function_index);
                let v = self.call_builtin(Builtin::RefFunc, &[f]).expect("a result");
                self.push(v);
            }
            // GC's unboxed integers: an i31ref is the word `(x << 1) | 1` (never 0, never a pointer).
            Operator::RefI31 => {
                let x = self.pop();
                let shifted = self.b.ins().ishl_imm_u(x, 1);
                let tagged = self.b.ins().bor_imm_u(shifted, 1);
                let v = self.b.ins().uextend(I64, tagged);
                self.push(v);
            }
            Operator::I31GetS | Operator::I31GetU => {
                let signed = matches!(op, Operator::I31GetS);
                let r = self.pop();
                self.b.ins().trapz(r, trap_code(Trap::NullI31Reference));
                let word = self.b.ins().ireduce(I32, r);
                let v = if signed { self.b.ins().sshr_imm_u(word, 1) } else { self.b.ins().ushr_imm_u(word, 1) };
                self.push(v);
            }
            // Casts (see `gc.rs`).
            Operator::RefTestNonNull { hty } | Operator::RefTestNullable { hty } => {
                let nullable = matches!(op, Operator::RefTestNullable { .. });
                let heap = self.env.info.convert_heap_type(hty)?;
                let r = self.pop();
                let v = self.ref_test_heap(r, nullable, heap, matches!(hty, wasmparser::HeapType::Exact(_)));
                self.push(v);
            }
            Operator::RefCastNonNull { hty } | Operator::RefCastNullable { hty } => {
                let nullable = matches!(op, Operator::RefCastNullable { .. });
                let heap = self.env.info.convert_heap_type(hty)?;
                let r = *self.stack.last().expect("operand stack underflow");
                let ok = self.ref_test_heap(r, nullable, heap, matches!(hty, wasmparser::HeapType::Exact(_)));
                self.b.ins().trapz(ok, trap_code(Trap::CastFailure));
            }
            // The two hierarchies share one word encoding (see above): conversions change only
            // the static type.
            Operator::AnyConvertExtern | Operator::ExternConvertAny => {
                let r = self.pop();
                let ty = if matches!(op, Operator::ExternConvertAny) {
                    kiln_environ::WasmHeapType::Extern
                } else {
                    kiln_environ::WasmHeapType::Any
                };
                self.note_gc_ref(r, kiln_environ::WasmValType::Ref(kiln_environ::WasmRefType::new(true, ty)));
                self.push(r);
            }
            Operator::RefEq => {
                let (a, b) = self.pop2();
                let c = self.b.ins().icmp(IntCC::Equal, a, b);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }
            Operator::TableGet { table } => self.table_get(table),
            Operator::TableSet { table } => self.table_set(table),
            Operator::TableSize { table } => self.table_size(table),
            Operator::TableGrow { table } => self.table_grow(table),
            Operator::TableFill { table } => self.table_fill(table),
            Operator::TableCopy { dst_table, src_table } => self.table_copy(dst_table, src_table),
            Operator::TableInit { elem_index, table } => self.table_init(table, elem_index),
            Operator::ElemDrop { elem_index } => self.elem_drop(elem_index),

            Operator::I64Add128 | Operator::I64Sub128 => {
                let (b_lo, b_hi) = self.pop2();
                let (a_lo, a_hi) = self.pop2();
                let a = self.b.ins().iconcat(a_lo, a_hi);
                let b = self.b.ins().iconcat(b_lo, b_hi);
                let v =
                    if matches!(op, Operator::I64Add128) { self.b.ins().iadd(a, b) } else { self.b.ins().isub(a, b) };
                let (lo, hi) = self.b.ins().isplit(v);
                self.push(lo);
                self.push(hi);
            }
            Operator::I64MulWideS | Operator::I64MulWideU => {
                let (a, b) = self.pop2();
                let lo = self.b.ins().imul(a, b);
                let hi = if matches!(op, Operator::I64MulWideS) {
                    self.b.ins().smulhi(a, b)
                } else {
                    self.b.ins().umulhi(a, b)
                };
                self.push(lo);
                self.push(hi);
            }

            other => {
                if !self.translate_atomic(&other)? && !self.translate_gc(&other)? {
                    self.translate_simd(other)?;
                }
            }
        }
        Ok(())
    }

    fn bitcast(&mut self, ty: Type) {
        let x = self.pop();
        let v = self.b.ins().bitcast(ty, MemFlagsData::new(), x);
        self.push(v);
    }

    fn sign_extend(&mut self, from: Type, to: Type) {
        let x = self.pop();
        let narrow = self.b.ins().ireduce(from, x);
        let v = self.b.ins().sextend(to, narrow);
        self.push(v);
    }

    /// The signature reference of module type `ty`, imported once per function.
    fn sig_ref(&mut self, ty: TypeIndex) -> Result<SigRef> {
        if let Some(sig) = self.sigs.get(&ty) {
            return Ok(*sig);
        }
        let sig = wasm_signature(self.env.info.func_type_at(ty))?;
        let sig = self.b.import_signature(sig);
        self.sigs.insert(ty, sig);
        Ok(sig)
    }

    /// Calls `callee` (a `native_call` pointer) with `args`; a tail call replaces this frame.
    fn emit_indirect_call(&mut self, sig: SigRef, callee: Value, args: &[Value], tail: bool, ty: TypeIndex) {
        if tail {
            self.b.ins().return_call_indirect(sig, callee, args);
            self.reachable = false;
        } else {
            self.emit_call(exceptions::Callee::Indirect(sig, callee), args, ty);
        }
    }

    fn call(&mut self, f: u32, tail: bool) -> Result<()> {
        let info = self.env.info;
        let ty = info.functions[f as usize];
        let n = info.func_type_at(ty).params.len();
        let mut args = Vec::with_capacity(n + 2);
        if let Some(defined) = info.defined_func_index(f) {
            let fref = match self.direct.get(&defined) {
                Some(r) => *r,
                None => {
                    let signature = self.sig_ref(ty)?;
                    let name = self.b.func.declare_imported_user_function(UserExternalName::new(0, defined));
                    let r = self.b.import_function(ExtFuncData {
                        name: ExternalName::user(name),
                        signature,
                        colocated: true,
                        patchable: false,
                    });
                    self.direct.insert(defined, r);
                    r
                }
            };
            args.extend([self.vmctx, self.vmctx]);
            args.extend(self.popn(n));
            if tail {
                self.b.ins().return_call(fref, &args);
                self.reachable = false;
            } else {
                self.emit_call(exceptions::Callee::Direct(fref), &args, ty);
            }
        } else {
            let sig = self.sig_ref(ty)?;
            let base = self.env.offsets.funcref(f) as i32;
            let native = self.b.ins().load(I64, trusted_readonly(), self.vmctx, base + vmfuncref::NATIVE_CALL as i32);
            let callee = self.b.ins().load(I64, trusted_readonly(), self.vmctx, base + vmfuncref::VMCTX as i32);
            args.extend([callee, self.vmctx]);
            args.extend(self.popn(n));
            self.emit_indirect_call(sig, native, &args, tail, ty);
        }
        Ok(())
    }

    fn call_indirect(&mut self, type_index: TypeIndex, table: u32, tail: bool) -> Result<()> {
        let sig = self.sig_ref(type_index)?;
        let n = self.env.info.func_type_at(type_index).params.len();
        let index = self.pop();
        let addr = self.table_elem_addr(table, index, Trap::IndirectCallOutOfBounds);
        let funcref = self.b.ins().load(I64, trusted(), addr, 0);
        let funcref = self.resolve_lazy_element(table, index, funcref);
        self.b.ins().trapz(funcref, trap_code(Trap::IndirectCallToNull));
        let actual = self.b.ins().load(I32, trusted_readonly(), funcref, vmfuncref::TYPE_ID as i32);
        // Equal ids, or (for a type that may have subtypes) a declared subtype.
        let ok = self.func_subtype(actual, type_index);
        self.b.ins().trapz(ok, trap_code(Trap::BadSignature));
        self.call_funcref(sig, funcref, n, tail, type_index);
        Ok(())
    }

    /// Calls the (checked) `funcref` of module type `ty` (signature `sig`) with the top `n` operands as arguments:
    /// its native entry with its own vmctx as the callee's and this function's as the caller's.
    fn call_funcref(&mut self, sig: SigRef, funcref: Value, n: usize, tail: bool, ty: TypeIndex) {
        let native = self.b.ins().load(I64, trusted_readonly(), funcref, vmfuncref::NATIVE_CALL as i32);
        let callee = self.b.ins().load(I64, trusted_readonly(), funcref, vmfuncref::VMCTX as i32);
        let mut args = vec![callee, self.vmctx];
        args.extend(self.popn(n));
        self.emit_indirect_call(sig, native, &args, tail, ty);
    }

    /// `call_ref`: the validator guarantees the reference's signature; only null is checked.
    fn call_ref(&mut self, type_index: TypeIndex, tail: bool) -> Result<()> {
        let sig = self.sig_ref(type_index)?;
        let n = self.env.info.func_type_at(type_index).params.len();
        let funcref = self.pop();
        self.b.ins().trapz(funcref, trap_code(Trap::NullFunctionReference));
        self.call_funcref(sig, funcref, n, tail, type_index);
        Ok(())
    }

    /// The SystemV signature of a builtin (see the docs of [`Builtin`]).
    fn builtin_sig(&mut self, builtin: Builtin) -> SigRef {
        if let Some(sig) = self.builtin_sigs.get(&builtin) {
            return *sig;
        }
        let (params, returns): (&[Type], &[Type]) = match builtin {
            Builtin::MemoryGrow => (&[I32, I64], &[I64]),
            Builtin::MemoryCopy => (&[I32, I64, I32, I64, I64], &[I32]),
            Builtin::MemoryFill => (&[I32, I64, I32, I64], &[I32]),
            Builtin::MemoryInit => (&[I32, I32, I64, I32, I32], &[I32]),
            Builtin::DataDrop | Builtin::ElemDrop => (&[I32], &[]),
            Builtin::TableGrow => (&[I32, I64, I64], &[I64]),
            Builtin::TableFill => (&[I32, I64, I64, I64], &[I32]),
            Builtin::TableCopy => (&[I32, I32, I64, I64, I64], &[I32]),
            Builtin::TableInit => (&[I32, I32, I64, I32, I32], &[I32]),
            Builtin::RaiseTrap => (&[I32, I32, I32, I64], &[]),
            Builtin::MemoryAtomicWait32 => (&[I32, I64, I32, I64], &[I32]),
            Builtin::MemoryAtomicWait64 => (&[I32, I64, I64, I64], &[I32]),
            Builtin::MemoryAtomicNotify => (&[I32, I64, I32], &[I32]),
            Builtin::ExceptionNew => (&[I32], &[I64]),
            Builtin::Throw => (&[I64, I64, I32, I32], &[]),
            Builtin::ExceptionDrop => (&[I64], &[]),
            Builtin::TableGetLazy => (&[I32, I64], &[I64]),
            Builtin::RefFunc => (&[I32], &[I64]),
            Builtin::GcAlloc => (&[I32, I32], &[I64]),
            Builtin::ArrayNewData | Builtin::ArrayNewElem => (&[I32, I32, I32, I32], &[I64]),
            Builtin::ArrayInitData | Builtin::ArrayInitElem => (&[I64, I32, I32, I32, I32], &[I32]),
            Builtin::ArrayCopy => (&[I64, I32, I64, I32, I32], &[I32]),
            Builtin::IsSubtype => (&[I32, I32], &[I32]),
            Builtin::CeilF32
            | Builtin::FloorF32
            | Builtin::TruncF32
            | Builtin::NearestF32
            | Builtin::CeilF64
            | Builtin::FloorF64
            | Builtin::TruncF64
            | Builtin::NearestF64 => unreachable!("float builtins are Cranelift libcalls"),
        };
        let mut sig = Signature::new(self.env.isa.default_call_conv());
        sig.params.push(AbiParam::new(I64));
        sig.params.extend(params.iter().map(|t| AbiParam::new(*t)));
        sig.returns.extend(returns.iter().map(|t| AbiParam::new(*t)));
        let sig = self.b.import_signature(sig);
        self.builtin_sigs.insert(builtin, sig);
        sig
    }

    /// Calls `builtin(vmctx, args...)` and returns its result, if any.
    fn call_builtin(&mut self, builtin: Builtin, args: &[Value]) -> Option<Value> {
        let sig = self.builtin_sig(builtin);
        let flags = trusted_readonly().with_can_move();
        let table = self.b.ins().load(I64, flags, self.vmctx, VMOffsets::BUILTINS as i32);
        let offset = builtin.table_offset(kiln_environ::POINTER_SIZE) as i32;
        let callee = self.b.ins().load(I64, flags, table, offset);
        let mut all = vec![self.vmctx];
        all.extend_from_slice(args);
        let inst = self.b.ins().call_indirect(sig, callee, &all);
        self.b.inst_results(inst).first().copied()
    }

    /// Calls a builtin that reports a trap by returning `trap code + 1` (0 for success), and
    /// raises that trap from here, so it gets this function's frame and wasm offset.
    fn call_checked_builtin(&mut self, builtin: Builtin, args: &[Value]) {
        let status = self.call_builtin(builtin, args).expect("checked builtins return a status");
        let trap_block = self.b.create_block();
        let ok_block = self.b.create_block();
        self.b.set_cold_block(trap_block);
        self.b.ins().brif(status, trap_block, &[], ok_block, &[]);
        self.b.seal_block(trap_block);
        self.b.switch_to_block(trap_block);
        let code = self.b.ins().iadd_imm_s(status, -1);
        self.raise_trap_code(code);
        self.b.seal_block(ok_block);
        self.b.switch_to_block(ok_block);
    }

    /// Raises the trap whose code is `code` (an i32) from this function and wasm offset; ends the
    /// current block.
    fn raise_trap_code(&mut self, code: Value) {
        let func = self.b.ins().iconst(I32, i64::from(self.defined_index));
        let offset = self.b.ins().iconst(I32, i64::from(self.wasm_offset));
        let fp = self.b.ins().get_frame_pointer(I64);
        self.call_builtin(Builtin::RaiseTrap, &[code, func, offset, fp]);
        self.b.ins().trap(trap_code(Trap::MemoryOutOfBounds));
    }

    /// The store context (loaded from the VMContext; it never changes).
    fn store_context(&mut self) -> Value {
        let flags = trusted_readonly().with_can_move();
        self.b.ins().load(I64, flags, self.vmctx, VMOffsets::STORE_CONTEXT as i32)
    }

    /// Adds the pending fuel to the store context's `fuel_consumed`.
    pub(crate) fn flush_fuel(&mut self) {
        if self.fuel_pending == 0 {
            return;
        }
        let store_ctx = self.store_context();
        let consumed = self.b.ins().load(I64, trusted(), store_ctx, vmstore_context::FUEL_CONSUMED as i32);
        let consumed = self.b.ins().iadd_imm_s(consumed, self.fuel_pending);
        self.b.ins().store(trusted(), consumed, store_ctx, vmstore_context::FUEL_CONSUMED as i32);
        self.fuel_pending = 0;
    }

    /// At function entry and loop headers: trap when the fuel is used up or the epoch deadline
    /// has passed (each only when enabled).
    pub(crate) fn interruption_checks(&mut self) {
        if self.env.options.consume_fuel {
            self.flush_fuel();
            let store_ctx = self.store_context();
            let consumed = self.b.ins().load(I64, trusted(), store_ctx, vmstore_context::FUEL_CONSUMED as i32);
            let out = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, consumed, 0);
            self.trap_if(out, Trap::OutOfFuel);
        }
        if self.env.options.epoch_interruption {
            let store_ctx = self.store_context();
            let counter_ptr =
                self.b.ins().load(I64, trusted_readonly(), store_ctx, vmstore_context::EPOCH_COUNTER as i32);
            // Another thread advances the counter: an atomic load, which (unlike a plain load) is
            // never merged with the one at function entry.
            let epoch = self.b.ins().atomic_load(I64, trusted(), counter_ptr);
            let deadline = self.b.ins().load(I64, trusted(), store_ctx, vmstore_context::EPOCH_DEADLINE as i32);
            let passed = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);
            self.trap_if(passed, Trap::Interrupt);
        }
    }

    /// Raises `trap` (in a cold block) when `cond` is non-zero.
    fn trap_if(&mut self, cond: Value, trap: Trap) {
        let trap_block = self.b.create_block();
        let ok_block = self.b.create_block();
        self.b.set_cold_block(trap_block);
        self.b.ins().brif(cond, trap_block, &[], ok_block, &[]);
        self.b.seal_block(trap_block);
        self.b.switch_to_block(trap_block);
        self.raise_trap(trap);
        self.b.seal_block(ok_block);
        self.b.switch_to_block(ok_block);
    }

    /// Raises `trap` through the `RaiseTrap` builtin (no signal), followed by a `trap` instruction
    /// with the same code that is never reached.
    fn raise_trap(&mut self, trap: Trap) {
        let code = self.b.ins().iconst(I32, i64::from(trap.as_u8()));
        let func = self.b.ins().iconst(I32, i64::from(self.defined_index));
        let offset = self.b.ins().iconst(I32, i64::from(self.wasm_offset));
        let fp = self.b.ins().get_frame_pointer(I64);
        self.call_builtin(Builtin::RaiseTrap, &[code, func, offset, fp]);
        self.b.ins().trap(trap_code(trap));
    }

    /// Records that `v` (of wasm type `ty`) must be findable on the stack at every call it lives
    /// across, if it can be a garbage-collected reference (Cranelift spills it there and emits a
    /// stack map).
    /// Whether every non-null reference of a validated operand fits the abstract heap type
    /// `hty` (see the cast operators: true for every supported type but the bottom types).
    pub(crate) fn note_gc_ref(&mut self, v: Value, ty: kiln_environ::WasmValType) {
        if ty.is_gc_ref() {
            self.b.declare_value_needs_stack_map(v);
        }
    }

    /// An `i32` constant.
    fn i32_const(&mut self, v: u32) -> Value {
        self.b.ins().iconst(I32, i64::from(v))
    }
}
