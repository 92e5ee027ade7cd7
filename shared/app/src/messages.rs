//! What the scheduler puts on the chase queue for the chase worker.

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

/// One record of a queue batch as the event source delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecord {
    pub message_id: Option<String>,
    pub body: Option<String>,
    /// Which delivery of the message this is (1 for the first).
    pub receive_count: u32,
}

/// One unit of a tick's work on the evaluation queue: a page of one shard
/// of the due index, continuing after `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationUnit {
    pub at: DateTime<Utc>,
    pub shard: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}
