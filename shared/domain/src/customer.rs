//! Customers: who owes money, how to reach them, and how they are chased.

use super::balance::{ChasedBalance, CustomerBalance};
use super::cadence::{CycleState, InvoiceCycles, Level};
use super::history::HistoryItem;
use super::invoice::Invoice;
use super::money::{Currency, Money};
use super::patch::Patch;
use super::promise::Promise;
use super::rating::{payer_rating, PaymentStats};
use super::schedule::{Schedule, Timing};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Default,
    strum::AsRefStr,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ChasingStatus {
    #[default]
    Active,
    Paused,
}

impl ChasingStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

/// Enrolment and pause state. Changed through the `/chasing` routes only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Chasing {
    pub status: ChasingStatus,
    pub paused_until: Option<NaiveDate>,
    /// The customer-level cadence and version.
    pub cadence_id: Option<String>,
    pub cadence_version: Option<u32>,
    /// The invoice-level cadence and version (docs/chasing.md).
    #[serde(default)]
    pub invoice_cadence_id: Option<String>,
    #[serde(default)]
    pub invoice_cadence_version: Option<u32>,
}

impl Chasing {
    /// The cadence and version enrolled at `level`.
    pub fn enrolment(&self, level: Level) -> Option<(String, u32)> {
        match level {
            Level::Customer => self.cadence_id.clone().zip(self.cadence_version),
            Level::Invoice => self
                .invoice_cadence_id
                .clone()
                .zip(self.invoice_cadence_version),
        }
    }
}

/// Computed from invoices and payments; never accepted on input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BalanceSummary {
    #[serde(with = "rust_decimal::serde::str")]
    pub outstanding: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub overdue: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub chased: Decimal,
    /// Unapplied payments, applied later by `apply-credit`.
    #[serde(with = "rust_decimal::serde::str", default)]
    pub credit: Decimal,
}

/// Settings a customer group gives its members unless they set their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GroupSettings {
    pub cadence_id: Option<String>,
    pub payment_terms: Option<String>,
    pub autopay: Option<bool>,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub chasing_threshold: Option<Decimal>,
    #[serde(default)]
    pub auto_settle: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub number: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: Option<String>,
    pub currency: Currency,
    pub payment_terms: Option<String>,
    pub tags: Vec<String>,
    pub billing_address: Option<Address>,
    pub shipping_address: Option<Address>,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub credit_limit: Option<Decimal>,
    pub ar_specialist_id: Option<String>,
    pub group_id: Option<String>,
    pub autopay: Option<bool>,
    /// Automatic settlement for this customer; `None` follows its group, then the tenant.
    #[serde(default)]
    pub auto_settle: Option<bool>,
    /// Shown to the customer on their portal page.
    #[serde(default)]
    pub portal_note: Option<String>,
    /// What the customer's portal link is made from (`crate::portal`);
    /// rotation replaces it. Never shown.
    #[serde(default)]
    pub portal_nonce: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub chasing: Chasing,
    pub balance: BalanceSummary,
    pub account_age: Option<i64>,
    pub past_due_age: Option<i64>,
    pub payer_rating: Option<String>,
    pub primary_contact_id: Option<String>,
    /// Phone numbers of its contacts, kept here so task lists need no
    /// extra reads.
    #[serde(default)]
    pub contact_phones: Vec<String>,
    /// The group's settings as of the last group change (see `effective`).
    pub group_settings: Option<GroupSettings>,
    pub open_invoice_count: u32,
    /// Copies of the open invoices, so balances and ages are computed for
    /// "today" from one read of the customer.
    #[serde(default)]
    pub open_invoices: Vec<Invoice>,
    #[serde(default)]
    pub payment_stats: PaymentStats,
    /// The latest promise to pay, while it matters to chasing.
    #[serde(default)]
    pub active_promise: Option<Promise>,
    /// Where the customer is in its chasing cycle (docs/chasing.md).
    #[serde(default)]
    pub cycle: CycleState,
    /// The enrolled cadence version's timing, copied at enrolment (versions
    /// with enrolled customers never change), so any write can reschedule
    /// the customer without reading the cadence.
    #[serde(default)]
    pub chase_timing: Option<Timing>,
    /// The same for the enrolled invoice-level cadence version.
    #[serde(default)]
    pub invoice_chase_timing: Option<Timing>,
    /// The timing of each invoice-level cadence an open invoice overrides
    /// to (by cadence id): copied when the override is set and refreshed at
    /// each evaluation, so a customer chased only through overrides is
    /// scheduled too, at each override's own run times. Left out while
    /// empty, as `invoice_cycles`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub override_chase_timings: BTreeMap<String, Timing>,
    /// Where each open invoice is in its invoice-level chasing. Left out
    /// while empty: DynamoDB Local's stream drops the type of an empty map,
    /// and the local runner types only known map attributes back
    /// (`infra/local/src/streams.rs`).
    #[serde(default, skip_serializing_if = "InvoiceCycles::is_empty")]
    pub invoice_cycles: InvoiceCycles,
    /// When the scheduler must look at this customer next; the sparse due
    /// index holds exactly the customers that have one.
    #[serde(default)]
    pub next_evaluation_at: Option<DateTime<Utc>>,
    /// The last scheduled run that was evaluated for this customer.
    #[serde(default)]
    pub last_evaluated_at: Option<DateTime<Utc>>,
    /// When chase messages went out, within the frequency cap's window.
    #[serde(default)]
    pub messages_sent: Vec<DateTime<Utc>>,
    /// Contact roles held by contacts that receive chasers.
    #[serde(default)]
    pub contact_roles: std::collections::BTreeSet<String>,
    /// Newest first; the customer page shows these without reading history.
    #[serde(default)]
    pub recent_history: Vec<HistoryItem>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A setting's value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effective<T> {
    pub value: Option<T>,
    /// `customer`, `group` or `default`.
    pub source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveSettings {
    pub payment_terms: Effective<String>,
    pub autopay: Effective<bool>,
    pub cadence_id: Effective<String>,
    pub chasing_threshold: Effective<String>,
    /// `default` means the tenant's `auto_settle` setting applies.
    pub auto_settle: Effective<bool>,
}

