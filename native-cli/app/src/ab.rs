//! `strider ab test`: two return series read from CSV (one numeric column each, or the one named)
//! and compared with the always-valid sequential test, looking after every observation.

use std::path::Path;

use strider_core::stats::{MsprtResult, MsprtSpec, msprt};

use crate::drift::read_table;
use crate::{Result, bail};

fn series(path: &Path, column: Option<&str>) -> Result<Vec<f64>> {
    let table = read_table(path)?;
    let found = match column {
        Some(want) => table.columns.into_iter().find(|(n, _)| n == want),
        None if table.columns.len() == 1 => table.columns.into_iter().next(),
        None => bail!(
            "{}: {} numeric columns; say which with --column",
            path.display(),
            table.columns.len()
        ),
    };
    match found {
        Some((_, values)) => Ok(values),
        None => bail!(
            "{}: no numeric column `{}`",
            path.display(),
            column.unwrap_or("")
        ),
    }
}

/// The test of `b` (challenger) against `a` (champion), paired observation by observation.
pub fn ab_test(a: &Path, b: &Path, column: Option<&str>, spec: &MsprtSpec) -> Result<MsprtResult> {
    let (x, y) = (series(a, column)?, series(b, column)?);
    if x.len() != y.len() {
        bail!(
            "{} has {} observations and {} has {}: the test pairs them one by one",
            a.display(),
            x.len(),
            b.display(),
            y.len()
        );
    }
    Ok(msprt(&x, &y, spec)?)
}
