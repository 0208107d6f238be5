//! SIMD (`v128`) and relaxed SIMD operators.
//!
//! Every `v128` on the operand stack, in locals, globals, block parameters and calls is an `I8X16`
//! value. An operator bitcasts its operands to the lane type it works on (`I32X4`, `F64X2`, ...)
//! and its result back to `I8X16`; the bitcasts between vector types cost nothing on x86-64 and
//! aarch64 (the same register), and keeping one canonical type means control flow never has to
//! reconcile lane types.
//!
//! Relaxed operators take their deterministic-profile lowering when
//! `CompilerOptions::relaxed_simd_deterministic` is set, and otherwise the cheapest lowering the
//! host offers among the results the spec allows.

use super::FuncTranslator;
use super::memory::{heap_flags, memory_index};
use anyhow::{Result, bail};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32X4, F64X2, I8, I8X16, I16, I16X8, I32, I32X4, I64X2};
use cranelift_codegen::ir::{ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value};
use wasmparser::{MemArg, Operator};

/// Flags for bitcasts between vector types: lanes are numbered in little-endian order, as in
/// wasm (Cranelift requires the order to be explicit when the lane counts differ).
fn lane_order() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// How a `v128.loadNxM_{s,u}` widens its lanes.
#[derive(Clone, Copy)]
enum ExtendLoad {
    S8x8,
    U8x8,
    S16x4,
    U16x4,
    S32x2,
    U32x2,
}

macro_rules! vunop {
    ($t:ident, $ty:expr, $m:ident) => {
        $t.vector_op($ty, |t, [x]| t.b.ins().$m(x))
    };
}
/// A binary vector operator; with `$cc`, a comparison (`$m` is `icmp` or `fcmp`).
macro_rules! vbinop {
    ($t:ident, $ty:expr, $m:ident) => {
        $t.vector_op($ty, |t, [x, y]| t.b.ins().$m(x, y))
    };
    ($t:ident, $ty:expr, $m:ident, $cc:expr) => {
        $t.vector_op($ty, |t, [x, y]| t.b.ins().$m($cc, x, y))
    };
}
macro_rules! vshift {
    ($t:ident, $ty:expr, $m:ident) => {{
        // Cranelift masks a vector shift amount to the lane width, as wasm requires.
        let amount = $t.pop();
        $t.vector_op($ty, |t, [x]| t.b.ins().$m(x, amount))
    }};
}
macro_rules! vconvert {
    ($t:ident, $from:expr, $m:ident, $to:expr) => {
        $t.vector_op($from, |t, [x]| t.b.ins().$m($to, x))
    };
}
macro_rules! vicmp {
    ($t:ident, $ty:expr, $cc:ident) => {
        vbinop!($t, $ty, icmp, IntCC::$cc)
    };
}
macro_rules! vfcmp {
    ($t:ident, $ty:expr, $cc:ident) => {
        vbinop!($t, $ty, fcmp, FloatCC::$cc)
    };
}

impl FuncTranslator<'_, '_> {
    /// `v` viewed as a vector of type `ty`.
    fn cast(&mut self, v: Value, ty: Type) -> Value {
        if self.b.func.dfg.value_type(v) == ty { v } else { self.b.ins().bitcast(ty, lane_order(), v) }
    }

    /// Pops a `v128` as a vector of type `ty`.
    fn pop_as(&mut self, ty: Type) -> Value {
        let v = self.pop();
        self.cast(v, ty)
    }

    /// Pushes a vector of any type as a `v128` (`I8X16`).
    fn push_v128(&mut self, v: Value) {
        let v = self.cast(v, I8X16);
        self.push(v);
    }

    /// A vector constant of type `ty` from its 16 little-endian bytes.
    fn vconst(&mut self, ty: Type, bytes: &[u8; 16]) -> Value {
        let handle = self.b.func.dfg.constants.insert(ConstantData::from(bytes.to_vec()));
        self.b.ins().vconst(ty, handle)
    }

    /// `shuffle` of two `I8X16` values with a constant byte mask (indices 0..32).
    fn shuffle_bytes(&mut self, x: Value, y: Value, lanes: &[u8; 16]) -> Value {
        let mask = self.b.func.dfg.immediates.push(ConstantData::from(lanes.to_vec()));
        self.b.ins().shuffle(x, y, mask)
    }

    /// Whether relaxed operators must give the deterministic profile's results.
    fn relaxed_deterministic(&self) -> bool {
        self.env.options.relaxed_simd_deterministic
    }

    fn is_x86(&self) -> bool {
        matches!(self.env.isa.triple().architecture, target_lexicon::Architecture::X86_64)
    }

    /// Whether a relaxed operator takes the host-specific lowering the host has
    /// (`host_lowering`): not in the deterministic profile.
    fn relaxed_host_lowering(&self, host_lowering: bool) -> bool {
        !self.relaxed_deterministic() && host_lowering
    }

    /// Pops the `N` operands of a vector operator as vectors of type `ty` and pushes
    /// `op(operands)` (operands in wasm order) as a `v128`.
    fn vector_op<const N: usize>(&mut self, ty: Type, op: impl FnOnce(&mut Self, [Value; N]) -> Value) {
        let mut operands: [Value; N] = std::array::from_fn(|_| self.pop_as(ty));
        operands.reverse();
        let v = op(self, operands);
        self.push_v128(v);
    }

