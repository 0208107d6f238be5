kiln_component_macro::bindgen!({
    inline: "package a:b; world w {}",
    asynchronous: true,
});

fn main() {}
