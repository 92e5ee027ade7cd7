//! One tenant in memory with everything the jobs talk to, and the set-up the
//! job tests share: state is made through the use cases (as the API would),
//! then the jobs run against the same in-memory ports.

use app::context::{AppConfig, Context};
use app::error::AppResult;
use app::jobs::chase_worker::ChaseWorker;
use app::jobs::delivery_feedback::DeliveryFeedback;
use app::jobs::scheduler::{Scheduler, SchedulerReport};
use app::messages::{ChaseMessage, QueuedRecord};
use app::ports::{
    AssigneeFilter, ChaseStore, Clock, ContactStore, CustomerStore, HistoryStore, PageRequest,
    StoreError, TaskQuery, TaskStore, Transactions, Write,
};
use app::records::{Chase, ChaseKey, ChaseStatus, StoredCustomer};
use app::usecases::{self, Change};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use domain::cadence::CadenceDraft;
use domain::contact::{Contact, ContactChanges};
use domain::customer::CustomerChanges;
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Role, TenantId, UserId};
use domain::invoice::NewInvoice;
use domain::money::{Currency, Money};
use domain::patch::Patch;
use domain::payment::{NewApplication, NewPayment};
use domain::task::{Task, TaskStatus};
use domain::template::TemplateDraft;
use serde_json::{json, Value};
use std::sync::Arc;
use testkit::{
    MemoryQueue, MemoryStore, RecordingMailer, RecordingSms, SequentialIds, SettableClock,
};

