//! Both levels of chasing for one customer at one instant, merged so that a
//! contact gets at most one message per channel and audience per run, and
//! the frequency cap counts messages across both levels (docs/chasing.md
//! "Invoice-level chasing").
//!
//! How the scheduler and the chase worker call it:
//! 1. Build a [`ChasingInput`] from one read of the customer (its open
//!    invoices, currency, unapplied credit, `cycle`, `invoice_cycles`, and the
//!    [`Stops`]: pause, promise, contact roles, `messages_sent`, the tenant's
//!    frequency cap), the tenant's time zone, and the cadences: the
//!    customer-level version it is enrolled on, its invoice-level one, and
//!    the invoice-level cadences its invoices' overrides name.
//! 2. [`plan_chasing`]`(&input, now)` gives a [`ChasingPlan`]:
//!    - [`ChasingPlan::chases`]: every chase to claim, by [`ChaseId`]
//!      (tenant, customer, then `Customer {cycle, position}` or
//!      `Invoice {invoice_id, cycle, position}`);
//!    - `merged.messages`: the messages to send, each with the chases it
//!      covers (every covered chase is claimed and recorded on its own);
//!      `merged.tasks`: phone calls and escalations, one task each;
//!    - [`ChasingPlan::suppressions`]: the chases to record `chase_suppressed`,
//!      with their [`Stop`] (capped ones have reason `frequency_cap`);
//!    - [`ChasingPlan::cycle_after`] and [`ChasingPlan::invoice_cycles_after`]:
//!      the state to persist once the chases are carried out;
//!    - `next_evaluation_at`: the earliest of both levels, for the due index.
//! 3. Send-time re-check: the worker plans again as of the scheduled instant
//!    with the customer as it is now and asks [`ChasingPlan::recheck`] for
//!    each claimed chase; it sends the fresh plan's message for the chases
//!    still [`Recheck::Due`] and suppresses the others.

use super::*;
use crate::schedule::Schedule;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Everything the evaluation of both levels needs about one customer.
#[derive(Debug, Clone)]
pub struct ChasingInput<'a> {
    pub zone: Tz,
    pub stops: &'a Stops,
    pub open: OpenInvoices<'a>,
    /// The customer-level cadence version the customer is enrolled on.
    pub customer_cadence: Option<&'a Cadence>,
    pub invoice_cadences: InvoiceCadences<'a>,
    pub cycle: &'a CycleState,
    pub invoice_cycles: &'a InvoiceCycles,
}

/// Which chase: the claim and history key below (tenant, customer).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum ChaseId {
    Customer {
        cycle: u32,
        position: u32,
    },
    Invoice {
        invoice_id: String,
        cycle: u32,
        position: u32,
    },
}

/// A due step of either level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "level", content = "run", rename_all = "snake_case")]
pub enum Chase {
    Customer(Run),
    Invoice(InvoiceRun),
}

impl Chase {
    pub fn id(&self) -> ChaseId {
        match self {
            Chase::Customer(run) => ChaseId::Customer {
                cycle: run.cycle,
                position: run.position,
            },
            Chase::Invoice(run) => ChaseId::Invoice {
                invoice_id: run.invoice_id.clone(),
                cycle: run.cycle,
                position: run.position,
            },
        }
    }
}

/// One message to one set of contacts: the chases of both levels due in one
/// run on the same channel, audience and contact role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaseMessage {
    /// `email`, `sms` or `letter`.
    pub action: Action,
    pub audience: Audience,
    pub contact_role: Option<String>,
    /// The customer-level step's template when one is due, else the template
    /// of the first invoice run (the oldest due date).
    pub template_id: Option<String>,
    pub attach_invoices: bool,
    pub customer_run: Option<Run>,
    /// Oldest due date first: the invoices the invoice variables list.
    pub invoice_runs: Vec<InvoiceRun>,
}

impl ChaseMessage {
    pub fn chases(&self) -> Vec<ChaseId> {
        let customer = self.customer_run.iter().cloned().map(Chase::Customer);
        let invoices = self.invoice_runs.iter().cloned().map(Chase::Invoice);
        customer.chain(invoices).map(|chase| chase.id()).collect()
    }

