//! Every failure a client can see, and the single place that turns them into
//! status codes and `{"error", "message", "fields"?}` bodies.

use crate::adapters::dynamo::StoreError;
use crate::domain::validation::FieldErrors;
use http::StatusCode;
use serde_json::{json, Map, Value};

/// The conflict code of a write that lost a race with another request.
pub const CONCURRENT_UPDATE: &str = "concurrent_update";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("resource not found")]
    NotFound,
    /// No route matches the path (as opposed to a route whose resource is missing).
    #[error("no such route")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the If-Match header is required")]
    PreconditionRequired,
    #[error("the request has invalid fields")]
    Validation(FieldErrors),
    /// A dependency is throttling or down; the client should retry.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// The request ran out of time (a slow dependency); nothing is known to
    /// have been written that a retry with the same Idempotency-Key would repeat.
    #[error("the service is slow to respond; retry shortly")]
    TimedOut,
    /// A bug or an unexpected failure. The cause goes to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
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

    pub fn invalid_field(field: &str, problem: &str) -> Self {
        Self::Validation(FieldErrors::single(field, problem))
    }

    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Worth the same request again shortly (`Retry-After`): the service was
    /// busy or slow, or the records changed under a concurrent request.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::TimedOut)
            || matches!(self, Self::Conflict { code, .. } if *code == CONCURRENT_UPDATE)
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Conflict { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound | Self::NoRoute => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::PreconditionRequired => "precondition_required",
            Self::Validation(_) => "validation_failed",
            Self::Unavailable(_) | Self::TimedOut => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The client-facing body. Messages are fixed or built from validated
    /// input only; error sources are never rendered here.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), json!(self.code()));
        body.insert("message".into(), json!(self.to_string()));
        if let Self::Validation(fields) = self {
            let fields: Map<String, Value> = fields
                .iter()
                .map(|(field, problem)| (field.clone(), json!(problem)))
                .collect();
            body.insert("fields".into(), Value::Object(fields));
        }
        Value::Object(body)
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled(_) | StoreError::Unavailable(_) => Self::Unavailable(error),
            other => Self::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_list_their_fields() {
        let error = ApiError::invalid_field("time_zone", "must be an IANA time zone name");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error.body(),
            json!({
                "error": "validation_failed",
                "message": "the request has invalid fields",
                "fields": {"time_zone": "must be an IANA time zone name"}
            })
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let cause = std::io::Error::other("table acme-secret is gone");
        let body = ApiError::internal(cause).body().to_string();
        assert!(!body.contains("acme-secret"));
    }
}
