//! `/v1/templates`: email, SMS and letter templates, checked when saved (an unknown
//! variable is a 422 naming `subject` or `body`), and their preview rendered
//! for one customer with the data a chase would use.

use crate::extract::{list_reply, Ctx};
use crate::{ApiError, ApiResponse};
use app::records::TemplateRecord;
use app::usecases::templates;
use axum::extract::Path;
use domain::template::{Channel, Template, TemplateDraft};
use domain::validation::FieldErrors;
use http::StatusCode;
use serde_json::{json, Map, Value};

pub fn view(record: &TemplateRecord) -> Value {
    let template = &record.template;
    json!({
        "id": template.id,
        "name": template.name,
        "channel": template.channel,
        "subject": template.subject,
        "body": template.body,
        "attach_documents": template.attach_documents,
        "version": template.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    })
}

fn response(record: &TemplateRecord) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::ok(&view(record))?.with_version(u64::from(record.template.version)))
}

fn channel(raw: &str) -> Option<Channel> {
    match raw {
        "email" => Some(Channel::Email),
        "sms" => Some(Channel::Sms),
        "letter" => Some(Channel::Letter),
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
            attach_documents: template.attach_documents,
        },
        None => TemplateDraft {
            name: String::new(),
            channel: Channel::Email,
            subject: None,
            body: String::new(),
            attach_documents: false,
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
            ("attach_documents", Value::Bool(attach)) => draft.attach_documents = *attach,
            ("attach_documents", _) => errors.add(field, "must be true or false"),
            ("channel", value) => match value.as_str().and_then(channel) {
                Some(c) if base.is_some_and(|t| t.channel != c) => errors.add(
                    field,
                    "cannot change: cadence steps rely on it; create another template",
                ),
                Some(c) => draft.channel = c,
                None => errors.add(field, "must be email, sms or letter"),
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

pub async fn create(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, domain::identity::Permission::ManageRecords)?;
    let draft = parse(&ctx.json_object()?, None)?;
    let change = templates::create(&ctx.context, &ctx.caller, ctx.now, draft).await?;
    let record = &change.value;
    let response = ApiResponse::json(StatusCode::CREATED, &view(record))?
        .with_version(u64::from(record.template.version))
        .with_location(format!("/v1/templates/{}", record.template.id));
    ctx.commit(change, response).await
}

pub async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    response(&templates::get(&ctx.context, &ctx.caller, &id).await?)
}

pub async fn list(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let page = templates::list(&ctx.context, &ctx.caller, ctx.page()?).await?;
    let items: Vec<Value> = page.items.iter().map(view).collect();
    list_reply(&items, page.next_cursor)
}

pub async fn patch(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, domain::identity::Permission::ManageRecords)?;
    let expected = ctx.if_match_version()?;
    let body = ctx.json_object()?;
    let current = templates::load(&ctx.context, &ctx.caller, &id).await?;
    let draft = parse(&body, Some(&current.template));
    let change = templates::update(&ctx.caller, ctx.now, current, expected, draft).await?;
    let response = response(&change.value)?;
    ctx.commit(change, response).await
}

pub async fn delete(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let change = templates::delete(&ctx.context, &ctx.caller, &id).await?;
    ctx.commit(change, ApiResponse::no_content()).await
}

/// `POST /v1/templates/{id}/preview {customer_id}`.
pub async fn preview(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, domain::identity::Permission::Read)?;
    let body = ctx.json_object()?;
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
    let customer_id = errors.into_result(customer_id.unwrap_or_default());
    let (template, customer_id, rendered) =
        templates::preview(&ctx.context, &ctx.caller, ctx.now, &id, customer_id).await?;
    ApiResponse::ok(&json!({
        "template_id": template.id,
        "template_version": template.version,
        "customer_id": customer_id,
        "channel": template.channel,
        "subject": rendered.subject,
        "body": rendered.body,
        "text": rendered.text,
        "warnings": rendered.empty_variables.iter().map(|name| json!({
            "variable": name,
            "message": format!("{{{{{name}}}}} is empty for this customer; a chase falls back to {}", fallback(name)),
        })).collect::<Vec<_>>(),
    }))
}

/// What a chase writes where a variable is empty.
fn fallback(variable: &str) -> &'static str {
    match variable {
        "customer_contact_name" => "the customer's name",
        "customer_portal_button" => "no button (the tenant has no portal link)",
        _ => "nothing (the text around it stays)",
    }
}
