// The LSTM in the browser: on the CPU (wasm, Strider's fused engine) a real small training reaches
// the synthetic task's noise floor; on WebGPU (SwiftShader here, so only a tiny smoke model) it
// trains and matches burn's CPU training of the same seeded network step for step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { serve } from "./serve.mjs";
import { launch } from "./chromium.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
const WWW = process.env.STRIDER_WWW ?? join(ROOT, "target/www");
const WWW_WEBGPU = process.env.STRIDER_WWW_WEBGPU ?? join(ROOT, "target/www-webgpu");

async function page(t, root, args = []) {
  const server = await serve(root);
  const browser = await launch(args);
  t.after(async () => {
    await browser.close();
    server.close();
  });
  const p = await browser.newPage();
  const errors = [];
  p.on("pageerror", (e) => errors.push(String(e)));
  // A plain file of the same origin, so the demo app does not start its own run.
  await p.goto(server.url + "example/default.toml");
  return { p, errors };
}

test("the LSTM learns the sine + AR(1) task to its noise floor in the browser (CPU wasm)", async (t) => {
  const { p, errors } = await page(t, WWW);
  const r = await p.evaluate(async () => {
    const m = await import("/pkg/strider_wasm.js");
    await m.default();
    return JSON.parse(m.lstm_synthetic(JSON.stringify({ n_train: 2000, epochs: 30, window: 32, hidden: 32 })));
  });
  console.log(`browser CPU: held-out MSE ${r.test_mse.toFixed(5)} (noise floor ${r.noise_floor}), ${r.epochs.length} epochs, ${(r.s_per_epoch * 1000).toFixed(0)} ms per epoch`);
  assert.deepEqual(errors, []);
  assert.equal(r.backend, "cpu");
  assert.equal(r.epochs.length, 30);
  assert.ok(r.epochs.at(-1).train_loss < r.epochs[0].train_loss / 3, "training loss did not fall");
  assert.ok(r.test_mse < r.noise_floor * 1.25, `held-out MSE ${r.test_mse} is not near the noise floor`);
  assert.ok(r.test_mse > r.noise_floor * 0.8, `held-out MSE ${r.test_mse} below the noise floor`);
});

test("WebGPU smoke: a tiny LSTM trains on navigator.gpu and matches burn on the CPU", async (t) => {
  if (!existsSync(join(WWW_WEBGPU, "pkg"))) {
    if (process.env.CI) assert.fail(`${WWW_WEBGPU} is missing: scripts/build-www.sh --webgpu builds it`);
    t.skip("no WebGPU build (scripts/build-www.sh --webgpu)");
    return;
  }
  const { p, errors } = await page(t, WWW_WEBGPU, ["--enable-unsafe-webgpu"]);
  const tiny = { n_train: 64, n_validation: 0, n_test: 32, window: 6, hidden: 8, epochs: 2, batch_size: 64, seed: 3 };
  const r = await p.evaluate(async (tiny) => {
    const adapter = await navigator.gpu?.requestAdapter();
    const m = await import("/pkg/strider_wasm.js");
    await m.default();
    const gpu = JSON.parse(await m.lstm_synthetic_webgpu(JSON.stringify(tiny)));
    const cpu = JSON.parse(m.lstm_synthetic(JSON.stringify({ ...tiny, backend: "burn-cpu" })));
    return { adapter: adapter ? (adapter.info?.architecture || adapter.info?.vendor || "yes") : null, gpu, cpu };
  }, tiny);
  console.log(`WebGPU adapter ${r.adapter}: losses ${r.gpu.epochs.map((e) => e.train_loss.toFixed(5))} vs CPU ${r.cpu.epochs.map((e) => e.train_loss.toFixed(5))}, ${r.gpu.s_per_epoch.toFixed(1)} s per epoch`);
  assert.deepEqual(errors, []);
  assert.ok(r.adapter, "no WebGPU adapter");
  assert.equal(r.gpu.backend, "wgpu");
  assert.equal(r.gpu.epochs.length, 2);
  for (const [g, c] of r.gpu.epochs.map((e, i) => [e.train_loss, r.cpu.epochs[i].train_loss])) {
    assert.ok(Number.isFinite(g) && Math.abs(g - c) < 1e-3 * Math.max(1, Math.abs(c)), `WebGPU loss ${g} vs CPU ${c}`);
  }
  assert.ok(Math.abs(r.gpu.test_mse - r.cpu.test_mse) < 1e-3 * Math.max(1, r.cpu.test_mse), `test MSE ${r.gpu.test_mse} vs ${r.cpu.test_mse}`);
});
