//! `bindgen!`: the macro's options, and loading the WIT they name.
//!
//! The generator itself (`generate`) turns a world into Rust source text, which is what the
//! snapshot tests compare; the macro parses that text into tokens.

mod generate;
mod names;

use proc_macro2::{Span, TokenStream};
use std::path::{Path, PathBuf};
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token, braced, bracketed};
use wit_parser::{PackageId, Resolve, WorldId};

pub use generate::generate;

/// What a host import function may do beyond computing its result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportFlags {
    /// Returns `kiln::Result<T>`: an `Err` becomes a trap.
    pub trappable: bool,
    /// Reaches the store: generated in a `...WithStore` trait taking an `Access`.
    pub store: bool,
}

/// The options of one `bindgen!` invocation.
#[derive(Debug, Default, Clone)]
pub struct Opts {
    /// WIT files or directories, relative to `CARGO_MANIFEST_DIR`.
    pub paths: Vec<String>,
    /// WIT source given inline (the main package when present).
    pub inline: Option<String>,
    /// The world to generate (optional when the package has one world).
    pub world: Option<String>,
    /// Interfaces (`ns:pkg/iface`) or types (`ns:pkg/iface/type`) already generated elsewhere,
    /// by Rust path.
    pub with: Vec<(String, String)>,
    /// Flags for every import.
    pub imports_default: ImportFlags,
    /// Flags for one import function, keyed `ns:pkg/iface.func` or `func` (world level).
    pub imports: Vec<(String, ImportFlags)>,
    /// Extra derives on generated records, variants and enums.
    pub additional_derives: Vec<String>,
}

impl Opts {
    /// The flags of the import function `func` of interface `iface` (`None` at world level).
    pub fn import_flags(&self, iface: Option<&str>, func: &str) -> ImportFlags {
        let key = match iface {
            Some(i) => format!("{i}.{func}"),
            None => func.to_string(),
        };
        self.imports.iter().find(|(k, _)| *k == key).map(|(_, f)| *f).unwrap_or(self.imports_default)
    }

    /// Loads the WIT and selects the world. Paths are relative to `root`.
    pub fn load(&self, root: &Path) -> anyhow::Result<(Resolve, WorldId, Vec<PathBuf>)> {
        let mut resolve = Resolve::default();
        let mut main: Option<PackageId> = None;
        let mut files = Vec::new();
        let paths: Vec<String> =
            if self.paths.is_empty() && self.inline.is_none() { vec!["wit".into()] } else { self.paths.clone() };
        for p in &paths {
            let path = root.join(p);
            let (pkg, sources) = resolve
                .push_path(&path)
                .map_err(|e| anyhow::anyhow!("failed to parse WIT at `{}`: {e:#}", path.display()))?;
            files.extend(sources.paths().map(Path::to_path_buf));
            main = Some(pkg);
        }
        if let Some(src) = &self.inline {
            main = Some(
                resolve
                    .push_str("inline.wit", src)
                    .map_err(|e| anyhow::anyhow!("failed to parse inline WIT: {e:#}"))?,
            );
        }
        let main = main.ok_or_else(|| anyhow::anyhow!("no WIT given"))?;
        let world = resolve.select_world(&[main], self.world.as_deref())?;
        Ok((resolve, world, files))
    }
}

