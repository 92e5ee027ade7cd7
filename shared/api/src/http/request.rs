//! Parsing the parts of a request every handler shares: body, versions, keys.

use super::ApiError;
use lambda_http::{Body, Request};
use serde_json::{Map, Value};

/// DESIGN §4: larger bodies are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn body_bytes(request: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(bytes)
}

/// The body as a JSON object (400 if it is not JSON or not an object).
pub fn json_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = body_bytes(request)?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "malformed_body",
            "a JSON object body is required",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request(
            "malformed_body",
            "the body must be a JSON object",
        )),
        Err(error) => Err(ApiError::bad_request(
            "malformed_body",
            format!("the body is not valid JSON: {}", error_position(&error)),
        )),
    }
}

/// Only the position: serde's message may echo parts of the input.
fn error_position(error: &serde_json::Error) -> String {
    format!("line {} column {}", error.line(), error.column())
}

/// `If-Match: "3"` (quoted, unquoted or weak) is required on every PATCH.
pub fn if_match_version(request: &Request) -> Result<u64, ApiError> {
    let raw = request
        .headers()
        .get(http::header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?
        .to_str()
        .map_err(|_| invalid_if_match())?;
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<u64>()
        .map_err(|_| invalid_if_match())
}

fn invalid_if_match() -> ApiError {
    ApiError::bad_request(
        "invalid_if_match",
        "If-Match must be the resource's version, e.g. \"3\"",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(value: &str) -> Request {
        http::Request::builder()
            .header("if-match", value)
            .body(Body::Empty)
            .unwrap()
    }

    #[test]
    fn if_match_accepts_quoted_unquoted_and_weak() {
        for raw in ["3", "\"3\"", "W/\"3\""] {
            assert_eq!(if_match_version(&with_if_match(raw)).unwrap(), 3);
        }
        assert!(matches!(
            if_match_version(&with_if_match("abc")),
            Err(ApiError::BadRequest { .. })
        ));
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let request: Request = http::Request::builder()
            .body(Body::Text("x".repeat(MAX_BODY_BYTES + 1)))
            .unwrap();
        assert!(matches!(
            json_object(&request),
            Err(ApiError::PayloadTooLarge { .. })
        ));
    }
}
