//! Traps (`wasm_trap_t`) and frames (`wasm_frame_t`).

use crate::engine::{wasm_store_t, with_ctx};
use crate::obj::{Kind, Obj};
use crate::types::{opt, take};
use crate::vec::{CVec, wasm_byte_vec_t, wasm_frame_vec_t};
use crate::{boxed, guard};
use kiln_rs::{Trap, WasmBacktrace};
use std::fmt;
use std::ptr::null_mut;
use std::rc::Rc;

/// One wasm frame of a trap's trace.
#[derive(Clone)]
pub struct wasm_frame_t {
    pub func_index: u32,
    pub func_offset: usize,
    pub module_offset: usize,
    /// The instance the frame runs in, when the C API can tell (see `frames_of`).
    pub instance: Option<Box<Obj>>,
}

/// A trap: its message, the trap code when wasm trapped, and the wasm frames.
pub struct TrapData {
    pub message: String,
    pub code: Option<Trap>,
    pub frames: Vec<wasm_frame_t>,
    /// The error the trap was made from, for `kiln_error_t` conversions.
    pub exit_status: Option<i32>,
}

/// The error a C host function's trap becomes while it unwinds through wasm: its message comes
/// back out unchanged.
#[derive(Debug)]
pub struct HostTrap(pub String);

impl fmt::Display for HostTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostTrap {}

/// The message of an error, without the backtrace kiln attaches as context.
pub(crate) fn error_message(err: &anyhow::Error) -> String {
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    if let Some(HostTrap(msg)) = err.downcast_ref::<HostTrap>() {
        return msg.clone();
    }
    // The backtrace may be the error's root or a context layer (whose `dyn Error` does not
    // downcast): compare its text.
    let backtrace = backtrace_of(err).map(|bt| bt.to_string());
    err.chain().map(|e| e.to_string()).filter(|text| Some(text) != backtrace.as_ref()).collect::<Vec<_>>().join(": ")
}

/// An error's wasm backtrace, attached by kiln as its root (traps) or as context (host errors).
fn backtrace_of(err: &anyhow::Error) -> Option<&WasmBacktrace> {
    err.downcast_ref::<WasmBacktrace>().or_else(|| err.chain().find_map(|e| e.downcast_ref::<WasmBacktrace>()))
}

/// The frames of an error's wasm backtrace.
pub(crate) fn frames_of(store: *mut wasm_store_t, err: &anyhow::Error) -> Vec<wasm_frame_t> {
    let Some(bt) = backtrace_of(err) else { return Vec::new() };
    let instances = if store.is_null() { Vec::new() } else { with_ctx(store, |ctx| ctx.data().instances.clone()) };
    bt.frames()
        .iter()
        .map(|f| {
            // The instance: the one instance made through this API whose module holds the frame's
            // code. With several instances of one module it cannot be told apart: none is given.
            let mut matching = instances.iter().filter(|(_, m)| m.contains_frame(f));
            let instance = match (matching.next(), matching.next()) {
                (Some((i, _)), None) => Some(Box::new(Obj::new(store, Kind::Instance(*i)))),
                _ => None,
            };
            wasm_frame_t {
                func_index: f.func_index(),
                func_offset: f.func_offset().unwrap_or(0) as usize,
                module_offset: f.module_offset().unwrap_or(0) as usize,
                instance,
            }
        })
        .collect()
}

/// A trap object for an error from kiln.
pub(crate) fn trap_from_error(store: *mut wasm_store_t, err: &anyhow::Error) -> Obj {
    let exit_status = err.downcast_ref::<kiln_wasi::I32Exit>().map(|e| e.0);
    let data = TrapData {
        message: error_message(err),
        code: err.downcast_ref::<Trap>().copied(),
        frames: frames_of(store, err),
        exit_status,
    };
    Obj::new(store, Kind::Trap(Rc::new(data)))
}

/// A trap object with a message and no frames.
pub(crate) fn trap_msg(store: *mut wasm_store_t, message: impl Into<String>) -> Obj {
    let data = TrapData { message: message.into(), code: None, frames: Vec::new(), exit_status: None };
    Obj::new(store, Kind::Trap(Rc::new(data)))
}

pub(crate) fn trap_data(t: *const Obj) -> Option<&'static TrapData> {
    match &opt(t)?.kind {
        // SAFETY: the data lives as long as the trap handle, which C keeps alive while it uses
        // what these accessors return.
        Kind::Trap(data) => Some(unsafe { &*Rc::as_ptr(data) }),
        _ => None,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_trap_new(store: *mut wasm_store_t, message: *const wasm_byte_vec_t) -> *mut Obj {
    guard(null_mut(), || {
        let bytes = opt(message).map_or(&[][..], |m| m.as_slice());
        // The message is NUL-terminated by convention: the terminator is not part of the text.
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        boxed(trap_msg(store, String::from_utf8_lossy(bytes).into_owned()))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_trap_message(trap: *const Obj, out: *mut wasm_byte_vec_t) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let mut bytes = trap_data(trap).map_or_else(Vec::new, |t| t.message.as_bytes().to_vec());
        bytes.push(0);
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(bytes)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_trap_origin(trap: *const Obj) -> *mut wasm_frame_t {
    guard(null_mut(), || trap_data(trap).and_then(|t| t.frames.first()).map_or(null_mut(), |f| boxed(f.clone())))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_trap_trace(trap: *const Obj, out: *mut wasm_frame_vec_t) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let frames = trap_data(trap).map_or_else(Vec::new, |t| t.frames.iter().map(|f| boxed(f.clone())).collect());
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(frames)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_delete(frame: *mut wasm_frame_t) {
    guard((), || drop(take(frame)));
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_copy(frame: *const wasm_frame_t) -> *mut wasm_frame_t {
    guard(null_mut(), || opt(frame).map_or(null_mut(), |f| boxed(f.clone())))
}

/// The frame's instance, owned by the frame (NULL when it cannot be told).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_instance(frame: *const wasm_frame_t) -> *mut Obj {
    match opt(frame).and_then(|f| f.instance.as_deref()) {
        Some(i) => i as *const Obj as *mut Obj,
        None => null_mut(),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_func_index(frame: *const wasm_frame_t) -> u32 {
    opt(frame).map_or(0, |f| f.func_index)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_func_offset(frame: *const wasm_frame_t) -> usize {
    opt(frame).map_or(0, |f| f.func_offset)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_frame_module_offset(frame: *const wasm_frame_t) -> usize {
    opt(frame).map_or(0, |f| f.module_offset)
}
