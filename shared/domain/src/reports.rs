//! Receivables reports (README "Reports"): per-tenant aggregates kept from
//! the table's own changes, and the reports computed from them.
//!
//! Every stored item that matters to a report *contributes* numbers to
//! cells of the tenant's aggregates ([`contributions`]). A change of an item
//! moves the aggregates by `contributions(new) - contributions(old)`
//! ([`delta`]), so applying every change once gives the same aggregates as
//! summing the contributions of the items as they are now (the rebuild).
//! Open balances are kept by due date, not by bucket, so aging for any
//! `as_of` is computed from them: buckets move with time without a write.

use crate::customer::{ChasingStatus, Customer};
use crate::history::{HistoryItem, HistoryType};
use crate::invoice::{CollectionStatus, Invoice};
use crate::money::{Currency, MoneyError};
use crate::statement::{lines, Aging, AgingBucket};
use crate::task::{Task, TaskStatus};
use crate::template::Channel;
use chrono::{DateTime, Datelike, Duration, DurationRound, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// One stored item, as the reports read it.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportItem {
    Customer(Box<Customer>),
    Invoice(Box<Invoice>),
    Task(Box<Task>),
    History(Box<HistoryItem>),
}

/// One aggregate of a tenant: a record of numbered cells.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aggregate {
    /// What the customers of one group and AR specialist owe in one currency.
    Open {
        currency: Currency,
        group_id: Option<String>,
        ar_specialist_id: Option<String>,
    },
    /// Customers by chasing status, open tasks by due date.
    Counts,
    /// Chases sent in one month (first day of the month).
    Sent { month: NaiveDate },
    /// Invoiced amounts in one month, by issue date.
    Invoiced { month: NaiveDate },
    /// Customers' next chase evaluations in one month, by UTC hour.
    Scheduled { month: NaiveDate },
}

/// One cell of an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// Open balance due on a date (`None`: no due date, never overdue).
    Open {
        due: Option<NaiveDate>,
    },
    /// The part of `Open` that is disputed or on hold.
    Disputed {
        due: Option<NaiveDate>,
    },
    /// Unapplied credit (not aged).
    Credit,
    /// What an open promise still expects on its date.
    Promised {
        date: NaiveDate,
    },
    /// What a payment plan's installment still expects on its date.
    Installment {
        date: NaiveDate,
    },
    Customers {
        status: ChasingStatus,
    },
    TasksDue {
        date: NaiveDate,
    },
    Sent {
        date: NaiveDate,
        channel: Channel,
    },
    Invoiced {
        currency: Currency,
        date: NaiveDate,
    },
    Scheduled {
        hour: DateTime<Utc>,
    },
}

/// Numbers by aggregate and cell: a tenant's aggregates, or a change to them.
/// Cells at zero are left out, so two equal tallies compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub cells: BTreeMap<Aggregate, BTreeMap<Field, Decimal>>,
}

impl Tally {
    pub fn add(&mut self, aggregate: &Aggregate, field: Field, amount: Decimal) {
        if amount.is_zero() {
            return;
        }
        let cells = self.cells.entry(aggregate.clone()).or_default();
        let cell = cells.entry(field.clone()).or_default();
        *cell += amount;
        if cell.is_zero() {
            cells.remove(&field);
            if cells.is_empty() {
                self.cells.remove(aggregate);
            }
        }
    }