    /// Translates a SIMD or relaxed SIMD operator; any other operator is unsupported.
    pub(super) fn translate_simd(&mut self, op: Operator<'_>) -> Result<()> {
        match op {
            Operator::V128Load { memarg } => self.load(&memarg, I8X16, super::memory::Ext::None)?,
            Operator::V128Store { memarg } => self.store(&memarg, None)?,
            Operator::V128Load8x8S { memarg } => self.extend_load(&memarg, ExtendLoad::S8x8)?,
            Operator::V128Load8x8U { memarg } => self.extend_load(&memarg, ExtendLoad::U8x8)?,
            Operator::V128Load16x4S { memarg } => self.extend_load(&memarg, ExtendLoad::S16x4)?,
            Operator::V128Load16x4U { memarg } => self.extend_load(&memarg, ExtendLoad::U16x4)?,
            Operator::V128Load32x2S { memarg } => self.extend_load(&memarg, ExtendLoad::S32x2)?,
            Operator::V128Load32x2U { memarg } => self.extend_load(&memarg, ExtendLoad::U32x2)?,
            Operator::V128Load8Splat { memarg } => self.load_splat(&memarg, I8X16)?,
            Operator::V128Load16Splat { memarg } => self.load_splat(&memarg, I16X8)?,
            Operator::V128Load32Splat { memarg } => self.load_splat(&memarg, I32X4)?,
            Operator::V128Load64Splat { memarg } => self.load_splat(&memarg, I64X2)?,
            Operator::V128Load32Zero { memarg } => self.load_zero(&memarg, I32X4)?,
            Operator::V128Load64Zero { memarg } => self.load_zero(&memarg, I64X2)?,
            Operator::V128Load8Lane { memarg, lane } => self.load_lane(&memarg, I8X16, lane)?,
            Operator::V128Load16Lane { memarg, lane } => self.load_lane(&memarg, I16X8, lane)?,
            Operator::V128Load32Lane { memarg, lane } => self.load_lane(&memarg, I32X4, lane)?,
            Operator::V128Load64Lane { memarg, lane } => self.load_lane(&memarg, I64X2, lane)?,
            Operator::V128Store8Lane { memarg, lane } => self.store_lane(&memarg, I8X16, lane)?,
            Operator::V128Store16Lane { memarg, lane } => self.store_lane(&memarg, I16X8, lane)?,
            Operator::V128Store32Lane { memarg, lane } => self.store_lane(&memarg, I32X4, lane)?,
            Operator::V128Store64Lane { memarg, lane } => self.store_lane(&memarg, I64X2, lane)?,

            Operator::V128Const { value } => {
                let v = self.vconst(I8X16, value.bytes());
                self.push(v);
            }
            Operator::I8x16Shuffle { lanes } => self.vector_op(I8X16, |t, [x, y]| t.shuffle_bytes(x, y, &lanes)),
            Operator::I8x16Swizzle => vbinop!(self, I8X16, swizzle),
            Operator::I8x16Splat => self.splat(I8X16),
            Operator::I16x8Splat => self.splat(I16X8),
            Operator::I32x4Splat => self.splat(I32X4),
            Operator::I64x2Splat => self.splat(I64X2),
            Operator::F32x4Splat => self.splat(F32X4),
            Operator::F64x2Splat => self.splat(F64X2),
            Operator::I8x16ExtractLaneS { lane } => self.extract_lane(I8X16, lane, Some(true)),
            Operator::I8x16ExtractLaneU { lane } => self.extract_lane(I8X16, lane, Some(false)),
            Operator::I16x8ExtractLaneS { lane } => self.extract_lane(I16X8, lane, Some(true)),
            Operator::I16x8ExtractLaneU { lane } => self.extract_lane(I16X8, lane, Some(false)),
            Operator::I32x4ExtractLane { lane } => self.extract_lane(I32X4, lane, None),
            Operator::I64x2ExtractLane { lane } => self.extract_lane(I64X2, lane, None),
            Operator::F32x4ExtractLane { lane } => self.extract_lane(F32X4, lane, None),
            Operator::F64x2ExtractLane { lane } => self.extract_lane(F64X2, lane, None),
            Operator::I8x16ReplaceLane { lane } => self.replace_lane(I8X16, lane),
            Operator::I16x8ReplaceLane { lane } => self.replace_lane(I16X8, lane),
            Operator::I32x4ReplaceLane { lane } => self.replace_lane(I32X4, lane),
            Operator::I64x2ReplaceLane { lane } => self.replace_lane(I64X2, lane),
            Operator::F32x4ReplaceLane { lane } => self.replace_lane(F32X4, lane),
            Operator::F64x2ReplaceLane { lane } => self.replace_lane(F64X2, lane),

            Operator::I8x16Eq => vicmp!(self, I8X16, Equal),
            Operator::I8x16Ne => vicmp!(self, I8X16, NotEqual),
            Operator::I8x16LtS => vicmp!(self, I8X16, SignedLessThan),
            Operator::I8x16LtU => vicmp!(self, I8X16, UnsignedLessThan),
            Operator::I8x16GtS => vicmp!(self, I8X16, SignedGreaterThan),
            Operator::I8x16GtU => vicmp!(self, I8X16, UnsignedGreaterThan),
            Operator::I8x16LeS => vicmp!(self, I8X16, SignedLessThanOrEqual),
            Operator::I8x16LeU => vicmp!(self, I8X16, UnsignedLessThanOrEqual),
            Operator::I8x16GeS => vicmp!(self, I8X16, SignedGreaterThanOrEqual),
            Operator::I8x16GeU => vicmp!(self, I8X16, UnsignedGreaterThanOrEqual),
            Operator::I16x8Eq => vicmp!(self, I16X8, Equal),
            Operator::I16x8Ne => vicmp!(self, I16X8, NotEqual),
            Operator::I16x8LtS => vicmp!(self, I16X8, SignedLessThan),
            Operator::I16x8LtU => vicmp!(self, I16X8, UnsignedLessThan),
            Operator::I16x8GtS => vicmp!(self, I16X8, SignedGreaterThan),
            Operator::I16x8GtU => vicmp!(self, I16X8, UnsignedGreaterThan),
            Operator::I16x8LeS => vicmp!(self, I16X8, SignedLessThanOrEqual),
            Operator::I16x8LeU => vicmp!(self, I16X8, UnsignedLessThanOrEqual),
            Operator::I16x8GeS => vicmp!(self, I16X8, SignedGreaterThanOrEqual),
            Operator::I16x8GeU => vicmp!(self, I16X8, UnsignedGreaterThanOrEqual),
            Operator::I32x4Eq => vicmp!(self, I32X4, Equal),
            Operator::I32x4Ne => vicmp!(self, I32X4, NotEqual),
            Operator::I32x4LtS => vicmp!(self, I32X4, SignedLessThan),
            Operator::I32x4LtU => vicmp!(self, I32X4, UnsignedLessThan),
            Operator::I32x4GtS => vicmp!(self, I32X4, SignedGreaterThan),
            Operator::I32x4GtU => vicmp!(self, I32X4, UnsignedGreaterThan),
            Operator::I32x4LeS => vicmp!(self, I32X4, SignedLessThanOrEqual),
            Operator::I32x4LeU => vicmp!(self, I32X4, UnsignedLessThanOrEqual),
            Operator::I32x4GeS => vicmp!(self, I32X4, SignedGreaterThanOrEqual),
            Operator::I32x4GeU => vicmp!(self, I32X4, UnsignedGreaterThanOrEqual),
            // i64x2 has signed comparisons only.
            Operator::I64x2Eq => vicmp!(self, I64X2, Equal),
            Operator::I64x2Ne => vicmp!(self, I64X2, NotEqual),
            Operator::I64x2LtS => vicmp!(self, I64X2, SignedLessThan),
            Operator::I64x2GtS => vicmp!(self, I64X2, SignedGreaterThan),
            Operator::I64x2LeS => vicmp!(self, I64X2, SignedLessThanOrEqual),
            Operator::I64x2GeS => vicmp!(self, I64X2, SignedGreaterThanOrEqual),
            Operator::F32x4Eq => vfcmp!(self, F32X4, Equal),
            Operator::F32x4Ne => vfcmp!(self, F32X4, NotEqual),
            Operator::F32x4Lt => vfcmp!(self, F32X4, LessThan),
            Operator::F32x4Gt => vfcmp!(self, F32X4, GreaterThan),
            Operator::F32x4Le => vfcmp!(self, F32X4, LessThanOrEqual),
            Operator::F32x4Ge => vfcmp!(self, F32X4, GreaterThanOrEqual),
            Operator::F64x2Eq => vfcmp!(self, F64X2, Equal),
            Operator::F64x2Ne => vfcmp!(self, F64X2, NotEqual),
            Operator::F64x2Lt => vfcmp!(self, F64X2, LessThan),
            Operator::F64x2Gt => vfcmp!(self, F64X2, GreaterThan),
            Operator::F64x2Le => vfcmp!(self, F64X2, LessThanOrEqual),
            Operator::F64x2Ge => vfcmp!(self, F64X2, GreaterThanOrEqual),

            Operator::V128Not => vunop!(self, I8X16, bnot),
            Operator::V128And => vbinop!(self, I8X16, band),
            Operator::V128AndNot => vbinop!(self, I8X16, band_not),
            Operator::V128Or => vbinop!(self, I8X16, bor),
            Operator::V128Xor => vbinop!(self, I8X16, bxor),
            Operator::V128Bitselect => self.vector_op(I8X16, |t, [x, y, mask]| t.b.ins().bitselect(mask, x, y)),
            Operator::V128AnyTrue => {
                let x = self.pop_as(I8X16);
                let any = self.b.ins().vany_true(x);
                let v = self.b.ins().uextend(I32, any);
                self.push(v);
            }
            Operator::I8x16AllTrue => self.all_true(I8X16),
            Operator::I16x8AllTrue => self.all_true(I16X8),
            Operator::I32x4AllTrue => self.all_true(I32X4),
            Operator::I64x2AllTrue => self.all_true(I64X2),
            Operator::I8x16Bitmask => self.bitmask(I8X16),
            Operator::I16x8Bitmask => self.bitmask(I16X8),
            Operator::I32x4Bitmask => self.bitmask(I32X4),
            Operator::I64x2Bitmask => self.bitmask(I64X2),

            Operator::I8x16Abs => vunop!(self, I8X16, iabs),
            Operator::I16x8Abs => vunop!(self, I16X8, iabs),
            Operator::I32x4Abs => vunop!(self, I32X4, iabs),
            Operator::I64x2Abs => vunop!(self, I64X2, iabs),
            Operator::I8x16Neg => vunop!(self, I8X16, ineg),
            Operator::I16x8Neg => vunop!(self, I16X8, ineg),
            Operator::I32x4Neg => vunop!(self, I32X4, ineg),
            Operator::I64x2Neg => vunop!(self, I64X2, ineg),
            Operator::I8x16Popcnt => vunop!(self, I8X16, popcnt),
            Operator::I8x16Shl => vshift!(self, I8X16, ishl),
            Operator::I16x8Shl => vshift!(self, I16X8, ishl),
            Operator::I32x4Shl => vshift!(self, I32X4, ishl),
            Operator::I64x2Shl => vshift!(self, I64X2, ishl),
            Operator::I8x16ShrS => vshift!(self, I8X16, sshr),
            Operator::I16x8ShrS => vshift!(self, I16X8, sshr),
            Operator::I32x4ShrS => vshift!(self, I32X4, sshr),
            Operator::I64x2ShrS => vshift!(self, I64X2, sshr),
            Operator::I8x16ShrU => vshift!(self, I8X16, ushr),
            Operator::I16x8ShrU => vshift!(self, I16X8, ushr),
            Operator::I32x4ShrU => vshift!(self, I32X4, ushr),
            Operator::I64x2ShrU => vshift!(self, I64X2, ushr),
            Operator::I8x16Add => vbinop!(self, I8X16, iadd),
            Operator::I16x8Add => vbinop!(self, I16X8, iadd),
            Operator::I32x4Add => vbinop!(self, I32X4, iadd),
            Operator::I64x2Add => vbinop!(self, I64X2, iadd),
            Operator::I8x16Sub => vbinop!(self, I8X16, isub),
            Operator::I16x8Sub => vbinop!(self, I16X8, isub),
            Operator::I32x4Sub => vbinop!(self, I32X4, isub),
            Operator::I64x2Sub => vbinop!(self, I64X2, isub),
            Operator::I16x8Mul => vbinop!(self, I16X8, imul),
            Operator::I32x4Mul => vbinop!(self, I32X4, imul),
            Operator::I64x2Mul => vbinop!(self, I64X2, imul),
            Operator::I8x16AddSatS => vbinop!(self, I8X16, sadd_sat),
            Operator::I16x8AddSatS => vbinop!(self, I16X8, sadd_sat),
            Operator::I8x16AddSatU => vbinop!(self, I8X16, uadd_sat),
            Operator::I16x8AddSatU => vbinop!(self, I16X8, uadd_sat),
            Operator::I8x16SubSatS => vbinop!(self, I8X16, ssub_sat),
            Operator::I16x8SubSatS => vbinop!(self, I16X8, ssub_sat),
            Operator::I8x16SubSatU => vbinop!(self, I8X16, usub_sat),
            Operator::I16x8SubSatU => vbinop!(self, I16X8, usub_sat),
            Operator::I8x16MinS => vbinop!(self, I8X16, smin),
            Operator::I16x8MinS => vbinop!(self, I16X8, smin),
            Operator::I32x4MinS => vbinop!(self, I32X4, smin),
            Operator::I8x16MinU => vbinop!(self, I8X16, umin),
            Operator::I16x8MinU => vbinop!(self, I16X8, umin),
            Operator::I32x4MinU => vbinop!(self, I32X4, umin),
            Operator::I8x16MaxS => vbinop!(self, I8X16, smax),
            Operator::I16x8MaxS => vbinop!(self, I16X8, smax),
            Operator::I32x4MaxS => vbinop!(self, I32X4, smax),
            Operator::I8x16MaxU => vbinop!(self, I8X16, umax),
            Operator::I16x8MaxU => vbinop!(self, I16X8, umax),
            Operator::I32x4MaxU => vbinop!(self, I32X4, umax),
            Operator::I8x16AvgrU => vbinop!(self, I8X16, avg_round),
            Operator::I16x8AvgrU => vbinop!(self, I16X8, avg_round),
            Operator::I16x8Q15MulrSatS => vbinop!(self, I16X8, sqmul_round_sat),

            Operator::I8x16NarrowI16x8S => vbinop!(self, I16X8, snarrow),
            Operator::I8x16NarrowI16x8U => vbinop!(self, I16X8, unarrow),
            Operator::I16x8NarrowI32x4S => vbinop!(self, I32X4, snarrow),
            Operator::I16x8NarrowI32x4U => vbinop!(self, I32X4, unarrow),
            Operator::I16x8ExtendLowI8x16S => vunop!(self, I8X16, swiden_low),
            Operator::I16x8ExtendHighI8x16S => vunop!(self, I8X16, swiden_high),
            Operator::I16x8ExtendLowI8x16U => vunop!(self, I8X16, uwiden_low),
            Operator::I16x8ExtendHighI8x16U => vunop!(self, I8X16, uwiden_high),
            Operator::I32x4ExtendLowI16x8S => vunop!(self, I16X8, swiden_low),
            Operator::I32x4ExtendHighI16x8S => vunop!(self, I16X8, swiden_high),
            Operator::I32x4ExtendLowI16x8U => vunop!(self, I16X8, uwiden_low),
            Operator::I32x4ExtendHighI16x8U => vunop!(self, I16X8, uwiden_high),
            Operator::I64x2ExtendLowI32x4S => vunop!(self, I32X4, swiden_low),
            Operator::I64x2ExtendHighI32x4S => vunop!(self, I32X4, swiden_high),
            Operator::I64x2ExtendLowI32x4U => vunop!(self, I32X4, uwiden_low),
            Operator::I64x2ExtendHighI32x4U => vunop!(self, I32X4, uwiden_high),
            Operator::I16x8ExtMulLowI8x16S => self.extmul(I8X16, true, false),
            Operator::I16x8ExtMulHighI8x16S => self.extmul(I8X16, true, true),
            Operator::I16x8ExtMulLowI8x16U => self.extmul(I8X16, false, false),
            Operator::I16x8ExtMulHighI8x16U => self.extmul(I8X16, false, true),
            Operator::I32x4ExtMulLowI16x8S => self.extmul(I16X8, true, false),
            Operator::I32x4ExtMulHighI16x8S => self.extmul(I16X8, true, true),
            Operator::I32x4ExtMulLowI16x8U => self.extmul(I16X8, false, false),
            Operator::I32x4ExtMulHighI16x8U => self.extmul(I16X8, false, true),
            Operator::I64x2ExtMulLowI32x4S => self.extmul(I32X4, true, false),
            Operator::I64x2ExtMulHighI32x4S => self.extmul(I32X4, true, true),
            Operator::I64x2ExtMulLowI32x4U => self.extmul(I32X4, false, false),
            Operator::I64x2ExtMulHighI32x4U => self.extmul(I32X4, false, true),
            Operator::I16x8ExtAddPairwiseI8x16S => self.extadd_pairwise(I8X16, true),
            Operator::I16x8ExtAddPairwiseI8x16U => self.extadd_pairwise(I8X16, false),
            Operator::I32x4ExtAddPairwiseI16x8S => self.extadd_pairwise(I16X8, true),
            Operator::I32x4ExtAddPairwiseI16x8U => self.extadd_pairwise(I16X8, false),
            Operator::I32x4DotI16x8S => self.vector_op(I16X8, |t, [x, y]| t.dot_products(x, y)),

            Operator::F32x4Abs => vunop!(self, F32X4, fabs),
            Operator::F64x2Abs => vunop!(self, F64X2, fabs),
            Operator::F32x4Neg => vunop!(self, F32X4, fneg),
            Operator::F64x2Neg => vunop!(self, F64X2, fneg),
            Operator::F32x4Sqrt => vunop!(self, F32X4, sqrt),
            Operator::F64x2Sqrt => vunop!(self, F64X2, sqrt),
            Operator::F32x4Ceil => vunop!(self, F32X4, ceil),
            Operator::F64x2Ceil => vunop!(self, F64X2, ceil),
            Operator::F32x4Floor => vunop!(self, F32X4, floor),
            Operator::F64x2Floor => vunop!(self, F64X2, floor),
            Operator::F32x4Trunc => vunop!(self, F32X4, trunc),
            Operator::F64x2Trunc => vunop!(self, F64X2, trunc),
            Operator::F32x4Nearest => vunop!(self, F32X4, nearest),
            Operator::F64x2Nearest => vunop!(self, F64X2, nearest),
            Operator::F32x4Add => vbinop!(self, F32X4, fadd),
            Operator::F64x2Add => vbinop!(self, F64X2, fadd),
            Operator::F32x4Sub => vbinop!(self, F32X4, fsub),
            Operator::F64x2Sub => vbinop!(self, F64X2, fsub),
            Operator::F32x4Mul => vbinop!(self, F32X4, fmul),
            Operator::F64x2Mul => vbinop!(self, F64X2, fmul),
            Operator::F32x4Div => vbinop!(self, F32X4, fdiv),
            Operator::F64x2Div => vbinop!(self, F64X2, fdiv),
            // Cranelift's vector fmin/fmax have wasm's semantics (NaN-propagating, -0 < +0).
            Operator::F32x4Min => vbinop!(self, F32X4, fmin),
            Operator::F64x2Min => vbinop!(self, F64X2, fmin),
            Operator::F32x4Max => vbinop!(self, F32X4, fmax),
            Operator::F64x2Max => vbinop!(self, F64X2, fmax),
            Operator::F32x4PMin => self.pseudo_min_max(F32X4, true),
            Operator::F64x2PMin => self.pseudo_min_max(F64X2, true),
            Operator::F32x4PMax => self.pseudo_min_max(F32X4, false),
            Operator::F64x2PMax => self.pseudo_min_max(F64X2, false),

            Operator::I32x4TruncSatF32x4S => vconvert!(self, F32X4, fcvt_to_sint_sat, I32X4),
            Operator::I32x4TruncSatF32x4U => vconvert!(self, F32X4, fcvt_to_uint_sat, I32X4),
            Operator::I32x4TruncSatF64x2SZero => self.trunc_sat_f64x2_zero(true),
            Operator::I32x4TruncSatF64x2UZero => self.trunc_sat_f64x2_zero(false),
            Operator::F32x4ConvertI32x4S => vconvert!(self, I32X4, fcvt_from_sint, F32X4),
            Operator::F32x4ConvertI32x4U => vconvert!(self, I32X4, fcvt_from_uint, F32X4),
            Operator::F64x2ConvertLowI32x4S => self.vector_op(I32X4, |t, [x]| {
                let wide = t.b.ins().swiden_low(x);
                t.b.ins().fcvt_from_sint(F64X2, wide)
            }),
            Operator::F64x2ConvertLowI32x4U => self.vector_op(I32X4, |t, [x]| {
                let wide = t.b.ins().uwiden_low(x);
                t.b.ins().fcvt_from_uint(F64X2, wide)
            }),
            Operator::F32x4DemoteF64x2Zero => vunop!(self, F64X2, fvdemote),
            Operator::F64x2PromoteLowF32x4 => vunop!(self, F32X4, fvpromote_low),

            Operator::I8x16RelaxedSwizzle => self.relaxed_swizzle(),
            Operator::I32x4RelaxedTruncF32x4S => self.relaxed_trunc_f32x4_s(),
            // The saturating conversions are within the allowed results and need no fix-up.
            Operator::I32x4RelaxedTruncF32x4U => vconvert!(self, F32X4, fcvt_to_uint_sat, I32X4),
            Operator::I32x4RelaxedTruncF64x2SZero => self.trunc_sat_f64x2_zero(true),
            Operator::I32x4RelaxedTruncF64x2UZero => self.trunc_sat_f64x2_zero(false),
            Operator::F32x4RelaxedMadd => self.relaxed_madd(F32X4, false),
            Operator::F32x4RelaxedNmadd => self.relaxed_madd(F32X4, true),
            Operator::F64x2RelaxedMadd => self.relaxed_madd(F64X2, false),
            Operator::F64x2RelaxedNmadd => self.relaxed_madd(F64X2, true),
            Operator::I8x16RelaxedLaneselect => self.relaxed_laneselect(I8X16),
            Operator::I16x8RelaxedLaneselect => self.relaxed_laneselect(I16X8),
            Operator::I32x4RelaxedLaneselect => self.relaxed_laneselect(I32X4),
            Operator::I64x2RelaxedLaneselect => self.relaxed_laneselect(I64X2),
            Operator::F32x4RelaxedMin => self.relaxed_min_max(F32X4, true),
            Operator::F64x2RelaxedMin => self.relaxed_min_max(F64X2, true),
            Operator::F32x4RelaxedMax => self.relaxed_min_max(F32X4, false),
            Operator::F64x2RelaxedMax => self.relaxed_min_max(F64X2, false),
            Operator::I16x8RelaxedQ15mulrS => self.relaxed_q15mulr(),
            Operator::I16x8RelaxedDotI8x16I7x16S => self.vector_op(I8X16, |t, [x, y]| t.relaxed_dot_i16(x, y)),
            Operator::I32x4RelaxedDotI8x16I7x16AddS => {
                let acc = self.pop_as(I32X4);
                let y = self.pop_as(I8X16);
                let x = self.pop_as(I8X16);
                let dot = self.relaxed_dot_i16(x, y);
                let sums = self.widened_pairwise_sums(dot, true);
                let v = self.b.ins().iadd(sums, acc);
                self.push_v128(v);
            }

            other => bail!("unsupported feature: operator {other:?}"),
        }
        Ok(())
    }

