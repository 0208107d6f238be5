pub enum Ticket {}

pub trait HostTicketWithStore: ::kiln::component::HasData {
    fn new<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, id: u32) -> ::kiln::component::Resource<Ticket>;
    fn id<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, self_: ::kiln::component::Resource<Ticket>) -> u32;
}

pub trait HostTicket {
    fn drop(&mut self, rep: ::kiln::component::Resource<Ticket>) -> ::kiln::Result<()>;
}
impl<_T: HostTicket + ?Sized> HostTicket for &mut _T {
    fn drop(&mut self, rep: ::kiln::component::Resource<Ticket>) -> ::kiln::Result<()> {
        HostTicket::drop(*self, rep)
    }
}

pub trait ResourcesWorldImportsWithStore: ::kiln::component::HasData {
    fn clock<T: 'static>(host: ::kiln::component::Access<'_, T, Self>) -> u64;
}

pub trait ResourcesWorldImports: HostTicket {
}
impl<_T: ResourcesWorldImports + ?Sized> ResourcesWorldImports for &mut _T {
}

#[allow(clippy::all)]
const _: () = {
    impl ResourcesWorld {
        /// Adds the world's own imports (functions and resources not in an interface).
        pub fn add_to_linker_imports<T: 'static, D>(
            linker: &mut ::kiln::component::Linker<T>,
            host_getter: fn(&mut T) -> D::Data<'_>,
        ) -> ::kiln::Result<()>
        where
            D: ::kiln::component::HasData + HostTicketWithStore + ResourcesWorldImportsWithStore,
            for<'a> D::Data<'a>: ResourcesWorldImports,
        {
            let mut inst = linker.root();
            let _ = &mut inst;
            inst.resource("ticket", ::kiln::component::ResourceType::host::<Ticket>(), move |mut store, rep| -> ::kiln::Result<()> {
                HostTicket::drop(&mut host_getter(store.data_mut()), ::kiln::component::Resource::new_own(rep))
            })?;
            inst.func_wrap("[constructor]ticket", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): (u32,)| {
                let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                let r = <D as HostTicketWithStore>::new(host, arg0);
                Ok((r,))
            })?;
            inst.func_wrap("[method]ticket.id", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): (::kiln::component::Resource<Ticket>,)| {
                let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                let r = <D as HostTicketWithStore>::id(host, arg0);
                Ok((r,))
            })?;
            inst.func_wrap("clock", move |caller: ::kiln::StoreContextMut<'_, T>, (): ()| {
                let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                let r = <D as ResourcesWorldImportsWithStore>::clock(host);
                Ok((r,))
            })?;
            Ok(())
        }
    }
};

/// The bindings of an instance of a component of the world `resources-world`.
pub struct ResourcesWorld {
    interface0: self::exports::kiln::resources::cache::Guest,
    run: ::kiln::component::Func,
}

/// Where the exports of the world `resources-world` are in a component.
#[derive(Clone)]
pub struct ResourcesWorldIndices {
    interface0: self::exports::kiln::resources::cache::GuestIndices,
    run: ::kiln::component::ComponentExportIndex,
}

/// A component of the world `resources-world` with its imports resolved, ready to instantiate.
pub struct ResourcesWorldPre<T: 'static> {
    instance_pre: ::kiln::component::InstancePre<T>,
    indices: ResourcesWorldIndices,
}

impl<T: 'static> Clone for ResourcesWorldPre<T> {
    fn clone(&self) -> Self {
        Self { instance_pre: self.instance_pre.clone(), indices: self.indices.clone() }
    }
}

