use super::*;
use crate::balance::{ChasedBalance, CustomerBalance};
use crate::invoice::tests::{d, date, eur};
use crate::invoice::CollectionStatus;
use crate::invoice::Invoice;
use crate::money::Money;
use crate::settings::FrequencyCap;
use crate::template::Channel;
use crate::validation::FieldErrors;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn templates(id: &str) -> Option<Channel> {
    match id {
        "t-email" => Some(Channel::Email),
        "t-sms" => Some(Channel::Sms),
        _ => None,
    }
}

fn step(trigger: Trigger, days: i64, action: Action) -> StepDraft {
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
        contact_role: None,
        assignee_id: (action == Action::Escalation).then(|| "u1".into()),
        attach_invoices: false,
    }
}

pub(super) fn draft(steps: Vec<StepDraft>) -> CadenceDraft {
    CadenceDraft {
        name: "Standard".into(),
        run_at: "09:00".into(),
        days_of_week: vec![],
        days_of_month: vec![],
        threshold: None,
        steps,
        assignment: None,
        level: Level::Customer,
    }
}

fn cadence(steps: Vec<StepDraft>) -> Cadence {
    draft(steps).validate("cad".into(), 1, &templates).unwrap()
}

fn fields(errors: &FieldErrors) -> Vec<&str> {
    errors.iter().map(|(f, _)| f.as_str()).collect()
}

fn one_invoice(issue: &str, due: Option<&str>, total: &str) -> ChasedBalance {
    let invoice = Invoice {
        id: "inv".into(),
        customer_id: "cus".into(),
        number: "N1".into(),
        currency: eur(),
        issue_date: date(issue),
        due_date: due.map(date),
        total: d(total),
        amount_paid: d("0"),
        autopay: false,
        collection_status: CollectionStatus::Normal,
        dispute_reason: None,
        voided: false,
        payment_plan: None,
        chasing: Default::default(),
    };
    ChasedBalance::of(&[invoice], eur(), date(issue))
}

#[test]
fn every_bad_step_field_is_reported() {
    let mut bad_template = step(Trigger::AccountAge, 1, Action::Email);
    bad_template.template_id = Some("t-sms".into());
    let mut missing = step(Trigger::AccountAge, 2, Action::Sms);
    missing.template_id = None;
    let mut escalation = step(Trigger::AccountAge, 3, Action::Escalation);
    escalation.assignee_id = None;
    let mut letter = step(Trigger::AccountAge, 4, Action::Letter);
    letter.attach_invoices = true;
    letter.template_id = Some("t-email".into());
    let errors = CadenceDraft {
        run_at: "9am".into(),
        days_of_week: vec!["mon".into(), "Monday".into(), "xyz".into()],
        days_of_month: vec![0, 32],
        threshold: Some(Money {
            amount: d("0.001"),
            currency: eur(),
        }),
        ..draft(vec![
            step(Trigger::AccountAge, -1, Action::Letter),
            step(Trigger::PastDueAge, -366, Action::Letter),
            bad_template,
            missing,
            escalation,
            letter,
        ])
    }
    .validate("cad".into(), 1, &templates)
    .unwrap_err();
    assert_eq!(
        fields(&errors),
        [
            "days_of_month",
            "days_of_week",
            "run_at",
            "steps[0].days",
            "steps[1].days",
            "steps[2].template_id",
            "steps[3].template_id",
            "steps[4].assignee_id",
            "steps[5].attach_invoices",
            "steps[5].template_id",
            "threshold.amount",
        ]
    );
    let too_many = draft(
        (0..101)
            .map(|n| step(Trigger::AccountAge, n, Action::Letter))
            .collect(),
    );
    let errors = too_many.validate("cad".into(), 1, &templates).unwrap_err();
    assert_eq!(fields(&errors), ["steps"]);
    assert_eq!(MAX_CADENCES_PER_TENANT, 100);
}

#[test]
fn a_valid_cadence_round_trips_in_api_shape() {
    let json = serde_json::json!({
        "name": "Gentle", "run_at": "07:30", "days_of_week": ["mon", "fri"],
        "days_of_month": [], "threshold": {"amount": "100", "currency": "EUR"},
        "steps": [
            {"trigger": "past_due_age", "days": -3, "action": "email", "template_id": "t-email", "attach_invoices": true},
            {"trigger": "account_age", "days": 45, "action": "phone_call", "contact_role": "ap"}
        ],
        "assignment": {"mode": "always", "priority": 2, "rules": [
            {"field": "balance.overdue", "op": ">=", "value": 500},
            {"field": "metadata.region", "op": "==", "value": "north"}
        ]}
    });
    let draft: CadenceDraft = serde_json::from_value(json).unwrap();
    let cadence = draft.validate("cad".into(), 1, &templates).unwrap();
    assert_eq!(cadence.threshold.unwrap().amount.to_string(), "100.00");
    let stored = serde_json::to_value(&cadence).unwrap();
    assert_eq!(stored["run_at"], "07:30");
    assert_eq!(stored["days_of_week"], serde_json::json!(["mon", "fri"]));
    assert_eq!(stored["assignment"]["rules"][0]["field"], "balance.overdue");
    assert_eq!(stored["assignment"]["rules"][0]["op"], ">=");
    let back: Cadence = serde_json::from_value(stored).unwrap();
    assert_eq!(back, cadence);
}

