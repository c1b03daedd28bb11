//! The application layer's error: the engines' typed errors as sources, file and format errors
//! with the path or context that failed, and the user's input that cannot be used. The binary
//! prints the whole chain (`error: reading x.toml: No such file or directory`).

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// The domain (data, config, models, pipeline) refused the input.
    #[error(transparent)]
    Core(#[from] strider_core::Error),
    /// Tuning (search space, study, storage).
    #[error(transparent)]
    Tune(#[from] strider_tune::Error),
    /// Tracking or the model registry.
    #[error(transparent)]
    Tracking(#[from] strider_mlflow::Error),
    /// The tree engine.
    #[error(transparent)]
    Gbdt(#[from] strider_core::gbdt::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// A value or document in the wrong format (a number, a date, TOML).
    #[error(transparent)]
    Format(Box<dyn std::error::Error + Send + Sync>),
    /// A PostgreSQL-shared watch no longer holds its leader lease: nothing more is committed.
    #[error("lost the leader lease: {0}")]
    LostLease(String),
    /// A watch step's decisions put off while the registry or tracking server cools down after
    /// a failure (nothing is recorded; the next bar evaluates again).
    #[error("decisions put off: the registry failed recently")]
    Deferred,
    /// A user's input or request that cannot be used (the message says what and where).
    #[error("{0}")]
    Input(String),
    /// What was being done when `source` failed.
    #[error("{context}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

macro_rules! format_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Format(Box::new(e))
            }
        }
    )*};
}

format_errors!(
    std::num::ParseFloatError,
    std::num::ParseIntError,
    chrono::ParseError,
    toml::de::Error,
    toml::ser::Error
);

impl<W: std::fmt::Debug + Send + Sync + 'static> From<csv::IntoInnerError<W>> for Error {
    fn from(e: csv::IntoInnerError<W>) -> Self {
        Error::Io(e.into_error())
    }
}

impl Error {
    /// Whether tracking or the registry failed, anywhere in the chain.
    pub fn is_tracking(&self) -> bool {
        match self {
            Error::Tracking(_) => true,
            Error::Context { source, .. } => source.is_tracking(),
            _ => false,
        }
    }

    /// The message and every cause, as one line (`reading x.toml: No such file or directory`).
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            let text = s.to_string();
            if !out.ends_with(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            source = s.source();
        }
        out
    }

    /// This error, explained by what was being done.
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        Error::Context {
            context: context.to_string(),
            source: Box::new(self),
        }
    }
}

/// anyhow-style context on results and options.
pub trait Context<T> {
    fn context(self, context: impl std::fmt::Display) -> Result<T>;
    fn with_context<C: std::fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context.to_string(),
            source: Box::new(e.into()),
        })
    }

    fn with_context<C: std::fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::Context {
            context: context().to_string(),
            source: Box::new(e.into()),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, context: impl std::fmt::Display) -> Result<T> {
        self.ok_or_else(|| Error::Input(context.to_string()))
    }

    fn with_context<C: std::fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.ok_or_else(|| Error::Input(context().to_string()))
    }
}

/// Returns early with [`Error::Input`] and a formatted message.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::Error::Input(format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_chains_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = Err::<(), _>(io).context("reading x.toml").unwrap_err();
        assert_eq!(e.to_string(), "reading x.toml");
        assert_eq!(e.chain(), "reading x.toml: No such file or directory");
        let outer = e.context("loading the config");
        assert_eq!(
            outer.chain(),
            "loading the config: reading x.toml: No such file or directory"
        );
    }

    #[test]
    fn options_and_formats_become_input_and_format_errors() {
        let missing: Option<u8> = None;
        let e = missing
            .with_context(|| "--model m: not in the config")
            .unwrap_err();
        assert!(matches!(e, Error::Input(_)), "{e:?}");
        let e: Error = "x".parse::<f64>().unwrap_err().into();
        assert!(matches!(e, Error::Format(_)));
        assert_eq!(e.chain(), "invalid float literal");
        let r: Result<()> = (|| {
            crate::bail!("{} already exists", "out");
        })();
        assert_eq!(r.unwrap_err().to_string(), "out already exists");
    }
}
