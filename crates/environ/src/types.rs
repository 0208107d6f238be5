//! Engine-independent wasm types, converted from `wasmparser`'s.

use anyhow::{Result, bail};
use std::fmt;

/// Index into the module's function index space (imports first).
pub type FuncIndex = u32;
/// Index into the module's type section.
pub type TypeIndex = u32;
/// Index into the module's table index space (imports first).
pub type TableIndex = u32;
/// Index into the module's memory index space (imports first).
pub type MemoryIndex = u32;
/// Index into the module's global index space (imports first).
pub type GlobalIndex = u32;
/// Index in the tag index space (imported tags first).
pub type TagIndex = u32;

/// The heap type of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WasmHeapType {
    /// Any function (`func`).
    Func,
    /// Any host reference (`extern`).
    Extern,
    /// The bottom of the function hierarchy: only null (`nofunc`).
    NoFunc,
    /// The bottom of the extern hierarchy: only null (`noextern`).
    NoExtern,
    /// Any exception (`exn`).
    Exn,
    /// The bottom of the exception hierarchy: only null (`noexn`).
    NoExn,
    /// Functions of one signature, named by its index in the module's type section. Only meaningful
    /// together with its module; see [`WasmHeapType::Engine`].
    Concrete(TypeIndex),
    /// Functions of one signature, named by the engine-wide id of the signature: the form types take
    /// when they leave their module (imports, exports, host values), so they compare across modules.
    Engine(u32),
    /// The top of the GC hierarchy (`any`). kiln has no GC objects yet, so its values are `i31`s
    /// or null.
    Any,
    /// Values comparable with `ref.eq` (`eq`).
    Eq,
    /// Unboxed 31-bit integers (`i31`): the word `(x << 1) | 1`, never a pointer.
    I31,
    /// The bottom of the GC hierarchy: only null (`none`).
    None,
}

impl WasmHeapType {
    /// Whether every value of `self` is a value of `other`, for heap types in the same index space
    /// (both module-relative or both engine-wide).
    pub fn is_subtype_of(self, other: WasmHeapType) -> bool {
        use WasmHeapType::*;
        self == other
            || matches!(
                (self, other),
                (NoFunc, Func | Concrete(_) | Engine(_))
                    | (Concrete(_) | Engine(_), Func)
                    | (NoExtern, Extern)
                    | (NoExn, Exn)
                    | (I31, Eq | Any)
                    | (Eq, Any)
                    | (None, Any | Eq | I31)
            )
    }

    /// Whether references of this heap type point to functions (`VMFuncRef`s).
    pub fn is_func(self) -> bool {
        matches!(self, WasmHeapType::Func | WasmHeapType::NoFunc | WasmHeapType::Concrete(_) | WasmHeapType::Engine(_))
    }
}

/// A reference type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WasmRefType {
    /// Whether null is a value of this type.
    pub nullable: bool,
    /// What the reference points to.
    pub heap: WasmHeapType,
}

impl WasmRefType {
    /// `funcref`.
    pub const FUNCREF: WasmRefType = WasmRefType { nullable: true, heap: WasmHeapType::Func };
    /// `externref`.
    pub const EXTERNREF: WasmRefType = WasmRefType { nullable: true, heap: WasmHeapType::Extern };
    /// `exnref`.
    pub const EXNREF: WasmRefType = WasmRefType { nullable: true, heap: WasmHeapType::Exn };

    /// Whether every value of `self` is a value of `other` (same index space, as for heap types).
    pub fn is_subtype_of(self, other: WasmRefType) -> bool {
        (other.nullable || !self.nullable) && self.heap.is_subtype_of(other.heap)
    }
}

