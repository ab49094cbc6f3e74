//! `lakeforge sql "SELECT ..."`: query the lake and print a table, CSV or JSON.

use std::process::ExitCode;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use clap::{Args, ValueEnum};

use super::{default_threads, load_project, open_engine};
use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct SqlArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The query; tables are `schema.table` (unqualified names resolve in the target schema).
    pub query: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub async fn run(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let project = load_project(&args.project)?;
    let engine = open_engine(&project, default_threads()).await?;
    super::load_scoring_models(&args.project, &engine, &args.query).await?;
    let (schema, batches) = engine.query("query", &args.query).await?;
    print_batches(&schema, &batches, args.format)?;
    Ok(ExitCode::SUCCESS)
}

pub fn print_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => {
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let batches = if batches.is_empty() {
                vec![RecordBatch::new_empty(schema.clone())]
            } else {
                batches.to_vec()
            };
            println!("{}", arrow::util::pretty::pretty_format_batches(&batches)?);
            println!("{rows} row{}", if rows == 1 { "" } else { "s" });
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs)?;
            w.finish()?;
            drop(w);
            use std::io::Write;
            writeln!(out)?;
        }
    }
    Ok(())
}
