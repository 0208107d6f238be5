//! [`ModuleInfo`]: everything about a core module except its function bodies' code, read from a
//! validated binary.

use crate::types::*;
use anyhow::{Context, Result, bail};
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use wasmparser::{Parser, Payload};

/// One operation of a constant expression (global initialisers, segment offsets, element items).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConstOp {
    /// Push an i32.
    I32Const(i32),
    /// Push an i64.
    I64Const(i64),
    /// Push an f32 (bits).
    F32Const(u32),
    /// Push an f64 (bits).
    F64Const(u64),
    /// Push a v128.
    V128Const(u128),
    /// Push the value of a global (imported, or an earlier defined one).
    GlobalGet(GlobalIndex),
    /// Push a null reference.
    RefNull(WasmHeapType),
    /// Push a reference to a function.
    RefFunc(FuncIndex),
    /// Pop an i32 and push it as an `i31ref`.
    RefI31,
    /// `struct.new $t`: pop the fields, push a new struct.
    StructNew(TypeIndex),
    /// `struct.new_default $t`.
    StructNewDefault(TypeIndex),
    /// `struct.new_desc $t`: pop the descriptor, then the fields (custom descriptors).
    StructNewDesc(TypeIndex),
    /// `struct.new_default_desc $t`: pop the descriptor.
    StructNewDefaultDesc(TypeIndex),
    /// `array.new $t`: pop the initial value and the length.
    ArrayNew(TypeIndex),
    /// `array.new_default $t`: pop the length.
    ArrayNewDefault(TypeIndex),
    /// `array.new_fixed $t n`: pop `n` elements.
    ArrayNewFixed(TypeIndex, u32),
    /// Extended constant expressions.
    I32Add,
    /// `i32.sub`.
    I32Sub,
    /// `i32.mul`.
    I32Mul,
    /// `i64.add`.
    I64Add,
    /// `i64.sub`.
    I64Sub,
    /// `i64.mul`.
    I64Mul,
}

/// A constant expression, evaluated by the runtime at instantiation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConstExpr {
    /// The operations, in order; the expression leaves exactly one value.
    pub ops: Vec<ConstOp>,
}

impl ConstExpr {
    fn parse(expr: &wasmparser::ConstExpr<'_>, kind_of: KindOf<'_>) -> Result<ConstExpr> {
        use wasmparser::Operator as O;
        let mut ops = Vec::new();
        let mut reader = expr.get_operators_reader();
        while !reader.eof() {
            let op = match reader.read()? {
                O::I32Const { value } => ConstOp::I32Const(value),
                O::I64Const { value } => ConstOp::I64Const(value),
                O::F32Const { value } => ConstOp::F32Const(value.bits()),
                O::F64Const { value } => ConstOp::F64Const(value.bits()),
                O::V128Const { value } => ConstOp::V128Const(u128::from_le_bytes(*value.bytes())),
                O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
                O::RefNull { hty } => ConstOp::RefNull(convert_heap_type(hty, kind_of)?),
                O::RefFunc { function_index } => ConstOp::RefFunc(function_index),
                O::RefI31 => ConstOp::RefI31,
                O::StructNew { struct_type_index } => ConstOp::StructNew(struct_type_index),
                O::StructNewDefault { struct_type_index } => ConstOp::StructNewDefault(struct_type_index),
                O::StructNewDesc { struct_type_index } => ConstOp::StructNewDesc(struct_type_index),
                O::StructNewDefaultDesc { struct_type_index } => ConstOp::StructNewDefaultDesc(struct_type_index),
                O::ArrayNew { array_type_index } => ConstOp::ArrayNew(array_type_index),
                O::ArrayNewDefault { array_type_index } => ConstOp::ArrayNewDefault(array_type_index),
                O::ArrayNewFixed { array_type_index, array_size } => {
                    ConstOp::ArrayNewFixed(array_type_index, array_size)
                }
                O::I32Add => ConstOp::I32Add,
                O::I32Sub => ConstOp::I32Sub,
                O::I32Mul => ConstOp::I32Mul,
                O::I64Add => ConstOp::I64Add,
                O::I64Sub => ConstOp::I64Sub,
                O::I64Mul => ConstOp::I64Mul,
                // One word encoding for both hierarchies (see the compiler's casts).
                O::AnyConvertExtern | O::ExternConvertAny => continue,
                O::End => continue,
                other => bail!("unsupported operator in constant expression: {other:?}"),
            };
            ops.push(op);
        }
        Ok(ConstExpr { ops })
    }
}

