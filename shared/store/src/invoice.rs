//! Invoices: the record in its customer's partition (inside the page range
//! while open), a pointer in the tenant partition to find it by id, a number
//! reservation, and GSI1 keys for tenant-wide lists by status and due date.

use super::dynamo::{from_item, to_item, Condition, Item, KeyQuery, Table};
use super::keys::*;
use app::ports::StoreError;
use app::ports::{InvoiceQuery, Page};
use app::records::InvoiceRecord;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::identity::TenantId;
use domain::invoice::{Invoice, InvoiceStatus};
use serde::Serialize;

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

/// One page of invoices: a customer's (its partition: open, closed or
/// both) or the tenant's in one status by due date (GSI1), narrowed by the
/// other filters.
pub async fn list(
    table: &Table,
    tenant: &TenantId,
    query: InvoiceQuery,
) -> Result<Page<InvoiceRecord>, StoreError> {
    let mut filter = Condition::default();
    let mut parts = Vec::new();
    if let Some(collection) = query.collection_status {
        parts.push("f_collection_status = :collection");
        filter = filter.value(":collection", to_item_value(&collection)?);
    }
    let status = query.status.map(|s| match s {
        InvoiceStatus::Open => "open",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Void => "void",
    });
    let (key_query, partition_key, partition) = match &query.customer_id {
        Some(customer_id) => {
            if let Some(status) = status {
                parts.push("f_status = :status");
                filter = filter.value(":status", s(status));
            }
            if let Some(today) = query.overdue_on {
                parts.push("f_due < :today");
                filter = filter.value(":today", s(&today.to_string()));
            }
            let open = match (status, query.overdue_on) {
                (Some("open"), _) | (_, Some(_)) => Some(true),
                (Some(_), _) => Some(false),
                _ => None,
            };
            let partition = customer_pk(tenant, customer_id);
            let mut key_query = KeyQuery::partition(PK, partition.clone()).consistent();
            match open {
                Some(true) => key_query = key_query.sort_begins_with(SK, OPEN_INVOICE_PREFIX),
                Some(false) => key_query = key_query.sort_begins_with(SK, CLOSED_INVOICE_PREFIX),
                // Key attributes cannot be filtered on; only invoices have this one.
                None => {
                    parts.push("attribute_exists(#invoice_record)");
                    filter = filter.name("#invoice_record", "invoice");
                }
            }
            (key_query, PK, partition)
        }
        None => {
            let status = status.unwrap_or("open");
            let partition = invoice_list_pk(tenant, status);
            let mut key_query = KeyQuery::partition(GSI1PK, partition.clone()).on_index(GSI1);
            if let Some(today) = query.overdue_on {
                key_query = key_query.sort_before(GSI1SK, today.to_string());
                // The sort key falls back to the issue date: only an open
                // invoice with a due date before today is overdue.
                parts.push("f_due < :today");
                parts.push("f_status = :open");
                filter = filter
                    .value(":today", s(&today.to_string()))
                    .value(":open", s("open"));
            }
            (key_query, GSI1PK, partition)
        }
    };
    filter.expression = parts.join(" AND ");
    let filter = (!parts.is_empty()).then_some(filter);
    let start = crate::cursor::decode(query.page.cursor.as_deref(), (partition_key, &partition))?;
    let limit = i32::try_from(query.page.limit).unwrap_or(i32::MAX);
    let (items, last_key) = collect(table, key_query, filter, limit, start).await?;
    Ok(Page {
        items,
        next_cursor: last_key.as_ref().and_then(crate::cursor::encode),
    })
}

/// Which of `numbers` are already taken by an invoice of the tenant.
pub async fn taken_numbers(
    table: &Table,
    tenant: &TenantId,
    numbers: &[String],
) -> Result<Vec<String>, StoreError> {
    let pk = tenant_pk(tenant);
    let keys: Vec<(String, String)> = numbers
        .iter()
        .map(|n| (pk.clone(), invoice_number_sk(n)))
        .collect();
    let taken: std::collections::BTreeSet<String> = crate::dynamo::batch_get(table, &keys, true)
        .await?
        .iter()
        .filter_map(|item| crate::dynamo::text_attribute(item, SK).map(str::to_string))
        .collect();
    Ok(numbers
        .iter()
        .filter(|n| taken.contains(&invoice_number_sk(n)))
        .cloned()
        .collect())
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
