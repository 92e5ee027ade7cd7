//! The scheduler function: on each EventBridge tick, evaluate the customers
//! whose next evaluation is due and enqueue one message per due chase.
//!
//! Work follows the due customers only: they come from the sparse, sharded
//! due index. The scheduler may run twice for one instant or overlap with
//! itself: a message enqueued twice is claimed once by the worker, and each
//! customer's update is conditioned on its revision. Messages are enqueued
//! before the customer is updated, so a crash in between only means the next
//! tick enqueues again (and the claim absorbs it); no chase is lost.

use crate::adapters::customer_store::{self, StoredCustomer};
use crate::adapters::dynamo::StoreError;
use crate::adapters::{cadence_store, due_index, task_store};
use crate::bootstrap::App;
use crate::domain::cadence::{Cadence, Decision, Evaluator};
use crate::domain::customer::ChasingStatus;
use crate::domain::history::{HistoryItem, HistoryType, SYSTEM_ACTOR};
use crate::domain::identity::TenantId;
use crate::domain::promise::PromiseStatus;
use crate::domain::task::{NewTask, TaskType};
use crate::worker::ChaseMessage;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("the event has no time")]
    NoEventTime,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("enqueueing failed: {0}")]
    Queue(String),
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    /// Entries of the due index at or before the event's time.
    pub due_customers: usize,
    pub evaluated: usize,
    pub enqueued: usize,
    /// Due entries that were stale or changed concurrently: left alone.
    pub skipped: usize,
}

/// SQS takes at most 10 messages per `SendMessageBatch`.
const SQS_BATCH: usize = 10;
const SEND_ATTEMPTS: u32 = 3;

/// Uses the event's `time`, never the wall clock: a retried or late event
/// evaluates the instant it was scheduled for, and catches up on any run
/// missed before it.
pub async fn handle(app: &App, event: EventBridgeEvent) -> Result<SchedulerReport, SchedulerError> {
    let at: DateTime<Utc> = event.time.ok_or(SchedulerError::NoEventTime)?;
    let due = due_index::due_by(&app.table, at).await?;
    let mut report = SchedulerReport {
        due_customers: due.len(),
        ..SchedulerReport::default()
    };
    let keys: Vec<(String, String)> = due
        .iter()
        .map(|entry| {
            (
                entry.customer_pk.clone(),
                crate::adapters::keys::CUSTOMER_SK.to_string(),
            )
        })
        .collect();
    let items = crate::adapters::dynamo::batch_get(&app.table, &keys, true).await?;
    let mut cadences: HashMap<(String, String, u32), Option<Cadence>> = HashMap::new();
    let mut planned = Vec::new();
    for item in items {
        let Some(tenant) = tenant_of(&item) else {
            continue;
        };
        let stored = customer_store::parse(item)?;
        match plan(app, &tenant, stored, at, &mut cadences).await? {
            Some(plan) => planned.push(plan),
            None => report.skipped += 1,
        }
    }
    report.evaluated = planned.len();
    let messages: Vec<(usize, String)> = planned
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.message.as_ref().map(|m| (i, m.clone())))
        .collect();
    let enqueued = enqueue(app, &messages).await;
    report.enqueued = enqueued.len();
    for (i, plan) in planned.iter().enumerate() {
        // A customer whose message did not go out stays due for the next tick.
        if plan.message.is_some() && !enqueued.contains(&i) {
            continue;
        }
        match app.table.transact(plan.writes.clone()).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) => report.skipped += 1,
            Err(other) => return Err(other.into()),
        }
    }
    tracing::info!(at = %at, due = report.due_customers, enqueued = report.enqueued, skipped = report.skipped, "scheduler tick");
    Ok(report)
}

struct Plan {
    message: Option<String>,
    writes: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
}

fn tenant_of(item: &crate::adapters::dynamo::Item) -> Option<TenantId> {
    let pk = crate::adapters::dynamo::text_attribute(item, crate::adapters::keys::PK)?;
    let rest = pk.strip_prefix("T#")?;
    TenantId::parse(rest.split("#C#").next()?)
}

async fn cadence(
    app: &App,
    tenant: &TenantId,
    id: &str,
    version: u32,
    cache: &mut HashMap<(String, String, u32), Option<Cadence>>,
) -> Result<Option<Cadence>, StoreError> {
    let key = (tenant.to_string(), id.to_string(), version);
    if let Some(found) = cache.get(&key) {
        return Ok(found.clone());
    }
    let found = cadence_store::get_version(&app.table, tenant, id, version).await?;
    cache.insert(key, found.clone());
    Ok(found)
}

