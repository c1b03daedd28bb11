"""Reference values for Strider's metrics and statistics, computed by the reference libraries.

  per-series metrics:  quantstats 0.0.86 (and empyrical-reloaded 0.7.1 where noted)
  benchmark metrics:   quantstats greeks / information_ratio, empyrical up/down capture
  Diebold-Mariano:     dieboldmariano 1.1.0 dm_test (HLN correction, acf variance)
  SPA / Reality Check: arch 8.0.0 SPA (stationary bootstrap, reps=1000)
  MCS:                 arch 8.0.0 MCS (R and max methods, reps=1000)
  DSR, PBO, MinTRL:    the papers' formulas in NumPy / SciPy (no maintained library implements them)

Inputs are real series from shared/data, rounded to 10 significant digits and written next to
the JSON, so both sides compute from identical numbers. Run from the repo root with a venv that has
quantstats==0.0.86 empyrical-reloaded arch==8.0.0 dieboldmariano pandas scipy:

  python tests/golden/make_metrics_golden.py path/to/shared/data
"""
import itertools
import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
import empyrical as ep
import quantstats as qs
import arch
from arch.bootstrap import MCS, SPA
from dieboldmariano import dm_test
from scipy.stats import norm, rankdata

warnings.filterwarnings("ignore")
DATA = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
OUT = "tests/golden"


def rounded(df):
    return df.map(lambda v: float(f"{v:.10g}") if np.isfinite(v) else np.nan)


def returns_of(path, col="adj_close"):
    d = pd.read_csv(f"{DATA}/{path}", parse_dates=["date"], index_col="date")
    return d[col].pct_change().iloc[1:]


# ---- inputs ------------------------------------------------------------------------------------
indices = rounded(pd.DataFrame({"SP500": returns_of("arch_sp500.csv"), "NASDAQ": returns_of("arch_nasdaq.csv")}))
panel = pd.read_csv(f"{DATA}/skfolio_sp500_20assets_adjclose.csv", parse_dates=["date"], index_col="date")
index = pd.read_csv(f"{DATA}/skfolio_sp500_index_close.csv", parse_dates=["date"], index_col="date")["close"]
stocks = panel[["AAPL", "JNJ", "KO", "XOM", "WMT", "AMD"]].pct_change()
stocks["INDEX"] = index.pct_change()
stocks = rounded(stocks.iloc[-1500:])
# Ten moving-average crossover configurations on the S&P 500 (the "trials" for DSR and PBO).
px = pd.read_csv(f"{DATA}/arch_sp500.csv", parse_dates=["date"], index_col="date")["adj_close"]
ret = px.pct_change()
trials = {}
for fast, slow in [(5, 20), (5, 50), (10, 50), (10, 100), (20, 100), (20, 200), (50, 200), (3, 10), (10, 30), (30, 150)]:
    signal = np.sign(px.rolling(fast).mean() - px.rolling(slow).mean()).shift(1)
    trials[f"ma_{fast}_{slow}"] = signal * ret
trials = rounded(pd.DataFrame(trials).iloc[-2000:])
# Volatility forecasts of the S&P 500 (rolling variance, k windows) and their squared-error
# losses against the realised squared return: the MCS / DM input.
r = indices["SP500"]
fc = {f"w{w}": (r**2).rolling(w).mean().shift(1) for w in (5, 10, 22, 66, 126, 252)}
fc = pd.DataFrame(fc).iloc[-2500:]
losses = rounded(((fc.sub(r.loc[fc.index] ** 2, axis=0)) ** 2) * 1e8)

for name, df in [("indices", indices), ("stocks", stocks), ("trials", trials), ("losses", losses)]:
    df.to_csv(f"{OUT}/metrics_input_{name}.csv", index_label="date", float_format="%.10g", na_rep="")


# ---- per-series metrics ------------------------------------------------------------------------
def series(r, rf=0.0):
    dd = qs.stats.to_drawdown_series(r)
    det = qs.stats.drawdown_details(dd)
    clean = r.dropna()
    sr = qs.stats.sharpe(r, rf=rf, annualize=False)
    g3, g4 = clean.skew(), clean.kurt() + 3
    mintrl = 1 + (1 - g3 * sr + (g4 - 1) / 4 * sr**2) * (norm.ppf(0.95) / sr) ** 2 if sr > 0 else math.inf
    return {
        "total_return": qs.stats.comp(r),
        "cagr": qs.stats.cagr(r, rf=rf),
        "volatility": qs.stats.volatility(r),
        "sharpe": qs.stats.sharpe(r, rf=rf),
        "sortino": qs.stats.sortino(r, rf=rf),
        "calmar": qs.stats.calmar(r),
        "max_drawdown": qs.stats.max_drawdown(r),
        "longest_drawdown_days": int(det["days"].max()),
        "avg_drawdown": det["max drawdown"].mean() / 100,
        "win_rate": qs.stats.win_rate(r),
        "hit_rate": float((clean > 0).sum() / len(clean)),
        "profit_factor": qs.stats.profit_factor(r),
        "payoff_ratio": qs.stats.payoff_ratio(r),
        "tail_ratio": qs.stats.tail_ratio(r),
        "omega": qs.stats.omega(r, rf=rf),
        "var_95": ep.value_at_risk(clean, cutoff=0.05),
        "cvar_95": qs.stats.conditional_value_at_risk(r, method="historical"),
        "var_95_parametric": qs.stats.value_at_risk(r),
        "cvar_95_parametric": qs.stats.conditional_value_at_risk(r),
        "skew": qs.stats.skew(r),
        "kurtosis": qs.stats.kurtosis(r),
        "best_day": qs.stats.best(r),
        "worst_day": qs.stats.worst(r),
        "psr": qs.stats.probabilistic_sharpe_ratio(r, rf=rf),
        "min_track_record_length": mintrl,
    }


