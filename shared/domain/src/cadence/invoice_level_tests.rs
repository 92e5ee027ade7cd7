//! Invoice-level chasing played as timelines (docs/chasing.md "Invoice-level
//! chasing"): each scenario is played day by day, planning both levels at
//! every run, and sparsely, planning only when the customer's next
//! evaluation comes due, as the scheduler's index does. Both must give
//! exactly the expected lines.

use super::*;
use crate::invoice::tests::{d, date, eur};
use crate::invoice::{CollectionStatus, Invoice};
use crate::money::Money;
use crate::settings::FrequencyCap;
use crate::template::Channel;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

fn templates(id: &str) -> Option<Channel> {
    match id {
        "t-customer" | "t-invoice" | "t-urgent" => Some(Channel::Email),
        "t-sms" => Some(Channel::Sms),
        _ => None,
    }
}

fn step(trigger: Trigger, days: i64, action: Action, template: Option<&str>) -> StepDraft {
    StepDraft {
        trigger,
        days,
        action,
        template_id: template.map(str::to_string),
        audience: Audience::Normal,
        contact_role: None,
        assignee_id: None,
        attach_invoices: false,
    }
}

fn cadence(id: &str, level: Level, steps: Vec<StepDraft>) -> Cadence {
    CadenceDraft {
        name: id.into(),
        level,
        ..super::tests::draft(steps)
    }
    .validate(id.into(), 1, &templates)
    .unwrap()
}

/// Reminders 3 days before the due date, on it, and a week after.
fn reminders() -> Cadence {
    let email = |days| step(Trigger::DaysFromDue, days, Action::Email, Some("t-invoice"));
    cadence("inv", Level::Invoice, vec![email(-3), email(0), email(7)])
}

fn invoice(number: &str, issue: &str, due: &str) -> Invoice {
    let mut invoice = crate::statement::tests::invoice(number, due, "100", "0");
    invoice.id = number.into();
    invoice.issue_date = date(issue);
    invoice
}

#[derive(Debug, Clone)]
enum Event {
    Invoice(Invoice),
    Pay(&'static str),
    Dispute(&'static str),
    Undispute(&'static str),
}

struct Sim {
    customer_cadence: Option<Cadence>,
    invoice_cadence: Option<Cadence>,
    overrides: Vec<Cadence>,
    cap: FrequencyCap,
    from: NaiveDate,
    to: NaiveDate,
    /// Applied at 00:00 UTC of their date, before that day's run.
    events: Vec<(NaiveDate, Event)>,
}

impl Sim {
    fn new(invoice_cadence: Cadence, from: &str, to: &str) -> Self {
        Self {
            customer_cadence: None,
            invoice_cadence: Some(invoice_cadence),
            overrides: Vec::new(),
            cap: FrequencyCap::default(),
            from: date(from),
            to: date(to),
            events: Vec::new(),
        }
    }

    /// An invoice `number` issued and due on those dates, created on `day`.
    fn issue(self, day: &str, number: &str, issued: &str, due: &str) -> Self {
        self.on(day, Event::Invoice(invoice(number, issued, due)))
    }

    fn on(mut self, day: &str, event: Event) -> Self {
        self.events.push((date(day), event));
        self
    }

    /// Plays every day's 09:00 run; `sparse` plans only when the next
    /// evaluation instant has come.
    fn play(&self, sparse: bool) -> Vec<String> {
        let mut invoices: Vec<Invoice> = Vec::new();
        let mut stops = Stops {
            frequency_cap: self.cap,
            ..Stops::default()
        };
        let mut cycle = CycleState::default();
        let mut invoice_cycles = InvoiceCycles::default();
        let mut next: Option<DateTime<Utc>> = None;
        let mut log = Vec::new();
        let mut day = self.from;
        while day <= self.to {
            let midnight = at(day, 0);
            for (_, event) in self.events.iter().filter(|(on, _)| *on == day) {
                apply(&mut invoices, event);
                let input = self.input(&invoices, &stops, &cycle, &invoice_cycles);
                next = reschedule(next, next_evaluation_of_both(&input, midnight), midnight);
            }
            let run = at(day, 9);
            if !sparse || next.is_some_and(|n| n <= run) {
                let input = self.input(&invoices, &stops, &cycle, &invoice_cycles);
                let plan = plan_chasing(&input, run);
                log.extend(lines(day, &plan));
                stops
                    .messages_sent
                    .extend(plan.merged.messages.iter().map(|_| run));
                if let Some(after) = plan.cycle_after() {
                    cycle = after;
                }
                invoice_cycles = plan.invoice_cycles_after();
                next = plan.next_evaluation_at;
            }
            day = day.succ_opt().unwrap();
        }
        log
    }

    fn input<'a>(
        &'a self,
        invoices: &'a [Invoice],
        stops: &'a Stops,
        cycle: &'a CycleState,
        invoice_cycles: &'a InvoiceCycles,
    ) -> ChasingInput<'a> {
        ChasingInput {
            zone: Tz::UTC,
            stops,
            open: open(invoices, Decimal::ZERO),
            customer_cadence: self.customer_cadence.as_ref(),
            invoice_cadences: InvoiceCadences {
                enrolled: self.invoice_cadence.as_ref(),
                overrides: &self.overrides,
            },
            cycle,
            invoice_cycles,
        }
    }

    /// Both plays must give `expected`.
    fn expect(&self, expected: &[&str]) {
        assert_eq!(self.play(false), expected, "day by day");
        assert_eq!(self.play(true), expected, "as the due index schedules it");
    }
}

fn open(invoices: &[Invoice], credit: Decimal) -> OpenInvoices<'_> {
    OpenInvoices {
        invoices,
        currency: eur(),
        credit,
    }
}

fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    day.and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

fn apply(invoices: &mut Vec<Invoice>, event: &Event) {
    let find =
        |invoices: &mut Vec<Invoice>, id: &str| invoices.iter().position(|i| i.id == id).unwrap();
    match event {
        Event::Invoice(invoice) => invoices.push(invoice.clone()),
        Event::Pay(id) => {
            let index = find(invoices, id);
            let balance = invoices[index].balance();
            invoices[index].apply_payment(balance).unwrap();
            invoices.remove(index);
        }
        Event::Dispute(id) => {
            let index = find(invoices, id);
            invoices[index].set_collection_status(CollectionStatus::Disputed, Some("x".into()));
        }
        Event::Undispute(id) => {
            let index = find(invoices, id);
            invoices[index].set_collection_status(CollectionStatus::Normal, None);
        }
    }
}

/// `2026-03-07 email t-invoice [A step 0, B step 1]`, and one line per
/// capped chase: `2026-03-07 suppressed C step 0 frequency_cap`.
fn lines(day: NaiveDate, plan: &ChasingPlan) -> Vec<String> {
    let name = |chase: &ChaseId| match chase {
        ChaseId::Customer { position, .. } => format!("customer step {position}"),
        ChaseId::Invoice {
            invoice_id,
            position,
            ..
        } => format!("{invoice_id} step {position}"),
    };
    let mut lines: Vec<String> = plan
        .merged
        .messages
        .iter()
        .map(|message| {
            let chases: Vec<String> = message.chases().iter().map(name).collect();
            format!(
                "{day} {} {} [{}]",
                message.action.channel().unwrap().as_str(),
                message.template_id.as_deref().unwrap_or("-"),
                chases.join(", ")
            )
        })
        .collect();
    lines.extend(
        plan.merged
            .suppressed
            .iter()
            .map(|s| format!("{day} suppressed {} {}", name(&s.chase.id()), s.stop.code())),
    );
    lines
}

#[test]
fn three_invoices_with_different_due_dates_each_get_their_reminders() {
    Sim::new(reminders(), "2026-03-01", "2026-03-31")
        .issue("2026-03-01", "A", "2026-02-08", "2026-03-10")
        .issue("2026-03-01", "B", "2026-02-10", "2026-03-12")
        .issue("2026-03-01", "C", "2026-02-18", "2026-03-20")
        .expect(&[
            "2026-03-07 email t-invoice [A step 0]",
            "2026-03-09 email t-invoice [B step 0]",
            "2026-03-10 email t-invoice [A step 1]",
            "2026-03-12 email t-invoice [B step 1]",
            // A's +7 and C's -3 fall on the same run: one email lists both.
            "2026-03-17 email t-invoice [A step 2, C step 0]",
            "2026-03-19 email t-invoice [B step 2]",
            "2026-03-20 email t-invoice [C step 1]",
            "2026-03-27 email t-invoice [C step 2]",
        ]);
}

