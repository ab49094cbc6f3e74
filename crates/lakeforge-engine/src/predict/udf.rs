//! Batch scoring in SQL: the `predict('model', col, ...)` scalar function. It applies a
//! registered model (its fitted feature pipeline, then the estimator) to whole Arrow batches
//! inside DataFusion, so any SQL model can score and land its predictions in a Delta table.
//!
//! The first argument names the model as `name` (its `production` alias), `name@alias` or
//! `name@VERSION`. The remaining arguments are matched to the model's input columns by name
//! (a column argument keeps its column's name); when their names do not all match but their
//! number does, they are taken in the model's input order (`lakeforge models show` lists it).
//!
//! Models are not loaded here: before a statement runs, the caller (the runner for a node,
//! the CLI for `lakeforge sql`) resolves every model the SQL names in the registry and puts
//! it in [`ScoringModels`], keyed by the text of the first argument. The function only reads
//! that map, so scoring never waits on the metadata store mid-query.
//!
//! Returns: binary → the probability of the positive class; regression tasks → the predicted
//! value (Float64); multiclass → the most likely class label (Utf8); clustering → the cluster
//! (Int64).

use parking_lot::RwLock;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{Result as DfResult, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use lakeforge_ml::{Model, Task};

/// A model ready for scoring, with the version the reference resolved to.
#[derive(Debug)]
pub struct LoadedModel {
    pub name: String,
    pub version: i64,
    pub model: Model,
}

/// Models resolved for the statements about to run, by the text of `predict`'s first
/// argument (`churn`, `churn@staging`, `churn@3`).
#[derive(Debug, Default)]
pub struct ScoringModels {
    map: RwLock<HashMap<String, Arc<LoadedModel>>>,
}

impl ScoringModels {
    pub fn insert(&self, reference: &str, model: Arc<LoadedModel>) {
        self.map.write().insert(reference.to_string(), model);
    }

    pub fn get(&self, reference: &str) -> Option<Arc<LoadedModel>> {
        self.map.read().get(reference).cloned()
    }
}

/// The `predict` scalar function over a shared [`ScoringModels`].
#[derive(Debug)]
pub struct PredictUdf {
    models: Arc<ScoringModels>,
    signature: Signature,
}

impl PartialEq for PredictUdf {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.models, &other.models)
    }
}

impl Eq for PredictUdf {}

impl Hash for PredictUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "predict".hash(state);
    }
}

impl PredictUdf {
    pub fn new(models: Arc<ScoringModels>) -> Self {
        PredictUdf {
            models,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }

    pub fn udf(models: Arc<ScoringModels>) -> ScalarUDF {
        ScalarUDF::new_from_impl(PredictUdf::new(models))
    }
}

fn output_type(task: Task) -> DataType {
    match task {
        Task::Multiclass => DataType::Utf8,
        Task::Clustering => DataType::Int64,
        _ => DataType::Float64,
    }
}

fn reference_of(value: Option<&ScalarValue>) -> Option<String> {
    match value? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        _ => None,
    }
}

impl ScalarUDFImpl for PredictUdf {
    fn name(&self) -> &str {
        "predict"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let Some(reference) = reference_of(args.scalar_arguments.first().copied().flatten()) else {
            return plan_err!(
                "predict(): the first argument must be the model's name as a string literal, e.g. predict('churn', tenure, plan)"
            );
        };
        // A model not loaded yet (e.g. while planning for lineage) scores as Float64; running
        // the statement without loading it fails in invoke with a clear message.
        let data_type = self
            .models
            .get(&reference)
            .map(|m| output_type(m.model.meta.task))
            .unwrap_or(DataType::Float64);
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let reference = match args.args.first() {
            Some(ColumnarValue::Scalar(s)) => reference_of(Some(s)),
            _ => None,
        };
        let Some(reference) = reference else {
            return exec_err!(
                "predict(): the first argument must be the model's name as a string literal"
            );
        };
        let Some(loaded) = self.models.get(&reference) else {
            return exec_err!(
                "predict('{reference}'): the model is not loaded\nhint: `lakeforge models list` shows the registered models and their aliases"
            );
        };
        let model = &loaded.model;
        let inputs = model.pipeline.input_columns();
        let given: Vec<&str> = args.arg_fields[1..]
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let columns: Vec<ArrayRef> = args.args[1..]
            .iter()
            .map(|a| a.clone().into_array(args.number_rows))
            .collect::<DfResult<_>>()?;

        // By name when every input is among the arguments, else by position.
        let by_name: Option<Vec<usize>> = inputs
            .iter()
            .map(|c| given.iter().position(|g| g == c))
            .collect();
        let order: Vec<usize> = match by_name {
            Some(o) => o,
            None if given.len() == inputs.len() => (0..inputs.len()).collect(),
            None => {
                let missing: Vec<&String> = inputs
                    .iter()
                    .filter(|c| !given.contains(&c.as_str()))
                    .collect();
                return exec_err!(
                    "predict('{reference}'): feature column{} {} not among the arguments (model {} version {} reads {} columns: {})\nhint: pass the columns by name, e.g. predict('{}', {})",
                    if missing.len() == 1 { "" } else { "s" },
                    missing
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    loaded.name,
                    loaded.version,
                    inputs.len(),
                    inputs.join(", "),
                    loaded.name,
                    inputs.join(", ")
                );
            }
        };
        let fields: Vec<Field> = order
            .iter()
            .zip(&inputs)
            .map(|(&i, name)| Field::new(name, columns[i].data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            order.iter().map(|&i| columns[i].clone()).collect(),
        )?;
        let values = model.predict_values(&[batch]).map_err(|e| {
            datafusion::error::DataFusionError::Execution(format!(
                "predict('{reference}') with model {} version {}: {e}",
                loaded.name, loaded.version
            ))
        })?;
        let out: ArrayRef = match model.meta.task {
            Task::Multiclass => {
                let k = model.num_outputs().max(1);
                let labels: StringArray =
                    values
                        .chunks(k)
                        .map(|row| {
                            let best =
                                row.iter()
                                    .enumerate()
                                    .fold((0, f64::NEG_INFINITY), |acc, (i, &p)| {
                                        if p > acc.1 { (i, p) } else { acc }
                                    })
                                    .0;
                            model.meta.classes.get(best).map(String::as_str)
                        })
                        .collect();
                Arc::new(labels)
            }
            Task::Clustering => Arc::new(Int64Array::from(
                values.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            )),
            _ => Arc::new(Float64Array::from(values)),
        };
        // The return type was fixed when the statement was planned; a model swapped for one
        // of another task since then must not produce a column of the wrong type.
        if out.data_type() != args.return_field.data_type() {
            return exec_err!(
                "predict('{reference}'): model {} version {} gives {} but the statement was planned for {}\nhint: run the statement again",
                loaded.name,
                loaded.version,
                out.data_type(),
                args.return_field.data_type()
            );
        }
        Ok(ColumnarValue::Array(out))
    }
}
