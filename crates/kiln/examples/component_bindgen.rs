//! A WIT world turned into Rust by `bindgen!`: implement the host's imports as a trait, add them
//! to a linker, instantiate a component, call its exports with Rust values. Then the same
//! exports through `get_typed_func` with the embedder's own types: a derived record and a
//! `flags!` type.
//!
//! `cargo run -p kiln --example component_bindgen` (the test suite runs it too).

use kiln::component::{Component, ComponentType, HasSelf, Lift, Linker, Lower};
use kiln::{Engine, Result, Store};

// Generates `Tally` (the world: `instantiate`, `add_to_linker`, `call_tally`), the record
// `Stats`, and the trait `TallyImports` with the world's import `report`.
kiln::component::bindgen!({
    inline: "
        package example:tally;

        world tally {
            record stats {
                count: u32,
                sum: u64,
            }
            flags options { verbose, strict }
            /// Called by the component with the sum it computed.
            import report: func(total: u64);
            /// How many values there are and their sum.
            export tally: func(values: list<u32>) -> stats;
            /// The bits of the options.
            export check: func(o: options) -> u32;
        }
    ",
});

/// The embedder's own type for `stats`.
#[derive(ComponentType, Lift, Lower, Debug, PartialEq)]
#[component(record)]
struct Summary {
    #[component(name = "count")]
    n: u32,
    sum: u64,
}

kiln::component::flags! {
    Mode {
        #[component(name = "verbose")]
        const VERBOSE;
        #[component(name = "strict")]
        const STRICT;
    }
}

/// The host's state: what the component reported.
#[derive(Default)]
struct Host {
    reported: Vec<u64>,
}

impl TallyImports for Host {
    fn report(&mut self, total: u64) {
        self.reported.push(total);
    }
}

pub fn main() -> Result<()> {
    let engine = Engine::default();
    // The component, in the text format (a `.wasm` file works the same way).
    let component = Component::new(&engine, include_str!("../../../examples/tally.wat"))?;
    let mut linker = Linker::new(&engine);
    Tally::add_to_linker::<_, HasSelf<_>>(&mut linker, |host: &mut Host| host)?;
    let mut store = Store::new(&engine, Host::default());
    let tally = Tally::instantiate(&mut store, &component, &linker)?;

    let stats: Stats = tally.call_tally(&mut store, &[1, 2, 3, 4_000_000_000])?;
    println!("count {}, sum {}, reported {:?}", stats.count, stats.sum, store.data().reported);
    assert_eq!((stats.count, stats.sum), (4, 4_000_000_006));
    assert_eq!(store.data().reported, [4_000_000_006]);
    assert_eq!(tally.call_check(&mut store, Options::STRICT)?, 0b10);

    // The same exports with hand-written types, checked against the component's types.
    let instance = linker.instantiate(&mut store, &component)?;
    let tally = instance.get_typed_func::<(&[u32],), (Summary,)>(&mut store, "tally")?;
    let (summary,) = tally.call(&mut store, (&[5, 6],))?;
    assert_eq!(summary, Summary { n: 2, sum: 11 });
    let check = instance.get_typed_func::<(Mode,), (u32,)>(&mut store, "check")?;
    assert_eq!(check.call(&mut store, (Mode::VERBOSE | Mode::STRICT,))?.0, 0b11);
    println!("{summary:?}, {:?}", Mode::all());
    Ok(())
}
