//! Random search, successive halving, cross-validation and batch splits.

use lakeforge_ml::split::{SplitStrategy, split_batches};
use lakeforge_ml::{
    FitSpec, SearchSpace, Task, TuneOptions, TuneStrategy, cross_validate, fit, tune,
};

use crate::common::load_csv;

fn space() -> SearchSpace {
    SearchSpace::parse(&[
        "num_leaves=int:4:31",
        "learning_rate=logfloat:0.03:0.3",
        "feature_fraction=float:0.5:1.0",
    ])
    .unwrap()
}

#[test]
fn random_search_returns_all_trials_and_best() {
    let train = [load_csv("breast_cancer_train.csv", true)];
    let spec = FitSpec::new(Task::Binary, Some("label")).with_param("num_iterations", "20");
    let opts = TuneOptions {
        strategy: TuneStrategy::Random { n_trials: 6 },
        seed: 3,
        ..Default::default()
    };
    let r = tune(&train, &spec, &space(), &opts).unwrap();
    assert_eq!(r.trials.len(), 6);
    assert_eq!(r.metric, "auc");
    assert!(r.trials.iter().all(|t| t.score <= r.best_score));
    assert!(r.best_score > 0.95);
    assert_eq!(r.best_params["num_iterations"], "20");
    // Deterministic, and the best params are directly usable.
    assert_eq!(tune(&train, &spec, &space(), &opts).unwrap(), r);
    let mut best = spec.clone();
    best.params = r.best_params.clone();
    fit(&train, None, &best).unwrap();
}

#[test]
fn successive_halving_promotes_to_full_budget() {
    let train = [load_csv("diabetes_train.csv", false)];
    let spec = FitSpec::new(Task::Regression, Some("label")).with_param("num_iterations", "40");
    let opts = TuneOptions {
        strategy: TuneStrategy::SuccessiveHalving {
            n_trials: 8,
            min_iterations: 5,
            eta: 2,
        },
        folds: 3,
        ..Default::default()
    };
    let r = tune(&train, &spec, &space(), &opts).unwrap();
    assert_eq!(r.metric, "rmse");
    assert!(!r.higher_is_better);
    let rung0 = r.trials.iter().filter(|t| t.rung == 0).count();
    assert_eq!(rung0, 8);
    assert!(r.trials.iter().any(|t| t.budget == Some(40)));
    assert_eq!(r.best_params["num_iterations"], "40");
}

#[test]
fn cross_validation_and_splits() {
    let data = [load_csv("diabetes_train.csv", false)];
    let cv = cross_validate(
        &data,
        &FitSpec::new(Task::Regression, Some("label")).with_param("num_iterations", "30"),
        3,
        None,
        1,
    )
    .unwrap();
    assert_eq!(cv.fold_scores.len(), 3);
    assert!(cv.mean > 40.0 && cv.mean < 80.0, "{cv:?}");

    let (tr, te) = split_batches(
        &data,
        &SplitStrategy::Stratified {
            column: "label".into(),
            test_fraction: 0.2,
            seed: 1,
        },
    )
    .unwrap();
    assert_eq!(tr.num_rows() + te.num_rows(), data[0].num_rows());
    let (tr, te) = split_batches(
        &data,
        &SplitStrategy::Random {
            test_fraction: 0.25,
            seed: 1,
        },
    )
    .unwrap();
    assert_eq!(
        te.num_rows(),
        (data[0].num_rows() as f64 * 0.25).round() as usize
    );
    assert_eq!(tr.num_columns(), data[0].num_columns());
}