impl fmt::Display for WasmRefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = match self.heap {
            WasmHeapType::Func => Some("funcref"),
            WasmHeapType::Extern => Some("externref"),
            WasmHeapType::Exn => Some("exnref"),
            WasmHeapType::NoFunc => Some("nullfuncref"),
            WasmHeapType::NoExtern => Some("nullexternref"),
            WasmHeapType::NoExn => Some("nullexnref"),
            WasmHeapType::Any => Some("anyref"),
            WasmHeapType::Eq => Some("eqref"),
            WasmHeapType::I31 => Some("i31ref"),
            WasmHeapType::None => Some("nullref"),
            _ => None,
        };
        match (self.nullable, short) {
            (true, Some(name)) => f.write_str(name),
            _ => {
                f.write_str("(ref ")?;
                if self.nullable {
                    f.write_str("null ")?;
                }
                match self.heap {
                    WasmHeapType::Func => f.write_str("func")?,
                    WasmHeapType::Extern => f.write_str("extern")?,
                    WasmHeapType::Exn => f.write_str("exn")?,
                    WasmHeapType::NoFunc => f.write_str("nofunc")?,
                    WasmHeapType::NoExtern => f.write_str("noextern")?,
                    WasmHeapType::NoExn => f.write_str("noexn")?,
                    WasmHeapType::Any => f.write_str("any")?,
                    WasmHeapType::Eq => f.write_str("eq")?,
                    WasmHeapType::I31 => f.write_str("i31")?,
                    WasmHeapType::None => f.write_str("none")?,
                    WasmHeapType::Concrete(i) => write!(f, "{i}")?,
                    WasmHeapType::Engine(id) => write!(f, "<engine type {id}>")?,
                }
                f.write_str(")")
            }
        }
    }
}

/// A value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WasmValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// A reference.
    Ref(WasmRefType),
}

impl WasmValType {
    /// Whether values of this type can be references a garbage collector must be able to find on
    /// the stack: `externref` and `exnref` (function references belong to their instances, and the
    /// bottom types hold only null). Compiled code records where such values live across calls.
    pub fn is_gc_ref(self) -> bool {
        matches!(self, WasmValType::Ref(WasmRefType { heap: WasmHeapType::Extern | WasmHeapType::Exn, .. }))
    }
}

impl fmt::Display for WasmValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmValType::I32 => f.write_str("i32"),
            WasmValType::I64 => f.write_str("i64"),
            WasmValType::F32 => f.write_str("f32"),
            WasmValType::F64 => f.write_str("f64"),
            WasmValType::V128 => f.write_str("v128"),
            WasmValType::Ref(r) => r.fmt(f),
        }
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct WasmFuncType {
    /// Parameter types.
    pub params: Box<[WasmValType]>,
    /// Result types.
    pub results: Box<[WasmValType]>,
}

impl WasmFuncType {
    /// Creates a signature.
    pub fn new(params: impl IntoIterator<Item = WasmValType>, results: impl IntoIterator<Item = WasmValType>) -> Self {
        WasmFuncType { params: params.into_iter().collect(), results: results.into_iter().collect() }
    }
}

impl fmt::Display for WasmFuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(func")?;
        if !self.params.is_empty() {
            f.write_str(" (param")?;
            for p in self.params.iter() {
                write!(f, " {p}")?;
            }
            f.write_str(")")?;
        }
        if !self.results.is_empty() {
            f.write_str(" (result")?;
            for r in self.results.iter() {
                write!(f, " {r}")?;
            }
            f.write_str(")")?;
        }
        f.write_str(")")
    }
}

/// Limits of a table, in elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableType {
    /// Element type.
    pub element: WasmRefType,
    /// Initial size.
    pub minimum: u64,
    /// Maximum size, if any.
    pub maximum: Option<u64>,
    /// Whether elements are indexed with `i64` (memory64 proposal).
    pub table64: bool,
}

/// Limits of a linear memory, in pages (64 KiB unless the custom-page-sizes proposal says 1 byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryType {
    /// Initial size in pages.
    pub minimum: u64,
    /// Maximum size in pages, if any.
    pub maximum: Option<u64>,
    /// Whether this is a 64-bit memory (memory64 proposal).
    pub memory64: bool,
    /// Whether this memory is shared between threads (threads proposal).
    pub shared: bool,
    /// log2 of the page size: 16 (64 KiB), or 0 (custom-page-sizes proposal).
    pub page_size_log2: u8,
}

