#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! Chasing scenarios written as timelines (docs/chasing.md).
//!
//! Each scenario is a small text: a header describing the tenant and the
//! cadence, then dated lines. A line with a verb is something that happens to
//! the customer (at 00:00 local unless a time is given); a line with `=>` is
//! what the chasing must do on that date. Every scenario is played twice:
//! - day by day, evaluating at every run of the cadence, as a worker that
//!   looked at every customer every run would;
//! - sparsely, evaluating only when the customer's "next evaluation" instant
//!   comes due (and re-computing it after each event), as the real scheduler
//!   does with its index.
//!
//! Both must produce exactly the expected lines.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use domain::balance::{chased_items, ChasedBalance};
use domain::cadence::{
    reschedule, Action, Audience, Cadence, CadenceDraft, CycleState, Decision, Evaluator,
    OpenPromise, Pause, StepDraft, Stops, Trigger,
};
use domain::invoice::{CollectionStatus, Installment, Invoice, PaymentPlan};
use domain::money::{Currency, Money};
use domain::settings::FrequencyCap;
use domain::template::Channel;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

// ---------------------------------------------------------------- the model

#[derive(Debug, Clone)]
enum Event {
    Invoice(Invoice),
    Pay(String, Decimal),
    Dispute(String),
    Undispute(String),
    Void(String),
    Pause(Option<NaiveDate>),
    Resume,
    Promise(NaiveDate, Decimal),
    AddRole(String),
    RemoveRole(String),
}

#[derive(Debug, Clone)]
struct Sim {
    zone: Tz,
    currency: Currency,
    cadence: Cadence,
    grace_days: u32,
    cap: FrequencyCap,
    roles: BTreeSet<String>,
    from: NaiveDate,
    to: NaiveDate,
    /// Sorted by instant.
    events: Vec<(DateTime<Utc>, Event)>,
}

/// One line of what happened, e.g. `2026-06-09 step 0 email`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logged {
    date: NaiveDate,
    text: String,
    at: Option<DateTime<Utc>>,
    cycle: u32,
}

/// The customer's world as stores would hold it.
struct World<'a> {
    sim: &'a Sim,
    invoices: Vec<Invoice>,
    state: CycleState,
    stops: Stops,
    promise_amount: Decimal,
    paid_since_promise: Decimal,
    log: Vec<Logged>,
}

