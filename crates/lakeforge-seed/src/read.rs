//! Reading a seed: the CSV is read twice, once to infer each column's type (unless
//! `column_types` names it) and once to build the Arrow batches, so a file is never held in
//! memory whole. The first pass also notes where every batch's first record starts, so the
//! second builds the batches on all cores at once, each from its own reader seeked to its start
//! (a record may hold quoted line breaks, so only a pass that parsed every record knows where
//! they begin). The first error in file order stops the read.

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema, SchemaRef};
use rayon::prelude::*;

use crate::columns::{finish_batch, new_builders};
use crate::infer::{Inferred, infer_one, inferred_type, widen};
use crate::{Result, SeedError, sql_type};

const BATCH_ROWS: usize = 64 * 1024;
/// The CSV reader's buffer: large reads, since every batch's reader reads its own part.
const READ_BUFFER: usize = 256 * 1024;

/// The seed's `delimiter:` as the one byte the CSV reader splits on (`,` when unset). `path`
/// names the seed in the error.
pub fn delimiter(path: &str, configured: Option<&str>) -> Result<u8> {
    match configured {
        None => Ok(b','),
        Some(d) if d.len() == 1 && d.is_ascii() => Ok(d.as_bytes()[0]),
        Some("\\t") => Ok(b'\t'),
        Some(d) => Err(SeedError::invalid(
            path,
            0,
            None,
            format!(
                "the seed's delimiter `{d}` is not one ASCII character\nhint: set `delimiter:` in the seed's config to e.g. \",\", \";\", \"|\" or \"\\t\""
            ),
        )),
    }
}

/// Read the seed CSV at `path` (named `rel` in errors, as the project names it) into its schema
/// and batches (none when the file has only a header).
pub fn read_csv(
    path: &Path,
    rel: &str,
    delimiter: u8,
    column_types: &BTreeMap<String, String>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    read_twice(
        || {
            std::fs::File::open(path).map_err(|source| SeedError::Open {
                path: rel.into(),
                source,
            })
        },
        rel,
        delimiter,
        column_types,
    )
}

/// [`read_csv`] over a seed's bytes already in memory.
pub fn parse_csv(
    bytes: &[u8],
    rel: &str,
    delimiter: u8,
    column_types: &BTreeMap<String, String>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    read_twice(
        || Ok(std::io::Cursor::new(bytes)),
        rel,
        delimiter,
        column_types,
    )
}

