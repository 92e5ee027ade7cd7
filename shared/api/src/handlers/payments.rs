//! Payments (`/v1/payments`), customer credit and adjustments
//! (`/v1/customers/{id}/apply-credit`, `/adjustments`) and promises to pay
//! (`/v1/customers/{id}/promises`), docs/api.md (Resources).

use super::invoices::view as invoice_view;
use crate::extract::{list_reply, Ctx};
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::records::StoredCustomer;
use app::usecases::customers;
use app::usecases::payments::{self, Settled};
use axum::extract::Path;
use chrono::NaiveDate;
use domain::identity::Permission;
use domain::promise::Promise;
use http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};

/// A money record's representation with its effects: the invoices it
/// changed and the customer's balances after it.
fn settled_view<T>(body: Value, settled: &Settled<T>) -> Result<Value, ApiError> {
    let mut body = body;
    let invoices: Vec<Value> = settled
        .invoices
        .iter()
        .map(|r| invoice_view(r, settled.today))
        .collect();
    let balance = serde_json::to_value(&settled.balance).map_err(ApiError::internal)?;
    if let Value::Object(fields) = &mut body {
        fields.insert("invoices".into(), Value::Array(invoices));
        fields.insert("customer_balance".into(), balance);
    }
    Ok(body)
}

fn record_view<T: Serialize>(settled: &Settled<T>) -> Result<Value, ApiError> {
    let body = serde_json::to_value(&settled.record).map_err(ApiError::internal)?;
    settled_view(body, settled)
}

fn promise_view(promise: &Promise, today: NaiveDate) -> Value {
    let mut value = json!(promise);
    if let Value::Object(fields) = &mut value {
        fields.insert("status".into(), json!(promise.status(today)));
    }
    value
}

/// The customer whose money a body is about, read first: its amounts are
/// parsed in the customer's currency (403 and 404 before any field problem).
async fn customer_of(ctx: &Ctx, id: &str) -> Result<StoredCustomer, ApiError> {
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    Ok(customers::load(&ctx.context, &ctx.caller.tenant, id).await?)
}

pub async fn create(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let customer_id = parse::payments::customer_id(&body)?;
    // The body names the customer: one it cannot name is a field problem.
    let customer = customers::load(&ctx.context, &ctx.caller.tenant, customer_id)
        .await
        .map_err(|_| ApiError::invalid_field("customer_id", "no such customer"))?;
    let payment = parse::payments::payment(&body, customer.customer.currency)?;
    let change = payments::create(&ctx.context, &ctx.caller, customer, &payment, ctx.now).await?;
    let location = format!(
        "/v1/payments?customer_id={}",
        change.value.record.customer_id
    );
    let response = ApiResponse::json(StatusCode::CREATED, &record_view(&change.value)?)?
        .with_location(location);
    ctx.commit(change, response).await
}

pub async fn list(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let Some(customer_id) = ctx.param("customer_id") else {
        return Err(ApiError::invalid_field("customer_id", "is required"));
    };
    let page = ctx.page()?;
    let payments = payments::list(&ctx.context, &ctx.caller, customer_id, page).await?;
    list_reply(&payments.items, payments.next_cursor)
}

pub async fn apply_credit(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let change = payments::apply_credit(&ctx.context, &ctx.caller, &id, ctx.now).await?;
    let applied = &change.value.record;
    let body = json!({"applied": applied.applied.to_string(), "credit_left": applied.credit_left.to_string()});
    let response = ApiResponse::ok(&settled_view(body, &change.value)?)?;
    ctx.commit(change, response).await
}

pub async fn adjust(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    let customer = customer_of(&ctx, &id).await?;
    let new = parse::payments::adjustment(&body, customer.customer.currency)?;
    let change = payments::adjust(&ctx.context, &ctx.caller, customer, &new, ctx.now).await?;
    let response = ApiResponse::json(StatusCode::CREATED, &record_view(&change.value)?)?;
    ctx.commit(change, response).await
}

pub async fn promise(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    let customer = customer_of(&ctx, &id).await?;
    let today = ctx.today().await?;
    let new = parse::payments::promise(&body, customer.customer.currency, today)?;
    let change = payments::promise(&ctx.context, &ctx.caller, customer, &new, ctx.now).await?;
    let promised = &change.value;
    let response = ApiResponse::json(
        StatusCode::CREATED,
        &promise_view(&promised.value, promised.today),
    )?;
    ctx.commit(change, response).await
}

pub async fn promises(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let page = ctx.page()?;
    let listed = payments::promises(&ctx.context, &ctx.caller, &id, page, ctx.now).await?;
    let items: Vec<Value> = listed
        .value
        .items
        .iter()
        .map(|p| promise_view(p, listed.today))
        .collect();
    list_reply(&items, listed.value.next_cursor)
}