/// Evaluates one due customer: the message to send (if a step is due) and
/// the writes that record the evaluation.
async fn plan(
    app: &App,
    tenant: &TenantId,
    stored: StoredCustomer,
    at: DateTime<Utc>,
    cadences: &mut HashMap<(String, String, u32), Option<Cadence>>,
) -> Result<Option<Plan>, SchedulerError> {
    let customer = &stored.customer;
    // The index is eventually consistent: trust the record.
    if customer.next_evaluation_at.is_none_or(|next| next > at) {
        return Ok(None);
    }
    let mut next = customer.clone();
    let settings = app.settings.get(&app.table, tenant).await?;
    let zone = settings.time_zone;
    let (Some(cadence_id), Some(version)) = (
        customer.chasing.cadence_id.clone(),
        customer.chasing.cadence_version,
    ) else {
        next.next_evaluation_at = None;
        return Ok(Some(Plan {
            message: None,
            writes: vec![customer_store::update_chasing(
                &app.table, tenant, &stored, &next,
            )?],
        }));
    };
    let Some(cadence) = cadence(app, tenant, &cadence_id, version, cadences).await? else {
        tracing::warn!(tenant = %tenant, customer = %customer.id, "enrolled in a missing cadence version");
        next.next_evaluation_at = None;
        return Ok(Some(Plan {
            message: None,
            writes: vec![customer_store::update_chasing(
                &app.table, tenant, &stored, &next,
            )?],
        }));
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
            .map_err(|e| SchedulerError::Queue(e.to_string()))?,
        ),
        _ => None,
    };
    let writes = if evaluation.promise_expired {
        resolve_promise(app, tenant, &stored, next, at, today)?
    } else if next.chasing != customer.chasing {
        // A pause ran out: the list facets change too, so write it all.
        customer_store::put(&app.table, tenant, next, Some(&stored), &[])?
    } else {
        vec![customer_store::update_chasing(
            &app.table, tenant, &stored, &next,
        )?]
    };
    Ok(Some(Plan { message, writes }))
}

/// The promise's hold is over: kept promises were recorded with the payment
/// that kept them; a broken one gets its history and a task, and chasing
/// resumes (DESIGN §5).
fn resolve_promise(
    app: &App,
    tenant: &TenantId,
    stored: &StoredCustomer,
    mut next: crate::domain::customer::Customer,
    at: DateTime<Utc>,
    today: chrono::NaiveDate,
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
    let Some(promise) = next.active_promise.take() else {
        return Ok(vec![customer_store::update_chasing(
            &app.table, tenant, stored, &next,
        )?]);
    };
    if promise.status(today) != PromiseStatus::Broken {
        return Ok(vec![customer_store::update_chasing(
            &app.table, tenant, stored, &next,
        )?]);
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
    .open(
        ulid::Ulid::from_datetime(at.into()).to_string(),
        SYSTEM_ACTOR,
        at,
    );
    let task_history = task.created_history(SYSTEM_ACTOR, at);
    let mut writes = customer_store::put(
        &app.table,
        tenant,
        next,
        Some(stored),
        &[history, task_history],
    )?;
    writes.extend(task_store::insert(&app.table, tenant, &task)?);
    Ok(writes)
}

/// Sends the messages in batches of 10, retrying the entries SQS reports as
/// failed. Returns the indexes of the plans whose message was accepted.
async fn enqueue(app: &App, messages: &[(usize, String)]) -> Vec<usize> {
    let mut accepted = Vec::new();
    for chunk in messages.chunks(SQS_BATCH) {
        let mut pending: Vec<&(usize, String)> = chunk.iter().collect();
        for attempt in 0..SEND_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            let entries: Vec<SendMessageBatchRequestEntry> = pending
                .iter()
                .filter_map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .ok()
                })
                .collect();
            let result = app
                .sqs
                .send_message_batch()
                .queue_url(&app.config.chase_queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
            match result {
                Ok(output) => {
                    for ok in output.successful() {
                        if let Ok(i) = ok.id().parse::<usize>() {
                            accepted.push(i);
                        }
                    }
                    let failed: Vec<&str> = output.failed().iter().map(|f| f.id()).collect();
                    pending.retain(|(i, _)| failed.contains(&i.to_string().as_str()));
                }
                Err(error) => tracing::warn!(error = %error, attempt, "SendMessageBatch failed"),
            }
        }
    }
    accepted
}
