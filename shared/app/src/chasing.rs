//! What the scheduler, the worker and the preview share: the inputs of the
//! chasing evaluation, built the same way from a customer and its tenant's
//! settings.

use crate::ports::{Store, StoreError};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use domain::balance::CustomerBalance;
use domain::cadence::{
    assign_cadences, preview_chasing, Cadence, ChasingInput, CustomerFacts, Evaluator,
    InvoiceCadences, Level, OpenInvoices, OpenPromise, Pause, PlannedStep, PreviewEntry, Stops,
};
use domain::customer::Address;
use domain::customer::{ChasingStatus, Customer};
use domain::identity::TenantId;
use domain::money::Money;
use domain::schedule::Schedule;
use domain::settings::Settings;
use domain::template::{InvoiceLine, TemplateData};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Everything besides the balance that can hold a chase back.
pub fn stops(customer: &Customer, settings: &Settings) -> Stops {
    let pause = (customer.chasing.status == ChasingStatus::Paused).then_some(Pause {
        until: customer.chasing.paused_until,
    });
    let promise = customer
        .active_promise
        .as_ref()
        .filter(|p| p.kept_on.is_none())
        .map(|p| OpenPromise {
            promised_date: p.promised_date,
            grace_days: p.grace_days,
        });
    Stops {
        pause,
        promise,
        contact_roles: customer.contact_roles.clone(),
        messages_sent: customer.messages_sent.clone(),
        frequency_cap: settings.frequency_cap,
    }
}

/// What assignment rules can see of a customer (its stored balance summary,
/// which every write refreshes for the tenant's today).
pub fn facts(customer: &Customer) -> CustomerFacts {
    CustomerFacts {
        payment_terms: customer.effective().payment_terms.value,
        language: customer.language.clone(),
        currency: customer.currency,
        group_id: customer.group_id.clone(),
        tags: customer.tags.clone(),
        country: customer.billing_address.as_ref().map(|a| a.country.clone()),
        metadata: customer.metadata.clone(),
        credit_limit: customer.credit_limit,
        balance: CustomerBalance {
            outstanding: customer.balance.outstanding,
            overdue: customer.balance.overdue,
            chased: customer.balance.chased,
            currency: customer.currency,
        },
    }
}

/// The cadences the `always` assignment rules put this customer on, at most
/// one per level (each level's rules tried by priority), leaving out a level
/// where it already is on the matching cadence.
pub fn assignment<'a>(cadences: &'a [Cadence], customer: &Customer) -> Vec<&'a Cadence> {
    assign_cadences(cadences, &facts(customer))
        .into_iter()
        .filter(|c| customer.chasing.enrolment(c.level).map(|(id, _)| id) != Some(c.id.clone()))
        .collect()
}

/// Enrols the customer in `cadence` (its current version) at the cadence's
/// level: the timing is copied so any later write can reschedule without
/// reading the cadence, and the next evaluation is the first run after now.
/// At customer level the cycle restarts (positions of other steps mean
/// nothing here); at invoice level each invoice starts a new cycle of its
/// own once evaluated on the new cadence (`InvoiceCycles`).
pub fn enrol(customer: &mut Customer, cadence: &Cadence, zone: Tz, now: DateTime<Utc>) {
    match cadence.level {
        Level::Customer => enrol_customer_level(customer, cadence),
        Level::Invoice => {
            customer.chasing.invoice_cadence_id = Some(cadence.id.clone());
            customer.chasing.invoice_cadence_version = Some(cadence.version);
            customer.invoice_chase_timing = Some(cadence.timing.clone());
        }
    }
    customer.last_evaluated_at = None;
    customer.reschedule(zone, now);
}

fn enrol_customer_level(customer: &mut Customer, cadence: &Cadence) {
    // Chase ids are (cycle, step): a customer that may have chases under the
    // current cycle number (enrolled now, or steps ran) needs a new one; a
    // first enrolment keeps the cycle its invoices started (cycle 1).
    let may_have_chases = customer.chasing.cadence_id.is_some()
        || customer.cycle.last_run.is_some()
        || !customer.cycle.ran.is_empty()
        || !customer.cycle.superseded.is_empty();
    customer.chasing.cadence_id = Some(cadence.id.clone());
    customer.chasing.cadence_version = Some(cadence.version);
    customer.chase_timing = Some(cadence.timing.clone());
    if may_have_chases {
        customer.cycle.restart();
    }
}

