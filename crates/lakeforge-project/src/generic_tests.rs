//! Built-in generic data tests: dbt's four (not_null, unique, accepted_values, relationships)
//! and the expectations users otherwise install dbt_utils or dbt_expectations for, under the
//! names and arguments those packages use (`dbt_utils.accepted_range`, ...; the package
//! prefix is optional). Each becomes a query returning the failing rows.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ProjectError;
use crate::config::json_to_plain_string;
use crate::node::quote_ident;

/// Why a built-in test's arguments make no SQL. The compiler adds the test's name and file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GenericTestError {
    #[error("needs a column\nhint: declare the test under a column, or pass column_name")]
    NoColumn,

    #[error("needs the argument `{0}`")]
    Missing(String),

    #[error("`{key}` must be a non-empty list of columns, not {value}")]
    NotColumns { key: String, value: Value },

    #[error("needs a non-empty `{0}:` list")]
    NoValues(&'static str),

    #[error("needs `min_value`, `max_value` or both")]
    NoBounds,

    #[error("`gaps` must be allowed, not_allowed or required, not `{0}`")]
    Gaps(String),

    #[error("`column_type_list` must be a list, not {0}")]
    NotTypeList(Value),

    #[error(
        "unknown column type `{0}`\nhint: use e.g. bigint, integer, double, decimal, varchar, boolean, date, timestamp"
    )]
    UnknownType(String),

    #[error("`{0}` is not a built-in test")]
    NotBuiltin(String),

    /// A relationships test's `to:` did not render.
    #[error(transparent)]
    To(#[from] Box<ProjectError>),
}

type Result<T, E = GenericTestError> = std::result::Result<T, E>;

/// Renders a relationships test's `to:` (Jinja) into a relation.
pub(crate) type RenderTo<'a> = dyn Fn(&str) -> std::result::Result<String, ProjectError> + 'a;

/// What a test's SQL is built from.
pub(crate) struct TestInput<'a> {
    /// The tested relation, or a filtered subquery of it when the test has `where:`.
    pub model: String,
    /// The tested column as written in YAML (unquoted).
    pub column: Option<String>,
    pub args: &'a BTreeMap<String, Value>,
}

/// Names of the built-in tests, for error messages.
pub const BUILTIN: &[&str] = &[
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "accepted_range",
    "expression_is_true",
    "unique_combination_of_columns",
    "not_empty",
    "not_empty_string",
    "at_least_one",
    "not_constant",
    "not_null_proportion",
    "recency",
    "sequential_values",
    "mutually_exclusive_ranges",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_table_row_count_to_be_between",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_unique",
];

pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTIN.contains(&name)
}

impl TestInput<'_> {
    fn col(&self) -> Result<String> {
        self.column
            .clone()
            .or_else(|| self.args.get("column_name").map(json_to_plain_string))
            .map(|c| quote_ident(&c))
            .ok_or(GenericTestError::NoColumn)
    }

    pub(crate) fn column_ident(&self) -> Result<String> {
        self.col()
    }

    pub(crate) fn column_list(&self, key: &str) -> Result<Vec<String>> {
        self.columns(key)
    }

    fn arg(&self, key: &str) -> Option<&Value> {
        self.args.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &str) -> Result<&Value> {
        self.arg(key)
            .ok_or_else(|| GenericTestError::Missing(key.to_string()))
    }

    fn literal(&self, key: &str) -> Result<String> {
        Ok(sql_literal(self.required(key)?))
    }

    fn opt_literal(&self, key: &str) -> Option<String> {
        self.arg(key).map(sql_literal)
    }

    fn flag(&self, key: &str, default: bool) -> bool {
        self.arg(key).and_then(Value::as_bool).unwrap_or(default)
    }

    fn columns(&self, key: &str) -> Result<Vec<String>> {
        match self.required(key)? {
            Value::Array(a) if !a.is_empty() => Ok(a
                .iter()
                .map(|c| quote_ident(&json_to_plain_string(c)))
                .collect()),
            other => Err(GenericTestError::NotColumns {
                key: key.to_string(),
                value: other.clone(),
            }),
        }
    }
}

/// A YAML value as SQL: numbers and booleans as they are, strings quoted.
fn sql_literal(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => format!("'{}'", json_to_plain_string(other).replace('\'', "''")),
    }
}

