//! What the scheduler puts on the chase queue for the chase worker.

use chrono::{DateTime, Utc};
use domain::cadence::ChaseId;
use serde::{Deserialize, Serialize};

/// One chase to perform: (tenant, customer, cycle, step) identifies it, or
/// (tenant, customer, invoice, cycle, step) at invoice level. A message for
/// a customer with invoice-level chasing may cover more chases of the same
/// run: one message to the customer carries them all (DESIGN §8), and each
/// is claimed and recorded on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaseMessage {
    pub tenant_id: String,
    pub customer_id: String,
    pub cycle: u32,
    pub step: u32,
    pub scheduled_for: DateTime<Utc>,
    /// The cadence of this (the lead) chase.
    pub cadence_id: String,
    pub cadence_version: u32,
    /// The invoice, when the lead chase is invoice-level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// The other invoice-level chases the same message carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<CoveredChase>,
    /// Planned with both levels (the customer is chased at invoice level),
    /// so re-checked with both.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub both_levels: bool,
}

/// An invoice-level chase carried by another chase's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoveredChase {
    pub invoice_id: String,
    pub cycle: u32,
    pub step: u32,
}

impl ChaseMessage {
    /// Whether this message is planned with both levels (the customer has
    /// invoice-level chasing): the worker re-checks it the same way.
    pub fn is_merged(&self) -> bool {
        self.both_levels || self.invoice_id.is_some() || !self.covers.is_empty()
    }

    /// Every chase the message carries, its lead first.
    pub fn chases(&self) -> Vec<ChaseId> {
        let lead = match &self.invoice_id {
            None => ChaseId::Customer {
                cycle: self.cycle,
                position: self.step,
            },
            Some(invoice_id) => ChaseId::Invoice {
                invoice_id: invoice_id.clone(),
                cycle: self.cycle,
                position: self.step,
            },
        };
        let covered = self.covers.iter().map(|c| ChaseId::Invoice {
            invoice_id: c.invoice_id.clone(),
            cycle: c.cycle,
            position: c.step,
        });
        std::iter::once(lead).chain(covered).collect()
    }
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
    /// How many times a first delivery that failed before sending the next
    /// page's unit sent this unit again (bounded: see the scheduler).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resent: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
