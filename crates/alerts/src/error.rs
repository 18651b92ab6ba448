//! The crate's errors. A delivery's own failures are not errors of the
//! dispatcher: they are recorded attempts (see `channels::SendError`).

/// A problem in `[alerts]`, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    pub field: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(field: &str, problem: impl std::fmt::Display) -> Self {
        ConfigError {
            field: field.to_string(),
            problem: problem.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("alert configuration: {0}")]
    Config(#[from] ConfigError),
    /// A variable a channel needs is not set. Names the variable, never a value.
    #[error("channel {channel}: environment variable {variable} is not set")]
    MissingSecret { channel: String, variable: String },
    #[error("channel {channel}: {problem}")]
    Channel { channel: String, problem: String },
    #[error(transparent)]
    Store(#[from] dq_store::StoreError),
}
