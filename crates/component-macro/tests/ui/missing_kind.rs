use kiln_component_macro::ComponentType;

#[derive(ComponentType)]
struct Point {
    x: u32,
}

fn main() {}
