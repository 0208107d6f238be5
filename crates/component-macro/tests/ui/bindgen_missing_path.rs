kiln_component_macro::bindgen!({ path: "no/such/wit", world: "w" });

fn main() {}
