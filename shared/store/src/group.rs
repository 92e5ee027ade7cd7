//! Customer groups in the tenant's partition, with a member count that guards
//! deletion and is moved in the same transaction as the member.

use super::dynamo::{from_item, to_item, Condition, Table};
use super::keys::{customer_pk, group_sk, tenant_pk, CUSTOMER_SK, GROUP_PREFIX, PK, SK};
use app::ports::{Page, PageRequest, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::customer::GroupSettings;
use domain::group::CustomerGroup;
use domain::identity::TenantId;

pub async fn get(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CustomerGroup>, StoreError> {
    table.get_as(&tenant_pk(tenant), &group_sk(id)).await
}

pub async fn list(
    table: &Table,
    tenant: &TenantId,
    request: &PageRequest,
) -> Result<Page<CustomerGroup>, StoreError> {
    let (items, next_cursor) = table
        .tenant_list_page(tenant, GROUP_PREFIX, request)
        .await?;
    let items = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// Stores the group; `expected_version` 0 creates it. The member count is
/// left as it is stored (it only moves with members).
pub fn save(
    table: &Table,
    tenant: &TenantId,
    group: &CustomerGroup,
    expected_version: u64,
) -> Result<TransactWriteItem, StoreError> {
    if expected_version == 0 {
        let mut item = to_item(group)?;
        item.insert(PK.into(), AttributeValue::S(tenant_pk(tenant)));
        item.insert(SK.into(), AttributeValue::S(group_sk(&group.id)));
        return table.put(item, Some(Condition::absent()));
    }
    let settings = to_item(&group.settings)?;
    let condition = Condition::version_is(expected_version)
        .name("#name", "name")
        .name("#settings", "settings")
        .name("#updated_at", "updated_at")
        .value(":name", AttributeValue::S(group.name.clone()))
        .value(":settings", AttributeValue::M(settings))
        .value(":version", AttributeValue::N(group.version.to_string()))
        .value(
            ":updated_at",
            AttributeValue::S(group.updated_at.to_rfc3339()),
        );
    table.update(
        &tenant_pk(tenant),
        &group_sk(&group.id),
        "SET #name = :name, #settings = :settings, #version = :version, #updated_at = :updated_at",
        condition,
    )
}

/// Moves the member count by `delta`; fails if the group does not exist.
pub fn count_member(
    table: &Table,
    tenant: &TenantId,
    group_id: &str,
    delta: i64,
) -> Result<TransactWriteItem, StoreError> {
    let condition = Condition::new("attribute_exists(PK)")
        .value(":delta", AttributeValue::N(delta.to_string()));
    table.update(
        &tenant_pk(tenant),
        &group_sk(group_id),
        "ADD member_count :delta",
        condition,
    )
}

/// Deletes the group if it still has no members and is at `version`.
pub fn delete(
    table: &Table,
    tenant: &TenantId,
    group: &CustomerGroup,
) -> Result<TransactWriteItem, StoreError> {
    let condition = Condition::new(
        "attribute_exists(PK) AND (attribute_not_exists(member_count) OR member_count = :zero)",
    )
    .value(":zero", AttributeValue::N("0".into()));
    table.delete(&tenant_pk(tenant), &group_sk(&group.id), Some(condition))
}

/// Copies the group's settings onto one member, if it is still a member.
pub fn push_settings_to_member(
    table: &Table,
    tenant: &TenantId,
    group_id: &str,
    customer_id: &str,
    settings: &GroupSettings,
) -> Result<TransactWriteItem, StoreError> {
    let condition = Condition::new("group_id = :group")
        .value(":group", AttributeValue::S(group_id.to_string()))
        .value(":settings", AttributeValue::M(to_item(settings)?))
        .value(":one", AttributeValue::N("1".into()));
    table.update(
        &customer_pk(tenant, customer_id),
        CUSTOMER_SK,
        "SET group_settings = :settings ADD revision :one",
        condition,
    )
}