/// A defined global.
#[derive(Debug, Clone)]
pub struct GlobalInit {
    /// Its type.
    pub ty: GlobalType,
    /// Its initial value.
    pub init: ConstExpr,
}

/// An import.
#[derive(Debug, Clone)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What is imported, and the index it occupies in its index space.
    pub index: EntityIndex,
    /// A function import of an exact type (`(func exact (type $t))`, the custom-descriptors
    /// proposal): only a function of exactly that type matches, not one of a subtype.
    pub exact: bool,
}

/// An export.
#[derive(Debug, Clone)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// What is exported.
    pub index: EntityIndex,
}

/// Where an element or data segment goes.
#[derive(Debug, Clone)]
pub enum SegmentMode<I> {
    /// Copied into table/memory `I` at `offset` during instantiation, then dropped.
    Active {
        /// Target table or memory.
        index: I,
        /// Start offset.
        offset: ConstExpr,
    },
    /// Available to `table.init` / `memory.init` until dropped.
    Passive,
    /// Only declares functions referenceable by `ref.func`; behaves as dropped.
    Declared,
}

/// The items of an element segment.
#[derive(Debug, Clone)]
pub enum ElemItems {
    /// Function indices.
    Functions(Vec<FuncIndex>),
    /// Constant expressions producing references.
    Exprs(Vec<ConstExpr>),
}

impl ElemItems {
    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            ElemItems::Functions(f) => f.len(),
            ElemItems::Exprs(e) => e.len(),
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An element segment.
#[derive(Debug, Clone)]
pub struct ElemSegment {
    /// Active, passive or declared.
    pub mode: SegmentMode<TableIndex>,
    /// Type of the items.
    pub ty: WasmRefType,
    /// The items.
    pub items: ElemItems,
}

/// A data segment.
#[derive(Debug, Clone)]
pub struct DataSegment {
    /// Active or passive.
    pub mode: SegmentMode<MemoryIndex>,
    /// Byte range of the data in the module binary.
    pub data: Range<usize>,
}

/// A defined function's body.
#[derive(Debug, Clone)]
pub struct FunctionBody {
    /// Byte range of the body (locals and code) in the module binary.
    pub range: Range<usize>,
}

/// Everything about a core module that the code generator and the runtime need, except code.
#[derive(Debug, Clone, Default)]
pub struct ModuleInfo {
    /// Module name from the name section, if any.
    pub name: Option<String>,
    /// The type section: function, struct and array types.
    pub types: Vec<WasmSubType>,
    /// The recursion groups of the type section, as ranges of type indices, in order. Types are
    /// equivalent when their groups are isomorphic and they sit at the same position (the
    /// iso-recursive rule); a type in no group (modules built by hand) is a group of its own.
    pub rec_groups: Vec<Range<TypeIndex>>,
    /// Type index of every function, imported ones first.
    pub functions: Vec<TypeIndex>,
    /// Every table, imported ones first.
    pub tables: Vec<TableType>,
    /// The initial element of each defined table: `None` for null, or a constant expression
    /// (function references' `(table n (ref $t) expr)`).
    pub table_inits: Vec<Option<ConstExpr>>,
    /// Every memory, imported ones first.
    pub memories: Vec<MemoryType>,
    /// Type of every global, imported ones first.
    pub globals: Vec<GlobalType>,
    /// Initialisers of the defined globals (index `i` is global `num_imported_globals + i`).
    pub global_inits: Vec<ConstExpr>,
    /// Imports in order.
    pub imports: Vec<Import>,
    /// Exports in order.
    pub exports: Vec<Export>,
    /// Start function.
    pub start: Option<FuncIndex>,
    /// Element segments.
    pub elems: Vec<ElemSegment>,
    /// Data segments.
    pub data: Vec<DataSegment>,
    /// Bodies of the defined functions (only for compiling: a module loaded from precompiled
    /// code has none).
    pub bodies: Vec<FunctionBody>,
    /// Function names from the name section.
    pub func_names: crate::FuncNames,
    /// Functions whose reference can escape (exported, in an element segment, `ref.func`'d, start):
    /// they need a complete `VMFuncRef`.
    pub escaping_funcs: BTreeSet<FuncIndex>,
    /// Imported entity counts.
    pub num_imported_funcs: u32,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Type index (a function type with no results) of every tag, imported ones first.
    pub tags: Vec<TypeIndex>,
    /// Number of imported tags.
    pub num_imported_tags: u32,
}

impl ModuleInfo {
    /// Validates `wasm` with the supported features and reads its description.
    pub fn parse(wasm: &[u8]) -> Result<ModuleInfo> {
        Self::parse_with_features(wasm, crate::supported_features())
    }

