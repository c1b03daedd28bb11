//! Reading the followed data files. A corrupt line past what was read before (a bad bar appended
//! to a live file) is skipped, recorded once, and remembered by its content, so the bars after it
//! are still processed; a bad line inside what was read before (history rewritten) is an error,
//! and the previous data stays in use until the file is fixed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use strider_core::data::Instrument;

use super::Watcher;
use crate::Result;

/// A line left out of a data file: its file, 1-based line number and content hash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SkippedLine {
    pub file: String,
    pub line: usize,
    pub sha256: String,
}

fn line_sha(line: &str) -> String {
    strider_core::bundle::sha256_hex(line.as_bytes())
}

/// `text` without the skipped lines that still hold the content they were skipped for.
fn without(text: &str, file: &str, skipped: &[SkippedLine]) -> String {
    let drop: BTreeSet<usize> = skipped
        .iter()
        .filter(|s| s.file == file)
        .filter(|s| {
            text.lines()
                .nth(s.line - 1)
                .is_some_and(|l| line_sha(l) == s.sha256)
        })
        .map(|s| s.line)
        .collect();
    if drop.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for (i, l) in text.lines().enumerate() {
        if !drop.contains(&(i + 1)) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

impl Watcher {
    /// The instruments as the files stand, skipping corrupt new lines (each recorded as an
    /// `error` event once).
    pub(super) fn read_data(&mut self) -> Result<Vec<Instrument>> {
        for _ in 0..1000 {
            let mut texts: BTreeMap<String, String> = BTreeMap::new();
            let skipped = self.state.skipped.clone();
            let source = &self.source;
            let loaded = strider_core::data::load(&self.config.data, &mut |path| {
                let raw = source.read(path)?;
                let text = without(&raw, path, &skipped);
                texts.insert(path.to_string(), raw);
                Ok(text)
            });
            match loaded {
                Ok(instruments) => {
                    for (file, text) in texts {
                        self.state.known_lines.insert(file, text.lines().count());
                    }
                    return Ok(instruments);
                }
                Err(strider_core::Error::DataCell { file, line, .. })
                    if self.is_new_line(&file, line as usize) =>
                {
                    let raw = texts.get(&file).map(String::as_str).unwrap_or_default();
                    let content = raw.lines().nth(line as usize - 1).unwrap_or_default();
                    self.state.skipped.push(SkippedLine {
                        file: file.clone(),
                        line: line as usize,
                        sha256: line_sha(content),
                    });
                    let message = format!(
                        "{}; the bar is skipped",
                        strider_core::Error::DataCell {
                            file,
                            line,
                            column: String::new(),
                            message: "not a valid bar".into(),
                        }
                    );
                    self.record_error(None, &crate::Error::Input(message))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        crate::bail!("too many corrupt lines in the data files")
    }

    /// A line the last good read did not have (only once there was a good read).
    fn is_new_line(&self, file: &str, line: usize) -> bool {
        line >= 1 && self.state.known_lines.get(file).is_some_and(|&n| line > n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lines_with_the_skipped_content_are_left_out() {
        let skipped = [SkippedLine {
            file: "a.csv".into(),
            line: 3,
            sha256: line_sha("bad"),
        }];
        assert_eq!(without("h\nx\nbad\ny\n", "a.csv", &skipped), "h\nx\ny\n");
        // Fixed by hand: the line is read again.
        assert_eq!(
            without("h\nx\ngood\ny\n", "a.csv", &skipped),
            "h\nx\ngood\ny\n"
        );
        assert_eq!(without("h\nx\nbad\n", "b.csv", &skipped), "h\nx\nbad\n");
    }
}