    /// The invoices the message is about, for the template's invoice variables.
    pub fn invoice_ids(&self) -> Vec<&str> {
        self.invoice_runs
            .iter()
            .map(|r| r.invoice_id.as_str())
            .collect()
    }

    fn add(&mut self, chase: Chase) {
        match chase {
            Chase::Customer(run) => self.customer_run = Some(run),
            Chase::Invoice(run) => self.invoice_runs.push(run),
        }
    }

    fn into_chases(self) -> impl Iterator<Item = Chase> {
        let customer = self.customer_run.into_iter().map(Chase::Customer);
        customer.chain(self.invoice_runs.into_iter().map(Chase::Invoice))
    }
}

/// A due chase held back, recorded `chase_suppressed` with the stop's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedChase {
    pub chase: Chase,
    pub stop: Stop,
}

/// What one run sends, opens and holds back for one customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MergedRun {
    pub messages: Vec<ChaseMessage>,
    /// Phone calls and escalations: tasks for the team, one per chase, never capped.
    pub tasks: Vec<Chase>,
    pub suppressed: Vec<SuppressedChase>,
}

/// THE merge rule. `customer` is the customer-level run due in this run (and
/// its step), `invoice_runs` the invoice-level ones, oldest due date first.
/// Chases with the same channel, audience and contact role become one
/// message; the customer-level one comes first and gives its template. Then
/// the frequency cap, counted on the tenant-local date of `now` across both
/// levels and all channels: messages beyond it are suppressed with reason
/// `frequency_cap`, every chase they cover.
pub fn merge_runs(
    customer: Option<(&Run, &Step)>,
    invoice_runs: &[InvoiceRun],
    stops: &Stops,
    zone: Tz,
    now: DateTime<Utc>,
) -> MergedRun {
    let customer_chase = customer.map(|(run, step)| (Chase::Customer(run.clone()), step));
    let invoice_chases = invoice_runs
        .iter()
        .map(|run| (Chase::Invoice(run.clone()), &run.step));
    let mut merged = MergedRun::default();
    let mut messages: Vec<ChaseMessage> = Vec::new();
    for (chase, step) in customer_chase.into_iter().chain(invoice_chases) {
        if !step.action.is_message() {
            merged.tasks.push(chase);
            continue;
        }
        let same_contacts = |m: &&mut ChaseMessage| {
            m.action == step.action
                && m.audience == step.audience
                && m.contact_role == step.contact_role
        };
        match messages.iter_mut().find(same_contacts) {
            Some(message) => {
                message.attach_invoices |= step.attach_invoices;
                message.add(chase);
            }
            None => {
                let mut message = ChaseMessage {
                    action: step.action,
                    audience: step.audience,
                    contact_role: step.contact_role.clone(),
                    template_id: step.template_id.clone(),
                    attach_invoices: step.attach_invoices,
                    customer_run: None,
                    invoice_runs: Vec::new(),
                };
                message.add(chase);
                messages.push(message);
            }
        }
    }
    let as_of = now.with_timezone(&zone).date_naive();
    let room = cap_room(&stops.messages_sent, stops.frequency_cap, zone, as_of);
    if messages.len() > room {
        let sent_now = vec![now; room];
        let reopens_on = cap_opens_on(
            &stops.messages_sent,
            stops.frequency_cap,
            zone,
            as_of,
            &sent_now,
        );
        for capped in messages.split_off(room) {
            merged
                .suppressed
                .extend(capped.into_chases().map(|chase| SuppressedChase {
                    chase,
                    stop: Stop::FrequencyCap { reopens_on },
                }));
        }
    }
    merged.messages = messages;
    merged
}

/// What the send-time re-check says about one claimed chase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Recheck {
    Due,
    /// Still due but held back (paused, promised, below threshold, capped...).
    Held {
        stop: Stop,
    },
    /// Paid, void, disputed, on hold, paused invoice, or already done.
    NoLongerDue,
}

