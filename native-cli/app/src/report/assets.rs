//! The browser parts compiled into the CLI: the page, its script and style, uPlot, and the wasm
//! core prebuilt by `scripts/build-report-assets.sh` (committed, so building the CLI needs no
//! wasm toolchain). A test fails when the core's sources changed since that build.

pub const TEMPLATE: &str = include_str!("../../../../www/report/report.html");
pub const APP_JS: &str = include_str!("../../../../www/report/report.js");
pub const WORKER_JS: &str = include_str!("../../../../www/report/worker.js");
pub const STYLE: &str = include_str!("../../../../www/report/report.css");
pub const UPLOT_JS: &str = include_str!("../../../../www/report/vendor/uPlot.iife.min.js");
pub const UPLOT_CSS: &str = include_str!("../../../../www/report/vendor/uPlot.min.css");
/// wasm-bindgen's `no-modules` glue (defines the global `wasm_bindgen`).
pub const GLUE_JS: &str = include_str!("../../assets/report/strider_wasm.js");
/// The wasm core, gzipped.
pub const WASM_GZ: &[u8] = include_bytes!("../../assets/report/strider_wasm_bg.wasm.gz");
/// `scripts/report-sources-hash.sh` at the time the wasm above was built.
pub const SOURCES_SHA256: &str = include_str!("../../assets/report/SOURCES.sha256");

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};
    use std::path::{Path, PathBuf};

    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    /// Same as scripts/report-sources-hash.sh: `sha256sum` lines of the sorted file list, hashed.
    fn sources_hash(root: &Path) -> String {
        let mut files = Vec::new();
        for krate in std::fs::read_dir(root.join("core")).unwrap() {
            let krate = krate.unwrap().path();
            files_under(&krate.join("src"), &mut files);
            files.push(krate.join("Cargo.toml"));
        }
        files_under(&root.join("wasm/src"), &mut files);
        let mut rel: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .chain(["Cargo.lock", "wasm/Cargo.toml"].map(String::from))
            .collect();
        rel.sort();
        let mut listing = String::new();
        for r in &rel {
            let bytes = std::fs::read(root.join(r)).unwrap();
            listing.push_str(&format!("{}  {r}\n", hex::encode(Sha256::digest(&bytes))));
        }
        hex::encode(Sha256::digest(listing.as_bytes()))
    }

    #[test]
    fn the_inlined_wasm_was_built_from_the_current_core() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root.canonicalize().unwrap();
        let root = root.as_path();
        assert_eq!(
            super::SOURCES_SHA256.trim(),
            sources_hash(root),
            "core/ or wasm/ changed since the report's wasm was built: run \
             scripts/build-report-assets.sh and commit native-cli/app/assets/report/"
        );
    }
}
