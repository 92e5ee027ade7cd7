//! The chased balance, account age and past-due age of a customer, and the
//! cycle reset rule, as docs/chasing.md defines them.

use super::invoice::{CollectionStatus, Invoice};
use super::money::{Currency, Money};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Which thing is chased: a whole invoice, or one installment of its plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemId {
    pub invoice_id: String,
    /// Index into the invoice's installments; `None` for a whole invoice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installment: Option<u32>,
}

/// One item of the chased balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChasedItem {
    pub id: ItemId,
    pub invoice_number: String,
    /// What remains unpaid on the item, in the customer's currency.
    #[serde(with = "rust_decimal::serde::str")]
    pub remaining: Decimal,
    /// The invoice's issue date; for an installment, the previous
    /// installment's due date (the issue date for the first).
    pub item_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
}

/// The chased items of one customer on one day, with what time alone will
/// change about them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChasedBalance {
    pub currency: Currency,
    pub items: Vec<ChasedItem>,
    /// The first later date on which the items change with no event at all:
    /// an installment falls past due and brings in the next one. A scheduler
    /// must look again then (a threshold may be crossed).
    pub changes_on: Option<NaiveDate>,
}

impl ChasedBalance {
    /// The chased items of a customer's invoices as of `today` (tenant-local).
    /// Invoices in another currency than the customer's are ignored: they are
    /// refused on input (docs/api.md), so none should exist.
    pub fn of(invoices: &[Invoice], currency: Currency, today: NaiveDate) -> Self {
        let mut items = Vec::new();
        let mut changes_on: Option<NaiveDate> = None;
        for invoice in invoices.iter().filter(|i| chaseable(i, currency)) {
            match &invoice.payment_plan {
                None => items.push(ChasedItem {
                    id: ItemId {
                        invoice_id: invoice.id.clone(),
                        installment: None,
                    },
                    invoice_number: invoice.number.clone(),
                    remaining: invoice.balance().amount,
                    item_date: invoice.issue_date,
                    due_date: invoice.due_date,
                }),
                Some(plan) => {
                    let Some(current) = plan.current_installment() else {
                        continue;
                    };
                    for (index, installment) in plan.installments.iter().enumerate().skip(current) {
                        let previous = index.checked_sub(1).and_then(|p| plan.installments.get(p));
                        // A later installment joins only once the one before it is past due.
                        if index > current && previous.is_some_and(|p| p.due_date >= today) {
                            break;
                        }
                        items.push(ChasedItem {
                            id: ItemId {
                                invoice_id: invoice.id.clone(),
                                installment: u32::try_from(index).ok(),
                            },
                            invoice_number: invoice.number.clone(),
                            remaining: installment.remaining(),
                            item_date: previous.map_or(invoice.issue_date, |p| p.due_date),
                            due_date: Some(installment.due_date),
                        });
                        if plan.installments.len() > index + 1 {
                            // The next one joins the day after this one's due date.
                            let joins = installment.due_date.checked_add_days(Days::new(1));
                            if let Some(joins) = joins.filter(|d| *d > today) {
                                changes_on = Some(changes_on.map_or(joins, |c| c.min(joins)));
                            }
                        }
                    }
                }
            }
        }
        items.sort_by(|a, b| (a.item_date, &a.id).cmp(&(b.item_date, &b.id)));
        Self {
            currency,
            items,
            changes_on,
        }
    }

