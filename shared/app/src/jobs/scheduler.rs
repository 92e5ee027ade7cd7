//! The scheduler: each tick fans out, and workers evaluate the due
//! customers and enqueue one message per due chase.
//!
//! The tick itself only enqueues one evaluation unit per shard of the
//! sparse due index, so its work never grows with the number of due
//! customers. A unit evaluates one page of its shard ([`UNIT_SIZE`]
//! customers) and first enqueues the unit for the next page, so a shard's
//! pages are worked on concurrently, by as many invocations as Lambda runs
//! (a redelivered unit does not enqueue it again: see [`Scheduler::evaluate`]).
//!
//! Ticks may run twice for one instant or overlap, and units may be
//! delivered twice: a chase message enqueued twice is claimed once by the
//! worker, and each customer's update is conditioned on its revision.
//! Chase messages are enqueued before the customer is updated, so a crash
//! in between only means the customer stays due (and the claim absorbs the
//! second message); no chase is lost.

use crate::chasing::CadenceLookups;
use crate::context::Context;
use crate::messages::{ChaseMessage, CoveredChase, EvaluationUnit, QueuedRecord};
use crate::ports::{DueCustomer, PageRequest, Queue, StoreError, Write};
use crate::records::StoredCustomer;
use chrono::{DateTime, NaiveDate, Utc};
use domain::cadence::{plan_chasing, ChaseId, Decision, Evaluator};
use domain::customer::{ChasingStatus, Customer};
use domain::history::{HistoryItem, HistoryType, SYSTEM_ACTOR};
use domain::identity::TenantId;
use domain::promise::PromiseStatus;
use domain::settings::Settings;
use domain::task::{NewTask, TaskType};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a message could not be written: {0}")]
    Message(String),
    #[error("the queue did not accept {0} message(s)")]
    NotEnqueued(usize),
}

/// Customers one evaluation unit reads: one `BatchGetItem` at most (per
/// tenant on the page), and well inside one invocation's time and memory.
pub const UNIT_SIZE: usize = 100;

/// Customers of one unit whose writes are in flight at once.
const WRITES_AT_ONCE: usize = 10;

/// How many times a unit is sent again after failing before its next page
/// (a DynamoDB or SQS outage outlasting them leaves the usual retries).
const MAX_RESENDS: u32 = 3;

/// What a tick did: one unit per shard went to the evaluation queue.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct FanOut {
    pub units: usize,
}

/// What evaluation units did, summed over the units.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    pub units: usize,
    /// Entries of the due index at or before the tick's time.
    pub due_customers: usize,
    pub evaluated: usize,
    pub enqueued: usize,
    /// Due entries that were stale or changed concurrently: left alone.
    pub skipped: usize,
}

impl SchedulerReport {
    pub fn add(&mut self, other: &SchedulerReport) {
        self.units += other.units;
        self.due_customers += other.due_customers;
        self.evaluated += other.evaluated;
        self.enqueued += other.enqueued;
        self.skipped += other.skipped;
    }
}

pub struct Scheduler {
    pub context: Context,
    pub chase_queue: Arc<dyn Queue>,
    pub evaluation_queue: Arc<dyn Queue>,
}

struct Plan {
    tenant: TenantId,
    /// The chase messages to enqueue: at most one without invoice-level
    /// chasing; with it, one per message and task of the run.
    messages: Vec<String>,
    writes: Vec<Write>,
}

fn body<T: Serialize>(message: &T) -> Result<String, SchedulerError> {
    serde_json::to_string(message).map_err(|e| SchedulerError::Message(e.to_string()))
}

