//! Cadences and the evaluation that decides, for one customer at one instant,
//! which step runs (docs/chasing.md). Pure: the worker, the scheduler and the
//! preview all call the same [`Evaluator`], so what is previewed is what runs.
//!
//! Choices the rules leave open:
//! - Step positions are 0-based indexes into `steps`.
//! - A step is due on the run whose local date is at least its anchor (oldest
//!   item date, or oldest due date) plus `days`; ages are measured on the
//!   run's local date.
//! - A due step whose contact role no customer contact holds is passed over
//!   (not superseded) while an applicable step runs; it stays eligible and is
//!   superseded only when a later step runs.
//! - The frequency cap counts emails, SMS and letters sent on the tenant-local
//!   dates of the window (today and the `window_days - 1` before), so a daily
//!   09:00 run is never blocked by yesterday's 09:00:03 send. Phone calls and
//!   escalations are tasks for the team, not messages, and are never capped.
//! - A threshold in another currency than the customer's is not applied
//!   (no conversion exists yet; per-currency chasing is deferred).
//! - Pausing "until" a date means chasing resumes on that date; a promise
//!   holds chasing through `promised_date + grace_days` inclusive.

mod assignment;
mod combined;
mod cycle;
mod definition;
mod evaluate;
mod invoice_level;
#[cfg(test)]
mod invoice_level_tests;
#[cfg(test)]
mod tests;

pub use assignment::*;
pub use combined::*;
pub use cycle::*;
pub use definition::*;
pub use evaluate::*;
pub use invoice_level::*;

/// docs/chasing.md: at most 100 steps a cadence.
pub const MAX_STEPS: usize = 100;
/// docs/chasing.md: at most 100 cadences a tenant (checked by the caller, who can count).
pub const MAX_CADENCES_PER_TENANT: usize = 100;
/// Ten years: a later step can never run in any real account.
pub const MAX_STEP_DAYS: i32 = 3650;
/// Reminders may go up to a year before the due date.
pub const MIN_PAST_DUE_DAYS: i32 = -365;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_RULES: usize = 20;
pub(crate) const MAX_REF_CHARS: usize = 128;
pub(crate) const MAX_RULE_VALUE_CHARS: usize = 200;
