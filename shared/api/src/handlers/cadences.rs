//! `/v1/cadences`: create, read, list, update, delete, new versions and
//! migrating enrolled customers to the current version.
//!
//! Versions: every saved change is the next `version` (also the `If-Match`
//! and `ETag` value), with an immutable snapshot that enrolled customers run
//! on. While customers are enrolled, a `PATCH` may change only what does not
//! change how they are chased (`name`, `assignment`); a change to `run_at`,
//! `days_of_week`, `days_of_month`, `threshold` or `steps` is 409, and
//! `POST /v1/cadences/{id}/versions` creates the next version instead.
//! Enrolled customers stay on their version until `POST .../migrate` moves
//! them; a customer moved between versions that chase identically keeps its
//! cycle, otherwise its cycle restarts.

use super::customers::valid_id;
use super::Ctx;
use crate::adapters::cadence_store::{self, CadenceRecord, VersionRecord};
use crate::adapters::customer_store::{self, enrolment_facet};
use crate::adapters::dynamo::{KeyQuery, StoreError};
use crate::adapters::keys::{listing_pk, tenant_pk, GSI1, GSI1PK, PK};
use crate::adapters::{contact_role_store, template_store};
use crate::chasing;
use crate::domain::cadence::{
    Action, Assignment, AssignmentDraft, AssignmentMode, Audience, Cadence, CadenceDraft,
    CadenceRefs, RuleDraft, Step, StepDraft, Trigger,
};
use crate::domain::history::{HistoryItem, HistoryType};
use crate::domain::identity::Permission;
use crate::domain::money::Money;
use crate::domain::template::Channel;
use crate::domain::validation::FieldErrors;
use crate::http::pagination::{list_reply, page_params};
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The API representation: the definition, its version and how many
/// customers are enrolled in any of its versions.
pub fn view(record: &CadenceRecord) -> Value {
    let mut value = json!(record.cadence);
    value["threshold"] = json!(record.cadence.threshold);
    value["enrolled_count"] = json!(record.enrolled_count);
    value["created_at"] = json!(record.created_at);
    value["updated_at"] = json!(record.updated_at);
    value
}

const COMPUTED: &[&str] = &[
    "id",
    "version",
    "enrolled_count",
    "created_at",
    "updated_at",
];

/// Deserializes one field, or names it with `problem`.
fn typed<T: DeserializeOwned>(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    problem: &str,
) -> Option<T> {
    match serde_json::from_value(value.clone()) {
        Ok(parsed) => Some(parsed),
        Err(_) => {
            errors.add(field, problem);
            None
        }
    }
}

/// A list field where `null` means empty.
fn list_field<T: DeserializeOwned>(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    problem: &str,
) -> Option<Vec<T>> {
    if value.is_null() {
        return Some(Vec::new());
    }
    typed(errors, field, value, problem)
}

fn step_from(step: &Step) -> StepDraft {
    StepDraft {
        trigger: step.trigger,
        days: i64::from(step.days),
        action: step.action,
        template_id: step.template_id.clone(),
        audience: step.audience,
        contact_role: step.contact_role.clone(),
        assignee_id: step.assignee_id.clone(),
        attach_invoices: step.attach_invoices,
    }
}

fn assignment_from(assignment: &Assignment) -> AssignmentDraft {
    AssignmentDraft {
        mode: assignment.mode,
        priority: i64::from(assignment.priority),
        rules: assignment
            .rules
            .iter()
            .map(|rule| RuleDraft {
                field: rule.field.to_string(),
                op: rule.op.as_str().to_string(),
                value: Value::String(rule.value.clone()),
            })
            .collect(),
    }
}

/// The draft a patch starts from: the cadence as it is.
fn draft_of(cadence: &Cadence) -> CadenceDraft {
    CadenceDraft {
        name: cadence.name.clone(),
        run_at: cadence.timing.run_at.to_string(),
        days_of_week: cadence
            .timing
            .days_of_week
            .iter()
            .map(|d| d.as_str().to_string())
            .collect(),
        days_of_month: cadence
            .timing
            .days_of_month
            .iter()
            .map(|d| i64::from(*d))
            .collect(),
        threshold: cadence.threshold,
        steps: cadence.steps.iter().map(step_from).collect(),
        assignment: Some(assignment_from(&cadence.assignment)),
    }
}

