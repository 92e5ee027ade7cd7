#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test: failing loudly is right
//! The PDFs read back as text: what a debtor sees is what the data says.

use chrono::NaiveDate;
use documents::{invoice_pdf, letter_pdf, statement_pdf, Letterhead};
use domain::invoice::{CollectionStatus, Installment, Invoice, PaymentPlan};
use domain::money::{Currency, Money};
use domain::statement::{Aging, Statement, StatementCustomer, StatementLine};
use domain::template::format_money;
use rust_decimal::Decimal;
use std::str::FromStr;

const LETTERHEAD: Letterhead<'static> = Letterhead {
    company_name: "Acme Supplies Ltd",
};

fn day(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn customer(language: &str) -> StatementCustomer {
    StatementCustomer {
        id: "01C".into(),
        number: "C-1001".into(),
        name: "Łódź Café Müller".into(),
        address: vec![
            "ul. Piotrkowska 12".into(),
            "90-001 Łódź".into(),
            "PL".into(),
        ],
        language: Some(language.into()),
    }
}

fn statement(lines: usize, language: &str) -> Statement {
    let as_of = day("2026-06-30");
    let items: Vec<StatementLine> = (0..lines)
        .map(|i| {
            let due = as_of - chrono::Days::new((i as u64 * 7) % 150);
            let total = dec("100.00") + Decimal::from(i as u32);
            StatementLine {
                invoice_id: format!("inv-{i}"),
                number: format!("INV-{:04}", i + 1),
                issue_date: due - chrono::Days::new(30),
                due_date: Some(due),
                total,
                paid: dec("10.00"),
                balance: total - dec("10.00"),
                days_overdue: (as_of - due).num_days(),
                installment: None,
                collection_status: CollectionStatus::Normal,
            }
        })
        .collect();
    let mut aging = Aging::default();
    for line in &items {
        match domain::statement::AgingBucket::of_days_overdue(line.days_overdue) {
            domain::statement::AgingBucket::Current => aging.current += line.balance,
            domain::statement::AgingBucket::D1_30 => aging.d1_30 += line.balance,
            domain::statement::AgingBucket::D31_60 => aging.d31_60 += line.balance,
            domain::statement::AgingBucket::D61_90 => aging.d61_90 += line.balance,
            domain::statement::AgingBucket::Over90 => aging.over_90 += line.balance,
        }
    }
    let open: Decimal = items.iter().map(|l| l.balance).sum();
    Statement {
        customer: customer(language),
        as_of,
        currency: Currency::parse("EUR").unwrap(),
        items,
        credit: dec("25.00"),
        aging,
        total_due: open - dec("25.00"),
    }
}

fn text_of(pdf: &[u8]) -> String {
    pdf_extract::extract_text_from_mem(pdf).unwrap()
}

fn eur(amount: Decimal, language: &str) -> String {
    format_money(
        Money {
            amount,
            currency: Currency::parse("EUR").unwrap(),
        },
        Some(language),
    )
}

/// Text extraction may break a line into pieces; compare without spacing.
fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn assert_statement_text(statement: &Statement, language: &str, text: &str) {
    let text = squeeze(text);
    let has = |needle: &str| text.contains(&squeeze(needle));
    assert!(has("Łódź Café Müller"), "customer name in {text}");
    assert!(has("C-1001"));
    for line in &statement.items {
        assert!(has(&line.number), "{} missing", line.number);
        assert!(
            has(&eur(line.balance, language)),
            "balance of {}",
            line.number
        );
    }
    for amount in [
        statement.aging.current,
        statement.aging.d1_30,
        statement.aging.d31_60,
        statement.aging.d61_90,
        statement.aging.over_90,
    ] {
        assert!(has(&eur(amount, language)), "bucket {amount}");
    }
    assert!(has(&eur(statement.total_due, language)), "total due");
}

#[test]
fn a_three_invoice_statement_shows_every_item_the_buckets_and_the_total() {
    let statement = statement(3, "en");
    let pdf = statement_pdf(&statement, LETTERHEAD).unwrap();
    let text = text_of(&pdf);
    assert_statement_text(&statement, "en", &text);
    for label in [
        "Statement",
        "Current",
        "1-30 days",
        "Over 90 days",
        "Total due",
        "Page 1 of 1",
    ] {
        assert!(
            squeeze(&text).contains(&squeeze(label)),
            "{label} in {text}"
        );
    }
    eprintln!("statement of 3 lines: {} bytes", pdf.len());
}

#[test]
fn a_250_line_statement_breaks_into_numbered_pages_with_every_line() {
    let statement = statement(250, "de");
    let pdf = statement_pdf(&statement, LETTERHEAD).unwrap();
    let text = text_of(&pdf);
    assert_statement_text(&statement, "de", &text);
    let squeezed = squeeze(&text);
    let pages = squeezed.matches("Seite").count();
    assert!(pages >= 5, "{pages} pages");
    assert!(squeezed.contains(&squeeze(&format!("Seite {pages} von {pages}"))));
    // The table header is repeated on every page.
    assert_eq!(squeezed.matches("Tageüberfällig").count(), pages);
    eprintln!("statement of 250 lines: {} bytes, {pages} pages", pdf.len());
}

#[test]
fn the_same_data_gives_the_same_file() {
    let statement = statement(40, "fr");
    assert_eq!(
        statement_pdf(&statement, LETTERHEAD).unwrap(),
        statement_pdf(&statement, LETTERHEAD).unwrap()
    );
}

#[test]
fn an_empty_statement_says_nothing_is_open() {
    let mut statement = statement(0, "en");
    statement.credit = Decimal::ZERO;
    statement.total_due = Decimal::ZERO;
    let text = text_of(&statement_pdf(&statement, LETTERHEAD).unwrap());
    assert!(text.contains("No open items."), "{text}");
}

#[test]
fn a_letter_is_its_text_then_the_statement() {
    let statement = statement(3, "en");
    let body = "Dear Łódź Café Müller,\n\nOur records show the invoices below are unpaid. "
        .to_string()
        + &"Please arrange payment at your earliest convenience. ".repeat(20)
        + "\n\nKind regards,\nAcme";
    let text = text_of(&letter_pdf(&body, &statement, LETTERHEAD).unwrap());
    let squeezed = squeeze(&text);
    let letter_at = squeezed.find("Ourrecordsshow").unwrap();
    let statement_at = squeezed.find("INV-0001").unwrap();
    assert!(letter_at < statement_at);
    assert!(squeezed.contains("Kindregards"));
    assert!(squeezed.contains("Page2of2"), "{text}");
}

#[test]
fn an_invoice_pdf_shows_its_amounts_and_installments() {
    let invoice = Invoice {
        id: "01I".into(),
        customer_id: "01C".into(),
        number: "INV-77".into(),
        currency: Currency::parse("EUR").unwrap(),
        issue_date: day("2026-01-01"),
        due_date: Some(day("2026-03-01")),
        total: dec("300.00"),
        amount_paid: dec("120.00"),
        autopay: false,
        collection_status: CollectionStatus::Disputed,
        dispute_reason: Some("wrong quantity".into()),
        voided: false,
        payment_plan: Some(PaymentPlan {
            installments: vec![
                Installment {
                    due_date: day("2026-02-01"),
                    amount: dec("150.00"),
                    amount_paid: dec("120.00"),
                },
                Installment {
                    due_date: day("2026-03-01"),
                    amount: dec("150.00"),
                    amount_paid: dec("0"),
                },
            ],
        }),
        chasing: Default::default(),
    };
    let text = squeeze(&text_of(
        &invoice_pdf(&invoice, &customer("en"), day("2026-02-10"), LETTERHEAD).unwrap(),
    ));
    for needle in [
        "InvoiceINV-77",
        "€300.00",
        "€120.00",
        "€180.00",
        "€30.00",
        "€150.00",
        "disputed",
        "2/2",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}
