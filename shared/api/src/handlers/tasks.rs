//! `/v1/tasks`: create, read, update, list, complete and reschedule.
//!
//! A task shows its customer's name, open invoice count, overdue amount and
//! phone numbers, read from the customer record with the task (one batch per
//! page), so they are as current as the customer.

use super::customers::valid_id;
use super::Ctx;
use crate::adapters::customer_store::StoredCustomer;
use crate::adapters::history_store;
use crate::adapters::note_store;
use crate::adapters::task_store::{self, AssigneeFilter, Found, TaskQuery};
use crate::domain::fields;
use crate::domain::identity::Permission;
use crate::domain::task::{self, Completion, CustomerFacts, Task, TaskChanges, TaskStatus};
use crate::domain::validation::FieldErrors;
use crate::http::pagination::{list_reply, page_params};
use crate::http::{auth, request, ApiError, ApiResponse};
use chrono::NaiveDate;
use http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// A write that lost a race with another write to the same customer or task
/// (without a client-supplied version) is read again and retried this often.
pub(super) const ATTEMPTS: u32 = 4;

pub(super) const CUSTOMER_CHANGED: &str = "customer_changed";
const TASK_CHANGED: &str = "task_changed";
/// What `Ctx::commit` answers when DynamoDB cancelled the transaction for
/// contention; nothing was written.
use crate::http::error::CONCURRENT_UPDATE;

pub(super) fn customer_changed() -> ApiError {
    ApiError::conflict(
        CUSTOMER_CHANGED,
        "the customer changed while this was being saved; retry",
    )
}

fn task_changed() -> ApiError {
    ApiError::conflict(
        TASK_CHANGED,
        "the task changed while this was being saved; retry",
    )
}

/// Whether a failed commit is worth reading again and retrying.
pub(super) fn retryable(error: &ApiError, attempt: u32) -> bool {
    attempt < ATTEMPTS
        && matches!(
            error,
            ApiError::Conflict {
                code: CUSTOMER_CHANGED | TASK_CHANGED | CONCURRENT_UPDATE,
                ..
            }
        )
}

/// What a task shows of its customer, as of the tenant's today.
fn facts(customer: Option<&StoredCustomer>, today: NaiveDate) -> Option<CustomerFacts> {
    customer.map(|stored| CustomerFacts::of(&stored.customer, today))
}

/// The API representation: the task, its computed status and outcome, and
/// what it shows of its customer (`null` if the customer is gone).
pub fn view(task: &Task, facts: Option<&CustomerFacts>) -> Value {
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

async fn load(ctx: &Ctx<'_>, id: &str) -> Result<Found, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::NotFound);
    }
    task_store::find(&ctx.app.table, &ctx.caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// 422 naming each invoice id that is not one of the customer's invoices.
pub(super) fn check_invoices(requested: &[String], unknown: &[String]) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    for (i, id) in requested.iter().enumerate() {
        if unknown.contains(id) {
            errors.add(
                format!("invoice_ids[{i}]"),
                "is not an invoice of this customer",
            );
        }
    }
    errors.into_result(()).map_err(ApiError::from)
}

fn may_change(ctx: &Ctx<'_>, task: &Task) -> Result<(), ApiError> {
    auth::require(
        &ctx.caller,
        Permission::change_task(&ctx.caller, task.assignee_id.as_deref()),
    )
}

fn completed_already() -> ApiError {
    ApiError::conflict(
        "task_completed",
        "the task is completed and can no longer be changed",
    )
}

/// A POST body that may be empty (`{}` is assumed).
fn optional_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    if request::body_bytes(request)?.is_empty() {
        Ok(Map::new())
    } else {
        request::json_object(request)
    }
}

/// An optional `If-Match` on the action routes: when sent, it must match.
fn check_optional_version(request: &Request, task: &Task) -> Result<(), ApiError> {
    if request.headers().contains_key(http::header::IF_MATCH)
        && request::if_match_version(request)? != task.version
    {
        return Err(ApiError::stale_version());
    }
    Ok(())
}

pub async fn create(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::CreateNotesAndTasks)?;
    let body = request::json_object(request)?;
    let changes = TaskChanges::parse_new(&body)?;
    let task = changes
        .create(
            ulid::Ulid::new().to_string(),
            ctx.caller.user.as_str(),
            ctx.now,
        )
        .ok_or_else(|| ApiError::invalid_field("type", "is required"))?;
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let today = ctx.today().await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (customer, unknown) = note_store::customer_and_unknown_invoices(
            table,
            tenant,
            &task.customer_id,
            &task.invoice_ids,
        )
        .await?;
        let customer =
            customer.ok_or_else(|| ApiError::invalid_field("customer_id", "no such customer"))?;
        check_invoices(&task.invoice_ids, &unknown)?;
        let created = task.created_history(ctx.caller.user.as_str(), ctx.now);
        let mut writes = history_store::record(table, tenant, &customer, &[created])?;
        writes.extend(task_store::insert(table, tenant, &task)?);
        let response = ApiResponse::json(
            StatusCode::CREATED,
            &view(&task, facts(Some(&customer), today).as_ref()),
        )?
        .with_version(task.version)
        .with_location(format!("/v1/tasks/{}", task.id));
        match ctx
            .commit(writes, |i| commit_conflict(i == 0), response)
            .await
        {
            Err(error) if retryable(&error, attempt) => continue,
            result => return result,
        }
    }
}

