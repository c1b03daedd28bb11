//! Keeping a deployed model healthy: the `[retrain]` policy, its triggers as pure functions of
//! what a service has seen (live paper trading, feature and prediction windows, the calendar),
//! the live statistics they read, and the significance gate a challenger must pass. The service
//! that runs them (`strider watch`) lives in the native application layer, and so does cron
//! (a cron parser has no place in the browser's wasm).

pub mod gate;
pub mod live;
pub mod spec;
pub mod triggers;

pub use gate::{GateResult, gate};
pub use live::{Matured, live_metric};
pub use spec::{
    DataDriftTrigger, GateKind, GateSpec, LiveMetric, ModelDriftTrigger, PerformanceTrigger,
    RetrainSpec, RollbackSpec, ScheduleTrigger,
};
pub use triggers::Fired;
