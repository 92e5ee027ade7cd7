//! `cargo bench -p documents --bench statement`: a 200-line statement
//! rendered to PDF (shaping, font subsetting, compression) in one call.

use chrono::{Days, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion};
use documents::{statement_pdf, Letterhead};
use domain::invoice::CollectionStatus;
use domain::money::Currency;
use domain::statement::{Aging, Statement, StatementCustomer, StatementLine};
use rust_decimal::Decimal;

fn statement(lines: u32) -> Option<Statement> {
    let as_of = NaiveDate::from_ymd_opt(2026, 6, 30)?;
    let items = (0..lines)
        .map(|i| {
            let due = as_of - Days::new(u64::from(i * 3 % 150));
            StatementLine {
                invoice_id: format!("inv-{i}"),
                number: format!("INV-{:05}", i + 1),
                issue_date: due - Days::new(30),
                due_date: Some(due),
                total: Decimal::new(125_000 + i64::from(i), 2),
                paid: Decimal::ZERO,
                balance: Decimal::new(125_000 + i64::from(i), 2),
                days_overdue: (as_of - due).num_days(),
                installment: None,
                collection_status: CollectionStatus::Normal,
            }
        })
        .collect();
    Some(Statement {
        customer: StatementCustomer {
            id: "c".into(),
            number: "C-1".into(),
            name: "Łódź Café Müller".into(),
            address: vec!["1 Main Street".into(), "Springfield".into()],
            language: None,
        },
        as_of,
        currency: Currency::parse("USD")?,
        items,
        credit: Decimal::ZERO,
        aging: Aging::default(),
        total_due: Decimal::ZERO,
    })
}

fn bench(c: &mut Criterion) {
    let Some(statement) = statement(200) else {
        return;
    };
    let letterhead = Letterhead {
        company_name: "Acme Supplies Ltd",
    };
    c.bench_function("statement_pdf_200_lines", |b| {
        b.iter(|| statement_pdf(&statement, letterhead).map(|pdf| pdf.len()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
