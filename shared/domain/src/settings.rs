//! Tenant settings: company profile, sender identity and chasing limits.

use crate::patch::Patch;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// At most `max_messages` chase messages per customer in any rolling
/// `window_days` days, across all channels (docs/chasing.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrequencyCap {
    pub max_messages: u32,
    pub window_days: u32,
}

impl Default for FrequencyCap {
    fn default() -> Self {
        Self {
            max_messages: 1,
            window_days: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub company_name: Option<String>,
    pub time_zone: Tz,
    pub sender_email: Option<String>,
    pub sender_name: Option<String>,
    pub frequency_cap: FrequencyCap,
    pub promise_grace_days: u32,
    pub portal_base_url: Option<String>,
    /// The portal's "Pay now" target (`crate::portal::PaymentUrlTemplate`).
    #[serde(default)]
    pub payment_url_template: Option<String>,
    /// Shown by "Pay now" when there is no payment URL.
    #[serde(default)]
    pub payment_instructions: Option<String>,
    /// Automatic settlement (API.md): payments and credit settle open
    /// invoices, oldest due date first, unless a group or customer says otherwise.
    #[serde(default = "settle_by_default")]
    pub auto_settle: bool,
    /// 0 while the tenant has never saved its settings.
    pub version: u64,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

fn settle_by_default() -> bool {
    true
}

impl Default for Settings {
    /// What a tenant has before it saves anything: UTC, one message a day,
    /// three days' grace on promises.
    fn default() -> Self {
        Self {
            company_name: None,
            time_zone: Tz::UTC,
            sender_email: None,
            sender_name: None,
            frequency_cap: FrequencyCap::default(),
            promise_grace_days: 3,
            portal_base_url: None,
            payment_url_template: None,
            payment_instructions: None,
            auto_settle: true,
            version: 0,
            created_at: None,
            updated_at: None,
        }
    }
}

/// A validated change to settings (a JSON merge patch parsed by the API).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingsPatch {
    pub company_name: Patch<String>,
    pub time_zone: Option<Tz>,
    pub sender_email: Patch<String>,
    pub sender_name: Patch<String>,
    pub frequency_cap: Option<FrequencyCap>,
    pub promise_grace_days: Option<u32>,
    pub portal_base_url: Patch<String>,
    pub payment_url_template: Patch<String>,
    pub payment_instructions: Patch<String>,
    pub auto_settle: Option<bool>,
}

pub const MAX_GRACE_DAYS: u64 = 90;
pub const MAX_CAP_MESSAGES: u64 = 100;
pub const MAX_CAP_WINDOW_DAYS: u64 = 365;

impl Settings {
    /// The settings after `patch`, one version later.
    pub fn apply(&self, patch: &SettingsPatch, now: DateTime<Utc>) -> Settings {
        Settings {
            company_name: patch.company_name.apply(&self.company_name),
            time_zone: patch.time_zone.unwrap_or(self.time_zone),
            sender_email: patch.sender_email.apply(&self.sender_email),
            sender_name: patch.sender_name.apply(&self.sender_name),
            frequency_cap: patch.frequency_cap.unwrap_or(self.frequency_cap),
            promise_grace_days: patch.promise_grace_days.unwrap_or(self.promise_grace_days),
            portal_base_url: patch.portal_base_url.apply(&self.portal_base_url),
            payment_url_template: patch.payment_url_template.apply(&self.payment_url_template),
            payment_instructions: patch.payment_instructions.apply(&self.payment_instructions),
            auto_settle: patch.auto_settle.unwrap_or(self.auto_settle),
            version: self.version + 1,
            created_at: self.created_at.or(Some(now)),
            updated_at: Some(now),
        }
    }
}

/// A pragmatic address check: one `@`, a non-empty local part, a dotted
/// domain, no spaces. Deliverability is SES's job.
pub fn parse_email(raw: &str) -> Option<String> {
    let email = raw.trim();
    let (local, domain) = email.split_once('@')?;
    let ok = !local.is_empty()
        && email.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| email.to_string())
}

/// The base of payment portal links: https (http only on this machine).
pub fn parse_portal_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && local);
    (scheme_ok && url.host().is_some()).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_applies_and_bumps_the_version() {
        let patch = SettingsPatch {
            company_name: Patch::Set("Acme Ltd".into()),
            time_zone: Some(chrono_tz::America::New_York),
            frequency_cap: Some(FrequencyCap {
                max_messages: 2,
                window_days: 7,
            }),
            ..SettingsPatch::default()
        };
        let now = Utc::now();
        let next = Settings::default().apply(&patch, now);
        assert_eq!(next.company_name.as_deref(), Some("Acme Ltd"));
        assert_eq!(next.time_zone, chrono_tz::America::New_York);
        assert_eq!(next.frequency_cap.window_days, 7);
        assert_eq!(next.version, 1);
        assert_eq!(next.created_at, Some(now));
    }

    #[test]
    fn clearing_optional_text_removes_it() {
        let settings = Settings {
            sender_name: Some("Accounts".into()),
            ..Settings::default()
        };
        let patch = SettingsPatch {
            sender_name: Patch::Clear,
            ..SettingsPatch::default()
        };
        assert_eq!(settings.apply(&patch, Utc::now()).sender_name, None);
    }

    #[test]
    fn portal_urls_are_https_except_on_this_machine() {
        assert!(parse_portal_url("https://pay.acme.test/portal").is_some());
        assert!(parse_portal_url("http://localhost:3000/").is_some());
        assert!(parse_portal_url("http://pay.acme.test/").is_none());
        assert!(parse_portal_url("ftp://x").is_none());
    }
}
