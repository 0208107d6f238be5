//! The `wasm_*_vec_t` vectors: a size and a heap array that C owns once it receives it.

use crate::guard;
use crate::obj::Obj;
use crate::trap::wasm_frame_t;
use crate::types::{CExternType, wasm_exporttype_t, wasm_importtype_t, wasm_valtype_t};
use crate::val::wasm_val_t;

/// What a vector's elements need: a zero value (for `new_uninitialized`), a deep copy and a
/// destructor.
pub trait VecElem: Sized {
    fn zero() -> Self;
    fn copy_elem(&self) -> Self;
    fn delete_elem(self);
}

impl VecElem for u8 {
    fn zero() -> u8 {
        0
    }
    fn copy_elem(&self) -> u8 {
        *self
    }
    fn delete_elem(self) {}
}

impl VecElem for wasm_val_t {
    fn zero() -> wasm_val_t {
        wasm_val_t::i32(0)
    }
    fn copy_elem(&self) -> wasm_val_t {
        self.deep_copy()
    }
    fn delete_elem(self) {
        self.drop_ref();
    }
}

/// Elements that are owned pointers to heap objects (NULL allowed).
pub trait BoxedElem: Sized {
    fn copy_boxed(&self) -> Self;
}

impl<T: BoxedElem> VecElem for *mut T {
    fn zero() -> *mut T {
        std::ptr::null_mut()
    }
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn copy_elem(&self) -> *mut T {
        if self.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: a non-NULL element of a vector is a live object the vector owns.
        crate::boxed(unsafe { (**self).copy_boxed() })
    }
    // An element pointer is never a caller's argument: it is one the vector owns.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn delete_elem(self) {
        if !self.is_null() {
            // SAFETY: the vector owns its elements, which came from `Box::into_raw`.
            drop(unsafe { Box::from_raw(self) });
        }
    }
}

impl BoxedElem for wasm_valtype_t {
    fn copy_boxed(&self) -> Self {
        self.clone()
    }
}
impl BoxedElem for CExternType {
    fn copy_boxed(&self) -> Self {
        self.clone()
    }
}
impl BoxedElem for wasm_importtype_t {
    fn copy_boxed(&self) -> Self {
        self.clone()
    }
}
impl BoxedElem for wasm_exporttype_t {
    fn copy_boxed(&self) -> Self {
        self.clone()
    }
}
impl BoxedElem for wasm_frame_t {
    fn copy_boxed(&self) -> Self {
        self.clone()
    }
}
impl BoxedElem for Obj {
    fn copy_boxed(&self) -> Self {
        self.clone()
    }
}

/// The layout every `wasm_*_vec_t` shares.
#[repr(C)]
pub struct CVec<T: VecElem> {
    pub size: usize,
    pub data: *mut T,
}

impl<T: VecElem> CVec<T> {
    pub fn empty() -> CVec<T> {
        CVec { size: 0, data: std::ptr::null_mut() }
    }

    /// Takes ownership of `items`.
    pub fn from_vec(items: Vec<T>) -> CVec<T> {
        if items.is_empty() {
            return CVec::empty();
        }
        let boxed = items.into_boxed_slice();
        let size = boxed.len();
        CVec { size, data: Box::into_raw(boxed).cast::<T>() }
    }

    /// `size` zero elements, or an empty vector if the allocation fails.
    pub fn zeroed(size: usize) -> CVec<T> {
        let mut items = Vec::new();
        if items.try_reserve_exact(size).is_err() {
            return CVec::empty();
        }
        items.extend((0..size).map(|_| T::zero()));
        CVec::from_vec(items)
    }

    /// The elements (empty for a NULL data pointer).
    pub fn as_slice(&self) -> &[T] {
        if self.data.is_null() || self.size == 0 {
            return &[];
        }
        // SAFETY: a vector's data points at `size` initialized elements.
        unsafe { std::slice::from_raw_parts(self.data, self.size) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        if self.data.is_null() || self.size == 0 {
            return &mut [];
        }
        // SAFETY: as in `as_slice`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.size) }
    }

    /// Takes the elements out, leaving the vector empty.
    pub fn take(&mut self) -> Vec<T> {
        let (data, size) = (self.data, self.size);
        // Cleared field by field: assigning a new vector would drop (and free) this one.
        self.data = std::ptr::null_mut();
        self.size = 0;
        if data.is_null() || size == 0 {
            return Vec::new();
        }
        // SAFETY: data and size came from `from_vec` (a boxed slice of exactly `size` elements).
        let items = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, size)) };
        items.into_vec()
    }

    pub fn deep_copy(&self) -> CVec<T> {
        CVec::from_vec(self.as_slice().iter().map(T::copy_elem).collect())
    }

    /// Frees the elements and the array.
    pub fn delete(&mut self) {
        for item in self.take() {
            item.delete_elem();
        }
    }
}

impl<T: VecElem> Drop for CVec<T> {
    fn drop(&mut self) {
        self.delete();
    }
}

impl<T: VecElem + Clone> Clone for CVec<T> {
    fn clone(&self) -> Self {
        self.deep_copy()
    }
}

