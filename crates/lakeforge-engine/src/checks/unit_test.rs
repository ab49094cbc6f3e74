//! Running dbt unit tests: the tested model's compiled SQL runs in a session of its own whose
//! catalog holds only the rows the test gives, under the names of the relations they stand
//! in for; its output is compared, as a multiset of rows, with the expected rows. The lake is
//! read only for the column types of the real inputs (as dbt asks the warehouse), and never
//! written.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use lakeforge_project::{Fixture, InputShape, Relation, UnitInput, UnitTestInput, UnitTestPlan};

use crate::error::{EngineError, Result};
use crate::session::{CATALOG, Engine};

/// Rows shown at most in a failure's diff.
const DIFF_ROWS: usize = 20;

#[derive(Debug, Clone)]
pub struct UnitTestOutcome {
    /// Expected rows the model did not return.
    pub missing: usize,
    /// Rows the model returned that were not expected.
    pub unexpected: usize,
    /// A table of the differing rows (`-` expected but missing, `+` returned but unexpected).
    pub diff: Option<String>,
}

impl UnitTestOutcome {
    pub fn passed(&self) -> bool {
        self.missing == 0 && self.unexpected == 0
    }
}

/// Run one unit test; `context` (the test's file and name) prefixes error messages.
pub async fn run_unit_test(
    engine: &Engine,
    context: &str,
    plan: &UnitTestPlan,
) -> Result<UnitTestOutcome> {
    let ctx = isolated_session(engine);
    for i in &plan.inputs {
        let shape = match real_schema(engine, &i.relation).await {
            Some(schema) => Some(schema),
            None => offline_schema(i)?,
        };
        let batch = input_batch(&ctx, context, &i.input, &i.fixture, shape.as_ref()).await?;
        register(&ctx, &i.relation, batch).map_err(|e| EngineError::sql(context, e))?;
    }

    let df = ctx
        .sql(&plan.sql)
        .await
        .map_err(|e| model_error(context, plan, e))?;
    let actual_schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let actual = df
        .collect()
        .await
        .map_err(|e| model_error(context, plan, e))?;
    let actual = arrow::compute::concat_batches(&actual_schema, &actual)
        .map_err(|e| EngineError::sql(context, e))?;

    let expected = match &plan.expect {
        Fixture::Rows { columns, rows } => {
            let mut fields = Vec::new();
            let mut arrays = Vec::new();
            for (i, name) in columns.iter().enumerate() {
                let (_, field) = find_column(&actual_schema, name)
                    .ok_or_else(|| expect_error(context, plan, name, &actual_schema))?;
                let text: StringArray = rows.iter().map(|r| r[i].clone()).collect();
                arrays.push(cast_text(&text, field.data_type()).map_err(|e| {
                    EngineError::sql(
                        context,
                        format!(
                            "expect, column `{name}`: {e} (the model returns {})",
                            field.data_type()
                        ),
                    )
                })?);
                fields.push(Field::new(field.name(), field.data_type().clone(), true));
            }
            batch_of(fields, arrays, rows.len()).map_err(|e| EngineError::sql(context, e))?
        }
        Fixture::Sql { sql } => {
            let (schema, batches) = collect(&ctx, sql)
                .await
                .map_err(|e| EngineError::sql(format!("{context}: expect"), e))?;
            let b = arrow::compute::concat_batches(&schema, &batches)
                .map_err(|e| EngineError::sql(context, e))?;
            let mut fields = Vec::new();
            let mut arrays = Vec::new();
            for (i, f) in schema.fields().iter().enumerate() {
                let (_, field) = find_column(&actual_schema, f.name())
                    .ok_or_else(|| expect_error(context, plan, f.name(), &actual_schema))?;
                arrays.push(
                    cast_with_options(b.column(i), field.data_type(), &strict()).map_err(|e| {
                        EngineError::sql(context, format!("expect, column `{}`: {e}", f.name()))
                    })?,
                );
                fields.push(Field::new(field.name(), field.data_type().clone(), true));
            }
            batch_of(fields, arrays, b.num_rows()).map_err(|e| EngineError::sql(context, e))?
        }
    };
    // Only the columns the test expects are compared, as in dbt.
    let mut projected = Vec::new();
    for f in expected.schema().fields() {
        // Every expected column was looked up in the actual schema above (a missing one was an
        // error naming it); the same error here keeps this lookup panic-free.
        let (i, _) = find_column(&actual_schema, f.name())
            .ok_or_else(|| expect_error(context, plan, f.name(), &actual_schema))?;
        projected.push(actual.column(i).clone());
    }
    let actual_rows = render_rows(&projected, actual.num_rows())?;
    let expected_rows = render_rows(expected.columns(), expected.num_rows())?;
    Ok(compare(
        expected
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        actual_rows,
        expected_rows,
    ))
}

