//! Contacts live in their customer's page range, so the customer page reads
//! them in its one Query.

use super::contact_role::IN_USE;
use super::dynamo::{from_item, to_item, Condition, Table};
use super::keys::{contact_sk, customer_pk, tenant_pk, CONTACT_PREFIX, PK, SK};
use app::ports::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::contact::Contact;
use domain::identity::TenantId;

/// Every contact of a customer (strongly consistent: writes derive the
/// customer's contact summary from it).
pub async fn all(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
) -> Result<Vec<Contact>, StoreError> {
    table
        .query_all(
            super::dynamo::KeyQuery::partition(PK, customer_pk(tenant, customer_id))
                .sort_begins_with(SK, CONTACT_PREFIX)
                .consistent(),
        )
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// Stores the contact if it is still at `expected_version` (0: new).
pub fn save(
    table: &Table,
    tenant: &TenantId,
    contact: &Contact,
    expected_version: u64,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(contact)?;
    item.insert(
        PK.into(),
        AttributeValue::S(customer_pk(tenant, &contact.customer_id)),
    );
    item.insert(SK.into(), AttributeValue::S(contact_sk(&contact.id)));
    table.put(item, Some(Condition::version_is(expected_version)))
}

pub fn delete(
    table: &Table,
    tenant: &TenantId,
    contact: &Contact,
) -> Result<TransactWriteItem, StoreError> {
    table.delete(
        &customer_pk(tenant, &contact.customer_id),
        &contact_sk(&contact.id),
        Some(Condition::version_is(contact.version)),
    )
}

/// Counts a contact in or out of a role; fails if the role does not exist.
pub fn count_role(
    table: &Table,
    tenant: &TenantId,
    role_id: &str,
    delta: i64,
) -> Result<TransactWriteItem, StoreError> {
    let condition = Condition::new("attribute_exists(PK)")
        .name("#in_use", IN_USE)
        .value(":delta", AttributeValue::N(delta.to_string()));
    table.update(
        &tenant_pk(tenant),
        &format!("CONTACT_ROLE#{role_id}"),
        "ADD #in_use :delta",
        condition,
    )
}
