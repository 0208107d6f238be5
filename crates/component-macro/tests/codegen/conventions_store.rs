/// The bindings of an instance of a component of the world `conventions-world`.
pub struct ConventionsWorld {
    interface0: self::exports::kiln::conventions::conventions::Guest,
}

/// Where the exports of the world `conventions-world` are in a component.
#[derive(Clone)]
pub struct ConventionsWorldIndices {
    interface0: self::exports::kiln::conventions::conventions::GuestIndices,
}

/// A component of the world `conventions-world` with its imports resolved, ready to instantiate.
pub struct ConventionsWorldPre<T: 'static> {
    instance_pre: ::kiln::component::InstancePre<T>,
    indices: ConventionsWorldIndices,
}

impl<T: 'static> Clone for ConventionsWorldPre<T> {
    fn clone(&self) -> Self {
        Self { instance_pre: self.instance_pre.clone(), indices: self.indices.clone() }
    }
}

#[allow(clippy::all)]
const _: () = {
impl ConventionsWorldIndices {
    /// Looks up the world's exports in `component`.
    pub fn new(component: &::kiln::component::Component) -> ::kiln::Result<Self> {
        let _ = component;
        let interface0 = self::exports::kiln::conventions::conventions::GuestIndices::new(component)?;
        Ok(ConventionsWorldIndices { interface0 })
    }

    /// Loads the exports from `instance`, checking their types.
    pub fn load(
        &self,
        mut store: impl ::kiln::AsContextMut<Data: 'static>,
        instance: &::kiln::component::Instance,
    ) -> ::kiln::Result<ConventionsWorld> {
        let _ = (&mut store, instance);
        let interface0 = self.interface0.load(&mut store, instance)?;
        Ok(ConventionsWorld { interface0 })
    }
}

impl<T: 'static> ConventionsWorldPre<T> {
    /// Looks up the exports of `instance_pre`'s component.
    pub fn new(instance_pre: ::kiln::component::InstancePre<T>) -> ::kiln::Result<Self> {
        let indices = ConventionsWorldIndices::new(instance_pre.component())?;
        Ok(Self { instance_pre, indices })
    }

    /// Instantiates the component in `store`.
    pub fn instantiate(&self, mut store: impl ::kiln::AsContextMut<Data = T>) -> ::kiln::Result<ConventionsWorld> {
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

impl ConventionsWorld {
    /// Instantiates `component` with `linker`'s definitions.
    pub fn instantiate<T: 'static>(
        store: impl ::kiln::AsContextMut<Data = T>,
        component: &::kiln::component::Component,
        linker: &::kiln::component::Linker<T>,
    ) -> ::kiln::Result<ConventionsWorld> {
        ConventionsWorldPre::new(linker.instantiate_pre(component)?)?.instantiate(store)
    }

    /// The bindings of an existing instance.
    pub fn new(
        mut store: impl ::kiln::AsContextMut<Data: 'static>,
        instance: &::kiln::component::Instance,
    ) -> ::kiln::Result<ConventionsWorld> {
        let component = instance.component(&store);
        ConventionsWorldIndices::new(&component)?.load(&mut store, instance)
    }

    /// Adds every import of the world to `linker`: the host state for each is what
    /// `host_getter` returns for the store's data.
    pub fn add_to_linker<T: 'static, D>(
        linker: &mut ::kiln::component::Linker<T>,
        host_getter: fn(&mut T) -> D::Data<'_>,
    ) -> ::kiln::Result<()>
    where
        D: ::kiln::component::HasData + self::kiln::conventions::conventions::HostWithStore + self::plain::HostWithStore,
        for<'a> D::Data<'a>: self::kiln::conventions::conventions::Host + self::plain::Host,
    {
        let _ = (&linker, host_getter);
        self::kiln::conventions::conventions::add_to_linker::<T, D>(linker, host_getter)?;
        self::plain::add_to_linker::<T, D>(linker, host_getter)?;
        Ok(())
    }

    /// The exported interface `kiln:conventions/conventions`.
    pub fn kiln_conventions_conventions(&self) -> &self::exports::kiln::conventions::conventions::Guest {
        &self.interface0
    }
}
};
#[allow(clippy::all, dead_code, unused_imports)]
pub mod exports {
    #[allow(clippy::all, dead_code, unused_imports)]
    pub mod kiln {
        #[allow(clippy::all, dead_code, unused_imports)]
        pub mod conventions {
            #[allow(clippy::all, dead_code, unused_imports)]
            pub mod conventions {
                #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
                #[component(record)]
                #[derive(Clone, Debug)]
                pub struct LudicrousSpeed {
                    #[component(name = "how-fast-are-you-going")]
                    pub how_fast_are_you_going: u32,
                    #[component(name = "i-am-going-extremely-slow")]
                    pub i_am_going_extremely_slow: u64,
                }

