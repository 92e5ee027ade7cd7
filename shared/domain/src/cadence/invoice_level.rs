//! Invoice-level chasing: each chased invoice of a customer runs the steps of
//! its invoice-level cadence on its own (docs/chasing.md "Invoice-level
//! chasing"). This module decides, per invoice, which step is due; the
//! [`combined`](super::combined) module merges what both levels decide in one
//! run into messages.

use super::evaluate::{OpenPromise, Pause};
use super::*;
use crate::balance::ChasedBalance;
use crate::invoice::Invoice;
use crate::money::{Currency, Money};
use crate::schedule::{RunSlot, Schedule};
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where one invoice is in its own chasing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceCycle {
    /// From 1; moving the invoice to another cadence (or version) starts the
    /// next one, so the chase id (tenant, customer, invoice, cycle, step)
    /// never names two different steps.
    pub cycle: u32,
    pub cadence_id: String,
    pub cadence_version: u32,
    /// Step positions that ran.
    #[serde(default)]
    pub ran: BTreeSet<u32>,
    /// Step positions passed over because a later due step ran.
    #[serde(default)]
    pub superseded: BTreeSet<u32>,
    /// Step positions held back by the frequency cap: never retried.
    #[serde(default)]
    pub suppressed: BTreeSet<u32>,
}

impl InvoiceCycle {
    fn new(cycle: u32, cadence: &Cadence) -> Self {
        Self {
            cycle,
            cadence_id: cadence.id.clone(),
            cadence_version: cadence.version,
            ran: BTreeSet::new(),
            superseded: BTreeSet::new(),
            suppressed: BTreeSet::new(),
        }
    }

    fn follows(&self, cadence: &Cadence) -> bool {
        self.cadence_id == cadence.id && self.cadence_version == cadence.version
    }

    /// Whether `position` may still run: not done in any way, and after
    /// every step that ran or was held back by the cap.
    pub fn is_eligible(&self, position: u32) -> bool {
        let done_through = self.ran.iter().chain(&self.suppressed).max();
        !self.ran.contains(&position)
            && !self.superseded.contains(&position)
            && !self.suppressed.contains(&position)
            && done_through.is_none_or(|last| position > *last)
    }
}

/// The invoice-level chasing state of one customer, kept with the customer.
/// Bounded: one entry per open invoice ([`InvoiceCycles::observe`] drops the
/// others), each with at most [`MAX_STEPS`] positions. A disputed, on-hold or
/// paused invoice keeps its entry, so when it returns it goes on where it was.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InvoiceCycles {
    pub invoices: BTreeMap<String, InvoiceCycle>,
}

impl InvoiceCycles {
    pub fn is_empty(&self) -> bool {
        self.invoices.is_empty()
    }

    pub fn get(&self, invoice_id: &str) -> Option<&InvoiceCycle> {
        self.invoices.get(invoice_id)
    }

    /// Drops the entries of invoices that are no longer open (paid, void,
    /// deleted): their chasing has ended for good.
    pub fn observe(&mut self, open_invoices: &[Invoice]) {
        let open: BTreeSet<&str> = open_invoices
            .iter()
            .filter(|i| i.is_open())
            .map(|i| i.id.as_str())
            .collect();
        self.invoices.retain(|id, _| open.contains(id.as_str()));
    }

    /// The invoice's cycle on `cadence`: the current one, or a new one when
    /// the invoice starts or moves to another cadence.
    fn on(&mut self, invoice_id: &str, cadence: &Cadence) -> &mut InvoiceCycle {
        let entry = self
            .invoices
            .entry(invoice_id.to_string())
            .or_insert_with(|| InvoiceCycle::new(1, cadence));
        if !entry.follows(cadence) {
            *entry = InvoiceCycle::new(entry.cycle.saturating_add(1), cadence);
        }
        entry
    }

    /// Records a run the worker carried out (after its claim and send). A run
    /// decided in another cycle of the invoice is stale and ignored.
    pub fn record_run(&mut self, run: &InvoiceRun) {
        if let Some(state) = self.current(run) {
            state.ran.insert(run.position);
            state.superseded.extend(run.superseded.iter().copied());
        }
    }

    /// Records a run the frequency cap held back: it is not retried, and the
    /// steps it superseded stay superseded.
    pub fn record_suppressed(&mut self, run: &InvoiceRun) {
        if let Some(state) = self.current(run) {
            state.suppressed.insert(run.position);
            state.superseded.extend(run.superseded.iter().copied());
        }
    }

