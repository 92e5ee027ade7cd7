//! `/v1/customers/{id}/chasing`: enrolment (`PUT`, `DELETE`), pause and
//! resume, and the dry-run preview.

use super::customers;
use crate::extract::Ctx;
use crate::parse::fields;
use crate::{ApiError, ApiResponse};
use app::usecases::enrolment::{self, DEFAULT_PREVIEW_DAYS, MAX_PREVIEW_DAYS};
use axum::extract::Path;
use domain::cadence::{Cadence, Level, PlannedStep};
use domain::validation::FieldErrors;
use serde_json::{json, Map, Value};

/// `PUT /v1/customers/{id}/chasing {cadence_id}`.
pub async fn enrol(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, domain::identity::Permission::ManageRecords)?;
    let body = ctx.json_object()?;
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
    // An unknown customer is 404 before any field problem.
    app::usecases::customers::load(&ctx.context, &ctx.caller.tenant, &customer_id).await?;
    let cadence_id = errors.into_result(cadence_id.unwrap_or_default())?;
    let change = enrolment::enrol(
        &ctx.context,
        &ctx.caller,
        ctx.now,
        &customer_id,
        &cadence_id,
    )
    .await?;
    let response = customers::response(&change.value)?;
    ctx.commit(change, response).await
}

/// `DELETE /v1/customers/{id}/chasing[?level=customer|invoice]`: one level,
/// or both without `level`.
pub async fn unenrol(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    let mut errors = FieldErrors::new();
    for (name, _) in ctx.params() {
        if name != "level" {
            errors.add(name, "is not a parameter of this request");
        }
    }
    let level = match ctx.param("level") {
        None => None,
        Some(raw) => {
            let level = Level::parse(raw);
            if level.is_none() {
                errors.add("level", "must be customer or invoice");
            }
            level
        }
    };
    errors.into_result(())?;
    let change =
        enrolment::unenrol_at(&ctx.context, &ctx.caller, ctx.now, &customer_id, level).await?;
    let response = customers::response(&change.value)?;
    ctx.commit(change, response).await
}

/// The body's fields, or none for an empty body (`pause` takes an optional one).
fn optional_object(ctx: &Ctx) -> Result<Map<String, Value>, ApiError> {
    if ctx.body().is_empty() {
        return Ok(Map::new());
    }
    ctx.json_object()
}

/// `POST /v1/customers/{id}/chasing/pause {until?}`.
pub async fn pause(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, domain::identity::Permission::ManageRecords)?;
    let body = optional_object(&ctx)?;
    let mut errors = FieldErrors::new();
    let mut until = None;
    for (field, value) in &body {
        match field.as_str() {
            "until" if value.is_null() => {}
            "until" => until = fields::date(&mut errors, field, value),
            _ => errors.add(field, "is not a pause field"),
        }
    }
    app::usecases::customers::load(&ctx.context, &ctx.caller.tenant, &customer_id).await?;
    errors.into_result(())?;
    let change = enrolment::pause(&ctx.context, &ctx.caller, ctx.now, &customer_id, until).await?;
    let response = customers::response(&change.value)?;
    ctx.commit(change, response).await
}

/// `POST /v1/customers/{id}/chasing/resume`.
pub async fn resume(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    let change = enrolment::resume(&ctx.context, &ctx.caller, ctx.now, &customer_id).await?;
    let response = customers::response(&change.value)?;
    ctx.commit(change, response).await
}

/// One step of the preview as the API shows it, with its level and, for an
/// invoice-level step, the invoice.
pub fn entry_view(planned: &PlannedStep, cadences: &[Cadence]) -> Value {
    let entry = &planned.entry;
    let cadence = cadences.iter().find(|c| c.id == planned.cadence_id);
    let step = cadence.and_then(|c| c.step(entry.position));
    json!({
        "level": planned.level,
        "invoice_id": planned.invoice_id,
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
/// on which dates if nothing changes. Nothing is written or sent.
pub async fn preview(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, domain::identity::Permission::Read)?;
    let mut errors = FieldErrors::new();
    for (name, _) in ctx.params() {
        if name != "days" {
            errors.add(name, "is not a parameter of the preview");
        }
    }
    let days = match ctx.param("days") {
        None => DEFAULT_PREVIEW_DAYS,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_PREVIEW_DAYS).contains(&n) => n,
            _ => {
                errors.add("days", "must be a whole number from 1 to 365");
                DEFAULT_PREVIEW_DAYS
            }
        },
    };
    errors.into_result(())?;
    let preview =
        enrolment::preview(&ctx.context, &ctx.caller, ctx.now, &customer_id, days).await?;
    let customer = &preview.customer;
    let items: Vec<Value> = preview
        .entries
        .iter()
        .map(|e| entry_view(e, &preview.cadences))
        .collect();
    ApiResponse::ok(&json!({
        "customer_id": customer.id,
        "cadence_id": customer.chasing.cadence_id,
        "cadence_version": customer.chasing.cadence_version,
        "invoice_cadence_id": customer.chasing.invoice_cadence_id,
        "invoice_cadence_version": customer.chasing.invoice_cadence_version,
        "days": days,
        "from": ctx.now,
        "to": ctx.now + chrono::TimeDelta::days(i64::from(days)),
        "items": items,
    }))
}
