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
    /// A defined type (function, struct or array), named by its index in the module's type
    /// section. Only meaningful together with its module; see [`WasmHeapType::Engine`].
    Concrete(TypeKind, TypeIndex),
    /// A defined type named by its engine-wide id: the form types take when they leave their
    /// module (imports, exports, host values), so they compare across modules.
    Engine(TypeKind, u32),
    /// The top of the GC hierarchy (`any`).
    Any,
    /// Any struct (`struct`).
    Struct,
    /// Any array (`array`).
    Array,
    /// Values comparable with `ref.eq` (`eq`).
    Eq,
    /// Unboxed 31-bit integers (`i31`): the word `(x << 1) | 1`, never a pointer.
    I31,
    /// The bottom of the GC hierarchy: only null (`none`).
    None,
}

/// What a defined type describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TypeKind {
    /// A function signature.
    Func,
    /// A struct (GC).
    Struct,
    /// An array (GC).
    Array,
}

impl WasmHeapType {
    /// Whether every value of `self` is a value of `other`, for heap types in the same index space
    /// (both module-relative or both engine-wide).
    pub fn is_subtype_of(self, other: WasmHeapType) -> bool {
        use WasmHeapType::*;
        self == other
            || matches!(
                (self, other),
                (NoFunc, Func | Concrete(TypeKind::Func, _) | Engine(TypeKind::Func, _))
                    | (Concrete(TypeKind::Func, _) | Engine(TypeKind::Func, _), Func)
                    | (NoExtern, Extern)
                    | (NoExn, Exn)
                    | (I31 | Struct | Array, Eq | Any)
                    | (Eq, Any)
                    | (None, Any | Eq | I31 | Struct | Array)
                    | (
                        None,
                        Concrete(TypeKind::Struct | TypeKind::Array, _) | Engine(TypeKind::Struct | TypeKind::Array, _)
                    )
                    | (Concrete(TypeKind::Struct, _) | Engine(TypeKind::Struct, _), Struct | Eq | Any)
                    | (Concrete(TypeKind::Array, _) | Engine(TypeKind::Array, _), Array | Eq | Any)
            )
    }

    /// Whether references of this heap type point to functions (`VMFuncRef`s).
    pub fn is_func(self) -> bool {
        matches!(
            self,
            WasmHeapType::Func
                | WasmHeapType::NoFunc
                | WasmHeapType::Concrete(TypeKind::Func, _)
                | WasmHeapType::Engine(TypeKind::Func, _)
        )
    }

    /// The top type of this type's hierarchy.
    pub fn top(self) -> WasmHeapType {
        use WasmHeapType::*;
        match self {
            Func | NoFunc | Concrete(TypeKind::Func, _) | Engine(TypeKind::Func, _) => Func,
            Extern | NoExtern => Extern,
            Exn | NoExn => Exn,
            _ => Any,
        }
    }

    /// Whether values of this heap type may be objects the collector traces (GC objects, host
    /// references and what `any.convert_extern` made of them, and exception objects): what
    /// compiled code records in stack maps.
    pub fn is_gc_managed(self) -> bool {
        use WasmHeapType::*;
        matches!(
            self,
            Extern
                | Exn
                | Any
                | Eq
                | Struct
                | Array
                | Concrete(TypeKind::Struct | TypeKind::Array, _)
                | Engine(TypeKind::Struct | TypeKind::Array, _)
        )
    }
}

/// A reference type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WasmRefType {
    /// Whether null is a value of this type.
    pub nullable: bool,
    /// What the reference points to.
    pub heap: WasmHeapType,
    /// Whether a concrete heap type admits none of its subtypes (`(ref exact $t)`, the
    /// custom-descriptors proposal).
    pub exact: bool,
}

impl WasmRefType {
    /// `funcref`.
    pub const FUNCREF: WasmRefType = WasmRefType::new(true, WasmHeapType::Func);
    /// `externref`.
    pub const EXTERNREF: WasmRefType = WasmRefType::new(true, WasmHeapType::Extern);
    /// `exnref`.
    pub const EXNREF: WasmRefType = WasmRefType::new(true, WasmHeapType::Exn);

    /// A reference type that is not exact.
    pub const fn new(nullable: bool, heap: WasmHeapType) -> WasmRefType {
        WasmRefType { nullable, heap, exact: false }
    }

