//! The claim that makes a chase happen at most once: one item per (customer,
//! [invoice,] cycle, step) in the customer's partition, each status move a conditional
//! write. What a redelivery may still do is decided by the chase worker.

use super::dynamo::{from_item, to_item, Condition, Table};
use super::keys::{chase_sk, customer_pk, PK, SK};
use app::ports::StoreError;
use app::records::{Chase, ChaseKey, ChaseStatus};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use domain::identity::TenantId;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

pub async fn get(
    table: &Table,
    tenant: &TenantId,
    key: &ChaseKey,
) -> Result<Option<Chase>, StoreError> {
    table
        .get(
            &customer_pk(tenant, &key.customer_id),
            &chase_sk(key.invoice_id.as_deref(), key.cycle, key.step),
        )
        .await?
        .map(from_item)
        .transpose()
}

/// Takes the chase for this delivery: the item is new, or it is still
/// `claimed` by an earlier delivery of the same message (SQS only
/// redelivers after the visibility timeout, longer than the worker's, so
/// that attempt is dead).
pub fn claim(
    table: &Table,
    tenant: &TenantId,
    chase: &Chase,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(chase)?;
    item.insert(PK.into(), s(&customer_pk(tenant, &chase.customer_id)));
    item.insert(
        SK.into(),
        s(&chase_sk(
            chase.invoice_id.as_deref(),
            chase.cycle,
            chase.step,
        )),
    );
    let claimable = Condition::new(
        "attribute_not_exists(PK) OR (#status = :claimed AND owner_message_id = :me AND owner_receive_count < :count)",
    )
    .name("#status", "status")
    .value(":claimed", s(ChaseStatus::Claimed.as_ref()))
    .value(":me", s(&chase.owner_message_id))
    .value(":count", AttributeValue::N(chase.owner_receive_count.to_string()));
    table.put(item, Some(claimable))
}

/// Moves the chase from one status to the next; fails if it is not in `from`.
pub fn advance(
    table: &Table,
    tenant: &TenantId,
    key: &ChaseKey,
    (from, to): (ChaseStatus, ChaseStatus),
    provider_message_id: Option<&str>,
    at: DateTime<Utc>,
) -> Result<TransactWriteItem, StoreError> {
    let mut condition = Condition::new("#status = :from")
        .name("#status", "status")
        .value(":from", s(from.as_ref()))
        .value(":to", s(to.as_ref()))
        .value(":now", s(&at.to_rfc3339()));
    let mut expression = "SET #status = :to, updated_at = :now".to_string();
    if let Some(id) = provider_message_id {
        condition = condition.value(":provider", s(id));
        expression.push_str(", provider_message_id = :provider");
    }
    table.update(
        &customer_pk(tenant, &key.customer_id),
        &chase_sk(key.invoice_id.as_deref(), key.cycle, key.step),
        &expression,
        condition,
    )
}
