//! What happens to every request before and after its handler: a request
//! id and a log span named by the matched route, the caller from the JWT
//! claims API Gateway verified, the body read (at most 256 KB), empty
//! filters refused, an Idempotency-Key replayed, and a deadline that answers
//! 503 before the function's own timeout.

use crate::error::ApiError;
use crate::idempotency::IdempotencyKey;
use crate::ApiState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::identity::{Caller, Role, TenantId, UserId};
use domain::validation::FieldErrors;
use http::HeaderValue;
use lambda_http::request::RequestContext;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// docs/api.md (Conventions): larger bodies are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What the edge established, for the handler's [`crate::extract::Ctx`].
#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub caller: Caller,
    pub now: DateTime<Utc>,
    pub body: Bytes,
    pub idempotency: Option<IdempotencyKey>,
}

/// Claim names, plain or as Cognito prefixes custom attributes.
const TENANT_CLAIMS: [&str; 2] = ["tenant_id", "custom:tenant_id"];
const ROLE_CLAIMS: [&str; 2] = ["role", "custom:role"];

pub async fn edge(State(state): State<Arc<ApiState>>, request: Request, next: Next) -> Response {
    let request_id = request_id(&request);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        route = %route,
        tenant = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    async move {
        let started = Instant::now();
        let deadline = deadline(&state, &request);
        let outcome = tokio::time::timeout(deadline, admit(&state, request, next)).await;
        let mut response = match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => error.into_response(),
            Err(_) => ApiError::TimedOut.into_response(),
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        tracing::Span::current().record("status", response.status().as_u16());
        app::metrics::api_request(&route, response.status().as_u16());
        tracing::info!(
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request done"
        );
        response
    }
    .instrument(span)
    .await
}

async fn admit(state: &ApiState, request: Request, next: Next) -> Result<Response, ApiError> {
    let caller = caller(&request)?;
    tracing::Span::current().record("tenant", caller.tenant.as_str());
    refuse_empty_filters(request.uri().query())?;
    let (mut parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        })?;
    let now = state.context.clock.now();
    let idempotency = IdempotencyKey::from_request(&parts, &body, &caller.user)?;
    if let Some(key) = &idempotency {
        if let Some(first) = key.replay(&state.context, &caller.tenant, now).await? {
            return Ok(first.into_response());
        }
    }
    parts.extensions.insert(RequestFacts {
        caller,
        now,
        body: body.clone(),
        idempotency,
    });
    Ok(next.run(Request::from_parts(parts, Body::from(body))).await)
}

/// The configured request deadline, or less when Lambda's own deadline
/// (the invocation's remaining time, less a margin to answer) comes first.
fn deadline(state: &ApiState, request: &Request) -> Duration {
    const ANSWER_MARGIN: Duration = Duration::from_millis(500);
    let configured = state.request_deadline;
    let Some(context) = request.extensions().get::<lambda_http::Context>() else {
        return configured;
    };
    let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    match context.deadline.checked_sub(now_ms) {
        Some(left) if left > 0 => {
            configured.min(Duration::from_millis(left).saturating_sub(ANSWER_MARGIN))
        }
        _ => configured,
    }
}

fn request_id(request: &Request) -> String {
    match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
    .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

/// The caller from the claims API Gateway's JWT authorizer attaches to the
/// request context (the local runner puts verified claims in the same place).
fn caller(request: &Request) -> Result<Caller, ApiError> {
    let claims = match request.extensions().get::<RequestContext>() {
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
    let role = first(&ROLE_CLAIMS).and_then(|raw| Role::parse(raw)).ok_or(
        app::error::AppError::Forbidden("the token carries no known role"),
    )?;
    Ok(Caller { tenant, user, role })
}

/// A filter given without a value (`?customer_id=`) is a mistake, not "no
/// filter": refused rather than silently ignored. An empty `cursor` is the
/// first page.
fn refuse_empty_filters(query: Option<&str>) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if name != "cursor" && value.trim().is_empty() {
            errors.add(
                name.into_owned(),
                "must not be empty; leave the parameter out instead",
            );
        }
    }
    errors.into_result(()).map_err(ApiError::from)
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
        assert_eq!(
            caller_from_claims(&no_role).unwrap_err().status(),
            http::StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn empty_filters_are_refused_but_an_empty_cursor_is_the_first_page() {
        assert!(refuse_empty_filters(Some("customer_id=")).is_err());
        assert!(refuse_empty_filters(Some("cursor=&limit=5")).is_ok());
        assert!(refuse_empty_filters(None).is_ok());
    }
}
