"""Raw scores and TreeSHAP contributions (pred_contrib) of the edge-case models, from LightGBM.

The models, data.csv and *.pred (transformed predictions) come from shared/notes/lightgbm-eval
(edge_models.py, LightGBM 4.7.0). This adds *.raw (raw_score=True, every row) and *.contrib
(pred_contrib=True, the first 300 rows), 17 significant digits.

  pip install lightgbm numpy && python tests/golden/lightgbm/make_contrib.py
"""
import os

import lightgbm as lgb
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
X = np.genfromtxt(os.path.join(here, "data.csv"), delimiter=",", skip_header=1)[:, 1:]
for name in ["reg_nan_cat", "reg_zero_missing", "binary", "multiclass", "poisson", "rf"]:
    b = lgb.Booster(model_file=os.path.join(here, f"{name}.txt"))
    np.savetxt(os.path.join(here, f"{name}.raw"), b.predict(X, raw_score=True).reshape(-1), fmt="%.17e")
    np.savetxt(os.path.join(here, f"{name}.contrib"), b.predict(X[:300], pred_contrib=True), fmt="%.17e")
print("lightgbm", lgb.__version__)