#[allow(clippy::all)]
const _: () = {
impl ResourcesWorldIndices {
    /// Looks up the world's exports in `component`.
    pub fn new(component: &::kiln::component::Component) -> ::kiln::Result<Self> {
        let _ = component;
        let interface0 = self::exports::kiln::resources::cache::GuestIndices::new(component)?;
        let run = component
            .export_index(None, "run")
            .ok_or_else(|| ::kiln::component::__internal::anyhow!("no exported function `run`"))?
            .1;
        Ok(ResourcesWorldIndices { interface0, run })
    }

    /// Loads the exports from `instance`, checking their types.
    pub fn load(
        &self,
        mut store: impl ::kiln::AsContextMut<Data: 'static>,
        instance: &::kiln::component::Instance,
    ) -> ::kiln::Result<ResourcesWorld> {
        let _ = (&mut store, instance);
        let interface0 = self.interface0.load(&mut store, instance)?;
        let run = *instance.get_typed_func::<(::kiln::component::Resource<Ticket>,), (u32,)>(&mut store, &self.run)?.func();
        Ok(ResourcesWorld { interface0, run })
    }
}

impl<T: 'static> ResourcesWorldPre<T> {
    /// Looks up the exports of `instance_pre`'s component.
    pub fn new(instance_pre: ::kiln::component::InstancePre<T>) -> ::kiln::Result<Self> {
        let indices = ResourcesWorldIndices::new(instance_pre.component())?;
        Ok(Self { instance_pre, indices })
    }

    /// Instantiates the component in `store`.
    pub fn instantiate(&self, mut store: impl ::kiln::AsContextMut<Data = T>) -> ::kiln::Result<ResourcesWorld> {
        let instance = self.instance_pre.instantiate(&mut store)?;
        self.indices.load(&mut store, &instance)
    }

    /// The engine.
    pub fn engine(&self) -> &::kiln::Engine {
        self.instance_pre.engine()
    }

    /// The resolved component.
    pub fn instance_pre(&self) -> &::kiln::component::InstancePre<T> {
        &self.instance_pre
    }
}

impl ResourcesWorld {
    /// Instantiates `component` with `linker`'s definitions.
    pub fn instantiate<T: 'static>(
        store: impl ::kiln::AsContextMut<Data = T>,
        component: &::kiln::component::Component,
        linker: &::kiln::component::Linker<T>,
    ) -> ::kiln::Result<ResourcesWorld> {
        ResourcesWorldPre::new(linker.instantiate_pre(component)?)?.instantiate(store)
    }

    /// The bindings of an existing instance.
    pub fn new(
        mut store: impl ::kiln::AsContextMut<Data: 'static>,
        instance: &::kiln::component::Instance,
    ) -> ::kiln::Result<ResourcesWorld> {
        let component = instance.component(&store);
        ResourcesWorldIndices::new(&component)?.load(&mut store, instance)
    }

    /// Adds every import of the world to `linker`: the host state for each is what
    /// `host_getter` returns for the store's data.
    pub fn add_to_linker<T: 'static, D>(
        linker: &mut ::kiln::component::Linker<T>,
        host_getter: fn(&mut T) -> D::Data<'_>,
    ) -> ::kiln::Result<()>
    where
        D: ::kiln::component::HasData + self::kiln::resources::files::HostFileWithStore + self::kiln::resources::files::HostWithStore + HostTicketWithStore + ResourcesWorldImportsWithStore,
        for<'a> D::Data<'a>: self::kiln::resources::files::Host + ResourcesWorldImports,
    {
        let _ = (&linker, host_getter);
        Self::add_to_linker_imports::<T, D>(linker, host_getter)?;
        self::kiln::resources::files::add_to_linker::<T, D>(linker, host_getter)?;
        Ok(())
    }

    /// The exported interface `kiln:resources/cache`.
    pub fn kiln_resources_cache(&self) -> &self::exports::kiln::resources::cache::Guest {
        &self.interface0
    }
    pub fn call_run<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: ::kiln::component::Resource<Ticket>) -> ::kiln::Result<u32>
    where
        S::Data: 'static,
    {
        // SAFETY: the type was checked when the function was loaded.
        let callee = unsafe { ::kiln::component::TypedFunc::<(::kiln::component::Resource<Ticket>,), (u32,)>::new_unchecked(self.run) };
        let (ret0,) = callee.call(store.as_context_mut(), (arg0,))?;
        Ok(ret0)
    }
}
};
#[allow(clippy::all, dead_code, unused_imports)]
pub mod exports {
    #[allow(clippy::all, dead_code, unused_imports)]
    pub mod kiln {
        #[allow(clippy::all, dead_code, unused_imports)]
        pub mod resources {
            #[allow(clippy::all, dead_code, unused_imports)]
            pub mod cache {
                pub type File = super::super::super::super::kiln::resources::files::File;

                pub type Store = ::kiln::component::ResourceAny;

                /// The functions of the exported interface `kiln:resources/cache`, type-checked at load.
                pub struct Guest {
                    constructor_store: ::kiln::component::Func,
                    method_store_put: ::kiln::component::Func,
                    method_store_get: ::kiln::component::Func,
                    method_store_snapshot: ::kiln::component::Func,
                    shared: ::kiln::component::Func,
                }

