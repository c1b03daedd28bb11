// Training trees inside the browser (wasm, single thread) gives the same model.txt, byte for byte,
// as the native CLI on the same data and parameters; the model then predicts in the page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serve } from "./serve.mjs";
import { launch } from "./chromium.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
const WWW = process.env.STRIDER_WWW ?? join(ROOT, "target/www");
const STRIDER = process.env.STRIDER_BIN ?? join(ROOT, "target/release/strider");

test("trees trained in the browser equal trees trained natively", async (t) => {
  // Deterministic data: y = 10 sin(3ab) + 5c, some missing a.
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rows = [];
  for (let i = 0; i < 2000; i++) {
    const a = rnd(), b = rnd(), c = rnd();
    rows.push({ x: [i % 11 === 0 ? null : a, b, c], y: 10 * Math.sin(3 * a * b) + 5 * c });
  }
  const dir = mkdtempSync(join(tmpdir(), "strider-gbdt-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const csv = "a,b,c,y\n" + rows.map((r) => [r.x[0] ?? "", r.x[1], r.x[2], r.y].join(",")).join("\n") + "\n";
  writeFileSync(join(dir, "train.csv"), csv);
  execFileSync(STRIDER, ["gbdt", "train", "--data", join(dir, "train.csv"), "--target", "y",
    "--param", "num_iterations=30", "--param", "num_leaves=15", "--param", "learning_rate=0.1", "--out", join(dir, "native.txt")]);
  const native = readFileSync(join(dir, "native.txt"), "utf8");

  const server = await serve(WWW);
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    server.close();
  });
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.status), null, { timeout: 120_000 });
  const result = await page.evaluate(async (rows) => {
    const m = await import("./pkg/strider_wasm.js");
    const t0 = performance.now();
    const model = m.gbdt_train(JSON.stringify({
      x: rows.map((r) => r.x), y: rows.map((r) => r.y), feature_names: ["a", "b", "c"],
      params: { num_iterations: 30, num_leaves: 15, learning_rate: 0.1 },
    }));
    const ms = performance.now() - t0;
    const pred = JSON.parse(m.gbdt_predict(model, JSON.stringify(rows.slice(0, 5).map((r) => r.x)), "pred")).flat();
    return { model, ms, pred };
  }, rows);
  assert.equal(result.model, native, "browser and native model.txt differ");
  assert.equal(result.pred.length, 5);
  result.pred.forEach((p, i) => assert.ok(Math.abs(p - rows[i].y) < 3, `prediction ${p} vs ${rows[i].y}`));
});
