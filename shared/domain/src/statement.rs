//! The open-item statement: what a customer owes, line by line, aged by
//! days past due as of a date (API.md "Statements and documents").
//!
//! An invoice on a payment plan shows one line per unpaid installment, each
//! aged by its own due date; other invoices show one line. Disputed and
//! held invoices are still owed, so they are listed (and marked). Unapplied
//! credit is shown once and reduces the total due; it is not aged.

use super::customer::Customer;
use super::invoice::{CollectionStatus, Invoice};
use super::money::{Currency, Money, MoneyError};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

/// Which installment of its invoice's plan a line is (1-based, "2 of 6").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InstallmentOf {
    pub number: u32,
    pub of: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    pub invoice_id: String,
    pub number: String,
    pub issue_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub paid: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub balance: Decimal,
    pub days_overdue: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installment: Option<InstallmentOf>,
    pub collection_status: CollectionStatus,
}

/// The aging buckets, by whole days past due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum AgingBucket {
    /// Not yet due (or no due date).
    Current,
    D1_30,
    D31_60,
    D61_90,
    Over90,
}

impl AgingBucket {
    pub fn of_days_overdue(days: i64) -> Self {
        match days {
            i64::MIN..=0 => Self::Current,
            1..=30 => Self::D1_30,
            31..=60 => Self::D31_60,
            61..=90 => Self::D61_90,
            _ => Self::Over90,
        }
    }
}

/// Open balance per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Aging {
    #[serde(with = "rust_decimal::serde::str")]
    pub current: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub d1_30: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub d31_60: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub d61_90: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub over_90: Decimal,
}

impl Aging {
    pub fn get(&self, bucket: AgingBucket) -> Decimal {
        match bucket {
            AgingBucket::Current => self.current,
            AgingBucket::D1_30 => self.d1_30,
            AgingBucket::D31_60 => self.d31_60,
            AgingBucket::D61_90 => self.d61_90,
            AgingBucket::Over90 => self.over_90,
        }
    }

    fn slot(&mut self, bucket: AgingBucket) -> &mut Decimal {
        match bucket {
            AgingBucket::Current => &mut self.current,
            AgingBucket::D1_30 => &mut self.d1_30,
            AgingBucket::D31_60 => &mut self.d31_60,
            AgingBucket::D61_90 => &mut self.d61_90,
            AgingBucket::Over90 => &mut self.over_90,
        }
    }

    /// Adds `amount` to `bucket`; `None` when the sum leaves the money bounds.
    pub fn add(
        &mut self,
        bucket: AgingBucket,
        amount: Decimal,
        currency: Currency,
    ) -> Result<(), MoneyError> {
        let slot = self.slot(bucket);
        *slot = Money::new(*slot, currency)?
            .checked_add(Money::new(amount, currency)?)?
            .amount;
        Ok(())
    }
}

/// Who the statement is for, as printed on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementCustomer {
    pub id: String,
    pub number: String,
    pub name: String,
    /// The billing address, one line per entry (empty when none).
    pub address: Vec<String>,
    pub language: Option<String>,
}

