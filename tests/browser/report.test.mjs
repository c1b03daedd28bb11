// The shareable report, opened from disk in headless Chromium: it must become interactive quickly
// with no console errors, re-cost the strategy exactly as `strider metrics` does on the re-costed
// returns, retrain trees in a worker, and render hostile names as text. Screenshots go to
// target/test-artifacts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { launch } from "./chromium.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
const STRIDER = process.env.STRIDER_BIN ?? join(ROOT, "target/release/strider");
const ARTIFACTS = process.env.STRIDER_ARTIFACTS ?? join(ROOT, "target/test-artifacts");

function strider(args) {
  return execFileSync(STRIDER, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function openReport(t, file) {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("dialog", (d) => {
    errors.push(`dialog: ${d.message()}`);
    d.dismiss();
  });
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.status), null, { timeout: 60_000 });
  const error = await page.evaluate(() => window.striderReport.error ?? null);
  assert.equal(error, null, "the report failed to start");
  return { page, errors };
}

function csvRows(text) {
  const [head, ...rows] = text.trim().split("\n");
  const cols = head.split(",");
  return rows.map((r) => Object.fromEntries(r.split(",").map((v, i) => [cols[i], v])));
}

const shown = (page, model, series, metric) =>
  page.$eval(`#metrics td[data-model="${model}"][data-series="${series}"][data-metric="${metric}"]`, (td) => ({ text: td.textContent, value: Number(td.dataset.value) }));

test("the bundled run's report: interactive, re-costed like strider metrics, retrains trees", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "strider-report-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = JSON.parse(strider(["run", "--json", "--no-track", "--out", join(dir, "run")]));
  const file = run.report;
  assert.ok(file.endsWith("report.html"));
  const bytes = statSync(file).size;
  assert.ok(bytes <= 3_000_000, `report is ${bytes} bytes, over 3 MB`);
  mkdirSync(ARTIFACTS, { recursive: true });

  const { page, errors } = await openReport(t, file);
  // Time to interactive as a user sees it opening the file in a running browser: the first
  // navigation of a freshly launched Chromium also pays for starting the renderer, so the
  // better of that and one reload counts.
  const first = await page.evaluate(() => window.striderReport.readyMs);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.status === "ready", null, { timeout: 60_000 });
  const again = await page.evaluate(() => window.striderReport.readyMs);
  const readyMs = Math.min(first, again);
  console.log(`report: ${bytes} bytes, interactive ${first.toFixed(0)} ms after navigation (reload: ${again.toFixed(0)} ms)`);
  assert.ok(readyMs < 1000, `interactive after ${first} ms, and ${again} ms on reload`);

  // With the run's settings the page shows the run's own numbers.
  for (const m of run.summary.models) {
    const s = await shown(page, m.name, "strategy", "sharpe");
    assert.ok(Math.abs(s.value - m.strategy.sharpe) <= 1e-12 * Math.abs(m.strategy.sharpe), `${m.name}: ${s.value} vs ${m.strategy.sharpe}`);
    assert.equal(s.text, m.strategy.sharpe.toFixed(3));
  }
  await page.waitForFunction(() => document.body.dataset.stats === "done", null, { timeout: 30_000 });
  const dsr = await page.$eval('#stats td[data-stat="dsr"]', (td) => Number(td.dataset.value));
  assert.ok(Math.abs(dsr - run.summary.deflated_sharpe.dsr) < 1e-12, `DSR ${dsr} vs ${run.summary.deflated_sharpe.dsr}`);
  // The selection opens the report: the run's recommendation and every model on the leaderboard.
  assert.equal(await page.locator("#selection").isVisible(), true);
  const rec = await page.$eval("#selection .recommendation", (p) => p.dataset.recommended);
  assert.equal(rec, run.selection.recommended ?? "");
  const ranked = await page.$$eval("#leaderboard tbody tr", (rows) => rows.map((r) => r.cells[1].textContent));
  assert.deepEqual(ranked, run.selection.ranking.map((r) => r.model));
  assert.equal(await page.locator("#ensembles").isVisible(), false, "no ensemble, no weights");
  await page.screenshot({ path: join(ARTIFACTS, "report-initial.png"), fullPage: true });

  // Move the cost control: 12.5 bps instead of the run's 1.
  const bps = 12.5;
  const before = await page.evaluate(() => window.striderReport.updates);
  await page.locator("#cost").fill(String(bps));
  await page.waitForFunction((n) => window.striderReport.updates > n, before);
  assert.equal(await page.$eval("#cost-out", (o) => o.textContent), `${bps} bps`);

  // The reference: `strider metrics` on net = gross - bps * 1e-4 * turnover from returns.csv.
  const rows = csvRows(readFileSync(join(run.run_dir, "returns.csv"), "utf8"));
  const models = run.summary.models.map((m) => m.name);
  const byModel = Object.fromEntries(models.map((m) => [m, rows.filter((r) => r.model === m)]));
  const dates = byModel[models[0]].map((r) => r.date);
  for (const m of models) assert.deepEqual(byModel[m].map((r) => r.date), dates, `${m}: same dates`);
  const lines = [["date", ...models].join(",")];
  dates.forEach((d, i) => lines.push([d, ...models.map((m) => String(Number(byModel[m][i].gross) - bps * 1e-4 * Number(byModel[m][i].turnover)))].join(",")));
  const recosted = join(dir, "recosted.csv");
  writeFileSync(recosted, lines.join("\n") + "\n");
  const reference = JSON.parse(strider(["metrics", recosted, "--json"]));
  for (const m of models) {
    const want = reference.columns[m].sharpe;
    const got = await shown(page, m, "strategy", "sharpe");
    assert.ok(Math.abs(got.value - want) <= 1e-9 * Math.abs(want), `${m} at ${bps} bps: page ${got.value}, strider metrics ${want}`);
    assert.equal(got.text, want.toFixed(3), `${m}: displayed Sharpe`);
    const run0 = run.summary.models.find((x) => x.name === m).strategy.sharpe;
    assert.ok(got.value < run0, `${m}: higher costs lower the Sharpe`);
  }
  await page.waitForFunction(() => document.body.dataset.stats === "done", null, { timeout: 30_000 });
  await page.screenshot({ path: join(ARTIFACTS, "report-costs-12.5bps.png"), fullPage: true });

  // Retrain the trees with edited hyper-parameters in the worker.
  const treesBefore = (await shown(page, "trees", "strategy", "sharpe")).value;
  const predsBefore = await page.evaluate(() => window.striderReport.payload.predictions.trees.prediction.slice());
  await page.locator('#retrain-form input[data-param="num_iterations"]').fill("25");
  await page.locator('#retrain-form input[data-param="learning_rate"]').fill("0.2");
  await page.click("#retrain-go");
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.retrain), null, { timeout: 120_000 });
  const status = await page.$eval("#retrain-status", (s) => s.textContent);
  assert.equal(await page.evaluate(() => document.body.dataset.retrain), "done", status);
  const retrained = await page.evaluate(() => window.striderReport.retrained);
  assert.deepEqual(retrained.overrides, { num_iterations: 25, learning_rate: 0.2 });
  const predsAfter = await page.evaluate(() => window.striderReport.payload.predictions.trees.prediction);
  assert.equal(predsAfter.length, predsBefore.length);
  assert.ok(retrained.changed > predsBefore.length / 2, status);
  await page.waitForFunction(() => document.body.dataset.stats === "done", null, { timeout: 30_000 });
  const treesAfter = (await shown(page, "trees", "strategy", "sharpe")).value;
  assert.notEqual(treesAfter, treesBefore, "the metrics follow the retrained predictions");
  await page.screenshot({ path: join(ARTIFACTS, "report-retrained.png"), fullPage: true });
  assert.deepEqual(errors, [], "console errors");
});

