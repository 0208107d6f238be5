//! Resource handles at run time: one handle table per runtime component instance, and the stack
//! of call scopes that borrows live in.
//!
//! Follows the Canonical ABI's `ResourceHandle` / `Table` / `Task` rules:
//! - handle index 0 is never valid; indices are allocated from 1, and freed indices are reused
//!   last-freed-first (the specification's free list, so indices are predictable);
//! - every entry counts its *lends*: a handle lent to a call as a `borrow` cannot be dropped or
//!   moved out until that call returns ("cannot remove owned resource while borrowed");
//! - a `borrow` handle received by a callee belongs to the callee's call scope, and the call
//!   traps at its end if the callee has not dropped it ("borrow handles still remain at the end
//!   of the call");
//! - a borrow lowered into the instance that implements the resource is its rep, not a handle.
//!
//! The fused adapters reach this through imported intrinsics (`kiln_fact::AdapterImport`), the
//! `canon resource.*` built-ins through host functions; both are made in `instance.rs`.

use crate::Trap;
use crate::store::{AsContextMut, StoreId};
use anyhow::{Result, bail};
use kiln_environ::component::ResourceDef;
use std::any::TypeId;
use std::marker::PhantomData;

/// The Canonical ABI's limit on a handle table's length.
const MAX_HANDLES: usize = 1 << 28;

#[derive(Debug, Clone, Copy)]
enum Slot {
    Free,
    Own {
        resource: u32,
        rep: u32,
        lends: u32,
    },
    Borrow {
        resource: u32,
        rep: u32,
        lends: u32,
        scope: usize,
    },
    /// A waitable set (`waitable-set.new`): it shares the table with the resource handles, as
    /// in the Canonical ABI, so handle indices number both.
    WaitableSet,
}

/// One runtime component instance's handles.
#[derive(Debug, Default)]
struct HandleTable {
    /// `slots[0]` is a placeholder: index 0 is never a handle.
    slots: Vec<Slot>,
    /// Freed indices, reused last first.
    free: Vec<u32>,
}

impl HandleTable {
    fn add(&mut self, slot: Slot) -> Result<u32> {
        if let Some(index) = self.free.pop() {
            self.slots[index as usize] = slot;
            return Ok(index);
        }
        if self.slots.is_empty() {
            self.slots.push(Slot::Free);
        }
        if self.slots.len() >= MAX_HANDLES {
            return Err(anyhow::Error::new(Trap::HandleTableFull));
        }
        self.slots.push(slot);
        Ok(self.slots.len() as u32 - 1)
    }

    /// The resource handle at `index` (never a free slot or a waitable set).
    fn get_mut(&mut self, index: u32) -> Result<&mut Slot> {
        match self.slots.get_mut(index as usize) {
            Some(Slot::WaitableSet) => Err(anyhow::Error::new(Trap::HandleWrongType).context(format!(
                "handle index {index} used with the wrong type, expected a resource but found a waitable set"
            ))),
            Some(slot) if index != 0 && !matches!(slot, Slot::Free) => Ok(slot),
            _ => Err(unknown_handle(index)),
        }
    }

    /// Whatever is at `index` (never a free slot).
    fn get_any(&self, index: u32) -> Result<Slot> {
        match self.slots.get(index as usize) {
            Some(slot) if index != 0 && !matches!(slot, Slot::Free) => Ok(*slot),
            _ => Err(unknown_handle(index)),
        }
    }

    fn remove(&mut self, index: u32) {
        self.slots[index as usize] = Slot::Free;
        self.free.push(index);
    }
}

fn unknown_handle(index: u32) -> anyhow::Error {
    anyhow::Error::new(Trap::UnknownHandle).context(format!("unknown handle index {index}"))
}

/// A call that received borrows (or lent them): opened by an adapter before it lowers
/// parameters holding borrows, closed after post-return.
#[derive(Debug)]
struct CallScope {
    /// Borrow handles created in the callee's table for this call and not yet dropped.
    borrows: u32,
    /// Handles lent for this call: (instance, index) whose lend count ends with the call.
    lenders: Vec<(u32, u32)>,
    /// Borrow handles this call created in the host's table (ended when the host function
    /// that received them returns).
    host_borrows: Vec<u32>,
}

