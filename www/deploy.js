// Plumbing only: files in, the wasm core's `DeployedBundle` scores, a table out. Every name and
// number is inserted with textContent, never as HTML.
import init, { DeployedBundle } from "./pkg/strider_wasm.js";

const $ = (id) => document.getElementById(id);
const files = { bundle: new Map(), bars: new Map() };
let bundle = null;

function setStatus(status, text) {
  document.body.dataset.status = status;
  $("status").textContent = text;
}

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

async function addFiles(list) {
  for (const f of list) {
    const name = f.name;
    if (name.toLowerCase().endsWith(".csv")) files.bars.set(name, await f.text());
    else files.bundle.set(name, new Uint8Array(await f.arrayBuffer()));
  }
  bundle = null;
  $("score").disabled = !(files.bundle.size && files.bars.size);
  setStatus("ready", `${files.bundle.size} bundle files, ${files.bars.size} bar files`);
}

// A dropped folder arrives as a directory entry: read its files (one level, as a bundle is flat).
async function droppedFiles(items) {
  const out = [];
  const fileOf = (entry) => new Promise((ok, err) => entry.file(ok, err));
  for (const item of items) {
    const entry = item.webkitGetAsEntry?.();
    if (entry?.isDirectory) {
      const entries = await new Promise((ok, err) => entry.createReader().readEntries(ok, err));
      for (const e of entries) if (e.isFile) out.push(await fileOf(e));
    } else if (item.kind === "file") {
      out.push(item.getAsFile());
    }
  }
  return out;
}

function loadBundle() {
  const b = new DeployedBundle();
  for (const [name, bytes] of files.bundle) b.add_file(name, bytes);
  const info = JSON.parse(b.load());
  table($("model"), ["model", "kind", "sha256", "features", "trained on"], [[
    info.model, info.kind, info.sha256.slice(0, 12), info.features.join(", "),
    `${info.training.first_date} .. ${info.training.last_date}`,
  ]]);
  return b;
}

function score() {
  try {
    bundle ??= loadBundle();
    const since = $("since").value;
    const out = JSON.parse(bundle.predict(
      JSON.stringify(Object.fromEntries(files.bars)),
      JSON.stringify(since ? { since } : {}),
    ));
    window.striderPredictions = out;
    table($("scores"), ["date", "instrument", "score", "position"],
      out.predictions.map((p) => [p.date, p.instrument, p.score.toFixed(6), String(p.position)]));
    setStatus("done", `${out.predictions.length} scores from ${out.model}`);
  } catch (e) {
    window.striderError = String(e);
    setStatus("error", String(e));
  }
}

await init();
$("bundle-files").addEventListener("change", (e) => addFiles(e.target.files));
$("bar-files").addEventListener("change", (e) => addFiles(e.target.files));
$("score").addEventListener("click", score);
const drop = $("drop");
drop.addEventListener("dragover", (e) => e.preventDefault());
drop.addEventListener("drop", async (e) => {
  e.preventDefault();
  await addFiles(await droppedFiles([...e.dataTransfer.items]));
});
setStatus("ready", "Drop a bundle and bar CSVs");
