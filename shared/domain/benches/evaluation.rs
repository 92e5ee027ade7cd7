#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark: failing loudly is right
//! How many customers one core can evaluate per second: the worker and the
//! scheduler's preview both sit on this loop.
//!
//! `cargo bench -p shared --bench evaluation`; the throughput line reads in
//! customers (elements) per second.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use domain::balance::ChasedBalance;
use domain::cadence::{
    Action, Audience, Cadence, CadenceDraft, CycleState, Evaluator, StepDraft, Stops, Trigger,
};
use domain::invoice::{CollectionStatus, Installment, Invoice, PaymentPlan};
use domain::money::Currency;
use domain::template::Channel;
use rust_decimal::Decimal;
use std::hint::black_box;

const CUSTOMERS: usize = 1_000;

fn cadence() -> Cadence {
    let step = |trigger, days, action| StepDraft {
        trigger,
        days,
        action,
        template_id: match action {
            Action::Email => Some("t-email".to_string()),
            Action::Sms => Some("t-sms".to_string()),
            _ => None,
        },
        audience: Audience::Normal,
        contact_role: None,
        assignee_id: (action == Action::Escalation).then(|| "user".to_string()),
        attach_invoices: false,
    };
    CadenceDraft {
        name: "Standard".into(),
        run_at: "09:00".into(),
        days_of_week: vec![
            "mon".into(),
            "tue".into(),
            "wed".into(),
            "thu".into(),
            "fri".into(),
        ],
        days_of_month: vec![],
        threshold: None,
        steps: vec![
            step(Trigger::PastDueAge, -3, Action::Email),
            step(Trigger::PastDueAge, 1, Action::Email),
            step(Trigger::PastDueAge, 7, Action::Sms),
            step(Trigger::PastDueAge, 14, Action::Email),
            step(Trigger::PastDueAge, 30, Action::PhoneCall),
            step(Trigger::PastDueAge, 45, Action::Letter),
            step(Trigger::PastDueAge, 60, Action::Escalation),
        ],
        assignment: None,
        level: domain::cadence::Level::Customer,
    }
    .validate("cadence".into(), 1, &|id: &str| match id {
        "t-email" => Some(Channel::Email),
        "t-sms" => Some(Channel::Sms),
        _ => None,
    })
    .unwrap_or_else(|e| panic!("bench cadence is invalid: {e:?}"))
}

/// A spread of customers: 1 to 8 invoices, some on plans, issued over the
/// last 90 days.
fn customers(currency: Currency, today: NaiveDate) -> Vec<Vec<Invoice>> {
    (0..CUSTOMERS)
        .map(|c| {
            (0..(1 + c % 8))
                .map(|i| {
                    let issue = today - Days::new(((c * 7 + i * 13) % 90) as u64);
                    let plan = (c + i) % 5 == 0;
                    let installments: Vec<Installment> = (1..=3)
                        .map(|n| Installment {
                            due_date: issue + Days::new(30 * n),
                            amount: Decimal::new(10_000, 2),
                            amount_paid: Decimal::ZERO,
                        })
                        .collect();
                    Invoice {
                        id: format!("{c}-{i}"),
                        customer_id: c.to_string(),
                        number: format!("INV-{c}-{i}"),
                        currency,
                        issue_date: issue,
                        due_date: (!plan).then(|| issue + Days::new(30)),
                        total: if plan {
                            Decimal::new(30_000, 2)
                        } else {
                            Decimal::new(12_550, 2)
                        },
                        amount_paid: Decimal::ZERO,
                        autopay: false,
                        collection_status: CollectionStatus::Normal,
                        dispute_reason: None,
                        voided: false,
                        payment_plan: plan.then_some(PaymentPlan { installments }),
                        chasing: Default::default(),
                    }
                })
                .collect()
        })
        .collect()
}

fn evaluation(c: &mut Criterion) {
    let currency = Currency::parse("EUR").unwrap_or_else(|| panic!("EUR"));
    let zone = chrono_tz::America::New_York;
    let now: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 6, 10, 13, 5, 0)
        .single()
        .unwrap_or_else(|| panic!("instant"));
    let today = now.with_timezone(&zone).date_naive();
    let cadence = cadence();
    let stops = Stops::default();
    let invoices = customers(currency, today);
    let balances: Vec<ChasedBalance> = invoices
        .iter()
        .map(|i| ChasedBalance::of(i, currency, today))
        .collect();
    let state = CycleState::default();

    let mut group = c.benchmark_group("evaluation");
    group.throughput(Throughput::Elements(CUSTOMERS as u64));
    group.bench_function(BenchmarkId::new("evaluate", "chased balance given"), |b| {
        b.iter(|| {
            for balance in &balances {
                let evaluator = Evaluator::new(&cadence, zone, &stops);
                black_box(evaluator.evaluate(black_box(balance), &state, now));
            }
        })
    });
    group.bench_function(
        BenchmarkId::new("balance_then_evaluate", "from invoices"),
        |b| {
            b.iter(|| {
                for customer in &invoices {
                    let balance = ChasedBalance::of(black_box(customer), currency, today);
                    let evaluator = Evaluator::new(&cadence, zone, &stops);
                    black_box(evaluator.evaluate(&balance, &state, now));
                }
            })
        },
    );
    group.finish();
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
