//! The threads proposal: atomic loads, stores, read-modify-writes, compare-exchange, fences, and
//! `memory.atomic.wait*` / `notify` (through builtins).

use super::FuncTranslator;
use super::memory::memory_index;
use crate::trap_code;
use anyhow::Result;
use cranelift_codegen::ir::types::{I8, I16, I32, I64};
use cranelift_codegen::ir::{AtomicRmwOp, Endianness, InstBuilder, MemFlagsData, Type, Value};
use kiln_environ::{Builtin, Trap};
use wasmparser::{MemArg, Operator};

/// Flags of an atomic access: little-endian; it may fault (`heap_oob`).
fn atomic_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

impl FuncTranslator<'_, '_> {
    /// Pops the address operand and returns the host address of an atomic access of `size` bytes,
    /// after the alignment check (first, as the proposal's tests expect) and the bounds check.
    fn atomic_addr(&mut self, memarg: &MemArg, size: u32) -> Result<Value> {
        let index = self.pop();
        self.atomic_addr_of(memarg, index, size)
    }

    fn atomic_addr_of(&mut self, memarg: &MemArg, index: Value, size: u32) -> Result<Value> {
        if size > 1 {
            let wide = self.extend_to_i64(index);
            let ea = self.b.ins().iadd_imm_u(wide, memarg.offset as i64);
            let misaligned = self.b.ins().band_imm_u(ea, i64::from(size - 1));
            self.b.ins().trapnz(misaligned, trap_code(Trap::UnalignedAtomic));
        }
        let (addr, imm) = self.heap_addr(memory_index(memarg)?, index, memarg.offset, size)?;
        Ok(if imm == 0 { addr } else { self.b.ins().iadd_imm_s(addr, i64::from(imm)) })
    }

    /// The wasm-level effective address `index + offset` (for the wait/notify builtins).
    fn effective_address(&mut self, memarg: &MemArg, index: Value) -> Value {
        let wide = self.extend_to_i64(index);
        self.b.ins().iadd_imm_u(wide, memarg.offset as i64)
    }

    /// Translates a threads-proposal operator; returns false for any other operator.
    pub(super) fn translate_atomic(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match *op {
            O::AtomicFence { .. } => {
                self.b.ins().fence();
            }
            O::I32AtomicLoad { memarg } => self.atomic_load(&memarg, I32, I32)?,
            O::I64AtomicLoad { memarg } => self.atomic_load(&memarg, I64, I64)?,
            O::I32AtomicLoad8U { memarg } => self.atomic_load(&memarg, I32, I8)?,
            O::I32AtomicLoad16U { memarg } => self.atomic_load(&memarg, I32, I16)?,
            O::I64AtomicLoad8U { memarg } => self.atomic_load(&memarg, I64, I8)?,
            O::I64AtomicLoad16U { memarg } => self.atomic_load(&memarg, I64, I16)?,
            O::I64AtomicLoad32U { memarg } => self.atomic_load(&memarg, I64, I32)?,
            O::I32AtomicStore { memarg } | O::I64AtomicStore { memarg } => self.atomic_store(&memarg, None)?,
            O::I32AtomicStore8 { memarg } | O::I64AtomicStore8 { memarg } => self.atomic_store(&memarg, Some(I8))?,
            O::I32AtomicStore16 { memarg } | O::I64AtomicStore16 { memarg } => self.atomic_store(&memarg, Some(I16))?,
            O::I64AtomicStore32 { memarg } => self.atomic_store(&memarg, Some(I32))?,
            O::MemoryAtomicWait32 { memarg } => self.atomic_wait(&memarg, 4)?,
            O::MemoryAtomicWait64 { memarg } => self.atomic_wait(&memarg, 8)?,
            O::MemoryAtomicNotify { memarg } => self.atomic_notify(&memarg)?,
            _ => {
                let Some((memarg, op, access)) = rmw_parts(op) else {
                    return Ok(false);
                };
                match op {
                    Some(op) => self.atomic_rmw(&memarg, op, access)?,
                    None => self.atomic_cmpxchg(&memarg, access)?,
                }
            }
        }
        Ok(true)
    }