/// A session with the engine's settings and functions but an empty in-memory catalog.
fn isolated_session(engine: &Engine) -> SessionContext {
    let state = engine.context().state();
    let default_schema = state.config().options().catalog.default_schema.clone();
    let config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG, &default_schema)
        .with_create_default_catalog_and_schema(true)
        .with_target_partitions(state.config().target_partitions());
    let ctx = SessionContext::new_with_config(config);
    // SQL UDFs registered on the engine (e.g. predict()) work in unit tests too.
    for udf in state.scalar_functions().values() {
        ctx.register_udf(udf.as_ref().clone());
    }
    ctx
}

/// The column types of the relation an input stands in for, when it exists in the lake.
async fn real_schema(engine: &Engine, relation: &Relation) -> Option<SchemaRef> {
    engine.stored(relation)?;
    let table = TableReference::full(
        CATALOG,
        relation.schema.as_str(),
        relation.identifier.as_str(),
    );
    engine
        .context()
        .table_provider(table)
        .await
        .ok()
        .map(|t| t.schema())
}

/// The columns of an input whose relation is not in the lake: a seed's as `lakeforge seed`
/// would type them, or those declared with a `data_type` in properties YAML (the given rows'
/// own columns are added to these with inferred types).
fn offline_schema(input: &UnitTestInput) -> Result<Option<SchemaRef>> {
    match &input.shape {
        InputShape::Seed {
            path,
            rel,
            delimiter,
            column_types,
        } => {
            let delimiter = lakeforge_seed::delimiter(rel, delimiter.as_deref())?;
            let (schema, _) = crate::write::seed::read_csv(path, rel, delimiter, column_types)?;
            Ok(Some(schema))
        }
        InputShape::Declared(columns) => {
            let typed: Vec<Field> = columns
                .iter()
                .filter_map(|c| {
                    let dt = c
                        .data_type
                        .as_deref()
                        .and_then(|t| crate::write::seed::sql_type(t).ok())?;
                    Some(Field::new(&c.name, dt, true))
                })
                .collect();
            if typed.is_empty() || typed.len() < columns.len() {
                return Ok(None);
            }
            Ok(Some(Arc::new(Schema::new(typed))))
        }
    }
}

async fn input_batch(
    ctx: &SessionContext,
    context: &str,
    input: &UnitInput,
    fixture: &Fixture,
    real: Option<&SchemaRef>,
) -> Result<RecordBatch> {
    let at = |m: String| EngineError::sql(format!("{context}: given {input}"), m);
    match fixture {
        Fixture::Sql { sql } => {
            let (schema, batches) = collect(ctx, sql).await.map_err(|e| at(e.to_string()))?;
            arrow::compute::concat_batches(&schema, &batches).map_err(|e| at(e.to_string()))
        }
        Fixture::Rows { columns, rows } => {
            let text = |i: usize| -> StringArray { rows.iter().map(|r| r[i].clone()).collect() };
            let mut fields = Vec::new();
            let mut arrays: Vec<ArrayRef> = Vec::new();
            match real {
                Some(schema) => {
                    for c in columns {
                        if find_column(schema, c).is_none() {
                            let names: Vec<&str> =
                                schema.fields().iter().map(|f| f.name().as_str()).collect();
                            return Err(at(format!(
                                "column `{c}` is not in the table (its columns: {})",
                                names.join(", ")
                            )));
                        }
                    }
                    // Columns the test leaves out are null, with the table's types.
                    for f in schema.fields() {
                        let pos = columns
                            .iter()
                            .position(|c| c.eq_ignore_ascii_case(f.name()));
                        let array = match pos {
                            Some(i) => cast_text(&text(i), f.data_type())
                                .map_err(|e| at(format!("column `{}`: {e}", f.name())))?,
                            None => new_null_array(f.data_type(), rows.len()),
                        };
                        fields.push(Field::new(f.name(), f.data_type().clone(), true));
                        arrays.push(array);
                    }
                }
                None => {
                    for (i, c) in columns.iter().enumerate() {
                        let t = text(i);
                        let dt = infer_type(&t);
                        arrays.push(
                            cast_text(&t, &dt).map_err(|e| at(format!("column `{c}`: {e}")))?,
                        );
                        fields.push(Field::new(c, dt, true));
                    }
                }
            }
            batch_of(fields, arrays, rows.len()).map_err(|e| at(e.to_string()))
        }
    }
}

