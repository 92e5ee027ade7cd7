//! The HTTP API: one entry point shared by the Lambda function and the local
//! runner, a route table, and the handlers per resource.

mod cadences;
mod chasing;
mod contact_roles;
mod contacts;
mod customers;
mod groups;
mod history;
mod imports;
mod invoices;
mod notes;
mod page;
mod payments;
mod settings;
mod tasks;
mod templates;

use crate::adapters::dynamo::StoreError;
use crate::bootstrap::App;
use crate::domain::identity::Caller;
use crate::http::idempotency::{self, IdempotencyKey};
use crate::http::response::error_response;
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use http::Method;
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
                crate::http::error::CONCURRENT_UPDATE,
                "another request changed the same records at the same time; retry",
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// The tenant's settings (cached briefly per process).
    pub async fn settings(&self) -> Result<crate::domain::settings::Settings, ApiError> {
        Ok(self
            .app
            .settings
            .get(&self.app.table, &self.caller.tenant)
            .await?)
    }

    /// "Today" for this tenant: the date of `now` in its time zone (DESIGN §3).
    pub async fn today(&self) -> Result<chrono::NaiveDate, ApiError> {
        let zone = self.settings().await?.time_zone;
        Ok(self.now.with_timezone(&zone).date_naive())
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
        let deadline = deadline(app, &request);
        let outcome = match tokio::time::timeout(deadline, dispatch(app, &request)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ApiError::TimedOut),
        };
        let response = match outcome {
            Ok(response) => response.into_http(&request_id),
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

async fn dispatch(app: &App, request: &Request) -> Result<ApiResponse, ApiError> {
    let caller = auth::caller(request)?;
    tracing::Span::current().record("tenant", caller.tenant.as_str());
    let body = request::body_bytes(request)?;
    let idempotency = IdempotencyKey::from_request(request, body, &caller.user)?;
    refuse_empty_filters(request)?;
    let ctx = Ctx {
        app,
        caller,
        now: app.clock.now(),
        idempotency,
    };
    if let Some(first) = ctx.replay().await? {
        return Ok(first);
    }
    let path = request.uri().path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    route(&ctx, request, request.method(), &segments).await
}

/// A filter given without a value (`?customer_id=`) is a mistake, not "no
/// filter": refused rather than silently ignored. An empty `cursor` is the
/// first page.
fn refuse_empty_filters(request: &Request) -> Result<(), ApiError> {
    let mut errors = crate::domain::validation::FieldErrors::new();
    for (name, value) in request.query_string_parameters().iter() {
        if name != "cursor" && value.trim().is_empty() {
            errors.add(name, "must not be empty; leave the parameter out instead");
        }
    }
    errors.into_result(()).map_err(ApiError::from)
}

/// The route table. Each arm names its route for the request's log span; a
/// known path with another method is 405, an unknown path 404.
async fn route(
    ctx: &Ctx<'_>,
    request: &Request,
    method: &Method,
    segments: &[&str],
) -> Result<ApiResponse, ApiError> {
    let (name, result) = match (segments, method) {
        (["v1", "settings"], &Method::GET) => ("GET /v1/settings", settings::get(ctx).await),
        (["v1", "settings"], &Method::PATCH) => {
            ("PATCH /v1/settings", settings::patch(ctx, request).await)
        }
        (["v1", "contact-roles"], &Method::GET) => (
            "GET /v1/contact-roles",
            contact_roles::list(ctx, request).await,
        ),
        (["v1", "contact-roles"], &Method::POST) => (
            "POST /v1/contact-roles",
            contact_roles::create(ctx, request).await,
        ),
        (["v1", "contact-roles", id], &Method::DELETE) => (
            "DELETE /v1/contact-roles/{id}",
            contact_roles::delete(ctx, id).await,
        ),
        (["v1", "customers"], &Method::GET) => {
            ("GET /v1/customers", customers::list(ctx, request).await)
        }
        (["v1", "customers"], &Method::POST) => {
            ("POST /v1/customers", customers::create(ctx, request).await)
        }
        (["v1", "customers", "export"], &Method::GET) => (
            "GET /v1/customers/export",
            customers::export(ctx, request).await,
        ),
        (["v1", "customers", id], &Method::GET) => {
            ("GET /v1/customers/{id}", customers::get(ctx, id).await)
        }
        (["v1", "customers", id], &Method::PATCH) => (
            "PATCH /v1/customers/{id}",
            customers::patch(ctx, request, id).await,
        ),
        (["v1", "customers", id], &Method::DELETE) => (
            "DELETE /v1/customers/{id}",
            customers::delete(ctx, id).await,
        ),
        (["v1", "customer-groups"], &Method::GET) => {
            ("GET /v1/customer-groups", groups::list(ctx, request).await)
        }
        (["v1", "customer-groups"], &Method::POST) => (
            "POST /v1/customer-groups",
            groups::create(ctx, request).await,
        ),
        (["v1", "customer-groups", id], &Method::GET) => {
            ("GET /v1/customer-groups/{id}", groups::get(ctx, id).await)
        }
        (["v1", "customer-groups", id], &Method::PATCH) => (
            "PATCH /v1/customer-groups/{id}",
            groups::patch(ctx, request, id).await,
        ),
        (["v1", "customer-groups", id], &Method::DELETE) => (
            "DELETE /v1/customer-groups/{id}",
            groups::delete(ctx, id).await,
        ),
        // Contacts routes.
        (["v1", "customers", id, "contacts"], &Method::GET) => (
            "GET /v1/customers/{id}/contacts",
            contacts::list(ctx, id).await,
        ),
        (["v1", "customers", id, "contacts"], &Method::POST) => (
            "POST /v1/customers/{id}/contacts",
            contacts::create(ctx, request, id).await,
        ),
        (["v1", "customers", id, "contacts", contact], &Method::PATCH) => (
            "PATCH /v1/customers/{id}/contacts/{contact_id}",
            contacts::patch(ctx, request, id, contact).await,
        ),
        (["v1", "customers", id, "contacts", contact], &Method::DELETE) => (
            "DELETE /v1/customers/{id}/contacts/{contact_id}",
            contacts::delete(ctx, id, contact).await,
        ),
        // Money routes (invoices, payments, adjustments, promises, page).
        (["v1", "invoices"], &Method::GET) => {
            ("GET /v1/invoices", invoices::list(ctx, request).await)
        }
        (["v1", "invoices"], &Method::POST) => {
            ("POST /v1/invoices", invoices::create(ctx, request).await)
        }
        (["v1", "invoices", id], &Method::GET) => {
            ("GET /v1/invoices/{id}", invoices::get(ctx, id).await)
        }
        (["v1", "invoices", id], &Method::PATCH) => (
            "PATCH /v1/invoices/{id}",
            invoices::patch(ctx, request, id).await,
        ),
        (["v1", "customers", id, "page"], &Method::GET) => {
            ("GET /v1/customers/{id}/page", page::get(ctx, id).await)
        }
        (["v1", "payments"], &Method::GET) => {
            ("GET /v1/payments", payments::list(ctx, request).await)
        }
        (["v1", "payments"], &Method::POST) => {
            ("POST /v1/payments", payments::create(ctx, request).await)
        }
        (["v1", "customers", id, "apply-credit"], &Method::POST) => (
            "POST /v1/customers/{id}/apply-credit",
            payments::apply_credit(ctx, id).await,
        ),
        (["v1", "customers", id, "adjustments"], &Method::POST) => (
            "POST /v1/customers/{id}/adjustments",
            payments::adjust(ctx, request, id).await,
        ),
        (["v1", "customers", id, "promises"], &Method::POST) => (
            "POST /v1/customers/{id}/promises",
            payments::promise(ctx, request, id).await,
        ),
        (["v1", "customers", id, "promises"], &Method::GET) => (
            "GET /v1/customers/{id}/promises",
            payments::promises(ctx, request, id).await,
        ),
        (["v1", "invoices", id, "void"], &Method::POST) => {
            ("POST /v1/invoices/{id}/void", invoices::void(ctx, id).await)
        }
        // Chasing routes.
        (["v1", "templates"], &Method::GET) => {
            ("GET /v1/templates", templates::list(ctx, request).await)
        }
        (["v1", "templates"], &Method::POST) => {
            ("POST /v1/templates", templates::create(ctx, request).await)
        }
        (["v1", "templates", id], &Method::GET) => {
            ("GET /v1/templates/{id}", templates::get(ctx, id).await)
        }
        (["v1", "templates", id], &Method::PATCH) => (
            "PATCH /v1/templates/{id}",
            templates::patch(ctx, request, id).await,
        ),
        (["v1", "templates", id], &Method::DELETE) => (
            "DELETE /v1/templates/{id}",
            templates::delete(ctx, id).await,
        ),
        (["v1", "templates", id, "preview"], &Method::POST) => (
            "POST /v1/templates/{id}/preview",
            templates::preview(ctx, request, id).await,
        ),
        (["v1", "cadences"], &Method::GET) => {
            ("GET /v1/cadences", cadences::list(ctx, request).await)
        }
        (["v1", "cadences"], &Method::POST) => {
            ("POST /v1/cadences", cadences::create(ctx, request).await)
        }
        (["v1", "cadences", id], &Method::GET) => {
            ("GET /v1/cadences/{id}", cadences::get(ctx, id).await)
        }
        (["v1", "cadences", id], &Method::PATCH) => (
            "PATCH /v1/cadences/{id}",
            cadences::patch(ctx, request, id).await,
        ),
        (["v1", "cadences", id], &Method::DELETE) => {
            ("DELETE /v1/cadences/{id}", cadences::delete(ctx, id).await)
        }
        (["v1", "cadences", id, "versions"], &Method::POST) => (
            "POST /v1/cadences/{id}/versions",
            cadences::new_version(ctx, request, id).await,
        ),
        (["v1", "cadences", id, "migrate"], &Method::POST) => (
            "POST /v1/cadences/{id}/migrate",
            cadences::migrate(ctx, request, id).await,
        ),
        (["v1", "customers", id, "chasing"], &Method::PUT) => (
            "PUT /v1/customers/{id}/chasing",
            chasing::enrol(ctx, request, id).await,
        ),
        (["v1", "customers", id, "chasing"], &Method::DELETE) => (
            "DELETE /v1/customers/{id}/chasing",
            chasing::unenrol(ctx, id).await,
        ),
        (["v1", "customers", id, "chasing", "pause"], &Method::POST) => (
            "POST /v1/customers/{id}/chasing/pause",
            chasing::pause(ctx, request, id).await,
        ),
        (["v1", "customers", id, "chasing", "resume"], &Method::POST) => (
            "POST /v1/customers/{id}/chasing/resume",
            chasing::resume(ctx, id).await,
        ),
        (["v1", "customers", id, "chasing", "preview"], &Method::GET) => (
            "GET /v1/customers/{id}/chasing/preview",
            chasing::preview(ctx, request, id).await,
        ),
        (["v1", "imports", kind], &Method::POST) => (
            "POST /v1/imports/{kind}",
            imports::create(ctx, request, kind).await,
        ),
        // Work routes (tasks, notes, history).
        (["v1", "tasks"], &Method::GET) => ("GET /v1/tasks", tasks::list(ctx, request).await),
        (["v1", "tasks"], &Method::POST) => ("POST /v1/tasks", tasks::create(ctx, request).await),
        (["v1", "tasks", id], &Method::GET) => ("GET /v1/tasks/{id}", tasks::get(ctx, id).await),
        (["v1", "tasks", id], &Method::PATCH) => {
            ("PATCH /v1/tasks/{id}", tasks::patch(ctx, request, id).await)
        }
        (["v1", "tasks", id, "complete"], &Method::POST) => (
            "POST /v1/tasks/{id}/complete",
            tasks::complete(ctx, request, id).await,
        ),
        (["v1", "tasks", id, "reschedule"], &Method::POST) => (
            "POST /v1/tasks/{id}/reschedule",
            tasks::reschedule(ctx, request, id).await,
        ),
        (["v1", "customers", id, "notes"], &Method::GET) => (
            "GET /v1/customers/{id}/notes",
            notes::list(ctx, request, id).await,
        ),
        (["v1", "customers", id, "notes"], &Method::POST) => (
            "POST /v1/customers/{id}/notes",
            notes::create(ctx, request, id).await,
        ),
        (["v1", "customers", id, "history"], &Method::GET) => (
            "GET /v1/customers/{id}/history",
            history::list(ctx, request, id).await,
        ),
        (
            ["v1", "settings"]
            | ["v1", "contact-roles", ..]
            | ["v1", "customers"]
            | ["v1", "customers", _]
            | ["v1", "customers", _, "contacts" | "notes" | "history"]
            | ["v1", "customers", _, "contacts", _]
            | ["v1", "tasks", ..]
            | ["v1", "invoices", ..]
            | ["v1", "payments"]
            | ["v1", "customers", _, "page" | "adjustments" | "promises" | "apply-credit"]
            | ["v1", "customer-groups", ..]
            | ["v1", "templates", ..]
            | ["v1", "cadences", ..]
            | ["v1", "imports", _]
            | ["v1", "customers", _, "chasing", ..],
            _,
        ) => ("method not allowed", Err(ApiError::MethodNotAllowed)),
        _ => ("not found", Err(ApiError::NoRoute)),
    };
    tracing::Span::current().record("route", name);
    result
}

/// The configured request deadline, or less when Lambda's own deadline
/// (the invocation's remaining time, less a margin to answer) comes first.
fn deadline(app: &App, request: &Request) -> std::time::Duration {
    const ANSWER_MARGIN: std::time::Duration = std::time::Duration::from_millis(500);
    let configured = app.config.request_deadline;
    let Some(context) = request.lambda_context_ref() else {
        return configured;
    };
    let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    match context.deadline.checked_sub(now_ms) {
        Some(left) if left > 0 => {
            configured.min(std::time::Duration::from_millis(left).saturating_sub(ANSWER_MARGIN))
        }
        _ => configured,
    }
}

fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    }
    .unwrap_or_else(|| ulid::Ulid::new().to_string())
}
