//! `/v1/tasks` (docs/api.md, Resources): create, read, update, list, complete and
//! reschedule.

use crate::extract::{list_reply, Ctx};
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::ports::{AssigneeFilter, TaskQuery};
use app::retry::retrying;
use app::usecases::tasks::{self, TaskDetail};
use app::usecases::valid_id;
use axum::extract::Path;
use domain::identity::Permission;
use domain::task::TaskStatus;
use domain::validation::FieldErrors;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::future::Future;

/// The API representation: the task, its computed status and outcome, and
/// what it shows of its customer (`null` if the customer is gone).
pub fn view(detail: &TaskDetail) -> Value {
    let task = &detail.task;
    let facts = detail.customer.as_ref();
    json!({
        "id": task.id,
        "type": task.kind,
        "customer_id": task.customer_id,
        "customer_name": facts.map(|f| &f.customer_name),
        "title": task.title,
        "invoice_ids": task.invoice_ids,
        "assignee_id": task.assignee_id,
        "due_date": task.due_date,
        "status": task.status,
        "outcome": task.outcome,
        "completion_note": task.completion_note,
        "completed_at": task.completed_at,
        "completed_by": task.completed_by,
        "outstanding_invoice_count": facts.map(|f| f.outstanding_invoice_count),
        "overdue_amount": facts.map(|f| f.overdue_amount),
        "contact_numbers": facts.map(|f| f.contact_numbers.clone()).unwrap_or_default(),
        "created_by": task.created_by,
        "version": task.version,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    })
}

fn reply(status: StatusCode, detail: &TaskDetail) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::json(status, &view(detail))?.with_version(detail.task.version))
}

/// Runs `attempt` (read, change, commit) again while it lost a race with
/// another write to the same customer or task ([`tasks::retryable`]).
pub(super) async fn retrying_races<F, Fut>(attempt: F) -> Result<ApiResponse, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ApiResponse, ApiError>>,
{
    retrying(
        tasks::ATTEMPTS,
        |error: &ApiError| matches!(error, ApiError::App(error) if tasks::retryable(error)),
        attempt,
    )
    .await
}

/// Query parameters not in `known` are refused (a typo must not silently
/// widen a list).
pub(super) fn unknown_filters(ctx: &Ctx, known: &[&str], errors: &mut FieldErrors) {
    for (name, _) in ctx.params() {
        if !known.contains(&name) {
            errors.add(name, "is not a filter of this list");
        }
    }
}

/// A POST body that may be empty (`{}` is assumed).
fn optional_object(ctx: &Ctx) -> Result<Map<String, Value>, ApiError> {
    if ctx.body().is_empty() {
        Ok(Map::new())
    } else {
        ctx.json_object()
    }
}

/// An optional `If-Match` on the action routes: when sent, it must match.
fn check_optional_version(ctx: &Ctx, version: u64) -> Result<(), ApiError> {
    match ctx.if_match_version() {
        Err(ApiError::PreconditionRequired) => Ok(()),
        Err(error) => Err(error),
        Ok(expected) if expected != version => Err(app::error::AppError::stale_version().into()),
        Ok(_) => Ok(()),
    }
}

pub async fn create(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    let today = ctx.today().await?;
    app::access::require(&ctx.caller, Permission::CreateNotesAndTasks)?;
    let changes = parse::tasks::new_task(&body)?;
    let (ctx, changes) = (&ctx, &changes);
    retrying_races(|| async move {
        let change = tasks::create(&ctx.context, &ctx.caller, changes, ctx.now, today).await?;
        let response = reply(StatusCode::CREATED, &change.value)?
            .with_location(format!("/v1/tasks/{}", change.value.task.id));
        ctx.commit(change, response).await
    })
    .await
}

pub async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let today = ctx.today().await?;
    let detail = tasks::get(&ctx.context, &ctx.caller, &id, today).await?;
    reply(StatusCode::OK, &detail)
}

pub async fn patch(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let today = ctx.today().await?;
    let found = tasks::changeable(&ctx.context, &ctx.caller, &id).await?;
    let expected = ctx.if_match_version()?;
    let changes = parse::tasks::changes(&ctx.json_object()?)?;
    let change = tasks::update(
        &ctx.context,
        &ctx.caller,
        found,
        &changes,
        expected,
        ctx.now,
        today,
    )
    .await?;
    let response = reply(StatusCode::OK, &change.value)?;
    ctx.commit(change, response).await
}

pub async fn complete(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let body = optional_object(&ctx)?;
    let today = ctx.today().await?;
    let (ctx, body, id) = (&ctx, &body, &id);
    retrying_races(|| async move {
        let found = tasks::open_changeable(&ctx.context, &ctx.caller, id).await?;
        check_optional_version(ctx, found.task.version)?;
        // What completes a task depends on its type.
        let completion = parse::tasks::completion(body, found.task.kind)?;
        let change = tasks::complete(&ctx.caller, found, &completion, ctx.now, today)?;
        let response = reply(StatusCode::OK, &change.value)?;
        ctx.commit(change, response).await
    })
    .await
}

pub async fn reschedule(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    let today = ctx.today().await?;
    let (ctx, body, id) = (&ctx, &body, &id);
    retrying_races(|| async move {
        let found = tasks::open_changeable(&ctx.context, &ctx.caller, id).await?;
        check_optional_version(ctx, found.task.version)?;
        let due_date = parse::tasks::reschedule(body)?;
        let change = tasks::reschedule(&ctx.caller, found, due_date, ctx.now, today)?;
        let response = reply(StatusCode::OK, &change.value)?;
        ctx.commit(change, response).await
    })
    .await
}

const LIST_PARAMS: &[&str] = &[
    "assignee",
    "status",
    "customer_id",
    "due_before",
    "limit",
    "cursor",
];

fn list_query(ctx: &Ctx) -> Result<TaskQuery, ApiError> {
    let mut errors = FieldErrors::new();
    unknown_filters(ctx, LIST_PARAMS, &mut errors);
    let text = |name: &str| ctx.param(name).map(str::trim).filter(|v| !v.is_empty());
    let assignee = match text("assignee") {
        None | Some("me") => AssigneeFilter::User(ctx.caller.user.as_str().to_string()),
        Some("all") => AssigneeFilter::All,
        Some(user) => {
            match parse::fields::reference(&mut errors, "assignee", &Value::String(user.into())) {
                Some(user) => AssigneeFilter::User(user),
                None => AssigneeFilter::All,
            }
        }
    };
    let status = match text("status") {
        None => TaskStatus::Open,
        Some(raw) => TaskStatus::parse(raw).unwrap_or_else(|| {
            errors.add("status", "must be open or completed");
            TaskStatus::Open
        }),
    };
    let customer_id = text("customer_id").map(str::to_string);
    if customer_id.as_deref().is_some_and(|id| !valid_id(id)) {
        errors.add("customer_id", "is not a valid id");
    }
    let due_before = text("due_before").and_then(|raw| {
        parse::tasks::due_date(&mut errors, "due_before", &Value::String(raw.into()))
    });
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(TaskQuery {
        assignee,
        status,
        customer_id,
        due_before,
        page: ctx.page()?,
    })
}

pub async fn list(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let query = list_query(&ctx)?;
    let today = ctx.today().await?;
    let page = tasks::list(&ctx.context, &ctx.caller, query, today).await?;
    let items: Vec<Value> = page.items.iter().map(view).collect();
    list_reply(&items, page.next_cursor)
}