impl StatementCustomer {
    pub fn of(customer: &Customer) -> Self {
        Self {
            id: customer.id.clone(),
            number: customer.number.clone(),
            name: customer.name.clone(),
            address: customer
                .billing_address
                .as_ref()
                .map(|address| address.lines())
                .unwrap_or_default(),
            language: customer.language.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub customer: StatementCustomer,
    pub as_of: NaiveDate,
    pub currency: Currency,
    pub items: Vec<StatementLine>,
    #[serde(with = "rust_decimal::serde::str")]
    pub credit: Decimal,
    pub aging: Aging,
    /// Open balances less unapplied credit (negative when in credit).
    #[serde(with = "rust_decimal::serde::str")]
    pub total_due: Decimal,
}

impl Statement {
    /// The statement of `customer`'s open invoices as of `as_of`. Lines are
    /// in due-date order (undated last), then by number.
    pub fn of(customer: &Customer, as_of: NaiveDate) -> Result<Self, MoneyError> {
        let currency = customer.currency;
        let mut items: Vec<StatementLine> = customer
            .open_invoices
            .iter()
            .filter(|invoice| invoice.is_open() && invoice.currency == currency)
            .flat_map(|invoice| lines(invoice, as_of))
            .collect();
        items.sort_by(|a, b| {
            (
                a.due_date.is_none(),
                a.due_date,
                &a.number,
                a.installment.map(|i| i.number),
            )
                .cmp(&(
                    b.due_date.is_none(),
                    b.due_date,
                    &b.number,
                    b.installment.map(|i| i.number),
                ))
        });
        let mut aging = Aging::default();
        let mut open = Money::zero(currency);
        for line in &items {
            aging.add(
                AgingBucket::of_days_overdue(line.days_overdue),
                line.balance,
                currency,
            )?;
            open = open.checked_add(Money::new(line.balance, currency)?)?;
        }
        let credit = Money::new(customer.balance.credit, currency)?;
        let total_due = open.checked_sub(credit)?.amount;
        // Every amount at the currency's minor unit: "0.00", not "0".
        let digits = currency.minor_unit_digits();
        let at_minor_unit = |mut amount: Decimal| {
            amount.rescale(digits);
            amount
        };
        let aging = Aging {
            current: at_minor_unit(aging.current),
            d1_30: at_minor_unit(aging.d1_30),
            d31_60: at_minor_unit(aging.d31_60),
            d61_90: at_minor_unit(aging.d61_90),
            over_90: at_minor_unit(aging.over_90),
        };
        Ok(Self {
            customer: StatementCustomer::of(customer),
            as_of,
            currency,
            items,
            credit: at_minor_unit(credit.amount),
            aging,
            total_due: at_minor_unit(total_due),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn money(&self, amount: Decimal) -> Money {
        Money {
            amount,
            currency: self.currency,
        }
    }
}

/// Days past `due` on `as_of`; 0 when not yet due or undated.
fn days_past(due: Option<NaiveDate>, as_of: NaiveDate) -> i64 {
    due.map(|due| (as_of - due).num_days().max(0)).unwrap_or(0)
}

pub(crate) fn lines(invoice: &Invoice, as_of: NaiveDate) -> Vec<StatementLine> {
    let line = |due_date, total, paid, balance, installment| StatementLine {
        invoice_id: invoice.id.clone(),
        number: invoice.number.clone(),
        issue_date: invoice.issue_date,
        due_date,
        total,
        paid,
        balance,
        days_overdue: days_past(due_date, as_of),
        installment,
        collection_status: invoice.collection_status,
    };
    match &invoice.payment_plan {
        None => vec![line(
            invoice.due_date,
            invoice.total,
            invoice.amount_paid,
            invoice.balance().amount,
            None,
        )],
        Some(plan) => {
            let of = u32::try_from(plan.installments.len()).unwrap_or(u32::MAX);
            plan.installments
                .iter()
                .zip(1u32..)
                .filter(|(installment, _)| !installment.is_paid())
                .map(|(installment, number)| {
                    line(
                        Some(installment.due_date),
                        installment.amount,
                        installment.amount_paid,
                        installment.remaining(),
                        Some(InstallmentOf { number, of }),
                    )
                })
                .collect()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::invoice::{Installment, PaymentPlan};
    use std::str::FromStr;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    pub(crate) fn invoice(number: &str, due: &str, total: &str, paid: &str) -> Invoice {
        Invoice {
            id: format!("id-{number}"),
            customer_id: "c".into(),
            number: number.into(),
            currency: Currency::parse("EUR").unwrap(),
            issue_date: day("2026-01-01"),
            due_date: Some(day(due)),
            total: dec(total),
            amount_paid: dec(paid),
            autopay: false,
            collection_status: CollectionStatus::Normal,
            dispute_reason: None,
            voided: false,
            payment_plan: None,
            chasing: Default::default(),
        }
    }

    pub(crate) fn customer(invoices: Vec<Invoice>, credit: &str) -> Customer {
        let mut customer: Customer = serde_json::from_value(serde_json::json!({
            "id": "c", "number": "C-1", "name": "Łódź Café Müller", "email": null, "phone": null,
            "language": "de", "currency": "EUR", "payment_terms": null, "tags": [],
            "billing_address": null, "shipping_address": null, "ar_specialist_id": null,
            "group_id": null, "autopay": null, "metadata": {}, "chasing": {"status": "active", "paused_until": null, "cadence_id": null, "cadence_version": null},
            "balance": {"outstanding": "0", "overdue": "0", "chased": "0", "credit": "0"},
            "account_age": null, "past_due_age": null, "payer_rating": null, "primary_contact_id": null,
            "group_settings": null, "open_invoice_count": 0, "version": 1,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        customer.open_invoices = invoices;
        customer.balance.credit = dec(credit);
        customer
    }

    #[test]
    fn lines_are_aged_into_buckets_and_credit_reduces_the_total() {
        let statement = Statement::of(
            &customer(
                vec![
                    invoice("A", "2026-03-10", "100.00", "0"),
                    invoice("B", "2026-02-01", "200.00", "50.00"),
                    invoice("C", "2025-11-01", "300.00", "0"),
                    invoice("PAID", "2025-11-01", "10.00", "10.00"),
                ],
                "25.00",
            ),
            day("2026-03-05"),
        )
        .unwrap();
        let numbers: Vec<_> = statement.items.iter().map(|l| l.number.as_str()).collect();
        assert_eq!(
            numbers,
            ["C", "B", "A"],
            "due-date order, paid ones left out"
        );
        assert_eq!(statement.items[1].balance, dec("150.00"));
        assert_eq!(statement.items[1].days_overdue, 32);
        assert_eq!(statement.aging.current, dec("100.00"));
        assert_eq!(statement.aging.d31_60, dec("150.00"));
        assert_eq!(statement.aging.over_90, dec("300.00"));
        assert_eq!(statement.credit, dec("25.00"));
        assert_eq!(statement.total_due, dec("525.00"));
    }

    #[test]
    fn buckets_move_with_the_date_alone() {
        let customer = customer(vec![invoice("A", "2026-03-10", "100.00", "0")], "0");
        let bucket = |as_of| {
            let statement = Statement::of(&customer, day(as_of)).unwrap();
            AgingBucket::of_days_overdue(statement.items[0].days_overdue)
        };
        assert_eq!(bucket("2026-03-10"), AgingBucket::Current);
        assert_eq!(bucket("2026-03-11"), AgingBucket::D1_30);
        assert_eq!(bucket("2026-04-09"), AgingBucket::D1_30);
        assert_eq!(bucket("2026-04-10"), AgingBucket::D31_60);
        assert_eq!(bucket("2026-06-08"), AgingBucket::D61_90);
        assert_eq!(bucket("2026-06-09"), AgingBucket::Over90);
    }

    #[test]
    fn a_plan_shows_each_unpaid_installment_on_its_own_due_date() {
        let mut planned = invoice("P", "2026-03-01", "300.00", "120.00");
        planned.payment_plan = Some(PaymentPlan {
            installments: [
                ("2026-01-01", "100.00", "100.00"),
                ("2026-02-01", "100.00", "20.00"),
                ("2026-03-01", "100.00", "0"),
            ]
            .into_iter()
            .map(|(due, amount, paid)| Installment {
                due_date: day(due),
                amount: dec(amount),
                amount_paid: dec(paid),
            })
            .collect(),
        });
        let statement = Statement::of(&customer(vec![planned], "0"), day("2026-02-15")).unwrap();
        let lines: Vec<_> = statement
            .items
            .iter()
            .map(|l| (l.installment.unwrap().number, l.balance, l.days_overdue))
            .collect();
        assert_eq!(lines, [(2, dec("80.00"), 14), (3, dec("100.00"), 0)]);
        assert_eq!(statement.total_due, dec("180.00"));
    }

    #[test]
    fn a_customer_with_nothing_open_has_an_empty_statement() {
        let statement = Statement::of(&customer(Vec::new(), "0"), day("2026-02-15")).unwrap();
        assert!(statement.is_empty());
        assert_eq!(statement.total_due, Decimal::ZERO);
    }
}