fn register(
    ctx: &SessionContext,
    relation: &Relation,
    batch: RecordBatch,
) -> datafusion::error::Result<()> {
    // The session was built here with CATALOG as its default catalog.
    let Some(catalog) = ctx.catalog(CATALOG) else {
        return Err(datafusion::error::DataFusionError::Internal(format!(
            "the unit test's session has no catalog `{CATALOG}`"
        )));
    };
    if catalog.schema(&relation.schema).is_none() {
        catalog.register_schema(&relation.schema, Arc::new(MemorySchemaProvider::new()))?;
    }
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.register_table(
        TableReference::full(
            CATALOG,
            relation.schema.as_str(),
            relation.identifier.as_str(),
        ),
        Arc::new(table),
    )?;
    Ok(())
}

async fn collect(
    ctx: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<(SchemaRef, Vec<RecordBatch>)> {
    let df = ctx.sql(sql).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    Ok((schema, df.collect().await?))
}

fn batch_of(
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
    rows: usize,
) -> arrow::error::Result<RecordBatch> {
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
}

fn find_column<'a>(schema: &'a Schema, name: &str) -> Option<(usize, &'a Field)> {
    schema
        .fields()
        .iter()
        .enumerate()
        .find(|(_, f)| f.name() == name)
        .or_else(|| {
            schema
                .fields()
                .iter()
                .enumerate()
                .find(|(_, f)| f.name().eq_ignore_ascii_case(name))
        })
        .map(|(i, f)| (i, f.as_ref()))
}

fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..Default::default()
    }
}

/// A text cell of a fixture that is not a value of its column's type.
#[derive(Debug, thiserror::Error)]
enum CastError {
    #[error("`{value}` (row {row}) is not a valid {data_type}")]
    Cell {
        value: String,
        row: usize,
        data_type: DataType,
    },
    #[error("{0}")]
    Arrow(#[source] arrow::error::ArrowError),
}

/// Text cells to `dt`; a cell that does not parse is an error, never a silent null.
fn cast_text(text: &StringArray, dt: &DataType) -> std::result::Result<ArrayRef, CastError> {
    cast_with_options(text, dt, &strict()).map_err(|e| {
        let bad = (0..text.len())
            .filter(|&i| !text.is_null(i))
            .find(|&i| cast_with_options(&text.slice(i, 1), dt, &strict()).is_err());
        match bad {
            Some(i) => CastError::Cell {
                value: text.value(i).to_string(),
                row: i + 1,
                data_type: dt.clone(),
            },
            None => CastError::Arrow(e),
        }
    })
}

/// Types for an input with no table in the lake: integer, float, boolean, else text.
fn infer_type(text: &StringArray) -> DataType {
    let values: Vec<&str> = text.iter().flatten().collect();
    if values.is_empty() {
        return DataType::Utf8;
    }
    if values.iter().all(|v| v.parse::<i64>().is_ok()) {
        DataType::Int64
    } else if values.iter().all(|v| v.parse::<f64>().is_ok()) {
        DataType::Float64
    } else if values
        .iter()
        .all(|v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"))
    {
        DataType::Boolean
    } else {
        DataType::Utf8
    }
}

fn render_rows(columns: &[ArrayRef], n: usize) -> Result<Vec<Vec<String>>> {
    let options = FormatOptions::default().with_null("null");
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok((0..n)
        .map(|i| formatters.iter().map(|f| f.value(i).to_string()).collect())
        .collect())
}

/// Compare two multisets of rows and describe the difference.
fn compare(
    columns: Vec<String>,
    actual: Vec<Vec<String>>,
    expected: Vec<Vec<String>>,
) -> UnitTestOutcome {
    let mut balance: HashMap<Vec<String>, i64> = HashMap::new();
    for r in actual {
        *balance.entry(r).or_default() += 1;
    }
    for r in expected {
        *balance.entry(r).or_default() -= 1;
    }
    let mut diff: Vec<(&'static str, Vec<String>)> = Vec::new();
    let (mut missing, mut unexpected) = (0, 0);
    for (row, n) in balance {
        let sign = if n > 0 { "+" } else { "-" };
        for _ in 0..n.unsigned_abs() {
            if n > 0 {
                unexpected += 1;
            } else {
                missing += 1;
            }
            diff.push((sign, row.clone()));
        }
    }
    if diff.is_empty() {
        return UnitTestOutcome {
            missing,
            unexpected,
            diff: None,
        };
    }
    // Rows sorted by content, so a changed row shows as a `-` and a `+` next to each other.
    diff.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)));
    let shown = diff.len().min(DIFF_ROWS);
    let mut table = diff_table(&columns, &diff[..shown]);
    if diff.len() > shown {
        table.push_str(&format!(
            "\n... and {} more differing rows",
            diff.len() - shown
        ));
    }
    UnitTestOutcome {
        missing,
        unexpected,
        diff: Some(table),
    }
}

