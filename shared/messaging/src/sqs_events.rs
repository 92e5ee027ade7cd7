//! The SQS events Lambda delivers to the chase worker, and its answer.

/// The records of an SQS event as the chase worker reads them (a record
/// without an id or body is the worker's to refuse, not this adapter's).
pub fn records(event: aws_lambda_events::sqs::SqsEvent) -> Vec<app::messages::QueuedRecord> {
    event
        .records
        .into_iter()
        .map(|record| app::messages::QueuedRecord {
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

/// Lambda's answer for a batch: only the failed records go back.
pub fn batch_response(failed: Vec<String>) -> aws_lambda_events::sqs::SqsBatchResponse {
    let mut response = aws_lambda_events::sqs::SqsBatchResponse::default();
    for id in failed {
        let mut failure = aws_lambda_events::sqs::BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}
