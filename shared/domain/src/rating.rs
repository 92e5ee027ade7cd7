//! Payer rating A–E, from how late a customer has paid and how overdue it is
//! now.
//!
//! The formula (documented in the README):
//! - `average_days_late`: over every invoice settled so far, the days between
//!   its due date and the payment that settled it (0 if on time), weighted by
//!   the invoice's total;
//! - `worst_days_overdue`: the most days any open invoice is overdue today.
//!
//! | rating | average days late | and worst days overdue now |
//! |---|---|---|
//! | A | ≤ 3  | ≤ 7  |
//! | B | ≤ 10 | ≤ 30 |
//! | C | ≤ 30 | ≤ 60 |
//! | D | ≤ 60 | ≤ 90 |
//! | E | otherwise | |
//!
//! No rating until at least one invoice was settled or one is overdue.

use super::invoice::Invoice;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaymentStats {
    pub settled_invoices: u32,
    #[serde(with = "rust_decimal::serde::str")]
    pub settled_total: Decimal,
    /// Sum of days late × invoice total.
    #[serde(with = "rust_decimal::serde::str")]
    pub weighted_days_late: Decimal,
}

impl PaymentStats {
    /// Records an invoice that a payment made on `paid_on` settled.
    pub fn record_settled(&mut self, invoice: &Invoice, paid_on: NaiveDate) {
        let days_late = invoice
            .due_date
            .map(|due| (paid_on - due).num_days().max(0))
            .unwrap_or(0);
        self.settled_invoices += 1;
        self.settled_total += invoice.total;
        self.weighted_days_late += Decimal::from(days_late) * invoice.total;
    }

    pub fn average_days_late(&self) -> Option<Decimal> {
        (self.settled_total > Decimal::ZERO).then(|| self.weighted_days_late / self.settled_total)
    }
}

pub fn payer_rating(stats: &PaymentStats, open: &[Invoice], today: NaiveDate) -> Option<char> {
    let worst = open
        .iter()
        .map(|i| i.days_overdue(today))
        .max()
        .unwrap_or(0);
    let average = match stats.average_days_late() {
        Some(average) => average,
        None if worst > 0 => Decimal::ZERO,
        None => return None,
    };
    let bands: [(char, i64, i64); 4] = [('A', 3, 7), ('B', 10, 30), ('C', 30, 60), ('D', 60, 90)];
    Some(
        bands
            .iter()
            .find(|(_, late, overdue)| average <= Decimal::from(*late) && worst <= *overdue)
            .map_or('E', |(rating, _, _)| *rating),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::{CollectionStatus, Invoice};
    use crate::money::Currency;

    fn invoice(due: &str, total: i64) -> Invoice {
        Invoice {
            id: "i".into(),
            customer_id: "c".into(),
            number: "1".into(),
            currency: Currency::parse("EUR").unwrap(),
            issue_date: date("2026-01-01"),
            due_date: Some(date(due)),
            total: Decimal::from(total),
            amount_paid: Decimal::ZERO,
            autopay: false,
            collection_status: CollectionStatus::Normal,
            dispute_reason: None,
            voided: false,
            payment_plan: None,
            chasing: Default::default(),
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn prompt_payers_are_a_and_late_ones_drop() {
        let mut stats = PaymentStats::default();
        assert_eq!(payer_rating(&stats, &[], date("2026-03-01")), None);
        stats.record_settled(&invoice("2026-02-01", 100), date("2026-02-01"));
        assert_eq!(payer_rating(&stats, &[], date("2026-03-01")), Some('A'));
        // A large invoice paid 45 days late pulls the weighted average to ~41.
        stats.record_settled(&invoice("2026-02-01", 1000), date("2026-03-18"));
        assert_eq!(payer_rating(&stats, &[], date("2026-04-01")), Some('D'));
        let overdue = invoice("2026-01-01", 50);
        assert_eq!(
            payer_rating(&PaymentStats::default(), &[overdue], date("2026-06-01")),
            Some('E')
        );
    }
}
