//! Customers: create, read, update, delete, list and export.

use super::valid_id;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::records::StoredCustomer;
use domain::identity::TenantId;

/// The customer named by `id` in the tenant (404 for anything else,
/// another tenant's included).
pub async fn load(context: &Context, tenant: &TenantId, id: &str) -> AppResult<StoredCustomer> {
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    context
        .store
        .customer(tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}

use super::Change;
use crate::access::require;
use crate::ports::{CustomerQuery, Page, Write};
use chrono::{DateTime, Utc};
use domain::customer::{Customer, CustomerChanges};
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission};
use serde_json::{json, Value};

fn duplicate_number() -> AppError {
    AppError::conflict(
        "duplicate_number",
        "another customer already has this number",
    )
}

fn no_such_group() -> AppError {
    AppError::invalid_field("group_id", "no such customer group")
}

fn history(
    caller: &Caller,
    now: DateTime<Utc>,
    customer: &Customer,
    kind: HistoryType,
    summary: String,
    detail: Value,
) -> HistoryItem {
    HistoryItem::new(
        &customer.id,
        kind,
        now,
        caller.user.as_str(),
        summary,
        detail,
    )
}

/// Fills in the group's settings; the member-count writes when the customer
/// changes group (a group gone meanwhile fails them).
async fn join_groups(
    context: &Context,
    caller: &Caller,
    next: &mut Customer,
    previous_group: Option<&str>,
) -> AppResult<Vec<Write>> {
    if next.group_id.as_deref() == previous_group {
        return Ok(Vec::new());
    }
    let mut writes = Vec::new();
    next.group_settings = None;
    if let Some(group_id) = next.group_id.clone() {
        let group = context
            .store
            .group(&caller.tenant, &group_id)
            .await?
            .ok_or_else(no_such_group)?;
        next.group_settings = Some(group.settings);
        writes.push(Write::CountGroupMember { group_id, delta: 1 });
    }
    if let Some(old) = previous_group {
        writes.push(Write::CountGroupMember {
            group_id: old.to_string(),
            delta: -1,
        });
    }
    Ok(writes)
}

/// The customer's writes, then `extra`, each extra write's failed condition
/// meaning "no such group"; then the number reservations.
fn assemble(
    next: Customer,
    previous: Option<&StoredCustomer>,
    history: &[HistoryItem],
    groups: Vec<Write>,
    enrolment: Vec<Write>,
    numbers: Vec<Write>,
) -> Change<Customer> {
    let mut writes = crate::writes::customer(next.clone(), previous, history);
    let groups_from = writes.len();
    let groups_len = groups.len();
    writes.extend(groups);
    writes.extend(enrolment);
    let number_at = writes.len();
    let has_number = !numbers.is_empty();
    writes.extend(numbers);
    let mut change = Change::new(writes, next, AppError::stale_version);
    for index in groups_from..groups_from + groups_len {
        change = change.on_conflict(index, no_such_group);
    }
    if has_number {
        change = change.on_conflict(number_at, duplicate_number);
    }
    change
}

/// A new customer (its number reserved, its group joined, the assignment
/// rules run).
pub async fn create(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    changes: &CustomerChanges,
) -> AppResult<Change<Customer>> {
    require(caller, Permission::ManageRecords)?;
    let mut customer = changes
        .create(context.ids.new_id(now), now)
        .ok_or_else(|| AppError::invalid_field("number", "is required"))?;
    let zone = context.settings(&caller.tenant).await?.time_zone;
    customer.refresh(now.with_timezone(&zone).date_naive());
    let groups = join_groups(context, caller, &mut customer, None).await?;
    let assigned = super::enrolment::assign(context, caller, now, &mut customer).await?;
    let created = history(
        caller,
        now,
        &customer,
        HistoryType::CustomerCreated,
        format!("Customer {} created", customer.number),
        json!({"number": customer.number}),
    );
    let (enrolment, assigned_items) = assigned;
    let items: Vec<HistoryItem> = std::iter::once(created).chain(assigned_items).collect();
    let mut numbers = vec![Write::ReserveCustomerNumber {
        number: customer.number.clone(),
        customer_id: customer.id.clone(),
    }];
    numbers.extend(super::portal::issue(
        context,
        &caller.tenant,
        &mut customer,
        now,
    ));
    Ok(assemble(customer, None, &items, groups, enrolment, numbers))
}

/// The customer, refreshed for the tenant's today, with its portal link.
pub async fn get(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    id: &str,
) -> AppResult<(Customer, Option<String>)> {
    require(caller, Permission::Read)?;
    let stored = load(context, &caller.tenant, id).await?;
    let settings = context.settings(&caller.tenant).await?;
    let portal_url = super::portal::url(context, &caller.tenant, &stored, &settings, now).await?;
    let mut customer = stored.customer;
    customer.refresh(now.with_timezone(&settings.time_zone).date_naive());
    Ok((customer, portal_url))
}

