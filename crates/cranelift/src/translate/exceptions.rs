//! Exception handling: `throw`, `throw_ref`, `try_table`, and calls that may unwind into a handler.
//!
//! A function's `try_table`s are dispatched by the function's own code. The runtime's unwinder only
//! needs to know, for a return address, whether the call there was made inside a `try_table` (a
//! Cranelift `try_call` with a single catch-everything handler) and where its landing block is.
//! The landing block of the innermost `try_table` receives the exception reference and compares
//! its tag against that `try_table`'s catch clauses, in order; when none matches, it jumps to the
//! landing block of the enclosing handler, and past the outermost one it calls the `Throw`
//! builtin, which continues unwinding from this frame's caller. A `throw` inside a `try_table`
//! jumps straight to the same landing block, so an exception caught in the function that threw it
//! never leaves compiled code.
//!
//! The legacy instructions (`try`, `catch`, `catch_all`, `rethrow`, `delegate`), which toolchains
//! still emit, use the same machinery: a `try` body's landing block is filled clause by clause as
//! `catch`es arrive, each catch body starting in the block its tag test branches to; while a catch
//! body runs, its `try` is no handler (exceptions go outward) and its exception is kept for
//! `rethrow` (and freed when the body completes); `delegate l` makes the landing block forward to
//! the handler at or outside label `l`.

use super::control::{CatchClause, CatchKind, FrameKind};
use super::{FuncTranslator, trusted, trusted_readonly};
use crate::{trap_code, value_type};
use anyhow::Result;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{
    self, Block, BlockArg, BlockCall, ExceptionTableData, ExceptionTableItem, InstBuilder, SigRef, Value,
};
use kiln_environ::{Builtin, TagIndex, Trap, TypeIndex, vmexception};

/// What a call inside a `try_table` calls.
pub(super) enum Callee {
    /// A defined function of this module.
    Direct(ir::FuncRef),
    /// A `native_call` pointer with the given signature.
    Indirect(SigRef, Value),
}

impl FuncTranslator<'_, '_> {
    /// The landing block of the innermost handler, created on first use: a `try_table` with catch
    /// clauses or a legacy `try` whose body is running.
    fn landing_block(&mut self) -> Option<Block> {
        self.handler_landing(self.control.len())
    }

    /// The landing block of the innermost handler among the frames below `upto` in the control
    /// stack, created on first use.
    fn handler_landing(&mut self, upto: usize) -> Option<Block> {
        let frame = self.control[..upto].iter_mut().rev().find(|f| match &f.kind {
            FrameKind::TryTable { catches, .. } => !catches.is_empty(),
            FrameKind::LegacyTry { caught, .. } => caught.is_none(),
            _ => false,
        })?;
        let (FrameKind::TryTable { landing, .. } | FrameKind::LegacyTry { landing, .. }) = &mut frame.kind else {
            unreachable!()
        };
        if let Some(block) = landing {
            return Some(*block);
        }
        let block = self.b.create_block();
        let exn = self.b.append_block_param(block, I64);
        self.b.declare_value_needs_stack_map(exn);
        self.b.set_cold_block(block);
        *landing = Some(block);
        Some(block)
    }

    /// Passes `exn`, which no clause here matched, to the innermost handler below `upto`, or to the
    /// runtime's unwinder.
    fn forward_exception(&mut self, exn: Value, upto: usize) {
        match self.handler_landing(upto) {
            Some(landing) => {
                self.b.ins().jump(landing, &[BlockArg::Value(exn)]);
            }
            None => self.unwind_to_caller(exn),
        }
    }

    /// Frees a caught exception that wasm code is done with (unless it escaped).
    pub(super) fn drop_exception(&mut self, exn: Value) {
        self.call_builtin(Builtin::ExceptionDrop, &[exn]);
    }

    /// A new landing block: cold, taking the exception reference.
    fn new_landing_block(&mut self) -> Block {
        let block = self.b.create_block();
        let exn = self.b.append_block_param(block, I64);
        self.b.declare_value_needs_stack_map(exn);
        self.b.set_cold_block(block);
        block
    }

    /// Tests whether `exn` carries tag `index`, in the current block: continues in a new block
    /// where it does, with its payload loaded; returns the payload and the block where it does not.
    fn test_tag(&mut self, exn: Value, index: u32) -> (Vec<Value>, Block) {
        let tag = self.b.ins().load(I64, trusted(), exn, vmexception::TAG as i32);
        let offset = self.env.offsets.tag_ptr(index) as i32;
        let expected = self.b.ins().load(I64, trusted_readonly(), self.vmctx, offset);
        let matches = self.b.ins().icmp(IntCC::Equal, tag, expected);
        let matched = self.b.create_block();
        let next = self.b.create_block();
        self.b.ins().brif(matches, matched, &[], next, &[]);
        self.b.seal_block(matched);
        self.b.seal_block(next);
        self.b.switch_to_block(matched);
        let ty = self.env.info.tags[index as usize];
        let params = self.env.info.func_type_at(ty).params.clone();
        let mut payload = Vec::with_capacity(params.len());
        for (i, param) in params.iter().enumerate() {
            let t = value_type(*param).expect("tag parameter types are validated");
            let v = self.b.ins().load(t, trusted(), exn, vmexception::value(i as u32) as i32);
            self.note_gc_ref(v, *param);
            payload.push(v);
        }
        (payload, next)
    }

