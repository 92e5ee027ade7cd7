//! Collecting every problem with an input, field by field, so a client can fix
//! them all in one go.

use std::collections::BTreeMap;

/// Field path (e.g. `frequency_cap.max_messages`) to a human-readable problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| problem.into());
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was added, the collected errors otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    pub fn single(field: impl Into<String>, problem: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, problem);
        errors
    }
}

/// The earliest year a date may have: older dates are typing mistakes
/// (`"26-01-01"` meant 2026), not invoices.
pub const MIN_YEAR: i32 = 1900;

/// A calendar date written exactly `YYYY-MM-DD` (four-digit year from
/// [`MIN_YEAR`], two-digit month and day).
pub fn iso_date(raw: &str) -> Option<chrono::NaiveDate> {
    let bytes = raw.as_bytes();
    let shape = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape {
        return None;
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| chrono::Datelike::year(d) >= MIN_YEAR)
}

/// Control characters (NUL, escape, ...) have no place in business text;
/// `multiline` fields may still hold line breaks and tabs.
pub fn has_control_characters(value: &str, multiline: bool) -> bool {
    value
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
}

/// A trimmed, non-empty, single-line string of bounded length.
pub fn bounded_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    max_chars: usize,
) -> Option<String> {
    checked_text(errors, field, value, max_chars, false)
}

/// Like [`bounded_text`], but line breaks and tabs are kept (notes, reasons).
pub fn bounded_multiline_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    max_chars: usize,
) -> Option<String> {
    checked_text(errors, field, value, max_chars, true)
}

fn checked_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    max_chars: usize,
    multiline: bool,
) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.add(field, "must not be empty");
        None
    } else if has_control_characters(trimmed, multiline) {
        errors.add(field, "must not contain control characters");
        None
    } else if trimmed.chars().count() > max_chars {
        errors.add(field, format!("must be at most {max_chars} characters"));
        None
    } else {
        Some(trimmed.to_string())
    }
}

/// Longest id of another resource (a ULID or an identity provider's user id).
pub const MAX_REFERENCE_CHARS: usize = 128;

/// Whether `id` can name another resource: no `#` (it separates the parts
/// of storage keys) and no white space.
pub fn is_reference(id: &str) -> bool {
    !id.contains('#') && !id.chars().any(char::is_whitespace)
}

/// An E.164 phone number, trimmed: `+` then 8 to 15 digits, no leading
/// zero in the country code.
pub fn e164_phone(raw: &str) -> Option<String> {
    let phone = raw.trim();
    let digits = phone.strip_prefix('+').unwrap_or("");
    let valid = (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then(|| phone.to_string())
}

/// A BCP 47 language tag in its short form, trimmed: `en`, `fr`, `pt-BR`.
pub fn language_tag(raw: &str) -> Option<String> {
    let tag = raw.trim();
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    let subtags_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    let valid = (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && subtags_ok;
    valid.then(|| tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict_iso() {
        assert_eq!(
            iso_date("2026-01-31"),
            chrono::NaiveDate::from_ymd_opt(2026, 1, 31)
        );
        for bad in [
            "26-1-1",
            "0026-01-01",
            "1899-12-31",
            "2026-1-01",
            "2026-01-1",
            " 2026-01-01",
            "2026-01-01 ",
            "+2026-01-01",
            "2026-02-30",
            "20260101",
            "2026/01/01",
            "",
        ] {
            assert_eq!(iso_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn control_characters_are_refused() {
        let mut errors = FieldErrors::new();
        assert_eq!(bounded_text(&mut errors, "name", "Acme\0Ltd", 100), None);
        assert_eq!(
            bounded_text(&mut errors, "name", "Acme\u{1b}[31m", 100),
            None
        );
        assert_eq!(errors.len(), 1);
        assert!(!has_control_characters("line one\nline two\tend", true));
        assert!(has_control_characters("line one\nline two", false));
    }

    #[test]
    fn phones_must_be_e164() {
        assert_eq!(
            e164_phone(" +447700900123 ").as_deref(),
            Some("+447700900123")
        );
        for bad in ["07700 900123", "+0123456789", "+4477", "+44 7700 900123"] {
            assert_eq!(e164_phone(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn language_tags_are_short_bcp47() {
        assert_eq!(language_tag(" pt-BR").as_deref(), Some("pt-BR"));
        assert_eq!(language_tag("en").as_deref(), Some("en"));
        for bad in ["EN", "e", "english", "en-", "en-x"] {
            assert_eq!(language_tag(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn references_have_no_key_separator_or_spaces() {
        assert!(is_reference("01J00000000000000000000000"));
        assert!(is_reference("auth0|user-7"));
        assert!(!is_reference("a#b"));
        assert!(!is_reference("a b"));
    }
}
