//! Cadences: create, read, list, update, delete, new versions and migrating
//! enrolled customers to the current version.
//!
//! Versions: every saved change is the next `version`, with an immutable
//! snapshot that enrolled customers run on. While customers are enrolled, an
//! update may change only what does not change how they are chased (`name`,
//! `assignment`); a change to the timing, threshold or steps is refused and
//! a new version is created instead. Enrolled customers stay on their
//! version until migrated; a customer moved between versions that chase
//! identically keeps its cycle, otherwise its cycle restarts.

use super::{valid_id, Change};
use crate::access::require;
use crate::chasing;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{
    CustomerFilter, CustomerQuery, CustomerSort, EnrolmentDeltas, Page, PageRequest, StoreError,
    Write,
};
use crate::records::CadenceRecord;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use domain::cadence::{Cadence, CadenceDraft, CadenceRefs, MAX_CADENCES_PER_TENANT, MAX_STEPS};
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission};
use domain::template::Channel;
use domain::validation::FieldErrors;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// What validation needs from other resources: the channel of each template
/// and which contact roles exist, read once per distinct id.
struct Refs {
    templates: BTreeMap<String, Channel>,
    roles: BTreeSet<String>,
}

impl CadenceRefs for Refs {
    fn template_channel(&self, template_id: &str) -> Option<Channel> {
        self.templates.get(template_id).copied()
    }

    fn contact_role_exists(&self, role: &str) -> bool {
        self.roles.contains(role)
    }
}

async fn refs(context: &Context, caller: &Caller, draft: &CadenceDraft) -> AppResult<Refs> {
    let tenant = &caller.tenant;
    let mut refs = Refs {
        templates: BTreeMap::new(),
        roles: BTreeSet::new(),
    };
    // Validation refuses longer cadences before looking at any reference.
    if draft.steps.len() > MAX_STEPS {
        return Ok(refs);
    }
    let clean = |raw: &Option<String>| {
        raw.as_deref()
            .map(str::trim)
            .filter(|id| valid_id(id))
            .map(str::to_string)
    };
    let template_ids: BTreeSet<String> = draft
        .steps
        .iter()
        .filter_map(|s| clean(&s.template_id))
        .collect();
    for id in template_ids {
        if let Some(record) = context.store.template(tenant, &id).await? {
            refs.templates.insert(id, record.template.channel);
        }
    }
    let role_ids: BTreeSet<String> = draft
        .steps
        .iter()
        .filter_map(|s| clean(&s.contact_role))
        .collect();
    for id in role_ids {
        if context.store.contact_role(tenant, &id).await?.is_some() {
            refs.roles.insert(id);
        }
    }
    Ok(refs)
}

async fn validate(
    context: &Context,
    caller: &Caller,
    parsed: Result<CadenceDraft, FieldErrors>,
    id: &str,
    version: u32,
) -> AppResult<Cadence> {
    let draft = parsed?;
    let refs = refs(context, caller, &draft).await?;
    Ok(draft.validate(id.to_string(), version, &refs)?)
}

