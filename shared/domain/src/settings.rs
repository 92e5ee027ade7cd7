//! Tenant settings: company profile, sender identity and chasing limits.

use super::validation::{bounded_text, FieldErrors};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// At most `max_messages` chase messages per customer in any rolling
/// `window_days` days, across all channels (DESIGN §5).
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
            auto_settle: true,
            version: 0,
            created_at: None,
            updated_at: None,
        }
    }
}

/// A field of a merge patch: absent leaves the value alone, `null` clears it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

/// A validated change to settings. Built by [`SettingsPatch::parse`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingsPatch {
    pub company_name: Patch<String>,
    pub time_zone: Option<Tz>,
    pub sender_email: Patch<String>,
    pub sender_name: Patch<String>,
    pub frequency_cap: Option<FrequencyCap>,
    pub promise_grace_days: Option<u32>,
    pub portal_base_url: Patch<String>,
    pub auto_settle: Option<bool>,
}

const READ_ONLY: &[&str] = &["id", "version", "created_at", "updated_at"];
pub const MAX_GRACE_DAYS: u64 = 90;
pub const MAX_CAP_MESSAGES: u64 = 100;
pub const MAX_CAP_WINDOW_DAYS: u64 = 365;

impl SettingsPatch {
    /// Validates a JSON merge patch, reporting every bad field at once.
    pub fn parse(body: &serde_json::Map<String, serde_json::Value>) -> Result<Self, FieldErrors> {
        use serde_json::Value;
        let mut errors = FieldErrors::new();
        let mut patch = SettingsPatch::default();
        for (field, value) in body {
            match field.as_str() {
                "company_name" => {
                    patch.company_name = optional_text(&mut errors, field, value, 200);
                }
                "sender_name" => {
                    patch.sender_name = optional_text(&mut errors, field, value, 100);
                }
                "time_zone" => match value.as_str().map(str::parse::<Tz>) {
                    Some(Ok(tz)) => patch.time_zone = Some(tz),
                    _ => errors.add(field, "must be an IANA time zone name, e.g. Europe/London"),
                },
                "sender_email" => match value {
                    Value::Null => patch.sender_email = Patch::Clear,
                    Value::String(raw) => match parse_email(raw) {
                        Some(email) => patch.sender_email = Patch::Set(email),
                        None => errors.add(field, "must be an email address"),
                    },
                    _ => errors.add(field, "must be an email address or null"),
                },
                "portal_base_url" => match value {
                    Value::Null => patch.portal_base_url = Patch::Clear,
                    Value::String(raw) => match parse_portal_url(raw) {
                        Some(url) => patch.portal_base_url = Patch::Set(url),
                        None => errors.add(field, "must be an absolute https URL"),
                    },
                    _ => errors.add(field, "must be an https URL or null"),
                },
                "promise_grace_days" => match value.as_u64() {
                    Some(days) if days <= MAX_GRACE_DAYS => {
                        patch.promise_grace_days = Some(days as u32)
                    }
                    _ => errors.add(
                        field,
                        format!("must be a whole number of days from 0 to {MAX_GRACE_DAYS}"),
                    ),
                },
                "frequency_cap" => {
                    patch.frequency_cap = parse_frequency_cap(&mut errors, value);
                }
                "auto_settle" => match value.as_bool() {
                    Some(on) => patch.auto_settle = Some(on),
                    None => errors.add(field, "must be true or false"),
                },
                read_only if READ_ONLY.contains(&read_only) => {
                    errors.add(field, "is read-only");
                }
                _ => errors.add(field, "is not a settings field"),
            }
        }
        errors.into_result(patch)
    }
}