/// All handle tables of one component [`super::Instance`] and its open call scopes.
#[derive(Debug, Default)]
pub(crate) struct ResourceState {
    tables: Vec<HandleTable>,
    /// `scopes[..depth]` are the open call scopes, innermost last; the rest are closed ones
    /// kept so that their vectors are reused (a call that lends allocates nothing).
    scopes: Vec<CallScope>,
    depth: usize,
    /// For each run-time resource of the plan, the first one of the same type (a host type
    /// imported under two names is one type).
    canonical: Vec<u32>,
}

impl ResourceState {
    /// Tables for `num_instances` runtime component instances, plus one for the host (the
    /// handles behind [`ResourceAny`] values), at index `num_instances`.
    pub(crate) fn new(num_instances: u32, kinds: &[ResourceKind]) -> ResourceState {
        let canonical = kinds.iter().map(|k| kinds.iter().position(|o| o == k).unwrap() as u32).collect();
        ResourceState {
            tables: (0..=num_instances).map(|_| HandleTable::default()).collect(),
            scopes: Vec::new(),
            depth: 0,
            canonical,
        }
    }

    fn canon(&self, resource: u32) -> u32 {
        self.canonical.get(resource as usize).copied().unwrap_or(resource)
    }

    /// Removes an owned handle from `from`'s table and returns its rep (a host resource handed
    /// to the host).
    pub(crate) fn take_own(&mut self, defs: &[ResourceDef], from: u32, resource: u32, index: u32) -> Result<u32> {
        let resource = self.canon(resource);
        let table = self.table(from)?;
        let rep = match *table.get_mut(index)? {
            Slot::Own { resource: found, rep, lends } => {
                check_type(defs, index, resource, found)?;
                if lends != 0 {
                    return Err(anyhow::Error::new(Trap::OwnedResourceBorrowed));
                }
                rep
            }
            Slot::Borrow { resource: found, .. } => {
                check_type(defs, index, resource, found)?;
                return Err(anyhow::Error::new(Trap::OwnFromBorrow));
            }
            Slot::Free | Slot::WaitableSet => unreachable!("get_mut returns resource handles only"),
        };
        table.remove(index);
        Ok(rep)
    }

    /// Lends a handle of `from`'s table to the innermost call and returns its rep (a host
    /// resource borrowed by the host).
    pub(crate) fn lend(&mut self, defs: &[ResourceDef], from: u32, resource: u32, index: u32) -> Result<u32> {
        let resource = self.canon(resource);
        let scope = self.depth.checked_sub(1).ok_or_else(|| anyhow::anyhow!("borrow lent outside a call"))?;
        let rep = match self.table(from)?.get_mut(index)? {
            Slot::Own { resource: found, rep, lends } | Slot::Borrow { resource: found, rep, lends, .. } => {
                check_type(defs, index, resource, *found)?;
                *lends += 1;
                *rep
            }
            Slot::Free | Slot::WaitableSet => unreachable!("get_mut returns resource handles only"),
        };
        self.scopes[scope].lenders.push((from, index));
        Ok(rep)
    }

    /// Adds a borrow of `rep` to `to`'s table for the innermost call (a host resource the host
    /// lends).
    pub(crate) fn add_borrow(&mut self, to: u32, resource: u32, rep: u32) -> Result<u32> {
        let resource = self.canon(resource);
        let scope = self.depth.checked_sub(1).ok_or_else(|| anyhow::anyhow!("borrow lent outside a call"))?;
        let handle = self.table(to)?.add(Slot::Borrow { resource, rep, lends: 0, scope })?;
        self.scopes[scope].borrows += 1;
        if to == self.host() {
            self.scopes[scope].host_borrows.push(handle);
        }
        Ok(handle)
    }

    /// The index of the host's table.
    pub(crate) fn host(&self) -> u32 {
        self.tables.len() as u32 - 1
    }

    fn table(&mut self, instance: u32) -> Result<&mut HandleTable> {
        self.tables
            .get_mut(instance as usize)
            .ok_or_else(|| anyhow::anyhow!("no component instance {instance} in this component"))
    }

    /// The number of open call scopes (the host restores it after a call that trapped).
    pub(crate) fn scope_depth(&self) -> usize {
        self.depth
    }

    /// Drops call scopes above `depth` (left open by a call that trapped).
    pub(crate) fn truncate_scopes(&mut self, depth: usize) {
        self.depth = self.depth.min(depth);
    }

