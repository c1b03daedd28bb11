// `strider monitor`'s page over a replayed watch service, opened from disk in headless Chromium:
// no console errors, the figures of `strider monitor --json`, one timeline row per event, one
// chart point per bar, and the timeline's filters working. A screenshot goes to
// target/test-artifacts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from "node:fs";
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

test("the monitor page: the log's figures, timeline and charts, filters work", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "strider-monitor-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, "state");
  strider(["watch", join(ROOT, "examples/watch.toml"), "--replay", "--from", "2008-01-02", "--to", "2009-06-30", "--state", state]);
  const events = readFileSync(join(state, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const live = events.filter((e) => e.kind === "live");
  const rows = events.filter((e) => e.kind !== "live");
  const rejected = rows.filter((e) => e.kind === "rejected").length;
  assert.ok(rejected > 0 && rows.some((e) => e.kind === "rolled_back"), "the replay rejects and rolls back");
  const out = JSON.parse(strider(["monitor", state, "--out", join(dir, "monitor.html"), "--json"]));

  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => !r.url().startsWith("file:") && errors.push(`network: ${r.url()}`));
  await page.goto(pathToFileURL(out.out).href);
  await page.waitForFunction(() => document.body.dataset.status === "ready", null, { timeout: 30_000 });

  const card = (key) => page.$eval(`[data-key="${key}"]`, (e) => ({ text: e.textContent, value: e.dataset.value }));
  assert.equal((await card("bars")).value, String(live.length));
  assert.equal(Number((await card("live_sharpe")).value), out.status.live.sharpe);
  assert.equal((await card("live_sharpe")).text, out.status.live.sharpe.toFixed(3));
  assert.equal((await card("champion")).value, String(out.status.champion));
  const shown = () => page.$$eval("#timeline tbody tr", (trs) => trs.filter((r) => !r.hidden && r.offsetParent !== null).length);
  assert.equal(await shown(), rows.length);
  const points = (chart, series) => page.$eval(`#${chart} [data-series="${series}"]`, (e) => Number(e.dataset.points));
  assert.equal(await points("equity", "equity"), live.length);
  assert.equal(await points("drawdown", "drawdown"), live.length);
  const markers = await page.$$eval("#performance line.marker", (ls) => ls.length);
  assert.equal(markers, rows.filter((e) => ["promoted", "rejected", "rolled_back"].includes(e.kind)).length);
  const box = await page.$eval("#performance", (e) => e.getBoundingClientRect().width);
  assert.ok(box > 600, `the chart is ${box} px wide`);

  // Hiding the rejections hides exactly their rows.
  await page.click('#filters input[value="rejected"]');
  assert.equal(await shown(), rows.length - rejected);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "monitor.png"), fullPage: true });
  assert.deepEqual(errors, []);
});
