// Embedded inference: a bundle written by the native `strider run` (weights as they are: a
// model.txt, a burn record, JSON) is dropped into the offline page with bar CSVs, and the wasm
// core scores them with the same bits as the native `strider predict`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serve } from "./serve.mjs";
import { launch } from "./chromium.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
const WWW = process.env.STRIDER_WWW ?? join(ROOT, "target/www");
const STRIDER = process.env.STRIDER_BIN ?? join(ROOT, "target/release/strider");
const DATA = ["AAPL", "MSFT", "IBM"].map((t) => join(ROOT, `examples/data/${t}.csv`));
const SINCE = "2012-06-01";

test("the browser scores a native bundle with identical bits", async (t) => {
  const out = mkdtempSync(join(tmpdir(), "strider-bundle-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const run = join(out, "run");
  execFileSync(STRIDER, ["run", "--json", "--no-track", "--no-report", "--out", run], { cwd: out, encoding: "utf8" });

  const server = await serve(WWW);
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    server.close();
  });
  for (const model of ["ridge", "trees", "lstm"]) {
    const dir = join(run, "bundles", model);
    const native = JSON.parse(execFileSync(
      STRIDER,
      ["predict", "--model", dir, "--since", SINCE, "--json", ...DATA.flatMap((d) => ["--data", d])],
      { encoding: "utf8" },
    ));
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}deploy.html`);
    await page.waitForFunction(() => document.body.dataset.status === "ready", null, { timeout: 60_000 });
    await page.setInputFiles("#bundle-files", readdirSync(dir).map((f) => join(dir, f)));
    await page.setInputFiles("#bar-files", DATA);
    await page.fill("#since", SINCE);
    await page.click("#score");
    await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.status), null, { timeout: 120_000 });
    const got = await page.evaluate(() => window.striderPredictions ?? window.striderError);
    assert.deepEqual(errors, [], model);
    assert.equal(typeof got, "object", `${model}: ${got}`);
    assert.ok(native.predictions.length > 400, `${model}: ${native.predictions.length}`);
    // JSON numbers are the shortest decimal that reads back as the same double, so equality of the
    // parsed numbers is equality of the bits.
    assert.deepStrictEqual(got, native, model);
    await page.close();
  }
});
