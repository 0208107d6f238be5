//! Single-instruction modules: one exported function that applies one instruction to its
//! parameters, run on kiln (a configuration drawn from the input) and on wasmi with the same
//! edge-heavy arguments. Results compare exactly, except that two NaNs agree whatever their
//! payloads (the spec lets arithmetic return any NaN; the sign and payload of a NaN result are
//! nondeterministic).

use crate::differential::{KilnSide, Side, WasmiSide, kiln_config};
use crate::smith::Profile;
use crate::value::{Outcome, Ty, Value};
use crate::{Finding, Stats, TargetResult};
use arbitrary::Unstructured;

/// `instruction:params:result` with `i` i32, `I` i64, `f` f32, `F` f64, `v` v128.
/// Memory instructions take an address (and a value) and run against one page whose bytes are
/// `0..=255` repeating.
pub const INSTRUCTIONS: &[&str] = &[
    // i32
    "i32.clz:i:i",
    "i32.ctz:i:i",
    "i32.popcnt:i:i",
    "i32.eqz:i:i",
    "i32.extend8_s:i:i",
    "i32.extend16_s:i:i",
    "i32.add:ii:i",
    "i32.sub:ii:i",
    "i32.mul:ii:i",
    "i32.div_s:ii:i",
    "i32.div_u:ii:i",
    "i32.rem_s:ii:i",
    "i32.rem_u:ii:i",
    "i32.and:ii:i",
    "i32.or:ii:i",
    "i32.xor:ii:i",
    "i32.shl:ii:i",
    "i32.shr_s:ii:i",
    "i32.shr_u:ii:i",
    "i32.rotl:ii:i",
    "i32.rotr:ii:i",
    "i32.eq:ii:i",
    "i32.ne:ii:i",
    "i32.lt_s:ii:i",
    "i32.lt_u:ii:i",
    "i32.gt_s:ii:i",
    "i32.gt_u:ii:i",
    "i32.le_s:ii:i",
    "i32.le_u:ii:i",
    "i32.ge_s:ii:i",
    "i32.ge_u:ii:i",
    // i64
    "i64.clz:I:I",
    "i64.ctz:I:I",
    "i64.popcnt:I:I",
    "i64.eqz:I:i",
    "i64.extend8_s:I:I",
    "i64.extend16_s:I:I",
    "i64.extend32_s:I:I",
    "i64.add:II:I",
    "i64.sub:II:I",
    "i64.mul:II:I",
    "i64.div_s:II:I",
    "i64.div_u:II:I",
    "i64.rem_s:II:I",
    "i64.rem_u:II:I",
    "i64.and:II:I",
    "i64.or:II:I",
    "i64.xor:II:I",
    "i64.shl:II:I",
    "i64.shr_s:II:I",
    "i64.shr_u:II:I",
    "i64.rotl:II:I",
    "i64.rotr:II:I",
    "i64.eq:II:i",
    "i64.ne:II:i",
    "i64.lt_s:II:i",
    "i64.lt_u:II:i",
    "i64.gt_s:II:i",
    "i64.gt_u:II:i",
    "i64.le_s:II:i",
    "i64.le_u:II:i",
    "i64.ge_s:II:i",
    "i64.ge_u:II:i",
    // f32 / f64
    "f32.abs:f:f",
    "f32.neg:f:f",
    "f32.ceil:f:f",
    "f32.floor:f:f",
    "f32.trunc:f:f",
    "f32.nearest:f:f",
    "f32.sqrt:f:f",
    "f32.add:ff:f",
    "f32.sub:ff:f",
    "f32.mul:ff:f",
    "f32.div:ff:f",
    "f32.min:ff:f",
    "f32.max:ff:f",
    "f32.copysign:ff:f",
    "f32.eq:ff:i",
    "f32.ne:ff:i",
    "f32.lt:ff:i",
    "f32.gt:ff:i",
    "f32.le:ff:i",
    "f32.ge:ff:i",
    "f64.abs:F:F",
    "f64.neg:F:F",
    "f64.ceil:F:F",
    "f64.floor:F:F",
    "f64.trunc:F:F",
    "f64.nearest:F:F",
    "f64.sqrt:F:F",
    "f64.add:FF:F",
    "f64.sub:FF:F",
    "f64.mul:FF:F",
    "f64.div:FF:F",
    "f64.min:FF:F",
    "f64.max:FF:F",
    "f64.copysign:FF:F",
    "f64.eq:FF:i",
    "f64.ne:FF:i",
    "f64.lt:FF:i",
    "f64.gt:FF:i",
    "f64.le:FF:i",
    "f64.ge:FF:i",
    // conversions
    "i32.wrap_i64:I:i",
    "i64.extend_i32_s:i:I",
    "i64.extend_i32_u:i:I",
    "i32.trunc_f32_s:f:i",
    "i32.trunc_f32_u:f:i",
    "i32.trunc_f64_s:F:i",
    "i32.trunc_f64_u:F:i",
    "i64.trunc_f32_s:f:I",
    "i64.trunc_f32_u:f:I",
    "i64.trunc_f64_s:F:I",
    "i64.trunc_f64_u:F:I",
    "i32.trunc_sat_f32_s:f:i",
    "i32.trunc_sat_f32_u:f:i",
    "i32.trunc_sat_f64_s:F:i",
    "i32.trunc_sat_f64_u:F:i",
    "i64.trunc_sat_f32_s:f:I",
    "i64.trunc_sat_f32_u:f:I",
    "i64.trunc_sat_f64_s:F:I",
    "i64.trunc_sat_f64_u:F:I",
    "f32.convert_i32_s:i:f",
    "f32.convert_i32_u:i:f",
    "f32.convert_i64_s:I:f",
    "f32.convert_i64_u:I:f",
    "f64.convert_i32_s:i:F",
    "f64.convert_i32_u:i:F",
    "f64.convert_i64_s:I:F",
    "f64.convert_i64_u:I:F",
    "f32.demote_f64:F:f",
    "f64.promote_f32:f:F",
    "i32.reinterpret_f32:f:i",
    "i64.reinterpret_f64:F:I",
    "f32.reinterpret_i32:i:f",
    "f64.reinterpret_i64:I:F",
    // memory (one page; the address is the parameter)
    "i32.load:i:i",
    "i64.load:i:I",
    "f32.load:i:f",
    "f64.load:i:F",
    "i32.load8_s:i:i",
    "i32.load8_u:i:i",
    "i32.load16_s:i:i",
    "i32.load16_u:i:i",
    "i64.load8_s:i:I",
    "i64.load16_u:i:I",
    "i64.load32_s:i:I",
    "i64.load32_u:i:I",
    "i32.load offset=65533:i:i",
    "i64.load offset=1 align=1:i:I",
    "v128.load:i:v",
    "v128.load8x8_s:i:v",
    "v128.load32_zero:i:v",
    "v128.load64_splat:i:v",
    "i32.store:ii:",
    "i64.store:iI:",
    "f32.store:if:",
    "f64.store:iF:",
    "i32.store8:ii:",
    "i64.store16:iI:",
    "i64.store32 offset=65532:iI:",
    "v128.store:iv:",
    "memory.fill:iii:",
    "memory.copy:iii:",
    // SIMD
    "i8x16.splat:i:v",
    "i16x8.splat:i:v",
    "i32x4.splat:i:v",
    "i64x2.splat:I:v",
    "f32x4.splat:f:v",
    "f64x2.splat:F:v",
    "i8x16.extract_lane_s 15:v:i",
    "i8x16.extract_lane_u 3:v:i",
    "i16x8.extract_lane_s 7:v:i",
    "i16x8.extract_lane_u 0:v:i",
    "i32x4.extract_lane 2:v:i",
    "i64x2.extract_lane 1:v:I",
    "f32x4.extract_lane 3:v:f",
    "f64x2.extract_lane 0:v:F",
    "i8x16.replace_lane 9:vi:v",
    "i16x8.replace_lane 4:vi:v",
    "i32x4.replace_lane 1:vi:v",
    "i64x2.replace_lane 0:vI:v",
    "f32x4.replace_lane 2:vf:v",
    "f64x2.replace_lane 1:vF:v",
    "i8x16.add_sat_s:vv:v",
    "i8x16.sub_sat_u:vv:v",
    "i16x8.mul:vv:v",
    "i16x8.q15mulr_sat_s:vv:v",
    "i32x4.dot_i16x8_s:vv:v",
    "i64x2.mul:vv:v",
    "i8x16.popcnt:v:v",
    "i8x16.avgr_u:vv:v",
    "i16x8.extmul_high_i8x16_u:vv:v",
    "i32x4.extadd_pairwise_i16x8_s:v:v",
    "i8x16.narrow_i16x8_s:vv:v",
    "i16x8.narrow_i32x4_u:vv:v",
    "i8x16.shl:vi:v",
    "i16x8.shr_s:vi:v",
    "i32x4.shr_u:vi:v",
    "i64x2.shr_s:vi:v",
    "i8x16.min_s:vv:v",
    "i32x4.max_u:vv:v",
    "i64x2.abs:v:v",
    "i8x16.swizzle:vv:v",
    "i8x16.bitmask:v:i",
    "i64x2.all_true:v:i",
    "v128.any_true:v:i",
    "v128.bitselect:vvv:v",
    "f32x4.add:vv:v",
    "f32x4.div:vv:v",
    "f32x4.min:vv:v",
    "f32x4.max:vv:v",
    "f32x4.pmin:vv:v",
    "f32x4.pmax:vv:v",
    "f64x2.sqrt:v:v",
    "f64x2.nearest:v:v",
    "f64x2.min:vv:v",
    "f32x4.eq:vv:v",
    "f64x2.lt:vv:v",
    "i32x4.trunc_sat_f32x4_s:v:v",
    "i32x4.trunc_sat_f32x4_u:v:v",
    "i32x4.trunc_sat_f64x2_s_zero:v:v",
    "i32x4.trunc_sat_f64x2_u_zero:v:v",
    "f32x4.convert_i32x4_u:v:v",
    "f64x2.convert_low_i32x4_u:v:v",
    "f32x4.demote_f64x2_zero:v:v",
    "f64x2.promote_low_f32x4:v:v",
    "i64x2.extend_high_i32x4_s:v:v",
    "i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31:vv:v",
    "i8x16.add:vv:v",
    "i8x16.sub:vv:v",
    "i8x16.add_sat_u:vv:v",
    "i8x16.sub_sat_s:vv:v",
    "i8x16.min_u:vv:v",
    "i8x16.max_s:vv:v",
    "i8x16.max_u:vv:v",
    "i8x16.eq:vv:v",
    "i8x16.ne:vv:v",
    "i8x16.lt_s:vv:v",
    "i8x16.lt_u:vv:v",
    "i8x16.gt_s:vv:v",
    "i8x16.gt_u:vv:v",
    "i8x16.le_s:vv:v",
    "i8x16.le_u:vv:v",
    "i8x16.ge_s:vv:v",
    "i8x16.ge_u:vv:v",
    "i8x16.narrow_i16x8_u:vv:v",
    "i8x16.neg:v:v",
    "i8x16.abs:v:v",
    "i8x16.shr_s:vi:v",
    "i8x16.shr_u:vi:v",
    "i8x16.all_true:v:i",
    "i16x8.add:vv:v",
    "i16x8.sub:vv:v",
    "i16x8.add_sat_s:vv:v",
    "i16x8.add_sat_u:vv:v",
    "i16x8.sub_sat_s:vv:v",
    "i16x8.sub_sat_u:vv:v",
    "i16x8.min_s:vv:v",
    "i16x8.min_u:vv:v",
    "i16x8.max_s:vv:v",
    "i16x8.max_u:vv:v",
    "i16x8.avgr_u:vv:v",
    "i16x8.eq:vv:v",
    "i16x8.lt_u:vv:v",
    "i16x8.ge_s:vv:v",
    "i16x8.extmul_low_i8x16_s:vv:v",
    "i16x8.narrow_i32x4_s:vv:v",
    "i16x8.neg:v:v",
    "i16x8.abs:v:v",
    "i16x8.extend_low_i8x16_s:v:v",
    "i16x8.extend_low_i8x16_u:v:v",
    "i16x8.extend_high_i8x16_s:v:v",
    "i16x8.extend_high_i8x16_u:v:v",
    "i16x8.extadd_pairwise_i8x16_u:v:v",
    "i16x8.shl:vi:v",
    "i16x8.shr_u:vi:v",
    "i16x8.bitmask:v:i",
    "i16x8.all_true:v:i",
    "i32x4.add:vv:v",
    "i32x4.sub:vv:v",
    "i32x4.mul:vv:v",
    "i32x4.min_s:vv:v",
    "i32x4.min_u:vv:v",
    "i32x4.max_s:vv:v",
    "i32x4.eq:vv:v",
    "i32x4.lt_s:vv:v",
    "i32x4.gt_u:vv:v",
    "i32x4.le_u:vv:v",
    "i32x4.extmul_high_i16x8_s:vv:v",
    "i32x4.extmul_low_i16x8_u:vv:v",
    "i32x4.neg:v:v",
    "i32x4.abs:v:v",
    "i32x4.extend_low_i16x8_u:v:v",
    "i32x4.extend_high_i16x8_s:v:v",
    "i32x4.extadd_pairwise_i16x8_u:v:v",
    "i32x4.shl:vi:v",
    "i32x4.shr_s:vi:v",
    "i32x4.bitmask:v:i",
    "i32x4.all_true:v:i",
    "i64x2.add:vv:v",
    "i64x2.sub:vv:v",
    "i64x2.eq:vv:v",
    "i64x2.ne:vv:v",
    "i64x2.lt_s:vv:v",
    "i64x2.gt_s:vv:v",
    "i64x2.le_s:vv:v",
    "i64x2.ge_s:vv:v",
    "i64x2.extmul_low_i32x4_s:vv:v",
    "i64x2.extmul_high_i32x4_u:vv:v",
    "i64x2.neg:v:v",
    "i64x2.extend_low_i32x4_u:v:v",
    "i64x2.extend_low_i32x4_s:v:v",
    "i64x2.extend_high_i32x4_u:v:v",
    "i64x2.shl:vi:v",
    "i64x2.shr_u:vi:v",
    "i64x2.bitmask:v:i",
    "f32x4.sub:vv:v",
    "f32x4.mul:vv:v",
    "f32x4.ne:vv:v",
    "f32x4.lt:vv:v",
    "f32x4.gt:vv:v",
    "f32x4.le:vv:v",
    "f32x4.ge:vv:v",
    "f32x4.sqrt:v:v",
    "f32x4.neg:v:v",
    "f32x4.abs:v:v",
    "f32x4.ceil:v:v",
    "f32x4.floor:v:v",
    "f32x4.trunc:v:v",
    "f32x4.nearest:v:v",
    "f32x4.convert_i32x4_s:v:v",
    "f64x2.add:vv:v",
    "f64x2.sub:vv:v",
    "f64x2.mul:vv:v",
    "f64x2.div:vv:v",
    "f64x2.max:vv:v",
    "f64x2.pmin:vv:v",
    "f64x2.pmax:vv:v",
    "f64x2.eq:vv:v",
    "f64x2.ne:vv:v",
    "f64x2.gt:vv:v",
    "f64x2.le:vv:v",
    "f64x2.ge:vv:v",
    "f64x2.neg:v:v",
    "f64x2.abs:v:v",
    "f64x2.ceil:v:v",
    "f64x2.floor:v:v",
    "f64x2.trunc:v:v",
    "f64x2.convert_low_i32x4_s:v:v",
    "v128.and:vv:v",
    "v128.andnot:vv:v",
    "v128.or:vv:v",
    "v128.xor:vv:v",
    "v128.not:v:v",
    "v128.load8_splat:i:v",
    "v128.load16_splat:i:v",
    "v128.load32_splat:i:v",
    "v128.load64_zero:i:v",
    "v128.load16x4_u:i:v",
    "v128.load32x2_s:i:v",
    "v128.load8_lane 3:iv:v",
    "v128.load64_lane offset=7 1:iv:v",
    "v128.store16_lane 5:iv:",
    "v128.store32_lane offset=65530 2:iv:",
    // The rest of the vector comparisons, extensions and loads, so every SIMD instruction is here.
    "i16x8.ne:vv:v",
    "i16x8.lt_s:vv:v",
    "i16x8.gt_s:vv:v",
    "i16x8.gt_u:vv:v",
    "i16x8.le_s:vv:v",
    "i16x8.le_u:vv:v",
    "i16x8.ge_u:vv:v",
    "i32x4.ne:vv:v",
    "i32x4.lt_u:vv:v",
    "i32x4.gt_s:vv:v",
    "i32x4.le_s:vv:v",
    "i32x4.ge_s:vv:v",
    "i32x4.ge_u:vv:v",
    "i16x8.extadd_pairwise_i8x16_s:v:v",
    "i16x8.extmul_low_i8x16_u:vv:v",
    "i16x8.extmul_high_i8x16_s:vv:v",
    "i32x4.extend_low_i16x8_s:v:v",
    "i32x4.extend_high_i16x8_u:v:v",
    "i32x4.extmul_low_i16x8_s:vv:v",
    "i32x4.extmul_high_i16x8_u:vv:v",
    "i64x2.extmul_low_i32x4_u:vv:v",
    "i64x2.extmul_high_i32x4_s:vv:v",
    "v128.load8x8_u:i:v",
    "v128.load16x4_s:i:v",
    "v128.load32x2_u:i:v",
    "v128.load16_lane 7:iv:v",
    "v128.load32_lane offset=3 0:iv:v",
    "v128.store8_lane 15:iv:",
    "v128.store64_lane 1:iv:",
    "i64.load offset=65529:i:I",
    "i32.store16 offset=1 align=1:ii:",
    "f64.store offset=65528:iF:",
];