    /// Legacy `catch $tag` (`Some`) or `catch_all` (`None`): ends the `try` body or the previous
    /// catch body, and starts this clause's body where the landing block's tag test for it
    /// branches.
    pub(super) fn legacy_catch(&mut self, tag: Option<u32>) {
        self.end_legacy_arm();
        let top = self.control.len() - 1;
        // Without a call or throw in the body, the landing block (and so the clause) is
        // unreachable; it is created anyway, for the clause's code.
        let landing = match &self.control[top].kind {
            FrameKind::LegacyTry { landing: Some(landing), .. } => *landing,
            _ => {
                let block = self.new_landing_block();
                let FrameKind::LegacyTry { landing, .. } = &mut self.control[top].kind else { unreachable!() };
                *landing = Some(block);
                block
            }
        };
        let exn = self.b.block_params(landing)[0];
        let FrameKind::LegacyTry { caught, dispatch, .. } = &self.control[top].kind else { unreachable!() };
        let test_in = if caught.is_none() { landing } else { dispatch.expect("no clause after `catch_all`") };
        self.b.switch_to_block(test_in);
        let rest = match tag {
            None => None,
            Some(index) => {
                let (payload, next) = self.test_tag(exn, index);
                self.stack.extend(payload);
                Some(next)
            }
        };
        let FrameKind::LegacyTry { caught, dispatch, .. } = &mut self.control[top].kind else { unreachable!() };
        *caught = Some(exn);
        *dispatch = rest;
        self.reachable = true;
    }

    /// Legacy `delegate l`: ends the `try`, whose body's exceptions go to the handler at or
    /// outside label `l` (relative to the frames around the `try`).
    pub(super) fn legacy_delegate(&mut self, depth: u32) {
        let top = self.control.len() - 1;
        let target = top - 1 - depth as usize;
        let FrameKind::LegacyTry { delegate_to, .. } = &mut self.control[top].kind else {
            unreachable!("`delegate` outside `try` in validated code")
        };
        *delegate_to = Some(target + 1);
        self.end();
    }

    /// Fills what a legacy `try` leaves at its `end` (its frame is popped): the body's landing
    /// block when no clause came (forwarding outward, or where `delegate` says), else the end of
    /// the clause dispatch when no `catch_all` ended it.
    pub(super) fn finish_legacy_try(
        &mut self,
        landing: Option<Block>,
        caught: Option<Value>,
        dispatch: Option<Block>,
        delegate_to: Option<usize>,
    ) {
        let Some(landing) = landing else { return };
        let exn = self.b.block_params(landing)[0];
        let open = if caught.is_none() { Some(landing) } else { dispatch };
        if let Some(block) = open {
            self.b.switch_to_block(block);
            let upto = delegate_to.unwrap_or(self.control.len());
            self.forward_exception(exn, upto);
        }
    }

    /// Legacy `rethrow l`: throws again the exception caught by the catch body of label `l`.
    pub(super) fn legacy_rethrow(&mut self, depth: u32) {
        let frame = &self.control[self.control.len() - 1 - depth as usize];
        let FrameKind::LegacyTry { caught: Some(exn), .. } = frame.kind else {
            unreachable!("`rethrow` outside a catch body in validated code")
        };
        self.throw_exception(exn);
    }

    /// Emits a call and pushes its results. Inside a `try_table` with handlers the call is a
    /// `try_call` whose exceptional edge goes to the landing block.
    pub(super) fn emit_call(&mut self, callee: Callee, args: &[Value], ty: TypeIndex) {
        let Some(landing) = self.landing_block() else {
            let inst = match callee {
                Callee::Direct(fref) => self.b.ins().call(fref, args),
                Callee::Indirect(sig, ptr) => self.b.ins().call_indirect(sig, ptr, args),
            };
            let results = self.b.inst_results(inst).to_vec();
            self.push_results(&results, ty);
            return;
        };
        let sig = match callee {
            Callee::Direct(fref) => self.b.func.dfg.ext_funcs[fref].signature,
            Callee::Indirect(sig, _) => sig,
        };
        let returns: Vec<ir::Type> = self.b.func.dfg.signatures[sig].returns.iter().map(|r| r.value_type).collect();
        let cont = self.b.create_block();
        for t in &returns {
            self.b.append_block_param(cont, *t);
        }
        let pool = &mut self.b.func.dfg.value_lists;
        let normal = BlockCall::new(cont, (0..returns.len() as u32).map(BlockArg::TryCallRet), pool);
        let handler = BlockCall::new(landing, [BlockArg::TryCallExn(0)], pool);
        let table = self.b.func.dfg.exception_tables.push(ExceptionTableData::new(
            sig,
            normal,
            [ExceptionTableItem::Default(handler)],
        ));
        match callee {
            Callee::Direct(fref) => self.b.ins().try_call(fref, args, table),
            Callee::Indirect(_, ptr) => self.b.ins().try_call_indirect(ptr, args, table),
        };
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
        let results = self.b.block_params(cont).to_vec();
        self.push_results(&results, ty);
    }