fn parse_step(errors: &mut FieldErrors, index: usize, value: &Value) -> Option<StepDraft> {
    let prefix = format!("steps[{index}]");
    let Some(object) = value.as_object() else {
        errors.add(prefix, "must be an object {trigger, days, action, ...}");
        return None;
    };
    let before = errors.len();
    let mut trigger = None;
    let mut days = None;
    let mut action = None;
    let mut step = StepDraft {
        trigger: Trigger::AccountAge,
        days: 0,
        action: Action::Email,
        template_id: None,
        audience: Audience::Normal,
        contact_role: None,
        assignee_id: None,
        attach_invoices: false,
    };
    for (key, item) in object {
        let field = format!("{prefix}.{key}");
        let e = &mut *errors;
        let text = "must be a string or null";
        match key.as_str() {
            "trigger" => trigger = typed(e, &field, item, "must be account_age or past_due_age"),
            "days" => days = typed(e, &field, item, "must be a whole number of days"),
            "action" => {
                action = typed(
                    e,
                    &field,
                    item,
                    "must be email, sms, letter, phone_call or escalation",
                )
            }
            "template_id" => step.template_id = typed(e, &field, item, text).flatten(),
            "contact_role" => step.contact_role = typed(e, &field, item, text).flatten(),
            "assignee_id" => step.assignee_id = typed(e, &field, item, text).flatten(),
            "audience" => {
                step.audience =
                    typed(e, &field, item, "must be normal or escalated").unwrap_or_default()
            }
            "attach_invoices" => {
                step.attach_invoices =
                    typed(e, &field, item, "must be true or false").unwrap_or_default()
            }
            _ => e.add(field, "is not a step field"),
        }
    }
    for (key, missing) in [
        ("trigger", trigger.is_none()),
        ("days", days.is_none()),
        ("action", action.is_none()),
    ] {
        if missing && !object.contains_key(key) {
            errors.add(format!("{prefix}.{key}"), "is required");
        }
    }
    step.trigger = trigger?;
    step.days = days?;
    step.action = action?;
    (errors.len() == before).then_some(step)
}

fn parse_assignment(errors: &mut FieldErrors, value: &Value) -> Option<AssignmentDraft> {
    let Some(object) = value.as_object() else {
        errors.add(
            "assignment",
            "must be an object {mode, priority, rules} or null",
        );
        return None;
    };
    let mut draft = AssignmentDraft {
        mode: AssignmentMode::Manual,
        priority: 0,
        rules: Vec::new(),
    };
    for (key, item) in object {
        let field = format!("assignment.{key}");
        match key.as_str() {
            "mode" => {
                draft.mode =
                    typed(errors, &field, item, "must be manual or always").unwrap_or_default()
            }
            "priority" => {
                draft.priority =
                    typed(errors, &field, item, "must be a whole number").unwrap_or_default()
            }
            "rules" => {
                let Some(rules) = item.as_array() else {
                    errors.add(field, "must be an array of {field, op, value}");
                    continue;
                };
                for (index, rule) in rules.iter().enumerate() {
                    let path = format!("assignment.rules[{index}]");
                    let parsed = rule.as_object().and_then(|o| {
                        let known = o
                            .keys()
                            .all(|k| matches!(k.as_str(), "field" | "op" | "value"));
                        match (o.get("field"), o.get("op"), o.get("value")) {
                            (Some(Value::String(f)), Some(Value::String(op)), Some(v)) if known => {
                                Some(RuleDraft {
                                    field: f.clone(),
                                    op: op.clone(),
                                    value: v.clone(),
                                })
                            }
                            _ => None,
                        }
                    });
                    match parsed {
                        Some(rule) => draft.rules.push(rule),
                        None => errors.add(
                            path,
                            "must be {\"field\": string, \"op\": string, \"value\": string or number}",
                        ),
                    }
                }
            }
            _ => errors.add(field, "is not an assignment field"),
        }
    }
    Some(draft)
}

