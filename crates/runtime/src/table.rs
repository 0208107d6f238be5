//! Tables of references. Elements are pointer-sized raw values: `*const VMFuncRef` for funcref
//! tables, a store externref handle for externref tables; 0 is null.

use crate::vmcontext::VMTableDefinition;
use anyhow::{Result, bail};
use kiln_environ::TableType;

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
        Ok(Box::new(Table { definition, elements, ty: *ty }))
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

    /// All elements.
    pub fn elements(&self) -> &[usize] {
        &self.elements
    }

    /// All elements, mutably (the length cannot change through this).
    pub fn elements_mut(&mut self) -> &mut [usize] {
        &mut self.elements
    }

    /// Element `index`.
    pub fn get(&self, index: u64) -> Option<usize> {
        self.elements.get(usize::try_from(index).ok()?).copied()
    }

    /// Sets element `index`; false when out of bounds.
    pub fn set(&mut self, index: u64, value: usize) -> bool {
        match usize::try_from(index).ok().and_then(|i| self.elements.get_mut(i)) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// Grows by `delta` elements set to `init`; returns the old size, or `None` if it cannot grow.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        let maximum = self.ty.maximum.unwrap_or(MAX_TABLE_ELEMENTS).min(MAX_TABLE_ELEMENTS);
        if new > maximum {
            return None;
        }
        self.elements.resize(new as usize, init);
        self.definition.base = self.elements.as_mut_ptr();
        self.definition.current_elements = self.elements.len();
        Some(old)
    }
}
