//! Linear memories, globals, tables and the bulk operations on them.

use super::{FuncTranslator, trusted, trusted_readonly};
use crate::{trap_code, value_type};
use anyhow::Result;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I8, I16, I32, I64};
use cranelift_codegen::ir::{BlockArg, Endianness, InstBuilder, MemFlagsData, TrapCode, Type, Value};
use kiln_environ::{Builtin, Trap, WasmValType, vmmemory, vmtable};
use wasmparser::MemArg;

/// How a load extends its value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ext {
    None,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
}

pub(super) fn memory_index(memarg: &MemArg) -> Result<u32> {
    match memarg.target {
        wasmparser::MemArgTarget::Memory(m) => Ok(m),
        wasmparser::MemArgTarget::Array(_) => anyhow::bail!("unsupported feature: GC array access"),
    }
}

/// Flags of a wasm memory access: little-endian, may fault (`heap_oob`).
pub(super) fn heap_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

impl FuncTranslator<'_, '_> {
    /// Where memory `m`'s `VMMemoryDefinition` is, as a base value and an offset: the `VMContext`
    /// itself for an owned memory (its definition is inline), else the definition pointer loaded
    /// from the `VMContext`. The pointer load is read-only and movable (a memory's definition
    /// never moves), so Cranelift deduplicates and hoists it.
    fn memory_definition(&mut self, m: u32) -> (Value, i32) {
        if let Some(offset) = self.env.offsets.memory_definition(m) {
            return (self.vmctx, offset as i32);
        }
        let flags = trusted_readonly().with_can_move();
        let offset = self.env.offsets.memory_ptr(m) as i32;
        (self.b.ins().load(I64, flags, self.vmctx, offset), 0)
    }

    /// The base pointer of memory `m`: read-only and movable, as memories are reserved in place
    /// and never move.
    fn memory_base(&mut self, m: u32) -> Value {
        let (def, offset) = self.memory_definition(m);
        let flags = trusted_readonly().with_can_move();
        self.b.ins().load(I64, flags, def, offset + vmmemory::BASE as i32)
    }

    /// The current length in bytes of memory `m`.
    fn memory_length(&mut self, m: u32) -> Result<Value> {
        let (def, offset) = self.memory_definition(m);
        Ok(self.b.ins().load(I64, trusted(), def, offset + vmmemory::CURRENT_LENGTH as i32))
    }

    /// The address of an access of `size` bytes at `index + offset` in memory `m`, as a pointer and
    /// an immediate offset; traps (or, with Spectre guards, yields a null pointer that faults) when
    /// out of bounds.
    pub(super) fn heap_addr(&mut self, m: u32, index: Value, offset: u64, size: u32) -> Result<(Value, i32)> {
        let ty = self.env.info.memories[m as usize];
        let base = self.memory_base(m);
        let index = self.extend_to_i64(index);
        let options = self.env.options;
        // With a 4 GiB reservation plus a 4 GiB guard, `index + offset + size` stays inside the
        // reservation or its guard unless the static offset itself reaches past 4 GiB (offsets
        // within a few bytes of `u32::MAX`): those rare accesses get an explicit check. 64-bit
        // memories and memories with 1-byte pages are always checked explicitly.
        if options.guard_pages && ty.guard_pages_cover() && offset + u64::from(size) <= 1 << 32 {
            let addr = self.b.ins().iadd(base, index);
            return Ok(match i32::try_from(offset) {
                Ok(imm) => (addr, imm),
                Err(_) => {
                    let offset = self.b.ins().iconst(I64, offset as i64);
                    (self.b.ins().iadd(addr, offset), 0)
                }
            });
        }
        let Some(reach) = offset.checked_add(u64::from(size)) else {
            // No index makes this access fit: it always traps.
            self.b.ins().trap(TrapCode::HEAP_OUT_OF_BOUNDS);
            let block = self.b.create_block();
            self.b.switch_to_block(block);
            self.b.seal_block(block);
            return Ok((base, 0));
        };
        let length = self.memory_length(m)?;
        let end = if ty.memory64 {
            let reach = self.b.ins().iconst(I64, reach as i64);
            self.b.ins().uadd_overflow_trap(index, reach, TrapCode::HEAP_OUT_OF_BOUNDS)
        } else {
            // A 32-bit index plus a reach below 2^64 - 2^32 cannot overflow 64 bits.
            match i64::try_from(reach) {
                Ok(reach) if reach < (1 << 62) => self.b.ins().iadd_imm_u(index, reach),
                _ => {
                    let reach = self.b.ins().iconst(I64, reach as i64);
                    self.b.ins().uadd_overflow_trap(index, reach, TrapCode::HEAP_OUT_OF_BOUNDS)
                }
            }
        };
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
        let addr = self.b.ins().iadd(base, index);
        if options.spectre_guards {
            let addr = if offset == 0 { addr } else { self.b.ins().iadd_imm_u(addr, offset as i64) };
            let null = self.b.ins().iconst(I64, 0);
            // The access through the null pointer faults with its `heap_oob` trap code.
            Ok((self.b.ins().select_spectre_guard(oob, null, addr), 0))
        } else {
            self.b.ins().trapnz(oob, TrapCode::HEAP_OUT_OF_BOUNDS);
            Ok(match i32::try_from(offset) {
                Ok(imm) => (addr, imm),
                Err(_) => (self.b.ins().iadd_imm_u(addr, offset as i64), 0),
            })
        }
    }

