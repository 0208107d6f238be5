//! Lays compiled functions out in one blob and resolves calls between them.

use anyhow::{Result, bail};
use cranelift_codegen::binemit::Reloc as RelocKind;
use cranelift_codegen::ir::LibCall;
use kiln_environ::{Builtin, Trap};
use std::ops::Range;

/// Machine code and metadata of a module (or of a single trampoline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompiledCode {
    /// One blob; functions are 16-byte aligned and calls between them are already linked.
    pub code: Vec<u8>,
    /// Code range of each defined function (index = defined function index).
    pub functions: Vec<Range<u32>>,
    /// Per module type index: offset of its array-to-wasm trampoline.
    pub array_to_wasm: Vec<Option<u32>>,
    /// For [`crate::Compiler::compile_host_trampoline`]: offset of the trampoline.
    pub host_trampoline: Option<u32>,
    /// Sorted by code offset: offset of a faulting instruction and the trap it raises.
    pub traps: Vec<(u32, Trap)>,
    /// 8-byte absolute relocations the runtime patches with the address of a builtin at load time.
    pub relocs: Vec<(u32, Builtin)>,
    /// Sorted `(code offset, wasm byte offset in the module binary)` pairs for backtraces.
    pub address_map: Vec<(u32, u32)>,
    /// Sorted by return address: calls made inside a `try_table`, as `(return address offset,
    /// landing block offset, frame pointer minus stack pointer at the call)`.
    pub handlers: Vec<(u32, u32, u32)>,
    /// Sorted by return address: for each call with garbage-collectable references live across
    /// it, the offsets from the stack pointer at the call of the stack slots that hold them.
    pub stack_maps: Vec<(u32, Vec<u32>)>,
}

/// Where a relocation points.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RelocTarget {
    /// A defined function of the same module.
    Function(u32),
    /// A runtime builtin (Cranelift libcall).
    Builtin(Builtin),
}

/// One relocation of a compiled function, at a function-relative offset.
#[derive(Debug, Clone)]
pub(crate) struct Reloc {
    pub offset: u32,
    pub kind: RelocKind,
    pub target: RelocTarget,
    pub addend: i64,
}

/// One compiled function before linking; offsets are relative to its start.
#[derive(Debug, Clone)]
pub(crate) struct CompiledFunction {
    pub code: Vec<u8>,
    pub alignment: u32,
    pub relocs: Vec<Reloc>,
    pub traps: Vec<(u32, Trap)>,
    pub address_map: Vec<(u32, u32)>,
    pub handlers: Vec<(u32, u32, u32)>,
    pub stack_maps: Vec<(u32, Vec<u32>)>,
}

/// The builtin that implements a Cranelift libcall.
pub(crate) fn libcall_builtin(libcall: LibCall) -> Result<Builtin> {
    Ok(match libcall {
        LibCall::CeilF32 => Builtin::CeilF32,
        LibCall::CeilF64 => Builtin::CeilF64,
        LibCall::FloorF32 => Builtin::FloorF32,
        LibCall::FloorF64 => Builtin::FloorF64,
        LibCall::TruncF32 => Builtin::TruncF32,
        LibCall::TruncF64 => Builtin::TruncF64,
        LibCall::NearestF32 => Builtin::NearestF32,
        LibCall::NearestF64 => Builtin::NearestF64,
        other => bail!("unsupported Cranelift libcall {other:?}"),
    })
}

/// Concatenates `functions` (defined functions in order), then the array-to-wasm `trampolines`
/// (per type index), then the optional host trampoline, and links calls between functions.
pub(crate) fn link(
    functions: Vec<CompiledFunction>,
    trampolines: Vec<Option<CompiledFunction>>,
    host_trampoline: Option<CompiledFunction>,
) -> Result<CompiledCode> {
    let mut out = CompiledCode::default();
    let mut starts = Vec::with_capacity(functions.len());
    let mut pending = Vec::new();

    let mut place = |out: &mut CompiledCode, f: CompiledFunction| -> Result<u32> {
        let align = f.alignment.max(16) as usize;
        let start = out.code.len().next_multiple_of(align);
        // Pad with `int3`-like filler: zeros are fine since padding is never executed.
        out.code.resize(start, 0);
        out.code.extend_from_slice(&f.code);
        let start = u32::try_from(start)?;
        u32::try_from(out.code.len())?;
        out.traps.extend(f.traps.iter().map(|(o, t)| (start + o, *t)));
        out.address_map.extend(f.address_map.iter().map(|(o, w)| (start + o, *w)));
        out.handlers.extend(f.handlers.iter().map(|(ret, handler, frame)| (start + ret, start + handler, *frame)));
        out.stack_maps.extend(f.stack_maps.iter().map(|(ret, slots)| (start + ret, slots.clone())));
        for r in f.relocs {
            pending.push((start, r));
        }
        Ok(start)
    };

    for f in functions {
        let len = f.code.len() as u32;
        let start = place(&mut out, f)?;
        starts.push(start);
        out.functions.push(start..start + len);
    }
    for t in trampolines {
        let start = match t {
            Some(t) => Some(place(&mut out, t)?),
            // Struct and array types have no entry trampoline.
            None => None,
        };
        out.array_to_wasm.push(start);
    }
    if let Some(t) = host_trampoline {
        out.host_trampoline = Some(place(&mut out, t)?);
    }

    for (func_start, r) in pending {
        let at = func_start + r.offset;
        match r.target {
            RelocTarget::Builtin(builtin) => {
                if r.kind != RelocKind::Abs8 || r.addend != 0 {
                    bail!("unsupported relocation {:?} (addend {}) to builtin {builtin:?}", r.kind, r.addend);
                }
                out.relocs.push((at, builtin));
            }
            RelocTarget::Function(index) => {
                let Some(&target) = starts.get(index as usize) else {
                    bail!("call to unknown defined function {index}");
                };
                apply_call_reloc(&mut out.code, at, r.kind, i64::from(target), r.addend)?;
            }
        }
    }
    out.traps.sort_by_key(|(o, _)| *o);
    out.address_map.sort_by_key(|(o, _)| *o);
    out.handlers.sort_by_key(|(o, _, _)| *o);
    out.stack_maps.sort_by_key(|(o, _)| *o);
    out.relocs.sort_by_key(|(o, _)| *o);
    Ok(out)
}

/// Patches a PC-relative call at `at` to reach `target` (both blob offsets).
fn apply_call_reloc(code: &mut [u8], at: u32, kind: RelocKind, target: i64, addend: i64) -> Result<()> {
    let at_usize = at as usize;
    match kind {
        RelocKind::X86CallPCRel4 | RelocKind::X86PCRel4 => {
            let delta = target + addend - i64::from(at);
            let delta = i32::try_from(delta)?;
            code[at_usize..at_usize + 4].copy_from_slice(&delta.to_le_bytes());
        }
        RelocKind::Arm64Call => {
            let delta = target + addend - i64::from(at);
            if delta % 4 != 0 || !(-(1 << 27)..(1 << 27)).contains(&delta) {
                bail!("aarch64 call out of range");
            }
            let insn = u32::from_le_bytes(code[at_usize..at_usize + 4].try_into().unwrap());
            let imm26 = ((delta >> 2) as u32) & 0x03ff_ffff;
            let insn = (insn & 0xfc00_0000) | imm26;
            code[at_usize..at_usize + 4].copy_from_slice(&insn.to_le_bytes());
        }
        other => bail!("unsupported relocation kind {other:?} for a call between functions"),
    }
    Ok(())
}
