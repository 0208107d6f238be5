//! [`Module`]: a validated and compiled core wasm module, ready to instantiate any number of times.

use crate::engine::Engine;
use crate::types::{ExportType, ExternType, ImportType};
use anyhow::{Context, Result};
use kiln_environ::{Builtin, ModuleInfo, SharedBytes, WasmHeapType, WasmValType};
use kiln_environ::{ConstOp, SegmentMode};
use kiln_runtime::{ArrayToWasmFn, CodeInfo, CodeMemory, CompactMap, FileMap, HandlerTable, MemoryImage, StackMaps};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// A compiled module. Cheap to clone.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    pub(crate) engine: Engine,
    pub(crate) info: Arc<ModuleInfo>,
    /// The bytes `info.data`'s ranges index into: the module binary when the module was compiled
    /// (component serialization stores adapter modules' binaries from here), the data of a
    /// precompiled file's passive and non-image segments when it was loaded.
    pub(crate) wasm: Arc<[u8]>,
    pub(crate) code: Arc<CodeMemory>,
    pub(crate) type_ids: Arc<[u32]>,
    /// The GC descriptor of each module type index (`None` for function types).
    pub(crate) gc_types: kiln_runtime::GcTypes,
    /// Entry trampoline of each module type index.
    pub(crate) array_to_wasm: Vec<Option<ArrayToWasmFn>>,
    /// Copy-on-write initial contents of each defined memory, where possible.
    pub(crate) memory_images: Arc<[Option<Arc<MemoryImage>>]>,
    /// Which data segments those images contain.
    pub(crate) data_in_image: Arc<[bool]>,
    /// The lazily initialised tables' contents (`kiln_runtime::lazy_table_images`), computed at
    /// the first instantiation.
    pub(crate) table_images: std::sync::OnceLock<kiln_runtime::TableImages>,
}

/// Builds a copy-on-write image for each defined memory whose active data segments all have
/// constant offsets inside its initial size (so initialising it can never trap). Sparse layouts,
/// where the image would be much larger than the data, are initialised by copying instead.
/// Per defined memory: its image, if any.
pub(crate) type MemoryImages = Vec<Option<Arc<MemoryImage>>>;

/// Where a module's machine code comes from.
#[derive(Clone)]
pub(crate) enum CodeSource<'a> {
    /// Bytes to copy into fresh code memory.
    Bytes(&'a [u8]),
    /// A range of a mapped precompiled file, published in place when possible; `what` is the
    /// message printed if a chunk of it turns out to be corrupt when first touched.
    File { map: Arc<FileMap>, range: Range<usize>, what: String },
}

/// Everything compiled for a module besides its description: the code and the tables the runtime
/// looks things up in.
#[derive(Clone)]
pub(crate) struct Parts<'a> {
    pub(crate) code: CodeSource<'a>,
    /// For precompiled code: the XXH64 of each chunk of the code, checked before it runs (see
    /// `kiln_runtime::code`). Freshly compiled code has none.
    pub(crate) hashes: Option<SharedBytes>,
    pub(crate) relocs: Vec<(u32, Builtin)>,
    pub(crate) functions: Vec<Range<u32>>,
    pub(crate) array_to_wasm: Vec<Option<u32>>,
    pub(crate) traps: CompactMap,
    pub(crate) address_map: CompactMap,
    pub(crate) handlers: HandlerTable,
    pub(crate) stack_maps: StackMaps,
}

fn memory_images(info: &ModuleInfo, wasm: &[u8]) -> Result<(MemoryImages, Vec<bool>)> {
    let defined = info.memories.len() - info.num_imported_memories as usize;
    let mut images = vec![None; defined];
    let mut in_image = vec![false; info.data.len()];
    for (d, image) in images.iter_mut().enumerate() {
        let memory = info.num_imported_memories + d as u32;
        let ty = info.memories[memory as usize];
        // The image is mapped in whole host pages, which 1-byte pages cannot promise to cover.
        if ty.page_size_log2 != 16 {
            continue;
        }
        let initial = ty.minimum.saturating_mul(ty.page_size());
        let mut segments = Vec::new();
        let mut usable = true;
        for (i, seg) in info.data.iter().enumerate() {
            let SegmentMode::Active { index, offset } = &seg.mode else { continue };
            if *index != memory {
                continue;
            }
            match offset.ops.as_slice() {
                [ConstOp::I32Const(start)] if u64::from(*start as u32) + seg.data.len() as u64 <= initial => {
                    segments.push((i, *start as u32 as usize, seg.data.clone()))
                }
                _ => usable = false,
            }
        }
        if !usable || segments.is_empty() {
            continue;
        }
        let end = segments.iter().map(|(_, start, data)| start + data.len()).max().unwrap_or(0);
        let total: usize = segments.iter().map(|(_, _, data)| data.len()).sum();
        if end == 0 || end > (4 * total).max(1 << 20) {
            continue;
        }
        let mut bytes = vec![0u8; end];
        for (i, start, data) in &segments {
            bytes[*start..*start + data.len()].copy_from_slice(&wasm[data.clone()]);
            in_image[*i] = true;
        }
        *image = Some(Arc::new(MemoryImage::new(&bytes)?));
    }
    Ok((images, in_image))
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("name", &self.name()).finish()
    }
}

