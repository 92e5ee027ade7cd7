//! Customers: create, read, update, delete, list and export.

use super::valid_id;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::records::StoredCustomer;
use domain::identity::TenantId;

/// The customer named by `id` in the tenant (404 for anything else,
/// another tenant's included).
pub async fn load(context: &Context, tenant: &TenantId, id: &str) -> AppResult<StoredCustomer> {
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    context
        .store
        .customer(tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}
