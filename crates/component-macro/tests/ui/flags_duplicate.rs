kiln_component_macro::flags! {
    Perms {
        const READ;
        #[component(name = "READ")]
        const ALSO_READ;
    }
}

fn main() {}
