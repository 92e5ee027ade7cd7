//! Counts the AWS requests each function makes, per operation, and the IAM
//! actions they need, so tests and benchmarks can state what a use case
//! costs and the policy check can compare what runs with what is granted.
//! Attached only by the local runner; deployed functions carry no counter.

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Counts {
    /// `"DynamoDB.GetItem" -> 3`: each transmitted attempt, retries included,
    /// because each one is billed.
    requests: BTreeMap<String, u64>,
    /// `"dynamodb:PutItem"`: what IAM must allow, including the item-level
    /// actions a transaction's writes need.
    actions: BTreeSet<String>,
    /// DynamoDB capacity units consumed, table and indexes, as DynamoDB
    /// reports them (`ReturnConsumedCapacity: INDEXES` on every call).
    capacity: Capacity,
}

/// Read and write capacity units consumed.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Capacity {
    pub read_units: f64,
    pub write_units: f64,
}

/// One function's counter, shared by its SDK clients.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<Counts>>,
}

impl RequestCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.lock().requests.clone()
    }

    /// IAM actions used since the stack started (never reset).
    pub fn actions(&self) -> BTreeSet<String> {
        self.lock().actions.clone()
    }

    /// Capacity consumed since the last reset.
    pub fn capacity(&self) -> Capacity {
        self.lock().capacity
    }

    pub fn reset(&self) {
        let mut counts = self.lock();
        counts.requests.clear();
        counts.capacity = Capacity::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// IAM's name for an SDK operation: batch SQS calls are authorised by their
/// single-message action.
fn iam_action(service: &str, operation: &str) -> String {
    let prefix = match service {
        "DynamoDB" => "dynamodb",
        "SQS" => "sqs",
        "SESv2" => "ses",
        "SNS" => "sns",
        other => return format!("{}:{operation}", other.to_lowercase()),
    };
    let operation = match (prefix, operation) {
        ("sqs", "SendMessageBatch") => "SendMessage",
        ("sqs", "DeleteMessageBatch") => "DeleteMessage",
        ("sqs", "ChangeMessageVisibilityBatch") => "ChangeMessageVisibility",
        (_, operation) => operation,
    };
    format!("{prefix}:{operation}")
}

/// Asks DynamoDB to report the capacity a call consumes, indexes included.
fn ask_for_capacity(input: &mut aws_smithy_runtime_api::client::interceptors::context::Input) {
    let indexes = Some(ReturnConsumedCapacity::Indexes);
    if let Some(input) = input.downcast_mut::<PutItemInput>() {
        input.return_consumed_capacity = indexes;
    } else if let Some(input) = input.downcast_mut::<UpdateItemInput>() {
        input.return_consumed_capacity = indexes;
    } else if let Some(input) = input.downcast_mut::<DeleteItemInput>() {
        input.return_consumed_capacity = indexes;
    } else if let Some(input) = input.downcast_mut::<TransactWriteItemsInput>() {
        input.return_consumed_capacity = indexes;
    } else if let Some(input) = input.downcast_mut::<GetItemInput>() {
        input.return_consumed_capacity = indexes;
    } else if let Some(input) = input.downcast_mut::<QueryInput>() {
        input.return_consumed_capacity = indexes;
    } else if let Some(input) = input.downcast_mut::<BatchGetItemInput>() {
        input.return_consumed_capacity = indexes;
    }
}

/// The (read, write) units an output reports.
fn consumed(output: &aws_smithy_runtime_api::client::interceptors::context::Output) -> Capacity {
    let units = |c: Option<&ConsumedCapacity>| c.and_then(|c| c.capacity_units()).unwrap_or(0.0);
    let all = |list: &[ConsumedCapacity]| list.iter().map(|c| units(Some(c))).sum::<f64>();
    let write = |write_units| Capacity {
        read_units: 0.0,
        write_units,
    };
    let read = |read_units| Capacity {
        read_units,
        write_units: 0.0,
    };
    if let Some(output) = output.downcast_ref::<PutItemOutput>() {
        write(units(output.consumed_capacity()))
    } else if let Some(output) = output.downcast_ref::<UpdateItemOutput>() {
        write(units(output.consumed_capacity()))
    } else if let Some(output) = output.downcast_ref::<DeleteItemOutput>() {
        write(units(output.consumed_capacity()))
    } else if let Some(output) = output.downcast_ref::<TransactWriteItemsOutput>() {
        write(all(output.consumed_capacity()))
    } else if let Some(output) = output.downcast_ref::<GetItemOutput>() {
        read(units(output.consumed_capacity()))
    } else if let Some(output) = output.downcast_ref::<QueryOutput>() {
        read(units(output.consumed_capacity()))
    } else if let Some(output) = output.downcast_ref::<BatchGetItemOutput>() {
        read(all(output.consumed_capacity()))
    } else {
        Capacity::default()
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ask_for_capacity(context.input_mut());
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(output) = context.output_or_error() {
            let used = consumed(output);
            let mut counts = self.lock();
            counts.capacity.read_units += used.read_units;
            counts.capacity.write_units += used.write_units;
        }
        Ok(())
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let mut counts = self.lock();
        counts
            .actions
            .insert(iam_action(metadata.service(), metadata.name()));
        if let Some(input) = context.input().downcast_ref::<TransactWriteItemsInput>() {
            for item in input.transact_items() {
                let action = if item.put().is_some() {
                    "dynamodb:PutItem"
                } else if item.update().is_some() {
                    "dynamodb:UpdateItem"
                } else if item.delete().is_some() {
                    "dynamodb:DeleteItem"
                } else {
                    "dynamodb:ConditionCheckItem"
                };
                counts.actions.insert(action.to_string());
            }
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            *self
                .lock()
                .requests
                .entry(format!("{}.{}", metadata.service(), metadata.name()))
                .or_default() += 1;
        }
        Ok(())
    }
}
