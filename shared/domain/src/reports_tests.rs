use super::*;
use crate::invoice::{Installment, PaymentPlan};
use crate::money::Money;
use proptest::prelude::*;
use std::str::FromStr;

fn day(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn invoice(id: &str, due: &str, total: &str) -> Invoice {
    crate::statement::tests::invoice(id, due, total, "0")
}

fn customer(id: &str, group: Option<&str>, invoices: Vec<Invoice>) -> Customer {
    let mut customer = crate::statement::tests::customer(invoices, "0");
    customer.id = id.into();
    customer.group_id = group.map(str::to_string);
    customer
}

fn summary_on(tally: &Tally, as_of: &str) -> Summary {
    let start = day(as_of).and_hms_opt(0, 0, 0).unwrap().and_utc();
    summary(tally, day(as_of), (start, start + Duration::days(1))).unwrap()
}

fn item(customer: &Customer) -> ReportItem {
    ReportItem::Customer(Box::new(customer.clone()))
}

fn aged(tally: &Tally, as_of: &str) -> CurrencyAging {
    aging(tally, &OpenFilter::default(), day(as_of)).unwrap()[&eur()]
}

/// Hand-computed: A 100 due 03-10, B 200 due 02-01, C 300 due 2025-11-01,
/// D 50 due 04-30 (with an installment plan case below).
fn hand_set() -> Tally {
    let c = customer(
        "c",
        None,
        vec![
            invoice("A", "2026-03-10", "100.00"),
            invoice("B", "2026-02-01", "200.00"),
            invoice("C", "2025-11-01", "300.00"),
            invoice("D", "2026-04-30", "50.00"),
        ],
    );
    rebuild([&item(&c)])
}

#[test]
fn aging_of_a_hand_computed_set_at_two_dates_moves_without_a_write() {
    let tally = hand_set();
    // 2026-03-15: A 5 days, B 42, C 134 days past due; D not yet due.
    let march = aged(&tally, "2026-03-15");
    assert_eq!(march.aging.current, dec("50.00"));
    assert_eq!(march.aging.d1_30, dec("100.00"));
    assert_eq!(march.aging.d31_60, dec("200.00"));
    assert_eq!(march.aging.d61_90, dec("0"));
    assert_eq!(march.aging.over_90, dec("300.00"));
    assert_eq!(march.total, dec("650.00"));
    // 2026-05-20: A 71, B 108, C 200, D 20 days past due.
    let may = aged(&tally, "2026-05-20");
    assert_eq!(may.aging.current, dec("0"));
    assert_eq!(may.aging.d1_30, dec("50.00"));
    assert_eq!(may.aging.d31_60, dec("0"));
    assert_eq!(may.aging.d61_90, dec("100.00"));
    assert_eq!(may.aging.over_90, dec("500.00"));
    assert_eq!(may.total, march.total);
}

#[test]
fn payments_credits_voids_and_disputes_move_the_amounts() {
    let before = customer("c", None, vec![invoice("A", "2026-03-10", "100.00")]);
    let mut tally = rebuild([&item(&before)]);
    let as_of = "2026-03-15";

    // A part payment leaves 60 in the same bucket.
    let mut paid = before.clone();
    paid.open_invoices[0]
        .apply_payment(Money::new(dec("40.00"), eur()).unwrap())
        .unwrap();
    tally.merge(
        &delta(Some(&item(&before)), Some(&item(&paid))),
        Decimal::ONE,
    );
    assert_eq!(aged(&tally, as_of).aging.d1_30, dec("60.00"));

    // Unapplied credit is reported beside the total, not aged.
    let mut credited = paid.clone();
    credited.balance.credit = dec("15.00");
    tally.merge(
        &delta(Some(&item(&paid)), Some(&item(&credited))),
        Decimal::ONE,
    );
    assert_eq!(aged(&tally, as_of).credit, dec("15.00"));
    assert_eq!(aged(&tally, as_of).total, dec("60.00"));

    // A dispute keeps the amount owed and marks it disputed.
    let mut disputed = credited.clone();
    disputed.open_invoices[0].set_collection_status(CollectionStatus::Disputed, None);
    tally.merge(
        &delta(Some(&item(&credited)), Some(&item(&disputed))),
        Decimal::ONE,
    );
    assert_eq!(aged(&tally, as_of).disputed, dec("60.00"));
    assert_eq!(aged(&tally, as_of).total, dec("60.00"));

    // A void (the invoice leaves the open list) takes it out altogether.
    let mut voided = disputed.clone();
    voided.open_invoices.clear();
    voided.balance.credit = Decimal::ZERO;
    tally.merge(
        &delta(Some(&item(&disputed)), Some(&item(&voided))),
        Decimal::ONE,
    );
    let rest = aging(&tally, &OpenFilter::default(), day(as_of)).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(tally, rebuild([&item(&voided)]));
}

#[test]
fn installments_age_by_their_own_due_dates_and_count_as_expected() {
    let mut plan = invoice("P", "2026-06-30", "300.00");
    plan.payment_plan = Some(PaymentPlan {
        installments: ["2026-03-01", "2026-04-01", "2026-05-01"]
            .iter()
            .map(|d| Installment {
                due_date: day(d),
                amount: dec("100.00"),
                amount_paid: Decimal::ZERO,
            })
            .collect(),
    });
    let tally = rebuild([&item(&customer("c", None, vec![plan]))]);
    let aged = aged(&tally, "2026-03-15");
    assert_eq!(aged.aging.d1_30, dec("100.00"));
    assert_eq!(aged.aging.current, dec("200.00"));
    let summary = summary_on(&tally, "2026-03-15");
    // Only the April installment falls in the next 30 days.
    assert_eq!(summary.currencies[&eur()].expected, dec("100.00"));
    assert_eq!(summary.currencies[&eur()].overdue, dec("100.00"));
}

#[test]
fn filters_select_the_group_and_currencies_stay_apart() {
    let mut usd = invoice("U", "2026-03-10", "70.00");
    usd.currency = Currency::parse("USD").unwrap();
    let a = customer("a", Some("g1"), vec![invoice("A", "2026-03-10", "100.00")]);
    let b = customer(
        "b",
        Some("g2"),
        vec![invoice("B", "2026-03-10", "40.00"), usd],
    );
    let tally = rebuild([&item(&a), &item(&b)]);
    let all = aging(&tally, &OpenFilter::default(), day("2026-03-15")).unwrap();
    assert_eq!(all[&eur()].total, dec("140.00"));
    assert_eq!(all[&Currency::parse("USD").unwrap()].total, dec("70.00"));
    let g1 = OpenFilter {
        group_id: Some("g1".into()),
        ..OpenFilter::default()
    };
    let only = aging(&tally, &g1, day("2026-03-15")).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[&eur()].total, dec("100.00"));
}

