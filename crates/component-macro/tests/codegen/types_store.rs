/// The bindings of an instance of a component of the world `types-world`.
pub struct TypesWorld {
    interface0: self::exports::kiln::types::types::Guest,
}

/// Where the exports of the world `types-world` are in a component.
#[derive(Clone)]
pub struct TypesWorldIndices {
    interface0: self::exports::kiln::types::types::GuestIndices,
}

/// A component of the world `types-world` with its imports resolved, ready to instantiate.
pub struct TypesWorldPre<T: 'static> {
    instance_pre: ::kiln::component::InstancePre<T>,
    indices: TypesWorldIndices,
}

impl<T: 'static> Clone for TypesWorldPre<T> {
    fn clone(&self) -> Self {
        Self { instance_pre: self.instance_pre.clone(), indices: self.indices.clone() }
    }
}

#[allow(clippy::all)]
const _: () = {
impl TypesWorldIndices {
    /// Looks up the world's exports in `component`.
    pub fn new(component: &::kiln::component::Component) -> ::kiln::Result<Self> {
        let _ = component;
        let interface0 = self::exports::kiln::types::types::GuestIndices::new(component)?;
        Ok(TypesWorldIndices { interface0 })
    }

    /// Loads the exports from `instance`, checking their types.
    pub fn load(
        &self,
        mut store: impl ::kiln::AsContextMut<Data: 'static>,
        instance: &::kiln::component::Instance,
    ) -> ::kiln::Result<TypesWorld> {
        let _ = (&mut store, instance);
        let interface0 = self.interface0.load(&mut store, instance)?;
        Ok(TypesWorld { interface0 })
    }
}

impl<T: 'static> TypesWorldPre<T> {
    /// Looks up the exports of `instance_pre`'s component.
    pub fn new(instance_pre: ::kiln::component::InstancePre<T>) -> ::kiln::Result<Self> {
        let indices = TypesWorldIndices::new(instance_pre.component())?;
        Ok(Self { instance_pre, indices })
    }

    /// Instantiates the component in `store`.
    pub fn instantiate(&self, mut store: impl ::kiln::AsContextMut<Data = T>) -> ::kiln::Result<TypesWorld> {
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

impl TypesWorld {
    /// Instantiates `component` with `linker`'s definitions.
    pub fn instantiate<T: 'static>(
        store: impl ::kiln::AsContextMut<Data = T>,
        component: &::kiln::component::Component,
        linker: &::kiln::component::Linker<T>,
    ) -> ::kiln::Result<TypesWorld> {
        TypesWorldPre::new(linker.instantiate_pre(component)?)?.instantiate(store)
    }

    /// The bindings of an existing instance.
    pub fn new(
        mut store: impl ::kiln::AsContextMut<Data: 'static>,
        instance: &::kiln::component::Instance,
    ) -> ::kiln::Result<TypesWorld> {
        let component = instance.component(&store);
        TypesWorldIndices::new(&component)?.load(&mut store, instance)
    }

    /// Adds every import of the world to `linker`: the host state for each is what
    /// `host_getter` returns for the store's data.
    pub fn add_to_linker<T: 'static, D>(
        linker: &mut ::kiln::component::Linker<T>,
        host_getter: fn(&mut T) -> D::Data<'_>,
    ) -> ::kiln::Result<()>
    where
        D: ::kiln::component::HasData + self::kiln::types::types::HostWithStore,
        for<'a> D::Data<'a>: self::kiln::types::types::Host,
    {
        let _ = (&linker, host_getter);
        self::kiln::types::types::add_to_linker::<T, D>(linker, host_getter)?;
        Ok(())
    }

    /// The exported interface `kiln:types/types`.
    pub fn kiln_types_types(&self) -> &self::exports::kiln::types::types::Guest {
        &self.interface0
    }
}
};
#[allow(clippy::all, dead_code, unused_imports)]
pub mod exports {
    #[allow(clippy::all, dead_code, unused_imports)]
    pub mod kiln {
        #[allow(clippy::all, dead_code, unused_imports)]
        pub mod types {
            #[allow(clippy::all, dead_code, unused_imports)]
            pub mod types {
                #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
                #[component(record)]
                #[derive(Clone, Debug)]
                pub struct Point {
                    #[component(name = "x")]
                    pub x: i32,
                    #[component(name = "y")]
                    pub y: i32,
                }

