//! Invoices as chasing sees them: what is owed, by when, on what terms, and
//! how payments land on them (docs/api.md).

use super::money::{Currency, Money, MoneyError};
use super::patch::Patch;
use super::validation::{bounded_text, FieldErrors};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Longest invoice number accepted (numbers come from accounting systems).
pub const MAX_NUMBER_CHARS: usize = 64;
/// Longest dispute reason accepted.
pub const MAX_DISPUTE_REASON_CHARS: usize = 1000;
/// More installments than this is a data error, not a payment plan.
pub const MAX_INSTALLMENTS: usize = 120;

/// Whether an invoice may be chased at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionStatus {
    #[default]
    Normal,
    /// The customer contests it: it leaves the chased balance (docs/chasing.md).
    Disputed,
    /// Held back by the finance team: also left out of chasing.
    OnHold,
}

/// Computed: never stored, never accepted on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Open,
    Paid,
    Void,
}

/// One installment of a payment plan. Amounts are in the invoice's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installment {
    pub due_date: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount_paid: Decimal,
}

impl Installment {
    pub fn remaining(&self) -> Decimal {
        (self.amount - self.amount_paid).max(Decimal::ZERO)
    }

    pub fn is_paid(&self) -> bool {
        self.remaining().is_zero()
    }
}

/// Installments in strictly increasing due-date order, summing to the total
/// (both enforced by [`NewInvoice::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentPlan {
    pub installments: Vec<Installment>,
}

impl PaymentPlan {
    /// Index of the earliest installment not fully paid: the "current
    /// installment" of docs/chasing.md.
    pub fn current_installment(&self) -> Option<usize> {
        self.installments.iter().position(|i| !i.is_paid())
    }
}

/// An invoice. Amounts are plain decimals in the invoice's one `currency`, so
/// they can never disagree about it; accessors hand out [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// A ULID string.
    pub id: String,
    pub customer_id: String,
    pub number: String,
    pub currency: Currency,
    pub issue_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount_paid: Decimal,
    pub autopay: bool,
    pub collection_status: CollectionStatus,
    pub dispute_reason: Option<String>,
    pub voided: bool,
    pub payment_plan: Option<PaymentPlan>,
    /// This invoice's own invoice-level chasing, when it differs from the
    /// customer's (`PATCH /v1/invoices/{id}` `chasing`).
    #[serde(default, skip_serializing_if = "InvoiceChasing::is_default")]
    pub chasing: InvoiceChasing,
}

/// An invoice's override of its customer's invoice-level chasing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InvoiceChasing {
    /// An invoice-level cadence chasing this invoice instead of the
    /// customer's; `None` follows the customer.
    #[serde(default)]
    pub cadence_id: Option<String>,
    /// Invoice-level chasing skips this invoice while set.
    #[serde(default)]
    pub paused: bool,
}

impl InvoiceChasing {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Why a payment could not be applied. Nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("a payment must be greater than zero")]
    NotPositive,
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("the invoice is void")]
    Void,
    /// API: "Applying more than an invoice's balance is 422".
    #[error("{applied} is more than the invoice's balance of {balance}")]
    OverApplied { applied: Money, balance: Money },
}

/// Why an invoice could not change state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    #[error("the invoice is already void")]
    AlreadyVoid,
    /// Voiding would silently swallow money received; it must be moved first.
    #[error("the invoice has payments applied ({0}); move them before voiding")]
    HasPayments(Money),
}

impl Invoice {
    pub fn total_money(&self) -> Money {
        Money {
            amount: self.total,
            currency: self.currency,
        }
    }

    pub fn amount_paid_money(&self) -> Money {
        Money {
            amount: self.amount_paid,
            currency: self.currency,
        }
    }

    /// What is still owed; zero once void.
    pub fn balance(&self) -> Money {
        let amount = if self.voided {
            Decimal::ZERO
        } else {
            (self.total - self.amount_paid).max(Decimal::ZERO)
        };
        money_at_minor_unit(amount, self.currency)
    }

    pub fn status(&self) -> InvoiceStatus {
        if self.voided {
            InvoiceStatus::Void
        } else if self.balance().amount.is_zero() {
            InvoiceStatus::Paid
        } else {
            InvoiceStatus::Open
        }
    }

    pub fn is_open(&self) -> bool {
        self.status() == InvoiceStatus::Open
    }

