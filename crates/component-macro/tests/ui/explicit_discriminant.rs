use kiln_component_macro::Lower;

#[derive(Lower)]
#[component(enum)]
enum Color {
    Red = 1,
    Green,
}

fn main() {}
