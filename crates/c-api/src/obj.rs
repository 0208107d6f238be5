//! [`Obj`]: the one representation behind every reference handle of wasm.h, with the functions
//! every reference kind has (`_delete`, `_copy`, `_same`, host info, `_as_ref`, `ref_as_`), the
//! extern conversions and foreign objects.

use crate::engine::{wasm_store_t, with_ctx};
use crate::trap::TrapData;
use crate::types::{
    CExternType, WASM_EXTERN_FUNC, WASM_EXTERN_GLOBAL, WASM_EXTERN_MEMORY, WASM_EXTERN_TABLE, opt, take,
};
use crate::{boxed, guard};
use kiln_rs::{AnyRef, Extern, ExternRef, Func, Global, Instance, Memory, Module, OwnedRooted, Table};
use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr::null_mut;
use std::rc::Rc;

/// What a handle refers to.
#[derive(Clone)]
pub enum Kind {
    Func(Func),
    Global(Global),
    Table(Table),
    Memory(Memory),
    Instance(Instance),
    Foreign(u64),
    Module(Rc<Module>),
    Trap(Rc<TrapData>),
    /// An `externref` made outside the C API (e.g. by WASI), seen through a funcall: the handle
    /// it came as (its identity here) and the root that keeps it alive while C holds it.
    HostRef(ExternRef, OwnedRooted<ExternRef>),
    /// A reference of the `any` hierarchy (GC objects and i31s), alive while C holds it.
    Any(OwnedRooted<AnyRef>),
}

/// Identity of a store-owned object, for `_same` and host info.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Func(Func),
    Global(Global),
    Table(Table),
    Memory(Memory),
    Instance(Instance),
    Foreign(u64),
    HostRef(ExternRef),
}

/// Host info with its finalizer, which runs when the info is replaced or its object dies.
pub struct HostInfo {
    pub data: *mut c_void,
    pub finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
}

impl Drop for HostInfo {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: C registered this finalizer for this data.
            unsafe { finalizer(self.data) }
        }
    }
}

/// A reference handle. `store` is NULL only for modules and traps without a store.
#[derive(Clone)]
pub struct Obj {
    pub store: *mut wasm_store_t,
    pub kind: Kind,
    /// Host info of objects that are not owned by a store (modules, traps), shared by copies.
    info: Rc<RefCell<Option<HostInfo>>>,
}

pub type wasm_ref_t = Obj;
pub type wasm_func_t = Obj;
pub type wasm_global_t = Obj;
pub type wasm_table_t = Obj;
pub type wasm_memory_t = Obj;
pub type wasm_extern_t = Obj;
pub type wasm_instance_t = Obj;
pub type wasm_foreign_t = Obj;
pub type wasm_module_t = Obj;
pub type wasm_trap_t = Obj;

impl Obj {
    pub fn new(store: *mut wasm_store_t, kind: Kind) -> Obj {
        Obj { store, kind, info: Rc::new(RefCell::new(None)) }
    }

    pub fn from_extern(store: *mut wasm_store_t, e: Extern) -> Option<Obj> {
        let kind = match e {
            Extern::Func(f) => Kind::Func(f),
            Extern::Global(g) => Kind::Global(g),
            Extern::Table(t) => Kind::Table(t),
            Extern::Memory(m) => Kind::Memory(m),
            _ => return None,
        };
        Some(Obj::new(store, kind))
    }

    pub fn to_extern(&self) -> Option<Extern> {
        Some(match &self.kind {
            Kind::Func(f) => Extern::Func(*f),
            Kind::Global(g) => Extern::Global(*g),
            Kind::Table(t) => Extern::Table(*t),
            Kind::Memory(m) => Extern::Memory(*m),
            _ => return None,
        })
    }

    pub fn extern_kind(&self) -> Option<u8> {
        Some(match self.kind {
            Kind::Func(_) => WASM_EXTERN_FUNC,
            Kind::Global(_) => WASM_EXTERN_GLOBAL,
            Kind::Table(_) => WASM_EXTERN_TABLE,
            Kind::Memory(_) => WASM_EXTERN_MEMORY,
            _ => return None,
        })
    }

    fn key(&self) -> Option<Key> {
        Some(match &self.kind {
            Kind::Func(f) => Key::Func(*f),
            Kind::Global(g) => Key::Global(*g),
            Kind::Table(t) => Key::Table(*t),
            Kind::Memory(m) => Key::Memory(*m),
            Kind::Instance(i) => Key::Instance(*i),
            Kind::Foreign(id) => Key::Foreign(*id),
            Kind::HostRef(r, _) => Key::HostRef(*r),
            Kind::Module(_) | Kind::Trap(_) | Kind::Any(_) => return None,
        })
    }