impl<'a> World<'a> {
    fn new(sim: &'a Sim) -> Self {
        Self {
            sim,
            invoices: Vec::new(),
            state: CycleState::default(),
            stops: Stops {
                contact_roles: sim.roles.clone(),
                frequency_cap: sim.cap,
                ..Stops::default()
            },
            promise_amount: Decimal::ZERO,
            paid_since_promise: Decimal::ZERO,
            log: Vec::new(),
        }
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.sim.zone).date_naive()
    }

    fn balance(&self, at: DateTime<Utc>) -> ChasedBalance {
        ChasedBalance::of(&self.invoices, self.sim.currency, self.local_date(at))
    }

    fn evaluator(&self) -> Evaluator<'_> {
        Evaluator::new(&self.sim.cadence, self.sim.zone, &self.stops)
    }

    fn note(&mut self, at: DateTime<Utc>, text: String, cycle: u32, with_time: bool) {
        let date = self.local_date(at);
        if date >= self.sim.from && date <= self.sim.to {
            self.log.push(Logged {
                date,
                text,
                at: with_time.then_some(at),
                cycle,
            });
        }
    }

    /// What an API handler does: change the invoices and apply the reset rule
    /// to the chased items just before and just after.
    fn apply(&mut self, at: DateTime<Utc>, event: &Event) {
        let today = self.local_date(at);
        let before = chased_items(&self.invoices, self.sim.currency, today);
        let find = |invoices: &mut Vec<Invoice>, id: &str| invoices.iter().position(|i| i.id == id);
        match event {
            Event::Invoice(invoice) => self.invoices.push(invoice.clone()),
            Event::Pay(id, amount) => {
                if let Some(index) = find(&mut self.invoices, id) {
                    let invoice = &mut self.invoices[index];
                    let amount = (*amount).min(invoice.balance().amount);
                    if amount > Decimal::ZERO {
                        let money = Money::new(amount, invoice.currency).expect("minor unit");
                        invoice.apply_payment(money).expect("within balance");
                        self.paid_since_promise += amount;
                    }
                }
            }
            Event::Dispute(id) | Event::Undispute(id) => {
                if let Some(index) = find(&mut self.invoices, id) {
                    let status = if matches!(event, Event::Dispute(_)) {
                        CollectionStatus::Disputed
                    } else {
                        CollectionStatus::Normal
                    };
                    self.invoices[index].set_collection_status(status, None);
                }
            }
            Event::Void(id) => {
                if let Some(index) = find(&mut self.invoices, id) {
                    let _ = self.invoices[index].void();
                }
            }
            Event::Pause(until) => self.stops.pause = Some(Pause { until: *until }),
            Event::Resume => self.stops.pause = None,
            Event::Promise(date, amount) => {
                self.stops.promise = Some(OpenPromise {
                    promised_date: *date,
                    grace_days: self.sim.grace_days,
                });
                self.promise_amount = *amount;
                self.paid_since_promise = Decimal::ZERO;
            }
            Event::AddRole(role) => {
                self.stops.contact_roles.insert(role.clone());
            }
            Event::RemoveRole(role) => {
                self.stops.contact_roles.remove(role);
            }
        }
        let after = chased_items(&self.invoices, self.sim.currency, today);
        let change = self.state.record_change(&before, &after);
        if change.reset {
            let cycle = self.state.cycle;
            self.note(at, "reset".into(), cycle, false);
        }
    }

    /// What the worker does at `now`: resolve an expired promise, evaluate,
    /// carry out a run, persist the state. Returns the next evaluation instant.
    fn work(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let balance = self.balance(now);
        let mut evaluation = self.evaluator().evaluate(&balance, &self.state, now);
        if evaluation.promise_expired {
            let kept = self.paid_since_promise >= self.promise_amount;
            self.stops.promise = None;
            let cycle = self.state.cycle;
            self.note(
                now,
                format!("promise {}", if kept { "kept" } else { "broken" }),
                cycle,
                false,
            );
            evaluation = self.evaluator().evaluate(&balance, &self.state, now);
        }
        // Observation never needs its fallback reset when every change went
        // through record_change.
        assert!(!evaluation.cycle_change.reset, "fallback reset at {now}");
        match &evaluation.decision {
            Decision::Run(run) => {
                let mut text = format!("step {} {}", run.position, action_name(run.action));
                if !run.superseded.is_empty() {
                    let list: Vec<String> = run.superseded.iter().map(u32::to_string).collect();
                    text.push_str(&format!(" superseding {}", list.join(",")));
                }
                if run.action.is_message() {
                    self.stops.messages_sent.push(now);
                }
                self.note(run.slot.at, text, run.cycle, true);
                self.state = evaluation.state_after_run();
            }
            _ => self.state = evaluation.state.clone(),
        }
        evaluation.next_evaluation_at
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Email => "email",
        Action::Sms => "sms",
        Action::Letter => "letter",
        Action::PhoneCall => "phone_call",
        Action::Escalation => "escalation",
    }
}

fn local_instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = date.and_time(time);
    loop {
        if let Some(at) = zone.from_local_datetime(&local).earliest() {
            return at.with_timezone(&Utc);
        }
        local += chrono::TimeDelta::minutes(1);
    }
}

fn enrolled_at(sim: &Sim) -> DateTime<Utc> {
    local_instant(sim.zone, sim.from, NaiveTime::MIN) - chrono::TimeDelta::seconds(1)
}

/// Evaluate at every run of the cadence from `from` to `to`.
fn run_day_by_day(sim: &Sim) -> Vec<Logged> {
    let mut world = World::new(sim);
    let evaluator_schedule = Evaluator::new(&sim.cadence, sim.zone, &world.stops)
        .schedule()
        .clone();
    let start = enrolled_at(sim);
    let end = local_instant(sim.zone, sim.to.succ_opt().expect("date"), NaiveTime::MIN);
    let mut events = sim.events.iter().peekable();
    for slot in evaluator_schedule
        .runs_between(start, end)
        .filter(|s| s.date <= sim.to)
    {
        while let Some((at, event)) = events.next_if(|(at, _)| *at < slot.at) {
            world.apply(*at, event);
        }
        world.work(slot.at);
    }
    for (at, event) in events {
        world.apply(*at, event);
    }
    world.log
}

