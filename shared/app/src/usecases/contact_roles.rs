//! Contact roles: the tenant's list of roles chase steps can target.

use super::Change;
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{Page, PageRequest, Write};
use chrono::{DateTime, Utc};
use domain::contact_role::ContactRole;
use domain::identity::{Caller, Permission};

fn duplicate_name() -> AppError {
    AppError::conflict(
        "duplicate_name",
        "a contact role with this name already exists",
    )
}

fn role_in_use() -> AppError {
    AppError::conflict(
        "role_in_use",
        "contacts still hold this role; remove it from them first",
    )
}

pub async fn list(
    context: &Context,
    caller: &Caller,
    page: PageRequest,
) -> AppResult<Page<ContactRole>> {
    require(caller, Permission::Read)?;
    Ok(context.store.contact_roles(&caller.tenant, page).await?)
}

/// A new role named `name` (validated); its name must be free (409).
pub fn create(
    context: &Context,
    caller: &Caller,
    name: String,
    now: DateTime<Utc>,
) -> AppResult<Change<ContactRole>> {
    require(caller, Permission::ManageRecords)?;
    let role = ContactRole::new(name, context.ids.new_id(now), now);
    let writes = vec![Write::CreateContactRole(Box::new(role.clone()))];
    Ok(Change::new(writes, role, duplicate_name))
}

/// Deletes a role no contact holds (409 otherwise).
pub async fn delete(context: &Context, caller: &Caller, id: &str) -> AppResult<Change<()>> {
    require(caller, Permission::ManageRecords)?;
    let role = context
        .store
        .contact_role(&caller.tenant, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let writes = vec![Write::DeleteContactRole(Box::new(role))];
    Ok(Change::new(writes, (), role_in_use))
}
