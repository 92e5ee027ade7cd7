//! Small, valid domain values to write in tests, all dated from one fixed
//! instant so runs are repeatable. Each builder fills what a store needs and
//! leaves the rest empty; tests change the fields they are about.

use app::records::{
    CadenceRecord, Chase, ChaseStatus, IdempotencyRecord, InvoiceRecord, TemplateRecord,
};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use domain::cadence::{Assignment, AssignmentMode, Cadence};
use domain::contact::Contact;
use domain::contact_role::ContactRole;
use domain::customer::{BalanceSummary, Chasing, Customer};
use domain::group::CustomerGroup;
use domain::history::{HistoryItem, HistoryType};
use domain::identity::TenantId;
use domain::invoice::{CollectionStatus, Invoice};
use domain::money::Currency;
use domain::note::Note;
use domain::payment::Payment;
use domain::promise::Promise;
use domain::schedule::{RunAt, Timing};
use domain::task::{Task, TaskStatus, TaskType};
use domain::template::{Channel, Template};
use rust_decimal::Decimal;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fixture that could not be built (a constant the domain refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError(pub String);

impl std::fmt::Display for FixtureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fixture: {}", self.0)
    }
}

impl std::error::Error for FixtureError {}

/// A tenant nobody has used: `<label>-<ulid>`. Checks that share a table
/// (DynamoDB Local) never see each other's data.
pub fn fresh_tenant(label: &str) -> Result<TenantId, FixtureError> {
    let raw = format!("{label}-{}", ulid::Ulid::new());
    TenantId::parse(&raw).ok_or_else(|| FixtureError(format!("{raw} is not a tenant id")))
}

/// The builders, with the constants they share.
#[derive(Debug)]
pub struct Fixtures {
    currency: Currency,
    run_at: RunAt,
    base: DateTime<Utc>,
    ids: AtomicU64,
}

