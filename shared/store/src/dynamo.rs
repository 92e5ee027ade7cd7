//! The DynamoDB table: typed errors, single-item reads and all-or-nothing
//! transactional writes. Entity mapping lives in the `*_store` modules.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

pub use app::ports::MAX_TRANSACTION_ITEMS;

/// Attempts of a transaction cancelled by a concurrent one.
const TRANSACTION_ATTEMPTS: u32 = 4;

pub use app::ports::StoreError;

/// The one mapping of DynamoDB's errors to what the application can act on.
pub(crate) fn from_sdk<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(context) => {
            let err = context.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            match code.as_str() {
                "ConditionalCheckFailedException" => StoreError::ConditionFailed { index: 0 },
                "TransactionConflictException" => StoreError::TransactionConflict,
                "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded" => StoreError::Throttled(code),
                "InternalServerError" | "ServiceUnavailable" => StoreError::Unavailable(code),
                _ => StoreError::Rejected(format!("{code}: {}", err.message().unwrap_or(""))),
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{error}"))
        }
        _ => StoreError::Rejected(format!("{error}")),
    }
}

/// One table, addressed by `PK`/`SK`.
#[derive(Debug, Clone)]
pub struct Table {
    client: Client,
    name: String,
}

impl Table {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A strongly consistent read of one item: a version read for an update
    /// must not be stale.
    pub async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(super::keys::PK, AttributeValue::S(pk.to_string()))
            .key(super::keys::SK, AttributeValue::S(sk.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(output.item)
    }

    pub async fn get_as<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get(pk, sk).await?.map(from_item).transpose()
    }

    /// Commits every write or none. A failed condition reports which write
    /// failed. A transaction cancelled only because another one touched the
    /// same items wrote nothing, so it is retried a few times here.
    /// Commits every write or none. A failed condition reports which write
    /// failed. A transaction cancelled only because another one touched the
    /// same items wrote nothing, so it is retried (the one retry loop of
    /// this adapter; everything else relies on the SDK's own retries).
    pub async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        app::retry::retrying(
            TRANSACTION_ATTEMPTS,
            |e| matches!(e, StoreError::TransactionConflict),
            || self.transact_once(writes.clone()),
        )
        .await
    }

    async fn transact_once(&self, writes: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        if let [single] = writes.as_slice() {
            if let Some(result) = self.write_one(single).await {
                return result;
            }
        }
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Rejected(format!(
                "{} writes exceed one transaction",
                writes.len()
            )));
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(context)) => match context.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let reasons = cancelled.cancellation_reasons();
                    let failed = reasons
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"));
                    if let Some(index) = failed {
                        return Err(StoreError::ConditionFailed { index });
                    }
                    let contended = reasons
                        .iter()
                        .any(|r| matches!(r.code(), Some("TransactionConflict")));
                    if contended {
                        return Err(StoreError::TransactionConflict);
                    }
                    let throttled = reasons.iter().any(|r| {
                        matches!(
                            r.code(),
                            Some("ThrottlingError" | "ProvisionedThroughputExceeded")
                        )
                    });
                    if throttled {
                        return Err(StoreError::Throttled("TransactionCanceled".into()));
                    }
                    let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
                    Err(StoreError::Rejected(format!(
                        "transaction cancelled: {codes:?}"
                    )))
                }
                _ => Err(from_sdk(SdkError::ServiceError(context))),
            },
            Err(other) => Err(from_sdk(other)),
        }
    }

    /// One write on its own: the plain conditional call, which costs half
    /// the write units of a one-item transaction. `None` for a lone
    /// condition check, which only a transaction can express.
    async fn write_one(&self, write: &TransactWriteItem) -> Option<Result<(), StoreError>> {
        let result = if let Some(put) = write.put() {
            self.client
                .put_item()
                .table_name(put.table_name())
                .set_item(Some(put.item().clone()))
                .set_condition_expression(put.condition_expression().map(str::to_string))
                .set_expression_attribute_names(put.expression_attribute_names().cloned())
                .set_expression_attribute_values(put.expression_attribute_values().cloned())
                .send()
                .await
                .map(|_| ())
                .map_err(from_sdk)
        } else if let Some(update) = write.update() {
            self.client
                .update_item()
                .table_name(update.table_name())
                .set_key(Some(update.key().clone()))
                .update_expression(update.update_expression())
                .set_condition_expression(update.condition_expression().map(str::to_string))
                .set_expression_attribute_names(update.expression_attribute_names().cloned())
                .set_expression_attribute_values(update.expression_attribute_values().cloned())
                .send()
                .await
                .map(|_| ())
                .map_err(from_sdk)
        } else if let Some(delete) = write.delete() {
            self.client
                .delete_item()
                .table_name(delete.table_name())
                .set_key(Some(delete.key().clone()))
                .set_condition_expression(delete.condition_expression().map(str::to_string))
                .set_expression_attribute_names(delete.expression_attribute_names().cloned())
                .set_expression_attribute_values(delete.expression_attribute_values().cloned())
                .send()
                .await
                .map(|_| ())
                .map_err(from_sdk)
        } else {
            return None;
        };
        Some(result)
    }

    pub fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.name)
            .set_item(Some(item));
        if let Some(condition) = condition {
            put = put
                .condition_expression(condition.expression)
                .set_expression_attribute_names(condition.names)
                .set_expression_attribute_values(condition.values);
        }
        let put = put
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// A condition expression with its placeholders.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    pub expression: String,
    pub names: Option<HashMap<String, String>>,
    pub values: Option<HashMap<String, AttributeValue>>,
}

