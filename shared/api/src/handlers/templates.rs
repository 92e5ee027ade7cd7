//! `/v1/templates`: email and SMS templates, checked when saved (an unknown
//! variable is a 422 naming `subject` or `body`), and their preview rendered
//! for one customer with the data a chase would use.

use super::customers::valid_id;
use super::Ctx;
use crate::adapters::cadence_store;
use crate::adapters::customer_store;
use crate::adapters::keys::{contact_sk, customer_pk, tenant_pk, PK};
use crate::adapters::template_store::{self, TemplateRecord};
use crate::domain::cadence::Cadence;
use crate::domain::contact::Contact;
use crate::domain::identity::Permission;
use crate::domain::template::{Channel, Template, TemplateDraft};
use crate::domain::validation::FieldErrors;
use crate::http::pagination::{list_reply, page_params};
use crate::http::{auth, request, ApiError, ApiResponse};
use http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

pub fn view(record: &TemplateRecord) -> Value {
    let template = &record.template;
    json!({
        "id": template.id,
        "name": template.name,
        "channel": template.channel,
        "subject": template.subject,
        "body": template.body,
        "version": template.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    })
}

fn channel(raw: &str) -> Option<Channel> {
    match raw {
        "email" => Some(Channel::Email),
        "sms" => Some(Channel::Sms),
        _ => None,
    }
}

/// The submitted fields over `base` (a patch) or alone (a create). Type
/// problems are reported here; meaning (variables, sizes) by
/// [`TemplateDraft::validate`].
fn parse(body: &Map<String, Value>, base: Option<&Template>) -> Result<TemplateDraft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut draft = match base {
        Some(template) => TemplateDraft {
            name: template.name.clone(),
            channel: template.channel,
            subject: template.subject.clone(),
            body: template.body.clone(),
        },
        None => TemplateDraft {
            name: String::new(),
            channel: Channel::Email,
            subject: None,
            body: String::new(),
        },
    };
    for (field, value) in body {
        match (field.as_str(), value) {
            ("name", Value::String(name)) => draft.name = name.clone(),
            ("body", Value::String(text)) => draft.body = text.clone(),
            ("name" | "body", _) => errors.add(field, "must be a string"),
            ("subject", Value::Null) => draft.subject = None,
            ("subject", Value::String(subject)) => draft.subject = Some(subject.clone()),
            ("subject", _) => errors.add(field, "must be a string or null"),
            ("channel", value) => match value.as_str().and_then(channel) {
                Some(c) if base.is_some_and(|t| t.channel != c) => errors.add(
                    field,
                    "cannot change: cadence steps rely on it; create another template",
                ),
                Some(c) => draft.channel = c,
                None => errors.add(field, "must be email or sms"),
            },
            ("id" | "version" | "created_at" | "updated_at", _) => {
                errors.add(field, "is computed and cannot be set")
            }
            _ => errors.add(field, "is not a template field"),
        }
    }
    if base.is_none() {
        for required in ["name", "channel", "body"] {
            if !body.contains_key(required) {
                errors.add(required, "is required");
            }
        }
    }
    errors.into_result(draft)
}

/// Type errors first, then what validation finds in the rest.
fn validate(
    parsed: Result<TemplateDraft, FieldErrors>,
    id: String,
    version: u32,
) -> Result<Template, ApiError> {
    match parsed {
        Ok(draft) => Ok(draft.validate(id, version)?),
        Err(errors) => Err(errors.into()),
    }
}