    /// The due date that makes the invoice overdue: for a plan, the earliest
    /// unpaid installment's; otherwise the invoice's own.
    pub fn effective_due_date(&self) -> Option<NaiveDate> {
        match &self.payment_plan {
            Some(plan) => plan
                .current_installment()
                .and_then(|i| plan.installments.get(i))
                .map(|i| i.due_date),
            None => self.due_date,
        }
    }

    /// Whole days past the effective due date; 0 when open but not yet due,
    /// paid, void or without a due date.
    pub fn days_overdue(&self, today: NaiveDate) -> i64 {
        if !self.is_open() {
            return 0;
        }
        self.effective_due_date()
            .map(|due| (today - due).num_days().max(0))
            .unwrap_or(0)
    }

    /// Applies a payment (or credit) to this invoice. On a plan it pays the
    /// installments in due-date order, as API "Invoices and money" requires.
    pub fn apply_payment(&mut self, amount: Money) -> Result<(), PaymentError> {
        let amount = Money::new(amount.amount, amount.currency)?;
        if amount.currency != self.currency {
            return Err(MoneyError::CurrencyMismatch(amount.currency, self.currency).into());
        }
        if amount.amount <= Decimal::ZERO {
            return Err(PaymentError::NotPositive);
        }
        if self.voided {
            return Err(PaymentError::Void);
        }
        let balance = self.balance();
        if amount.amount > balance.amount {
            return Err(PaymentError::OverApplied {
                applied: amount,
                balance,
            });
        }
        self.amount_paid += amount.amount;
        if let Some(plan) = &mut self.payment_plan {
            let mut left = amount.amount;
            for installment in plan.installments.iter_mut() {
                if left.is_zero() {
                    break;
                }
                let take = installment.remaining().min(left);
                installment.amount_paid += take;
                left -= take;
            }
        }
        Ok(())
    }

    /// Voids the invoice: it stops being owed and leaves every balance.
    pub fn void(&mut self) -> Result<(), InvoiceError> {
        if self.voided {
            return Err(InvoiceError::AlreadyVoid);
        }
        if self.amount_paid > Decimal::ZERO {
            return Err(InvoiceError::HasPayments(self.amount_paid_money()));
        }
        self.voided = true;
        Ok(())
    }

    /// Changes the collection status; a reason is kept only while disputed.
    pub fn set_collection_status(&mut self, status: CollectionStatus, reason: Option<String>) {
        self.collection_status = status;
        self.dispute_reason = match status {
            CollectionStatus::Disputed => reason,
            _ => None,
        };
    }
}

