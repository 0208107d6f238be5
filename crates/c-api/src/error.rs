//! kiln.h: `kiln_error_t`, config switches, `kiln_wat2wasm`, fuel and epochs, trap codes,
//! module compile/serialize/deserialize with errors, bounds-checked memory access.

use crate::engine::{store_mut, wasm_config_t, wasm_engine_t, wasm_store_t, with_ctx};
use crate::module::{module_obj, module_of};
use crate::obj::{Kind, Obj};
use crate::trap::{error_message, frames_of, trap_data, wasm_frame_t};
use crate::types::{opt, take};
use crate::vec::{CVec, wasm_byte_vec_t, wasm_frame_vec_t};
use crate::{boxed, guard, guard_with};
use kiln_rs::{Module, OptLevel};
use std::ffi::{CStr, c_char};
use std::ptr::null_mut;

/// An error: its message, the wasm frames it unwound through, and a WASI exit status when the
/// error is a program's `proc_exit`.
pub struct kiln_error_t {
    pub message: String,
    pub frames: Vec<wasm_frame_t>,
    pub exit_status: Option<i32>,
}

pub(crate) fn error(store: *mut wasm_store_t, err: &anyhow::Error) -> *mut kiln_error_t {
    let exit_status = err.downcast_ref::<kiln_wasi::I32Exit>().map(|e| e.0);
    boxed(kiln_error_t { message: error_message(err), frames: frames_of(store, err), exit_status })
}

pub(crate) fn error_msg(message: impl Into<String>) -> *mut kiln_error_t {
    boxed(kiln_error_t { message: message.into(), frames: Vec::new(), exit_status: None })
}

/// Runs a body returning an error (NULL for success), with panics turned into errors.
pub(crate) fn guard_err(body: impl FnOnce() -> *mut kiln_error_t) -> *mut kiln_error_t {
    guard_with(|| error_msg("kiln: internal error (panic)"), body)
}

/// A string argument: `len` bytes at `ptr`, which must be UTF-8.
pub(crate) fn str_arg<'a>(ptr: *const c_char, len: usize) -> Option<&'a str> {
    if ptr.is_null() {
        return (len == 0).then_some("");
    }
    // SAFETY: C passes `len` readable bytes at `ptr`.
    std::str::from_utf8(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) }).ok()
}

/// A NUL-terminated string argument.
pub(crate) fn cstr_arg<'a>(ptr: *const c_char) -> Option<&'a str> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: C passes a NUL-terminated string.
    unsafe { CStr::from_ptr(ptr) }.to_str().ok()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_error_new(message: *const c_char) -> *mut kiln_error_t {
    guard(null_mut(), || error_msg(cstr_arg(message).unwrap_or("")))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_error_delete(err: *mut kiln_error_t) {
    guard((), || drop(take(err)));
}

/// The message, not NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_error_message(err: *const kiln_error_t, out: *mut wasm_byte_vec_t) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let bytes = opt(err).map_or_else(Vec::new, |e| e.message.as_bytes().to_vec());
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(bytes)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_error_wasm_trace(err: *const kiln_error_t, out: *mut wasm_frame_vec_t) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let frames = opt(err).map_or_else(Vec::new, |e| e.frames.iter().map(|f| boxed(f.clone())).collect());
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(frames)) }
    })
}

/// Whether the error is a WASI program's exit; its status in `*status`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_error_exit_status(err: *const kiln_error_t, status: *mut i32) -> bool {
    match (opt(err).and_then(|e| e.exit_status), status.is_null()) {
        (Some(s), false) => {
            // SAFETY: `status` points at writable storage.
            unsafe { status.write(s) };
            true
        }
        _ => false,
    }
}

/// Whether the trap is a WASI program's exit; its status in `*status`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_trap_exit_status(trap: *const Obj, status: *mut i32) -> bool {
    match (trap_data(trap).and_then(|t| t.exit_status), status.is_null()) {
        (Some(s), false) => {
            // SAFETY: `status` points at writable storage.
            unsafe { status.write(s) };
            true
        }
        _ => false,
    }
}

/// The trap code (`KILN_TRAP_*`, kiln's `Trap` numbering) of a trap raised by wasm; false for
/// traps made by the host.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_trap_code(trap: *const Obj, code: *mut u8) -> bool {
    match (trap_data(trap).and_then(|t| t.code), code.is_null()) {
        (Some(c), false) => {
            // SAFETY: `code` points at writable storage.
            unsafe { code.write(c as u8) };
            true
        }
        _ => false,
    }
}

