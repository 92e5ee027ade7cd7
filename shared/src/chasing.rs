//! What the scheduler, the worker and the preview share: the inputs of the
//! chasing evaluation, built the same way from a customer and its tenant's
//! settings.

use crate::domain::balance::{ChasedBalance, CustomerBalance};
use crate::domain::cadence::{
    assign_cadence, Cadence, CustomerFacts, Evaluator, OpenPromise, Pause, PreviewEntry, Stops,
};
use crate::domain::customer::{ChasingStatus, Customer};
use crate::domain::fields::Address;
use crate::domain::settings::Settings;
use crate::domain::template::{InvoiceLine, TemplateData};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

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

/// The cadence the `always` assignment rules put this customer on, when that
/// is not where it already is.
pub fn assignment<'a>(cadences: &'a [Cadence], customer: &Customer) -> Option<&'a Cadence> {
    assign_cadence(cadences, &facts(customer))
        .filter(|c| customer.chasing.cadence_id.as_deref() != Some(c.id.as_str()))
}

/// Enrols the customer in `cadence` (its current version): the timing is
/// copied so any later write can reschedule without reading the cadence, the
/// cycle restarts (positions of other steps mean nothing here), and the next
/// evaluation is the first run after now.
pub fn enrol(customer: &mut Customer, cadence: &Cadence, zone: Tz, now: DateTime<Utc>) {
    customer.chasing.cadence_id = Some(cadence.id.clone());
    customer.chasing.cadence_version = Some(cadence.version);
    customer.chase_timing = Some(cadence.timing.clone());
    customer.cycle.restart();
    customer.last_evaluated_at = None;
    customer.reschedule(zone, now);
}

/// Moves an enrolled customer to another version of its cadence. When the
/// versions chase identically (same timing, threshold and steps: only the
/// name or assignment changed) the cycle goes on; otherwise it restarts.
/// Returns whether it restarted.
pub fn migrate(
    customer: &mut Customer,
    from: &Cadence,
    to: &Cadence,
    zone: Tz,
    now: DateTime<Utc>,
) -> bool {
    if same_chasing(from, to) {
        customer.chasing.cadence_version = Some(to.version);
        false
    } else {
        enrol(customer, to, zone, now);
        true
    }
}

/// Leaves chasing: no cadence, no timing, out of the due index. The pause
/// state is the customer's own and stays.
pub fn unenrol(customer: &mut Customer) {
    customer.chasing.cadence_id = None;
    customer.chasing.cadence_version = None;
    customer.chase_timing = None;
    customer.last_evaluated_at = None;
    customer.next_evaluation_at = None;
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
        &customer.cycle,
        from,
        days,
    )
}

/// What a template is rendered with for this customer on `today`: the
/// chased balance and the invoices in it, the primary contact's name, the
/// billing address on one line, the effective payment terms and the portal
/// link (`portal_base_url/<customer id>`).
pub fn template_data(
    customer: &Customer,
    contact_name: Option<String>,
    settings: &Settings,
    today: NaiveDate,
) -> TemplateData {
    let balance = ChasedBalance::of(&customer.open_invoices, customer.currency, today);
    let mut invoice_ids: Vec<&str> = Vec::new();
    for item in &balance.items {
        if !invoice_ids.contains(&item.id.invoice_id.as_str()) {
            invoice_ids.push(&item.id.invoice_id);
        }
    }
    let invoices = invoice_ids
        .iter()
        .filter_map(|id| customer.open_invoices.iter().find(|i| i.id == *id))
        .map(|invoice| InvoiceLine {
            number: invoice.number.clone(),
            issue_date: invoice.issue_date,
            due_date: invoice.effective_due_date(),
        })
        .collect();
    TemplateData {
        customer_name: customer.name.clone(),
        customer_contact_name: contact_name,
        customer_number: Some(customer.number.clone()),
        customer_address: customer.billing_address.as_ref().map(address_line),
        customer_payment_terms: customer.effective().payment_terms.value,
        account_balance: balance.total(),
        invoices,
        portal_url: settings
            .portal_base_url
            .as_deref()
            .map(|base| format!("{}/{}", base.trim_end_matches('/'), customer.id)),
        language: customer.language.clone(),
    }
}

/// `line1, line2, city, region, postal code, country`, leaving out what is
/// missing.
pub fn address_line(address: &Address) -> String {
    let parts = [
        Some(address.line1.as_str()),
        address.line2.as_deref(),
        address.city.as_deref(),
        address.region.as_deref(),
        address.postal_code.as_deref(),
        Some(address.country.as_str()),
    ];
    parts
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}
