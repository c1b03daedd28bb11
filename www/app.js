// The page's only job is plumbing: fetch the example, hand it to the wasm core, draw the result.
// Every name and number is inserted with textContent, never as HTML.
import init, { run, config_inputs, version } from "./pkg/strider_wasm.js";

const $ = (id) => document.getElementById(id);
const fmt = (v, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(d));
const pct = (v) => (Number.isFinite(v) ? (v * 100).toFixed(2) + "%" : "-");

function table(el, header, rows) {
  el.replaceChildren();
  const tr = el.insertRow();
  for (const h of header) {
    const th = document.createElement("th");
    th.textContent = h;
    tr.appendChild(th);
  }
  for (const r of rows) {
    const row = el.insertRow();
    for (const c of r) row.insertCell().textContent = c;
  }
}

function drawEquity(svg, points) {
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  if (points.length < 2) return;
  const wealth = (key) => {
    let w = 1;
    return points.map((p) => Math.log((w *= 1 + p[key])));
  };
  const series = { strategy: wealth("strategy"), benchmark: wealth("benchmark") };
  const all = [...series.strategy, ...series.benchmark, 0];
  const lo = Math.min(...all), hi = Math.max(...all);
  const W = 800, H = 260, pad = 10;
  for (const [name, ys] of Object.entries(series)) {
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute("class", name);
    line.setAttribute(
      "points",
      ys.map((y, i) => `${(pad + (i / (ys.length - 1)) * (W - 2 * pad)).toFixed(1)},${(H - pad - ((y - lo) / (hi - lo || 1)) * (H - 2 * pad)).toFixed(1)}`).join(" "),
    );
    svg.appendChild(line);
  }
}

async function fetchText(path) {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.text();
}

async function runExample() {
  document.body.dataset.status = "running";
  $("status").textContent = "Running…";
  try {
    const config = await fetchText("example/default.toml");
    const files = {};
    for (const path of JSON.parse(config_inputs(config))) files[path] = await fetchText(`example/${path}`);
    const seed = Number.parseInt($("seed").value, 10);
    const t0 = performance.now();
    const result = JSON.parse(run(config, JSON.stringify(files), JSON.stringify({ seed })));
    const ms = performance.now() - t0;
    const s = result.summary;
    window.striderResult = result;
    const first = s.models[0];
    drawEquity($("equity"), result.returns[first.name]);
    table($("summary"), ["model", "series", "Sharpe", "Sortino", "CAGR", "max DD", "hit rate", "total"],
      s.models.flatMap((m) => [["net", m.strategy], ["gross", m.gross], ["buy & hold", m.benchmark]].map(([label, x]) =>
        [m.name, label, fmt(x.sharpe), fmt(x.sortino), pct(x.cagr), pct(x.max_drawdown), fmt(x.hit_rate), pct(x.total_return)])));
    table($("folds"), ["model", "split", "train", "test", "rows", "IC", "Sharpe", "return"],
      s.folds.map((f) => [f.model, f.split, `${f.train[0][0]} … ${f.train.at(-1)[1]}`, `${f.test[0][0]} … ${f.test.at(-1)[1]}`,
        `${f.train_rows}/${f.test_rows}`, fmt(f.metrics.ic), fmt(f.metrics.strategy_sharpe, 2), pct(f.metrics.strategy_return)]));
    $("status").textContent = `strider-core ${version()} · ${s.dataset.rows} rows, ${s.split.n_splits} splits in ${ms.toFixed(0)} ms`;
    document.body.dataset.status = "done";
  } catch (e) {
    window.striderError = String(e);
    $("status").textContent = `Error: ${e}`;
    document.body.dataset.status = "error";
  }
}

await init();
$("rerun").addEventListener("click", runExample);
await runExample();
