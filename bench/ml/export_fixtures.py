"""Export scikit-learn's bundled datasets as small CSV fixtures for lakeforge-ml's
integration tests, and record LightGBM's test metrics on the same split with the
same parameters so the Rust tests can compare against them without Python.

Run once (needs scikit-learn, lightgbm, pandas):
    python3 bench/ml/export_fixtures.py
"""
import json
import os

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "lakeforge-ml", "tests", "fixtures")

# One parameter set per dataset; the Rust tests read these back from the JSON
# so both engines always train with identical settings.
PARAMS = {
    "breast_cancer": {"objective": "binary", "num_iterations": "100", "num_leaves": "15",
                       "learning_rate": "0.1", "min_data_in_leaf": "10", "seed": "42"},
    "wine": {"objective": "multiclass", "num_class": "3", "num_iterations": "100",
             "num_leaves": "7", "learning_rate": "0.1", "min_data_in_leaf": "5", "seed": "42"},
    "digits": {"objective": "multiclass", "num_class": "10", "num_iterations": "50",
               "num_leaves": "15", "learning_rate": "0.1", "min_data_in_leaf": "10", "seed": "42"},
    "diabetes": {"objective": "regression", "num_iterations": "100", "num_leaves": "7",
                 "learning_rate": "0.05", "min_data_in_leaf": "10", "seed": "42"},
}

LOADERS = {
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "digits": datasets.load_digits,
    "diabetes": datasets.load_diabetes,
}


def lgb_params(p):
    out = {k: (int(v) if v.lstrip("-").isdigit() else float(v) if k != "objective" else v)
           for k, v in p.items()}
    out["verbosity"] = -1
    out["num_threads"] = 1
    out["deterministic"] = True
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    reference = {}
    for name, loader in LOADERS.items():
        ds = loader()
        X = pd.DataFrame(ds.data, columns=[f"f{i}" for i in range(ds.data.shape[1])])
        y = ds.target
        classification = name != "diabetes"
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, random_state=42, stratify=y if classification else None)
        for part, xs, ys in (("train", X_tr, y_tr), ("test", X_te, y_te)):
            df = xs.copy()
            df["label"] = ys
            df.to_csv(os.path.join(OUT, f"{name}_{part}.csv"), index=False, float_format="%.10g")

        params = PARAMS[name]
        p = lgb_params(params)
        rounds = p.pop("num_iterations")
        booster = lgb.train(p, lgb.Dataset(X_tr, y_tr), num_boost_round=rounds)
        pred = booster.predict(X_te)
        if name == "breast_cancer":
            metrics = {"auc": roc_auc_score(y_te, pred),
                       "accuracy": accuracy_score(y_te, pred > 0.5),
                       "logloss": log_loss(y_te, pred)}
        elif classification:
            metrics = {"accuracy": accuracy_score(y_te, pred.argmax(axis=1)),
                       "logloss": log_loss(y_te, pred)}
        else:
            metrics = {"rmse": float(np.sqrt(mean_squared_error(y_te, pred)))}
        reference[name] = {"params": params, "metrics": metrics,
                           "train_rows": len(y_tr), "test_rows": len(y_te)}
        print(name, metrics)

    with open(os.path.join(OUT, "lightgbm_reference.json"), "w") as f:
        json.dump(reference, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