                /// The functions of the exported interface `kiln:conventions/conventions`, type-checked at load.
                pub struct Guest {
                    kebab_case: ::kiln::component::Func,
                    foo: ::kiln::component::Func,
                    type_: ::kiln::component::Func,
                    is_xml: ::kiln::component::Func,
                    many: ::kiln::component::Func,
                }

                /// Where the functions of `kiln:conventions/conventions` are in a component: looked up once, loaded per instance.
                #[derive(Clone)]
                pub struct GuestIndices {
                    kebab_case: ::kiln::component::ComponentExportIndex,
                    foo: ::kiln::component::ComponentExportIndex,
                    type_: ::kiln::component::ComponentExportIndex,
                    is_xml: ::kiln::component::ComponentExportIndex,
                    many: ::kiln::component::ComponentExportIndex,
                }

                /// Wasmtime's name for [`GuestIndices`].
                pub type GuestPre = GuestIndices;

                impl GuestIndices {
                    /// Looks up the interface's functions in `component`.
                    pub fn new(component: &::kiln::component::Component) -> ::kiln::Result<GuestIndices> {
                        let (_, instance) = component
                            .export_index(None, "kiln:conventions/conventions")
                            .ok_or_else(|| ::kiln::component::__internal::anyhow!("no exported instance named `kiln:conventions/conventions`"))?;
                        let lookup = |name: &str| {
                            component
                                .export_index(Some(&instance), name)
                                .map(|(_, index)| index)
                                .ok_or_else(|| ::kiln::component::__internal::anyhow!("instance export `kiln:conventions/conventions` has no function `{name}`"))
                        };
                        let _ = &lookup;
                        let kebab_case = lookup("kebab-case")?;
                        let foo = lookup("foo")?;
                        let type_ = lookup("type")?;
                        let is_xml = lookup("is-XML")?;
                        let many = lookup("many")?;
                        Ok(GuestIndices { kebab_case, foo, type_, is_xml, many })
                    }

                    /// Loads the functions from `instance`, checking their types.
                    pub fn load(
                        &self,
                        mut store: impl ::kiln::AsContextMut<Data: 'static>,
                        instance: &::kiln::component::Instance,
                    ) -> ::kiln::Result<Guest> {
                        let _ = (&mut store, instance);
                        let kebab_case = *instance.get_typed_func::<(), ()>(&mut store, &self.kebab_case)?.func();
                        let foo = *instance.get_typed_func::<(LudicrousSpeed,), ()>(&mut store, &self.foo)?.func();
                        let type_ = *instance.get_typed_func::<(u32, u32), (u32,)>(&mut store, &self.type_)?.func();
                        let is_xml = *instance.get_typed_func::<(), (bool,)>(&mut store, &self.is_xml)?.func();
                        let many = *instance.get_typed_func::<(u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64), ((u64, u64,),)>(&mut store, &self.many)?.func();
                        Ok(Guest { kebab_case, foo, type_, is_xml, many })
                    }
                }