    /// Adds every cell of `other` times `sign` (1 or -1).
    pub fn merge(&mut self, other: &Tally, sign: Decimal) {
        for (aggregate, cells) in &other.cells {
            for (field, amount) in cells {
                self.add(aggregate, field.clone(), *amount * sign);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Cells of the aggregates `keep` selects.
    fn open_cells<'a>(
        &'a self,
        filter: &'a OpenFilter,
    ) -> impl Iterator<Item = (Currency, &'a Field, Decimal)> + 'a {
        self.cells
            .iter()
            .filter_map(move |(aggregate, cells)| match aggregate {
                Aggregate::Open {
                    currency,
                    group_id,
                    ar_specialist_id,
                } if filter.keeps(*currency, group_id, ar_specialist_id) => {
                    Some((*currency, cells))
                }
                _ => None,
            })
            .flat_map(|(currency, cells)| {
                cells
                    .iter()
                    .map(move |(field, amount)| (currency, field, *amount))
            })
    }

    fn cells_of(&self, aggregate: &Aggregate) -> impl Iterator<Item = (&Field, Decimal)> {
        self.cells
            .get(aggregate)
            .into_iter()
            .flat_map(|cells| cells.iter().map(|(f, a)| (f, *a)))
    }
}

/// What one item adds to its tenant's aggregates.
pub fn contributions(item: &ReportItem) -> Tally {
    let mut tally = Tally::default();
    let one = Decimal::ONE;
    match item {
        ReportItem::Customer(customer) => {
            let open = |currency| Aggregate::Open {
                currency,
                group_id: customer.group_id.clone(),
                ar_specialist_id: customer.ar_specialist_id.clone(),
            };
            for invoice in customer.open_invoices.iter().filter(|i| i.is_open()) {
                let aggregate = open(invoice.currency);
                let held = invoice.collection_status != CollectionStatus::Normal;
                for (due, amount) in open_parts(invoice) {
                    tally.add(&aggregate, Field::Open { due }, amount);
                    if held {
                        tally.add(&aggregate, Field::Disputed { due }, amount);
                    }
                    if let (Some(date), Some(_)) = (due, &invoice.payment_plan) {
                        tally.add(&aggregate, Field::Installment { date }, amount);
                    }
                }
            }
            tally.add(
                &open(customer.currency),
                Field::Credit,
                customer.balance.credit,
            );
            if let Some(promise) = customer
                .active_promise
                .as_ref()
                .filter(|p| p.kept_on.is_none())
            {
                tally.add(
                    &open(promise.currency),
                    Field::Promised {
                        date: promise.promised_date,
                    },
                    (promise.amount - promise.paid_since).max(Decimal::ZERO),
                );
            }
            tally.add(
                &Aggregate::Counts,
                Field::Customers {
                    status: customer.chasing.status,
                },
                one,
            );
            if let Some(at) = customer.next_evaluation_at {
                let hour = at.duration_trunc(Duration::hours(1)).unwrap_or(at);
                tally.add(
                    &Aggregate::Scheduled {
                        month: month_of(at.date_naive()),
                    },
                    Field::Scheduled { hour },
                    one,
                );
            }
        }
        ReportItem::Invoice(invoice) => {
            if !invoice.voided {
                tally.add(
                    &Aggregate::Invoiced {
                        month: month_of(invoice.issue_date),
                    },
                    Field::Invoiced {
                        currency: invoice.currency,
                        date: invoice.issue_date,
                    },
                    invoice.total,
                );
            }
        }
        ReportItem::Task(task) => {
            if task.status == TaskStatus::Open {
                tally.add(
                    &Aggregate::Counts,
                    Field::TasksDue {
                        date: task.due_date,
                    },
                    one,
                );
            }
        }
        ReportItem::History(history) => {
            if let Some(channel) = sent_channel(history.kind) {
                let date = history.occurred_at.date_naive();
                tally.add(
                    &Aggregate::Sent {
                        month: month_of(date),
                    },
                    Field::Sent { date, channel },
                    one,
                );
            }
        }
    }
    tally
}

/// How the aggregates move when an item goes from `old` to `new` (either
/// absent when the item is created or deleted).
pub fn delta(old: Option<&ReportItem>, new: Option<&ReportItem>) -> Tally {
    let mut tally = new.map(contributions).unwrap_or_default();
    if let Some(old) = old {
        tally.merge(&contributions(old), Decimal::NEGATIVE_ONE);
    }
    tally
}

/// The aggregates of a set of items, computed from scratch.
pub fn rebuild<'a>(items: impl IntoIterator<Item = &'a ReportItem>) -> Tally {
    let mut tally = Tally::default();
    for item in items {
        tally.merge(&contributions(item), Decimal::ONE);
    }
    tally
}

/// The open balance of an invoice by due date: one part per unpaid
/// installment, as the statement lists them.
fn open_parts(invoice: &Invoice) -> Vec<(Option<NaiveDate>, Decimal)> {
    lines(invoice, invoice.issue_date)
        .into_iter()
        .map(|line| (line.due_date, line.balance))
        .collect()
}

fn sent_channel(kind: HistoryType) -> Option<Channel> {
    match kind {
        HistoryType::ChaseEmail => Some(Channel::Email),
        HistoryType::ChaseSms => Some(Channel::Sms),
        HistoryType::ChaseLetter => Some(Channel::Letter),
        _ => None,
    }
}

/// The first day of `date`'s month.
pub fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// The months from `from`'s to `to`'s, first days, in order.
pub fn months_between(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut months = Vec::new();
    let mut month = month_of(from);
    while month <= to {
        months.push(month);
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
    }
    months
}

/// Which open balances a report covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenFilter {
    pub currency: Option<Currency>,
    pub group_id: Option<String>,
    pub ar_specialist_id: Option<String>,
}

impl OpenFilter {
    fn keeps(
        &self,
        currency: Currency,
        group_id: &Option<String>,
        ar_specialist_id: &Option<String>,
    ) -> bool {
        self.currency.is_none_or(|c| c == currency)
            && self
                .group_id
                .as_ref()
                .is_none_or(|g| Some(g) == group_id.as_ref())
            && self
                .ar_specialist_id
                .as_ref()
                .is_none_or(|a| Some(a) == ar_specialist_id.as_ref())
    }
}

/// One currency's open balance aged as of a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CurrencyAging {
    pub aging: Aging,
    pub total: Decimal,
    /// The part of `total` disputed or on hold.
    pub disputed: Decimal,
    /// Unapplied credit, not aged and not in `total`.
    pub credit: Decimal,
}

