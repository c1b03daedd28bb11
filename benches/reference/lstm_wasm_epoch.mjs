// The LSTM anchor epoch in headless Chromium (Debian's), on the page build of scripts/build-www.sh:
// prints the wasm engine's result as JSON. Used by lstm_vs_torch.py.
//   node benches/reference/lstm_wasm_epoch.mjs EPOCHS [WWW_DIR]
import { resolve } from "node:path";
import { serve } from "../../tests/browser/serve.mjs";
import { launch } from "../../tests/browser/chromium.mjs";

const epochs = Number(process.argv[2] ?? 10);
const www = resolve(process.argv[3] ?? "target/www");
const server = await serve(www);
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(server.url + "example/default.toml");
  const out = await page.evaluate(async (epochs) => {
    const m = await import("/pkg/strider_wasm.js");
    await m.default();
    return m.lstm_synthetic(JSON.stringify({ anchor: true, epochs, n_test: 0 }));
  }, epochs);
  console.log(out);
} finally {
  await browser.close();
  server.close();
}