    /// Zero-extends an `i32` index or length to `i64`; `i64` values (64-bit memories and tables)
    /// pass through.
    pub(super) fn extend_to_i64(&mut self, v: Value) -> Value {
        if self.b.func.dfg.value_type(v) == I64 { v } else { self.b.ins().uextend(I64, v) }
    }

    /// Narrows an `i64` size or old size to the index type of a 32-bit memory or table.
    fn index_result(&mut self, v: Value, is64: bool) {
        let v = if is64 { v } else { self.b.ins().ireduce(I32, v) };
        self.push(v);
    }

    pub(super) fn load(&mut self, memarg: &MemArg, ty: Type, ext: Ext) -> Result<()> {
        let size = match ext {
            Ext::None => ty.bytes(),
            Ext::S8 | Ext::U8 => 1,
            Ext::S16 | Ext::U16 => 2,
            Ext::S32 | Ext::U32 => 4,
        };
        let index = self.pop();
        let (addr, imm) = self.heap_addr(memory_index(memarg)?, index, memarg.offset, size)?;
        let f = heap_flags();
        let ins = self.b.ins();
        let v = match ext {
            Ext::None => ins.load(ty, f, addr, imm),
            Ext::S8 => ins.sload8(ty, f, addr, imm),
            Ext::U8 => ins.uload8(ty, f, addr, imm),
            Ext::S16 => ins.sload16(ty, f, addr, imm),
            Ext::U16 => ins.uload16(ty, f, addr, imm),
            Ext::S32 => ins.sload32(f, addr, imm),
            Ext::U32 => ins.uload32(f, addr, imm),
        };
        self.push(v);
        Ok(())
    }

    /// A store of the value on top of the stack, truncated to `narrow` if given.
    pub(super) fn store(&mut self, memarg: &MemArg, narrow: Option<Type>) -> Result<()> {
        let (index, value) = self.pop2();
        let ty = self.b.func.dfg.value_type(value);
        let size = narrow.unwrap_or(ty).bytes();
        let (addr, imm) = self.heap_addr(memory_index(memarg)?, index, memarg.offset, size)?;
        let f = heap_flags();
        let ins = self.b.ins();
        match narrow {
            None => ins.store(f, value, addr, imm),
            Some(I8) => ins.istore8(f, value, addr, imm),
            Some(I16) => ins.istore16(f, value, addr, imm),
            Some(_) => ins.istore32(f, value, addr, imm),
        };
        Ok(())
    }

    pub(super) fn memory_size(&mut self, m: u32) -> Result<()> {
        let ty = self.env.info.memories[m as usize];
        let length = self.memory_length(m)?;
        let pages = self.b.ins().ushr_imm_u(length, i64::from(ty.page_size_log2));
        self.index_result(pages, ty.memory64);
        Ok(())
    }

    pub(super) fn memory_grow(&mut self, m: u32) {
        let is64 = self.env.info.memories[m as usize].memory64;
        let delta = self.pop();
        let delta = self.extend_to_i64(delta);
        let m = self.i32_const(m);
        let old = self.call_builtin(Builtin::MemoryGrow, &[m, delta]).expect("result");
        // `u64::MAX` (failure) becomes -1.
        self.index_result(old, is64);
    }

