//! `/v1/customers/{id}/chasing`: enrolment (`PUT`, `DELETE`), pause and
//! resume, the dry-run preview, and the `always` assignment rules run on
//! every customer create and update.
//!
//! Every change is one transaction: the customer (through
//! `customer_store::put`, which also keeps its listing entries and due-index
//! time), a `chasing_changed` history item and the enrolment counters of the
//! cadences and versions involved. Chasing changes do not bump the
//! customer's `version` (like money changes, they are not edits of its
//! fields); its revision guards concurrent writes.

use super::customers::{self, valid_id};
use super::Ctx;
use crate::adapters::cadence_store::{self, CadenceRecord};
use crate::adapters::customer_store::{self, StoredCustomer};
use crate::chasing;
use crate::domain::cadence::{Cadence, PreviewEntry};
use crate::domain::customer::{ChasingStatus, Customer};
use crate::domain::fields;
use crate::domain::history::{HistoryItem, HistoryType};
use crate::domain::identity::Permission;
use crate::domain::validation::FieldErrors;
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::TransactWriteItem;
use lambda_http::{Request, RequestExt};
use serde_json::{json, Map, Value};

/// `GET .../chasing/preview?days=N`: 1 to 365, 90 by default.
pub const DEFAULT_PREVIEW_DAYS: u32 = 90;
pub const MAX_PREVIEW_DAYS: u32 = 365;

/// The enrolment of a customer as owned values (the customer is changed
/// after it is read).
fn enrolment_of(customer: &Customer) -> Option<(String, u32)> {
    customer
        .chasing
        .cadence_id
        .clone()
        .zip(customer.chasing.cadence_version)
}

/// Counter writes for a customer moving from `before` to where it is now.
pub(crate) fn enrolment_writes(
    ctx: &Ctx<'_>,
    before: Option<(String, u32)>,
    after: &Customer,
) -> Result<Vec<TransactWriteItem>, ApiError> {
    let after = enrolment_of(after);
    if before == after {
        return Ok(Vec::new());
    }
    Ok(cadence_store::move_enrolment(
        &ctx.app.table,
        &ctx.caller.tenant,
        before.as_ref().map(|(id, v)| (id.as_str(), *v)),
        after.as_ref().map(|(id, v)| (id.as_str(), *v)),
    )?)
}

pub(crate) fn history(
    ctx: &Ctx<'_>,
    customer: &Customer,
    summary: String,
    detail: Value,
) -> HistoryItem {
    HistoryItem::new(
        &customer.id,
        HistoryType::ChasingChanged,
        ctx.now,
        ctx.caller.user.as_str(),
        summary,
        detail,
    )
}

/// The history item of an enrolment in `cadence`.
pub(crate) fn enrolled_history(
    ctx: &Ctx<'_>,
    customer: &Customer,
    cadence: &Cadence,
    before: &Option<(String, u32)>,
    how: &str,
) -> HistoryItem {
    history(
        ctx,
        customer,
        format!(
            "Enrolled in cadence {} (version {})",
            cadence.name, cadence.version
        ),
        json!({
            "change": "enrolled",
            "by": how,
            "cadence_id": cadence.id,
            "cadence_version": cadence.version,
            "previous_cadence_id": before.as_ref().map(|(id, _)| id),
            "previous_cadence_version": before.as_ref().map(|(_, v)| v),
        }),
    )
}

/// Assignment rules in mode `always` (DESIGN §5): run on every customer
/// create and update. When a cadence's rules match and the customer is not
/// already on it, `customer` is enrolled in it, the counter writes are
/// added to `writes` and the history item to record is returned. A customer
/// no rule matches keeps the enrolment it has (rules enrol, never unenrol).
pub(crate) async fn assign(
    ctx: &Ctx<'_>,
    customer: &mut Customer,
    writes: &mut Vec<TransactWriteItem>,
) -> Result<Option<HistoryItem>, ApiError> {
    let cadences = cadence_store::automatic(&ctx.app.table, &ctx.caller.tenant).await?;
    let Some(cadence) = chasing::assignment(&cadences, customer) else {
        return Ok(None);
    };
    let before = enrolment_of(customer);
    let zone = ctx.settings().await?.time_zone;
    chasing::enrol(customer, cadence, zone, ctx.now);
    writes.extend(enrolment_writes(ctx, before.clone(), customer)?);
    Ok(Some(enrolled_history(
        ctx,
        customer,
        cadence,
        &before,
        "assignment_rules",
    )))
}

