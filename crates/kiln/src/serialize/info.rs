//! [`ModuleInfo`] in the precompiled format, so loading a module never parses its wasm again.
//!
//! `encode` destructures `ModuleInfo` completely: a field added to it does not compile until it
//! is encoded here too. Decoding checks every index against the space it points into (the
//! validator's guarantees do not hold for bytes read from a file), so a damaged file is an error,
//! never an out-of-bounds access later.

use super::codec::{Reader, Writer};
use anyhow::{Result, anyhow, bail, ensure};
use kiln_environ::*;

fn heap_type(w: &mut Writer, h: WasmHeapType) {
    let (tag, index) = match h {
        WasmHeapType::Func => (0, 0),
        WasmHeapType::Extern => (1, 0),
        WasmHeapType::NoFunc => (2, 0),
        WasmHeapType::NoExtern => (3, 0),
        WasmHeapType::Exn => (4, 0),
        WasmHeapType::NoExn => (5, 0),
        WasmHeapType::Concrete(k, i) => (6 + 16 * kind_code(k), i),
        WasmHeapType::Engine(k, i) => (7 + 16 * kind_code(k), i),
        WasmHeapType::Any => (8, 0),
        WasmHeapType::Eq => (9, 0),
        WasmHeapType::I31 => (10, 0),
        WasmHeapType::None => (11, 0),
        WasmHeapType::Struct => (12, 0),
        WasmHeapType::Array => (13, 0),
    };
    w.u8(tag);
    if matches!(tag % 16, 6 | 7) {
        w.u32(index);
    }
}

fn kind_code(k: TypeKind) -> u8 {
    match k {
        TypeKind::Func => 0,
        TypeKind::Struct => 1,
        TypeKind::Array => 2,
    }
}

fn kind_from_code(code: u8) -> Result<TypeKind> {
    Ok(match code {
        0 => TypeKind::Func,
        1 => TypeKind::Struct,
        2 => TypeKind::Array,
        k => bail!("unknown type kind {k}"),
    })
}

fn read_heap_type(r: &mut Reader<'_>) -> Result<WasmHeapType> {
    let tag = r.u8()?;
    if matches!(tag % 16, 6 | 7) {
        let kind = kind_from_code(tag / 16)?;
        let index = r.u32()?;
        return Ok(if tag % 16 == 6 { WasmHeapType::Concrete(kind, index) } else { WasmHeapType::Engine(kind, index) });
    }
    Ok(match tag {
        0 => WasmHeapType::Func,
        1 => WasmHeapType::Extern,
        2 => WasmHeapType::NoFunc,
        3 => WasmHeapType::NoExtern,
        4 => WasmHeapType::Exn,
        5 => WasmHeapType::NoExn,
        8 => WasmHeapType::Any,
        9 => WasmHeapType::Eq,
        10 => WasmHeapType::I31,
        11 => WasmHeapType::None,
        12 => WasmHeapType::Struct,
        13 => WasmHeapType::Array,
        t => bail!("unknown heap type {t}"),
    })
}

fn ref_type(w: &mut Writer, t: WasmRefType) {
    w.bool(t.nullable);
    heap_type(w, t.heap);
    w.bool(t.exact);
}

fn read_ref_type(r: &mut Reader<'_>) -> Result<WasmRefType> {
    Ok(WasmRefType { nullable: r.bool()?, heap: read_heap_type(r)?, exact: r.bool()? })
}

fn val_type(w: &mut Writer, t: WasmValType) {
    match t {
        WasmValType::I32 => w.u8(0),
        WasmValType::I64 => w.u8(1),
        WasmValType::F32 => w.u8(2),
        WasmValType::F64 => w.u8(3),
        WasmValType::V128 => w.u8(4),
        WasmValType::Ref(r) => {
            w.u8(5);
            ref_type(w, r);
        }
    }
}

fn read_val_type(r: &mut Reader<'_>) -> Result<WasmValType> {
    Ok(match r.u8()? {
        0 => WasmValType::I32,
        1 => WasmValType::I64,
        2 => WasmValType::F32,
        3 => WasmValType::F64,
        4 => WasmValType::V128,
        5 => WasmValType::Ref(read_ref_type(r)?),
        t => bail!("unknown value type {t}"),
    })
}

fn option_u64(w: &mut Writer, v: Option<u64>) {
    w.bool(v.is_some());
    if let Some(v) = v {
        w.u64(v);
    }
}

