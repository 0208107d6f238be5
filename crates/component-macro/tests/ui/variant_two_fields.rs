use kiln_component_macro::ComponentType;

#[derive(ComponentType)]
#[component(variant)]
enum Shape {
    Rect(u32, u32),
}

fn main() {}