/// Evaluate only when the customer's next evaluation instant comes due, as
/// the scheduler does; events re-compute it as API handlers do.
fn run_as_scheduled(sim: &Sim) -> Vec<Logged> {
    let mut world = World::new(sim);
    let start = enrolled_at(sim);
    let end = local_instant(sim.zone, sim.to.succ_opt().expect("date"), NaiveTime::MIN);
    let mut events = sim.events.iter().peekable();
    while let Some((at, event)) = events.next_if(|(at, _)| *at <= start) {
        world.apply(*at, event);
    }
    let mut due = world
        .evaluator()
        .next_evaluation_at(&world.balance(start), &world.state, start);
    let mut clock = start;
    let mut guard = 0;
    loop {
        guard += 1;
        assert!(guard < 100_000, "scheduler loop does not progress");
        let next_event = events.peek().map(|(at, _)| *at);
        match (due, next_event) {
            // An event at the very instant of a run comes after it, as day by day.
            (Some(d), next) if d < end && next.is_none_or(|e| d <= e) => {
                let now = d.max(clock);
                clock = now;
                let next_due = world.work(now);
                assert!(
                    next_due.is_none_or(|n| n > now),
                    "next evaluation must move forward"
                );
                due = next_due;
            }
            (_, Some(at)) if at < end => {
                let (_, event) = events.next().expect("peeked");
                world.apply(at, event);
                clock = at;
                let computed =
                    world
                        .evaluator()
                        .next_evaluation_at(&world.balance(at), &world.state, at);
                due = reschedule(due, computed, at);
            }
            _ => break,
        }
    }
    world.log
}

// ---------------------------------------------------------- the timeline DSL

fn templates(id: &str) -> Option<Channel> {
    match id {
        "t-email" => Some(Channel::Email),
        "t-sms" => Some(Channel::Sms),
        _ => None,
    }
}

fn date(raw: &str) -> NaiveDate {
    NaiveDate::from_str(raw).unwrap_or_else(|_| panic!("not a date: {raw}"))
}

fn dec(raw: &str) -> Decimal {
    Decimal::from_str(raw).unwrap_or_else(|_| panic!("not an amount: {raw}"))
}

fn step_draft(trigger: Trigger, days: i64, action: Action, role: Option<String>) -> StepDraft {
    StepDraft {
        trigger,
        days,
        action,
        template_id: match action {
            Action::Email => Some("t-email".into()),
            Action::Sms => Some("t-sms".into()),
            _ => None,
        },
        audience: Audience::Normal,
        contact_role: role,
        assignee_id: (action == Action::Escalation).then(|| "user-1".into()),
        attach_invoices: false,
    }
}

fn parse_action(raw: &str) -> Action {
    serde_json::from_value(serde_json::Value::String(raw.into()))
        .unwrap_or_else(|_| panic!("not an action: {raw}"))
}

fn parse_trigger(raw: &str) -> Trigger {
    serde_json::from_value(serde_json::Value::String(raw.into()))
        .unwrap_or_else(|_| panic!("not a trigger: {raw}"))
}

fn key_values<'t>(words: &[&'t str]) -> BTreeMap<&'t str, &'t str> {
    words.iter().filter_map(|w| w.split_once('=')).collect()
}

fn new_invoice(
    id: &str,
    currency: Currency,
    issue: NaiveDate,
    due: Option<NaiveDate>,
    total: Decimal,
    plan: Option<Vec<(NaiveDate, Decimal)>>,
) -> Invoice {
    let payment_plan = plan.map(|parts| PaymentPlan {
        installments: parts
            .into_iter()
            .map(|(due_date, amount)| Installment {
                due_date,
                amount,
                amount_paid: Decimal::ZERO,
            })
            .collect(),
    });
    let total = payment_plan
        .as_ref()
        .map_or(total, |p| p.installments.iter().map(|i| i.amount).sum());
    Invoice {
        id: id.into(),
        customer_id: "customer".into(),
        number: format!("INV-{id}"),
        currency,
        issue_date: issue,
        due_date: due,
        total,
        amount_paid: Decimal::ZERO,
        autopay: false,
        collection_status: CollectionStatus::Normal,
        dispute_reason: None,
        voided: false,
        payment_plan,
        chasing: Default::default(),
    }
}