impl MemoryType {
    /// A 32-bit, unshared memory with 64 KiB pages.
    pub fn new32(minimum: u64, maximum: Option<u64>) -> MemoryType {
        MemoryType { minimum, maximum, memory64: false, shared: false, page_size_log2: 16 }
    }

    /// Bytes per page.
    pub fn page_size(&self) -> u64 {
        1 << self.page_size_log2
    }

    /// The largest number of pages the index type can address.
    pub fn max_pages_for_index(&self) -> u64 {
        if self.memory64 { u64::MAX >> self.page_size_log2 } else { (1u64 << 32) >> self.page_size_log2 }
    }

    /// Whether compiled code can rely on guard pages instead of bounds checks: 32-bit indices and
    /// pages no smaller than the host's (a byte past a 1-byte page may be inside a mapped host page).
    pub fn guard_pages_cover(&self) -> bool {
        !self.memory64 && self.page_size_log2 == 16
    }
}

/// Size of a wasm page in bytes.
pub const WASM_PAGE_SIZE: u64 = 0x1_0000;
/// Maximum number of pages of a 32-bit memory.
pub const WASM32_MAX_PAGES: u64 = 0x1_0000;

/// Type of a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalType {
    /// Value type.
    pub content: WasmValType,
    /// Whether `global.set` is allowed.
    pub mutable: bool,
}

/// The type of an import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityType {
    /// A function of the given module type index.
    Function(TypeIndex),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// An exception tag whose parameters are those of the given module function type.
    Tag(TypeIndex),
}

/// An index in one of the module's index spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityIndex {
    /// Function index space.
    Function(FuncIndex),
    /// Table index space.
    Table(TableIndex),
    /// Memory index space.
    Memory(MemoryIndex),
    /// Global index space.
    Global(GlobalIndex),
    /// Tag index space.
    Tag(TagIndex),
}

/// Converts wasmparser's value type.
pub fn convert_val_type(ty: wasmparser::ValType) -> Result<WasmValType> {
    Ok(match ty {
        wasmparser::ValType::I32 => WasmValType::I32,
        wasmparser::ValType::I64 => WasmValType::I64,
        wasmparser::ValType::F32 => WasmValType::F32,
        wasmparser::ValType::F64 => WasmValType::F64,
        wasmparser::ValType::V128 => WasmValType::V128,
        wasmparser::ValType::Ref(r) => WasmValType::Ref(convert_ref_type(r)?),
    })
}

/// Converts wasmparser's reference type. Of the GC proposal's heap types, `any`, `eq`, `i31` and
/// `none` are supported (their values are `i31`s or null); `struct`, `array` and concrete GC
/// types are not.
pub fn convert_ref_type(ty: wasmparser::RefType) -> Result<WasmRefType> {
    use wasmparser::{AbstractHeapType as A, HeapType, UnpackedIndex};
    let heap = match ty.heap_type() {
        HeapType::Abstract { shared: false, ty } => match ty {
            A::Func => WasmHeapType::Func,
            A::Extern => WasmHeapType::Extern,
            A::NoFunc => WasmHeapType::NoFunc,
            A::NoExtern => WasmHeapType::NoExtern,
            A::Exn => WasmHeapType::Exn,
            A::NoExn => WasmHeapType::NoExn,
            A::Any => WasmHeapType::Any,
            A::Eq => WasmHeapType::Eq,
            A::I31 => WasmHeapType::I31,
            A::None => WasmHeapType::None,
            other => bail!("unsupported feature: GC reference type `{other:?}` (kiln has no GC objects yet)"),
        },
        HeapType::Concrete(UnpackedIndex::Module(i)) | HeapType::Exact(UnpackedIndex::Module(i)) => {
            WasmHeapType::Concrete(i)
        }
        other => bail!("unsupported feature: reference type with heap type {other:?}"),
    };
    Ok(WasmRefType { nullable: ty.is_nullable(), heap })
}