impl Module {
    /// Compiles a module from its binary or text format.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let bytes = bytes.as_ref();
        let wasm = wat::parse_bytes(bytes).context("failed to parse the WebAssembly text format")?;
        Module::from_binary(engine, &wasm)
    }

    /// Compiles a module from its binary format.
    pub fn from_binary(engine: &Engine, binary: &[u8]) -> Result<Module> {
        Module::from_binary_with_features(engine, binary, engine.config().features())
    }

    /// Compiles a module validated against `features` (component adapters need multi-memory).
    pub(crate) fn from_binary_with_features(
        engine: &Engine,
        binary: &[u8],
        features: wasmparser::WasmFeatures,
    ) -> Result<Module> {
        let key = crate::cache::Key::new(engine, binary, features);
        if let Some(module) = key.as_ref().and_then(|key| crate::cache::lookup(engine, key)) {
            return Ok(module);
        }
        let info = ModuleInfo::parse_with_features(binary, features).context("failed to validate the module")?;
        let name = info.name.clone().unwrap_or_else(|| "<module>".to_string());
        let compiled = engine
            .inner
            .compiler
            .compile_module(&info, binary)
            .with_context(|| format!("failed to compile module `{name}`"))?;
        let module = Module::from_compiled(engine, info, binary, &compiled)?;
        if let Some(key) = key {
            crate::cache::store(engine, &key, &module);
        }
        Ok(module)
    }

    /// Builds the module around freshly compiled code for `info` (compiled from `binary`).
    pub(crate) fn from_compiled(
        engine: &Engine,
        info: ModuleInfo,
        binary: &[u8],
        compiled: &kiln_cranelift::CompiledCode,
    ) -> Result<Module> {
        let parts = Parts {
            code: CodeSource::Bytes(&compiled.code),
            hashes: None,
            relocs: compiled.relocs.clone(),
            functions: compiled.functions.clone(),
            array_to_wasm: compiled.array_to_wasm.clone(),
            traps: CompactMap::new(&compiled.traps.iter().map(|(o, t)| (*o, u32::from(t.as_u8()))).collect::<Vec<_>>()),
            address_map: CompactMap::new(&compiled.address_map),
            handlers: HandlerTable::new(&compiled.handlers),
            stack_maps: StackMaps::new(&compiled.stack_maps),
        };
        Module::from_binary_parts(engine, info, binary, parts)
    }

    /// Builds the module from `parts` for `info`, whose data segments index into `binary` (the
    /// module's wasm): memory images are made from it.
    pub(crate) fn from_binary_parts(
        engine: &Engine,
        info: ModuleInfo,
        binary: &[u8],
        parts: Parts<'_>,
    ) -> Result<Module> {
        let (memory_images, data_in_image) = memory_images(&info, binary).context("failed to build memory images")?;
        Module::from_parts(engine, info, binary.into(), parts, memory_images, data_in_image)
    }

    /// Loads the code in `parts` for `info` and builds the module around it. The parts must really
    /// be `info`'s: callers check precompiled ones first (`serialize::check_parts`).
    pub(crate) fn from_parts(
        engine: &Engine,
        info: ModuleInfo,
        data: Arc<[u8]>,
        parts: Parts<'_>,
        memory_images: MemoryImages,
        data_in_image: Vec<bool>,
    ) -> Result<Module> {
        let Parts { code, hashes, relocs, functions, array_to_wasm, traps, address_map, handlers, stack_maps } = parts;
        let code_info = Arc::new(CodeInfo {
            traps,
            functions,
            address_map,
            handlers,
            stack_maps,
            exception_barrier: Default::default(),
            first_defined_func: info.num_imported_funcs,
            module_name: info.name.clone(),
            func_names: info.func_names.clone(),
        });
        // Copied code is checked against its chunk hashes (if it has them) before it is copied.
        let copy = |code: &[u8]| -> Result<CodeMemory> {
            if let Some(hashes) = &hashes {
                crate::serialize::check_chunks(code, hashes)
                    .context("its code is corrupt: delete or recompile it (for example with `kiln compile`)")?;
            }
            CodeMemory::new(code, &relocs, code_info.clone())
        };
        let code = match &code {
            CodeSource::Bytes(code) => copy(code)?,
            CodeSource::File { map, range, what } => {
                let mappable = relocs.is_empty() && range.start.is_multiple_of(kiln_runtime::mmap::page_size());
                match (&hashes, mappable && !range.is_empty()) {
                    (Some(hashes), true) => {
                        // The code is published where it lies in the file and each chunk is
                        // checked when first touched. If the file system refuses to make it
                        // executable (a `noexec` mount), it is copied like any other code.
                        let lazy = Some((hashes.clone(), what.clone()));
                        // SAFETY: `serialize` checked the file came from this engine's
                        // configuration; running its code is what the caller vouched for.
                        match unsafe {
                            CodeMemory::from_file(map.clone(), range.start, range.len(), code_info.clone(), lazy)
                        } {
                            Ok(code) => code,
                            Err(_) => copy(&map.bytes()[range.clone()])?,
                        }
                    }
                    _ => copy(&map.bytes()[range.clone()])?,
                }
            }
        };
        let code = Arc::new(code);
        if engine.config().profiler == crate::ProfilingStrategy::PerfMap {
            crate::perfmap::register(&code);
        }
        let type_ids: Arc<[u32]> = register_types(engine, &info).into();
        let gc_types: kiln_runtime::GcTypes = type_ids.iter().map(|id| engine.gc_type_info(*id)).collect();
        if let Some(id) = type_ids
            .iter()
            .zip(gc_types.iter())
            .find(|(id, t)| t.is_some() && **id as usize >= kiln_environ::vmgc::MAX_TYPES)
            .map(|(id, _)| id)
        {
            anyhow::bail!(
                "too many GC types in this engine (type id {id}; at most {} are supported)",
                kiln_environ::vmgc::MAX_TYPES
            );
        }
        let array_to_wasm = array_to_wasm
            .iter()
            .map(|offset| {
                offset.map(|o| {
                    // SAFETY: the offset is the start of an entry trampoline for that type, inside
                    // the code kept alive by this module.
                    unsafe { std::mem::transmute::<*const u8, ArrayToWasmFn>(code.base().add(o as usize)) }
                })
            })
            .collect();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: engine.clone(),
                info: Arc::new(info),
                wasm: data,
                code,
                type_ids,
                gc_types,
                array_to_wasm,
                memory_images: memory_images.into(),
                data_in_image: data_in_image.into(),
                table_images: Default::default(),
            }),
        })
    }

    /// Compiles the module in a file (binary or text).
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).with_context(|| format!("failed to read `{}`", path.display()))?;
        Module::new(engine, bytes).with_context(|| format!("failed to load module `{}`", path.display()))
    }

    /// Validates a module binary without compiling it.
    pub fn validate(engine: &Engine, binary: &[u8]) -> Result<()> {
        let mut validator = wasmparser::Validator::new_with_features(engine.config().features());
        validator.validate_all(binary)?;
        // Features kiln validates but cannot run yet are reported here, not at compile time.
        ModuleInfo::parse_validated(binary)?;
        Ok(())
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.inner.info.name.as_deref()
    }

    /// The engine this module was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The imports, in order.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType<'_>> + '_ {
        let info = &self.inner.info;
        info.imports.iter().map(move |i| ImportType {
            module: &i.module,
            name: &i.name,
            ty: ExternType::from_entity(info, &self.inner.type_ids, info.entity_type(i.index)),
        })
    }

    /// The exports, in order.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = ExportType<'_>> + '_ {
        let info = &self.inner.info;
        info.exports.iter().map(move |e| ExportType {
            name: &e.name,
            ty: ExternType::from_entity(info, &self.inner.type_ids, info.entity_type(e.index)),
        })
    }

    /// Whether a backtrace frame runs this module's code (a frame of any instance of it).
    pub fn contains_frame(&self, frame: &crate::FrameInfo) -> bool {
        Arc::as_ptr(self.inner.code.info()) as usize == frame.code()
    }

    /// The type of export `name`.
    pub fn get_export(&self, name: &str) -> Option<ExternType> {
        let info = &self.inner.info;
        info.export(name).map(|i| ExternType::from_entity(info, &self.inner.type_ids, info.entity_type(i)))
    }
}

