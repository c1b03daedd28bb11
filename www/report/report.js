// The report's page logic: decode the embedded payload and wasm core, then draw. Every number
// shown comes from the core (the run's summary, or the what-if the core recomputes); this file
// only lays it out. Every name and value is inserted with textContent, never parsed as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const finite = (v) => typeof v === "number" && Number.isFinite(v);
  const fmt = (v, d = 3) => (finite(v) ? v.toFixed(d) : "–");
  const pct = (v, d = 2) => (finite(v) ? (v * 100).toFixed(d) + "%" : "–");
  const SVG = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  };

  function table(t, header, rows, opts = {}) {
    t.replaceChildren();
    const head = t.createTHead().insertRow();
    for (const h of header) head.appendChild(el("th", h));
    const body = t.createTBody();
    for (const r of rows) {
      const tr = body.insertRow();
      r.forEach((c, i) => {
        const td = tr.insertCell();
        if (c !== null && typeof c === "object" && "text" in c) {
          td.textContent = c.text;
          for (const [k, v] of Object.entries(c.data || {})) td.dataset[k] = String(v);
          if (c.cls) td.className = c.cls;
        } else td.textContent = c === null || c === undefined ? "–" : String(c);
        if (opts.labelCols && i < opts.labelCols) td.classList.add("label");
      });
    }
  }

  async function decode(id) {
    const b64 = $(id).textContent.trim();
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }

  const dayTs = (d) => Date.parse(d + "T00:00:00Z") / 1000;

  // ---- state ----------------------------------------------------------------------------------
  let payload, payloadText, wasmBytes, engine, info, view;
  let settings, runSettings;
  const charts = {};
  const folds = {}; // model -> fold records (replaced on retraining)

  function defaultSettings() {
    const s = info.strategy;
    // A study of blend weights (`strider tune --ensemble`) opens on its best weights.
    const ensemble = {};
    for (const [k, v] of Object.entries(payload.tuning?.best?.params ?? {})) {
      const model = k.startsWith("weight.") ? k.slice(7) : null;
      if (model && info.models.some((m) => m.name === model) && Number(v) > 0) ensemble[model] = Number(v);
    }
    return {
      strategy: { ...s },
      ensemble,
      rolling_window: 126,
      statistics: true,
    };
  }

  // ---- static sections ------------------------------------------------------------------------
  function renderRun() {
    const s = payload.summary, m = payload.manifest || {}, lin = payload.lineage || {};
    const dl = $("run-facts");
    dl.replaceChildren();
    const fact = (k, v) => {
      if (v === undefined || v === null || v === "") return;
      dl.appendChild(el("dt", k));
      dl.appendChild(el("dd", v));
    };
    fact("Run", s.name);
    fact("Seed", s.seed);
    fact("Data", `${s.dataset.instruments.join(", ")}: ${s.dataset.rows} rows on ${s.dataset.dates} dates, ${s.dataset.first_date} to ${s.dataset.last_date}`);
    fact("Features", `${s.dataset.features.length}: ${s.dataset.features.join(", ")}`);
    const sp = s.split.spec;
    fact("Validation", `${sp.scheme}, ${s.split.n_splits} splits${s.split.n_paths > 1 ? `, ${s.split.n_paths} paths (path 0 shown)` : ""}; gap/purge default ${s.split.default_gap}`);
    fact("Models", s.models.map((x) => `${x.name} (${x.kind})`).join(", "));
    fact("Data fingerprint", s.data_fingerprint);
    fact("Config", m.config_source);
    fact("Strider", m.strider_version && `${m.strider_version} (core ${m.core_version}), git ${m.git_revision}, ${m.rustc}, ${m.target}`);
    if (lin && lin.run_id) fact("Tracking", `run ${lin.run_id} in ${lin.tracking_uri || "?"}${lin.experiment ? `, experiment ${lin.experiment}` : ""}`);
    $("config").textContent = payload.config_toml;
    table($("inputs"), ["input", "bytes", "sha256"], (m.inputs || []).map((i) => [i.path, i.bytes, i.sha256]));
  }

  function renderControls() {
    const modelSel = $("model");
    modelSel.replaceChildren();
    for (const m of info.models) modelSel.appendChild(new Option(m.name, m.name));
    const ens = $("ensemble");
    for (const e of [...ens.querySelectorAll("label")]) e.remove();
    if (info.models.length < 2) ens.hidden = true;
    for (const m of info.models) {
      const lab = el("label");
      lab.appendChild(document.createTextNode(m.name + " "));
      const inp = el("input");
      Object.assign(inp, { type: "range", min: "0", max: "1", step: "0.05", value: "0" });
      inp.dataset.model = m.name;
      inp.addEventListener("input", () => {
        settings.ensemble = {};
        for (const i of ens.querySelectorAll("input")) if (Number(i.value) > 0) settings.ensemble[i.dataset.model] = Number(i.value);
        update();
      });
      lab.appendChild(inp);
      ens.appendChild(lab);
    }
    const num = (id, key) => $(id).addEventListener("input", () => {
      const v = Number($(id).value);
      if (Number.isFinite(v)) { settings.strategy[key] = v; update(); }
    });
    num("threshold", "threshold");
    num("scale", "scale");
    num("leverage", "leverage");
    $("signal").addEventListener("change", () => { settings.strategy.signal = $("signal").value; syncControls(); update(); });
    $("long-only").addEventListener("change", () => { settings.strategy.long_only = $("long-only").checked; update(); });
    $("cost").addEventListener("input", () => { settings.strategy.cost_bps = Number($("cost").value); syncControls(); update(); });
    $("model").addEventListener("change", () => draw());
    $("log").addEventListener("change", () => draw());
    $("reset").addEventListener("click", () => {
      settings = structuredClone(runSettings);
      syncControls();
      update();
    });
    syncControls();
  }

  function syncControls() {
    const s = settings.strategy;
    $("signal").value = s.signal;
    $("threshold").value = s.threshold;
    $("scale").value = s.scale;
    $("leverage").value = s.leverage;
    $("long-only").checked = s.long_only;
    $("cost").value = s.cost_bps;
    $("cost-out").textContent = `${s.cost_bps} bps`;
    for (const i of $("ensemble").querySelectorAll("input")) i.value = String(settings.ensemble[i.dataset.model] ?? 0);
    $("threshold").disabled = s.signal !== "threshold";
    $("scale").disabled = s.signal !== "proportional";
  }

  // ---- what-if --------------------------------------------------------------------------------
  // A control move redraws from a fast evaluation without the bootstrap statistics; those follow
  // once the controls have been still for a moment.
  let pending = false, statsTimer = null;
  function evaluate(withStats) {
    return JSON.parse(engine.evaluate(JSON.stringify({ ...settings, statistics: withStats })));
  }

  function scheduleStats() {
    clearTimeout(statsTimer);
    document.body.dataset.stats = "pending";
    statsTimer = setTimeout(() => {
      try {
        const t = performance.now();
        view.statistics = evaluate(true).statistics;
        window.striderReport.lastStatsMs = performance.now() - t;
        renderStats();
        document.body.dataset.stats = "done";
      } catch (e) {
        fail(e);
      }
    }, 150);
  }

  function update() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      try {
        const t = performance.now();
        view = evaluate(false);
        window.striderReport.lastEvalMs = performance.now() - t;
        const modelSel = $("model");
        const names = view.models.map((m) => m.name);
        const keep = modelSel.value;
        if ([...modelSel.options].map((o) => o.value).join() !== names.join()) {
          modelSel.replaceChildren(...names.map((n) => new Option(n, n)));
          modelSel.value = names.includes(keep) ? keep : names[0];
        }
        draw();
        window.striderReport.view = view;
        window.striderReport.settings = structuredClone(settings);
        window.striderReport.updates++;
        document.body.dataset.updates = String(window.striderReport.updates);
        scheduleStats();
      } catch (e) {
        fail(e);
      }
    });
  }

  function selected() {
    return view.models.find((m) => m.name === $("model").value) || view.models[0];
  }

  function draw() {
    renderMetrics();
    renderCharts();
    renderStats();
    renderMonthly();
    renderAttribution();
    renderFoldTable();
  }

  const METRICS = [
    ["sharpe", "Sharpe", (v) => fmt(v)],
    ["sortino", "Sortino", (v) => fmt(v)],
    ["calmar", "Calmar", (v) => fmt(v)],
    ["cagr", "CAGR", (v) => pct(v)],
    ["volatility", "volatility", (v) => pct(v)],
    ["max_drawdown", "max DD", (v) => pct(v)],
    ["win_rate", "win rate", (v) => pct(v, 1)],
    ["profit_factor", "profit factor", (v) => fmt(v)],
    ["total_return", "total", (v) => pct(v, 1)],
    ["psr", "PSR", (v) => fmt(v)],
    ["exposure", "exposure", (v) => fmt(v, 2)],
    ["turnover", "turnover", (v) => fmt(v, 3)],
  ];

  function renderMetrics() {
    const rows = [];
    for (const m of view.models) {
      for (const [series, label] of [["strategy", "net"], ["gross", "gross"], ["benchmark", "buy & hold"]]) {
        const x = m.evaluation[series];
        rows.push([m.name, label, ...METRICS.map(([k, , f]) => ({ text: f(x[k]), data: { model: m.name, series, metric: k, value: finite(x[k]) ? x[k] : "" } }))]);
      }
    }
    table($("metrics"), ["model", "series", ...METRICS.map((m) => m[1])], rows, { labelCols: 2 });
  }

  function chart(id, opts, data) {
    const host = $(id);
    if (charts[id]) charts[id].destroy();
    host.replaceChildren();
    const width = Math.max(320, host.clientWidth || 900);
    charts[id] = new uPlot({ width, height: 240, legend: { live: true }, cursor: { drag: { x: true, y: false } }, ...opts }, data, host);
  }

  function wealth(r) {
    let w = 1;
    return r.map((x) => (w *= 1 + (finite(x) ? x : 0)));
  }

  function renderCharts() {
    const m = selected();
    const s = m.series;
    const x = s.dates.map(dayTs);
    const log = $("log").checked;
    const fmtY = (u, v) => v.map((y) => (y == null ? "" : y.toFixed(log ? 2 : 1)));
    chart("equity-chart", {
      scales: { y: { distr: log ? 3 : 1 } },
      axes: [{}, { values: fmtY, size: 60 }],
      series: [{}, { label: `${m.name} net`, stroke: "#1f5fbf", width: 1.5 }, { label: "gross", stroke: "#8aa9d6", width: 1 }, { label: "buy & hold", stroke: "#8a8f98", width: 1 }],
    }, [x, wealth(s.net), wealth(s.gross), wealth(s.benchmark)]);
    chart("drawdown-chart", {
      axes: [{}, { values: (u, v) => v.map((y) => (y * 100).toFixed(0) + "%"), size: 60 }],
      series: [{}, { label: `${m.name} drawdown`, stroke: "#e45756", fill: "rgba(228,87,86,0.15)", width: 1 }, { label: "buy & hold", stroke: "#8a8f98", width: 1 }],
    }, [x, s.drawdown, s.benchmark_drawdown]);
    $("rolling-title").textContent = `Rolling Sharpe (${settings.rolling_window} periods)`;
    chart("rolling-chart", {
      axes: [{}, { size: 60 }],
      series: [{}, { label: `${m.name} rolling Sharpe`, stroke: "#1f5fbf", width: 1 }],
    }, [x, s.rolling_sharpe.map((v) => (finite(v) ? v : null))]);
  }

  function outcome(o, f) {
    if (!o) return [{ text: "not computed", cls: "unavailable" }, ""];
    if ("error" in o && Object.keys(o).length === 1) return [{ text: "unavailable", cls: "unavailable" }, o.error];
    return f(o);
  }

  function renderStats() {
    const st = view.statistics;
    const t = $("stats");
    if (!st) { table(t, ["statistic", "value", "detail"], [["computing…", "", ""]]); return; }
    const rows = [
      ["Deflated Sharpe ratio", ...outcome(st.dsr, (o) => [{ text: fmt(o.dsr), data: { stat: "dsr", value: o.dsr } }, `best of ${o.n_trials} trials: ${o.selected} (SR ${fmt(o.sharpe, 4)}/period against SR0 ${fmt(o.expected_max_sharpe, 4)})`])],
      ["Probability of backtest overfitting", ...outcome(st.pbo, (o) => [{ text: fmt(o.pbo), data: { stat: "pbo", value: o.pbo } }, `CSCV, ${o.n_blocks} blocks, ${o.n_combinations} combinations; P(OOS loss) ${fmt(o.prob_oos_loss)}`])],
      ["SPA p-value (Hansen)", ...outcome(st.spa, (o) => [{ text: fmt(o.p_value), data: { stat: "spa", value: o.p_value } }, `best ${o.best} against ${o.benchmark}; lower ${fmt(o.p_value_lower)}, ${o.reps} bootstrap reps`])],
      ["Reality Check p-value (White)", ...outcome(st.spa, (o) => [{ text: fmt(o.p_value_upper), data: { stat: "rc", value: o.p_value_upper } }, `against ${o.benchmark}`])],
      ["Model confidence set", ...outcome(st.mcs, (o) => [{ text: o.included.join(", ") || "(empty)", data: { stat: "mcs" } }, `size ${o.size}; p-values ${Object.entries(o.p_values).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")}`])],
      ["Diebold-Mariano", ...outcome(st.dm, (o) => [{ text: fmt(o.p_value), data: { stat: "dm", value: o.p_value } }, `${o.first} vs ${o.second}: statistic ${fmt(o.statistic)}`])],
    ];
    table(t, ["statistic", "value", "detail"], rows, { labelCols: 1 });
  }

  function renderMonthly() {
    const m = selected();
    const cal = m.evaluation.attribution.calendar;
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const t = $("heatmap");
    table(t, ["year", ...months, "year"], cal.map((y) => [y.year, ...y.months.map((v) => ({ text: v === null ? "" : pct(v, 1), data: { v: v ?? "" } })), pct(y.total, 1)]));
    const vals = cal.flatMap((y) => y.months.filter(finite).map(Math.abs));
    const top = Math.max(1e-9, ...vals);
    for (const td of t.querySelectorAll("td[data-v]")) {
      const v = Number(td.dataset.v);
      if (td.dataset.v === "" || !Number.isFinite(v)) continue;
      const a = Math.min(1, Math.abs(v) / top) * 0.75;
      td.style.backgroundColor = `rgba(${v >= 0 ? "40, 140, 70" : "200, 50, 50"}, ${a.toFixed(3)})`;
    }
  }

  function renderAttribution() {
    const m = selected();
    const a = m.evaluation.attribution;
    table($("attr"), ["slice", "periods", "Sharpe", "return", "contribution"],
      [...a.by_instrument, ...a.by_side].map((g) => [g.group, g.n_periods, fmt(g.sharpe), pct(g.total_return, 1), pct(g.contribution, 1)]), { labelCols: 1 });
  }

  function renderFoldTable() {
    const name = selected().name;
    const f = folds[name];
    const t = $("fold-table");
    if (!f) { table(t, [`${name}: a blend has no folds of its own`], []); return; }
    table(t, ["split", "train", "test", "rows train/test", "IC", "dir. acc.", "NDCG", "RMSE", "Sharpe", "return"],
      f.map((r) => [r.split, `${r.train[0][0]} … ${r.train.at(-1)[1]}`, `${r.test[0][0]} … ${r.test.at(-1)[1]}`, `${r.train_rows}/${r.test_rows}`,
        fmt(r.metrics.ic), fmt(r.metrics.directional_accuracy), fmt(r.metrics.ndcg), fmt(r.metrics.rmse, 4), fmt(r.metrics.strategy_sharpe, 2), pct(r.metrics.strategy_return, 1)]));
  }

  function renderTimeline() {
    const first = payload.summary.models[0].name;
    const recs = payload.summary.folds.filter((f) => f.model === first);
    const svg = $("timeline");
    svg.replaceChildren();
    if (!recs.length) return;
    const dates = recs.flatMap((r) => [...r.train.flat(), ...r.test.flat()]).map(dayTs);
    const lo = Math.min(...dates), hi = Math.max(...dates);
    const W = 1000, L = 40, R = 10, rowH = Math.max(4, Math.min(14, Math.floor(520 / recs.length))), H = recs.length * rowH + 22;
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const x = (d) => L + ((dayTs(d) - lo) / (hi - lo || 1)) * (W - L - R);
    recs.forEach((r, i) => {
      const y = i * rowH + 2, h = rowH - 1;
      const bar = (a, b, cls) => {
        const x0 = x(a), x1 = Math.max(x(b), x0 + 0.5);
        const rect = svgEl("rect", { x: x0.toFixed(2), y, width: (x1 - x0).toFixed(2), height: h, class: cls });
        const tip = svgEl("title");
        tip.textContent = `split ${r.split} ${cls}: ${a} … ${b}`;
        rect.appendChild(tip);
        svg.appendChild(rect);
      };
      for (const [a, b] of r.train) bar(a, b, "train");
      for (const [a, b] of r.test) {
        bar(a, b, "test");
        // The excluded stretch right before a test block is purge / gap, right after it embargo.
        // (A run always leaves at least the label horizon out between them.)
        const before = r.train.filter(([, e]) => e < a).map(([, e]) => e).sort().at(-1);
        if (before) bar(before, a, "purge");
        const after = r.train.filter(([s]) => s > b).map(([s]) => s).sort()[0];
        if (after) bar(b, after, "embargo");
      }
      if (rowH >= 9) { const t = svgEl("text", { x: 2, y: y + h - 1 }); t.textContent = String(r.split); svg.appendChild(t); }
    });
    for (const d of [payload.summary.dataset.first_date, payload.summary.dataset.last_date]) {
      const t = svgEl("text", { x: Math.min(W - 60, x(d)), y: H - 4 });
      t.textContent = d;
      svg.appendChild(t);
    }
  }

  function renderImportance() {
    const body = $("importance-body");
    body.replaceChildren();
    const entries = Object.entries(payload.importance || {});
    $("importance").hidden = entries.length === 0;
    for (const [model, imp] of entries) {
      body.appendChild(el("h3", `${model}: mean over ${imp.folds} folds (top 15 by gain)`));
      const grid = el("div", null, "bars");
      grid.dataset.model = model;
      grid.append(el("span", "feature", "head"), el("span", "gain", "head"), el("span", imp.mean_abs_shap.length ? "mean |SHAP| on test rows" : "", "head"));
      const order = imp.features.map((_, i) => i).sort((a, b) => imp.gain[b] - imp.gain[a]).slice(0, 15);
      const gmax = Math.max(1e-300, ...imp.gain), smax = Math.max(1e-300, ...imp.mean_abs_shap, 0);
      for (const i of order) {
        grid.appendChild(el("span", imp.features[i]));
        const g = el("div", null, "bar");
        g.style.width = `${((imp.gain[i] / gmax) * 100).toFixed(1)}%`;
        g.title = `gain ${imp.gain[i].toPrecision(4)}, ${imp.split[i].toFixed(1)} splits`;
        grid.appendChild(g);
        const s = el("div", null, "bar shap");
        if (imp.mean_abs_shap.length) {
          s.style.width = `${((imp.mean_abs_shap[i] / smax) * 100).toFixed(1)}%`;
          s.title = `mean |SHAP| ${imp.mean_abs_shap[i].toPrecision(4)}`;
        }
        grid.appendChild(s);
      }
      body.appendChild(grid);
    }
  }

  // ---- selection and ensembles ------------------------------------------------------------------
  function renderSelection() {
    const sel = payload.selection;
    const ok = sel && Array.isArray(sel.ranking);
    $("selection").hidden = !ok;
    if (!ok) return;
    const body = $("selection-body");
    body.replaceChildren();
    const rec = el("p", sel.recommended ? `Recommended: ${sel.recommended}` : "Recommended: none", "recommendation");
    rec.dataset.recommended = sel.recommended ?? "";
    body.appendChild(rec);
    const ul = el("ul");
    for (const r of sel.reasons || []) ul.appendChild(el("li", r));
    body.appendChild(ul);
    const rows = sel.ranking.map((r) => {
      const m = r.metrics, h = m.holdout;
      return [r.rank, r.model, r.passes ? "yes" : "no", fmt(m.sharpe, 2), fmt(m.excess_sharpe, 2), fmt(m.dsr), fmt(m.spa_p_value), fmt(m.mcs_p_value), m.dm_vs_best_p_value == null ? "–" : fmt(m.dm_vs_best_p_value), pct(m.stability.positive_folds, 0), pct(m.max_drawdown, 1), h ? fmt(h.strategy.sharpe, 2) : "–", r.reasons.join("; ")];
    });
    table($("leaderboard"), ["rank", "model", "passes", "Sharpe", "excess", "DSR", "SPA p", "MCS p", "DM p vs best", "positive folds", "max DD", "holdout Sharpe", "reasons"], rows, { labelCols: 2 });
    const st = sel.ranking.map((r) => {
      const s = r.metrics.stability;
      return [r.model, s.folds, pct(s.positive_folds, 0), fmt(s.fold_sharpe_mean, 2), fmt(s.fold_sharpe_std, 2), fmt(s.fold_rank_mean, 2), fmt(s.fold_rank_std, 2), s.coef_sign_flips == null ? "–" : pct(s.coef_sign_flips, 1), s.top_feature_turnover == null ? "–" : pct(s.top_feature_turnover, 1)];
    });
    table($("stability"), ["model", "folds", "positive", "fold Sharpe mean", "fold Sharpe sd", "mean rank", "rank sd", "coef sign flips", "top-5 feature turnover"], st, { labelCols: 1 });
    const rc = sel.tests?.fold_rank_correlation;
    body.appendChild(el("p", `Rank correlation of consecutive folds: ${rc == null ? "–" : fmt(rc, 2)} · ${sel.tests?.n_trials ?? "?"} trials deflated for`));
  }

  function renderValidation() {
    const v = payload.validation;
    const ok = v && Array.isArray(v.checks);
    $("validation").hidden = !ok;
    if (!ok) return;
    const body = $("validation-body");
    body.replaceChildren();
    const ul = el("ul");
    for (const m of v.models) ul.appendChild(el("li", `${m.model}: ${m.passed}/${m.checks} checks pass`));
    body.appendChild(ul);
    const rows = v.checks.map((c) => [c.model, c.check, c.variant, fmt(c.base, 2), fmt(c.value, 2), fmt(c.change, 2), c.passes ? "yes" : "no"]);
    table($("robustness"), ["model", "check", "variant", "Sharpe", "stressed", "change", "passes"], rows, { labelCols: 3 });
  }

  function renderEnsembles() {
    const entries = Object.entries(payload.ensembles || {});
    $("ensembles").hidden = entries.length === 0;
    const body = $("ensembles-body");
    body.replaceChildren();
    for (const [model, fits] of entries) {
      const members = fits[0]?.members || [];
      body.appendChild(el("h3", `${model}: ${fits[0]?.method ?? ""} of ${members.join(", ")}`));
      const t = el("table", null, "num");
      t.dataset.model = model;
      const rows = fits.map((f, k) => [k, f.combiner, ...members.map((m) => (f.weights && m in f.weights ? fmt(f.weights[m]) : f.combiner === "mean" ? fmt(1 / members.length) : "meta")), (f.learned_from_folds || []).length, f.learned_rows]);
      table(t, ["fold", "combiner", ...members, "folds learned from", "rows learned from"], rows, { labelCols: 2 });
      body.appendChild(t);
    }
  }

  // ---- retraining -----------------------------------------------------------------------------
  let worker = null;

  function renderRetrain() {
    // Models the browser can retrain, with their editable parameters: the wasm core says which.
    const trees = info.models.filter((m) => info.retrainable[m.name]);
    $("retrain").hidden = trees.length === 0;
    if (!trees.length) return;
    const sel = $("retrain-model");
    sel.replaceChildren(...trees.map((m) => new Option(m.name, m.name)));
    const form = $("retrain-form");
    const fill = () => {
      for (const l of [...form.querySelectorAll("label.param")]) l.remove();
      for (const p of info.retrainable[sel.value]) {
        const lab = el("label", null, "param");
        lab.appendChild(document.createTextNode(p.label));
        const inp = el("input");
        Object.assign(inp, { type: "number", min: String(p.min), step: String(p.step), value: String(p.value) });
        inp.dataset.param = p.key;
        lab.appendChild(inp);
        form.appendChild(lab);
      }
    };
    sel.addEventListener("change", fill);
    fill();
    $("retrain-go").addEventListener("click", startRetrain);
  }

  function startRetrain() {
    const model = $("retrain-model").value;
    const current = Object.fromEntries(info.retrainable[model].map((p) => [p.key, p.value]));
    const overrides = {};
    for (const inp of $("retrain-form").querySelectorAll("input[data-param]")) {
      const v = Number(inp.value);
      if (!Number.isFinite(v)) { $("retrain-status").textContent = `${inp.dataset.param}: not a number`; return; }
      if (v !== current[inp.dataset.param]) overrides[inp.dataset.param] = v;
    }
    if (!worker) {
      worker = new Worker(URL.createObjectURL(new Blob([$("worker-src").textContent], { type: "text/javascript" })));
    }
    const t = performance.now();
    $("retrain-go").disabled = true;
    $("retrain-progress").value = 0;
    $("retrain-status").textContent = "Retraining…";
    document.body.dataset.retrain = "running";
    worker.onmessage = ({ data }) => {
      if (data.progress) {
        const [done, total] = data.progress;
        $("retrain-progress").max = total;
        $("retrain-progress").value = done;
        $("retrain-status").textContent = `fold ${done} of ${total}`;
        return;
      }
      $("retrain-go").disabled = false;
      if (data.error) {
        $("retrain-status").textContent = `Retraining failed: ${data.error}`;
        document.body.dataset.retrain = "error";
        return;
      }
      try {
        const out = JSON.parse(data.result);
        const before = payload.predictions[model].prediction;
        engine.set_predictions(model, JSON.stringify(out.predictions));
        const changed = out.predictions.prediction.filter((p, i) => p !== before[i]).length;
        payload.predictions[model] = out.predictions;
        for (const p of info.retrainable[model]) if (p.key in out.spec) p.value = out.spec[p.key];
        folds[model] = out.folds;
        if (out.importance) payload.importance[model] = out.importance;
        renderImportance();
        $("retrain-status").textContent = `Retrained ${model} in ${((performance.now() - t) / 1000).toFixed(1)} s: ${changed} of ${before.length} out-of-sample predictions changed (${Object.keys(overrides).length ? Object.entries(overrides).map(([k, v]) => `${k} = ${v}`).join(", ") : "no parameter changed"}).`;
        window.striderReport.retrained = { model, changed, overrides, spec: out.spec };
        $("model").value = model;
        update();
        document.body.dataset.retrain = "done";
      } catch (e) {
        $("retrain-status").textContent = `Retraining failed: ${e}`;
        document.body.dataset.retrain = "error";
      }
    };
    worker.postMessage({ wasm: wasmBytes.slice(0), payload: payloadText, model, overrides });
  }

  // ---- optional sections: learning curves, tuning ---------------------------------------------
  function renderCurves() {
    const lc = payload.learning_curves;
    const entries = lc && typeof lc === "object" ? Object.entries(lc) : [];
    $("curves").hidden = entries.length === 0;
    const body = $("curves-body");
    for (const [model, splits] of entries) {
      // splits: [[{step, name, value}, ...], ...]; one chart per model, last split's curves.
      const last = splits.at(-1) || [];
      const names = [...new Set(last.map((e) => e.name))];
      const steps = [...new Set(last.map((e) => e.step))].sort((a, b) => a - b);
      if (!steps.length) continue;
      body.appendChild(el("h3", `${model}: split ${splits.length - 1} of ${splits.length}`));
      const host = el("div", null, "chart");
      host.id = `curve-${Object.keys(charts).length}`;
      body.appendChild(host);
      const data = [steps, ...names.map((n) => steps.map((s) => last.find((e) => e.step === s && e.name === n)?.value ?? null))];
      const colors = ["#1f5fbf", "#f58518", "#54a24b", "#e45756"];
      chart(host.id, { scales: { x: { time: false } }, series: [{ label: "epoch" }, ...names.map((n, i) => ({ label: n, stroke: colors[i % 4], width: 1.5 }))] }, data);
    }
  }

  function renderTuning() {
    const tu = payload.tuning;
    const ok = tu && Array.isArray(tu.trials) && tu.trials.length > 0;
    $("tuning").hidden = !ok;
    if (!ok) return;
    const body = $("tuning-body");
    const done = tu.trials.filter((t) => t.state === "COMPLETE" && finite(t.value));
    const sign = tu.direction === "minimize" ? -1 : 1;
    let best = -Infinity;
    const bestSoFar = done.map((t) => (best = Math.max(best, sign * t.value)) * sign);
    body.appendChild(el("h3", `Optimization history: ${tu.trials.length} trials, ${done.length} complete (${tu.direction || "maximize"})`));
    const hist = el("div", null, "chart");
    hist.id = "tuning-history";
    body.appendChild(hist);
    chart(hist.id, { scales: { x: { time: false } }, series: [{ label: "trial" }, { label: "value", stroke: "transparent", points: { show: true, size: 5, stroke: "#1f5fbf" } }, { label: "best", stroke: "#f58518", width: 1.5 }] },
      [done.map((t) => t.number), done.map((t) => t.value), bestSoFar]);
    if (tu.importance && Object.keys(tu.importance).length) {
      body.appendChild(el("h3", "Parameter importance"));
      const grid = el("div", null, "bars");
      const top = Math.max(1e-300, ...Object.values(tu.importance));
      for (const [k, v] of Object.entries(tu.importance).sort((a, b) => b[1] - a[1])) {
        const bar = el("div", null, "bar");
        bar.style.width = `${((v / top) * 100).toFixed(1)}%`;
        grid.append(el("span", k), bar, el("span", fmt(v)));
      }
      body.appendChild(grid);
    }
    const params = [...new Set(done.flatMap((t) => Object.keys(t.params || {})))];
    if (params.length) {
      body.appendChild(el("h3", "Parallel coordinates (line colour: value)"));
      const svg = svgEl("svg", { viewBox: `0 0 1000 260`, role: "img" });
      svg.classList.add("parallel");
      const axes = [...params, "value"];
      const X = (i) => 40 + (i * 920) / Math.max(1, axes.length - 1);
      const scale = (k) => {
        const vals = done.map((t) => (k === "value" ? t.value : t.params[k]));
        const nums = vals.filter(finite);
        if (nums.length === vals.length) { const lo = Math.min(...nums), hi = Math.max(...nums); return (v) => 230 - ((v - lo) / (hi - lo || 1)) * 200; }
        const cats = [...new Set(vals.map(String))];
        return (v) => 230 - (cats.indexOf(String(v)) / Math.max(1, cats.length - 1)) * 200;
      };
      const scales = axes.map(scale);
      const vs = done.map((t) => t.value), vlo = Math.min(...vs), vhi = Math.max(...vs);
      for (const t of done) {
        const pts = axes.map((k, i) => `${X(i).toFixed(1)},${scales[i](k === "value" ? t.value : t.params[k]).toFixed(1)}`).join(" ");
        const q = (t.value - vlo) / (vhi - vlo || 1);
        svg.appendChild(svgEl("polyline", { points: pts, fill: "none", stroke: `rgb(${Math.round(255 * (1 - q))}, ${Math.round(120 + 60 * q)}, ${Math.round(255 * q)})`, "stroke-opacity": 0.6 }));
      }
      axes.forEach((k, i) => {
        svg.appendChild(svgEl("line", { x1: X(i), x2: X(i), y1: 30, y2: 230, stroke: "#5b6472" }));
        const lab = svgEl("text", { x: X(i) - 20, y: 250 });
        lab.textContent = k;
        svg.appendChild(lab);
      });
      body.appendChild(svg);
    }
    const inter = tu.trials.filter((t) => Array.isArray(t.intermediate) && t.intermediate.length);
    if (inter.length) {
      body.appendChild(el("h3", "Intermediate values (pruning)"));
      const svg = svgEl("svg", { viewBox: "0 0 1000 240", role: "img" });
      const all = inter.flatMap((t) => t.intermediate);
      const sx = Math.max(1, ...all.map((p) => p[0])), ys = all.map((p) => p[1]).filter(finite);
      const ylo = Math.min(...ys), yhi = Math.max(...ys);
      for (const t of inter) {
        const pts = t.intermediate.filter((p) => finite(p[1])).map(([s, v]) => `${(40 + (s / sx) * 920).toFixed(1)},${(220 - ((v - ylo) / (yhi - ylo || 1)) * 200).toFixed(1)}`).join(" ");
        svg.appendChild(svgEl("polyline", { points: pts, fill: "none", stroke: t.state === "PRUNED" ? "#c9ced6" : "#1f5fbf" }));
      }
      body.appendChild(svg);
    }
  }

  // ---- start ----------------------------------------------------------------------------------
  function fail(e) {
    const msg = String(e && e.message ? e.message : e);
    window.striderReport.error = msg;
    $("status").textContent = `Error: ${msg}`;
    document.body.dataset.status = "error";
    console.error(e);
  }

  window.striderReport = { updates: 0 };
  (async () => {
    try {
      const [p, w] = await Promise.all([decode("payload"), decode("wasm")]);
      wasmBytes = w;
      payloadText = new TextDecoder().decode(p);
      payload = JSON.parse(payloadText);
      const module = await WebAssembly.compile(wasmBytes);
      await wasm_bindgen({ module_or_path: module });
      engine = new wasm_bindgen.Report(payloadText);
      info = JSON.parse(engine.info());
      for (const f of payload.summary.folds) (folds[f.model] ||= []).push(f);
      runSettings = defaultSettings();
      settings = structuredClone(runSettings);
      renderRun();
      renderSelection();
      renderValidation();
      renderEnsembles();
      renderControls();
      renderTimeline();
      renderImportance();
      renderRetrain();
      view = evaluate(false);
      draw();
      renderCurves();
      renderTuning();
      window.striderReport.view = view;
      window.striderReport.settings = structuredClone(settings);
      window.striderReport.payload = payload;
      // From navigation start: parsing this file, decoding, compiling the wasm, the first what-if.
      const ms = performance.now();
      window.striderReport.readyMs = ms;
      $("status").textContent = `Interactive in ${ms.toFixed(0)} ms · strider-core ${wasm_bindgen.version()} in WebAssembly`;
      $("footer").textContent = `Generated by strider ${payload.manifest.strider_version || ""} from run ${payload.summary.name}. Charts: uPlot (MIT).`;
      document.body.dataset.status = "ready";
      scheduleStats();
      let resize = null;
      addEventListener("resize", () => { clearTimeout(resize); resize = setTimeout(() => renderCharts(), 150); });
    } catch (e) {
      fail(e);
    }
  })();
})();
