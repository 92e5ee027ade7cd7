//! Note bodies (`POST /v1/customers/{id}/notes`).

use super::{fields, tasks};
use domain::note::{NewNote, MAX_BODY_CHARS};
use domain::validation::FieldErrors;
use serde_json::{Map, Value};

/// `{body, invoice_ids?, reminder_date?}`.
pub fn new_note(body: &Map<String, Value>) -> Result<NewNote, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut text = None;
    let mut invoice_ids = Vec::new();
    let mut reminder_date = None;
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "body" => text = fields::long_text(e, field, value, MAX_BODY_CHARS),
            "invoice_ids" => invoice_ids = tasks::invoice_ids(e, field, value).unwrap_or_default(),
            "reminder_date" if value.is_null() => {}
            "reminder_date" => reminder_date = tasks::due_date(e, field, value),
            "id" | "version" | "created_at" | "updated_at" | "author_id" | "reminder_task_id"
            | "customer_id" => e.add(field, "is computed and cannot be set"),
            _ => e.add(field, "is not a note field"),
        }
    }
    if !body.contains_key("body") {
        errors.add("body", "is required");
    }
    match text {
        Some(body) if errors.is_empty() => Ok(NewNote {
            body,
            invoice_ids,
            reminder_date,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::object;
    use serde_json::json;

    #[test]
    fn a_note_needs_a_body_and_valid_references() {
        let errors = new_note(&object(json!({
            "invoice_ids": ["nope"], "reminder_date": "tomorrow", "author_id": "x", "pin": true
        })))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "author_id",
                "body",
                "invoice_ids[0]",
                "pin",
                "reminder_date"
            ]
        );
        assert!(new_note(&object(json!({"body": "   "}))).is_err());
    }

    #[test]
    fn a_note_keeps_its_lines_and_reminder() {
        let note = new_note(&object(json!({
            "body": "Called Jane\nSecond line", "reminder_date": "2026-06-05", "invoice_ids": null
        })));
        assert!(note.is_err(), "invoice_ids must be an array");
        let note = new_note(&object(json!({
            "body": " Called Jane\nSecond line ", "reminder_date": "2026-06-05"
        })))
        .unwrap();
        assert_eq!(note.body, "Called Jane\nSecond line");
        assert_eq!(note.reminder_date, "2026-06-05".parse().ok());
        assert!(note.invoice_ids.is_empty());
    }
}
