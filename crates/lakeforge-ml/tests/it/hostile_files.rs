//! Model files that are not what `fit` wrote: every prefix of a real file, payloads with
//! random bytes changed (re-framed with a valid checksum, so the decoder and the consistency
//! checks see them), and hand-made inconsistencies. Loading never panics; a model that loads
//! predicts without panicking; each inconsistency is refused naming the file and the part.

use lakeforge_ml::model_file::{frame, to_bytes};
use lakeforge_ml::rng::Rng;
use lakeforge_ml::{Algorithm, FeatureValue, FitSpec, MlError, Model, Task, fit};
use serde_json::{Value, json};

use crate::predict_row::mixed;

const FILE: &str = "lake/_models/m/1/model.lfm";

fn gbdt() -> Model {
    let spec = FitSpec::new(Task::Binary, Some("target"))
        .with_param("num_iterations", "6")
        .with_param("num_leaves", "6")
        .with_param("min_data_per_group", "10");
    fit(&[mixed(600, 0)], None, &spec).unwrap()
}

fn linear() -> Model {
    fit(
        &[mixed(600, 0)],
        None,
        &FitSpec::new(Task::Binary, Some("target")).with_algorithm(Algorithm::Linear),
    )
    .unwrap()
}

fn kmeans() -> Model {
    fit(
        &[mixed(300, 0)],
        None,
        &FitSpec::new(Task::Clustering, None)
            .with_param("k", "3")
            .with_param("n_init", "1"),
    )
    .unwrap()
}

/// Rows of every kind of value, including ones the columns do not expect.
fn probe_rows(model: &Model) -> Vec<Vec<FeatureValue<'static>>> {
    let n = model.pipeline.columns.len();
    [
        FeatureValue::Null,
        FeatureValue::Float(f64::NAN),
        FeatureValue::Float(-1e308),
        FeatureValue::Int(i64::MIN),
        FeatureValue::Str("red"),
        FeatureValue::Str("never seen"),
        FeatureValue::EpochSeconds(i64::MAX),
        FeatureValue::Bool(true),
    ]
    .into_iter()
    .map(|v| vec![v; n])
    .collect()
}

/// The payload of a file (what its checksum covers).
fn payload(model: &Model) -> Vec<u8> {
    model.to_bytes().unwrap()[48..].to_vec()
}

fn corrupt_reason(v: &Value) -> String {
    match Model::from_file_bytes(&to_bytes(v).unwrap(), FILE) {
        Err(MlError::CorruptModel { path, reason }) => {
            assert_eq!(path, FILE);
            let message = MlError::CorruptModel {
                path,
                reason: reason.clone(),
            }
            .to_string();
            assert!(message.contains(FILE), "{message}");
            reason
        }
        Err(e) => panic!("expected a corrupt-model error, got {e}"),
        Ok(_) => panic!("an inconsistent model loaded"),
    }
}

fn estimator(v: &mut Value) -> &mut Value {
    v["estimator"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap()
}

/// A change made to a good model's data.
type Damage = Box<dyn Fn(&mut Value)>;

fn tree0(v: &mut Value) -> &mut Value {
    &mut estimator(v)["trees"][0]
}

#[test]
fn every_prefix_of_a_file_is_an_error() {
    let bytes = gbdt().to_bytes().unwrap();
    for n in 0..bytes.len() {
        assert!(
            Model::from_file_bytes(&bytes[..n], FILE).is_err(),
            "{n} bytes"
        );
    }
    assert!(Model::from_file_bytes(&bytes, FILE).is_ok());
}

#[test]
fn changed_payload_bytes_never_panic() {
    let mut rng = Rng::new(15);
    let (mut loaded, mut refused) = (0, 0);
    for model in [gbdt(), linear(), kmeans()] {
        let original = payload(&model);
        for _ in 0..1500 {
            let mut p = original.clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(p.len());
                // Small changes reach numbers (indices, counts) more often than random bytes.
                p[at] = match rng.below(3) {
                    0 => rng.next_u64() as u8,
                    1 => p[at].wrapping_add(1),
                    _ => p[at] ^ 0x80,
                };
            }
            match Model::from_file_bytes(&frame(&p), FILE) {
                Ok(m) => {
                    loaded += 1;
                    for row in probe_rows(&m) {
                        let _ = m.predict_row(&row);
                    }
                }
                Err(e) => {
                    refused += 1;
                    assert!(e.to_string().contains(FILE), "{e}");
                }
            }
        }
    }
    // Both outcomes happen, so the loop exercised the checks and prediction alike.
    assert!(
        loaded > 50 && refused > 50,
        "{loaded} loaded, {refused} refused"
    );
}

