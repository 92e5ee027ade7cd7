//! Reading the sparse due index: only customers with a next evaluation time
//! have an entry, so the scheduler's work follows the number of due customers.

use super::dynamo::Table;
use super::keys::{due_pk, DUE_INDEX, DUE_PK, DUE_SHARDS, DUE_SK, PK};
use app::ports::{DueCustomer, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

/// Sort keys start with the evaluation instant in a fixed-width UTC form, so
/// "due by `at`" is a range condition on one shard.
pub fn due_sort_prefix(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Every entry due at or before `at`, across all shards.
pub async fn due_by(table: &Table, at: DateTime<Utc>) -> Result<Vec<DueCustomer>, StoreError> {
    // '~' sorts after every character used in the rest of the key.
    let upper = format!("{}~", due_sort_prefix(at));
    let mut entries = Vec::new();
    for shard in 0..DUE_SHARDS {
        let mut start = None;
        loop {
            let output = table
                .client()
                .query()
                .table_name(table.name())
                .index_name(DUE_INDEX)
                .key_condition_expression("#pk = :pk AND #sk <= :upper")
                .expression_attribute_names("#pk", DUE_PK)
                .expression_attribute_names("#sk", DUE_SK)
                .expression_attribute_values(":pk", AttributeValue::S(due_pk(shard)))
                .expression_attribute_values(":upper", AttributeValue::S(upper.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(crate::dynamo::from_sdk)?;
            for item in output.items() {
                if let Some(AttributeValue::S(pk)) = item.get(PK) {
                    if let Some(due) = crate::keys::customer_of_pk(pk) {
                        entries.push(due);
                    }
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    Ok(entries)
}
