//! Document records in their customer's partition (`DOC#<id>`, outside
//! the page range), listed newest first. The files themselves are in the
//! documents bucket.

use super::dynamo::{from_item, to_item, Table};
use super::history::{page, PageQuery, SortCondition};
use super::keys::{customer_pk, document_sk, DOCUMENT_PREFIX, PK, SK};
use app::ports::{Page, PageRequest, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::document::Document;
use domain::identity::TenantId;

pub fn put(
    table: &Table,
    tenant: &TenantId,
    document: &Document,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(document)?;
    item.insert(
        PK.into(),
        AttributeValue::S(customer_pk(tenant, &document.customer_id)),
    );
    item.insert(SK.into(), AttributeValue::S(document_sk(&document.id)));
    table.put(item, None)
}

pub async fn get(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    document_id: &str,
) -> Result<Option<Document>, StoreError> {
    table
        .get(&customer_pk(tenant, customer_id), &document_sk(document_id))
        .await?
        .map(from_item)
        .transpose()
}

const DOCUMENT_KEY: &[&str] = &[PK, SK];

/// One page of a customer's documents, newest first.
pub async fn list(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    request: &PageRequest,
) -> Result<Page<Document>, StoreError> {
    let partition = customer_pk(tenant, customer_id);
    let start = crate::cursor::decode(request.cursor.as_deref(), (PK, &partition))?;
    let (items, last_key) = page(
        table,
        PageQuery {
            index: None,
            partition: (PK, partition.clone()),
            sort: Some(SortCondition::BeginsWith(SK, DOCUMENT_PREFIX.to_string())),
            descending: true,
            limit: request.limit,
            start,
            filter: None,
            consistent: true,
            key_attributes: DOCUMENT_KEY,
        },
    )
    .await?;
    Ok(Page {
        items: items
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Document>, _>>()?,
        next_cursor: last_key.as_ref().and_then(crate::cursor::encode),
    })
}