/// Commits a chasing change: the customer, its history item and counters.
async fn write(
    ctx: &Ctx<'_>,
    stored: &StoredCustomer,
    next: Customer,
    item: HistoryItem,
) -> Result<ApiResponse, ApiError> {
    let mut writes = customer_store::put(
        &ctx.app.table,
        &ctx.caller.tenant,
        next.clone(),
        Some(stored),
        &[item],
    )?;
    let counters = writes.len();
    writes.extend(enrolment_writes(
        ctx,
        enrolment_of(&stored.customer),
        &next,
    )?);
    let response = ApiResponse::ok(&customers::view(&next))?.with_version(next.version);
    ctx.commit(
        writes,
        |index| {
            if index >= counters {
                ApiError::conflict(
                    "cadence_changed",
                    "the cadence was deleted or changed at the same time; retry",
                )
            } else {
                ApiError::conflict(
                    crate::http::error::CONCURRENT_UPDATE,
                    "the customer changed at the same time; retry",
                )
            }
        },
        response,
    )
    .await
}

fn unchanged(customer: &Customer) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::ok(&customers::view(customer))?.with_version(customer.version))
}

/// The body's fields, or none for an empty body (`pause` takes an optional one).
fn optional_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    if request::body_bytes(request)?.is_empty() {
        return Ok(Map::new());
    }
    request::json_object(request)
}

