//! FACT, the Fused Adapter Compiler of Trampolines: turns "component instance A calls a function that
//! component instance B lifted" into core wasm.
//!
//! For each [`Adapter`] it emits one core function with the caller's *lowered* signature that lifts
//! the caller's arguments (flat values or the caller's memory), lowers them into the callee (flat
//! values, or the callee's memory allocated with the callee's `realloc`), calls the callee's core
//! function, moves the results back the same way in the other direction and finally runs the
//! callee's `post-return`. It enforces the Canonical ABI's checks (alignment, bounds, discriminants,
//! `char` values, string encodings, lengths) and the `may_leave` / `may_enter` flags of both
//! instances, trapping through an imported function with a precise [`kiln_environ::Trap`] code.
//! Strings are transcoded in wasm between every pair of the three string encodings.
//!
//! All adapters passed to one [`compile`] call go into one core module, described by
//! [`AdapterModule`]; the runtime instantiates it with the imports listed there, in order.
//!
//! Resource handles (`own` / `borrow`) are moved between the two instances' handle tables by
//! imported runtime intrinsics ([`AdapterImport::ResourceTransferOwn`] and friends), called with
//! the source and destination instances and the run-time resource as constants; an adapter whose
//! parameters hold borrows opens a call scope before lowering them and closes it (checking that
//! every borrow the callee received was dropped) after `post-return`.
//!
//! This crate must not: execute anything, know about the runtime's data structures, contain
//! `unsafe`, or handle the async ABI.

mod adapter;
mod strings;
#[cfg(test)]
mod tests;

use anyhow::{Result, bail};
use kiln_environ::component::{Context, FuncType, ValueType, flatten_func_in};
use std::collections::HashMap;
use std::hash::Hash;
use wasm_encoder::{
    CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection, GlobalType, ImportSection,
    MemoryType, Module, TypeSection, ValType,
};

pub use kiln_environ::component::{FlatType, PtrSize, StringEncoding};

/// Bit of an instance's flags global: the instance may call out (clear inside `realloc` and
/// `post-return`).
pub const FLAG_MAY_LEAVE: i32 = 1;
/// Bit of an instance's flags global: the instance may be entered (clear while one of its lifted
/// functions runs, and forever after a trap).
pub const FLAG_MAY_ENTER: i32 = 2;
/// Bit of an instance's flags global: the instance's context slots (`context.get/set`) belong to
/// the running task. Cleared, with [`FLAG_MAY_ENTER`], whenever a task enters the instance, so a
/// new task's slots read as 0 without the adapter touching them.
pub const FLAG_CONTEXT_LIVE: i32 = 4;

/// The canonical options of one side of an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterOptions<D> {
    /// Runtime component instance index (selects the flags global).
    pub instance: u32,
    /// How this side's strings are encoded.
    pub string_encoding: StringEncoding,
    /// The instance's memory (a core memory definition key).
    pub memory: Option<D>,
    /// Core function `(old_ptr, old_size, align, new_size) -> ptr`, all of the pointer type.
    pub realloc: Option<D>,
    /// The pointer size of `memory` (64-bit memories: the `cm64` feature).
    pub ptr: PtrSize,
    /// `memory`'s custom page size, as a power of two (`None`: 64 KiB pages).
    pub page_size_log2: Option<u32>,
}

/// One fused call: a `canon lower` (the caller) of a `canon lift` (the callee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter<D> {
    /// Export name of the adapter function.
    pub name: String,
    /// The component-level type of the function.
    pub ty: FuncType,
    /// The caller's `canon lower` options.
    pub lower: AdapterOptions<D>,
    /// The callee's `canon lift` options.
    pub lift: AdapterOptions<D>,
    /// The core function the callee lifted (signature `flatten_func(ty, Context::Lift)`).
    pub callee: D,
    /// The callee's `post-return` (parameters: the callee's core results).
    pub post_return: Option<D>,
}

/// A core function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoreSignature {
    /// Parameter types.
    pub params: Vec<FlatType>,
    /// Result types.
    pub results: Vec<FlatType>,
}

