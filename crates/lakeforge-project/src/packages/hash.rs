//! The `sha1_hash` of package-lock.yml: a fingerprint of the declaration the lock was resolved
//! from. dbt serializes each declared entry to JSON (Python's `json.dumps` with sorted keys),
//! sorts those lines, joins them with newlines and takes the SHA-1. Producing the same bytes
//! means a lock written by dbt is honoured by Lakeforge and the other way round.

use serde_json::{Number, Value as Json};
use sha1::{Digest, Sha1};

use super::spec::PackageSpec;

/// The hash dbt records as `sha1_hash` for a project declaring `specs`.
pub fn declaration_hash(specs: &[PackageSpec]) -> String {
    let mut lines: Vec<String> = specs.iter().map(|s| python_json(&s.hash_value())).collect();
    lines.sort();
    let digest = Sha1::digest(lines.join("\n").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON as Python's `json.dumps(value, sort_keys=True)` writes it: `", "` and `": "` as
/// separators, non-ASCII escaped as `\uXXXX`, floats as Python prints them.
pub(crate) fn python_json(value: &Json) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&python_number(n)),
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(v, out);
            }
            out.push(']');
        }
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(k, out);
                out.push_str(": ");
                write_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as Python's `repr` writes it: integers as they are, floats with a `.0` when whole.
pub(crate) fn python_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if !n.is_i64() && !n.is_u64() => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                format!("{f}")
            }
        }
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn specs(yaml: &str) -> Vec<PackageSpec> {
        let doc: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        super::super::spec::parse_list(Path::new("packages.yml"), &doc, &["packages"]).unwrap()
    }

    // The expected hashes are the ones dbt-core 1.10 wrote for these declarations (from its
    // own test suite and from public projects' package-lock.yml files).
    #[test]
    fn hashes_hub_entries_as_dbt_does() {
        let s = specs("packages:\n  - package: fivetran/fivetran_utils\n    version: 0.4.7\n");
        assert_eq!(
            declaration_hash(&s),
            "71304bca2138cf8004070b3573a1e17183c0c1a8"
        );
        let s = specs(
            "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.3.0\", \"<2.0.0\"]\n  - package: metaplane/dbt_expectations\n    version: [\"0.10.9\", \"<0.11.0\"]\n",
        );
        assert_eq!(
            declaration_hash(&s),
            "99b5dbc472f0e7c9354857bc8019f84738f6faab"
        );
    }

    #[test]
    fn hashes_git_entries_as_dbt_does() {
        let s = specs(
            "packages:
  - git: https://github.com/dbt-labs/dbt-multipe-packages.git
    subdirectory: dbt-utils-main
    revision: v0.1.0
  - git: https://github.com/dbt-labs/dbt-multipe-packages.git
    subdirectory: dbt-date-main
    revision: v0.1.0
",
        );
        assert_eq!(
            declaration_hash(&s),
            "b9c8042f29446c55a33f9f211737f445a640c7a1"
        );
    }

    #[test]
    fn the_hash_follows_the_declaration_not_its_order() {
        let a = specs("packages:\n  - local: a\n  - local: b\n");
        let b = specs("packages:\n  - local: b\n  - local: a\n");
        let c = specs("packages:\n  - local: a\n  - local: c\n");
        assert_eq!(declaration_hash(&a), declaration_hash(&b));
        assert_ne!(declaration_hash(&a), declaration_hash(&c));
    }

    #[test]
    fn writes_json_as_python_does() {
        let v: Json = serde_json::json!({"b": [1, 1.0, 2.5, null, true], "a": "é\"\n"});
        assert_eq!(
            python_json(&v),
            r#"{"a": "\u00e9\"\n", "b": [1, 1.0, 2.5, null, true]}"#
        );
    }
}