    /// Whether two handles refer to the same object.
    pub fn same(&self, other: &Obj) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Module(a), Kind::Module(b)) => Rc::ptr_eq(a, b),
            (Kind::Trap(a), Kind::Trap(b)) => Rc::ptr_eq(a, b),
            _ => self.store == other.store && self.key().is_some() && self.key() == other.key(),
        }
    }

    fn host_info(&self) -> *mut c_void {
        match self.key() {
            Some(key) if !self.store.is_null() => {
                with_ctx(self.store, |ctx| ctx.data().host_info.get(&key).map_or(null_mut(), |i| i.data))
            }
            _ => self.info.borrow().as_ref().map_or(null_mut(), |i| i.data),
        }
    }

    fn set_host_info(&self, info: HostInfo) {
        let old = match self.key() {
            Some(key) if !self.store.is_null() => {
                with_ctx(self.store, |mut ctx| ctx.data_mut().host_info.insert(key, info))
            }
            _ => self.info.borrow_mut().replace(info),
        };
        // The old finalizer runs outside the borrow (it may call back into the API).
        drop(old);
    }
}

macro_rules! ref_base {
    ($delete:ident $copy:ident $same:ident $get:ident $set:ident $set_fin:ident) => {
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $delete(p: *mut Obj) {
            guard((), || drop(take(p)));
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $copy(p: *const Obj) -> *mut Obj {
            guard(null_mut(), || opt(p).map_or(null_mut(), |o| boxed(o.clone())))
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $same(a: *const Obj, b: *const Obj) -> bool {
            guard(false, || match (opt(a), opt(b)) {
                (Some(a), Some(b)) => a.same(b),
                (None, None) => true,
                _ => false,
            })
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $get(p: *const Obj) -> *mut c_void {
            guard(null_mut(), || opt(p).map_or(null_mut(), |o| o.host_info()))
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set(p: *mut Obj, info: *mut c_void) {
            guard((), || {
                if let Some(o) = opt(p) {
                    o.set_host_info(HostInfo { data: info, finalizer: None })
                }
            })
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $set_fin(
            p: *mut Obj,
            info: *mut c_void,
            finalizer: Option<unsafe extern "C" fn(*mut c_void)>,
        ) {
            guard((), || {
                if let Some(o) = opt(p) {
                    o.set_host_info(HostInfo { data: info, finalizer })
                }
            })
        }
    };
}

macro_rules! ref_kind {
    ($delete:ident $copy:ident $same:ident $get:ident $set:ident $set_fin:ident
     $as_ref:ident $as_ref_const:ident $ref_as:ident $ref_as_const:ident $is:expr) => {
        ref_base!($delete $copy $same $get $set $set_fin);
        #[unsafe(no_mangle)]
        pub extern "C" fn $as_ref(p: *mut Obj) -> *mut Obj {
            p
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn $as_ref_const(p: *const Obj) -> *const Obj {
            p
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $ref_as(p: *mut Obj) -> *mut Obj {
            let is: fn(&Kind) -> bool = $is;
            if opt(p).is_some_and(|o| is(&o.kind)) { p } else { null_mut() }
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $ref_as_const(p: *const Obj) -> *const Obj {
            let is: fn(&Kind) -> bool = $is;
            if opt(p).is_some_and(|o| is(&o.kind)) { p } else { std::ptr::null() }
        }
    };
}

ref_base!(wasm_ref_delete wasm_ref_copy wasm_ref_same wasm_ref_get_host_info wasm_ref_set_host_info
    wasm_ref_set_host_info_with_finalizer);
ref_kind!(wasm_trap_delete wasm_trap_copy wasm_trap_same wasm_trap_get_host_info wasm_trap_set_host_info
    wasm_trap_set_host_info_with_finalizer wasm_trap_as_ref wasm_trap_as_ref_const wasm_ref_as_trap
    wasm_ref_as_trap_const |k| matches!(k, Kind::Trap(_)));
ref_kind!(wasm_foreign_delete wasm_foreign_copy wasm_foreign_same wasm_foreign_get_host_info
    wasm_foreign_set_host_info wasm_foreign_set_host_info_with_finalizer wasm_foreign_as_ref
    wasm_foreign_as_ref_const wasm_ref_as_foreign wasm_ref_as_foreign_const |k| matches!(k, Kind::Foreign(_)));
ref_kind!(wasm_module_delete wasm_module_copy wasm_module_same wasm_module_get_host_info
    wasm_module_set_host_info wasm_module_set_host_info_with_finalizer wasm_module_as_ref
    wasm_module_as_ref_const wasm_ref_as_module wasm_ref_as_module_const |k| matches!(k, Kind::Module(_)));
ref_kind!(wasm_func_delete wasm_func_copy wasm_func_same wasm_func_get_host_info wasm_func_set_host_info
    wasm_func_set_host_info_with_finalizer wasm_func_as_ref wasm_func_as_ref_const wasm_ref_as_func
    wasm_ref_as_func_const |k| matches!(k, Kind::Func(_)));
ref_kind!(wasm_global_delete wasm_global_copy wasm_global_same wasm_global_get_host_info
    wasm_global_set_host_info wasm_global_set_host_info_with_finalizer wasm_global_as_ref
    wasm_global_as_ref_const wasm_ref_as_global wasm_ref_as_global_const |k| matches!(k, Kind::Global(_)));
ref_kind!(wasm_table_delete wasm_table_copy wasm_table_same wasm_table_get_host_info wasm_table_set_host_info
    wasm_table_set_host_info_with_finalizer wasm_table_as_ref wasm_table_as_ref_const wasm_ref_as_table
    wasm_ref_as_table_const |k| matches!(k, Kind::Table(_)));
ref_kind!(wasm_memory_delete wasm_memory_copy wasm_memory_same wasm_memory_get_host_info
    wasm_memory_set_host_info wasm_memory_set_host_info_with_finalizer wasm_memory_as_ref
    wasm_memory_as_ref_const wasm_ref_as_memory wasm_ref_as_memory_const |k| matches!(k, Kind::Memory(_)));
ref_kind!(wasm_extern_delete wasm_extern_copy wasm_extern_same wasm_extern_get_host_info
    wasm_extern_set_host_info wasm_extern_set_host_info_with_finalizer wasm_extern_as_ref
    wasm_extern_as_ref_const wasm_ref_as_extern wasm_ref_as_extern_const
    |k| matches!(k, Kind::Func(_) | Kind::Global(_) | Kind::Table(_) | Kind::Memory(_)));
ref_kind!(wasm_instance_delete wasm_instance_copy wasm_instance_same wasm_instance_get_host_info
    wasm_instance_set_host_info wasm_instance_set_host_info_with_finalizer wasm_instance_as_ref
    wasm_instance_as_ref_const wasm_ref_as_instance wasm_ref_as_instance_const
    |k| matches!(k, Kind::Instance(_)));

/// A new foreign object: an opaque reference the host can pass through wasm as an `externref`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_foreign_new(store: *mut wasm_store_t) -> *mut wasm_foreign_t {
    guard(null_mut(), || {
        if store.is_null() {
            return null_mut();
        }
        let id = with_ctx(store, |mut ctx| {
            let d = ctx.data_mut();
            d.next_foreign += 1;
            d.next_foreign
        });
        boxed(Obj::new(store, Kind::Foreign(id)))
    })
}

macro_rules! extern_casts {
    ($($to:ident $to_const:ident $from:ident $from_const:ident $variant:ident,)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $to(p: *mut Obj) -> *mut Obj {
            p
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn $to_const(p: *const Obj) -> *const Obj {
            p
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $from(p: *mut Obj) -> *mut Obj {
            if opt(p).is_some_and(|o| matches!(o.kind, Kind::$variant(_))) { p } else { null_mut() }
        }
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $from_const(p: *const Obj) -> *const Obj {
            if opt(p).is_some_and(|o| matches!(o.kind, Kind::$variant(_))) { p } else { std::ptr::null() }
        }
    )*};
}

extern_casts! {
    wasm_func_as_extern wasm_func_as_extern_const wasm_extern_as_func wasm_extern_as_func_const Func,
    wasm_global_as_extern wasm_global_as_extern_const wasm_extern_as_global wasm_extern_as_global_const Global,
    wasm_table_as_extern wasm_table_as_extern_const wasm_extern_as_table wasm_extern_as_table_const Table,
    wasm_memory_as_extern wasm_memory_as_extern_const wasm_extern_as_memory wasm_extern_as_memory_const Memory,
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_extern_kind(e: *const wasm_extern_t) -> u8 {
    opt(e).and_then(|e| e.extern_kind()).unwrap_or(WASM_EXTERN_FUNC)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasm_extern_type(e: *const wasm_extern_t) -> *mut CExternType {
    guard(null_mut(), || {
        let Some(e) = opt(e) else { return null_mut() };
        let Some(ext) = e.to_extern() else { return null_mut() };
        let ty = with_ctx(e.store, |ctx| ext.ty(&ctx));
        CExternType::from_extern(ty).map_or(null_mut(), boxed)
    })
}