    /// `waitable-set.new`: a new empty waitable set in `instance`'s table.
    pub(crate) fn new_waitable_set(&mut self, instance: u32) -> Result<u32> {
        self.table(instance)?.add(Slot::WaitableSet)
    }

    /// Checks that handle `index` of `instance`'s table is a waitable set; removes it if `remove`.
    pub(crate) fn waitable_set(&mut self, instance: u32, index: u32, remove: bool) -> Result<()> {
        let table = self.table(instance)?;
        match table.get_any(index)? {
            Slot::WaitableSet if remove => table.remove(index),
            Slot::WaitableSet => {}
            _ => {
                return Err(anyhow::Error::new(Trap::HandleWrongType)
                    .context(format!("handle index {index} used with the wrong type, expected a waitable set")));
            }
        }
        Ok(())
    }

    /// `waitable.join`: handle `index` must be a waitable (a subtask, or a stream or future
    /// end). kiln makes none of those, so any existing handle is of the wrong type.
    pub(crate) fn join_waitable(&mut self, instance: u32, index: u32) -> Result<()> {
        self.table(instance)?.get_any(index)?;
        Err(anyhow::Error::new(Trap::HandleWrongType)
            .context(format!("handle index {index} used with the wrong type, expected a waitable")))
    }

    /// `resource.new`: a new owned handle to `rep` in `instance`'s table.
    pub(crate) fn new_own(&mut self, instance: u32, resource: u32, rep: u32) -> Result<u32> {
        let resource = self.canon(resource);
        self.table(instance)?.add(Slot::Own { resource, rep, lends: 0 })
    }

    /// `resource.rep`: the rep behind a handle (own or borrow) of `resource`.
    pub(crate) fn rep(&mut self, defs: &[ResourceDef], instance: u32, resource: u32, index: u32) -> Result<u32> {
        let resource = self.canon(resource);
        let slot = *self.table(instance)?.get_mut(index)?;
        let (found, rep) = match slot {
            Slot::Own { resource, rep, .. } | Slot::Borrow { resource, rep, .. } => (resource, rep),
            Slot::Free | Slot::WaitableSet => unreachable!("get_mut returns resource handles only"),
        };
        check_type(defs, index, resource, found)?;
        Ok(rep)
    }

    /// `resource.drop`: removes a handle of `resource`. Returns the rep when an owned handle was
    /// dropped (its destructor must run), `None` for a borrow.
    pub(crate) fn drop_handle(
        &mut self,
        defs: &[ResourceDef],
        instance: u32,
        resource: u32,
        index: u32,
    ) -> Result<Option<u32>> {
        let resource = self.canon(resource);
        let table = self.table(instance)?;
        let slot = *table.get_mut(index)?;
        match slot {
            Slot::Own { resource: found, rep, lends } => {
                check_type(defs, index, resource, found)?;
                if lends != 0 {
                    return Err(anyhow::Error::new(Trap::OwnedResourceBorrowed));
                }
                table.remove(index);
                Ok(Some(rep))
            }
            Slot::Borrow { resource: found, lends, scope, .. } => {
                check_type(defs, index, resource, found)?;
                if lends != 0 {
                    return Err(anyhow::Error::new(Trap::OwnedResourceBorrowed));
                }
                table.remove(index);
                if scope < self.depth {
                    self.scopes[scope].borrows -= 1;
                }
                Ok(None)
            }
            Slot::Free | Slot::WaitableSet => unreachable!("get_mut returns resource handles only"),
        }
    }

    /// Moves an owned handle of `resource` from `from`'s table into `to`'s.
    pub(crate) fn transfer_own(
        &mut self,
        defs: &[ResourceDef],
        from: u32,
        to: u32,
        resource: u32,
        index: u32,
    ) -> Result<u32> {
        let rep = self.take_own(defs, from, resource, index)?;
        self.new_own(to, resource, rep)
    }

    /// Lends a handle of `resource` in `from`'s table to the innermost call: the callee `to`
    /// gets the rep if it implements the resource, else a borrow handle in that call's scope.
    pub(crate) fn transfer_borrow(
        &mut self,
        defs: &[ResourceDef],
        from: u32,
        to: u32,
        resource: u32,
        index: u32,
    ) -> Result<u32> {
        let rep = self.lend(defs, from, resource, index)?;
        if matches!(defs.get(self.canon(resource) as usize), Some(ResourceDef::Defined { instance, .. }) if *instance == to)
        {
            return Ok(rep);
        }
        self.add_borrow(to, resource, rep)
    }