/// Parses a scenario into the simulation and its expected lines.
fn parse(text: &str) -> (Sim, Vec<String>) {
    let currency = Currency::parse("EUR").expect("EUR");
    let mut zone = Tz::UTC;
    let mut run_at = "09:00".to_string();
    let mut days_of_week = Vec::new();
    let mut days_of_month = Vec::new();
    let mut threshold = None;
    let mut steps = Vec::new();
    let mut grace_days = 3;
    let mut cap = FrequencyCap::default();
    let mut roles = BTreeSet::new();
    let mut from = None;
    let mut to = None;
    let mut timeline = Vec::new();
    let mut expected = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "zone" => zone = words[1].parse().expect("zone"),
            "run" => run_at = words[1].to_string(),
            "days" => days_of_week = words[1..].iter().map(|w| w.to_string()).collect(),
            "month_days" => {
                days_of_month = words[1..].iter().map(|w| w.parse().expect("day")).collect()
            }
            "threshold" => threshold = Some(Money::parse(words[1], currency).expect("threshold")),
            "grace" => grace_days = words[1].parse().expect("grace"),
            "cap" => {
                let (max, window) = words[1].split_once('/').expect("cap N/D");
                cap = FrequencyCap {
                    max_messages: max.parse().expect("cap"),
                    window_days: window.parse().expect("cap"),
                };
            }
            "roles" => roles = words[1..].iter().map(|w| w.to_string()).collect(),
            "step" => {
                let role = key_values(&words).get("role").map(|r| r.to_string());
                steps.push(step_draft(
                    parse_trigger(words[1]),
                    words[2].parse().expect("days"),
                    parse_action(words[3]),
                    role,
                ));
            }
            "from" => from = Some(date(words[1])),
            "to" => to = Some(date(words[1])),
            _ => {
                let day = date(words[0]);
                if words.get(1) == Some(&"=>") {
                    expected.push(format!("{day} {}", words[2..].join(" ")));
                } else {
                    timeline.push((
                        day,
                        words[1..].iter().map(|w| w.to_string()).collect::<Vec<_>>(),
                    ));
                }
            }
        }
    }
    let cadence = CadenceDraft {
        name: "Scenario".into(),
        run_at,
        days_of_week,
        days_of_month,
        threshold,
        steps,
        assignment: None,
        level: domain::cadence::Level::Customer,
    }
    .validate("cadence".into(), 1, &templates)
    .unwrap_or_else(|e| panic!("bad cadence: {e:?}"));
    let mut events = Vec::new();
    for (day, words) in timeline {
        let (time, words) = match NaiveTime::parse_from_str(&words[0], "%H:%M") {
            Ok(time) => (time, &words[1..]),
            Err(_) => (NaiveTime::MIN, &words[..]),
        };
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let kv = key_values(&words);
        let event = match words[0] {
            "invoice" => {
                let issue = kv.get("issue").map_or(day, |d| date(d));
                let plan = kv.get("plan").map(|p| {
                    p.split(',')
                        .map(|part| {
                            let (due, amount) = part.split_once(':').expect("due:amount");
                            (date(due), dec(amount))
                        })
                        .collect()
                });
                let total = kv.get("total").map_or(Decimal::ZERO, |t| dec(t));
                Event::Invoice(new_invoice(
                    words[1],
                    currency,
                    issue,
                    kv.get("due").map(|d| date(d)),
                    total,
                    plan,
                ))
            }
            "pay" => Event::Pay(words[1].into(), dec(words[2])),
            "dispute" => Event::Dispute(words[1].into()),
            "undispute" => Event::Undispute(words[1].into()),
            "void" => Event::Void(words[1].into()),
            "pause" => Event::Pause(kv.get("until").map(|d| date(d))),
            "resume" => Event::Resume,
            "promise" => Event::Promise(date(words[1]), dec(words[2])),
            "role" if words[1] == "add" => Event::AddRole(words[2].into()),
            "role" if words[1] == "remove" => Event::RemoveRole(words[2].into()),
            other => panic!("unknown event {other}"),
        };
        events.push((local_instant(zone, day, time), event));
    }
    events.sort_by_key(|(at, _)| *at);
    let sim = Sim {
        zone,
        currency,
        cadence,
        grace_days,
        cap,
        roles,
        from: from.expect("from"),
        to: to.expect("to"),
        events,
    };
    (sim, expected)
}

/// `expected` lines may end with `@HH:MMZ` to pin the UTC instant of a run.
fn rendered(log: &[Logged], expected: &[String]) -> Vec<String> {
    log.iter()
        .enumerate()
        .map(|(index, entry)| {
            let short = format!("{} {}", entry.date, entry.text);
            match (expected.get(index), entry.at) {
                (Some(want), Some(at)) if want.contains('@') => {
                    format!("{short} @{}", at.format("%H:%MZ"))
                }
                _ => short,
            }
        })
        .collect()
}

fn check(name: &str, text: &str) {
    let (sim, expected) = parse(text);
    let dense = run_day_by_day(&sim);
    assert_eq!(rendered(&dense, &expected), expected, "{name}: day by day");
    let sparse = run_as_scheduled(&sim);
    assert_eq!(
        rendered(&sparse, &expected),
        expected,
        "{name}: as scheduled"
    );
}

// -------------------------------------------------------------- the scenarios

