//! The chase worker: takes raw SQS batches, handles each record on its own
//! and reports only the failed ones back, so one bad message never fails its
//! neighbours.

use crate::bootstrap::App;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One chase to perform: (tenant, customer, cycle, step) identifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaseMessage {
    pub tenant_id: String,
    pub customer_id: String,
    pub cycle: u32,
    pub step: u32,
    pub scheduled_for: DateTime<Utc>,
    pub cadence_id: String,
    pub cadence_version: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Left for redelivery and, after the redrive limit, the DLQ.
    #[error("malformed message")]
    Malformed,
    #[error("chase execution is not available in this build")]
    NotExecutable,
}

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        if let Err(error) = process(app, record).await {
            // Ids only: bodies may hold customer data.
            tracing::warn!(message_id = %id, error = %error, "record failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn process(_app: &App, record: &SqsMessage) -> Result<(), RecordError> {
    let body = record.body.as_deref().ok_or(RecordError::Malformed)?;
    let message: ChaseMessage = serde_json::from_str(body).map_err(|_| RecordError::Malformed)?;
    tracing::info!(tenant = %message.tenant_id, customer = %message.customer_id, step = message.step, "chase received");
    // Executing chases arrives with the chasing pipeline; until then a
    // message is kept for retry rather than silently dropped.
    Err(RecordError::NotExecutable)
}
