//! What the memory store holds, shaped like the DynamoDB table: one
//! partition per customer (record, list copy, contacts, open and closed
//! records, history, chases) and the tenant's own items (settings, number
//! reservations, pointers, groups, roles, templates, cadences, counters,
//! idempotency records). Keeping the same items means the same conditions
//! and the same "one item per transaction" rule can be checked.
//!
//! Counters are signed, as DynamoDB `ADD` makes them: a counter moved below
//! zero is stored, and reading it back is a [`StoreError::Malformed`], as it
//! is when the DynamoDB store parses a negative count into a `u64`.

use app::ports::{StoreError, StoreResult};
use app::records::{
    CadenceRecord, Chase, IdempotencyRecord, InvoiceRecord, StoredCustomer, TemplateRecord,
};
use domain::cadence::Cadence;
use domain::contact::Contact;
use domain::contact_role::ContactRole;
use domain::customer::Customer;
use domain::group::CustomerGroup;
use domain::history::HistoryItem;
use domain::identity::TenantId;
use domain::note::Note;
use domain::payment::{Adjustment, Payment};
use domain::promise::Promise;
use domain::settings::Settings;
use domain::task::{Task, TaskStatus};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default)]
pub(crate) struct State {
    pub tenants: HashMap<TenantId, Tenant>,
}

impl State {
    /// The tenant's data (empty if it never wrote anything).
    pub fn tenant(&self, tenant: &TenantId) -> &Tenant {
        self.tenants.get(tenant).unwrap_or(&EMPTY_TENANT)
    }
}

/// Where a pointer in the tenant partition says a record is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pointer {
    pub customer_id: String,
    /// In the customer page range (open invoice, open task) or out of it.
    pub open: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Tenant {
    pub settings: Option<Settings>,
    pub customers: BTreeMap<String, Partition>,
    /// Number → the customer holding it.
    pub customer_numbers: BTreeMap<String, String>,
    /// Number → the invoice holding it.
    pub invoice_numbers: BTreeMap<String, String>,
    pub invoice_pointers: BTreeMap<String, Pointer>,
    pub task_pointers: BTreeMap<String, Pointer>,
    /// The group and its member count.
    pub groups: BTreeMap<String, (CustomerGroup, i64)>,
    /// The role and how many contacts hold it.
    pub roles: BTreeMap<String, (ContactRole, i64)>,
    /// Unique name → role id.
    pub role_names: BTreeMap<String, String>,
    pub templates: BTreeMap<String, TemplateRecord>,
    /// The current version and the customers enrolled in any version.
    pub cadences: BTreeMap<String, (CadenceRecord, i64)>,
    /// Immutable snapshots and the customers enrolled in each.
    pub cadence_versions: BTreeMap<(String, u32), (Cadence, i64)>,
    /// Absent until the first cadence is created.
    pub cadence_count: Option<i64>,
    pub idempotency: BTreeMap<String, IdempotencyRecord>,
    /// Token hash → customer (the DynamoDB store keeps this lookup outside
    /// the tenant's partitions; hashes do not collide across tenants).
    pub portal_tokens: BTreeMap<String, String>,
    /// Report aggregates and the stream records applied to them.
    pub reports: domain::reports::Tally,
    pub applied_records: std::collections::BTreeSet<String>,
}

/// One customer's partition.
#[derive(Debug, Default)]
pub(crate) struct Partition {
    pub record: Option<StoredCustomer>,
    /// The customer's list entries, as the DynamoDB store keeps them: entry
    /// key (a facet, or `search:<field>`) → the list copy put with it. A put
    /// replaces the entries of the customer it was conditioned on; entries
    /// the stored record no longer names are left behind, as in the table.
    pub entries: BTreeMap<String, Customer>,
    pub contacts: BTreeMap<String, Contact>,
    pub history: BTreeMap<String, HistoryItem>,
    pub notes: BTreeMap<String, Note>,
    pub documents: BTreeMap<String, domain::document::Document>,
    pub open_invoices: BTreeMap<String, InvoiceRecord>,
    pub closed_invoices: BTreeMap<String, InvoiceRecord>,
    pub open_tasks: BTreeMap<String, Task>,
    pub closed_tasks: BTreeMap<String, Task>,
    pub payments: BTreeMap<String, Payment>,
    pub adjustments: BTreeMap<String, Adjustment>,
    pub promises: BTreeMap<String, Promise>,
    /// By (cycle, step).
    pub chases: BTreeMap<ChaseSlot, Chase>,
    pub portal_visit: Option<domain::portal::PortalVisit>,
}

impl Partition {
    pub fn invoices(&self, open: bool) -> &BTreeMap<String, InvoiceRecord> {
        if open {
            &self.open_invoices
        } else {
            &self.closed_invoices
        }
    }

    pub fn invoices_mut(&mut self, open: bool) -> &mut BTreeMap<String, InvoiceRecord> {
        if open {
            &mut self.open_invoices
        } else {
            &mut self.closed_invoices
        }
    }

    pub fn tasks(&self, status: TaskStatus) -> &BTreeMap<String, Task> {
        match status {
            TaskStatus::Open => &self.open_tasks,
            TaskStatus::Completed => &self.closed_tasks,
        }
    }

    pub fn tasks_mut(&mut self, status: TaskStatus) -> &mut BTreeMap<String, Task> {
        match status {
            TaskStatus::Open => &mut self.open_tasks,
            TaskStatus::Completed => &mut self.closed_tasks,
        }
    }
}

/// An empty partition, for reads of customers that have none.
static EMPTY: std::sync::LazyLock<Partition> = std::sync::LazyLock::new(Partition::default);
/// An empty tenant, for reads of tenants that have nothing.
static EMPTY_TENANT: std::sync::LazyLock<Tenant> = std::sync::LazyLock::new(Tenant::default);

impl Tenant {
    /// The customer's partition (empty if nothing was ever written to it).
    pub fn partition(&self, customer_id: &str) -> &Partition {
        self.customers.get(customer_id).unwrap_or(&EMPTY)
    }

    pub fn partition_mut(&mut self, customer_id: &str) -> &mut Partition {
        self.customers.entry(customer_id.to_string()).or_default()
    }

    pub fn record(&self, customer_id: &str) -> Option<&StoredCustomer> {
        self.partition(customer_id).record.as_ref()
    }

    pub fn group(&self, id: &str) -> StoreResult<Option<CustomerGroup>> {
        self.groups
            .get(id)
            .map(|(group, members)| {
                Ok(CustomerGroup {
                    member_count: count(*members, "group member_count")?,
                    ..group.clone()
                })
            })
            .transpose()
    }

    pub fn cadence(&self, id: &str) -> StoreResult<Option<CadenceRecord>> {
        self.cadences
            .get(id)
            .map(|(record, enrolled)| {
                Ok(CadenceRecord {
                    enrolled_count: count(*enrolled, "cadence enrolled_count")?,
                    ..record.clone()
                })
            })
            .transpose()
    }
}

/// A stored counter read as the unsigned count the records carry.
pub(crate) fn count(value: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Malformed(format!("{what} is {value}")))
}

/// Where a chase sits in its customer's partition: (invoice, cycle, step).
pub type ChaseSlot = (Option<String>, u32, u32);

pub fn chase_slot(key: &app::records::ChaseKey) -> ChaseSlot {
    (key.invoice_id.clone(), key.cycle, key.step)
}