pub fn utc(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn date(raw: &str) -> NaiveDate {
    raw.parse().unwrap()
}

pub fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

/// A contact named `name` with these channels (and nothing else set).
pub fn contact(name: &str, email: Option<&str>, phone: Option<&str>) -> ContactChanges {
    let set = |value: Option<&str>| value.map_or(Patch::Keep, |v| Patch::Set(v.into()));
    ContactChanges {
        name: Some(name.into()),
        email: set(email),
        phone: set(phone),
        ..ContactChanges::default()
    }
}

/// Set-up starts here; cadences run daily at 08:00 UTC (the tenant's zone).
pub const SETUP_AT: &str = "2026-03-01T07:00:00Z";
/// The first run of every cadence made here.
pub const FIRST_RUN: &str = "2026-03-01T08:00:00Z";

/// One step due at enrolment: an email on the day the account opens.
pub fn email_step() -> Value {
    json!([{"trigger": "account_age", "days": 0, "action": "email", "template_id": "EMAIL"}])
}

pub fn sms_step() -> Value {
    json!([{"trigger": "account_age", "days": 0, "action": "sms", "template_id": "SMS"}])
}

/// A customer set up for chasing.
#[derive(Debug, Clone)]
pub struct Chased {
    pub id: String,
    pub email: String,
    pub phone: String,
    pub invoice_id: String,
    pub cadence_id: String,
}

pub struct World {
    pub store: MemoryStore,
    pub clock: SettableClock,
    pub context: Context,
    pub queue: MemoryQueue,
    /// The scheduler's evaluation units.
    pub evaluations: MemoryQueue,
    pub mailer: RecordingMailer,
    pub sms: RecordingSms,
    pub files: testkit::MemoryFiles,
    pub tenant: TenantId,
    pub caller: Caller,
    email_template: String,
    sms_template: String,
}

impl World {
    /// An empty tenant at [`SETUP_AT`], with an email and an SMS template.
    pub async fn start() -> Self {
        let store = MemoryStore::new();
        let clock = SettableClock::new(utc(SETUP_AT));
        let context = Context::new(
            Arc::new(store.clone()),
            Arc::new(clock.clone()),
            Arc::new(SequentialIds::new()),
            AppConfig {
                sender_domain: Some("chase.example".into()),
                portal: None,
            },
        );
        let tenant = TenantId::parse("t-jobs").unwrap();
        let caller = Caller {
            tenant: tenant.clone(),
            user: UserId::parse("owner-1").unwrap(),
            role: Role::Owner,
        };
        let mut world = Self {
            store,
            clock,
            context,
            queue: MemoryQueue::new(),
            evaluations: MemoryQueue::new(),
            mailer: RecordingMailer::new(),
            files: testkit::MemoryFiles::new(),
            sms: RecordingSms::new(),
            tenant,
            caller,
            email_template: String::new(),
            sms_template: String::new(),
        };
        world.email_template = world
            .template(json!({"name": "Reminder", "channel": "email",
                "subject": "{{customer_name}}: {{account_balance}} due",
                "body": "<p>Dear {{customer_contact_name}}, please pay {{account_balance}} for {{invoice_numbers}}.</p>"}))
            .await;
        world.sms_template = world
            .template(json!({"name": "Text", "channel": "sms",
                "body": "{{customer_name}}: {{account_balance}} is overdue."}))
            .await;
        world
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn scheduler(&self) -> Scheduler {
        Scheduler {
            context: self.context.clone(),
            chase_queue: Arc::new(self.queue.clone()),
            evaluation_queue: Arc::new(self.evaluations.clone()),
        }
    }

    pub fn worker(&self) -> ChaseWorker {
        ChaseWorker {
            context: self.context.clone(),
            mailer: Arc::new(self.mailer.clone()),
            sms: Arc::new(self.sms.clone()),
            files: Arc::new(self.files.clone()),
            printer: Arc::new(app::ports::RecordedForPrint),
            email_pace: None,
        }
    }

    pub fn feedback(&self) -> DeliveryFeedback {
        DeliveryFeedback {
            context: self.context.clone(),
        }
    }

    /// Commits a use case's change as the API would; its value.
    pub async fn commit<T>(&self, change: AppResult<Change<T>>) -> T {
        let change = change.unwrap();
        if let Err(error) = self.store.commit(&self.tenant, change.writes).await {
            panic!("set-up commit failed: {error:?}");
        }
        change.value
    }

    async fn template(&self, body: Value) -> String {
        let draft: TemplateDraft = serde_json::from_value(body).unwrap();
        let change =
            usecases::templates::create(&self.context, &self.caller, self.now(), draft).await;
        self.commit(change).await.template.id
    }

    /// A cadence running daily at 08:00 with `steps` (`"EMAIL"` and `"SMS"`
    /// stand for the two templates).
    pub async fn cadence(&self, steps: Value) -> String {
        self.cadence_of_level("customer", "08:00", steps).await
    }

    /// An invoice-level cadence running daily at 08:00 with `steps`.
    pub async fn invoice_cadence(&self, steps: Value) -> String {
        self.cadence_of_level("invoice", "08:00", steps).await
    }

    /// An invoice-level cadence running daily at `run_at` with `steps`.
    pub async fn invoice_cadence_at(&self, run_at: &str, steps: Value) -> String {
        self.cadence_of_level("invoice", run_at, steps).await
    }

    async fn cadence_of_level(&self, level: &str, run_at: &str, steps: Value) -> String {
        let steps = serde_json::to_string(&steps)
            .unwrap()
            .replace("\"EMAIL\"", &format!("\"{}\"", self.email_template))
            .replace("\"SMS\"", &format!("\"{}\"", self.sms_template));
        let draft: CadenceDraft = serde_json::from_value(json!({
            "name": format!("Cadence {}", ulid::Ulid::new()),
            "level": level,
            "run_at": run_at,
            "steps": serde_json::from_str::<Value>(&steps).unwrap(),
        }))
        .unwrap();
        let change =
            usecases::cadences::create(&self.context, &self.caller, self.now(), Ok(draft)).await;
        self.commit(change).await.cadence.id
    }

    /// Every write that moves a chase on from `sending` fails (the record,
    /// then the `sent` mark), as if the worker died after the send.
    pub fn lose_writes_after_sending(&self) {
        self.store.fail_commits_matching(|_, writes| {
            writes
                .iter()
                .any(|w| {
                    matches!(
                        w,
                        Write::AdvanceChase {
                            from: ChaseStatus::Sending,
                            ..
                        }
                    )
                })
                .then(|| StoreError::Unavailable("lost".into()))
        });
    }

    pub async fn customer(&self, number: &str) -> String {
        let changes = CustomerChanges {
            number: Some(number.into()),
            name: Some(format!("Globex {number}")),
            currency: Some(eur()),
            ..CustomerChanges::default()
        };
        let change =
            usecases::customers::create(&self.context, &self.caller, self.now(), &changes).await;
        self.commit(change).await.id
    }

    pub async fn contact(&self, customer_id: &str, changes: ContactChanges) {
        let change = usecases::contacts::create(
            &self.context,
            &self.caller,
            customer_id,
            &changes,
            self.now(),
        )
        .await;
        self.commit(change).await;
    }

    pub async fn invoice(
        &self,
        customer_id: &str,
        number: &str,
        issue: &str,
        due: &str,
        total: &str,
    ) -> String {
        let new = NewInvoice {
            customer_id: customer_id.into(),
            number: number.into(),
            currency: "EUR".into(),
            issue_date: date(issue),
            due_date: Some(date(due)),
            total: total.parse().unwrap(),
            autopay: false,
            collection_status: Default::default(),
            dispute_reason: None,
            payment_plan: None,
        };
        let change = usecases::invoices::create(&self.context, &self.caller, new, self.now()).await;
        self.commit(change).await.record.invoice.id
    }

    /// Chases one invoice on `cadence_id` (invoice level) instead of its customer's.
    pub async fn override_invoice(&self, invoice_id: &str, cadence_id: &str) {
        use app::ports::InvoiceStore;
        let current = self
            .store
            .invoice(&self.tenant, invoice_id)
            .await
            .unwrap()
            .unwrap();
        let version = current.version;
        let changes = domain::invoice::InvoiceChanges {
            chasing: Some(domain::invoice::InvoiceChasing {
                cadence_id: Some(cadence_id.into()),
                paused: false,
            }),
            ..Default::default()
        };
        let change = usecases::invoices::update(
            &self.context,
            &self.caller,
            current,
            &changes,
            vec!["chasing".into()],
            version,
            self.now(),
        )
        .await;
        self.commit(change).await;
    }

    pub async fn enrol(&self, customer_id: &str, cadence_id: &str) {
        let change = usecases::enrolment::enrol(
            &self.context,
            &self.caller,
            self.now(),
            customer_id,
            cadence_id,
        )
        .await;
        self.commit(change).await;
    }

    /// Pays `amount` of the invoice, dated today.
    pub async fn pay(&self, customer_id: &str, invoice_id: &str, amount: &str) {
        let amount = Money::parse(amount, eur()).unwrap();
        let payment = NewPayment {
            amount,
            date: self.now().date_naive(),
            method: None,
            reference: None,
            applications: vec![NewApplication {
                invoice_id: invoice_id.into(),
                amount,
            }],
        };
        let customer = self.stored(customer_id).await;
        let change =
            usecases::payments::create(&self.context, &self.caller, customer, &payment, self.now())
                .await;
        self.commit(change).await;
    }

    /// A customer `tag` with one contact (email and SMS), an 80.00 invoice
    /// issued today and due in 30 days, enrolled in a new cadence of `steps`.
    pub async fn chased(&self, tag: &str, steps: Value) -> Chased {
        let id = self.customer(&format!("CH-{tag}")).await;
        let email = format!("ap-{}@globex.example", tag.to_lowercase());
        let phone = "+447700900123".to_string();
        let pat = ContactChanges {
            sms_enabled: Some(true),
            ..contact("Pat", Some(&email), Some(&phone))
        };
        self.contact(&id, pat).await;
        let invoice_id = self
            .invoice(
                &id,
                &format!("INV-{tag}"),
                "2026-03-01",
                "2026-03-31",
                "80.00",
            )
            .await;
        let cadence_id = self.cadence(steps).await;
        self.enrol(&id, &cadence_id).await;
        Chased {
            id,
            email,
            phone,
            invoice_id,
            cadence_id,
        }
    }

    /// Runs the scheduler for `at` (the clock moved there too): the tick,
    /// then its evaluation units until none is left; what the units did.
    pub async fn tick(&self, at: DateTime<Utc>) -> SchedulerReport {
        self.clock.set(at);
        testkit::tick_through(&self.scheduler(), &self.evaluations, at)
            .await
            .unwrap()
    }

    /// The chase queue's messages so far, handed to the worker (a few
    /// seconds after the tick), each in its own batch; none may fail.
    pub async fn work_queue(&self) {
        self.clock.set(self.now() + TimeDelta::seconds(5));
        for (i, body) in self.queue.take().iter().enumerate() {
            let failed = self
                .worker()
                .handle(vec![record(&format!("w-{i}"), 1, body)])
                .await;
            assert!(failed.is_empty(), "{failed:?}");
        }
    }

    /// Ticks at 08:00 on every day from `from` to `to`; the messages enqueued.
    pub async fn tick_days(&self, from: &str, to: &str) -> Vec<ChaseMessage> {
        let mut day = date(from);
        while day <= date(to) {
            let at = day.and_hms_opt(8, 0, 0).unwrap().and_utc();
            self.tick(at).await;
            day += TimeDelta::days(1);
        }
        self.queue
            .bodies()
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect()
    }

    /// The customers of `customers` set up with one email step, ticked at
    /// [`FIRST_RUN`]; the queue's bodies, in order, taken off the queue.
    pub async fn due_messages(&self, customers: &[&Chased]) -> Vec<String> {
        let report = self.tick(utc(FIRST_RUN)).await;
        assert_eq!(report.enqueued, customers.len(), "{report:?}");
        let bodies = self.queue.take();
        let mut ordered = Vec::new();
        for customer in customers {
            let body = bodies
                .iter()
                .find(|b| message(b).customer_id == customer.id)
                .unwrap_or_else(|| panic!("no message for {}", customer.id));
            ordered.push(body.clone());
        }
        // The worker runs a few seconds after the tick.
        self.clock.set(utc(FIRST_RUN) + TimeDelta::seconds(5));
        ordered
    }

    pub async fn stored(&self, customer_id: &str) -> StoredCustomer {
        self.store
            .customer(&self.tenant, customer_id)
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn contacts(&self, customer_id: &str) -> Vec<Contact> {
        self.store
            .contacts(&self.tenant, customer_id)
            .await
            .unwrap()
    }

    /// The customer's timeline, oldest first.
    pub async fn history(&self, customer_id: &str) -> Vec<HistoryItem> {
        let page = PageRequest {
            limit: 100,
            cursor: None,
        };
        let mut items = self
            .store
            .history(&self.tenant, customer_id, &[], page)
            .await
            .unwrap()
            .items;
        items.reverse();
        items
    }

    pub async fn history_of(&self, customer_id: &str, kind: HistoryType) -> Vec<HistoryItem> {
        self.history(customer_id)
            .await
            .into_iter()
            .filter(|h| h.kind == kind)
            .collect()
    }

    /// (type, step) of the chase items of the timeline, oldest first.
    pub async fn chase_timeline(&self, customer_id: &str) -> Vec<(HistoryType, u64)> {
        self.history(customer_id)
            .await
            .into_iter()
            .filter_map(|h| h.detail["step"].as_u64().map(|step| (h.kind, step)))
            .collect()
    }

    pub async fn open_tasks(&self, customer_id: &str) -> Vec<Task> {
        let query = TaskQuery {
            assignee: AssigneeFilter::All,
            status: TaskStatus::Open,
            customer_id: Some(customer_id.to_string()),
            due_before: None,
            page: PageRequest {
                limit: 100,
                cursor: None,
            },
        };
        self.store
            .list_tasks(&self.tenant, query)
            .await
            .unwrap()
            .items
    }

    pub async fn chase(&self, message: &ChaseMessage) -> Option<Chase> {
        let key = ChaseKey {
            customer_id: message.customer_id.clone(),
            invoice_id: message.invoice_id.clone(),
            cycle: message.cycle,
            step: message.step,
        };
        self.store.chase(&self.tenant, &key).await.unwrap()
    }
}

pub fn message(body: &str) -> ChaseMessage {
    serde_json::from_str(body).unwrap()
}

/// Delivery `receive_count` of SQS message `id`.
pub fn record(id: &str, receive_count: u32, body: &str) -> QueuedRecord {
    QueuedRecord {
        message_id: Some(id.to_string()),
        body: Some(body.to_string()),
        receive_count,
    }
}