    /// `v128.loadNxM_{s,u}`: 8 bytes widened to 16.
    fn extend_load(&mut self, memarg: &MemArg, kind: ExtendLoad) -> Result<()> {
        let index = self.pop();
        let (addr, imm) = self.heap_addr(memory_index(memarg)?, index, memarg.offset, 8)?;
        let f = heap_flags();
        let ins = self.b.ins();
        let v = match kind {
            ExtendLoad::S8x8 => ins.sload8x8(f, addr, imm),
            ExtendLoad::U8x8 => ins.uload8x8(f, addr, imm),
            ExtendLoad::S16x4 => ins.sload16x4(f, addr, imm),
            ExtendLoad::U16x4 => ins.uload16x4(f, addr, imm),
            ExtendLoad::S32x2 => ins.sload32x2(f, addr, imm),
            ExtendLoad::U32x2 => ins.uload32x2(f, addr, imm),
        };
        self.push_v128(v);
        Ok(())
    }

    /// `v128.loadN_splat`: one lane loaded and copied to every lane of `ty`.
    fn load_splat(&mut self, memarg: &MemArg, ty: Type) -> Result<()> {
        self.load(memarg, ty.lane_type(), super::memory::Ext::None)?;
        let x = self.pop();
        let v = self.b.ins().splat(ty, x);
        self.push_v128(v);
        Ok(())
    }