/// The submitted fields over `base` (a patch) or alone (a create or a new
/// version, where `name`, `run_at` and `steps` are required). Only type
/// problems are found here; meaning is checked by [`CadenceDraft::validate`].
fn parse(body: &Map<String, Value>, base: Option<&Cadence>) -> Result<CadenceDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut draft = match base {
        Some(cadence) => draft_of(cadence),
        None => CadenceDraft {
            name: String::new(),
            run_at: String::new(),
            days_of_week: Vec::new(),
            days_of_month: Vec::new(),
            threshold: None,
            steps: Vec::new(),
            assignment: None,
        },
    };
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "name" => draft.name = typed(e, field, value, "must be a string").unwrap_or_default(),
            "run_at" => {
                draft.run_at =
                    typed(e, field, value, "must be a local time written HH:MM").unwrap_or_default()
            }
            "days_of_week" => {
                draft.days_of_week = list_field(
                    e,
                    field,
                    value,
                    "must be a list of days, e.g. [\"mon\", \"fri\"]",
                )
                .unwrap_or_default()
            }
            "days_of_month" => {
                draft.days_of_month = list_field(
                    e,
                    field,
                    value,
                    "must be a list of days of the month, 1 to 31",
                )
                .unwrap_or_default()
            }
            "threshold" => {
                draft.threshold = typed::<Option<Money>>(
                    e,
                    field,
                    value,
                    "must be null or {\"amount\": \"100.00\", \"currency\": \"EUR\"}",
                )
                .flatten()
            }
            "steps" => match value.as_array() {
                Some(items) => {
                    draft.steps = items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, item)| parse_step(e, i, item))
                        .collect()
                }
                None => e.add(field, "must be an array of steps"),
            },
            "assignment" if value.is_null() => draft.assignment = None,
            "assignment" => draft.assignment = parse_assignment(e, value),
            computed if COMPUTED.contains(&computed) => {
                e.add(field, "is computed and cannot be set")
            }
            _ => e.add(field, "is not a cadence field"),
        }
    }
    if base.is_none() {
        for required in ["name", "run_at", "steps"] {
            if !body.contains_key(required) {
                errors.add(required, "is required");
            }
        }
    }
    errors.into_result(draft)
}

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

async fn refs(ctx: &Ctx<'_>, draft: &CadenceDraft) -> Result<Refs, ApiError> {
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let mut refs = Refs {
        templates: BTreeMap::new(),
        roles: BTreeSet::new(),
    };
    // Validation refuses longer cadences before looking at any reference.
    if draft.steps.len() > crate::domain::cadence::MAX_STEPS {
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
        if let Some(record) = template_store::get(table, tenant, &id).await? {
            refs.templates.insert(id, record.template.channel);
        }
    }
    let role_ids: BTreeSet<String> = draft
        .steps
        .iter()
        .filter_map(|s| clean(&s.contact_role))
        .collect();
    for id in role_ids {
        if contact_role_store::get(table, tenant, &id).await?.is_some() {
            refs.roles.insert(id);
        }
    }
    Ok(refs)
}

async fn validate(
    ctx: &Ctx<'_>,
    parsed: Result<CadenceDraft, FieldErrors>,
    id: &str,
    version: u32,
) -> Result<Cadence, ApiError> {
    let draft = parsed?;
    let refs = refs(ctx, &draft).await?;
    Ok(draft.validate(id.to_string(), version, &refs)?)
}

