//! `Idempotency-Key` on POST (DESIGN §4): the same key and body within 24 h
//! returns the first response and writes nothing new.
//!
//! The record of a key is written in the same DynamoDB transaction as the
//! request's own writes, under the condition that no live record exists. So a
//! key is either unused (nothing was written) or holds the response of the one
//! request that wrote; two concurrent requests with one key cannot both write.

use super::{ApiError, ApiResponse};
use crate::adapters::dynamo::{from_item, to_item, Condition, StoreError, Table};
use crate::adapters::keys::{idempotency_sk, tenant_pk, PK, SK};
use crate::domain::identity::{TenantId, UserId};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const RETENTION_HOURS: i64 = 24;
const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    key_hash: String,
    /// What the key promises to repeat: method, path and body.
    fingerprint: String,
}

impl IdempotencyKey {
    /// The request's key, if it is a POST that sent one.
    /// Keys are scoped to the user who sent them, so one user can never
    /// receive another's stored response.
    pub fn from_request(
        request: &Request,
        body: &[u8],
        user: &UserId,
    ) -> Result<Option<Self>, ApiError> {
        if request.method() != http::Method::POST {
            return Ok(None);
        }
        let Some(raw) = request.headers().get(HEADER) else {
            return Ok(None);
        };
        let key = raw
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                )
            })?;
        let mut fingerprint = Sha256::new();
        fingerprint.update(request.method().as_str());
        fingerprint.update([0]);
        fingerprint.update(request.uri().path());
        fingerprint.update([0]);
        fingerprint.update(body);
        Ok(Some(Self {
            key_hash: hex::encode(Sha256::digest(format!("{user}\0{key}"))),
            fingerprint: hex::encode(fingerprint.finalize()),
        }))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredResponse {
    fingerprint: String,
    status: u16,
    body: String,
    version: Option<u64>,
    location: Option<String>,
    /// Epoch seconds; also the table's TTL attribute.
    expires_at: i64,
}

/// The first response, if this key was already used by a completed request.
pub async fn replay(
    table: &Table,
    tenant: &TenantId,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> Result<Option<ApiResponse>, ApiError> {
    let Some(item) = table
        .get(&tenant_pk(tenant), &idempotency_sk(&key.key_hash))
        .await?
    else {
        return Ok(None);
    };
    let stored: StoredResponse = from_item(item)?;
    // TTL deletion is lazy: an expired record is treated as gone.
    if stored.expires_at <= now.timestamp() {
        return Ok(None);
    }
    if stored.fingerprint != key.fingerprint {
        return Err(ApiError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        ));
    }
    let status = StatusCode::from_u16(stored.status).map_err(ApiError::internal)?;
    Ok(Some(ApiResponse {
        status,
        body: stored.body,
        version: stored.version,
        location: stored.location,
        content_type: None,
        replayed: true,
    }))
}

/// The write that claims the key and stores `response`, to be committed with
/// the request's own writes.
pub fn record(
    table: &Table,
    tenant: &TenantId,
    key: &IdempotencyKey,
    response: &ApiResponse,
    now: DateTime<Utc>,
) -> Result<TransactWriteItem, StoreError> {
    let stored = StoredResponse {
        fingerprint: key.fingerprint.clone(),
        status: response.status.as_u16(),
        body: response.body.clone(),
        version: response.version,
        location: response.location.clone(),
        expires_at: (now + Duration::hours(RETENTION_HOURS)).timestamp(),
    };
    let mut item = to_item(&stored)?;
    item.insert(PK.into(), AttributeValue::S(tenant_pk(tenant)));
    item.insert(SK.into(), AttributeValue::S(idempotency_sk(&key.key_hash)));
    let unused = Condition::new("attribute_not_exists(PK) OR expires_at <= :now")
        .value(":now", AttributeValue::N(now.timestamp().to_string()));
    table.put(item, Some(unused))
}