#[test]
fn inconsistent_trees_are_refused_naming_the_part() {
    let model = gbdt();
    let good = serde_json::to_value(&model).unwrap();
    let cases: Vec<(&str, Damage)> = vec![
        (
            "tree 0: node 0 is reached twice",
            Box::new(|v| tree0(v)["nodes"][0]["left"] = json!(0)),
        ),
        (
            "tree 0: node 0 splits on feature 99",
            Box::new(|v| tree0(v)["nodes"][0]["feature"] = json!(99)),
        ),
        (
            "tree 0: node 0 points at leaf 99",
            Box::new(|v| tree0(v)["nodes"][0]["right"] = json!(!99i32)),
        ),
        (
            "tree 0: node 0 points at node 1000",
            Box::new(|v| tree0(v)["nodes"][0]["left"] = json!(1000)),
        ),
        (
            "tree 0: no leaf",
            Box::new(|v| {
                tree0(v)["nodes"] = json!([]);
                tree0(v)["leaf_values"] = json!([]);
            }),
        ),
        (
            "the trees read 1 features",
            Box::new(|v| estimator(v)["num_features"] = json!(1)),
        ),
        (
            "0 initial scores for 1 trees per round",
            Box::new(|v| estimator(v)["init_scores"] = json!([])),
        ),
        (
            "the pipeline makes",
            Box::new(|v| {
                v["meta"]["feature_names"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("extra"))
            }),
        ),
        (
            "input columns",
            Box::new(|v| v["meta"]["input_columns"][0] = json!("renamed")),
        ),
        (
            "a k-means estimator for the binary task",
            Box::new(|v| {
                v["estimator"] = json!({"k_means": {"centroids": [[0.0]], "inertia": 0.0,
                    "n_iter": 1, "params": serde_json::to_value(
                        lakeforge_ml::params::KMeansParams::default()).unwrap()}})
            }),
        ),
    ];
    for (want, damage) in cases {
        let mut v = good.clone();
        damage(&mut v);
        let reason = corrupt_reason(&v);
        assert!(reason.contains(want), "{want}: {reason}");
    }
}

#[test]
fn inconsistent_linear_and_kmeans_models_are_refused() {
    let good = serde_json::to_value(linear()).unwrap();
    let mut v = good.clone();
    estimator(&mut v)["coef"][0].as_array_mut().unwrap().pop();
    assert!(corrupt_reason(&v).contains("coefficients for"));
    let mut v = good.clone();
    estimator(&mut v)["intercept"] = json!([]);
    assert!(corrupt_reason(&v).contains("0 intercepts for 1 outputs"));
    let mut v = good.clone();
    let x = v["pipeline"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["name"] == "x")
        .unwrap();
    v["pipeline"]["columns"][x]["scalers"] = json!([]);
    assert!(corrupt_reason(&v).contains("column `x` has 0 scalers, needs 1"));

    let mut v = serde_json::to_value(kmeans()).unwrap();
    estimator(&mut v)["centroids"][1]
        .as_array_mut()
        .unwrap()
        .push(json!(1.0));
    assert!(corrupt_reason(&v).contains("centroid 1 has"));
    estimator(&mut v)["centroids"] = json!([]);
    assert!(corrupt_reason(&v).contains("k-means without centroids"));
}
