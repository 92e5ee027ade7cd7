//! The chase worker: takes a queue batch, handles each record on its own and
//! reports only the failed ones back, so one bad message never fails its
//! neighbours.
//!
//! Per record: claim the chase (conditional write), re-check the customer as
//! of the message's scheduled instant, then act (email, SMS, a task, or a
//! letter record) and record the history and cycle state in one
//! transaction. The claim's status says what a redelivery may still do: a
//! chase whose provider call may have happened is never sent again.

use crate::context::Context as AppContext;
use crate::messages::{ChaseMessage, QueuedRecord};
use crate::pace::SendPace;
use crate::ports::{
    Attachment, DocumentFiles, Email, Mailer, PrintProvider, SendError, Sender, Sms, StoreError,
    Write,
};
use crate::records::{Chase, ChaseKey, ChaseStatus, StoredCustomer};
use chrono::{DateTime, Duration, Utc};
use domain::cadence::{Action, Audience, Cadence, Decision, Evaluation, Evaluator, Run, Step};
use domain::contact::Contact;
use domain::customer::Customer;
use domain::document::{Document, DocumentKind};
use domain::history::{HistoryItem, HistoryType, SYSTEM_ACTOR};
use domain::identity::TenantId;
use domain::schedule::RunSlot;
use domain::settings::Settings;
use domain::task::{chase_task_assignee, NewTask, Task, TaskType};
use domain::template::{Rendered, Template};
use futures::StreamExt;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tracing::Instrument;

mod both_levels;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Left for redelivery and, after the redrive limit, the DLQ.
    #[error("malformed message")]
    Malformed,
    /// Throttling or an outage: retried through the queue.
    #[error("transient failure: {0}")]
    Transient(String),
    /// The customer changed between the read and the write; retried here
    /// a few times, then through the queue.
    #[error("the customer kept changing while recording")]
    CustomerChanged,
    /// Another delivery holds the claim, or this message's earlier one
    /// left it further on ([`ChaseWorker::resume`] decides).
    #[error("the chase is claimed already")]
    ClaimTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How many customers' records of one batch are worked on at once: the
/// sends and writes of a batch overlap instead of queueing behind each
/// other, within what one invocation's connections handle comfortably.
pub const RECORDS_AT_ONCE: usize = 10;

/// A tenant id and a customer id.
type CustomerKey = (String, String);

/// The tenant and customer a record is about, if its body says.
fn customer_of(record: &QueuedRecord) -> Option<CustomerKey> {
    let message: ChaseMessage = serde_json::from_str(record.body.as_deref()?).ok()?;
    Some((message.tenant_id, message.customer_id))
}

/// The failure reason of a chase that may or may not have reached the customer.
pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";

pub struct ChaseWorker {
    pub context: AppContext,
    pub mailer: Arc<dyn Mailer>,
    pub sms: Arc<dyn Sms>,
    /// Where letter PDFs are kept.
    pub files: Arc<dyn DocumentFiles>,
    pub printer: Arc<dyn PrintProvider>,
    /// This invocation's share of the SES sending rate (none: unpaced).
    pub email_pace: Option<Arc<SendPace>>,
}

/// Why a chase failed, for the history and the task a person gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Nothing could be sent: no recipient, no template, ...
    Unsendable(&'static str),
    /// The provider refused it.
    Rejected,
    /// It may have gone out; a person checks before chasing again.
    OutcomeUnknown,
}

impl Failure {
    fn summary(self) -> &'static str {
        match self {
            Self::Unsendable(summary) => summary,
            Self::Rejected => "the provider rejected the message",
            Self::OutcomeUnknown => {
                "the provider did not confirm the send; it may or may not have reached the customer"
            }
        }
    }

    fn task_title(self, code: &str) -> String {
        match self {
            Self::OutcomeUnknown => {
                "Chase may not have been delivered (outcome unknown): check with the customer before chasing again".to_string()
            }
            _ => format!("Chase could not be delivered ({code}): check the contact details"),
        }
    }
}

/// What a batch's records read the same way: cadence versions (never
/// changed once customers are enrolled) and templates, read once a batch
/// (settings come from the process's cache). The lock is held across the
/// read, so records running at once wait for the first one's read instead
/// of each reading.
#[derive(Default)]
struct Lookups {
    cadences: crate::chasing::CadenceLookups,
    templates: tokio::sync::Mutex<HashMap<(TenantId, String), Option<Template>>>,
}

/// A record being handled: its message and the instant it is handled at.
struct Job {
    message: ChaseMessage,
    tenant: TenantId,
    now: DateTime<Utc>,
    /// This delivery (the claim's owner): the queue's message id and how
    /// many times it was received.
    message_id: String,
    receive_count: u32,
    /// Whether this delivery holds its claim yet: the claim is written as
    /// late as possible, as the `sending` mark when the chase is sent.
    holds_claim: std::sync::atomic::AtomicBool,
    lookups: Arc<Lookups>,
    /// The step's action, once the cadence is read (for metrics).
    action: std::sync::OnceLock<Action>,
}

impl Job {
    /// The metrics channel of this chase: its action, `unknown` before the
    /// cadence was read.
    fn channel(&self) -> &'static str {
        match self.action.get() {
            Some(Action::Email) => "email",
            Some(Action::Sms) => "sms",
            Some(Action::Letter) => "letter",
            Some(Action::PhoneCall) => "phone_call",
            Some(Action::Escalation) => "escalation",
            None => "unknown",
        }
    }
}

impl Job {
    fn key(&self) -> ChaseKey {
        ChaseKey {
            customer_id: self.message.customer_id.clone(),
            invoice_id: self.message.invoice_id.clone(),
            cycle: self.message.cycle,
            step: self.message.step,
        }
    }
}

