//! Unit tests of the pieces that are easy to get wrong: vector ownership, values through
//! wasm, trap messages and frames, host info identity, calls from inside a callback.

use crate::*;
use std::ptr::null_mut;

fn compile(store: *mut wasm_store_t, wat: &str) -> *mut Obj {
    let bytes = wat::parse_str(wat).unwrap();
    let binary = CVec::from_vec(bytes);
    // SAFETY: a live store and vector.
    let module = unsafe { wasm_module_new(store, &binary) };
    assert!(!module.is_null());
    module
}

fn instance_exports(store: *mut wasm_store_t, module: *mut Obj) -> (*mut Obj, wasm_extern_vec_t) {
    let imports: wasm_extern_vec_t = CVec::empty();
    let mut trap = null_mut();
    // SAFETY: live objects.
    let instance = unsafe { wasm_instance_new(store, module, &imports, &mut trap) };
    assert!(!instance.is_null() && trap.is_null());
    let mut exports = std::mem::MaybeUninit::uninit();
    // SAFETY: as above; `exports` is written by the call.
    unsafe { wasm_instance_exports(instance, exports.as_mut_ptr()) };
    // SAFETY: initialized by the call.
    (instance, unsafe { exports.assume_init() })
}

#[test]
fn vectors_take_and_copy_without_double_free() {
    let mut v: wasm_byte_vec_t = CVec::from_vec(b"abc".to_vec());
    let copy = v.deep_copy();
    assert_eq!(copy.as_slice(), b"abc");
    assert_eq!(v.take(), b"abc");
    assert_eq!(v.size, 0);
    assert!(v.data.is_null());
    drop(v);
    drop(copy);
    let zeroed: wasm_valtype_vec_t = CVec::zeroed(3);
    assert!(zeroed.as_slice().iter().all(|p| p.is_null()));
}

#[test]
fn traps_carry_message_code_and_frames() {
    let engine = wasm_engine_new();
    // SAFETY: every pointer below is live until deleted at the end.
    unsafe {
        let store = wasm_store_new(engine);
        let module = compile(store, r#"(module (func $f unreachable) (func (export "run") call $f))"#);
        let (instance, exports) = instance_exports(store, module);
        let args: wasm_val_vec_t = CVec::empty();
        let mut results: wasm_val_vec_t = CVec::empty();
        let trap = wasm_func_call(exports.as_slice()[0], &args, &mut results);
        let data = trap::trap_data(trap).unwrap();
        assert_eq!(data.message, "wasm trap: wasm `unreachable` instruction executed");
        assert_eq!(data.code, Some(::kiln_rs::Trap::UnreachableCodeReached));
        let indices: Vec<u32> = data.frames.iter().map(|f| f.func_index).collect();
        assert_eq!(indices, [0, 1]);
        assert!(data.frames[0].instance.as_ref().is_some_and(|i| i.same(&*instance)));
        wasm_trap_delete(trap);
        drop(exports);
        wasm_instance_delete(instance);
        wasm_module_delete(module);
        wasm_store_delete(store);
        wasm_engine_delete(engine);
    }
}

#[test]
fn host_info_belongs_to_the_object_not_the_handle() {
    let engine = wasm_engine_new();
    // SAFETY: every pointer below is live until deleted at the end.
    unsafe {
        let store = wasm_store_new(engine);
        let module = compile(store, r#"(module (memory (export "m") 1))"#);
        let (instance, exports) = instance_exports(store, module);
        let (_, again) = {
            let mut v = std::mem::MaybeUninit::uninit();
            wasm_instance_exports(instance, v.as_mut_ptr());
            ((), v.assume_init())
        };
        let a = exports.as_slice()[0];
        let b = again.as_slice()[0];
        assert_ne!(a, b);
        assert!(wasm_extern_same(a, b));
        let mut marker = 7u8;
        wasm_extern_set_host_info(a, (&raw mut marker).cast());
        assert_eq!(wasm_memory_get_host_info(b), (&raw mut marker).cast());
        drop(exports);
        drop(again);
        wasm_instance_delete(instance);
        wasm_module_delete(module);
        wasm_store_delete(store);
        wasm_engine_delete(engine);
    }
}

unsafe extern "C" fn reenter(
    env: *mut std::ffi::c_void,
    _args: *const wasm_val_vec_t,
    results: *mut wasm_val_vec_t,
) -> *mut Obj {
    // Calls back into wasm from inside a host function of the same store.
    let inner = env.cast::<Obj>();
    let args: wasm_val_vec_t = CVec::empty();
    let mut out: wasm_val_vec_t = CVec::from_vec(vec![wasm_val_t::i32(0)]);
    // SAFETY: `inner` is a live function; the vectors live across the call.
    let trap = unsafe { wasm_func_call(inner, &args, &mut out) };
    assert!(trap.is_null());
    // SAFETY: the results vector has one slot.
    unsafe { (*results).as_mut_slice()[0] = wasm_val_t::i32(out.as_slice()[0].of.i32 + 1) };
    null_mut()
}

#[test]
fn callbacks_can_call_back_into_the_store() {
    let engine = wasm_engine_new();
    // SAFETY: every pointer below is live until deleted at the end.
    unsafe {
        let store = wasm_store_new(engine);
        let module = compile(
            store,
            r#"(module (import "" "h" (func $h (result i32)))
                 (func (export "inner") (result i32) i32.const 41)
                 (func (export "outer") (result i32) call $h))"#,
        );
        let ty = CExternType::func(::kiln_rs::FuncType::new([], [::kiln_rs::ValType::I32]));
        // The host function gets `inner` once the instance exists: start with a placeholder.
        let slot = Box::into_raw(Box::new(Obj::new(store, obj::Kind::Foreign(0))));
        let h = wasm_func_new_with_env(store, &ty, Some(reenter), slot.cast(), None);
        let imports: wasm_extern_vec_t = CVec::from_vec(vec![wasm_extern_copy(h)]);
        let mut trap = null_mut();
        let instance = wasm_instance_new(store, module, &imports, &mut trap);
        let mut exports = std::mem::MaybeUninit::uninit();
        wasm_instance_exports(instance, exports.as_mut_ptr());
        let exports: wasm_extern_vec_t = exports.assume_init();
        *slot = (*exports.as_slice()[0]).clone();
        let args: wasm_val_vec_t = CVec::empty();
        let mut out: wasm_val_vec_t = CVec::from_vec(vec![wasm_val_t::i32(0)]);
        let trap = wasm_func_call(exports.as_slice()[1], &args, &mut out);
        assert!(trap.is_null());
        assert_eq!(out.as_slice()[0].of.i32, 42);
        drop(exports);
        drop(imports);
        drop(Box::from_raw(slot));
        wasm_func_delete(h);
        wasm_instance_delete(instance);
        wasm_module_delete(module);
        wasm_store_delete(store);
        wasm_engine_delete(engine);
    }
}