/// Moves an enrolled customer to another version of its cadence (at the
/// cadence's level). When the versions chase identically (same timing,
/// threshold and steps: only the name or assignment changed) the cycle goes
/// on, each invoice's too; otherwise it restarts (each invoice starts a new
/// cycle on the new version when next evaluated). Returns whether it restarted.
pub fn migrate(
    customer: &mut Customer,
    from: &Cadence,
    to: &Cadence,
    zone: Tz,
    now: DateTime<Utc>,
) -> bool {
    if same_chasing(from, to) {
        match to.level {
            Level::Customer => customer.chasing.cadence_version = Some(to.version),
            Level::Invoice => {
                customer.chasing.invoice_cadence_version = Some(to.version);
                for state in customer.invoice_cycles.invoices.values_mut() {
                    if state.cadence_id == from.id && state.cadence_version == from.version {
                        state.cadence_version = to.version;
                    }
                }
            }
        }
        false
    } else {
        enrol(customer, to, zone, now);
        true
    }
}

/// Leaves chasing at both levels: no cadence, no timing, out of the due
/// index. The pause state is the customer's own and stays.
pub fn unenrol(customer: &mut Customer, zone: Tz, now: DateTime<Utc>) {
    unenrol_level(customer, Level::Customer, zone, now);
    unenrol_level(customer, Level::Invoice, zone, now);
    customer.last_evaluated_at = None;
}

/// Leaves chasing at one level; the other level's next run stays scheduled.
pub fn unenrol_level(customer: &mut Customer, level: Level, zone: Tz, now: DateTime<Utc>) {
    match level {
        Level::Customer => {
            // Chases of this enrolment may still be in flight: a later
            // enrolment must not share their ids.
            customer.cycle.restart();
            customer.chasing.cadence_id = None;
            customer.chasing.cadence_version = None;
            customer.chase_timing = None;
        }
        Level::Invoice => {
            // Invoice chase ids carry the cadence: the state can go.
            customer.chasing.invoice_cadence_id = None;
            customer.chasing.invoice_cadence_version = None;
            customer.invoice_chase_timing = None;
        }
    }
    customer.reschedule(zone, now);
}

/// Whether two cadences would chase a customer identically.
pub fn same_chasing(a: &Cadence, b: &Cadence) -> bool {
    a.timing == b.timing && a.threshold == b.threshold && a.steps == b.steps
}

/// The dry run of `GET /v1/customers/{id}/chasing/preview`: the runs of the
/// next `days` days evaluated in turn by the same [`Evaluator`] the scheduler
/// uses, from the customer's stored cycle. A run already due but not yet
/// evaluated (the scheduler catches up on it at its next tick) is included,
/// so the window starts just before it.
pub fn preview(
    customer: &Customer,
    cadence: &Cadence,
    settings: &Settings,
    now: DateTime<Utc>,
    days: u32,
) -> Vec<PreviewEntry> {
    let stops = stops(customer, settings);
    let evaluator = Evaluator::new(cadence, settings.time_zone, &stops);
    let pending = customer
        .next_evaluation_at
        .filter(|next| *next <= now)
        .and_then(|_| evaluator.schedule().last_run_at_or_before(now))
        .filter(|slot| customer.last_evaluated_at.is_none_or(|last| slot.at > last));
    let from = pending.map_or(now, |slot| slot.at - TimeDelta::seconds(1));
    evaluator.preview(
        &customer.open_invoices,
        customer.currency,
        customer.balance.credit,
        &customer.cycle,
        from,
        days,
    )
}

/// The input of the evaluation of both levels (`domain::cadence::plan_chasing`)
/// for this customer: `customer_cadence` is the customer-level version it is
/// enrolled on, `invoice_cadence` its invoice-level one, `overrides` the
/// invoice-level cadences its invoices' overrides name.
pub fn chasing_input<'a>(
    customer: &'a Customer,
    stops: &'a Stops,
    zone: Tz,
    customer_cadence: Option<&'a Cadence>,
    invoice_cadence: Option<&'a Cadence>,
    overrides: &'a [Cadence],
) -> ChasingInput<'a> {
    ChasingInput {
        zone,
        stops,
        open: OpenInvoices {
            invoices: &customer.open_invoices,
            currency: customer.currency,
            credit: customer.balance.credit,
        },
        customer_cadence,
        invoice_cadences: InvoiceCadences {
            enrolled: invoice_cadence,
            overrides,
        },
        cycle: &customer.cycle,
        invoice_cycles: &customer.invoice_cycles,
    }
}