    /// Whether every value of `self` is a value of `other` (same index space, as for heap types).
    /// An exact type's subtypes are itself (exact or not: `(ref exact $t) <: (ref $t)`) and the
    /// bottom type of its hierarchy.
    pub fn is_subtype_of(self, other: WasmRefType) -> bool {
        use WasmHeapType::*;
        (other.nullable || !self.nullable)
            && (!other.exact
                || (self.exact && self.heap == other.heap)
                || matches!(self.heap, None | NoFunc | NoExtern | NoExn))
            && self.heap.is_subtype_of(other.heap)
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
            WasmHeapType::Struct => Some("structref"),
            WasmHeapType::Array => Some("arrayref"),
            _ => None,
        };
        match (self.nullable, short) {
            (true, Some(name)) => f.write_str(name),
            _ => {
                f.write_str("(ref ")?;
                if self.nullable {
                    f.write_str("null ")?;
                }
                if self.exact {
                    f.write_str("(exact ")?;
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
                    WasmHeapType::Struct => f.write_str("struct")?,
                    WasmHeapType::Array => f.write_str("array")?,
                    WasmHeapType::Concrete(_, i) => write!(f, "{i}")?,
                    WasmHeapType::Engine(_, id) => write!(f, "<engine type {id}>")?,
                }
                f.write_str(if self.exact { "))" } else { ")" })
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
    /// Whether values of this type can be references the collector must be able to find on the
    /// stack (see [`WasmHeapType::is_gc_managed`]; function references belong to their instances,
    /// i31s are not pointers, and the bottom types hold only null). Compiled code records where
    /// such values live across calls.
    pub fn is_gc_ref(self) -> bool {
        matches!(self, WasmValType::Ref(r) if r.heap.is_gc_managed())
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

/// What kind of type each module type index names, for converting references to concrete types
/// (a closure over the module's type section).
pub type KindOf<'a> = &'a dyn Fn(TypeIndex) -> TypeKind;

/// Converts wasmparser's value type; `kind_of` says what each concrete type index names.
pub fn convert_val_type(ty: wasmparser::ValType, kind_of: KindOf<'_>) -> Result<WasmValType> {
    Ok(match ty {
        wasmparser::ValType::I32 => WasmValType::I32,
        wasmparser::ValType::I64 => WasmValType::I64,
        wasmparser::ValType::F32 => WasmValType::F32,
        wasmparser::ValType::F64 => WasmValType::F64,
        wasmparser::ValType::V128 => WasmValType::V128,
        wasmparser::ValType::Ref(r) => WasmValType::Ref(convert_ref_type(r, kind_of)?),
    })
}

/// Converts wasmparser's heap type.
pub fn convert_heap_type(ty: wasmparser::HeapType, kind_of: KindOf<'_>) -> Result<WasmHeapType> {
    use wasmparser::{AbstractHeapType as A, HeapType, UnpackedIndex};
    Ok(match ty {
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
            A::Struct => WasmHeapType::Struct,
            A::Array => WasmHeapType::Array,
            other => bail!("unsupported feature: reference type `{other:?}`"),
        },
        HeapType::Concrete(UnpackedIndex::Module(i)) | HeapType::Exact(UnpackedIndex::Module(i)) => {
            WasmHeapType::Concrete(kind_of(i), i)
        }
        other => bail!("unsupported feature: reference type with heap type {other:?}"),
    })
}

/// Converts wasmparser's reference type.
pub fn convert_ref_type(ty: wasmparser::RefType, kind_of: KindOf<'_>) -> Result<WasmRefType> {
    Ok(WasmRefType {
        nullable: ty.is_nullable(),
        heap: convert_heap_type(ty.heap_type(), kind_of)?,
        exact: ty.is_exact_type_ref(),
    })
}

/// Where a struct field or array element is stored: a packed integer or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WasmStorageType {
    /// 8-bit packed integer.
    I8,
    /// 16-bit packed integer.
    I16,
    /// A full value.
    Val(WasmValType),
}

impl WasmStorageType {
    /// Bytes the storage takes in an object (references are pointer-sized).
    pub fn size(self) -> u32 {
        match self {
            WasmStorageType::I8 => 1,
            WasmStorageType::I16 => 2,
            WasmStorageType::Val(WasmValType::I32 | WasmValType::F32) => 4,
            WasmStorageType::Val(WasmValType::I64 | WasmValType::F64 | WasmValType::Ref(_)) => 8,
            WasmStorageType::Val(WasmValType::V128) => 16,
        }
    }

    /// The value type a `get` of this storage produces (packed integers unpack to i32).
    pub fn unpacked(self) -> WasmValType {
        match self {
            WasmStorageType::I8 | WasmStorageType::I16 => WasmValType::I32,
            WasmStorageType::Val(v) => v,
        }
    }

    /// Whether a collector must trace this storage.
    pub fn is_gc_ref(self) -> bool {
        matches!(self, WasmStorageType::Val(v) if v.is_gc_ref())
    }
}

impl fmt::Display for WasmStorageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmStorageType::I8 => f.write_str("i8"),
            WasmStorageType::I16 => f.write_str("i16"),
            WasmStorageType::Val(v) => v.fmt(f),
        }
    }
}