fn read_option_u64(r: &mut Reader<'_>) -> Result<Option<u64>> {
    Ok(if r.bool()? { Some(r.u64()?) } else { None })
}

fn table_type(w: &mut Writer, t: &TableType) {
    ref_type(w, t.element);
    w.u64(t.minimum);
    option_u64(w, t.maximum);
    w.bool(t.table64);
}

fn read_table_type(r: &mut Reader<'_>) -> Result<TableType> {
    Ok(TableType { element: read_ref_type(r)?, minimum: r.u64()?, maximum: read_option_u64(r)?, table64: r.bool()? })
}

fn memory_type(w: &mut Writer, m: &MemoryType) {
    w.u64(m.minimum);
    option_u64(w, m.maximum);
    w.bool(m.memory64);
    w.bool(m.shared);
    w.u8(m.page_size_log2);
}

fn read_memory_type(r: &mut Reader<'_>) -> Result<MemoryType> {
    let m = MemoryType {
        minimum: r.u64()?,
        maximum: read_option_u64(r)?,
        memory64: r.bool()?,
        shared: r.bool()?,
        page_size_log2: r.u8()?,
    };
    ensure!(m.page_size_log2 == 0 || m.page_size_log2 == 16, "invalid page size 2^{}", m.page_size_log2);
    Ok(m)
}

fn global_type(w: &mut Writer, g: &GlobalType) {
    val_type(w, g.content);
    w.bool(g.mutable);
}

fn read_global_type(r: &mut Reader<'_>) -> Result<GlobalType> {
    Ok(GlobalType { content: read_val_type(r)?, mutable: r.bool()? })
}

fn const_expr(w: &mut Writer, e: &ConstExpr) -> Result<()> {
    w.count(e.ops.len())?;
    for op in &e.ops {
        match *op {
            ConstOp::I32Const(v) => {
                w.u8(0);
                w.u32(v as u32);
            }
            ConstOp::I64Const(v) => {
                w.u8(1);
                w.u64(v as u64);
            }
            ConstOp::F32Const(v) => {
                w.u8(2);
                w.u32(v);
            }
            ConstOp::F64Const(v) => {
                w.u8(3);
                w.u64(v);
            }
            ConstOp::V128Const(v) => {
                w.u8(4);
                w.buf.extend_from_slice(&v.to_le_bytes());
            }
            ConstOp::GlobalGet(g) => {
                w.u8(5);
                w.u32(g);
            }
            ConstOp::RefNull(h) => {
                w.u8(6);
                heap_type(w, h);
            }
            ConstOp::RefFunc(f) => {
                w.u8(7);
                w.u32(f);
            }
            ConstOp::I32Add => w.u8(8),
            ConstOp::I32Sub => w.u8(9),
            ConstOp::I32Mul => w.u8(10),
            ConstOp::I64Add => w.u8(11),
            ConstOp::I64Sub => w.u8(12),
            ConstOp::I64Mul => w.u8(13),
            ConstOp::RefI31 => w.u8(14),
            ConstOp::StructNew(t) => {
                w.u8(15);
                w.u32(t);
            }
            ConstOp::StructNewDefault(t) => {
                w.u8(16);
                w.u32(t);
            }
            ConstOp::StructNewDesc(t) => {
                w.u8(20);
                w.u32(t);
            }
            ConstOp::StructNewDefaultDesc(t) => {
                w.u8(21);
                w.u32(t);
            }
            ConstOp::ArrayNew(t) => {
                w.u8(17);
                w.u32(t);
            }
            ConstOp::ArrayNewDefault(t) => {
                w.u8(18);
                w.u32(t);
            }
            ConstOp::ArrayNewFixed(t, n) => {
                w.u8(19);
                w.u32(t);
                w.u32(n);
            }
        }
    }
    Ok(())
}