/// SQL for a built-in test. `to_relation` renders a relationships test's `to:` (Jinja).
pub(crate) fn builtin_sql(
    name: &str,
    t: &TestInput<'_>,
    to_relation: &RenderTo<'_>,
) -> Result<String> {
    let model = &t.model;
    Ok(match name {
        "not_null" | "expect_column_values_to_not_be_null" => {
            format!("select * from {model} where {c} is null", c = t.col()?)
        }
        "unique" | "expect_column_values_to_be_unique" => format!(
            "select {c} as unique_field, count(*) as n_records from {model} where {c} is not null group by {c} having count(*) > 1",
            c = t.col()?
        ),
        "accepted_values" | "expect_column_values_to_be_in_set" => format!(
            "select value_field, count(*) as n_records from (select {c} as value_field from {model}) all_values where value_field is not null and cast(value_field as varchar) not in ({}) group by value_field",
            accepted_list(name, t)?,
            c = t.col()?
        ),
        "relationships" => {
            let to = json_to_plain_string(t.required("to")?);
            let field = quote_ident(&json_to_plain_string(t.required("field")?));
            let to_rel = to_relation(&to).map_err(Box::new)?;
            format!(
                "select child.from_field from (select {c} as from_field from {model} where {c} is not null) child left join (select {field} as to_field from {to_rel}) parent on child.from_field = parent.to_field where parent.to_field is null",
                c = t.col()?
            )
        }
        "accepted_range" | "expect_column_values_to_be_between" => {
            format!("select * from {model} where {}", range_failure(t)?)
        }
        "expression_is_true" => {
            let e = json_to_plain_string(t.required("expression")?);
            match t.column.as_ref() {
                Some(c) => format!("select * from {model} where not ({} {e})", quote_ident(c)),
                None => format!("select * from {model} where not ({e})"),
            }
        }
        "unique_combination_of_columns" => {
            let cols = t.columns("combination_of_columns")?.join(", ");
            format!(
                "select {cols}, count(*) as n_records from {model} group by {cols} having count(*) > 1"
            )
        }
        "not_empty" => format!(
            "select * from (select count(*) as row_count from {model}) c where row_count = 0"
        ),
        "expect_table_row_count_to_be_between" => {
            let mut conds = Vec::new();
            if let Some(m) = t.opt_literal("min_value") {
                conds.push(format!("row_count < {m}"));
            }
            if let Some(m) = t.opt_literal("max_value") {
                conds.push(format!("row_count > {m}"));
            }
            if conds.is_empty() {
                return Err(GenericTestError::NoBounds);
            }
            format!(
                "select * from (select count(*) as row_count from {model}) c where {}",
                conds.join(" or ")
            )
        }
        "not_empty_string" => format!(
            "select {c} from {model} where {}",
            empty_string_failure(t)?,
            c = t.col()?
        ),
        "at_least_one" => format!(
            "select * from (select count({c}) as filler from {model}) c where filler = 0",
            c = t.col()?
        ),
        "not_constant" => format!(
            "select * from (select count(distinct {c}) as distinct_values, count(*) as row_count from {model}) c where row_count > 0 and distinct_values <= 1",
            c = t.col()?
        ),
        "not_null_proportion" => {
            let at_least = t.literal("at_least")?;
            let at_most = t.opt_literal("at_most").unwrap_or_else(|| "1.0".into());
            format!(
                "select * from (select cast(count({c}) as double) / nullif(count(*), 0) as not_null_proportion from {model}) p where not_null_proportion < {at_least} or not_null_proportion > {at_most}",
                c = t.col()?
            )
        }
        "recency" => {
            let field = quote_ident(&json_to_plain_string(t.required("field")?));
            let datepart = json_to_plain_string(t.required("datepart")?);
            let interval = json_to_plain_string(t.required("interval")?);
            format!(
                "select * from (select max(cast({field} as timestamp)) as most_recent, cast(now() as timestamp) - interval '{interval} {datepart}' as threshold from {model}) r where most_recent is null or most_recent < threshold"
            )
        }
        "sequential_values" => {
            let c = t.col()?;
            let step = t
                .arg("interval")
                .map(json_to_plain_string)
                .unwrap_or_else(|| "1".into());
            let next = match t.arg("datepart") {
                Some(d) => format!(
                    "previous_value + interval '{step} {}'",
                    json_to_plain_string(d)
                ),
                None => format!("previous_value + {step}"),
            };
            let partition = match t.arg("group_by_columns") {
                Some(_) => format!(
                    "partition by {} ",
                    t.columns("group_by_columns")?.join(", ")
                ),
                None => String::new(),
            };
            format!(
                "select * from (select {c} as value_field, lag({c}) over ({partition}order by {c}) as previous_value from {model}) w where previous_value is not null and value_field <> {next}"
            )
        }
        "mutually_exclusive_ranges" => {
            let lower = quote_ident(&json_to_plain_string(t.required("lower_bound_column")?));
            let upper = quote_ident(&json_to_plain_string(t.required("upper_bound_column")?));
            let partition = match t.arg("partition_by") {
                Some(p) => format!("partition by {} ", quote_ident(&json_to_plain_string(p))),
                None => String::new(),
            };
            let gap = match t.arg("gaps").map(json_to_plain_string).as_deref() {
                None | Some("allowed") => "upper_bound <= next_lower_bound",
                Some("not_allowed") => "upper_bound = next_lower_bound",
                Some("required") => "upper_bound < next_lower_bound",
                Some(other) => {
                    return Err(GenericTestError::Gaps(other.to_string()));
                }
            };
            let width = if t.flag("zero_length_range_allowed", false) {
                "<="
            } else {
                "<"
            };
            format!(
                "select * from (select {lower} as lower_bound, {upper} as upper_bound, lead({lower}) over ({partition}order by {lower}, {upper}) as next_lower_bound from {model}) w where not (lower_bound {width} upper_bound and (next_lower_bound is null or {gap}))"
            )
        }
        "expect_column_values_to_match_regex" | "expect_column_values_to_not_match_regex" => {
            format!("select * from {model} where {}", regex_failure(name, t)?)
        }
        "expect_column_values_to_be_of_type" | "expect_column_values_to_be_in_type_list" => {
            let wanted: Vec<String> = if name.ends_with("of_type") {
                vec![json_to_plain_string(t.required("column_type")?)]
            } else {
                match t.required("column_type_list")? {
                    Value::Array(a) => a.iter().map(json_to_plain_string).collect(),
                    other => return Err(GenericTestError::NotTypeList(other.clone())),
                }
            };
            let mut patterns = Vec::new();
            for w in &wanted {
                patterns.extend(
                    arrow_type_patterns(w)
                        .ok_or_else(|| GenericTestError::UnknownType(w.clone()))?,
                );
            }
            let c = t.col()?;
            let conds: Vec<String> = patterns
                .iter()
                .map(|p| format!("arrow_typeof({c}) not like '{p}'"))
                .collect();
            format!(
                "select distinct arrow_typeof({c}) as actual_type from {model} where {}",
                conds.join(" and ")
            )
        }
        other => return Err(GenericTestError::NotBuiltin(other.to_string())),
    })
}