    /// Pushes the results of a call to a function of type `ty`.
    fn push_results(&mut self, results: &[Value], ty: TypeIndex) {
        let types = &self.env.info.func_type_at(ty).results;
        for (v, t) in results.iter().zip(types.iter()) {
            self.note_gc_ref(*v, *t);
        }
        self.stack.extend_from_slice(results);
    }

    /// `throw $tag`: allocates the exception object, writes the payload and throws it.
    pub(super) fn throw(&mut self, tag: TagIndex) -> Result<()> {
        let ty = self.env.info.tags[tag as usize];
        let n = self.env.info.func_type_at(ty).params.len();
        let args = self.popn(n);
        let tag_value = self.i32_const(tag);
        let exn = self.call_builtin(Builtin::ExceptionNew, &[tag_value]).expect("ExceptionNew returns a reference");
        self.b.declare_value_needs_stack_map(exn);
        for (i, arg) in args.iter().enumerate() {
            self.b.ins().store(trusted(), *arg, exn, vmexception::value(i as u32) as i32);
        }
        self.throw_exception(exn);
        Ok(())
    }

    /// `throw_ref`: rethrows an exception reference (null traps).
    pub(super) fn throw_ref(&mut self) {
        let exn = self.pop();
        self.b.ins().trapz(exn, trap_code(Trap::NullReference));
        self.throw_exception(exn);
    }

    /// Hands `exn` to the innermost handler of this function, or to the runtime's unwinder.
    fn throw_exception(&mut self, exn: Value) {
        match self.landing_block() {
            Some(landing) => {
                self.b.ins().jump(landing, &[BlockArg::Value(exn)]);
            }
            None => self.unwind_to_caller(exn),
        }
        self.reachable = false;
    }

    /// Calls the `Throw` builtin, which does not return.
    fn unwind_to_caller(&mut self, exn: Value) {
        let fp = self.b.ins().get_frame_pointer(I64);
        let func = self.i32_const(self.defined_index);
        let offset = self.i32_const(self.wasm_offset);
        self.call_builtin(Builtin::Throw, &[exn, fp, func, offset]);
        self.b.ins().trap(trap_code(Trap::UncaughtException));
    }

    /// A catch clause takes the exception: `catch_ref`/`catch_all_ref` hand the reference to wasm
    /// code, which may keep it (it escapes); a plain `catch`/`catch_all` consumes it, and the
    /// runtime frees it unless it escaped earlier.
    fn hand_over(&mut self, exn: Value, with_ref: bool) {
        if with_ref {
            let escaped = self.i32_const(vmexception::ESCAPED_FLAG);
            self.b.ins().store(trusted(), escaped, exn, vmexception::ESCAPED as i32);
        } else {
            self.call_builtin(Builtin::ExceptionDrop, &[exn]);
        }
    }

    /// Fills the landing block of a `try_table` that has just ended: its own catch clauses
    /// (`catches`), then the enclosing handler's landing block (or the unwinder). The enclosing
    /// frames are still on the control stack.
    pub(super) fn emit_landing(&mut self, landing: Block, catches: &[CatchClause]) {
        self.b.switch_to_block(landing);
        let exn = self.b.block_params(landing)[0];
        let clauses: Vec<CatchClause> = catches.to_vec();
        for clause in clauses {
            match clause.kind {
                CatchKind::All { with_ref } => {
                    self.hand_over(exn, with_ref);
                    let args: Vec<BlockArg> = if with_ref { vec![BlockArg::Value(exn)] } else { Vec::new() };
                    let (target, _) = self.branch_target_at(clause.target);
                    self.b.ins().jump(target, &args);
                    return;
                }
                CatchKind::Tag { tag: index, with_ref } => {
                    let (payload, next) = self.test_tag(exn, index);
                    let mut args: Vec<BlockArg> = payload.into_iter().map(BlockArg::Value).collect();
                    if with_ref {
                        args.push(BlockArg::Value(exn));
                    }
                    self.hand_over(exn, with_ref);
                    let (target, _) = self.branch_target_at(clause.target);
                    self.b.ins().jump(target, &args);
                    self.b.switch_to_block(next);
                }
            }
        }
        self.forward_exception(exn, self.control.len());
    }
}
