//! Idempotency records in the tenant's partition, one per (user, key)
//! hash, expiring after 24 hours (the table's TTL attribute).

use super::dynamo::{from_item, to_item, Condition, Table};
use super::keys::{idempotency_sk, tenant_pk, PK, SK};
use app::ports::StoreError;
use app::records::IdempotencyRecord;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::identity::TenantId;

pub async fn get(
    table: &Table,
    tenant: &TenantId,
    key_hash: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    table
        .get(&tenant_pk(tenant), &idempotency_sk(key_hash))
        .await?
        .map(from_item)
        .transpose()
}

/// Claims the key with its response: fails while an unexpired record has it.
pub fn claim(
    table: &Table,
    tenant: &TenantId,
    key_hash: &str,
    record: &IdempotencyRecord,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(record)?;
    item.insert(PK.into(), AttributeValue::S(tenant_pk(tenant)));
    item.insert(SK.into(), AttributeValue::S(idempotency_sk(key_hash)));
    // A record that expired (TTL deletion is lazy) no longer holds the key.
    let now = record.expires_at - app::records::IDEMPOTENCY_RETENTION_SECONDS;
    let unused = Condition::new("attribute_not_exists(PK) OR expires_at <= :now")
        .value(":now", AttributeValue::N(now.to_string()));
    table.put(item, Some(unused))
}