/// The quoted value list of accepted_values / expect_column_values_to_be_in_set.
fn accepted_list(name: &str, t: &TestInput<'_>) -> Result<String> {
    let key = if name == "accepted_values" {
        "values"
    } else {
        "value_set"
    };
    let values = match t.arg(key) {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        _ => return Err(GenericTestError::NoValues(key)),
    };
    let quote = t.flag("quote", true);
    Ok(values
        .iter()
        .map(|v| {
            let s = json_to_plain_string(v);
            if quote {
                format!("'{}'", s.replace('\'', "''"))
            } else {
                format!("cast({s} as varchar)")
            }
        })
        .collect::<Vec<_>>()
        .join(", "))
}

/// True for a row outside accepted_range (dbt_utils says `inclusive`, dbt_expectations `strictly`).
fn range_failure(t: &TestInput<'_>) -> Result<String> {
    let c = t.col()?;
    let (min, max) = (t.opt_literal("min_value"), t.opt_literal("max_value"));
    if min.is_none() && max.is_none() {
        return Err(GenericTestError::NoBounds);
    }
    let inclusive = t.flag("inclusive", !t.flag("strictly", false));
    let (lo, hi) = if inclusive { (">=", "<=") } else { (">", "<") };
    let mut conds = Vec::new();
    if let Some(m) = min {
        conds.push(format!("not ({c} {lo} {m})"));
    }
    if let Some(m) = max {
        conds.push(format!("not ({c} {hi} {m})"));
    }
    Ok(conds.join(" or "))
}

fn regex_failure(name: &str, t: &TestInput<'_>) -> Result<String> {
    let c = t.col()?;
    let regex = json_to_plain_string(t.required("regex")?).replace('\'', "''");
    let call = match t.arg("flags").map(json_to_plain_string) {
        Some(f) => format!("regexp_like({c}, '{regex}', '{f}')"),
        None => format!("regexp_like({c}, '{regex}')"),
    };
    let bad = if name.contains("_not_") {
        call
    } else {
        format!("not {call}")
    };
    Ok(format!("{c} is not null and {bad}"))
}

