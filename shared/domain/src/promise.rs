//! Promises to pay: chasing pauses until the promised date plus the tenant's
//! grace days; then the promise is kept (enough was paid) or broken.

use super::money::Currency;
use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromiseStatus {
    Open,
    Kept,
    Broken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    pub id: String,
    pub customer_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
    pub promised_date: NaiveDate,
    pub note: Option<String>,
    /// Tenant setting at the time of the promise.
    pub grace_days: u32,
    /// Payments dated on or before the deadline since the promise was made.
    #[serde(with = "rust_decimal::serde::str")]
    pub paid_since: Decimal,
    pub kept_on: Option<NaiveDate>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A validated promise body: a positive amount in the customer's currency,
/// promised for today or later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPromise {
    pub amount: Decimal,
    pub promised_date: NaiveDate,
    pub note: Option<String>,
}

impl Promise {
    /// The last day a payment counts towards the promise.
    pub fn deadline(&self) -> NaiveDate {
        self.promised_date
            .checked_add_days(Days::new(u64::from(self.grace_days)))
            .unwrap_or(self.promised_date)
    }

    pub fn status(&self, today: NaiveDate) -> PromiseStatus {
        if self.kept_on.is_some() {
            PromiseStatus::Kept
        } else if today > self.deadline() {
            PromiseStatus::Broken
        } else {
            PromiseStatus::Open
        }
    }

    /// Counts a payment made on `paid_on` towards the promise.
    pub fn record_payment(&mut self, amount: Decimal, paid_on: NaiveDate) {
        if self.kept_on.is_some() || paid_on > self.deadline() {
            return;
        }
        self.paid_since += amount;
        if self.paid_since >= self.amount {
            self.kept_on = Some(paid_on);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promise() -> Promise {
        Promise {
            id: "p".into(),
            customer_id: "c".into(),
            amount: Decimal::from(100),
            currency: Currency::parse("EUR").unwrap(),
            promised_date: "2026-06-10".parse().unwrap(),
            note: None,
            grace_days: 3,
            paid_since: Decimal::ZERO,
            kept_on: None,
            created_by: "u".into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn kept_when_paid_by_the_deadline_broken_after_it() {
        let mut p = promise();
        assert_eq!(p.status("2026-06-13".parse().unwrap()), PromiseStatus::Open);
        assert_eq!(
            p.status("2026-06-14".parse().unwrap()),
            PromiseStatus::Broken
        );
        p.record_payment(Decimal::from(60), "2026-06-09".parse().unwrap());
        p.record_payment(Decimal::from(40), "2026-06-13".parse().unwrap());
        assert_eq!(p.status("2026-07-01".parse().unwrap()), PromiseStatus::Kept);
        let mut late = promise();
        late.record_payment(Decimal::from(100), "2026-06-14".parse().unwrap());
        assert_eq!(
            late.status("2026-06-14".parse().unwrap()),
            PromiseStatus::Broken
        );
    }
}
