//! `/v1/cadences`: create, read, list, update, delete, new versions and
//! migrating enrolled customers to the current version (rules in
//! `app::usecases::cadences`). The request bodies are parsed here.

use crate::extract::{list_reply, Ctx};
use crate::{ApiError, ApiResponse};
use app::records::CadenceRecord;
use app::usecases::cadences::{self, DEFAULT_MIGRATE_LIMIT, MAX_MIGRATE_LIMIT};
use axum::extract::Path;
use domain::cadence::{
    Action, Assignment, AssignmentDraft, AssignmentMode, Audience, Cadence, CadenceDraft, Level,
    RuleDraft, Step, StepDraft, Trigger,
};
use domain::identity::Permission;
use domain::money::Money;
use domain::validation::FieldErrors;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

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
        level: cadence.level,
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
            "trigger" => {
                trigger = typed(
                    e,
                    &field,
                    item,
                    "must be account_age, past_due_age, days_from_due or invoice_age",
                )
            }
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
            level: Level::Customer,
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
            // Steps of one level mean nothing at the other: a new cadence instead.
            "level" => match (
                typed::<Level>(e, field, value, "must be customer or invoice"),
                base,
            ) {
                (Some(level), Some(cadence)) if level != cadence.level => {
                    e.add(field, "cannot change; create a cadence of the other level")
                }
                (Some(level), _) => draft.level = level,
                (None, _) => {}
            },
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

fn response(record: &CadenceRecord) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::ok(&view(record))?.with_version(u64::from(record.cadence.version)))
}

fn created(record: &CadenceRecord) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::json(StatusCode::CREATED, &view(record))?
        .with_version(u64::from(record.cadence.version))
        .with_location(format!("/v1/cadences/{}", record.cadence.id)))
}

pub async fn create(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let body = ctx.json_object()?;
    let change = cadences::create(&ctx.context, &ctx.caller, ctx.now, parse(&body, None)).await?;
    let response = created(&change.value)?;
    ctx.commit(change, response).await
}

pub async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    response(&cadences::get(&ctx.context, &ctx.caller, &id).await?)
}

pub async fn list(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let page = cadences::list(&ctx.context, &ctx.caller, ctx.page()?).await?;
    let items: Vec<Value> = page.items.iter().map(view).collect();
    list_reply(&items, page.next_cursor)
}

pub async fn patch(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = ctx.if_match_version()?;
    let body = ctx.json_object()?;
    let current = cadences::load(&ctx.context, &ctx.caller, &id).await?;
    let parsed = parse(&body, Some(&current.cadence));
    let change = cadences::update(
        &ctx.context,
        &ctx.caller,
        ctx.now,
        current,
        expected,
        parsed,
    )
    .await?;
    let response = response(&change.value)?;
    ctx.commit(change, response).await
}

/// `POST /v1/cadences/{id}/versions`: the body is the whole new definition;
/// `If-Match` is optional here.
pub async fn new_version(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = match ctx.header(http::header::IF_MATCH) {
        Some(_) => Some(ctx.if_match_version()?),
        None => None,
    };
    let body = ctx.json_object()?;
    let current = cadences::load(&ctx.context, &ctx.caller, &id).await?;
    let level = current.cadence.level;
    // A new version keeps the cadence's level.
    let parsed = parse(&body, None).and_then(|mut draft| {
        if !body.contains_key("level") {
            draft.level = level;
        }
        if draft.level == level {
            Ok(draft)
        } else {
            Err(FieldErrors::single(
                "level",
                "cannot change; create a cadence of the other level",
            ))
        }
    });
    let change = cadences::new_version(
        &ctx.context,
        &ctx.caller,
        ctx.now,
        current,
        expected,
        parsed,
    )
    .await?;
    let response = created(&change.value)?;
    ctx.commit(change, response).await
}

pub async fn delete(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let change = cadences::delete(&ctx.context, &ctx.caller, &id).await?;
    ctx.commit(change, ApiResponse::no_content()).await
}

/// `POST /v1/cadences/{id}/migrate[?limit=N]`: moves up to `limit`
/// customers on older versions; call again until `remaining` is 0.
pub async fn migrate(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let mut errors = FieldErrors::new();
    for (name, _) in ctx.params() {
        if name != "limit" {
            errors.add(name, "is not a parameter of this request");
        }
    }
    let limit = match ctx.param("limit") {
        None => DEFAULT_MIGRATE_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_MIGRATE_LIMIT).contains(&n) => n,
            _ => {
                errors.add("limit", "must be a whole number from 1 to 100");
                DEFAULT_MIGRATE_LIMIT
            }
        },
    };
    errors.into_result(())?;
    let migration = cadences::migrate(&ctx.context, &ctx.caller, ctx.now, &id, limit).await?;
    let response = ApiResponse::ok(&json!({
        "cadence_id": id,
        "version": migration.version,
        "migrated": migration.migrated,
        "cycles_restarted": migration.cycles_restarted,
        "skipped": migration.skipped,
        "remaining": migration.remaining,
    }))?;
    // Only the Idempotency-Key record, if any: each customer already committed.
    ctx.commit(
        app::usecases::Change::new(Vec::new(), (), app::error::AppError::stale_version),
        response,
    )
    .await
}
