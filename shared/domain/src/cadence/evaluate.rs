//! The evaluation: for one customer at one instant, which step runs, which
//! are superseded, what stops chasing, and when to look again.

use super::invoice_level::{applicable, held_by_customer, promise_end};
use super::*;
use crate::balance::ChasedBalance;
use crate::invoice::Invoice;
use crate::money::{Currency, Money};
use crate::schedule::{RunSlot, Schedule};
use crate::settings::FrequencyCap;
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A customer's pause (chasing status `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// Chasing resumes on this tenant-local date; `None`: until resumed by hand.
    pub until: Option<NaiveDate>,
}

/// An open promise to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPromise {
    pub promised_date: NaiveDate,
    /// The tenant's `promise_grace_days`.
    pub grace_days: u32,
}

impl OpenPromise {
    /// The last date chasing is held: the promised date plus the grace.
    pub fn holds_through(&self) -> NaiveDate {
        self.promised_date
            .checked_add_days(Days::new(u64::from(self.grace_days)))
            .unwrap_or(NaiveDate::MAX)
    }
}

/// Everything about a customer, other than its balance, that can hold a
/// chase back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stops {
    pub pause: Option<Pause>,
    pub promise: Option<OpenPromise>,
    /// Roles held by at least one of the customer's contacts.
    pub contact_roles: BTreeSet<String>,
    /// When chase messages (email, sms, letter) were sent; at least those in
    /// the frequency cap window.
    pub messages_sent: Vec<DateTime<Utc>>,
    pub frequency_cap: FrequencyCap,
}

/// Run one step now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub cycle: u32,
    pub position: u32,
    pub action: Action,
    /// Earlier due steps recorded as superseded by this one.
    pub superseded: Vec<u32>,
    /// The scheduled run this decision belongs to.
    pub slot: RunSlot,
}

/// Nothing to do, and nothing was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Idle {
    /// The cadence has not had a run yet (or never runs).
    NoRunYet,
    NoChasedBalance,
    NoStepDue,
    /// Every step has run or can no longer run in this cycle.
    StepsDone,
}

/// A step was due but is held back; the worker records it as suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stop {
    Paused {
        until: Option<NaiveDate>,
    },
    Promised {
        until: NaiveDate,
    },
    /// The cycle does not advance.
    BelowThreshold {
        balance: Money,
        threshold: Money,
    },
    NoContactWithRole {
        position: u32,
        role: String,
    },
    FrequencyCap {
        reopens_on: NaiveDate,
    },
}

impl Stop {
    /// A stable code for history items and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Stop::Paused { .. } => "paused",
            Stop::Promised { .. } => "promised",
            Stop::BelowThreshold { .. } => "below_threshold",
            Stop::NoContactWithRole { .. } => "no_contact_with_role",
            Stop::FrequencyCap { .. } => "frequency_cap",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Decision {
    Run(Run),
    Nothing(Idle),
    Stopped(Stop),
}

/// The outcome of evaluating one customer at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub decision: Decision,
    /// The run evaluated: the latest at or before the instant (a late tick
    /// catches up on it).
    pub slot: Option<RunSlot>,
    /// The cycle state brought up to date with the balance. Persist it
    /// whatever the decision; after a carried-out run persist
    /// [`Evaluation::state_after_run`] instead.
    pub state: CycleState,
    pub cycle_change: CycleChange,
    pub chased_balance: Money,
    pub account_age: Option<i64>,
    pub past_due_age: Option<i64>,
    /// The open promise's hold is over: the worker resolves it (kept or broken).
    pub promise_expired: bool,
    /// When to look at this customer again if nothing changes, assuming the
    /// decision is carried out. `None`: only an event can make a step due.
    pub next_evaluation_at: Option<DateTime<Utc>>,
}

impl Evaluation {
    /// The state to persist once a `Run` was carried out.
    pub fn state_after_run(&self) -> CycleState {
        let mut state = self.state.clone();
        if let Decision::Run(run) = &self.decision {
            state.record_run(run);
        }
        state
    }
}