    /// `v128.loadN_zero`: one lane loaded into lane 0, the others zero.
    fn load_zero(&mut self, memarg: &MemArg, ty: Type) -> Result<()> {
        self.load(memarg, ty.lane_type(), super::memory::Ext::None)?;
        let x = self.pop();
        let v = self.b.ins().scalar_to_vector(ty, x);
        self.push_v128(v);
        Ok(())
    }

    /// `v128.loadN_lane`: one lane of the vector replaced from memory.
    fn load_lane(&mut self, memarg: &MemArg, ty: Type, lane: u8) -> Result<()> {
        let vector = self.pop_as(ty);
        self.load(memarg, ty.lane_type(), super::memory::Ext::None)?;
        let x = self.pop();
        let v = self.b.ins().insertlane(vector, x, lane);
        self.push_v128(v);
        Ok(())
    }

    /// `v128.storeN_lane`: one lane of the vector stored to memory.
    fn store_lane(&mut self, memarg: &MemArg, ty: Type, lane: u8) -> Result<()> {
        let vector = self.pop_as(ty);
        let x = self.b.ins().extractlane(vector, lane);
        self.push(x);
        self.store(memarg, None)
    }

    fn splat(&mut self, ty: Type) {
        let mut x = self.pop();
        // i8x16 and i16x8 splat the low bits of an i32.
        if matches!(ty.lane_type(), I8 | I16) {
            x = self.b.ins().ireduce(ty.lane_type(), x);
        }
        let v = self.b.ins().splat(ty, x);
        self.push_v128(v);
    }

