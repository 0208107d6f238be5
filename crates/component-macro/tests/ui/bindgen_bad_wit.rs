kiln_component_macro::bindgen!({
    inline: "package a:b; interface i { f: func(; }",
});

fn main() {}
