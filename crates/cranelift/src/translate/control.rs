//! Structured control flow: blocks, loops, ifs, branches and unreachable code.

use super::FuncTranslator;
use crate::value_type;
use anyhow::Result;
use cranelift_codegen::ir::{Block, BlockArg, BlockCall, InstBuilder, JumpTableData, Type, Value};
use kiln_environ::WasmValType;
use std::collections::HashMap;
use wasmparser::{BlockType, BrTable, Catch, Operator};

/// What kind of construct a control frame is.
pub(crate) enum FrameKind {
    /// The function body; `end` returns.
    Function,
    /// `block`.
    Block,
    /// `loop`; branches go back to the header.
    Loop { header: Block },
    /// `if`: the block the `else` arm starts in, the values the `else` arm starts with, and whether
    /// an `else` was seen.
    If { else_block: Block, else_params: Vec<Value>, has_else: bool },
    /// `try_table`: its catch clauses, and the landing block of calls made inside it (created by
    /// the first such call, filled at `end`).
    TryTable { catches: Vec<CatchClause>, landing: Option<Block> },
    /// A legacy `try` (`try ... catch $t ... catch_all ... end`, or `... delegate l`): the
    /// landing block of its body's calls and throws; in a catch body, the caught exception
    /// (for `rethrow`), and where the dispatch over the remaining clauses goes on (`None` after
    /// `catch_all`).
    LegacyTry { landing: Option<Block>, caught: Option<Value>, dispatch: Option<Block>, delegate_to: Option<usize> },
}

/// What a catch clause of a `try_table` matches.
#[derive(Clone, Copy)]
pub(crate) enum CatchKind {
    /// `catch $tag` / `catch_ref $tag`.
    Tag { tag: u32, with_ref: bool },
    /// `catch_all` / `catch_all_ref`.
    All { with_ref: bool },
}

/// One catch clause, with its label resolved to a control-stack position.
#[derive(Clone)]
pub(crate) struct CatchClause {
    pub kind: CatchKind,
    /// Index in the control stack of the frame the clause branches to.
    pub target: usize,
}

/// One entry of the control stack.
pub(crate) struct Frame {
    pub(super) kind: FrameKind,
    /// The block after the construct; its parameters are the construct's results.
    next: Block,
    num_params: usize,
    num_results: usize,
    /// Operand stack height below the construct's parameters.
    height: usize,
    /// Whether any branch (or fallthrough) reaches `next`.
    next_reachable: bool,
}

fn block_arg(values: &[Value]) -> Vec<BlockArg> {
    values.iter().map(|v| BlockArg::Value(*v)).collect()
}

impl FuncTranslator<'_, '_> {
    pub(super) fn push_function_frame(&mut self, results: Vec<Type>) {
        let next = self.b.create_block();
        for t in &results {
            self.b.append_block_param(next, *t);
        }
        self.control.push(Frame {
            kind: FrameKind::Function,
            next,
            num_params: 0,
            num_results: results.len(),
            height: 0,
            next_reachable: false,
        });
    }

    fn block_type(&self, ty: BlockType) -> Result<(Vec<WasmValType>, Vec<WasmValType>)> {
        Ok(match ty {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => (Vec::new(), vec![self.env.info.convert_val_type(t)?]),
            BlockType::FuncType(index) => {
                let ty = self.env.info.func_type_at(index);
                (ty.params.to_vec(), ty.results.to_vec())
            }
        })
    }

    /// A block with parameters of the given wasm types (GC references among them are recorded for
    /// stack maps).
    fn new_block_with(&mut self, types: &[WasmValType]) -> Result<Block> {
        let block = self.b.create_block();
        for t in types {
            let v = self.b.append_block_param(block, value_type(*t)?);
            self.note_gc_ref(v, *t);
        }
        Ok(block)
    }