/// Whether the customer is chased at invoice level (enrolled there, or an
/// invoice overrides to an invoice-level cadence): its chasing is then
/// planned with both levels ([`domain::cadence::plan_chasing`]).
pub fn chases_invoices(customer: &Customer) -> bool {
    customer.chasing.invoice_cadence_id.is_some() || !override_cadence_ids(customer).is_empty()
}

/// The cadences one customer's chasing reads: the enrolled versions of both
/// levels and the current version of each cadence its invoices override to.
#[derive(Debug, Clone, Default)]
pub struct ChasingCadences {
    pub customer: Option<Cadence>,
    pub invoice: Option<Cadence>,
    pub overrides: Vec<Cadence>,
}

impl ChasingCadences {
    pub fn input<'a>(
        &'a self,
        customer: &'a Customer,
        stops: &'a Stops,
        zone: Tz,
    ) -> ChasingInput<'a> {
        chasing_input(
            customer,
            stops,
            zone,
            self.customer.as_ref(),
            self.invoice.as_ref(),
            &self.overrides,
        )
    }

    /// Stores the overrides' current timings on `customer`, so the events
    /// that reschedule it run each override at its own times.
    pub fn refresh_override_timings(&self, customer: &mut Customer) {
        customer.override_chase_timings = self
            .overrides
            .iter()
            .map(|c| (c.id.clone(), c.timing.clone()))
            .collect();
    }

    /// The cadence of `id` among these (its step, for a chase's history).
    pub fn find(&self, id: &str) -> Option<&Cadence> {
        self.customer
            .iter()
            .chain(&self.invoice)
            .chain(&self.overrides)
            .find(|c| c.id == id)
    }
}

/// Cadences read once per batch of work (a queue batch, an evaluation
/// unit). A version never changes once customers are on it; a cadence's
/// current version may, but a batch lasts seconds. The lock is held across
/// a read, so records handled at once wait for one read instead of each
/// reading.
#[derive(Default)]
pub struct CadenceLookups {
    versions: tokio::sync::Mutex<HashMap<(TenantId, String, u32), Option<Cadence>>>,
    current: tokio::sync::Mutex<HashMap<(TenantId, String), Option<Cadence>>>,
}

impl CadenceLookups {
    pub async fn version(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
        id: &str,
        version: u32,
    ) -> Result<Option<Cadence>, StoreError> {
        let key = (tenant.clone(), id.to_string(), version);
        let mut versions = self.versions.lock().await;
        if let Some(found) = versions.get(&key) {
            return Ok(found.clone());
        }
        let found = store.cadence_version(tenant, id, version).await?;
        versions.insert(key, found.clone());
        Ok(found)
    }

