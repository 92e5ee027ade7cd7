//! Counts the AWS requests each function makes, per operation, and the IAM
//! actions they need, so tests and benchmarks can state what a use case
//! costs and the policy check can compare what runs with what is granted.
//! Attached only by the local runner; deployed functions carry no counter.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
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

    pub fn reset(&self) {
        self.lock().requests.clear();
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

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
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