    /// The same balance with the customer's unapplied `credit` set against
    /// its items, oldest due date first (installments in order), as automatic
    /// settlement would apply it: money already received is never chased, and
    /// an item the credit covers no longer counts for the ages.
    pub fn net_of_credit(mut self, credit: Decimal) -> Self {
        let mut left = credit.max(Decimal::ZERO);
        if left.is_zero() {
            return self;
        }
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |i: usize| {
                let item = &self.items[i];
                (
                    item.due_date.is_none(),
                    item.due_date,
                    item.item_date,
                    &item.id,
                )
            };
            key(a).cmp(&key(b))
        });
        for index in order {
            if left.is_zero() {
                break;
            }
            let item = &mut self.items[index];
            let take = item.remaining.min(left);
            item.remaining -= take;
            left -= take;
        }
        self.items.retain(|i| i.remaining > Decimal::ZERO);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The chased balance: the sum of what remains on the chased items.
    pub fn total(&self) -> Money {
        let mut amount: Decimal = self.items.iter().map(|i| i.remaining).sum();
        amount.rescale(self.currency.minor_unit_digits());
        Money {
            amount,
            currency: self.currency,
        }
    }

    pub fn oldest_item_date(&self) -> Option<NaiveDate> {
        self.items.iter().map(|i| i.item_date).min()
    }

    pub fn oldest_due_date(&self) -> Option<NaiveDate> {
        self.items.iter().filter_map(|i| i.due_date).min()
    }

    /// today − oldest item date; `None` with nothing chased.
    pub fn account_age(&self, today: NaiveDate) -> Option<i64> {
        self.oldest_item_date().map(|d| (today - d).num_days())
    }

    /// today − oldest due date (negative before it); `None` with no due date,
    /// so past-due steps never run.
    pub fn past_due_age(&self, today: NaiveDate) -> Option<i64> {
        self.oldest_due_date().map(|d| (today - d).num_days())
    }

    pub fn item_ids(&self) -> BTreeSet<ItemId> {
        self.items.iter().map(|i| i.id.clone()).collect()
    }
}

/// Open, in the customer's currency, and neither on autopay nor held back.
/// Disputed or on-hold plan invoices are left out too: a dispute removes the
/// whole invoice from the chased balance (docs/chasing.md).
fn chaseable(invoice: &Invoice, currency: Currency) -> bool {
    invoice.currency == currency
        && invoice.is_open()
        && !invoice.autopay
        && invoice.collection_status == CollectionStatus::Normal
}

/// The chased items as a plain list (see [`ChasedBalance::of`]).
pub fn chased_items(invoices: &[Invoice], currency: Currency, today: NaiveDate) -> Vec<ChasedItem> {
    ChasedBalance::of(invoices, currency, today).items
}

/// Everything still owed on open invoices, whatever their terms or status.
pub fn outstanding(invoices: &[Invoice], currency: Currency) -> Money {
    let amount = invoices
        .iter()
        .filter(|i| i.currency == currency && i.is_open())
        .map(|i| i.balance().amount)
        .sum();
    rescaled(amount, currency)
}

/// What is past due as of `today`, net of partial payments. On a plan only the
/// installments past their own due date count. Disputed and autopay invoices
/// count: they are still owed and overdue.
pub fn overdue(invoices: &[Invoice], currency: Currency, today: NaiveDate) -> Money {
    let mut amount = Decimal::ZERO;
    for invoice in invoices
        .iter()
        .filter(|i| i.currency == currency && i.is_open())
    {
        match &invoice.payment_plan {
            Some(plan) => {
                amount += plan
                    .installments
                    .iter()
                    .filter(|i| i.due_date < today)
                    .map(|i| i.remaining())
                    .sum::<Decimal>();
            }
            None if invoice.due_date.is_some_and(|due| due < today) => {
                amount += invoice.balance().amount;
            }
            None => {}
        }
    }
    rescaled(amount, currency)
}

fn rescaled(mut amount: Decimal, currency: Currency) -> Money {
    amount.rescale(currency.minor_unit_digits());
    Money { amount, currency }
}

/// The `balance` block of a customer (API: outstanding, overdue, chased).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerBalance {
    #[serde(with = "rust_decimal::serde::str")]
    pub outstanding: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub overdue: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub chased: Decimal,
    pub currency: Currency,
}

impl CustomerBalance {
    pub fn of(invoices: &[Invoice], currency: Currency, today: NaiveDate) -> Self {
        Self {
            outstanding: outstanding(invoices, currency).amount,
            overdue: overdue(invoices, currency, today).amount,
            chased: ChasedBalance::of(invoices, currency, today).total().amount,
            currency,
        }
    }
}