/// Registers the module's signatures with the engine, group by group, and returns their engine
/// ids. References to earlier groups become engine ids first, so that equal signatures of different
/// modules get the same id. A group whose members refer to each other (or to themselves) is
/// registered as a whole, with those references written as positions in the group: isomorphic
/// groups then share ids, while equal-looking members of different groups do not.
fn register_types(engine: &Engine, info: &ModuleInfo) -> Vec<u32> {
    let mut ids: Vec<u32> = Vec::with_capacity(info.types.len());
    while ids.len() < info.types.len() {
        let group = info.rec_group_of(ids.len() as u32);
        let members = &info.types[group.start as usize..group.end as usize];
        let recursive = members.iter().any(|ty| {
            ty.val_types().iter().any(
                |t| matches!(t, WasmValType::Ref(r) if matches!(r.heap, WasmHeapType::Concrete(_, i) if i >= group.start)),
            ) || ty.supertype.is_some_and(|s| s >= group.start)
        });
        if members.len() == 1 && !recursive {
            let canonical = kiln_environ::canonicalize_sub_type(&members[0], &|i| ids[i as usize]);
            ids.push(engine.sub_type_id(&canonical));
            continue;
        }
        let canonical = members
            .iter()
            .map(|ty| {
                kiln_environ::canonicalize_sub_type(ty, &|i| {
                    if i >= group.start {
                        kiln_environ::rec_group_placeholder(i - group.start)
                    } else {
                        ids[i as usize]
                    }
                })
            })
            .collect();
        ids.extend(engine.rec_group_ids(canonical));
    }
    ids
}