pub(crate) async fn load(ctx: &Ctx<'_>, id: &str) -> Result<CadenceRecord, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::NotFound);
    }
    cadence_store::get(&ctx.app.table, &ctx.caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

fn concurrent() -> ApiError {
    ApiError::conflict(
        "version_conflict",
        "the cadence changed, or customers were enrolled in it, since it was read; reload it and retry",
    )
}

fn in_use(what: &str) -> ApiError {
    ApiError::conflict(
        "cadence_in_use",
        format!("customers are enrolled in this cadence; {what}"),
    )
}

fn with_version(response: ApiResponse, cadence: &Cadence) -> ApiResponse {
    response.with_version(u64::from(cadence.version))
}

pub async fn create(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = request::json_object(request)?;
    let id = ulid::Ulid::new().to_string();
    let cadence = validate(ctx, parse(&body, None), &id, 1).await?;
    let record = CadenceRecord {
        cadence,
        enrolled_count: 0,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    // Writes: [0] the cadence, [1] the tenant's cadence count, [2..] snapshot and copies.
    let writes = cadence_store::save(&ctx.app.table, &ctx.caller.tenant, &record, 0)?;
    let response = with_version(
        ApiResponse::json(StatusCode::CREATED, &view(&record))?,
        &record.cadence,
    )
    .with_location(format!("/v1/cadences/{id}"));
    ctx.commit(
        writes,
        |index| match index {
            1 => ApiError::conflict(
                "cadence_limit",
                format!(
                    "a tenant has at most {} cadences; delete one first",
                    crate::domain::cadence::MAX_CADENCES_PER_TENANT
                ),
            ),
            _ => concurrent(),
        },
        response,
    )
    .await
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let record = load(ctx, id).await?;
    Ok(with_version(
        ApiResponse::ok(&view(&record))?,
        &record.cadence,
    ))
}

pub async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let partition = tenant_pk(&ctx.caller.tenant);
    let page = page_params(request, (PK, &partition))?;
    let (records, last_key) =
        cadence_store::list(&ctx.app.table, &ctx.caller.tenant, page.limit, page.start).await?;
    let items: Vec<Value> = records.iter().map(view).collect();
    list_reply(&items, last_key.as_ref())
}

pub async fn patch(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = request::if_match_version(request)?;
    let body = request::json_object(request)?;
    let current = load(ctx, id).await?;
    let parsed = parse(&body, Some(&current.cadence));
    if u64::from(current.cadence.version) != expected {
        return Err(ApiError::stale_version());
    }
    let next = validate(ctx, parsed, id, current.cadence.version + 1).await?;
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
        updated_at: ctx.now,
    };
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let previous = current.cadence.version;
    let writes = if changes_chasing {
        cadence_store::save_unenrolled(table, tenant, &record, previous)?
    } else {
        cadence_store::save(table, tenant, &record, previous)?
    };
    let response = with_version(ApiResponse::ok(&view(&record))?, &record.cadence);
    ctx.commit(writes, |_| concurrent(), response).await
}

/// `POST /v1/cadences/{id}/versions`: the body is the whole new definition.
/// `If-Match` is optional here; without it the version read is the one
/// replaced (a concurrent change still makes this a 409).
pub async fn new_version(
    ctx: &Ctx<'_>,
    request: &Request,
    id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = match request.headers().contains_key(http::header::IF_MATCH) {
        true => Some(request::if_match_version(request)?),
        false => None,
    };
    let body = request::json_object(request)?;
    let current = load(ctx, id).await?;
    let parsed = parse(&body, None);
    if expected.is_some_and(|v| v != u64::from(current.cadence.version)) {
        return Err(ApiError::stale_version());
    }
    let next = validate(ctx, parsed, id, current.cadence.version + 1).await?;
    let record = CadenceRecord {
        cadence: next,
        enrolled_count: current.enrolled_count,
        created_at: current.created_at,
        updated_at: ctx.now,
    };
    let writes = cadence_store::save(
        &ctx.app.table,
        &ctx.caller.tenant,
        &record,
        current.cadence.version,
    )?;
    let response = with_version(
        ApiResponse::json(StatusCode::CREATED, &view(&record))?,
        &record.cadence,
    )
    .with_location(format!("/v1/cadences/{id}"));
    ctx.commit(writes, |_| concurrent(), response).await
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let record = load(ctx, id).await?;
    let unenrol_first = "unenrol them (DELETE /v1/customers/{id}/chasing) first";
    if record.enrolled_count > 0 {
        return Err(in_use(unenrol_first));
    }
    let writes = cadence_store::delete(&ctx.app.table, &ctx.caller.tenant, id)?;
    ctx.commit(writes, |_| in_use(unenrol_first), ApiResponse::no_content())
        .await
}

/// Customers moved per request by default, and at most.
const DEFAULT_MIGRATE_LIMIT: usize = 25;
const MAX_MIGRATE_LIMIT: usize = 100;
/// Index Queries per request, whatever the number of old versions.
const MAX_MIGRATE_QUERIES: usize = 10;

enum Moved {
    Yes {
        restarted: bool,
    },
    /// Not on that version any more (the index lags) or changed meanwhile.
    Skipped,
}