/// Write 0 of a history-recording transaction is the customer record.
fn commit_conflict(customer: bool) -> ApiError {
    if customer {
        customer_changed()
    } else {
        task_changed()
    }
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let (found, today) = tokio::try_join!(load(ctx, id), ctx.today())?;
    let facts = facts(found.customer.as_ref(), today);
    Ok(ApiResponse::ok(&view(&found.task, facts.as_ref()))?.with_version(found.task.version))
}

pub async fn patch(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let (found, today) = tokio::try_join!(load(ctx, id), ctx.today())?;
    may_change(ctx, &found.task)?;
    let expected = request::if_match_version(request)?;
    let body = request::json_object(request)?;
    let changes = TaskChanges::parse(&body)?;
    let current = &found.task;
    if !current.is_open() {
        return Err(completed_already());
    }
    if current.version != expected {
        return Err(ApiError::stale_version());
    }
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let mut customer: Option<StoredCustomer> = found.customer.clone();
    if let Some(invoice_ids) = &changes.invoice_ids {
        let (read, unknown) = note_store::customer_and_unknown_invoices(
            table,
            tenant,
            &current.customer_id,
            invoice_ids,
        )
        .await?;
        check_invoices(invoice_ids, &unknown)?;
        customer = read;
    }
    let next = changes.apply(current, ctx.now);
    let write = task_store::replace(table, tenant, &next, expected)?;
    let response = ApiResponse::ok(&view(&next, facts(customer.as_ref(), today).as_ref()))?
        .with_version(next.version);
    ctx.commit(vec![write], |_| ApiError::stale_version(), response)
        .await
}

pub async fn complete(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let body = optional_object(request)?;
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let user = ctx.caller.user.as_str();
    let today = ctx.today().await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let found = load(ctx, id).await?;
        may_change(ctx, &found.task)?;
        if !found.task.is_open() {
            return Err(completed_already());
        }
        check_optional_version(request, &found.task)?;
        let completion = Completion::parse(&body, found.task.kind)?;
        let done = found.task.completed(&completion, user, ctx.now);
        let mut writes = Vec::new();
        if let Some(customer) = &found.customer {
            let history = done.completed_history(user, ctx.now);
            writes = history_store::record(table, tenant, customer, &[history])?;
        }
        let has_customer = found.customer.is_some();
        writes.extend(task_store::close(table, tenant, &done, found.task.version)?);
        let facts = facts(found.customer.as_ref(), today);
        let response = ApiResponse::ok(&view(&done, facts.as_ref()))?.with_version(done.version);
        match ctx
            .commit(
                writes,
                |i| commit_conflict(has_customer && i == 0),
                response,
            )
            .await
        {
            Err(error) if retryable(&error, attempt) => continue,
            result => return result,
        }
    }
}

pub async fn reschedule(
    ctx: &Ctx<'_>,
    request: &Request,
    id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let body = request::json_object(request)?;
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let today = ctx.today().await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let found = load(ctx, id).await?;
        may_change(ctx, &found.task)?;
        if !found.task.is_open() {
            return Err(completed_already());
        }
        check_optional_version(request, &found.task)?;
        let due_date = task::parse_reschedule(&body)?;
        let next = found.task.rescheduled(due_date, ctx.now);
        let write = task_store::replace(table, tenant, &next, found.task.version)?;
        let facts = facts(found.customer.as_ref(), today);
        let response = ApiResponse::ok(&view(&next, facts.as_ref()))?.with_version(next.version);
        match ctx.commit(vec![write], |_| task_changed(), response).await {
            Err(error) if retryable(&error, attempt) => continue,
            result => return result,
        }
    }
}

const LIST_PARAMS: &[&str] = &[
    "assignee",
    "status",
    "customer_id",
    "due_before",
    "limit",
    "cursor",
];

fn list_query(ctx: &Ctx<'_>, request: &Request) -> Result<TaskQuery, ApiError> {
    let params = request.query_string_parameters();
    let mut errors = FieldErrors::new();
    for (name, _) in params.iter() {
        if !LIST_PARAMS.contains(&name) {
            errors.add(name, "is not a filter of this list");
        }
    }
    let text = |name: &str| params.first(name).map(str::trim).filter(|v| !v.is_empty());
    let assignee = match text("assignee") {
        None | Some("me") => AssigneeFilter::User(ctx.caller.user.as_str().to_string()),
        Some("all") => AssigneeFilter::All,
        Some(user) => {
            match fields::reference(&mut errors, "assignee", &Value::String(user.into())) {
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
    let due_before = text("due_before")
        .and_then(|raw| task::due_date(&mut errors, "due_before", &Value::String(raw.into())));
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(TaskQuery {
        assignee,
        status,
        customer_id,
        due_before,
        limit: 0,
        start: None,
    })
}

pub async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let mut query = list_query(ctx, request)?;
    let (_, key, _, partition) = query.partition(&ctx.caller.tenant);
    let page = page_params(request, (key, &partition))?;
    query.limit = usize::try_from(page.limit).unwrap_or(1);
    query.start = page.start;
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let ((tasks, last_key), today) = tokio::try_join!(
        async { Ok::<_, ApiError>(task_store::list(table, tenant, query).await?) },
        ctx.today(),
    )?;
    let facts: HashMap<String, CustomerFacts> = task_store::customers_of(table, tenant, &tasks)
        .await?
        .iter()
        .map(|(id, customer)| (id.clone(), CustomerFacts::of(customer, today)))
        .collect();
    let items: Vec<Value> = tasks
        .iter()
        .map(|task| view(task, facts.get(&task.customer_id)))
        .collect();
    list_reply(&items, last_key.as_ref())
}
