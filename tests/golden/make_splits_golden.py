"""Reference index sets for Strider's splitters, from the reference libraries themselves.

  scheme "tss":          sklearn.model_selection.TimeSeriesSplit (scikit-learn 1.9.1)
  scheme "walk-forward": skfolio.model_selection.WalkForward (skfolio 1.12.2, integer sizes)
  scheme "cpcv":         skfolio.model_selection.CombinatorialPurgedCV (skfolio 1.12.2)
  scheme "purged-kfold": López de Prado, AFML snippet 7.3 PurgedKFold, verbatim on a t1 Series
                         with t1[i] = i + horizon (the embargo passed as a count, not a fraction)

Run:  python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scikit-learn==1.9.1 skfolio==1.12.2 pandas
      /tmp/venv/bin/python tests/golden/make_splits_golden.py > tests/golden/splits.json
"""
import itertools
import json
import sys

import numpy as np
import pandas as pd
import sklearn
import skfolio
from sklearn.model_selection import TimeSeriesSplit
from skfolio.model_selection import CombinatorialPurgedCV, WalkForward


def ranges(idx):
    idx = sorted(int(i) for i in idx)
    out = []
    for i in idx:
        if out and out[-1][1] + 1 == i:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def afml_purged_kfold(n, n_splits, horizon, mbrg):
    """AFML snippet 7.3, with X = range(n) and t1 indexed by integer 'times'."""
    t1 = pd.Series(np.arange(n) + horizon, index=np.arange(n))
    if n_splits < 2 or n_splits > n:
        raise ValueError("n_splits")
    indices = np.arange(n)
    test_starts = [(i[0], i[-1] + 1) for i in np.array_split(np.arange(n), n_splits)]
    for i, j in test_starts:
        t0 = t1.index[i]
        test_indices = indices[i:j]
        max_t1_idx = t1.index.searchsorted(t1.iloc[test_indices].max())
        train_indices = t1.index.searchsorted(t1[t1 <= t0].index)
        if max_t1_idx < n:
            train_indices = np.concatenate((train_indices, indices[max_t1_idx + mbrg:]))
        yield train_indices, test_indices


def case(params, fn):
    try:
        splits, n_paths, groups = fn()
    except ValueError as e:
        return {**params, "error": str(e)}
    if not splits:
        return {**params, "error": "no splits"}
    return {**params, "n_paths": n_paths, "splits": splits}


def tss(n, n_splits, max_train_size, test_size, gap):
    def run():
        cv = TimeSeriesSplit(n_splits=n_splits, max_train_size=max_train_size, test_size=test_size, gap=gap)
        out = [{"train": ranges(a), "test": ranges(b)} for a, b in cv.split(np.zeros(n))]
        return out, 1, None
    return case(dict(scheme="tss", n_samples=n, n_splits=n_splits, max_train_size=max_train_size,
                     test_size=test_size, gap=gap), run)


def walk_forward(n, train_size, test_size, gap, expand, reduce_test):
    def run():
        cv = WalkForward(test_size=test_size, train_size=train_size, purged_size=gap,
                         expand_train=expand, reduce_test=reduce_test)
        out = [{"train": ranges(a), "test": ranges(b)} for a, b in cv.split(np.zeros((n, 1)))]
        return out, 1, None
    return case(dict(scheme="walk-forward", n_samples=n, train_size=train_size, test_size=test_size,
                     gap=gap, window="expanding" if expand else "rolling", reduce_test=reduce_test), run)


def cpcv(n, n_folds, n_test_folds, purge, embargo):
    def run():
        cv = CombinatorialPurgedCV(n_folds=n_folds, n_test_folds=n_test_folds, purged_size=purge,
                                   embargo_size=embargo)
        path_ids = cv.get_path_ids()
        out = []
        for s, (train, tests) in enumerate(cv.split(np.zeros((n, 1)))):
            out.append({
                "train": ranges(train),
                "test": ranges(np.concatenate(tests)),
                "test_groups": [ranges(t) for t in tests],
                "path_ids": [int(p) for p in path_ids[s]],
            })
        return out, int(cv.n_test_paths), None
    return case(dict(scheme="cpcv", n_samples=n, n_folds=n_folds, n_test_folds=n_test_folds,
                     purge=purge, embargo=embargo), run)


def purged_kfold(n, n_splits, horizon, embargo):
    def run():
        out = [{"train": ranges(a), "test": ranges(b)}
               for a, b in afml_purged_kfold(n, n_splits, horizon, embargo)]
        return out, 1, None
    return case(dict(scheme="purged-kfold", n_samples=n, n_splits=n_splits, purge=horizon,
                     embargo=embargo), run)


cases = []
for n, k, m, t, g in itertools.product([7, 60, 500, 1013], [2, 3, 5, 9], [None, 40],
                                       [None, 13, 150], [0, 2, 21]):
    cases.append(tss(n, k, m, t, g))
for n, tr, te, g, ex, rt in itertools.product([40, 252, 1000], [10, 100, 252], [7, 63],
                                              [0, 1, 5], [True, False], [True, False]):
    if n == 1000 and te == 7 and g != 1:
        continue  # ~140 splits each: one gap is enough
    cases.append(walk_forward(n, tr, te, g, ex, rt))
for n, f, k, p, e in itertools.product([30, 101, 500, 1003], [3, 4, 6, 10], [2, 3, 8], [0, 1, 3],
                                       [0, 2]):
    if k >= f and (n, p, e) != (101, 1, 0):
        continue  # keep a few invalid (k >= f) cases, not all of them
    if f == 10 and (n not in (101, 500) or p == 1):
        continue  # up to 120 splits each: keep the file small
    cases.append(cpcv(n, f, k, p, e))
for n, k, h, e in itertools.product([3, 50, 101, 500], [1, 2, 3, 5, 10], [0, 1, 5], [0, 3]):
    cases.append(purged_kfold(n, k, h, e))

json.dump({"generated_by": "tests/golden/make_splits_golden.py",
           "versions": {"scikit-learn": sklearn.__version__, "skfolio": skfolio.__version__,
                        "numpy": np.__version__, "pandas": pd.__version__},
           "cases": cases}, sys.stdout, separators=(",", ":"))
