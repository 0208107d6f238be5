use kiln_component_macro::ComponentType;

#[derive(ComponentType)]
#[component(record)]
struct Pair(u32, u32);

fn main() {}
