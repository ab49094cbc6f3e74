//! Prediction requests: JSON rows (`{"rows": [{"tenure": 3, "plan": "pro"}, ...]}`) or the
//! columnar form for batches (`{"columns": {"tenure": [3, 7], "plan": ["pro", "basic"]}}`),
//! checked against the model's input columns and their training types. Every problem is a 400
//! naming the field (`rows[2].tenure`); values become the [`FeatureValue`]s the model's
//! pipeline takes, so a served prediction is the same as `predict()` in SQL.
//!
//! A key beside `rows`/`columns` is refused (naming it), while features a model does not read
//! are ignored within a row or among the columns, as MLflow does: a client may send whole
//! records, ids included. [`parse_body`] is the whole step from bytes, never panicking on any
//! input (what a fuzz target calls).

use lakeforge_ml::FeatureValue;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// What a column's training type accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Number,
    Text,
    Bool,
    Date,
    Timestamp,
}

fn kind_of(arrow_type: &str) -> Kind {
    let t = arrow_type.to_ascii_lowercase();
    if t.starts_with("date") {
        Kind::Date
    } else if t.starts_with("timestamp") {
        Kind::Timestamp
    } else if t == "boolean" {
        Kind::Bool
    } else if t.contains("utf8") || t.contains("dictionary") || t.is_empty() {
        Kind::Text
    } else {
        Kind::Number
    }
}

/// An owned value; [`FeatureValue`] borrows its strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Num(f64),
    Int(i64),
    Text(String),
    Bool(bool),
    Epoch(i64),
}

impl Cell {
    pub fn as_feature(&self) -> FeatureValue<'_> {
        match self {
            Cell::Null => FeatureValue::Null,
            Cell::Num(v) => FeatureValue::Float(*v),
            Cell::Int(v) => FeatureValue::Int(*v),
            Cell::Text(s) => FeatureValue::Str(s),
            Cell::Bool(b) => FeatureValue::Bool(*b),
            Cell::Epoch(t) => FeatureValue::EpochSeconds(*t),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_time(s: &str, kind: Kind) -> Option<i64> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp());
    }
    if kind == Kind::Timestamp || kind == Kind::Date {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Some(t.timestamp());
        }
        for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
                return Some(t.and_utc().timestamp());
            }
        }
    }
    None
}

fn cell(v: &Value, kind: Kind, field: &dyn Fn() -> String) -> ApiResult<Cell> {
    let wrong = |expected: &str| {
        ApiError::bad(
            format!("{}: expected {expected}, got {}", field(), type_name(v)),
            field(),
        )
    };
    Ok(match (kind, v) {
        (_, Value::Null) => Cell::Null,
        (Kind::Number, Value::Number(n)) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => Cell::Num(n.as_f64().ok_or_else(|| wrong("a finite number"))?),
        },
        (Kind::Number, Value::Bool(b)) => Cell::Int(i64::from(*b)),
        (Kind::Number, _) => return Err(wrong("a number")),
        (Kind::Text, Value::String(s)) => Cell::Text(s.clone()),
        // A category written as a number ("plan": 3) is the same category as "3".
        (Kind::Text, Value::Number(n)) => Cell::Text(n.to_string()),
        (Kind::Text, Value::Bool(b)) => Cell::Text(b.to_string()),
        (Kind::Text, _) => return Err(wrong("a string")),
        (Kind::Bool, Value::Bool(b)) => Cell::Bool(*b),
        (Kind::Bool, _) => return Err(wrong("a boolean")),
        (Kind::Date | Kind::Timestamp, Value::String(s)) => {
            Cell::Epoch(parse_time(s, kind).ok_or_else(|| {
                ApiError::bad(
                    format!(
                        "{}: `{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time",
                        field()
                    ),
                    field(),
                )
            })?)
        }
        (Kind::Date | Kind::Timestamp, Value::Number(n)) => Cell::Epoch(
            n.as_i64()
                .ok_or_else(|| wrong("seconds since 1970 as an integer"))?,
        ),
        (Kind::Date | Kind::Timestamp, _) => return Err(wrong("a date string")),
    })
}

/// Rows of cells in the model's input order, from the bytes of a request body.
pub fn parse_body(
    body: &[u8],
    features: &[(String, String)],
    max_rows: usize,
) -> ApiResult<Vec<Vec<Cell>>> {
    let parsed: Value = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        message: format!("the body is not valid JSON: {e}"),
        field: None,
    })?;
    parse_rows(&parsed, features, max_rows)
}

