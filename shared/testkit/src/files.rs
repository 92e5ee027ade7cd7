//! The documents bucket in memory: objects by key, links that name them.

use app::ports::{DocumentFiles, StoreError};
use async_trait::async_trait;
use domain::document::Document;
use domain::identity::TenantId;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct MemoryFiles {
    objects: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl MemoryFiles {
    pub fn new() -> Self {
        Self::default()
    }

    fn key(tenant: &TenantId, document: &Document) -> String {
        format!("{tenant}/{}/{}", document.customer_id, document.id)
    }

    /// What is stored for the document, if anything.
    pub fn object(&self, tenant: &TenantId, document_id: &str) -> Option<Vec<u8>> {
        let objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        objects
            .iter()
            .find(|(key, _)| {
                key.starts_with(&format!("{tenant}/")) && key.ends_with(&format!("/{document_id}"))
            })
            .map(|(_, bytes)| bytes.clone())
    }

    pub fn count(&self) -> usize {
        self.objects.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[async_trait]
impl DocumentFiles for MemoryFiles {
    async fn put(
        &self,
        tenant: &TenantId,
        document: &Document,
        bytes: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(Self::key(tenant, document), bytes);
        Ok(())
    }

    async fn get(
        &self,
        tenant: &TenantId,
        document: &Document,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&Self::key(tenant, document))
            .cloned())
    }

    async fn upload_url(
        &self,
        tenant: &TenantId,
        document: &Document,
        _: Duration,
    ) -> Result<String, StoreError> {
        Ok(format!("memory://upload/{}", Self::key(tenant, document)))
    }

    async fn download_url(
        &self,
        tenant: &TenantId,
        document: &Document,
        _: Duration,
    ) -> Result<String, StoreError> {
        Ok(format!("memory://download/{}", Self::key(tenant, document)))
    }
}
