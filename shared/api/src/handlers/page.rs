//! `GET /v1/customers/{id}/page`: the customer's control room from one Query
//! of its page range (customer, contacts, open invoices, open tasks); the
//! latest history rides on the customer record.

use super::customers::{valid_id, view as customer_view};
use super::invoices::view as invoice_view;
use super::Ctx;
use crate::adapters::customer_store;
use crate::adapters::dynamo::{from_item, Item, KeyQuery};
use crate::adapters::invoice_store::InvoiceRecord;
use crate::adapters::keys::{
    customer_pk, CONTACT_PREFIX, CUSTOMER_SK, OPEN_INVOICE_PREFIX, PAGE_PREFIX, PK, SK,
};
use crate::domain::contact::Contact;
use crate::domain::identity::Permission;
use crate::http::{auth, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

const TASK_PREFIX: &str = "P#3#TASK#";

pub async fn get(ctx: &Ctx<'_>, customer_id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    if !valid_id(customer_id) {
        return Err(ApiError::NotFound);
    }
    let today = ctx.today().await?;
    // One Query unless the range passes DynamoDB's 1 MB page.
    let items = ctx
        .app
        .table
        .query_all(
            KeyQuery::partition(PK, customer_pk(&ctx.caller.tenant, customer_id))
                .sort_begins_with(SK, PAGE_PREFIX)
                .consistent(),
        )
        .await?;
    let mut customer = None;
    let mut contacts = Vec::new();
    let mut invoices = Vec::new();
    let mut tasks = Vec::new();
    for item in items {
        let sk = match item.get(SK) {
            Some(AttributeValue::S(sk)) => sk.clone(),
            _ => continue,
        };
        if sk == CUSTOMER_SK {
            customer = Some(customer_store::parse(item)?.customer);
        } else if sk.starts_with(CONTACT_PREFIX) {
            contacts.push(from_item::<Contact>(item)?);
        } else if sk.starts_with(OPEN_INVOICE_PREFIX) {
            invoices.push(from_item::<InvoiceRecord>(item)?);
        } else if sk.starts_with(TASK_PREFIX) {
            tasks.push(task_view(item)?);
        }
    }
    let mut customer = customer.ok_or(ApiError::NotFound)?;
    customer.refresh(today);
    invoices.sort_by(|a, b| {
        (a.invoice.issue_date, &a.invoice.number).cmp(&(b.invoice.issue_date, &b.invoice.number))
    });
    let primary = customer.primary_contact_id.clone();
    let contacts: Vec<Value> = contacts
        .iter()
        .map(|c| {
            let mut value = json!(c);
            value["primary"] = json!(primary.as_deref() == Some(c.id.as_str()));
            value
        })
        .collect();
    let next_step = super::chasing::next_step(ctx, &customer).await?;
    let body = json!({
        "customer": customer_view(&customer),
        "contacts": contacts,
        "open_invoices": invoices.iter().map(|r| invoice_view(r, today)).collect::<Vec<_>>(),
        "balance": customer_view(&customer)["balance"],
        "chasing": {
            "state": customer.chasing,
            "active_promise": customer.active_promise,
            "next_step": next_step,
        },
        "open_tasks": tasks,
        "history": customer.recent_history,
    });
    Ok(ApiResponse::ok(&body)?.with_version(customer.version))
}

/// Tasks are shown as stored, without their storage keys.
fn task_view(mut item: Item) -> Result<Value, ApiError> {
    item.retain(|name, _| {
        !name.starts_with("GSI") && name != PK && name != SK && !name.starts_with("Due")
    });
    Ok(from_item::<Value>(item)?)
}
