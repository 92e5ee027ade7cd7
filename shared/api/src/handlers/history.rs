//! `GET /v1/customers/{id}/history` (docs/api.md, Resources): the customer's
//! timeline, newest first, filtered by `type` and `invoice_id`.

use super::tasks::unknown_filters;
use crate::extract::{list_reply, Ctx};
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::ports::HistoryFilter;
use app::usecases::history;
use axum::extract::Path;
use domain::history::{HistoryItem, HistoryType};
use domain::validation::FieldErrors;
use serde_json::{json, Value};

const LIST_PARAMS: &[&str] = &["type", "invoice_id", "limit", "cursor"];

/// An item as clients see it: every field, `detail` expanded.
fn view(item: &HistoryItem) -> Value {
    json!({
        "id": item.id,
        "customer_id": item.customer_id,
        "type": item.kind,
        "occurred_at": item.occurred_at,
        "actor": item.actor,
        "summary": item.summary,
        "invoice_ids": item.invoice_ids,
        "detail": item.detail,
    })
}

fn filters(ctx: &Ctx) -> Result<Vec<HistoryFilter>, ApiError> {
    let mut errors = FieldErrors::new();
    unknown_filters(ctx, LIST_PARAMS, &mut errors);
    let text = |name: &str| ctx.param(name).map(str::trim).filter(|v| !v.is_empty());
    let mut filters = Vec::new();
    if let Some(raw) = text("type") {
        match HistoryType::parse(raw) {
            Some(kind) => filters.push(HistoryFilter::Type(kind)),
            None => errors.add("type", "is not a history type"),
        }
    }
    if let Some(raw) = text("invoice_id") {
        let id = parse::fields::reference(&mut errors, "invoice_id", &Value::String(raw.into()));
        if let Some(id) = id {
            filters.push(HistoryFilter::Invoice(id));
        }
    }
    errors.into_result(filters).map_err(ApiError::from)
}

pub async fn list(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    let filters = filters(&ctx)?;
    let page = ctx.page()?;
    let page = history::list(&ctx.context, &ctx.caller, &customer_id, &filters, page).await?;
    let items: Vec<Value> = page.items.iter().map(view).collect();
    list_reply(&items, page.next_cursor)
}