/// The changes of a `PATCH`, applied to the customer at `expected` version.
/// `changed` names the fields the request sent (for the history item).
pub async fn update(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    stored: StoredCustomer,
    expected: u64,
    changes: &CustomerChanges,
    changed: Vec<String>,
) -> AppResult<Change<Customer>> {
    require(caller, Permission::ManageRecords)?;
    if stored.customer.version != expected {
        return Err(AppError::stale_version());
    }
    let current = &stored.customer;
    let mut next = changes.apply(current, now);
    let zone = context.settings(&caller.tenant).await?.time_zone;
    next.refresh(now.with_timezone(&zone).date_naive());
    let groups = join_groups(context, caller, &mut next, current.group_id.as_deref()).await?;
    let assigned = super::enrolment::assign(context, caller, now, &mut next).await?;
    let updated = history(
        caller,
        now,
        &next,
        HistoryType::CustomerUpdated,
        format!("Customer {} updated", next.number),
        json!({"fields": changed}),
    );
    let (enrolment, assigned_items) = assigned;
    let items: Vec<HistoryItem> = std::iter::once(updated).chain(assigned_items).collect();
    let numbers = if next.number != current.number {
        vec![
            Write::ReserveCustomerNumber {
                number: next.number.clone(),
                customer_id: next.id.clone(),
            },
            Write::ReleaseCustomerNumber {
                number: current.number.clone(),
            },
        ]
    } else {
        Vec::new()
    };
    Ok(assemble(
        next,
        Some(&stored),
        &items,
        groups,
        enrolment,
        numbers,
    ))
}

/// Deletes a customer without open invoices or open tasks, with its
/// contacts, list entries and number; leaves its group and cadence counts.
pub async fn delete(context: &Context, caller: &Caller, id: &str) -> AppResult<Change<()>> {
    require(caller, Permission::ManageRecords)?;
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    let page = context
        .store
        .customer_page(&caller.tenant, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let stored = page.customer;
    if stored.customer.open_invoice_count > 0 || !page.open_invoices.is_empty() {
        return Err(AppError::conflict(
            "customer_has_open_invoices",
            "the customer has open invoices; settle or void them first",
        ));
    }
    if !page.open_tasks.is_empty() {
        return Err(AppError::conflict(
            "customer_has_open_tasks",
            "the customer has open tasks; complete them first",
        ));
    }
    let mut writes = vec![Write::DeleteCustomer {
        stored: Box::new(stored.clone()),
    }];
    for contact in page.contacts {
        writes.push(Write::DeleteContact {
            contact: Box::new(contact),
        });
    }
    if let Some(group) = &stored.customer.group_id {
        writes.push(Write::CountGroupMember {
            group_id: group.clone(),
            delta: -1,
        });
    }
    let mut unenrolled = stored.customer.clone();
    unenrolled.chasing.cadence_id = None;
    unenrolled.chasing.invoice_cadence_id = None;
    writes.extend(super::enrolment::enrolment_writes(
        super::enrolment::enrolments_of(&stored.customer),
        &unenrolled,
    ));
    Ok(Change::new(writes, (), || {
        AppError::conflict(
            "version_conflict",
            "the customer changed while being deleted; retry",
        )
    }))
}

pub async fn list(
    context: &Context,
    caller: &Caller,
    query: CustomerQuery,
) -> AppResult<Page<Customer>> {
    require(caller, Permission::Read)?;
    Ok(context.store.list_customers(&caller.tenant, query).await?)
}

/// An export is built in memory; Lambda responses are capped at 6 MB.
pub const MAX_EXPORT_ROWS: usize = 10_000;

/// Every customer the query matches, up to [`MAX_EXPORT_ROWS`].
pub async fn export(
    context: &Context,
    caller: &Caller,
    mut query: CustomerQuery,
) -> AppResult<Vec<Customer>> {
    require(caller, Permission::Read)?;
    let mut all = Vec::new();
    loop {
        let page = context
            .store
            .list_customers(&caller.tenant, query.clone())
            .await?;
        all.extend(page.items);
        if all.len() > MAX_EXPORT_ROWS {
            return Err(AppError::conflict(
                "export_too_large",
                "more than 10000 customers match; narrow the filters or page through the list",
            ));
        }
        match page.next_cursor {
            Some(cursor) => query.page.cursor = Some(cursor),
            None => return Ok(all),
        }
    }
}

/// The customer page (one read of its page range), its customer refreshed
/// for the tenant's today, and the next step chasing would run.
pub struct PageView {
    pub page: crate::records::CustomerPage,
    pub portal_url: Option<String>,
    pub today: chrono::NaiveDate,
    pub next_step: Option<(domain::cadence::PlannedStep, Vec<domain::cadence::Cadence>)>,
}

pub async fn page(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    id: &str,
) -> AppResult<PageView> {
    require(caller, Permission::Read)?;
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    let settings = context.settings(&caller.tenant).await?;
    let today = now.with_timezone(&settings.time_zone).date_naive();
    let mut page = context
        .store
        .customer_page(&caller.tenant, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let portal_url =
        super::portal::url(context, &caller.tenant, &page.customer, &settings, now).await?;
    page.customer.customer.refresh(today);
    page.open_invoices.sort_by(|a, b| {
        (a.invoice.issue_date, &a.invoice.number).cmp(&(b.invoice.issue_date, &b.invoice.number))
    });
    let next_step =
        super::enrolment::next_step(context, caller, now, &page.customer.customer).await?;
    Ok(PageView {
        page,
        portal_url,
        today,
        next_step,
    })
}
