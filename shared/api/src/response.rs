//! Successful responses, built the same way by every handler.

use crate::error::ApiError;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A response before it is turned into an HTTP one; kept as data so an
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
            content_type: Some(content_type),
            body,
            ..Self::no_content()
        }
        .with_status(StatusCode::OK)
    }

    fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }

    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        let mut response = if self.body.is_empty() {
            self.status.into_response()
        } else {
            (self.status, self.body).into_response()
        };
        let headers = response.headers_mut();
        if !matches!(self.status, StatusCode::NO_CONTENT) {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type.unwrap_or("application/json")),
            );
        }
        if self.replayed {
            headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
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

/// A file to download (a PDF): its bytes, type and filename. Never stored
/// for idempotent replay (only GETs answer with one).
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub content_type: &'static str,
    /// Safe characters only (the use case builds it).
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl IntoResponse for Download {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::OK, self.bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        let disposition = format!("attachment; filename=\"{}\"", self.filename);
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(http::header::CONTENT_DISPOSITION, value);
        }
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        response
    }
}
