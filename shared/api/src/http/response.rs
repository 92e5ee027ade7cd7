//! Successful responses, built the same way by every handler.

use super::ApiError;
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A JSON response before it is turned into an HTTP one; kept as data so an
/// idempotent POST can store it and replay it byte for byte.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub body: String,
    /// The resource's version, sent as a strong `ETag`.
    pub version: Option<u64>,
    pub location: Option<String>,
    /// `application/json` unless set (CSV exports).
    pub content_type: Option<&'static str>,
    /// The stored answer to an earlier request with the same Idempotency-Key.
    pub replayed: bool,
}

impl ApiResponse {
    pub fn json(status: StatusCode, value: &impl Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_string(value).map_err(ApiError::internal)?;
        Ok(Self {
            status,
            body,
            version: None,
            location: None,
            content_type: None,
            replayed: false,
        })
    }

    pub fn ok(value: &impl Serialize) -> Result<Self, ApiError> {
        Self::json(StatusCode::OK, value)
    }

    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            body: String::new(),
            version: None,
            location: None,
            content_type: None,
            replayed: false,
        }
    }

    pub fn text(content_type: &'static str, body: String) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            version: None,
            location: None,
            content_type: Some(content_type),
            replayed: false,
        }
    }

    pub fn with_version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }

    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub fn into_http(self, request_id: &str) -> Response<Body> {
        let content_type = self.content_type;
        let mut response = json_response(self.status, self.body, request_id);
        let headers = response.headers_mut();
        if self.replayed {
            headers.insert(
                super::idempotency::REPLAYED_HEADER,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(content_type) = content_type {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            );
        }
        if let Some(version) = self.version {
            if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
                headers.insert(http::header::ETAG, value);
            }
        }
        if let Some(location) = self.location {
            if let Ok(value) = HeaderValue::from_str(&location) {
                headers.insert(http::header::LOCATION, value);
            }
        }
        response
    }
}

pub fn error_response(error: &ApiError, request_id: &str) -> Response<Body> {
    let mut response = json_response(error.status(), error.body().to_string(), request_id);
    if error.is_retryable() {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn json_response(status: StatusCode, body: String, request_id: &str) -> Response<Body> {
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Text(body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", value);
    }
    response
}