#[test]
fn dso_is_outstanding_over_ninety_days_of_invoicing() {
    assert_eq!(dso(dec("30000"), dec("90000")), Some(dec("30.0")));
    assert_eq!(dso(dec("10"), Decimal::ZERO), None);
    let mut issued = invoice("I", "2026-03-10", "900.00");
    issued.issue_date = day("2026-02-10");
    let c = customer("c", None, vec![invoice("A", "2026-03-10", "300.00")]);
    let tally = rebuild([&item(&c), &ReportItem::Invoice(Box::new(issued))]);
    let summary = summary_on(&tally, "2026-03-15");
    assert_eq!(summary.currencies[&eur()].dso, Some(dec("30.0")));
}

/// One random operation on a small set of customers.
#[derive(Debug, Clone)]
enum Op {
    Invoice {
        customer: usize,
        due_day: u32,
        cents: u32,
    },
    Pay {
        customer: usize,
        cents: u32,
    },
    Dispute {
        customer: usize,
    },
    Void {
        customer: usize,
    },
    Regroup {
        customer: usize,
        group: u8,
    },
    Credit {
        customer: usize,
        cents: u32,
    },
    Delete {
        customer: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0usize..3;
    prop_oneof![
        (c.clone(), 1u32..28, 1u32..100_000).prop_map(|(customer, due_day, cents)| Op::Invoice {
            customer,
            due_day,
            cents
        }),
        (c.clone(), 1u32..100_000).prop_map(|(customer, cents)| Op::Pay { customer, cents }),
        c.clone().prop_map(|customer| Op::Dispute { customer }),
        c.clone().prop_map(|customer| Op::Void { customer }),
        (c.clone(), 0u8..3).prop_map(|(customer, group)| Op::Regroup { customer, group }),
        (c.clone(), 0u32..10_000).prop_map(|(customer, cents)| Op::Credit { customer, cents }),
        c.prop_map(|customer| Op::Delete { customer }),
    ]
}

fn apply(customers: &mut [Option<Customer>], op: &Op, serial: usize) {
    let cents = |n: u32| Decimal::new(i64::from(n), 2);
    let at = |i: usize| format!("c{i}");
    match op {
        Op::Invoice {
            customer,
            due_day,
            cents: amount,
        } => {
            let c = customers[*customer].get_or_insert_with(|| customer_fixture(&at(*customer)));
            let due = format!("2026-02-{due_day:02}");
            let mut new = invoice(&format!("i{serial}"), &due, "0");
            new.total = cents(*amount);
            c.open_invoices.push(new);
        }
        Op::Pay {
            customer,
            cents: amount,
        } => {
            if let Some(invoice) = customers[*customer]
                .as_mut()
                .and_then(|c| c.open_invoices.first_mut())
            {
                let pay = cents(*amount).min(invoice.balance().amount);
                if pay > Decimal::ZERO {
                    invoice
                        .apply_payment(Money::new(pay, eur()).unwrap())
                        .unwrap();
                }
            }
        }
        Op::Dispute { customer } => {
            if let Some(invoice) = customers[*customer]
                .as_mut()
                .and_then(|c| c.open_invoices.last_mut())
            {
                invoice.set_collection_status(CollectionStatus::Disputed, None);
            }
        }
        Op::Void { customer } => {
            if let Some(c) = customers[*customer].as_mut() {
                c.open_invoices.retain(|i| i.amount_paid > Decimal::ZERO);
            }
        }
        Op::Regroup { customer, group } => {
            if let Some(c) = customers[*customer].as_mut() {
                c.group_id = (*group > 0).then(|| format!("g{group}"));
            }
        }
        Op::Credit {
            customer,
            cents: amount,
        } => {
            if let Some(c) = customers[*customer].as_mut() {
                c.balance.credit = cents(*amount);
            }
        }
        Op::Delete { customer } => customers[*customer] = None,
    }
}

fn customer_fixture(id: &str) -> Customer {
    customer(id, None, Vec::new())
}

proptest! {
    #[test]
    fn rebuild_equals_the_deltas_of_every_change(ops in proptest::collection::vec(op(), 1..40)) {
        let mut customers: Vec<Option<Customer>> = vec![None, None, None];
        let mut incremental = Tally::default();
        for (serial, op) in ops.iter().enumerate() {
            let before: Vec<Option<ReportItem>> = customers.iter().map(|c| c.as_ref().map(item)).collect();
            apply(&mut customers, op, serial);
            for (old, new) in before.iter().zip(customers.iter()) {
                let new = new.as_ref().map(item);
                incremental.merge(&delta(old.as_ref(), new.as_ref()), Decimal::ONE);
            }
        }
        let items: Vec<ReportItem> = customers.iter().flatten().map(item).collect();
        prop_assert_eq!(&incremental, &rebuild(items.iter()));
        // Every aging, whatever the date, agrees too.
        for as_of in ["2026-02-01", "2026-03-20", "2026-06-01"] {
            prop_assert_eq!(
                aging(&incremental, &OpenFilter::default(), day(as_of)).unwrap(),
                aging(&rebuild(items.iter()), &OpenFilter::default(), day(as_of)).unwrap()
            );
        }
    }
}