fn ty(c: char) -> Ty {
    match c {
        'i' => Ty::I32,
        'I' => Ty::I64,
        'f' => Ty::F32,
        'F' => Ty::F64,
        _ => Ty::V128,
    }
}

fn wat_ty(t: Ty) -> &'static str {
    match t {
        Ty::I32 => "i32",
        Ty::I64 => "i64",
        Ty::F32 => "f32",
        Ty::F64 => "f64",
        _ => "v128",
    }
}

/// The instruction's parts: text, parameters, results.
pub fn parse(spec: &str) -> (&str, Vec<Ty>, Vec<Ty>) {
    let mut parts = spec.split(':');
    let op = parts.next().unwrap_or_default();
    let params = parts.next().unwrap_or_default().chars().map(ty).collect();
    let results = parts.next().unwrap_or_default().chars().map(ty).collect();
    (op, params, results)
}

/// The module for one instruction.
pub fn module_text(spec: &str) -> String {
    let (op, params, results) = parse(spec);
    let params_text: Vec<&str> = params.iter().map(|&t| wat_ty(t)).collect();
    let results_text: Vec<&str> = results.iter().map(|&t| wat_ty(t)).collect();
    let gets: String = (0..params.len()).map(|i| format!("local.get {i} ")).collect();
    let mut data = String::new();
    for b in 0..=255u8 {
        data.push_str(&format!("\\{b:02x}"));
    }
    format!(
        "(module (memory (export \"mem\") 1 1) (data (i32.const 0) \"{data}\") \
         (func (export \"f\") (param {}) (result {}) {gets}{op}))",
        params_text.join(" "),
        results_text.join(" ")
    )
}