/// `bindgen!(...)`'s input.
pub struct Input(pub Opts);

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut opts = Opts::default();
        if input.is_empty() {
            return Ok(Input(opts));
        }
        // `bindgen!("world")` and `bindgen!("world" in "path")`.
        if input.peek(LitStr) {
            opts.world = Some(input.parse::<LitStr>()?.value());
            if input.peek(Token![in]) {
                input.parse::<Token![in]>()?;
                opts.paths.push(input.parse::<LitStr>()?.value());
            }
            return Ok(Input(opts));
        }
        let body;
        braced!(body in input);
        while !body.is_empty() {
            let key: syn::Ident = body.call(syn::ext::IdentExt::parse_any)?;
            body.parse::<Token![:]>()?;
            match key.to_string().as_str() {
                "path" => {
                    if body.peek(syn::token::Bracket) {
                        let list;
                        bracketed!(list in body);
                        for p in list.parse_terminated(|p| p.parse::<LitStr>(), Token![,])? {
                            opts.paths.push(p.value());
                        }
                    } else {
                        opts.paths.push(body.parse::<LitStr>()?.value());
                    }
                }
                "inline" => opts.inline = Some(body.parse::<LitStr>()?.value()),
                "world" => opts.world = Some(body.parse::<LitStr>()?.value()),
                "with" => {
                    let map;
                    braced!(map in body);
                    while !map.is_empty() {
                        let name = map.parse::<LitStr>()?.value();
                        map.parse::<Token![:]>()?;
                        let path: syn::Path = map.parse()?;
                        opts.with.push((name, quote::quote!(#path).to_string().replace(' ', "")));
                        if !map.is_empty() {
                            map.parse::<Token![,]>()?;
                        }
                    }
                }
                "imports" => {
                    let map;
                    braced!(map in body);
                    while !map.is_empty() {
                        let name = if map.peek(LitStr) {
                            Some(map.parse::<LitStr>()?.value())
                        } else {
                            let k: syn::Ident = map.call(syn::ext::IdentExt::parse_any)?;
                            if k != "default" {
                                return Err(syn::Error::new(k.span(), "expected `default` or a function name string"));
                            }
                            None
                        };
                        map.parse::<Token![:]>()?;
                        let flags = parse_flags(&map)?;
                        match name {
                            Some(n) => opts.imports.push((n, flags)),
                            None => opts.imports_default = flags,
                        }
                        if !map.is_empty() {
                            map.parse::<Token![,]>()?;
                        }
                    }
                }
                "exports" => {
                    // Exports are called synchronously; the only accepted flags say so.
                    let map;
                    braced!(map in body);
                    while !map.is_empty() {
                        if map.peek(LitStr) {
                            map.parse::<LitStr>()?;
                        } else {
                            map.call(<syn::Ident as syn::ext::IdentExt>::parse_any)?;
                        }
                        map.parse::<Token![:]>()?;
                        let flag: syn::Ident = map.call(syn::ext::IdentExt::parse_any)?;
                        if flag != "sync" && flag != "trappable" {
                            return Err(syn::Error::new(
                                flag.span(),
                                format!("unsupported export flag `{flag}`: kiln's bindings call exports synchronously"),
                            ));
                        }
                        if !map.is_empty() {
                            map.parse::<Token![,]>()?;
                        }
                    }
                }
                "trappable_imports" => {
                    let v: syn::LitBool = body.parse()?;
                    opts.imports_default.trappable = v.value;
                }
                "additional_derives" => {
                    let list;
                    bracketed!(list in body);
                    for p in list.parse_terminated(syn::Path::parse, Token![,])? {
                        opts.additional_derives.push(quote::quote!(#p).to_string().replace(' ', ""));
                    }
                }
                other => {
                    return Err(syn::Error::new(key.span(), format!("unknown bindgen! option `{other}`")));
                }
            }
            if !body.is_empty() {
                body.parse::<Token![,]>()?;
            }
        }
        Ok(Input(opts))
    }
}

/// `trappable`, `sync`, or several joined by `|`.
fn parse_flags(input: ParseStream) -> syn::Result<ImportFlags> {
    let mut flags = ImportFlags::default();
    loop {
        let flag: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
        match flag.to_string().as_str() {
            "trappable" => flags.trappable = true,
            "store" => flags.store = true,
            "sync" | "ignore_wit" => {}
            other => {
                return Err(syn::Error::new(
                    flag.span(),
                    format!(
                        "unsupported import flag `{other}`: expected `trappable`, `store` or `sync` (kiln's bindings are synchronous)"
                    ),
                ));
            }
        }
        if input.peek(Token![|]) {
            input.parse::<Token![|]>()?;
        } else {
            return Ok(flags);
        }
    }
}

/// The macro: parse the options, load the WIT, generate, and make the build depend on the
/// WIT files.
pub fn expand(input: TokenStream) -> TokenStream {
    let Input(opts) = match syn::parse2::<Input>(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let (resolve, world, files) = match opts.load(&root) {
        Ok(r) => r,
        Err(e) => return syn::Error::new(Span::call_site(), format!("{e:#}")).to_compile_error(),
    };
    let source = match generate(&resolve, world, &opts) {
        Ok(s) => s,
        Err(e) => return syn::Error::new(Span::call_site(), format!("{e:#}")).to_compile_error(),
    };
    let mut tokens: TokenStream = match source.parse() {
        Ok(t) => t,
        Err(e) => {
            return syn::Error::new(Span::call_site(), format!("bindgen! generated invalid Rust: {e}"))
                .to_compile_error();
        }
    };
    // Rebuild when a WIT file changes.
    for f in files {
        let f = f.display().to_string();
        tokens.extend(quote::quote!(
            const _: &str = include_str!(#f);
        ));
    }
    tokens
}

#[cfg(test)]
mod snapshots {
    //! The generated code for the WIT files in `tests/codegen`, compared with the checked-in
    //! `<name>.rs` (and `<name>_trappable.rs`, `<name>_store.rs` with `imports: { default:
    //! trappable }` and `{ default: store }`), so that
    //! a reviewer sees what a generator change does. `KILN_BLESS=1` rewrites them.

    use super::{ImportFlags, Opts, generate};
    use std::path::Path;

    #[test]
    fn codegen_matches_snapshots() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/codegen");
        let bless = std::env::var("KILN_BLESS").is_ok_and(|v| v == "1");
        let mut wits: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wit"))
            .collect();
        wits.sort();
        assert!(wits.len() >= 3, "the codegen WIT files are missing");
        let mut mismatches = Vec::new();
        for wit in wits {
            let stem = wit.file_stem().unwrap().to_string_lossy().to_string();
            for (suffix, trappable, store) in [("", false, false), ("_trappable", true, false), ("_store", false, true)]
            {
                let opts = Opts {
                    paths: vec![wit.file_name().unwrap().to_string_lossy().to_string()],
                    imports_default: ImportFlags { trappable, store },
                    ..Opts::default()
                };
                let (resolve, world, _) = opts.load(&dir).unwrap();
                let source = generate(&resolve, world, &opts).unwrap();
                // The output must be Rust.
                if let Err(e) = syn::parse_file(&source) {
                    panic!("{stem}{suffix}: generated code does not parse: {e}");
                }
                let snapshot = dir.join(format!("{stem}{suffix}.rs"));
                if bless {
                    std::fs::write(&snapshot, &source).unwrap();
                    continue;
                }
                let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
                if expected != source {
                    let line = expected.lines().zip(source.lines()).position(|(a, b)| a != b);
                    mismatches.push(format!(
                        "{} differs (first at line {:?})",
                        snapshot.display(),
                        line.map(|l| l + 1)
                    ));
                }
            }
        }
        assert!(mismatches.is_empty(), "{}\nrun with KILN_BLESS=1 to accept the new output", mismatches.join("\n"));
    }
}