fn empty_string_failure(t: &TestInput<'_>) -> Result<String> {
    let c = t.col()?;
    Ok(if t.flag("trim_whitespace", true) {
        format!("trim({c}) = ''")
    } else {
        format!("{c} = ''")
    })
}

/// SQL type names users write, as the Arrow type names DataFusion reports (LIKE patterns).
fn arrow_type_patterns(sql_type: &str) -> Option<Vec<&'static str>> {
    let base = sql_type.trim().to_ascii_lowercase();
    let base = base.split('(').next().unwrap_or("").trim().to_string();
    Some(match base.as_str() {
        "bigint" | "int8" | "long" => vec!["Int64"],
        "int" | "integer" | "int4" => vec!["Int32"],
        "smallint" | "int2" => vec!["Int16"],
        "tinyint" => vec!["Int8"],
        "double" | "float8" | "float" | "double precision" => vec!["Float64"],
        "real" | "float4" => vec!["Float32"],
        "decimal" | "numeric" => vec!["Decimal%"],
        "varchar" | "text" | "string" | "char" => vec!["Utf8", "Utf8View", "LargeUtf8"],
        "boolean" | "bool" => vec!["Boolean"],
        "date" => vec!["Date32", "Date64"],
        "timestamp" | "datetime" | "timestamp_ntz" | "timestamptz" => vec!["Timestamp%"],
        _ => return None,
    })
}

/// For tests that judge rows one at a time, the condition that makes a row fail, used to route
/// failing rows to quarantine. Tests over groups or whole tables (unique, row counts, ...)
/// have none.
pub(crate) fn row_failure_predicate(
    name: &str,
    t: &TestInput<'_>,
    to_relation: &RenderTo<'_>,
) -> Option<Result<String>> {
    let p = || -> Result<Option<String>> {
        Ok(Some(match name {
            "not_null" | "expect_column_values_to_not_be_null" => format!("{} is null", t.col()?),
            "accepted_values" | "expect_column_values_to_be_in_set" => format!(
                "{c} is not null and cast({c} as varchar) not in ({})",
                accepted_list(name, t)?,
                c = t.col()?
            ),
            "accepted_range" | "expect_column_values_to_be_between" => range_failure(t)?,
            "expect_column_values_to_match_regex" | "expect_column_values_to_not_match_regex" => {
                regex_failure(name, t)?
            }
            "not_empty_string" => empty_string_failure(t)?,
            "expression_is_true" => {
                let e = json_to_plain_string(t.required("expression")?);
                match t.column.as_ref() {
                    Some(c) => format!("not ({} {e})", quote_ident(c)),
                    None => format!("not ({e})"),
                }
            }
            "relationships" => {
                let to = to_relation(&json_to_plain_string(t.required("to")?)).map_err(Box::new)?;
                let field = quote_ident(&json_to_plain_string(t.required("field")?));
                format!(
                    "{c} is not null and {c} not in (select {field} from {to} where {field} is not null)",
                    c = t.col()?
                )
            }
            _ => return Ok(None),
        }))
    };
    p().transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(name: &str, column: Option<&str>, args: serde_json::Value) -> Result<String> {
        let args: BTreeMap<String, Value> = serde_json::from_value(args).unwrap();
        let t = TestInput {
            model: "main.t".into(),
            column: column.map(str::to_string),
            args: &args,
        };
        builtin_sql(name, &t, &|s| Ok(format!("<{s}>")))
    }

    #[test]
    fn range_and_expression() {
        assert_eq!(
            sql(
                "accepted_range",
                Some("x"),
                serde_json::json!({"min_value": 0, "max_value": 10, "inclusive": false})
            )
            .unwrap(),
            "select * from main.t where not (x > 0) or not (x < 10)"
        );
        assert_eq!(
            sql(
                "expression_is_true",
                None,
                serde_json::json!({"expression": "a + b = c"})
            )
            .unwrap(),
            "select * from main.t where not (a + b = c)"
        );
    }

    #[test]
    fn errors_name_the_missing_argument() {
        assert_eq!(
            sql("not_null_proportion", Some("x"), serde_json::json!({}))
                .unwrap_err()
                .to_string(),
            "needs the argument `at_least`"
        );
        assert!(
            sql("not_null", None, serde_json::json!({}))
                .unwrap_err()
                .to_string()
                .starts_with("needs a column")
        );
        assert!(
            sql(
                "expect_column_values_to_be_of_type",
                Some("x"),
                serde_json::json!({"column_type": "blob"})
            )
            .unwrap_err()
            .to_string()
            .contains("unknown column type `blob`")
        );
    }
}