/// Text format to binary.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_wat2wasm(wat: *const c_char, len: usize, out: *mut wasm_byte_vec_t) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(text) = str_arg(wat, len) else { return error_msg("kiln_wat2wasm: the text is not UTF-8") };
        if out.is_null() {
            return error_msg("kiln_wat2wasm: NULL output");
        }
        match wat::parse_str(text) {
            Ok(bytes) => {
                // SAFETY: `out` points at writable vector storage.
                unsafe { out.write(CVec::from_vec(bytes)) };
                null_mut()
            }
            Err(e) => error(null_mut(), &e.into()),
        }
    })
}

fn config<'a>(c: *mut wasm_config_t) -> Option<&'a mut kiln_rs::Config> {
    // SAFETY: C passes NULL or a live config it does not use concurrently.
    unsafe { c.as_mut() }.map(|c| &mut c.config)
}

macro_rules! config_bools {
    ($($name:ident => $method:ident,)*) => {$(
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(c: *mut wasm_config_t, enable: bool) {
            guard((), || {
                if let Some(c) = config(c) {
                    c.$method(enable);
                }
            })
        }
    )*};
}

config_bools! {
    kiln_config_consume_fuel_set => consume_fuel,
    kiln_config_epoch_interruption_set => epoch_interruption,
    kiln_config_wasm_simd_set => wasm_simd,
    kiln_config_wasm_relaxed_simd_set => wasm_relaxed_simd,
    kiln_config_wasm_multi_memory_set => wasm_multi_memory,
    kiln_config_wasm_tail_call_set => wasm_tail_call,
    kiln_config_wasm_memory64_set => wasm_memory64,
    kiln_config_wasm_threads_set => wasm_threads,
    kiln_config_wasm_exceptions_set => wasm_exceptions,
    kiln_config_wasm_legacy_exceptions_set => wasm_legacy_exceptions,
    kiln_config_wasm_compact_imports_set => wasm_compact_imports,
    kiln_config_wasm_gc_set => wasm_gc,
    kiln_config_wasm_function_references_set => wasm_function_references,
    kiln_config_wasm_extended_const_set => wasm_extended_const,
    kiln_config_wasm_wide_arithmetic_set => wasm_wide_arithmetic,
    kiln_config_wasm_custom_page_sizes_set => wasm_custom_page_sizes,
}