fn read_const_expr(r: &mut Reader<'_>) -> Result<ConstExpr> {
    let n = r.count(1)?;
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        ops.push(match r.u8()? {
            0 => ConstOp::I32Const(r.u32()? as i32),
            1 => ConstOp::I64Const(r.u64()? as i64),
            2 => ConstOp::F32Const(r.u32()?),
            3 => ConstOp::F64Const(r.u64()?),
            4 => ConstOp::V128Const(u128::from_le_bytes(r.array()?)),
            5 => ConstOp::GlobalGet(r.u32()?),
            6 => ConstOp::RefNull(read_heap_type(r)?),
            7 => ConstOp::RefFunc(r.u32()?),
            8 => ConstOp::I32Add,
            9 => ConstOp::I32Sub,
            10 => ConstOp::I32Mul,
            11 => ConstOp::I64Add,
            12 => ConstOp::I64Sub,
            13 => ConstOp::I64Mul,
            14 => ConstOp::RefI31,
            15 => ConstOp::StructNew(r.u32()?),
            16 => ConstOp::StructNewDefault(r.u32()?),
            17 => ConstOp::ArrayNew(r.u32()?),
            18 => ConstOp::ArrayNewDefault(r.u32()?),
            19 => ConstOp::ArrayNewFixed(r.u32()?, r.u32()?),
            20 => ConstOp::StructNewDesc(r.u32()?),
            21 => ConstOp::StructNewDefaultDesc(r.u32()?),
            t => bail!("unknown constant operation {t}"),
        });
    }
    Ok(ConstExpr { ops })
}

fn entity_index(w: &mut Writer, e: EntityIndex) {
    let (tag, i) = match e {
        EntityIndex::Function(i) => (0, i),
        EntityIndex::Table(i) => (1, i),
        EntityIndex::Memory(i) => (2, i),
        EntityIndex::Global(i) => (3, i),
        EntityIndex::Tag(i) => (4, i),
    };
    w.u8(tag);
    w.u32(i);
}

fn read_entity_index(r: &mut Reader<'_>) -> Result<EntityIndex> {
    let tag = r.u8()?;
    let i = r.u32()?;
    Ok(match tag {
        0 => EntityIndex::Function(i),
        1 => EntityIndex::Table(i),
        2 => EntityIndex::Memory(i),
        3 => EntityIndex::Global(i),
        4 => EntityIndex::Tag(i),
        t => bail!("unknown entity kind {t}"),
    })
}

fn segment_mode(w: &mut Writer, m: &SegmentMode<u32>) -> Result<()> {
    match m {
        SegmentMode::Active { index, offset } => {
            w.u8(0);
            w.u32(*index);
            const_expr(w, offset)?;
        }
        SegmentMode::Passive => w.u8(1),
        SegmentMode::Declared => w.u8(2),
    }
    Ok(())
}

fn read_segment_mode(r: &mut Reader<'_>) -> Result<SegmentMode<u32>> {
    Ok(match r.u8()? {
        0 => SegmentMode::Active { index: r.u32()?, offset: read_const_expr(r)? },
        1 => SegmentMode::Passive,
        2 => SegmentMode::Declared,
        t => bail!("unknown segment mode {t}"),
    })
}

fn u32s(w: &mut Writer, v: impl ExactSizeIterator<Item = u32>) -> Result<()> {
    w.count(v.len())?;
    for x in v {
        w.u32(x);
    }
    Ok(())
}

