//! Trampolines between the host's array calling convention and wasm's.

use crate::{Compiler, value_type, wasm_signature};
use anyhow::Result;
use cranelift_codegen::ir::{
    self, AbiParam, Endianness, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind, types::I64,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kiln_environ::{VAL_RAW_SIZE, VMOffsets, WasmFuncType, vmhost_func_context, vmstore_context};

/// Flags for accesses to a `[ValRaw]` buffer: valid memory, little-endian.
fn val_raw_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap().with_endianness(Endianness::Little)
}

/// Stores the wasm caller's frame pointer and return address in the store context, where the
/// runtime starts the backtrace of an error raised by the host function.
fn record_exit_frame(b: &mut FunctionBuilder<'_>, caller_vmctx: ir::Value) {
    let trusted = MemFlagsData::trusted();
    let store_ctx = b.ins().load(I64, trusted.with_readonly(), caller_vmctx, VMOffsets::STORE_CONTEXT as i32);
    let fp = b.ins().get_frame_pointer(I64);
    let caller_fp = b.ins().load(I64, trusted, fp, 0);
    b.ins().store(trusted, caller_fp, store_ctx, vmstore_context::LAST_WASM_EXIT_FP as i32);
    let pc = b.ins().get_return_address(I64);
    b.ins().store(trusted, pc, store_ctx, vmstore_context::LAST_WASM_EXIT_PC as i32);
    // The caller's stack pointer at the call: above this frame's saved FP and return address.
    let caller_sp = b.ins().iadd_imm_s(fp, 16);
    b.ins().store(trusted, caller_sp, store_ctx, vmstore_context::LAST_WASM_EXIT_SP as i32);
}

/// The C signature `fn(pointers...)` with `pointers` pointer-sized arguments and no results.
fn pointers_signature(compiler: &Compiler, pointers: usize) -> Signature {
    let mut sig = Signature::new(compiler.isa().default_call_conv());
    sig.params.extend(std::iter::repeat_n(AbiParam::new(I64), pointers));
    sig
}

/// The C signature `fn(pointers..., params...) -> results` of `ty` with `pointers` leading
/// pointer-sized arguments (contexts, function pointers).
fn native_signature(compiler: &Compiler, pointers: usize, ty: &WasmFuncType) -> Result<Signature> {
    let mut sig = pointers_signature(compiler, pointers);
    for p in ty.params.iter() {
        sig.params.push(AbiParam::new(value_type(*p)?));
    }
    for r in ty.results.iter() {
        sig.returns.push(AbiParam::new(value_type(*r)?));
    }
    Ok(sig)
}

/// Native calls pass at most one result in registers; `what` names the kind of call for the error.
fn check_at_most_one_result(ty: &WasmFuncType, what: &str) -> Result<()> {
    if ty.results.len() > 1 {
        anyhow::bail!("{what} return at most one value, {ty} has more");
    }
    Ok(())
}

/// The byte offset of slot `index` in a `[ValRaw]` buffer.
fn val_raw_offset(index: usize) -> i32 {
    (index as u32 * VAL_RAW_SIZE) as i32
}

