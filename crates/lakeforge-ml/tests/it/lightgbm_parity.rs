//! Accuracy/AUC/RMSE of our GBDT vs LightGBM trained with identical
//! parameters on the same split (numbers recorded in lightgbm_reference.json).

use lakeforge_ml::{FitSpec, Task, fit};

use crate::common::{load_csv, metric, reference};

fn spec(task: Task, dataset: &str) -> FitSpec {
    let mut s = FitSpec::new(task, Some("label"));
    s.params = reference(dataset).params;
    s
}

#[test]
fn breast_cancer_binary_matches_lightgbm() {
    let r = reference("breast_cancer");
    let model = fit(
        &[load_csv("breast_cancer_train.csv", true)],
        None,
        &spec(Task::Binary, "breast_cancer"),
    )
    .unwrap();
    let rep = model
        .evaluate(&[load_csv("breast_cancer_test.csv", true)])
        .unwrap();
    let (auc, acc) = (rep.get("auc").unwrap(), rep.get("accuracy").unwrap());
    eprintln!(
        "breast_cancer: auc {auc:.4} (lgb {:.4}) acc {acc:.4} (lgb {:.4})",
        metric(&r, "auc"),
        metric(&r, "accuracy")
    );
    assert!(auc >= metric(&r, "auc") - 0.01, "auc {auc}");
    assert!(acc >= metric(&r, "accuracy") - 0.03, "accuracy {acc}");
    assert!(rep.get("logloss").unwrap() <= metric(&r, "logloss") + 0.05);
}

#[test]
fn wine_multiclass_matches_lightgbm() {
    let r = reference("wine");
    let model = fit(
        &[load_csv("wine_train.csv", true)],
        None,
        &spec(Task::Multiclass, "wine"),
    )
    .unwrap();
    let rep = model.evaluate(&[load_csv("wine_test.csv", true)]).unwrap();
    let acc = rep.get("accuracy").unwrap();
    eprintln!(
        "wine: acc {acc:.4} (lgb {:.4}) logloss {:.4} (lgb {:.4})",
        metric(&r, "accuracy"),
        rep.get("logloss").unwrap(),
        metric(&r, "logloss")
    );
    assert!(acc >= metric(&r, "accuracy") - 0.05, "accuracy {acc}");
    assert!(rep.get("logloss").unwrap() < 0.15);
    assert_eq!(model.output_columns(), ["prob_0", "prob_1", "prob_2"]);
}

#[test]
fn digits_multiclass_matches_lightgbm() {
    let r = reference("digits");
    let model = fit(
        &[load_csv("digits_train.csv", true)],
        None,
        &spec(Task::Multiclass, "digits"),
    )
    .unwrap();
    let rep = model
        .evaluate(&[load_csv("digits_test.csv", true)])
        .unwrap();
    let acc = rep.get("accuracy").unwrap();
    let ll = rep.get("logloss").unwrap();
    eprintln!(
        "digits: acc {acc:.4} (lgb {:.4}) logloss {ll:.4} (lgb {:.4})",
        metric(&r, "accuracy"),
        metric(&r, "logloss")
    );
    assert!(acc >= metric(&r, "accuracy") - 0.02, "accuracy {acc}");
    assert!(ll <= metric(&r, "logloss") + 0.05, "logloss {ll}");
    let (_, cm) = rep.confusion.unwrap();
    assert_eq!(cm.iter().flatten().sum::<usize>(), rep.rows);
}

#[test]
fn diabetes_regression_matches_lightgbm() {
    let r = reference("diabetes");
    let model = fit(
        &[load_csv("diabetes_train.csv", false)],
        None,
        &spec(Task::Regression, "diabetes"),
    )
    .unwrap();
    let rep = model
        .evaluate(&[load_csv("diabetes_test.csv", false)])
        .unwrap();
    let rmse = rep.get("rmse").unwrap();
    eprintln!("diabetes: rmse {rmse:.3} (lgb {:.3})", metric(&r, "rmse"));
    assert!(rmse <= metric(&r, "rmse") * 1.05, "rmse {rmse}");
}
