//! Tenant settings: one item in the tenant's partition.

use super::dynamo::{from_item, to_item, Condition, Table};
use super::keys::{tenant_pk, PK, SETTINGS_SK, SK};
use app::ports::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::identity::TenantId;
use domain::settings::Settings;

/// The tenant's settings, or the defaults (version 0) if never saved.
pub async fn load(table: &Table, tenant: &TenantId) -> Result<Settings, StoreError> {
    match table.get(&tenant_pk(tenant), SETTINGS_SK).await? {
        Some(item) => from_item(item),
        None => Ok(Settings::default()),
    }
}

/// Writes `settings` if the stored version is still `expected_version`.
pub fn save(
    table: &Table,
    tenant: &TenantId,
    settings: &Settings,
    expected_version: u64,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(settings)?;
    item.insert(PK.into(), AttributeValue::S(tenant_pk(tenant)));
    item.insert(SK.into(), AttributeValue::S(SETTINGS_SK.into()));
    table.put(item, Some(Condition::version_is(expected_version)))
}