                /// A shape, with payloads of every flat kind.
                #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
                #[component(variant)]
                #[derive(Clone, Debug)]
                pub enum Shape {
                    #[component(name = "circle")]
                    Circle(f32),
                    #[component(name = "rect")]
                    Rect((Point, Point,)),
                    #[component(name = "label")]
                    Label(String),
                    #[component(name = "big")]
                    Big(u64),
                    #[component(name = "nothing")]
                    Nothing,
                }

                #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
                #[component(enum)]
                #[repr(u8)]
                #[derive(Clone, Copy, Debug, PartialEq, Eq)]
                pub enum Color {
                    #[component(name = "red")]
                    Red,
                    #[component(name = "green")]
                    Green,
                    #[component(name = "blue")]
                    Blue,
                }

                ::kiln::component::flags! {
                    pub Perms {
                        #[component(name = "read")]
                        const READ;
                        #[component(name = "write")]
                        const WRITE;
                        #[component(name = "exec")]
                        const EXEC;
                    }
                }

                pub type Points = Vec<Point>;

                pub type MaybeColor = Option<Color>;

                /// The functions of the exported interface `kiln:types/types`, type-checked at load.
                pub struct Guest {
                    everything: ::kiln::component::Func,
                    area: ::kiln::component::Func,
                    paint: ::kiln::component::Func,
                    nothing: ::kiln::component::Func,
                    fallible: ::kiln::component::Func,
                    ok_only: ::kiln::component::Func,
                    fixed: ::kiln::component::Func,
                }

                /// Where the functions of `kiln:types/types` are in a component: looked up once, loaded per instance.
                #[derive(Clone)]
                pub struct GuestIndices {
                    everything: ::kiln::component::ComponentExportIndex,
                    area: ::kiln::component::ComponentExportIndex,
                    paint: ::kiln::component::ComponentExportIndex,
                    nothing: ::kiln::component::ComponentExportIndex,
                    fallible: ::kiln::component::ComponentExportIndex,
                    ok_only: ::kiln::component::ComponentExportIndex,
                    fixed: ::kiln::component::ComponentExportIndex,
                }

                /// Wasmtime's name for [`GuestIndices`].
                pub type GuestPre = GuestIndices;

                impl GuestIndices {
                    /// Looks up the interface's functions in `component`.
                    pub fn new(component: &::kiln::component::Component) -> ::kiln::Result<GuestIndices> {
                        let (_, instance) = component
                            .export_index(None, "kiln:types/types")
                            .ok_or_else(|| ::kiln::component::__internal::anyhow!("no exported instance named `kiln:types/types`"))?;
                        let lookup = |name: &str| {
                            component
                                .export_index(Some(&instance), name)
                                .map(|(_, index)| index)
                                .ok_or_else(|| ::kiln::component::__internal::anyhow!("instance export `kiln:types/types` has no function `{name}`"))
                        };
                        let _ = &lookup;
                        let everything = lookup("everything")?;
                        let area = lookup("area")?;
                        let paint = lookup("paint")?;
                        let nothing = lookup("nothing")?;
                        let fallible = lookup("fallible")?;
                        let ok_only = lookup("ok-only")?;
                        let fixed = lookup("fixed")?;
                        Ok(GuestIndices { everything, area, paint, nothing, fallible, ok_only, fixed })
                    }