    /// `extract_lane`; `signed` says how narrow lanes extend to i32.
    fn extract_lane(&mut self, ty: Type, lane: u8, signed: Option<bool>) {
        let vector = self.pop_as(ty);
        let x = self.b.ins().extractlane(vector, lane);
        let v = match signed {
            Some(true) => self.b.ins().sextend(I32, x),
            Some(false) => self.b.ins().uextend(I32, x),
            None => x,
        };
        self.push(v);
    }

    fn replace_lane(&mut self, ty: Type, lane: u8) {
        let mut x = self.pop();
        if matches!(ty.lane_type(), I8 | I16) {
            x = self.b.ins().ireduce(ty.lane_type(), x);
        }
        let vector = self.pop_as(ty);
        let v = self.b.ins().insertlane(vector, x, lane);
        self.push_v128(v);
    }

    fn all_true(&mut self, ty: Type) {
        let x = self.pop_as(ty);
        let all = self.b.ins().vall_true(x);
        let v = self.b.ins().uextend(I32, all);
        self.push(v);
    }

    fn bitmask(&mut self, ty: Type) {
        let x = self.pop_as(ty);
        let v = self.b.ins().vhigh_bits(I32, x);
        self.push(v);
    }

    /// The low or high half of the lanes of `x`, widened.
    fn widen(&mut self, x: Value, signed: bool, high: bool) -> Value {
        let ins = self.b.ins();
        match (signed, high) {
            (true, false) => ins.swiden_low(x),
            (true, true) => ins.swiden_high(x),
            (false, false) => ins.uwiden_low(x),
            (false, true) => ins.uwiden_high(x),
        }
    }

