//! `GET /v1/customers/{id}/history`: the customer's timeline, newest first,
//! filtered by `type` and `invoice_id`.

use super::customers::valid_id;
use super::Ctx;
use crate::adapters::customer_store;
use crate::adapters::history_store::{self, HistoryFilter};
use crate::adapters::keys::{customer_pk, PK};
use crate::domain::fields;
use crate::domain::history::{HistoryItem, HistoryType};
use crate::domain::identity::Permission;
use crate::domain::validation::FieldErrors;
use crate::http::pagination::{list_reply, page_params};
use crate::http::{auth, ApiError, ApiResponse};
use lambda_http::{Request, RequestExt};
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

fn filters(request: &Request) -> Result<Vec<HistoryFilter>, ApiError> {
    let params = request.query_string_parameters();
    let mut errors = FieldErrors::new();
    for (name, _) in params.iter() {
        if !LIST_PARAMS.contains(&name) {
            errors.add(name, "is not a filter of this list");
        }
    }
    let text = |name: &str| params.first(name).map(str::trim).filter(|v| !v.is_empty());
    let mut filters = Vec::new();
    if let Some(raw) = text("type") {
        match HistoryType::parse(raw) {
            Some(kind) => filters.push(HistoryFilter::Type(kind)),
            None => errors.add("type", "is not a history type"),
        }
    }
    if let Some(raw) = text("invoice_id") {
        let id = fields::reference(&mut errors, "invoice_id", &Value::String(raw.into()));
        if let Some(id) = id {
            filters.push(HistoryFilter::Invoice(id));
        }
    }
    errors.into_result(filters).map_err(ApiError::from)
}

pub async fn list(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let filters = filters(request)?;
    if !valid_id(customer_id) {
        return Err(ApiError::NotFound);
    }
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let partition = customer_pk(tenant, customer_id);
    let page = page_params(request, (PK, &partition))?;
    let limit = usize::try_from(page.limit).unwrap_or(1);
    let (customer, (items, last_key)) = tokio::try_join!(
        customer_store::get(table, tenant, customer_id),
        history_store::list(table, tenant, customer_id, &filters, limit, page.start),
    )?;
    if customer.is_none() {
        return Err(ApiError::NotFound);
    }
    let items: Vec<Value> = items.iter().map(view).collect();
    list_reply(&items, last_key.as_ref())
}