impl CurrencyAging {
    pub fn overdue(&self) -> Decimal {
        self.total - self.aging.current
    }
}

/// Aging per currency as of `as_of` (currencies never summed together).
pub fn aging(
    tally: &Tally,
    filter: &OpenFilter,
    as_of: NaiveDate,
) -> Result<BTreeMap<Currency, CurrencyAging>, MoneyError> {
    let mut out: BTreeMap<Currency, CurrencyAging> = BTreeMap::new();
    for (currency, field, amount) in tally.open_cells(filter) {
        let entry = out.entry(currency).or_default();
        match field {
            Field::Open { due } => {
                let bucket = due
                    .map(|due| AgingBucket::of_days_overdue((as_of - due).num_days()))
                    .unwrap_or(AgingBucket::Current);
                entry.aging.add(bucket, amount, currency)?;
                entry.total += amount;
            }
            Field::Disputed { .. } => entry.disputed += amount,
            Field::Credit => entry.credit += amount,
            _ => {}
        }
    }
    Ok(out)
}

/// Days sales outstanding: how many days of the last 90 days' invoicing
/// the open balance is (README "DSO"). `None` when nothing was invoiced.
pub fn dso(outstanding: Decimal, invoiced_90_days: Decimal) -> Option<Decimal> {
    if invoiced_90_days <= Decimal::ZERO {
        return None;
    }
    Some((outstanding / invoiced_90_days * Decimal::from(DSO_DAYS)).round_dp(1))
}

pub const DSO_DAYS: i64 = 90;
/// "In the next 30 days": `as_of` and the 29 days after it.
pub const EXPECTED_DAYS: i64 = 30;
/// "In the last 7 days": `as_of` and the 6 days before it.
pub const SENT_DAYS: i64 = 7;

/// One currency's line of the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CurrencySummary {
    pub outstanding: Decimal,
    pub overdue: Decimal,
    pub dso: Option<Decimal>,
    pub promised: Decimal,
    pub expected: Decimal,
}

/// The tenant's summary as of a date (API.md "Receivables overview").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub currencies: BTreeMap<Currency, CurrencySummary>,
    pub customers_by_status: BTreeMap<ChasingStatus, i64>,
    pub sent_last_7_days: BTreeMap<Channel, i64>,
    pub tasks_due_today: i64,
    pub tasks_overdue: i64,
    pub chases_scheduled_today: i64,
}

