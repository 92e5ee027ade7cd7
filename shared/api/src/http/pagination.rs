//! `?limit=&cursor=` (API.md): opaque cursors that can only continue the
//! listing they came from.

use super::{ApiError, ApiResponse};
use crate::adapters::dynamo::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::{Request, RequestExt};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

pub const DEFAULT_LIMIT: i32 = 50;
pub const MAX_LIMIT: i32 = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub limit: i32,
    pub start: Option<Item>,
}

/// Parses `limit` and `cursor`. A cursor is the last key of the previous
/// page; it must belong to `partition` (the caller's own listing), so a
/// forged cursor cannot read another tenant's keys.
pub fn page_request(
    limit: Option<&str>,
    cursor: Option<&str>,
    partition: (&str, &str),
) -> Result<PageRequest, ApiError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_field(
                    "limit",
                    "must be a whole number from 1 to 200",
                ))
            }
        },
    };
    let start = match cursor {
        None | Some("") => None,
        Some(raw) => Some(decode(raw, partition).ok_or_else(|| {
            ApiError::invalid_field("cursor", "is not a cursor from this listing")
        })?),
    };
    Ok(PageRequest { limit, start })
}

/// [`page_request`] on the request's own `limit` and `cursor` parameters.
pub fn page_params(request: &Request, partition: (&str, &str)) -> Result<PageRequest, ApiError> {
    let params = request.query_string_parameters();
    page_request(params.first("limit"), params.first("cursor"), partition)
}

/// A list reply: one page of items and the cursor of the next page (null on
/// the last one).
pub fn list_reply(
    items: &impl Serialize,
    last_key: Option<&Item>,
) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&json!({"items": items, "next_cursor": last_key.and_then(encode_cursor)}))
}

pub fn encode_cursor(last_key: &Item) -> Option<String> {
    let mut plain = BTreeMap::new();
    for (name, value) in last_key {
        plain.insert(name.clone(), value.as_s().ok()?.clone());
    }
    let json = serde_json::to_vec(&plain).ok()?;
    Some(URL_SAFE_NO_PAD.encode(json))
}

fn decode(raw: &str, (attribute, value): (&str, &str)) -> Option<Item> {
    let json = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let plain: BTreeMap<String, String> = serde_json::from_slice(&json).ok()?;
    if plain.get(attribute).map(String::as_str) != Some(value) || plain.len() > 6 {
        return None;
    }
    Some(
        plain
            .into_iter()
            .map(|(name, value)| (name, AttributeValue::S(value)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_within_their_partition_only() {
        let key: Item = [
            ("PK".to_string(), AttributeValue::S("T#a".into())),
            ("SK".to_string(), AttributeValue::S("X#1".into())),
        ]
        .into();
        let cursor = encode_cursor(&key).unwrap();
        let page = page_request(Some("10"), Some(&cursor), ("PK", "T#a")).unwrap();
        assert_eq!(page.start, Some(key));
        assert!(page_request(None, Some(&cursor), ("PK", "T#b")).is_err());
        assert!(page_request(None, Some("garbage!"), ("PK", "T#a")).is_err());
        assert!(page_request(Some("0"), None, ("PK", "T#a")).is_err());
        assert!(page_request(Some("201"), None, ("PK", "T#a")).is_err());
        assert_eq!(page_request(None, None, ("PK", "T#a")).unwrap().limit, 50);
    }
}
