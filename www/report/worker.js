// Retraining off the main thread. This text follows wasm-bindgen's no-modules glue inside a blob
// worker: `wasm_bindgen` is the glue's global.
"use strict";
let ready = null;
self.onmessage = async ({ data }) => {
  try {
    if (ready === null) ready = WebAssembly.compile(data.wasm).then((module) => wasm_bindgen({ module_or_path: module }));
    await ready;
    const out = wasm_bindgen.retrain(data.payload, data.model, JSON.stringify(data.overrides), (done, total) =>
      self.postMessage({ progress: [done, total] }),
    );
    self.postMessage({ result: out });
  } catch (e) {
    self.postMessage({ error: String(e && e.message ? e.message : e) });
  }
};
