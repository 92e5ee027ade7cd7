//! The reports function: consumes the table's DynamoDB stream and keeps
//! each tenant's report aggregates (README "Reports"). Each record moves the
//! aggregates by the delta of its item's old and new images, applied once:
//! the store writes a marker of the record's sequence number in the same
//! transaction, conditioned on its absence.
//!
//! Records are applied in order; at the first that fails the batch stops and
//! that record is reported, so Lambda retries from it (the records before it
//! are done, the ones after it were not tried): per-shard order is kept.

use crate::context::Context;
use domain::identity::TenantId;
use domain::reports::{delta, ReportItem};

/// One stream record as the reports see it.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// The record's sequence number: what a batch item failure names.
    pub sequence_number: String,
    /// The change, `Ok(None)` when the item is none the reports count, or
    /// why the record could not be read.
    pub change: Result<Option<Change>, String>,
}

/// An item of one tenant going from `old` to `new`.
#[derive(Debug, Clone)]
pub struct Change {
    pub tenant: TenantId,
    pub old: Option<ReportItem>,
    pub new: Option<ReportItem>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportsOutcome {
    /// Records whose delta was written.
    pub applied: usize,
    /// Records applied before (a retried batch).
    pub replayed: usize,
    /// Records of items the reports do not count, or that changed nothing
    /// they count.
    pub skipped: usize,
    /// The sequence number of the first record that failed: Lambda retries
    /// the batch from there.
    pub failed: Option<String>,
}

/// Stream records live 24 hours; a marker outlives any retry of its record.
const MARKER_LIFETIME: chrono::Duration = chrono::Duration::hours(48);

pub struct ReportsConsumer {
    pub context: Context,
}

impl ReportsConsumer {
    pub async fn handle(&self, records: Vec<StreamRecord>) -> ReportsOutcome {
        let mut outcome = ReportsOutcome::default();
        for record in records {
            let change = match record.change {
                Ok(Some(change)) => change,
                Ok(None) => {
                    outcome.skipped += 1;
                    continue;
                }
                Err(why) => {
                    tracing::error!(sequence_number = %record.sequence_number, %why, "unreadable stream record");
                    outcome.failed = Some(record.sequence_number);
                    return outcome;
                }
            };
            let moved = delta(change.old.as_ref(), change.new.as_ref());
            if moved.is_empty() {
                outcome.skipped += 1;
                continue;
            }
            match self
                .context
                .store
                .apply_report_delta(
                    &change.tenant,
                    &record.sequence_number,
                    &moved,
                    self.context.clock.now() + MARKER_LIFETIME,
                )
                .await
            {
                Ok(true) => outcome.applied += 1,
                Ok(false) => outcome.replayed += 1,
                Err(error) => {
                    tracing::warn!(tenant = %change.tenant, sequence_number = %record.sequence_number, %error, "report aggregates not updated");
                    outcome.failed = Some(record.sequence_number);
                    return outcome;
                }
            }
        }
        outcome
    }
}
