//! Bundles as folders: one file per entry, read back with size limits.

use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use crate::rundir::RunDir;
use strider_core::bundle::BundleFiles;

/// The largest bundle read (weights of large LSTMs and tree ensembles stay far below).
const MAX_BUNDLE_BYTES: u64 = 1 << 30;

/// Writes a bundle into `dir` (which must not exist), atomically.
pub fn write_bundle_dir(dir: &Path, files: &BundleFiles) -> Result<()> {
    let mut rd = RunDir::new();
    for (name, bytes) in files {
        rd.add(name, bytes.clone());
    }
    rd.commit(dir)
}

/// Reads every regular file of a bundle folder (not recursing).
pub fn read_bundle_dir(dir: &Path) -> Result<BundleFiles> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading bundle {}", dir.display()))?;
    let mut files = BundleFiles::new();
    let mut total = 0u64;
    for e in entries {
        let e = e.with_context(|| format!("reading bundle {}", dir.display()))?;
        // Following links: a bundle assembled from linked weight files reads as one.
        let meta = std::fs::metadata(e.path())?;
        if !meta.is_file() {
            continue;
        }
        total += meta.len();
        if total > MAX_BUNDLE_BYTES {
            bail!(
                "{}: over {MAX_BUNDLE_BYTES} bytes, not a bundle",
                dir.display()
            );
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes =
            std::fs::read(e.path()).with_context(|| format!("reading {}", e.path().display()))?;
        files.insert(name, bytes);
    }
    Ok(files)
}