    /// Validates `wasm` with `features` and reads its description. Adapter modules generated for
    /// components use this with multi-memory enabled.
    pub fn parse_with_features(wasm: &[u8], features: wasmparser::WasmFeatures) -> Result<ModuleInfo> {
        let mut validator = wasmparser::Validator::new_with_features(features);
        validator.validate_all(wasm)?;
        Self::parse_validated(wasm)
    }

    /// Reads the description of an already validated module.
    pub fn parse_validated(wasm: &[u8]) -> Result<ModuleInfo> {
        let mut info = ModuleInfo::default();
        let mut func_names = HashMap::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::TypeSection(s) => {
                    for group in s {
                        let start = info.types.len() as u32;
                        let subs: Vec<wasmparser::SubType> = group?.into_types().collect();
                        // Members may refer to later members of their group: know all their kinds
                        // first.
                        let kinds: Vec<TypeKind> = info
                            .types
                            .iter()
                            .map(|t| t.composite.kind())
                            .chain(subs.iter().map(|s| composite_kind(&s.composite_type)))
                            .collect();
                        let kind_of = |i: u32| kinds.get(i as usize).copied().unwrap_or(TypeKind::Func);
                        for sub in subs {
                            let supertype = match sub.supertype_idxs.first() {
                                None => None,
                                Some(p) => Some(p.as_module_index().context("supertype outside the module")?),
                            };
                            let composite = convert_composite_type(&sub.composite_type, &kind_of)?;
                            let index = |p: Option<wasmparser::PackedIndex>| {
                                p.map(|p| p.as_module_index().context("descriptor outside the module")).transpose()
                            };
                            let descriptor = index(sub.composite_type.descriptor_idx)?;
                            let describes = index(sub.composite_type.describes_idx)?;
                            info.types.push(WasmSubType {
                                is_final: sub.is_final,
                                supertype,
                                descriptor,
                                describes,
                                composite,
                            });
                        }
                        info.rec_groups.push(start..info.types.len() as u32);
                    }
                }
                Payload::ImportSection(s) => {
                    for import in s.into_imports() {
                        let import = import?;
                        let exact = matches!(import.ty, wasmparser::TypeRef::FuncExact(_));
                        let index = match import.ty {
                            wasmparser::TypeRef::Func(ty) | wasmparser::TypeRef::FuncExact(ty) => {
                                info.functions.push(ty);
                                info.num_imported_funcs += 1;
                                EntityIndex::Function(info.functions.len() as u32 - 1)
                            }
                            wasmparser::TypeRef::Table(t) => {
                                info.tables.push(convert_table_type(&t, &|i| info.kind_of(i))?);
                                info.num_imported_tables += 1;
                                EntityIndex::Table(info.tables.len() as u32 - 1)
                            }
                            wasmparser::TypeRef::Memory(m) => {
                                info.memories.push(convert_memory_type(&m)?);
                                info.num_imported_memories += 1;
                                EntityIndex::Memory(info.memories.len() as u32 - 1)
                            }
                            wasmparser::TypeRef::Global(g) => {
                                info.globals.push(convert_global_type(&g, &|i| info.kind_of(i))?);
                                info.num_imported_globals += 1;
                                EntityIndex::Global(info.globals.len() as u32 - 1)
                            }
                            wasmparser::TypeRef::Tag(tag) => {
                                info.tags.push(tag.func_type_idx);
                                info.num_imported_tags += 1;
                                EntityIndex::Tag(info.tags.len() as u32 - 1)
                            }
                        };
                        info.imports.push(Import {
                            module: import.module.to_string(),
                            name: import.name.to_string(),
                            index,
                            exact,
                        });
                    }
                }
                Payload::FunctionSection(s) => {
                    for ty in s {
                        info.functions.push(ty?);
                    }
                }
                Payload::TableSection(s) => {
                    for table in s {
                        let table = table?;
                        let init = match table.init {
                            wasmparser::TableInit::RefNull => None,
                            wasmparser::TableInit::Expr(expr) => {
                                let expr = ConstExpr::parse(&expr, &|i| info.kind_of(i))?;
                                info.note_const_expr_refs(&expr);
                                Some(expr)
                            }
                        };
                        info.tables.push(convert_table_type(&table.ty, &|i| info.kind_of(i))?);
                        info.table_inits.push(init);
                    }
                }
                Payload::MemorySection(s) => {
                    for memory in s {
                        info.memories.push(convert_memory_type(&memory?)?);
                    }
                }
                Payload::TagSection(s) => {
                    for tag in s {
                        info.tags.push(tag?.func_type_idx);
                    }
                }
                Payload::GlobalSection(s) => {
                    for global in s {
                        let global = global?;
                        info.globals.push(convert_global_type(&global.ty, &|i| info.kind_of(i))?);
                        let init = ConstExpr::parse(&global.init_expr, &|i| info.kind_of(i))?;
                        info.note_const_expr_refs(&init);
                        info.global_inits.push(init);
                    }
                }
                Payload::ExportSection(s) => {
                    for export in s {
                        let export = export?;
                        let index = match export.kind {
                            wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                                info.escaping_funcs.insert(export.index);
                                EntityIndex::Function(export.index)
                            }
                            wasmparser::ExternalKind::Table => EntityIndex::Table(export.index),
                            wasmparser::ExternalKind::Memory => EntityIndex::Memory(export.index),
                            wasmparser::ExternalKind::Global => EntityIndex::Global(export.index),
                            wasmparser::ExternalKind::Tag => EntityIndex::Tag(export.index),
                        };
                        info.exports.push(Export { name: export.name.to_string(), index });
                    }
                }
                Payload::StartSection { func, .. } => {
                    info.escaping_funcs.insert(func);
                    info.start = Some(func);
                }
                Payload::ElementSection(s) => {
                    for elem in s {
                        let elem = elem?;
                        let mode = match elem.kind {
                            wasmparser::ElementKind::Active { table_index, offset_expr } => SegmentMode::Active {
                                index: table_index.unwrap_or(0),
                                offset: ConstExpr::parse(&offset_expr, &|i| info.kind_of(i))?,
                            },
                            wasmparser::ElementKind::Passive => SegmentMode::Passive,
                            wasmparser::ElementKind::Declared => SegmentMode::Declared,
                        };
                        let (ty, items) = match elem.items {
                            wasmparser::ElementItems::Functions(funcs) => {
                                let funcs = funcs.into_iter().collect::<Result<Vec<_>, _>>()?;
                                info.escaping_funcs.extend(funcs.iter().copied());
                                (WasmRefType::FUNCREF, ElemItems::Functions(funcs))
                            }
                            wasmparser::ElementItems::Expressions(ty, exprs) => {
                                let mut items = Vec::new();
                                for expr in exprs {
                                    let expr = ConstExpr::parse(&expr?, &|i| info.kind_of(i))?;
                                    info.note_const_expr_refs(&expr);
                                    items.push(expr);
                                }
                                (convert_ref_type(ty, &|i| info.kind_of(i))?, ElemItems::Exprs(items))
                            }
                        };
                        info.elems.push(ElemSegment { mode, ty, items });
                    }
                }
                Payload::DataSection(s) => {
                    for data in s {
                        let data = data?;
                        let mode = match data.kind {
                            wasmparser::DataKind::Active { memory_index, offset_expr } => SegmentMode::Active {
                                index: memory_index,
                                offset: ConstExpr::parse(&offset_expr, &|i| info.kind_of(i))?,
                            },
                            wasmparser::DataKind::Passive => SegmentMode::Passive,
                        };
                        let end = data.range.end as usize;
                        info.data.push(DataSegment { mode, data: end - data.data.len()..end });
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    // `ref.func` inside code makes its target escape.
                    let mut ops = body.get_operators_reader()?;
                    while !ops.eof() {
                        if let wasmparser::Operator::RefFunc { function_index } = ops.read()? {
                            info.escaping_funcs.insert(function_index);
                        }
                    }
                    let range = body.range();
                    info.bodies.push(FunctionBody { range: range.start as usize..range.end as usize });
                }
                Payload::CustomSection(section) => {
                    if let wasmparser::KnownCustom::Name(names) = section.as_known() {
                        // A malformed name section is ignored, as the spec requires.
                        let _ = info.read_names(names, &mut func_names);
                    }
                }
                _ => {}
            }
        }
        info.func_names = crate::FuncNames::from_map(func_names);
        Ok(info)
    }

    fn note_const_expr_refs(&mut self, expr: &ConstExpr) {
        for op in &expr.ops {
            if let ConstOp::RefFunc(f) = op {
                self.escaping_funcs.insert(*f);
            }
        }
    }

    fn read_names(
        &mut self,
        names: wasmparser::NameSectionReader<'_>,
        func_names: &mut HashMap<FuncIndex, String>,
    ) -> Result<()> {
        for name in names {
            match name? {
                wasmparser::Name::Module { name, .. } => self.name = Some(name.to_string()),
                wasmparser::Name::Function(map) => {
                    for naming in map {
                        let naming = naming?;
                        func_names.insert(naming.index, naming.name.to_string());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Number of defined (not imported) functions.
    pub fn num_defined_funcs(&self) -> u32 {
        self.functions.len() as u32 - self.num_imported_funcs
    }

    /// Whether function `f` is imported.
    pub fn is_imported_func(&self, f: FuncIndex) -> bool {
        f < self.num_imported_funcs
    }

    /// Signature of function `f`.
    pub fn func_type(&self, f: FuncIndex) -> &WasmFuncType {
        self.func_type_at(self.functions[f as usize])
    }

    /// The function type at type index `ty`. Validation (or, for precompiled modules, the
    /// loader's checks) guarantees that functions, tags, blocks and calls name function types.
    pub fn func_type_at(&self, ty: TypeIndex) -> &WasmFuncType {
        self.types[ty as usize].as_func().expect("validated modules use function types for functions")
    }

    /// The kind of type index `ty` (`Func` for an index outside the section, which validation
    /// rules out).
    pub fn kind_of(&self, ty: TypeIndex) -> TypeKind {
        self.types.get(ty as usize).map_or(TypeKind::Func, |t| t.composite.kind())
    }

    /// Converts a value type of this module's code.
    pub fn convert_val_type(&self, ty: wasmparser::ValType) -> Result<WasmValType> {
        convert_val_type(ty, &|i| self.kind_of(i))
    }

    /// Converts a heap type of this module's code.
    pub fn convert_heap_type(&self, ty: wasmparser::HeapType) -> Result<WasmHeapType> {
        convert_heap_type(ty, &|i| self.kind_of(i))
    }

    /// The depth of type `ty` in its declared subtype hierarchy (0 for a type with no supertype).
    pub fn type_depth(&self, ty: TypeIndex) -> u32 {
        let mut depth = 0;
        let mut t = ty;
        while let Some(sup) = self.types[t as usize].supertype {
            depth += 1;
            t = sup;
        }
        depth
    }

    /// Converts a defined-function index to a function index.
    pub fn func_index(&self, defined: u32) -> FuncIndex {
        defined + self.num_imported_funcs
    }

    /// Converts a function index to a defined-function index, if it is defined.
    pub fn defined_func_index(&self, f: FuncIndex) -> Option<u32> {
        f.checked_sub(self.num_imported_funcs)
    }

    /// Whether global `g` is imported.
    pub fn is_imported_global(&self, g: GlobalIndex) -> bool {
        g < self.num_imported_globals
    }

    /// The type of an import or export.
    pub fn entity_type(&self, index: EntityIndex) -> EntityType {
        match index {
            EntityIndex::Function(f) => EntityType::Function(self.functions[f as usize]),
            EntityIndex::Table(t) => EntityType::Table(self.tables[t as usize]),
            EntityIndex::Memory(m) => EntityType::Memory(self.memories[m as usize]),
            EntityIndex::Global(g) => EntityType::Global(self.globals[g as usize]),
            EntityIndex::Tag(t) => EntityType::Tag(self.tags[t as usize]),
        }
    }

    /// The recursion group of type `ty` (see [`ModuleInfo::rec_groups`]).
    pub fn rec_group_of(&self, ty: TypeIndex) -> Range<TypeIndex> {
        let i = self.rec_groups.partition_point(|g| g.end <= ty);
        match self.rec_groups.get(i) {
            Some(group) if group.contains(&ty) => group.clone(),
            _ => ty..ty + 1,
        }
    }

    /// A printable name of function `f` for errors and backtraces.
    pub fn func_display_name(&self, f: FuncIndex) -> String {
        match self.func_names.get(f) {
            Some(name) => name.to_string(),
            None => format!("<wasm function {f}>"),
        }
    }

    /// Finds an export by name.
    pub fn export(&self, name: &str) -> Option<EntityIndex> {
        self.exports.iter().find(|e| e.name == name).map(|e| e.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_imports_exports_and_segments() {
        // (module (import "m" "f" (func (param i32))) (memory 1) (func (export "g") ref.func 0 drop)
        //   (data (i32.const 8) "hi") (elem declare func 0))
        let wasm = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
            0x01, 0x08, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00, // types
            0x02, 0x07, 0x01, 0x01, b'm', 0x01, b'f', 0x00, 0x00, // import
            0x03, 0x02, 0x01, 0x01, // function
            0x05, 0x03, 0x01, 0x00, 0x01, // memory
            0x07, 0x05, 0x01, 0x01, b'g', 0x00, 0x01, // export
            0x09, 0x05, 0x01, 0x03, 0x00, 0x01, 0x00, // elem declare func 0
            0x0a, 0x07, 0x01, 0x05, 0x00, 0xd2, 0x00, 0x1a, 0x0b, // code
            0x0b, 0x08, 0x01, 0x00, 0x41, 0x08, 0x0b, 0x02, b'h', b'i', // data
        ];
        let info = ModuleInfo::parse(&wasm).unwrap();
        assert_eq!(info.num_imported_funcs, 1);
        assert_eq!(info.functions, vec![0, 1]);
        assert_eq!(info.export("g"), Some(EntityIndex::Function(1)));
        assert!(info.escaping_funcs.contains(&0) && info.escaping_funcs.contains(&1));
        assert_eq!(info.memories[0].minimum, 1);
        assert_eq!(&wasm[info.data[0].data.clone()], b"hi");
        assert!(matches!(info.elems[0].mode, SegmentMode::Declared));
        assert_eq!(info.bodies.len(), 1);
    }
}
