//! Public type descriptions: value, function, global, table, memory and extern types.

use kiln_environ::{
    EntityType, GlobalType as EnvGlobalType, MemoryType as EnvMemoryType, ModuleInfo, TableType as EnvTableType,
    TypeKind, WasmFuncType, WasmHeapType, WasmRefType, WasmValType,
};
use kiln_environ::{canonicalize_func_type, canonicalize_val_type};
use std::fmt;

/// A module's table type with engine-level element type.
pub(crate) fn canonical_table_type(t: EnvTableType, type_ids: &[u32]) -> EnvTableType {
    let element = match canonicalize_val_type(WasmValType::Ref(t.element), &|i| type_ids[i as usize]) {
        WasmValType::Ref(r) => r,
        _ => unreachable!("a reference type stays one"),
    };
    EnvTableType { element, ..t }
}

/// The heap type of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeapType {
    /// Functions.
    Func,
    /// Host references.
    Extern,
    /// No function: only null (`nofunc`).
    NoFunc,
    /// No host reference: only null (`noextern`).
    NoExtern,
    /// Exceptions.
    Exn,
    /// No exception: only null (`noexn`).
    NoExn,
    /// Functions of one signature, named by the engine-wide id of the signature (see
    /// [`crate::Engine::func_type_of_id`]).
    ConcreteFunc(u32),
    /// Structs of one type, named by its engine-wide id.
    ConcreteStruct(u32),
    /// Arrays of one type, named by its engine-wide id.
    ConcreteArray(u32),
    /// The top of the GC hierarchy (`any`).
    Any,
    /// Any struct.
    Struct,
    /// Any array.
    Array,
    /// References comparable with `ref.eq`.
    Eq,
    /// Unboxed 31-bit integers.
    I31,
    /// No GC reference: only null (`none`).
    None,
}
impl HeapType {
    /// The top of this type's hierarchy: [`HeapType::Func`], [`HeapType::Extern`],
    /// [`HeapType::Exn`] or [`HeapType::Any`] (which [`crate::Val`] variant holds its values).
    pub fn top(self) -> HeapType {
        match self {
            HeapType::Func | HeapType::NoFunc | HeapType::ConcreteFunc(_) => HeapType::Func,
            HeapType::Extern | HeapType::NoExtern => HeapType::Extern,
            HeapType::Exn | HeapType::NoExn => HeapType::Exn,
            HeapType::Any
            | HeapType::Eq
            | HeapType::I31
            | HeapType::None
            | HeapType::Struct
            | HeapType::Array
            | HeapType::ConcreteStruct(_)
            | HeapType::ConcreteArray(_) => HeapType::Any,
        }
    }
}

/// A reference type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefType {
    nullable: bool,
    heap: HeapType,
    exact: bool,
}

impl RefType {
    /// `funcref`.
    pub const FUNCREF: RefType = RefType { nullable: true, heap: HeapType::Func, exact: false };
    /// `externref`.
    pub const EXTERNREF: RefType = RefType { nullable: true, heap: HeapType::Extern, exact: false };

    /// Creates a reference type.
    pub fn new(nullable: bool, heap: HeapType) -> RefType {
        RefType { nullable, heap, exact: false }
    }
    /// Whether the type admits none of its heap type's subtypes (custom descriptors' exact
    /// types, `(ref (exact $t))`; only types read from modules are exact).
    pub fn is_exact(&self) -> bool {
        self.exact
    }
    /// Whether null is a value of this type.
    pub fn is_nullable(&self) -> bool {
        self.nullable
    }
    /// The heap type.
    pub fn heap_type(&self) -> HeapType {
        self.heap
    }
    pub(crate) fn to_env(self) -> WasmRefType {
        WasmRefType {
            exact: self.exact,
            nullable: self.nullable,
            heap: match self.heap {
                HeapType::Func => WasmHeapType::Func,
                HeapType::Extern => WasmHeapType::Extern,
                HeapType::NoFunc => WasmHeapType::NoFunc,
                HeapType::NoExtern => WasmHeapType::NoExtern,
                HeapType::Exn => WasmHeapType::Exn,
                HeapType::NoExn => WasmHeapType::NoExn,
                HeapType::ConcreteFunc(id) => WasmHeapType::Engine(TypeKind::Func, id),
                HeapType::ConcreteStruct(id) => WasmHeapType::Engine(TypeKind::Struct, id),
                HeapType::ConcreteArray(id) => WasmHeapType::Engine(TypeKind::Array, id),
                HeapType::Struct => WasmHeapType::Struct,
                HeapType::Array => WasmHeapType::Array,
                HeapType::Any => WasmHeapType::Any,
                HeapType::Eq => WasmHeapType::Eq,
                HeapType::I31 => WasmHeapType::I31,
                HeapType::None => WasmHeapType::None,
            },
        }
    }
    pub(crate) fn from_env(ty: WasmRefType) -> RefType {
        RefType {
            exact: ty.exact,
            nullable: ty.nullable,
            heap: match ty.heap {
                WasmHeapType::Func => HeapType::Func,
                WasmHeapType::Extern => HeapType::Extern,
                WasmHeapType::NoFunc => HeapType::NoFunc,
                WasmHeapType::NoExtern => HeapType::NoExtern,
                WasmHeapType::Exn => HeapType::Exn,
                WasmHeapType::NoExn => HeapType::NoExn,
                WasmHeapType::Engine(TypeKind::Func, id) => HeapType::ConcreteFunc(id),
                WasmHeapType::Engine(TypeKind::Struct, id) => HeapType::ConcreteStruct(id),
                WasmHeapType::Engine(TypeKind::Array, id) => HeapType::ConcreteArray(id),
                WasmHeapType::Struct => HeapType::Struct,
                WasmHeapType::Array => HeapType::Array,
                WasmHeapType::Any => HeapType::Any,
                WasmHeapType::Eq => HeapType::Eq,
                WasmHeapType::I31 => HeapType::I31,
                WasmHeapType::None => HeapType::None,
                // Module-relative types are canonicalised before they reach the API.
                WasmHeapType::Concrete(TypeKind::Func, _) => HeapType::Func,
                WasmHeapType::Concrete(TypeKind::Struct, _) => HeapType::Struct,
                WasmHeapType::Concrete(TypeKind::Array, _) => HeapType::Array,
            },
        }
    }
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_env().fmt(f)
    }
}

