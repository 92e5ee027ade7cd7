//! `/v1/invoices` (docs/api.md, Resources): create, read, update, void
//! and list.

use crate::extract::{list_reply, Ctx};
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::ports::InvoiceQuery;
use app::records::InvoiceRecord;
use app::usecases::invoices::{self, Invoiced};
use axum::extract::Path;
use chrono::NaiveDate;
use domain::identity::Permission;
use domain::invoice::{CollectionStatus, InvoiceStatus};
use domain::validation::FieldErrors;
use http::StatusCode;
use serde_json::{json, Value};

/// The API representation, with computed fields as of `today`.
pub fn view(record: &InvoiceRecord, today: NaiveDate) -> Value {
    let invoice = &record.invoice;
    let installments: Option<Vec<Value>> = invoice.payment_plan.as_ref().map(|plan| {
        plan.installments
            .iter()
            .map(|i| json!({"due_date": i.due_date, "amount": i.amount.to_string(), "amount_paid": i.amount_paid.to_string(), "paid": i.is_paid()}))
            .collect()
    });
    json!({
        "id": invoice.id,
        "customer_id": invoice.customer_id,
        "number": invoice.number,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "total": invoice.total.to_string(),
        "amount_paid": invoice.amount_paid.to_string(),
        "balance": invoice.balance().amount.to_string(),
        "status": invoice.status(),
        "days_overdue": invoice.days_overdue(today),
        "autopay": invoice.autopay,
        "collection_status": invoice.collection_status,
        "dispute_reason": invoice.dispute_reason,
        "payment_plan": installments.map(|installments| json!({"installments": installments})),
        "chasing": {
            "cadence_id": invoice.chasing.cadence_id,
            "paused": invoice.chasing.paused,
        },
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    })
}

fn reply(status: StatusCode, invoiced: &Invoiced) -> Result<ApiResponse, ApiError> {
    Ok(
        ApiResponse::json(status, &view(&invoiced.record, invoiced.today))?
            .with_version(invoiced.record.version),
    )
}

pub async fn create(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let new = parse::invoices::new_invoice(&body)?;
    let change = invoices::create(&ctx.context, &ctx.caller, new, ctx.now).await?;
    let response = reply(StatusCode::CREATED, &change.value)?
        .with_location(format!("/v1/invoices/{}", change.value.record.invoice.id));
    ctx.commit(change, response).await
}

pub async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let record = invoices::get(&ctx.context, &ctx.caller, &id).await?;
    let today = ctx.today().await?;
    Ok(ApiResponse::ok(&view(&record, today))?.with_version(record.version))
}

pub async fn patch(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let expected = ctx.if_match_version()?;
    let body = ctx.json_object()?;
    let current = invoices::changeable(&ctx.context, &ctx.caller, &id).await?;
    let changes = parse::invoices::changes(&body)?;
    let change = invoices::update(
        &ctx.context,
        &ctx.caller,
        current,
        &changes,
        parse::field_names(&body),
        expected,
        ctx.now,
    )
    .await?;
    let response = reply(StatusCode::OK, &change.value)?;
    ctx.commit(change, response).await
}

pub async fn void(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let change = invoices::void(&ctx.context, &ctx.caller, &id, ctx.now).await?;
    let response = reply(StatusCode::OK, &change.value)?;
    ctx.commit(change, response).await
}

const LIST_PARAMS: &[&str] = &[
    "customer_id",
    "status",
    "overdue",
    "collection_status",
    "limit",
    "cursor",
];

pub async fn list(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let mut errors = FieldErrors::new();
    for (name, _) in ctx.params() {
        if !LIST_PARAMS.contains(&name) {
            errors.add(name, "is not a filter of this list");
        }
    }
    let status = match ctx.param("status") {
        None => None,
        Some("open") => Some(InvoiceStatus::Open),
        Some("paid") => Some(InvoiceStatus::Paid),
        Some("void") => Some(InvoiceStatus::Void),
        Some(_) => {
            errors.add("status", "must be open, paid or void");
            None
        }
    };
    let overdue = match ctx.param("overdue") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.add("overdue", "must be true or false");
            false
        }
    };
    let collection_status = match ctx.param("collection_status") {
        None => None,
        Some("normal") => Some(CollectionStatus::Normal),
        Some("disputed") => Some(CollectionStatus::Disputed),
        Some("on_hold") => Some(CollectionStatus::OnHold),
        Some(_) => {
            errors.add("collection_status", "must be normal, disputed or on_hold");
            None
        }
    };
    if overdue && status.is_some_and(|s| s != InvoiceStatus::Open) {
        errors.add("overdue", "only open invoices can be overdue");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let today = ctx.today().await?;
    let query = InvoiceQuery {
        customer_id: ctx.id_param("customer_id")?.map(str::to_string),
        status,
        overdue_on: overdue.then_some(today),
        collection_status,
        page: ctx.page()?,
    };
    let records = invoices::list(&ctx.context, &ctx.caller, query).await?;
    let items: Vec<Value> = records.items.iter().map(|r| view(r, today)).collect();
    list_reply(&items, records.next_cursor)
}