fn read_u32s(r: &mut Reader<'_>) -> Result<Vec<u32>> {
    let n = r.count(4)?;
    let bytes = r.take(n * 4)?;
    Ok(bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
}

/// Encodes `info`, whose data segments' ranges are given by `data` (one per segment: where its
/// bytes are in the data blob stored with it). Function bodies are not stored: they are only
/// needed to compile.
pub(crate) fn encode(w: &mut Writer, info: &ModuleInfo, data: &[std::ops::Range<usize>]) -> Result<()> {
    let ModuleInfo {
        name,
        types,
        rec_groups,
        functions,
        tables,
        table_inits,
        memories,
        globals,
        global_inits,
        imports,
        exports,
        start,
        elems,
        data: segments,
        bodies: _,
        func_names,
        escaping_funcs,
        num_imported_funcs,
        num_imported_tables,
        num_imported_memories,
        num_imported_globals,
        tags,
        num_imported_tags,
    } = info;
    w.bool(name.is_some());
    if let Some(name) = name {
        w.str(name);
    }
    w.count(types.len())?;
    for ty in types {
        w.bool(ty.is_final);
        w.u32(ty.supertype.unwrap_or(u32::MAX));
        w.u32(ty.descriptor.unwrap_or(u32::MAX));
        w.u32(ty.describes.unwrap_or(u32::MAX));
        let field = |w: &mut Writer, f: &WasmFieldType| {
            w.bool(f.mutable);
            match f.storage {
                WasmStorageType::I8 => w.u8(0),
                WasmStorageType::I16 => w.u8(1),
                WasmStorageType::Val(v) => {
                    w.u8(2);
                    val_type(w, v);
                }
            }
        };
        match &ty.composite {
            WasmCompositeType::Func(f) => {
                w.u8(0);
                w.count(f.params.len())?;
                f.params.iter().for_each(|t| val_type(w, *t));
                w.count(f.results.len())?;
                f.results.iter().for_each(|t| val_type(w, *t));
            }
            WasmCompositeType::Struct(fields) => {
                w.u8(1);
                w.count(fields.len())?;
                fields.iter().for_each(|f| field(w, f));
            }
            WasmCompositeType::Array(f) => {
                w.u8(2);
                field(w, f);
            }
        }
    }
    w.count(rec_groups.len())?;
    for g in rec_groups {
        w.u32(g.start);
        w.u32(g.end);
    }
    u32s(w, functions.iter().copied())?;
    w.count(tables.len())?;
    tables.iter().for_each(|t| table_type(w, t));
    w.count(table_inits.len())?;
    for init in table_inits {
        w.bool(init.is_some());
        if let Some(init) = init {
            const_expr(w, init)?;
        }
    }
    w.count(memories.len())?;
    memories.iter().for_each(|m| memory_type(w, m));
    w.count(globals.len())?;
    globals.iter().for_each(|g| global_type(w, g));
    w.count(global_inits.len())?;
    for init in global_inits {
        const_expr(w, init)?;
    }
    w.count(imports.len())?;
    for import in imports {
        w.str(&import.module);
        w.str(&import.name);
        entity_index(w, import.index);
        w.bool(import.exact);
    }
    w.count(exports.len())?;
    for export in exports {
        w.str(&export.name);
        entity_index(w, export.index);
    }
    w.bool(start.is_some());
    w.u32(start.unwrap_or(0));
    w.count(elems.len())?;
    for elem in elems {
        segment_mode(w, &elem.mode)?;
        ref_type(w, elem.ty);
        match &elem.items {
            ElemItems::Functions(funcs) => {
                w.u8(0);
                u32s(w, funcs.iter().copied())?;
            }
            ElemItems::Exprs(exprs) => {
                w.u8(1);
                w.count(exprs.len())?;
                for e in exprs {
                    const_expr(w, e)?;
                }
            }
        }
    }
    ensure!(data.len() == segments.len(), "a data range for each segment");
    w.count(segments.len())?;
    for (segment, range) in segments.iter().zip(data) {
        segment_mode(w, &segment.mode)?;
        w.u64(range.start as u64);
        w.u64(range.end as u64);
    }
    w.checked_blob(func_names.as_bytes(), 1)?;
    u32s(w, escaping_funcs.iter().copied())?;
    for n in [num_imported_funcs, num_imported_tables, num_imported_memories, num_imported_globals, num_imported_tags] {
        w.u32(*n);
    }
    u32s(w, tags.iter().copied())?;
    Ok(())
}

/// Decodes what [`encode`] wrote. `names` reads the function names' checked blob, whose bytes
/// stay where they are. Data ranges are checked against `data_len`.
pub(crate) fn decode<'a>(
    r: &mut Reader<'a>,
    names: impl FnOnce(&mut Reader<'a>) -> Result<SharedBytes>,
    data_len: usize,
) -> Result<ModuleInfo> {
    let mut info = ModuleInfo::default();
    if r.bool()? {
        info.name = Some(r.str()?.to_string());
    }
    for _ in 0..r.count(16)? {
        let is_final = r.bool()?;
        let supertype = Some(r.u32()?).filter(|s| *s != u32::MAX);
        let descriptor = Some(r.u32()?).filter(|s| *s != u32::MAX);
        let describes = Some(r.u32()?).filter(|s| *s != u32::MAX);
        let field = |r: &mut Reader<'_>| -> Result<WasmFieldType> {
            let mutable = r.bool()?;
            let storage = match r.u8()? {
                0 => WasmStorageType::I8,
                1 => WasmStorageType::I16,
                2 => WasmStorageType::Val(read_val_type(r)?),
                t => bail!("unknown storage type {t}"),
            };
            Ok(WasmFieldType { storage, mutable })
        };
        let composite = match r.u8()? {
            0 => {
                let params = (0..r.count(1)?).map(|_| read_val_type(r)).collect::<Result<_>>()?;
                let results = (0..r.count(1)?).map(|_| read_val_type(r)).collect::<Result<_>>()?;
                WasmCompositeType::Func(WasmFuncType { params, results })
            }
            1 => WasmCompositeType::Struct((0..r.count(2)?).map(|_| field(r)).collect::<Result<_>>()?),
            2 => WasmCompositeType::Array(field(r)?),
            t => bail!("unknown composite type {t}"),
        };
        info.types.push(WasmSubType { is_final, supertype, descriptor, describes, composite });
    }
    info.rec_groups = (0..r.count(8)?).map(|_| Ok(r.u32()?..r.u32()?)).collect::<Result<_>>()?;
    info.functions = read_u32s(r)?;
    info.tables = (0..r.count(12)?).map(|_| read_table_type(r)).collect::<Result<_>>()?;
    info.table_inits = (0..r.count(1)?)
        .map(|_| Ok(if r.bool()? { Some(read_const_expr(r)?) } else { None }))
        .collect::<Result<_>>()?;
    info.memories = (0..r.count(12)?).map(|_| read_memory_type(r)).collect::<Result<_>>()?;
    info.globals = (0..r.count(2)?).map(|_| read_global_type(r)).collect::<Result<_>>()?;
    info.global_inits = (0..r.count(4)?).map(|_| read_const_expr(r)).collect::<Result<_>>()?;
    info.imports = (0..r.count(22)?)
        .map(|_| {
            Ok(Import {
                module: r.str()?.to_string(),
                name: r.str()?.to_string(),
                index: read_entity_index(r)?,
                exact: r.bool()?,
            })
        })
        .collect::<Result<_>>()?;
    info.exports = (0..r.count(13)?)
        .map(|_| Ok(Export { name: r.str()?.to_string(), index: read_entity_index(r)? }))
        .collect::<Result<_>>()?;
    let has_start = r.bool()?;
    let start = r.u32()?;
    info.start = has_start.then_some(start);
    for _ in 0..r.count(3)? {
        let mode = read_segment_mode(r)?;
        let ty = read_ref_type(r)?;
        let items = match r.u8()? {
            0 => ElemItems::Functions(read_u32s(r)?),
            1 => ElemItems::Exprs((0..r.count(4)?).map(|_| read_const_expr(r)).collect::<Result<_>>()?),
            t => bail!("unknown element items {t}"),
        };
        info.elems.push(ElemSegment { mode, ty, items });
    }
    for _ in 0..r.count(17)? {
        let mode = read_segment_mode(r)?;
        let (start, end) = (r.u64()?, r.u64()?);
        ensure!(start <= end && end <= data_len as u64, "a data segment lies outside the data");
        info.data.push(DataSegment { mode, data: start as usize..end as usize });
    }
    info.func_names = FuncNames::from_bytes(names(r)?)?;
    info.escaping_funcs = read_u32s(r)?.into_iter().collect();
    info.num_imported_funcs = r.u32()?;
    info.num_imported_tables = r.u32()?;
    info.num_imported_memories = r.u32()?;
    info.num_imported_globals = r.u32()?;
    info.num_imported_tags = r.u32()?;
    info.tags = read_u32s(r)?;
    check(&info)?;
    Ok(info)
}