/// A struct field or an array's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WasmFieldType {
    /// What is stored.
    pub storage: WasmStorageType,
    /// Whether `struct.set` / `array.set` may write it.
    pub mutable: bool,
}

/// The body of a defined type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WasmCompositeType {
    /// A function signature.
    Func(WasmFuncType),
    /// A struct with these fields.
    Struct(Box<[WasmFieldType]>),
    /// An array of this element type.
    Array(WasmFieldType),
}

impl WasmCompositeType {
    /// Its kind.
    pub fn kind(&self) -> TypeKind {
        match self {
            WasmCompositeType::Func(_) => TypeKind::Func,
            WasmCompositeType::Struct(_) => TypeKind::Struct,
            WasmCompositeType::Array(_) => TypeKind::Array,
        }
    }
}

/// A defined type: its body, whether it may have subtypes, and its declared supertype.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WasmSubType {
    /// `sub final` (or no `sub` at all): no type may declare it as supertype.
    pub is_final: bool,
    /// The declared supertype (a module type index, or an engine id in engine form).
    pub supertype: Option<u32>,
    /// The struct type that describes this one (custom descriptors' `(descriptor $d)`): objects
    /// of this type hold a reference to their descriptor, before their fields.
    pub descriptor: Option<u32>,
    /// The struct type this one describes (`(describes $t)`).
    pub describes: Option<u32>,
    /// The body.
    pub composite: WasmCompositeType,
}

impl WasmSubType {
    /// A final function type with no supertype (what a type written without `sub` is).
    pub fn func(ty: WasmFuncType) -> WasmSubType {
        WasmSubType::plain(WasmCompositeType::Func(ty))
    }

    /// A final type with no supertype and no descriptor.
    pub fn plain(composite: WasmCompositeType) -> WasmSubType {
        WasmSubType { is_final: true, supertype: None, descriptor: None, describes: None, composite }
    }

    /// The function signature, if this is a function type.
    pub fn as_func(&self) -> Option<&WasmFuncType> {
        match &self.composite {
            WasmCompositeType::Func(f) => Some(f),
            _ => None,
        }
    }

    /// Every value type this type mentions (parameters, results, fields).
    pub fn val_types(&self) -> Vec<WasmValType> {
        match &self.composite {
            WasmCompositeType::Func(f) => f.params.iter().chain(f.results.iter()).copied().collect(),
            WasmCompositeType::Struct(fields) => fields
                .iter()
                .filter_map(|f| if let WasmStorageType::Val(v) = f.storage { Some(v) } else { None })
                .collect(),
            WasmCompositeType::Array(f) => match f.storage {
                WasmStorageType::Val(v) => vec![v],
                _ => Vec::new(),
            },
        }
    }

    /// This type with every value type mapped by `f` and the supertype by `sup`.
    pub fn map(&self, f: &impl Fn(WasmValType) -> WasmValType, sup: &impl Fn(u32) -> u32) -> WasmSubType {
        let field = |x: &WasmFieldType| WasmFieldType {
            storage: match x.storage {
                WasmStorageType::Val(v) => WasmStorageType::Val(f(v)),
                other => other,
            },
            mutable: x.mutable,
        };
        WasmSubType {
            is_final: self.is_final,
            supertype: self.supertype.map(sup),
            descriptor: self.descriptor.map(sup),
            describes: self.describes.map(sup),
            composite: match &self.composite {
                WasmCompositeType::Func(t) => WasmCompositeType::Func(WasmFuncType {
                    params: t.params.iter().map(|v| f(*v)).collect(),
                    results: t.results.iter().map(|v| f(*v)).collect(),
                }),
                WasmCompositeType::Struct(fields) => WasmCompositeType::Struct(fields.iter().map(field).collect()),
                WasmCompositeType::Array(e) => WasmCompositeType::Array(field(e)),
            },
        }
    }
}

/// Where the fields of GC objects lie. Every object starts with an 8-byte header (see
/// [`crate::vmgc`]), then, for a type with a descriptor, the descriptor reference
/// ([`crate::vmgc::DESCRIPTOR`]); struct fields follow at their natural alignment, array elements
/// follow the header packed.
pub fn struct_field_offsets(fields: &[WasmFieldType], has_descriptor: bool) -> (Vec<u32>, u32) {
    let mut offset = crate::vmgc::HEADER_SIZE + if has_descriptor { 8 } else { 0 };
    let mut offsets = Vec::with_capacity(fields.len());
    for f in fields {
        let size = f.storage.size();
        offset = offset.next_multiple_of(size);
        offsets.push(offset);
        offset += size;
    }
    (offsets, offset.next_multiple_of(8))
}

