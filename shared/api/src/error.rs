//! Every failure a client can see, and the single place that turns them into
//! status codes and `{"error", "message", "fields"?}` bodies.

use app::error::{AppError, CONCURRENT_UPDATE};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// No route matches the path (as opposed to a route whose resource is missing).
    #[error("no such route")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the If-Match header is required")]
    PreconditionRequired,
    /// The request ran out of time (a slow dependency); nothing is known to
    /// have been written that a retry with the same Idempotency-Key would repeat.
    #[error("the service is slow to respond; retry shortly")]
    TimedOut,
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<domain::validation::FieldErrors> for ApiError {
    fn from(errors: domain::validation::FieldErrors) -> Self {
        Self::App(AppError::Validation(errors))
    }
}

impl From<app::ports::StoreError> for ApiError {
    fn from(error: app::ports::StoreError) -> Self {
        Self::App(error.into())
    }
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::App(AppError::bad_request(code, message))
    }

    pub fn invalid_field(field: &str, problem: &str) -> Self {
        Self::App(AppError::invalid_field(field, problem))
    }

    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::App(AppError::internal(error))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::App(error) => match error {
                AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
                AppError::Forbidden(_) => StatusCode::FORBIDDEN,
                AppError::NotFound => StatusCode::NOT_FOUND,
                AppError::Conflict { .. } => StatusCode::CONFLICT,
                AppError::Validation(_) | AppError::InvalidRows(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::NoRoute => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::PreconditionRequired => "precondition_required",
            Self::TimedOut => "unavailable",
            Self::App(error) => match error {
                AppError::BadRequest { code, .. } | AppError::Conflict { code, .. } => code,
                AppError::Forbidden(_) => "forbidden",
                AppError::NotFound => "not_found",
                AppError::Validation(_) | AppError::InvalidRows(_) => "validation_failed",
                AppError::Unavailable(_) => "unavailable",
                AppError::Internal(_) => "internal_error",
            },
        }
    }

    /// Worth the same request again shortly (`Retry-After`): the service was
    /// busy or slow, or the records changed under a concurrent request.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::TimedOut | Self::App(AppError::Unavailable(_)))
            || matches!(self, Self::App(AppError::Conflict { code, .. }) if *code == CONCURRENT_UPDATE)
    }

    /// The client-facing body. Messages are fixed or built from validated
    /// input only; error sources are never rendered here.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), json!(self.code()));
        body.insert("message".into(), json!(self.to_string()));
        if let Self::App(AppError::Validation(fields)) = self {
            let fields: Map<String, Value> = fields
                .iter()
                .map(|(field, problem)| (field.clone(), json!(problem)))
                .collect();
            body.insert("fields".into(), Value::Object(fields));
        }
        if let Self::App(AppError::InvalidRows(errors)) = self {
            let report = errors.report();
            let rows: Vec<Value> = report
                .rows
                .iter()
                .map(|(line, problems)| {
                    let fields: Map<String, Value> = problems
                        .iter()
                        .map(|(field, problem)| (field.clone(), json!(problem)))
                        .collect();
                    json!({"line": line, "errors": fields})
                })
                .collect();
            body.insert("rows".into(), json!(rows));
            body.insert("invalid_rows".into(), json!(report.invalid_rows));
            body.insert("problems".into(), json!(report.problems));
        }
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(error = %self, cause = ?std::error::Error::source(&self), "request failed");
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if self.is_retryable() {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
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
