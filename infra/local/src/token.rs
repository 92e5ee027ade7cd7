//! Local HS256 tokens: what the local runner verifies in place of API
//! Gateway's JWT authorizer. Never used on AWS.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The development secret when `LOCAL_JWT_SECRET` is not set. It signs tokens
/// for the local stack only; deployed APIs verify tokens from a real issuer.
pub const DEFAULT_SECRET: &str = "local-development-secret-do-not-deploy";
pub const ISSUER: &str = "chaser-local";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalClaims {
    pub sub: String,
    pub tenant_id: String,
    pub role: String,
    pub iss: String,
    pub exp: u64,
}

impl LocalClaims {
    pub fn new(tenant_id: &str, sub: &str, role: &str, valid_for_hours: u64) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self {
            sub: sub.into(),
            tenant_id: tenant_id.into(),
            role: role.into(),
            iss: ISSUER.into(),
            exp: now + valid_for_hours * 3600,
        }
    }
}

pub fn issue(secret: &str, claims: &LocalClaims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// Verifies signature, issuer and expiry; returns the claims as API Gateway
/// passes them to a function: every value a string.
pub fn verify(secret: &str, token: &str) -> Option<HashMap<String, String>> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    let data = jsonwebtoken::decode::<HashMap<String, serde_json::Value>>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .ok()?;
    Some(
        data.claims
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (name, text)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_tampered_ones_do_not() {
        let token = issue("s3cret", &LocalClaims::new("t1", "u1", "owner", 1)).unwrap();
        let claims = verify("s3cret", &token).unwrap();
        assert_eq!(claims["tenant_id"], "t1");
        assert_eq!(claims["role"], "owner");
        assert!(verify("other", &token).is_none());
        let expired = LocalClaims {
            exp: 1,
            ..LocalClaims::new("t1", "u1", "owner", 1)
        };
        assert!(verify("s3cret", &issue("s3cret", &expired).unwrap()).is_none());
    }
}