#[test]
fn an_invoice_paid_between_steps_stops() {
    Sim::new(reminders(), "2026-03-01", "2026-03-31")
        .issue("2026-03-01", "A", "2026-02-08", "2026-03-10")
        .issue("2026-03-01", "B", "2026-02-10", "2026-03-12")
        .on("2026-03-11", Event::Pay("A"))
        .expect(&[
            "2026-03-07 email t-invoice [A step 0]",
            "2026-03-09 email t-invoice [B step 0]",
            "2026-03-10 email t-invoice [A step 1]",
            "2026-03-12 email t-invoice [B step 1]",
            "2026-03-19 email t-invoice [B step 2]",
        ]);
}

#[test]
fn a_new_invoice_starts_at_its_own_first_step() {
    Sim::new(reminders(), "2026-03-01", "2026-04-10")
        .issue("2026-03-01", "A", "2026-02-08", "2026-03-10")
        .issue("2026-03-15", "N", "2026-03-15", "2026-04-01")
        .expect(&[
            "2026-03-07 email t-invoice [A step 0]",
            "2026-03-10 email t-invoice [A step 1]",
            "2026-03-17 email t-invoice [A step 2]",
            // A is at its last step; N begins at its first.
            "2026-03-29 email t-invoice [N step 0]",
            "2026-04-01 email t-invoice [N step 1]",
            "2026-04-08 email t-invoice [N step 2]",
        ]);
}

#[test]
fn a_disputed_invoice_leaves_and_returns_where_it_was() {
    Sim::new(reminders(), "2026-03-01", "2026-03-31")
        .issue("2026-03-01", "A", "2026-02-08", "2026-03-10")
        .issue("2026-03-01", "B", "2026-02-10", "2026-03-12")
        .on("2026-03-08", Event::Dispute("A"))
        .on("2026-03-13", Event::Undispute("A"))
        .expect(&[
            "2026-03-07 email t-invoice [A step 0]",
            "2026-03-09 email t-invoice [B step 0]",
            // A is disputed on its due date: nothing. B goes on.
            "2026-03-12 email t-invoice [B step 1]",
            // Back: the step missed while disputed is caught up, once.
            "2026-03-13 email t-invoice [A step 1]",
            "2026-03-17 email t-invoice [A step 2]",
            "2026-03-19 email t-invoice [B step 2]",
        ]);
}

#[test]
fn both_levels_due_on_the_same_run_send_one_email_that_records_every_chase() {
    let mut sim = Sim::new(reminders(), "2026-03-01", "2026-03-12").issue(
        "2026-03-01",
        "A",
        "2026-02-08",
        "2026-03-10",
    );
    sim = sim.issue("2026-03-01", "B", "2026-02-08", "2026-03-10");
    sim.customer_cadence = Some(cadence(
        "cus",
        Level::Customer,
        vec![step(
            Trigger::PastDueAge,
            0,
            Action::Email,
            Some("t-customer"),
        )],
    ));
    sim.expect(&[
        "2026-03-07 email t-invoice [A step 0, B step 0]",
        // The customer-level template wins; each chase is still its own.
        "2026-03-10 email t-customer [customer step 0, A step 1, B step 1]",
    ]);
}

