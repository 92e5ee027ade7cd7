//! Money received and money corrected: payments with their applications to
//! invoices, and adjustments.

use crate::money::{Currency, Money};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One transaction holds at most 100 writes; an application costs up to
/// three (record moved, pointer) on top of the customer and its entries.
pub const MAX_APPLICATIONS: usize = 20;

/// Part of a payment (or of credit) applied to one invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub invoice_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Made by automatic settlement rather than asked for.
    #[serde(default)]
    pub automatic: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub customer_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
    pub date: NaiveDate,
    pub method: Option<String>,
    pub reference: Option<String>,
    pub applications: Vec<Application>,
    /// What of this payment was not applied and became customer credit.
    #[serde(with = "rust_decimal::serde::str")]
    pub unapplied: Decimal,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A correction of what a customer owes: negative reduces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    pub id: String,
    pub customer_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub reason: String,
    pub invoice_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A validated `POST /v1/payments` body, its amounts in the customer's
/// currency: a positive amount, and applications that ask for no more than it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPayment {
    pub amount: Money,
    pub date: NaiveDate,
    pub method: Option<String>,
    pub reference: Option<String>,
    /// In the order asked, at most [`MAX_APPLICATIONS`].
    pub applications: Vec<NewApplication>,
}

/// Part of a new payment asked to be applied to one invoice (positive).
#[derive(Debug, Clone, PartialEq)]
pub struct NewApplication {
    pub invoice_id: String,
    pub amount: Money,
}

/// A validated adjustment body: a non-zero amount in the customer's
/// currency; a positive one names its invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAdjustment {
    pub amount: Money,
    pub reason: String,
    pub invoice_id: Option<String>,
}
