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

/// The heap type of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WasmHeapType {
    /// Any function (`func`).
    Func,
    /// Any host reference (`extern`).
    Extern,
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
}

impl fmt::Display for WasmRefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.nullable, self.heap) {
            (true, WasmHeapType::Func) => f.write_str("funcref"),
            (true, WasmHeapType::Extern) => f.write_str("externref"),
            (false, WasmHeapType::Func) => f.write_str("(ref func)"),
            (false, WasmHeapType::Extern) => f.write_str("(ref extern)"),
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
}

/// Limits of a linear memory, in pages of 64 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryType {
    /// Initial size in pages.
    pub minimum: u64,
    /// Maximum size in pages, if any.
    pub maximum: Option<u64>,
    /// Whether this is a 64-bit memory (memory64 proposal; not supported yet).
    pub memory64: bool,
    /// Whether this memory is shared (threads proposal; not supported yet).
    pub shared: bool,
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

/// Converts wasmparser's reference type; only `funcref`/`externref` (and their non-null forms) exist
/// in the features kiln supports.
pub fn convert_ref_type(ty: wasmparser::RefType) -> Result<WasmRefType> {
    use wasmparser::{AbstractHeapType, HeapType};
    let heap = match ty.heap_type() {
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Func } => WasmHeapType::Func,
        HeapType::Abstract { shared: false, ty: AbstractHeapType::Extern } => WasmHeapType::Extern,
        other => bail!("unsupported feature: reference type with heap type {other:?}"),
    };
    Ok(WasmRefType { nullable: ty.is_nullable(), heap })
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
    if ty.table64 {
        bail!("unsupported feature: 64-bit tables (memory64 proposal)");
    }
    if ty.shared {
        bail!("unsupported feature: shared tables");
    }
    Ok(TableType { element: convert_ref_type(ty.element_type)?, minimum: ty.initial, maximum: ty.maximum })
}

/// Converts wasmparser's memory type.
pub fn convert_memory_type(ty: &wasmparser::MemoryType) -> Result<MemoryType> {
    if ty.memory64 {
        bail!("unsupported feature: 64-bit memories (memory64 proposal)");
    }
    if ty.shared {
        bail!("unsupported feature: shared memories (threads proposal)");
    }
    if ty.page_size_log2.is_some() {
        bail!("unsupported feature: custom page sizes");
    }
    Ok(MemoryType { minimum: ty.initial, maximum: ty.maximum, memory64: false, shared: false })
}

/// Converts wasmparser's global type.
pub fn convert_global_type(ty: &wasmparser::GlobalType) -> Result<GlobalType> {
    if ty.shared {
        bail!("unsupported feature: shared globals");
    }
    Ok(GlobalType { content: convert_val_type(ty.content_type)?, mutable: ty.mutable })
}