const SCENARIOS: &[(&str, &str)] = &[
    (
        "five steps on account age and past-due age over 90 days",
        "
        step account_age 1 email
        step past_due_age 3 email
        step past_due_age 14 sms
        step past_due_age 30 phone_call
        step past_due_age 60 escalation
        from 2026-03-01
        to 2026-05-31
        2026-03-02 invoice A due=2026-04-01 total=1000
        2026-03-03 => step 0 email
        2026-04-04 => step 1 email
        2026-04-15 => step 2 sms
        2026-05-01 => step 3 phone_call
        2026-05-31 => step 4 escalation
        ",
    ),
    (
        "a reminder before the due date",
        "
        step past_due_age -5 email
        step past_due_age 1 email
        from 2026-03-01
        to 2026-04-30
        2026-03-01 invoice A due=2026-03-31 total=100
        2026-03-26 => step 0 email
        2026-04-01 => step 1 email
        ",
    ),
    (
        "the worked installment example",
        "
        step account_age 10 email
        step past_due_age 2 email
        from 2026-05-01
        to 2026-08-31
        2026-05-01 invoice P plan=2026-05-30:100,2026-06-30:100,2026-07-30:100
        # Aged from the issue date before any installment is paid.
        2026-05-11 => step 0 email
        2026-05-30 pay P 100
        2026-05-30 => reset
        # New cycle anchored on May 30.
        2026-06-09 => step 0 email
        # June 30 missed: past-due reminder; July's installment joins.
        2026-07-02 => step 1 email
        # Only June's amount: no reset, so no step 0 on July 10.
        2026-07-05 pay P 100
        2026-07-30 pay P 100
        2026-07-30 => reset
        ",
    ),
    (
        "partial payment does not reset, full payment does",
        "
        step account_age 5 email
        step account_age 20 email
        from 2026-03-01
        to 2026-04-30
        2026-03-01 invoice A total=200
        2026-03-06 => step 0 email
        2026-03-10 pay A 50
        2026-03-21 => step 1 email
        2026-03-25 pay A 150
        2026-03-25 => reset
        2026-04-01 invoice B total=80
        2026-04-06 => step 0 email
        2026-04-21 => step 1 email
        ",
    ),
    (
        "a new invoice joins the current cycle",
        "
        step account_age 5 email
        step account_age 15 email
        from 2026-03-01
        to 2026-04-15
        2026-03-01 invoice A total=100
        2026-03-06 => step 0 email
        2026-03-08 invoice B total=100
        # A paid but B was in the balance: no reset, and ages now follow B.
        2026-03-10 pay A 100
        2026-03-23 => step 1 email
        ",
    ),
    (
        "below the threshold nothing is sent and the cycle does not advance",
        "
        threshold 100
        step account_age 3 email
        step account_age 20 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=60
        2026-03-10 invoice B total=50
        2026-03-10 => step 0 email
        2026-03-21 => step 1 email
        ",
    ),
    (
        "an installment joining lifts the balance over the threshold",
        "
        threshold 100
        step past_due_age 1 email
        from 2026-03-01
        to 2026-04-30
        2026-03-01 invoice P plan=2026-03-15:60,2026-04-15:60
        2026-03-16 => step 0 email
        ",
    ),
    (
        "pause and resume: the latest due step runs, the one missed is superseded",
        "
        step account_age 2 email
        step account_age 10 email
        step account_age 20 sms
        step account_age 40 letter
        from 2026-03-01
        to 2026-04-15
        2026-03-01 invoice A total=100
        2026-03-03 => step 0 email
        2026-03-05 pause
        2026-03-25 resume
        2026-03-25 => step 2 sms superseding 1
        2026-04-10 => step 3 letter
        ",
    ),
    (
        "pause until a date",
        "
        step account_age 2 email
        step account_age 10 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=100
        2026-03-03 => step 0 email
        2026-03-05 pause until=2026-03-14
        2026-03-14 => step 1 email
        ",
    ),
    (
        "a promise kept",
        "
        grace 3
        step account_age 2 email
        step account_age 10 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=100
        2026-03-03 => step 0 email
        2026-03-05 promise 2026-03-12 100
        2026-03-12 pay A 100
        2026-03-12 => reset
        2026-03-16 => promise kept
        ",
    ),
    (
        "a promise broken: chasing resumes after the grace period",
        "
        grace 3
        step account_age 2 email
        step account_age 10 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=100
        2026-03-03 => step 0 email
        2026-03-05 promise 2026-03-12 100
        2026-03-13 pay A 40
        2026-03-16 => promise broken
        2026-03-16 => step 1 email
        ",
    ),
    (
        "a disputed invoice leaves the balance",
        "
        step account_age 5 email
        step account_age 15 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=100
        2026-03-03 invoice B total=50
        2026-03-06 => step 0 email
        # A leaves; B was in the balance, so the cycle goes on, aged from B.
        2026-03-10 dispute A
        2026-03-18 => step 1 email
        2026-03-20 dispute B
        2026-03-20 => reset
        # A comes back: a new cycle, where only the latest due step runs.
        2026-03-25 undispute A
        2026-03-25 => step 1 email superseding 0
        ",
    ),
    (
        "a void removes the invoice and resets",
        "
        step account_age 5 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=100
        2026-03-06 => step 0 email
        2026-03-08 void A
        2026-03-08 => reset
        ",
    ),
    (
        "weekdays only: a step due on Saturday runs Monday, once",
        "
        days mon tue wed thu fri
        step account_age 5 email
        step account_age 12 email
        from 2026-03-02
        to 2026-03-31
        2026-03-02 invoice A total=100
        2026-03-09 => step 0 email
        2026-03-16 => step 1 email
        ",
    ),
    (
        "weekdays only: two steps due over a weekend",
        "
        days mon tue wed thu fri
        step account_age 5 email
        step account_age 6 email
        from 2026-03-02
        to 2026-03-31
        2026-03-02 invoice A total=100
        2026-03-09 => step 1 email superseding 0
        ",
    ),
    (
        "New York spring forward: a 02:30 run happens at 03:00 EDT, once a day",
        "
        zone America/New_York
        run 02:30
        step account_age 0 email
        step account_age 1 email
        step account_age 2 email
        step account_age 3 email
        step account_age 4 email
        step account_age 5 email
        step account_age 6 email
        from 2026-03-04
        to 2026-03-12
        2026-03-04 invoice A total=100
        2026-03-04 => step 0 email @07:30Z
        2026-03-05 => step 1 email @07:30Z
        2026-03-06 => step 2 email @07:30Z
        2026-03-07 => step 3 email @07:30Z
        2026-03-08 => step 4 email @07:00Z
        2026-03-09 => step 5 email @06:30Z
        2026-03-10 => step 6 email @06:30Z
        ",
    ),
    (
        "New York fall back: a 01:30 run happens at the first 01:30, once a day",
        "
        zone America/New_York
        run 01:30
        step account_age 0 email
        step account_age 1 email
        step account_age 2 email
        step account_age 3 email
        step account_age 4 email
        from 2026-10-30
        to 2026-11-05
        2026-10-30 invoice A total=100
        2026-10-30 => step 0 email @05:30Z
        2026-10-31 => step 1 email @05:30Z
        2026-11-01 => step 2 email @05:30Z
        2026-11-02 => step 3 email @06:30Z
        2026-11-03 => step 4 email @06:30Z
        ",
    ),
    (
        "enrolment of a customer 60 days past due",
        "
        step account_age 0 email
        step past_due_age 1 email
        step past_due_age 14 sms
        step past_due_age 30 phone_call
        step past_due_age 60 escalation
        step past_due_age 90 letter
        from 2026-04-01
        to 2026-05-31
        2026-01-01 invoice A due=2026-01-31 total=500
        2026-04-01 => step 4 escalation superseding 0,1,2,3
        2026-05-01 => step 5 letter
        ",
    ),
    (
        "a step for a contact role waits for a contact in that role",
        "
        step account_age 2 email
        step account_age 5 email role=executive
        step account_age 9 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=100
        2026-03-03 => step 0 email
        2026-03-07 role add executive
        2026-03-07 => step 1 email
        2026-03-10 => step 2 email
        ",
    ),
    (
        "a step for a missing role is superseded by the next",
        "
        step account_age 2 email
        step account_age 5 email role=executive
        step account_age 9 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=100
        2026-03-03 => step 0 email
        2026-03-10 => step 2 email superseding 1
        ",
    ),
    (
        "the frequency cap holds messages but not calls",
        "
        cap 1/7
        step account_age 1 email
        step account_age 3 sms
        step account_age 5 phone_call
        step account_age 10 email
        from 2026-03-01
        to 2026-03-31
        2026-03-01 invoice A total=100
        2026-03-02 => step 0 email
        2026-03-06 => step 2 phone_call superseding 1
        2026-03-11 => step 3 email
        ",
    ),
    (
        "an event after the day's run waits for the next run",
        "
        step account_age 0 email
        from 2026-03-01
        to 2026-03-10
        2026-03-03 15:00 invoice A total=100
        2026-03-04 => step 0 email
        ",
    ),
];

