//! The table's stream fed to the reports function as Lambda's DynamoDB
//! event source mapping does: each shard read in order from its start (or
//! from the last record done), in batches of up to 100 records as a Lambda
//! `Event`; a batch item failure makes the next batch start at the failed
//! record (records before it are done), and a record that keeps failing is
//! set aside after [`MAX_ATTEMPTS`] (Lambda's failure destination) so the
//! shard moves on.
//!
//! `GetRecords` is read as JSON here rather than through the SDK: DynamoDB
//! Local 3.x writes an empty map or list in a stream image as `{}`, without
//! its type (awslabs/amazon-dynamodb-local-samples#37), which the SDK
//! refuses for the whole response. The records are typed again
//! ([`typed_empty_collections`]) and read as the Lambda event they become.

use crate::LocalStack;
use aws_lambda_events::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tokio::sync::Mutex;

/// As the template's `BatchSize`.
const BATCH_SIZE: i32 = 100;
/// As the template's `MaximumRetryAttempts`, counting the first attempt.
pub const MAX_ATTEMPTS: u32 = 3;
/// A bound so a bug can never spin a drain forever.
const MAX_BATCHES: usize = 100_000;

/// Where the mapping is in each shard.
#[derive(Debug, Default)]
struct Position {
    /// The last record done (applied, skipped or set aside).
    done: Option<String>,
    /// Attempts of the record that failed last, by sequence number.
    failing: Option<(String, u32)>,
    /// A closed shard read to its end.
    finished: bool,
}

#[derive(Debug, Default, Serialize, Clone, PartialEq, Eq)]
pub struct DrainReport {
    pub batches: usize,
    pub records: usize,
    /// Batches that reported a failed record (retried).
    pub failed_batches: usize,
    /// Sequence numbers set aside after every attempt failed.
    pub set_aside: Vec<String>,
}

/// The stream reader of one local stack.
pub struct StreamPump {
    client: aws_sdk_dynamodbstreams::Client,
    /// DynamoDB Local's endpoint, for `GetRecords` as JSON.
    endpoint: Option<String>,
    http: reqwest::Client,
    positions: Mutex<BTreeMap<String, Position>>,
}

impl StreamPump {
    /// DynamoDB Local serves the Streams API on its own endpoint.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let mut config = aws_sdk_dynamodbstreams::config::Builder::from(sdk);
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
        config.set_endpoint_url(endpoint.clone());
        Self {
            client: aws_sdk_dynamodbstreams::Client::from_conf(config.build()),
            endpoint,
            http: reqwest::Client::new(),
            positions: Mutex::new(BTreeMap::new()),
        }
    }

    /// Forgets how far each shard was read: the next drain hands every
    /// record the stream still holds to the function again (a replay).
    pub async fn rewind(&self) {
        self.positions.lock().await.clear();
    }

    /// Feeds every record written so far to the reports function.
    pub async fn drain(&self, stack: &LocalStack) -> anyhow::Result<DrainReport> {
        let mut report = DrainReport::default();
        let Some(arn) = &stack.resources.stream_arn else {
            return Ok(report);
        };
        // One drain at a time: a shard's records go in order.
        let mut positions = self.positions.lock().await;
        for shard in self.shards(arn).await? {
            let position = positions.entry(shard.clone()).or_default();
            if position.finished {
                continue;
            }
            self.drain_shard(stack, arn, &shard, position, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn shards(&self, arn: &str) -> anyhow::Result<Vec<String>> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let output = self
                .client
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await?;
            let Some(description) = output.stream_description else {
                return Ok(shards);
            };
            // Parents are listed before their children.
            shards.extend(
                description
                    .shards
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|shard| shard.shard_id),
            );
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => return Ok(shards),
            }
        }
    }

    async fn drain_shard(
        &self,
        stack: &LocalStack,
        arn: &str,
        shard: &str,
        position: &mut Position,
        report: &mut DrainReport,
    ) -> anyhow::Result<()> {
        let mut iterator = self.iterator(arn, shard, position.done.as_deref()).await?;
        while let Some(current) = iterator.take() {
            if report.batches >= MAX_BATCHES {
                anyhow::bail!("stream drain did not end after {MAX_BATCHES} batches");
            }
            let (event, next) = self.records(&current).await?;
            if event.records.is_empty() {
                // Caught up on an open shard, or at the end of a closed one.
                position.finished = next.is_none();
                return Ok(());
            }
            report.batches += 1;
            report.records += event.records.len();
            let sequence: Vec<String> = event
                .records
                .iter()
                .map(|record| record.change.sequence_number.clone().unwrap_or_default())
                .collect();
            let outcome = stack
                .functions
                .reports
                .job
                .handle(store::reports::stream_records(event))
                .await;
            let Some(failed) = outcome.failed else {
                position.done = sequence.last().cloned();
                position.failing = None;
                iterator = next;
                continue;
            };
            report.failed_batches += 1;
            // The records before the failed one are done.
            if let Some(index) = sequence.iter().position(|s| *s == failed) {
                if index > 0 {
                    position.done = Some(sequence[index - 1].clone());
                }
            }
            let attempts = match &position.failing {
                Some((record, attempts)) if *record == failed => attempts + 1,
                _ => 1,
            };
            if attempts >= MAX_ATTEMPTS {
                tracing::error!(sequence_number = %failed, "stream record set aside after {attempts} attempts");
                report.set_aside.push(failed.clone());
                position.done = Some(failed);
                position.failing = None;
            } else {
                position.failing = Some((failed, attempts));
            }
            iterator = self.iterator(arn, shard, position.done.as_deref()).await?;
        }
        Ok(())
    }

    /// An iterator just after `done`, or at the shard's oldest record.
    async fn iterator(
        &self,
        arn: &str,
        shard: &str,
        done: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        let request = self
            .client
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard);
        let request = match done {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        Ok(request.send().await?.shard_iterator)
    }
}

