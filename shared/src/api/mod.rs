//! The HTTP API: one entry point shared by the Lambda function and the local
//! runner, a route table, and the handlers per resource.

mod contact_roles;
mod settings;

use crate::adapters::dynamo::StoreError;
use crate::bootstrap::App;
use crate::domain::identity::Caller;
use crate::http::idempotency::{self, IdempotencyKey};
use crate::http::response::error_response;
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use http::{HeaderValue, Method};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::time::Instant;
use tracing::Instrument;

/// Everything a handler knows about the request besides its body.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub caller: Caller,
    pub now: DateTime<Utc>,
    idempotency: Option<IdempotencyKey>,
}

impl Ctx<'_> {
    /// Commits `writes` and the idempotency record (if any) in one transaction.
    /// `conflict` maps the index of a write whose condition failed to the
    /// client-facing error.
    pub async fn commit(
        &self,
        mut writes: Vec<TransactWriteItem>,
        conflict: impl Fn(usize) -> ApiError,
        response: ApiResponse,
    ) -> Result<ApiResponse, ApiError> {
        if let Some(key) = &self.idempotency {
            writes.push(idempotency::record(
                &self.app.table,
                &self.caller.tenant,
                key,
                &response,
                self.now,
            )?);
        }
        match self.app.table.transact(writes).await {
            Ok(()) => Ok(response),
            Err(StoreError::ConditionFailed { index }) => {
                // DynamoDB may report another write's condition first; if a
                // concurrent request with the same key won, answer as it did.
                match self.replay().await? {
                    Some(first) => Ok(first),
                    None => Err(conflict(index)),
                }
            }
            Err(StoreError::TransactionConflict) => Err(ApiError::conflict(
                "concurrent_update",
                "another request changed the same records at the same time; retry",
            )),
            Err(other) => Err(other.into()),
        }
    }

    async fn replay(&self) -> Result<Option<ApiResponse>, ApiError> {
        match &self.idempotency {
            Some(key) => {
                idempotency::replay(&self.app.table, &self.caller.tenant, key, self.now).await
            }
            None => Ok(None),
        }
    }
}

/// Handles one API Gateway request. Never fails: every error becomes a JSON
/// response, and anything unexpected is logged with its cause and answered 500.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let request_id = request_id(&request);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        route = tracing::field::Empty,
        tenant = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    async move {
        let started = Instant::now();
        let response = match dispatch(app, &request).await {
            Ok((response, replayed)) => {
                let mut http = response.into_http(&request_id);
                if replayed {
                    http.headers_mut()
                        .insert(idempotency::REPLAYED_HEADER, HeaderValue::from_static("true"));
                }
                http
            }
            Err(error) => {
                if error.status().is_server_error() {
                    tracing::error!(error = %error, cause = ?std::error::Error::source(&error), "request failed");
                }
                error_response(&error, &request_id)
            }
        };
        tracing::Span::current().record("status", response.status().as_u16());
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "request done");
        response
    }
    .instrument(span)
    .await
}

async fn dispatch(app: &App, request: &Request) -> Result<(ApiResponse, bool), ApiError> {
    let caller = auth::caller(request)?;
    tracing::Span::current().record("tenant", caller.tenant.as_str());
    let body = request::body_bytes(request)?;
    let idempotency = IdempotencyKey::from_request(request, body, &caller.user)?;
    let ctx = Ctx {
        app,
        caller,
        now: app.clock.now(),
        idempotency,
    };
    if let Some(first) = ctx.replay().await? {
        return Ok((first, true));
    }
    let path = request.uri().path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let method = request.method();
    let response = match segments.as_slice() {
        ["v1", "settings"] => {
            tracing::Span::current().record("route", "/v1/settings");
            match *method {
                Method::GET => settings::get(&ctx).await,
                Method::PATCH => settings::patch(&ctx, request).await,
                _ => Err(ApiError::MethodNotAllowed),
            }
        }
        ["v1", "contact-roles"] => {
            tracing::Span::current().record("route", "/v1/contact-roles");
            match *method {
                Method::GET => contact_roles::list(&ctx, request).await,
                Method::POST => contact_roles::create(&ctx, request).await,
                _ => Err(ApiError::MethodNotAllowed),
            }
        }
        ["v1", "contact-roles", id] => {
            tracing::Span::current().record("route", "/v1/contact-roles/{id}");
            match *method {
                Method::DELETE => contact_roles::delete(&ctx, id).await,
                _ => Err(ApiError::MethodNotAllowed),
            }
        }
        _ => Err(ApiError::NotFound),
    }?;
    Ok((response, false))
}

fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
    .unwrap_or_else(|| ulid::Ulid::new().to_string())
}