#[test]
fn every_timeline_scenario_holds() {
    for (name, text) in SCENARIOS {
        check(name, text);
    }
}

#[test]
fn dst_scenarios_never_double_or_skip_a_day() {
    for (name, text) in SCENARIOS.iter().filter(|(n, _)| n.starts_with("New York")) {
        let (sim, _) = parse(text);
        let log = run_day_by_day(&sim);
        let dates: Vec<NaiveDate> = log.iter().map(|l| l.date).collect();
        let distinct: BTreeSet<NaiveDate> = dates.iter().copied().collect();
        assert_eq!(dates.len(), distinct.len(), "{name}: a day ran twice");
        for pair in dates.windows(2) {
            assert_eq!(pair[0] + Days::new(1), pair[1], "{name}: a day was skipped");
        }
    }
}

#[test]
fn the_worked_example_runs_in_three_cycles() {
    let (sim, _) = parse(SCENARIOS[2].1);
    let log = run_day_by_day(&sim);
    let cycles: Vec<(String, u32)> = log
        .iter()
        .filter(|l| l.text.starts_with("step"))
        .map(|l| (l.date.to_string(), l.cycle))
        .collect();
    assert_eq!(
        cycles,
        [
            ("2026-05-11".to_string(), 1),
            ("2026-06-09".to_string(), 2),
            ("2026-07-02".to_string(), 2)
        ]
    );
}