/// A value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
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
    Ref(RefType),
}

impl ValType {
    /// `funcref`.
    pub const FUNCREF: ValType = ValType::Ref(RefType::FUNCREF);
    /// `externref`.
    pub const EXTERNREF: ValType = ValType::Ref(RefType::EXTERNREF);

    /// Whether this is a numeric type.
    pub fn is_num(&self) -> bool {
        !matches!(self, ValType::Ref(_))
    }
    /// Whether this is a reference type.
    pub fn is_ref(&self) -> bool {
        matches!(self, ValType::Ref(_))
    }
    pub(crate) fn to_env(self) -> WasmValType {
        match self {
            ValType::I32 => WasmValType::I32,
            ValType::I64 => WasmValType::I64,
            ValType::F32 => WasmValType::F32,
            ValType::F64 => WasmValType::F64,
            ValType::V128 => WasmValType::V128,
            ValType::Ref(r) => WasmValType::Ref(r.to_env()),
        }
    }
    pub(crate) fn from_env(ty: WasmValType) -> ValType {
        match ty {
            WasmValType::I32 => ValType::I32,
            WasmValType::I64 => ValType::I64,
            WasmValType::F32 => ValType::F32,
            WasmValType::F64 => ValType::F64,
            WasmValType::V128 => ValType::V128,
            WasmValType::Ref(r) => ValType::Ref(RefType::from_env(r)),
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_env().fmt(f)
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FuncType {
    pub(crate) ty: WasmFuncType,
}

impl FuncType {
    /// Creates a signature.
    pub fn new(params: impl IntoIterator<Item = ValType>, results: impl IntoIterator<Item = ValType>) -> FuncType {
        FuncType {
            ty: WasmFuncType::new(params.into_iter().map(ValType::to_env), results.into_iter().map(ValType::to_env)),
        }
    }
    /// Parameter types.
    pub fn params(&self) -> impl ExactSizeIterator<Item = ValType> + '_ {
        self.ty.params.iter().map(|t| ValType::from_env(*t))
    }
    /// Result types.
    pub fn results(&self) -> impl ExactSizeIterator<Item = ValType> + '_ {
        self.ty.results.iter().map(|t| ValType::from_env(*t))
    }
    pub(crate) fn from_env(ty: WasmFuncType) -> FuncType {
        FuncType { ty }
    }
    pub(crate) fn env(&self) -> &WasmFuncType {
        &self.ty
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ty.fmt(f)
    }
}

/// Whether a global can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// Immutable.
    Const,
    /// Mutable.
    Var,
}

/// The type of a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalType {
    content: ValType,
    mutability: Mutability,
}

impl GlobalType {
    /// Creates a global type.
    pub fn new(content: ValType, mutability: Mutability) -> GlobalType {
        GlobalType { content, mutability }
    }
    /// Value type.
    pub fn content(&self) -> &ValType {
        &self.content
    }
    /// Mutability.
    pub fn mutability(&self) -> Mutability {
        self.mutability
    }
    pub(crate) fn to_env(self) -> EnvGlobalType {
        EnvGlobalType { content: self.content.to_env(), mutable: self.mutability == Mutability::Var }
    }
    pub(crate) fn from_env(ty: EnvGlobalType) -> GlobalType {
        GlobalType {
            content: ValType::from_env(ty.content),
            mutability: if ty.mutable { Mutability::Var } else { Mutability::Const },
        }
    }
}

/// The type of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableType {
    pub(crate) ty: EnvTableType,
}

impl TableType {
    /// Creates a table type.
    pub fn new(element: RefType, min: u32, max: Option<u32>) -> TableType {
        TableType {
            ty: EnvTableType {
                element: element.to_env(),
                minimum: min.into(),
                maximum: max.map(Into::into),
                table64: false,
            },
        }
    }
    /// Element type.
    pub fn element(&self) -> RefType {
        RefType::from_env(self.ty.element)
    }
    /// Minimum size.
    pub fn minimum(&self) -> u64 {
        self.ty.minimum
    }
    /// Maximum size.
    pub fn maximum(&self) -> Option<u64> {
        self.ty.maximum
    }
}