    /// `extmul_{low,high}`: half the lanes of both operands widened, then multiplied.
    fn extmul(&mut self, ty: Type, signed: bool, high: bool) {
        self.vector_op(ty, |t, [x, y]| {
            let x = t.widen(x, signed, high);
            let y = t.widen(y, signed, high);
            t.b.ins().imul(x, y)
        });
    }

    /// `extadd_pairwise`: adjacent lanes widened and added.
    fn extadd_pairwise(&mut self, ty: Type, signed: bool) {
        self.vector_op(ty, |t, [x]| t.widened_pairwise_sums(x, signed));
    }

    /// Adjacent lanes of `x` widened to twice the width and added.
    fn widened_pairwise_sums(&mut self, x: Value, signed: bool) -> Value {
        let low = self.widen(x, signed, false);
        let high = self.widen(x, signed, true);
        self.b.ins().iadd_pairwise(low, high)
    }

    /// Products of the signed lanes of `x` and `y` widened to twice the width, with adjacent
    /// products added (wrapping): `i32x4.dot_i16x8_s`, and the signed dot product of i8 lanes.
    fn dot_products(&mut self, x: Value, y: Value) -> Value {
        let (low, high) = self.signed_widening_products(x, y);
        self.b.ins().iadd_pairwise(low, high)
    }

