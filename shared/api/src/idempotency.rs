//! `Idempotency-Key` on POST (docs/api.md, Conventions): the same key and body within 24 h
//! returns the first response and writes nothing new.
//!
//! The record of a key is committed in the same transaction as the
//! request's own writes, under the condition that no live record exists. So
//! a key is either unused (nothing was written) or holds the response of the
//! one request that wrote; two concurrent requests with one key cannot both
//! write.

use crate::error::ApiError;
use crate::response::ApiResponse;
use app::context::Context;
use app::ports::Write;
use app::records::{IdempotencyRecord, IDEMPOTENCY_RETENTION_SECONDS};
use chrono::{DateTime, Utc};
use domain::identity::{TenantId, UserId};
use http::StatusCode;
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    key_hash: String,
    /// What the key promises to repeat: method, path and body.
    fingerprint: String,
}

impl IdempotencyKey {
    /// The request's key, if it is a POST that sent one. Keys are scoped to
    /// the user who sent them, so one user never receives another's response.
    pub fn from_request(
        parts: &http::request::Parts,
        body: &[u8],
        user: &UserId,
    ) -> Result<Option<Self>, ApiError> {
        if parts.method != http::Method::POST {
            return Ok(None);
        }
        let Some(raw) = parts.headers.get(HEADER) else {
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
        fingerprint.update(parts.method.as_str());
        fingerprint.update([0]);
        fingerprint.update(parts.uri.path());
        fingerprint.update([0]);
        fingerprint.update(parts.uri.query().unwrap_or(""));
        fingerprint.update([0]);
        fingerprint.update(body);
        Ok(Some(Self {
            key_hash: hex::encode(Sha256::digest(format!("{user}\0{key}"))),
            fingerprint: hex::encode(fingerprint.finalize()),
        }))
    }

    /// The first response, if this key was already used by a completed request.
    pub async fn replay(
        &self,
        context: &Context,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiResponse>, ApiError> {
        let Some(stored) = context.store.idempotency(tenant, &self.key_hash).await? else {
            return Ok(None);
        };
        // TTL deletion is lazy: an expired record is treated as gone.
        if stored.expires_at <= now.timestamp() {
            return Ok(None);
        }
        if stored.fingerprint != self.fingerprint {
            return Err(app::error::AppError::conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request",
            )
            .into());
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

    /// The write that claims the key and stores `response`, committed with
    /// the request's own writes.
    pub fn claim(&self, response: &ApiResponse, now: DateTime<Utc>) -> Write {
        Write::ClaimIdempotencyKey {
            key_hash: self.key_hash.clone(),
            record: Box::new(IdempotencyRecord {
                fingerprint: self.fingerprint.clone(),
                status: response.status.as_u16(),
                body: response.body.clone(),
                version: response.version,
                location: response.location.clone(),
                expires_at: now.timestamp() + IDEMPOTENCY_RETENTION_SECONDS,
            }),
        }
    }
}