/// Rewrites module-relative concrete heap types in `ty` to engine-wide ones with `engine_id`
/// (module type index -> engine type id).
pub fn canonicalize_val_type(ty: WasmValType, engine_id: &impl Fn(TypeIndex) -> u32) -> WasmValType {
    match ty {
        WasmValType::Ref(WasmRefType { nullable, heap: WasmHeapType::Concrete(i) }) => {
            WasmValType::Ref(WasmRefType { nullable, heap: WasmHeapType::Engine(engine_id(i)) })
        }
        other => other,
    }
}

/// [`canonicalize_val_type`] for every parameter and result.
pub fn canonicalize_func_type(ty: &WasmFuncType, engine_id: &impl Fn(TypeIndex) -> u32) -> WasmFuncType {
    WasmFuncType {
        params: ty.params.iter().map(|t| canonicalize_val_type(*t, engine_id)).collect(),
        results: ty.results.iter().map(|t| canonicalize_val_type(*t, engine_id)).collect(),
    }
}

/// The engine id that stands for member `j` of a recursion group while the group is registered
/// (see `ModuleInfo::rec_groups`). Real engine ids are allocated densely from 0 and never get here.
pub const fn rec_group_placeholder(j: u32) -> u32 {
    u32::MAX - j
}

/// The member index a [`rec_group_placeholder`] stands for, if `id` is one.
pub fn rec_group_member(id: u32) -> Option<u32> {
    (id > u32::MAX / 2).then(|| u32::MAX - id)
}

/// `ty` with every engine-level reference `Engine(id)` replaced by `Engine(f(id))`.
pub fn map_engine_refs(ty: &WasmFuncType, f: &impl Fn(u32) -> u32) -> WasmFuncType {
    let map = |t: &WasmValType| match *t {
        WasmValType::Ref(WasmRefType { nullable, heap: WasmHeapType::Engine(id) }) => {
            WasmValType::Ref(WasmRefType { nullable, heap: WasmHeapType::Engine(f(id)) })
        }
        other => other,
    };
    WasmFuncType { params: ty.params.iter().map(map).collect(), results: ty.results.iter().map(map).collect() }
}

/// Whether `actual <: expected` for value types in the same index space.
pub fn val_subtype(actual: WasmValType, expected: WasmValType) -> bool {
    match (actual, expected) {
        (WasmValType::Ref(a), WasmValType::Ref(e)) => a.is_subtype_of(e),
        (a, e) => a == e,
    }
}

/// Converts wasmparser's function type.
pub fn convert_func_type(ty: &wasmparser::FuncType) -> Result<WasmFuncType> {
    Ok(WasmFuncType {
        params: ty.params().iter().map(|t| convert_val_type(*t)).collect::<Result<_>>()?,
        results: ty.results().iter().map(|t| convert_val_type(*t)).collect::<Result<_>>()?,
    })
}

/// Converts wasmparser's table type.
pub fn convert_table_type(ty: &wasmparser::TableType) -> Result<TableType> {
    if ty.shared {
        bail!("unsupported feature: shared tables");
    }
    Ok(TableType {
        element: convert_ref_type(ty.element_type)?,
        minimum: ty.initial,
        maximum: ty.maximum,
        table64: ty.table64,
    })
}

/// Converts wasmparser's memory type.
pub fn convert_memory_type(ty: &wasmparser::MemoryType) -> Result<MemoryType> {
    let page_size_log2 = match ty.page_size_log2 {
        None => 16,
        Some(log2 @ (0 | 16)) => log2 as u8,
        Some(other) => bail!("unsupported feature: page size 2^{other}"),
    };
    Ok(MemoryType {
        minimum: ty.initial,
        maximum: ty.maximum,
        memory64: ty.memory64,
        shared: ty.shared,
        page_size_log2,
    })
}

/// Converts wasmparser's global type.
pub fn convert_global_type(ty: &wasmparser::GlobalType) -> Result<GlobalType> {
    if ty.shared {
        bail!("unsupported feature: shared globals");
    }
    Ok(GlobalType { content: convert_val_type(ty.content_type)?, mutable: ty.mutable })
}