impl Condition {
    pub fn new(expression: impl Into<String>) -> Self {
        Self {
            expression: expression.into(),
            ..Self::default()
        }
    }

    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values
            .get_or_insert_with(HashMap::new)
            .insert(placeholder.to_string(), value);
        self
    }

    pub fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names
            .get_or_insert_with(HashMap::new)
            .insert(placeholder.to_string(), attribute.to_string());
        self
    }

    /// The item must not exist yet.
    pub fn absent() -> Self {
        Self::new("attribute_not_exists(PK)")
    }

    /// Optimistic concurrency: the stored `version` is the one the caller read
    /// (0 means "never stored").
    pub fn version_is(expected: u64) -> Self {
        if expected == 0 {
            Self::absent()
        } else {
            Self::new("#version = :expected")
                .name("#version", "version")
                .value(":expected", AttributeValue::N(expected.to_string()))
        }
    }
}

pub fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// One page of a query and where the next one starts.
#[derive(Debug, Clone)]
pub struct QueryPage {
    pub items: Vec<Item>,
    pub last_key: Option<Item>,
}

/// A key-condition query on the table or one of its indexes.
#[derive(Debug, Clone)]
pub struct KeyQuery {
    pub index: Option<&'static str>,
    pub partition: (&'static str, String),
    /// `begins_with` on the sort key.
    pub sort_prefix: Option<(&'static str, String)>,
    /// Sort key strictly below a value.
    pub sort_below: Option<(&'static str, String)>,
    /// Sort key between two values, both included.
    pub sort_between: Option<(&'static str, String, String)>,
    pub newest_first: bool,
    pub limit: Option<i32>,
    pub start: Option<Item>,
    /// Strongly consistent reads are only possible on the table itself.
    pub consistent: bool,
    /// Applied after the key condition: it narrows results, not the read.
    pub filter: Option<Condition>,
}

impl KeyQuery {
    pub fn partition(attribute: &'static str, value: impl Into<String>) -> Self {
        Self {
            index: None,
            partition: (attribute, value.into()),
            sort_prefix: None,
            sort_below: None,
            sort_between: None,
            newest_first: false,
            limit: None,
            start: None,
            consistent: false,
            filter: None,
        }
    }

    pub fn filter(mut self, filter: Option<Condition>) -> Self {
        self.filter = filter;
        self
    }

    pub fn on_index(mut self, index: &'static str) -> Self {
        self.index = Some(index);
        self
    }

    pub fn sort_begins_with(mut self, attribute: &'static str, prefix: impl Into<String>) -> Self {
        self.sort_prefix = Some((attribute, prefix.into()));
        self
    }

    pub fn sort_before(mut self, attribute: &'static str, value: impl Into<String>) -> Self {
        self.sort_below = Some((attribute, value.into()));
        self
    }

    pub fn sort_between(
        mut self,
        attribute: &'static str,
        low: impl Into<String>,
        high: impl Into<String>,
    ) -> Self {
        self.sort_between = Some((attribute, low.into(), high.into()));
        self
    }

    pub fn descending(mut self) -> Self {
        self.newest_first = true;
        self
    }

    pub fn limit(mut self, limit: i32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn start(mut self, start: Option<Item>) -> Self {
        self.start = start;
        self
    }

    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }
}

impl Table {
    pub async fn query(&self, query: KeyQuery) -> Result<QueryPage, StoreError> {
        let mut condition = "#pk = :pk".to_string();
        let mut request = self
            .client
            .query()
            .table_name(&self.name)
            .set_index_name(query.index.map(str::to_string))
            .expression_attribute_names("#pk", query.partition.0)
            .expression_attribute_values(":pk", AttributeValue::S(query.partition.1))
            .scan_index_forward(!query.newest_first)
            .set_limit(query.limit)
            .set_exclusive_start_key(query.start)
            .consistent_read(query.consistent && query.index.is_none());
        if let Some((attribute, prefix)) = query.sort_prefix {
            condition.push_str(" AND begins_with(#sk, :prefix)");
            request = request
                .expression_attribute_names("#sk", attribute)
                .expression_attribute_values(":prefix", AttributeValue::S(prefix));
        }
        if let Some((attribute, below)) = query.sort_below {
            condition.push_str(" AND #sk < :below");
            request = request
                .expression_attribute_names("#sk", attribute)
                .expression_attribute_values(":below", AttributeValue::S(below));
        }
        if let Some((attribute, low, high)) = query.sort_between {
            condition.push_str(" AND #sk BETWEEN :low AND :high");
            request = request
                .expression_attribute_names("#sk", attribute)
                .expression_attribute_values(":low", AttributeValue::S(low))
                .expression_attribute_values(":high", AttributeValue::S(high));
        }
        if let Some(filter) = query.filter {
            for (placeholder, attribute) in filter.names.unwrap_or_default() {
                request = request.expression_attribute_names(placeholder, attribute);
            }
            for (placeholder, value) in filter.values.unwrap_or_default() {
                request = request.expression_attribute_values(placeholder, value);
            }
            request = request.filter_expression(filter.expression);
        }
        let output = request
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(QueryPage {
            items: output.items.unwrap_or_default(),
            last_key: output.last_evaluated_key,
        })
    }

    /// Every item the query matches, page after page (a page stops at the
    /// query's limit or at DynamoDB's 1 MB).
    /// A uniqueness reservation (a customer number, an invoice number, a
    /// role name): an item that can only be written while absent, naming
    /// its owner. Committed with the owner's own writes.
    pub fn reserve(
        &self,
        pk: &str,
        sk: &str,
        owner: (&str, &str),
    ) -> Result<TransactWriteItem, StoreError> {
        let item: Item = [
            (
                super::keys::PK.to_string(),
                AttributeValue::S(pk.to_string()),
            ),
            (
                super::keys::SK.to_string(),
                AttributeValue::S(sk.to_string()),
            ),
            (owner.0.to_string(), AttributeValue::S(owner.1.to_string())),
        ]
        .into();
        self.put(item, Some(Condition::absent()))
    }

    /// One page of a tenant's own list: items of the tenant partition whose
    /// sort key starts with `prefix` (cadences, templates, groups, roles).
    pub async fn tenant_list_page(
        &self,
        tenant: &domain::identity::TenantId,
        prefix: &str,
        request: &app::ports::PageRequest,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let partition = super::keys::tenant_pk(tenant);
        let start =
            crate::cursor::decode(request.cursor.as_deref(), (super::keys::PK, &partition))?;
        let page = self
            .query(
                KeyQuery::partition(super::keys::PK, partition)
                    .sort_begins_with(super::keys::SK, prefix)
                    .limit(i32::try_from(request.limit).unwrap_or(i32::MAX))
                    .start(start),
            )
            .await?;
        Ok((
            page.items,
            page.last_key.as_ref().and_then(crate::cursor::encode),
        ))
    }

    pub async fn query_all(&self, query: KeyQuery) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = query.start.clone();
        loop {
            let page = self.query(query.clone().start(start)).await?;
            items.extend(page.items);
            start = page.last_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// An update expression such as `ADD member_count :one`; the
    /// condition's placeholders are shared with the update.
    pub fn update(
        &self,
        pk: &str,
        sk: &str,
        expression: &str,
        condition: Condition,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.name)
            .key(super::keys::PK, AttributeValue::S(pk.to_string()))
            .key(super::keys::SK, AttributeValue::S(sk.to_string()))
            .update_expression(expression)
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .set_expression_attribute_values(condition.values)
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub fn delete(
        &self,
        pk: &str,
        sk: &str,
        condition: Option<Condition>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.name)
            .key(super::keys::PK, AttributeValue::S(pk.to_string()))
            .key(super::keys::SK, AttributeValue::S(sk.to_string()));
        if let Some(condition) = condition {
            delete = delete
                .condition_expression(condition.expression)
                .set_expression_attribute_names(condition.names)
                .set_expression_attribute_values(condition.values);
        }
        let delete = delete
            .build()
            .map_err(|e| StoreError::Rejected(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

/// DynamoDB answers at most this many keys per `BatchGetItem`.
const BATCH_GET_KEYS: usize = 100;
const BATCH_GET_ATTEMPTS: u32 = 5;

/// Reads items by key, any number of them, in as few `BatchGetItem`
/// requests as DynamoDB allows; keys it leaves unprocessed are retried.
pub async fn batch_get(
    table: &Table,
    keys: &[(String, String)],
    consistent: bool,
) -> Result<Vec<Item>, StoreError> {
    let distinct: std::collections::BTreeSet<&(String, String)> = keys.iter().collect();
    let distinct: Vec<&(String, String)> = distinct.into_iter().collect();
    let mut found = Vec::new();
    for chunk in distinct.chunks(BATCH_GET_KEYS) {
        let mut pending: Vec<Item> = chunk
            .iter()
            .map(|(pk, sk)| {
                [
                    (super::keys::PK.to_string(), AttributeValue::S(pk.clone())),
                    (super::keys::SK.to_string(), AttributeValue::S(sk.clone())),
                ]
                .into()
            })
            .collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt == BATCH_GET_ATTEMPTS {
                return Err(StoreError::Throttled(
                    "BatchGetItem unprocessed keys".into(),
                ));
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
            attempt += 1;
            let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::Rejected(e.to_string()))?;
            let output = table
                .client()
                .batch_get_item()
                .request_items(table.name(), request)
                .send()
                .await
                .map_err(from_sdk)?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(table.name()).unwrap_or_default());
            }
            if let Some(mut unprocessed) = output.unprocessed_keys {
                if let Some(left) = unprocessed.remove(table.name()) {
                    pending = left.keys;
                }
            }
        }
    }
    Ok(found)
}

pub fn text_attribute<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}