                impl Guest {
                    pub fn call_kebab_case<S: ::kiln::AsContextMut>(&self, mut store: S) -> ::kiln::Result<()>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(), ()>::new_unchecked(self.kebab_case) };
                        let () = callee.call(store.as_context_mut(), ())?;
                        Ok(())
                    }
                    pub fn call_foo<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: LudicrousSpeed) -> ::kiln::Result<()>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(LudicrousSpeed,), ()>::new_unchecked(self.foo) };
                        let () = callee.call(store.as_context_mut(), (arg0,))?;
                        Ok(())
                    }
                    pub fn call_type_<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: u32, arg1: u32) -> ::kiln::Result<u32>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(u32, u32), (u32,)>::new_unchecked(self.type_) };
                        let (ret0,) = callee.call(store.as_context_mut(), (arg0, arg1))?;
                        Ok(ret0)
                    }
                    pub fn call_is_xml<S: ::kiln::AsContextMut>(&self, mut store: S) -> ::kiln::Result<bool>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(), (bool,)>::new_unchecked(self.is_xml) };
                        let (ret0,) = callee.call(store.as_context_mut(), ())?;
                        Ok(ret0)
                    }
                    pub fn call_many<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: u64, arg1: u64, arg2: u64, arg3: u64, arg4: u64, arg5: u64, arg6: u64, arg7: u64, arg8: u64, arg9: u64, arg10: u64, arg11: u64, arg12: u64, arg13: u64, arg14: u64, arg15: u64, arg16: u64) -> ::kiln::Result<(u64, u64,)>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64), ((u64, u64,),)>::new_unchecked(self.many) };
                        let (ret0,) = callee.call(store.as_context_mut(), (arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11, arg12, arg13, arg14, arg15, arg16))?;
                        Ok(ret0)
                    }
                }

            }
        }
    }
}
#[allow(clippy::all, dead_code, unused_imports)]
pub mod kiln {
    #[allow(clippy::all, dead_code, unused_imports)]
    pub mod conventions {
        #[allow(clippy::all, dead_code, unused_imports)]
        pub mod conventions {
            #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
            #[component(record)]
            #[derive(Clone, Debug)]
            pub struct LudicrousSpeed {
                #[component(name = "how-fast-are-you-going")]
                pub how_fast_are_you_going: u32,
                #[component(name = "i-am-going-extremely-slow")]
                pub i_am_going_extremely_slow: u64,
            }

            pub trait HostWithStore: ::kiln::component::HasData {
                fn kebab_case<T: 'static>(host: ::kiln::component::Access<'_, T, Self>) -> ();
                fn foo<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, x: LudicrousSpeed) -> ();
                fn type_<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, self_: u32, match_: u32) -> u32;
                fn is_xml<T: 'static>(host: ::kiln::component::Access<'_, T, Self>) -> bool;
                fn many<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, a6: u64, a7: u64, a8: u64, a9: u64, a10: u64, a11: u64, a12: u64, a13: u64, a14: u64, a15: u64, a16: u64, a17: u64) -> (u64, u64,);
            }

            pub trait Host {
            }
            impl<_T: Host + ?Sized> Host for &mut _T {
            }

            pub fn add_to_linker<T: 'static, D>(
                linker: &mut ::kiln::component::Linker<T>,
                host_getter: fn(&mut T) -> D::Data<'_>,
            ) -> ::kiln::Result<()>
            where
                D: ::kiln::component::HasData + HostWithStore,
                for<'a> D::Data<'a>: Host,
            {
                let mut inst = linker.instance("kiln:conventions/conventions")?;
                let _ = &mut inst;
                inst.func_wrap("kebab-case", move |caller: ::kiln::StoreContextMut<'_, T>, (): ()| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::kebab_case(host);
                    Ok(r)
                })?;
                inst.func_wrap("foo", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): (LudicrousSpeed,)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::foo(host, arg0);
                    Ok(r)
                })?;
                inst.func_wrap("type", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0, arg1): (u32, u32)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::type_(host, arg0, arg1);
                    Ok((r,))
                })?;
                inst.func_wrap("is-XML", move |caller: ::kiln::StoreContextMut<'_, T>, (): ()| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::is_xml(host);
                    Ok((r,))
                })?;
                inst.func_wrap("many", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11, arg12, arg13, arg14, arg15, arg16): (u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64, u64)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::many(host, arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11, arg12, arg13, arg14, arg15, arg16);
                    Ok((r,))
                })?;
                Ok(())
            }
        }
    }
}
#[allow(clippy::all, dead_code, unused_imports)]
pub mod plain {
    pub trait HostWithStore: ::kiln::component::HasData {
        fn hello<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, name: String) -> String;
    }

    pub trait Host {
    }
    impl<_T: Host + ?Sized> Host for &mut _T {
    }

    pub fn add_to_linker<T: 'static, D>(
        linker: &mut ::kiln::component::Linker<T>,
        host_getter: fn(&mut T) -> D::Data<'_>,
    ) -> ::kiln::Result<()>
    where
        D: ::kiln::component::HasData + HostWithStore,
        for<'a> D::Data<'a>: Host,
    {
        let mut inst = linker.instance("plain")?;
        let _ = &mut inst;
        inst.func_wrap("hello", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): (String,)| {
            let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
            let r = <D as HostWithStore>::hello(host, arg0);
            Ok((r,))
        })?;
        Ok(())
    }
}
