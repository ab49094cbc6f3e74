//! `lakeforge ml …`: thin CLI over lakeforge-ml, mirroring LightGBM's CLI
//! (fit / predict / eval / tune). This module only reads and writes files
//! (parquet or CSV, chosen by extension, via DataFusion) and prints results;
//! all modelling logic lives in the `lakeforge_ml` crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use comfy_table::Table;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use lakeforge_ml::{
    Algorithm, FitSpec, ImportanceType, Metric, Model, SearchSpace, Task, TuneOptions,
    TuneStrategy, parse_param_pairs,
};

#[derive(Debug, clap::Subcommand)]
pub enum MlCommand {
    /// Train a model and write it to a .lfm model file.
    Fit {
        /// Training data (.parquet or .csv).
        #[arg(long)]
        input: PathBuf,
        /// Label column (not needed for --task clustering).
        #[arg(long)]
        target: Option<String>,
        /// binary | multiclass | regression | regression_l1 | huber | poisson | clustering
        #[arg(long, default_value = "binary")]
        task: String,
        /// gbdt | linear | kmeans
        #[arg(long, default_value = "gbdt")]
        algorithm: String,
        /// Algorithm parameter (LightGBM names and aliases), repeatable: --param num_leaves=63
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Validation data for early stopping (early_stopping_round) and the reported metric.
        #[arg(long)]
        valid: Option<PathBuf>,
        /// Use only these feature columns (comma separated); default: all but target/excluded.
        #[arg(long, value_delimiter = ',')]
        features: Option<Vec<String>>,
        /// Columns to ignore (ids, timestamps used only for splitting, …).
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
        /// Numeric columns to treat as categorical.
        #[arg(long, value_delimiter = ',')]
        categorical: Vec<String>,
        /// Model file to write.
        #[arg(long)]
        output: PathBuf,
    },
    /// Predict with a model; writes the prediction columns (plus --keep columns).
    Predict {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        input: PathBuf,
        /// Output file (.parquet or .csv).
        #[arg(long)]
        output: PathBuf,
        /// Input columns to copy into the output (e.g. an id), comma separated.
        #[arg(long, value_delimiter = ',')]
        keep: Vec<String>,
    },
    /// Evaluate a model on labelled data and print a metrics table.
    Eval {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        input: PathBuf,
        /// Label column; defaults to the one the model was trained with.
        #[arg(long)]
        target: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Search hyper-parameters (random search or successive halving).
    Tune {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        target: String,
        #[arg(long, default_value = "binary")]
        task: String,
        #[arg(long, default_value = "gbdt")]
        algorithm: String,
        /// Fixed parameters, repeatable KEY=VALUE.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Search space, repeatable: NAME=int:LOW:HIGH | float:LOW:HIGH | logfloat:LOW:HIGH | choice:A,B
        #[arg(long = "space", value_name = "NAME=RANGE", required = true)]
        space: Vec<String>,
        /// random | halving
        #[arg(long, default_value = "random")]
        strategy: String,
        #[arg(long, default_value_t = 20)]
        trials: usize,
        /// Successive halving: boosting rounds of the first rung.
        #[arg(long, default_value_t = 10)]
        min_iterations: usize,
        /// Successive halving: keep 1/eta of the configurations per rung.
        #[arg(long, default_value_t = 3)]
        eta: usize,
        /// k-fold cross-validation when >= 2, otherwise a single holdout.
        #[arg(long, default_value_t = 0)]
        folds: usize,
        #[arg(long, default_value_t = 0.2)]
        holdout: f64,
        /// Metric to optimise (auc, binary_logloss, multi_logloss, rmse, l1, …).
        #[arg(long)]
        metric: Option<String>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Threads running trials in parallel (0 = all cores).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Write the best parameters as JSON here.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Also train a final model with the best parameters and write it here.
        #[arg(long)]
        model_output: Option<PathBuf>,
    },
}

pub async fn run(cmd: MlCommand) -> Result<()> {
    match cmd {
        MlCommand::Fit {
            input,
            target,
            task,
            algorithm,
            params,
            valid,
            features,
            exclude,
            categorical,
            output,
        } => {
            let mut spec = build_spec(&task, &algorithm, target.as_deref(), &params)?;
            spec.features = features;
            spec.exclude = exclude;
            spec.categorical = categorical;
            let train = read_table(&input).await?;
            let valid = match &valid {
                Some(v) => Some(read_table(v).await?),
                None => None,
            };
            let started = std::time::Instant::now();
            let model = tokio::task::spawn_blocking(move || {
                // The same rows give the same model bytes whatever order the file lists them
                // in, as training inside a project does.
                let train = canonical(&train)?;
                let valid = valid.as_deref().map(canonical).transpose()?;
                lakeforge_ml::fit(&train, valid.as_deref(), &spec)
            })
            .await??;
            let secs = started.elapsed().as_secs_f64();
            model
                .save(&output)
                .with_context(|| format!("writing model to {}", output.display()))?;
            print_fit_summary(&model, secs, &output);
            Ok(())
        }
        MlCommand::Predict {
            model,
            input,
            output,
            keep,
        } => {
            let model = Model::load(&model)?;
            let batches = read_table(&input).await?;
            let (batches, preds) = tokio::task::spawn_blocking(move || {
                let preds = model.predict_batches(&batches);
                (batches, preds)
            })
            .await?;
            let preds = preds?;
            let out = with_kept_columns(&batches, preds, &keep)?;
            let rows: usize = out.iter().map(|b| b.num_rows()).sum();
            write_table(&output, &out)?;
            println!("wrote {rows} predictions to {}", output.display());
            Ok(())
        }
        MlCommand::Eval {
            model,
            input,
            target,
            json,
        } => {
            let mut model = Model::load(&model)?;
            if let Some(t) = target {
                model.meta.target = Some(t);
            }
            let batches = read_table(&input).await?;
            let report =
                tokio::task::spawn_blocking(move || model.evaluate(&batches).map(|r| (model, r)))
                    .await??;
            let (model, report) = report;
            if json {
                // Metrics as an object, so scripts read `.metrics.auc`.
                let metrics: serde_json::Map<String, serde_json::Value> = report
                    .metrics
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                    .collect();
                let confusion = report.confusion.as_ref().map(
                    |(labels, counts)| serde_json::json!({"labels": labels, "counts": counts}),
                );
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"rows": report.rows, "metrics": metrics, "confusion": confusion})
                    )?
                );
                return Ok(());
            }
            let mut table = Table::new();
            table.set_header(vec!["metric", "value"]);
            table.add_row(vec!["rows".to_string(), report.rows.to_string()]);
            for (name, v) in &report.metrics {
                table.add_row(vec![name.clone(), format!("{v:.6}")]);
            }
            println!("{table}");
            if let Some((classes, cm)) = &report.confusion
                && classes.len() <= 20
            {
                let mut t = Table::new();
                let mut header = vec![format!(
                    "true \\ pred ({})",
                    model.meta.target.clone().unwrap_or_default()
                )];
                header.extend(classes.iter().cloned());
                t.set_header(header);
                for (c, row) in classes.iter().zip(cm) {
                    let mut r = vec![c.clone()];
                    r.extend(row.iter().map(|v| v.to_string()));
                    t.add_row(r);
                }
                println!("{t}");
            }
            Ok(())
        }
        MlCommand::Tune {
            input,
            target,
            task,
            algorithm,
            params,
            space,
            strategy,
            trials,
            min_iterations,
            eta,
            folds,
            holdout,
            metric,
            seed,
            threads,
            output,
            model_output,
        } => {
            let spec = build_spec(&task, &algorithm, Some(&target), &params)?;
            let space = SearchSpace::parse(&space)?;
            let strategy = match strategy.as_str() {
                "random" => TuneStrategy::Random { n_trials: trials },
                "halving" | "successive_halving" | "sha" => TuneStrategy::SuccessiveHalving {
                    n_trials: trials,
                    min_iterations,
                    eta,
                },
                other => bail!("unknown --strategy '{other}'; use random or halving"),
            };
            let metric = match metric {
                Some(m) => {
                    Some(Metric::parse(&m).ok_or_else(|| anyhow!("unknown --metric '{m}'"))?)
                }
                None => None,
            };
            let opts = TuneOptions {
                strategy,
                folds,
                holdout_fraction: holdout,
                metric,
                seed,
                num_threads: threads,
            };
            // Canonical row order, as `fit`: the search and the final model follow the rows, not the file.
            let train = canonical(&read_table(&input).await?)?;
            let (train, result) = tokio::task::spawn_blocking(move || {
                let r = lakeforge_ml::tune(&train, &spec, &space, &opts).map(|r| (spec, r));
                (train, r)
            })
            .await?;
            let (spec, result) = result?;
            let mut sorted = result.trials.clone();
            sorted.sort_by(|a, b| {
                b.rung.cmp(&a.rung).then_with(|| {
                    let o = a.score.total_cmp(&b.score);
                    if result.higher_is_better {
                        o.reverse()
                    } else {
                        o
                    }
                })
            });
            let mut table = Table::new();
            table.set_header(vec![
                "trial",
                "rung",
                "rounds",
                result.metric.as_str(),
                "params",
            ]);
            for t in &sorted {
                let p = t
                    .params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                table.add_row(vec![
                    t.id.to_string(),
                    t.rung.to_string(),
                    t.budget.map_or("-".into(), |b| b.to_string()),
                    format!("{:.6}", t.score),
                    p,
                ]);
            }
            println!("{table}");
            println!("best {} = {:.6}", result.metric, result.best_score);
            let best: Vec<String> = result
                .best_params
                .iter()
                .map(|(k, v)| format!("--param {k}={v}"))
                .collect();
            println!("best params: {}", best.join(" "));
            if let Some(path) = output {
                std::fs::write(&path, serde_json::to_string_pretty(&result)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if let Some(path) = model_output {
                let mut final_spec = spec;
                final_spec.params = result.best_params.clone();
                let model = tokio::task::spawn_blocking(move || {
                    lakeforge_ml::fit(&train, None, &final_spec)
                })
                .await??;
                model.save(&path)?;
                println!(
                    "wrote model trained with the best parameters to {}",
                    path.display()
                );
            }
            Ok(())
        }
    }
}

