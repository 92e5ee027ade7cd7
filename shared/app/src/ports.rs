//! What the application needs from the outside world, as small traits: one
//! per store capability, the chase queue, the mailer, SMS, the clock and ids.
//! `shared/store` and `shared/messaging` implement them over AWS;
//! `shared/testkit` in memory.
//!
//! Reads return domain values; writes are [`Write`]s, named changes a use
//! case commits together with [`Transactions::commit`], all or nothing.

use crate::records::{
    CadenceRecord, Chase, ChaseKey, ChaseStatus, CustomerPage, IdempotencyRecord, InvoiceRecord,
    StoredCustomer, TaskFound, TemplateRecord, VersionRecord,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::cadence::Cadence;
use domain::contact::Contact;
use domain::contact_role::ContactRole;
use domain::customer::{Customer, GroupSettings};
use domain::document::Document;
use domain::group::CustomerGroup;
use domain::history::{HistoryItem, HistoryType};
use domain::identity::TenantId;
use domain::invoice::{CollectionStatus, InvoiceStatus};
use domain::note::Note;
use domain::payment::{Adjustment, Payment};
use domain::portal::PortalVisit;
use domain::promise::Promise;
use domain::settings::Settings;
use domain::task::{Task, TaskStatus};
use std::collections::HashMap;

/// Where "now" comes from. Nothing reads the wall clock directly, so the
/// local stack can move time and tests can replay days in seconds.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, used on Lambda.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// New ids: ULIDs, sortable by creation time.
pub trait Ids: Send + Sync {
    fn new_id(&self, at: DateTime<Utc>) -> String;
}

/// Random ULIDs for the creation instant, increasing within the process:
/// records made at one instant (a fixed clock, or the same millisecond) or
/// after the clock was set back still list in the order they were made,
/// as with wall-clock ids.
#[derive(Debug, Default, Clone, Copy)]
pub struct UlidIds;

impl Ids for UlidIds {
    fn new_id(&self, at: DateTime<Utc>) -> String {
        static GENERATOR: std::sync::Mutex<ulid::Generator> =
            std::sync::Mutex::new(ulid::Generator::new());
        // A poisoned lock only means another thread panicked holding it; the
        // generator inside is still a valid last id.
        let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
        generator
            .generate_from_datetime(at.into())
            // Only when 2^80 ids were made in one millisecond.
            .unwrap_or_else(|_| ulid::Ulid::from_datetime(at.into()))
            .to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition of a write did not hold; `index` is the [`Write`] of the
    /// committed list whose condition failed (0 for a single write).
    #[error("condition failed on write {index}")]
    ConditionFailed { index: usize },
    /// Another transaction touched the same items at the same time; retryable.
    #[error("transaction conflict")]
    TransactionConflict,
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("stored item is malformed: {0}")]
    Malformed(String),
    #[error("request rejected: {0}")]
    Rejected(String),
    /// A list cursor that does not continue this listing.
    #[error("not a cursor of this listing")]
    BadCursor,
}

/// `?limit=&cursor=`: how much of a listing, and where to continue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// Opaque; only the listing that produced it accepts it.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

// ------------------------------------------------------------------ reads

#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The tenant's settings (defaults until first saved).
    async fn settings(&self, tenant: &TenantId) -> StoreResult<Settings>;
}