impl Settings {
    /// The settings after `patch`, one version later.
    pub fn apply(&self, patch: &SettingsPatch, now: DateTime<Utc>) -> Settings {
        fn merge(current: &Option<String>, patch: &Patch<String>) -> Option<String> {
            match patch {
                Patch::Keep => current.clone(),
                Patch::Clear => None,
                Patch::Set(value) => Some(value.clone()),
            }
        }
        Settings {
            company_name: merge(&self.company_name, &patch.company_name),
            time_zone: patch.time_zone.unwrap_or(self.time_zone),
            sender_email: merge(&self.sender_email, &patch.sender_email),
            sender_name: merge(&self.sender_name, &patch.sender_name),
            frequency_cap: patch.frequency_cap.unwrap_or(self.frequency_cap),
            promise_grace_days: patch.promise_grace_days.unwrap_or(self.promise_grace_days),
            portal_base_url: merge(&self.portal_base_url, &patch.portal_base_url),
            auto_settle: patch.auto_settle.unwrap_or(self.auto_settle),
            version: self.version + 1,
            created_at: self.created_at.or(Some(now)),
            updated_at: Some(now),
        }
    }
}

fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &serde_json::Value,
    max_chars: usize,
) -> Patch<String> {
    match value {
        serde_json::Value::Null => Patch::Clear,
        serde_json::Value::String(raw) => match bounded_text(errors, field, raw, max_chars) {
            Some(text) => Patch::Set(text),
            None => Patch::Keep,
        },
        _ => {
            errors.add(field, "must be a string or null");
            Patch::Keep
        }
    }
}

fn parse_frequency_cap(
    errors: &mut FieldErrors,
    value: &serde_json::Value,
) -> Option<FrequencyCap> {
    let Some(object) = value.as_object() else {
        errors.add(
            "frequency_cap",
            "must be an object with max_messages and window_days",
        );
        return None;
    };
    let mut whole = |name: &str, max: u64| match object.get(name).and_then(|v| v.as_u64()) {
        Some(n) if (1..=max).contains(&n) => Some(n as u32),
        _ => {
            errors.add(
                format!("frequency_cap.{name}"),
                format!("must be a whole number from 1 to {max}"),
            );
            None
        }
    };
    let max_messages = whole("max_messages", MAX_CAP_MESSAGES);
    let window_days = whole("window_days", MAX_CAP_WINDOW_DAYS);
    for key in object.keys() {
        if key != "max_messages" && key != "window_days" {
            errors.add(
                format!("frequency_cap.{key}"),
                "is not a frequency_cap field",
            );
        }
    }
    Some(FrequencyCap {
        max_messages: max_messages?,
        window_days: window_days?,
    })
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

fn parse_portal_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && local);
    (scheme_ok && url.host().is_some()).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<SettingsPatch, FieldErrors> {
        SettingsPatch::parse(value.as_object().unwrap())
    }

    #[test]
    fn a_valid_patch_applies_and_bumps_the_version() {
        let patch = parse(json!({
            "company_name": " Acme Ltd ",
            "time_zone": "America/New_York",
            "frequency_cap": {"max_messages": 2, "window_days": 7},
            "portal_base_url": "https://pay.acme.test/portal"
        }))
        .unwrap();
        let now = Utc::now();
        let next = Settings::default().apply(&patch, now);
        assert_eq!(next.company_name.as_deref(), Some("Acme Ltd"));
        assert_eq!(next.time_zone, chrono_tz::America::New_York);
        assert_eq!(
            next.frequency_cap,
            FrequencyCap {
                max_messages: 2,
                window_days: 7
            }
        );
        assert_eq!(next.version, 1);
        assert_eq!(next.created_at, Some(now));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = parse(json!({
            "time_zone": "Mars/Olympus",
            "sender_email": "not-an-email",
            "promise_grace_days": -1,
            "frequency_cap": {"max_messages": 0, "window_days": 7, "extra": 1},
            "portal_base_url": "ftp://x",
            "version": 3,
            "colour": "blue"
        }))
        .unwrap_err();
        let fields: Vec<&String> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "colour",
                "frequency_cap.extra",
                "frequency_cap.max_messages",
                "portal_base_url",
                "promise_grace_days",
                "sender_email",
                "time_zone",
                "version"
            ]
        );
    }

    #[test]
    fn null_clears_optional_text() {
        let settings = Settings {
            sender_name: Some("Accounts".into()),
            ..Settings::default()
        };
        let next = settings.apply(&parse(json!({"sender_name": null})).unwrap(), Utc::now());
        assert_eq!(next.sender_name, None);
    }
}
