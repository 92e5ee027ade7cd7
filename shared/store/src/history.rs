//! The customer's timeline (`H#<ulid>` items in its partition) and the
//! bounded page reads the work lists share.
//!
//! History items are written by many writers through
//! `customer_store::history_put`; this module adds what the work routes need:
//! recording items with the customer's `recent_history` kept current in the
//! same transaction, and reading the timeline newest first with filters.

use super::customer::{history_put, REVISION};
use super::dynamo::{from_item, Condition, Item, Table};
use super::keys::{customer_pk, CUSTOMER_SK, HISTORY_PREFIX, PK, SK};
use app::ports::StoreError;
use app::ports::{HistoryFilter, Page, PageRequest};
use app::records::StoredCustomer;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::history::{push_recent, HistoryItem, HistoryType};
use domain::identity::TenantId;

/// A filtered page reads at most this many Query pages, so a rare filter
/// value costs a bounded number of requests; the cursor then continues
/// where the reading stopped.
pub const MAX_QUERIES_PER_PAGE: usize = 5;

/// Items a filtered Query evaluates per request (a Query also stops at 1 MB).
pub const FILTERED_READ_PER_QUERY: usize = 500;

/// The sort key condition of a page read.
#[derive(Debug, Clone)]
pub enum SortCondition {
    BeginsWith(&'static str, String),
    /// Strictly before the value.
    Before(&'static str, String),
}

/// One page of a key range, optionally narrowed by a filter.
#[derive(Debug, Clone)]
pub struct PageQuery {
    pub index: Option<&'static str>,
    pub partition: (&'static str, String),
    pub sort: Option<SortCondition>,
    pub descending: bool,
    pub limit: usize,
    pub start: Option<Item>,
    pub filter: Option<Condition>,
    /// Strongly consistent reads are only possible on the table itself.
    pub consistent: bool,
    /// The key attributes of an item in this range (the table's, plus the
    /// index's): a cursor is made of them.
    pub key_attributes: &'static [&'static str],
}

/// Reads up to `limit` items and the key to continue from. One more item
/// than needed is asked for, so the last page says it is the last.
pub async fn page(
    table: &Table,
    query: PageQuery,
) -> Result<(Vec<Item>, Option<Item>), StoreError> {
    let mut items: Vec<Item> = Vec::new();
    let mut start = query.start.clone();
    for _ in 0..MAX_QUERIES_PER_PAGE {
        let wanted = query.limit.saturating_sub(items.len()) + 1;
        let read = if query.filter.is_some() {
            wanted.max(FILTERED_READ_PER_QUERY)
        } else {
            wanted
        };
        let (found, last_key) = query_once(table, &query, read, start.take()).await?;
        for item in found {
            if items.len() == query.limit {
                // More matches than fit: continue right after the last one kept.
                let cursor = items
                    .last()
                    .map(|last| key_of(last, query.key_attributes))
                    .transpose()?;
                return Ok((items, cursor));
            }
            items.push(item);
        }
        match last_key {
            None => return Ok((items, None)),
            Some(key) if items.len() >= query.limit => return Ok((items, Some(key))),
            Some(key) => start = Some(key),
        }
    }
    Ok((items, start))
}

async fn query_once(
    table: &Table,
    query: &PageQuery,
    limit: usize,
    start: Option<Item>,
) -> Result<(Vec<Item>, Option<Item>), StoreError> {
    let mut condition = "#pk = :pk".to_string();
    let mut request = table
        .client()
        .query()
        .table_name(table.name())
        .set_index_name(query.index.map(str::to_string))
        .expression_attribute_names("#pk", query.partition.0)
        .expression_attribute_values(":pk", AttributeValue::S(query.partition.1.clone()))
        .scan_index_forward(!query.descending)
        .limit(i32::try_from(limit).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .consistent_read(query.consistent && query.index.is_none());
    match &query.sort {
        Some(SortCondition::BeginsWith(attribute, prefix)) => {
            condition.push_str(" AND begins_with(#sk, :sk)");
            request = request
                .expression_attribute_names("#sk", *attribute)
                .expression_attribute_values(":sk", AttributeValue::S(prefix.clone()));
        }
        Some(SortCondition::Before(attribute, bound)) => {
            condition.push_str(" AND #sk < :sk");
            request = request
                .expression_attribute_names("#sk", *attribute)
                .expression_attribute_values(":sk", AttributeValue::S(bound.clone()));
        }
        None => {}
    }
    if let Some(filter) = &query.filter {
        for (placeholder, attribute) in filter.names.clone().unwrap_or_default() {
            request = request.expression_attribute_names(placeholder, attribute);
        }
        for (placeholder, value) in filter.values.clone().unwrap_or_default() {
            request = request.expression_attribute_values(placeholder, value);
        }
        request = request.filter_expression(filter.expression.clone());
    }
    let output = request
        .key_condition_expression(condition)
        .send()
        .await
        .map_err(crate::dynamo::from_sdk)?;
    Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
}

fn key_of(item: &Item, attributes: &[&str]) -> Result<Item, StoreError> {
    attributes
        .iter()
        .map(|name| {
            item.get(*name)
                .map(|value| (name.to_string(), value.clone()))
                .ok_or_else(|| StoreError::Malformed(format!("item without key attribute {name}")))
        })
        .collect()
}

/// Writes that add `items` to the customer's timeline and to its
/// `recent_history`, conditioned on the customer not having been written
/// since it was read. Write 0 is the customer record; its version (the
/// client's If-Match) does not move, only the internal revision.
pub fn record(
    table: &Table,
    tenant: &TenantId,
    customer: &StoredCustomer,
    items: &[HistoryItem],
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut recent = customer.customer.recent_history.clone();
    push_recent(&mut recent, items);
    let recent = serde_dynamo::to_attribute_value(&recent)
        .map_err(|e| StoreError::Malformed(e.to_string()))?;
    let unchanged = if customer.revision == 0 {
        Condition::new("attribute_exists(PK) AND attribute_not_exists(#revision)")
    } else {
        Condition::new("#revision = :revision").value(
            ":revision",
            AttributeValue::N(customer.revision.to_string()),
        )
    }
    .name("#revision", REVISION)
    .value(":recent", recent)
    .value(":one", AttributeValue::N("1".into()));
    let mut writes = vec![table.update(
        &customer_pk(tenant, &customer.customer.id),
        CUSTOMER_SK,
        "SET recent_history = :recent ADD #revision :one",
        unchanged,
    )?];
    for item in items {
        writes.push(history_put(table, tenant, item)?);
    }
    Ok(writes)
}

/// The key attributes of a history item: the cursor of a timeline page.
pub const HISTORY_KEY: &[&str] = &[PK, SK];

/// One page of a customer's timeline, newest first.
pub async fn list(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    filters: &[HistoryFilter],
    request: PageRequest,
) -> Result<Page<HistoryItem>, StoreError> {
    let partition = customer_pk(tenant, customer_id);
    let start = crate::cursor::decode(request.cursor.as_deref(), (PK, &partition))?;
    let filter = (!filters.is_empty()).then(|| {
        let mut condition = Condition::new("");
        let mut parts = Vec::new();
        for (n, filter) in filters.iter().enumerate() {
            let value = format!(":f{n}");
            match filter {
                HistoryFilter::Type(kind) => {
                    parts.push(format!("#type = {value}"));
                    condition = condition
                        .name("#type", "type")
                        .value(&value, AttributeValue::S(kind_name(*kind)));
                }
                HistoryFilter::Invoice(id) => {
                    parts.push(format!("contains(#invoice_ids, {value})"));
                    condition = condition
                        .name("#invoice_ids", "invoice_ids")
                        .value(&value, AttributeValue::S(id.clone()));
                }
            }
        }
        condition.expression = parts.join(" AND ");
        condition
    });
    let (items, last_key) = page(
        table,
        PageQuery {
            index: None,
            partition: (PK, partition.clone()),
            sort: Some(SortCondition::BeginsWith(SK, HISTORY_PREFIX.to_string())),
            descending: true,
            limit: request.limit,
            start,
            filter,
            consistent: true,
            key_attributes: HISTORY_KEY,
        },
    )
    .await?;
    let items = items
        .into_iter()
        .map(from_item)
        .collect::<Result<Vec<HistoryItem>, _>>()?;
    Ok(Page {
        items,
        next_cursor: last_key.as_ref().and_then(crate::cursor::encode),
    })
}

/// The stored spelling of a type (its API name).
fn kind_name(kind: HistoryType) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}
