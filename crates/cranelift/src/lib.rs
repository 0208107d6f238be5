//! WebAssembly function bodies to native code, through Cranelift.
//!
//! `kiln-cranelift` translates the defined functions of a validated core module (described by a
//! [`kiln_environ::ModuleInfo`]) into Cranelift IR, compiles them for the host, and links them into
//! one position-independent code blob together with the trampolines the runtime needs:
//!
//! * one *array-to-wasm* trampoline per module type, through which the host calls wasm with its
//!   arguments and results in a `[ValRaw]` buffer, and
//! * *wasm-to-host* trampolines ([`Compiler::compile_host_trampoline`]) through which wasm calls a
//!   host function's array-call shim.
//!
//! The crate knows nothing about how code is executed beyond the layouts and contracts that
//! `kiln-environ` defines ([`kiln_environ::VMOffsets`], [`kiln_environ::Trap`],
//! [`kiln_environ::Builtin`]): it produces bytes plus metadata (trap table, address map, builtin
//! relocations), and the runtime maps them. It contains no `unsafe` code and must never gain any.
//!
//! ```
//! use kiln_cranelift::{Compiler, CompilerOptions};
//! use kiln_environ::ModuleInfo;
//!
//! // (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
//! let wasm = [
//!     0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f,
//!     0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x07, 0x07, 0x01, 0x03, b'a', b'd', b'd', 0x00, 0x00,
//!     0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,
//! ];
//! let info = ModuleInfo::parse(&wasm)?;
//! let compiler = Compiler::new(&CompilerOptions::default())?;
//! let code = compiler.compile_module(&info, &wasm)?;
//! assert_eq!(code.functions.len(), 1);
//! assert!(code.array_to_wasm[0].is_some());
//! # anyhow::Ok(())
//! ```

#![forbid(unsafe_code)]

mod link;
mod trampolines;
mod translate;

#[cfg(test)]
mod tests;

use anyhow::{Context as _, Result, anyhow, bail};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, AbiParam, ArgumentPurpose, Signature, TrapCode, types};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use kiln_environ::{ModuleInfo, Trap, WasmFuncType, WasmValType};
use rayon::prelude::*;

pub use link::CompiledCode;

/// How much Cranelift optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OptLevel {
    /// No optimisation.
    None,
    /// Optimise for speed.
    #[default]
    Speed,
    /// Optimise for speed and size.
    SpeedAndSize,
}

/// Options of a [`Compiler`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompilerOptions {
    /// Cranelift optimisation level.
    pub opt_level: OptLevel,
    /// When true, 32-bit memories rely on a 4 GiB reservation plus a 4 GiB guard region and compiled
    /// code performs no bounds checks; when false, every access is checked explicitly against the
    /// memory's current length.
    pub guard_pages: bool,
    /// With explicit bounds checks, also mask the address of an out-of-bounds access to null so that
    /// speculative execution cannot read out of bounds. Ignored when `guard_pages` is true.
    pub spectre_guards: bool,
    /// Count executed operators in the store context's `fuel_consumed` and trap with
    /// `Trap::OutOfFuel` at function entries and loop headers once it is no longer negative.
    pub consume_fuel: bool,
    /// At function entries and loop headers, trap with `Trap::Interrupt` once the engine's epoch
    /// counter reaches the store's deadline.
    pub epoch_interruption: bool,
    /// Give every relaxed SIMD operator the result of the spec's deterministic profile (the same on
    /// every host) instead of the host's fastest allowed result.
    pub relaxed_simd_deterministic: bool,
}

impl Default for CompilerOptions {
    fn default() -> Self {
        CompilerOptions {
            opt_level: OptLevel::Speed,
            guard_pages: true,
            spectre_guards: true,
            consume_fuel: false,
            epoch_interruption: false,
            relaxed_simd_deterministic: false,
        }
    }
}

/// Compiles wasm modules and trampolines for the host.
pub struct Compiler {
    isa: OwnedTargetIsa,
    options: CompilerOptions,
}

// The ISA is shared between compilation threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Compiler>();
};

impl Compiler {
    /// Creates a compiler for the host machine.
    pub fn new(options: &CompilerOptions) -> Result<Compiler> {
        let mut flags = settings::builder();
        let opt = match options.opt_level {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        };
        let verifier = if cfg!(debug_assertions) { "true" } else { "false" };
        for (name, value) in [
            ("opt_level", opt),
            ("preserve_frame_pointers", "true"),
            ("enable_probestack", "true"),
            ("probestack_strategy", "inline"),
            ("unwind_info", "false"),
            ("enable_verifier", verifier),
            ("is_pic", "false"),
            ("enable_multi_ret_implicit_sret", "true"),
        ] {
            flags.set(name, value).with_context(|| format!("cannot set Cranelift flag `{name}`"))?;
        }
        let isa_builder = cranelift_native::builder().map_err(|e| anyhow!("host machine is not supported: {e}"))?;
        let isa = isa_builder.finish(settings::Flags::new(flags)).context("cannot configure Cranelift for the host")?;
        if isa.pointer_bytes() != kiln_environ::POINTER_SIZE {
            bail!("kiln supports 64-bit hosts only");
        }
        Ok(Compiler { isa, options: options.clone() })
    }

