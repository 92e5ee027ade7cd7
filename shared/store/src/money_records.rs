//! Payments, adjustments and promises in their customer's partition
//! (`PAYMENT#`, `ADJUSTMENT#`, `PROMISE#` and the record's ULID), listed
//! newest first.

use super::dynamo::{from_item, to_item, Condition, KeyQuery, Table};
use super::keys::{customer_pk, ADJUSTMENT_PREFIX, PAYMENT_PREFIX, PK, PROMISE_PREFIX, SK};
use app::ports::{Page, PageRequest, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::identity::TenantId;
use domain::payment::{Adjustment, Payment};
use domain::promise::Promise;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn record<T: Serialize>(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    sk: String,
    value: &T,
    condition: Option<Condition>,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(value)?;
    item.insert(
        PK.into(),
        AttributeValue::S(customer_pk(tenant, customer_id)),
    );
    item.insert(SK.into(), AttributeValue::S(sk));
    table.put(item, condition)
}

pub fn insert_payment(
    table: &Table,
    tenant: &TenantId,
    payment: &Payment,
) -> Result<TransactWriteItem, StoreError> {
    record(
        table,
        tenant,
        &payment.customer_id,
        format!("{PAYMENT_PREFIX}{}", payment.id),
        payment,
        Some(Condition::absent()),
    )
}

pub fn insert_adjustment(
    table: &Table,
    tenant: &TenantId,
    adjustment: &Adjustment,
) -> Result<TransactWriteItem, StoreError> {
    record(
        table,
        tenant,
        &adjustment.customer_id,
        format!("{ADJUSTMENT_PREFIX}{}", adjustment.id),
        adjustment,
        Some(Condition::absent()),
    )
}

/// A new promise, or its progress (payments towards it, kept).
pub fn put_promise(
    table: &Table,
    tenant: &TenantId,
    promise: &Promise,
) -> Result<TransactWriteItem, StoreError> {
    record(
        table,
        tenant,
        &promise.customer_id,
        format!("{PROMISE_PREFIX}{}", promise.id),
        promise,
        None,
    )
}

async fn newest_first<T: DeserializeOwned>(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    prefix: &str,
    request: &PageRequest,
) -> Result<Page<T>, StoreError> {
    let partition = customer_pk(tenant, customer_id);
    let start = crate::cursor::decode(request.cursor.as_deref(), (PK, &partition))?;
    let page = table
        .query(
            KeyQuery::partition(PK, partition)
                .sort_begins_with(SK, prefix)
                .descending()
                .limit(i32::try_from(request.limit).unwrap_or(i32::MAX))
                .start(start),
        )
        .await?;
    let items = page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<Vec<T>, _>>()?;
    Ok(Page {
        items,
        next_cursor: page.last_key.as_ref().and_then(crate::cursor::encode),
    })
}

pub async fn payments(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    request: &PageRequest,
) -> Result<Page<Payment>, StoreError> {
    newest_first(table, tenant, customer_id, PAYMENT_PREFIX, request).await
}

pub async fn promises(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    request: &PageRequest,
) -> Result<Page<Promise>, StoreError> {
    newest_first(table, tenant, customer_id, PROMISE_PREFIX, request).await
}