                    /// Loads the functions from `instance`, checking their types.
                    pub fn load(
                        &self,
                        mut store: impl ::kiln::AsContextMut<Data: 'static>,
                        instance: &::kiln::component::Instance,
                    ) -> ::kiln::Result<Guest> {
                        let _ = (&mut store, instance);
                        let everything = *instance.get_typed_func::<(bool, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, char, &str, &[u8]), ((bool, String,),)>(&mut store, &self.everything)?.func();
                        let area = *instance.get_typed_func::<(Shape,), (f64,)>(&mut store, &self.area)?.func();
                        let paint = *instance.get_typed_func::<(Points, MaybeColor), (Result<Perms, String>,)>(&mut store, &self.paint)?.func();
                        let nothing = *instance.get_typed_func::<(), ()>(&mut store, &self.nothing)?.func();
                        let fallible = *instance.get_typed_func::<(), (Result<(), Color>,)>(&mut store, &self.fallible)?.func();
                        let ok_only = *instance.get_typed_func::<(), (Result<u32, ()>,)>(&mut store, &self.ok_only)?.func();
                        let fixed = *instance.get_typed_func::<([u8; 4],), ([u8; 4],)>(&mut store, &self.fixed)?.func();
                        Ok(Guest { everything, area, paint, nothing, fallible, ok_only, fixed })
                    }
                }