    /// The target ISA.
    pub fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    /// The options this compiler was created with.
    pub fn options(&self) -> &CompilerOptions {
        &self.options
    }

    /// Compiles every defined function of a module plus one array-to-wasm trampoline per type.
    pub fn compile_module(&self, info: &ModuleInfo, wasm: &[u8]) -> Result<CompiledCode> {
        let env = translate::ModuleEnv::new(info, wasm, &self.options, &*self.isa);
        let functions = (0..info.num_defined_funcs())
            .into_par_iter()
            .map_init(FunctionBuilderContext::new, |fctx, index| {
                let mut ctx = cranelift_codegen::Context::new();
                translate::translate_function(&env, index, &mut ctx.func, fctx)
                    .and_then(|()| self.finish(&mut ctx))
                    .with_context(|| {
                        let f = info.func_index(index);
                        format!("failed to compile function {f} (`{}`)", info.func_display_name(f))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let trampolines = (0..info.types.len())
            .into_par_iter()
            .map_init(FunctionBuilderContext::new, |fctx, ty| {
                let Some(func_ty) = info.types[ty].as_func() else { return Ok(None) };
                let mut ctx = cranelift_codegen::Context::new();
                trampolines::array_to_wasm(self, func_ty, &mut ctx.func, fctx)
                    .and_then(|()| self.finish(&mut ctx))
                    .map(Some)
                    .with_context(|| format!("failed to compile the array-to-wasm trampoline of type {ty}"))
            })
            .collect::<Result<Vec<_>>>()?;
        link::link(functions, trampolines, None)
    }

    /// CLIF text of one defined function, as translated (before Cranelift's optimisations).
    pub fn clif_text(&self, info: &ModuleInfo, wasm: &[u8], defined_index: u32) -> Result<String> {
        if defined_index >= info.num_defined_funcs() {
            bail!("no defined function {defined_index}");
        }
        let env = translate::ModuleEnv::new(info, wasm, &self.options, &*self.isa);
        let mut func = ir::Function::new();
        let mut fctx = FunctionBuilderContext::new();
        translate::translate_function(&env, defined_index, &mut func, &mut fctx)?;
        Ok(func.display().to_string())
    }

    /// A wasm-to-host ("wasm_to_array") trampoline for a host function of signature `ty`.
    pub fn compile_host_trampoline(&self, ty: &WasmFuncType) -> Result<CompiledCode> {
        self.compile_standalone_trampoline(ty, trampolines::wasm_to_array, "host trampoline")
    }

    /// A wasm-to-host trampoline for a host function of signature `ty` (at most one result) that
    /// calls the function's native shim with register arguments (see
    /// `kiln_environ::vmhost_func_context::NATIVE_CALL`).
    pub fn compile_native_host_trampoline(&self, ty: &WasmFuncType) -> Result<CompiledCode> {
        self.compile_standalone_trampoline(ty, trampolines::wasm_to_native, "native host trampoline")
    }

    /// A host-to-wasm trampoline for typed calls of signature `ty` (at most one result):
    /// `extern "C" fn(native_fn, callee_vmctx, caller_vmctx, params...) -> result`.
    pub fn compile_native_to_wasm_trampoline(&self, ty: &WasmFuncType) -> Result<CompiledCode> {
        self.compile_standalone_trampoline(ty, trampolines::native_to_wasm, "native-to-wasm trampoline")
    }

    /// Builds one trampoline for `ty` with `build` and links it alone into a `CompiledCode` as its
    /// host trampoline; `what` names it in errors.
    fn compile_standalone_trampoline(
        &self,
        ty: &WasmFuncType,
        build: fn(&Compiler, &WasmFuncType, &mut ir::Function, &mut FunctionBuilderContext) -> Result<()>,
        what: &str,
    ) -> Result<CompiledCode> {
        let mut ctx = cranelift_codegen::Context::new();
        let mut fctx = FunctionBuilderContext::new();
        build(self, ty, &mut ctx.func, &mut fctx)?;
        let compiled = self.finish(&mut ctx).with_context(|| format!("failed to compile the {what} for {ty}"))?;
        link::link(Vec::new(), Vec::new(), Some(compiled))
    }

    /// A description of the target and of every setting that affects generated code.
    pub fn fingerprint(&self) -> String {
        let mut s = format!("kiln-cranelift {} {}", env!("CARGO_PKG_VERSION"), self.isa.triple());
        s.push_str(&format!(" {}", self.isa.flags()).replace('\n', " "));
        for flag in self.isa.isa_flags() {
            s.push_str(&format!(" {flag}"));
        }
        s.push_str(&format!(
            " guard_pages={} spectre_guards={} consume_fuel={} epoch_interruption={} relaxed_simd_deterministic={}",
            self.options.guard_pages,
            self.options.spectre_guards,
            self.options.consume_fuel,
            self.options.epoch_interruption,
            self.options.relaxed_simd_deterministic
        ));
        s
    }

    /// Compiles the function in `ctx` and extracts everything the linker needs.
    fn finish(&self, ctx: &mut cranelift_codegen::Context) -> Result<link::CompiledFunction> {
        let mut plane = ControlPlane::default();
        let names = ctx.func.params.user_named_funcs().clone();
        let compiled = ctx.compile(&*self.isa, &mut plane).map_err(|e| {
            anyhow!("Cranelift error: {}", cranelift_codegen::print_errors::pretty_error(e.func, e.inner))
        })?;
        let buffer = &compiled.buffer;
        let mut relocs = Vec::new();
        for r in buffer.relocs() {
            let target = match &r.target {
                cranelift_codegen::FinalizedRelocTarget::ExternalName(ir::ExternalName::User(name)) => {
                    let name = &names[*name];
                    if name.namespace != 0 {
                        bail!("unexpected relocation target {name:?}");
                    }
                    link::RelocTarget::Function(name.index)
                }
                cranelift_codegen::FinalizedRelocTarget::ExternalName(ir::ExternalName::LibCall(libcall)) => {
                    link::RelocTarget::Builtin(link::libcall_builtin(*libcall)?)
                }
                other => bail!("unexpected relocation target {other:?}"),
            };
            relocs.push(link::Reloc { offset: r.offset, kind: r.kind, target, addend: r.addend });
        }
        let traps =
            buffer.traps().iter().map(|t| Ok((t.offset, trap_from_code(t.code)?))).collect::<Result<Vec<_>>>()?;
        let address_map = buffer
            .get_srclocs_sorted()
            .iter()
            .filter(|s| !s.loc.is_default())
            .map(|s| (s.start, s.loc.bits()))
            .collect();
        let mut handlers = Vec::new();
        for site in buffer.call_sites() {
            for handler in site.exception_handlers {
                match handler {
                    cranelift_codegen::FinalizedMachExceptionHandler::Default(target) => {
                        let frame = site.frame_offset.context("try_call site without a frame offset")?;
                        handlers.push((site.ret_addr, *target, frame));
                    }
                    other => bail!("unexpected exception handler {other:?}"),
                }
            }
        }
        let stack_maps = buffer
            .user_stack_maps()
            .iter()
            .map(|(ret, _span, map)| (*ret, map.entries().map(|(_ty, offset)| offset).collect()))
            .collect();
        let alignment = buffer.alignment.max(self.isa.function_alignment().preferred).max(16);
        let code = buffer.data().to_vec();
        ctx.clear();
        Ok(link::CompiledFunction { code, alignment, relocs, traps, address_map, handlers, stack_maps })
    }
}

/// The Cranelift trap code kiln uses for `trap`.
pub(crate) fn trap_code(trap: Trap) -> TrapCode {
    match trap {
        Trap::StackOverflow => TrapCode::STACK_OVERFLOW,
        Trap::MemoryOutOfBounds => TrapCode::HEAP_OUT_OF_BOUNDS,
        Trap::IntegerOverflow => TrapCode::INTEGER_OVERFLOW,
        Trap::IntegerDivisionByZero => TrapCode::INTEGER_DIVISION_BY_ZERO,
        Trap::BadConversionToInteger => TrapCode::BAD_CONVERSION_TO_INTEGER,
        other => TrapCode::unwrap_user(other.as_u8() + 1),
    }
}

/// Inverse of [`trap_code`].
pub(crate) fn trap_from_code(code: TrapCode) -> Result<Trap> {
    Trap::ALL.into_iter().find(|t| trap_code(*t) == code).ok_or_else(|| anyhow!("unknown trap code {code}"))
}

/// The Cranelift type of a wasm value.
pub(crate) fn value_type(ty: WasmValType) -> Result<ir::Type> {
    Ok(match ty {
        WasmValType::I32 => types::I32,
        WasmValType::I64 => types::I64,
        WasmValType::F32 => types::F32,
        WasmValType::F64 => types::F64,
        WasmValType::Ref(_) => types::I64,
        // One canonical vector type; SIMD operators bitcast to their lane types.
        WasmValType::V128 => types::I8X16,
    })
}

/// The signature of a wasm function of type `ty`: `(callee_vmctx, caller_vmctx, params...) ->
/// results`, in the `tail` calling convention.
pub(crate) fn wasm_signature(ty: &WasmFuncType) -> Result<Signature> {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::special(types::I64, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(types::I64));
    for p in ty.params.iter() {
        sig.params.push(AbiParam::new(value_type(*p)?));
    }
    for r in ty.results.iter() {
        sig.returns.push(AbiParam::new(value_type(*r)?));
    }
    Ok(sig)
}