/// One import of an adapter module, in the order of the module's import section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterImport<D> {
    /// A memory (imported with type `(memory 0)` or `(memory i64 0)`, so any memory of that
    /// index type matches).
    Memory(D),
    /// A core function of this signature: a callee, a `realloc` or a `post-return`.
    Func(D, CoreSignature),
    /// The mutable `i32` flags global of runtime component instance N ([`FLAG_MAY_LEAVE`],
    /// [`FLAG_MAY_ENTER`]).
    Flags(u32),
    /// A function `(param i32)` that raises `kiln_environ::Trap::from_u8(code)` and never returns.
    Trap,
    /// `(handle, from_instance, to_instance, resource) -> handle`: removes an owned handle from
    /// `from_instance`'s table (trapping if it is not an unlent `own` of `resource`) and adds it
    /// to `to_instance`'s table.
    ResourceTransferOwn,
    /// `(handle, from_instance, to_instance, resource) -> handle-or-rep`: lends the handle of
    /// `from_instance` to the current call; the callee gets the rep if it implements `resource`,
    /// else a borrow handle that belongs to the call scope.
    ResourceTransferBorrow,
    /// `(callee_instance)`: opens a call scope for borrows.
    ResourceEnterCall,
    /// `()`: closes the innermost call scope: traps if the callee still holds borrows, ends the
    /// caller's lends.
    ResourceExitCall,
}

/// A compiled adapter module.
#[derive(Debug, Clone)]
pub struct AdapterModule<D> {
    /// The core wasm binary (needs multi-memory when it imports more than one memory).
    pub wasm: Vec<u8>,
    /// The module's imports, in order; the runtime links them by position.
    pub imports: Vec<AdapterImport<D>>,
    /// Export names of the adapter functions, in the order of the adapters given to [`compile`].
    pub exports: Vec<String>,
}

/// The resolved module-level indices of one side of an adapter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Side {
    pub instance: u32,
    pub flags: u32,
    pub memory: Option<u32>,
    pub realloc: Option<u32>,
    pub encoding: StringEncoding,
    /// The pointer size of `memory`.
    pub ptr: PtrSize,
    /// `memory`'s page size, as a power of two.
    pub page_log2: u32,
}

/// The resolved module-level indices an adapter body refers to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    pub caller: Side,
    pub callee: Side,
    pub callee_func: u32,
    pub post_return: Option<u32>,
    pub trap_func: u32,
    pub resources: Option<ResourceFuncs>,
}

/// Function indices of the resource intrinsics in an adapter module.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResourceFuncs {
    pub transfer_own: u32,
    pub transfer_borrow: u32,
    pub enter_call: u32,
    pub exit_call: u32,
}

pub(crate) fn val_type(t: FlatType) -> ValType {
    match t {
        FlatType::I32 => ValType::I32,
        FlatType::I64 => ValType::I64,
        FlatType::F32 => ValType::F32,
        FlatType::F64 => ValType::F64,
    }
}

fn realloc_signature(ptr: PtrSize) -> CoreSignature {
    CoreSignature { params: vec![ptr.flat(); 4], results: vec![ptr.flat()] }
}

struct Builder<D> {
    imports: Vec<AdapterImport<D>>,
    import_section: ImportSection,
    types: TypeSection,
    type_map: HashMap<CoreSignature, u32>,
    memories: HashMap<D, u32>,
    funcs: HashMap<(D, CoreSignature), u32>,
    flags: HashMap<u32, u32>,
    num_funcs: u32,
    num_memories: u32,
    num_globals: u32,
    resource_funcs: Option<ResourceFuncs>,
}

impl<D: Clone + Eq + Hash> Builder<D> {
    fn intrinsic(&mut self, import: AdapterImport<D>, name: &str, sig: CoreSignature) -> u32 {
        let ty = self.type_index(&sig);
        let i = self.num_funcs;
        self.num_funcs += 1;
        self.import_section.import("resource", name, EntityType::Function(ty));
        self.imports.push(import);
        i
    }