    /// Drops the borrow handles that the innermost call scope created in the host's table (the
    /// host's borrows end when the host function that received them returns).
    pub(crate) fn end_borrows_of_innermost_call(&mut self) {
        let host = self.host();
        let Some(innermost) = self.depth.checked_sub(1) else { return };
        let scope = &mut self.scopes[innermost];
        scope.borrows -= scope.host_borrows.len() as u32;
        let table = &mut self.tables[host as usize];
        for index in scope.host_borrows.drain(..) {
            if matches!(table.slots.get(index as usize), Some(Slot::Borrow { .. })) {
                table.remove(index);
            }
        }
    }

    /// The owned handles of guest resources the host still holds (in its table): resources
    /// whose destructors will not run unless the host gives them back or drops them.
    pub(crate) fn host_owned_handles(&self) -> usize {
        let Some(table) = self.tables.last() else { return 0 };
        table.slots.iter().filter(|s| matches!(s, Slot::Own { .. })).count()
    }

    /// Opens a call scope.
    pub(crate) fn enter_call(&mut self) {
        match self.scopes.get_mut(self.depth) {
            Some(scope) => {
                scope.borrows = 0;
                scope.lenders.clear();
                scope.host_borrows.clear();
            }
            None => self.scopes.push(CallScope { borrows: 0, lenders: Vec::new(), host_borrows: Vec::new() }),
        }
        self.depth += 1;
    }

    /// Closes the innermost call scope: the callee must have dropped every borrow it received;
    /// the lends it was given end.
    pub(crate) fn exit_call(&mut self) -> Result<()> {
        let innermost = self.depth.checked_sub(1).ok_or_else(|| anyhow::anyhow!("call scope closed twice"))?;
        self.depth = innermost;
        let scope = &mut self.scopes[innermost];
        if scope.borrows != 0 {
            return Err(anyhow::Error::new(Trap::BorrowsRemain));
        }
        for (instance, index) in scope.lenders.drain(..) {
            if let Some(Slot::Own { lends, .. } | Slot::Borrow { lends, .. }) =
                self.tables.get_mut(instance as usize).and_then(|t| t.slots.get_mut(index as usize))
            {
                *lends -= 1;
            }
        }
        Ok(())
    }
}

/// The identity of a resource type: a host type (`ResourceType::host::<T>()`) or a resource
/// type that one component instance defined (each instantiation defines new ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceType(pub(crate) ResourceKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ResourceKind {
    /// Defined by the host with a Rust type.
    Host(TypeId),
    /// Defined by the host with a number (embedders without Rust types, such as the C API).
    HostId(u64),
    /// Defined by a component instance (`index` in its plan's resources).
    Guest { store: StoreId, instance: usize, index: u32 },
}

impl ResourceType {
    /// The resource type the host defines with the Rust type `T` (`T` only names it; values
    /// are reps, see [`Resource`]).
    pub fn host<T: 'static>() -> ResourceType {
        ResourceType(ResourceKind::Host(TypeId::of::<T>()))
    }

    /// Whether this is the host's type `T`.
    pub fn is_host<T: 'static>(&self) -> bool {
        self.0 == ResourceKind::Host(TypeId::of::<T>())
    }

    /// A resource type the host defines by number, for embedders that have no Rust type to name
    /// it with: `host_id(n) == host_id(m)` exactly when `n == m`, and it differs from every
    /// `host::<T>()`.
    pub fn host_id(id: u64) -> ResourceType {
        ResourceType(ResourceKind::HostId(id))
    }

    /// The number of a [`ResourceType::host_id`] type.
    pub fn host_id_of(&self) -> Option<u64> {
        match self.0 {
            ResourceKind::HostId(id) => Some(id),
            _ => None,
        }
    }

    /// Whether the host defines this type (by a Rust type or a number).
    pub fn is_host_defined(&self) -> bool {
        matches!(self.0, ResourceKind::Host(_) | ResourceKind::HostId(_))
    }
}