/// How the customer list is narrowed and ordered (docs/api.md: `GET /v1/customers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerFilter {
    Group(String),
    ArSpecialist(String),
    Tag(String),
    ChasingStatus(String),
    HasOverdue(bool),
    /// Customers enrolled in one version of a cadence.
    Enrolment {
        cadence_id: String,
        version: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    /// A to Z.
    Name,
    /// Largest overdue balance first.
    Overdue,
    /// Newest first.
    CreatedAt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerQuery {
    pub filters: Vec<CustomerFilter>,
    /// Prefix search over name, number and email (case-insensitive).
    pub search: Option<String>,
    pub sort: CustomerSort,
    pub page: PageRequest,
}

#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn customer(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<StoredCustomer>>;
    /// The record and every contact of a customer, in one read (the chase
    /// worker's), strongly consistent.
    async fn customer_with_contacts(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<(StoredCustomer, Vec<Contact>)>>;
    /// The records of `ids` by id (missing ones left out), in one batch.
    async fn customers(
        &self,
        tenant: &TenantId,
        ids: &[String],
        consistent: bool,
    ) -> StoreResult<HashMap<String, StoredCustomer>>;
    /// The id of the customer holding `number`.
    async fn customer_id_by_number(
        &self,
        tenant: &TenantId,
        numbers: &[String],
    ) -> StoreResult<HashMap<String, String>>;
    /// One page of the customer list (list copies: no history, invoices or cycle).
    async fn list_customers(
        &self,
        tenant: &TenantId,
        query: CustomerQuery,
    ) -> StoreResult<Page<Customer>>;
    /// The customer page in one read: record, contacts, open invoices, open tasks.
    async fn customer_page(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> StoreResult<Option<CustomerPage>>;
}

/// Which invoices a list shows (docs/api.md: `GET /v1/invoices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceQuery {
    pub customer_id: Option<String>,
    pub status: Option<InvoiceStatus>,
    /// Only open invoices past their (effective) due date as of `today`.
    pub overdue_on: Option<NaiveDate>,
    pub collection_status: Option<CollectionStatus>,
    pub page: PageRequest,
}

#[async_trait]
pub trait InvoiceStore: Send + Sync {
    async fn invoice(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<InvoiceRecord>>;
    /// The open invoices of a customer, as stored (strongly consistent).
    async fn open_invoices(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> StoreResult<Vec<InvoiceRecord>>;
    async fn list_invoices(
        &self,
        tenant: &TenantId,
        query: InvoiceQuery,
    ) -> StoreResult<Page<InvoiceRecord>>;
    /// Which of `numbers` are taken by an invoice of the tenant.
    async fn taken_invoice_numbers(
        &self,
        tenant: &TenantId,
        numbers: &[String],
    ) -> StoreResult<Vec<String>>;
}

/// Payments, adjustments and promises of a customer, newest first.
#[async_trait]
pub trait MoneyRecordStore: Send + Sync {
    async fn payments(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Payment>>;
    async fn promises(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Promise>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Every task, assigned or not.
    All,
    User(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskQuery {
    pub assignee: AssigneeFilter,
    pub status: TaskStatus,
    pub customer_id: Option<String>,
    /// Due strictly before this date.
    pub due_before: Option<NaiveDate>,
    pub page: PageRequest,
}

#[async_trait]
pub trait TaskStore: Send + Sync {
    /// A task and its customer's record.
    async fn task(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<TaskFound>>;
    /// One page by due date: soonest first when open, latest first when completed.
    async fn list_tasks(&self, tenant: &TenantId, query: TaskQuery) -> StoreResult<Page<Task>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryFilter {
    Type(HistoryType),
    Invoice(String),
}

#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// One page of a customer's timeline, newest first.
    async fn history(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        filters: &[HistoryFilter],
        page: PageRequest,
    ) -> StoreResult<Page<HistoryItem>>;
}

#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// One page of a customer's documents, newest first.
    async fn documents(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Document>>;
    async fn document(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        document_id: &str,
    ) -> StoreResult<Option<Document>>;
}

#[async_trait]
pub trait NoteStore: Send + Sync {
    async fn notes(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Note>>;
    /// Which of `invoice_ids` are not invoices of the customer.
    async fn unknown_invoices(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        invoice_ids: &[String],
    ) -> StoreResult<Vec<String>>;
}

#[async_trait]
pub trait ContactStore: Send + Sync {
    /// Every contact of a customer.
    async fn contacts(&self, tenant: &TenantId, customer_id: &str) -> StoreResult<Vec<Contact>>;
}

#[async_trait]
pub trait ContactRoleStore: Send + Sync {
    async fn contact_role(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ContactRole>>;
    async fn contact_roles(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<ContactRole>>;
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn group(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<CustomerGroup>>;
    async fn groups(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<CustomerGroup>>;
}

#[async_trait]
pub trait TemplateStore: Send + Sync {
    async fn template(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<TemplateRecord>>;
    async fn templates(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<TemplateRecord>>;
}

#[async_trait]
pub trait CadenceStore: Send + Sync {
    async fn cadence(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<CadenceRecord>>;
    /// The immutable snapshot an enrolled customer runs on.
    async fn cadence_version(
        &self,
        tenant: &TenantId,
        id: &str,
        version: u32,
    ) -> StoreResult<Option<Cadence>>;
    async fn cadences(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<CadenceRecord>>;
    /// Every cadence of the tenant (at most 100).
    async fn all_cadences(&self, tenant: &TenantId) -> StoreResult<Vec<CadenceRecord>>;
    /// The current versions of the cadences in assignment mode `always`.
    async fn automatic_cadences(&self, tenant: &TenantId) -> StoreResult<Vec<Cadence>>;
    /// Every version of one cadence (`Some`) or of all (`None`), oldest first.
    async fn cadence_versions(
        &self,
        tenant: &TenantId,
        id: Option<&str>,
    ) -> StoreResult<Vec<VersionRecord>>;
}

/// One customer due for evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCustomer {
    pub tenant: TenantId,
    pub customer_id: String,
}

#[async_trait]
pub trait DueIndex: Send + Sync {
    /// How many shards the due index is spread over: a tick's work fans out
    /// one unit per shard.
    fn due_shards(&self) -> u32;
    /// One page of the shard's customers whose next evaluation is at or
    /// before `at`, earliest first; the cursor continues after the page.
    async fn due_page(
        &self,
        shard: u32,
        at: DateTime<Utc>,
        page: PageRequest,
    ) -> StoreResult<Page<DueCustomer>>;
}

#[async_trait]
pub trait ChaseStore: Send + Sync {
    async fn chase(&self, tenant: &TenantId, key: &ChaseKey) -> StoreResult<Option<Chase>>;
}

/// Customer portal links (docs/portal.md).
#[async_trait]
pub trait PortalStore: Send + Sync {
    /// The tenant and customer whose current link has this token hash.
    async fn portal_token(&self, token_hash: &str) -> StoreResult<Option<(TenantId, String)>>;
}

/// Per-tenant report aggregates (README "Reports"), kept from the table's
/// own changes by the stream consumer.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Adds `delta` to the tenant's aggregates once per `record_id` (a
    /// stream record's sequence number), together with a marker of the
    /// record, kept until `keep_until` (longer than the stream keeps
    /// records): `false` when the record had already been applied.
    async fn apply_report_delta(
        &self,
        tenant: &TenantId,
        record_id: &str,
        delta: &domain::reports::Tally,
        keep_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Every open-balance aggregate of the tenant and the `others` named
    /// (all of its aggregates when `others` is `None`). Zero cells left out.
    async fn report_aggregates(
        &self,
        tenant: &TenantId,
        others: Option<&[domain::reports::Aggregate]>,
    ) -> StoreResult<domain::reports::Tally>;
    /// Every item of the tenant that contributes to the aggregates, read
    /// from the items themselves (the rebuild's input).
    async fn report_items(
        &self,
        tenant: &TenantId,
    ) -> StoreResult<Vec<domain::reports::ReportItem>>;
    /// Replaces every aggregate of the tenant with `tally`.
    async fn replace_report_aggregates(
        &self,
        tenant: &TenantId,
        tally: &domain::reports::Tally,
    ) -> StoreResult<()>;
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn idempotency(
        &self,
        tenant: &TenantId,
        key_hash: &str,
    ) -> StoreResult<Option<IdempotencyRecord>>;
}

// ----------------------------------------------------------------- writes

/// A customer's place in chasing: a cadence and the version it runs.
pub type Enrolment = (String, u32);

/// One named change. A list of them commits in one transaction; each
/// carries the condition that makes concurrent writers safe.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// The customer record and its list entries, conditioned on nobody
    /// having written it since `previous` was read (absent when `None`).
    PutCustomer {
        next: Box<Customer>,
        previous: Option<Box<StoredCustomer>>,
    },
    /// Only the evaluation's bookkeeping (both levels' cycles, evaluation times) and the
    /// due index entry: the scheduler's write when its chasing state and
    /// promise did not change (see `writes::chasing`). Lists show none of
    /// these, so puts rewrite only the list entries whose copy changed.
    UpdateChasing {
        stored: Box<StoredCustomer>,
        next: Box<Customer>,
    },
    /// History items recorded on the customer: its `recent_history` moves
    /// (its revision too, not its version) and each item is stored
    /// (notes, task events).
    RecordHistory {
        stored: Box<StoredCustomer>,
        items: Vec<HistoryItem>,
    },
    /// Removes the record if unchanged, its list entries and its number.
    DeleteCustomer {
        stored: Box<StoredCustomer>,
    },
    /// Claims a number for a customer; fails if another customer has it.
    ReserveCustomerNumber {
        number: String,
        customer_id: String,
    },
    ReleaseCustomerNumber {
        number: String,
    },
    /// One timeline item (never overwritten).
    History(Box<HistoryItem>),

    /// The invoice, moved across the page range as it opens or closes,
    /// conditioned on `previous` still being what is stored.
    SaveInvoice {
        next: Box<InvoiceRecord>,
        previous: Option<Box<InvoiceRecord>>,
    },
    ReserveInvoiceNumber {
        number: String,
        invoice_id: String,
    },
    ReleaseInvoiceNumber {
        number: String,
    },
    InsertPayment(Box<Payment>),
    InsertAdjustment(Box<Adjustment>),
    /// The promise record (created, or its progress updated).
    PutPromise(Box<Promise>),

    InsertTask(Box<Task>),
    /// `next` in place of the task at `expected_version` (same status).
    ReplaceTask {
        next: Box<Task>,
        expected_version: u64,
    },
    /// A completed task moved out of the open range; fails unless the open
    /// one is still at `expected_version`.
    CloseTask {
        completed: Box<Task>,
        expected_version: u64,
    },

    InsertNote(Box<Note>),
    /// A document's record (a letter written again on redelivery replaces
    /// itself: its id comes from the chase).
    PutDocument(Box<Document>),

    /// The contact, new (`expected_version` 0) or replacing that version.
    SaveContact {
        contact: Box<Contact>,
        expected_version: u64,
    },
    DeleteContact {
        contact: Box<Contact>,
    },
    /// Moves a contact role's in-use count; fails if the role is gone.
    CountRoleUse {
        role_id: String,
        delta: i64,
    },
    /// A new contact role; fails if its name is taken.
    CreateContactRole(Box<ContactRole>),
    /// Deletes a role nobody uses.
    DeleteContactRole(Box<ContactRole>),

    /// The group, new (`expected_version` 0) or replacing that version.
    SaveGroup {
        group: Box<CustomerGroup>,
        expected_version: u64,
    },
    /// Moves a group's member count; fails if the group is gone.
    CountGroupMember {
        group_id: String,
        delta: i64,
    },
    /// Deletes a group without members.
    DeleteGroup(Box<CustomerGroup>),
    /// Copies a group's settings onto one member, if it is still a member.
    PushGroupSettings {
        group_id: String,
        customer_id: String,
        settings: Box<GroupSettings>,
    },

    /// The template, new (`expected_version` 0) or replacing that version.
    SaveTemplate {
        record: Box<TemplateRecord>,
        expected_version: u32,
    },
    DeleteTemplate(Box<TemplateRecord>),

    /// The cadence's current version and its snapshot. `unenrolled` makes it
    /// fail if anyone is enrolled meanwhile.
    SaveCadence {
        record: Box<CadenceRecord>,
        previous_version: u32,
        unenrolled: bool,
    },
    /// Moves the tenant's cadence count; an increase past the limit fails.
    CountCadences {
        delta: i64,
    },
    /// Deletes a cadence nobody is enrolled in (and counts it out).
    DeleteCadence {
        id: String,
    },
    /// Moves the enrolment counters of cadences and versions.
    CountEnrolments(EnrolmentDeltas),

    /// The tenant's settings, conditioned on `expected_version`.
    SaveSettings {
        settings: Box<Settings>,
        expected_version: u64,
    },

    /// Claims a chase for one delivery of a message (see
    /// [`crate::records::Claim`]); fails if another delivery owns it.
    ClaimChase(Box<Chase>),
    /// Moves a chase from one status to the next; fails if it is not in `from`.
    AdvanceChase {
        key: ChaseKey,
        from: ChaseStatus,
        to: ChaseStatus,
        provider_message_id: Option<String>,
        at: DateTime<Utc>,
    },

    /// The lookup from a portal token's hash to its customer; fails if
    /// the hash is taken. Written with the customer whose nonce makes it.
    PutPortalToken {
        customer_id: String,
        token_hash: String,
    },
    /// Ends a portal link (rotation): its token opens nothing from now on.
    DeletePortalToken {
        token_hash: String,
    },
    /// The customer's portal visit of `visit.on`; fails if that day's
    /// visit is already recorded (one `portal_viewed` a day).
    RecordPortalVisit {
        customer_id: String,
        visit: PortalVisit,
    },

    /// Claims an Idempotency-Key with the response it answered; fails if
    /// the key is taken.
    ClaimIdempotencyKey {
        key_hash: String,
        record: Box<IdempotencyRecord>,
    },
}

/// Enrolment counter changes summed per counter, for writes that move many
/// customers in one transaction (a transaction may touch an item once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolmentDeltas {
    pub cadences: std::collections::BTreeMap<String, i64>,
    pub versions: std::collections::BTreeMap<(String, u32), i64>,
}

impl EnrolmentDeltas {
    pub fn moving(from: Option<Enrolment>, to: Option<Enrolment>) -> Self {
        let mut deltas = Self::default();
        deltas.add(from, -1);
        deltas.add(to, 1);
        deltas
    }

    pub fn add(&mut self, enrolment: Option<Enrolment>, delta: i64) {
        if let Some((id, version)) = enrolment {
            *self.cadences.entry(id.clone()).or_default() += delta;
            *self.versions.entry((id, version)).or_default() += delta;
        }
    }

    pub fn merge(&mut self, other: &EnrolmentDeltas) {
        for (id, delta) in &other.cadences {
            *self.cadences.entry(id.clone()).or_default() += delta;
        }
        for (key, delta) in &other.versions {
            *self.versions.entry(key.clone()).or_default() += delta;
        }
    }

    /// How many counters move (each is one item a transaction writes).
    pub fn len(&self) -> usize {
        self.cadences.values().filter(|d| **d != 0).count()
            + self.versions.values().filter(|d| **d != 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A transaction holds at most this many items (DynamoDB's limit).
pub const MAX_TRANSACTION_ITEMS: usize = 100;

#[async_trait]
pub trait Transactions: Send + Sync {
    /// Commits every write or none. A failed condition reports the index of
    /// the [`Write`] that failed. A transaction cancelled only because
    /// another touched the same items is retried a few times first.
    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> StoreResult<()>;
    /// How many items `writes` take in one transaction.
    fn items_of(&self, tenant: &TenantId, writes: &[Write]) -> usize;
}

/// Every store capability, as the functions' wiring provides them.
pub trait Store:
    SettingsStore
    + CustomerStore
    + InvoiceStore
    + MoneyRecordStore
    + TaskStore
    + HistoryStore
    + NoteStore
    + DocumentStore
    + ContactStore
    + ContactRoleStore
    + GroupStore
    + TemplateStore
    + CadenceStore
    + DueIndex
    + ChaseStore
    + PortalStore
    + IdempotencyStore
    + ReportStore
    + Transactions
{
}

impl<T> Store for T where
    T: SettingsStore
        + CustomerStore
        + InvoiceStore
        + MoneyRecordStore
        + TaskStore
        + HistoryStore
        + NoteStore
        + DocumentStore
        + ContactStore
        + ContactRoleStore
        + GroupStore
        + TemplateStore
        + CadenceStore
        + DueIndex
        + ChaseStore
        + PortalStore
        + IdempotencyStore
        + ReportStore
        + Transactions
{
}

// ------------------------------------------------------------- messaging

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends message bodies in batches; returns the indexes of the ones the
    /// queue accepted.
    async fn enqueue(&self, bodies: &[String]) -> Vec<usize>;
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The provider says nothing was sent (throttling, quotas, sending
    /// paused): safe to retry through the queue.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The provider refused the message for good (invalid address, rejected
    /// content, unverified sender): record it and stop.
    #[error("rejected: {0}")]
    Rejected(String),
    /// It may have gone out: a timeout, a lost connection, an unreadable
    /// answer, a server error, no message id. Never retried (docs/architecture.md, Timeouts).
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

/// The documents bucket: letter PDFs and uploads, by tenant, customer and
/// document id. Links are short-lived and signed for one object.
#[async_trait]
pub trait DocumentFiles: Send + Sync {
    async fn put(
        &self,
        tenant: &TenantId,
        document: &Document,
        bytes: Vec<u8>,
    ) -> Result<(), StoreError>;
    /// The document's bytes (`None` when nothing was uploaded).
    async fn get(
        &self,
        tenant: &TenantId,
        document: &Document,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// A link that accepts exactly this document's type and size.
    async fn upload_url(
        &self,
        tenant: &TenantId,
        document: &Document,
        expires_in: std::time::Duration,
    ) -> Result<String, StoreError>;
    /// A link that downloads the document under its filename.
    async fn download_url(
        &self,
        tenant: &TenantId,
        document: &Document,
        expires_in: std::time::Duration,
    ) -> Result<String, StoreError>;
}

/// Where printed letters go. Today letters are recorded for printing (the
/// PDF is in the documents bucket for a person to print and post); a print
/// and mail API such as Lob plugs in behind this.
#[async_trait]
pub trait PrintProvider: Send + Sync {
    /// Hands over the letter; returns the provider's reference.
    async fn print(&self, tenant: &TenantId, letter: &Document) -> Result<String, SendError>;
}

/// Records the letter for printing by a person: nothing leaves the system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecordedForPrint;

#[async_trait]
impl PrintProvider for RecordedForPrint {
    async fn print(&self, _tenant: &TenantId, letter: &Document) -> Result<String, SendError> {
        Ok(format!("recorded-for-print:{}", letter.id))
    }
}

/// Who an email is from: the tenant's sender address and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub name: Option<String>,
    pub address: String,
}

/// A file sent with an email (the statement PDF, an uploaded document).
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// One chase email. `tags` let delivery feedback find the chase again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub from: Sender,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub html: String,
    /// The plain-text alternative of `html`.
    pub text: String,
    pub attachments: Vec<Attachment>,
    pub tags: Vec<(String, String)>,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email; returns the provider's message id.
    async fn send_email(&self, email: &Email) -> Result<String, SendError>;
}

#[async_trait]
pub trait Sms: Send + Sync {
    /// Sends one transactional SMS; returns the provider's message id.
    async fn send_sms(&self, phone: &str, text: &str) -> Result<String, SendError>;
}

#[cfg(test)]
mod tests {
    use super::{Ids, UlidIds};
    use chrono::TimeZone;

    #[test]
    fn ids_made_at_one_instant_or_after_the_clock_went_back_keep_their_order() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        let earlier = chrono::Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
        let ids: Vec<String> = [at, at, at, earlier]
            .into_iter()
            .map(|t| UlidIds.new_id(t))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(
            ids.iter().collect::<std::collections::BTreeSet<_>>().len(),
            4
        );
    }
}
