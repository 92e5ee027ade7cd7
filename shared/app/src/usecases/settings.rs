//! The tenant's settings.

use super::{stale, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::Write;
use chrono::{DateTime, Utc};
use domain::identity::{Caller, Permission};
use domain::patch::Patch;
use domain::settings::{Settings, SettingsPatch};

pub async fn get(context: &Context, caller: &Caller) -> AppResult<Settings> {
    require(caller, Permission::Read)?;
    Ok(context.store.settings(&caller.tenant).await?)
}

/// Applies `patch` to the settings at `expected_version` (owners only).
pub async fn update(
    context: &Context,
    caller: &Caller,
    patch: &SettingsPatch,
    expected_version: u64,
    now: DateTime<Utc>,
) -> AppResult<Change<Settings>> {
    require(caller, Permission::ManageSettings)?;
    if let (Patch::Set(email), Some(domain)) = (&patch.sender_email, &context.config.sender_domain)
    {
        if !sends_from(email, domain) {
            return Err(AppError::invalid_field(
                "sender_email",
                &format!("must be an address at {domain}, the verified sending domain"),
            ));
        }
    }
    let current = context.store.settings(&caller.tenant).await?;
    if current.version != expected_version {
        return Err(AppError::stale_version());
    }
    let next = current.apply(patch, now);
    let writes = vec![Write::SaveSettings {
        settings: Box::new(next.clone()),
        expected_version,
    }];
    Ok(Change::new(writes, next, stale))
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
