//! Email and SMS templates: checked when saved, not deleted while a cadence
//! uses them, and previewed for one customer with the data a chase uses.

use super::{stale, valid_id, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{Page, PageRequest, Write};
use crate::records::TemplateRecord;
use chrono::{DateTime, Utc};
use domain::cadence::Cadence;
use domain::identity::{Caller, Permission};
use domain::template::{Rendered, Template, TemplateDraft};
use std::collections::BTreeSet;

pub async fn load(context: &Context, caller: &Caller, id: &str) -> AppResult<TemplateRecord> {
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    context
        .store
        .template(&caller.tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn create(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    draft: TemplateDraft,
) -> AppResult<Change<TemplateRecord>> {
    require(caller, Permission::ManageRecords)?;
    let template = draft.validate(context.ids.new_id(now), 1)?;
    let record = TemplateRecord {
        template,
        created_at: now,
        updated_at: now,
    };
    let writes = vec![Write::SaveTemplate {
        record: Box::new(record.clone()),
        expected_version: 0,
    }];
    Ok(Change::new(writes, record, stale))
}

pub async fn get(context: &Context, caller: &Caller, id: &str) -> AppResult<TemplateRecord> {
    require(caller, Permission::Read)?;
    load(context, caller, id).await
}

pub async fn list(
    context: &Context,
    caller: &Caller,
    page: PageRequest,
) -> AppResult<Page<TemplateRecord>> {
    require(caller, Permission::Read)?;
    Ok(context.store.templates(&caller.tenant, page).await?)
}

/// `draft` (the current template with the request's fields over it) as the
/// next version, if `expected` is still the current one.
pub async fn update(
    caller: &Caller,
    now: DateTime<Utc>,
    current: TemplateRecord,
    expected: u64,
    draft: Result<TemplateDraft, domain::validation::FieldErrors>,
) -> AppResult<Change<TemplateRecord>> {
    require(caller, Permission::ManageRecords)?;
    if u64::from(current.template.version) != expected {
        return Err(AppError::stale_version());
    }
    let template = draft?.validate(current.template.id.clone(), current.template.version + 1)?;
    let record = TemplateRecord {
        template,
        created_at: current.created_at,
        updated_at: now,
    };
    let writes = vec![Write::SaveTemplate {
        record: Box::new(record.clone()),
        expected_version: current.template.version,
    }];
    Ok(Change::new(writes, record, stale))
}

fn uses(cadence: &Cadence, template_id: &str) -> bool {
    cadence
        .steps
        .iter()
        .any(|step| step.template_id.as_deref() == Some(template_id))
}

fn in_use(cadence: &str) -> AppError {
    AppError::conflict(
        "template_in_use",
        format!("cadence {cadence} uses this template; change its steps first"),
    )
}

/// A template a cadence uses cannot go: not while the current version of
/// any cadence uses it, nor while customers run on an older version that does.
pub async fn delete(context: &Context, caller: &Caller, id: &str) -> AppResult<Change<()>> {
    require(caller, Permission::ManageRecords)?;
    let record = load(context, caller, id).await?;
    let tenant = &caller.tenant;
    let cadences = context.store.all_cadences(tenant).await?;
    if let Some(user) = cadences.iter().find(|c| uses(&c.cadence, id)) {
        return Err(in_use(&user.cadence.name));
    }
    if cadences.iter().any(|c| c.enrolled_count > 0) {
        let live: BTreeSet<&str> = cadences.iter().map(|c| c.cadence.id.as_str()).collect();
        let versions = context.store.cadence_versions(tenant, None).await?;
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
    Ok(Change::new(
        vec![Write::DeleteTemplate(Box::new(record))],
        (),
        stale,
    ))
}

/// The template rendered for a customer as a chase would be today. Nothing
/// is written or sent.
pub async fn preview(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    id: &str,
    customer_id: Result<String, domain::validation::FieldErrors>,
) -> AppResult<(Template, String, Rendered)> {
    require(caller, Permission::Read)?;
    let record = load(context, caller, id).await?;
    let customer_id = customer_id?;
    let tenant = &caller.tenant;
    let stored = match valid_id(&customer_id) {
        true => context.store.customer(tenant, &customer_id).await?,
        false => None,
    }
    .ok_or_else(|| AppError::invalid_field("customer_id", "no such customer"))?;
    let contact_name = match &stored.customer.primary_contact_id {
        Some(contact_id) => context
            .store
            .contacts(tenant, &stored.customer.id)
            .await?
            .into_iter()
            .find(|c| &c.id == contact_id)
            .map(|c| c.name),
        None => None,
    };
    let settings = context.settings(tenant).await?;
    let today = now.with_timezone(&settings.time_zone).date_naive();
    let portal_url = match record.template.uses_portal_link() {
        true => super::portal::url(context, tenant, &stored, &settings, now).await?,
        false => None,
    };
    let customer = stored.customer;
    let data = crate::chasing::template_data(&customer, contact_name, portal_url, today);
    let rendered = record.template.render(&data).map_err(AppError::internal)?;
    Ok((record.template, customer.id, rendered))
}