    fn current(&mut self, run: &InvoiceRun) -> Option<&mut InvoiceCycle> {
        self.invoices
            .get_mut(&run.invoice_id)
            .filter(|state| state.cycle == run.cycle && state.cadence_id == run.cadence_id)
    }
}

/// Run one invoice-level step of one invoice now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRun {
    pub invoice_id: String,
    pub invoice_number: String,
    pub cadence_id: String,
    pub cadence_version: u32,
    /// The invoice's cycle (see [`InvoiceCycle::cycle`]).
    pub cycle: u32,
    pub position: u32,
    /// The step, so a message can be built without the cadence.
    pub step: Step,
    /// Earlier due steps of this invoice recorded as superseded by this one.
    pub superseded: Vec<u32>,
    /// What remains chased on the invoice (net of the customer's credit).
    pub balance: Money,
    pub due_date: Option<NaiveDate>,
    /// The scheduled run of the invoice's cadence this decision belongs to.
    pub slot: RunSlot,
}

/// An invoice with a step due that is held back; recorded as suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceStop {
    pub invoice_id: String,
    pub cadence_id: String,
    pub cycle: u32,
    pub position: u32,
    pub stop: Stop,
}

/// What invoice-level chasing decides for one customer at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InvoiceEvaluation {
    /// Due runs, oldest due date first (then invoice number).
    pub runs: Vec<InvoiceRun>,
    pub stopped: Vec<InvoiceStop>,
    /// The state brought up to date with the invoices (closed ones dropped,
    /// new ones started). Persist it whatever happens; record each run or
    /// suppression on it once carried out.
    pub state: InvoiceCycles,
    /// When to look again if nothing changes and the runs are carried out.
    pub next_evaluation_at: Option<DateTime<Utc>>,
}

impl InvoiceEvaluation {
    /// The due run of this chase, if it is still due (the send-time re-check).
    pub fn run_for(&self, invoice_id: &str, cycle: u32, position: u32) -> Option<&InvoiceRun> {
        self.runs
            .iter()
            .find(|r| r.invoice_id == invoice_id && r.cycle == cycle && r.position == position)
    }

    /// Why the invoice's due step is held back, if it is.
    pub fn stop_for(&self, invoice_id: &str) -> Option<&Stop> {
        self.stopped
            .iter()
            .find(|s| s.invoice_id == invoice_id)
            .map(|s| &s.stop)
    }
}

/// A customer's open invoices as chasing reads them.
#[derive(Debug, Clone, Copy)]
pub struct OpenInvoices<'a> {
    /// With their chasing overrides (`Invoice::chasing`).
    pub invoices: &'a [Invoice],
    pub currency: Currency,
    /// Unapplied credit: never chased for money already received.
    pub credit: Decimal,
}

impl<'a> OpenInvoices<'a> {
    /// The chased balance on `today`, net of credit.
    pub fn chased_balance(&self, today: NaiveDate) -> ChasedBalance {
        ChasedBalance::of(self.invoices, self.currency, today).net_of_credit(self.credit)
    }
}

/// The invoice-level cadences a customer's invoices may follow.
#[derive(Debug, Clone, Copy)]
pub struct InvoiceCadences<'a> {
    /// The customer's enrolled invoice-level cadence (at its enrolled version).
    pub enrolled: Option<&'a Cadence>,
    /// The cadences named by invoices' overrides (`Invoice::chasing`).
    pub overrides: &'a [Cadence],
}

impl<'a> InvoiceCadences<'a> {
    /// The cadence chasing this invoice: its override's, else the customer's.
    /// An override naming a cadence the caller did not load (deleted since)
    /// chases nothing rather than something unintended.
    pub fn for_invoice(&self, invoice: &Invoice) -> Option<&'a Cadence> {
        let cadence = match &invoice.chasing.cadence_id {
            Some(id) => self.overrides.iter().find(|c| &c.id == id),
            None => self.enrolled,
        }?;
        (cadence.level == Level::Invoice).then_some(cadence)
    }

    /// Every cadence an invoice could follow, each once.
    pub fn all(&self) -> Vec<&'a Cadence> {
        let mut all: Vec<&Cadence> = self.enrolled.into_iter().chain(self.overrides).collect();
        all.dedup_by(|a, b| a.id == b.id && a.version == b.version);
        all
    }
}