// ------------------------------------------------------------ the properties

fn arbitrary_sim() -> impl Strategy<Value = Sim> {
    let zones = prop::sample::select(vec![
        Tz::UTC,
        chrono_tz::America::New_York,
        chrono_tz::Europe::London,
    ]);
    let run_at = (0u32..24, prop::sample::select(vec![0u32, 15, 30, 45]));
    let weekdays = prop::collection::btree_set(0usize..7, 0..=7);
    let month_days = prop::option::weighted(0.15, prop::collection::btree_set(1i64..=31, 1..6));
    let step = (
        any::<bool>(),
        -10i64..40,
        0usize..5,
        prop::option::weighted(0.2, Just("exec".to_string())),
    );
    let steps = prop::collection::vec(step, 1..7);
    let threshold = prop::option::weighted(0.3, 1i64..400);
    let cap = (1u32..3, 1u32..6);
    let invoice = (
        -40i64..60,
        prop::option::of(0u64..45),
        1i64..300,
        prop::option::weighted(0.3, prop::collection::vec((1u64..40, 1i64..200), 1..4)),
    );
    let invoices = prop::collection::vec(invoice, 1..4);
    let event = (0usize..10, -30i64..100, 0u32..24, 0usize..4, 1i64..300);
    let events = prop::collection::vec(event, 0..14);
    (
        zones,
        run_at,
        (weekdays, month_days),
        steps,
        threshold,
        cap,
        invoices,
        events,
        any::<bool>(),
    )
        .prop_map(
            |(
                zone,
                (hour, minute),
                (weekdays, month_days),
                steps,
                threshold,
                (max, window),
                invoices,
                raw_events,
                has_role,
            )| {
                let currency = Currency::parse("EUR").expect("EUR");
                let from = date("2026-03-01");
                let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
                let days_of_week = if weekdays.len() == 7 {
                    vec![]
                } else {
                    weekdays.iter().map(|&d| names[d].to_string()).collect()
                };
                let actions = [
                    Action::Email,
                    Action::Sms,
                    Action::Letter,
                    Action::PhoneCall,
                    Action::Escalation,
                ];
                let steps = steps
                    .into_iter()
                    .map(|(account, days, action, role)| {
                        let trigger = if account {
                            Trigger::AccountAge
                        } else {
                            Trigger::PastDueAge
                        };
                        let days = if account { days.abs() } else { days };
                        step_draft(trigger, days, actions[action], role)
                    })
                    .collect();
                let cadence = CadenceDraft {
                    name: "random".into(),
                    run_at: format!("{hour:02}:{minute:02}"),
                    days_of_week,
                    days_of_month: month_days
                        .map(|d| d.into_iter().collect())
                        .unwrap_or_default(),
                    threshold: threshold
                        .map(|t| Money::new(Decimal::new(t, 0), currency).expect("money")),
                    steps,
                    assignment: None,
                    level: domain::cadence::Level::Customer,
                }
                .validate("cadence".into(), 1, &templates)
                .expect("valid random cadence");
                let shift = |days: i64| {
                    if days >= 0 {
                        from + Days::new(days as u64)
                    } else {
                        from - Days::new(days.unsigned_abs())
                    }
                };
                let mut events = Vec::new();
                for (n, (issue, due, total, plan)) in invoices.into_iter().enumerate() {
                    let issue_date = shift(issue);
                    let plan = plan.map(|parts| {
                        let mut due = issue_date;
                        parts
                            .into_iter()
                            .map(|(gap, amount)| {
                                due = due + Days::new(gap);
                                (due, Decimal::new(amount, 0))
                            })
                            .collect()
                    });
                    let invoice = new_invoice(
                        &format!("I{n}"),
                        currency,
                        issue_date,
                        due.map(|d| issue_date + Days::new(d)),
                        Decimal::new(total, 0),
                        plan,
                    );
                    events.push((
                        local_instant(zone, issue_date, NaiveTime::MIN),
                        Event::Invoice(invoice),
                    ));
                }
                let first_issue = events.iter().map(|(at, _)| *at).min().expect("an invoice");
                for (kind, day, hour, target, amount) in raw_events {
                    let when = local_instant(
                        zone,
                        shift(day),
                        NaiveTime::from_hms_opt(hour, 0, 0).expect("hour"),
                    );
                    let id = format!("I{target}");
                    let event = match kind {
                        0..=2 => Event::Pay(id, Decimal::new(amount, 0)),
                        3 => Event::Dispute(id),
                        4 => Event::Undispute(id),
                        5 => Event::Pause((amount % 2 == 0).then(|| shift(day + amount % 20))),
                        6 => Event::Resume,
                        7 => Event::Promise(shift(day + amount % 15), Decimal::new(amount, 0)),
                        8 if amount % 3 == 0 => Event::Void(id),
                        8 => Event::RemoveRole("exec".into()),
                        _ => Event::AddRole("exec".into()),
                    };
                    // Payments and status changes need the invoice to exist first.
                    events.push((when.max(first_issue + chrono::TimeDelta::minutes(1)), event));
                }
                events.sort_by_key(|(at, _)| *at);
                Sim {
                    zone,
                    currency,
                    cadence,
                    grace_days: 2,
                    cap: FrequencyCap {
                        max_messages: max,
                        window_days: window,
                    },
                    roles: if has_role {
                        BTreeSet::from(["exec".to_string()])
                    } else {
                        BTreeSet::new()
                    },
                    from,
                    to: date("2026-06-30"),
                    events,
                }
            },
        )
}