                /// Where the functions of `kiln:resources/cache` are in a component: looked up once, loaded per instance.
                #[derive(Clone)]
                pub struct GuestIndices {
                    constructor_store: ::kiln::component::ComponentExportIndex,
                    method_store_put: ::kiln::component::ComponentExportIndex,
                    method_store_get: ::kiln::component::ComponentExportIndex,
                    method_store_snapshot: ::kiln::component::ComponentExportIndex,
                    shared: ::kiln::component::ComponentExportIndex,
                }

                /// Wasmtime's name for [`GuestIndices`].
                pub type GuestPre = GuestIndices;

                impl GuestIndices {
                    /// Looks up the interface's functions in `component`.
                    pub fn new(component: &::kiln::component::Component) -> ::kiln::Result<GuestIndices> {
                        let (_, instance) = component
                            .export_index(None, "kiln:resources/cache")
                            .ok_or_else(|| ::kiln::component::__internal::anyhow!("no exported instance named `kiln:resources/cache`"))?;
                        let lookup = |name: &str| {
                            component
                                .export_index(Some(&instance), name)
                                .map(|(_, index)| index)
                                .ok_or_else(|| ::kiln::component::__internal::anyhow!("instance export `kiln:resources/cache` has no function `{name}`"))
                        };
                        let _ = &lookup;
                        let constructor_store = lookup("[constructor]store")?;
                        let method_store_put = lookup("[method]store.put")?;
                        let method_store_get = lookup("[method]store.get")?;
                        let method_store_snapshot = lookup("[method]store.snapshot")?;
                        let shared = lookup("shared")?;
                        Ok(GuestIndices { constructor_store, method_store_put, method_store_get, method_store_snapshot, shared })
                    }

                    /// Loads the functions from `instance`, checking their types.
                    pub fn load(
                        &self,
                        mut store: impl ::kiln::AsContextMut<Data: 'static>,
                        instance: &::kiln::component::Instance,
                    ) -> ::kiln::Result<Guest> {
                        let _ = (&mut store, instance);
                        let constructor_store = *instance.get_typed_func::<(), (::kiln::component::ResourceAny,)>(&mut store, &self.constructor_store)?.func();
                        let method_store_put = *instance.get_typed_func::<(::kiln::component::ResourceAny, &str, &[u8]), ()>(&mut store, &self.method_store_put)?.func();
                        let method_store_get = *instance.get_typed_func::<(::kiln::component::ResourceAny, &str), (Option<Vec<u8>>,)>(&mut store, &self.method_store_get)?.func();
                        let method_store_snapshot = *instance.get_typed_func::<(::kiln::component::ResourceAny, ::kiln::component::Resource<super::super::super::super::kiln::resources::files::File>), ()>(&mut store, &self.method_store_snapshot)?.func();
                        let shared = *instance.get_typed_func::<(), (::kiln::component::ResourceAny,)>(&mut store, &self.shared)?.func();
                        Ok(Guest { constructor_store, method_store_put, method_store_get, method_store_snapshot, shared })
                    }
                }

                impl Guest {
                    pub fn call_shared<S: ::kiln::AsContextMut>(&self, mut store: S) -> ::kiln::Result<::kiln::component::ResourceAny>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(), (::kiln::component::ResourceAny,)>::new_unchecked(self.shared) };
                        let (ret0,) = callee.call(store.as_context_mut(), ())?;
                        Ok(ret0)
                    }
                    /// The functions of resource `store`.
                    pub fn store(&self) -> GuestStore<'_> {
                        GuestStore { funcs: self }
                    }
                }

