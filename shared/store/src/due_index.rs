//! Reading the sparse due index: only customers with a next evaluation time
//! have an entry, so the scheduler's work follows the number of due customers.

use super::dynamo::Table;
use super::keys::{due_pk, DUE_INDEX, DUE_PK, DUE_SK, PK};
use app::ports::{DueCustomer, Page, PageRequest, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

/// Sort keys start with the evaluation instant in a fixed-width UTC form, so
/// "due by `at`" is a range condition on one shard.
pub fn due_sort_prefix(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One page of a shard's entries due at or before `at`, earliest first.
pub async fn due_page(
    table: &Table,
    shard: u32,
    at: DateTime<Utc>,
    page: PageRequest,
) -> Result<Page<DueCustomer>, StoreError> {
    // '~' sorts after every character used in the rest of the key.
    let upper = format!("{}~", due_sort_prefix(at));
    let partition = due_pk(shard);
    let start = crate::cursor::decode(page.cursor.as_deref(), (DUE_PK, &partition))?;
    let output = table
        .client()
        .query()
        .table_name(table.name())
        .index_name(DUE_INDEX)
        .key_condition_expression("#pk = :pk AND #sk <= :upper")
        .expression_attribute_names("#pk", DUE_PK)
        .expression_attribute_names("#sk", DUE_SK)
        .expression_attribute_values(":pk", AttributeValue::S(partition))
        .expression_attribute_values(":upper", AttributeValue::S(upper))
        .limit(i32::try_from(page.limit).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(crate::dynamo::from_sdk)?;
    let items = output
        .items()
        .iter()
        .filter_map(|item| match item.get(PK) {
            Some(AttributeValue::S(pk)) => crate::keys::customer_of_pk(pk),
            _ => None,
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: output
            .last_evaluated_key
            .as_ref()
            .and_then(crate::cursor::encode),
    })
}