/// `POST /v1/cadences/{id}/migrate[?limit=N]`: moves up to `limit` customers
/// enrolled in older versions to the current one, each in its own
/// transaction, and answers how many remain; call again until `remaining`
/// is 0. Customers are found through their listing entry under the facet
/// `cadence:<id>:<version>` (GSI1), read only for versions whose snapshot
/// counts enrolled customers.
pub async fn migrate(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let params = request.query_string_parameters();
    let mut errors = FieldErrors::new();
    for (name, _) in params.iter() {
        if name != "limit" {
            errors.add(name, "is not a parameter of this request");
        }
    }
    let limit = match params.first("limit") {
        None => DEFAULT_MIGRATE_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_MIGRATE_LIMIT).contains(&n) => n,
            _ => {
                errors.add("limit", "must be a whole number from 1 to 100");
                DEFAULT_MIGRATE_LIMIT
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let record = load(ctx, id).await?;
    let current = &record.cadence;
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let zone = ctx.settings().await?.time_zone;
    let versions = cadence_store::versions(table, tenant, id).await?;
    let old: Vec<&VersionRecord> = versions
        .iter()
        .filter(|v| v.cadence.version < current.version && v.enrolled > 0)
        .collect();
    let (mut migrated, mut restarted, mut skipped, mut queries) = (0usize, 0usize, 0usize, 0usize);
    'versions: for version in &old {
        let partition = listing_pk(tenant, &enrolment_facet(id, version.cadence.version));
        let mut start = None;
        loop {
            let room = limit.saturating_sub(migrated + skipped);
            if room == 0 || queries >= MAX_MIGRATE_QUERIES {
                break 'versions;
            }
            queries += 1;
            let page = table
                .query(
                    KeyQuery::partition(GSI1PK, partition.clone())
                        .on_index(GSI1)
                        .limit(room as i32)
                        .start(start),
                )
                .await?;
            for item in &page.items {
                let Some(AttributeValue::S(customer_id)) = item.get("id") else {
                    continue;
                };
                match migrate_one(ctx, customer_id, &version.cadence, current, zone).await? {
                    Moved::Yes { restarted: r } => {
                        migrated += 1;
                        restarted += usize::from(r);
                    }
                    Moved::Skipped => skipped += 1,
                }
            }
            start = page.last_key;
            if start.is_none() {
                break;
            }
        }
    }
    let remaining: u64 = cadence_store::versions(table, tenant, id)
        .await?
        .iter()
        .filter(|v| v.cadence.version < current.version)
        .map(|v| v.enrolled)
        .sum();
    let response = ApiResponse::ok(&json!({
        "cadence_id": id,
        "version": current.version,
        "migrated": migrated,
        "cycles_restarted": restarted,
        "skipped": skipped,
        "remaining": remaining,
    }))?;
    // Only the Idempotency-Key record, if any: each customer already committed.
    ctx.commit(Vec::new(), |_| concurrent(), response).await
}

async fn migrate_one(
    ctx: &Ctx<'_>,
    customer_id: &str,
    from: &Cadence,
    to: &Cadence,
    zone: chrono_tz::Tz,
) -> Result<Moved, ApiError> {
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let Some(stored) = customer_store::get(table, tenant, customer_id).await? else {
        return Ok(Moved::Skipped);
    };
    let chasing_state = &stored.customer.chasing;
    if chasing_state.cadence_id.as_deref() != Some(from.id.as_str())
        || chasing_state.cadence_version != Some(from.version)
    {
        return Ok(Moved::Skipped);
    }
    let mut next = stored.customer.clone();
    let restarted = chasing::migrate(&mut next, from, to, zone, ctx.now);
    let history = HistoryItem::new(
        customer_id,
        HistoryType::ChasingChanged,
        ctx.now,
        ctx.caller.user.as_str(),
        format!("Moved to version {} of cadence {}", to.version, to.name),
        json!({
            "change": "migrated",
            "cadence_id": to.id,
            "from_version": from.version,
            "cadence_version": to.version,
            "cycle_restarted": restarted,
        }),
    );
    let mut writes = customer_store::put(table, tenant, next, Some(&stored), &[history])?;
    writes.extend(cadence_store::move_enrolment(
        table,
        tenant,
        Some((&from.id, from.version)),
        Some((&to.id, to.version)),
    )?);
    match table.transact(writes).await {
        Ok(()) => Ok(Moved::Yes { restarted }),
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
            Ok(Moved::Skipped)
        }
        Err(other) => Err(other.into()),
    }
}
