//! Reads the caller from the claims API Gateway's JWT authorizer attaches to
//! the request context. The local runner puts verified claims in the same
//! place, so this code path is the same everywhere.

use super::ApiError;
use crate::domain::identity::{Caller, Permission, Role, TenantId, UserId};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use std::collections::HashMap;

/// Claim names, plain or as Cognito prefixes custom attributes.
const TENANT_CLAIMS: [&str; 2] = ["tenant_id", "custom:tenant_id"];
const ROLE_CLAIMS: [&str; 2] = ["role", "custom:role"];

pub fn caller(request: &Request) -> Result<Caller, ApiError> {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    }
    .ok_or(ApiError::Unauthorized)?;
    caller_from_claims(claims)
}

pub fn caller_from_claims(claims: &HashMap<String, String>) -> Result<Caller, ApiError> {
    let first = |names: &[&str]| names.iter().find_map(|name| claims.get(*name));
    let tenant = first(&TENANT_CLAIMS)
        .and_then(|raw| TenantId::parse(raw))
        .ok_or(ApiError::Unauthorized)?;
    let user = claims
        .get("sub")
        .and_then(|raw| UserId::parse(raw))
        .ok_or(ApiError::Unauthorized)?;
    let role = first(&ROLE_CLAIMS)
        .and_then(|raw| Role::parse(raw))
        .ok_or(ApiError::Forbidden("the token carries no known role"))?;
    Ok(Caller { tenant, user, role })
}

/// The one check every handler uses before acting.
pub fn require(caller: &Caller, permission: Permission) -> Result<(), ApiError> {
    if caller.role.allows(permission) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("your role does not allow this action"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_plain_and_cognito_claims() {
        let plain = claims(&[("sub", "u1"), ("tenant_id", "t1"), ("role", "owner")]);
        assert_eq!(caller_from_claims(&plain).unwrap().role, Role::Owner);
        let cognito = claims(&[
            ("sub", "u1"),
            ("custom:tenant_id", "t1"),
            ("custom:role", "manager"),
        ]);
        assert_eq!(caller_from_claims(&cognito).unwrap().tenant.as_str(), "t1");
    }

    #[test]
    fn no_tenant_is_unauthorized_and_no_role_is_forbidden() {
        let no_tenant = claims(&[("sub", "u1"), ("role", "owner")]);
        assert!(matches!(
            caller_from_claims(&no_tenant),
            Err(ApiError::Unauthorized)
        ));
        let no_role = claims(&[("sub", "u1"), ("tenant_id", "t1")]);
        assert!(matches!(
            caller_from_claims(&no_role),
            Err(ApiError::Forbidden(_))
        ));
    }
}
