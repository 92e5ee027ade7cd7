//! `POST /_local/tick`: what EventBridge and Lambda's SQS event source mapping
//! do in AWS, run to completion for one instant.

use crate::LocalStack;
use app::jobs::scheduler::SchedulerReport;
use app::messages::QueuedRecord;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashSet;

/// Lambda's event source mapping hands a function at most this many records.
const BATCH_SIZE: i32 = 10;
/// A bound so a bug can never spin a tick forever.
const MAX_BATCHES: usize = 100_000;

#[derive(Debug, Default, Serialize)]
pub struct TickReport {
    pub at: DateTime<Utc>,
    pub scheduler: SchedulerReport,
    pub batches: usize,
    pub records: usize,
    pub succeeded: usize,
    pub failed: usize,
}

/// Moves the local clock to `at`, invokes the scheduler with the scheduled
/// event for `at`, then feeds the chase queue to the worker until it is
/// empty: batches of up to 10, successes deleted, reported failures made
/// visible again at once (Lambda would wait for the visibility timeout),
/// so the queue's redrive policy moves poison messages to the DLQ.
pub async fn run(stack: &LocalStack, at: DateTime<Utc>) -> anyhow::Result<TickReport> {
    stack.clock.set(Some(at));
    let scheduler = stack.functions.scheduler.job.tick(at).await?;
    let mut report = TickReport {
        at,
        scheduler,
        ..TickReport::default()
    };
    let sqs = &stack.clients.sqs;
    let queue_url = &stack.resources.chase_queue_url;
    while report.batches < MAX_BATCHES {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        report.batches += 1;
        report.records += messages.len();
        let failed: HashSet<String> = stack
            .functions
            .chase_worker
            .job
            .handle(records(&messages))
            .await
            .into_iter()
            .collect();
        let mut deletes = Vec::new();
        for message in &messages {
            let (Some(id), Some(handle)) = (message.message_id(), message.receipt_handle()) else {
                continue;
            };
            if failed.contains(id) {
                report.failed += 1;
                sqs.change_message_visibility()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await?;
            } else {
                report.succeeded += 1;
                deletes.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(handle)
                        .build()?,
                );
            }
        }
        if !deletes.is_empty() {
            sqs.delete_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(deletes))
                .send()
                .await?;
        }
    }
    Ok(report)
}

/// The records Lambda's event source mapping would deliver for these messages.
fn records(messages: &[Message]) -> Vec<QueuedRecord> {
    messages
        .iter()
        .map(|message| QueuedRecord {
            message_id: message.message_id().map(str::to_string),
            body: message.body().map(str::to_string),
            receive_count: message
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
        })
        .collect()
}