fn steps_only(log: &[Logged]) -> Vec<(u32, u32)> {
    log.iter()
        .filter_map(|l| {
            let position = l
                .text
                .strip_prefix("step ")?
                .split(' ')
                .next()?
                .parse()
                .ok()?;
            Some((l.cycle, position))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn no_step_runs_twice_in_a_cycle_and_steps_run_in_order(sim in arbitrary_sim()) {
        let log = run_day_by_day(&sim);
        let mut seen = BTreeSet::new();
        let mut last: BTreeMap<u32, u32> = BTreeMap::new();
        for (cycle, position) in steps_only(&log) {
            prop_assert!(seen.insert((cycle, position)), "step {} ran twice in cycle {}", position, cycle);
            if let Some(previous) = last.insert(cycle, position) {
                prop_assert!(position > previous, "step {} ran after step {} in cycle {}", position, previous, cycle);
            }
        }
        for pair in log.windows(2) {
            prop_assert!(pair[0].date <= pair[1].date);
        }
    }

    #[test]
    fn evaluation_is_deterministic(sim in arbitrary_sim()) {
        prop_assert_eq!(run_day_by_day(&sim), run_day_by_day(&sim));
    }

    #[test]
    fn the_scheduler_index_misses_nothing(sim in arbitrary_sim()) {
        // Evaluating only at "next evaluation" instants does exactly what
        // evaluating at every run does.
        prop_assert_eq!(run_as_scheduled(&sim), run_day_by_day(&sim));
    }

    #[test]
    fn the_preview_is_what_day_by_day_evaluation_does(sim in arbitrary_sim()) {
        // Everything before enrolment happens; nothing after it.
        let start = enrolled_at(&sim);
        let mut quiet = sim.clone();
        quiet.events.retain(|(at, _)| *at <= start);
        let mut world = World::new(&quiet);
        for (at, event) in &quiet.events {
            world.apply(*at, event);
        }
        let days = (quiet.to - quiet.from).num_days() as u32 + 1;
        let preview: Vec<(NaiveDate, u32, u32, Action, Vec<u32>)> = world
            .evaluator()
            .preview(&world.invoices, quiet.currency, rust_decimal::Decimal::ZERO, &world.state, start, days)
            .into_iter()
            .filter(|e| e.date <= quiet.to)
            .map(|e| (e.date, e.cycle, e.position, e.action, e.superseded))
            .collect();
        let log = run_day_by_day(&quiet);
        let day_by_day: Vec<(NaiveDate, u32, u32)> = log
            .iter()
            .filter(|l| l.text.starts_with("step"))
            .map(|l| (l.date, l.cycle, steps_only(std::slice::from_ref(l))[0].1))
            .collect();
        let previewed: Vec<(NaiveDate, u32, u32)> = preview.iter().map(|p| (p.0, p.1, p.2)).collect();
        prop_assert_eq!(previewed, day_by_day);
    }
}
