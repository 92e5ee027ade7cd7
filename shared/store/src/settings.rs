//! Tenant settings: one item in the tenant's partition.

use super::dynamo::{from_item, to_item, Condition, StoreError, Table};
use super::keys::{tenant_pk, PK, SETTINGS_SK, SK};
use crate::domain::identity::TenantId;
use crate::domain::settings::Settings;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

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

/// Settings change rarely and nearly every request needs the tenant's time
/// zone, so each process keeps them for a short while. A change is seen at
/// once by the process that made it and within [`CACHE_TTL`] by others.
#[derive(Debug, Default)]
pub struct SettingsCache {
    entries: std::sync::Mutex<std::collections::HashMap<TenantId, (Settings, std::time::Instant)>>,
}

pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

impl SettingsCache {
    pub async fn get(&self, table: &Table, tenant: &TenantId) -> Result<Settings, StoreError> {
        if let Some((settings, fetched)) = self.lock().get(tenant) {
            if fetched.elapsed() < CACHE_TTL {
                return Ok(settings.clone());
            }
        }
        let settings = load(table, tenant).await?;
        self.lock().insert(
            tenant.clone(),
            (settings.clone(), std::time::Instant::now()),
        );
        Ok(settings)
    }

    pub fn forget(&self, tenant: &TenantId) {
        self.lock().remove(tenant);
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<TenantId, (Settings, std::time::Instant)>,
    > {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
