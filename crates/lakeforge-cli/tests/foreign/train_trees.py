"""Trains small LightGBM and XGBoost models with the real frameworks, for the import tests
(crates/lakeforge-cli/tests/it/foreign.rs). Writes into the folder given as the only argument:

- data.csv: the inputs (numeric columns with missing values, a text category, an integer code)
  and the labels;
- one model file per case (LightGBM text, XGBoost JSON), as each framework saves it;
- predictions.csv: each framework's own predictions on data.csv, one column per case (and
  per class for multiclass models: `<case>_<class>`).

Run by the tests in the test venv (scripts/setup-test-env installs lightgbm, xgboost-cpu,
scikit-learn and pandas); runnable by hand the same way to look at the files.
"""

import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import xgboost as xgb

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(42)
n = 2000

num1 = rng.normal(size=n)
num2 = rng.uniform(-3, 3, size=n)
num2[rng.random(n) < 0.1] = np.nan  # missing values the trees route by default direction
colors = np.array(["red", "green", "blue", "teal", "plum"])
color = colors[rng.integers(0, len(colors), size=n)]
code = rng.integers(0, 6, size=n)
effect = {"red": 1.0, "green": -0.5, "blue": 0.2, "teal": -1.2, "plum": 0.7}
signal = (
    1.5 * num1
    - np.nan_to_num(num2, nan=1.0) * 0.8
    + np.vectorize(effect.get)(color)
    + np.where(code % 2 == 0, 0.6, -0.6)
)
label_bin = (signal + rng.normal(scale=0.5, size=n) > 0).astype(int)
label_multi = np.digitize(signal + rng.normal(scale=0.5, size=n), [-1.0, 1.0])
target_reg = signal * 3.0 + rng.normal(scale=0.3, size=n)
counts = rng.poisson(np.exp(np.clip(signal, -3, 3) * 0.5))

data = pd.DataFrame(
    {
        "row_id": np.arange(n),
        "num1": num1,
        "num2": num2,
        "color": color,
        "code": code,
        "label_bin": label_bin,
        "label_multi": label_multi,
        "target_reg": target_reg,
        "counts": counts,
    }
)
data.to_csv(out / "data.csv", index=False, float_format="%.17g")

# LightGBM: the text category as pandas' categorical dtype (the model file keeps the
# category list), and the integer code as a categorical feature given by its codes.
X = data[["num1", "num2", "color", "code"]].copy()
X["color"] = X["color"].astype("category")
preds = {}
lgb_params = {"verbose": -1, "num_leaves": 15, "min_data_in_leaf": 10, "seed": 1}
cases = {
    "lgb_binary": ({"objective": "binary"}, "label_bin"),
    "lgb_multi": ({"objective": "multiclass", "num_class": 3}, "label_multi"),
    "lgb_reg": ({"objective": "regression"}, "target_reg"),
    "lgb_poisson": ({"objective": "poisson"}, "counts"),
}
for name, (params, label) in cases.items():
    ds = lgb.Dataset(X, label=data[label], categorical_feature=["color", "code"])
    booster = lgb.train({**lgb_params, **params}, ds, num_boost_round=30)
    booster.save_model(str(out / f"{name}.txt"))
    p = booster.predict(X)
    if p.ndim == 2:
        for k in range(p.shape[1]):
            preds[f"{name}_{k}"] = p[:, k]
    else:
        preds[name] = p

# XGBoost: numeric features (its categorical splits are not imported yet), missing as NaN.
Xn = data[["num1", "num2", "code"]].astype("float64")
xgb_cases = {
    "xgb_binary": ({"objective": "binary:logistic"}, "label_bin"),
    "xgb_multi": ({"objective": "multi:softprob", "num_class": 3}, "label_multi"),
    "xgb_reg": ({"objective": "reg:squarederror"}, "target_reg"),
    "xgb_poisson": ({"objective": "count:poisson"}, "counts"),
}
for name, (params, label) in xgb_cases.items():
    dm = xgb.DMatrix(Xn, label=data[label])
    booster = xgb.train({**params, "max_depth": 5, "eta": 0.3, "seed": 1}, dm, num_boost_round=30)
    booster.save_model(str(out / f"{name}.json"))
    p = booster.predict(xgb.DMatrix(Xn))
    if p.ndim == 2:
        for k in range(p.shape[1]):
            preds[f"{name}_{k}"] = p[:, k]
    else:
        preds[name] = p

pd.DataFrame(preds).to_csv(out / "predictions.csv", index=False, float_format="%.17g")
print(f"wrote {len(cases) + len(xgb_cases)} models to {out}")