impl Scheduler {
    /// The tick at `at` (the event's time, never the wall clock: a retried
    /// or late event evaluates the instant it was scheduled for, and
    /// catches up on any run missed before it): one unit per shard. Fails
    /// when a unit was not accepted, so EventBridge retries the tick.
    pub async fn tick(&self, at: DateTime<Utc>) -> Result<FanOut, SchedulerError> {
        let bodies = (0..self.context.store.due_shards())
            .map(|shard| {
                body(&EvaluationUnit {
                    at,
                    shard,
                    after: None,
                    resent: 0,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let accepted = self.evaluation_queue.enqueue(&bodies).await.len();
        tracing::info!(at = %at, units = bodies.len(), "scheduler tick");
        crate::metrics::tick(self.context.clock.now() - at);
        if accepted < bodies.len() {
            return Err(SchedulerError::NotEnqueued(bodies.len() - accepted));
        }
        Ok(FanOut { units: accepted })
    }

    /// A batch of evaluation units from the queue; returns the message ids
    /// of the records to retry, with what the units did.
    pub async fn handle(&self, records: Vec<QueuedRecord>) -> (SchedulerReport, Vec<String>) {
        let mut report = SchedulerReport::default();
        let mut failed = Vec::new();
        for record in records {
            let id = record.message_id.clone().unwrap_or_default();
            let unit = record
                .body
                .as_deref()
                .and_then(|body| serde_json::from_str::<EvaluationUnit>(body).ok());
            let Some(unit) = unit else {
                tracing::warn!(message_id = %id, "malformed evaluation unit");
                failed.push(id);
                continue;
            };
            match self.evaluate(&unit, record.receive_count <= 1).await {
                Ok(done) => report.add(&done),
                Err(error) => {
                    tracing::warn!(message_id = %id, shard = unit.shard, error = %error, "evaluation unit failed");
                    failed.push(id);
                }
            }
        }
        (report, failed)
    }

    /// A first delivery failed before sending the next page's unit: a
    /// fresh copy of the unit, which is a first delivery again, takes its
    /// place (the original is done). At most [`MAX_RESENDS`] copies, and
    /// only when the copy goes out; otherwise the failure stands, the queue
    /// retries the unit without the chain, and the rest of the shard waits
    /// for the next tick.
    async fn send_again(
        &self,
        unit: &EvaluationUnit,
        error: SchedulerError,
    ) -> Result<SchedulerReport, SchedulerError> {
        if unit.resent >= MAX_RESENDS {
            return Err(error);
        }
        tracing::warn!(shard = unit.shard, error = %error, "evaluation unit failed before its next page; sent again");
        let copy = body(&EvaluationUnit {
            resent: unit.resent + 1,
            ..unit.clone()
        })?;
        if self.evaluation_queue.enqueue(&[copy]).await.is_empty() {
            return Err(error);
        }
        Ok(SchedulerReport::default())
    }

    /// One unit: the unit for the next page goes out first, then each due
    /// customer of this page is evaluated. Only a unit's first delivery
    /// sends the next page's unit: a retried unit sending it again would
    /// fork the shard's chain of pages, and every later page would be
    /// evaluated twice. A first delivery that fails before sending it
    /// sends a fresh copy of itself instead of failing (see
    /// [`Self::send_again`]), so the chain goes on.
    pub async fn evaluate(
        &self,
        unit: &EvaluationUnit,
        first_delivery: bool,
    ) -> Result<SchedulerReport, SchedulerError> {
        let store = &self.context.store;
        let page = store
            .due_page(
                unit.shard,
                unit.at,
                PageRequest {
                    limit: UNIT_SIZE,
                    cursor: unit.after.clone(),
                },
            )
            .await;
        let page = match page {
            Ok(page) => page,
            Err(error) if first_delivery => return self.send_again(unit, error.into()).await,
            Err(error) => return Err(error.into()),
        };
        if let Some(after) = page.next_cursor.filter(|_| first_delivery) {
            let next = body(&EvaluationUnit {
                at: unit.at,
                shard: unit.shard,
                after: Some(after),
                resent: 0,
            })?;
            if self.evaluation_queue.enqueue(&[next]).await.is_empty() {
                return self.send_again(unit, SchedulerError::NotEnqueued(1)).await;
            }
        }
        let mut report = SchedulerReport {
            units: 1,
            due_customers: page.items.len(),
            ..SchedulerReport::default()
        };
        let mut by_tenant: BTreeMap<TenantId, Vec<String>> = BTreeMap::new();
        for DueCustomer {
            tenant,
            customer_id,
        } in page.items
        {
            by_tenant.entry(tenant).or_default().push(customer_id);
        }
        let cadences = CadenceLookups::default();
        let mut planned = Vec::new();
        for (tenant, ids) in by_tenant {
            let customers = store.customers(&tenant, &ids, true).await?;
            for stored in customers.into_values() {
                match self.plan(&tenant, stored, unit.at, &cadences).await? {
                    Some(plan) => planned.push(plan),
                    None => report.skipped += 1,
                }
            }
        }
        report.evaluated = planned.len();
        let (owners, bodies): (Vec<usize>, Vec<String>) = planned
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.messages.iter().map(move |m| (i, m.clone())))
            .unzip();
        let accepted: Vec<usize> = if bodies.is_empty() {
            Vec::new()
        } else {
            self.chase_queue.enqueue(&bodies).await
        };
        report.enqueued = accepted.len();
        let mut accepted_of = vec![0usize; planned.len()];
        for owner in accepted.iter().filter_map(|i| owners.get(*i)) {
            accepted_of[*owner] += 1;
        }
        // A customer whose messages did not all go out stays due for the
        // next tick (the claims absorb what did). One whose chases went out
        // is left to the worker, which records this evaluation with the
        // chases, unless the evaluation changed more than the chasing
        // fields (a pause ended, a promise resolved, a capped chase recorded).
        let commits = planned
            .into_iter()
            .zip(accepted_of)
            .filter(|(plan, accepted)| {
                plan.messages.is_empty()
                    || (*accepted == plan.messages.len()
                        && !matches!(plan.writes.as_slice(), [Write::UpdateChasing { .. }]))
            })
            .map(|(plan, _)| async move { store.commit(&plan.tenant, plan.writes).await });
        let outcomes: Vec<Result<(), StoreError>> = futures::stream::iter(commits)
            .buffer_unordered(WRITES_AT_ONCE)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok(()) => {}
                Err(StoreError::ConditionFailed { .. }) => report.skipped += 1,
                Err(other) => return Err(other.into()),
            }
        }
        tracing::info!(at = %unit.at, shard = unit.shard, due = report.due_customers, enqueued = report.enqueued, skipped = report.skipped, "evaluation unit");
        crate::metrics::evaluated(report.due_customers);
        Ok(report)
    }

    /// Evaluates one due customer: the message to send (if a step is due)
    /// and the writes that record the evaluation.
    async fn plan(
        &self,
        tenant: &TenantId,
        stored: StoredCustomer,
        at: DateTime<Utc>,
        cadences: &CadenceLookups,
    ) -> Result<Option<Plan>, SchedulerError> {
        let customer = &stored.customer;
        // The index is eventually consistent: trust the record.
        if customer.next_evaluation_at.is_none_or(|next| next > at) {
            return Ok(None);
        }
        let mut next = customer.clone();
        let settings = self.context.settings(tenant).await?;
        let zone = settings.time_zone;
        let today = at.with_timezone(&zone).date_naive();
        if next.chasing.status == ChasingStatus::Paused
            && next
                .chasing
                .paused_until
                .is_some_and(|until| until <= today)
        {
            next.chasing.status = ChasingStatus::Active;
            next.chasing.paused_until = None;
        }
        if crate::chasing::chases_invoices(customer) {
            return self
                .plan_both(tenant, &stored, next, &settings, at, cadences)
                .await
                .map(Some);
        }
        let idle = |next: Customer| Plan {
            tenant: tenant.clone(),
            messages: Vec::new(),
            writes: vec![crate::writes::chasing(&stored, next)],
        };
        let (Some(cadence_id), Some(version)) = (
            customer.chasing.cadence_id.clone(),
            customer.chasing.cadence_version,
        ) else {
            next.next_evaluation_at = None;
            return Ok(Some(idle(next)));
        };
        let store = self.context.store.as_ref();
        let Some(cadence) = cadences
            .version(store, tenant, &cadence_id, version)
            .await?
        else {
            tracing::warn!(tenant = %tenant, customer = %customer.id, "enrolled in a missing cadence version");
            next.next_evaluation_at = None;
            return Ok(Some(idle(next)));
        };
        let stops = crate::chasing::stops(&next, &settings);
        let balance = next.chased_balance(today);
        let evaluation = Evaluator::new(&cadence, zone, &stops).evaluate(&balance, &next.cycle, at);
        next.cycle = evaluation.state.clone();
        next.last_evaluated_at = evaluation.slot.map(|slot| slot.at);
        next.next_evaluation_at = evaluation.next_evaluation_at;
        let messages = match &evaluation.decision {
            Decision::Run(run) => vec![body(&ChaseMessage {
                tenant_id: tenant.to_string(),
                customer_id: customer.id.clone(),
                cycle: run.cycle,
                step: run.position,
                scheduled_for: run.slot.at,
                cadence_id: cadence_id.clone(),
                cadence_version: version,
                invoice_id: None,
                covers: Vec::new(),
                both_levels: false,
            })?],
            _ => Vec::new(),
        };
        let writes = if evaluation.promise_expired {
            self.resolve_promise(&stored, next, at, today, Vec::new())
        } else {
            // A pause that ran out moves the list entries too (writes::chasing).
            vec![crate::writes::chasing(&stored, next)]
        };
        Ok(Some(Plan {
            tenant: tenant.clone(),
            messages,
            writes,
        }))
    }

    /// A customer chased at invoice level: both levels planned at `at`
    /// (`domain::cadence::plan_chasing`), one message per message and task
    /// of the merged run. Each message is re-checked as of `at` by the
    /// worker, so the instant is the tick's, not a cadence's slot.
    async fn plan_both(
        &self,
        tenant: &TenantId,
        stored: &StoredCustomer,
        mut next: Customer,
        settings: &Settings,
        at: DateTime<Utc>,
        lookups: &CadenceLookups,
    ) -> Result<Plan, SchedulerError> {
        let zone = settings.time_zone;
        let today = at.with_timezone(&zone).date_naive();
        let cadences = lookups
            .of(self.context.store.as_ref(), tenant, &next)
            .await?;
        let stops = crate::chasing::stops(&next, settings);
        let plan = plan_chasing(&cadences.input(&next, &stops, zone), at);
        let message = |lead: &ChaseId, covers: Vec<CoveredChase>| {
            let (cadence_id, cadence_version, invoice_id, cycle, step) = match lead {
                ChaseId::Customer { cycle, position } => (
                    next.chasing.cadence_id.clone().unwrap_or_default(),
                    next.chasing.cadence_version.unwrap_or_default(),
                    None,
                    *cycle,
                    *position,
                ),
                ChaseId::Invoice {
                    invoice_id,
                    cycle,
                    position,
                } => {
                    let run = plan.invoices.run_for(invoice_id, *cycle, *position);
                    (
                        run.map(|r| r.cadence_id.clone()).unwrap_or_default(),
                        run.map_or(0, |r| r.cadence_version),
                        Some(invoice_id.clone()),
                        *cycle,
                        *position,
                    )
                }
            };
            body(&ChaseMessage {
                tenant_id: tenant.to_string(),
                customer_id: next.id.clone(),
                cycle,
                step,
                scheduled_for: at,
                cadence_id,
                cadence_version,
                invoice_id,
                covers,
                both_levels: true,
            })
        };
        let mut messages = Vec::new();
        for merged in &plan.merged.messages {
            let chases = merged.chases();
            let Some((lead, rest)) = chases.split_first() else {
                continue;
            };
            let covers = rest
                .iter()
                .filter_map(|chase| match chase {
                    ChaseId::Invoice {
                        invoice_id,
                        cycle,
                        position,
                    } => Some(CoveredChase {
                        invoice_id: invoice_id.clone(),
                        cycle: *cycle,
                        step: *position,
                    }),
                    ChaseId::Customer { .. } => None,
                })
                .collect();
            messages.push(message(lead, covers)?);
        }
        for task in &plan.merged.tasks {
            messages.push(message(&task.id(), Vec::new())?);
        }
        if let Some(evaluation) = &plan.customer {
            next.cycle = evaluation.state.clone();
        }
        next.invoice_cycles = plan.invoices.state.clone();
        // Invoice chases the cap holds back: recorded now, never retried in
        // their cycle (a worker records them instead when it gets there first).
        let mut capped = Vec::new();
        for held in &plan.merged.suppressed {
            if let domain::cadence::Chase::Invoice(run) = &held.chase {
                next.invoice_cycles.record_suppressed(run);
                capped.push(
                    HistoryItem::new(
                        &next.id,
                        HistoryType::ChaseSuppressed,
                        at,
                        SYSTEM_ACTOR,
                        format!(
                            "Chase step {} for invoice {} not sent: {}",
                            run.position + 1,
                            run.invoice_number,
                            held.stop.code()
                        ),
                        json!({"reason": held.stop.code(), "detail": held.stop, "chase": held.chase.id(), "invoice_id": run.invoice_id, "scheduled_for": at}),
                    )
                    .with_invoices(vec![run.invoice_id.clone()]),
                );
            }
        }
        cadences.refresh_override_timings(&mut next);
        next.last_evaluated_at = Some(at);
        next.next_evaluation_at = plan.next_evaluation_at;
        let promise_expired = stops.promise.is_some_and(|p| today > p.holds_through());
        let writes = if promise_expired {
            self.resolve_promise(stored, next, at, today, capped)
        } else {
            evaluation_writes(stored, next, &capped)
        };
        Ok(Plan {
            tenant: tenant.clone(),
            messages,
            writes,
        })
    }

    /// The promise's hold is over: kept promises were recorded with the
    /// payment that kept them; a broken one gets its history and a task,
    /// and chasing resumes (docs/chasing.md).
    fn resolve_promise(
        &self,
        stored: &StoredCustomer,
        mut next: Customer,
        at: DateTime<Utc>,
        today: NaiveDate,
        mut history: Vec<HistoryItem>,
    ) -> Vec<Write> {
        let Some(promise) = next.active_promise.take() else {
            return evaluation_writes(stored, next, &history);
        };
        if promise.status(today) != PromiseStatus::Broken {
            return evaluation_writes(stored, next, &history);
        }
        let broken = HistoryItem::new(
            &next.id,
            HistoryType::Promise,
            at,
            SYSTEM_ACTOR,
            format!(
                "Promise to pay {} {} by {} was broken",
                promise.amount, promise.currency, promise.promised_date
            ),
            json!({"promise_id": promise.id, "status": "broken", "paid_since": promise.paid_since.to_string()}),
        );
        let task = NewTask {
            customer_id: next.id.clone(),
            kind: TaskType::PromiseBroken,
            title: Some(format!(
                "Promise to pay {} {} was broken",
                promise.amount, promise.currency
            )),
            invoice_ids: Vec::new(),
            assignee_id: next.ar_specialist_id.clone(),
            due_date: today,
        }
        .open(self.context.ids.new_id(at), SYSTEM_ACTOR, at);
        history.push(broken);
        history.push(task.created_history(SYSTEM_ACTOR, at));
        let mut writes = crate::writes::customer(next, Some(stored), &history);
        writes.push(Write::InsertTask(Box::new(task)));
        writes
    }
}

/// The writes of an evaluation: the chasing fields alone, or the customer
/// with history when there is some to record.
fn evaluation_writes(
    stored: &StoredCustomer,
    next: Customer,
    history: &[HistoryItem],
) -> Vec<Write> {
    if history.is_empty() {
        vec![crate::writes::chasing(stored, next)]
    } else {
        crate::writes::customer(next, Some(stored), history)
    }
}