pub async fn load(context: &Context, caller: &Caller, id: &str) -> AppResult<CadenceRecord> {
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    context
        .store
        .cadence(&caller.tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}

fn concurrent() -> AppError {
    AppError::conflict(
        "version_conflict",
        "the cadence changed, or customers were enrolled in it, since it was read; reload it and retry",
    )
}

fn in_use(what: &str) -> AppError {
    AppError::conflict(
        "cadence_in_use",
        format!("customers are enrolled in this cadence; {what}"),
    )
}

fn limit_reached() -> AppError {
    AppError::conflict(
        "cadence_limit",
        format!("a tenant has at most {MAX_CADENCES_PER_TENANT} cadences; delete one first"),
    )
}

const UNENROL_FIRST: &str = "unenrol them (DELETE /v1/customers/{id}/chasing) first";

fn unenrol_first() -> AppError {
    in_use(UNENROL_FIRST)
}

pub async fn create(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    draft: Result<CadenceDraft, FieldErrors>,
) -> AppResult<Change<CadenceRecord>> {
    require(caller, Permission::ManageRecords)?;
    let id = context.ids.new_id(now);
    let cadence = validate(context, caller, draft, &id, 1).await?;
    let record = CadenceRecord {
        cadence,
        enrolled_count: 0,
        created_at: now,
        updated_at: now,
    };
    let writes = vec![
        Write::SaveCadence {
            record: Box::new(record.clone()),
            previous_version: 0,
            unenrolled: false,
        },
        Write::CountCadences { delta: 1 },
    ];
    Ok(Change::new(writes, record, concurrent).on_conflict(1, limit_reached))
}

pub async fn get(context: &Context, caller: &Caller, id: &str) -> AppResult<CadenceRecord> {
    require(caller, Permission::Read)?;
    load(context, caller, id).await
}

pub async fn list(
    context: &Context,
    caller: &Caller,
    page: PageRequest,
) -> AppResult<Page<CadenceRecord>> {
    require(caller, Permission::Read)?;
    Ok(context.store.cadences(&caller.tenant, page).await?)
}

/// `draft` (the cadence with the request's fields over it) as the next
/// version, if `expected` is still the current one.
pub async fn update(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    current: CadenceRecord,
    expected: u64,
    draft: Result<CadenceDraft, FieldErrors>,
) -> AppResult<Change<CadenceRecord>> {
    require(caller, Permission::ManageRecords)?;
    if u64::from(current.cadence.version) != expected {
        return Err(AppError::stale_version());
    }
    let id = current.cadence.id.clone();
    let next = validate(context, caller, draft, &id, current.cadence.version + 1).await?;
    let changes_chasing = !chasing::same_chasing(&current.cadence, &next);
    if changes_chasing && current.enrolled_count > 0 {
        return Err(in_use(
            "its run_at, days, threshold and steps cannot change; create a new version with POST /v1/cadences/{id}/versions",
        ));
    }
    let record = CadenceRecord {
        cadence: next,
        enrolled_count: current.enrolled_count,
        created_at: current.created_at,
        updated_at: now,
    };
    let writes = vec![Write::SaveCadence {
        record: Box::new(record.clone()),
        previous_version: current.cadence.version,
        unenrolled: changes_chasing,
    }];
    Ok(Change::new(writes, record, concurrent))
}

/// The whole new definition as the next version. `expected` is optional
/// here; without it the version read is the one replaced (a concurrent
/// change still fails the write).
pub async fn new_version(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    current: CadenceRecord,
    expected: Option<u64>,
    draft: Result<CadenceDraft, FieldErrors>,
) -> AppResult<Change<CadenceRecord>> {
    require(caller, Permission::ManageRecords)?;
    if expected.is_some_and(|v| v != u64::from(current.cadence.version)) {
        return Err(AppError::stale_version());
    }
    let id = current.cadence.id.clone();
    let next = validate(context, caller, draft, &id, current.cadence.version + 1).await?;
    let record = CadenceRecord {
        cadence: next,
        enrolled_count: current.enrolled_count,
        created_at: current.created_at,
        updated_at: now,
    };
    let writes = vec![Write::SaveCadence {
        record: Box::new(record.clone()),
        previous_version: current.cadence.version,
        unenrolled: false,
    }];
    Ok(Change::new(writes, record, concurrent))
}

pub async fn delete(context: &Context, caller: &Caller, id: &str) -> AppResult<Change<()>> {
    require(caller, Permission::ManageRecords)?;
    let record = load(context, caller, id).await?;
    if record.enrolled_count > 0 {
        return Err(unenrol_first());
    }
    let writes = vec![Write::DeleteCadence { id: id.to_string() }];
    Ok(Change::new(writes, (), unenrol_first))
}

/// Customers moved per request by default, and at most.
pub const DEFAULT_MIGRATE_LIMIT: usize = 25;
pub const MAX_MIGRATE_LIMIT: usize = 100;
/// List pages read per request, whatever the number of old versions.
const MAX_MIGRATE_QUERIES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Migration {
    pub version: u32,
    pub migrated: usize,
    pub cycles_restarted: usize,
    pub skipped: usize,
    pub remaining: u64,
}

enum Moved {
    Yes {
        restarted: bool,
    },
    /// Not on that version any more (the list lags) or changed meanwhile.
    Skipped,
}

/// Moves up to `limit` customers enrolled in older versions to the current
/// one, each in its own transaction, and says how many remain (call again
/// until none). Customers are found through the list of those enrolled in
/// each older version whose snapshot counts enrolled customers.
pub async fn migrate(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    id: &str,
    limit: usize,
) -> AppResult<Migration> {
    require(caller, Permission::ManageRecords)?;
    let record = load(context, caller, id).await?;
    let current = &record.cadence;
    let tenant = &caller.tenant;
    let zone = context.settings(tenant).await?.time_zone;
    let versions = context.store.cadence_versions(tenant, Some(id)).await?;
    let old: Vec<&Cadence> = versions
        .iter()
        .filter(|v| v.cadence.version < current.version && v.enrolled > 0)
        .map(|v| &v.cadence)
        .collect();
    let (mut migrated, mut restarted, mut skipped, mut queries) = (0usize, 0usize, 0usize, 0usize);
    'versions: for version in old {
        let mut cursor = None;
        loop {
            let room = limit.saturating_sub(migrated + skipped);
            if room == 0 || queries >= MAX_MIGRATE_QUERIES {
                break 'versions;
            }
            queries += 1;
            let page = context
                .store
                .list_customers(
                    tenant,
                    CustomerQuery {
                        filters: vec![CustomerFilter::Enrolment {
                            cadence_id: id.to_string(),
                            version: version.version,
                        }],
                        search: None,
                        sort: CustomerSort::Name,
                        page: PageRequest {
                            limit: room,
                            cursor: cursor.take(),
                        },
                    },
                )
                .await?;
            for customer in &page.items {
                match migrate_one(context, caller, now, &customer.id, version, current, zone)
                    .await?
                {
                    Moved::Yes { restarted: r } => {
                        migrated += 1;
                        restarted += usize::from(r);
                    }
                    Moved::Skipped => skipped += 1,
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let remaining: u64 = context
        .store
        .cadence_versions(tenant, Some(id))
        .await?
        .iter()
        .filter(|v| v.cadence.version < current.version)
        .map(|v| v.enrolled)
        .sum();
    Ok(Migration {
        version: current.version,
        migrated,
        cycles_restarted: restarted,
        skipped,
        remaining,
    })
}

async fn migrate_one(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
    from: &Cadence,
    to: &Cadence,
    zone: Tz,
) -> AppResult<Moved> {
    let tenant = &caller.tenant;
    let Some(stored) = context.store.customer(tenant, customer_id).await? else {
        return Ok(Moved::Skipped);
    };
    if stored.customer.chasing.enrolment(from.level) != Some((from.id.clone(), from.version)) {
        return Ok(Moved::Skipped);
    }
    let mut next = stored.customer.clone();
    let restarted = chasing::migrate(&mut next, from, to, zone, now);
    let history = HistoryItem::new(
        customer_id,
        HistoryType::ChasingChanged,
        now,
        caller.user.as_str(),
        format!("Moved to version {} of cadence {}", to.version, to.name),
        json!({
            "change": "migrated",
            "cadence_id": to.id,
            "from_version": from.version,
            "cadence_version": to.version,
            "cycle_restarted": restarted,
        }),
    );
    let mut writes = crate::writes::customer(next, Some(&stored), &[history]);
    writes.push(Write::CountEnrolments(EnrolmentDeltas::moving(
        Some((from.id.clone(), from.version)),
        Some((to.id.clone(), to.version)),
    )));
    match context.store.commit(tenant, writes).await {
        Ok(()) => Ok(Moved::Yes { restarted }),
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
            Ok(Moved::Skipped)
        }
        Err(other) => Err(other.into()),
    }
}