fn pick<T: Clone>(own: &Option<T>, group: Option<&Option<T>>) -> Effective<T> {
    match (own, group) {
        (Some(value), _) => Effective {
            value: Some(value.clone()),
            source: "customer",
        },
        (None, Some(Some(value))) => Effective {
            value: Some(value.clone()),
            source: "group",
        },
        _ => Effective {
            value: None,
            source: "default",
        },
    }
}

impl Customer {
    /// A customer's own setting wins over its group's (docs/chasing.md).
    pub fn effective(&self) -> EffectiveSettings {
        let group = self.group_settings.as_ref();
        EffectiveSettings {
            payment_terms: pick(&self.payment_terms, group.map(|g| &g.payment_terms)),
            autopay: pick(&self.autopay, group.map(|g| &g.autopay)),
            cadence_id: pick(&self.chasing.cadence_id, group.map(|g| &g.cadence_id)),
            chasing_threshold: pick(
                &None,
                group
                    .map(|g| g.chasing_threshold.map(|d| d.to_string()))
                    .as_ref(),
            ),
            auto_settle: pick(&self.auto_settle, group.map(|g| &g.auto_settle)),
        }
    }

    /// Whether payments and credit settle this customer's open invoices on
    /// their own: its own setting, else its group's, else the tenant's.
    pub fn settles_automatically(&self, tenant_default: bool) -> bool {
        self.effective().auto_settle.value.unwrap_or(tenant_default)
    }

    pub fn credit_limit_money(&self) -> Option<Money> {
        self.credit_limit.map(|amount| Money {
            amount,
            currency: self.currency,
        })
    }

    /// What chasing asks this customer for on `today`: its chased items, net
    /// of unapplied credit (docs/chasing.md; money already received is never chased).
    pub fn chased_balance(&self, today: NaiveDate) -> ChasedBalance {
        ChasedBalance::of(&self.open_invoices, self.currency, today)
            .net_of_credit(self.balance.credit)
    }

    pub fn has_overdue(&self) -> bool {
        self.balance.overdue > Decimal::ZERO
    }

    /// Recomputes every balance, age and rating from the open invoices as of
    /// `today` (tenant-local). Credit is kept as it is.
    pub fn refresh(&mut self, today: NaiveDate) {
        let balance = CustomerBalance::of(&self.open_invoices, self.currency, today);
        let chased = self.chased_balance(today);
        self.balance.outstanding = balance.outstanding;
        self.balance.overdue = balance.overdue;
        self.balance.chased = chased.total().amount;
        self.balance
            .credit
            .rescale(self.currency.minor_unit_digits());
        self.account_age = chased.account_age(today);
        self.past_due_age = chased.past_due_age(today);
        self.open_invoice_count = self.open_invoices.len() as u32;
        self.payer_rating =
            payer_rating(&self.payment_stats, &self.open_invoices, today).map(String::from);
    }

