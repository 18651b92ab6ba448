//! The store's one error type. Backends map their driver errors here, so
//! callers match on what happened (not found, conflict) and never on sqlx.

use sqlx::error::ErrorKind;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Something named by the caller does not exist (a rule, a violation id).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request contradicts itself or the stored data (a rule named twice
    /// in one load, a unique key already taken).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is malformed (a non-finite metric value, a bad URL).
    #[error("invalid: {0}")]
    Invalid(String),
    /// A stored value cannot be read back (hand-edited database, or a row
    /// written by an incompatible version).
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
    /// A write fenced by a lease its holder no longer holds: it expired, or
    /// another owner acquired it since. Nothing was written; the caller must
    /// stop acting as the lease holder.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let kind = error.as_database_error().map(|db| db.kind());
        match kind {
            Some(ErrorKind::UniqueViolation) => StoreError::Conflict(error.to_string()),
            Some(ErrorKind::ForeignKeyViolation) => StoreError::Invalid(error.to_string()),
            _ => StoreError::Database(error),
        }
    }
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display, detail: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(format!("{what}: {detail}"))
    }
}