                /// The functions of an exported resource.
                pub struct GuestStore<'a> {
                    funcs: &'a Guest,
                }

                impl GuestStore<'_> {
                    pub fn call_constructor<S: ::kiln::AsContextMut>(&self, mut store: S) -> ::kiln::Result<::kiln::component::ResourceAny>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(), (::kiln::component::ResourceAny,)>::new_unchecked(self.funcs.constructor_store) };
                        let (ret0,) = callee.call(store.as_context_mut(), ())?;
                        Ok(ret0)
                    }
                    pub fn call_put<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: ::kiln::component::ResourceAny, arg1: &str, arg2: &[u8]) -> ::kiln::Result<()>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(::kiln::component::ResourceAny, &str, &[u8]), ()>::new_unchecked(self.funcs.method_store_put) };
                        let () = callee.call(store.as_context_mut(), (arg0, arg1, arg2))?;
                        Ok(())
                    }
                    pub fn call_get<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: ::kiln::component::ResourceAny, arg1: &str) -> ::kiln::Result<Option<Vec<u8>>>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(::kiln::component::ResourceAny, &str), (Option<Vec<u8>>,)>::new_unchecked(self.funcs.method_store_get) };
                        let (ret0,) = callee.call(store.as_context_mut(), (arg0, arg1))?;
                        Ok(ret0)
                    }
                    pub fn call_snapshot<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: ::kiln::component::ResourceAny, arg1: ::kiln::component::Resource<super::super::super::super::kiln::resources::files::File>) -> ::kiln::Result<()>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(::kiln::component::ResourceAny, ::kiln::component::Resource<super::super::super::super::kiln::resources::files::File>), ()>::new_unchecked(self.funcs.method_store_snapshot) };
                        let () = callee.call(store.as_context_mut(), (arg0, arg1))?;
                        Ok(())
                    }
                }

            }
        }
    }
}
#[allow(clippy::all, dead_code, unused_imports)]
pub mod kiln {
    #[allow(clippy::all, dead_code, unused_imports)]
    pub mod resources {
        #[allow(clippy::all, dead_code, unused_imports)]
        pub mod files {
            pub enum File {}

            #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
            #[component(record)]
            #[derive(Clone, Debug)]
            pub struct Entry {
                #[component(name = "name")]
                pub name: String,
                #[component(name = "handle")]
                pub handle: ::kiln::component::Resource<File>,
            }

            pub trait HostFileWithStore: ::kiln::component::HasData {
                fn new<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, path: String) -> ::kiln::component::Resource<File>;
                fn read<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, self_: ::kiln::component::Resource<File>, n: u32) -> Vec<u8>;
                fn size<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, self_: ::kiln::component::Resource<File>) -> u64;
                fn open<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, path: String) -> Result<::kiln::component::Resource<File>, String>;
            }

            pub trait HostFile {
                fn drop(&mut self, rep: ::kiln::component::Resource<File>) -> ::kiln::Result<()>;
            }
            impl<_T: HostFile + ?Sized> HostFile for &mut _T {
                fn drop(&mut self, rep: ::kiln::component::Resource<File>) -> ::kiln::Result<()> {
                    HostFile::drop(*self, rep)
                }
            }

            pub trait HostWithStore: ::kiln::component::HasData {
                fn copy<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, src: ::kiln::component::Resource<File>, dst: ::kiln::component::Resource<File>) -> u64;
                fn list_dir<T: 'static>(host: ::kiln::component::Access<'_, T, Self>) -> Vec<Entry>;
            }

            pub trait Host: HostFile {
            }
            impl<_T: Host + ?Sized> Host for &mut _T {
            }

            pub fn add_to_linker<T: 'static, D>(
                linker: &mut ::kiln::component::Linker<T>,
                host_getter: fn(&mut T) -> D::Data<'_>,
            ) -> ::kiln::Result<()>
            where
                D: ::kiln::component::HasData + HostFileWithStore + HostWithStore,
                for<'a> D::Data<'a>: Host,
            {
                let mut inst = linker.instance("kiln:resources/files")?;
                let _ = &mut inst;
                inst.resource("file", ::kiln::component::ResourceType::host::<File>(), move |mut store, rep| -> ::kiln::Result<()> {
                    HostFile::drop(&mut host_getter(store.data_mut()), ::kiln::component::Resource::new_own(rep))
                })?;
                inst.func_wrap("[constructor]file", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): (String,)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostFileWithStore>::new(host, arg0);
                    Ok((r,))
                })?;
                inst.func_wrap("[method]file.read", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0, arg1): (::kiln::component::Resource<File>, u32)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostFileWithStore>::read(host, arg0, arg1);
                    Ok((r,))
                })?;
                inst.func_wrap("[method]file.size", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): (::kiln::component::Resource<File>,)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostFileWithStore>::size(host, arg0);
                    Ok((r,))
                })?;
                inst.func_wrap("[static]file.open", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): (String,)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostFileWithStore>::open(host, arg0);
                    Ok((r,))
                })?;
                inst.func_wrap("copy", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0, arg1): (::kiln::component::Resource<File>, ::kiln::component::Resource<File>)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::copy(host, arg0, arg1);
                    Ok((r,))
                })?;
                inst.func_wrap("list-dir", move |caller: ::kiln::StoreContextMut<'_, T>, (): ()| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::list_dir(host);
                    Ok((r,))
                })?;
                Ok(())
            }
        }
    }
}