impl StreamPump {
    /// One `GetRecords` as the Lambda event of its records, and the next
    /// iterator (`None` at the end of a closed shard).
    async fn records(&self, iterator: &str) -> anyhow::Result<(Event, Option<String>)> {
        let Some(endpoint) = &self.endpoint else {
            anyhow::bail!(
                "AWS_ENDPOINT_URL_DYNAMODB is not set: the stream pump serves DynamoDB Local"
            );
        };
        // DynamoDB Local checks that a request is signed, not the signature.
        let response: Value = self
            .http
            .post(endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDBStreams_20120810.GetRecords")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .json(&json!({"ShardIterator": iterator, "Limit": BATCH_SIZE}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let next = response["NextShardIterator"].as_str().map(str::to_string);
        let mut records = response["Records"].clone();
        for record in records.as_array_mut().into_iter().flatten() {
            for image in ["Keys", "NewImage", "OldImage"] {
                if let Some(Value::Object(attributes)) = record["dynamodb"].get_mut(image) {
                    for (name, value) in attributes.iter_mut() {
                        typed_empty_collections(name, value);
                    }
                }
            }
        }
        let event: Event = serde_json::from_value(json!({"Records": records}))?;
        Ok((event, next))
    }
}

/// Map-typed attributes of the stored items (everything else that can be
/// empty is a list or a set, stored as a list).
const MAP_ATTRIBUTES: [&str; 2] = ["metadata", "detail"];

/// Puts back the type DynamoDB Local leaves out of an empty map or list.
fn typed_empty_collections(name: &str, value: &mut Value) {
    let Value::Object(typed) = value else {
        return;
    };
    if typed.is_empty() {
        *value = if MAP_ATTRIBUTES.contains(&name) {
            json!({"M": {}})
        } else {
            json!({"L": []})
        };
        return;
    }
    if let Some(Value::Object(entries)) = typed.get_mut("M") {
        for (name, value) in entries.iter_mut() {
            typed_empty_collections(name, value);
        }
    }
    if let Some(Value::Array(elements)) = typed.get_mut("L") {
        for element in elements.iter_mut() {
            // An element has no name; an empty one is taken for a map.
            typed_empty_collections(MAP_ATTRIBUTES[0], element);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_collections_get_their_type_back() {
        let mut image = json!({"tags": {}, "metadata": {}, "recent_history": {"L": [{"M": {"detail": {}, "invoice_ids": {}}}]}});
        for (name, value) in image.as_object_mut().unwrap().iter_mut() {
            typed_empty_collections(name, value);
        }
        assert_eq!(
            image,
            json!({"tags": {"L": []}, "metadata": {"M": {}},
                   "recent_history": {"L": [{"M": {"detail": {"M": {}}, "invoice_ids": {"L": []}}}]}})
        );
    }
}