/// Rows in lakeforge-ml's canonical order (one batch).
fn canonical(batches: &[RecordBatch]) -> lakeforge_ml::Result<Vec<RecordBatch>> {
    match batches.first() {
        Some(first) => Ok(vec![lakeforge_ml::canonical::canonical_order(
            &first.schema(),
            batches,
        )?]),
        None => Ok(Vec::new()),
    }
}

fn build_spec(
    task: &str,
    algorithm: &str,
    target: Option<&str>,
    params: &[String],
) -> Result<FitSpec> {
    let (task, implied_objective) = Task::parse(task).ok_or_else(|| {
        anyhow!("unknown --task '{task}'; use binary, multiclass, regression, regression_l1, huber, poisson or clustering")
    })?;
    let algorithm = Algorithm::parse(algorithm)
        .ok_or_else(|| anyhow!("unknown --algorithm '{algorithm}'; use gbdt, linear or kmeans"))?;
    if task != Task::Clustering && target.is_none() {
        bail!("--target is required for the {} task", task.name());
    }
    let mut spec = FitSpec::new(task, target).with_algorithm(if task == Task::Clustering {
        Algorithm::KMeans
    } else {
        algorithm
    });
    spec.params = parse_param_pairs(params)?;
    if let Some(obj) = implied_objective
        && algorithm == Algorithm::Gbdt
        && !spec.params.contains_key("objective")
    {
        spec.params.insert("objective".into(), obj.name().into());
    }
    Ok(spec)
}

