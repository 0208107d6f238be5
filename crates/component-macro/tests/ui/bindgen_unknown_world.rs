kiln_component_macro::bindgen!({
    inline: "package a:b; world w {}",
    world: "nope",
});

fn main() {}