/// Rows of cells in the model's input order, from a parsed request body.
pub fn parse_rows(
    body: &Value,
    features: &[(String, String)],
    max_rows: usize,
) -> ApiResult<Vec<Vec<Cell>>> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::BadRequest {
            message: format!(
                "the body must be a JSON object with `rows` (a list of objects) or `columns` (an object of lists), not {}",
                type_name(body)
            ),
            field: None,
        });
    };
    if let Some(unknown) = obj.keys().find(|k| *k != "rows" && *k != "columns") {
        return Err(ApiError::bad(
            format!("unknown field `{unknown}` (send `rows` or `columns`)"),
            unknown.clone(),
        ));
    }
    let kinds: Vec<Kind> = features.iter().map(|(_, t)| kind_of(t)).collect();
    match (obj.get("rows"), obj.get("columns")) {
        (Some(_), Some(_)) => Err(ApiError::BadRequest {
            message: "give either `rows` or `columns`, not both".into(),
            field: None,
        }),
        (Some(rows), None) => {
            let rows = rows
                .as_array()
                .ok_or_else(|| ApiError::bad("`rows` must be a list of objects", "rows"))?;
            if rows.len() > max_rows {
                return Err(ApiError::TooManyRows {
                    rows: rows.len(),
                    limit: max_rows,
                });
            }
            rows.iter()
                .enumerate()
                .map(|(i, row)| {
                    let row = row.as_object().ok_or_else(|| {
                        ApiError::bad(
                            format!("rows[{i}] must be an object of feature values, not {}", type_name(row)),
                            format!("rows[{i}]"),
                        )
                    })?;
                    features
                        .iter()
                        .zip(&kinds)
                        .map(|((name, _), kind)| {
                            let field = || format!("rows[{i}].{name}");
                            let v = row.get(name).ok_or_else(|| {
                                ApiError::bad(
                                    format!("{}: missing feature `{name}` (send null for a missing value)", field()),
                                    field(),
                                )
                            })?;
                            cell(v, *kind, &field)
                        })
                        .collect()
                })
                .collect()
        }
        (None, Some(columns)) => {
            let columns = columns
                .as_object()
                .ok_or_else(|| ApiError::bad("`columns` must be an object of lists", "columns"))?;
            let mut n: Option<usize> = None;
            let mut lists = Vec::with_capacity(features.len());
            for (name, _) in features {
                let field = format!("columns.{name}");
                let list = columns
                    .get(name)
                    .ok_or_else(|| {
                        ApiError::bad(format!("{field}: missing feature `{name}`"), field.clone())
                    })?
                    .as_array()
                    .ok_or_else(|| {
                        ApiError::bad(format!("{field} must be a list"), field.clone())
                    })?;
                match n {
                    None => n = Some(list.len()),
                    Some(m) if m != list.len() => {
                        return Err(ApiError::bad(
                            format!("{field} has {} values, other columns {m}", list.len()),
                            field,
                        ));
                    }
                    _ => {}
                }
                lists.push(list);
            }
            let n = n.unwrap_or(0);
            if n > max_rows {
                return Err(ApiError::TooManyRows {
                    rows: n,
                    limit: max_rows,
                });
            }
            (0..n)
                .map(|i| {
                    features
                        .iter()
                        .zip(&kinds)
                        .zip(&lists)
                        // Every list holds `n` values (checked above).
                        .map(|(((name, _), kind), list)| {
                            cell(&list[i], *kind, &|| format!("columns.{name}[{i}]"))
                        })
                        .collect()
                })
                .collect()
        }
        (None, None) => Err(ApiError::BadRequest {
            message: "the body has neither `rows` nor `columns`".into(),
            field: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn features() -> Vec<(String, String)> {
        vec![
            ("tenure".into(), "Int64".into()),
            ("plan".into(), "Utf8View".into()),
            ("signup".into(), "Date32".into()),
        ]
    }

    #[test]
    fn rows_and_columns_give_the_same_cells() {
        let rows =
            json!({"rows": [{"tenure": 3, "plan": "pro", "signup": "2024-01-02", "extra": 1}]});
        let cols = json!({"columns": {"tenure": [3], "plan": ["pro"], "signup": ["2024-01-02"]}});
        let a = parse_rows(&rows, &features(), 10).unwrap();
        assert_eq!(a, parse_rows(&cols, &features(), 10).unwrap());
        assert_eq!(
            a[0],
            vec![
                Cell::Int(3),
                Cell::Text("pro".into()),
                Cell::Epoch(1_704_153_600)
            ]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let f = features();
        let e = parse_rows(
            &json!({"rows": [{"tenure": "x", "plan": "a", "signup": null}]}),
            &f,
            10,
        )
        .unwrap_err();
        assert!(
            matches!(&e, ApiError::BadRequest { field: Some(x), .. } if x == "rows[0].tenure"),
            "{e}"
        );
        let e = parse_rows(&json!({"rows": [{"tenure": 1, "signup": null}]}), &f, 10).unwrap_err();
        assert!(e.to_string().contains("missing feature `plan`"), "{e}");
        let e = parse_rows(
            &json!({"columns": {"tenure": [1, 2], "plan": ["a"], "signup": [null, null]}}),
            &f,
            10,
        )
        .unwrap_err();
        assert!(e.to_string().contains("columns.plan has 1 values"), "{e}");
        let e = parse_rows(&json!({"rows": [{}, {}, {}]}), &f, 2).unwrap_err();
        assert!(matches!(e, ApiError::TooManyRows { rows: 3, limit: 2 }));
        let e = parse_rows(&json!([1]), &f, 2).unwrap_err();
        assert!(e.to_string().contains("must be a JSON object"), "{e}");
        let e = parse_rows(&json!({"rows": [], "row": []}), &f, 2).unwrap_err();
        assert!(
            matches!(&e, ApiError::BadRequest { field: Some(x), .. } if x == "row"),
            "{e}"
        );
        let e = parse_body(b"{\"rows\": [", &f, 2).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let e = parse_rows(
            &json!({"rows": [{"tenure": 1, "plan": "a", "signup": "soon"}]}),
            &f,
            2,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`soon` is not a date"), "{e}");
    }
}
