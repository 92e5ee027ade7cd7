//! Invoices: the record in its customer's partition (inside the page range
//! while open), a pointer in the tenant partition to find it by id, a number
//! reservation, and GSI1 keys for tenant-wide lists by status and due date.

use super::dynamo::{from_item, to_item, Condition, Item, KeyQuery, StoreError, Table};
use super::keys::*;
use crate::domain::identity::TenantId;
use crate::domain::invoice::{Invoice, InvoiceStatus};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    pub invoice: Invoice,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn status_key(invoice: &Invoice) -> &'static str {
    match invoice.status() {
        InvoiceStatus::Open => "open",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Void => "void",
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// Reads an invoice by id: the pointer, then the record (two reads).
pub async fn get(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<InvoiceRecord>, StoreError> {
    let Some(pointer) = table
        .get(&tenant_pk(tenant), &invoice_pointer_sk(id))
        .await?
    else {
        return Ok(None);
    };
    let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) =
        (pointer.get("target_pk"), pointer.get("target_sk"))
    else {
        return Err(StoreError::Malformed("invoice pointer".into()));
    };
    table.get_as(pk, sk).await
}

/// The open invoices of a customer, as stored (strongly consistent).
pub async fn open_of_customer(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
) -> Result<Vec<InvoiceRecord>, StoreError> {
    table
        .query_all(
            KeyQuery::partition(PK, customer_pk(tenant, customer_id))
                .sort_begins_with(SK, OPEN_INVOICE_PREFIX)
                .consistent(),
        )
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// Stores `next`, moving it across the page range when it opens or closes,
/// conditioned on `previous` still being what is stored.
pub fn save(
    table: &Table,
    tenant: &TenantId,
    next: &InvoiceRecord,
    previous: Option<&InvoiceRecord>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let invoice = &next.invoice;
    let pk = customer_pk(tenant, &invoice.customer_id);
    let sk = invoice_sk(&invoice.id, invoice.is_open());
    let mut item = to_item(next)?;
    item.insert(PK.into(), s(&pk));
    item.insert(SK.into(), s(&sk));
    item.insert(
        GSI1PK.into(),
        s(&invoice_list_pk(tenant, status_key(invoice))),
    );
    let sort_date = invoice.effective_due_date().unwrap_or(invoice.issue_date);
    item.insert(GSI1SK.into(), s(&format!("{sort_date}#{}", invoice.id)));
    item.insert(
        "f_collection_status".into(),
        to_item_value(&invoice.collection_status)?,
    );
    item.insert("f_status".into(), s(status_key(invoice)));
    if let Some(due) = invoice.effective_due_date() {
        item.insert("f_due".into(), s(&due.to_string()));
    }
    let mut writes = Vec::new();
    match previous {
        None => writes.push(table.put(item, Some(Condition::absent()))?),
        Some(previous) => {
            let old_sk = invoice_sk(&previous.invoice.id, previous.invoice.is_open());
            let unchanged = Condition::version_is(previous.version);
            if old_sk == sk {
                writes.push(table.put(item, Some(unchanged))?);
            } else {
                writes.push(table.delete(&pk, &old_sk, Some(unchanged))?);
                writes.push(table.put(item, None)?);
            }
        }
    }
    let pointer: Item = [
        (PK.to_string(), s(&tenant_pk(tenant))),
        (SK.to_string(), s(&invoice_pointer_sk(&invoice.id))),
        ("target_pk".to_string(), s(&pk)),
        ("target_sk".to_string(), s(&sk)),
    ]
    .into();
    writes.push(table.put(pointer, None)?);
    Ok(writes)
}

fn to_item_value<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

pub fn reserve_number(
    table: &Table,
    tenant: &TenantId,
    number: &str,
    invoice_id: &str,
) -> Result<TransactWriteItem, StoreError> {
    table.reserve(
        &tenant_pk(tenant),
        &invoice_number_sk(number),
        ("invoice_id", invoice_id),
    )
}

pub fn release_number(
    table: &Table,
    tenant: &TenantId,
    number: &str,
) -> Result<TransactWriteItem, StoreError> {
    table.delete(&tenant_pk(tenant), &invoice_number_sk(number), None)
}

#[derive(Debug, Clone)]
pub enum InvoiceList {
    /// One customer's invoices: its partition (open, or closed, or both).
    Customer {
        customer_id: String,
        open: Option<bool>,
    },
    /// The tenant's invoices in one status, by due date; `due_before` makes
    /// it the overdue list.
    Status {
        status: &'static str,
        due_before: Option<String>,
    },
}

pub async fn list(
    table: &Table,
    tenant: &TenantId,
    list: InvoiceList,
    filter: Option<Condition>,
    limit: i32,
    start: Option<Item>,
) -> Result<(Vec<InvoiceRecord>, Option<Item>), StoreError> {
    let query = match list {
        InvoiceList::Customer { customer_id, open } => {
            let prefix = match open {
                Some(true) => OPEN_INVOICE_PREFIX.to_string(),
                Some(false) => "Z#INVOICE#".to_string(),
                None => String::new(),
            };
            let mut query = KeyQuery::partition(PK, customer_pk(tenant, &customer_id)).consistent();
            if open.is_some() {
                query = query.sort_begins_with(SK, prefix);
            } else {
                // Key attributes cannot be filtered on; only invoices have this one.
                let both = Condition::new("attribute_exists(#invoice_record)")
                    .name("#invoice_record", "invoice");
                return collect(table, query, Some(merge(filter, both)), limit, start).await;
            }
            query
        }
        InvoiceList::Status { status, due_before } => {
            let mut query =
                KeyQuery::partition(GSI1PK, invoice_list_pk(tenant, status)).on_index(GSI1);
            if let Some(before) = due_before {
                query = query.sort_before(GSI1SK, before);
            }
            query
        }
    };
    collect(table, query, filter, limit, start).await
}

fn merge(filter: Option<Condition>, extra: Condition) -> Condition {
    match filter {
        None => extra,
        Some(mut filter) => {
            filter.expression = format!("({}) AND ({})", filter.expression, extra.expression);
            for (k, v) in extra.values.unwrap_or_default() {
                filter = filter.value(&k, v);
            }
            for (k, v) in extra.names.unwrap_or_default() {
                filter = filter.name(&k, &v);
            }
            filter
        }
    }
}

/// With a filter, a page takes at most this many Queries.
const MAX_QUERIES_PER_PAGE: usize = 5;

async fn collect(
    table: &Table,
    query: KeyQuery,
    filter: Option<Condition>,
    limit: i32,
    mut start: Option<Item>,
) -> Result<(Vec<InvoiceRecord>, Option<Item>), StoreError> {
    let mut records = Vec::new();
    for _ in 0..MAX_QUERIES_PER_PAGE {
        let remaining = limit - records.len() as i32;
        let page = table
            .query(
                query
                    .clone()
                    .limit(remaining)
                    .start(start.take())
                    .filter(filter.clone()),
            )
            .await?;
        for item in page.items {
            records.push(from_item(item)?);
        }
        start = page.last_key;
        if start.is_none() || records.len() as i32 >= limit || filter.is_none() {
            break;
        }
    }
    Ok((records, start))
}
