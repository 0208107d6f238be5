//! WIT names (kebab-case) as Rust names.

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self",
    "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
    "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

fn escape(s: String) -> String {
    if KEYWORDS.contains(&s.as_str()) { format!("{s}_") } else { s }
}

/// `foo-bar` -> `foo_bar` (functions, fields, modules, parameters).
pub fn snake(name: &str) -> String {
    escape(name.replace('-', "_").to_lowercase())
}

/// `foo-bar` -> `FooBar` (types, cases).
pub fn camel(name: &str) -> String {
    let mut out = String::new();
    for part in name.split('-') {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    escape(out)
}

/// `foo-bar` -> `FOO_BAR` (flags).
pub fn shouty(name: &str) -> String {
    escape(name.replace('-', "_").to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        assert_eq!(snake("live-count"), "live_count");
        assert_eq!(snake("type"), "type_");
        assert_eq!(camel("char-kind"), "CharKind");
        assert_eq!(camel("is-XML"), "IsXml");
        assert_eq!(shouty("has-digit"), "HAS_DIGIT");
    }
}