macro_rules! declare_vec {
    ($vec:ident, $elem:ty, $new_empty:ident, $new_uninit:ident, $new:ident, $copy:ident, $delete:ident) => {
        pub type $vec = CVec<$elem>;

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new_empty(out: *mut $vec) {
            if out.is_null() {
                return;
            }
            // SAFETY: `out` points at writable (possibly uninitialized) vector storage.
            unsafe { out.write(CVec::empty()) }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new_uninit(out: *mut $vec, size: usize) {
            if out.is_null() {
                return;
            }
            let v = guard(CVec::empty(), || CVec::zeroed(size));
            // SAFETY: as in `_new_empty`.
            unsafe { out.write(v) }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new(out: *mut $vec, size: usize, data: *const $elem) {
            if out.is_null() {
                return;
            }
            let v = guard(CVec::empty(), || {
                if data.is_null() || size == 0 {
                    return CVec::empty();
                }
                let mut items = Vec::new();
                if items.try_reserve_exact(size).is_err() {
                    return CVec::empty();
                }
                // SAFETY: C hands `size` elements at `data` and gives up ownership of them: they
                // are moved (bitwise) into the new vector.
                unsafe {
                    std::ptr::copy_nonoverlapping(data, items.as_mut_ptr(), size);
                    items.set_len(size);
                }
                CVec::from_vec(items)
            });
            // SAFETY: as in `_new_empty`.
            unsafe { out.write(v) }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $copy(out: *mut $vec, src: *const $vec) {
            if out.is_null() {
                return;
            }
            // SAFETY: `src` is NULL or a live vector.
            let src = unsafe { src.as_ref() };
            let v = guard(CVec::empty(), || src.map_or_else(CVec::empty, CVec::deep_copy));
            // SAFETY: as in `_new_empty`.
            unsafe { out.write(v) }
        }

        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $delete(v: *mut $vec) {
            // SAFETY: `v` is NULL or a live vector that C owns and gives back.
            if let Some(v) = unsafe { v.as_mut() } {
                guard((), || v.delete());
            }
        }
    };
}

declare_vec!(
    wasm_byte_vec_t,
    u8,
    wasm_byte_vec_new_empty,
    wasm_byte_vec_new_uninitialized,
    wasm_byte_vec_new,
    wasm_byte_vec_copy,
    wasm_byte_vec_delete
);
declare_vec!(
    wasm_val_vec_t,
    wasm_val_t,
    wasm_val_vec_new_empty,
    wasm_val_vec_new_uninitialized,
    wasm_val_vec_new,
    wasm_val_vec_copy,
    wasm_val_vec_delete
);
declare_vec!(
    wasm_valtype_vec_t,
    *mut wasm_valtype_t,
    wasm_valtype_vec_new_empty,
    wasm_valtype_vec_new_uninitialized,
    wasm_valtype_vec_new,
    wasm_valtype_vec_copy,
    wasm_valtype_vec_delete
);
declare_vec!(
    wasm_functype_vec_t,
    *mut CExternType,
    wasm_functype_vec_new_empty,
    wasm_functype_vec_new_uninitialized,
    wasm_functype_vec_new,
    wasm_functype_vec_copy,
    wasm_functype_vec_delete
);
declare_vec!(
    wasm_globaltype_vec_t,
    *mut CExternType,
    wasm_globaltype_vec_new_empty,
    wasm_globaltype_vec_new_uninitialized,
    wasm_globaltype_vec_new,
    wasm_globaltype_vec_copy,
    wasm_globaltype_vec_delete
);
declare_vec!(
    wasm_tabletype_vec_t,
    *mut CExternType,
    wasm_tabletype_vec_new_empty,
    wasm_tabletype_vec_new_uninitialized,
    wasm_tabletype_vec_new,
    wasm_tabletype_vec_copy,
    wasm_tabletype_vec_delete
);
declare_vec!(
    wasm_memorytype_vec_t,
    *mut CExternType,
    wasm_memorytype_vec_new_empty,
    wasm_memorytype_vec_new_uninitialized,
    wasm_memorytype_vec_new,
    wasm_memorytype_vec_copy,
    wasm_memorytype_vec_delete
);
declare_vec!(
    wasm_externtype_vec_t,
    *mut CExternType,
    wasm_externtype_vec_new_empty,
    wasm_externtype_vec_new_uninitialized,
    wasm_externtype_vec_new,
    wasm_externtype_vec_copy,
    wasm_externtype_vec_delete
);
declare_vec!(
    wasm_importtype_vec_t,
    *mut wasm_importtype_t,
    wasm_importtype_vec_new_empty,
    wasm_importtype_vec_new_uninitialized,
    wasm_importtype_vec_new,
    wasm_importtype_vec_copy,
    wasm_importtype_vec_delete
);
declare_vec!(
    wasm_exporttype_vec_t,
    *mut wasm_exporttype_t,
    wasm_exporttype_vec_new_empty,
    wasm_exporttype_vec_new_uninitialized,
    wasm_exporttype_vec_new,
    wasm_exporttype_vec_copy,
    wasm_exporttype_vec_delete
);
declare_vec!(
    wasm_frame_vec_t,
    *mut wasm_frame_t,
    wasm_frame_vec_new_empty,
    wasm_frame_vec_new_uninitialized,
    wasm_frame_vec_new,
    wasm_frame_vec_copy,
    wasm_frame_vec_delete
);
declare_vec!(
    wasm_extern_vec_t,
    *mut Obj,
    wasm_extern_vec_new_empty,
    wasm_extern_vec_new_uninitialized,
    wasm_extern_vec_new,
    wasm_extern_vec_copy,
    wasm_extern_vec_delete
);

/// A byte vector holding `s` (no terminator).
pub(crate) fn byte_vec(s: &[u8]) -> wasm_byte_vec_t {
    CVec::from_vec(s.to_vec())
}
