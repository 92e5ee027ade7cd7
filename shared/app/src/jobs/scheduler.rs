//! The scheduler: on each tick, evaluate the customers whose next evaluation
//! is due and enqueue one message per due chase.
//!
//! Work follows the due customers only: they come from the sparse, sharded
//! due index. The scheduler may run twice for one instant or overlap with
//! itself: a message enqueued twice is claimed once by the worker, and each
//! customer's update is conditioned on its revision. Messages are enqueued
//! before the customer is updated, so a crash in between only means the next
//! tick enqueues again (and the claim absorbs it); no chase is lost.

use crate::context::Context;
use crate::messages::ChaseMessage;
use crate::ports::{ChaseQueue, DueCustomer, StoreError, Write};
use crate::records::StoredCustomer;
use chrono::{DateTime, NaiveDate, Utc};
use domain::cadence::{Cadence, Decision, Evaluator};
use domain::customer::{ChasingStatus, Customer};
use domain::history::{HistoryItem, HistoryType, SYSTEM_ACTOR};
use domain::identity::TenantId;
use domain::promise::PromiseStatus;
use domain::task::{NewTask, TaskType};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a chase message could not be written: {0}")]
    Message(String),
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    /// Entries of the due index at or before the tick's time.
    pub due_customers: usize,
    pub evaluated: usize,
    pub enqueued: usize,
    /// Due entries that were stale or changed concurrently: left alone.
    pub skipped: usize,
}

pub struct Scheduler {
    pub context: Context,
    pub queue: Arc<dyn ChaseQueue>,
}

struct Plan {
    tenant: TenantId,
    message: Option<String>,
    writes: Vec<Write>,
}

type CadenceCache = HashMap<(TenantId, String, u32), Option<Cadence>>;

impl Scheduler {
    /// Evaluates the tick at `at` (the event's time, never the wall clock:
    /// a retried or late event evaluates the instant it was scheduled for,
    /// and catches up on any run missed before it).
    pub async fn tick(&self, at: DateTime<Utc>) -> Result<SchedulerReport, SchedulerError> {
        let store = &self.context.store;
        let due = store.due_by(at).await?;
        let mut report = SchedulerReport {
            due_customers: due.len(),
            ..SchedulerReport::default()
        };
        let mut by_tenant: BTreeMap<TenantId, Vec<String>> = BTreeMap::new();
        for DueCustomer {
            tenant,
            customer_id,
        } in due
        {
            by_tenant.entry(tenant).or_default().push(customer_id);
        }
        let mut cadences = CadenceCache::new();
        let mut planned = Vec::new();
        for (tenant, ids) in by_tenant {
            let customers = store.customers(&tenant, &ids, true).await?;
            for stored in customers.into_values() {
                match self.plan(&tenant, stored, at, &mut cadences).await? {
                    Some(plan) => planned.push(plan),
                    None => report.skipped += 1,
                }
            }
        }
        report.evaluated = planned.len();
        let (indexes, bodies): (Vec<usize>, Vec<String>) = planned
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.message.clone().map(|m| (i, m)))
            .unzip();
        let accepted: Vec<usize> = self
            .queue
            .enqueue(&bodies)
            .await
            .into_iter()
            .filter_map(|i| indexes.get(i).copied())
            .collect();
        report.enqueued = accepted.len();
        for (i, plan) in planned.into_iter().enumerate() {
            // A customer whose message did not go out stays due for the next tick.
            if plan.message.is_some() && !accepted.contains(&i) {
                continue;
            }
            match store.commit(&plan.tenant, plan.writes).await {
                Ok(()) => {}
                Err(StoreError::ConditionFailed { .. }) => report.skipped += 1,
                Err(other) => return Err(other.into()),
            }
        }
        tracing::info!(at = %at, due = report.due_customers, enqueued = report.enqueued, skipped = report.skipped, "scheduler tick");
        crate::metrics::tick(report.due_customers, self.context.clock.now() - at);
        Ok(report)
    }

    async fn cadence(
        &self,
        tenant: &TenantId,
        id: &str,
        version: u32,
        cache: &mut CadenceCache,
    ) -> Result<Option<Cadence>, StoreError> {
        let key = (tenant.clone(), id.to_string(), version);
        if let Some(found) = cache.get(&key) {
            return Ok(found.clone());
        }
        let found = self
            .context
            .store
            .cadence_version(tenant, id, version)
            .await?;
        cache.insert(key, found.clone());
        Ok(found)
    }

    /// Evaluates one due customer: the message to send (if a step is due)
    /// and the writes that record the evaluation.
    async fn plan(
        &self,
        tenant: &TenantId,
        stored: StoredCustomer,
        at: DateTime<Utc>,
        cadences: &mut CadenceCache,
    ) -> Result<Option<Plan>, SchedulerError> {
        let customer = &stored.customer;
        // The index is eventually consistent: trust the record.
        if customer.next_evaluation_at.is_none_or(|next| next > at) {
            return Ok(None);
        }
        let mut next = customer.clone();
        let settings = self.context.settings(tenant).await?;
        let zone = settings.time_zone;
        let idle = |next: Customer| Plan {
            tenant: tenant.clone(),
            message: None,
            writes: vec![crate::writes::chasing(&stored, next)],
        };
        let (Some(cadence_id), Some(version)) = (
            customer.chasing.cadence_id.clone(),
            customer.chasing.cadence_version,
        ) else {
            next.next_evaluation_at = None;
            return Ok(Some(idle(next)));
        };
        let Some(cadence) = self.cadence(tenant, &cadence_id, version, cadences).await? else {
            tracing::warn!(tenant = %tenant, customer = %customer.id, "enrolled in a missing cadence version");
            next.next_evaluation_at = None;
            return Ok(Some(idle(next)));
        };
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
        let stops = crate::chasing::stops(&next, &settings);
        let balance = next.chased_balance(today);
        let evaluation = Evaluator::new(&cadence, zone, &stops).evaluate(&balance, &next.cycle, at);
        next.cycle = evaluation.state.clone();
        next.last_evaluated_at = evaluation.slot.map(|slot| slot.at);
        next.next_evaluation_at = evaluation.next_evaluation_at;
        let message = match &evaluation.decision {
            Decision::Run(run) => Some(
                serde_json::to_string(&ChaseMessage {
                    tenant_id: tenant.to_string(),
                    customer_id: customer.id.clone(),
                    cycle: run.cycle,
                    step: run.position,
                    scheduled_for: run.slot.at,
                    cadence_id: cadence_id.clone(),
                    cadence_version: version,
                })
                .map_err(|e| SchedulerError::Message(e.to_string()))?,
            ),
            _ => None,
        };
        let writes = if evaluation.promise_expired {
            self.resolve_promise(&stored, next, at, today)
        } else {
            // A pause that ran out moves the list entries too (writes::chasing).
            vec![crate::writes::chasing(&stored, next)]
        };
        Ok(Some(Plan {
            tenant: tenant.clone(),
            message,
            writes,
        }))
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
    ) -> Vec<Write> {
        let Some(promise) = next.active_promise.take() else {
            return vec![crate::writes::chasing(stored, next)];
        };
        if promise.status(today) != PromiseStatus::Broken {
            return vec![crate::writes::chasing(stored, next)];
        }
        let history = HistoryItem::new(
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
        let task_history = task.created_history(SYSTEM_ACTOR, at);
        let mut writes = crate::writes::customer(next, Some(stored), &[history, task_history]);
        writes.push(Write::InsertTask(Box::new(task)));
        writes
    }
}