/// Every index in `info` lies inside the space it names, as validation guaranteed when the info
/// was made: the runtime indexes with them without further checks.
fn check(info: &ModuleInfo) -> Result<()> {
    let types = info.types.len() as u64;
    let in_space = |i: u32, len: usize, what: &str| -> Result<()> {
        ensure!((i as usize) < len, "{what} {i} out of range ({len})");
        Ok(())
    };
    let heap = |h: WasmHeapType| match h {
        WasmHeapType::Concrete(k, i) => {
            in_space(i, types as usize, "type")?;
            ensure!(info.types[i as usize].composite.kind() == k, "type {i} is not of the kind its use says");
            Ok(())
        }
        _ => Ok(()),
    };
    let val = |t: &WasmValType| match t {
        WasmValType::Ref(r) => heap(r.heap),
        _ => Ok(()),
    };
    for (i, ty) in info.types.iter().enumerate() {
        ty.val_types().iter().try_for_each(val)?;
        if let Some(sup) = ty.supertype {
            ensure!((sup as usize) < i, "type {i} has a supertype out of order");
        }
        for linked in [ty.descriptor, ty.describes].into_iter().flatten() {
            in_space(linked, info.types.len(), "descriptor type")?;
            ensure!(
                matches!(info.types[linked as usize].composite, WasmCompositeType::Struct(_))
                    && matches!(ty.composite, WasmCompositeType::Struct(_)),
                "type {i} has a descriptor link between non-struct types"
            );
        }
    }
    let func_type = |t: u32| -> Result<()> {
        in_space(t, info.types.len(), "type")?;
        ensure!(info.types[t as usize].as_func().is_some(), "type {t} is not a function type");
        Ok(())
    };
    let mut end = 0;
    for g in &info.rec_groups {
        ensure!(g.start == end && g.start <= g.end && u64::from(g.end) <= types, "corrupt recursion groups");
        end = g.end;
    }
    for f in &info.functions {
        func_type(*f)?;
    }
    for t in &info.tags {
        func_type(*t)?;
    }
    for (count, len, what) in [
        (info.num_imported_funcs, info.functions.len(), "imported functions"),
        (info.num_imported_tables, info.tables.len(), "imported tables"),
        (info.num_imported_memories, info.memories.len(), "imported memories"),
        (info.num_imported_globals, info.globals.len(), "imported globals"),
        (info.num_imported_tags, info.tags.len(), "imported tags"),
    ] {
        ensure!(count as usize <= len, "{count} {what}, only {len} in all");
    }
    ensure!(
        info.table_inits.len() == info.tables.len() - info.num_imported_tables as usize
            && info.global_inits.len() == info.globals.len() - info.num_imported_globals as usize,
        "initialisers do not match the defined tables and globals"
    );
    for t in &info.tables {
        heap(t.element.heap)?;
    }
    for g in &info.globals {
        val(&g.content)?;
    }
    let entity = |e: EntityIndex| match e {
        EntityIndex::Function(i) => in_space(i, info.functions.len(), "function"),
        EntityIndex::Table(i) => in_space(i, info.tables.len(), "table"),
        EntityIndex::Memory(i) => in_space(i, info.memories.len(), "memory"),
        EntityIndex::Global(i) => in_space(i, info.globals.len(), "global"),
        EntityIndex::Tag(i) => in_space(i, info.tags.len(), "tag"),
    };
    let expr = |e: &ConstExpr| -> Result<()> {
        ensure!(!e.ops.is_empty(), "an empty constant expression");
        for op in &e.ops {
            match op {
                ConstOp::GlobalGet(g) => in_space(*g, info.globals.len(), "global")?,
                ConstOp::RefFunc(f) => in_space(*f, info.functions.len(), "function")?,
                ConstOp::RefNull(h) => heap(*h)?,
                _ => {}
            }
        }
        Ok(())
    };
    info.table_inits.iter().flatten().try_for_each(expr)?;
    info.global_inits.iter().try_for_each(expr)?;
    let (mut funcs, mut tables, mut memories, mut globals, mut tags) = (0, 0, 0, 0, 0);
    for import in &info.imports {
        // Imports occupy the first indices of each space, in order.
        let (next, expected) = match import.index {
            EntityIndex::Function(i) => (&mut funcs, i),
            EntityIndex::Table(i) => (&mut tables, i),
            EntityIndex::Memory(i) => (&mut memories, i),
            EntityIndex::Global(i) => (&mut globals, i),
            EntityIndex::Tag(i) => (&mut tags, i),
        };
        ensure!(*next == expected, "imports out of order");
        *next += 1;
    }
    ensure!(
        [funcs, tables, memories, globals, tags]
            == [
                info.num_imported_funcs,
                info.num_imported_tables,
                info.num_imported_memories,
                info.num_imported_globals,
                info.num_imported_tags
            ],
        "the imports do not match the import counts"
    );
    info.exports.iter().try_for_each(|e| entity(e.index))?;
    if let Some(start) = info.start {
        in_space(start, info.functions.len(), "function")?;
    }
    for elem in &info.elems {
        if let SegmentMode::Active { index, offset } = &elem.mode {
            in_space(*index, info.tables.len(), "table")?;
            expr(offset)?;
        }
        heap(elem.ty.heap)?;
        match &elem.items {
            ElemItems::Functions(funcs) => {
                funcs.iter().try_for_each(|f| in_space(*f, info.functions.len(), "function"))?
            }
            ElemItems::Exprs(exprs) => exprs.iter().try_for_each(expr)?,
        }
    }
    for data in &info.data {
        match &data.mode {
            SegmentMode::Active { index, offset } => {
                in_space(*index, info.memories.len(), "memory")?;
                expr(offset)?;
            }
            SegmentMode::Passive => {}
            SegmentMode::Declared => return Err(anyhow!("a declared data segment")),
        }
    }
    info.escaping_funcs.iter().try_for_each(|f| in_space(*f, info.functions.len(), "function"))?;
    Ok(())
}