#[test]
fn the_frequency_cap_lets_one_message_through_and_suppresses_the_others_for_good() {
    let urgent = cadence(
        "urgent",
        Level::Invoice,
        vec![
            step(Trigger::DaysFromDue, 0, Action::Email, Some("t-urgent"))
                .with_audience(Audience::Escalated),
        ],
    );
    let texts = cadence(
        "texts",
        Level::Invoice,
        vec![step(Trigger::DaysFromDue, 0, Action::Sms, Some("t-sms"))],
    );
    let mut on_urgent = invoice("B", "2026-02-08", "2026-03-10");
    on_urgent.chasing.cadence_id = Some("urgent".into());
    let mut on_texts = invoice("C", "2026-02-08", "2026-03-10");
    on_texts.chasing.cadence_id = Some("texts".into());
    let mut sim = Sim::new(reminders(), "2026-03-08", "2026-03-20")
        .issue("2026-03-08", "A", "2026-02-08", "2026-03-10")
        .on("2026-03-08", Event::Invoice(on_urgent))
        .on("2026-03-08", Event::Invoice(on_texts));
    sim.overrides = vec![urgent, texts];
    sim.cap = FrequencyCap {
        max_messages: 1,
        window_days: 1,
    };
    // Three invoices due the same day, on three channels or audiences: three
    // messages would go out; the cap lets the first through.
    sim.expect(&[
        "2026-03-08 email t-invoice [A step 0]",
        "2026-03-10 email t-invoice [A step 1]",
        "2026-03-10 suppressed B step 0 frequency_cap",
        "2026-03-10 suppressed C step 0 frequency_cap",
        // Capped chases are not retried; A goes on.
        "2026-03-17 email t-invoice [A step 2]",
    ]);
}

impl StepDraft {
    fn with_audience(mut self, audience: Audience) -> Self {
        self.audience = audience;
        self
    }
}

#[test]
fn a_level_takes_only_its_own_triggers() {
    let mixed = |level| {
        CadenceDraft {
            name: "mixed".into(),
            level,
            run_at: "09:00".into(),
            days_of_week: vec![],
            days_of_month: vec![],
            threshold: None,
            steps: vec![
                step(Trigger::AccountAge, 1, Action::Letter, None),
                step(Trigger::DaysFromDue, -3, Action::Letter, None),
                step(Trigger::InvoiceAge, -1, Action::Letter, None),
            ],
            assignment: None,
        }
        .validate("c".into(), 1, &templates)
        .unwrap_err()
    };
    let fields = |errors: crate::validation::FieldErrors| -> Vec<String> {
        errors.iter().map(|(f, _)| f.clone()).collect()
    };
    assert_eq!(
        fields(mixed(Level::Customer)),
        ["steps[1].trigger", "steps[2].days", "steps[2].trigger"]
    );
    assert_eq!(
        fields(mixed(Level::Invoice)),
        ["steps[0].trigger", "steps[2].days"]
    );
    let stored = serde_json::to_value(reminders()).unwrap();
    assert_eq!(stored["level"], "invoice");
    assert_eq!(stored["steps"][0]["trigger"], "days_from_due");
    // Cadences stored before levels existed are customer level.
    let mut old = serde_json::to_value(cadence(
        "old",
        Level::Customer,
        vec![step(Trigger::AccountAge, 1, Action::Letter, None)],
    ))
    .unwrap();
    old.as_object_mut().unwrap().remove("level");
    let back: Cadence = serde_json::from_value(old).unwrap();
    assert_eq!(back.level, Level::Customer);
}

#[test]
fn a_paused_invoice_and_a_closed_one_are_not_chased_and_state_stays_bounded() {
    let cadence = reminders();
    let stops = Stops::default();
    let evaluator = InvoiceEvaluator::new(
        InvoiceCadences {
            enrolled: Some(&cadence),
            overrides: &[],
        },
        Tz::UTC,
        &stops,
    );
    let mut paused = invoice("P", "2026-02-08", "2026-03-10");
    paused.chasing.paused = true;
    let mut state = InvoiceCycles::default();
    state.invoices.insert(
        "gone".into(),
        InvoiceCycle {
            cycle: 1,
            cadence_id: "inv".into(),
            cadence_version: 1,
            ran: [0].into(),
            superseded: Default::default(),
            suppressed: Default::default(),
        },
    );
    let invoices = [paused, invoice("A", "2026-02-08", "2026-03-10")];
    let evaluation = evaluator.evaluate(
        open(&invoices, Decimal::ZERO),
        &state,
        at(date("2026-03-20"), 9),
    );
    let runs: Vec<(&str, u32, Vec<u32>)> = evaluation
        .runs
        .iter()
        .map(|r| (r.invoice_id.as_str(), r.position, r.superseded.clone()))
        .collect();
    // Enrolled late: only the last due step runs, the others are superseded.
    assert_eq!(runs, [("A", 2, vec![0, 1])]);
    assert_eq!(
        evaluation.runs[0].balance,
        Money::parse("100", eur()).unwrap()
    );
    let kept: Vec<&String> = evaluation.state.invoices.keys().collect();
    assert_eq!(kept, ["A"]);
    let json = serde_json::to_value(&evaluation.state).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"A": {"cycle": 1, "cadence_id": "inv", "cadence_version": 1,
            "ran": [], "superseded": [], "suppressed": []}})
    );
}