/// One line of a preview: what would run, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewEntry {
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub cycle: u32,
    pub position: u32,
    pub action: Action,
    pub superseded: Vec<u32>,
}

/// Evaluates customers of one cadence in one tenant zone.
#[derive(Debug, Clone)]
pub struct Evaluator<'a> {
    cadence: &'a Cadence,
    schedule: Schedule,
    stops: &'a Stops,
}

impl<'a> Evaluator<'a> {
    pub fn new(cadence: &'a Cadence, zone: Tz, stops: &'a Stops) -> Self {
        Self {
            cadence,
            schedule: Schedule::new(&cadence.timing, zone),
            stops,
        }
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// THE evaluation: which step, if any, runs for this customer at `now`,
    /// judged on the latest scheduled run at or before `now`. `balance` is the
    /// customer's chased balance computed for the tenant-local date of `now`.
    pub fn evaluate(
        &self,
        balance: &ChasedBalance,
        state: &CycleState,
        now: DateTime<Utc>,
    ) -> Evaluation {
        let mut observed = state.clone();
        let cycle_change = observed.observe(&balance.items);
        let slot = self.schedule.last_run_at_or_before(now);
        let anchors = Anchors::of(balance);
        let decision = match slot {
            None => Decision::Nothing(Idle::NoRunYet),
            Some(slot) => self.decide(balance, &anchors, &observed, slot),
        };
        let as_of = slot.map_or_else(|| self.schedule.local_date(now), |s| s.date);
        let (next_state, just_sent) = match &decision {
            Decision::Run(run) => {
                let mut next = observed.clone();
                next.record_run(run);
                (Some(next), run.action.is_message().then_some(now))
            }
            _ => (None, None),
        };
        let next_evaluation_at = self.next_after(
            balance,
            &anchors,
            next_state.as_ref().unwrap_or(&observed),
            now,
            just_sent,
        );
        Evaluation {
            decision,
            slot,
            chased_balance: balance.total(),
            account_age: balance.account_age(as_of),
            past_due_age: balance.past_due_age(as_of),
            promise_expired: self
                .stops
                .promise
                .is_some_and(|p| as_of > p.holds_through()),
            state: observed,
            cycle_change,
            next_evaluation_at,
        }
    }

    /// When to look at this customer next if nothing changes: the first run
    /// strictly after `now` at which a step could run or a stop ends. Event
    /// handlers call this after a change (see [`reschedule`]).
    pub fn next_evaluation_at(
        &self,
        balance: &ChasedBalance,
        state: &CycleState,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut observed = state.clone();
        observed.observe(&balance.items);
        self.next_after(balance, &Anchors::of(balance), &observed, now, None)
    }

    /// A dry run over the runs in `(now, now + days]` if nothing changes:
    /// each run evaluated in turn with the same code, its decisions applied to
    /// a copy of the state, messages it sends counted against the cap.
    pub fn preview(
        &self,
        invoices: &[Invoice],
        currency: Currency,
        credit: Decimal,
        state: &CycleState,
        now: DateTime<Utc>,
        days: u32,
    ) -> Vec<PreviewEntry> {
        let end = now + TimeDelta::days(i64::from(days));
        let mut stops = self.stops.clone();
        let mut state = state.clone();
        let mut entries = Vec::new();
        for slot in self.schedule.runs_between(now, end) {
            let balance = ChasedBalance::of(invoices, currency, slot.date).net_of_credit(credit);
            let evaluator = Evaluator {
                cadence: self.cadence,
                schedule: self.schedule.clone(),
                stops: &stops,
            };
            let evaluation = evaluator.evaluate(&balance, &state, slot.at);
            state = evaluation.state_after_run();
            if let Decision::Run(run) = evaluation.decision {
                if run.action.is_message() {
                    stops.messages_sent.push(slot.at);
                }
                entries.push(PreviewEntry {
                    date: slot.date,
                    at: slot.at,
                    cycle: run.cycle,
                    position: run.position,
                    action: run.action,
                    superseded: run.superseded,
                });
            }
        }
        entries
    }

    fn decide(
        &self,
        balance: &ChasedBalance,
        anchors: &Anchors,
        state: &CycleState,
        slot: RunSlot,
    ) -> Decision {
        if balance.is_empty() {
            return Decision::Nothing(Idle::NoChasedBalance);
        }
        let as_of = slot.date;
        let mut any_eligible = false;
        let mut due: Vec<u32> = Vec::new();
        let mut last_applicable: Option<u32> = None;
        for (position, step) in (0u32..).zip(&self.cadence.steps) {
            if !state.is_eligible(position) {
                continue;
            }
            any_eligible = true;
            if anchors.due_on(step).is_some_and(|d| d <= as_of) {
                due.push(position);
                if self.applicable(step) {
                    last_applicable = Some(position);
                }
            }
        }
        let Some(&last_due) = due.last() else {
            return Decision::Nothing(if any_eligible {
                Idle::NoStepDue
            } else {
                Idle::StepsDone
            });
        };
        let Some(position) = last_applicable else {
            let role = self
                .cadence
                .step(last_due)
                .and_then(|s| s.contact_role.clone())
                .unwrap_or_default();
            return Decision::Stopped(Stop::NoContactWithRole {
                position: last_due,
                role,
            });
        };
        if let Some(held) = held_by_customer(self.stops, as_of) {
            return Decision::Stopped(held);
        }
        if let Some(threshold) = self.below_threshold(balance) {
            return Decision::Stopped(Stop::BelowThreshold {
                balance: balance.total(),
                threshold,
            });
        }
        let Some(step) = self.cadence.step(position) else {
            return Decision::Nothing(Idle::StepsDone);
        };
        if step.action.is_message() {
            let opens = cap_opens_on(
                &self.stops.messages_sent,
                self.stops.frequency_cap,
                self.schedule.zone(),
                as_of,
                &[],
            );
            if opens > as_of {
                return Decision::Stopped(Stop::FrequencyCap { reopens_on: opens });
            }
        }
        Decision::Run(Run {
            cycle: state.cycle,
            position,
            action: step.action,
            superseded: due.into_iter().filter(|p| *p < position).collect(),
            slot,
        })
    }

    fn applicable(&self, step: &Step) -> bool {
        applicable(self.stops, step)
    }

    fn below_threshold(&self, balance: &ChasedBalance) -> Option<Money> {
        let threshold = self.cadence.threshold?;
        let total = balance.total();
        (threshold.currency == total.currency && total.amount < threshold.amount)
            .then_some(threshold)
    }

    /// The earliest date on which anything could run or end, then the first
    /// run on or after it. Never later than the first run at which
    /// [`Evaluator::evaluate`] would return `Run`, so a scheduler that only
    /// looks at due customers misses nothing.
    fn next_after(
        &self,
        balance: &ChasedBalance,
        anchors: &Anchors,
        state: &CycleState,
        now: DateTime<Utc>,
        just_sent: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let mut earliest: Option<NaiveDate> = None;
        let mut consider = |date: Option<NaiveDate>| {
            if let Some(date) = date {
                earliest = Some(earliest.map_or(date, |e| e.min(date)));
            }
        };
        let promise_ends = self.stops.promise.map(promise_end);
        // An open promise must be resolved (kept or broken) even with nothing to chase.
        consider(promise_ends);
        let paused_for_good = self.stops.pause.is_some_and(|p| p.until.is_none());
        if balance.is_empty() {
            // Only an event can bring a balance back.
        } else if self.below_threshold(balance).is_some() {
            // Only an installment joining (or an event) can lift the balance.
            consider(balance.changes_on);
        } else if !paused_for_good {
            let resume = self.stops.pause.and_then(|p| p.until);
            for (position, step) in (0u32..).zip(&self.cadence.steps) {
                if !state.is_eligible(position) || !self.applicable(step) {
                    continue;
                }
                let Some(mut date) = anchors.due_on(step) else {
                    continue;
                };
                date = date.max(resume.unwrap_or(date));
                date = date.max(promise_ends.unwrap_or(date));
                if step.action.is_message() {
                    date = cap_opens_on(
                        &self.stops.messages_sent,
                        self.stops.frequency_cap,
                        self.schedule.zone(),
                        date,
                        just_sent.as_slice(),
                    );
                }
                consider(Some(date));
            }
        }
        let date = earliest?;
        self.schedule.first_run_from(date, now).map(|slot| slot.at)
    }
}

/// The dates ages are measured from, computed once per evaluation.
struct Anchors {
    oldest_item: Option<NaiveDate>,
    oldest_due: Option<NaiveDate>,
}

impl Anchors {
    fn of(balance: &ChasedBalance) -> Self {
        Self {
            oldest_item: balance.oldest_item_date(),
            oldest_due: balance.oldest_due_date(),
        }
    }