/// 0: none, 1: speed, 2: speed and size (`KILN_OPT_*`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_config_cranelift_opt_level_set(c: *mut wasm_config_t, level: u8) {
    guard((), || {
        let level = match level {
            0 => OptLevel::None,
            1 => OptLevel::Speed,
            _ => OptLevel::SpeedAndSize,
        };
        if let Some(c) = config(c) {
            c.cranelift_opt_level(level);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_config_max_wasm_stack_set(c: *mut wasm_config_t, bytes: usize) {
    guard((), || {
        if let Some(c) = config(c) {
            c.max_wasm_stack(bytes);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_config_gc_heap_limit_set(c: *mut wasm_config_t, bytes: u64) {
    guard((), || {
        if let Some(c) = config(c) {
            c.gc_heap_limit(bytes);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_config_max_memory_size_set(c: *mut wasm_config_t, bytes: u64) {
    guard((), || {
        if let Some(c) = config(c) {
            c.max_memory_size(bytes);
        }
    })
}

/// Caches compiled code on disk in `dir` (NUL-terminated), or in the default cache directory
/// when `dir` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_config_cache_set(c: *mut wasm_config_t, dir: *const c_char) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(c) = config(c) else { return error_msg("kiln_config_cache_set: NULL config") };
        let dir = match cstr_arg(dir) {
            Some(d) => Some(std::path::PathBuf::from(d)),
            None if dir.is_null() => kiln_rs::Config::default_cache_dir(),
            None => return error_msg("kiln_config_cache_set: the directory is not UTF-8"),
        };
        if dir.is_none() {
            return error_msg("kiln_config_cache_set: no default cache directory");
        }
        c.cache(dir);
        null_mut()
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_engine_increment_epoch(engine: *const wasm_engine_t) {
    guard((), || {
        if let Some(e) = opt(engine) {
            e.engine.increment_epoch()
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_store_set_fuel(store: *mut wasm_store_t, fuel: u64) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(s) = store_mut(store) else {
            return error_msg("kiln_store_set_fuel: NULL store, or inside a host call");
        };
        match s.set_fuel(fuel) {
            Ok(()) => null_mut(),
            Err(e) => error(store, &e),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_store_get_fuel(store: *mut wasm_store_t, fuel: *mut u64) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(s) = store_mut(store) else {
            return error_msg("kiln_store_get_fuel: NULL store, or inside a host call");
        };
        if fuel.is_null() {
            return error_msg("NULL argument");
        }
        match s.get_fuel() {
            Ok(f) => {
                // SAFETY: `fuel` points at writable storage.
                unsafe { fuel.write(f) };
                null_mut()
            }
            Err(e) => error(store, &e),
        }
    })
}

/// Collects the store's GC objects and host references that nothing reaches any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_store_gc(store: *mut wasm_store_t) {
    guard((), || {
        if let Some(s) = store_mut(store) {
            s.gc()
        }
    })
}

/// Interrupts wasm running in the store once the engine's epoch is `ticks` past its current value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_store_set_epoch_deadline(store: *mut wasm_store_t, ticks: u64) {
    guard((), || {
        if let Some(s) = store_mut(store) {
            s.set_epoch_deadline(ticks)
        }
    })
}

/// Compiles a module (binary or text) for an engine; the module handle has no store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_module_new(
    engine: *const wasm_engine_t,
    bytes: *const u8,
    len: usize,
    out: *mut *mut Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(engine) = opt(engine) else { return error_msg("NULL engine") };
        if out.is_null() || (bytes.is_null() && len > 0) {
            return error_msg("NULL argument");
        }
        // SAFETY: C passes `len` readable bytes.
        let bytes = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(bytes, len) } };
        match Module::new(&engine.engine, bytes) {
            Ok(m) => {
                // SAFETY: `out` points at writable pointer storage.
                unsafe { out.write(boxed(module_obj(null_mut(), m))) };
                null_mut()
            }
            Err(e) => error(null_mut(), &e),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_module_serialize(module: *const Obj, out: *mut wasm_byte_vec_t) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(m) = module_of(module) else { return error_msg("not a module") };
        if out.is_null() {
            return error_msg("NULL output");
        }
        match m.serialize() {
            Ok(bytes) => {
                // SAFETY: `out` points at writable vector storage.
                unsafe { out.write(CVec::from_vec(bytes)) };
                null_mut()
            }
            Err(e) => error(null_mut(), &e),
        }
    })
}

/// Loads a serialized module (`.cwasm`), with the `.cwasm` compatibility checks: an error names
/// what does not match (kiln version, engine settings, corrupted bytes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_module_deserialize(
    engine: *const wasm_engine_t,
    bytes: *const u8,
    len: usize,
    out: *mut *mut Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(engine) = opt(engine) else { return error_msg("NULL engine") };
        if out.is_null() || bytes.is_null() {
            return error_msg("NULL argument");
        }
        // SAFETY: C passes `len` readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(bytes, len) };
        // SAFETY: the bytes run as machine code once their header and checksum pass kiln's
        // checks; the caller vouches that they come from kiln's serializer.
        match unsafe { Module::deserialize(&engine.engine, bytes) } {
            Ok(m) => {
                // SAFETY: `out` points at writable pointer storage.
                unsafe { out.write(boxed(module_obj(null_mut(), m))) };
                null_mut()
            }
            Err(e) => error(null_mut(), &e),
        }
    })
}

fn memory_of(m: *const Obj) -> Option<(*mut wasm_store_t, kiln_rs::Memory)> {
    match opt(m)? {
        Obj { store, kind: Kind::Memory(x), .. } => Some((*store, *x)),
        _ => None,
    }
}

/// Copies `len` bytes at `offset` of the memory into `buf`: false if out of bounds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_memory_read(m: *const Obj, offset: u64, buf: *mut u8, len: usize) -> bool {
    guard(false, || {
        let Some((store, m)) = memory_of(m) else { return false };
        let Ok(offset) = usize::try_from(offset) else { return false };
        if buf.is_null() && len > 0 {
            return false;
        }
        // SAFETY: C passes `len` writable bytes.
        let buf = if len == 0 { &mut [][..] } else { unsafe { std::slice::from_raw_parts_mut(buf, len) } };
        with_ctx(store, |ctx| m.read(&ctx, offset, buf)).is_ok()
    })
}

/// Copies `len` bytes from `buf` into the memory at `offset`: false if out of bounds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_memory_write(m: *const Obj, offset: u64, buf: *const u8, len: usize) -> bool {
    guard(false, || {
        let Some((store, m)) = memory_of(m) else { return false };
        let Ok(offset) = usize::try_from(offset) else { return false };
        if buf.is_null() && len > 0 {
            return false;
        }
        // SAFETY: C passes `len` readable bytes.
        let buf = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(buf, len) } };
        with_ctx(store, |ctx| m.write(ctx, offset, buf)).is_ok()
    })
}
