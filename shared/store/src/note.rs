//! Notes in their customer's partition (`NOTE#<id>`, outside the page
//! range), listed newest first; and the check that invoices named by a note
//! or a task belong to the customer.

use super::customer_store::{self, StoredCustomer};
use super::dynamo::{batch_get, text_attribute};
use super::dynamo::{from_item, to_item, Condition, Item, StoreError, Table};
use super::history_store::{page, PageQuery, SortCondition};
use super::keys::{customer_pk, invoice_sk, note_sk, CUSTOMER_SK, NOTE_PREFIX, PK, SK};
use crate::domain::identity::TenantId;
use crate::domain::note::Note;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

/// The customer record and which of `invoice_ids` are not its invoices
/// (open or closed), read together in one strongly consistent batch.
pub async fn customer_and_unknown_invoices(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    invoice_ids: &[String],
) -> Result<(Option<StoredCustomer>, Vec<String>), StoreError> {
    let pk = customer_pk(tenant, customer_id);
    let mut keys = vec![(pk.clone(), CUSTOMER_SK.to_string())];
    for id in invoice_ids {
        keys.push((pk.clone(), invoice_sk(id, true)));
        keys.push((pk.clone(), invoice_sk(id, false)));
    }
    let mut customer = None;
    let mut found_invoices = Vec::new();
    for item in batch_get(table, &keys, true).await? {
        match text_attribute(&item, SK) {
            Some(CUSTOMER_SK) => customer = Some(customer_store::parse(item)?),
            Some(sk) => found_invoices.push(sk.to_string()),
            None => {}
        }
    }
    let unknown = invoice_ids
        .iter()
        .filter(|id| {
            !found_invoices.contains(&invoice_sk(id, true))
                && !found_invoices.contains(&invoice_sk(id, false))
        })
        .cloned()
        .collect();
    Ok((customer, unknown))
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
    limit: usize,
    start: Option<Item>,
) -> Result<(Vec<Note>, Option<Item>), StoreError> {
    let (items, last_key) = page(
        table,
        PageQuery {
            index: None,
            partition: (PK, customer_pk(tenant, customer_id)),
            sort: Some(SortCondition::BeginsWith(SK, NOTE_PREFIX.to_string())),
            descending: true,
            limit,
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
    Ok((notes, last_key))
}
