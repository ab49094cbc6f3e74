//! dbt snapshots (type-2 slowly changing dimensions), as declared: SQL files under
//! `snapshot-paths` holding one `{% snapshot name %} ... {% endsnapshot %}` block, or (dbt 1.9)
//! `snapshots:` entries of properties YAML naming a `relation:`. Loading turns each into a
//! `snapshot.<project>.<name>` node whose checked [`SnapshotSpec`] says how
//! `lakeforge-engine` (`snapshot.rs`) folds the query's rows into the history table.

use serde::{Deserialize, Serialize};

use crate::config::json_to_plain_string;
use crate::error::{ProjectError, Result};
use crate::node::NodeConfig;

/// How a changed row is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum SnapshotStrategy {
    /// A row changed when its `updated_at` is later than the current version's valid_from.
    Timestamp { updated_at: String },
    /// A row changed when one of `check_cols` differs; `None` is `'all'` (every column).
    Check { check_cols: Option<Vec<String>> },
}

/// What happens to the current version of a key that the query no longer returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HardDeletes {
    /// The row stays current (dbt's default).
    Ignore,
    /// The current version is closed: dbt_valid_to is set to the snapshot's time.
    Invalidate,
    /// The current version is closed and a new version with `dbt_is_deleted = 'True'` is added.
    NewRecord,
}

/// A snapshot's checked configuration, kept on its node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotSpec {
    pub unique_key: Vec<String>,
    #[serde(flatten)]
    pub strategy: SnapshotStrategy,
    pub hard_deletes: HardDeletes,
}

/// The meta columns dbt adds to every snapshot, in the order they are written.
pub const META_COLUMNS: [&str; 4] = [
    "dbt_scd_id",
    "dbt_updated_at",
    "dbt_valid_from",
    "dbt_valid_to",
];
/// Added when `hard_deletes: new_record`.
pub const IS_DELETED: &str = "dbt_is_deleted";

/// Split a snapshot file into its name and the SQL between the block tags.
pub fn parse_block(path: &str, text: &str) -> Result<(String, String)> {
    let err = |message: String| ProjectError::Config {
        path: path.into(),
        message,
    };
    let open = find_tag(text, "snapshot").ok_or_else(|| {
        err("no `{% snapshot name %}` block in this file\nhint: wrap the SELECT in `{% snapshot my_snapshot %}` ... `{% endsnapshot %}`".into())
    })?;
    let (start, end, args) = open;
    let name = args.trim().to_string();
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(err(format!(
            "`{{% snapshot {name} %}}` does not name the snapshot with an identifier\nhint: write `{{% snapshot my_snapshot %}}`"
        )));
    }
    let rest = &text[end..];
    let (close_start, close_end, _) = find_tag(rest, "endsnapshot").ok_or_else(|| {
        err(format!(
            "the block `{{% snapshot {name} %}}` is not closed\nhint: end it with `{{% endsnapshot %}}`"
        ))
    })?;
    let outside = format!("{}{}", &text[..start], &rest[close_end..]);
    if find_tag(&outside, "snapshot").is_some() {
        return Err(err(
            "more than one `{% snapshot %}` block in this file\nhint: put each snapshot in a file of its own".into(),
        ));
    }
    Ok((name, rest[..close_start].to_string()))
}

/// The first `{% <tag> args %}` (whitespace control `-` allowed): (start, end, args).
fn find_tag(text: &str, tag: &str) -> Option<(usize, usize, String)> {
    let mut from = 0;
    while let Some(i) = text[from..].find("{%") {
        let start = from + i;
        let close = text[start..].find("%}")? + start;
        let inner = text[start + 2..close]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        let word_end = inner
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inner.len());
        if &inner[..word_end] == tag {
            return Some((start, close + 2, inner[word_end..].to_string()));
        }
        from = close + 2;
    }
    None
}

/// Check a snapshot's merged config: unique_key, strategy with its column(s), hard deletes.
pub fn spec(config: &NodeConfig, path: &str, name: &str) -> Result<SnapshotSpec> {
    let err = |message: String| ProjectError::Config {
        path: path.into(),
        message: format!("snapshot `{name}`: {message}"),
    };
    let raw = &config.raw;
    let str_of = |key: &str| {
        raw.get(key)
            .filter(|v| !v.is_null())
            .map(json_to_plain_string)
    };
    if config.unique_key.is_empty() {
        return Err(err("no `unique_key` config: a snapshot needs the column(s) that identify a row\nhint: add unique_key='id' to the snapshot's config()".into()));
    }
    let strategy = match str_of("strategy").as_deref() {
        Some("timestamp") => SnapshotStrategy::Timestamp {
            updated_at: str_of("updated_at").ok_or_else(|| {
                err("strategy `timestamp` needs an `updated_at` config\nhint: add updated_at='<column holding the row's last change time>', or use strategy='check' with check_cols".into())
            })?,
        },
        Some("check") => {
            let check_cols = match raw.get("check_cols") {
                None | Some(serde_json::Value::Null) => {
                    return Err(err("strategy `check` needs a `check_cols` config\nhint: add check_cols=['col_a', 'col_b'], or check_cols='all'".into()));
                }
                Some(serde_json::Value::String(s)) if s == "all" => None,
                Some(serde_json::Value::Array(a)) if !a.is_empty() => Some(
                    a.iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| err(format!("check_cols must be a list of column names or 'all', not {}", serde_json::Value::Array(a.clone()))))?,
                ),
                Some(other) => {
                    return Err(err(format!(
                        "check_cols must be a list of column names or 'all', not {other}\nhint: write check_cols=['status'] or check_cols='all'"
                    )));
                }
            };
            SnapshotStrategy::Check { check_cols }
        }
        Some(other) => {
            return Err(err(format!(
                "unknown strategy `{other}`\nhint: use strategy='timestamp' (with updated_at) or strategy='check' (with check_cols)"
            )));
        }
        None => {
            return Err(err("no `strategy` config\nhint: add strategy='timestamp' with updated_at='<column>', or strategy='check' with check_cols".into()));
        }
    };
    let invalidate = match raw.get("invalidate_hard_deletes") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(other) => {
            return Err(err(format!(
                "invalidate_hard_deletes must be true or false, not {other}"
            )));
        }
    };
    let hard_deletes = match str_of("hard_deletes").as_deref() {
        None if invalidate => HardDeletes::Invalidate,
        None | Some("ignore") => HardDeletes::Ignore,
        Some("invalidate") => HardDeletes::Invalidate,
        Some("new_record") => HardDeletes::NewRecord,
        Some(other) => {
            return Err(err(format!(
                "unknown hard_deletes `{other}`\nhint: use ignore, invalidate or new_record"
            )));
        }
    };
    Ok(SnapshotSpec {
        unique_key: config.unique_key.clone(),
        strategy,
        hard_deletes,
    })
}

