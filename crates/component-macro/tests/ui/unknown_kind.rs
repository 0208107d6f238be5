use kiln_component_macro::ComponentType;

#[derive(ComponentType)]
#[component(struct)]
struct Pair {
    a: u32,
}

fn main() {}