/// The type of a memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryType {
    pub(crate) ty: EnvMemoryType,
}

impl MemoryType {
    /// Creates a 32-bit memory type with limits in 64 KiB pages.
    pub fn new(min: u32, max: Option<u32>) -> MemoryType {
        MemoryType { ty: EnvMemoryType::new32(min.into(), max.map(Into::into)) }
    }

    /// Creates a 64-bit memory type (memory64 proposal) with limits in 64 KiB pages.
    pub fn new64(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType { ty: EnvMemoryType { memory64: true, ..EnvMemoryType::new32(min, max) } }
    }

    /// Creates a shared 32-bit memory type (threads proposal); shared memories need a maximum.
    pub fn shared(min: u32, max: u32) -> MemoryType {
        MemoryType { ty: EnvMemoryType { shared: true, ..EnvMemoryType::new32(min.into(), Some(max.into())) } }
    }

    /// Whether addresses are 64-bit.
    pub fn is_64(&self) -> bool {
        self.ty.memory64
    }

    /// Whether the memory is shared between threads.
    pub fn is_shared(&self) -> bool {
        self.ty.shared
    }

    /// Bytes per page.
    pub fn page_size(&self) -> u64 {
        self.ty.page_size()
    }
    /// Minimum size in pages.
    pub fn minimum(&self) -> u64 {
        self.ty.minimum
    }
    /// Maximum size in pages.
    pub fn maximum(&self) -> Option<u64> {
        self.ty.maximum
    }
}

/// The type of an import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A global.
    Global(GlobalType),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// An exception tag.
    Tag(crate::TagType),
}

impl ExternType {
    /// The engine-level type of a module's import or export; `type_ids` maps the module's type
    /// indices to engine ids.
    pub(crate) fn from_entity(info: &ModuleInfo, type_ids: &[u32], ty: EntityType) -> ExternType {
        let id = |i: u32| type_ids[i as usize];
        match ty {
            EntityType::Function(t) => {
                ExternType::Func(FuncType::from_env(canonicalize_func_type(info.func_type_at(t), &id)))
            }
            EntityType::Global(g) => ExternType::Global(GlobalType::from_env(EnvGlobalType {
                content: canonicalize_val_type(g.content, &id),
                ..g
            })),
            EntityType::Table(t) => ExternType::Table(TableType { ty: canonical_table_type(t, type_ids) }),
            EntityType::Memory(m) => ExternType::Memory(MemoryType { ty: m }),
            EntityType::Tag(t) => ExternType::Tag(crate::TagType::from_func_type(FuncType::from_env(
                canonicalize_func_type(info.func_type_at(t), &id),
            ))),
        }
    }
    /// The function type, if this is one.
    pub fn func(&self) -> Option<&FuncType> {
        match self {
            ExternType::Func(f) => Some(f),
            _ => None,
        }
    }
    /// The global type, if this is one.
    pub fn global(&self) -> Option<&GlobalType> {
        match self {
            ExternType::Global(g) => Some(g),
            _ => None,
        }
    }
    /// The table type, if this is one.
    pub fn table(&self) -> Option<&TableType> {
        match self {
            ExternType::Table(t) => Some(t),
            _ => None,
        }
    }
    /// The memory type, if this is one.
    pub fn memory(&self) -> Option<&MemoryType> {
        match self {
            ExternType::Memory(m) => Some(m),
            _ => None,
        }
    }
    /// The tag type, if this is one.
    pub fn tag(&self) -> Option<&crate::TagType> {
        match self {
            ExternType::Tag(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for ExternType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternType::Func(t) => t.fmt(f),
            ExternType::Global(g) => {
                write!(f, "(global {}{})", if g.mutability == Mutability::Var { "mut " } else { "" }, g.content)
            }
            ExternType::Table(t) => write!(f, "(table {} {:?} {})", t.ty.minimum, t.ty.maximum, t.element()),
            ExternType::Memory(m) => write!(f, "(memory {} {:?})", m.ty.minimum, m.ty.maximum),
            ExternType::Tag(t) => write!(f, "({t})"),
        }
    }
}

/// An import of a module.
#[derive(Debug, Clone)]
pub struct ImportType<'a> {
    pub(crate) module: &'a str,
    pub(crate) name: &'a str,
    pub(crate) ty: ExternType,
}

impl<'a> ImportType<'a> {
    /// Module name.
    pub fn module(&self) -> &'a str {
        self.module
    }
    /// Field name.
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// Type.
    pub fn ty(&self) -> ExternType {
        self.ty.clone()
    }
}

/// An export of a module.
#[derive(Debug, Clone)]
pub struct ExportType<'a> {
    pub(crate) name: &'a str,
    pub(crate) ty: ExternType,
}

impl<'a> ExportType<'a> {
    /// Export name.
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// Type.
    pub fn ty(&self) -> ExternType {
        self.ty.clone()
    }
}