    /// The lane-wise products of `x` and `y` sign-extended to twice the lane width: those of the
    /// low halves and those of the high halves.
    fn signed_widening_products(&mut self, x: Value, y: Value) -> (Value, Value) {
        let x_low = self.b.ins().swiden_low(x);
        let y_low = self.b.ins().swiden_low(y);
        let low = self.b.ins().imul(x_low, y_low);
        let x_high = self.b.ins().swiden_high(x);
        let y_high = self.b.ins().swiden_high(y);
        let high = self.b.ins().imul(x_high, y_high);
        (low, high)
    }

    /// `pmin` (`y < x ? y : x`) or `pmax` (`x < y ? y : x`): a compare and a select, which the
    /// x86 backend turns into `minps`/`maxps`.
    fn pseudo_min_max(&mut self, ty: Type, min: bool) {
        self.vector_op(ty, |t, [x, y]| t.pseudo_min_max_of(ty, x, y, min));
    }

    fn pseudo_min_max_of(&mut self, ty: Type, x: Value, y: Value, min: bool) -> Value {
        let take_y =
            if min { self.b.ins().fcmp(FloatCC::LessThan, y, x) } else { self.b.ins().fcmp(FloatCC::LessThan, x, y) };
        let take_y = self.cast(take_y, ty);
        self.b.ins().bitselect(take_y, y, x)
    }

    /// `i32x4.trunc_sat_f64x2_{s,u}_zero`: two lanes converted with saturation, two zero lanes.
    fn trunc_sat_f64x2_zero(&mut self, signed: bool) {
        let x = self.pop_as(F64X2);
        let zero = self.vconst(I64X2, &[0; 16]);
        let v = if signed {
            let wide = self.b.ins().fcvt_to_sint_sat(I64X2, x);
            self.b.ins().snarrow(wide, zero)
        } else if self.is_x86() && !self.env.isa.has_round() {
            // The vector lowering needs SSE4.1's `round`; without it convert each lane alone.
            let zero = self.cast(zero, I32X4);
            let mut v = zero;
            for lane in 0..2 {
                let f = self.b.ins().extractlane(x, lane);
                let i = self.b.ins().fcvt_to_uint_sat(I32, f);
                v = self.b.ins().insertlane(v, i, lane);
            }
            v
        } else {
            let wide = self.b.ins().fcvt_to_uint_sat(I64X2, x);
            self.b.ins().uunarrow(wide, zero)
        };
        self.push_v128(v);
    }