/// docs/chasing.md: a money event (payment, credit, void, dispute) resets the cycle
/// when every item that was in the chased balance just before it is fully
/// settled or removed just after. Both lists must be computed for the same
/// day, so an installment that had joined counts as "in the balance before".
/// Items that appear only after never prevent a reset; an empty balance before
/// has no cycle to reset.
pub fn cycle_resets(before: &[ChasedItem], after: &[ChasedItem]) -> bool {
    if before.is_empty() {
        return false;
    }
    let remaining: BTreeSet<&ItemId> = after
        .iter()
        .filter(|i| i.remaining > Decimal::ZERO)
        .map(|i| &i.id)
        .collect();
    before.iter().all(|item| !remaining.contains(&item.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::tests::{d, date, eur, plan_invoice};
    use crate::invoice::Installment;
    use proptest::prelude::*;

    #[test]
    fn credit_settles_the_oldest_due_items_first() {
        let a = invoice("A", "2026-01-01", Some("2026-02-01"), "100");
        let b = invoice("B", "2026-01-15", Some("2026-01-20"), "50");
        let today = date("2026-03-01");
        let full = ChasedBalance::of(&[a.clone(), b.clone()], eur(), today);
        assert_eq!(full.total().amount, d("150.00"));
        let net = full.clone().net_of_credit(d("60"));
        // B (due first) is covered; A keeps 90 and its own dates.
        assert_eq!(net.items.len(), 1);
        assert_eq!(net.items[0].id.invoice_id, "A");
        assert_eq!(net.total().amount, d("90.00"));
        assert_eq!(net.past_due_age(today), Some(28));
        assert!(full.clone().net_of_credit(d("150")).is_empty());
        assert!(full.clone().net_of_credit(d("1000")).is_empty());
        assert_eq!(full.clone().net_of_credit(Decimal::ZERO), full);
    }

    fn invoice(id: &str, issue: &str, due: Option<&str>, total: &str) -> Invoice {
        Invoice {
            id: id.into(),
            customer_id: "cus".into(),
            number: format!("N-{id}"),
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
        }
    }

    fn pay(invoice: &mut Invoice, amount: &str) {
        invoice
            .apply_payment(Money::parse(amount, eur()).unwrap())
            .unwrap();
    }

    #[test]
    fn excluded_invoices_are_not_chased() {
        let mut disputed = invoice("b", "2026-01-01", None, "10");
        disputed.collection_status = CollectionStatus::Disputed;
        let mut held = invoice("c", "2026-01-01", None, "10");
        held.collection_status = CollectionStatus::OnHold;
        let mut autopay = invoice("d", "2026-01-01", None, "10");
        autopay.autopay = true;
        let mut void = invoice("e", "2026-01-01", None, "10");
        void.voided = true;
        let mut paid = invoice("f", "2026-01-01", None, "10");
        pay(&mut paid, "10");
        let mut autopay_plan = plan_invoice();
        autopay_plan.autopay = true;
        let open = invoice("a", "2026-03-01", Some("2026-03-31"), "10");
        let all = [disputed, held, autopay, void, paid, autopay_plan, open];
        let balance = ChasedBalance::of(&all, eur(), date("2026-04-01"));
        assert_eq!(balance.items.len(), 1);
        assert_eq!(balance.items[0].id.invoice_id, "a");
        assert_eq!(balance.total().amount.to_string(), "10.00");
        assert_eq!(balance.account_age(date("2026-04-01")), Some(31));
        assert_eq!(balance.past_due_age(date("2026-04-01")), Some(1));
        assert_eq!(outstanding(&all, eur()).amount, d("40.00") + d("300"));
    }

    #[test]
    fn past_due_age_is_negative_before_the_due_date_and_none_without_one() {
        let balance = ChasedBalance::of(
            &[invoice("a", "2026-03-01", Some("2026-03-31"), "10")],
            eur(),
            date("2026-03-26"),
        );
        assert_eq!(balance.past_due_age(date("2026-03-26")), Some(-5));
        let balance = ChasedBalance::of(
            &[invoice("a", "2026-03-01", None, "10")],
            eur(),
            date("2026-03-26"),
        );
        assert_eq!(balance.past_due_age(date("2026-03-26")), None);
        assert_eq!(balance.account_age(date("2026-03-26")), Some(25));
    }

    /// The worked installment example (docs/chasing.md): installments due May 30, June 30, July 30.
    #[test]
    fn installment_ages_follow_the_worked_example() {
        let mut plan = plan_invoice(); // issued May 1
        let at = |plan: &Invoice, day: &str| {
            ChasedBalance::of(std::slice::from_ref(plan), eur(), date(day))
        };

        // Before May 30 only the first installment, aged from the issue date.
        let b = at(&plan, "2026-05-20");
        assert_eq!(b.items.len(), 1);
        assert_eq!(b.account_age(date("2026-05-20")), Some(19));
        assert_eq!(b.changes_on, Some(date("2026-05-31")));

        // Paid May 30: the June installment is current, anchored on May 30.
        let before = at(&plan, "2026-05-30").items;
        pay(&mut plan, "100");
        let after = at(&plan, "2026-05-30").items;
        assert!(cycle_resets(&before, &after));
        let b = at(&plan, "2026-06-09");
        assert_eq!(b.items.len(), 1);
        assert_eq!(b.oldest_item_date(), Some(date("2026-05-30")));
        assert_eq!(b.account_age(date("2026-06-09")), Some(10));

        // June 30 missed: July's installment joins on July 1.
        assert_eq!(at(&plan, "2026-06-30").items.len(), 1);
        let b = at(&plan, "2026-07-02");
        assert_eq!(b.items.len(), 2);
        assert_eq!(b.past_due_age(date("2026-07-02")), Some(2));
        assert_eq!(b.total().amount, d("200.00"));
        assert_eq!(b.changes_on, None);
        assert_eq!(
            overdue(&[plan.clone()], eur(), date("2026-07-02")).amount,
            d("100.00")
        );

        // Only June's amount paid: July's installment stays, so no reset.
        let before = at(&plan, "2026-07-05").items;
        pay(&mut plan, "100");
        let after = at(&plan, "2026-07-05").items;
        assert!(!cycle_resets(&before, &after));
        assert_eq!(
            at(&plan, "2026-07-10").account_age(date("2026-07-10")),
            Some(10)
        );

        // July paid on time: reset, nothing left.
        let before = at(&plan, "2026-07-30").items;
        pay(&mut plan, "100");
        let after = at(&plan, "2026-07-30").items;
        assert!(cycle_resets(&before, &after));
        assert!(after.is_empty());
    }

    #[test]
    fn partial_payment_does_not_reset_and_removal_does() {
        let a = invoice("a", "2026-03-01", Some("2026-03-31"), "100");
        let b = invoice("b", "2026-03-05", Some("2026-04-04"), "100");
        let today = date("2026-04-10");
        let before = chased_items(&[a.clone(), b.clone()], eur(), today);
        let mut a_paid = a.clone();
        pay(&mut a_paid, "100");
        assert!(!cycle_resets(
            &before,
            &chased_items(&[a_paid.clone(), b.clone()], eur(), today)
        ));
        let mut b_disputed = b.clone();
        b_disputed.collection_status = CollectionStatus::Disputed;
        assert!(cycle_resets(
            &before,
            &chased_items(&[a_paid, b_disputed], eur(), today)
        ));
        // A new invoice in the same event does not keep the old cycle alive.
        let mut a_paid = a;
        pay(&mut a_paid, "100");
        let mut b_paid = b;
        pay(&mut b_paid, "100");
        let c = invoice("c", "2026-04-10", None, "5");
        assert!(cycle_resets(
            &before,
            &chased_items(&[a_paid, b_paid, c], eur(), today)
        ));
        assert!(!cycle_resets(&[], &before));
    }

    #[test]
    fn overdue_deducts_partial_payments() {
        let mut a = invoice("a", "2026-03-01", Some("2026-03-31"), "100");
        pay(&mut a, "30");
        let b = invoice("b", "2026-03-01", Some("2026-04-30"), "50");
        let balance = CustomerBalance::of(&[a, b], eur(), date("2026-04-01"));
        assert_eq!(balance.overdue, d("70.00"));
        assert_eq!(balance.outstanding, d("120.00"));
        assert_eq!(balance.chased, d("120.00"));
    }

    fn arbitrary_invoices() -> impl Strategy<Value = Vec<Invoice>> {
        let one = (
            0u32..120,
            proptest::option::of(0u32..60),
            1i64..100_000,
            0u8..4,
            proptest::option::of(prop::collection::vec((1u32..40, 1i64..10_000), 1..5)),
            0i64..100,
        );
        prop::collection::vec(one, 0..6).prop_map(|raw| {
            raw.into_iter()
                .enumerate()
                .map(|(n, (issue, due, total, status, plan, paid_pct))| {
                    let issue_date = date("2026-01-01") + Days::new(u64::from(issue));
                    let mut invoice = invoice(&format!("i{n}"), "2026-01-01", None, "1");
                    invoice.issue_date = issue_date;
                    invoice.collection_status = match status {
                        1 => CollectionStatus::Disputed,
                        _ => CollectionStatus::Normal,
                    };
                    invoice.autopay = status == 2;
                    match plan {
                        Some(parts) => {
                            let mut due = issue_date;
                            let installments: Vec<Installment> = parts
                                .into_iter()
                                .map(|(gap, cents)| {
                                    due = due + Days::new(u64::from(gap));
                                    Installment {
                                        due_date: due,
                                        amount: Decimal::new(cents, 2),
                                        amount_paid: Decimal::ZERO,
                                    }
                                })
                                .collect();
                            invoice.total = installments.iter().map(|i| i.amount).sum();
                            invoice.payment_plan =
                                Some(crate::invoice::PaymentPlan { installments });
                        }
                        None => {
                            invoice.total = Decimal::new(total, 2);
                            invoice.due_date =
                                due.map(|days| issue_date + Days::new(u64::from(days)));
                        }
                    }
                    let paid = (invoice.total * Decimal::new(paid_pct, 2)).round_dp(2);
                    if paid > Decimal::ZERO {
                        pay(&mut invoice, &paid.to_string());
                    }
                    invoice
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn chased_balance_is_the_non_negative_sum_of_its_items(
            invoices in arbitrary_invoices(), day in 0u64..300
        ) {
            let today = date("2026-01-01") + Days::new(day);
            let balance = ChasedBalance::of(&invoices, eur(), today);
            let sum: Decimal = balance.items.iter().map(|i| i.remaining).sum();
            prop_assert!(balance.total().amount >= Decimal::ZERO);
            prop_assert_eq!(balance.total().amount, sum);
            prop_assert!(balance.items.iter().all(|i| i.remaining > Decimal::ZERO));
            prop_assert!(balance.total().amount <= outstanding(&invoices, eur()).amount);
            prop_assert!(overdue(&invoices, eur(), today).amount <= outstanding(&invoices, eur()).amount);
            if let Some(change) = balance.changes_on {
                prop_assert!(change > today);
                let later = ChasedBalance::of(&invoices, eur(), change);
                prop_assert!(later.items.len() > balance.items.len());
            }
        }

        #[test]
        fn paying_everything_empties_the_balance_and_resets(
            invoices in arbitrary_invoices(), day in 0u64..300
        ) {
            let today = date("2026-01-01") + Days::new(day);
            let before = chased_items(&invoices, eur(), today);
            let paid: Vec<Invoice> = invoices.iter().cloned().map(|mut i| {
                let balance = i.balance();
                if balance.amount > Decimal::ZERO {
                    i.apply_payment(balance).unwrap();
                }
                i
            }).collect();
            let after = ChasedBalance::of(&paid, eur(), today);
            prop_assert!(after.total().amount.is_zero());
            prop_assert_eq!(cycle_resets(&before, &after.items), !before.is_empty());
        }

        #[test]
        fn item_dates_never_follow_due_dates(invoices in arbitrary_invoices(), day in 0u64..300) {
            let today = date("2026-01-01") + Days::new(day);
            for item in chased_items(&invoices, eur(), today) {
                if let Some(due) = item.due_date {
                    prop_assert!(item.item_date <= due);
                }
            }
        }
    }
}