    /// The resource intrinsics, imported on first use.
    fn resource_funcs(&mut self) -> ResourceFuncs {
        if let Some(funcs) = self.resource_funcs {
            return funcs;
        }
        let transfer = CoreSignature { params: vec![FlatType::I32; 4], results: vec![FlatType::I32] };
        let funcs = ResourceFuncs {
            transfer_own: self.intrinsic(AdapterImport::ResourceTransferOwn, "transfer-own", transfer.clone()),
            transfer_borrow: self.intrinsic(AdapterImport::ResourceTransferBorrow, "transfer-borrow", transfer),
            enter_call: self.intrinsic(
                AdapterImport::ResourceEnterCall,
                "enter-call",
                CoreSignature { params: vec![FlatType::I32], results: Vec::new() },
            ),
            exit_call: self.intrinsic(
                AdapterImport::ResourceExitCall,
                "exit-call",
                CoreSignature { params: Vec::new(), results: Vec::new() },
            ),
        };
        self.resource_funcs = Some(funcs);
        funcs
    }

    fn type_index(&mut self, sig: &CoreSignature) -> u32 {
        if let Some(&i) = self.type_map.get(sig) {
            return i;
        }
        let i = self.type_map.len() as u32;
        self.types.ty().function(sig.params.iter().map(|&t| val_type(t)), sig.results.iter().map(|&t| val_type(t)));
        self.type_map.insert(sig.clone(), i);
        i
    }

    fn func(&mut self, d: &D, sig: CoreSignature) -> u32 {
        let key = (d.clone(), sig);
        if let Some(&i) = self.funcs.get(&key) {
            return i;
        }
        let ty = self.type_index(&key.1);
        let i = self.num_funcs;
        self.num_funcs += 1;
        self.import_section.import("func", &i.to_string(), EntityType::Function(ty));
        self.imports.push(AdapterImport::Func(key.0.clone(), key.1.clone()));
        self.funcs.insert(key, i);
        i
    }

    fn memory(&mut self, d: &D, ptr: PtrSize, page_size_log2: Option<u32>) -> u32 {
        if let Some(&i) = self.memories.get(d) {
            return i;
        }
        let i = self.num_memories;
        self.num_memories += 1;
        let ty = MemoryType { minimum: 0, maximum: None, memory64: ptr.is_64(), shared: false, page_size_log2 };
        self.import_section.import("memory", &i.to_string(), EntityType::Memory(ty));
        self.imports.push(AdapterImport::Memory(d.clone()));
        self.memories.insert(d.clone(), i);
        i
    }

    fn flags(&mut self, instance: u32) -> u32 {
        if let Some(&i) = self.flags.get(&instance) {
            return i;
        }
        let i = self.num_globals;
        self.num_globals += 1;
        let ty = GlobalType { val_type: ValType::I32, mutable: true, shared: false };
        self.import_section.import("flags", &instance.to_string(), EntityType::Global(ty));
        self.imports.push(AdapterImport::Flags(instance));
        self.flags.insert(instance, i);
        i
    }

    fn side(&mut self, opts: &AdapterOptions<D>, needs_memory: bool, needs_realloc: bool, what: &str) -> Result<Side> {
        if needs_memory && opts.memory.is_none() {
            bail!("adapter needs the {what}'s memory but its options have none");
        }
        if needs_realloc && opts.realloc.is_none() {
            bail!("adapter needs the {what}'s realloc but its options have none");
        }
        let flags = self.flags(opts.instance);
        let memory = opts.memory.as_ref().map(|m| self.memory(m, opts.ptr, opts.page_size_log2));
        let realloc = opts.realloc.as_ref().map(|r| self.func(r, realloc_signature(opts.ptr)));
        Ok(Side {
            instance: opts.instance,
            flags,
            memory,
            realloc,
            encoding: opts.string_encoding,
            ptr: opts.ptr,
            page_log2: opts.page_size_log2.unwrap_or(16),
        })
    }
}

