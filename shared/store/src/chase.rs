//! The claim that makes a chase happen at most once. A chase is identified
//! by (tenant, customer, cycle, step); its item in the customer's partition
//! moves `claimed` → `sending` → `sent` → `done`, or ends `suppressed` or
//! `failed`, each move a conditional write.

use super::dynamo::{to_item, Condition, StoreError, Table};
use super::keys::{chase_sk, customer_pk, PK, SK};
use crate::domain::identity::TenantId;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChaseStatus {
    /// A worker owns it and has not started sending.
    Claimed,
    /// The provider may have been called: never call it again.
    Sending,
    /// The provider accepted it; the history is not written yet.
    Sent,
    /// Sent and recorded.
    Done,
    Suppressed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chase {
    pub customer_id: String,
    pub cycle: u32,
    pub step: u32,
    pub status: ChaseStatus,
    /// The SQS message that owns the claim, and on which delivery of it.
    pub owner_message_id: String,
    pub owner_receive_count: u32,
    pub provider_message_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This delivery owns the chase now.
    Owned(Chase),
    /// Someone else owns it, or it is finished: nothing to do.
    Elsewhere(Chase),
}

pub struct ChaseKey<'a> {
    pub tenant: &'a TenantId,
    pub customer_id: &'a str,
    pub cycle: u32,
    pub step: u32,
}

impl ChaseKey<'_> {
    fn pk(&self) -> String {
        customer_pk(self.tenant, self.customer_id)
    }

    fn sk(&self) -> String {
        chase_sk(self.cycle, self.step)
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// Claims the chase for this delivery of an SQS message. A later delivery of
/// the same message takes a `claimed` chase over: SQS only redelivers after
/// the visibility timeout, which is longer than the worker's timeout, so the
/// earlier attempt is dead. Any other state belongs to whoever got there first.
pub async fn claim(
    table: &Table,
    key: &ChaseKey<'_>,
    message_id: &str,
    receive_count: u32,
    now: DateTime<Utc>,
) -> Result<Claim, StoreError> {
    let chase = Chase {
        customer_id: key.customer_id.to_string(),
        cycle: key.cycle,
        step: key.step,
        status: ChaseStatus::Claimed,
        owner_message_id: message_id.to_string(),
        owner_receive_count: receive_count,
        provider_message_id: None,
        updated_at: now,
    };
    let mut item = to_item(&chase)?;
    item.insert(PK.into(), s(&key.pk()));
    item.insert(SK.into(), s(&key.sk()));
    let claimable = Condition::new(
        "attribute_not_exists(PK) OR (#status = :claimed AND owner_message_id = :me AND owner_receive_count < :count)",
    )
    .name("#status", "status")
    .value(":claimed", s("claimed"))
    .value(":me", s(message_id))
    .value(":count", AttributeValue::N(receive_count.to_string()));
    match table
        .transact(vec![table.put(item, Some(claimable))?])
        .await
    {
        Ok(()) => Ok(Claim::Owned(chase)),
        Err(StoreError::ConditionFailed { .. }) => {
            let existing: Chase = table
                .get_as(&key.pk(), &key.sk())
                .await?
                .ok_or_else(|| StoreError::Malformed("chase vanished".into()))?;
            // A later delivery of the owning message resumes what it left.
            let resumable = existing.owner_message_id == message_id
                && matches!(existing.status, ChaseStatus::Sending | ChaseStatus::Sent);
            Ok(if resumable {
                Claim::Owned(existing)
            } else {
                Claim::Elsewhere(existing)
            })
        }
        Err(other) => Err(other),
    }
}

/// Moves the chase from one status to the next; fails if it is not in `from`.
pub fn advance(
    table: &Table,
    key: &ChaseKey<'_>,
    from: ChaseStatus,
    to: ChaseStatus,
    provider_message_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TransactWriteItem, StoreError> {
    let mut condition = Condition::new("#status = :from")
        .name("#status", "status")
        .value(
            ":from",
            serde_dynamo::to_attribute_value(from)
                .map_err(|e| StoreError::Malformed(e.to_string()))?,
        )
        .value(
            ":to",
            serde_dynamo::to_attribute_value(to)
                .map_err(|e| StoreError::Malformed(e.to_string()))?,
        )
        .value(":now", s(&now.to_rfc3339()));
    let mut expression = "SET #status = :to, updated_at = :now".to_string();
    if let Some(id) = provider_message_id {
        condition = condition.value(":provider", s(id));
        expression.push_str(", provider_message_id = :provider");
    }
    table.update(&key.pk(), &key.sk(), &expression, condition)
}

/// Runs one status move on its own.
pub async fn advance_now(
    table: &Table,
    key: &ChaseKey<'_>,
    from: ChaseStatus,
    to: ChaseStatus,
    provider_message_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    table
        .transact(vec![advance(
            table,
            key,
            from,
            to,
            provider_message_id,
            now,
        )?])
        .await
}
