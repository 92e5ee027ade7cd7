//! `GET/PATCH /v1/settings` (docs/api.md, Resources).

use crate::extract::Ctx;
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::usecases::settings;
use chrono::{DateTime, Utc};
use domain::settings::{FrequencyCap, Settings};
use serde::Serialize;

#[derive(Serialize)]
struct SettingsView<'a> {
    id: &'a str,
    company_name: &'a Option<String>,
    time_zone: &'a str,
    sender_email: &'a Option<String>,
    sender_name: &'a Option<String>,
    frequency_cap: FrequencyCap,
    promise_grace_days: u32,
    portal_base_url: &'a Option<String>,
    payment_url_template: &'a Option<String>,
    payment_instructions: &'a Option<String>,
    auto_settle: bool,
    version: u64,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

fn view(ctx: &Ctx, settings: &Settings) -> Result<ApiResponse, ApiError> {
    let body = SettingsView {
        id: ctx.caller.tenant.as_str(),
        company_name: &settings.company_name,
        time_zone: settings.time_zone.name(),
        sender_email: &settings.sender_email,
        sender_name: &settings.sender_name,
        frequency_cap: settings.frequency_cap,
        promise_grace_days: settings.promise_grace_days,
        portal_base_url: &settings.portal_base_url,
        payment_url_template: &settings.payment_url_template,
        payment_instructions: &settings.payment_instructions,
        auto_settle: settings.auto_settle,
        version: settings.version,
        created_at: settings.created_at,
        updated_at: settings.updated_at,
    };
    Ok(ApiResponse::ok(&body)?.with_version(settings.version))
}

pub async fn get(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let settings = settings::get(&ctx.context, &ctx.caller).await?;
    view(&ctx, &settings)
}

pub async fn patch(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let expected_version = ctx.if_match_version()?;
    let patch = parse::settings::patch(&ctx.json_object()?)?;
    let change =
        settings::update(&ctx.context, &ctx.caller, &patch, expected_version, ctx.now).await?;
    let next = change.value.clone();
    // The read in the use case is only a fast path; the condition on the
    // write is what guarantees a concurrent PATCH cannot be overwritten.
    let response = ctx.commit(change, view(&ctx, &next)?).await?;
    ctx.context.remember_settings(&ctx.caller.tenant, next);
    Ok(response)
}