test("names from the data render as text, never as markup", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "strider-report-xss-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const evil = ['<img src=x onerror="window.pwned=1">', "</script><script>window.pwned=2</script>"];
  const panel = readFileSync(join(ROOT, "tests/data/panel_3assets.csv"), "utf8").trim().split("\n");
  const head = panel[0].split(",");
  head[1] = `"${evil[0].replaceAll('"', '""')}"`;
  head[2] = evil[1];
  writeFileSync(join(dir, "panel.csv"), [head.join(","), ...panel.slice(1)].join("\n") + "\n");
  writeFileSync(join(dir, "evil.toml"), `name = "<script>window.pwned=3</script>"
[data]
panels = ["panel.csv"]
[[features]]
kind = "returns"
periods = [1, 5]
[split]
scheme = "walk-forward"
train_size = 120
test_size = 40
[[models]]
name = "ridge"
kind = "ridge"
`);
  // Model names never carry markup: the config is refused before any work (they become file
  // names and MLflow keys); instrument and run names still reach the page, as text.
  const bad = readFileSync(join(dir, "evil.toml"), "utf8").replace('name = "ridge"', 'name = "<b>bold</b>"');
  writeFileSync(join(dir, "bad.toml"), bad);
  const badRun = spawnSync(STRIDER, ["run", join(dir, "bad.toml"), "--no-track", "--out", join(dir, "bad")], { encoding: "utf8" });
  assert.equal(badRun.status, 1, badRun.stderr);
  assert.match(badRun.stderr, /models\.name: `<b>bold<\/b>` is not a valid name/);
  const run = JSON.parse(strider(["run", join(dir, "evil.toml"), "--json", "--no-track", "--out", join(dir, "run")]));
  const { page, errors } = await openReport(t, run.report);
  assert.equal(await page.evaluate(() => window.pwned ?? null), null);
  const text = await page.evaluate(() => document.body.innerText);
  for (const name of evil) assert.ok(text.includes(name), `shown as text: ${name}`);
  assert.equal(await page.title(), "<script>window.pwned=3</script>: Strider report");
  assert.equal(await page.locator("main b, main img").count(), 0, "no markup from the data");
  await page.screenshot({ path: join(ARTIFACTS, "report-hostile-names.png"), fullPage: true });
  assert.deepEqual(errors, [], "console errors");
});