/// A typed handle to a resource the host defines with type `T`: its rep (the host chooses it,
/// e.g. an index into a [`super::ResourceTable`]) and whether it is owned or borrowed. Lowered
/// into a component it becomes a handle in the component's table; a component giving it back
/// (an `own<T>` parameter of a host function) gives the host the rep again.
pub struct Resource<T: 'static> {
    rep: u32,
    owned: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T: 'static> Resource<T> {
    /// An owned handle to `rep`.
    pub fn new_own(rep: u32) -> Resource<T> {
        Resource { rep, owned: true, _type: PhantomData }
    }

    /// A borrowed handle to `rep`.
    pub fn new_borrow(rep: u32) -> Resource<T> {
        Resource { rep, owned: false, _type: PhantomData }
    }

    /// The rep.
    pub fn rep(&self) -> u32 {
        self.rep
    }

    /// Whether this handle is owned.
    pub fn owned(&self) -> bool {
        self.owned
    }

    /// As an untyped handle.
    pub fn into_resource_any(self) -> ResourceAny {
        ResourceAny { ty: ResourceType::host::<T>(), repr: Repr::Host { rep: self.rep }, owned: self.owned }
    }
}

impl<T: 'static> Clone for Resource<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: 'static> Copy for Resource<T> {}
impl<T: 'static> PartialEq for Resource<T> {
    fn eq(&self, other: &Self) -> bool {
        self.rep == other.rep && self.owned == other.owned
    }
}
impl<T: 'static> Eq for Resource<T> {}
impl<T: 'static> std::fmt::Debug for Resource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("type", &std::any::type_name::<T>())
            .field("rep", &self.rep)
            .field("owned", &self.owned)
            .finish()
    }
}

/// A handle to a resource of any type held by the host: a host resource (its rep), or a handle
/// that a component instance gave out (as a result of an exported function, or a parameter of a
/// host import), kept in the instance's host table. Pass it back as a [`super::Val::Resource`];
/// an owned guest handle the host keeps must be given back or dropped with
/// [`ResourceAny::resource_drop`] (which runs the resource's destructor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceAny {
    pub(crate) ty: ResourceType,
    pub(crate) repr: Repr,
    pub(crate) owned: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Repr {
    /// A host resource: the rep itself.
    Host { rep: u32 },
    /// A guest resource: a handle in the host table of the component instance `instance`.
    Guest { store: StoreId, instance: usize, handle: u32 },
}

impl ResourceAny {
    /// A handle to `rep` of the host-defined type `ty` (see [`ResourceType::host_id`]), to pass
    /// to a component as an `own` (when `owned`) or a `borrow`.
    pub fn host(ty: ResourceType, rep: u32, owned: bool) -> Result<ResourceAny> {
        if !ty.is_host_defined() {
            bail!("`ResourceAny::host` needs a host-defined resource type");
        }
        Ok(ResourceAny { ty, repr: Repr::Host { rep }, owned })
    }

    /// The rep, for a handle to a host-defined resource (guest handles have none the host sees).
    pub fn host_rep(&self) -> Option<u32> {
        match self.repr {
            Repr::Host { rep } => Some(rep),
            Repr::Guest { .. } => None,
        }
    }

    /// Whether this is an owned handle (else a borrow, valid during the host call that got it).
    pub fn owned(&self) -> bool {
        self.owned
    }

    /// The resource's type.
    pub fn ty(&self) -> ResourceType {
        self.ty
    }

    /// The typed handle, if this is a host resource of type `T` (an error otherwise, never a
    /// panic, for borrows too).
    pub fn try_into_resource<T: 'static>(self) -> Result<Resource<T>> {
        match self.repr {
            Repr::Host { rep } if self.ty.is_host::<T>() => Ok(Resource { rep, owned: self.owned, _type: PhantomData }),
            _ => bail!("resource is not a host resource of type `{}`", std::any::type_name::<T>()),
        }
    }

    /// Drops the handle. An owned guest handle runs the resource's destructor in its component;
    /// a host resource's rep is the host's to clean up (nothing to do here).
    pub fn resource_drop<T: 'static>(self, mut store: impl AsContextMut<Data = T>) -> Result<()> {
        let Repr::Guest { store: id, instance, handle } = self.repr else { return Ok(()) };
        let store = store.as_context_mut().0;
        if store.opaque.id != id {
            bail!("resource used with the wrong store");
        }
        let ResourceKind::Guest { index: resource, .. } = self.ty.0 else { unreachable!("guest repr of a host type") };
        let state = &mut store.opaque.component_instances[instance];
        let component = state.component.clone();
        let defs = &component.inner.plan.resources;
        let resources = state.resources.get_mut();
        let host = resources.host();
        if let Some(rep) = resources.drop_handle(defs, host, resource, handle)? {
            super::instance::run_destructor(store, instance, resource, host, rep)?;
        }
        Ok(())
    }
}

