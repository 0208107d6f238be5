//! Swarm configurations for wasm-smith: each input switches proposals, sizes and instruction
//! classes on and off, so that a run explores many small corners instead of one average module.

use arbitrary::Unstructured;
use wasm_smith::{InstructionKind, InstructionKinds};

/// Whom the module is for: the features an oracle implements bound what may be generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// kiln against wasmi: only proposals wasmi implements (no exceptions, threads, GC or
    /// function references), no relaxed SIMD (results may differ between correct engines), and
    /// NaNs made canonical by the module itself so memory and globals compare bit for bit.
    Wasmi,
    /// kiln against kiln: adds exceptions, relaxed SIMD (with deterministic results on both
    /// sides) and atomics on unshared memories.
    Kiln,
    /// [`Profile::Kiln`] plus GC (structs, arrays, casts, allocation under the collector). A
    /// profile of its own, so that saved inputs of the others keep generating the same modules.
    KilnGc,
}

/// Byte limit of every memory in generated modules (also the engines' memory limit).
pub const MEMORY_LIMIT: u64 = 1 << 20;
/// Element limit of every table in generated modules.
pub const TABLE_LIMIT: u64 = 100;

/// A swarm configuration for `profile`.
pub fn config(u: &mut Unstructured<'_>, profile: Profile) -> arbitrary::Result<wasm_smith::Config> {
    let mut c: wasm_smith::Config = u.arbitrary()?;
    // Never: proposals neither side implements fully.
    let gc = c.gc_enabled;
    c.gc_enabled = false;
    c.custom_page_sizes_enabled = false;
    c.shared_everything_threads_enabled = false;
    c.custom_descriptors_enabled = false;
    c.compact_imports_enabled = false;
    c.generate_custom_sections = false;
    c.allow_invalid_funcs = false;
    c.available_imports = None;
    c.exports = None;
    c.module_shape = None;
    // Shape: something to call, everything visible, nothing to import.
    c.max_imports = 0;
    // Several functions (calls between them, more exports to compare); smith's own arbitrary
    // choice is usually one.
    c.min_funcs = u.int_in_range(1..=6)?;
    c.max_funcs = c.max_funcs.clamp(c.min_funcs + 2, 12);
    c.max_instructions = c.max_instructions.clamp(1, 150);
    c.max_nesting_depth = c.max_nesting_depth.min(8);
    c.export_everything = true;
    c.min_exports = 0;
    c.max_memories = c.max_memories.min(3);
    c.max_tables = c.max_tables.min(3);
    c.max_globals = c.max_globals.min(20);
    c.max_types = c.max_types.min(20);
    c.max_data_segments = c.max_data_segments.min(10);
    c.max_element_segments = c.max_element_segments.min(10);
    c.max_elements = c.max_elements.min(50);
    // Memories that may grow and tables with bounded growth: every memory and table declares a
    // maximum within the limits, so `memory.grow` and `table.grow` fail the same way everywhere.
    c.memory_max_size_required = true;
    c.table_max_size_required = true;
    c.max_memory32_bytes = c.max_memory32_bytes.min(MEMORY_LIMIT);
    c.max_memory64_bytes = c.max_memory64_bytes.min(MEMORY_LIMIT.into());
    c.max_table_elements = c.max_table_elements.min(TABLE_LIMIT);
    // Instruction classes: a random nonempty subset.
    let all = [
        InstructionKind::Numeric,
        InstructionKind::Vector,
        InstructionKind::Reference,
        InstructionKind::Parametric,
        InstructionKind::Variable,
        InstructionKind::Table,
        InstructionKind::Memory,
        InstructionKind::Control,
    ];
    let mut kinds: Vec<InstructionKind> = Vec::new();
    for kind in all {
        if u.ratio(3, 4)? {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        kinds.push(InstructionKind::Numeric);
    }
    c.allowed_instructions = InstructionKinds::new(&kinds);
    match profile {
        Profile::Wasmi => {
            c.exceptions_enabled = false;
            c.threads_enabled = false;
            c.relaxed_simd_enabled = false;
            c.max_tags = 0;
            c.canonicalize_nans = true;
        }
        Profile::Kiln | Profile::KilnGc => {
            // The NaNs an operation produces may differ between correct lowerings (the spec
            // leaves their bits open, and constant folding picks its own): `KilnGc` feeds a
            // differential target, so its modules make them canonical.
            c.canonicalize_nans = profile == Profile::KilnGc;
            // GC needs the reference types it builds on.
            c.gc_enabled = profile == Profile::KilnGc && gc && c.reference_types_enabled;
            if c.exceptions_enabled {
                c.min_tags = c.min_tags.max(1);
                c.max_tags = c.max_tags.clamp(1, 4);
            }
            c.relaxed_simd_enabled &= c.simd_enabled;
        }
    }
    Ok(c)
}

/// A module from a swarm configuration for `profile`, as bytes.
pub fn module(u: &mut Unstructured<'_>, profile: Profile) -> arbitrary::Result<Vec<u8>> {
    let config = config(u, profile)?;
    Ok(wasm_smith::Module::new(config, u)?.to_bytes())
}