/// A template rendered, or why it cannot be: (code, summary).
type Rendering = Result<(Template, Rendered), (&'static str, &'static str)>;

/// One message to send for a chase (or several chases of one run).
struct Message<'a> {
    stored: &'a StoredCustomer,
    contacts: &'a [Contact],
    settings: &'a Settings,
    /// What to send, to whom, with which template.
    step: &'a Step,
    /// The invoices the message is about (`None`: every chased one).
    only_invoices: Option<Vec<&'a str>>,
    /// The chase's reference in the provider's tags.
    tag: String,
}

/// What came of a delivery that did not need a retry.
enum Delivered {
    Sent(String),
    /// Nothing went out, or it may have: `from` is the claim's status now.
    Failed {
        from: ChaseStatus,
        code: String,
        failure: Failure,
    },
}

/// What came of a letter.
enum Posted {
    Letter {
        reference: String,
        letter: Document,
    },
    Failed {
        code: &'static str,
        failure: Failure,
    },
}

/// What the re-check at send time reads.
struct Context {
    stored: StoredCustomer,
    contacts: Vec<Contact>,
    settings: Settings,
    cadence: Cadence,
    evaluation: Evaluation,
}

impl Context {
    /// The message of a customer-level chase.
    fn message<'a>(&'a self, step: &'a Step, run: &Run) -> Message<'a> {
        Message {
            stored: &self.stored,
            contacts: &self.contacts,
            settings: &self.settings,
            step,
            only_invoices: None,
            tag: format!("{}-{}", run.cycle, run.position),
        }
    }
}

/// A transaction retried on a concurrent change of the customer.
const RECORD_ATTEMPTS: u32 = 3;