/// Converts wasmparser's composite type.
pub fn convert_composite_type(ty: &wasmparser::CompositeType, kind_of: KindOf<'_>) -> Result<WasmCompositeType> {
    if ty.shared {
        bail!("unsupported feature: shared composite types");
    }
    let field = |f: &wasmparser::FieldType| -> Result<WasmFieldType> {
        Ok(WasmFieldType {
            storage: match f.element_type {
                wasmparser::StorageType::I8 => WasmStorageType::I8,
                wasmparser::StorageType::I16 => WasmStorageType::I16,
                wasmparser::StorageType::Val(v) => WasmStorageType::Val(convert_val_type(v, kind_of)?),
            },
            mutable: f.mutable,
        })
    };
    Ok(match &ty.inner {
        wasmparser::CompositeInnerType::Func(f) => WasmCompositeType::Func(convert_func_type(f, kind_of)?),
        wasmparser::CompositeInnerType::Struct(s) => {
            WasmCompositeType::Struct(s.fields.iter().map(field).collect::<Result<_>>()?)
        }
        wasmparser::CompositeInnerType::Array(a) => WasmCompositeType::Array(field(&a.0)?),
        wasmparser::CompositeInnerType::Cont(_) => bail!("unsupported feature: continuation types (stack switching)"),
    })
}

/// The kind of a wasmparser composite type.
pub fn composite_kind(ty: &wasmparser::CompositeType) -> TypeKind {
    match ty.inner {
        wasmparser::CompositeInnerType::Struct(_) => TypeKind::Struct,
        wasmparser::CompositeInnerType::Array(_) => TypeKind::Array,
        _ => TypeKind::Func,
    }
}

/// Rewrites module-relative concrete heap types in `ty` to engine-wide ones with `engine_id`
/// (module type index -> engine type id).
pub fn canonicalize_val_type(ty: WasmValType, engine_id: &impl Fn(TypeIndex) -> u32) -> WasmValType {
    match ty {
        WasmValType::Ref(WasmRefType { nullable, heap: WasmHeapType::Concrete(k, i), exact }) => {
            WasmValType::Ref(WasmRefType { nullable, heap: WasmHeapType::Engine(k, engine_id(i)), exact })
        }
        other => other,
    }
}

/// [`canonicalize_val_type`] for every value type of a defined type, and its supertype.
pub fn canonicalize_sub_type(ty: &WasmSubType, engine_id: &impl Fn(TypeIndex) -> u32) -> WasmSubType {
    ty.map(&|v| canonicalize_val_type(v, engine_id), engine_id)
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

/// `ty` with every engine-level reference `Engine(k, id)` replaced by `Engine(k, f(id))`, and its
/// supertype mapped the same way.
pub fn map_engine_refs(ty: &WasmSubType, f: &impl Fn(u32) -> u32) -> WasmSubType {
    let map = |t: WasmValType| match t {
        WasmValType::Ref(WasmRefType { nullable, heap: WasmHeapType::Engine(k, id), exact }) => {
            WasmValType::Ref(WasmRefType { nullable, heap: WasmHeapType::Engine(k, f(id)), exact })
        }
        other => other,
    };
    ty.map(&map, f)
}

/// Whether `actual <: expected` for value types in the same index space.
pub fn val_subtype(actual: WasmValType, expected: WasmValType) -> bool {
    match (actual, expected) {
        (WasmValType::Ref(a), WasmValType::Ref(e)) => a.is_subtype_of(e),
        (a, e) => a == e,
    }
}

/// Converts wasmparser's function type.
pub fn convert_func_type(ty: &wasmparser::FuncType, kind_of: KindOf<'_>) -> Result<WasmFuncType> {
    Ok(WasmFuncType {
        params: ty.params().iter().map(|t| convert_val_type(*t, kind_of)).collect::<Result<_>>()?,
        results: ty.results().iter().map(|t| convert_val_type(*t, kind_of)).collect::<Result<_>>()?,
    })
}

/// Converts wasmparser's table type.
pub fn convert_table_type(ty: &wasmparser::TableType, kind_of: KindOf<'_>) -> Result<TableType> {
    if ty.shared {
        bail!("unsupported feature: shared tables");
    }
    Ok(TableType {
        element: convert_ref_type(ty.element_type, kind_of)?,
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
pub fn convert_global_type(ty: &wasmparser::GlobalType, kind_of: KindOf<'_>) -> Result<GlobalType> {
    if ty.shared {
        bail!("unsupported feature: shared globals");
    }
    Ok(GlobalType { content: convert_val_type(ty.content_type, kind_of)?, mutable: ty.mutable })
}
