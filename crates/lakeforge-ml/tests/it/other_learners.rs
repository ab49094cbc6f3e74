//! Linear/logistic regression and k-means end to end on the fixtures.

use lakeforge_ml::{Algorithm, FitSpec, Model, Task, fit};

use crate::common::load_csv;

#[test]
fn logistic_regression_on_breast_cancer() {
    let spec = FitSpec::new(Task::Binary, Some("label"))
        .with_algorithm(Algorithm::Linear)
        .with_param("lambda_l2", "0.01");
    let model = fit(&[load_csv("breast_cancer_train.csv", true)], None, &spec).unwrap();
    let rep = model
        .evaluate(&[load_csv("breast_cancer_test.csv", true)])
        .unwrap();
    // scikit-learn's standardised LogisticRegression reaches ~0.99+ AUC here.
    assert!(rep.get("auc").unwrap() > 0.98, "{rep:?}");
    assert!(rep.get("accuracy").unwrap() > 0.94, "{rep:?}");
}

#[test]
fn linear_regression_on_diabetes_and_lasso_sparsity() {
    let train = [load_csv("diabetes_train.csv", false)];
    let test = [load_csv("diabetes_test.csv", false)];
    let ols = fit(
        &train,
        None,
        &FitSpec::new(Task::Regression, Some("label")).with_algorithm(Algorithm::Linear),
    )
    .unwrap();
    let rmse = ols.evaluate(&test).unwrap().get("rmse").unwrap();
    // scikit-learn LinearRegression on this split: ~53.4.
    assert!(rmse < 57.0, "rmse {rmse}");
    let lasso = fit(
        &train,
        None,
        &FitSpec::new(Task::Regression, Some("label"))
            .with_algorithm(Algorithm::Linear)
            .with_param("lambda_l1", "5"),
    )
    .unwrap();
    let zeros = lasso
        .feature_importance(lakeforge_ml::ImportanceType::Gain)
        .iter()
        .filter(|(_, v)| *v == 0.0)
        .count();
    assert!(zeros >= 3, "lasso kept too many features");
}

#[test]
fn multiclass_logistic_and_kmeans_on_wine() {
    let train = [load_csv("wine_train.csv", true)];
    let test = [load_csv("wine_test.csv", true)];
    let m = fit(
        &train,
        None,
        &FitSpec::new(Task::Multiclass, Some("label"))
            .with_algorithm(Algorithm::Linear)
            .with_param("lambda_l2", "0.01"),
    )
    .unwrap();
    assert!(m.evaluate(&test).unwrap().get("accuracy").unwrap() > 0.9);

    let mut spec = FitSpec::new(Task::Clustering, None)
        .with_param("n_clusters", "3")
        .with_param("seed", "1");
    spec.exclude = vec!["label".into()];
    let km = fit(&train, None, &spec).unwrap();
    let bytes = km.to_bytes().unwrap();
    assert_eq!(Model::from_bytes(&bytes).unwrap(), km);
    let pred = km.predict(&test[0]).unwrap();
    assert_eq!(pred.schema().field(0).name(), "cluster");
    let rep = km.evaluate(&test).unwrap();
    assert!(rep.get("inertia").unwrap().is_finite());
    assert_eq!(fit(&train, None, &spec).unwrap(), km);
}