/// Whether two results of an instruction agree: equal, or both NaN (for scalars; vector lanes
/// are compared per float lane only for float-shaped instructions, see [`lanes_agree`]).
fn values_agree(op: &str, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x == y || (f32::from_bits(*x).is_nan() && f32::from_bits(*y).is_nan()),
        (Value::F64(x), Value::F64(y)) => x == y || (f64::from_bits(*x).is_nan() && f64::from_bits(*y).is_nan()),
        (Value::V128(x), Value::V128(y)) => x == y || lanes_agree(op, *x, *y),
        (a, b) => a == b,
    }
}

/// Float-lane vector results agree when each lane is equal or both lanes are NaN.
fn lanes_agree(op: &str, x: u128, y: u128) -> bool {
    let (xb, yb) = (x.to_le_bytes(), y.to_le_bytes());
    if op.starts_with("f32x4") || op.starts_with("f64x2.demote") || op.starts_with("f32x4.demote") {
        xb.chunks(4).zip(yb.chunks(4)).all(|(p, q)| {
            let (p, q) = (f32::from_le_bytes(p.try_into().unwrap()), f32::from_le_bytes(q.try_into().unwrap()));
            p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())
        })
    } else if op.starts_with("f64x2") {
        xb.chunks(8).zip(yb.chunks(8)).all(|(p, q)| {
            let (p, q) = (f64::from_le_bytes(p.try_into().unwrap()), f64::from_le_bytes(q.try_into().unwrap()));
            p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())
        })
    } else {
        false
    }
}