    /// Skips an operator in unreachable code, tracking nesting.
    pub(super) fn translate_unreachable(&mut self, op: Operator<'_>) -> Result<()> {
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => {
                self.unreachable_depth += 1;
            }
            Operator::Else if self.unreachable_depth == 0 => self.else_(),
            Operator::Catch { tag_index } if self.unreachable_depth == 0 => self.legacy_catch(Some(tag_index)),
            Operator::CatchAll if self.unreachable_depth == 0 => self.legacy_catch(None),
            Operator::Delegate { relative_depth } if self.unreachable_depth == 0 => {
                self.legacy_delegate(relative_depth)
            }
            Operator::Delegate { .. } => self.unreachable_depth -= 1,
            Operator::End if self.unreachable_depth == 0 => self.end(),
            Operator::End => self.unreachable_depth -= 1,
            _ => {}
        }
        Ok(())
    }

    pub(super) fn block(&mut self, ty: BlockType) -> Result<()> {
        self.push_block_like(ty, FrameKind::Block)
    }

    /// A legacy `try`: a block whose body's exceptions go to its landing block.
    pub(super) fn legacy_try(&mut self, ty: BlockType) -> Result<()> {
        let kind = FrameKind::LegacyTry { landing: None, caught: None, dispatch: None, delegate_to: None };
        self.push_block_like(ty, kind)
    }

    /// Ends the current arm of the innermost frame (a legacy `try`'s body or catch body): falls
    /// through to its end, freeing the caught exception when a catch body completes.
    pub(super) fn end_legacy_arm(&mut self) {
        let caught = match &self.control.last().expect("control stack underflow").kind {
            FrameKind::LegacyTry { caught, .. } => *caught,
            _ => unreachable!("a legacy `try` clause outside `try` in validated code"),
        };
        if let (Some(exn), true) = (caught, self.reachable) {
            self.drop_exception(exn);
        }
        self.fall_through();
        let height = self.control.last().expect("control stack underflow").height;
        self.stack.truncate(height);
    }

    /// Pushes the frame of a construct whose results flow to a new block after it (`block`,
    /// `try_table`); its parameters stay on the operand stack.
    fn push_block_like(&mut self, ty: BlockType, kind: FrameKind) -> Result<()> {
        let (params, results) = self.block_type(ty)?;
        let next = self.new_block_with(&results)?;
        self.control.push(Frame {
            kind,
            next,
            num_params: params.len(),
            num_results: results.len(),
            height: self.stack.len() - params.len(),
            next_reachable: false,
        });
        Ok(())
    }

    pub(super) fn try_table(&mut self, try_table: wasmparser::TryTable) -> Result<()> {
        // Catch labels are relative to the frames outside the `try_table`.
        let outside = self.control.len();
        let catches = try_table
            .catches
            .iter()
            .map(|catch| {
                let (kind, label) = match *catch {
                    Catch::One { tag, label } => (CatchKind::Tag { tag, with_ref: false }, label),
                    Catch::OneRef { tag, label } => (CatchKind::Tag { tag, with_ref: true }, label),
                    Catch::All { label } => (CatchKind::All { with_ref: false }, label),
                    Catch::AllRef { label } => (CatchKind::All { with_ref: true }, label),
                };
                CatchClause { kind, target: outside - 1 - label as usize }
            })
            .collect();
        self.push_block_like(try_table.ty, FrameKind::TryTable { catches, landing: None })
    }

    pub(super) fn loop_(&mut self, ty: BlockType) -> Result<()> {
        let (params, results) = self.block_type(ty)?;
        let header = self.new_block_with(&params)?;
        let next = self.new_block_with(&results)?;
        let args = self.popn(params.len());
        self.b.ins().jump(header, &block_arg(&args));
        self.b.switch_to_block(header);
        let height = self.stack.len();
        self.stack.extend_from_slice(self.b.block_params(header));
        // Every iteration passes the fuel and epoch checks (the header stays the branch target).
        self.interruption_checks();
        self.control.push(Frame {
            kind: FrameKind::Loop { header },
            next,
            num_params: params.len(),
            num_results: results.len(),
            height,
            next_reachable: false,
        });
        Ok(())
    }

    pub(super) fn if_(&mut self, ty: BlockType) -> Result<()> {
        let (params, results) = self.block_type(ty)?;
        let cond = self.pop();
        let then_block = self.b.create_block();
        let else_block = self.b.create_block();
        let next = self.new_block_with(&results)?;
        // Both arms start with the same operand values, which dominate them: no block parameters.
        self.b.ins().brif(cond, then_block, &[], else_block, &[]);
        self.b.switch_to_block(then_block);
        self.b.seal_block(then_block);
        let height = self.stack.len() - params.len();
        let else_params = self.stack[height..].to_vec();
        self.control.push(Frame {
            kind: FrameKind::If { else_block, else_params, has_else: false },
            next,
            num_params: params.len(),
            num_results: results.len(),
            height,
            next_reachable: false,
        });
        Ok(())
    }

    /// Ends the current arm by jumping to `next` with the frame's results, if reachable.
    fn fall_through(&mut self) {
        if !self.reachable {
            return;
        }
        let frame = self.control.last_mut().expect("control stack underflow");
        let args = block_arg(&self.stack[self.stack.len() - frame.num_results..]);
        frame.next_reachable = true;
        let next = frame.next;
        self.b.ins().jump(next, &args);
    }

    pub(super) fn else_(&mut self) {
        self.fall_through();
        let frame = self.control.last_mut().expect("control stack underflow");
        let FrameKind::If { else_block, else_params, has_else } = &mut frame.kind else {
            unreachable!("`else` outside `if` in validated code");
        };
        *has_else = true;
        let else_block = *else_block;
        let height = frame.height;
        self.stack.truncate(height);
        self.stack.extend_from_slice(else_params);
        self.b.switch_to_block(else_block);
        self.b.seal_block(else_block);
        // Frames only exist for constructs entered in reachable code.
        self.reachable = true;
    }

    pub(super) fn end(&mut self) {
        if let FrameKind::LegacyTry { caught: Some(exn), .. } =
            self.control.last().expect("control stack underflow").kind
            && self.reachable
        {
            self.drop_exception(exn);
        }
        self.fall_through();
        let mut frame = self.control.pop().expect("control stack underflow");
        match &frame.kind {
            FrameKind::If { else_block, else_params, has_else: false } => {
                // Without `else`, the false arm passes the parameters through as results.
                self.b.switch_to_block(*else_block);
                self.b.seal_block(*else_block);
                self.b.ins().jump(frame.next, &block_arg(else_params));
                frame.next_reachable = true;
            }
            FrameKind::Loop { header } => self.b.seal_block(*header),
            FrameKind::TryTable { catches, landing: Some(landing) } => {
                let (catches, landing) = (catches.clone(), *landing);
                self.emit_landing(landing, &catches);
            }
            FrameKind::LegacyTry { landing, caught, dispatch, delegate_to } => {
                let (landing, caught, dispatch, delegate_to) = (*landing, *caught, *dispatch, *delegate_to);
                self.finish_legacy_try(landing, caught, dispatch, delegate_to);
            }
            _ => {}
        }
        self.stack.truncate(frame.height);
        if !frame.next_reachable {
            self.reachable = false;
            return;
        }
        self.b.switch_to_block(frame.next);
        self.b.seal_block(frame.next);
        let results = self.b.block_params(frame.next).to_vec();
        if let FrameKind::Function = frame.kind {
            self.b.ins().return_(&results);
            self.reachable = false;
        } else {
            self.stack.extend(results);
            self.reachable = true;
        }
    }

    /// The block a branch to `depth` goes to, and how many values it takes. Marks the target as
    /// reachable.
    fn branch_target(&mut self, depth: u32) -> (Block, usize) {
        self.branch_target_at(self.control.len() - 1 - depth as usize)
    }

    /// [`Self::branch_target`] for the frame at position `i` of the control stack.
    pub(super) fn branch_target_at(&mut self, i: usize) -> (Block, usize) {
        let frame = &mut self.control[i];
        match frame.kind {
            FrameKind::Loop { header } => (header, frame.num_params),
            _ => {
                frame.next_reachable = true;
                (frame.next, frame.num_results)
            }
        }
    }

    pub(super) fn br(&mut self, depth: u32) {
        let (block, n) = self.branch_target(depth);
        let args = block_arg(&self.stack[self.stack.len() - n..]);
        self.b.ins().jump(block, &args);
        self.reachable = false;
    }

    pub(super) fn br_if(&mut self, depth: u32) {
        let cond = self.pop();
        let (block, n) = self.branch_target(depth);
        let args = block_arg(&self.stack[self.stack.len() - n..]);
        let cont = self.b.create_block();
        self.b.ins().brif(cond, block, &args, cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// `br_on_null`: branches with the operands below the reference when it is null; otherwise
    /// continues with the (now non-null) reference.
    pub(super) fn br_on_null(&mut self, depth: u32) {
        let r = self.pop();
        let (block, n) = self.branch_target(depth);
        let args = block_arg(&self.stack[self.stack.len() - n..]);
        let cont = self.b.create_block();
        self.b.ins().brif(r, cont, &[], block, &args);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
        self.push(r);
    }

    /// `br_on_non_null`: branches with the reference (last) when it is not null; otherwise drops it
    /// and continues.
    pub(super) fn br_on_non_null(&mut self, depth: u32) {
        let r = self.pop();
        let (block, n) = self.branch_target(depth);
        let mut args = block_arg(&self.stack[self.stack.len() - (n - 1)..]);
        args.push(BlockArg::Value(r));
        let cont = self.b.create_block();
        self.b.ins().brif(r, block, &args, cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    /// `br_on_cast` (`on_fail` false) and `br_on_cast_fail`: branches with the operands, the
    /// reference last, when `ok` is 1 (or 0); otherwise continues with them.
    pub(super) fn br_on_test(&mut self, depth: u32, ok: Value, on_fail: bool) {
        let (block, n) = self.branch_target(depth);
        let args = block_arg(&self.stack[self.stack.len() - n..]);
        let cont = self.b.create_block();
        if on_fail {
            self.b.ins().brif(ok, cont, &[], block, &args);
        } else {
            self.b.ins().brif(ok, block, &args, cont, &[]);
        }
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    pub(super) fn return_(&mut self) {
        let n = self.control[0].num_results;
        let results = self.stack[self.stack.len() - n..].to_vec();
        self.b.ins().return_(&results);
        self.reachable = false;
    }

    pub(super) fn br_table(&mut self, targets: &BrTable<'_>) -> Result<()> {
        let index = self.pop();
        let depths = targets.targets().collect::<Result<Vec<u32>, _>>()?;
        let default = targets.default();
        let (_, n) = self.branch_target(default);
        let args = self.stack[self.stack.len() - n..].to_vec();

        // With arguments, every distinct target gets an edge block that forwards them.
        let mut edges: HashMap<u32, Block> = HashMap::new();
        let mut dest = |t: &mut Self, depth: u32| -> Block {
            let (block, _) = t.branch_target(depth);
            if n == 0 {
                return block;
            }
            *edges.entry(depth).or_insert_with(|| t.b.create_block())
        };
        let default_block = dest(self, default);
        let table = depths.iter().map(|d| dest(self, *d)).collect::<Vec<_>>();

        let pool = &mut self.b.func.dfg.value_lists;
        let default_call = BlockCall::new(default_block, [], pool);
        let calls = table.iter().map(|b| BlockCall::new(*b, [], pool)).collect::<Vec<_>>();
        let jt = self.b.create_jump_table(JumpTableData::new(default_call, &calls));
        self.b.ins().br_table(index, jt);

        let mut edges = edges.into_iter().collect::<Vec<_>>();
        edges.sort_by_key(|(depth, _)| *depth);
        for (depth, edge) in edges {
            let (block, _) = self.branch_target(depth);
            self.b.switch_to_block(edge);
            self.b.seal_block(edge);
            self.b.ins().jump(block, &block_arg(&args));
        }
        self.reachable = false;
        Ok(())
    }
}