/// Whether values of `ty` point into linear memory (strings and lists).
pub(crate) fn has_pointers(ty: &ValueType) -> bool {
    match ty {
        ValueType::String | ValueType::List(_) | ValueType::Map(..) => true,
        ValueType::FixedList(t, _) => has_pointers(t),
        ValueType::Record(_) | ValueType::Tuple(_) => ty.as_record_fields().unwrap().into_iter().any(has_pointers),
        ValueType::Variant(_) | ValueType::Option(_) | ValueType::Result { .. } => {
            ty.as_variant_cases().unwrap().into_iter().flatten().any(has_pointers)
        }
        _ => false,
    }
}

/// Compiles `adapters` into one core wasm module.
pub fn compile<D: Clone + Eq + Hash>(adapters: &[Adapter<D>]) -> Result<AdapterModule<D>> {
    let mut b = Builder {
        imports: Vec::new(),
        import_section: ImportSection::new(),
        types: TypeSection::new(),
        type_map: HashMap::new(),
        memories: HashMap::new(),
        funcs: HashMap::new(),
        flags: HashMap::new(),
        num_funcs: 0,
        num_memories: 0,
        num_globals: 0,
        resource_funcs: None,
    };
    let trap_func = b.func_trap();
    let mut resolved = Vec::with_capacity(adapters.len());
    for adapter in adapters {
        let ty = &adapter.ty;
        let resources = (ty.params.iter().any(|(_, t)| t.has_handles())
            || ty.result.as_ref().is_some_and(|t| t.has_handles()))
        .then(|| b.resource_funcs());
        let lower = flatten_func_in(ty, Context::Lower, adapter.lower.ptr);
        let lift = flatten_func_in(ty, Context::Lift, adapter.lift.ptr);
        let params_ptrs = ty.params.iter().any(|(_, t)| has_pointers(t));
        let result_ptrs = ty.result.as_ref().is_some_and(has_pointers);
        let caller = b.side(
            &adapter.lower,
            params_ptrs || result_ptrs || lower.params_indirect || lower.results_indirect,
            result_ptrs,
            "caller",
        )?;
        let callee = b.side(
            &adapter.lift,
            params_ptrs || result_ptrs || lift.params_indirect || lift.results_indirect,
            params_ptrs || lift.params_indirect,
            "callee",
        )?;
        let callee_func =
            b.func(&adapter.callee, CoreSignature { params: lift.params.clone(), results: lift.results.clone() });
        let post_return = adapter
            .post_return
            .as_ref()
            .map(|p| b.func(p, CoreSignature { params: lift.results.clone(), results: Vec::new() }));
        resolved.push(Resolved { caller, callee, callee_func, post_return, trap_func, resources });
    }

    let mut functions = FunctionSection::new();
    let mut exports = ExportSection::new();
    let mut code = CodeSection::new();
    let mut names = Vec::new();
    for (i, (adapter, r)) in adapters.iter().zip(&resolved).enumerate() {
        let lower = flatten_func_in(&adapter.ty, Context::Lower, adapter.lower.ptr);
        let ty = b.type_index(&CoreSignature { params: lower.params.clone(), results: lower.results.clone() });
        functions.function(ty);
        let body = adapter::generate(&adapter.ty, r);
        let mut func = Function::new_with_locals_types(body.locals);
        for ins in &body.code {
            func.instruction(ins);
        }
        code.function(&func);
        exports.export(&adapter.name, ExportKind::Func, b.num_funcs + i as u32);
        names.push(adapter.name.clone());
    }

    let mut module = Module::new();
    module.section(&b.types);
    module.section(&b.import_section);
    module.section(&functions);
    module.section(&exports);
    module.section(&code);
    Ok(AdapterModule { wasm: module.finish(), imports: b.imports, exports: names })
}

impl<D: Clone + Eq + Hash> Builder<D> {
    fn func_trap(&mut self) -> u32 {
        let ty = self.type_index(&CoreSignature { params: vec![FlatType::I32], results: Vec::new() });
        let i = self.num_funcs;
        self.num_funcs += 1;
        self.import_section.import("trap", "trap", EntityType::Function(ty));
        self.imports.push(AdapterImport::Trap);
        i
    }
}
