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
use domain::cadence::{Cadence, Level, PlannedStep};
use domain::customer::{ChasingStatus, Customer};
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission};
use serde_json::{json, Value};

/// `GET .../chasing/preview?days=N`: 1 to 365, 90 by default.
pub const DEFAULT_PREVIEW_DAYS: u32 = 90;
pub const MAX_PREVIEW_DAYS: u32 = 365;

/// A customer's enrolments of both levels as owned values (the customer
/// changes after it is read).
pub fn enrolments_of(customer: &Customer) -> Vec<(String, u32)> {
    [Level::Customer, Level::Invoice]
        .into_iter()
        .filter_map(|level| customer.chasing.enrolment(level))
        .collect()
}

/// The counter write for a customer moving from the enrolments `before`
/// (both levels, [`enrolments_of`]) to where it is now (none when nothing moves).
pub fn enrolment_writes(before: Vec<(String, u32)>, after: &Customer) -> Vec<Write> {
    let after = enrolments_of(after);
    if before == after {
        return Vec::new();
    }
    let mut deltas = EnrolmentDeltas::default();
    for left in before.iter().filter(|e| !after.contains(e)) {
        deltas.add(Some(left.clone()), -1);
    }
    for joined in after.iter().filter(|e| !before.contains(e)) {
        deltas.add(Some(joined.clone()), 1);
    }
    vec![Write::CountEnrolments(deltas)]
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
        match cadence.level {
            Level::Customer => format!(
                "Enrolled in cadence {} (version {})",
                cadence.name, cadence.version
            ),
            Level::Invoice => format!(
                "Enrolled in invoice-level cadence {} (version {})",
                cadence.name, cadence.version
            ),
        },
        json!({
            "change": "enrolled",
            "by": how,
            "level": cadence.level,
            "cadence_id": cadence.id,
            "cadence_version": cadence.version,
            "previous_cadence_id": before.as_ref().map(|(id, _)| id),
            "previous_cadence_version": before.as_ref().map(|(_, v)| v),
        }),
    )
}

/// Assignment rules in mode `always` (docs/chasing.md): run on every customer
/// create and update. For each level where a cadence's rules match and the
/// customer is not already on it, `customer` is enrolled in it; the counter
/// writes and the history items to record are returned. A customer no rule
/// matches keeps the enrolment it has (rules enrol, never unenrol).
pub async fn assign(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer: &mut Customer,
) -> AppResult<(Vec<Write>, Vec<HistoryItem>)> {
    let cadences = context.store.automatic_cadences(&caller.tenant).await?;
    let assigned = chasing::assignment(&cadences, customer);
    if assigned.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let before_all = enrolments_of(customer);
    let zone = context.settings(&caller.tenant).await?.time_zone;
    let mut items = Vec::new();
    for cadence in assigned {
        let before = customer.chasing.enrolment(cadence.level);
        chasing::enrol(customer, cadence, zone, now);
        items.push(enrolled_history(
            caller,
            now,
            customer,
            cadence,
            &before,
            "assignment_rules",
        ));
    }
    Ok((enrolment_writes(before_all, customer), items))
}