fn outcomes_agree(op: &str, a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Outcome::Returned(x), Outcome::Returned(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_agree(op, p, q))
        }
        (a, b) => a == b,
    }
}

/// One instruction (chosen by the input) under one kiln configuration (chosen by the input),
/// called up to 16 times with arguments from the input.
pub fn target(data: &[u8]) -> TargetResult {
    let mut u = Unstructured::new(data);
    let skip = Ok(Stats { skipped: 1, ..Stats::default() });
    let Ok(index) = u.choose_index(INSTRUCTIONS.len()) else { return skip };
    let Ok(config) = kiln_config(&mut u, Profile::Wasmi, true) else { return skip };
    run_instruction(&mut u, INSTRUCTIONS[index], &config)
}

/// Compiles `spec`'s module on both engines and compares calls with arguments from `u`.
pub fn run_instruction(u: &mut Unstructured<'_>, spec: &str, config: &kiln::Config) -> TargetResult {
    let text = module_text(spec);
    let wasm =
        wat::parse_str(&text).map_err(|e| Finding::new(format!("{spec}: bad module text: {e}\n{text}"), None))?;
    let (op, params, results) = parse(spec);
    let fail = |m: String| Finding::new(format!("{spec}: {m}"), Some(&wasm));
    let engine = crate::differential::engine(config).map_err(|e| fail(format!("Engine::new: {e:?}")))?;
    let module = kiln::Module::new(&engine, &wasm).map_err(|e| fail(format!("kiln rejected it: {e:?}")))?;
    let mut k = KilnSide::new(&engine, &module, true).map_err(|o| fail(format!("kiln instantiation: {o:?}")))?;
    let mut w = match WasmiSide::new(&wasm) {
        Ok(Ok(w)) => w,
        Ok(Err(o)) => return Err(fail(format!("wasmi instantiation: {o:?}"))),
        Err(e) => return Err(fail(format!("wasmi rejected it: {e}"))),
    };
    let exports = crate::differential::Exports::of(&module);
    let mut stats = Stats { modules: 1, ..Stats::default() };
    for _ in 0..16 {
        let mut args = Vec::new();
        for (i, &t) in params.iter().enumerate() {
            // Addresses: near zero, near the end of the page, or anything.
            let is_address = i == 0 && (op.contains("load") || op.contains("store") || op.starts_with("memory."));
            let v = if is_address || (op.starts_with("memory.") && t == Ty::I32) {
                let Ok(choice) = u.int_in_range(0u8..=3) else { return Ok(stats) };
                let Ok(off) = u.int_in_range(0i32..=20) else { return Ok(stats) };
                match choice {
                    0 => Value::I32(off),
                    1 => Value::I32(65536 - off),
                    2 => Value::I32(-off),
                    _ => match Value::arbitrary(u, t) {
                        Ok(v) => v,
                        Err(_) => return Ok(stats),
                    },
                }
            } else {
                match Value::arbitrary(u, t) {
                    Ok(v) => v,
                    Err(_) => return Ok(stats),
                }
            };
            args.push(v);
        }
        let (ow, ok) = (w.call("f", &args, results.len()), k.call("f", &args, results.len()));
        if !outcomes_agree(op, &ow, &ok) {
            return Err(fail(format!("args {args:?}: wasmi gave {ow:?}, kiln gave {ok:?}")));
        }
        let (sw, sk) = (w.state(&exports), k.state(&exports));
        if let Some(d) = sw.diff(&sk) {
            return Err(fail(format!("args {args:?} -> {ok:?}: memory differs (wasmi vs kiln): {d}")));
        }
        stats.checked += 1;
    }
    Ok(stats)
}
