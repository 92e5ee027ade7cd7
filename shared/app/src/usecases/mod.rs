//! Use cases, one module per capability. Each takes validated input, reads
//! through the ports, applies the domain's rules and returns a [`Change`]:
//! the writes to commit together and what the caller answers with. The
//! caller commits (so an HTTP request can add its Idempotency-Key record to
//! the same transaction).

use crate::error::AppError;
use crate::ports::Write;

/// What a failed condition means, when it depends on the request (which
/// field named the missing record).
type Conflict = Box<dyn Fn() -> AppError + Send + Sync>;

/// Writes to commit as one transaction, the value they produce, and what a
/// failed condition on each write means.
pub struct Change<T> {
    pub writes: Vec<Write>,
    pub value: T,
    conflicts: Vec<(usize, Conflict)>,
    otherwise: fn() -> AppError,
}

impl<T> Change<T> {
    /// A change whose failed conditions all mean `otherwise`.
    pub fn new(writes: Vec<Write>, value: T, otherwise: fn() -> AppError) -> Self {
        Self {
            writes,
            value,
            conflicts: Vec::new(),
            otherwise,
        }
    }

    /// A failed condition on write `index` means `error`.
    pub fn on_conflict(
        mut self,
        index: usize,
        error: impl Fn() -> AppError + Send + Sync + 'static,
    ) -> Self {
        self.conflicts.push((index, Box::new(error)));
        self
    }

    /// What a failed condition on write `index` means to the client.
    pub fn conflict(&self, index: usize) -> AppError {
        self.conflicts
            .iter()
            .find(|(i, _)| *i == index)
            .map_or_else(|| (self.otherwise)(), |(_, error)| error())
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Change<U> {
        Change {
            writes: self.writes,
            value: f(self.value),
            conflicts: self.conflicts,
            otherwise: self.otherwise,
        }
    }
}

/// The usual meaning of a failed condition: the record changed since read.
pub fn stale() -> AppError {
    AppError::stale_version()
}

/// Two requests changed one customer's balance at once.
pub fn concurrent_money() -> AppError {
    AppError::concurrent("the customer's balance changed at the same time; reload and retry")
}

/// Ids are ULIDs; anything else cannot name a stored resource.
pub fn valid_id(id: &str) -> bool {
    id.len() == 26 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

pub mod cadences;
pub mod contact_roles;
pub mod contacts;
pub mod customers;
pub mod documents;
pub mod enrolment;
pub mod groups;
pub mod history;
pub mod imports;
pub mod invoices;
pub mod notes;
pub mod payments;
pub mod portal;
pub mod reports;
pub mod settings;
pub mod statements;
pub mod tasks;
#[cfg(feature = "render")]
pub mod templates;
