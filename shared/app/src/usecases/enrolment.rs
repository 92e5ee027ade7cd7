//! A customer's chasing: enrolment in a cadence, unenrolment, pause and
//! resume, the dry-run preview, and the `always` assignment rules run on
//! every customer create and update.
//!
//! Every change is one transaction: the customer (its list entries and
//! due-index time move with it), a `chasing_changed` history item and the
//! enrolment counters of the cadences and versions involved. Chasing changes
//! do not bump the customer's `version` (like money changes, they are not
//! edits of its fields); its revision guards concurrent writes.

use super::{valid_id, Change};
use crate::access::require;
use crate::chasing;
use crate::context::Context;
use crate::error::{AppError, AppResult, CONCURRENT_UPDATE};
use crate::ports::{EnrolmentDeltas, Write};
use crate::records::{CadenceRecord, StoredCustomer};
use chrono::{DateTime, NaiveDate, Utc};
use domain::cadence::{Cadence, PreviewEntry};
use domain::customer::{ChasingStatus, Customer};
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission};
use serde_json::{json, Value};

/// `GET .../chasing/preview?days=N`: 1 to 365, 90 by default.
pub const DEFAULT_PREVIEW_DAYS: u32 = 90;
pub const MAX_PREVIEW_DAYS: u32 = 365;

/// A customer's enrolment as owned values (the customer changes after it is read).
pub fn enrolment_of(customer: &Customer) -> Option<(String, u32)> {
    customer
        .chasing
        .cadence_id
        .clone()
        .zip(customer.chasing.cadence_version)
}

/// The counter write for a customer moving from `before` to where it is now
/// (none when it does not move).
pub fn enrolment_writes(before: Option<(String, u32)>, after: &Customer) -> Vec<Write> {
    let after = enrolment_of(after);
    if before == after {
        return Vec::new();
    }
    vec![Write::CountEnrolments(EnrolmentDeltas::moving(
        before, after,
    ))]
}

pub fn history(
    caller: &Caller,
    now: DateTime<Utc>,
    customer: &Customer,
    summary: String,
    detail: Value,
) -> HistoryItem {
    HistoryItem::new(
        &customer.id,
        HistoryType::ChasingChanged,
        now,
        caller.user.as_str(),
        summary,
        detail,
    )
}

/// The history item of an enrolment in `cadence`.
pub fn enrolled_history(
    caller: &Caller,
    now: DateTime<Utc>,
    customer: &Customer,
    cadence: &Cadence,
    before: &Option<(String, u32)>,
    how: &str,
) -> HistoryItem {
    history(
        caller,
        now,
        customer,
        format!(
            "Enrolled in cadence {} (version {})",
            cadence.name, cadence.version
        ),
        json!({
            "change": "enrolled",
            "by": how,
            "cadence_id": cadence.id,
            "cadence_version": cadence.version,
            "previous_cadence_id": before.as_ref().map(|(id, _)| id),
            "previous_cadence_version": before.as_ref().map(|(_, v)| v),
        }),
    )
}

/// Assignment rules in mode `always` (docs/chasing.md): run on every customer
/// create and update. When a cadence's rules match and the customer is not
/// already on it, `customer` is enrolled in it and the counter writes and
/// the history item to record are returned. A customer no rule matches
/// keeps the enrolment it has (rules enrol, never unenrol).
pub async fn assign(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer: &mut Customer,
) -> AppResult<Option<(Vec<Write>, HistoryItem)>> {
    let cadences = context.store.automatic_cadences(&caller.tenant).await?;
    let Some(cadence) = chasing::assignment(&cadences, customer) else {
        return Ok(None);
    };
    let before = enrolment_of(customer);
    let zone = context.settings(&caller.tenant).await?.time_zone;
    chasing::enrol(customer, cadence, zone, now);
    let writes = enrolment_writes(before.clone(), customer);
    let item = enrolled_history(caller, now, customer, cadence, &before, "assignment_rules");
    Ok(Some((writes, item)))
}

/// A chasing change: the customer, its history item and counters. A failed
/// condition on the counters means the cadence changed meanwhile.
fn change(stored: &StoredCustomer, next: Customer, item: HistoryItem) -> Change<Customer> {
    let mut writes = crate::writes::customer(next.clone(), Some(stored), &[item]);
    let counters = writes.len();
    writes.extend(enrolment_writes(enrolment_of(&stored.customer), &next));
    let mut change = Change::new(writes, next, customer_changed);
    for index in counters..change.writes.len() {
        change = change.on_conflict(index, cadence_changed);
    }
    change
}

fn customer_changed() -> AppError {
    AppError::conflict(
        CONCURRENT_UPDATE,
        "the customer changed at the same time; retry",
    )
}

fn cadence_changed() -> AppError {
    AppError::conflict(
        "cadence_changed",
        "the cadence was deleted or changed at the same time; retry",
    )
}

/// Nothing to write: the customer as it is.
fn unchanged(customer: Customer) -> Change<Customer> {
    Change::new(Vec::new(), customer, customer_changed)
}

pub async fn load_cadence(
    context: &Context,
    caller: &Caller,
    id: &str,
) -> AppResult<Option<CadenceRecord>> {
    if !valid_id(id) {
        return Ok(None);
    }
    Ok(context.store.cadence(&caller.tenant, id).await?)
}

