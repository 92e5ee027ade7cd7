//! `GET/PATCH /v1/settings` (API.md "Settings and people").

use super::Ctx;
use crate::adapters::settings_store;
use crate::domain::identity::Permission;
use crate::domain::settings::{FrequencyCap, Patch, Settings, SettingsPatch};
use crate::http::{auth, request, ApiError, ApiResponse};
use chrono::{DateTime, Utc};
use lambda_http::Request;
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
    auto_settle: bool,
    version: u64,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

fn view(ctx: &Ctx<'_>, settings: &Settings) -> Result<ApiResponse, ApiError> {
    let body = SettingsView {
        id: ctx.caller.tenant.as_str(),
        company_name: &settings.company_name,
        time_zone: settings.time_zone.name(),
        sender_email: &settings.sender_email,
        sender_name: &settings.sender_name,
        frequency_cap: settings.frequency_cap,
        promise_grace_days: settings.promise_grace_days,
        portal_base_url: &settings.portal_base_url,
        auto_settle: settings.auto_settle,
        version: settings.version,
        created_at: settings.created_at,
        updated_at: settings.updated_at,
    };
    Ok(ApiResponse::ok(&body)?.with_version(settings.version))
}

pub async fn get(ctx: &Ctx<'_>) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let settings = settings_store::load(&ctx.app.table, &ctx.caller.tenant).await?;
    view(ctx, &settings)
}

pub async fn patch(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageSettings)?;
    let expected_version = request::if_match_version(request)?;
    let patch = SettingsPatch::parse(&request::json_object(request)?)?;
    if let (Patch::Set(email), Some(domain)) = (&patch.sender_email, &ctx.app.config.sender_domain)
    {
        if !sends_from(email, domain) {
            return Err(ApiError::invalid_field(
                "sender_email",
                &format!("must be an address at {domain}, the verified sending domain"),
            ));
        }
    }
    let current = settings_store::load(&ctx.app.table, &ctx.caller.tenant).await?;
    if current.version != expected_version {
        return Err(ApiError::stale_version());
    }
    let next = current.apply(&patch, ctx.now);
    let write = settings_store::save(&ctx.app.table, &ctx.caller.tenant, &next, expected_version)?;
    // The read above is only a fast path; the condition on the write is what
    // guarantees a concurrent PATCH cannot be overwritten.
    ctx.commit(
        vec![write],
        |_| ApiError::stale_version(),
        view(ctx, &next)?,
    )
    .await
}

/// SES sends only from the verified domain (or its subdomains).
fn sends_from(email: &str, domain: &str) -> bool {
    let host = email
        .rsplit_once('@')
        .map_or("", |(_, host)| host)
        .to_lowercase();
    let domain = domain.to_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

#[cfg(test)]
mod tests {
    use super::sends_from;

    #[test]
    fn senders_must_be_on_the_verified_domain() {
        assert!(sends_from("ar@example.com", "example.com"));
        assert!(sends_from("ar@billing.Example.com", "example.com"));
        assert!(!sends_from("ar@notexample.com", "example.com"));
        assert!(!sends_from("ar@example.com.evil", "example.com"));
    }
}