fn print_fit_summary(model: &Model, secs: f64, output: &Path) {
    println!(
        "trained {} {} model on {} rows, {} features in {secs:.2}s → {}",
        model.meta.algorithm.name(),
        model.meta.task.name(),
        model.meta.train_rows,
        model.meta.feature_names.len(),
        output.display()
    );
    if let lakeforge_ml::Estimator::Gbdt(g) = &model.estimator {
        println!(
            "trees: {} ({} rounds{})",
            g.trees.len(),
            g.num_iterations(),
            g.best_iteration
                .map(|b| format!(", best iteration {b}"))
                .unwrap_or_default()
        );
    }
    if let Some((name, v)) = &model.meta.valid_metric {
        println!("validation {name}: {v:.6}");
    }
    let mut imp = model.feature_importance(ImportanceType::Gain);
    imp.sort_by(|a, b| b.1.total_cmp(&a.1));
    if imp.iter().any(|(_, v)| *v > 0.0) {
        let mut t = Table::new();
        t.set_header(vec!["feature", "importance"]);
        for (n, v) in imp.iter().take(10) {
            t.add_row(vec![n.clone(), format!("{v:.4}")]);
        }
        println!("{t}");
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads a parquet or CSV file (by extension) into record batches.
async fn read_table(path: &Path) -> Result<Vec<RecordBatch>> {
    let ctx = SessionContext::new();
    let p = path
        .to_str()
        .ok_or_else(|| anyhow!("path {} is not valid UTF-8", path.display()))?;
    let ext = extension(path);
    // DataFusion filters files by extension; pass the real one so names like
    // data.pq or data.txt still load.
    let dot_ext = format!(".{ext}");
    let df = match ext.as_str() {
        "csv" | "tsv" | "txt" => {
            let mut opts = CsvReadOptions::new().file_extension(&dot_ext);
            if ext == "tsv" {
                opts = opts.delimiter(b'\t');
            }
            ctx.read_csv(p, opts).await
        }
        "parquet" | "pq" => {
            ctx.read_parquet(p, ParquetReadOptions::new().file_extension(&dot_ext))
                .await
        }
        other => bail!(
            "cannot read '{}': unknown extension '{other}'; use .parquet or .csv",
            path.display()
        ),
    }
    .with_context(|| format!("opening {}", path.display()))?;
    let batches = df
        .collect()
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        bail!("{} has no rows", path.display());
    }
    Ok(batches)
}

/// Appends the requested input columns to each prediction batch.
fn with_kept_columns(
    inputs: &[RecordBatch],
    preds: Vec<RecordBatch>,
    keep: &[String],
) -> Result<Vec<RecordBatch>> {
    if keep.is_empty() {
        return Ok(preds);
    }
    inputs
        .iter()
        .zip(preds)
        .map(|(input, pred)| {
            let mut fields: Vec<Field> = Vec::new();
            let mut cols: Vec<ArrayRef> = Vec::new();
            for name in keep {
                let idx = input
                    .schema()
                    .index_of(name)
                    .map_err(|_| anyhow!("--keep column '{name}' is not in the input"))?;
                fields.push(input.schema().field(idx).clone());
                cols.push(input.column(idx).clone());
            }
            for (f, c) in pred.schema().fields().iter().zip(pred.columns()) {
                fields.push(f.as_ref().clone());
                cols.push(c.clone());
            }
            Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
        })
        .collect()
}

/// Writes batches as parquet or CSV (by extension).
fn write_table(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let first = batches
        .first()
        .ok_or_else(|| anyhow!("nothing to write to {}", path.display()))?;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    match extension(path).as_str() {
        "csv" => {
            let mut w = arrow::csv::Writer::new(file);
            for b in batches {
                w.write(b)?;
            }
        }
        "parquet" | "pq" => {
            let mut w = ArrowWriter::try_new(file, first.schema(), None)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
        }
        other => bail!(
            "cannot write '{}': unknown extension '{other}'; use .parquet or .csv",
            path.display()
        ),
    }
    Ok(())
}