def vs(r, b):
    g = qs.stats.greeks(r, b)
    d = (r - b).dropna()
    return {
        "alpha": g["alpha"], "beta": g["beta"],
        "correlation": r.corr(b),
        "information_ratio": qs.stats.information_ratio(r, b),
        "tracking_error": d.std() * np.sqrt(252),
        "up_capture": ep.up_capture(r, b), "down_capture": ep.down_capture(r, b),
    }


def f(x):
    x = float(x)
    return None if math.isnan(x) else ("inf" if math.isinf(x) else x)


def clean_dict(d):
    return {k: f(v) if not isinstance(v, (list, dict, str)) else v for k, v in d.items()}


golden = {"versions": {"quantstats": qs.__version__, "empyrical": ep.__version__, "arch": arch.__version__},
          "series": {}, "benchmark": {}, "rf": {}}
for file, df in [("indices", indices), ("stocks", stocks), ("trials", trials)]:
    for col in df.columns:
        golden["series"][f"{file}/{col}"] = clean_dict(series(df[col]))
golden["benchmark"]["indices/NASDAQ~SP500"] = clean_dict(vs(indices["NASDAQ"], indices["SP500"]))
for col in ["AAPL", "KO", "AMD"]:
    golden["benchmark"][f"stocks/{col}~INDEX"] = clean_dict(vs(stocks[col], stocks["INDEX"]))
for rf in (0.02, 0.05):
    golden["rf"][f"indices/SP500@{rf}"] = clean_dict({k: v for k, v in series(indices["SP500"], rf).items()
                                                       if k in ("sharpe", "sortino", "omega", "psr")})

# ---- statistics ---------------------------------------------------------------------------------
sr_trials = np.array([qs.stats.sharpe(trials[c], annualize=False) for c in trials.columns])
best = trials.columns[int(np.argmax(sr_trials))]
v = np.var(sr_trials, ddof=1)
gamma = 0.5772156649015329
n = len(sr_trials)
sr0 = math.sqrt(v) * ((1 - gamma) * norm.ppf(1 - 1 / n) + gamma * norm.ppf(1 - 1 / (n * math.e)))
b = trials[best]
sr = qs.stats.sharpe(b, annualize=False)
g3, g4 = b.dropna().skew(), b.dropna().kurt() + 3
dsr = norm.cdf((sr - sr0) * math.sqrt(len(b) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
golden["dsr"] = {"selected": best, "n_trials": n, "sharpe_variance": v, "expected_max_sharpe": sr0, "dsr": dsr}


def pbo(m, s=16):
    t = m.shape[0] - m.shape[0] % s
    m = m[m.shape[0] - t:]
    blocks = np.array_split(np.arange(t), s)
    logits, oos_best = [], []
    for combo in itertools.combinations(range(s), s // 2):
        j = np.concatenate([blocks[i] for i in combo])
        jc = np.concatenate([blocks[i] for i in range(s) if i not in combo])
        r_in = m[j].mean(0) / m[j].std(0, ddof=1)
        r_out = m[jc].mean(0) / m[jc].std(0, ddof=1)
        k = int(np.argmax(r_in))
        w = rankdata(r_out)[k] / (m.shape[1] + 1)
        logits.append(math.log(w / (1 - w)))
        oos_best.append(r_out[k])
    return {"pbo": float(np.mean(np.array(logits) <= 0)), "prob_oos_loss": float(np.mean(np.array(oos_best) < 0)),
            "n_combinations": len(logits), "logits_head": logits[:20]}


golden["pbo"] = {"trials": pbo(trials.to_numpy()), "stocks": pbo(stocks.drop(columns="INDEX").to_numpy(), 10)}

zero = [0.0] * len(losses)
golden["dm"] = {}
for a, c, h in [("w5", "w66", 1), ("w22", "w252", 5), ("w10", "w22", 1)]:
    stat, p = dm_test(zero, losses[a].tolist(), losses[c].tolist(), loss=lambda u, v: v, h=h)
    golden["dm"][f"{a}~{c}~h{h}"] = {"statistic": stat, "p_value": p}

golden["spa"] = {}
for name, bench, models in [
    ("indices", -indices["NASDAQ"].fillna(0), -indices[["SP500"]].fillna(0)),
    ("stocks", -stocks["INDEX"], -stocks.drop(columns="INDEX")),
    ("losses", losses["w5"], losses.drop(columns="w5")),
]:
    spa = SPA(bench.to_numpy(), models.to_numpy(), reps=1000, seed=7)
    spa.compute()
    pv = spa.pvalues
    golden["spa"][name] = {"lower": pv["lower"], "consistent": pv["consistent"], "upper": pv["upper"],
                           "block_size": spa.block_size}
golden["mcs"] = {}
for method in ("R", "max"):
    mcs = MCS(losses.to_numpy(), size=0.1, reps=1000, method=method, seed=7)
    mcs.compute()
    golden["mcs"][method] = {"pvalues": mcs.pvalues["Pvalue"].sort_index().tolist(),
                             "included": sorted(int(i) for i in mcs.included),
                             "excluded": sorted(int(i) for i in mcs.excluded)}

json.dump(golden, open(f"{OUT}/metrics.json", "w"), indent=1, allow_nan=False)
print("wrote", f"{OUT}/metrics.json")