                impl Guest {
                    pub fn call_everything<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: bool, arg1: i8, arg2: u8, arg3: i16, arg4: u16, arg5: i32, arg6: u32, arg7: i64, arg8: u64, arg9: f32, arg10: f64, arg11: char, arg12: &str, arg13: &[u8]) -> ::kiln::Result<(bool, String,)>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(bool, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, char, &str, &[u8]), ((bool, String,),)>::new_unchecked(self.everything) };
                        let (ret0,) = callee.call(store.as_context_mut(), (arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11, arg12, arg13))?;
                        Ok(ret0)
                    }
                    pub fn call_area<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: Shape) -> ::kiln::Result<f64>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(Shape,), (f64,)>::new_unchecked(self.area) };
                        let (ret0,) = callee.call(store.as_context_mut(), (arg0,))?;
                        Ok(ret0)
                    }
                    pub fn call_paint<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: Points, arg1: MaybeColor) -> ::kiln::Result<Result<Perms, String>>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(Points, MaybeColor), (Result<Perms, String>,)>::new_unchecked(self.paint) };
                        let (ret0,) = callee.call(store.as_context_mut(), (arg0, arg1))?;
                        Ok(ret0)
                    }
                    pub fn call_nothing<S: ::kiln::AsContextMut>(&self, mut store: S) -> ::kiln::Result<()>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(), ()>::new_unchecked(self.nothing) };
                        let () = callee.call(store.as_context_mut(), ())?;
                        Ok(())
                    }
                    pub fn call_fallible<S: ::kiln::AsContextMut>(&self, mut store: S) -> ::kiln::Result<Result<(), Color>>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(), (Result<(), Color>,)>::new_unchecked(self.fallible) };
                        let (ret0,) = callee.call(store.as_context_mut(), ())?;
                        Ok(ret0)
                    }
                    pub fn call_ok_only<S: ::kiln::AsContextMut>(&self, mut store: S) -> ::kiln::Result<Result<u32, ()>>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<(), (Result<u32, ()>,)>::new_unchecked(self.ok_only) };
                        let (ret0,) = callee.call(store.as_context_mut(), ())?;
                        Ok(ret0)
                    }
                    pub fn call_fixed<S: ::kiln::AsContextMut>(&self, mut store: S, arg0: [u8; 4]) -> ::kiln::Result<[u8; 4]>
                    where
                        S::Data: 'static,
                    {
                        // SAFETY: the type was checked when the function was loaded.
                        let callee = unsafe { ::kiln::component::TypedFunc::<([u8; 4],), ([u8; 4],)>::new_unchecked(self.fixed) };
                        let (ret0,) = callee.call(store.as_context_mut(), (arg0,))?;
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
    pub mod types {
        #[allow(clippy::all, dead_code, unused_imports)]
        pub mod types {
            #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
            #[component(record)]
            #[derive(Clone, Debug)]
            pub struct Point {
                #[component(name = "x")]
                pub x: i32,
                #[component(name = "y")]
                pub y: i32,
            }

            /// A shape, with payloads of every flat kind.
            #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
            #[component(variant)]
            #[derive(Clone, Debug)]
            pub enum Shape {
                #[component(name = "circle")]
                Circle(f32),
                #[component(name = "rect")]
                Rect((Point, Point,)),
                #[component(name = "label")]
                Label(String),
                #[component(name = "big")]
                Big(u64),
                #[component(name = "nothing")]
                Nothing,
            }

            #[derive(::kiln::component::ComponentType, ::kiln::component::Lift, ::kiln::component::Lower)]
            #[component(enum)]
            #[repr(u8)]
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub enum Color {
                #[component(name = "red")]
                Red,
                #[component(name = "green")]
                Green,
                #[component(name = "blue")]
                Blue,
            }

            ::kiln::component::flags! {
                pub Perms {
                    #[component(name = "read")]
                    const READ;
                    #[component(name = "write")]
                    const WRITE;
                    #[component(name = "exec")]
                    const EXEC;
                }
            }

            pub type Points = Vec<Point>;

            pub type MaybeColor = Option<Color>;

            pub trait HostWithStore: ::kiln::component::HasData {
                fn everything<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, a: bool, b: i8, c: u8, d: i16, e: u16, f: i32, g: u32, h: i64, i: u64, j: f32, k: f64, l: char, m: String, n: Vec<u8>) -> (bool, String,);
                fn area<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, s: Shape) -> f64;
                fn paint<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, p: Points, c: MaybeColor) -> Result<Perms, String>;
                fn nothing<T: 'static>(host: ::kiln::component::Access<'_, T, Self>) -> ();
                fn fallible<T: 'static>(host: ::kiln::component::Access<'_, T, Self>) -> Result<(), Color>;
                fn ok_only<T: 'static>(host: ::kiln::component::Access<'_, T, Self>) -> Result<u32, ()>;
                fn fixed<T: 'static>(host: ::kiln::component::Access<'_, T, Self>, x: [u8; 4]) -> [u8; 4];
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
                let mut inst = linker.instance("kiln:types/types")?;
                let _ = &mut inst;
                inst.func_wrap("everything", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11, arg12, arg13): (bool, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, char, String, Vec<u8>)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::everything(host, arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11, arg12, arg13);
                    Ok((r,))
                })?;
                inst.func_wrap("area", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): (Shape,)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::area(host, arg0);
                    Ok((r,))
                })?;
                inst.func_wrap("paint", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0, arg1): (Points, MaybeColor)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::paint(host, arg0, arg1);
                    Ok((r,))
                })?;
                inst.func_wrap("nothing", move |caller: ::kiln::StoreContextMut<'_, T>, (): ()| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::nothing(host);
                    Ok(r)
                })?;
                inst.func_wrap("fallible", move |caller: ::kiln::StoreContextMut<'_, T>, (): ()| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::fallible(host);
                    Ok((r,))
                })?;
                inst.func_wrap("ok-only", move |caller: ::kiln::StoreContextMut<'_, T>, (): ()| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::ok_only(host);
                    Ok((r,))
                })?;
                inst.func_wrap("fixed", move |caller: ::kiln::StoreContextMut<'_, T>, (arg0,): ([u8; 4],)| {
                    let host = ::kiln::component::Access::<T, D>::new(caller, host_getter);
                    let r = <D as HostWithStore>::fixed(host, arg0);
                    Ok((r,))
                })?;
                Ok(())
            }
        }
    }
}