/// The two passes over the CSV that `open` gives from its start each time it is called (once
/// for the first pass, once per batch for the second, from any thread).
fn read_twice<R: Read + Seek>(
    open: impl Fn() -> Result<R> + Sync,
    rel: &str,
    delimiter: u8,
    column_types: &BTreeMap<String, String>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let reader = |input: R, has_headers: bool| {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(has_headers)
            .flexible(false)
            .buffer_capacity(READ_BUFFER)
            .from_reader(input)
    };
    let mut rdr = reader(open()?, true);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| SeedError::csv(rel, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
        return Err(SeedError::invalid(
            rel,
            1,
            None,
            "no header row\nhint: the first line must name the columns",
        ));
    }
    if let Some((i, _)) = headers.iter().enumerate().find(|(_, h)| h.is_empty()) {
        return Err(SeedError::invalid(
            rel,
            1,
            Some(format!("#{}", i + 1)),
            "empty column name in the header",
        ));
    }
    for name in column_types.keys() {
        if !headers.contains(name) {
            return Err(SeedError::invalid(
                rel,
                1,
                Some(name.clone()),
                format!(
                    "column_types names a column the file does not have (it has: {})",
                    headers.join(", ")
                ),
            ));
        }
    }
    let mut inferred = vec![Inferred::Null; headers.len()];
    let mut record = csv::StringRecord::new();
    // Where each batch's first record starts: its byte offset and line, for the second pass.
    let mut batch_starts = Vec::new();
    let mut rows = 0usize;
    while rdr
        .read_record(&mut record)
        .map_err(|e| SeedError::csv(rel, e))?
    {
        if rows.is_multiple_of(BATCH_ROWS) {
            let start = record.position().cloned().ok_or_else(|| {
                SeedError::invalid(rel, 0, None, "the CSV reader lost its position")
            })?;
            batch_starts.push(start);
        }
        rows += 1;
        for (i, v) in record.iter().enumerate() {
            if inferred[i] != Inferred::Text {
                inferred[i] = widen(inferred[i], infer_one(v));
            }
        }
    }
    let mut fields = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let t = match column_types.get(h) {
            Some(t) => sql_type(t).map_err(|reason| SeedError::ColumnType {
                path: rel.into(),
                column: h.clone(),
                reason,
            })?,
            None => inferred_type(inferred[i]),
        };
        fields.push(Field::new(h, t, true));
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));

    let read_batch = |start: &csv::Position| -> Result<RecordBatch> {
        let mut rdr = reader(open()?, false);
        rdr.seek(start.clone())
            .map_err(|e| SeedError::csv(rel, e))?;
        let mut record = csv::StringRecord::new();
        let mut builders = new_builders(rel, &schema)?;
        while builders[0].len() < BATCH_ROWS
            && rdr
                .read_record(&mut record)
                .map_err(|e| SeedError::csv(rel, e))?
        {
            let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
            for (i, v) in record.iter().enumerate() {
                builders[i].append(v).map_err(|reason| SeedError::Value {
                    path: rel.into(),
                    line,
                    column: headers[i].clone(),
                    reason,
                })?;
            }
        }
        finish_batch(rel, &schema, &mut builders)
    };
    let batches: Vec<Result<RecordBatch>> = batch_starts.par_iter().map(read_batch).collect();
    // In file order, so the error reported is the first one, whichever thread found it.
    let batches = batches.into_iter().collect::<Result<Vec<_>>>()?;
    Ok((schema, batches))
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, TimeUnit};

    use super::*;

    fn parse(
        content: &str,
        column_types: &BTreeMap<String, String>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        parse_csv(content.as_bytes(), "seeds/x.csv", b',', column_types)
    }

    #[test]
    fn infers_types_quoting_and_nulls() {
        let (schema, batches) = parse(
            "id,name,amount,day,ok,ts\n1,\"Smith, J\",1.5,2024-01-02,true,2024-01-02 10:00:00\n2,,2,,false,\n",
            &Default::default(),
        )
        .unwrap();
        let types: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            vec![
                DataType::Int64,
                DataType::Utf8,
                DataType::Float64,
                DataType::Date32,
                DataType::Boolean,
                DataType::Timestamp(TimeUnit::Microsecond, None)
            ]
        );
        assert_eq!(batches[0].num_rows(), 2);
        assert_eq!(batches[0].column(1).null_count(), 1);
    }

    #[test]
    fn a_file_is_read_as_its_bytes_are_and_a_missing_one_is_named() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "a,b\n1,x\n").unwrap();
        let (schema, batches) =
            read_csv(f.path(), "seeds/x.csv", b',', &Default::default()).unwrap();
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);
        assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
        assert_eq!(batches[0].num_rows(), 1);

        let gone = f.path().with_extension("gone");
        let e = read_csv(&gone, "seeds/gone.csv", b',', &Default::default()).unwrap_err();
        assert!(matches!(e, SeedError::Open { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("seeds/gone.csv:0: cannot open: "),
            "{e}"
        );
    }

    #[test]
    fn ragged_row_names_file_and_line() {
        let e = parse("a,b\n1,2\n3\n", &Default::default()).unwrap_err();
        assert_eq!((e.path(), e.line(), e.column()), ("seeds/x.csv", 3, None));
        assert!(e.raw().is_some());
        let e = e.to_string();
        assert!(
            e.starts_with("seeds/x.csv:3: row has 1 fields but the header has 2"),
            "{e}"
        );
    }

    #[test]
    fn the_header_must_name_every_column() {
        let e = parse("", &Default::default()).unwrap_err().to_string();
        assert!(e.starts_with("seeds/x.csv:1: no header row"), "{e}");
        let e = parse("a,,c\n1,2,3\n", &Default::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "seeds/x.csv:1 (column `#2`): empty column name in the header"
        );
        let types = [("z".to_string(), "integer".to_string())].into();
        let e = parse("a,b\n1,2\n", &types).unwrap_err().to_string();
        assert_eq!(
            e,
            "seeds/x.csv:1 (column `z`): column_types names a column the file does not have (it has: a, b)"
        );
    }

    #[test]
    fn column_types_override_and_bad_value_names_column() {
        let csv = "a,b\n1,0.10\nx,2\n";
        let types = [("a".to_string(), "integer".to_string())].into();
        let e = parse(csv, &types).unwrap_err();
        assert_eq!((e.line(), e.column()), (3, Some("a")));
        let e = e.to_string();
        assert!(
            e.starts_with("seeds/x.csv:3 (column `a`): `x` is not a valid integer"),
            "{e}"
        );
        let types = [("b".to_string(), "decimal(10,2)".to_string())].into();
        let (schema, _) = parse(csv, &types).unwrap();
        assert_eq!(schema.field(1).data_type(), &DataType::Decimal128(10, 2));
    }

    fn seed_error(content: &str, column: &str, t: &str) -> String {
        let types = [(column.to_string(), t.to_string())].into();
        parse_csv(content.as_bytes(), "seeds/prices.csv", b',', &types)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn decimal_precision_and_scale_are_checked_naming_file_and_column() {
        let e = seed_error("x\n1.50\n", "x", "decimal(50,2)");
        assert!(
            e.starts_with("seeds/prices.csv:1 (column `x`): the precision of `decimal(50,2)` is 50, outside 1 to 38"),
            "{e}"
        );
        assert!(e.contains("hint: precision must be 1 to 38"), "{e}");
        // 300 does not fit a byte: it used to become decimal(2,0) without a word.
        let e = seed_error("x\n1.50\n", "x", "decimal(300,2)");
        assert!(
            e.contains("the precision of `decimal(300,2)` is 300"),
            "{e}"
        );
        let e = seed_error("x\n1.50\n", "x", "numeric(0)");
        assert!(e.contains("is 0, outside 1 to 38"), "{e}");
        let e = seed_error("x\n1.50\n", "x", "decimal(5,7)");
        assert!(
            e.contains("the scale of `decimal(5,7)` (7) is larger than its precision (5)"),
            "{e}"
        );
        let e = seed_error("x\n1.50\n", "x", "decimal(10,two)");
        assert!(
            e.contains("the scale of `decimal(10,two)` is not a whole number"),
            "{e}"
        );
        let e = seed_error("x\n1.50\n", "x", "decimal(10,2,1)");
        assert!(e.contains("has 3 arguments"), "{e}");
        let e = seed_error("x\n1.50\n", "x", "decimal(10,2");
        assert!(e.contains("no closing parenthesis"), "{e}");
        let e = seed_error("x\n1.50\n", "x", "money");
        assert!(
            e.starts_with("seeds/prices.csv:1 (column `x`): unknown type `money`"),
            "{e}"
        );
    }

    #[test]
    fn a_value_that_does_not_fit_its_declared_type_names_file_line_and_column() {
        let e = seed_error("id,x\n1,123.45\n2,1234.5\n", "x", "decimal(5,2)");
        assert!(
            e.starts_with("seeds/prices.csv:3 (column `x`): `1234.5` does not fit decimal(5,2): it allows 3 digit(s) before the point"),
            "{e}"
        );
        let e = seed_error("id,x\n1,1.005\n", "x", "decimal(5,2)");
        assert!(
            e.starts_with("seeds/prices.csv:2 (column `x`): `1.005` does not fit decimal(5,2): it has more than 2 digit(s) after the point"),
            "{e}"
        );
        let e = seed_error("id,x\n1,99999999999\n", "x", "integer");
        assert!(
            e.starts_with(
                "seeds/prices.csv:2 (column `x`): `99999999999` is out of range for integer"
            ),
            "{e}"
        );
        let e = seed_error("id,x\n1,40000\n", "x", "smallint");
        assert!(e.contains("out of range for smallint"), "{e}");

        let csv = "x\n99999999999999999999999999999999999999\n-00012.3400\n";
        let types = [("x".to_string(), "decimal(38,0)".to_string())].into();
        assert!(parse(csv, &types).is_err());
        let types = [("x".to_string(), "decimal(38,2)".to_string())].into();
        assert!(parse(csv, &types).is_err());
    }

    /// Batches past the first are built from readers seeked to where the first pass saw them
    /// start: rows stay in file order, a quoted line break inside a value does not split a
    /// record, and an error late in the file names its own line.
    #[test]
    fn a_large_file_is_read_in_batches_in_file_order_with_true_line_numbers() {
        let rows = 2 * BATCH_ROWS + 10;
        let mut csv = String::from("id,note\n");
        for i in 0..rows {
            csv.push_str(&format!("{i},\"line one\nline two of {i}\"\n"));
        }
        let (_, batches) = parse(&csv, &Default::default()).unwrap();
        let sizes: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
        assert_eq!(sizes, [BATCH_ROWS, BATCH_ROWS, 10]);
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(ids, (0..rows as i64).collect::<Vec<_>>());
        let last = batches[2]
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap()
            .value(9)
            .to_string();
        assert_eq!(last, format!("line one\nline two of {}", rows - 1));

        // Row 2 * BATCH_ROWS + 5 (0-based) holds a text id: each record spans two lines after
        // the header's one, so its first line is 2 + 2 * index.
        let bad = 2 * BATCH_ROWS + 5;
        let csv = csv.replacen(&format!("\n{bad},"), "\nnot a number,", 1);
        let types = [("id".to_string(), "bigint".to_string())].into();
        let e = parse(&csv, &types).unwrap_err();
        assert_eq!((e.line(), e.column()), (2 + 2 * bad, Some("id")));
    }

    #[test]
    fn a_header_only_file_has_a_schema_and_no_batches() {
        let (schema, batches) = parse("a,b\n", &Default::default()).unwrap();
        assert_eq!(schema.fields().len(), 2);
        assert!(batches.is_empty());
    }

    #[test]
    fn the_delimiter_must_be_one_character() {
        assert_eq!(delimiter("seeds/a.csv", None).unwrap(), b',');
        assert_eq!(delimiter("seeds/a.csv", Some("|")).unwrap(), b'|');
        assert_eq!(delimiter("seeds/a.csv", Some("\\t")).unwrap(), b'\t');
        let e = delimiter("seeds/a.csv", Some(";;"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("seeds/a.csv") && e.contains("delimiter `;;` is not one ASCII character"),
            "{e}"
        );
        assert!(delimiter("seeds/a.csv", Some("é")).is_err());
        let (schema, _) =
            parse_csv(b"a|b\n1|x\n", "seeds/a.csv", b'|', &Default::default()).unwrap();
        assert_eq!(schema.fields().len(), 2);
    }
}
