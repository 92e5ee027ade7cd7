//! The chase worker: SQS batches of chase messages, each record handled on
//! its own; only failed records are reported back for redelivery.

use app::jobs::chase_worker::ChaseWorker;
use app::messages::QueuedRecord;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = runtime::start().await?;
    let worker = ChaseWorker {
        context: store::context(&started),
        mailer: Arc::new(messaging::ses::SesMailer::new(
            &started.sdk,
            &started.options,
            started.config.ses_configuration_set.clone(),
        )),
        sms: Arc::new(messaging::sns::SnsSms::new(&started.sdk, &started.options)),
    };
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let failed = worker.handle(records(event.payload)).await;
        Ok::<_, Error>(failures(failed))
    }))
    .await
}

/// Each SQS record as the worker reads it (a record without an id or body
/// is the worker's to refuse, not this adapter's).
fn records(event: SqsEvent) -> Vec<QueuedRecord> {
    event
        .records
        .into_iter()
        .map(|record| QueuedRecord {
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
            message_id: record.message_id,
            body: record.body,
        })
        .collect()
}

fn failures(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in failed {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}