#[test]
fn the_customer_s_pause_holds_invoice_chases_and_the_recheck_says_so() {
    let sim = Sim::new(reminders(), "2026-03-01", "2026-03-31");
    let invoices = [invoice("A", "2026-02-08", "2026-03-10")];
    let (cycle, invoice_cycles) = (CycleState::default(), InvoiceCycles::default());
    let due = at(date("2026-03-10"), 9);
    let plan_with = |stops: &Stops, credit: &str| {
        let input = sim.input(&invoices, stops, &cycle, &invoice_cycles);
        let open = open(&invoices, d(credit));
        plan_chasing(&ChasingInput { open, ..input }, due)
    };
    let chase = ChaseId::Invoice {
        invoice_id: "A".into(),
        cycle: 1,
        position: 1,
    };
    let running = plan_with(&Stops::default(), "0");
    assert_eq!(running.chases(), std::slice::from_ref(&chase));
    assert_eq!(running.recheck(&chase), Recheck::Due);
    let paused = plan_with(
        &Stops {
            pause: Some(Pause { until: None }),
            ..Stops::default()
        },
        "0",
    );
    assert_eq!(
        paused.recheck(&chase),
        Recheck::Held {
            stop: Stop::Paused { until: None }
        }
    );
    assert_eq!(paused.next_evaluation_at, None);
    assert!(paused.merged.messages.is_empty());
    // Credit covering the invoice: nothing left to chase on it.
    let covered = plan_with(&Stops::default(), "100");
    assert_eq!(covered.recheck(&chase), Recheck::NoLongerDue);
}

#[test]
fn the_preview_lists_both_levels_and_the_next_evaluation_is_the_earliest() {
    let invoice_level = reminders();
    let customer_level = cadence(
        "cus",
        Level::Customer,
        vec![step(
            Trigger::AccountAge,
            37,
            Action::Email,
            Some("t-customer"),
        )],
    );
    let mut sim = Sim::new(invoice_level, "2026-03-01", "2026-03-31");
    sim.customer_cadence = Some(customer_level);
    let invoices = [invoice("A", "2026-02-08", "2026-03-10")];
    let (stops, cycle, invoice_cycles) = (
        Stops::default(),
        CycleState::default(),
        InvoiceCycles::default(),
    );
    let input = sim.input(&invoices, &stops, &cycle, &invoice_cycles);
    let now = at(date("2026-03-01"), 12);
    let preview: Vec<(String, Level, Option<String>, u32)> = preview_chasing(&input, now, 20)
        .into_iter()
        .map(|s| {
            (
                s.entry.date.to_string(),
                s.level,
                s.invoice_id,
                s.entry.position,
            )
        })
        .collect();
    assert_eq!(
        preview,
        [
            (
                "2026-03-07".to_string(),
                Level::Invoice,
                Some("A".into()),
                0
            ),
            (
                "2026-03-10".to_string(),
                Level::Invoice,
                Some("A".into()),
                1
            ),
            ("2026-03-17".to_string(), Level::Customer, None, 0),
            (
                "2026-03-17".to_string(),
                Level::Invoice,
                Some("A".into()),
                2
            ),
        ]
    );
    // Invoice level first (Mar 7), though the customer level waits until Mar 17.
    assert_eq!(
        next_evaluation_of_both(&input, now),
        Some(at(date("2026-03-07"), 9))
    );
}
