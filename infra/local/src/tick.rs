//! `POST /_local/tick`: what EventBridge and Lambda's SQS event source
//! mappings do in AWS, run to completion for one instant, with the
//! concurrency the template allows.

use crate::LocalStack;
use app::jobs::scheduler::SchedulerReport;
use app::messages::QueuedRecord;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Mutex;

/// The chase worker's batch size (`template.yaml`, `BatchSize`).
const CHASE_BATCH_SIZE: i32 = 10;
/// The evaluation units' batch size: one unit per invocation.
const UNIT_BATCH_SIZE: i32 = 1;
/// SQS hands out at most 10 messages per receive.
const SQS_RECEIVE_MAX: usize = 10;
/// A bound so a bug can never spin a tick forever.
const MAX_BATCHES: usize = 1_000_000;

/// Invocations of each queue-driven function that run at once, as the
/// event source mappings' `MaximumConcurrency` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Concurrency {
    pub chase_worker: usize,
    pub evaluation: usize,
}

/// What one queue's invocations did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct QueueReport {
    pub batches: usize,
    pub records: usize,
    pub succeeded: usize,
    pub failed: usize,
}

impl QueueReport {
    fn add(&mut self, other: &QueueReport) {
        self.batches += other.batches;
        self.records += other.records;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
    }
}

#[derive(Debug, Default, Serialize)]
pub struct TickReport {
    pub at: DateTime<Utc>,
    /// What the evaluation units did, summed.
    pub scheduler: SchedulerReport,
    pub evaluation: QueueReport,
    /// The chase worker's batches.
    pub batches: usize,
    pub records: usize,
    pub succeeded: usize,
    pub failed: usize,
}

/// Moves the local clock to `at` and invokes the scheduler with the
/// scheduled event for `at`; then the evaluation units and the chase queue
/// are fed to their functions, each with its concurrency, until both
/// queues are empty. Successes are deleted; reported failures are made
/// visible again at once (Lambda would wait for the visibility timeout),
/// so the redrive policies move poison messages to the DLQs.
pub async fn run(stack: &LocalStack, at: DateTime<Utc>) -> anyhow::Result<TickReport> {
    stack.clock.set(Some(at));
    stack.functions.scheduler.job.tick(at).await?;
    drain_after_fan_out(stack, at).await
}

/// What follows the tick's invocation: its units and the chases they lead
/// to, until both queues are empty.
pub async fn drain_after_fan_out(
    stack: &LocalStack,
    at: DateTime<Utc>,
) -> anyhow::Result<TickReport> {
    let mut report = TickReport {
        at,
        ..TickReport::default()
    };
    let scheduler = Mutex::new(SchedulerReport::default());
    let mut chases = QueueReport::default();
    loop {
        // Both queues at once, as Lambda polls them: chases go out while
        // later units are still being evaluated.
        let (units, sent) = tokio::join!(drain_units(stack, &scheduler), work_chases(stack));
        let (units, sent) = (units?, sent?);
        report.evaluation.add(&units);
        chases.add(&sent);
        if units.records == 0 && sent.records == 0 {
            break;
        }
    }
    report.scheduler = scheduler.into_inner().unwrap_or_default();
    report.batches = chases.batches;
    report.records = chases.records;
    report.succeeded = chases.succeeded;
    report.failed = chases.failed;
    Ok(report)
}

/// The scheduler's invocations for `at`: the tick, then every evaluation
/// unit it leads to (nothing is sent: the chase queue keeps its messages).
pub async fn schedule(stack: &LocalStack, at: DateTime<Utc>) -> anyhow::Result<SchedulerReport> {
    stack.functions.scheduler.job.tick(at).await?;
    evaluate_units(stack).await
}

/// The evaluation units on the queue, until none is left (the chases they
/// enqueue stay on the chase queue).
pub async fn evaluate_units(stack: &LocalStack) -> anyhow::Result<SchedulerReport> {
    let scheduler = Mutex::new(SchedulerReport::default());
    while drain_units(stack, &scheduler).await?.records > 0 {}
    Ok(scheduler.into_inner().unwrap_or_default())
}

async fn drain_units(
    stack: &LocalStack,
    summed: &Mutex<SchedulerReport>,
) -> anyhow::Result<QueueReport> {
    let job = &stack.functions.scheduler.job;
    drain(
        stack,
        &stack.resources.evaluation_queue_url,
        UNIT_BATCH_SIZE,
        stack.concurrency.evaluation,
        |records| async move {
            let (report, failed) = job.handle(records).await;
            if let Ok(mut summed) = summed.lock() {
                summed.add(&report);
            }
            failed
        },
    )
    .await
}

/// The chase worker's invocations until the chase queue is empty.
pub async fn work_chases(stack: &LocalStack) -> anyhow::Result<QueueReport> {
    let job = &stack.functions.chase_worker.job;
    drain(
        stack,
        &stack.resources.chase_queue_url,
        CHASE_BATCH_SIZE,
        stack.concurrency.chase_worker,
        |records| job.handle(records),
    )
    .await
}

/// One poller, as Lambda's event source mapping runs one: it receives up
/// to 10 messages, invokes `handle` with batches of `batch_size`, at most
/// `concurrency` invocations at once, settles each batch as its invocation
/// ends, and stops once nothing is visible and nothing is running.
async fn drain<F, Fut>(
    stack: &LocalStack,
    queue_url: &str,
    batch_size: i32,
    concurrency: usize,
    handle: F,
) -> anyhow::Result<QueueReport>
where
    F: Fn(Vec<QueuedRecord>) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let concurrency = concurrency.max(1);
    let batch_size = usize::try_from(batch_size).unwrap_or(1).max(1);
    let mut report = QueueReport::default();
    let mut running = FuturesUnordered::new();
    while report.batches < MAX_BATCHES {
        let free = concurrency.saturating_sub(running.len());
        if free > 0 {
            let wanted = (free * batch_size).min(SQS_RECEIVE_MAX);
            let received = stack
                .clients
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(i32::try_from(wanted).unwrap_or(1))
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await?;
            let messages = received.messages.unwrap_or_default();
            if !messages.is_empty() {
                for batch in messages.chunks(batch_size) {
                    report.batches += 1;
                    report.records += batch.len();
                    let batch = batch.to_vec();
                    let invocation = handle(records(&batch));
                    running.push(async move { (batch, invocation.await) });
                }
                continue;
            }
        }
        match running.next().await {
            Some((batch, failed)) => {
                let failed: HashSet<String> = failed.into_iter().collect();
                settle(stack, queue_url, &batch, &failed, &mut report).await?;
            }
            None => break,
        }
    }
    Ok(report)
}

/// Deletes the batch's successes and makes its failures visible again.
async fn settle(
    stack: &LocalStack,
    queue_url: &str,
    messages: &[Message],
    failed: &HashSet<String>,
    report: &mut QueueReport,
) -> anyhow::Result<()> {
    let sqs = &stack.clients.sqs;
    let mut deletes = Vec::new();
    for message in messages {
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
    Ok(())
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