    fn atomic_load(&mut self, memarg: &MemArg, result: Type, access: Type) -> Result<()> {
        let addr = self.atomic_addr(memarg, access.bytes())?;
        let v = self.b.ins().atomic_load(access, atomic_flags(), addr);
        let v = if access == result { v } else { self.b.ins().uextend(result, v) };
        self.push(v);
        Ok(())
    }

    fn atomic_store(&mut self, memarg: &MemArg, narrow: Option<Type>) -> Result<()> {
        let value = self.pop();
        let ty = self.b.func.dfg.value_type(value);
        let access = narrow.unwrap_or(ty);
        let addr = self.atomic_addr(memarg, access.bytes())?;
        let value = if access == ty { value } else { self.b.ins().ireduce(access, value) };
        self.b.ins().atomic_store(atomic_flags(), value, addr);
        Ok(())
    }

    /// The result type of an atomic operator is the type of its value operand.
    fn narrow_operand(&mut self, value: Value, access: Type) -> (Value, Type) {
        let ty = self.b.func.dfg.value_type(value);
        let narrow = if access == ty { value } else { self.b.ins().ireduce(access, value) };
        (narrow, ty)
    }

    fn widen_result(&mut self, value: Value, access: Type, ty: Type) {
        let v = if access == ty { value } else { self.b.ins().uextend(ty, value) };
        self.push(v);
    }

    fn atomic_rmw(&mut self, memarg: &MemArg, op: AtomicRmwOp, access: Type) -> Result<()> {
        let value = self.pop();
        let addr = self.atomic_addr(memarg, access.bytes())?;
        let (value, ty) = self.narrow_operand(value, access);
        let old = self.b.ins().atomic_rmw(access, atomic_flags(), op, addr, value);
        self.widen_result(old, access, ty);
        Ok(())
    }

    fn atomic_cmpxchg(&mut self, memarg: &MemArg, access: Type) -> Result<()> {
        let (expected, replacement) = self.pop2();
        let addr = self.atomic_addr(memarg, access.bytes())?;
        let (expected, ty) = self.narrow_operand(expected, access);
        let (replacement, _) = self.narrow_operand(replacement, access);
        let old = self.b.ins().atomic_cas(atomic_flags(), addr, expected, replacement);
        self.widen_result(old, access, ty);
        Ok(())
    }

    fn atomic_wait(&mut self, memarg: &MemArg, size: u32) -> Result<()> {
        let (index, expected, timeout) = self.pop3();
        let m = memory_index(memarg)?;
        // Bounds and alignment first; only then does an unshared memory trap.
        self.atomic_addr_of(memarg, index, size)?;
        if !self.env.info.memories[m as usize].shared {
            self.raise_trap(Trap::AtomicWaitNonShared);
            let block = self.b.create_block();
            self.b.switch_to_block(block);
            self.b.seal_block(block);
            let v = self.i32_const(0);
            self.push(v);
            return Ok(());
        }
        let ea = self.effective_address(memarg, index);
        let mem = self.i32_const(m);
        let builtin = if size == 4 { Builtin::MemoryAtomicWait32 } else { Builtin::MemoryAtomicWait64 };
        let v = self.call_builtin(builtin, &[mem, ea, expected, timeout]).expect("wait returns a result");
        self.push(v);
        Ok(())
    }

    fn atomic_notify(&mut self, memarg: &MemArg) -> Result<()> {
        let (index, count) = self.pop2();
        let m = memory_index(memarg)?;
        self.atomic_addr_of(memarg, index, 4)?;
        if !self.env.info.memories[m as usize].shared {
            // Nobody can wait on an unshared memory.
            let v = self.i32_const(0);
            self.push(v);
            return Ok(());
        }
        let ea = self.effective_address(memarg, index);
        let mem = self.i32_const(m);
        let v = self.call_builtin(Builtin::MemoryAtomicNotify, &[mem, ea, count]).expect("notify returns a count");
        self.push(v);
        Ok(())
    }
}