/// One invoice as invoice-level chasing sees it on one day.
struct ChasedInvoice<'a> {
    invoice: &'a Invoice,
    cadence: &'a Cadence,
    balance: Decimal,
}

/// Evaluates the invoice-level chasing of one customer in one tenant zone.
#[derive(Debug, Clone)]
pub struct InvoiceEvaluator<'a> {
    cadences: InvoiceCadences<'a>,
    zone: Tz,
    stops: &'a Stops,
}

impl<'a> InvoiceEvaluator<'a> {
    pub fn new(cadences: InvoiceCadences<'a>, zone: Tz, stops: &'a Stops) -> Self {
        Self {
            cadences,
            zone,
            stops,
        }
    }

    /// For each chased invoice (open, balance > 0 net of credit, no autopay,
    /// no payment plan, not disputed or on hold, not paused), the step due at
    /// the latest run of its cadence at or before `now`: the last due step
    /// runs and the earlier due ones are superseded. `invoices` are the
    /// customer's open invoices; `credit` its unapplied credit.
    pub fn evaluate(
        &self,
        open: OpenInvoices<'a>,
        state: &InvoiceCycles,
        now: DateTime<Utc>,
    ) -> InvoiceEvaluation {
        let mut observed = state.clone();
        observed.observe(open.invoices);
        let chased = self.chased(open, now);
        let mut runs = Vec::new();
        let mut stopped = Vec::new();
        for item in &chased {
            let schedule = Schedule::new(&item.cadence.timing, self.zone);
            let cycle = observed.on(&item.invoice.id, item.cadence).clone();
            let Some(slot) = schedule.last_run_at_or_before(now) else {
                continue;
            };
            match self.decide(item, &cycle, slot, open.currency) {
                Some(Ok(run)) => runs.push(run),
                Some(Err(stop)) => stopped.push(stop),
                None => {}
            }
        }
        runs.sort_by(|a, b| {
            (a.due_date.is_none(), a.due_date, &a.invoice_number).cmp(&(
                b.due_date.is_none(),
                b.due_date,
                &b.invoice_number,
            ))
        });
        let mut after = observed.clone();
        for run in &runs {
            after.record_run(run);
        }
        let next_evaluation_at = self.next_after(&chased, &after, now);
        InvoiceEvaluation {
            runs,
            stopped,
            state: observed,
            next_evaluation_at,
        }
    }

    /// When to look at this customer again for invoice-level chasing if
    /// nothing changes: event handlers call it after a change.
    pub fn next_evaluation_at(
        &self,
        open: OpenInvoices<'a>,
        state: &InvoiceCycles,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let chased = self.chased(open, now);
        let mut observed = state.clone();
        observed.observe(open.invoices);
        for item in &chased {
            observed.on(&item.invoice.id, item.cadence);
        }
        self.next_after(&chased, &observed, now)
    }

