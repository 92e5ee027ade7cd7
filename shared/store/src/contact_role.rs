//! Contact roles live in the tenant's partition; a second item per role
//! reserves its name, so uniqueness is a conditional write, not a read.

use super::dynamo::{from_item, to_item, Condition, Table};
use super::keys::{tenant_pk, PK, SK};
use app::ports::{Page, PageRequest, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::contact_role::ContactRole;
use domain::identity::TenantId;

const ROLE_PREFIX: &str = "CONTACT_ROLE#";

fn role_sk(id: &str) -> String {
    format!("{ROLE_PREFIX}{id}")
}

fn name_sk(unique_name: &str) -> String {
    format!("UNIQUE#CONTACT_ROLE_NAME#{unique_name}")
}

/// Attribute counting the contacts that hold the role; a role in use cannot
/// be deleted.
pub const IN_USE: &str = "in_use";

pub async fn get(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<ContactRole>, StoreError> {
    table.get_as(&tenant_pk(tenant), &role_sk(id)).await
}

pub async fn list(
    table: &Table,
    tenant: &TenantId,
    request: &PageRequest,
) -> Result<Page<ContactRole>, StoreError> {
    let (items, next_cursor) = table.tenant_list_page(tenant, ROLE_PREFIX, request).await?;
    let items = items.into_iter().map(from_item).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// Writes: [0] the role, [1] its name reservation (fails if the name is taken).
pub fn create(
    table: &Table,
    tenant: &TenantId,
    role: &ContactRole,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let pk = tenant_pk(tenant);
    let mut item = to_item(role)?;
    item.insert(PK.into(), AttributeValue::S(pk.clone()));
    item.insert(SK.into(), AttributeValue::S(role_sk(&role.id)));
    item.insert(IN_USE.into(), AttributeValue::N("0".into()));
    Ok(vec![
        table.put(item, Some(Condition::absent()))?,
        table.reserve(&pk, &name_sk(&role.unique_name()), ("role_id", &role.id))?,
    ])
}

/// Writes: [0] delete the role if no contact holds it, [1] free its name.
pub fn delete(
    table: &Table,
    tenant: &TenantId,
    role: &ContactRole,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let pk = tenant_pk(tenant);
    let unused = Condition::new("attribute_exists(PK) AND #in_use = :zero")
        .name("#in_use", IN_USE)
        .value(":zero", AttributeValue::N("0".into()));
    Ok(vec![
        table.delete(&pk, &role_sk(&role.id), Some(unused))?,
        table.delete(&pk, &name_sk(&role.unique_name()), None)?,
    ])
}