    pub(super) fn memory_init(&mut self, m: u32, data: u32) {
        let (dst, src, len) = self.pop3();
        let dst = self.extend_to_i64(dst);
        let m = self.i32_const(m);
        let data = self.i32_const(data);
        self.call_checked_builtin(Builtin::MemoryInit, &[m, data, dst, src, len]);
    }

    pub(super) fn data_drop(&mut self, data: u32) {
        let data = self.i32_const(data);
        self.call_builtin(Builtin::DataDrop, &[data]);
    }

    pub(super) fn memory_copy(&mut self, dst_mem: u32, src_mem: u32) {
        let (dst, src, len) = self.pop3();
        let dst = self.extend_to_i64(dst);
        let src = self.extend_to_i64(src);
        let len = self.extend_to_i64(len);
        let dst_mem = self.i32_const(dst_mem);
        let src_mem = self.i32_const(src_mem);
        self.call_checked_builtin(Builtin::MemoryCopy, &[dst_mem, dst, src_mem, src, len]);
    }

    pub(super) fn memory_fill(&mut self, m: u32) {
        let (dst, value, len) = self.pop3();
        let dst = self.extend_to_i64(dst);
        let len = self.extend_to_i64(len);
        let m = self.i32_const(m);
        self.call_checked_builtin(Builtin::MemoryFill, &[m, dst, value, len]);
    }

    /// Address and type of global `g`'s storage, and whether it is immutable.
    fn global_addr(&mut self, g: u32) -> Result<(Value, i32, Type, bool)> {
        let info = self.env.info;
        let ty = info.globals[g as usize];
        let clif = value_type(ty.content)?;
        if info.is_imported_global(g) {
            let offset = self.env.offsets.imported_global_ptr(g) as i32;
            let ptr = self.b.ins().load(I64, trusted_readonly().with_can_move(), self.vmctx, offset);
            Ok((ptr, 0, clif, !ty.mutable))
        } else {
            let offset = self.env.offsets.defined_global(g - info.num_imported_globals) as i32;
            Ok((self.vmctx, offset, clif, !ty.mutable))
        }
    }

    pub(super) fn global_get(&mut self, g: u32) -> Result<()> {
        let (ptr, offset, ty, immutable) = self.global_addr(g)?;
        let flags = if immutable { trusted_readonly() } else { trusted() };
        let v = self.b.ins().load(ty, flags.with_endianness(Endianness::Little), ptr, offset);
        self.note_gc_ref(v, self.env.info.globals[g as usize].content);
        self.push(v);
        Ok(())
    }

    pub(super) fn global_set(&mut self, g: u32) -> Result<()> {
        let (ptr, offset, _, _) = self.global_addr(g)?;
        let v = self.pop();
        self.b.ins().store(trusted().with_endianness(Endianness::Little), v, ptr, offset);
        Ok(())
    }

    /// The `VMTableDefinition` pointer of table `t`.
    fn table_def(&mut self, t: u32) -> Value {
        let offset = self.env.offsets.table_ptr(t) as i32;
        self.b.ins().load(I64, trusted_readonly().with_can_move(), self.vmctx, offset)
    }