fn describe(defs: &[ResourceDef], resource: u32) -> &'static str {
    match defs.get(resource as usize) {
        Some(ResourceDef::Imported(_)) => "host-defined resource",
        _ => "guest-defined resource",
    }
}

fn check_type(defs: &[ResourceDef], index: u32, expected: u32, found: u32) -> Result<()> {
    if expected == found {
        return Ok(());
    }
    let (e, f) = (describe(defs, expected), describe(defs, found));
    let different = if e == f { "a different " } else { "" };
    Err(anyhow::Error::new(Trap::HandleWrongType)
        .context(format!("handle index {index} used with the wrong type, expected {e} but found {different}{f}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Vec<ResourceDef> {
        vec![ResourceDef::Defined { instance: 0, dtor: None }, ResourceDef::Defined { instance: 0, dtor: None }]
    }

    #[test]
    fn indices_start_at_one_and_are_reused_last_freed_first() {
        let d = defs();
        let mut s = ResourceState::new(1, &[]);
        assert_eq!(s.new_own(0, 0, 100).unwrap(), 1);
        assert_eq!(s.new_own(0, 0, 200).unwrap(), 2);
        assert_eq!(s.new_own(0, 0, 300).unwrap(), 3);
        for i in 1..=3 {
            assert!(s.drop_handle(&d, 0, 0, i).unwrap().is_some());
        }
        assert_eq!(s.new_own(0, 0, 1).unwrap(), 3);
        assert_eq!(s.new_own(0, 0, 2).unwrap(), 2);
        assert_eq!(s.rep(&d, 0, 0, 2).unwrap(), 2);
        let err = s.rep(&d, 0, 0, 0).unwrap_err();
        assert_eq!(err.to_string(), "unknown handle index 0");
        let err = s.rep(&d, 0, 1, 2).unwrap_err();
        assert!(format!("{err}").contains("expected guest-defined resource but found a different guest-defined"));
    }

    #[test]
    fn lent_handles_cannot_move_and_borrows_must_be_dropped() {
        let d = vec![ResourceDef::Defined { instance: 0, dtor: None }];
        let mut s = ResourceState::new(2, &[]);
        let h = s.new_own(1, 0, 7).unwrap();
        s.enter_call();
        // Instance 0 implements the resource: it gets the rep.
        assert_eq!(s.transfer_borrow(&d, 1, 0, 0, h).unwrap(), 7);
        let err = s.transfer_own(&d, 1, 0, 0, h).unwrap_err();
        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::OwnedResourceBorrowed));
        s.exit_call().unwrap();
        // Lent to another instance: a borrow handle that must be dropped before the call ends.
        let d2 = vec![ResourceDef::Imported(kiln_environ::component::ImportPath { import: 0, names: vec![] })];
        let mut s = ResourceState::new(2, &[]);
        let h = s.new_own(1, 0, 7).unwrap();
        s.enter_call();
        let b = s.transfer_borrow(&d2, 1, 0, 0, h).unwrap();
        assert_eq!(s.rep(&d2, 0, 0, b).unwrap(), 7);
        assert_eq!(s.exit_call().unwrap_err().downcast_ref::<Trap>(), Some(&Trap::BorrowsRemain));
        let mut s = ResourceState::new(2, &[]);
        let h = s.new_own(1, 0, 7).unwrap();
        s.enter_call();
        let b = s.transfer_borrow(&d2, 1, 0, 0, h).unwrap();
        assert_eq!(s.drop_handle(&d2, 0, 0, b).unwrap(), None);
        s.exit_call().unwrap();
        assert_eq!(s.transfer_own(&d2, 1, 0, 0, h).unwrap(), 1);
        let err = s.transfer_own(&d2, 1, 0, 0, h).unwrap_err();
        assert_eq!(err.to_string(), format!("unknown handle index {h}"));
    }
}