pub(crate) async fn load_cadence(
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<Option<CadenceRecord>, ApiError> {
    if !valid_id(id) {
        return Ok(None);
    }
    Ok(cadence_store::get(&ctx.app.table, &ctx.caller.tenant, id).await?)
}

/// `PUT /v1/customers/{id}/chasing {cadence_id}`: enrols in the cadence's
/// current version. Already there: nothing changes (200). On another
/// version of the same cadence: moved to the current one, cycle restarted.
pub async fn enrol(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = request::json_object(request)?;
    let mut errors = FieldErrors::new();
    let mut cadence_id = None;
    for (field, value) in &body {
        match (field.as_str(), value) {
            ("cadence_id", Value::String(id)) => cadence_id = Some(id.trim().to_string()),
            ("cadence_id", _) => errors.add(field, "must be a string"),
            _ => errors.add(field, "is not an enrolment field"),
        }
    }
    if !body.contains_key("cadence_id") {
        errors.add("cadence_id", "is required");
    }
    let stored = customers::load(ctx, customer_id).await?;
    let cadence_id = errors.into_result(cadence_id.unwrap_or_default())?;
    let record = load_cadence(ctx, &cadence_id)
        .await?
        .ok_or_else(|| ApiError::invalid_field("cadence_id", "no such cadence"))?;
    let cadence = &record.cadence;
    let before = enrolment_of(&stored.customer);
    if before == Some((cadence.id.clone(), cadence.version)) {
        return unchanged(&stored.customer);
    }
    let settings = ctx.settings().await?;
    let mut next = stored.customer.clone();
    next.refresh(ctx.now.with_timezone(&settings.time_zone).date_naive());
    chasing::enrol(&mut next, cadence, settings.time_zone, ctx.now);
    let item = enrolled_history(ctx, &next, cadence, &before, "user");
    write(ctx, &stored, next, item).await
}

/// `DELETE /v1/customers/{id}/chasing`: leaves chasing (200 with the
/// customer; nothing changes when not enrolled).
pub async fn unenrol(ctx: &Ctx<'_>, customer_id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let stored = customers::load(ctx, customer_id).await?;
    let Some((cadence_id, version)) = enrolment_of(&stored.customer) else {
        return unchanged(&stored.customer);
    };
    let mut next = stored.customer.clone();
    chasing::unenrol(&mut next);
    let item = history(
        ctx,
        &next,
        "Chasing stopped: no cadence".to_string(),
        json!({"change": "unenrolled", "previous_cadence_id": cadence_id, "previous_cadence_version": version}),
    );
    write(ctx, &stored, next, item).await
}

/// `POST /v1/customers/{id}/chasing/pause {until?}`: paused until the
/// tenant-local date `until` (chasing resumes that day) or until resumed.
pub async fn pause(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = optional_object(request)?;
    let settings = ctx.settings().await?;
    let today = ctx.now.with_timezone(&settings.time_zone).date_naive();
    let mut errors = FieldErrors::new();
    let mut until = None;
    for (field, value) in &body {
        match field.as_str() {
            "until" if value.is_null() => {}
            "until" => {
                until = fields::date(&mut errors, field, value);
                if until.is_some_and(|d| d <= today) {
                    errors.add(
                        field,
                        "must be after today; leave it out to pause until resumed",
                    );
                }
            }
            _ => errors.add(field, "is not a pause field"),
        }
    }
    let stored = customers::load(ctx, customer_id).await?;
    errors.into_result(())?;
    let current = &stored.customer.chasing;
    if current.status == ChasingStatus::Paused && current.paused_until == until {
        return unchanged(&stored.customer);
    }
    let mut next = stored.customer.clone();
    next.chasing.status = ChasingStatus::Paused;
    next.chasing.paused_until = until;
    next.reschedule(settings.time_zone, ctx.now);
    let summary = match until {
        Some(date) => format!("Chasing paused until {date}"),
        None => "Chasing paused until resumed".to_string(),
    };
    let item = history(
        ctx,
        &next,
        summary,
        json!({"change": "paused", "until": until}),
    );
    write(ctx, &stored, next, item).await
}

/// `POST /v1/customers/{id}/chasing/resume`.
pub async fn resume(ctx: &Ctx<'_>, customer_id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let stored = customers::load(ctx, customer_id).await?;
    if stored.customer.chasing.status == ChasingStatus::Active {
        return unchanged(&stored.customer);
    }
    let zone = ctx.settings().await?.time_zone;
    let mut next = stored.customer.clone();
    next.chasing.status = ChasingStatus::Active;
    next.chasing.paused_until = None;
    next.reschedule(zone, ctx.now);
    let item = history(
        ctx,
        &next,
        "Chasing resumed".to_string(),
        json!({"change": "resumed"}),
    );
    write(ctx, &stored, next, item).await
}

pub(crate) fn entry_view(entry: &PreviewEntry, cadence: &Cadence) -> Value {
    let step = cadence.step(entry.position);
    json!({
        "date": entry.date,
        "at": entry.at,
        "cycle": entry.cycle,
        "step": entry.position,
        "action": entry.action,
        "trigger": step.map(|s| s.trigger),
        "days": step.map(|s| s.days),
        "template_id": step.and_then(|s| s.template_id.clone()),
        "contact_role": step.and_then(|s| s.contact_role.clone()),
        "assignee_id": step.and_then(|s| s.assignee_id.clone()),
        "superseded": entry.superseded,
    })
}

/// `GET /v1/customers/{id}/chasing/preview?days=N`: the steps that would run
/// on which dates if nothing changes, from the same evaluation the scheduler
/// runs (see [`chasing::preview`]). Nothing is written or sent.
pub async fn preview(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let params = request.query_string_parameters();
    let mut errors = FieldErrors::new();
    for (name, _) in params.iter() {
        if name != "days" {
            errors.add(name, "is not a parameter of the preview");
        }
    }
    let days = match params.first("days") {
        None => DEFAULT_PREVIEW_DAYS,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_PREVIEW_DAYS).contains(&n) => n,
            _ => {
                errors.add("days", "must be a whole number from 1 to 365");
                DEFAULT_PREVIEW_DAYS
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let customer = customers::load(ctx, customer_id).await?.customer;
    let settings = ctx.settings().await?;
    let mut body = json!({
        "customer_id": customer.id,
        "cadence_id": customer.chasing.cadence_id,
        "cadence_version": customer.chasing.cadence_version,
        "days": days,
        "from": ctx.now,
        "to": ctx.now + chrono::TimeDelta::days(i64::from(days)),
        "items": [],
    });
    let (Some(cadence_id), Some(version)) = (
        &customer.chasing.cadence_id,
        customer.chasing.cadence_version,
    ) else {
        return ApiResponse::ok(&body);
    };
    let cadence =
        cadence_store::get_version(&ctx.app.table, &ctx.caller.tenant, cadence_id, version)
            .await?
            .ok_or_else(|| {
                ApiError::internal(crate::adapters::dynamo::StoreError::Malformed(
                    "customer enrolled in a missing cadence version".into(),
                ))
            })?;
    let entries = chasing::preview(&customer, &cadence, &settings, ctx.now, days);
    body["items"] = Value::Array(entries.iter().map(|e| entry_view(e, &cadence)).collect());
    ApiResponse::ok(&body)
}

/// The first step the preview would run within [`DEFAULT_PREVIEW_DAYS`],
/// if the customer is enrolled and nothing changes (`null` otherwise).
pub(crate) async fn next_step(
    ctx: &Ctx<'_>,
    customer: &crate::domain::customer::Customer,
) -> Result<Value, ApiError> {
    let (Some(cadence_id), Some(version)) = (
        &customer.chasing.cadence_id,
        customer.chasing.cadence_version,
    ) else {
        return Ok(Value::Null);
    };
    let Some(cadence) =
        cadence_store::get_version(&ctx.app.table, &ctx.caller.tenant, cadence_id, version).await?
    else {
        return Ok(Value::Null);
    };
    let settings = ctx.settings().await?;
    let entries = chasing::preview(customer, &cadence, &settings, ctx.now, DEFAULT_PREVIEW_DAYS);
    Ok(entries
        .first()
        .map_or(Value::Null, |entry| entry_view(entry, &cadence)))
}
