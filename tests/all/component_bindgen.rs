//! The WIT files of the `bindgen!` snapshot tests (`crates/component-macro/tests/codegen`)
//! expanded here for real: the generated code must compile (and pass clippy) in a user's crate,
//! with and without trappable imports, and the generated traits must be implementable.
//! Runtime behaviour is tested against real components in `toolchain::bindgen_*`.

mod types {
    ::kiln::component::bindgen!({ path: "../crates/component-macro/tests/codegen/types.wit" });
}
mod types_trappable {
    ::kiln::component::bindgen!({
        path: "../crates/component-macro/tests/codegen/types.wit",
        imports: { default: trappable },
        additional_derives: [PartialEq],
    });
}
mod resources {
    ::kiln::component::bindgen!({ path: "../crates/component-macro/tests/codegen/resources.wit" });
}
mod resources_trappable {
    ::kiln::component::bindgen!({
        path: "../crates/component-macro/tests/codegen/resources.wit",
        imports: { default: trappable },
    });
}
mod resources_store {
    ::kiln::component::bindgen!({
        path: "../crates/component-macro/tests/codegen/resources.wit",
        imports: { default: store },
    });
}
mod conventions {
    ::kiln::component::bindgen!({
        path: "../crates/component-macro/tests/codegen/conventions.wit",
        imports: { "kiln:conventions/conventions.many": trappable },
    });
}

use anyhow::{Result, ensure};
use kiln::component::{HasSelf, Linker, Resource};
use libtest_mimic::{Failed, Trial};

pub fn trials() -> Vec<Trial> {
    vec![Trial::test("component_bindgen::generated_traits_link", || {
        generated_traits_link().map_err(|e| Failed::from(format!("{e:?}")))
    })]
}

/// The host side of `resources-world`, implemented on the generated traits.
#[derive(Default)]
struct Host {
    next: u32,
}

impl resources::kiln::resources::files::HostFile for Host {
    fn new(&mut self, _path: String) -> Resource<resources::kiln::resources::files::File> {
        self.next += 1;
        Resource::new_own(self.next)
    }
    fn read(&mut self, _self_: Resource<resources::kiln::resources::files::File>, n: u32) -> Vec<u8> {
        vec![0; n as usize]
    }
    fn size(&mut self, _self_: Resource<resources::kiln::resources::files::File>) -> u64 {
        0
    }
    fn open(&mut self, path: String) -> Result<Resource<resources::kiln::resources::files::File>, String> {
        Err(format!("no file {path}"))
    }
    fn drop(&mut self, _rep: Resource<resources::kiln::resources::files::File>) -> Result<()> {
        Ok(())
    }
}

impl resources::kiln::resources::files::Host for Host {
    fn copy(
        &mut self,
        _src: Resource<resources::kiln::resources::files::File>,
        _dst: Resource<resources::kiln::resources::files::File>,
    ) -> u64 {
        0
    }
    fn list_dir(&mut self) -> Vec<resources::kiln::resources::files::Entry> {
        Vec::new()
    }
}

impl resources::HostTicket for Host {
    fn new(&mut self, id: u32) -> Resource<resources::Ticket> {
        Resource::new_own(id)
    }
    fn id(&mut self, self_: Resource<resources::Ticket>) -> u32 {
        self_.rep()
    }
    fn drop(&mut self, _rep: Resource<resources::Ticket>) -> Result<()> {
        Ok(())
    }
}

impl resources::ResourcesWorldImports for Host {
    fn clock(&mut self) -> u64 {
        42
    }
}

/// `add_to_linker` of a world with interface imports, world-level functions and a world-level
/// resource defines every import the world names.
fn generated_traits_link() -> Result<()> {
    let engine = kiln::Engine::default();
    let mut linker = Linker::<Host>::new(&engine);
    resources::ResourcesWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |h| h)?;
    // Defined twice is an error: everything was defined the first time.
    let again = resources::ResourcesWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |h| h);
    ensure!(again.is_err(), "a second add_to_linker should find the names taken");
    // Generated types are ordinary Rust types.
    let p = types_trappable::kiln::types::types::Point { x: 1, y: 2 };
    ensure!(p == p.clone());
    let perms = types::kiln::types::types::Perms::READ | types::kiln::types::types::Perms::EXEC;
    ensure!(format!("{perms:?}") == "Perms(read | exec)");
    let speed = conventions::kiln::conventions::conventions::LudicrousSpeed {
        how_fast_are_you_going: 1,
        i_am_going_extremely_slow: 2,
    };
    ensure!(speed.i_am_going_extremely_slow == 2);
    Ok(())
}
