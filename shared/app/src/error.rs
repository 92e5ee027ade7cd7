//! What a use case can fail with. The HTTP edge maps these to status codes
//! in one place; messages are safe to show (built from validated input).

use crate::ports::StoreError;
use domain::validation::FieldErrors;

/// The conflict code of a write that lost a race with another request.
pub const CONCURRENT_UPDATE: &str = "concurrent_update";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input cannot be read at all (malformed CSV, a bad header).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(&'static str),
    /// Unknown, or another tenant's (never told apart).
    #[error("resource not found")]
    NotFound,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the request has invalid fields")]
    Validation(FieldErrors),
    /// Rows of an import are invalid (nothing was written).
    #[error("{0}")]
    InvalidRows(crate::usecases::imports::RowErrors),
    /// A dependency is throttling or down; the client should retry.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// A bug or an unexpected failure. The cause goes to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn stale_version() -> Self {
        Self::conflict(
            "version_conflict",
            "the resource was changed by someone else; reload it and retry with its current version",
        )
    }

    pub fn concurrent(message: impl Into<String>) -> Self {
        Self::conflict(CONCURRENT_UPDATE, message)
    }

    pub fn invalid_field(field: &str, problem: &str) -> Self {
        Self::Validation(FieldErrors::single(field, problem))
    }

    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled(_) | StoreError::Unavailable(_) => Self::Unavailable(error),
            StoreError::BadCursor => {
                Self::invalid_field("cursor", "is not a cursor from this listing")
            }
            StoreError::TransactionConflict => {
                Self::concurrent("another request changed the same records at the same time; retry")
            }
            other => Self::internal(other),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
