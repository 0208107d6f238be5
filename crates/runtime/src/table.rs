//! Tables of references. Elements are pointer-sized raw values: `*const VMFuncRef` for funcref
//! tables, a store externref handle for externref tables; 0 is null.
//!
//! A funcref table whose active element segments are all known when the module is loaded
//! (constant offsets, function items) is initialised lazily: its elements start as 0 and the
//! module's precomputed image ([`LazyInit`]) says which function each one holds. Reading an
//! element that is 0 (compiled code's slow path, the `TableGetLazy` builtin, or [`Table::get`])
//! looks it up in the image and stores the funcref. So instantiating CPython (a 47,157-element
//! table of its 89,000 functions) writes no table element and no funcref until they are used.
//! Writing 0 (null) over an element the image still covers, and every bulk operation, first
//! initialises the whole table ([`Table::materialize`]), so the image never brings back a value
//! the program replaced.

use crate::instance::FuncRefs;
use crate::vmcontext::VMTableDefinition;
use anyhow::{Result, bail};
use kiln_environ::TableType;
use std::sync::Arc;

/// A lazily initialised table's initial contents: for each element, the index of the function it
/// holds plus one, or 0 for null; and the instance's funcrefs to make them from.
#[derive(Debug)]
pub struct LazyInit {
    /// Shared by every instance of the module.
    pub image: Arc<[u32]>,
    /// The funcrefs of the instance that owns the table.
    pub funcrefs: FuncRefs,
}

/// Largest number of elements any table may have (a resource limit, like other runtimes').
pub const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// A table. `#[repr(C)]` with the definition first, so a `*mut Table` is also the
/// `*mut VMTableDefinition` that compiled code reads.
#[repr(C)]
#[derive(Debug)]
pub struct Table {
    definition: VMTableDefinition,
    elements: Vec<usize>,
    ty: TableType,
    lazy: Option<LazyInit>,
}

impl Table {
    /// Creates a table with every element set to `init`.
    pub fn new(ty: &TableType, init: usize) -> Result<Box<Table>> {
        let maximum = ty.maximum.unwrap_or(MAX_TABLE_ELEMENTS).min(MAX_TABLE_ELEMENTS);
        if ty.minimum > maximum {
            bail!("table minimum size of {} elements exceeds the table limit of {maximum}", ty.minimum);
        }
        let mut elements = vec![init; ty.minimum as usize];
        let definition = VMTableDefinition { base: elements.as_mut_ptr(), current_elements: elements.len() };
        Ok(Box::new(Table { definition, elements, ty: *ty, lazy: None }))
    }

    /// Makes the table lazily initialised from `init` (see the module documentation). Elements
    /// must all still be 0, and the image no longer than the table.
    pub fn set_lazy(&mut self, init: LazyInit) {
        debug_assert!(init.image.len() <= self.elements.len() && self.elements.iter().all(|e| *e == 0));
        self.lazy = Some(init);
    }

    /// The value of element `index` (in bounds), initialising it from the image if it is due.
    pub fn resolve(&mut self, index: usize) -> usize {
        let value = self.elements[index];
        if value != 0 {
            return value;
        }
        let Some(lazy) = &self.lazy else { return 0 };
        match lazy.image.get(index) {
            Some(&f) if f != 0 => {
                let funcref = lazy.funcrefs.get(f - 1) as usize;
                self.elements[index] = funcref;
                funcref
            }
            _ => 0,
        }
    }

    /// Initialises every element still due from the image, and ends the laziness: the elements
    /// then hold exactly the table's contents.
    pub fn materialize(&mut self) {
        if let Some(lazy) = self.lazy.take() {
            for (element, &f) in self.elements.iter_mut().zip(lazy.image.iter()) {
                if *element == 0 && f != 0 {
                    *element = lazy.funcrefs.get(f - 1) as usize;
                }
            }
        }
    }

    /// The definition compiled code reads.
    pub fn definition(&mut self) -> *mut VMTableDefinition {
        &mut self.definition
    }

    /// The table's type (with its current minimum).
    pub fn ty(&self) -> TableType {
        TableType { minimum: self.elements.len() as u64, ..self.ty }
    }

    /// Number of elements.
    pub fn size(&self) -> u64 {
        self.elements.len() as u64
    }

    /// Reports the elements of a table of GC references to a collector (funcref tables, the
    /// only lazily initialised ones, hold none).
    pub fn trace(&self, roots: &mut dyn crate::gc::RootSink) {
        if self.ty.element.heap.is_gc_managed() {
            for e in &self.elements {
                roots.typed(*e);
            }
        }
    }

    /// All elements (initialised first).
    pub fn elements(&mut self) -> &[usize] {
        self.materialize();
        &self.elements
    }

    /// All elements, mutably (initialised first; the length cannot change through this).
    pub fn elements_mut(&mut self) -> &mut [usize] {
        self.materialize();
        &mut self.elements
    }

    /// Element `index`.
    pub fn get(&mut self, index: u64) -> Option<usize> {
        let index = usize::try_from(index).ok().filter(|i| *i < self.elements.len())?;
        Some(self.resolve(index))
    }

    /// Sets element `index`; false when out of bounds.
    pub fn set(&mut self, index: u64, value: usize) -> bool {
        let Some(index) = usize::try_from(index).ok().filter(|i| *i < self.elements.len()) else {
            return false;
        };
        // A null written where the image has a function must not read as that function later.
        if value == 0 && self.lazy.as_ref().is_some_and(|l| l.image.get(index).is_some_and(|f| *f != 0)) {
            self.materialize();
        }
        self.elements[index] = value;
        true
    }

    /// Grows by `delta` elements set to `init`; returns the old size, or `None` if it cannot grow.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        let maximum = self.ty.maximum.unwrap_or(MAX_TABLE_ELEMENTS).min(MAX_TABLE_ELEMENTS);
        if new > maximum {
            return None;
        }
        self.materialize();
        self.elements.resize(new as usize, init);
        self.definition.base = self.elements.as_mut_ptr();
        self.definition.current_elements = self.elements.len();
        Some(old)
    }
}