/// The summary from the aggregates; `today` is the tenant's local day as
/// the UTC instants `[start, end)`.
pub fn summary(
    tally: &Tally,
    as_of: NaiveDate,
    today: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Summary, MoneyError> {
    let mut out = Summary::default();
    let everything = OpenFilter::default();
    for (currency, aged) in aging(tally, &everything, as_of)? {
        out.currencies.insert(
            currency,
            CurrencySummary {
                outstanding: aged.total,
                overdue: aged.overdue(),
                ..CurrencySummary::default()
            },
        );
    }
    let in_window = |date: &NaiveDate| *date >= as_of && (*date - as_of).num_days() < EXPECTED_DAYS;
    for (currency, field, amount) in tally.open_cells(&everything) {
        let entry = out.currencies.entry(currency).or_default();
        match field {
            Field::Promised { date } if in_window(date) => {
                entry.promised += amount;
                entry.expected += amount;
            }
            Field::Installment { date } if in_window(date) => entry.expected += amount,
            _ => {}
        }
    }
    let since = as_of - Duration::days(DSO_DAYS - 1);
    let mut invoiced: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for month in months_between(since, as_of) {
        for (field, amount) in tally.cells_of(&Aggregate::Invoiced { month }) {
            if let Field::Invoiced { currency, date } = field {
                if *date >= since && *date <= as_of {
                    *invoiced.entry(*currency).or_default() += amount;
                }
            }
        }
    }
    for (currency, line) in out.currencies.iter_mut() {
        line.dso = dso(
            line.outstanding,
            invoiced.get(currency).copied().unwrap_or_default(),
        );
    }
    for (field, count) in tally.cells_of(&Aggregate::Counts) {
        match field {
            Field::Customers { status } => {
                *out.customers_by_status.entry(*status).or_default() += whole(count)
            }
            Field::TasksDue { date } if *date == as_of => out.tasks_due_today += whole(count),
            Field::TasksDue { date } if *date < as_of => out.tasks_overdue += whole(count),
            _ => {}
        }
    }
    let sent_since = as_of - Duration::days(SENT_DAYS - 1);
    for month in months_between(sent_since, as_of) {
        for (field, count) in tally.cells_of(&Aggregate::Sent { month }) {
            if let Field::Sent { date, channel } = field {
                if *date >= sent_since && *date <= as_of {
                    *out.sent_last_7_days.entry(*channel).or_default() += whole(count);
                }
            }
        }
    }
    let (start, end) = today;
    for month in months_between(start.date_naive(), end.date_naive()) {
        for (field, count) in tally.cells_of(&Aggregate::Scheduled { month }) {
            if let Field::Scheduled { hour } = field {
                if *hour >= start && *hour < end {
                    out.chases_scheduled_today += whole(count);
                }
            }
        }
    }
    Ok(out)
}

/// The aggregates a summary as of `as_of` reads beyond the open balances.
pub fn summary_aggregates(
    as_of: NaiveDate,
    today: (DateTime<Utc>, DateTime<Utc>),
) -> Vec<Aggregate> {
    let mut wanted = vec![Aggregate::Counts];
    wanted.extend(
        months_between(as_of - Duration::days(DSO_DAYS - 1), as_of)
            .into_iter()
            .map(|month| Aggregate::Invoiced { month }),
    );
    wanted.extend(
        months_between(as_of - Duration::days(SENT_DAYS - 1), as_of)
            .into_iter()
            .map(|month| Aggregate::Sent { month }),
    );
    wanted.extend(
        months_between(today.0.date_naive(), today.1.date_naive())
            .into_iter()
            .map(|month| Aggregate::Scheduled { month }),
    );
    wanted
}

fn whole(count: Decimal) -> i64 {
    i64::try_from(count.trunc()).unwrap_or(0)
}

#[cfg(test)]
#[path = "reports_tests.rs"]
mod tests;