    /// The chased invoices on the tenant-local date of `now`.
    fn chased(&self, open: OpenInvoices<'a>, now: DateTime<Utc>) -> Vec<ChasedInvoice<'a>> {
        let today = now.with_timezone(&self.zone).date_naive();
        open.chased_balance(today)
            .items
            .iter()
            .filter(|item| item.id.installment.is_none() && item.remaining > Decimal::ZERO)
            .filter_map(|item| {
                let invoice = open.invoices.iter().find(|i| i.id == item.id.invoice_id)?;
                if invoice.chasing.paused || invoice.payment_plan.is_some() {
                    return None;
                }
                Some(ChasedInvoice {
                    invoice,
                    cadence: self.cadences.for_invoice(invoice)?,
                    balance: item.remaining,
                })
            })
            .collect()
    }

    /// `None`: nothing due. `Some(Err)`: a due step is held back.
    fn decide(
        &self,
        item: &ChasedInvoice,
        state: &InvoiceCycle,
        slot: RunSlot,
        currency: Currency,
    ) -> Option<Result<InvoiceRun, InvoiceStop>> {
        let cadence = item.cadence;
        let mut due = Vec::new();
        let mut last_applicable = None;
        for (position, step) in (0u32..).zip(&cadence.steps) {
            if !state.is_eligible(position) {
                continue;
            }
            if due_on(item.invoice, step).is_some_and(|d| d <= slot.date) {
                due.push(position);
                if applicable(self.stops, step) {
                    last_applicable = Some(position);
                }
            }
        }
        let last_due = *due.last()?;
        let stop = |position: u32, stop: Stop| {
            Some(Err(InvoiceStop {
                invoice_id: item.invoice.id.clone(),
                cadence_id: cadence.id.clone(),
                cycle: state.cycle,
                position,
                stop,
            }))
        };
        let Some(position) = last_applicable else {
            let role = cadence
                .step(last_due)
                .and_then(|s| s.contact_role.clone())
                .unwrap_or_default();
            return stop(
                last_due,
                Stop::NoContactWithRole {
                    position: last_due,
                    role,
                },
            );
        };
        if let Some(held) = held_by_customer(self.stops, slot.date) {
            return stop(position, held);
        }
        let balance = Money {
            amount: item.balance,
            currency,
        };
        if let Some(threshold) = cadence
            .threshold
            .filter(|t| t.currency == currency && item.balance < t.amount)
        {
            return stop(position, Stop::BelowThreshold { balance, threshold });
        }
        let step = cadence.step(position)?.clone();
        Some(Ok(InvoiceRun {
            invoice_id: item.invoice.id.clone(),
            invoice_number: item.invoice.number.clone(),
            cadence_id: cadence.id.clone(),
            cadence_version: cadence.version,
            cycle: state.cycle,
            position,
            step,
            superseded: due.into_iter().filter(|p| *p < position).collect(),
            balance,
            due_date: item.invoice.due_date,
            slot,
        }))
    }

    /// The first run after `now` at which a step of any chased invoice could
    /// run or a customer stop ends. Never later than the first run at which
    /// [`InvoiceEvaluator::evaluate`] would yield a run.
    fn next_after(
        &self,
        chased: &[ChasedInvoice],
        state: &InvoiceCycles,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if self.stops.pause.is_some_and(|p| p.until.is_none()) {
            return None;
        }
        let resume = self.stops.pause.and_then(|p| p.until);
        let promise_ends = self.stops.promise.map(promise_end);
        let mut earliest: Option<DateTime<Utc>> = None;
        for item in chased {
            let Some(cycle) = state.get(&item.invoice.id) else {
                continue;
            };
            if item
                .cadence
                .threshold
                .is_some_and(|t| item.balance < t.amount)
            {
                // Only an event can lift an invoice's balance.
                continue;
            }
            let schedule = Schedule::new(&item.cadence.timing, self.zone);
            for (position, step) in (0u32..).zip(&item.cadence.steps) {
                if !cycle.is_eligible(position) || !applicable(self.stops, step) {
                    continue;
                }
                let Some(mut date) = due_on(item.invoice, step) else {
                    continue;
                };
                date = date.max(resume.unwrap_or(date));
                date = date.max(promise_ends.unwrap_or(date));
                if let Some(slot) = schedule.first_run_from(date, now) {
                    earliest = Some(earliest.map_or(slot.at, |e| e.min(slot.at)));
                }
            }
        }
        earliest
    }
}

/// The first date on which an invoice-level step is due for `invoice`.
fn due_on(invoice: &Invoice, step: &Step) -> Option<NaiveDate> {
    let anchor = match step.trigger {
        Trigger::DaysFromDue => invoice.due_date,
        Trigger::InvoiceAge => Some(invoice.issue_date),
        // Customer-level triggers are never in an invoice-level cadence.
        Trigger::AccountAge | Trigger::PastDueAge => None,
    }?;
    anchor.checked_add_signed(TimeDelta::days(i64::from(step.days)))
}

/// A step with a contact role runs only if a contact holds the role.
pub(crate) fn applicable(stops: &Stops, step: &Step) -> bool {
    step.contact_role
        .as_ref()
        .is_none_or(|role| stops.contact_roles.contains(role))
}

/// The customer's pause or promise holding every chase on `date`.
pub(crate) fn held_by_customer(stops: &Stops, date: NaiveDate) -> Option<Stop> {
    if let Some(Pause { until }) = stops.pause {
        if until.is_none_or(|until| date < until) {
            return Some(Stop::Paused { until });
        }
    }
    if let Some(promise) = stops.promise {
        if date <= promise.holds_through() {
            return Some(Stop::Promised {
                until: promise.holds_through(),
            });
        }
    }
    None
}

/// The first date after a promise's hold.
pub(crate) fn promise_end(promise: OpenPromise) -> NaiveDate {
    promise
        .holds_through()
        .checked_add_days(Days::new(1))
        .unwrap_or(NaiveDate::MAX)
}