/// A chasing change: the customer, its history item and counters. A failed
/// condition on the counters means the cadence changed meanwhile.
fn change(stored: &StoredCustomer, next: Customer, item: HistoryItem) -> Change<Customer> {
    let mut writes = crate::writes::customer(next.clone(), Some(stored), &[item]);
    let counters = writes.len();
    writes.extend(enrolment_writes(enrolments_of(&stored.customer), &next));
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
    let before = stored.customer.chasing.enrolment(cadence.level);
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

/// Leaves chasing at both levels (nothing changes when not enrolled).
pub async fn unenrol(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
) -> AppResult<Change<Customer>> {
    unenrol_at(context, caller, now, customer_id, None).await
}

/// Leaves chasing at `level`, or at both levels without one (nothing
/// changes where not enrolled).
pub async fn unenrol_at(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
    level: Option<Level>,
) -> AppResult<Change<Customer>> {
    require(caller, Permission::ManageRecords)?;
    let stored = super::customers::load(context, &caller.tenant, customer_id).await?;
    let levels: Vec<Level> = match level {
        Some(level) => vec![level],
        None => vec![Level::Customer, Level::Invoice],
    };
    let leaving: Vec<(Level, (String, u32))> = levels
        .into_iter()
        .filter_map(|level| Some((level, stored.customer.chasing.enrolment(level)?)))
        .collect();
    if leaving.is_empty() {
        return Ok(unchanged(stored.customer));
    }
    let zone = context.settings(&caller.tenant).await?.time_zone;
    let mut next = stored.customer.clone();
    for (level, _) in &leaving {
        chasing::unenrol_level(&mut next, *level, zone, now);
    }
    if next.chasing.cadence_id.is_none() && next.chasing.invoice_cadence_id.is_none() {
        chasing::unenrol(&mut next, zone, now);
    }
    let summary = match level {
        Some(level) => format!("Chasing stopped at {} level", level.as_str()),
        None => "Chasing stopped: no cadence".to_string(),
    };
    // One level: the same fields as before levels existed, plus the level.
    let detail = match leaving.as_slice() {
        [(level, (cadence_id, version))] => json!({
            "change": "unenrolled",
            "level": level,
            "previous_cadence_id": cadence_id,
            "previous_cadence_version": version,
        }),
        _ => json!({
            "change": "unenrolled",
            "previous": leaving
                .iter()
                .map(|(level, (id, version))| json!({"level": level, "cadence_id": id, "cadence_version": version}))
                .collect::<Vec<_>>(),
        }),
    };
    let item = history(caller, now, &next, summary, detail);
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

/// The dry run of both levels: the steps that would run in the next `days`
/// days if nothing changes, from the same evaluation the scheduler runs,
/// with the cadences they come from. Nothing is written or sent.
pub struct Preview {
    pub customer: Customer,
    pub cadences: Vec<Cadence>,
    pub entries: Vec<PlannedStep>,
}

/// The cadence version the customer is enrolled on at `level`.
async fn enrolled_cadence(
    context: &Context,
    caller: &Caller,
    customer: &Customer,
    level: Level,
) -> AppResult<Option<Cadence>> {
    let Some((id, version)) = customer.chasing.enrolment(level) else {
        return Ok(None);
    };
    context
        .store
        .cadence_version(&caller.tenant, &id, version)
        .await?
        .map(Some)
        .ok_or_else(|| {
            AppError::internal(crate::ports::StoreError::Malformed(
                "customer enrolled in a missing cadence version".into(),
            ))
        })
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
    let (cadences, entries) = preview_of(context, caller, &customer, now, days).await?;
    Ok(Preview {
        customer,
        cadences,
        entries,
    })
}

/// The preview of a customer already read: its steps and the cadences they
/// come from (the enrolled versions of both levels, then the overrides).
async fn preview_of(
    context: &Context,
    caller: &Caller,
    customer: &Customer,
    now: DateTime<Utc>,
    days: u32,
) -> AppResult<(Vec<Cadence>, Vec<PlannedStep>)> {
    let customer_cadence = enrolled_cadence(context, caller, customer, Level::Customer).await?;
    let invoice_cadence = enrolled_cadence(context, caller, customer, Level::Invoice).await?;
    let mut overrides = Vec::new();
    for id in chasing::override_cadence_ids(customer) {
        if let Some(record) = context.store.cadence(&caller.tenant, id).await? {
            overrides.push(record.cadence);
        }
    }
    if customer_cadence.is_none() && invoice_cadence.is_none() && overrides.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let settings = context.settings(&caller.tenant).await?;
    let stops = chasing::stops(customer, &settings);
    let input = chasing::chasing_input(
        customer,
        &stops,
        settings.time_zone,
        customer_cadence.as_ref(),
        invoice_cadence.as_ref(),
        &overrides,
    );
    let entries = chasing::preview_both(&input, customer, now, days);
    let cadences = customer_cadence
        .into_iter()
        .chain(invoice_cadence)
        .chain(overrides)
        .collect();
    Ok((cadences, entries))
}

/// The first step the preview would run within [`DEFAULT_PREVIEW_DAYS`], if
/// the customer is enrolled and nothing changes, with the cadences.
pub async fn next_step(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer: &Customer,
) -> AppResult<Option<(PlannedStep, Vec<Cadence>)>> {
    let (cadences, entries) =
        preview_of(context, caller, customer, now, DEFAULT_PREVIEW_DAYS).await?;
    Ok(entries.into_iter().next().map(|entry| (entry, cadences)))
}
