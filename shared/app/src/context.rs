//! What every use case and job works with: the store, the clock, ids, and
//! the tenant settings cache.

use crate::ports::{Clock, Ids, Store, StoreResult};
use domain::identity::TenantId;
use domain::settings::Settings;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Settings change rarely and nearly every request needs the tenant's time
/// zone, so each process keeps them for a short while. A change is seen at
/// once by the process that made it and within this long by others.
pub const SETTINGS_CACHE_TTL: Duration = Duration::from_secs(30);

/// Deployment facts the rules need.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// The verified SES domain: tenants' sender addresses must be on it, and
    /// chases from tenants without one go out as `chasing@<domain>`.
    pub sender_domain: Option<String>,
    /// The customer portal; without it chases carry no portal link.
    pub portal: Option<crate::usecases::portal::PortalConfig>,
}

#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    pub config: AppConfig,
    settings: Arc<Mutex<HashMap<TenantId, (Settings, Instant)>>>,
    /// Held while settings are read from the store, so that records and
    /// requests missing the cache together wait for one read instead of
    /// each making their own.
    settings_read: Arc<tokio::sync::Mutex<()>>,
}

impl Context {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn Ids>,
        config: AppConfig,
    ) -> Self {
        Self {
            store,
            clock,
            ids,
            config,
            settings: Arc::default(),
            settings_read: Arc::default(),
        }
    }

    /// The tenant's settings, from this process's cache when fresh.
    pub async fn settings(&self, tenant: &TenantId) -> StoreResult<Settings> {
        if let Some(settings) = self.cached_settings(tenant) {
            return Ok(settings);
        }
        let _reading = self.settings_read.lock().await;
        // Another task may have read them while this one waited.
        if let Some(settings) = self.cached_settings(tenant) {
            return Ok(settings);
        }
        let settings = self.store.settings(tenant).await?;
        self.cache()
            .insert(tenant.clone(), (settings.clone(), Instant::now()));
        Ok(settings)
    }

    fn cached_settings(&self, tenant: &TenantId) -> Option<Settings> {
        self.cache()
            .get(tenant)
            .filter(|(_, fetched)| fetched.elapsed() < SETTINGS_CACHE_TTL)
            .map(|(settings, _)| settings.clone())
    }

    /// After this process saved new settings: they are seen at once here.
    pub fn remember_settings(&self, tenant: &TenantId, settings: Settings) {
        self.cache()
            .insert(tenant.clone(), (settings, Instant::now()));
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<TenantId, (Settings, Instant)>> {
        // A poisoned lock only means another thread panicked holding it; the
        // map inside is still a plain cache.
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }
}