/// Fills `func` (its signature already set) with a single entry block: `body` emits the code
/// from the function's parameters and returns the values to return.
fn build_single_block(
    compiler: &Compiler,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    body: impl FnOnce(&mut FunctionBuilder<'_>, &[ir::Value]) -> Result<Vec<ir::Value>>,
) -> Result<()> {
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let results = body(&mut b, &params)?;
    b.ins().return_(&results);
    b.finalize(compiler.isa().frontend_config());
    Ok(())
}

/// Emits `call_indirect callee(args)` with signature `sig` and returns the call's results.
fn call_indirect_results(
    b: &mut FunctionBuilder<'_>,
    sig: Signature,
    callee: ir::Value,
    args: &[ir::Value],
) -> Vec<ir::Value> {
    let sig_ref = b.import_signature(sig);
    let call = b.ins().call_indirect(sig_ref, callee, args);
    b.inst_results(call).to_vec()
}

/// `extern "C" fn(native_fn, callee_vmctx, caller_vmctx, values: *mut ValRaw)`: loads the
/// arguments from `values`, calls the wasm function `native_fn`, stores its results to `values`.
pub(crate) fn array_to_wasm(
    compiler: &Compiler,
    ty: &WasmFuncType,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<()> {
    let wasm_sig = wasm_signature(ty)?;
    func.signature = pointers_signature(compiler, 4);
    build_single_block(compiler, func, fctx, |b, params| {
        let &[native_fn, callee_vmctx, caller_vmctx, values] = params else { unreachable!() };
        let mut args = vec![callee_vmctx, caller_vmctx];
        for (i, p) in ty.params.iter().enumerate() {
            args.push(b.ins().load(value_type(*p)?, val_raw_flags(), values, val_raw_offset(i)));
        }
        let results = call_indirect_results(b, wasm_sig, native_fn, &args);
        for (i, r) in results.into_iter().enumerate() {
            b.ins().store(val_raw_flags(), r, values, val_raw_offset(i));
        }
        Ok(Vec::new())
    })
}

/// A wasm function of type `ty` that calls a host function's array-call shim: records the exit
/// frame for backtraces, spills the arguments to a `[ValRaw]` buffer on the stack, calls
/// `array_call(callee_vmctx, caller_vmctx, values, len)` and returns the results from the buffer.
pub(crate) fn wasm_to_array(
    compiler: &Compiler,
    ty: &WasmFuncType,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<()> {
    func.signature = wasm_signature(ty)?;
    let result_types = ty.results.iter().map(|t| value_type(*t)).collect::<Result<Vec<_>>>()?;
    let len = ty.params.len().max(ty.results.len()).max(1) as u32;
    build_single_block(compiler, func, fctx, |b, params| {
        let (callee_vmctx, caller_vmctx, args) = (params[0], params[1], &params[2..]);
        record_exit_frame(b, caller_vmctx);

        let slot = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, len * VAL_RAW_SIZE, 4));
        let values = b.ins().stack_addr(I64, slot, 0);
        for (i, arg) in args.iter().enumerate() {
            b.ins().store(val_raw_flags(), *arg, values, val_raw_offset(i));
        }

        let host_sig = b.import_signature(pointers_signature(compiler, 4));
        let host_fn = b.ins().load(I64, MemFlagsData::trusted(), callee_vmctx, vmhost_func_context::ARRAY_CALL as i32);
        let len = b.ins().iconst(I64, i64::from(len));
        b.ins().call_indirect(host_sig, host_fn, &[callee_vmctx, caller_vmctx, values, len]);

        let mut results = Vec::with_capacity(result_types.len());
        for (i, t) in result_types.into_iter().enumerate() {
            results.push(b.ins().load(t, val_raw_flags(), values, val_raw_offset(i)));
        }
        Ok(results)
    })
}

/// A wasm function of type `ty` (at most one result) that calls a host function's native shim
/// `extern "C" fn(callee_vmctx, caller_vmctx, params...) -> result` with its arguments as they
/// are: no buffer. Records the exit frame like [`wasm_to_array`].
pub(crate) fn wasm_to_native(
    compiler: &Compiler,
    ty: &WasmFuncType,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<()> {
    check_at_most_one_result(ty, "native host calls")?;
    func.signature = wasm_signature(ty)?;
    let native_sig = native_signature(compiler, 2, ty)?;
    build_single_block(compiler, func, fctx, |b, params| {
        let (callee_vmctx, caller_vmctx) = (params[0], params[1]);
        record_exit_frame(b, caller_vmctx);
        let flags = MemFlagsData::trusted().with_readonly();
        let native_fn = b.ins().load(I64, flags, callee_vmctx, vmhost_func_context::NATIVE_CALL as i32);
        Ok(call_indirect_results(b, native_sig, native_fn, params))
    })
}

/// `extern "C" fn(native_fn, callee_vmctx, caller_vmctx, params...) -> result` (at most one
/// result): calls the wasm function `native_fn` with the arguments in registers, for typed calls
/// from the host that need no `[ValRaw]` buffer.
pub(crate) fn native_to_wasm(
    compiler: &Compiler,
    ty: &WasmFuncType,
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<()> {
    check_at_most_one_result(ty, "native calls")?;
    let wasm_sig = wasm_signature(ty)?;
    func.signature = native_signature(compiler, 3, ty)?;
    build_single_block(compiler, func, fctx, |b, params| {
        Ok(call_indirect_results(b, wasm_sig, params[0], &params[1..]))
    })
}
