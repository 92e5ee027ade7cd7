//! `/v1/customers/{id}/contacts`: a customer's contacts, their roles and
//! which one is primary.

use super::customers::{load, valid_id};
use super::Ctx;
use crate::adapters::contact_store;
use crate::adapters::customer_store::{self, StoredCustomer};
use crate::domain::contact::{Contact, ContactChanges};
use crate::domain::history::{HistoryItem, HistoryType};
use crate::domain::identity::Permission;
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::TransactWriteItem;
use http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Value};

fn view(contact: &Contact, customer: &StoredCustomer) -> Value {
    let mut value = json!(contact);
    value["primary"] =
        json!(customer.customer.primary_contact_id.as_deref() == Some(contact.id.as_str()));
    value
}

pub async fn list(ctx: &Ctx<'_>, customer_id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let customer = load(ctx, customer_id).await?;
    let contacts = contact_store::all(&ctx.app.table, &ctx.caller.tenant, customer_id).await?;
    let items: Vec<Value> = contacts.iter().map(|c| view(c, &customer)).collect();
    ApiResponse::ok(&json!({"items": items, "next_cursor": null}))
}

pub async fn create(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let changes = ContactChanges::parse(&request::json_object(request)?, true)?;
    let customer = load(ctx, customer_id).await?;
    let id = ulid::Ulid::new().to_string();
    let contact = changes.apply(None, &id, customer_id, ctx.now)?;
    // The first contact is primary unless told otherwise.
    let primary = changes.primary.or(customer
        .customer
        .primary_contact_id
        .is_none()
        .then_some(true));
    write(
        ctx,
        &customer,
        None,
        Some(&contact),
        primary,
        HistoryType::ContactCreated,
        StatusCode::CREATED,
    )
    .await
}

pub async fn patch(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
    contact_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = request::if_match_version(request)?;
    let changes = ContactChanges::parse(&request::json_object(request)?, false)?;
    let (customer, current) = load_contact(ctx, customer_id, contact_id).await?;
    if current.version != expected {
        return Err(ApiError::stale_version());
    }
    let next = changes.apply(Some(&current), contact_id, customer_id, ctx.now)?;
    write(
        ctx,
        &customer,
        Some(&current),
        Some(&next),
        changes.primary,
        HistoryType::ContactUpdated,
        StatusCode::OK,
    )
    .await
}

pub async fn delete(
    ctx: &Ctx<'_>,
    customer_id: &str,
    contact_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let (customer, current) = load_contact(ctx, customer_id, contact_id).await?;
    write(
        ctx,
        &customer,
        Some(&current),
        None,
        None,
        HistoryType::ContactDeleted,
        StatusCode::NO_CONTENT,
    )
    .await
}

async fn load_contact(
    ctx: &Ctx<'_>,
    customer_id: &str,
    contact_id: &str,
) -> Result<(StoredCustomer, Contact), ApiError> {
    if !valid_id(contact_id) {
        return Err(ApiError::NotFound);
    }
    let customer = load(ctx, customer_id).await?;
    let contacts = contact_store::all(&ctx.app.table, &ctx.caller.tenant, customer_id).await?;
    let contact = contacts
        .into_iter()
        .find(|c| c.id == contact_id)
        .ok_or(ApiError::NotFound)?;
    Ok((customer, contact))
}

/// One transaction: the contact, its role counts, and the customer record
/// (primary contact, contact phones, history), conditioned on both.
async fn write(
    ctx: &Ctx<'_>,
    customer: &StoredCustomer,
    before: Option<&Contact>,
    after: Option<&Contact>,
    primary: Option<bool>,
    kind: HistoryType,
    status: StatusCode,
) -> Result<ApiResponse, ApiError> {
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let subject = after.or(before).ok_or(ApiError::NotFound)?;
    let mut others = contact_store::all(table, tenant, &customer.customer.id).await?;
    others.retain(|c| c.id != subject.id);

    let mut next = customer.customer.clone();
    let is_primary = next.primary_contact_id.as_deref() == Some(subject.id.as_str());
    next.primary_contact_id = match (after, primary) {
        (None, _) if is_primary => None,
        (Some(_), Some(true)) => Some(subject.id.clone()),
        (Some(_), Some(false)) if is_primary => None,
        _ => next.primary_contact_id,
    };
    next.contact_phones = others
        .iter()
        .chain(after)
        .filter_map(|c| c.phone.clone())
        .collect();
    next.contact_phones.dedup();
    // Steps with a contact role run only for customers with such a contact.
    next.contact_roles = others
        .iter()
        .chain(after)
        .filter(|c| c.receives_chasers || c.receives_escalations)
        .flat_map(|c| c.roles.iter().cloned())
        .collect();
    let summary = match kind {
        HistoryType::ContactCreated => format!("Contact {} added", subject.name),
        HistoryType::ContactDeleted => format!("Contact {} removed", subject.name),
        _ => format!("Contact {} updated", subject.name),
    };
    let history = HistoryItem::new(
        &next.id,
        kind,
        ctx.now,
        ctx.caller.user.as_str(),
        summary,
        json!({"contact_id": subject.id}),
    );
    let mut writes: Vec<TransactWriteItem> =
        customer_store::put(table, tenant, next.clone(), Some(customer), &[history])?;
    let contact_index = writes.len();
    writes.push(match after {
        Some(contact) => {
            contact_store::save(table, tenant, contact, before.map_or(0, |b| b.version))?
        }
        None => contact_store::delete(table, tenant, subject)?,
    });
    let old_roles = before.map(|c| c.roles.clone()).unwrap_or_default();
    let new_roles = after.map(|c| c.roles.clone()).unwrap_or_default();
    let mut role_writes = Vec::new();
    for (i, role) in new_roles.iter().enumerate() {
        if !old_roles.contains(role) {
            role_writes.push((writes.len(), i));
            writes.push(contact_store::count_role(table, tenant, role, 1)?);
        }
    }
    for role in &old_roles {
        if !new_roles.contains(role) {
            writes.push(contact_store::count_role(table, tenant, role, -1)?);
        }
    }
    let response = match after {
        Some(contact) => {
            let stored = StoredCustomer {
                customer: next,
                revision: customer.revision + 1,
            };
            let body = view(contact, &stored);
            let mut response = ApiResponse::json(status, &body)?.with_version(contact.version);
            if status == StatusCode::CREATED {
                response = response.with_location(format!(
                    "/v1/customers/{}/contacts/{}",
                    contact.customer_id, contact.id
                ));
            }
            response
        }
        None => ApiResponse::no_content(),
    };
    ctx.commit(
        writes,
        |index| match role_writes.iter().find(|(w, _)| *w == index) {
            Some((_, i)) => ApiError::invalid_field(&format!("roles[{i}]"), "no such contact role"),
            None if index == contact_index => ApiError::stale_version(),
            None => ApiError::conflict(
                crate::http::error::CONCURRENT_UPDATE,
                "the customer changed at the same time; retry",
            ),
        },
        response,
    )
    .await
}
