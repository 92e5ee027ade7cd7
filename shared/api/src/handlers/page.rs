//! `GET /v1/customers/{id}/page`: the customer's control room from one read
//! of its page range (customer, contacts, open invoices, open tasks); the
//! latest history rides on the customer record.

use super::chasing::entry_view;
use super::customers::view as customer_view;
use super::invoices::view as invoice_view;
use crate::extract::Ctx;
use crate::{ApiError, ApiResponse};
use axum::extract::Path;
use serde_json::{json, Value};

pub async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let view = app::usecases::customers::page(&ctx.context, &ctx.caller, ctx.now, &id).await?;
    let customer = &view.page.customer.customer;
    let primary = customer.primary_contact_id.as_deref();
    let contacts: Vec<Value> = view
        .page
        .contacts
        .iter()
        .map(|c| {
            let mut value = json!(c);
            value["primary"] = json!(primary == Some(c.id.as_str()));
            value
        })
        .collect();
    let next_step = view
        .next_step
        .as_ref()
        .map_or(Value::Null, |(entry, cadences)| entry_view(entry, cadences));
    let shown = customer_view(customer);
    let body = json!({
        "customer": shown,
        "contacts": contacts,
        "open_invoices": view.page.open_invoices.iter().map(|r| invoice_view(r, view.today)).collect::<Vec<_>>(),
        "balance": shown["balance"],
        "chasing": {
            "state": customer.chasing,
            "active_promise": customer.active_promise,
            "next_step": next_step,
        },
        "open_tasks": view.page.open_tasks,
        "history": customer.recent_history,
        "portal": {"url": view.portal_url, "last_visit_at": view.page.portal_visit.map(|v| v.at)},
    });
    Ok(ApiResponse::ok(&body)?.with_version(customer.version))
}
