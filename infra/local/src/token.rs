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

/// Clock skew tolerated on `exp` and `nbf`, as API Gateway's JWT authorizer.
pub const LEEWAY_SECONDS: u64 = 60;

/// Verifies the token as API Gateway's JWT authorizer does: signature,
/// `iss` and `exp` required, `exp` and `nbf` checked with at most a minute of
/// skew; and, for this API, a string `tenant_id`. Returns the claims as API
/// Gateway passes them to a function: every value a string.
pub fn verify(secret: &str, token: &str) -> Option<HashMap<String, String>> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECONDS;
    let data = jsonwebtoken::decode::<HashMap<String, serde_json::Value>>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .ok()?;
    if !data
        .claims
        .get("tenant_id")
        .is_none_or(serde_json::Value::is_string)
    {
        return None;
    }
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

    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"s3cret"),
        )
        .unwrap()
    }

    #[test]
    fn tokens_are_checked_as_api_gateways_jwt_authorizer_does() {
        let now = LocalClaims::new("t", "u", "owner", 0).exp;
        let valid = serde_json::json!({"sub": "u", "tenant_id": "t", "role": "owner", "iss": ISSUER, "exp": now + 600});
        assert!(verify("s3cret", &signed(valid.clone())).is_some());
        let mut no_exp = valid.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(
            verify("s3cret", &signed(no_exp)).is_none(),
            "exp is required"
        );
        let mut no_iss = valid.clone();
        no_iss.as_object_mut().unwrap().remove("iss");
        assert!(
            verify("s3cret", &signed(no_iss)).is_none(),
            "iss is required"
        );
        let mut other_iss = valid.clone();
        other_iss["iss"] = "someone-else".into();
        assert!(verify("s3cret", &signed(other_iss)).is_none());
        let mut not_yet = valid.clone();
        not_yet["nbf"] = (now + 300).into();
        assert!(
            verify("s3cret", &signed(not_yet)).is_none(),
            "nbf is honoured"
        );
        let mut skewed = valid.clone();
        skewed["nbf"] = (now + 30).into();
        assert!(
            verify("s3cret", &signed(skewed)).is_some(),
            "within a minute of skew"
        );
        let mut just_expired = valid.clone();
        just_expired["exp"] = (now - 30).into();
        assert!(
            verify("s3cret", &signed(just_expired)).is_some(),
            "within a minute of skew"
        );
        let mut long_expired = valid.clone();
        long_expired["exp"] = (now - 120).into();
        assert!(verify("s3cret", &signed(long_expired)).is_none());
        let mut numeric_tenant = valid;
        numeric_tenant["tenant_id"] = 42.into();
        assert!(verify("s3cret", &signed(numeric_tenant)).is_none());
    }
}
