"""LightGBM's parameter aliases as LightGBM itself reports them (LGBM_DumpParamAliases, through
the Python package's _ConfigAliases), for the parameters Strider's GbdtParams has. Writes
aliases.json: {canonical: [alias, ...]} (sorted). Run with lightgbm==4.7.0 (the version the
`lightgbm` feature builds): `python make_aliases.py > aliases.json`."""
import json

import lightgbm
from lightgbm.basic import _ConfigAliases

PARAMS = ["objective", "num_class", "num_iterations", "learning_rate", "num_leaves", "max_depth",
          "min_data_in_leaf", "min_sum_hessian_in_leaf", "lambda_l1", "lambda_l2",
          "min_gain_to_split", "feature_fraction", "bagging_fraction", "bagging_freq", "max_bin",
          "early_stopping_round", "seed", "num_threads", "use_missing", "zero_as_missing",
          "categorical_feature", "max_cat_to_onehot", "cat_smooth", "cat_l2", "max_cat_threshold",
          "min_data_per_group"]

assert lightgbm.__version__ == "4.7.0", lightgbm.__version__
table = _ConfigAliases._get_all_param_aliases()
out = {p: sorted(a for a in table[p] if a != p) for p in PARAMS}
print(json.dumps(out, indent=1, sort_keys=True))