    /// The address of element `index` of table `t`; traps with `trap` when out of bounds.
    pub(super) fn table_elem_addr(&mut self, t: u32, index: Value, trap: Trap) -> Value {
        let def = self.table_def(t);
        let length = self.b.ins().load(I64, trusted(), def, vmtable::CURRENT_ELEMENTS as i32);
        let index = self.extend_to_i64(index);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, length);
        self.b.ins().trapnz(oob, trap_code(trap));
        let base = self.b.ins().load(I64, trusted(), def, vmtable::BASE as i32);
        let offset = self.b.ins().ishl_imm_u(index, 3);
        let addr = self.b.ins().iadd(base, offset);
        if self.env.options.spectre_guards {
            let null = self.b.ins().iconst(I64, 0);
            self.b.ins().select_spectre_guard(oob, null, addr)
        } else {
            addr
        }
    }

    pub(super) fn table_get(&mut self, t: u32) {
        let index = self.pop();
        let addr = self.table_elem_addr(t, index, Trap::TableOutOfBounds);
        let mut v = self.b.ins().load(I64, trusted(), addr, 0);
        if self.is_funcref_table(t) {
            v = self.resolve_lazy_element(t, index, v);
        }
        self.note_gc_ref(v, WasmValType::Ref(self.env.info.tables[t as usize].element));
        self.push(v);
    }

    pub(super) fn table_set(&mut self, t: u32) {
        let (index, value) = self.pop2();
        if !self.is_funcref_table(t) {
            let addr = self.table_elem_addr(t, index, Trap::TableOutOfBounds);
            self.b.ins().store(trusted(), value, addr, 0);
            return;
        }
        // A null stored into a lazily initialised table goes through the runtime (as a
        // one-element `table.fill`), so that the table's image cannot bring back what it replaced.
        let store = self.b.create_block();
        let null = self.b.create_block();
        let done = self.b.create_block();
        self.b.set_cold_block(null);
        self.b.ins().brif(value, store, &[], null, &[]);
        self.b.seal_block(store);
        self.b.seal_block(null);
        self.b.switch_to_block(store);
        let addr = self.table_elem_addr(t, index, Trap::TableOutOfBounds);
        self.b.ins().store(trusted(), value, addr, 0);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(null);
        let dst = self.extend_to_i64(index);
        let table = self.i32_const(t);
        let one = self.b.ins().iconst(I64, 1);
        self.call_checked_builtin(Builtin::TableFill, &[table, dst, value, one]);
        self.b.ins().jump(done, &[]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
    }

    /// Whether table `t` holds funcrefs (and so may be initialised lazily: see
    /// `kiln_runtime::table`).
    pub(super) fn is_funcref_table(&self, t: u32) -> bool {
        use kiln_environ::WasmHeapType;
        let heap = self.env.info.tables[t as usize].element.heap;
        matches!(heap, WasmHeapType::Func | WasmHeapType::Concrete(..) | WasmHeapType::Engine(..))
    }

    /// `v`, element `index` of funcref table `t` as just loaded: if it is 0, the element may not
    /// be initialised yet, and the `TableGetLazy` builtin gives its value (0 only for null).
    pub(super) fn resolve_lazy_element(&mut self, t: u32, index: Value, v: Value) -> Value {
        let slow = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, I64);
        self.b.set_cold_block(slow);
        self.b.ins().brif(v, done, &[BlockArg::Value(v)], slow, &[]);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        let table = self.i32_const(t);
        let index = self.extend_to_i64(index);
        let resolved = self.call_builtin(Builtin::TableGetLazy, &[table, index]).expect("a result");
        self.b.ins().jump(done, &[BlockArg::Value(resolved)]);
        self.b.seal_block(done);
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    pub(super) fn table_size(&mut self, t: u32) {
        let is64 = self.env.info.tables[t as usize].table64;
        let def = self.table_def(t);
        let length = self.b.ins().load(I64, trusted(), def, vmtable::CURRENT_ELEMENTS as i32);
        self.index_result(length, is64);
    }

    pub(super) fn table_grow(&mut self, t: u32) {
        let is64 = self.env.info.tables[t as usize].table64;
        let (init, delta) = self.pop2();
        let delta = self.extend_to_i64(delta);
        let t = self.i32_const(t);
        let old = self.call_builtin(Builtin::TableGrow, &[t, delta, init]).expect("result");
        self.index_result(old, is64);
    }

    pub(super) fn table_fill(&mut self, t: u32) {
        let (dst, value, len) = self.pop3();
        let dst = self.extend_to_i64(dst);
        let len = self.extend_to_i64(len);
        let t = self.i32_const(t);
        self.call_checked_builtin(Builtin::TableFill, &[t, dst, value, len]);
    }

    pub(super) fn table_copy(&mut self, dst_table: u32, src_table: u32) {
        let (dst, src, len) = self.pop3();
        let dst = self.extend_to_i64(dst);
        let src = self.extend_to_i64(src);
        let len = self.extend_to_i64(len);
        let dst_table = self.i32_const(dst_table);
        let src_table = self.i32_const(src_table);
        self.call_checked_builtin(Builtin::TableCopy, &[dst_table, src_table, dst, src, len]);
    }

    pub(super) fn table_init(&mut self, t: u32, elem: u32) {
        let (dst, src, len) = self.pop3();
        let dst = self.extend_to_i64(dst);
        let t = self.i32_const(t);
        let elem = self.i32_const(elem);
        self.call_checked_builtin(Builtin::TableInit, &[t, elem, dst, src, len]);
    }

    pub(super) fn elem_drop(&mut self, elem: u32) {
        let elem = self.i32_const(elem);
        self.call_builtin(Builtin::ElemDrop, &[elem]);
    }
}