impl Fixtures {
    /// Every fixture is dated from 2001-01-01T00:00:00Z, in EUR.
    pub fn new() -> Result<Self, FixtureError> {
        Ok(Self {
            currency: Currency::parse("EUR").ok_or_else(|| FixtureError("EUR".into()))?,
            run_at: RunAt::new(9, 0).ok_or_else(|| FixtureError("09:00".into()))?,
            base: DateTime::from_timestamp(978_307_200, 0)
                .ok_or_else(|| FixtureError("2001-01-01".into()))?,
            ids: AtomicU64::new(0),
        })
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The base instant moved by `seconds`.
    pub fn instant(&self, seconds: i64) -> DateTime<Utc> {
        self.base + TimeDelta::seconds(seconds)
    }

    /// The base date moved by `days`.
    pub fn day(&self, days: i64) -> NaiveDate {
        (self.base + TimeDelta::days(days)).date_naive()
    }

    /// A ULID for `at`; later calls sort after earlier ones at one instant.
    pub fn id_at(&self, at: DateTime<Utc>) -> String {
        let n = self.ids.fetch_add(1, Ordering::SeqCst) + 1;
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        ulid::Ulid::from_parts(millis, u128::from(n)).to_string()
    }

    /// A customer numbered `N-<id>`, created at the base instant, version 1,
    /// not enrolled, with nothing owed.
    pub fn customer(&self, id: &str, name: &str) -> Customer {
        Customer {
            id: id.to_string(),
            number: format!("N-{id}"),
            name: name.to_string(),
            email: None,
            phone: None,
            language: None,
            currency: self.currency,
            payment_terms: None,
            tags: Vec::new(),
            billing_address: None,
            shipping_address: None,
            credit_limit: None,
            ar_specialist_id: None,
            group_id: None,
            autopay: None,
            auto_settle: None,
            portal_note: None,
            portal_nonce: None,
            metadata: Default::default(),
            chasing: Chasing::default(),
            balance: BalanceSummary::default(),
            account_age: None,
            past_due_age: None,
            payer_rating: None,
            primary_contact_id: None,
            contact_phones: Vec::new(),
            group_settings: None,
            open_invoice_count: 0,
            open_invoices: Vec::new(),
            payment_stats: Default::default(),
            active_promise: None,
            cycle: Default::default(),
            chase_timing: None,
            invoice_chase_timing: None,
            override_chase_timings: Default::default(),
            invoice_cycles: Default::default(),
            next_evaluation_at: None,
            last_evaluated_at: None,
            messages_sent: Vec::new(),
            contact_roles: Default::default(),
            recent_history: Vec::new(),
            version: 1,
            created_at: self.base,
            updated_at: self.base,
        }
    }

    /// An open invoice numbered `INV-<id>` of `total` EUR, issued 30 days
    /// before it is due, version 1.
    pub fn invoice(
        &self,
        customer_id: &str,
        id: &str,
        due: NaiveDate,
        total: i64,
    ) -> InvoiceRecord {
        InvoiceRecord {
            invoice: Invoice {
                id: id.to_string(),
                customer_id: customer_id.to_string(),
                number: format!("INV-{id}"),
                currency: self.currency,
                issue_date: due - TimeDelta::days(30),
                due_date: Some(due),
                total: Decimal::from(total),
                amount_paid: Decimal::ZERO,
                autopay: false,
                collection_status: CollectionStatus::Normal,
                dispute_reason: None,
                voided: false,
                payment_plan: None,
                chasing: Default::default(),
            },
            version: 1,
            created_at: self.base,
            updated_at: self.base,
        }
    }

    /// The next version of `record` with everything paid: a closed invoice.
    pub fn paid(&self, record: &InvoiceRecord) -> InvoiceRecord {
        let mut paid = record.clone();
        paid.invoice.amount_paid = paid.invoice.total;
        paid.version += 1;
        paid
    }

    /// An open call reminder, version 1.
    pub fn task(
        &self,
        customer_id: &str,
        id: &str,
        due: NaiveDate,
        assignee: Option<&str>,
    ) -> Task {
        Task {
            id: id.to_string(),
            customer_id: customer_id.to_string(),
            kind: TaskType::CallReminder,
            title: format!("Call about {id}"),
            invoice_ids: Vec::new(),
            assignee_id: assignee.map(str::to_string),
            due_date: due,
            status: TaskStatus::Open,
            outcome: None,
            completion_note: None,
            completed_at: None,
            completed_by: None,
            created_by: "user-1".to_string(),
            version: 1,
            created_at: self.base,
            updated_at: self.base,
        }
    }

    /// `task` completed at the base instant, one version on.
    pub fn completed(&self, task: &Task) -> Task {
        Task {
            status: TaskStatus::Completed,
            completed_at: Some(self.base),
            completed_by: Some("user-1".to_string()),
            version: task.version + 1,
            ..task.clone()
        }
    }

    /// A timeline item with a fresh id for `at` (ids sort by it).
    pub fn history(&self, customer_id: &str, kind: HistoryType, at: DateTime<Utc>) -> HistoryItem {
        HistoryItem {
            id: self.id_at(at),
            customer_id: customer_id.to_string(),
            kind,
            occurred_at: at,
            actor: "user-1".to_string(),
            summary: format!("{kind:?}"),
            invoice_ids: Vec::new(),
            detail: serde_json::json!({}),
        }
    }

    pub fn note(&self, customer_id: &str, at: DateTime<Utc>) -> Note {
        Note {
            id: self.id_at(at),
            customer_id: customer_id.to_string(),
            body: "Spoke to accounts payable.".to_string(),
            invoice_ids: Vec::new(),
            reminder_date: None,
            reminder_task_id: None,
            author_id: "user-1".to_string(),
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    pub fn payment(&self, customer_id: &str, at: DateTime<Utc>, amount: i64) -> Payment {
        Payment {
            id: self.id_at(at),
            customer_id: customer_id.to_string(),
            amount: Decimal::from(amount),
            currency: self.currency,
            date: at.date_naive(),
            method: None,
            reference: None,
            applications: Vec::new(),
            unapplied: Decimal::from(amount),
            created_by: "user-1".to_string(),
            created_at: at,
        }
    }

    pub fn promise(&self, customer_id: &str, at: DateTime<Utc>, amount: i64) -> Promise {
        Promise {
            id: self.id_at(at),
            customer_id: customer_id.to_string(),
            amount: Decimal::from(amount),
            currency: self.currency,
            promised_date: at.date_naive() + TimeDelta::days(7),
            note: None,
            grace_days: 3,
            paid_since: Decimal::ZERO,
            kept_on: None,
            created_by: "user-1".to_string(),
            created_at: at,
        }
    }

    /// A contact that receives chasers, version 1.
    pub fn contact(&self, customer_id: &str, id: &str) -> Contact {
        Contact {
            id: id.to_string(),
            customer_id: customer_id.to_string(),
            name: format!("Contact {id}"),
            email: Some(format!("{id}@example.com")),
            phone: None,
            sms_enabled: false,
            roles: Vec::new(),
            receives_chasers: true,
            receives_escalations: false,
            cc: false,
            email_bouncing: false,
            version: 1,
            created_at: self.base,
            updated_at: self.base,
        }
    }

    pub fn contact_role(&self, id: &str, name: &str) -> ContactRole {
        ContactRole {
            id: id.to_string(),
            name: name.to_string(),
            version: 1,
            created_at: self.base,
            updated_at: self.base,
        }
    }

    /// A group without members or settings, version 1.
    pub fn group(&self, id: &str, name: &str) -> CustomerGroup {
        CustomerGroup {
            id: id.to_string(),
            name: name.to_string(),
            settings: Default::default(),
            member_count: 0,
            version: 1,
            created_at: self.base,
            updated_at: self.base,
        }
    }

    pub fn template(&self, id: &str, version: u32) -> TemplateRecord {
        TemplateRecord {
            template: Template {
                id: id.to_string(),
                name: format!("Template {id}"),
                channel: Channel::Email,
                subject: Some("Your account".to_string()),
                body: "Please pay.".to_string(),
                attach_documents: false,
                version,
            },
            created_at: self.base,
            updated_at: self.base,
        }
    }

    /// A daily cadence without steps at `version`, nobody enrolled.
    pub fn cadence(&self, id: &str, version: u32, mode: AssignmentMode) -> CadenceRecord {
        CadenceRecord {
            cadence: Cadence {
                id: id.to_string(),
                name: format!("Cadence {id}"),
                level: domain::cadence::Level::Customer,
                timing: Timing::daily(self.run_at),
                threshold: None,
                steps: Vec::new(),
                assignment: Assignment {
                    mode,
                    ..Assignment::default()
                },
                version,
            },
            enrolled_count: 0,
            created_at: self.base,
            updated_at: self.base,
        }
    }

    /// A chase claimed by delivery `receive_count` of SQS message `message`.
    pub fn chase(
        &self,
        customer_id: &str,
        cycle: u32,
        step: u32,
        message: &str,
        receive_count: u32,
    ) -> Chase {
        Chase {
            customer_id: customer_id.to_string(),
            invoice_id: None,
            cycle,
            step,
            status: ChaseStatus::Claimed,
            owner_message_id: message.to_string(),
            owner_receive_count: receive_count,
            provider_message_id: None,
            updated_at: self.base,
        }
    }

    /// An idempotency record answering 201, claimed at `at` (kept 24 hours).
    pub fn idempotency(&self, fingerprint: &str, at: DateTime<Utc>) -> IdempotencyRecord {
        IdempotencyRecord {
            fingerprint: fingerprint.to_string(),
            status: 201,
            body: "{}".to_string(),
            version: Some(1),
            location: None,
            expires_at: (at + TimeDelta::hours(24)).timestamp(),
        }
    }
}