/// Both levels' decisions for one customer at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChasingPlan {
    /// `None` without a customer-level cadence.
    pub customer: Option<Evaluation>,
    pub invoices: InvoiceEvaluation,
    pub merged: MergedRun,
    /// The earliest next evaluation of both levels.
    pub next_evaluation_at: Option<DateTime<Utc>>,
}

impl ChasingPlan {
    /// Every chase to claim: those sent, opened as tasks or capped.
    pub fn chases(&self) -> Vec<ChaseId> {
        let messages = self.merged.messages.iter().flat_map(ChaseMessage::chases);
        let tasks = self.merged.tasks.iter().map(Chase::id);
        let capped = self.merged.suppressed.iter().map(|s| s.chase.id());
        messages.chain(tasks).chain(capped).collect()
    }

    /// The invoice-level and capped chases held back, with why: the merge's
    /// capped chases and the invoices whose step is held. (A customer-level
    /// stop is `customer.decision`, recorded as today.)
    pub fn suppressions(&self) -> Vec<(ChaseId, Stop)> {
        let capped = self
            .merged
            .suppressed
            .iter()
            .map(|s| (s.chase.id(), s.stop.clone()));
        let invoices = self.invoices.stopped.iter().map(|s| {
            let id = ChaseId::Invoice {
                invoice_id: s.invoice_id.clone(),
                cycle: s.cycle,
                position: s.position,
            };
            (id, s.stop.clone())
        });
        capped.chain(invoices).collect()
    }

    /// The customer-level state to persist once the plan is carried out
    /// (`None` without a customer-level cadence: keep the stored one).
    pub fn cycle_after(&self) -> Option<CycleState> {
        let evaluation = self.customer.as_ref()?;
        let capped = self
            .merged
            .suppressed
            .iter()
            .any(|s| matches!(s.chase, Chase::Customer(_)));
        // A capped customer-level step is retried once the cap reopens.
        Some(if capped {
            evaluation.state.clone()
        } else {
            evaluation.state_after_run()
        })
    }

    /// The invoice-level state to persist once the plan is carried out:
    /// runs recorded, capped runs recorded as suppressed (never retried).
    pub fn invoice_cycles_after(&self) -> InvoiceCycles {
        let mut state = self.invoices.state.clone();
        for run in &self.invoices.runs {
            let capped = self
                .merged
                .suppressed
                .iter()
                .any(|s| s.chase == Chase::Invoice(run.clone()));
            if capped {
                state.record_suppressed(run);
            } else {
                state.record_run(run);
            }
        }
        state
    }

    /// The send-time re-check of one claimed chase against this fresh plan.
    pub fn recheck(&self, chase: &ChaseId) -> Recheck {
        let sent = self.merged.messages.iter().flat_map(ChaseMessage::chases);
        let tasks = self.merged.tasks.iter().map(Chase::id);
        if sent.chain(tasks).any(|id| &id == chase) {
            return Recheck::Due;
        }
        if let (ChaseId::Customer { cycle, .. }, Some(evaluation)) = (chase, &self.customer) {
            // A customer-level stop holds whichever step of the cycle is due.
            if let Decision::Stopped(stop) = &evaluation.decision {
                if evaluation.state.cycle == *cycle {
                    return Recheck::Held { stop: stop.clone() };
                }
            }
        }
        match self.suppressions().into_iter().find(|(id, _)| id == chase) {
            Some((_, stop)) => Recheck::Held { stop },
            None => Recheck::NoLongerDue,
        }
    }
}

/// THE evaluation of both levels for one customer at `now`.
pub fn plan_chasing(input: &ChasingInput, now: DateTime<Utc>) -> ChasingPlan {
    let today = now.with_timezone(&input.zone).date_naive();
    let customer = input.customer_cadence.map(|cadence| {
        Evaluator::new(cadence, input.zone, input.stops).evaluate(
            &input.open.chased_balance(today),
            input.cycle,
            now,
        )
    });
    let invoices = InvoiceEvaluator::new(input.invoice_cadences, input.zone, input.stops).evaluate(
        input.open,
        input.invoice_cycles,
        now,
    );
    let customer_run = customer.as_ref().and_then(|evaluation| {
        let Decision::Run(run) = &evaluation.decision else {
            return None;
        };
        let step = input.customer_cadence?.step(run.position)?;
        Some((run, step))
    });
    let merged = merge_runs(customer_run, &invoices.runs, input.stops, input.zone, now);
    let next_evaluation_at = earliest(
        customer.as_ref().and_then(|e| e.next_evaluation_at),
        invoices.next_evaluation_at,
    );
    ChasingPlan {
        customer,
        invoices,
        merged,
        next_evaluation_at,
    }
}