/// The SQL of a YAML snapshot: every column of its `relation:` (`source('s', 't')` or
/// `ref('m')`, as written).
pub fn relation_sql(path: &str, name: &str, relation: &str) -> Result<String> {
    let r = relation.trim();
    let ok = (r.starts_with("source(") || r.starts_with("ref(")) && r.ends_with(')');
    if !ok || r.contains("}}") {
        return Err(ProjectError::Config {
            path: path.into(),
            message: format!(
                "snapshot `{name}`: relation `{r}` is not a source() or ref()\nhint: write relation: source('my_source', 'my_table') or relation: ref('my_model')"
            ),
        });
    }
    Ok(format!("select * from {{{{ {r} }}}}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::build_config;
    use crate::node::Materialization;

    fn config(pairs: &[(&str, serde_json::Value)]) -> NodeConfig {
        let raw = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        build_config(raw, Materialization::Snapshot, "snapshots/s.sql").unwrap()
    }

    #[test]
    fn block_is_split_from_its_tags() {
        let text = "-- history\n{% snapshot orders_snap %}\n{{ config(unique_key='id') }}\nselect 1\n{%- endsnapshot %}\n";
        let (name, body) = parse_block("snapshots/a.sql", text).unwrap();
        assert_eq!(name, "orders_snap");
        assert_eq!(body, "\n{{ config(unique_key='id') }}\nselect 1\n");
    }

    #[test]
    fn block_errors_name_the_file() {
        let e = parse_block("snapshots/a.sql", "select 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("snapshots/a.sql") && e.contains("hint:"), "{e}");
        let e = parse_block("snapshots/a.sql", "{% snapshot s %} select 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not closed"), "{e}");
        let e = parse_block(
            "snapshots/a.sql",
            "{% snapshot a %}x{% endsnapshot %}{% snapshot b %}y{% endsnapshot %}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("more than one"), "{e}");
    }

    #[test]
    fn spec_reads_strategies_and_hard_deletes() {
        let s = spec(
            &config(&[
                ("unique_key", "id".into()),
                ("strategy", "timestamp".into()),
                ("updated_at", "updated_at".into()),
                ("invalidate_hard_deletes", true.into()),
            ]),
            "p",
            "s",
        )
        .unwrap();
        assert_eq!(
            s.strategy,
            SnapshotStrategy::Timestamp {
                updated_at: "updated_at".into()
            }
        );
        assert_eq!(s.hard_deletes, HardDeletes::Invalidate);
        let s = spec(
            &config(&[
                ("unique_key", serde_json::json!(["a", "b"])),
                ("strategy", "check".into()),
                ("check_cols", "all".into()),
                ("hard_deletes", "new_record".into()),
            ]),
            "p",
            "s",
        )
        .unwrap();
        assert_eq!(s.unique_key, vec!["a", "b"]);
        assert_eq!(s.strategy, SnapshotStrategy::Check { check_cols: None });
        assert_eq!(s.hard_deletes, HardDeletes::NewRecord);
    }

    #[test]
    fn spec_errors_have_hints() {
        for (pairs, needle) in [
            (vec![("strategy", "check".into())], "unique_key"),
            (vec![("unique_key", "id".into())], "strategy"),
            (
                vec![
                    ("unique_key", "id".into()),
                    ("strategy", "timestamp".into()),
                ],
                "updated_at",
            ),
            (
                vec![("unique_key", "id".into()), ("strategy", "check".into())],
                "check_cols",
            ),
            (
                vec![("unique_key", "id".into()), ("strategy", "newest".into())],
                "unknown strategy",
            ),
        ] {
            let e = spec(&config(&pairs), "snapshots/s.sql", "s")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(needle) && e.contains("hint:") && e.contains("snapshots/s.sql"),
                "{e}"
            );
        }
    }

    #[test]
    fn relation_must_be_source_or_ref() {
        assert_eq!(
            relation_sql("p", "s", "source('shop', 'orders')").unwrap(),
            "select * from {{ source('shop', 'orders') }}\n"
        );
        assert!(relation_sql("p", "s", "orders").is_err());
    }
}
