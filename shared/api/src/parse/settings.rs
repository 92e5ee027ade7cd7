//! Settings merge patches (`PATCH /v1/settings`).

use chrono_tz::Tz;
use domain::patch::Patch;
use domain::portal::PaymentUrlTemplate;
use domain::settings::{
    parse_email, parse_portal_url, FrequencyCap, SettingsPatch, MAX_CAP_MESSAGES,
    MAX_CAP_WINDOW_DAYS, MAX_GRACE_DAYS,
};
use domain::validation::{bounded_multiline_text, bounded_text, FieldErrors};
use serde_json::{Map, Value};

const READ_ONLY: &[&str] = &["id", "version", "created_at", "updated_at"];

/// A JSON merge patch, every bad field reported at once.
pub fn patch(body: &Map<String, Value>) -> Result<SettingsPatch, FieldErrors> {
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
            "payment_url_template" => match value {
                Value::Null => patch.payment_url_template = Patch::Clear,
                Value::String(raw) => match PaymentUrlTemplate::parse(raw.trim()) {
                    Ok(template) => {
                        patch.payment_url_template = Patch::Set(template.as_str().into())
                    }
                    Err(problem) => errors.add(field, problem),
                },
                _ => errors.add(field, "must be an https URL template or null"),
            },
            "payment_instructions" => match value {
                Value::Null => patch.payment_instructions = Patch::Clear,
                Value::String(raw) => {
                    if let Some(text) = bounded_multiline_text(&mut errors, field, raw, 2000) {
                        patch.payment_instructions = Patch::Set(text);
                    }
                }
                _ => errors.add(field, "must be text or null"),
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
                patch.frequency_cap = frequency_cap(&mut errors, value);
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

fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &Value,
    max_chars: usize,
) -> Patch<String> {
    match value {
        Value::Null => Patch::Clear,
        Value::String(raw) => match bounded_text(errors, field, raw, max_chars) {
            Some(text) => Patch::Set(text),
            None => Patch::Keep,
        },
        _ => {
            errors.add(field, "must be a string or null");
            Patch::Keep
        }
    }
}

fn frequency_cap(errors: &mut FieldErrors, value: &Value) -> Option<FrequencyCap> {
    let Some(object) = value.as_object() else {
        errors.add(
            "frequency_cap",
            "must be an object with max_messages and window_days",
        );
        return None;
    };
    let mut whole = |name: &str, max: u64| match object.get(name).and_then(Value::as_u64) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::object;
    use serde_json::json;

    #[test]
    fn a_valid_patch_is_trimmed_and_typed() {
        let parsed = patch(&object(json!({
            "company_name": " Acme Ltd ",
            "time_zone": "America/New_York",
            "frequency_cap": {"max_messages": 2, "window_days": 7},
            "portal_base_url": "https://pay.acme.test/portal",
            "sender_name": null
        })))
        .unwrap();
        assert_eq!(parsed.company_name, Patch::Set("Acme Ltd".into()));
        assert_eq!(parsed.time_zone, Some(chrono_tz::America::New_York));
        assert_eq!(
            parsed.frequency_cap,
            Some(FrequencyCap {
                max_messages: 2,
                window_days: 7
            })
        );
        assert_eq!(
            parsed.portal_base_url,
            Patch::Set("https://pay.acme.test/portal".into())
        );
        assert_eq!(parsed.sender_name, Patch::Clear);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = patch(&object(json!({
            "time_zone": "Mars/Olympus",
            "sender_email": "not-an-email",
            "promise_grace_days": -1,
            "frequency_cap": {"max_messages": 0, "window_days": 7, "extra": 1},
            "portal_base_url": "ftp://x",
            "version": 3,
            "colour": "blue"
        })))
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
}
