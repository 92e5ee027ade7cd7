//! Message templates in the tenant partition, stored as JSON documents.

use super::dynamo::{Condition, Item, Table};
use super::keys::{template_sk, tenant_pk, PK, SK, TEMPLATE_PREFIX};
use app::ports::{Page, PageRequest, StoreError};
use app::records::TemplateRecord;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::identity::TenantId;

fn parse(item: &Item) -> Result<TemplateRecord, StoreError> {
    match item.get("doc") {
        Some(AttributeValue::S(text)) => {
            serde_json::from_str(text).map_err(|e| StoreError::Malformed(e.to_string()))
        }
        _ => Err(StoreError::Malformed("template without doc".into())),
    }
}

pub async fn get(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<TemplateRecord>, StoreError> {
    table
        .get(&tenant_pk(tenant), &template_sk(id))
        .await?
        .map(|item| parse(&item))
        .transpose()
}

pub async fn list(
    table: &Table,
    tenant: &TenantId,
    request: &PageRequest,
) -> Result<Page<TemplateRecord>, StoreError> {
    let (items, next_cursor) = table
        .tenant_list_page(tenant, TEMPLATE_PREFIX, request)
        .await?;
    let items = items.iter().map(parse).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// Stores the template if the stored version is still `previous_version` (0: new).
pub fn save(
    table: &Table,
    tenant: &TenantId,
    record: &TemplateRecord,
    previous_version: u32,
) -> Result<TransactWriteItem, StoreError> {
    let text = serde_json::to_string(record).map_err(|e| StoreError::Malformed(e.to_string()))?;
    let item: Item = [
        (PK.to_string(), AttributeValue::S(tenant_pk(tenant))),
        (
            SK.to_string(),
            AttributeValue::S(template_sk(&record.template.id)),
        ),
        ("doc".to_string(), AttributeValue::S(text)),
        (
            "version".to_string(),
            AttributeValue::N(record.template.version.to_string()),
        ),
    ]
    .into();
    table.put(
        item,
        Some(Condition::version_is(u64::from(previous_version))),
    )
}

pub fn delete(
    table: &Table,
    tenant: &TenantId,
    record: &TemplateRecord,
) -> Result<TransactWriteItem, StoreError> {
    table.delete(
        &tenant_pk(tenant),
        &template_sk(&record.template.id),
        Some(Condition::version_is(u64::from(record.template.version))),
    )
}