test("learning curves and tuning panels appear when the run has their data", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "strider-report-sections-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "small.toml"), `name = "sections"
[data]
panels = ["${join(ROOT, "tests/data/panel_3assets.csv")}"]
[[features]]
kind = "returns"
periods = [1, 5]
[split]
scheme = "walk-forward"
train_size = 120
test_size = 40
[[models]]
kind = "ridge"
`);
  const run = JSON.parse(strider(["run", join(dir, "small.toml"), "--json", "--no-track", "--no-report", "--out", join(dir, "run")]));
  assert.equal(run.report, null);
  // The formats the LSTM and tuning features write (see ARCHITECTURE.md, "report.html").
  const curve = (k) => [1, 2, 3, 4].flatMap((e) => [{ step: e, name: "train_loss", value: 1 / (e + k) }, { step: e, name: "valid_loss", value: 1.2 / (e + k) }]);
  writeFileSync(join(run.run_dir, "learning_curves.json"), JSON.stringify({ lstm: [curve(0), curve(1)] }));
  writeFileSync(join(run.run_dir, "tuning.json"), JSON.stringify({
    direction: "maximize",
    trials: [0, 1, 2, 3].map((n) => ({ number: n, state: n === 2 ? "PRUNED" : "COMPLETE", value: n === 2 ? null : 0.1 * n, params: { lr: 0.01 * (n + 1), kind: n % 2 ? "a" : "b" }, intermediate: [[0, 0.05 * n], [1, 0.08 * n]] })),
    importance: { lr: 0.7, kind: 0.3 },
  }));
  const out = JSON.parse(strider(["report", run.run_dir, "--json"]));
  const { page, errors } = await openReport(t, out.report);
  assert.equal(await page.locator("#curves").isVisible(), true);
  assert.equal(await page.locator("#curves-body .uplot").count(), 1);
  assert.equal(await page.locator("#tuning").isVisible(), true);
  assert.equal(await page.locator("#tuning-history .uplot").count(), 1);
  assert.equal(await page.locator("#tuning-body polyline").count(), 3 + 4, "3 complete trials in parallel coordinates, 4 intermediate curves");
  assert.equal(await page.locator("#importance").isVisible(), false, "no tree model, no importance");
  assert.equal(await page.locator("#retrain").isVisible(), false, "no tree model, nothing to retrain");
  await page.screenshot({ path: join(ARTIFACTS, "report-sections.png"), fullPage: true });
  assert.deepEqual(errors, [], "console errors");
});

const run_folds = (out) => JSON.parse(readFileSync(join(out.best.run_dir, "summary.json"), "utf8")).split.n_splits;

test("a tuned ensemble's report shows it as a model with its weights over time", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "strider-report-ensemble-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The bundled example without its LSTM: each trial walks every member, and the LSTM's walks
  // would dominate CI's time without adding anything the report checks.
  const example = readFileSync(join(ROOT, "examples/default.toml"), "utf8")
    .replace(/\[\[models\]\]\nname = "lstm"[^[]*/, "")
    .replaceAll('"data/', `"${join(ROOT, "examples/data")}/`);
  assert.ok(!example.includes('kind = "lstm"'), "the LSTM block is gone");
  writeFileSync(join(dir, "no-lstm.toml"), example);
  const out = JSON.parse(
    execFileSync(STRIDER, ["tune", join(dir, "no-lstm.toml"), "--ensemble", "--trials", "6", "--json", "--storage", `journal:${join(dir, "s.log")}`, "--out", join(dir, "tune")], {
      encoding: "utf8",
      cwd: dir,
    }),
  );
  const { page, errors } = await openReport(t, out.best.report);
  const blend = await page.evaluate(() => window.striderReport.view.models.find((m) => m.name === "tuned-ensemble"));
  assert.ok(blend, "the report shows the tuned ensemble");
  assert.equal(await page.locator("#ensembles").isVisible(), true, "its weights over time");
  const folds = await page.$$eval('#ensembles table[data-model="tuned-ensemble"] tbody tr', (rows) => rows.length);
  assert.equal(folds, run_folds(out), "one row per fold");
  assert.ok(Math.abs(blend.evaluation.strategy.sharpe - out.best_value) < 1e-12, `${blend.evaluation.strategy.sharpe} vs ${out.best_value}`);
  assert.equal(await page.locator("#tuning").isVisible(), true);
  await page.screenshot({ path: join(ARTIFACTS, "report-ensemble-study.png"), fullPage: true });
  assert.deepEqual(errors, [], "console errors");
});
