//! Ensembles as models: members are other `[[models]]` entries; `mean`, `weighted` (nested
//! walk-forward weights), `stacking` (a meta-learner on earlier folds' out-of-fold predictions)
//! and `blending` (a meta-learner on the newest part of each training window).

mod fit;
mod fitted;
mod params;
mod weights;

pub use fit::{EnsembleFit, OofHistory};
pub use fitted::{Combiner, ENSEMBLE_FILE, FittedEnsemble, load_ensemble, stacked_dataset};
pub use params::{EnsembleMethod, EnsembleParams, WeightObjective};
pub use weights::{least_squares, max_sharpe, project_simplex};
