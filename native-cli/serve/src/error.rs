//! The server's errors: starting it (binding, the runtime) and loading a model.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Resolving or reading a model (registry, files).
    #[error(transparent)]
    App(#[from] strider_app::Error),
    /// A bundle that does not load or check.
    #[error(transparent)]
    Core(#[from] strider_core::Error),
    /// A background task that panicked or was cancelled.
    #[error("background task: {0}")]
    Task(String),
}
