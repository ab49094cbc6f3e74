//! Model file behaviour: save/load round trip gives identical predictions,
//! fixed seeds give identical models, and damaged files give typed errors.

use lakeforge_ml::model_file::FORMAT_VERSION;
use lakeforge_ml::{FitSpec, MlError, Model, Task, fit};

use crate::common::load_csv;

fn bagged_spec(seed: &str) -> FitSpec {
    FitSpec::new(Task::Binary, Some("label"))
        .with_param("num_iterations", "30")
        .with_param("num_leaves", "15")
        .with_param("bagging_fraction", "0.7")
        .with_param("bagging_freq", "1")
        .with_param("feature_fraction", "0.6")
        .with_param("seed", seed)
}

#[test]
fn fixed_seed_gives_identical_model() {
    let train = [load_csv("breast_cancer_train.csv", true)];
    let a = fit(&train, None, &bagged_spec("7")).unwrap();
    let b = fit(&train, None, &bagged_spec("7")).unwrap();
    assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap());
    let c = fit(&train, None, &bagged_spec("8")).unwrap();
    assert_ne!(a.to_bytes().unwrap(), c.to_bytes().unwrap());
    // Thread count must not change the model.
    let one = fit(
        &train,
        None,
        &bagged_spec("7").with_param("num_threads", "1"),
    )
    .unwrap();
    let three = fit(
        &train,
        None,
        &bagged_spec("7").with_param("num_threads", "3"),
    )
    .unwrap();
    let trees = |m: &lakeforge_ml::Model| match &m.estimator {
        lakeforge_ml::Estimator::Gbdt(g) => (g.trees.clone(), g.init_scores.clone()),
        _ => unreachable!("gbdt model"),
    };
    assert!(
        trees(&one) == trees(&three),
        "thread count changed the trees"
    );
}

#[test]
fn save_load_predicts_identically() {
    let train = [load_csv("wine_train.csv", true)];
    let test = load_csv("wine_test.csv", true);
    let model = fit(
        &train,
        None,
        &FitSpec::new(Task::Multiclass, Some("label")).with_param("min_data_in_leaf", "5"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wine.lfm");
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded, model);
    let before = model.predict(&test).unwrap();
    let after = loaded.predict(&test).unwrap();
    assert_eq!(before, after);
    assert_eq!(before.num_columns(), 3);
    assert_eq!(before.num_rows(), test.num_rows());
}

#[test]
fn damaged_files_give_typed_errors() {
    let train = [load_csv("diabetes_train.csv", false)];
    let model = fit(
        &train,
        None,
        &FitSpec::new(Task::Regression, Some("label")).with_param("num_iterations", "5"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.lfm");
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    let mut other_version = bytes.clone();
    other_version[4..8].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    std::fs::write(&path, &other_version).unwrap();
    let err = Model::load(&path).unwrap_err();
    assert!(
        matches!(err, MlError::UnsupportedVersion { found, .. } if found == FORMAT_VERSION + 1),
        "{err}"
    );
    assert!(err.to_string().contains("m.lfm"));

    let mut corrupt = bytes.clone();
    let mid = bytes.len() / 2;
    corrupt[mid] ^= 0x55;
    std::fs::write(&path, &corrupt).unwrap();
    assert!(matches!(
        Model::load(&path),
        Err(MlError::CorruptModel { .. })
    ));

    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    assert!(matches!(
        Model::load(&path),
        Err(MlError::TruncatedModel { .. })
    ));

    std::fs::write(&path, b"not a model at all").unwrap();
    assert!(matches!(
        Model::load(&path),
        Err(MlError::NotAModelFile { .. })
    ));

    assert!(matches!(
        Model::load(dir.path().join("missing.lfm")),
        Err(MlError::Io { .. })
    ));
}
