//! kiln/component.h: components from C. Component values cross as a tree of
//! [`kiln_component_val_t`], converted to and from [`Val`] at the boundary; the component linker,
//! instances and functions wrap `kiln::component`'s. No Canonical ABI logic lives here: values are
//! checked against their types by kiln when a call lowers them.

use crate::engine::{StoreData, component_host_call, in_component_call, wasm_engine_t, wasm_store_t, with_ctx};
use crate::error::{error, error_msg, guard_err, kiln_error_t, str_arg};
use crate::func::CEnv;
use crate::trap::{HostTrap, trap_from_error};
use crate::types::{opt, take};
use crate::vec::{CVec, VecElem, byte_vec, wasm_byte_vec_t};
use crate::{boxed, guard};
use anyhow::{Context, Result, anyhow, bail};
use kiln_rs::component::{Component, Func, Instance, Linker, ResourceAny, Val};
use std::ffi::{c_char, c_void};
use std::mem::ManuallyDrop;
use std::ptr::null_mut;

pub type wasm_name_t = wasm_byte_vec_t;

const BOOL: u8 = 0;
const S8: u8 = 1;
const U8: u8 = 2;
const S16: u8 = 3;
const U16: u8 = 4;
const S32: u8 = 5;
const U32: u8 = 6;
const S64: u8 = 7;
const U64: u8 = 8;
const F32: u8 = 9;
const F64: u8 = 10;
const CHAR: u8 = 11;
const STRING: u8 = 12;
const LIST: u8 = 13;
const RECORD: u8 = 14;
const TUPLE: u8 = 15;
const VARIANT: u8 = 16;
const ENUM: u8 = 17;
const OPTION: u8 = 18;
const RESULT: u8 = 19;
const FLAGS: u8 = 20;
const MAP: u8 = 21;
const RESOURCE: u8 = 22;

/// A resource handle held by C.
pub struct kiln_component_resource_t(ResourceAny);