fn facts() -> CustomerFacts {
    CustomerFacts {
        payment_terms: Some("NET30".into()),
        language: Some("fr".into()),
        currency: eur(),
        group_id: None,
        tags: vec!["vip".into()],
        country: Some("FR".into()),
        metadata: BTreeMap::from([("region".into(), "north".into())]),
        credit_limit: None,
        balance: CustomerBalance {
            outstanding: d("1000"),
            overdue: d("250.50"),
            chased: d("1000"),
            currency: eur(),
        },
    }
}

fn rule(field: &str, op: &str, value: &str) -> Rule {
    Rule {
        field: RuleField::parse(field).unwrap(),
        op: RuleOp::parse(op).unwrap(),
        value: value.into(),
    }
}

#[test]
fn rules_compare_money_as_numbers_and_the_rest_as_text() {
    let f = facts();
    assert!(rule("balance.overdue", ">", "99").holds(&f)); // text would say "250.50" < "99"
    assert!(rule("balance.overdue", "<=", "250.5").holds(&f));
    assert!(!rule("balance.overdue", "<", "250.50").holds(&f));
    assert!(rule("language", "==", "FR").holds(&f));
    assert!(rule("payment_terms", "!=", "net30").holds(&f));
    assert!(rule("payment_terms", "<", "NET60").holds(&f));
    assert!(rule("tags", "==", "vip").holds(&f));
    assert!(rule("tags", "!=", "slow").holds(&f));
    assert!(rule("metadata.region", "==", "north").holds(&f));
    assert!(!rule("metadata.missing", "==", "x").holds(&f));
    assert!(rule("metadata.missing", "!=", "x").holds(&f));
    assert!(!rule("credit_limit", ">", "0").holds(&f));
    assert!(rule("currency", "==", "eur").holds(&f));
    assert!(rule("group_id", "!=", "g1").holds(&f));
}

#[test]
fn cadences_are_tried_by_priority() {
    let mut catch_all = cadence(vec![step(Trigger::AccountAge, 1, Action::Letter)]);
    catch_all.id = "z".into();
    catch_all.assignment = Assignment {
        mode: AssignmentMode::Always,
        priority: 10,
        rules: vec![],
    };
    let mut french = catch_all.clone();
    french.id = "fr".into();
    french.assignment.priority = 1;
    french.assignment.rules = vec![rule("language", "==", "fr")];
    let mut manual = catch_all.clone();
    manual.id = "a".into();
    manual.assignment.mode = AssignmentMode::Manual;
    manual.assignment.priority = 0;
    let all = [catch_all, french, manual];
    assert_eq!(assign_cadence(&all, &facts()).unwrap().id, "fr");
    let german = CustomerFacts {
        language: Some("de".into()),
        ..facts()
    };
    assert_eq!(assign_cadence(&all, &german).unwrap().id, "z");
}

#[test]
fn bad_rules_are_field_errors() {
    let errors = CadenceDraft {
        assignment: Some(AssignmentDraft {
            mode: AssignmentMode::Always,
            priority: 0,
            rules: vec![
                RuleDraft {
                    field: "shoe_size".into(),
                    op: "==".into(),
                    value: "9".into(),
                },
                RuleDraft {
                    field: "credit_limit".into(),
                    op: ">".into(),
                    value: "lots".into(),
                },
                RuleDraft {
                    field: "tags".into(),
                    op: "<".into(),
                    value: "vip".into(),
                },
                RuleDraft {
                    field: "language".into(),
                    op: "=~".into(),
                    value: "en".into(),
                },
                RuleDraft {
                    field: "metadata.".into(),
                    op: "==".into(),
                    value: serde_json::Value::Null,
                },
            ],
        }),
        ..draft(vec![step(Trigger::AccountAge, 1, Action::Letter)])
    }
    .validate("cad".into(), 1, &templates)
    .unwrap_err();
    assert_eq!(
        fields(&errors),
        [
            "assignment.rules[0].field",
            "assignment.rules[1].value",
            "assignment.rules[2].op",
            "assignment.rules[3].op",
            "assignment.rules[4].field",
            "assignment.rules[4].value",
        ]
    );
}