/// Automatic settlement (API.md): how `pool` pays `invoices`, oldest due
/// date first (a plan's current installment's; the issue date when there is
/// none), at most `max_invoices` of them. Returns (invoice id, amount) pairs.
pub fn settlement(
    invoices: &[&Invoice],
    pool: Decimal,
    max_invoices: usize,
) -> Vec<(String, Decimal)> {
    let mut open: Vec<&&Invoice> = invoices
        .iter()
        .filter(|i| i.is_open() && i.balance().amount > Decimal::ZERO)
        .collect();
    open.sort_by(|a, b| {
        let key = |i: &Invoice| {
            (
                i.effective_due_date().unwrap_or(i.issue_date),
                i.issue_date,
                i.number.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut left = pool.max(Decimal::ZERO);
    let mut plan = Vec::new();
    for invoice in open.into_iter().take(max_invoices) {
        if left.is_zero() {
            break;
        }
        let take = invoice.balance().amount.min(left);
        plan.push((invoice.id.clone(), take));
        left -= take;
    }
    plan
}

fn money_at_minor_unit(amount: Decimal, currency: Currency) -> Money {
    let mut amount = amount;
    amount.rescale(currency.minor_unit_digits());
    Money { amount, currency }
}

/// An invoice as submitted, before it is trusted. Amounts are decimal strings
/// in JSON (docs/api.md); the currency stays a string so a bad code becomes a
/// field error rather than a parse failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvoice {
    pub customer_id: String,
    pub number: String,
    pub currency: String,
    pub issue_date: NaiveDate,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    #[serde(default)]
    pub autopay: bool,
    #[serde(default)]
    pub collection_status: CollectionStatus,
    #[serde(default)]
    pub dispute_reason: Option<String>,
    #[serde(default)]
    pub payment_plan: Option<NewPaymentPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPaymentPlan {
    pub installments: Vec<NewInstallment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInstallment {
    pub due_date: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

/// Validated invoice fields from a create or patch body: `None` (or
/// [`Patch::Keep`]) leaves a field as it is. What they mean together is
/// checked by [`NewInvoice::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvoiceChanges {
    pub customer_id: Option<String>,
    pub number: Option<String>,
    /// As written: a bad code is a field error of `validate`.
    pub currency: Option<String>,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Patch<NaiveDate>,
    /// Any decimal; the currency's minor unit is checked by `validate`.
    pub total: Option<Decimal>,
    pub autopay: Option<bool>,
    pub collection_status: Option<CollectionStatus>,
    pub dispute_reason: Patch<String>,
    pub payment_plan: Patch<NewPaymentPlan>,
    /// Replaces the invoice's chasing override; `None` keeps it.
    pub chasing: Option<InvoiceChasing>,
}

impl InvoiceChanges {
    /// The invoice a create submits; `None` without one of its required
    /// fields (customer, number, currency, issue date, total).
    pub fn create(&self) -> Option<NewInvoice> {
        let base = NewInvoice {
            customer_id: self.customer_id.clone()?,
            number: self.number.clone()?,
            currency: self.currency.clone()?,
            issue_date: self.issue_date?,
            due_date: None,
            total: self.total?,
            autopay: false,
            collection_status: CollectionStatus::Normal,
            dispute_reason: None,
            payment_plan: None,
        };
        Some(self.apply_to(base))
    }

    /// What `current` becomes, submitted again with these changes.
    pub fn apply(&self, current: &Invoice) -> NewInvoice {
        self.apply_to(NewInvoice::from(current))
    }

    fn apply_to(&self, base: NewInvoice) -> NewInvoice {
        let mut next = NewInvoice {
            customer_id: self.customer_id.clone().unwrap_or(base.customer_id),
            number: self.number.clone().unwrap_or(base.number),
            currency: self.currency.clone().unwrap_or(base.currency),
            issue_date: self.issue_date.unwrap_or(base.issue_date),
            due_date: self.due_date.apply(&base.due_date),
            total: self.total.unwrap_or(base.total),
            autopay: self.autopay.unwrap_or(base.autopay),
            collection_status: self.collection_status.unwrap_or(base.collection_status),
            dispute_reason: self.dispute_reason.apply(&base.dispute_reason),
            payment_plan: self.payment_plan.apply(&base.payment_plan),
        };
        // Leaving the dispute clears its reason.
        let leaves_dispute = self
            .collection_status
            .is_some_and(|status| status != CollectionStatus::Disputed);
        if leaves_dispute && self.dispute_reason == Patch::Keep {
            next.dispute_reason = None;
        }
        next
    }
}

impl From<&Invoice> for NewInvoice {
    fn from(invoice: &Invoice) -> Self {
        NewInvoice {
            customer_id: invoice.customer_id.clone(),
            number: invoice.number.clone(),
            currency: invoice.currency.to_string(),
            issue_date: invoice.issue_date,
            due_date: invoice.due_date,
            total: invoice.total,
            autopay: invoice.autopay,
            collection_status: invoice.collection_status,
            dispute_reason: invoice.dispute_reason.clone(),
            payment_plan: invoice.payment_plan.as_ref().map(|plan| NewPaymentPlan {
                installments: plan
                    .installments
                    .iter()
                    .map(|i| NewInstallment {
                        due_date: i.due_date,
                        amount: i.amount,
                    })
                    .collect(),
            }),
        }
    }
}

impl NewInvoice {
    /// Checks every field at once and builds the invoice. `customer_currency`
    /// is the customer's one currency: another is refused (docs/api.md, 422).
    pub fn validate(self, id: String, customer_currency: Currency) -> Result<Invoice, FieldErrors> {
        let mut errors = FieldErrors::new();
        let number = bounded_text(&mut errors, "number", &self.number, MAX_NUMBER_CHARS);
        if self.customer_id.trim().is_empty() {
            errors.add("customer_id", "must not be empty");
        }
        let currency = match Currency::parse(self.currency.trim()) {
            Some(c) if c == customer_currency => Some(c),
            Some(_) => {
                errors.add(
                    "currency",
                    format!("must be the customer's currency ({customer_currency})"),
                );
                None
            }
            None => {
                errors.add("currency", "must be an ISO 4217 currency code, e.g. EUR");
                None
            }
        };
        if let Some(due) = self.due_date {
            if due < self.issue_date {
                errors.add("due_date", "must be on or after issue_date");
            }
        }
        let total = currency.and_then(|c| positive_amount(&mut errors, "total", self.total, c));
        let dispute_reason = match (&self.dispute_reason, self.collection_status) {
            (Some(_), status) if status != CollectionStatus::Disputed => {
                errors.add("dispute_reason", "is only kept on a disputed invoice");
                None
            }
            (Some(reason), _) => super::validation::bounded_multiline_text(
                &mut errors,
                "dispute_reason",
                reason,
                MAX_DISPUTE_REASON_CHARS,
            ),
            (None, _) => None,
        };
        let payment_plan = match (&self.payment_plan, currency) {
            (Some(plan), Some(currency)) => {
                validate_plan(&mut errors, plan, self.issue_date, total, currency)
            }
            _ => None,
        };
        let (Some(number), Some(currency), Some(total)) = (number, currency, total) else {
            return Err(errors);
        };
        errors.into_result(Invoice {
            id,
            customer_id: self.customer_id.trim().to_string(),
            number,
            currency,
            issue_date: self.issue_date,
            due_date: self.due_date,
            total,
            amount_paid: money_at_minor_unit(Decimal::ZERO, currency).amount,
            autopay: self.autopay,
            collection_status: self.collection_status,
            dispute_reason,
            voided: false,
            payment_plan,
            chasing: Default::default(),
        })
    }
}

/// A strictly positive amount held at the currency's minor unit.
fn positive_amount(
    errors: &mut FieldErrors,
    field: &str,
    amount: Decimal,
    currency: Currency,
) -> Option<Decimal> {
    match Money::new(amount, currency) {
        Ok(money) if money.amount > Decimal::ZERO => Some(money.amount),
        Ok(_) => {
            errors.add(field, "must be greater than zero");
            None
        }
        Err(error) => {
            errors.add(field, error.to_string());
            None
        }
    }
}

fn validate_plan(
    errors: &mut FieldErrors,
    plan: &NewPaymentPlan,
    issue_date: NaiveDate,
    total: Option<Decimal>,
    currency: Currency,
) -> Option<PaymentPlan> {
    const FIELD: &str = "payment_plan.installments";
    if plan.installments.is_empty() {
        errors.add(FIELD, "must have at least one installment");
        return None;
    }
    if plan.installments.len() > MAX_INSTALLMENTS {
        errors.add(
            FIELD,
            format!("must have at most {MAX_INSTALLMENTS} installments"),
        );
        return None;
    }
    let mut installments = Vec::with_capacity(plan.installments.len());
    let mut previous_due: Option<NaiveDate> = None;
    let mut ok = true;
    for (index, raw) in plan.installments.iter().enumerate() {
        let prefix = format!("{FIELD}[{index}]");
        if raw.due_date < issue_date {
            errors.add(
                format!("{prefix}.due_date"),
                "must be on or after issue_date",
            );
            ok = false;
        }
        if previous_due.is_some_and(|previous| raw.due_date <= previous) {
            errors.add(
                format!("{prefix}.due_date"),
                "must be after the previous installment's due date",
            );
            ok = false;
        }
        previous_due = Some(raw.due_date);
        match positive_amount(errors, &format!("{prefix}.amount"), raw.amount, currency) {
            Some(amount) => installments.push(Installment {
                due_date: raw.due_date,
                amount,
                amount_paid: money_at_minor_unit(Decimal::ZERO, currency).amount,
            }),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let sum: Decimal = installments.iter().map(|i| i.amount).sum();
    if let Some(total) = total {
        if sum != total {
            errors.add(
                FIELD,
                format!("amounts must sum to the total ({total}), not {sum}"),
            );
            return None;
        }
    }
    Some(PaymentPlan { installments })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::str::FromStr;

    pub(crate) fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    pub(crate) fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    pub(crate) fn date(s: &str) -> NaiveDate {
        NaiveDate::from_str(s).unwrap()
    }

    fn new_invoice() -> NewInvoice {
        NewInvoice {
            customer_id: "cus".into(),
            number: "INV-1".into(),
            currency: "EUR".into(),
            issue_date: date("2026-05-01"),
            due_date: Some(date("2026-05-31")),
            total: d("300.00"),
            autopay: false,
            collection_status: CollectionStatus::Normal,
            dispute_reason: None,
            payment_plan: None,
        }
    }

    #[test]
    fn a_create_needs_its_required_fields() {
        let changes = InvoiceChanges {
            customer_id: Some("cus".into()),
            number: Some("INV-1".into()),
            currency: Some("EUR".into()),
            issue_date: Some(date("2026-05-01")),
            total: Some(d("300.00")),
            due_date: Patch::Set(date("2026-05-31")),
            ..InvoiceChanges::default()
        };
        assert_eq!(changes.create(), Some(new_invoice()));
        let without_total = InvoiceChanges {
            total: None,
            ..changes
        };
        assert_eq!(without_total.create(), None);
    }

    #[test]
    fn leaving_a_dispute_clears_its_reason() {
        let mut disputed = new_invoice();
        disputed.collection_status = CollectionStatus::Disputed;
        disputed.dispute_reason = Some("wrong quantity".into());
        let invoice = disputed.validate("i".into(), eur()).unwrap();
        let settled = InvoiceChanges {
            collection_status: Some(CollectionStatus::Normal),
            ..InvoiceChanges::default()
        }
        .apply(&invoice);
        assert_eq!(settled.collection_status, CollectionStatus::Normal);
        assert_eq!(settled.dispute_reason, None);
        let renamed = InvoiceChanges {
            number: Some("INV-2".into()),
            ..InvoiceChanges::default()
        }
        .apply(&invoice);
        assert_eq!(renamed.number, "INV-2");
        assert_eq!(renamed.dispute_reason.as_deref(), Some("wrong quantity"));
        assert_eq!(renamed.total, d("300.00"));
    }

    fn plan(parts: &[(&str, &str)]) -> Option<NewPaymentPlan> {
        Some(NewPaymentPlan {
            installments: parts
                .iter()
                .map(|(due, amount)| NewInstallment {
                    due_date: date(due),
                    amount: d(amount),
                })
                .collect(),
        })
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_valid_invoice_is_open_at_the_minor_unit() {
        let invoice = NewInvoice {
            total: d("300"),
            ..new_invoice()
        }
        .validate("01J".into(), eur())
        .unwrap();
        assert_eq!(invoice.total.to_string(), "300.00");
        assert_eq!(invoice.balance().amount.to_string(), "300.00");
        assert_eq!(invoice.status(), InvoiceStatus::Open);
        assert_eq!(invoice.days_overdue(date("2026-05-31")), 0);
        assert_eq!(invoice.days_overdue(date("2026-06-10")), 10);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = NewInvoice {
            number: " ".into(),
            issue_date: date("2026-06-01"),
            due_date: Some(date("2026-05-01")),
            total: d("0.001"),
            dispute_reason: Some("no".into()),
            ..new_invoice()
        }
        .validate("01J".into(), eur())
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            ["dispute_reason", "due_date", "number", "total"]
        );
        let errors = NewInvoice {
            total: d("-5"),
            ..new_invoice()
        }
        .validate("01J".into(), eur())
        .unwrap_err();
        assert_eq!(fields(&errors), ["total"]);
    }

    #[test]
    fn another_currency_than_the_customers_is_refused() {
        let usd = Currency::parse("USD").unwrap();
        let errors = new_invoice().validate("01J".into(), usd).unwrap_err();
        assert_eq!(fields(&errors), ["currency"]);
        let errors = NewInvoice {
            currency: "XYZ".into(),
            ..new_invoice()
        }
        .validate("01J".into(), eur())
        .unwrap_err();
        assert_eq!(fields(&errors), ["currency"]);
    }

    #[test]
    fn installments_must_sum_to_the_total_in_increasing_order() {
        let errors = NewInvoice {
            payment_plan: plan(&[("2026-05-30", "100"), ("2026-06-30", "100")]),
            ..new_invoice()
        }
        .validate("01J".into(), eur())
        .unwrap_err();
        assert_eq!(fields(&errors), ["payment_plan.installments"]);
        let errors = NewInvoice {
            payment_plan: plan(&[
                ("2026-05-30", "100"),
                ("2026-05-30", "100"),
                ("2026-04-30", "100"),
            ]),
            ..new_invoice()
        }
        .validate("01J".into(), eur())
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "payment_plan.installments[1].due_date",
                "payment_plan.installments[2].due_date"
            ]
        );
        let errors = NewInvoice {
            payment_plan: Some(NewPaymentPlan {
                installments: vec![],
            }),
            ..new_invoice()
        }
        .validate("01J".into(), eur())
        .unwrap_err();
        assert_eq!(fields(&errors), ["payment_plan.installments"]);
    }

    pub(crate) fn plan_invoice() -> Invoice {
        NewInvoice {
            payment_plan: plan(&[
                ("2026-05-30", "100"),
                ("2026-06-30", "100"),
                ("2026-07-30", "100"),
            ]),
            due_date: None,
            ..new_invoice()
        }
        .validate("01J".into(), eur())
        .unwrap()
    }

    #[test]
    fn settlement_pays_the_oldest_due_first_and_stops_when_the_pool_is_spent() {
        let mut late = new_invoice().validate("LATE".into(), eur()).unwrap();
        late.due_date = Some(date("2026-06-01"));
        let mut early = new_invoice().validate("EARLY".into(), eur()).unwrap();
        early.number = "INV-2".into();
        early.due_date = Some(date("2026-05-01"));
        let plan = plan_invoice(); // current installment due 2026-05-30
        let total = late.balance().amount;
        let pool = total + d("150");
        let applied = settlement(&[&late, &plan, &early], pool, 10);
        assert_eq!(
            applied,
            vec![("EARLY".to_string(), total), ("01J".to_string(), d("150")),]
        );
        assert_eq!(
            settlement(&[&late, &early], d("10"), 10),
            vec![("EARLY".to_string(), d("10"))]
        );
        assert!(settlement(&[&late], Decimal::ZERO, 10).is_empty());
        assert_eq!(settlement(&[&late, &early], pool, 1).len(), 1);
    }

    #[test]
    fn payments_fill_installments_in_due_date_order() {
        let mut invoice = plan_invoice();
        invoice
            .apply_payment(Money::parse("150", eur()).unwrap())
            .unwrap();
        let plan = invoice.payment_plan.as_ref().unwrap();
        assert!(plan.installments[0].is_paid());
        assert_eq!(plan.installments[1].remaining(), d("50"));
        assert_eq!(plan.current_installment(), Some(1));
        assert_eq!(invoice.balance().amount, d("150.00"));
        assert_eq!(invoice.days_overdue(date("2026-07-02")), 2);
    }

    #[test]
    fn over_application_is_refused_and_changes_nothing() {
        let mut invoice = plan_invoice();
        let before = invoice.clone();
        let error = invoice
            .apply_payment(Money::parse("300.01", eur()).unwrap())
            .unwrap_err();
        assert!(matches!(error, PaymentError::OverApplied { .. }));
        assert_eq!(invoice, before);
        assert_eq!(
            invoice.apply_payment(Money::zero(eur())),
            Err(PaymentError::NotPositive)
        );
        let usd = Currency::parse("USD").unwrap();
        assert!(matches!(
            invoice.apply_payment(Money::parse("1", usd).unwrap()),
            Err(PaymentError::Money(MoneyError::CurrencyMismatch(..)))
        ));
        invoice
            .apply_payment(Money::parse("300", eur()).unwrap())
            .unwrap();
        assert_eq!(invoice.status(), InvoiceStatus::Paid);
        assert!(invoice
            .apply_payment(Money::parse("1", eur()).unwrap())
            .is_err());
    }

    #[test]
    fn void_refuses_paid_money() {
        let mut invoice = plan_invoice();
        invoice.void().unwrap();
        assert_eq!(invoice.status(), InvoiceStatus::Void);
        assert_eq!(invoice.void(), Err(InvoiceError::AlreadyVoid));
        assert_eq!(
            invoice.apply_payment(Money::parse("1", eur()).unwrap()),
            Err(PaymentError::Void)
        );
        let mut paid = plan_invoice();
        paid.apply_payment(Money::parse("1", eur()).unwrap())
            .unwrap();
        assert!(matches!(paid.void(), Err(InvoiceError::HasPayments(_))));
    }

    #[test]
    fn new_invoice_reads_api_json() {
        let json = serde_json::json!({
            "customer_id": "cus", "number": "INV-9", "currency": "EUR",
            "issue_date": "2026-05-01", "total": "1250.00",
            "payment_plan": {"installments": [{"due_date": "2026-06-01", "amount": "1250.00"}]}
        });
        let invoice: NewInvoice = serde_json::from_value(json).unwrap();
        let invoice = invoice.validate("01J".into(), eur()).unwrap();
        let stored = serde_json::to_value(&invoice).unwrap();
        assert_eq!(stored["total"], "1250.00");
        let back: Invoice = serde_json::from_value(stored).unwrap();
        assert_eq!(back, invoice);
    }
}
