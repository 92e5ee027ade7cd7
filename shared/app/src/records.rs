//! Domain values as they are stored: with the version or revision a later
//! write is conditioned on, and the timestamps the API shows.

use chrono::{DateTime, Utc};
use domain::cadence::Cadence;
use domain::contact::Contact;
use domain::customer::Customer;
use domain::invoice::Invoice;
use domain::task::Task;
use domain::template::Template;
use serde::{Deserialize, Serialize};

/// A customer as stored, with the revision every write to it is conditioned
/// on (it moves on every write; `version` only on the client's changes).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCustomer {
    pub customer: Customer,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceRecord {
    pub invoice: Invoice,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A task and its customer's record (`None` if the customer is gone).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFound {
    pub task: Task,
    pub customer: Option<StoredCustomer>,
}

/// Everything the customer page shows that is not computed, from one read.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerPage {
    pub customer: StoredCustomer,
    pub contacts: Vec<Contact>,
    pub open_invoices: Vec<InvoiceRecord>,
    pub open_tasks: Vec<Task>,
    /// The last recorded portal visit.
    pub portal_visit: Option<domain::portal::PortalVisit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecord {
    pub template: Template,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The current version of a cadence with what the API shows beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CadenceRecord {
    pub cadence: Cadence,
    /// Customers enrolled in any version of this cadence.
    pub enrolled_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One version's immutable snapshot and how many customers run on it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    pub cadence: Cadence,
    pub enrolled: u64,
}

/// Where a chase is: `claimed` → `sending` → `sent` → `done`, or it ends
/// `suppressed` or `failed`, each move a conditional write.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::AsRefStr, strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ChaseStatus {
    /// A worker owns it and has not started sending.
    Claimed,
    /// The provider may have been called: never call it again.
    Sending,
    /// The provider accepted it; the history is not written yet.
    Sent,
    /// Sent and recorded.
    Done,
    Suppressed,
    Failed,
}

/// A chase is identified by (tenant, customer, cycle, step), and an
/// invoice-level one by (tenant, customer, invoice, cycle, step) with the
/// invoice's own cycle; the tenant is the transaction's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChaseKey {
    pub customer_id: String,
    pub invoice_id: Option<String>,
    pub cycle: u32,
    pub step: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chase {
    pub customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    pub cycle: u32,
    pub step: u32,
    pub status: ChaseStatus,
    /// The SQS message that owns the claim, and on which delivery of it.
    pub owner_message_id: String,
    pub owner_receive_count: u32,
    pub provider_message_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl ChaseKey {
    pub fn of(customer_id: &str, chase: &domain::cadence::ChaseId) -> Self {
        let (invoice_id, cycle, step) = match chase {
            domain::cadence::ChaseId::Customer { cycle, position } => (None, *cycle, *position),
            domain::cadence::ChaseId::Invoice {
                invoice_id,
                cycle,
                position,
            } => (Some(invoice_id.clone()), *cycle, *position),
        };
        Self {
            customer_id: customer_id.to_string(),
            invoice_id,
            cycle,
            step,
        }
    }
}

impl Chase {
    pub fn key(&self) -> ChaseKey {
        ChaseKey {
            customer_id: self.customer_id.clone(),
            invoice_id: self.invoice_id.clone(),
            cycle: self.cycle,
            step: self.step,
        }
    }
}

/// The answer an Idempotency-Key promises to repeat for 24 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// What the key was first used for: method, path and body, hashed.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    pub version: Option<u64>,
    pub location: Option<String>,
    /// Epoch seconds; the record is gone after (also the table's TTL).
    pub expires_at: i64,
}

/// How long an Idempotency-Key's answer is kept (docs/api.md: 24 h).
pub const IDEMPOTENCY_RETENTION_SECONDS: i64 = 24 * 3600;