/// The memarg, operation (`None` for compare-exchange) and access type of an atomic
/// read-modify-write operator.
fn rmw_parts(op: &Operator<'_>) -> Option<(MemArg, Option<AtomicRmwOp>, Type)> {
    use AtomicRmwOp as R;
    use Operator as O;
    Some(match *op {
        O::I32AtomicRmwAdd { memarg } => (memarg, Some(R::Add), I32),
        O::I64AtomicRmwAdd { memarg } => (memarg, Some(R::Add), I64),
        O::I32AtomicRmw8AddU { memarg } | O::I64AtomicRmw8AddU { memarg } => (memarg, Some(R::Add), I8),
        O::I32AtomicRmw16AddU { memarg } | O::I64AtomicRmw16AddU { memarg } => (memarg, Some(R::Add), I16),
        O::I64AtomicRmw32AddU { memarg } => (memarg, Some(R::Add), I32),
        O::I32AtomicRmwSub { memarg } => (memarg, Some(R::Sub), I32),
        O::I64AtomicRmwSub { memarg } => (memarg, Some(R::Sub), I64),
        O::I32AtomicRmw8SubU { memarg } | O::I64AtomicRmw8SubU { memarg } => (memarg, Some(R::Sub), I8),
        O::I32AtomicRmw16SubU { memarg } | O::I64AtomicRmw16SubU { memarg } => (memarg, Some(R::Sub), I16),
        O::I64AtomicRmw32SubU { memarg } => (memarg, Some(R::Sub), I32),
        O::I32AtomicRmwAnd { memarg } => (memarg, Some(R::And), I32),
        O::I64AtomicRmwAnd { memarg } => (memarg, Some(R::And), I64),
        O::I32AtomicRmw8AndU { memarg } | O::I64AtomicRmw8AndU { memarg } => (memarg, Some(R::And), I8),
        O::I32AtomicRmw16AndU { memarg } | O::I64AtomicRmw16AndU { memarg } => (memarg, Some(R::And), I16),
        O::I64AtomicRmw32AndU { memarg } => (memarg, Some(R::And), I32),
        O::I32AtomicRmwOr { memarg } => (memarg, Some(R::Or), I32),
        O::I64AtomicRmwOr { memarg } => (memarg, Some(R::Or), I64),
        O::I32AtomicRmw8OrU { memarg } | O::I64AtomicRmw8OrU { memarg } => (memarg, Some(R::Or), I8),
        O::I32AtomicRmw16OrU { memarg } | O::I64AtomicRmw16OrU { memarg } => (memarg, Some(R::Or), I16),
        O::I64AtomicRmw32OrU { memarg } => (memarg, Some(R::Or), I32),
        O::I32AtomicRmwXor { memarg } => (memarg, Some(R::Xor), I32),
        O::I64AtomicRmwXor { memarg } => (memarg, Some(R::Xor), I64),
        O::I32AtomicRmw8XorU { memarg } | O::I64AtomicRmw8XorU { memarg } => (memarg, Some(R::Xor), I8),
        O::I32AtomicRmw16XorU { memarg } | O::I64AtomicRmw16XorU { memarg } => (memarg, Some(R::Xor), I16),
        O::I64AtomicRmw32XorU { memarg } => (memarg, Some(R::Xor), I32),
        O::I32AtomicRmwXchg { memarg } => (memarg, Some(R::Xchg), I32),
        O::I64AtomicRmwXchg { memarg } => (memarg, Some(R::Xchg), I64),
        O::I32AtomicRmw8XchgU { memarg } | O::I64AtomicRmw8XchgU { memarg } => (memarg, Some(R::Xchg), I8),
        O::I32AtomicRmw16XchgU { memarg } | O::I64AtomicRmw16XchgU { memarg } => (memarg, Some(R::Xchg), I16),
        O::I64AtomicRmw32XchgU { memarg } => (memarg, Some(R::Xchg), I32),
        O::I32AtomicRmwCmpxchg { memarg } => (memarg, None, I32),
        O::I64AtomicRmwCmpxchg { memarg } => (memarg, None, I64),
        O::I32AtomicRmw8CmpxchgU { memarg } | O::I64AtomicRmw8CmpxchgU { memarg } => (memarg, None, I8),
        O::I32AtomicRmw16CmpxchgU { memarg } | O::I64AtomicRmw16CmpxchgU { memarg } => (memarg, None, I16),
        O::I64AtomicRmw32CmpxchgU { memarg } => (memarg, None, I32),
        _ => return None,
    })
}