    /// `i8x16.relaxed_swizzle`: `pshufb` on x86 (an index of 16..127 picks lane `index % 16`,
    /// which the spec allows), otherwise `i8x16.swizzle`.
    fn relaxed_swizzle(&mut self) {
        let host = self.relaxed_host_lowering(self.env.isa.has_x86_pshufb_lowering());
        self.vector_op(I8X16, |t, [x, y]| if host { t.b.ins().x86_pshufb(x, y) } else { t.b.ins().swizzle(x, y) });
    }

    /// `i32x4.relaxed_trunc_f32x4_s`: `cvttps2dq` on x86 (`INT_MIN` for NaN and out-of-range
    /// lanes, which the spec allows), otherwise the saturating conversion.
    fn relaxed_trunc_f32x4_s(&mut self) {
        if self.relaxed_host_lowering(self.is_x86()) {
            vconvert!(self, F32X4, x86_cvtt2dq, I32X4)
        } else {
            vconvert!(self, F32X4, fcvt_to_sint_sat, I32X4)
        }
    }

    /// `relaxed_madd` (`x * y + z`) and `relaxed_nmadd` (`-(x * y) + z`): fused when the host has
    /// FMA, otherwise (and in the deterministic profile) a multiply and an add, each rounded.
    fn relaxed_madd(&mut self, ty: Type, negate: bool) {
        let host = self.relaxed_host_lowering(self.env.isa.has_native_fma());
        self.vector_op(ty, |t, [x, y, z]| {
            let x = if negate { t.b.ins().fneg(x) } else { x };
            if host {
                t.b.ins().fma(x, y, z)
            } else {
                let product = t.b.ins().fmul(x, y);
                t.b.ins().fadd(product, z)
            }
        });
    }

    /// `relaxed_laneselect`: `blendv` (top bit of each mask lane) where x86 has one for the lane
    /// width, otherwise (and in the deterministic profile) `v128.bitselect`.
    fn relaxed_laneselect(&mut self, ty: Type) {
        let host = self.relaxed_host_lowering(self.env.isa.has_blendv_lowering(ty));
        self.vector_op(
            ty,
            |t, [x, y, mask]| {
                if host { t.b.ins().blendv(mask, x, y) } else { t.b.ins().bitselect(mask, x, y) }
            },
        );
    }

    /// `relaxed_min`/`relaxed_max`: on x86 the `pmin`/`pmax` lowering (a single `minps`/`maxps`;
    /// for NaNs and zeros of opposite signs it returns the first operand, one of the allowed
    /// results), otherwise (and in the deterministic profile) `min`/`max`.
    fn relaxed_min_max(&mut self, ty: Type, min: bool) {
        let host = self.relaxed_host_lowering(self.is_x86());
        self.vector_op(ty, |t, [x, y]| {
            if host {
                t.pseudo_min_max_of(ty, x, y, min)
            } else if min {
                t.b.ins().fmin(x, y)
            } else {
                t.b.ins().fmax(x, y)
            }
        });
    }

    /// `i16x8.relaxed_q15mulr_s`: `pmulhrsw` on x86 (`-32768 * -32768` gives -32768, which the
    /// spec allows), otherwise the saturating `q15mulr_sat_s`.
    fn relaxed_q15mulr(&mut self) {
        let host = self.relaxed_host_lowering(self.env.isa.has_x86_pmulhrsw_lowering());
        self.vector_op(
            I16X8,
            |t, [x, y]| {
                if host { t.b.ins().x86_pmulhrsw(x, y) } else { t.b.ins().sqmul_round_sat(x, y) }
            },
        );
    }

    /// The `i16x8` dot product of `i8x16.relaxed_dot_i8x16_i7x16_s`: on x86 `pmaddubsw`
    /// (the second operand unsigned, pairs added with saturation), otherwise (and in the
    /// deterministic profile, the specification's first choice) both operands signed, pairs
    /// added with wrapping, as the non-relaxed `dot` instructions add.
    fn relaxed_dot_i16(&mut self, x: Value, y: Value) -> Value {
        if self.relaxed_host_lowering(self.env.isa.has_x86_pmaddubsw_lowering()) {
            return self.b.ins().x86_pmaddubsw(x, y);
        }
        // Each i8 * i8 product fits in i16; only the sum of a pair can overflow.
        let (low, high) = self.signed_widening_products(x, y);
        let low = self.cast(low, I8X16);
        let high = self.cast(high, I8X16);
        // The even and the odd i16 products of all 16 (bytes 4k..4k+1 and 4k+2..4k+3 of the
        // 32 bytes of `low ++ high`).
        let mut even = [0u8; 16];
        let mut odd = [0u8; 16];
        for k in 0..8 {
            even[2 * k] = (4 * k) as u8;
            even[2 * k + 1] = (4 * k + 1) as u8;
            odd[2 * k] = (4 * k + 2) as u8;
            odd[2 * k + 1] = (4 * k + 3) as u8;
        }
        let even = self.shuffle_bytes(low, high, &even);
        let odd = self.shuffle_bytes(low, high, &odd);
        let even = self.cast(even, I16X8);
        let odd = self.cast(odd, I16X8);
        self.b.ins().iadd(even, odd)
    }
}