    pub fn is_enrolled(&self) -> bool {
        self.chasing.cadence_id.is_some() && self.chase_timing.is_some()
    }

    /// After any change that can matter to chasing: look again at the first
    /// scheduled run not yet evaluated (which may already have passed, so
    /// the next tick catches up). Customers chased at no level (no
    /// enrolment, no override on an open invoice) leave the due index.
    /// Otherwise the earliest next run of its enrolments and overrides.
    pub fn reschedule(&mut self, zone: chrono_tz::Tz, now: DateTime<Utc>) {
        let overridden: Vec<&str> = self
            .open_invoices
            .iter()
            .filter_map(|i| i.chasing.cadence_id.as_deref())
            .collect();
        self.override_chase_timings
            .retain(|id, _| overridden.contains(&id.as_str()));
        let customer_level = self
            .chase_timing
            .as_ref()
            .filter(|_| self.chasing.cadence_id.is_some());
        let invoice_level = self
            .invoice_chase_timing
            .as_ref()
            .filter(|_| self.chasing.invoice_cadence_id.is_some());
        let after = self
            .last_evaluated_at
            .unwrap_or(now - chrono::Duration::seconds(1));
        self.next_evaluation_at = customer_level
            .into_iter()
            .chain(invoice_level)
            .chain(self.override_chase_timings.values())
            .filter_map(|timing| {
                let schedule = Schedule::new(timing, zone);
                let next = schedule.next_run_after(after).map(|slot| slot.at);
                // Never earlier than the run currently due: catch up, not replay.
                match (next, schedule.last_run_at_or_before(now)) {
                    (Some(next), Some(due)) if next < due.at => Some(due.at),
                    (next, _) => next,
                }
            })
            .min();
    }

    /// Replaces (or adds, or drops once closed) the copy of an invoice.
    pub fn track_invoice(&mut self, invoice: &Invoice) {
        self.open_invoices.retain(|i| i.id != invoice.id);
        if invoice.is_open() {
            self.open_invoices.push(invoice.clone());
            self.open_invoices
                .sort_by(|a, b| (a.issue_date, &a.number).cmp(&(b.issue_date, &b.number)));
        }
    }
}

/// Validated customer fields from a create or patch body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomerChanges {
    pub number: Option<String>,
    pub name: Option<String>,
    pub email: Patch<String>,
    pub phone: Patch<String>,
    pub language: Patch<String>,
    pub currency: Option<Currency>,
    pub payment_terms: Patch<String>,
    pub tags: Option<Vec<String>>,
    pub billing_address: Patch<Address>,
    pub shipping_address: Patch<Address>,
    pub credit_limit: Patch<Decimal>,
    pub ar_specialist_id: Patch<String>,
    pub group_id: Patch<String>,
    pub autopay: Patch<bool>,
    pub auto_settle: Patch<bool>,
    pub portal_note: Patch<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

impl CustomerChanges {
    pub fn create(&self, id: String, now: DateTime<Utc>) -> Option<Customer> {
        Some(Customer {
            id,
            number: self.number.clone()?,
            name: self.name.clone()?,
            email: self.email.apply(&None),
            phone: self.phone.apply(&None),
            language: self.language.apply(&None),
            currency: self.currency?,
            payment_terms: self.payment_terms.apply(&None),
            tags: self.tags.clone().unwrap_or_default(),
            billing_address: self.billing_address.apply(&None),
            shipping_address: self.shipping_address.apply(&None),
            credit_limit: self.credit_limit.apply(&None),
            ar_specialist_id: self.ar_specialist_id.apply(&None),
            group_id: self.group_id.apply(&None),
            autopay: self.autopay.apply(&None),
            auto_settle: self.auto_settle.apply(&None),
            portal_note: self.portal_note.apply(&None),
            portal_nonce: None,
            metadata: self.metadata.clone().unwrap_or_default(),
            chasing: Chasing::default(),
            balance: BalanceSummary::default(),
            account_age: None,
            past_due_age: None,
            payer_rating: None,
            primary_contact_id: None,
            contact_phones: Vec::new(),
            group_settings: None,
            open_invoice_count: 0,
            open_invoices: Vec::new(),
            payment_stats: PaymentStats::default(),
            active_promise: None,
            cycle: CycleState::default(),
            chase_timing: None,
            invoice_chase_timing: None,
            override_chase_timings: BTreeMap::new(),
            invoice_cycles: Default::default(),
            next_evaluation_at: None,
            last_evaluated_at: None,
            messages_sent: Vec::new(),
            contact_roles: Default::default(),
            recent_history: Vec::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        })
    }