    pub async fn current(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<Cadence>, StoreError> {
        let key = (tenant.clone(), id.to_string());
        let mut current = self.current.lock().await;
        if let Some(found) = current.get(&key) {
            return Ok(found.clone());
        }
        let found = store.cadence(tenant, id).await?.map(|r| r.cadence);
        current.insert(key, found.clone());
        Ok(found)
    }

    /// Everything this customer's chasing reads (a missing cadence is left out).
    pub async fn of(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
        customer: &Customer,
    ) -> Result<ChasingCadences, StoreError> {
        let mut cadences = ChasingCadences::default();
        if let Some((id, version)) = customer.chasing.enrolment(Level::Customer) {
            cadences.customer = self.version(store, tenant, &id, version).await?;
        }
        if let Some((id, version)) = customer.chasing.enrolment(Level::Invoice) {
            cadences.invoice = self.version(store, tenant, &id, version).await?;
        }
        for id in override_cadence_ids(customer) {
            if let Some(cadence) = self.current(store, tenant, id).await? {
                cadences.overrides.push(cadence);
            }
        }
        Ok(cadences)
    }
}

/// The ids of the cadences this customer's invoices override to.
pub fn override_cadence_ids(customer: &Customer) -> Vec<&str> {
    let mut ids: Vec<&str> = customer
        .open_invoices
        .iter()
        .filter_map(|i| i.chasing.cadence_id.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The dry run of both levels (`domain::cadence::preview_chasing`). As in
/// [`preview`], a run already due but not yet evaluated is included.
pub fn preview_both(
    input: &ChasingInput,
    customer: &Customer,
    now: DateTime<Utc>,
    days: u32,
) -> Vec<PlannedStep> {
    let cadences = input
        .customer_cadence
        .into_iter()
        .chain(input.invoice_cadences.all());
    let pending = customer
        .next_evaluation_at
        .filter(|next| *next <= now)
        .and_then(|_| {
            cadences
                .filter_map(|cadence| {
                    Schedule::new(&cadence.timing, input.zone).last_run_at_or_before(now)
                })
                .max()
        })
        .filter(|slot| customer.last_evaluated_at.is_none_or(|last| slot.at > last));
    let from = pending.map_or(now, |slot| slot.at - TimeDelta::seconds(1));
    preview_chasing(input, from, days)
}

/// What a template is rendered with for this customer on `today`: the
/// chased balance and the invoices in it, the primary contact's name, the
/// billing address on one line, the effective payment terms and the portal
/// link (`usecases::portal::url`).
pub fn template_data(
    customer: &Customer,
    contact_name: Option<String>,
    portal_url: Option<String>,
    today: NaiveDate,
) -> TemplateData {
    template_data_for(customer, contact_name, portal_url, today, None)
}

/// [`template_data`] for a message about some invoices only (an
/// invoice-level message: `domain::cadence::ChaseMessage::invoice_ids`), so
/// the invoice variables list exactly those; `None` lists every chased one.
pub fn template_data_for(
    customer: &Customer,
    contact_name: Option<String>,
    portal_url: Option<String>,
    today: NaiveDate,
    only_invoices: Option<&[&str]>,
) -> TemplateData {
    let balance = customer.chased_balance(today);
    let mut invoice_ids: Vec<&str> = Vec::new();
    for item in &balance.items {
        let id = item.id.invoice_id.as_str();
        if !invoice_ids.contains(&id) && only_invoices.is_none_or(|only| only.contains(&id)) {
            invoice_ids.push(id);
        }
    }
    let chased_on = |id: &str| -> Decimal {
        balance
            .items
            .iter()
            .filter(|item| item.id.invoice_id == id)
            .map(|item| item.remaining)
            .sum()
    };
    let invoices = invoice_ids
        .iter()
        .filter_map(|id| customer.open_invoices.iter().find(|i| i.id == *id))
        .map(|invoice| InvoiceLine {
            number: invoice.number.clone(),
            issue_date: invoice.issue_date,
            due_date: invoice.effective_due_date(),
            balance: Money {
                amount: chased_on(&invoice.id),
                currency: customer.currency,
            },
            days_overdue: invoice.days_overdue(today),
        })
        .collect();
    TemplateData {
        customer_name: customer.name.clone(),
        customer_contact_name: contact_name,
        customer_number: Some(customer.number.clone()),
        customer_address: customer.billing_address.as_ref().map(Address::one_line),
        customer_payment_terms: customer.effective().payment_terms.value,
        account_balance: balance.total(),
        invoices,
        portal_url,
        language: customer.language.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::balance::ChasedBalance;
    use domain::cadence::{Action, Audience, CadenceDraft, StepDraft, Trigger};
    use domain::customer::CustomerChanges;
    use domain::invoice::{CollectionStatus, NewInvoice};
    use domain::money::Currency;
    use domain::patch::Patch;
    use domain::promise::Promise;
    use domain::template::Channel;
    use rust_decimal::Decimal;

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(raw: &str) -> NaiveDate {
        raw.parse().unwrap()
    }

    fn customer() -> Customer {
        CustomerChanges {
            number: Some("C-1".into()),
            name: Some("Acme".into()),
            currency: Currency::parse("EUR"),
            payment_terms: Patch::Set("NET30".into()),
            billing_address: Patch::Set(Address {
                line1: "1 Main St".into(),
                line2: None,
                city: Some("Paris".into()),
                region: None,
                postal_code: None,
                country: "FR".into(),
            }),
            ..CustomerChanges::default()
        }
        .create("01CUSTOMER".into(), utc("2026-05-01T00:00:00Z"))
        .unwrap()
    }

    /// A customer with an overdue invoice whose cycle has started (as
    /// creating the invoice would have done).
    fn observed_customer() -> Customer {
        let mut customer = customer();
        customer.open_invoices = vec![invoice("A", "2026-05-01", CollectionStatus::Normal)];
        let today = date("2026-06-15");
        customer
            .cycle
            .observe(&ChasedBalance::of(&customer.open_invoices, customer.currency, today).items);
        customer
    }

    fn invoice(number: &str, due: &str, status: CollectionStatus) -> domain::invoice::Invoice {
        NewInvoice {
            customer_id: "01CUSTOMER".into(),
            number: number.into(),
            currency: "EUR".into(),
            issue_date: date("2026-04-01"),
            due_date: Some(date(due)),
            total: Decimal::new(10_000, 2),
            autopay: false,
            collection_status: status,
            dispute_reason: None,
            payment_plan: None,
        }
        .validate(format!("01{number}"), Currency::parse("EUR").unwrap())
        .unwrap()
    }

    fn cadence(days: &[i64], run_at: &str) -> Cadence {
        let steps = days
            .iter()
            .map(|d| StepDraft {
                trigger: Trigger::PastDueAge,
                days: *d,
                action: Action::PhoneCall,
                template_id: None,
                audience: Audience::Normal,
                contact_role: None,
                assignee_id: None,
                attach_invoices: false,
            })
            .collect();
        let draft = CadenceDraft {
            name: "Calls".into(),
            level: domain::cadence::Level::Customer,
            run_at: run_at.into(),
            days_of_week: vec![],
            days_of_month: vec![],
            threshold: None,
            steps,
            assignment: None,
        };
        let templates = |_: &str| -> Option<Channel> { None };
        draft.validate("01CADENCE".into(), 1, &templates).unwrap()
    }

    /// The same steps at invoice level (days from each invoice's due date).
    fn invoice_cadence(days: &[i64], run_at: &str) -> Cadence {
        let mut cadence = cadence(days, run_at);
        cadence.id = "01INVOICES".into();
        cadence.level = Level::Invoice;
        for step in &mut cadence.steps {
            step.trigger = Trigger::DaysFromDue;
        }
        cadence
    }

    #[test]
    fn each_level_is_enrolled_left_and_scheduled_on_its_own() {
        let now = utc("2026-06-15T12:00:00Z");
        let mut customer = observed_customer();
        enrol(&mut customer, &cadence(&[1], "09:00"), Tz::UTC, now);
        enrol(&mut customer, &invoice_cadence(&[1], "07:00"), Tz::UTC, now);
        assert_eq!(
            customer.chasing.enrolment(Level::Invoice),
            Some(("01INVOICES".to_string(), 1))
        );
        assert_eq!(
            customer.chasing.enrolment(Level::Customer),
            Some(("01CADENCE".to_string(), 1))
        );
        // The earlier of the two levels' next runs.
        assert_eq!(
            customer.next_evaluation_at,
            Some(utc("2026-06-16T07:00:00Z"))
        );
        unenrol_level(&mut customer, Level::Invoice, Tz::UTC, now);
        assert_eq!(customer.chasing.enrolment(Level::Invoice), None);
        assert_eq!(
            customer.next_evaluation_at,
            Some(utc("2026-06-16T09:00:00Z"))
        );
        unenrol(&mut customer, Tz::UTC, now);
        assert_eq!(customer.next_evaluation_at, None);
    }

    #[test]
    fn assignment_rules_pick_one_cadence_per_level() {
        let always = |mut cadence: Cadence, priority: i32| {
            cadence.assignment.mode = domain::cadence::AssignmentMode::Always;
            cadence.assignment.priority = priority;
            cadence
        };
        let mut second = always(invoice_cadence(&[2], "09:00"), 2);
        second.id = "01SECOND".into();
        let cadences = [
            always(cadence(&[1], "09:00"), 5),
            second,
            always(invoice_cadence(&[1], "09:00"), 1),
        ];
        let mut customer = customer();
        let ids: Vec<&str> = assignment(&cadences, &customer)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["01CADENCE", "01INVOICES"]);
        enrol(
            &mut customer,
            &cadences[2],
            Tz::UTC,
            utc("2026-06-15T12:00:00Z"),
        );
        let ids: Vec<&str> = assignment(&cadences, &customer)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["01CADENCE"], "already on its invoice-level cadence");
    }

    #[test]
    fn stops_come_from_the_customer_and_the_settings() {
        let mut customer = customer();
        let mut settings = Settings::default();
        settings.frequency_cap.max_messages = 2;
        assert_eq!(stops(&customer, &settings).pause, None);
        customer.chasing.status = ChasingStatus::Paused;
        customer.chasing.paused_until = Some(date("2026-07-01"));
        customer.active_promise = Some(Promise {
            id: "p".into(),
            customer_id: customer.id.clone(),
            amount: Decimal::ONE,
            currency: customer.currency,
            promised_date: date("2026-06-20"),
            note: None,
            grace_days: 5,
            paid_since: Decimal::ZERO,
            kept_on: None,
            created_by: "u".into(),
            created_at: utc("2026-06-01T00:00:00Z"),
        });
        let held = stops(&customer, &settings);
        assert_eq!(
            held.pause,
            Some(Pause {
                until: Some(date("2026-07-01"))
            })
        );
        assert_eq!(
            held.promise.map(|p| p.holds_through()),
            Some(date("2026-06-25"))
        );
        assert_eq!(held.frequency_cap.max_messages, 2);
    }

    #[test]
    fn enrolment_copies_the_timing_and_migration_keeps_the_cycle_only_when_chasing_is_unchanged() {
        let mut customer = observed_customer();
        let now = utc("2026-06-15T12:00:00Z");
        let v1 = cadence(&[1, 30], "09:00");
        enrol(&mut customer, &v1, Tz::UTC, now);
        assert!(customer.is_enrolled());
        assert_eq!(
            customer.next_evaluation_at,
            Some(utc("2026-06-16T09:00:00Z"))
        );
        let cycle = customer.cycle.cycle;

        let renamed = Cadence {
            name: "Renamed".into(),
            version: 2,
            ..v1.clone()
        };
        assert!(!migrate(&mut customer, &v1, &renamed, Tz::UTC, now));
        assert_eq!(
            (customer.chasing.cadence_version, customer.cycle.cycle),
            (Some(2), cycle)
        );

        let changed = Cadence {
            version: 3,
            ..cadence(&[1, 20], "09:00")
        };
        assert!(migrate(&mut customer, &renamed, &changed, Tz::UTC, now));
        assert_eq!(
            (customer.chasing.cadence_version, customer.cycle.cycle),
            (Some(3), cycle + 1)
        );

        unenrol(&mut customer, Tz::UTC, now);
        assert_eq!(customer.next_evaluation_at, None);
        assert!(!customer.is_enrolled());
        // Enrolling again starts after the chases the last enrolment may have left.
        enrol(&mut customer, &v1, Tz::UTC, now);
        assert_eq!(customer.cycle.cycle, cycle + 2);
    }

    #[test]
    fn a_first_enrolment_chases_in_cycle_one() {
        let mut customer = observed_customer();
        enrol(
            &mut customer,
            &cadence(&[1], "09:00"),
            Tz::UTC,
            utc("2026-06-15T12:00:00Z"),
        );
        assert_eq!(customer.cycle.cycle, 1);
    }

    #[test]
    fn the_preview_includes_a_run_due_but_not_yet_evaluated() {
        let mut customer = customer();
        customer.open_invoices = vec![invoice("A", "2026-05-01", CollectionStatus::Normal)];
        let calls = cadence(&[1, 60], "09:00");
        enrol(&mut customer, &calls, Tz::UTC, utc("2026-06-15T12:00:00Z"));
        let settings = Settings::default();
        let later = utc("2026-06-16T09:05:00Z");
        let entries = preview(&customer, &calls, &settings, later, 30);
        let runs: Vec<(NaiveDate, u32)> = entries.iter().map(|e| (e.date, e.position)).collect();
        assert_eq!(runs, [(date("2026-06-16"), 0), (date("2026-06-30"), 1)]);
        // Once evaluated, the window starts now.
        customer.last_evaluated_at = Some(utc("2026-06-16T09:00:00Z"));
        customer.next_evaluation_at = Some(utc("2026-06-17T09:00:00Z"));
        let entries = preview(&customer, &calls, &settings, later, 30);
        assert_eq!(entries.first().map(|e| e.date), Some(date("2026-06-17")));
    }

    #[test]
    fn template_data_lists_the_chased_invoices_only() {
        let mut customer = customer();
        customer.open_invoices = vec![
            invoice("A", "2026-05-01", CollectionStatus::Normal),
            invoice("B", "2026-05-10", CollectionStatus::Disputed),
        ];
        let link = Some("https://pay.test/p/TOKEN".to_string());
        let data = template_data(&customer, Some("Ann".into()), link, date("2026-06-15"));
        let numbers: Vec<&str> = data.invoices.iter().map(|i| i.number.as_str()).collect();
        assert_eq!(numbers, ["A"]);
        assert_eq!(data.account_balance.amount, Decimal::new(10_000, 2));
        assert_eq!(data.portal_url.as_deref(), Some("https://pay.test/p/TOKEN"));
        assert_eq!(
            data.customer_address.as_deref(),
            Some("1 Main St, Paris, FR")
        );
        assert_eq!(data.customer_payment_terms.as_deref(), Some("NET30"));
        assert_eq!(data.customer_contact_name.as_deref(), Some("Ann"));
    }
}