#[test]
fn enrolment_of_an_old_account_runs_only_the_latest_due_step() {
    let cadence = cadence(vec![
        step(Trigger::AccountAge, 0, Action::Email),
        step(Trigger::PastDueAge, 1, Action::Email),
        step(Trigger::PastDueAge, 30, Action::PhoneCall),
        step(Trigger::PastDueAge, 60, Action::Escalation),
        step(Trigger::PastDueAge, 90, Action::Letter),
    ]);
    let stops = Stops::default();
    let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
    let balance = one_invoice("2026-01-01", Some("2026-01-31"), "100");
    let evaluation = evaluator.evaluate(
        &balance,
        &CycleState::default(),
        utc("2026-04-01T09:00:00Z"),
    );
    let Decision::Run(run) = &evaluation.decision else {
        panic!("{:?}", evaluation.decision)
    };
    assert_eq!(
        (run.cycle, run.position, run.superseded.clone()),
        (1, 3, vec![0, 1, 2])
    );
    assert_eq!(evaluation.past_due_age, Some(60));
    // Next: the 90-day letter, on May 1.
    assert_eq!(
        evaluation.next_evaluation_at,
        Some(utc("2026-05-01T09:00:00Z"))
    );
    let state = evaluation.state_after_run();
    let again = evaluator.evaluate(&balance, &state, utc("2026-04-01T09:00:00Z"));
    assert_eq!(again.decision, Decision::Nothing(Idle::NoStepDue));
}

#[test]
fn a_missed_run_is_caught_up_and_a_new_situation_waits_for_the_next_run() {
    let cadence = cadence(vec![step(Trigger::AccountAge, 0, Action::Email)]);
    let stops = Stops::default();
    let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
    let balance = one_invoice("2026-03-02", None, "100");
    // The 09:00 tick was missed; at 11:00 the run is caught up.
    let late = evaluator.evaluate(
        &balance,
        &CycleState::default(),
        utc("2026-03-02T11:00:00Z"),
    );
    assert!(matches!(late.decision, Decision::Run(_)));
    // An invoice created at 15:00 gets its first evaluation at the next run.
    let next = evaluator.next_evaluation_at(
        &balance,
        &CycleState::default(),
        utc("2026-03-02T15:00:00Z"),
    );
    assert_eq!(next, Some(utc("2026-03-03T09:00:00Z")));
    assert_eq!(
        reschedule(
            Some(utc("2026-03-02T09:00:00Z")),
            next,
            utc("2026-03-02T15:00:00Z")
        ),
        Some(utc("2026-03-02T09:00:00Z"))
    );
    assert_eq!(reschedule(None, next, utc("2026-03-02T15:00:00Z")), next);
}

#[test]
fn stops_hold_a_due_step_and_say_when_to_look_again() {
    let cadence = cadence(vec![step(Trigger::AccountAge, 0, Action::Email)]);
    let balance = one_invoice("2026-03-02", None, "100");
    let at = utc("2026-03-05T09:00:00Z");
    let check = |stops: Stops| {
        let evaluation = Evaluator::new(&cadence, Tz::UTC, &stops).evaluate(
            &balance,
            &CycleState::default(),
            at,
        );
        (evaluation.decision, evaluation.next_evaluation_at)
    };
    let (decision, next) = check(Stops {
        pause: Some(Pause {
            until: Some(date("2026-03-10")),
        }),
        ..Stops::default()
    });
    assert_eq!(
        decision,
        Decision::Stopped(Stop::Paused {
            until: Some(date("2026-03-10"))
        })
    );
    assert_eq!(next, Some(utc("2026-03-10T09:00:00Z")));
    let (_, next) = check(Stops {
        pause: Some(Pause { until: None }),
        ..Stops::default()
    });
    assert_eq!(next, None);
    let (decision, next) = check(Stops {
        promise: Some(OpenPromise {
            promised_date: date("2026-03-06"),
            grace_days: 3,
        }),
        ..Stops::default()
    });
    assert_eq!(
        decision,
        Decision::Stopped(Stop::Promised {
            until: date("2026-03-09")
        })
    );
    assert_eq!(next, Some(utc("2026-03-10T09:00:00Z")));
    let (decision, next) = check(Stops {
        messages_sent: vec![utc("2026-03-04T09:00:00Z")],
        frequency_cap: FrequencyCap {
            max_messages: 1,
            window_days: 3,
        },
        ..Stops::default()
    });
    assert_eq!(
        decision,
        Decision::Stopped(Stop::FrequencyCap {
            reopens_on: date("2026-03-07")
        })
    );
    assert_eq!(next, Some(utc("2026-03-07T09:00:00Z")));
    // Yesterday's send does not block today's under the default cap.
    let (decision, _) = check(Stops {
        messages_sent: vec![utc("2026-03-04T09:00:03Z")],
        ..Stops::default()
    });
    assert!(matches!(decision, Decision::Run(_)));
}

