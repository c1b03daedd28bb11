//! The run directory: every later feature (models, tracking, reports) writes into it. It is
//! assembled under a temporary sibling name and renamed into place at the end, so a failed or
//! killed run never leaves a half-written directory behind, and an existing one is never touched.

use std::fs;
use std::path::{Path, PathBuf};

use crate::bail;
use crate::error::{Context, Result};

#[derive(Default)]
pub struct RunDir {
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl RunDir {
    pub fn new() -> Self {
        Self { files: Vec::new() }
    }

    pub fn add(&mut self, rel: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) {
        self.files.push((rel.into(), bytes.into()));
    }

    pub fn add_json(&mut self, rel: &str, value: &impl serde::Serialize) -> Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        self.add(rel, text);
        Ok(())
    }

    /// Write everything to `dir`, which must not exist yet.
    pub fn commit(self, dir: &Path) -> Result<()> {
        if dir.exists() {
            bail!(
                "{} already exists; choose another --out (nothing was written)",
                dir.display()
            );
        }
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        let name = dir
            .file_name()
            .context("--out needs a directory name")?
            .to_string_lossy();
        remove_abandoned_staging(parent, &name);
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let result = (|| -> Result<()> {
            for (rel, bytes) in &self.files {
                let path = staging.join(rel);
                let folder = path.parent().unwrap_or(&staging);
                fs::create_dir_all(folder)
                    .with_context(|| format!("creating {}", folder.display()))?;
                fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            }
            fs::rename(&staging, dir)
                .with_context(|| format!("moving the run into {}", dir.display()))
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result
    }
}

/// Removes `.<name>.partial-<pid>` folders left by runs that were killed (their process is gone),
/// so a killed run leaves nothing behind for long. Best effort: a folder that cannot be removed
/// stays.
fn remove_abandoned_staging(parent: &Path, name: &str) {
    let prefix = format!(".{name}.partial-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        // Without /proc (not Linux) nothing can be told dead: keep it.
        let alive = !cfg!(target_os = "linux") || Path::new(&format!("/proc/{pid}")).exists();
        if pid != std::process::id() && !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// `name` as a file name: letters, digits, `-` and `_`; anything else becomes `_`.
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `bytes` to `path` whole: under a temporary name first, then renamed, so a failure
/// never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// `runs/<name>-<UTC time>`, with a numeric suffix if that exists already.
pub fn default_dir(name: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let base = PathBuf::from("runs").join(format!("{}-{stamp}", safe_name(name)));
    let mut dir = base.clone();
    let mut k = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{}-{k}", base.display()));
        k += 1;
    }
    dir
}
