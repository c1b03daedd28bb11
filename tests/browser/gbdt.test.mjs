// LightGBM model.txt evaluated by the wasm core in Chromium equals LightGBM's own predictions:
// raw scores bit-identical, transformed outputs within 1e-12 (the browser's exp may differ by an ulp).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { serve } from "./serve.mjs";
import { launch } from "./chromium.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
const WWW = process.env.STRIDER_WWW ?? join(ROOT, "target/www");

test("gbdt predictions in the browser equal LightGBM", async (t) => {
  const server = await serve(WWW, { "/golden/": join(ROOT, "tests/golden/lightgbm") });
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    server.close();
  });
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.status), null, { timeout: 120_000 });
  const result = await page.evaluate(async () => {
    const m = await import("./pkg/strider_wasm.js");
    const text = (p) => fetch(p).then((r) => r.text());
    const rows = (await text("golden/data.csv")).trim().split("\n").slice(1)
      .map((l) => l.split(",").slice(1).map((v) => (v === "nan" ? null : Number(v))));
    const out = {};
    for (const name of ["reg_nan_cat", "reg_zero_missing", "binary", "multiclass", "poisson", "rf"]) {
      const model = await text(`golden/${name}.txt`);
      const num = (s) => s.trim().split(/\s+/).map(Number);
      out[name] = {
        pred: JSON.parse(m.gbdt_predict(model, JSON.stringify(rows), "pred")).flat(),
        raw: JSON.parse(m.gbdt_predict(model, JSON.stringify(rows), "raw")).flat(),
        wantPred: num(await text(`golden/${name}.pred`)),
        wantRaw: num(await text(`golden/${name}.raw`)),
      };
    }
    return out;
  });
  for (const [name, r] of Object.entries(result)) {
    assert.equal(r.pred.length, r.wantPred.length, name);
    let rawExact = 0;
    r.raw.forEach((v, i) => { if (v === r.wantRaw[i]) rawExact += 1; });
    assert.equal(rawExact, r.raw.length, `${name}: raw scores not bit-identical`);
    const worst = Math.max(...r.pred.map((v, i) => Math.abs(v - r.wantPred[i])));
    assert.ok(worst <= 1e-12, `${name}: max |diff| ${worst}`);
  }
});