    /// The first date on which the step's trigger age reaches its days.
    fn due_on(&self, step: &Step) -> Option<NaiveDate> {
        let anchor = match step.trigger {
            Trigger::AccountAge => self.oldest_item,
            Trigger::PastDueAge => self.oldest_due,
            // Invoice-level triggers are never in a customer-level cadence.
            Trigger::DaysFromDue | Trigger::InvoiceAge => None,
        }?;
        anchor.checked_add_signed(TimeDelta::days(i64::from(step.days)))
    }
}

/// The local dates of the sends the cap counts on `from`: those on the
/// `window_days` local dates ending then.
fn counted_send_dates(
    sent: &[DateTime<Utc>],
    cap: FrequencyCap,
    zone: Tz,
    from: NaiveDate,
    extra: &[DateTime<Utc>],
) -> Vec<NaiveDate> {
    let window = u64::from(cap.window_days.max(1));
    let earliest_counted = from
        .checked_sub_days(Days::new(window - 1))
        .unwrap_or(NaiveDate::MIN);
    sent.iter()
        .chain(extra)
        .map(|at| at.with_timezone(&zone).date_naive())
        .filter(|d| *d >= earliest_counted)
        .collect()
}

/// How many more messages the cap lets through on `as_of`.
pub(crate) fn cap_room(
    sent: &[DateTime<Utc>],
    cap: FrequencyCap,
    zone: Tz,
    as_of: NaiveDate,
) -> usize {
    let max = cap.max_messages.max(1) as usize;
    max.saturating_sub(counted_send_dates(sent, cap, zone, as_of, &[]).len())
}

/// The first date on or after `from` on which one more message fits the cap:
/// fewer than `max_messages` sent on the `window_days` local dates ending then.
pub(crate) fn cap_opens_on(
    sent: &[DateTime<Utc>],
    cap: FrequencyCap,
    zone: Tz,
    from: NaiveDate,
    extra: &[DateTime<Utc>],
) -> NaiveDate {
    let max = cap.max_messages.max(1) as usize;
    let window = u64::from(cap.window_days.max(1));
    let mut dates = counted_send_dates(sent, cap, zone, from, extra);
    if dates.len() < max {
        return from;
    }
    // The max-th most recent send must leave the window.
    dates.sort_unstable_by(|a, b| b.cmp(a));
    let blocking = dates[max - 1];
    from.max(
        blocking
            .checked_add_days(Days::new(window))
            .unwrap_or(NaiveDate::MAX),
    )
}

/// The due-index entry to write after an event at `now`: an entry already due
/// stays, so the worker still catches up on a run it has not processed; any
/// other is replaced by the freshly computed one.
pub fn reschedule(
    current: Option<DateTime<Utc>>,
    computed: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match current {
        Some(current) if current <= now => Some(current),
        _ => computed,
    }
}