impl ChaseWorker {
    /// Handles a batch; returns the message ids of the records to retry.
    /// Different customers' records run concurrently (at most
    /// [`RECORDS_AT_ONCE`]); one customer's run one after the other, in
    /// batch order, so the frequency cap and the customer's writes never
    /// race within a batch. Each record fails alone.
    pub async fn handle(&self, records: Vec<QueuedRecord>) -> Vec<String> {
        let mut by_customer: Vec<(Option<CustomerKey>, Vec<QueuedRecord>)> = Vec::new();
        for record in records {
            let key = customer_of(&record);
            match by_customer
                .iter_mut()
                .find(|(k, _)| key.is_some() && *k == key)
            {
                Some((_, group)) => group.push(record),
                None => by_customer.push((key, vec![record])),
            }
        }
        let lookups = Arc::new(Lookups::default());
        let groups = by_customer.into_iter().map(|(_, group)| {
            let lookups = lookups.clone();
            async move {
                let mut failed = Vec::new();
                for record in group {
                    let id = record.message_id.clone().unwrap_or_default();
                    let span = tracing::info_span!("chase_record", message_id = %id);
                    if let Err(error) = self.process(record, lookups.clone()).instrument(span).await
                    {
                        // Ids only: bodies hold customer data.
                        tracing::warn!(message_id = %id, error = %error, "record failed");
                        failed.push(id);
                    }
                }
                failed
            }
        });
        futures::stream::iter(groups)
            .buffer_unordered(RECORDS_AT_ONCE)
            .collect::<Vec<Vec<String>>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn process(
        &self,
        record: QueuedRecord,
        lookups: Arc<Lookups>,
    ) -> Result<(), RecordError> {
        let body = record.body.as_deref().ok_or(RecordError::Malformed)?;
        let message: ChaseMessage =
            serde_json::from_str(body).map_err(|_| RecordError::Malformed)?;
        let tenant = TenantId::parse(&message.tenant_id).ok_or(RecordError::Malformed)?;
        let message_id = record.message_id.ok_or(RecordError::Malformed)?;
        let span = tracing::info_span!("chase", tenant = %tenant, customer = %message.customer_id, cycle = message.cycle, step = message.step);
        let job = Job {
            message,
            tenant,
            now: self.context.clock.now(),
            message_id,
            receive_count: record.receive_count,
            holds_claim: std::sync::atomic::AtomicBool::new(false),
            lookups,
            action: std::sync::OnceLock::new(),
        };
        self.claimed(job).instrument(span).await
    }

    /// Re-checks and carries out the chase, claiming it on the way (see
    /// [`Self::take_claim`]); a claim found taken is resumed or left.
    async fn claimed(&self, job: Job) -> Result<(), RecordError> {
        let performed = if job.message.is_merged() {
            self.perform_both(&job).await
        } else {
            self.perform(&job).await
        };
        match performed {
            Err(RecordError::ClaimTaken) => self.resume(&job).await,
            other => other,
        }
    }

    /// The claim of every chase the message carries, in one conditional
    /// write: the lead in `status`, any covered chase `claimed`. Written
    /// once a delivery knows what it does: as the `sending` mark right
    /// before a send (one write for both), or `claimed` before anything
    /// else. A chase claimed by another message, or done, fails it with
    /// [`RecordError::ClaimTaken`]; this message's own `claimed` claim
    /// from an earlier delivery is taken over.
    async fn take_claim(&self, job: &Job, status: ChaseStatus) -> Result<(), RecordError> {
        use std::sync::atomic::Ordering;
        if job.holds_claim.load(Ordering::SeqCst) {
            if status == ChaseStatus::Sending {
                self.advance(job, ChaseStatus::Claimed, ChaseStatus::Sending, None)
                    .await?;
            }
            return Ok(());
        }
        match self
            .context
            .store
            .commit(&job.tenant, claims(job, status))
            .await
        {
            Ok(()) => {
                job.holds_claim.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(StoreError::ConditionFailed { .. }) => Err(RecordError::ClaimTaken),
            Err(other) => Err(other.into()),
        }
    }

    /// Claims the chase before an outcome other than a send.
    async fn hold(&self, job: &Job) -> Result<(), RecordError> {
        self.take_claim(job, ChaseStatus::Claimed).await
    }

    /// The claim was taken: a later delivery of the owning message resumes
    /// what it left (`sent`: record it; `sending`: it may have gone out, so
    /// it is never sent again and people are told); anything else is
    /// handled already.
    async fn resume(&self, job: &Job) -> Result<(), RecordError> {
        let existing = self
            .context
            .store
            .chase(&job.tenant, &job.key())
            .await?
            .ok_or_else(|| StoreError::Malformed("chase vanished".into()))?;
        if existing.owner_message_id != job.message_id {
            tracing::info!(status = existing.status.as_ref(), "already handled");
            return Ok(());
        }
        let merged = job.message.is_merged();
        match existing.status {
            ChaseStatus::Sent if merged => {
                self.finish_both(job, existing.provider_message_id).await
            }
            ChaseStatus::Sent => self.finish(job, existing.provider_message_id, None).await,
            ChaseStatus::Sending if merged => self.unknown_both(job).await,
            ChaseStatus::Sending => {
                self.fail(
                    job,
                    ChaseStatus::Sending,
                    OUTCOME_UNKNOWN,
                    Failure::OutcomeUnknown,
                )
                .await
            }
            status => {
                tracing::info!(status = status.as_ref(), "already handled");
                Ok(())
            }
        }
    }

    /// The message's cadence version, read once a batch.
    async fn cadence(&self, job: &Job) -> Result<Option<Cadence>, StoreError> {
        job.lookups
            .cadences
            .version(
                self.context.store.as_ref(),
                &job.tenant,
                &job.message.cadence_id,
                job.message.cadence_version,
            )
            .await
    }

    /// A template, read once a batch.
    async fn template(&self, job: &Job, id: &str) -> Result<Option<Template>, StoreError> {
        let key = (job.tenant.clone(), id.to_string());
        let mut cache = job.lookups.templates.lock().await;
        if let Some(template) = cache.get(&key) {
            return Ok(template.clone());
        }
        let template = self
            .context
            .store
            .template(&job.tenant, id)
            .await?
            .map(|record| record.template);
        cache.insert(key, template.clone());
        Ok(template)
    }

    async fn context(&self, job: &Job) -> Result<Option<Context>, RecordError> {
        let Some((stored, contacts)) = self
            .context
            .store
            .customer_with_contacts(&job.tenant, &job.message.customer_id)
            .await?
        else {
            return Ok(None);
        };
        let settings = self.context.settings(&job.tenant).await?;
        let Some(cadence) = self.cadence(job).await? else {
            return Ok(None);
        };
        let at = job.message.scheduled_for;
        let day = at.with_timezone(&settings.time_zone).date_naive();
        let stops = crate::chasing::stops(&stored.customer, &settings);
        let balance = stored.customer.chased_balance(day);
        let evaluation = Evaluator::new(&cadence, settings.time_zone, &stops).evaluate(
            &balance,
            &stored.customer.cycle,
            at,
        );
        Ok(Some(Context {
            stored,
            contacts,
            settings,
            cadence,
            evaluation,
        }))
    }

    /// Send-time re-check, then the action.
    async fn perform(&self, job: &Job) -> Result<(), RecordError> {
        let Some(ctx) = self.context(job).await? else {
            self.hold(job).await?;
            return self.suppress_without_customer(job).await;
        };
        let customer = &ctx.stored.customer;
        let enrolled_here = customer.chasing.cadence_id.as_deref()
            == Some(job.message.cadence_id.as_str())
            && customer.chasing.cadence_version == Some(job.message.cadence_version);
        let reason = match &ctx.evaluation.decision {
            _ if !enrolled_here => Some(("cadence_changed".to_string(), json!({}))),
            Decision::Run(run)
                if run.cycle == job.message.cycle && run.position == job.message.step =>
            {
                None
            }
            Decision::Run(run) => Some((
                "another_step_due".to_string(),
                json!({"step": run.position}),
            )),
            Decision::Stopped(stop) => Some((stop.code().to_string(), json!(stop))),
            Decision::Nothing(idle) => Some((
                json!(idle).as_str().unwrap_or("not_due").to_string(),
                json!({}),
            )),
        };
        if let Some((reason, detail)) = reason {
            self.hold(job).await?;
            return self.suppress(job, &ctx, &reason, detail).await;
        }
        let Decision::Run(run) = ctx.evaluation.decision.clone() else {
            return Ok(());
        };
        let Some(step) = ctx.cadence.step(run.position).cloned() else {
            self.hold(job).await?;
            return self.suppress(job, &ctx, "step_missing", json!({})).await;
        };
        let _ = job.action.set(step.action);
        tracing::info!(action = job.channel(), "performing chase step");
        match step.action {
            Action::Email | Action::Sms => self.send(job, ctx, &run, &step).await,
            Action::Letter => {
                self.hold(job).await?;
                self.letter(job, ctx, &run, &step).await
            }
            Action::PhoneCall | Action::Escalation => {
                self.hold(job).await?;
                self.record(job, Some(ctx), &run, ChaseStatus::Claimed, None, None)
                    .await
            }
        }
    }

    /// The customer's uploaded documents, newest first, as attachments (a
    /// registered upload whose file never arrived is left out). Stops
    /// reading once they are over the size limit: the send fails anyway.
    async fn uploaded_documents(
        &self,
        job: &Job,
        customer_id: &str,
    ) -> Result<Vec<Attachment>, StoreError> {
        let mut attachments = Vec::new();
        let mut total = 0u64;
        let mut cursor = None;
        loop {
            let page = self
                .context
                .store
                .documents(
                    &job.tenant,
                    customer_id,
                    crate::ports::PageRequest { limit: 200, cursor },
                )
                .await?;
            for document in page.items.iter().filter(|d| d.kind == DocumentKind::Upload) {
                if total > MAX_ATTACHMENT_BYTES as u64 {
                    break;
                }
                if let Some(bytes) = self.files.get(&job.tenant, document).await? {
                    total += bytes.len() as u64;
                    attachments.push(Attachment {
                        filename: document.filename.clone(),
                        content_type: document.content_type.clone(),
                        bytes,
                    });
                }
            }
            match page.next_cursor {
                Some(next) if total <= MAX_ATTACHMENT_BYTES as u64 => cursor = Some(next),
                _ => return Ok(attachments),
            }
        }
    }

    /// A letter: the letter template's text and the statement as one PDF,
    /// kept in the documents bucket under an id that comes from the chase
    /// (a redelivery writes the same object again), handed to the print
    /// provider, then recorded with the history linking the document.
    async fn letter(
        &self,
        job: &Job,
        ctx: Context,
        run: &Run,
        step: &Step,
    ) -> Result<(), RecordError> {
        let message = ctx.message(step, run);
        match self.post_letter(job, &message).await? {
            Posted::Letter { reference, letter } => {
                self.record(
                    job,
                    Some(ctx),
                    run,
                    ChaseStatus::Claimed,
                    Some(reference),
                    Some(letter),
                )
                .await
            }
            Posted::Failed { code, failure } => {
                self.fail(job, ChaseStatus::Claimed, code, failure).await
            }
        }
    }

    /// The letter template's text and the statement as one PDF, kept and
    /// handed to the print provider.
    async fn post_letter(&self, job: &Job, message: &Message<'_>) -> Result<Posted, RecordError> {
        let customer = &message.stored.customer;
        let day = job
            .message
            .scheduled_for
            .with_timezone(&message.settings.time_zone)
            .date_naive();
        let body = match &message.step.template_id {
            None => String::new(),
            Some(_) => match self.render_for(job, message, None).await? {
                Ok((_, rendered)) => rendered.body,
                Err((code, summary)) => {
                    return Ok(Posted::Failed {
                        code,
                        failure: Failure::Unsendable(summary),
                    })
                }
            },
        };
        let pdf = domain::statement::Statement::of(customer, day)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            .and_then(|statement| {
                documents::letter_pdf(
                    &body,
                    &statement,
                    crate::usecases::statements::letterhead(message.settings),
                )
                .map(|pdf| (statement, pdf))
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            });
        let (statement, pdf) = match pdf {
            Ok(made) => made,
            Err(error) => {
                tracing::error!(error = %error, "letter PDF failed");
                return Ok(Posted::Failed {
                    code: "letter_failed",
                    failure: Failure::Unsendable("the letter PDF could not be made"),
                });
            }
        };
        let letter = Document {
            id: letter_id(job),
            customer_id: customer.id.clone(),
            kind: DocumentKind::Letter,
            filename: format!(
                "letter-{}-{}.pdf",
                crate::usecases::statements::safe_filename_part(&statement.customer.number),
                day
            ),
            content_type: "application/pdf".into(),
            size: pdf.len() as u64,
            created_by: SYSTEM_ACTOR.into(),
            created_at: job.now,
        };
        // Unavailable storage is transient: the message comes back.
        self.files.put(&job.tenant, &letter, pdf).await?;
        match self.printer.print(&job.tenant, &letter).await {
            Ok(reference) => Ok(Posted::Letter { reference, letter }),
            Err(error) => {
                tracing::error!(error = %error, "print provider refused a letter");
                Ok(Posted::Failed {
                    code: "print_failed",
                    failure: Failure::Rejected,
                })
            }
        }
    }

    /// The step's template rendered for the customer on the chase's day
    /// (the invoices the message is about only), or why it cannot be
    /// (`template_missing`, `template_error`): a chase that can never be sent.
    async fn render_for(
        &self,
        job: &Job,
        message: &Message<'_>,
        contact_name: Option<String>,
    ) -> Result<Rendering, RecordError> {
        let template = match &message.step.template_id {
            Some(id) => self.template(job, id).await?,
            None => None,
        };
        let Some(template) = template else {
            return Ok(Err((
                "template_missing",
                "the step's template no longer exists",
            )));
        };
        let portal_url = if template.uses_portal_link() {
            crate::usecases::portal::url(
                &self.context,
                &job.tenant,
                message.stored,
                message.settings,
                job.now,
            )
            .await?
        } else {
            None
        };
        let day = job
            .message
            .scheduled_for
            .with_timezone(&message.settings.time_zone)
            .date_naive();
        let data = crate::chasing::template_data_for(
            &message.stored.customer,
            contact_name,
            portal_url,
            day,
            message.only_invoices.as_deref(),
        );
        Ok(match template.render(&data) {
            Ok(rendered) => Ok((template, rendered)),
            Err(_) => Err(("template_error", "the template could not be rendered")),
        })
    }

    async fn advance(
        &self,
        job: &Job,
        from: ChaseStatus,
        to: ChaseStatus,
        provider_message_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.context
            .store
            .commit(
                &job.tenant,
                vec![advance(job, from, to, provider_message_id)],
            )
            .await
    }

    /// Email or SMS of a customer-level chase.
    async fn send(
        &self,
        job: &Job,
        ctx: Context,
        run: &Run,
        step: &Step,
    ) -> Result<(), RecordError> {
        let message = ctx.message(step, run);
        match self.deliver(job, &message).await? {
            Delivered::Sent(provider_id) => self.sent(job, provider_id, ctx).await,
            Delivered::Failed {
                from,
                code,
                failure,
            } => self.fail(job, from, &code, failure).await,
        }
    }

    /// Email or SMS: render, claim the chase as `sending`, call the
    /// provider. A provider that says nothing went out hands the claim back
    /// (`claimed`) for the queue's retry. A chase that cannot be sent is
    /// claimed before it is returned, for its failure to be recorded.
    async fn deliver(&self, job: &Job, message: &Message<'_>) -> Result<Delivered, RecordError> {
        let delivered = self.try_delivering(job, message).await?;
        if let Delivered::Failed {
            from: ChaseStatus::Claimed,
            ..
        } = delivered
        {
            self.hold(job).await?;
        }
        Ok(delivered)
    }

    async fn try_delivering(
        &self,
        job: &Job,
        message: &Message<'_>,
    ) -> Result<Delivered, RecordError> {
        let customer = &message.stored.customer;
        let step = message.step;
        let settings = message.settings;
        let mut contacts = message.contacts.to_vec();
        // Primary contact first.
        contacts.sort_by_key(|c| customer.primary_contact_id.as_deref() != Some(c.id.as_str()));
        let (to, cc) = recipients(&contacts, step);
        let day = job
            .message
            .scheduled_for
            .with_timezone(&settings.time_zone)
            .date_naive();
        let contact_name = to.first().map(|c| c.name.clone());
        let unsendable = |code: &'static str, summary: &'static str| {
            Ok(Delivered::Failed {
                from: ChaseStatus::Claimed,
                code: code.to_string(),
                failure: Failure::Unsendable(summary),
            })
        };
        let (template, rendered) = match self.render_for(job, message, contact_name).await? {
            Ok(rendered) => rendered,
            Err((code, summary)) => return unsendable(code, summary),
        };
        let outcome = if step.action == Action::Email {
            let to: Vec<String> = to
                .iter()
                .filter(|c| !c.email_bouncing)
                .filter_map(|c| c.email.clone())
                .collect();
            let to = if to.is_empty() && step.contact_role.is_none() {
                customer.email.clone().into_iter().collect()
            } else {
                to
            };
            if to.is_empty() {
                return unsendable(
                    "no_recipient",
                    "no contact with a deliverable email address receives this step",
                );
            }
            let cc: Vec<String> = cc
                .iter()
                .filter(|c| !c.email_bouncing)
                .filter_map(|c| c.email.clone())
                .collect();
            let subject = rendered.subject.unwrap_or_else(|| {
                format!(
                    "Your account with {}",
                    settings.company_name.clone().unwrap_or_default()
                )
            });
            let mut attachments = if step.attach_invoices {
                match statement_attachment(customer, settings, day) {
                    Ok(attachment) => vec![attachment],
                    Err(error) => {
                        tracing::error!(error = %error, "statement PDF for a chase failed");
                        return unsendable(
                            "attachment_failed",
                            "the statement PDF could not be made",
                        );
                    }
                }
            } else {
                Vec::new()
            };
            if template.attach_documents {
                let uploads = self.uploaded_documents(job, &customer.id).await?;
                attachments.extend(uploads);
            }
            let total: usize = attachments.iter().map(|a| a.bytes.len()).sum();
            if total > MAX_ATTACHMENT_BYTES {
                return unsendable(
                    "attachments_too_large",
                    "the attachments are over 7 MB together; remove documents or turn off attach_documents",
                );
            }
            let email = Email {
                from: self.sender(settings),
                to,
                cc,
                subject,
                html: rendered.body,
                text: rendered.text.unwrap_or_default(),
                attachments,
                tags: vec![
                    ("tenant".into(), job.tenant.to_string()),
                    ("customer".into(), customer.id.clone()),
                    ("chase".into(), message.tag.clone()),
                ],
            };
            if let Some(pace) = &self.email_pace {
                pace.ready().await;
            }
            // Everything is ready: from here on a crash may leave it sent.
            self.take_claim(job, ChaseStatus::Sending).await?;
            self.mailer.send_email(&email).await
        } else {
            let Some(phone) = to
                .iter()
                .filter(|c| c.sms_enabled)
                .find_map(|c| c.phone.clone())
            else {
                return unsendable(
                    "no_recipient",
                    "no SMS-enabled contact with a phone number receives this step",
                );
            };
            self.take_claim(job, ChaseStatus::Sending).await?;
            self.sms.send_sms(&phone, &rendered.body).await
        };
        match outcome {
            Ok(provider_id) => Ok(Delivered::Sent(provider_id)),
            Err(SendError::NotSent(reason)) => {
                self.advance(job, ChaseStatus::Sending, ChaseStatus::Claimed, None)
                    .await?;
                Err(RecordError::Transient(reason))
            }
            Err(SendError::Rejected(code)) => Ok(Delivered::Failed {
                from: ChaseStatus::Sending,
                code,
                failure: Failure::Rejected,
            }),
            Err(SendError::Unknown(reason)) => {
                tracing::warn!(reason = %reason, "send outcome unknown");
                Ok(Delivered::Failed {
                    from: ChaseStatus::Sending,
                    code: OUTCOME_UNKNOWN.to_string(),
                    failure: Failure::OutcomeUnknown,
                })
            }
        }
    }

    fn sender(&self, settings: &Settings) -> Sender {
        let address = settings.sender_email.clone().unwrap_or_else(|| {
            format!(
                "chasing@{}",
                self.context
                    .config
                    .sender_domain
                    .as_deref()
                    .unwrap_or("localhost")
            )
        });
        Sender {
            name: settings.sender_name.clone(),
            address,
        }
    }

    /// After the provider accepted it: recorded in one transaction straight
    /// from `sending`. Should that fail, the `sent` mark keeps the provider's
    /// id, so a redelivery records it instead of suspecting a lost send.
    async fn sent(&self, job: &Job, provider_id: String, ctx: Context) -> Result<(), RecordError> {
        let run = self.performed_run(job, &ctx);
        let recorded = self
            .record(
                job,
                Some(ctx),
                &run,
                ChaseStatus::Sending,
                Some(provider_id.clone()),
                None,
            )
            .await;
        self.sent_or_marked(job, &provider_id, recorded).await
    }

    /// A sent chase whose record failed keeps the provider's id in the
    /// `sent` mark, so the redelivery records it instead of suspecting it.
    async fn sent_or_marked(
        &self,
        job: &Job,
        provider_id: &str,
        recorded: Result<(), RecordError>,
    ) -> Result<(), RecordError> {
        let Err(error) = recorded else {
            return Ok(());
        };
        tracing::warn!(error = %error, "recording a sent chase failed; marking it sent");
        self.advance(
            job,
            ChaseStatus::Sending,
            ChaseStatus::Sent,
            Some(provider_id),
        )
        .await?;
        Err(error)
    }

    /// The run a chase carried out, as the re-check saw it.
    fn performed_run(&self, job: &Job, ctx: &Context) -> Run {
        Run {
            cycle: job.message.cycle,
            position: job.message.step,
            action: ctx
                .cadence
                .step(job.message.step)
                .map_or(Action::Email, |s| s.action),
            superseded: match &ctx.evaluation.decision {
                Decision::Run(run) if run.position == job.message.step => run.superseded.clone(),
                _ => Vec::new(),
            },
            slot: ctx.evaluation.slot.unwrap_or(RunSlot {
                date: job.message.scheduled_for.date_naive(),
                at: job.message.scheduled_for,
            }),
        }
    }

    /// After a send (or a redelivery that finds it sent): record it.
    async fn finish(
        &self,
        job: &Job,
        provider_id: Option<String>,
        ctx: Option<Context>,
    ) -> Result<(), RecordError> {
        let ctx = match ctx {
            Some(ctx) => ctx,
            None => match self.context(job).await? {
                Some(ctx) => ctx,
                None => return Ok(()),
            },
        };
        let run = self.performed_run(job, &ctx);
        self.record(job, Some(ctx), &run, ChaseStatus::Sent, provider_id, None)
            .await
    }

    /// One transaction: the chase marked done, the customer's cycle and
    /// frequency window moved on, history for the step and the steps it
    /// superseded, and any task. Retried on a concurrent change of the customer.
    async fn record(
        &self,
        job: &Job,
        ctx: Option<Context>,
        run: &Run,
        from: ChaseStatus,
        provider_id: Option<String>,
        letter: Option<Document>,
    ) -> Result<(), RecordError> {
        // The first attempt reuses the context read for the send.
        let mut first = ctx;
        crate::retry::retrying(RECORD_ATTEMPTS, changed, || {
            let read = first.take();
            self.record_once(
                job,
                read,
                run,
                from,
                provider_id.as_deref(),
                letter.as_ref(),
            )
        })
        .await?;
        tracing::info!(action = job.channel(), "chase recorded");
        Ok(())
    }

    async fn record_once(
        &self,
        job: &Job,
        read: Option<Context>,
        run: &Run,
        from: ChaseStatus,
        provider_id: Option<&str>,
        letter: Option<&Document>,
    ) -> Result<(), RecordError> {
        let current = match read {
            Some(ctx) => ctx,
            None => match self.context(job).await? {
                Some(ctx) => ctx,
                None => return Ok(()),
            },
        };
        let customer = &current.stored.customer;
        let Some(step) = current.cadence.step(run.position) else {
            return Ok(());
        };
        let mut next = customer.clone();
        let evaluated_run = matches!(&current.evaluation.decision,
            Decision::Run(due) if due.cycle == run.cycle && due.position == run.position);
        if evaluated_run {
            // The evaluation that found this run due, carried out: the
            // customer is next looked at when its next step can be due.
            next.cycle = current.evaluation.state_after_run();
            next.last_evaluated_at = Some(run.slot.at);
            next.next_evaluation_at = current.evaluation.next_evaluation_at;
        } else {
            next.cycle.record_run(run);
            next.reschedule(current.settings.time_zone, job.now);
        }
        if crate::chasing::chases_invoices(&next) {
            // Chased at invoice level since this chase was planned: the
            // next evaluation must see both levels.
            next.reschedule(current.settings.time_zone, job.now);
        }
        if run.action.is_message() {
            next.messages_sent.push(job.now);
            let window = Duration::days(i64::from(current.settings.frequency_cap.window_days));
            next.messages_sent.retain(|at| *at > job.now - window);
        }
        let history = run_history(job, &current, run, provider_id, letter);
        let task = match run.action {
            Action::PhoneCall => Some(self.chase_task(
                job,
                customer,
                step,
                TaskType::CallReminder,
                "Call about the overdue balance",
            )),
            Action::Escalation => Some(self.chase_task(
                job,
                customer,
                step,
                TaskType::Escalation,
                "Escalated account: review",
            )),
            _ => None,
        };
        let mut writes = crate::writes::customer(next, Some(&current.stored), &history);
        let chase_index = writes.len();
        writes.push(advance(job, from, ChaseStatus::Done, provider_id));
        if let Some(task) = task {
            writes.push(Write::InsertTask(Box::new(task)));
        }
        if let Some(letter) = letter {
            writes.push(Write::PutDocument(Box::new(letter.clone())));
        }
        match self.context.store.commit(&job.tenant, writes).await {
            Ok(()) => Ok(()),
            // Someone else finished this chase.
            Err(StoreError::ConditionFailed { index }) if index == chase_index => Ok(()),
            Err(StoreError::ConditionFailed { .. }) | Err(StoreError::TransactionConflict) => {
                Err(RecordError::CustomerChanged)
            }
            Err(other) => Err(other.into()),
        }
    }

    fn chase_task(
        &self,
        job: &Job,
        customer: &Customer,
        step: &Step,
        kind: TaskType,
        title: &str,
    ) -> Task {
        NewTask {
            customer_id: customer.id.clone(),
            kind,
            title: Some(title.to_string()),
            invoice_ids: customer
                .open_invoices
                .iter()
                .map(|i| i.id.clone())
                .collect(),
            assignee_id: chase_task_assignee(
                step.assignee_id.as_deref(),
                customer.ar_specialist_id.as_deref(),
            ),
            due_date: job.message.scheduled_for.date_naive(),
        }
        .open(self.context.ids.new_id(job.now), SYSTEM_ACTOR, job.now)
    }

    /// Not due any more at send time: nothing is sent; history says why.
    async fn suppress(
        &self,
        job: &Job,
        ctx: &Context,
        reason: &str,
        detail: serde_json::Value,
    ) -> Result<(), RecordError> {
        let customer = &ctx.stored.customer;
        let history = HistoryItem::new(
            &customer.id,
            HistoryType::ChaseSuppressed,
            job.now,
            SYSTEM_ACTOR,
            format!("Chase step {} not sent: {reason}", job.message.step + 1),
            json!({"reason": reason, "detail": detail, "cadence_id": job.message.cadence_id, "cycle": job.message.cycle, "step": job.message.step, "chased_balance": ctx.evaluation.chased_balance}),
        );
        if let Some(step) = ctx.cadence.step(job.message.step) {
            let _ = job.action.set(step.action);
        }
        tracing::info!(reason, "chase suppressed");
        crate::metrics::chase_suppressed(job.channel());
        self.close(
            job,
            ChaseStatus::Claimed,
            ChaseStatus::Suppressed,
            vec![history],
            Vec::new(),
        )
        .await
    }

    async fn suppress_without_customer(&self, job: &Job) -> Result<(), RecordError> {
        match self
            .advance(job, ChaseStatus::Claimed, ChaseStatus::Suppressed, None)
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// A permanent failure: recorded, a `fix_contact` task for a person, and
    /// acknowledged (never retried).
    async fn fail(
        &self,
        job: &Job,
        from: ChaseStatus,
        code: &str,
        failure: Failure,
    ) -> Result<(), RecordError> {
        let Some(stored) = self
            .context
            .store
            .customer(&job.tenant, &job.message.customer_id)
            .await?
        else {
            return self.suppress_without_customer(job).await;
        };
        let customer = &stored.customer;
        let history = HistoryItem::new(
            &customer.id,
            HistoryType::ChaseFailed,
            job.now,
            SYSTEM_ACTOR,
            format!(
                "Chase step {} failed: {}",
                job.message.step + 1,
                failure.summary()
            ),
            json!({"reason": code, "cadence_id": job.message.cadence_id, "cycle": job.message.cycle, "step": job.message.step}),
        );
        let task = NewTask {
            customer_id: customer.id.clone(),
            kind: TaskType::FixContact,
            title: Some(failure.task_title(code)),
            invoice_ids: Vec::new(),
            assignee_id: customer.ar_specialist_id.clone(),
            due_date: job.now.date_naive(),
        }
        .open(self.context.ids.new_id(job.now), SYSTEM_ACTOR, job.now);
        let task_history = task.created_history(SYSTEM_ACTOR, job.now);
        tracing::info!(reason = code, "chase failed");
        crate::metrics::chase_failed(job.channel());
        self.close(
            job,
            from,
            ChaseStatus::Failed,
            vec![history, task_history],
            vec![Write::InsertTask(Box::new(task))],
        )
        .await
    }

    /// Ends a chase without sending: the claim moves to `to`, and the history
    /// lands on the customer (its recent items included) with `extra`
    /// writes, in one transaction retried when the customer changes meanwhile.
    async fn close(
        &self,
        job: &Job,
        from: ChaseStatus,
        to: ChaseStatus,
        history: Vec<HistoryItem>,
        extra: Vec<Write>,
    ) -> Result<(), RecordError> {
        let store = &self.context.store;
        crate::retry::retrying(RECORD_ATTEMPTS, changed, || async {
            let Some(ctx) = self.context(job).await? else {
                return self.suppress_without_customer(job).await;
            };
            let stored = &ctx.stored;
            let mut writes = crate::writes::customer(evaluated(job, &ctx), Some(stored), &history);
            let chase_index = writes.len();
            writes.push(advance(job, from, to, None));
            writes.extend(extra.clone());
            match store.commit(&job.tenant, writes).await {
                Ok(()) => Ok(()),
                // Someone else closed this chase.
                Err(StoreError::ConditionFailed { index }) if index == chase_index => Ok(()),
                Err(StoreError::ConditionFailed { index: 0 })
                | Err(StoreError::TransactionConflict) => Err(RecordError::CustomerChanged),
                // A task or history item that already exists: written before.
                Err(StoreError::ConditionFailed { .. }) => Ok(()),
                Err(other) => Err(other.into()),
            }
        })
        .await
    }
}

/// The customer with the send-time evaluation recorded, as the scheduler
/// leaves it for a chase it enqueues (see `Scheduler::evaluate`): a chase
/// that ends without a run still moves the customer on. Another step now
/// due keeps the customer due, for the next tick to enqueue it.
fn evaluated(job: &Job, ctx: &Context) -> Customer {
    let mut next = ctx.stored.customer.clone();
    let another_step_due = matches!(&ctx.evaluation.decision,
        Decision::Run(run) if run.cycle != job.message.cycle || run.position != job.message.step);
    if !another_step_due {
        next.cycle = ctx.evaluation.state.clone();
        next.last_evaluated_at = ctx.evaluation.slot.map(|slot| slot.at);
        next.next_evaluation_at = ctx.evaluation.next_evaluation_at;
    }
    if crate::chasing::chases_invoices(&next) {
        next.reschedule(ctx.settings.time_zone, job.now);
    }
    next
}

fn changed(error: &RecordError) -> bool {
    matches!(error, RecordError::CustomerChanged)
}

/// The claim of every chase the message carries (the lead in
/// `lead_status`), for one write.
fn claims(job: &Job, lead_status: ChaseStatus) -> Vec<Write> {
    let lead = job.key();
    job.message
        .chases()
        .iter()
        .map(|chase| {
            let key = ChaseKey::of(&job.message.customer_id, chase);
            let status = if key == lead {
                lead_status
            } else {
                ChaseStatus::Claimed
            };
            Write::ClaimChase(Box::new(Chase {
                customer_id: key.customer_id,
                invoice_id: key.invoice_id,
                cycle: key.cycle,
                step: key.step,
                status,
                owner_message_id: job.message_id.clone(),
                owner_receive_count: job.receive_count,
                provider_message_id: None,
                updated_at: job.now,
            }))
        })
        .collect()
}

fn advance(
    job: &Job,
    from: ChaseStatus,
    to: ChaseStatus,
    provider_message_id: Option<&str>,
) -> Write {
    Write::AdvanceChase {
        key: job.key(),
        from,
        to,
        provider_message_id: provider_message_id.map(str::to_string),
        at: job.now,
    }
}

fn recipients<'a>(contacts: &'a [Contact], step: &Step) -> (Vec<&'a Contact>, Vec<&'a Contact>) {
    let in_role = |c: &&Contact| {
        step.contact_role
            .as_ref()
            .is_none_or(|role| c.roles.contains(role))
    };
    let to: Vec<&Contact> = contacts
        .iter()
        .filter(in_role)
        .filter(|c| match step.audience {
            Audience::Normal => c.receives_chasers,
            Audience::Escalated => c.receives_escalations,
        })
        .collect();
    let cc = contacts
        .iter()
        .filter(|c| c.cc && !to.iter().any(|t| t.id == c.id))
        .collect();
    (to, cc)
}

/// The history of a run: the step's item and one per superseded step.
fn run_history(
    job: &Job,
    current: &Context,
    run: &Run,
    provider_id: Option<&str>,
    letter: Option<&Document>,
) -> Vec<HistoryItem> {
    let customer = &current.stored.customer;
    let mut detail = json!({
        "cadence_id": job.message.cadence_id,
        "cadence_version": job.message.cadence_version,
        "cycle": run.cycle,
        "step": run.position,
        "action": run.action,
        "scheduled_for": job.message.scheduled_for,
        "account_age": current.evaluation.account_age,
        "past_due_age": current.evaluation.past_due_age,
        "chased_balance": current.evaluation.chased_balance,
        "provider_message_id": provider_id,
    });
    let (kind, summary) = match run.action {
        Action::Email => (
            HistoryType::ChaseEmail,
            format!("Chase email (step {}) sent", run.position + 1),
        ),
        Action::Sms => (
            HistoryType::ChaseSms,
            format!("Chase SMS (step {}) sent", run.position + 1),
        ),
        Action::Letter => (
            HistoryType::ChaseLetter,
            format!(
                "Chase letter (step {}) recorded for printing",
                run.position + 1
            ),
        ),
        Action::PhoneCall => (
            HistoryType::TaskCreated,
            format!("Call reminder (step {}) created", run.position + 1),
        ),
        Action::Escalation => (
            HistoryType::TaskCreated,
            format!("Escalation (step {}) created", run.position + 1),
        ),
    };
    if let Some(letter) = letter {
        detail["document_id"] = json!(letter.id);
        detail["fulfilment"] = json!("recorded_for_print");
    }
    let invoice_ids: Vec<String> = customer
        .open_invoices
        .iter()
        .map(|i| i.id.clone())
        .collect();
    let mut history =
        vec![
            HistoryItem::new(&customer.id, kind, job.now, SYSTEM_ACTOR, summary, detail)
                .with_invoices(invoice_ids),
        ];
    for position in &run.superseded {
        history.push(HistoryItem::new(
            &customer.id,
            HistoryType::ChaseSuperseded,
            job.now,
            SYSTEM_ACTOR,
            format!("Step {} superseded by step {}", position + 1, run.position + 1),
            json!({"cadence_id": job.message.cadence_id, "cycle": run.cycle, "step": position, "superseded_by": run.position}),
        ));
    }
    history
}

/// Everything attached to one email, at most: SES takes 10 MB per message
/// and base64 makes attachments a third larger.
pub const MAX_ATTACHMENT_BYTES: usize = 7 * 1024 * 1024;

/// The letter's document id, the same for every delivery of one chase: a
/// ULID of the scheduled instant with randomness from the chase's identity.
fn letter_id(job: &Job) -> String {
    use sha2::{Digest, Sha256};
    let message = &job.message;
    let mut identity = format!(
        "{}|{}|{}|{}|{}",
        message.tenant_id, message.customer_id, message.cadence_id, message.cycle, message.step
    );
    if let Some(invoice) = &message.invoice_id {
        identity.push('|');
        identity.push_str(invoice);
    }
    let digest = Sha256::digest(identity);
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    let millis = u64::try_from(message.scheduled_for.timestamp_millis()).unwrap_or(0);
    ulid::Ulid::from_parts(millis, u128::from_be_bytes(random)).to_string()
}

/// The open-item statement as of the chase's day, as one PDF attachment
/// (`attach_invoices` on the step).
fn statement_attachment(
    customer: &domain::customer::Customer,
    settings: &Settings,
    day: chrono::NaiveDate,
) -> Result<Attachment, Box<dyn std::error::Error + Send + Sync>> {
    let statement = domain::statement::Statement::of(customer, day)?;
    let bytes = documents::statement_pdf(
        &statement,
        crate::usecases::statements::letterhead(settings),
    )?;
    Ok(Attachment {
        filename: crate::usecases::statements::statement_filename(&statement),
        content_type: "application/pdf".into(),
        bytes,
    })
}