#[repr(C)]
pub struct kiln_component_variant_t {
    pub name: wasm_name_t,
    pub payload: *mut kiln_component_val_t,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct kiln_component_result_t {
    pub is_ok: bool,
    pub payload: *mut kiln_component_val_t,
}

/// The payload of a value; `kind` says which member is live. Members that own memory are
/// `ManuallyDrop`: a value is freed by [`free_val`], never by drop glue (C copies values
/// bitwise, so Rust cannot know which copy owns).
#[repr(C)]
pub union kiln_component_valunion_t {
    pub boolean: bool,
    pub s8: i8,
    pub u8: u8,
    pub s16: i16,
    pub u16: u16,
    pub s32: i32,
    pub u32: u32,
    pub s64: i64,
    pub u64: u64,
    pub f32: f32,
    pub f64: f64,
    pub character: u32,
    pub string: ManuallyDrop<wasm_name_t>,
    pub list: ManuallyDrop<kiln_component_val_vec_t>,
    pub record: ManuallyDrop<kiln_component_field_vec_t>,
    pub variant: ManuallyDrop<kiln_component_variant_t>,
    pub enumeration: ManuallyDrop<wasm_name_t>,
    pub option: *mut kiln_component_val_t,
    pub result: kiln_component_result_t,
    pub flags: ManuallyDrop<kiln_component_name_vec_t>,
    pub resource: *mut kiln_component_resource_t,
}

#[repr(C)]
pub struct kiln_component_val_t {
    pub kind: u8,
    pub of: kiln_component_valunion_t,
}

#[repr(C)]
pub struct kiln_component_field_t {
    pub name: wasm_name_t,
    pub val: kiln_component_val_t,
}

pub type kiln_component_val_vec_t = CVec<kiln_component_val_t>;
pub type kiln_component_field_vec_t = CVec<kiln_component_field_t>;
pub type kiln_component_name_vec_t = CVec<wasm_name_t>;

impl kiln_component_val_t {
    fn falsy() -> kiln_component_val_t {
        kiln_component_val_t { kind: BOOL, of: kiln_component_valunion_t { boolean: false } }
    }
}

impl VecElem for kiln_component_val_t {
    fn zero() -> Self {
        kiln_component_val_t::falsy()
    }
    fn copy_elem(&self) -> Self {
        copy_val(self)
    }
    fn delete_elem(mut self) {
        free_val(&mut self);
    }
}

impl VecElem for kiln_component_field_t {
    fn zero() -> Self {
        kiln_component_field_t { name: CVec::empty(), val: kiln_component_val_t::falsy() }
    }
    fn copy_elem(&self) -> Self {
        kiln_component_field_t { name: self.name.deep_copy(), val: copy_val(&self.val) }
    }
    fn delete_elem(mut self) {
        // The name is freed by its own drop glue.
        free_val(&mut self.val);
    }
}

impl VecElem for wasm_name_t {
    fn zero() -> Self {
        CVec::empty()
    }
    fn copy_elem(&self) -> Self {
        self.deep_copy()
    }
    fn delete_elem(self) {}
}

fn boxed_val(v: kiln_component_val_t) -> *mut kiln_component_val_t {
    boxed(v)
}

/// Frees a boxed payload (NULL allowed).
fn free_box(p: *mut kiln_component_val_t) {
    if let Some(mut b) = take(p) {
        free_val(&mut b);
    }
}

/// Frees what `v` owns and leaves it `false`.
fn free_val(v: &mut kiln_component_val_t) {
    let old = std::mem::replace(v, kiln_component_val_t::falsy());
    // SAFETY: `kind` says which member is live; each owning member is dropped once, here.
    unsafe {
        let mut of = old.of;
        match old.kind {
            STRING => ManuallyDrop::drop(&mut of.string),
            ENUM => ManuallyDrop::drop(&mut of.enumeration),
            LIST | TUPLE | MAP => ManuallyDrop::drop(&mut of.list),
            RECORD => ManuallyDrop::drop(&mut of.record),
            FLAGS => ManuallyDrop::drop(&mut of.flags),
            VARIANT => {
                let variant = ManuallyDrop::take(&mut of.variant);
                free_box(variant.payload);
            }
            OPTION => free_box(of.option),
            RESULT => free_box(of.result.payload),
            RESOURCE => drop(take(of.resource)),
            _ => {}
        }
    }
}

fn copy_box(p: *const kiln_component_val_t) -> *mut kiln_component_val_t {
    match opt(p) {
        Some(v) => boxed_val(copy_val(v)),
        None => null_mut(),
    }
}

fn copy_val(v: &kiln_component_val_t) -> kiln_component_val_t {
    // SAFETY: `kind` says which member is live.
    let of = unsafe {
        match v.kind {
            STRING => kiln_component_valunion_t { string: ManuallyDrop::new(v.of.string.deep_copy()) },
            ENUM => kiln_component_valunion_t { enumeration: ManuallyDrop::new(v.of.enumeration.deep_copy()) },
            LIST | TUPLE | MAP => kiln_component_valunion_t { list: ManuallyDrop::new(v.of.list.deep_copy()) },
            RECORD => kiln_component_valunion_t { record: ManuallyDrop::new(v.of.record.deep_copy()) },
            FLAGS => kiln_component_valunion_t { flags: ManuallyDrop::new(v.of.flags.deep_copy()) },
            VARIANT => kiln_component_valunion_t {
                variant: ManuallyDrop::new(kiln_component_variant_t {
                    name: v.of.variant.name.deep_copy(),
                    payload: copy_box(v.of.variant.payload),
                }),
            },
            OPTION => kiln_component_valunion_t { option: copy_box(v.of.option) },
            RESULT => kiln_component_valunion_t {
                result: kiln_component_result_t { is_ok: v.of.result.is_ok, payload: copy_box(v.of.result.payload) },
            },
            RESOURCE => kiln_component_valunion_t {
                resource: match opt(v.of.resource) {
                    Some(r) => boxed(kiln_component_resource_t(r.0)),
                    None => null_mut(),
                },
            },
            // Scalars: the union's bytes are the value.
            _ => std::ptr::read(&v.of),
        }
    };
    kiln_component_val_t { kind: v.kind, of }
}

fn name_str(name: &wasm_name_t, what: &str) -> Result<String> {
    std::str::from_utf8(name.as_slice()).map(str::to_string).map_err(|_| anyhow!("{what} is not UTF-8"))
}

fn payload_val(p: *const kiln_component_val_t) -> Result<Option<Box<Val>>> {
    opt(p).map(|v| to_val(v).map(Box::new)).transpose()
}

/// The [`Val`] a C value describes (borrowed: nothing is freed).
pub(crate) fn to_val(v: &kiln_component_val_t) -> Result<Val> {
    // SAFETY: `kind` says which member is live.
    unsafe {
        Ok(match v.kind {
            BOOL => Val::Bool(v.of.boolean),
            S8 => Val::S8(v.of.s8),
            U8 => Val::U8(v.of.u8),
            S16 => Val::S16(v.of.s16),
            U16 => Val::U16(v.of.u16),
            S32 => Val::S32(v.of.s32),
            U32 => Val::U32(v.of.u32),
            S64 => Val::S64(v.of.s64),
            U64 => Val::U64(v.of.u64),
            F32 => Val::Float32(v.of.f32),
            F64 => Val::Float64(v.of.f64),
            CHAR => Val::Char(
                char::from_u32(v.of.character)
                    .ok_or_else(|| anyhow!("{:#x} is not a Unicode scalar value", v.of.character))?,
            ),
            STRING => Val::String(name_str(&v.of.string, "string")?),
            LIST => Val::List(v.of.list.as_slice().iter().map(to_val).collect::<Result<_>>()?),
            TUPLE => Val::Tuple(v.of.list.as_slice().iter().map(to_val).collect::<Result<_>>()?),
            MAP => Val::Map(
                v.of.list
                    .as_slice()
                    .iter()
                    .map(|entry| match to_val(entry)? {
                        Val::Tuple(pair) if pair.len() == 2 => {
                            let mut pair = pair.into_iter();
                            Ok((pair.next().unwrap(), pair.next().unwrap()))
                        }
                        _ => bail!("a map entry must be a tuple of two values (key, value)"),
                    })
                    .collect::<Result<_>>()?,
            ),
            RECORD => Val::Record(
                v.of.record
                    .as_slice()
                    .iter()
                    .map(|f| Ok((name_str(&f.name, "record field name")?, to_val(&f.val)?)))
                    .collect::<Result<_>>()?,
            ),
            VARIANT => {
                Val::Variant(name_str(&v.of.variant.name, "variant case name")?, payload_val(v.of.variant.payload)?)
            }
            ENUM => Val::Enum(name_str(&v.of.enumeration, "enum case name")?),
            OPTION => Val::Option(payload_val(v.of.option)?),
            RESULT => {
                let payload = payload_val(v.of.result.payload)?;
                Val::Result(if v.of.result.is_ok { Ok(payload) } else { Err(payload) })
            }
            FLAGS => Val::Flags(v.of.flags.as_slice().iter().map(|n| name_str(n, "flag name")).collect::<Result<_>>()?),
            RESOURCE => match opt(v.of.resource) {
                Some(r) => Val::Resource(r.0),
                None => bail!("NULL resource handle"),
            },
            kind => bail!("unknown component value kind {kind}"),
        })
    }
}

fn name(s: &str) -> wasm_name_t {
    byte_vec(s.as_bytes())
}

fn payload_c(p: Option<Box<Val>>) -> *mut kiln_component_val_t {
    p.map_or(null_mut(), |v| boxed_val(from_val(*v)))
}

/// A C value (kiln-allocated, owned by whoever receives it) for a [`Val`].
pub(crate) fn from_val(v: Val) -> kiln_component_val_t {
    use kiln_component_valunion_t as U;
    let (kind, of) = match v {
        Val::Bool(b) => (BOOL, U { boolean: b }),
        Val::S8(x) => (S8, U { s8: x }),
        Val::U8(x) => (U8, U { u8: x }),
        Val::S16(x) => (S16, U { s16: x }),
        Val::U16(x) => (U16, U { u16: x }),
        Val::S32(x) => (S32, U { s32: x }),
        Val::U32(x) => (U32, U { u32: x }),
        Val::S64(x) => (S64, U { s64: x }),
        Val::U64(x) => (U64, U { u64: x }),
        Val::Float32(x) => (F32, U { f32: x }),
        Val::Float64(x) => (F64, U { f64: x }),
        Val::Char(c) => (CHAR, U { character: c as u32 }),
        Val::String(s) => (STRING, U { string: ManuallyDrop::new(name(&s)) }),
        Val::List(items) => {
            (LIST, U { list: ManuallyDrop::new(CVec::from_vec(items.into_iter().map(from_val).collect())) })
        }
        Val::Tuple(items) => {
            (TUPLE, U { list: ManuallyDrop::new(CVec::from_vec(items.into_iter().map(from_val).collect())) })
        }
        Val::Map(entries) => {
            let entries = entries.into_iter().map(|(k, v)| from_val(Val::Tuple(vec![k, v]))).collect();
            (MAP, U { list: ManuallyDrop::new(CVec::from_vec(entries)) })
        }
        Val::Record(fields) => {
            let fields = fields.into_iter().map(|(n, v)| kiln_component_field_t { name: name(&n), val: from_val(v) });
            (RECORD, U { record: ManuallyDrop::new(CVec::from_vec(fields.collect())) })
        }
        Val::Variant(case, payload) => (
            VARIANT,
            U {
                variant: ManuallyDrop::new(kiln_component_variant_t { name: name(&case), payload: payload_c(payload) }),
            },
        ),
        Val::Enum(case) => (ENUM, U { enumeration: ManuallyDrop::new(name(&case)) }),
        Val::Option(p) => (OPTION, U { option: payload_c(p) }),
        Val::Result(r) => {
            let (is_ok, payload) = match r {
                Ok(p) => (true, payload_c(p)),
                Err(p) => (false, payload_c(p)),
            };
            (RESULT, U { result: kiln_component_result_t { is_ok, payload } })
        }
        Val::Flags(names) => {
            (FLAGS, U { flags: ManuallyDrop::new(CVec::from_vec(names.iter().map(|n| name(n)).collect())) })
        }
        Val::Resource(r) => (RESOURCE, U { resource: boxed(kiln_component_resource_t(r)) }),
    };
    kiln_component_val_t { kind, of }
}

// ---- Value functions ----

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_val_delete(val: *mut kiln_component_val_t) {
    guard((), || {
        // SAFETY: C passes NULL or a live value it owns.
        if let Some(v) = unsafe { val.as_mut() } {
            free_val(v);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_val_copy(out: *mut kiln_component_val_t, src: *const kiln_component_val_t) {
    guard((), || {
        let Some(src) = opt(src) else { return };
        if !out.is_null() {
            // SAFETY: `out` points at writable value storage.
            unsafe { out.write(copy_val(src)) }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_val_box(val: *mut kiln_component_val_t) -> *mut kiln_component_val_t {
    guard(null_mut(), || {
        // SAFETY: C passes NULL or a live value.
        let Some(v) = (unsafe { val.as_mut() }) else { return null_mut() };
        boxed_val(std::mem::replace(v, kiln_component_val_t::falsy()))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_val_box_delete(b: *mut kiln_component_val_t) {
    guard((), || free_box(b))
}

macro_rules! component_vec {
    ($vec:ty, $new_uninit:ident, $delete:ident) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new_uninit(out: *mut $vec, size: usize) {
            guard((), || {
                if !out.is_null() {
                    // SAFETY: `out` points at writable (possibly uninitialized) vector storage.
                    unsafe { out.write(CVec::zeroed(size)) }
                }
            })
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $delete(vec: *mut $vec) {
            guard((), || {
                // SAFETY: C passes NULL or a live vector it owns.
                if let Some(v) = unsafe { vec.as_mut() } {
                    v.delete();
                }
            })
        }
    };
}

component_vec!(kiln_component_val_vec_t, kiln_component_val_vec_new_uninitialized, kiln_component_val_vec_delete);
component_vec!(kiln_component_field_vec_t, kiln_component_field_vec_new_uninitialized, kiln_component_field_vec_delete);
component_vec!(kiln_component_name_vec_t, kiln_component_name_vec_new_uninitialized, kiln_component_name_vec_delete);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_val_vec_new_empty(out: *mut kiln_component_val_vec_t) {
    guard((), || {
        if !out.is_null() {
            // SAFETY: `out` points at writable vector storage.
            unsafe { out.write(CVec::empty()) }
        }
    })
}

/// Takes over the contents of `size` values at `data` (the array itself stays the caller's).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_val_vec_new(
    out: *mut kiln_component_val_vec_t,
    size: usize,
    data: *const kiln_component_val_t,
) {
    guard((), || {
        if out.is_null() {
            return;
        }
        let items = if data.is_null() || size == 0 {
            Vec::new()
        } else {
            // SAFETY: C passes `size` values at `data`, whose contents it hands over: reading
            // them bitwise moves them.
            (0..size).map(|i| unsafe { data.add(i).read() }).collect()
        };
        // SAFETY: `out` points at writable vector storage.
        unsafe { out.write(CVec::from_vec(items)) }
    })
}

// ---- Resources ----

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_resource_is_owned(r: *const kiln_component_resource_t) -> bool {
    guard(false, || opt(r).is_some_and(|r| r.0.owned()))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_resource_copy(
    r: *const kiln_component_resource_t,
) -> *mut kiln_component_resource_t {
    guard(null_mut(), || opt(r).map_or(null_mut(), |r| boxed(kiln_component_resource_t(r.0))))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_resource_delete(r: *mut kiln_component_resource_t) {
    guard((), || drop(take(r)))
}

#[unsafe(no_mangle)]
pub extern "C" fn kiln_component_resource_new_host(
    type_id: u64,
    rep: u32,
    owned: bool,
) -> *mut kiln_component_resource_t {
    guard(null_mut(), || {
        let ty = kiln_rs::component::ResourceType::host_id(type_id);
        ResourceAny::host(ty, rep, owned).map_or(null_mut(), |r| boxed(kiln_component_resource_t(r)))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_resource_host_rep(
    r: *const kiln_component_resource_t,
    type_id: *mut u64,
    rep: *mut u32,
) -> bool {
    guard(false, || {
        let Some(r) = opt(r) else { return false };
        let (Some(id), Some(value)) = (r.0.ty().host_id_of(), r.0.host_rep()) else { return false };
        // SAFETY: C passes NULL or writable storage for each output.
        unsafe {
            if let Some(t) = type_id.as_mut() {
                *t = id;
            }
            if let Some(v) = rep.as_mut() {
                *v = value;
            }
        }
        true
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_resource_drop(
    store: *mut wasm_store_t,
    r: *const kiln_component_resource_t,
) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(r) = opt(r) else { return error_msg("kiln_component_resource_drop: NULL resource") };
        if store.is_null() {
            return error_msg("kiln_component_resource_drop: NULL store");
        }
        if let Some(busy) = store_busy(store, "kiln_component_resource_drop") {
            return busy;
        }
        match with_ctx(store, |ctx| r.0.resource_drop(ctx)) {
            Ok(()) => null_mut(),
            Err(e) => error(store, &e),
        }
    })
}

// ---- Components ----

pub struct kiln_component_t {
    component: Component,
}

fn bytes_arg<'a>(bytes: *const u8, len: usize) -> Option<&'a [u8]> {
    if bytes.is_null() {
        return (len == 0).then_some(&[]);
    }
    // SAFETY: C passes `len` readable bytes.
    Some(unsafe { std::slice::from_raw_parts(bytes, len) })
}

/// The error for a store used while one of its component host functions runs (the call below
/// holds it).
fn store_busy(store: *mut wasm_store_t, what: &str) -> Option<*mut kiln_error_t> {
    in_component_call(store)
        .then(|| error_msg(format!("{what}: the store is in use by a component host function running in it")))
}

fn write_out<T>(out: *mut *mut T, value: T) {
    // SAFETY: callers check `out` is not NULL; it points at writable pointer storage.
    unsafe { out.write(boxed(value)) }
}

/// The body of `kiln_component_new` and `_deserialize`: checks the arguments, makes the
/// component with `load` and hands it to C.
fn load_component(
    what: &str,
    engine: *const wasm_engine_t,
    bytes: *const u8,
    len: usize,
    out: *mut *mut kiln_component_t,
    load: impl FnOnce(&kiln_rs::Engine, &[u8]) -> Result<Component>,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(engine), Some(bytes)) = (opt(engine), bytes_arg(bytes, len)) else {
            return error_msg(format!("{what}: NULL engine or bytes"));
        };
        if out.is_null() {
            return error_msg(format!("{what}: NULL output"));
        }
        match load(&engine.engine, bytes) {
            Ok(component) => {
                write_out(out, kiln_component_t { component });
                null_mut()
            }
            Err(e) => error(null_mut(), &e),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_new(
    engine: *const wasm_engine_t,
    bytes: *const u8,
    len: usize,
    out: *mut *mut kiln_component_t,
) -> *mut kiln_error_t {
    load_component("kiln_component_new", engine, bytes, len, out, |e, b| Component::new(e, b))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_serialize(
    c: *const kiln_component_t,
    out: *mut wasm_byte_vec_t,
) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(c) = opt(c) else { return error_msg("kiln_component_serialize: NULL component") };
        if out.is_null() {
            return error_msg("kiln_component_serialize: NULL output");
        }
        match c.component.serialize() {
            Ok(bytes) => {
                // SAFETY: `out` points at writable vector storage.
                unsafe { out.write(CVec::from_vec(bytes)) };
                null_mut()
            }
            Err(e) => error(null_mut(), &e),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_deserialize(
    engine: *const wasm_engine_t,
    bytes: *const u8,
    len: usize,
    out: *mut *mut kiln_component_t,
) -> *mut kiln_error_t {
    load_component("kiln_component_deserialize", engine, bytes, len, out, |e, b| {
        // SAFETY: the header documents that the bytes must come from a trusted source; kiln
        // checks the format, version, configuration and checksum.
        unsafe { Component::deserialize(e, b) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_clone(c: *const kiln_component_t) -> *mut kiln_component_t {
    guard(null_mut(), || opt(c).map_or(null_mut(), |c| boxed(kiln_component_t { component: c.component.clone() })))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_delete(c: *mut kiln_component_t) {
    guard((), || drop(take(c)))
}

// ---- Linker ----

pub struct kiln_component_linker_t {
    linker: Linker<StoreData>,
}

pub type kiln_component_func_callback_t = unsafe extern "C" fn(
    *mut c_void,
    *const kiln_component_val_t,
    usize,
    *mut kiln_component_val_t,
    usize,
) -> *mut kiln_error_t;

/// A component host function's callback and environment (finalized with the last linker or
/// store holding the function).
struct ComponentCallback {
    callback: kiln_component_func_callback_t,
    env: CEnv,
}

impl ComponentCallback {
    fn call(&self, store: *mut wasm_store_t, params: &[Val], results: &mut [Val]) -> Result<()> {
        let mut args: Vec<kiln_component_val_t> = params.iter().cloned().map(from_val).collect();
        let mut outs: Vec<kiln_component_val_t> = (0..results.len()).map(|_| kiln_component_val_t::falsy()).collect();
        // SAFETY: the callback gets the argument and result arrays for the duration of the
        // call; it may not keep them.
        let err = component_host_call(store, || unsafe {
            (self.callback)(self.env.ptr, args.as_ptr(), args.len(), outs.as_mut_ptr(), outs.len())
        });
        args.iter_mut().for_each(free_val);
        let converted = match take(err) {
            Some(e) => Err(anyhow::Error::new(HostTrap(e.message.clone()))),
            None => outs.iter().zip(results.iter_mut()).enumerate().try_for_each(|(i, (c, slot))| {
                *slot = to_val(c).with_context(|| format!("host function result {i}"))?;
                Ok(())
            }),
        };
        outs.iter_mut().for_each(free_val);
        converted
    }
}

fn component_linker<'a>(l: *mut kiln_component_linker_t) -> Option<&'a mut Linker<StoreData>> {
    // SAFETY: C passes NULL or a live linker it does not use concurrently.
    unsafe { l.as_mut() }.map(|l| &mut l.linker)
}

fn result_err(r: Result<()>) -> *mut kiln_error_t {
    match r {
        Ok(()) => null_mut(),
        Err(e) => error(null_mut(), &e),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_linker_new(engine: *const wasm_engine_t) -> *mut kiln_component_linker_t {
    guard(null_mut(), || {
        opt(engine).map_or(null_mut(), |e| boxed(kiln_component_linker_t { linker: Linker::new(&e.engine) }))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_linker_delete(l: *mut kiln_component_linker_t) {
    guard((), || drop(take(l)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_linker_allow_shadowing(l: *mut kiln_component_linker_t, allow: bool) {
    guard((), || {
        if let Some(l) = component_linker(l) {
            l.allow_shadowing(allow);
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_linker_define_func(
    l: *mut kiln_component_linker_t,
    instance: *const c_char,
    instance_len: usize,
    name: *const c_char,
    name_len: usize,
    callback: Option<kiln_component_func_callback_t>,
    env: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(l), Some(instance), Some(name)) =
            (component_linker(l), str_arg(instance, instance_len), str_arg(name, name_len))
        else {
            return error_msg("kiln_component_linker_define_func: NULL linker or names not UTF-8");
        };
        let Some(callback) = callback else {
            return error_msg("kiln_component_linker_define_func: NULL callback");
        };
        let cb = ComponentCallback { callback, env: CEnv { ptr: env, finalizer } };
        let func = move |ctx: kiln_rs::StoreContextMut<'_, StoreData>, params: &[Val], results: &mut [Val]| {
            let store = ctx.data().self_ptr;
            cb.call(store, params, results)
        };
        result_err(if instance.is_empty() {
            l.root().func_new(name, func)
        } else {
            l.instance(instance).and_then(|mut i| i.func_new(name, func))
        })
    })
}

pub type kiln_component_resource_dtor_t = unsafe extern "C" fn(*mut c_void, u32) -> *mut kiln_error_t;

/// A host resource type's destructor with its environment (finalized with the linker).
struct ResourceDtor {
    dtor: Option<kiln_component_resource_dtor_t>,
    env: CEnv,
}

impl ResourceDtor {
    fn run(&self, store: *mut wasm_store_t, rep: u32) -> Result<()> {
        let Some(f) = self.dtor else { return Ok(()) };
        // SAFETY: C registered this destructor for this environment.
        let err = component_host_call(store, || unsafe { f(self.env.ptr, rep) });
        match take(err) {
            Some(e) => Err(anyhow::Error::new(HostTrap(e.message.clone()))),
            None => Ok(()),
        }
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_linker_define_resource(
    l: *mut kiln_component_linker_t,
    instance: *const c_char,
    instance_len: usize,
    name: *const c_char,
    name_len: usize,
    type_id: u64,
    dtor: Option<kiln_component_resource_dtor_t>,
    env: *mut c_void,
    finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(l), Some(instance), Some(name)) =
            (component_linker(l), str_arg(instance, instance_len), str_arg(name, name_len))
        else {
            return error_msg("kiln_component_linker_define_resource: NULL linker or names not UTF-8");
        };
        let dtor = ResourceDtor { dtor, env: CEnv { ptr: env, finalizer } };
        let run = move |ctx: kiln_rs::StoreContextMut<'_, StoreData>, rep: u32| dtor.run(ctx.data().self_ptr, rep);
        let ty = kiln_rs::component::ResourceType::host_id(type_id);
        result_err(if instance.is_empty() {
            l.root().resource(name, ty, run)
        } else {
            l.instance(instance).and_then(|mut i| i.resource(name, ty, run))
        })
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_linker_define_wasi(l: *mut kiln_component_linker_t) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(l) = component_linker(l) else { return error_msg("kiln_component_linker_define_wasi: NULL linker") };
        result_err(kiln_wasi::p2::add_to_linker_sync(l))
    })
}

pub struct kiln_component_instance_t {
    instance: Instance,
}

/// Whether an error from running a component is a trap (as opposed to a link error).
fn is_trap(e: &anyhow::Error) -> bool {
    e.is::<kiln_rs::Trap>()
        || e.is::<HostTrap>()
        || e.is::<kiln_rs::WasmBacktrace>()
        || e.is::<kiln_wasi::I32Exit>()
        || e.chain().any(|c| c.is::<kiln_rs::Trap>() || c.is::<HostTrap>())
}

/// Writes a trap to `trap_out` (returning NULL) or returns the failure as an error.
fn trap_or_error(store: *mut wasm_store_t, e: anyhow::Error, trap_out: *mut *mut crate::obj::Obj) -> *mut kiln_error_t {
    if is_trap(&e) && !trap_out.is_null() {
        // SAFETY: `trap_out` points at writable pointer storage.
        unsafe { trap_out.write(boxed(trap_from_error(store, &e))) };
        return null_mut();
    }
    error(store, &e)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_linker_instantiate(
    l: *const kiln_component_linker_t,
    store: *mut wasm_store_t,
    component: *const kiln_component_t,
    instance_out: *mut *mut kiln_component_instance_t,
    trap_out: *mut *mut crate::obj::Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(l), Some(c)) = (opt(l), opt(component)) else {
            return error_msg("kiln_component_linker_instantiate: NULL linker or component");
        };
        if store.is_null() || instance_out.is_null() {
            return error_msg("kiln_component_linker_instantiate: NULL store or output");
        }
        if let Some(busy) = store_busy(store, "kiln_component_linker_instantiate") {
            return busy;
        }
        if !trap_out.is_null() {
            // SAFETY: `trap_out` points at writable pointer storage.
            unsafe { trap_out.write(null_mut()) }
        }
        // SAFETY: `instance_out` points at writable pointer storage.
        unsafe { instance_out.write(null_mut()) }
        match with_ctx(store, |ctx| l.linker.instantiate(ctx, &c.component)) {
            Ok(instance) => {
                write_out(instance_out, kiln_component_instance_t { instance });
                null_mut()
            }
            Err(e) => trap_or_error(store, e, trap_out),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_instance_delete(i: *mut kiln_component_instance_t) {
    guard((), || drop(take(i)))
}

pub struct kiln_component_func_t {
    func: Func,
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_instance_get_func(
    store: *mut wasm_store_t,
    instance: *const kiln_component_instance_t,
    instance_name: *const c_char,
    instance_name_len: usize,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut kiln_component_func_t,
) -> *mut kiln_error_t {
    guard_err(|| {
        let (Some(i), Some(iname), Some(name)) =
            (opt(instance), str_arg(instance_name, instance_name_len), str_arg(name, name_len))
        else {
            return error_msg("kiln_component_instance_get_func: NULL instance or names not UTF-8");
        };
        if store.is_null() || out.is_null() {
            return error_msg("kiln_component_instance_get_func: NULL store or output");
        }
        if let Some(busy) = store_busy(store, "kiln_component_instance_get_func") {
            return busy;
        }
        let found = with_ctx(store, |mut ctx| -> Result<Func> {
            let parent = if iname.is_empty() {
                None
            } else {
                Some(
                    i.instance
                        .get_export_index(&ctx, None, iname)
                        .with_context(|| format!("no exported instance named `{iname}`"))?,
                )
            };
            let export = i.instance.get_export_index(&ctx, parent.as_ref(), name).with_context(|| {
                if iname.is_empty() {
                    format!("no export named `{name}`")
                } else {
                    format!("no export named `{name}` in `{iname}`")
                }
            })?;
            i.instance.try_get_func(&mut ctx, &export)
        });
        match found {
            Ok(func) => {
                write_out(out, kiln_component_func_t { func });
                null_mut()
            }
            Err(e) => error(store, &e),
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_func_delete(f: *mut kiln_component_func_t) {
    guard((), || drop(take(f)))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_func_arity(
    store: *mut wasm_store_t,
    f: *const kiln_component_func_t,
    params: *mut usize,
    results: *mut usize,
) {
    guard((), || {
        let Some(f) = opt(f) else { return };
        if store.is_null() || in_component_call(store) {
            return;
        }
        let (p, r) = with_ctx(store, |ctx| (f.func.params(&ctx).len(), usize::from(f.func.result(&ctx).is_some())));
        // SAFETY: C passes NULL or writable storage for each count.
        unsafe {
            if let Some(params) = params.as_mut() {
                *params = p;
            }
            if let Some(results) = results.as_mut() {
                *results = r;
            }
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn kiln_component_func_call(
    store: *mut wasm_store_t,
    f: *const kiln_component_func_t,
    args: *const kiln_component_val_t,
    nargs: usize,
    results: *mut kiln_component_val_t,
    nresults: usize,
    trap_out: *mut *mut crate::obj::Obj,
) -> *mut kiln_error_t {
    guard_err(|| {
        let Some(f) = opt(f) else { return error_msg("kiln_component_func_call: NULL function") };
        if store.is_null() || (args.is_null() && nargs > 0) || (results.is_null() && nresults > 0) {
            return error_msg("kiln_component_func_call: NULL store, arguments or results");
        }
        if let Some(busy) = store_busy(store, "kiln_component_func_call") {
            return busy;
        }
        if !trap_out.is_null() {
            // SAFETY: `trap_out` points at writable pointer storage.
            unsafe { trap_out.write(null_mut()) }
        }
        let args = if nargs == 0 {
            &[][..]
        } else {
            // SAFETY: C passes `nargs` values at `args`.
            unsafe { std::slice::from_raw_parts(args, nargs) }
        };
        let outcome = with_ctx(store, |mut ctx| -> Result<Vec<Val>> {
            let params = f.func.params(&ctx);
            let expected_results = usize::from(f.func.result(&ctx).is_some());
            if params.len() != nargs {
                bail!("expected {} arguments, got {nargs}", params.len());
            }
            if expected_results != nresults {
                bail!("the function has {expected_results} results, room was given for {nresults}");
            }
            let vals = args
                .iter()
                .zip(&params)
                .map(|(a, (name, _))| to_val(a).with_context(|| format!("argument `{name}`")))
                .collect::<Result<Vec<_>>>()?;
            let mut out = vec![Val::Bool(false); nresults];
            f.func.call(&mut ctx, &vals, &mut out)?;
            Ok(out)
        });
        match outcome {
            Ok(vals) => {
                for (i, v) in vals.into_iter().enumerate() {
                    // SAFETY: C passes room for `nresults` values at `results`.
                    unsafe { results.add(i).write(from_val(v)) }
                }
                null_mut()
            }
            Err(e) => trap_or_error(store, e, trap_out),
        }
    })
}