pub(crate) async fn load(ctx: &Ctx<'_>, id: &str) -> Result<TemplateRecord, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::NotFound);
    }
    template_store::get(&ctx.app.table, &ctx.caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn create(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = request::json_object(request)?;
    let template = validate(parse(&body, None), ulid::Ulid::new().to_string(), 1)?;
    let record = TemplateRecord {
        template,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let write = template_store::save(&ctx.app.table, &ctx.caller.tenant, &record, 0)?;
    let response = ApiResponse::json(StatusCode::CREATED, &view(&record))?
        .with_version(u64::from(record.template.version))
        .with_location(format!("/v1/templates/{}", record.template.id));
    ctx.commit(vec![write], |_| ApiError::stale_version(), response)
        .await
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let record = load(ctx, id).await?;
    Ok(ApiResponse::ok(&view(&record))?.with_version(u64::from(record.template.version)))
}

pub async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let partition = tenant_pk(&ctx.caller.tenant);
    let page = page_params(request, (PK, &partition))?;
    let (records, last_key) =
        template_store::list(&ctx.app.table, &ctx.caller.tenant, page.limit, page.start).await?;
    let items: Vec<Value> = records.iter().map(view).collect();
    list_reply(&items, last_key.as_ref())
}

pub async fn patch(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = request::if_match_version(request)?;
    let body = request::json_object(request)?;
    let current = load(ctx, id).await?;
    let parsed = parse(&body, Some(&current.template));
    if u64::from(current.template.version) != expected {
        return Err(ApiError::stale_version());
    }
    let template = validate(parsed, id.to_string(), current.template.version + 1)?;
    let record = TemplateRecord {
        template,
        created_at: current.created_at,
        updated_at: ctx.now,
    };
    let write = template_store::save(
        &ctx.app.table,
        &ctx.caller.tenant,
        &record,
        current.template.version,
    )?;
    let response =
        ApiResponse::ok(&view(&record))?.with_version(u64::from(record.template.version));
    ctx.commit(vec![write], |_| ApiError::stale_version(), response)
        .await
}

fn uses(cadence: &Cadence, template_id: &str) -> bool {
    cadence
        .steps
        .iter()
        .any(|step| step.template_id.as_deref() == Some(template_id))
}

/// A template a cadence uses cannot go: not while the current version of
/// any cadence uses it, nor while customers run on an older version that does.
pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let record = load(ctx, id).await?;
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let cadences = cadence_store::all(table, tenant).await?;
    if let Some(user) = cadences.iter().find(|c| uses(&c.cadence, id)) {
        return Err(in_use(&user.cadence.name));
    }
    if cadences.iter().any(|c| c.enrolled_count > 0) {
        let live: BTreeSet<&str> = cadences.iter().map(|c| c.cadence.id.as_str()).collect();
        let versions = cadence_store::all_versions(table, tenant).await?;
        let older = versions.iter().find(|v| {
            v.enrolled > 0 && live.contains(v.cadence.id.as_str()) && uses(&v.cadence, id)
        });
        if let Some(version) = older {
            return Err(in_use(&format!(
                "{} (version {}, which customers still run on)",
                version.cadence.name, version.cadence.version
            )));
        }
    }
    let write = template_store::delete(table, tenant, &record)?;
    ctx.commit(
        vec![write],
        |_| ApiError::stale_version(),
        ApiResponse::no_content(),
    )
    .await
}

fn in_use(cadence: &str) -> ApiError {
    ApiError::conflict(
        "template_in_use",
        format!("cadence {cadence} uses this template; change its steps first"),
    )
}

/// `POST /v1/templates/{id}/preview {customer_id}`: the template rendered
/// for that customer as a chase would be today. Nothing is written or sent.
pub async fn preview(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let body = request::json_object(request)?;
    let mut errors = FieldErrors::new();
    let mut customer_id = None;
    for (field, value) in &body {
        match (field.as_str(), value) {
            ("customer_id", Value::String(raw)) => customer_id = Some(raw.trim().to_string()),
            ("customer_id", _) => errors.add(field, "must be a string"),
            _ => errors.add(field, "is not a preview field"),
        }
    }
    if !body.contains_key("customer_id") {
        errors.add("customer_id", "is required");
    }
    let record = load(ctx, id).await?;
    let customer_id = errors.into_result(customer_id.unwrap_or_default())?;
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let customer = match valid_id(&customer_id) {
        true => customer_store::get(table, tenant, &customer_id).await?,
        false => None,
    }
    .ok_or_else(|| ApiError::invalid_field("customer_id", "no such customer"))?
    .customer;
    let contact_name = match &customer.primary_contact_id {
        Some(contact_id) => table
            .get_as::<Contact>(&customer_pk(tenant, &customer.id), &contact_sk(contact_id))
            .await?
            .map(|c| c.name),
        None => None,
    };
    let settings = ctx.settings().await?;
    let today = ctx.now.with_timezone(&settings.time_zone).date_naive();
    let data = crate::chasing::template_data(&customer, contact_name, &settings, today);
    let rendered = record.template.render(&data).map_err(ApiError::internal)?;
    ApiResponse::ok(&json!({
        "template_id": record.template.id,
        "template_version": record.template.version,
        "customer_id": customer.id,
        "channel": record.template.channel,
        "subject": rendered.subject,
        "body": rendered.body,
    }))
}