#[test]
fn a_step_for_a_missing_role_is_passed_over_until_a_later_step_runs() {
    let mut exec = step(Trigger::AccountAge, 5, Action::Email);
    exec.contact_role = Some("executive".into());
    let cadence = cadence(vec![step(Trigger::AccountAge, 0, Action::Email), exec]);
    let stops = Stops::default();
    let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
    let balance = one_invoice("2026-03-01", None, "100");
    let first = evaluator.evaluate(
        &balance,
        &CycleState::default(),
        utc("2026-03-10T09:00:00Z"),
    );
    let Decision::Run(run) = &first.decision else {
        panic!()
    };
    assert_eq!((run.position, run.superseded.clone()), (0, vec![]));
    let second = evaluator.evaluate(
        &balance,
        &first.state_after_run(),
        utc("2026-03-11T09:00:00Z"),
    );
    assert_eq!(
        second.decision,
        Decision::Stopped(Stop::NoContactWithRole {
            position: 1,
            role: "executive".into()
        })
    );
    assert_eq!(second.next_evaluation_at, None);
}

#[test]
fn threshold_holds_the_cycle_without_advancing_it() {
    let mut d = draft(vec![step(Trigger::AccountAge, 0, Action::Email)]);
    d.threshold = Some(Money {
        amount: d_("100"),
        currency: eur(),
    });
    let cadence = d.validate("cad".into(), 1, &templates).unwrap();
    let stops = Stops::default();
    let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
    let small = one_invoice("2026-03-01", None, "99.99");
    let evaluation =
        evaluator.evaluate(&small, &CycleState::default(), utc("2026-03-10T09:00:00Z"));
    assert_eq!(
        evaluation.decision.clone(),
        Decision::Stopped(Stop::BelowThreshold {
            balance: Money::parse("99.99", eur()).unwrap(),
            threshold: Money::parse("100", eur()).unwrap(),
        })
    );
    assert!(evaluation.state.ran.is_empty());
    assert_eq!(evaluation.next_evaluation_at, None);
}

fn d_(s: &str) -> Decimal {
    d(s)
}

#[test]
fn decisions_and_state_serialize_for_storage_and_history() {
    let cadence = cadence(vec![step(Trigger::AccountAge, 0, Action::Email)]);
    let stops = Stops::default();
    let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
    let balance = one_invoice("2026-03-02", None, "100");
    let evaluation = evaluator.evaluate(
        &balance,
        &CycleState::default(),
        utc("2026-03-02T09:00:00Z"),
    );
    let json = serde_json::to_value(&evaluation).unwrap();
    assert_eq!(json["decision"]["kind"], "run");
    assert_eq!(json["decision"]["detail"]["position"], 0);
    assert_eq!(json["chased_balance"]["amount"], "100.00");
    let state = serde_json::to_value(evaluation.state_after_run()).unwrap();
    assert_eq!(
        state,
        serde_json::json!({
            "cycle": 1,
            "members": [{"invoice_id": "inv"}],
            "ran": [0],
            "superseded": [],
            "last_run": 0
        })
    );
    let back: Evaluation = serde_json::from_value(json).unwrap();
    assert_eq!(back, evaluation);
    let stop = Decision::Stopped(Stop::FrequencyCap {
        reopens_on: date("2026-03-03"),
    });
    assert_eq!(
        serde_json::to_value(&stop).unwrap(),
        serde_json::json!({"kind": "stopped", "detail": {"reason": "frequency_cap", "reopens_on": "2026-03-03"}})
    );
}

#[test]
fn cycle_state_starts_joins_and_resets() {
    let a = one_invoice("2026-03-01", None, "10").items;
    let mut state = CycleState::default();
    assert_eq!(state.observe(&a).started, Some(1));
    state.ran.insert(0);
    state.last_run = Some(0);
    let change = state.record_change(&a, &[]);
    assert!(change.reset);
    assert_eq!(change.started, None);
    assert!(state.ran.is_empty() && state.members.is_empty());
    assert_eq!(state.observe(&a).started, Some(2));
    state.restart();
    assert_eq!(state.cycle, 3);
}