    pub fn apply(&self, current: &Customer, now: DateTime<Utc>) -> Customer {
        let mut next = current.clone();
        if let Some(number) = &self.number {
            next.number = number.clone();
        }
        if let Some(name) = &self.name {
            next.name = name.clone();
        }
        next.email = self.email.apply(&current.email);
        next.phone = self.phone.apply(&current.phone);
        next.language = self.language.apply(&current.language);
        next.payment_terms = self.payment_terms.apply(&current.payment_terms);
        if let Some(tags) = &self.tags {
            next.tags = tags.clone();
        }
        next.billing_address = self.billing_address.apply(&current.billing_address);
        next.shipping_address = self.shipping_address.apply(&current.shipping_address);
        next.credit_limit = self.credit_limit.apply(&current.credit_limit);
        next.ar_specialist_id = self.ar_specialist_id.apply(&current.ar_specialist_id);
        next.group_id = self.group_id.apply(&current.group_id);
        next.autopay = self.autopay.apply(&current.autopay);
        next.auto_settle = self.auto_settle.apply(&current.auto_settle);
        next.portal_note = self.portal_note.apply(&current.portal_note);
        if let Some(metadata) = &self.metadata {
            next.metadata = metadata.clone();
        }
        next.version = current.version + 1;
        next.updated_at = now;
        next
    }
}

/// Longest customer number accepted.
pub const MAX_NUMBER_CHARS: usize = 64;

/// Customer numbers come from accounting systems: printable, no `#`.
pub fn is_customer_number(number: &str) -> bool {
    !number.contains('#') && !number.chars().any(char::is_control)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

impl Address {
    /// As printed on a letter: street lines, then "postal code city",
    /// region, country; empty parts left out.
    pub fn lines(&self) -> Vec<String> {
        let city = [self.postal_code.as_deref(), self.city.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        [
            Some(self.line1.clone()),
            self.line2.clone(),
            Some(city),
            self.region.clone(),
            Some(self.country.clone()),
        ]
        .into_iter()
        .flatten()
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
    }

    /// On one line, comma separated (the `customer_address` template variable).
    pub fn one_line(&self) -> String {
        [
            Some(self.line1.as_str()),
            self.line2.as_deref(),
            self.city.as_deref(),
            self.region.as_deref(),
            self.postal_code.as_deref(),
            Some(self.country.as_str()),
        ]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// An ISO 3166-1 alpha-2 country code, trimmed and upper-cased.
pub fn country_code(raw: &str) -> Option<String> {
    let code = raw.trim();
    (code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| code.to_ascii_uppercase())
}

pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;

/// Tags are list keys: no `#` (it separates the parts of storage keys).
pub fn is_tag(tag: &str) -> bool {
    !tag.contains('#')
}

/// How tags compare, as the customer list files and filters them: lower
/// case, runs of white space folded into one space. A tag equal to an
/// earlier one but for case and spacing is the same tag.
pub fn tag_key(tag: &str) -> String {
    tag.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_VALUE_CHARS: usize = 500;

/// Metadata keys are 1-40 letters, digits, `_` or `-`.
pub fn is_metadata_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_settings_win_over_the_groups() {
        let changes = CustomerChanges {
            number: Some("C-1".into()),
            name: Some("Acme".into()),
            currency: Currency::parse("GBP"),
            payment_terms: Patch::Set("NET15".into()),
            ..CustomerChanges::default()
        };
        let mut customer = changes.create("01".into(), Utc::now()).unwrap();
        customer.group_settings = Some(GroupSettings {
            payment_terms: Some("NET30".into()),
            autopay: Some(true),
            ..GroupSettings::default()
        });
        let effective = customer.effective();
        assert_eq!(effective.payment_terms.value.as_deref(), Some("NET15"));
        assert_eq!(effective.payment_terms.source, "customer");
        assert_eq!(effective.autopay.value, Some(true));
        assert_eq!(effective.autopay.source, "group");
        assert_eq!(effective.cadence_id.source, "default");
    }

    #[test]
    fn tags_differing_only_in_case_or_spacing_compare_equal() {
        assert_eq!(tag_key("  Key \t Account "), "key account");
        assert_eq!(tag_key("VIP"), tag_key(" vip "));
    }

    #[test]
    fn country_codes_are_two_letters_upper_cased() {
        assert_eq!(country_code(" gb").as_deref(), Some("GB"));
        assert_eq!(country_code("GBR"), None);
        assert_eq!(country_code("g1"), None);
    }
}