/// The diff as a text table through arrow's pretty printer.
fn diff_table(columns: &[String], rows: &[(&str, Vec<String>)]) -> String {
    let mut fields = vec![Field::new("diff", DataType::Utf8, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
        rows.iter().map(|r| r.0),
    ))];
    for (i, c) in columns.iter().enumerate() {
        fields.push(Field::new(c, DataType::Utf8, false));
        arrays.push(Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.1[i].as_str()),
        )));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .ok()
        .and_then(|b| arrow::util::pretty::pretty_format_batches(&[b]).ok())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn model_error(context: &str, plan: &UnitTestPlan, e: impl std::fmt::Display) -> EngineError {
    let mut message = e.to_string();
    if message.contains("not found") {
        message.push_str(&format!(
            "\nhint: a unit test sees only its given inputs; give every relation model `{}` reads (`input: this` for {{{{ this }}}} under is_incremental())",
            plan.model
        ));
    }
    EngineError::sql(format!("{context}: model `{}`", plan.model), message)
}

fn expect_error(context: &str, plan: &UnitTestPlan, column: &str, actual: &Schema) -> EngineError {
    let names: Vec<&str> = actual.fields().iter().map(|f| f.name().as_str()).collect();
    EngineError::sql(
        context,
        format!(
            "expect: column `{column}` is not in the output of model `{}` (its columns: {})",
            plan.model,
            names.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn equal_multisets_pass_whatever_the_order() {
        let out = compare(
            vec!["id".into()],
            rows(&[&["1"], &["2"], &["2"]]),
            rows(&[&["2"], &["1"], &["2"]]),
        );
        assert!(out.passed());
        assert!(out.diff.is_none());
    }

    #[test]
    fn duplicates_count_and_the_diff_names_both_sides() {
        let out = compare(
            vec!["id".into(), "v".into()],
            rows(&[&["1", "a"], &["1", "a"], &["2", "x"]]),
            rows(&[&["1", "a"], &["2", "b"]]),
        );
        assert_eq!((out.missing, out.unexpected), (1, 2));
        let diff = out.diff.unwrap();
        assert!(diff.contains("| - "), "{diff}");
        assert!(diff.contains("| + "), "{diff}");
        assert!(diff.contains("| b "), "{diff}");
    }

    #[test]
    fn inference_and_strict_casts() {
        let ints: StringArray = vec![Some("1"), None, Some("-3")].into_iter().collect();
        assert_eq!(infer_type(&ints), DataType::Int64);
        let floats: StringArray = vec![Some("1"), Some("2.5")].into_iter().collect();
        assert_eq!(infer_type(&floats), DataType::Float64);
        let bools: StringArray = vec![Some("true"), Some("False")].into_iter().collect();
        assert_eq!(infer_type(&bools), DataType::Boolean);
        let text: StringArray = vec![Some("1"), Some("a")].into_iter().collect();
        assert_eq!(infer_type(&text), DataType::Utf8);
        let err = cast_text(&text, &DataType::Int64).unwrap_err().to_string();
        assert!(err.contains("`a` (row 2)"), "{err}");
    }
}
