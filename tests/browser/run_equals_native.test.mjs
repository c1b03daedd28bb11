// The browser runs the bundled example through the wasm core and must reach the same summary as
// the native `strider run` on the same data and seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serve } from "./serve.mjs";
import { launch } from "./chromium.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
const WWW = process.env.STRIDER_WWW ?? join(ROOT, "target/www");
const STRIDER = process.env.STRIDER_BIN ?? join(ROOT, "target/release/strider");
const ARTIFACTS = process.env.STRIDER_ARTIFACTS ?? join(ROOT, "target/test-artifacts");

// Numbers may differ in the last bits where libm differs (powf in CAGR); everything else is exact.
function assertClose(got, want, path = "summary") {
  if (typeof want === "number" && typeof got === "number") {
    const tol = 1e-12 * Math.max(1, Math.abs(want));
    assert.ok(Math.abs(got - want) <= tol, `${path}: browser ${got} vs native ${want}`);
  } else if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${path}: not an array`);
    assert.equal(got.length, want.length, `${path}: length`);
    want.forEach((w, i) => assertClose(got[i], w, `${path}[${i}]`));
  } else if (want && typeof want === "object") {
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${path}: keys`);
    for (const k of Object.keys(want)) assertClose(got[k], want[k], `${path}.${k}`);
  } else {
    assert.equal(got, want, path);
  }
}

for (const seed of [42, 7]) {
  test(`browser run equals native run (seed ${seed})`, async (t) => {
    const out = mkdtempSync(join(tmpdir(), "strider-native-"));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    const native = JSON.parse(
      execFileSync(STRIDER, ["run", "--json", "--no-track", "--seed", String(seed), "--out", join(out, "run")], { encoding: "utf8" }),
    ).summary;

    const server = await serve(WWW);
    const browser = await launch();
    t.after(async () => {
      await browser.close();
      server.close();
    });
    const page = await browser.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(server.url);
    await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.status), null, { timeout: 120_000 });
    if (seed !== 42) {
      await page.fill("#seed", String(seed));
      await page.click("#rerun");
      await page.waitForFunction((s) => window.striderResult?.summary.seed === s && document.body.dataset.status === "done", seed, { timeout: 120_000 });
    }
    const status = await page.evaluate(() => document.body.dataset.status);
    assert.equal(status, "done", `page failed: ${await page.evaluate(() => window.striderError)}`);
    const browserSummary = await page.evaluate(() => window.striderResult.summary);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `www-seed-${seed}.png`), fullPage: true });
    writeFileSync(join(ARTIFACTS, `www-seed-${seed}.json`), JSON.stringify(browserSummary, null, 1));

    assert.deepEqual(errors, [], "console errors");
    assert.equal(browserSummary.seed, seed);
    assert.ok(native.folds.length > 10, "native run has folds");
    assertClose(browserSummary, native);
    // The page shows the same Sharpe the native run reports.
    const shownSharpe = await page.locator("#summary tr:nth-child(2) td:nth-child(3)").textContent();
    assert.equal(shownSharpe, native.models[0].strategy.sharpe.toFixed(3));
  });
}

test("splits in the browser equal the native CLI", async (t) => {
  const server = await serve(WWW);
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    server.close();
  });
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => document.body.dataset.status === "done", null, { timeout: 120_000 });
  const spec = { scheme: "cpcv", n_folds: 6, n_test_folds: 2, purge: 3, embargo: 2 };
  const inBrowser = await page.evaluate(async (s) => {
    const m = await import("./pkg/strider_wasm.js");
    return JSON.parse(m.splits(JSON.stringify(s), 500));
  }, spec);
  const native = JSON.parse(
    execFileSync(STRIDER, ["splits", "--scheme", "cpcv", "--n-samples", "500", "--n-folds", "6", "--n-test-folds", "2", "--purge", "3", "--embargo", "2", "--json"], { encoding: "utf8" }),
  );
  assert.deepEqual(inBrowser, native);
  assert.equal(native.n_paths, 5);
});