/// When to look at this customer again for either level if nothing changes
/// (event handlers call it after a change, then [`reschedule`]).
pub fn next_evaluation_of_both(input: &ChasingInput, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&input.zone).date_naive();
    let customer = input.customer_cadence.and_then(|cadence| {
        Evaluator::new(cadence, input.zone, input.stops).next_evaluation_at(
            &input.open.chased_balance(today),
            input.cycle,
            now,
        )
    });
    let invoices = InvoiceEvaluator::new(input.invoice_cadences, input.zone, input.stops)
        .next_evaluation_at(input.open, input.invoice_cycles, now);
    earliest(customer, invoices)
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One line of the preview of both levels: what would run, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub level: Level,
    /// The cadence the step is from.
    pub cadence_id: String,
    /// The invoice an invoice-level step chases.
    pub invoice_id: Option<String>,
    #[serde(flatten)]
    pub entry: PreviewEntry,
}

/// A dry run of both levels over the runs in `(now, now + days]` if nothing
/// changes: each run planned with [`plan_chasing`], its outcome applied to a
/// copy of the state and its messages counted against the cap.
pub fn preview_chasing(input: &ChasingInput, now: DateTime<Utc>, days: u32) -> Vec<PlannedStep> {
    let end = now + TimeDelta::days(i64::from(days));
    let mut instants: Vec<DateTime<Utc>> = input
        .customer_cadence
        .into_iter()
        .chain(input.invoice_cadences.all())
        .flat_map(|cadence| {
            Schedule::new(&cadence.timing, input.zone)
                .runs_between(now, end)
                .map(|slot| slot.at)
                .collect::<Vec<_>>()
        })
        .collect();
    instants.sort_unstable();
    instants.dedup();
    let mut stops = input.stops.clone();
    let mut cycle = input.cycle.clone();
    let mut invoice_cycles = input.invoice_cycles.clone();
    let mut steps = Vec::new();
    for at in instants {
        let plan = plan_chasing(
            &ChasingInput {
                stops: &stops,
                cycle: &cycle,
                invoice_cycles: &invoice_cycles,
                ..input.clone()
            },
            at,
        );
        let date = at.with_timezone(&input.zone).date_naive();
        let carried_out = plan
            .merged
            .messages
            .iter()
            .flat_map(|m| m.clone().into_chases())
            .chain(plan.merged.tasks.iter().cloned());
        for chase in carried_out {
            let (level, cadence_id, invoice_id, cycle, position, action, superseded) = match chase {
                Chase::Customer(run) => (
                    Level::Customer,
                    input
                        .customer_cadence
                        .map(|c| c.id.clone())
                        .unwrap_or_default(),
                    None,
                    run.cycle,
                    run.position,
                    run.action,
                    run.superseded,
                ),
                Chase::Invoice(run) => (
                    Level::Invoice,
                    run.cadence_id,
                    Some(run.invoice_id),
                    run.cycle,
                    run.position,
                    run.step.action,
                    run.superseded,
                ),
            };
            steps.push(PlannedStep {
                level,
                cadence_id,
                invoice_id,
                entry: PreviewEntry {
                    date,
                    at,
                    cycle,
                    position,
                    action,
                    superseded,
                },
            });
        }
        stops
            .messages_sent
            .extend(std::iter::repeat_n(at, plan.merged.messages.len()));
        if let Some(after) = plan.cycle_after() {
            cycle = after;
        }
        invoice_cycles = plan.invoice_cycles_after();
    }
    steps
}
