//! [`ResourceTable`]: where a host keeps the state behind the resources it gives to components.
//!
//! Each entry is any `Send + 'static` value; pushing one returns a [`Resource<T>`] whose rep is
//! the entry's index, ready to lower into a component as `own<T>`. Entries can be children of
//! another entry (a stream of a file, say): a parent cannot be deleted while it has children.
//! The table has a capacity limit so that a guest cannot make the host allocate without bound.

use super::resources::Resource;
use std::any::Any;
use std::fmt;

/// Why a [`ResourceTable`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceTableError {
    /// The table holds as many entries as its capacity limit allows.
    Full,
    /// No entry with this rep.
    NotPresent,
    /// The entry holds a value of another type.
    WrongType,
    /// The entry has children and cannot be deleted.
    HasChildren,
}

impl fmt::Display for ResourceTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResourceTableError::Full => "resource table has no free entries",
            ResourceTableError::NotPresent => "resource not present",
            ResourceTableError::WrongType => "resource is of another type",
            ResourceTableError::HasChildren => "resource has children",
        })
    }
}

impl std::error::Error for ResourceTableError {}

struct Entry {
    value: Box<dyn Any + Send>,
    parent: Option<u32>,
    children: Vec<u32>,
}

/// Host-side storage for resources (see the module docs).
pub struct ResourceTable {
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    len: usize,
    max_capacity: usize,
}

impl Default for ResourceTable {
    fn default() -> Self {
        ResourceTable::new()
    }
}

impl fmt::Debug for ResourceTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceTable").field("len", &self.len).field("max_capacity", &self.max_capacity).finish()
    }
}

impl ResourceTable {
    /// An empty table that holds up to `u32::MAX` entries.
    pub fn new() -> ResourceTable {
        ResourceTable { entries: Vec::new(), free: Vec::new(), len: 0, max_capacity: u32::MAX as usize }
    }

    /// An empty table that holds at most `max` entries.
    pub fn with_capacity_limit(max: usize) -> ResourceTable {
        ResourceTable { max_capacity: max.min(u32::MAX as usize), ..ResourceTable::new() }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn insert(&mut self, entry: Entry) -> Result<u32, ResourceTableError> {
        if self.len >= self.max_capacity {
            return Err(ResourceTableError::Full);
        }
        self.len += 1;
        if let Some(rep) = self.free.pop() {
            self.entries[rep as usize] = Some(entry);
            return Ok(rep);
        }
        self.entries.push(Some(entry));
        Ok(self.entries.len() as u32 - 1)
    }

    fn entry(&self, rep: u32) -> Result<&Entry, ResourceTableError> {
        self.entries.get(rep as usize).and_then(|e| e.as_ref()).ok_or(ResourceTableError::NotPresent)
    }

    fn entry_mut(&mut self, rep: u32) -> Result<&mut Entry, ResourceTableError> {
        self.entries.get_mut(rep as usize).and_then(|e| e.as_mut()).ok_or(ResourceTableError::NotPresent)
    }

    /// Stores `value` and returns an owned handle to it.
    pub fn push<T: Send + 'static>(&mut self, value: T) -> Result<Resource<T>, ResourceTableError> {
        let rep = self.insert(Entry { value: Box::new(value), parent: None, children: Vec::new() })?;
        Ok(Resource::new_own(rep))
    }

    /// Stores `value` as a child of `parent` (which then cannot be deleted before it).
    pub fn push_child<T: Send + 'static, U: 'static>(
        &mut self,
        value: T,
        parent: &Resource<U>,
    ) -> Result<Resource<T>, ResourceTableError> {
        self.entry(parent.rep())?;
        let rep = self.insert(Entry { value: Box::new(value), parent: Some(parent.rep()), children: Vec::new() })?;
        self.entry_mut(parent.rep())?.children.push(rep);
        Ok(Resource::new_own(rep))
    }

    /// The value behind `resource`.
    pub fn get<T: Any>(&self, resource: &Resource<T>) -> Result<&T, ResourceTableError> {
        self.entry(resource.rep())?.value.downcast_ref().ok_or(ResourceTableError::WrongType)
    }

    /// The value behind `resource`, mutably.
    pub fn get_mut<T: Any>(&mut self, resource: &Resource<T>) -> Result<&mut T, ResourceTableError> {
        self.entry_mut(resource.rep())?.value.downcast_mut().ok_or(ResourceTableError::WrongType)
    }

    /// Removes the entry behind `resource` and returns its value.
    pub fn delete<T: Any>(&mut self, resource: Resource<T>) -> Result<T, ResourceTableError> {
        let rep = resource.rep();
        let entry = self.entry(rep)?;
        if !entry.value.is::<T>() {
            return Err(ResourceTableError::WrongType);
        }
        if !entry.children.is_empty() {
            return Err(ResourceTableError::HasChildren);
        }
        let entry = self.entries[rep as usize].take().expect("checked present");
        self.free.push(rep);
        self.len -= 1;
        if let Some(parent) = entry.parent
            && let Ok(parent) = self.entry_mut(parent)
        {
            parent.children.retain(|c| *c != rep);
        }
        Ok(*entry.value.downcast().expect("type checked above"))
    }

    /// The reps of the children of `parent`.
    pub fn iter_children<T: 'static>(
        &self,
        parent: &Resource<T>,
    ) -> Result<impl Iterator<Item = u32> + '_, ResourceTableError> {
        Ok(self.entry(parent.rep())?.children.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_delete_and_children() {
        let mut table = ResourceTable::with_capacity_limit(3);
        let file = table.push(String::from("file")).unwrap();
        let stream = table.push_child(7u32, &file).unwrap();
        assert_eq!(table.get(&file).unwrap(), "file");
        *table.get_mut(&stream).unwrap() += 1;
        assert_eq!(*table.get(&stream).unwrap(), 8);
        assert_eq!(table.iter_children(&file).unwrap().collect::<Vec<_>>(), [stream.rep()]);
        assert_eq!(table.delete(file).unwrap_err(), ResourceTableError::HasChildren);
        let wrong: Resource<u64> = Resource::new_own(stream.rep());
        assert_eq!(table.get(&wrong).unwrap_err(), ResourceTableError::WrongType);
        assert_eq!(table.delete(stream).unwrap(), 8);
        assert_eq!(table.get(&stream).unwrap_err(), ResourceTableError::NotPresent);
        assert_eq!(table.delete(file).unwrap(), "file");
        assert!(table.is_empty());
        for _ in 0..3 {
            table.push(()).unwrap();
        }
        assert_eq!(table.push(()).unwrap_err(), ResourceTableError::Full);
    }
}
