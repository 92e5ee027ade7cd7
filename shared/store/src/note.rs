//! Notes in their customer's partition (`NOTE#<id>`, outside the page
//! range), listed newest first; and the check that invoices named by a note
//! or a task belong to the customer.

use super::dynamo::{batch_get, text_attribute};
use super::dynamo::{from_item, to_item, Condition, Table};
use super::history::{page, PageQuery, SortCondition};
use super::keys::{customer_pk, invoice_sk, note_sk, NOTE_PREFIX, PK, SK};
use app::ports::{Page, PageRequest, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::identity::TenantId;
use domain::note::Note;

/// Which of `invoice_ids` are not invoices of the customer (open or
/// closed), read in one strongly consistent batch.
pub async fn unknown_invoices(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    invoice_ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let pk = customer_pk(tenant, customer_id);
    let mut keys = Vec::new();
    for id in invoice_ids {
        keys.push((pk.clone(), invoice_sk(id, true)));
        keys.push((pk.clone(), invoice_sk(id, false)));
    }
    let found: Vec<String> = batch_get(table, &keys, true)
        .await?
        .iter()
        .filter_map(|item| text_attribute(item, SK).map(str::to_string))
        .collect();
    Ok(invoice_ids
        .iter()
        .filter(|id| {
            !found.contains(&invoice_sk(id, true)) && !found.contains(&invoice_sk(id, false))
        })
        .cloned()
        .collect())
}

pub fn insert(
    table: &Table,
    tenant: &TenantId,
    note: &Note,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(note)?;
    item.insert(
        PK.into(),
        AttributeValue::S(customer_pk(tenant, &note.customer_id)),
    );
    item.insert(SK.into(), AttributeValue::S(note_sk(&note.id)));
    table.put(item, Some(Condition::absent()))
}

pub const NOTE_KEY: &[&str] = &[PK, SK];

/// One page of a customer's notes, newest first.
pub async fn list(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    request: &PageRequest,
) -> Result<Page<Note>, StoreError> {
    let partition = customer_pk(tenant, customer_id);
    let start = crate::cursor::decode(request.cursor.as_deref(), (PK, &partition))?;
    let (items, last_key) = page(
        table,
        PageQuery {
            index: None,
            partition: (PK, partition.clone()),
            sort: Some(SortCondition::BeginsWith(SK, NOTE_PREFIX.to_string())),
            descending: true,
            limit: request.limit,
            start,
            filter: None,
            consistent: true,
            key_attributes: NOTE_KEY,
        },
    )
    .await?;
    let notes = items
        .into_iter()
        .map(from_item)
        .collect::<Result<Vec<Note>, _>>()?;
    Ok(Page {
        items: notes,
        next_cursor: last_key.as_ref().and_then(crate::cursor::encode),
    })
}