/// Enrols in the cadence's current version. Already there: nothing changes.
/// On another version of the same cadence: moved to the current one, cycle
/// restarted.
pub async fn enrol(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
    cadence_id: &str,
) -> AppResult<Change<Customer>> {
    require(caller, Permission::ManageRecords)?;
    let stored = super::customers::load(context, &caller.tenant, customer_id).await?;
    let record = load_cadence(context, caller, cadence_id)
        .await?
        .ok_or_else(|| AppError::invalid_field("cadence_id", "no such cadence"))?;
    let cadence = &record.cadence;
    let before = enrolment_of(&stored.customer);
    if before == Some((cadence.id.clone(), cadence.version)) {
        return Ok(unchanged(stored.customer));
    }
    let settings = context.settings(&caller.tenant).await?;
    let mut next = stored.customer.clone();
    next.refresh(now.with_timezone(&settings.time_zone).date_naive());
    chasing::enrol(&mut next, cadence, settings.time_zone, now);
    let item = enrolled_history(caller, now, &next, cadence, &before, "user");
    Ok(change(&stored, next, item))
}

/// Leaves chasing (nothing changes when not enrolled).
pub async fn unenrol(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
) -> AppResult<Change<Customer>> {
    require(caller, Permission::ManageRecords)?;
    let stored = super::customers::load(context, &caller.tenant, customer_id).await?;
    let Some((cadence_id, version)) = enrolment_of(&stored.customer) else {
        return Ok(unchanged(stored.customer));
    };
    let mut next = stored.customer.clone();
    chasing::unenrol(&mut next);
    let item = history(
        caller,
        now,
        &next,
        "Chasing stopped: no cadence".to_string(),
        json!({"change": "unenrolled", "previous_cadence_id": cadence_id, "previous_cadence_version": version}),
    );
    Ok(change(&stored, next, item))
}

/// Paused until the tenant-local date `until` (chasing resumes that day) or
/// until resumed. `until` must be after the tenant's today.
pub async fn pause(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
    until: Option<NaiveDate>,
) -> AppResult<Change<Customer>> {
    require(caller, Permission::ManageRecords)?;
    let settings = context.settings(&caller.tenant).await?;
    let today = now.with_timezone(&settings.time_zone).date_naive();
    let stored = super::customers::load(context, &caller.tenant, customer_id).await?;
    if until.is_some_and(|d| d <= today) {
        return Err(AppError::invalid_field(
            "until",
            "must be after today; leave it out to pause until resumed",
        ));
    }
    let current = &stored.customer.chasing;
    if current.status == ChasingStatus::Paused && current.paused_until == until {
        return Ok(unchanged(stored.customer));
    }
    let mut next = stored.customer.clone();
    next.chasing.status = ChasingStatus::Paused;
    next.chasing.paused_until = until;
    next.reschedule(settings.time_zone, now);
    let summary = match until {
        Some(date) => format!("Chasing paused until {date}"),
        None => "Chasing paused until resumed".to_string(),
    };
    let item = history(
        caller,
        now,
        &next,
        summary,
        json!({"change": "paused", "until": until}),
    );
    Ok(change(&stored, next, item))
}

pub async fn resume(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
) -> AppResult<Change<Customer>> {
    require(caller, Permission::ManageRecords)?;
    let stored = super::customers::load(context, &caller.tenant, customer_id).await?;
    if stored.customer.chasing.status == ChasingStatus::Active {
        return Ok(unchanged(stored.customer));
    }
    let zone = context.settings(&caller.tenant).await?.time_zone;
    let mut next = stored.customer.clone();
    next.chasing.status = ChasingStatus::Active;
    next.chasing.paused_until = None;
    next.reschedule(zone, now);
    let item = history(
        caller,
        now,
        &next,
        "Chasing resumed".to_string(),
        json!({"change": "resumed"}),
    );
    Ok(change(&stored, next, item))
}

/// The dry run: the steps that would run in the next `days` days if nothing
/// changes, from the same evaluation the scheduler runs, with the cadence
/// they come from (`None` when not enrolled). Nothing is written or sent.
pub struct Preview {
    pub customer: Customer,
    pub cadence: Option<Cadence>,
    pub entries: Vec<PreviewEntry>,
}

pub async fn preview(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
    days: u32,
) -> AppResult<Preview> {
    require(caller, Permission::Read)?;
    let customer = super::customers::load(context, &caller.tenant, customer_id)
        .await?
        .customer;
    let (Some(cadence_id), Some(version)) = (
        &customer.chasing.cadence_id,
        customer.chasing.cadence_version,
    ) else {
        return Ok(Preview {
            customer,
            cadence: None,
            entries: Vec::new(),
        });
    };
    let cadence = context
        .store
        .cadence_version(&caller.tenant, cadence_id, version)
        .await?
        .ok_or_else(|| {
            AppError::internal(crate::ports::StoreError::Malformed(
                "customer enrolled in a missing cadence version".into(),
            ))
        })?;
    let settings = context.settings(&caller.tenant).await?;
    let entries = chasing::preview(&customer, &cadence, &settings, now, days);
    Ok(Preview {
        customer,
        cadence: Some(cadence),
        entries,
    })
}

/// The first step the preview would run within [`DEFAULT_PREVIEW_DAYS`], if
/// the customer is enrolled and nothing changes.
pub async fn next_step(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer: &Customer,
) -> AppResult<Option<(PreviewEntry, Cadence)>> {
    let (Some(cadence_id), Some(version)) = (
        &customer.chasing.cadence_id,
        customer.chasing.cadence_version,
    ) else {
        return Ok(None);
    };
    let Some(cadence) = context
        .store
        .cadence_version(&caller.tenant, cadence_id, version)
        .await?
    else {
        return Ok(None);
    };
    let settings = context.settings(&caller.tenant).await?;
    let entries = chasing::preview(customer, &cadence, &settings, now, DEFAULT_PREVIEW_DAYS);
    Ok(entries.into_iter().next().map(|entry| (entry, cadence)))
}
