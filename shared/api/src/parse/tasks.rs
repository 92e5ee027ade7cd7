//! Task bodies (`/v1/tasks`): create, patch, complete and reschedule.

use super::fields;
use app::usecases::valid_id;
use chrono::{Datelike, NaiveDate};
use domain::task::{
    CallOutcome, Completion, TaskChanges, TaskType, MAX_INVOICE_IDS, MAX_NOTE_CHARS,
    MAX_TITLE_CHARS,
};
use domain::validation::FieldErrors;
use serde_json::{Map, Value};

/// Fields a client may never set on a task.
const COMPUTED: &[&str] = &[
    "id",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "customer_name",
    "outstanding_invoice_count",
    "overdue_amount",
    "contact_numbers",
    "completed_at",
    "completed_by",
    "completion_note",
];

/// A create body: `type`, `customer_id` and `due_date` are required.
pub fn new_task(body: &Map<String, Value>) -> Result<TaskChanges, FieldErrors> {
    let mut errors = FieldErrors::new();
    for required in ["type", "customer_id", "due_date"] {
        if !body.contains_key(required) {
            errors.add(required, "is required");
        }
    }
    parse(body, true, errors)
}

/// A patch body.
pub fn changes(body: &Map<String, Value>) -> Result<TaskChanges, FieldErrors> {
    parse(body, false, FieldErrors::new())
}

fn parse(
    body: &Map<String, Value>,
    new: bool,
    mut errors: FieldErrors,
) -> Result<TaskChanges, FieldErrors> {
    let mut changes = TaskChanges::default();
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "type" => changes.kind = task_type(e, field, value),
            "customer_id" if new => changes.customer_id = ulid(e, field, value),
            "customer_id" => e.add(
                field,
                "cannot be changed; create a task for the other customer",
            ),
            "title" => changes.title = fields::text(e, field, value, MAX_TITLE_CHARS),
            "invoice_ids" => changes.invoice_ids = invoice_ids(e, field, value),
            "assignee_id" => {
                changes.assignee_id = fields::nullable(e, field, value, fields::reference)
            }
            "due_date" => changes.due_date = due_date(e, field, value),
            "status" | "outcome" => e.add(
                field,
                "is set by POST /v1/tasks/{id}/complete, not by this request",
            ),
            computed if COMPUTED.contains(&computed) => {
                e.add(field, "is computed and cannot be set")
            }
            _ => e.add(field, "is not a task field"),
        }
    }
    errors.into_result(changes)
}

/// `{outcome?, note?}` completing a task of type `kind`: an outcome is
/// required for calls and refused for every other type.
pub fn completion(body: &Map<String, Value>, kind: TaskType) -> Result<Completion, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut completion = Completion::default();
    for (field, value) in body {
        match field.as_str() {
            "outcome" if !kind.takes_outcome() => {
                errors.add(field, "only call reminders are completed with an outcome")
            }
            "outcome" => {
                completion.outcome = value.as_str().and_then(CallOutcome::parse);
                if completion.outcome.is_none() {
                    errors.add(
                        field,
                        "must be answered, not_answered, left_voicemail or skipped",
                    );
                }
            }
            "note" if value.is_null() => {}
            "note" => {
                completion.note = fields::long_text(&mut errors, field, value, MAX_NOTE_CHARS)
            }
            _ => errors.add(field, "is not a completion field"),
        }
    }
    if kind.takes_outcome() && !body.contains_key("outcome") {
        errors.add("outcome", "is required to complete a call reminder");
    }
    errors.into_result(completion)
}

/// `{due_date}`: the new due date of a task.
pub fn reschedule(body: &Map<String, Value>) -> Result<NaiveDate, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut due = None;
    for (field, value) in body {
        match field.as_str() {
            "due_date" => due = due_date(&mut errors, field, value),
            _ => errors.add(field, "is not a reschedule field"),
        }
    }
    if !body.contains_key("due_date") {
        errors.add("due_date", "is required");
    }
    match due {
        Some(due) if errors.is_empty() => Ok(due),
        _ => Err(errors),
    }
}

fn task_type(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<TaskType> {
    let parsed = value.as_str().and_then(TaskType::parse);
    if parsed.is_none() {
        let names: Vec<&str> = TaskType::ALL.iter().map(|t| t.as_str()).collect();
        errors.add(field, format!("must be one of {}", names.join(", ")));
    }
    parsed
}

/// Ids of this system's own resources are ULIDs.
fn ulid(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<String> {
    let parsed = value.as_str().filter(|id| valid_id(id));
    if parsed.is_none() {
        errors.add(field, "is not a valid id");
    }
    parsed.map(str::to_string)
}

/// Distinct invoice ids in the order given; whether each is an invoice of
/// the customer is checked against storage.
pub fn invoice_ids(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Vec<String>> {
    let Some(items) = value.as_array() else {
        errors.add(field, "must be an array of invoice ids");
        return None;
    };
    if items.len() > MAX_INVOICE_IDS {
        errors.add(field, format!("must have at most {MAX_INVOICE_IDS} ids"));
        return None;
    }
    let before = errors.len();
    let mut ids: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(id) = ulid(errors, &format!("{field}[{i}]"), item) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    (errors.len() == before).then_some(ids)
}

/// A calendar date with a four-digit year, so dates sort as text in keys.
pub fn due_date(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<NaiveDate> {
    let date = fields::date(errors, field, value)?;
    if !(1000..=9999).contains(&date.year()) {
        errors.add(field, "must be a date with a four-digit year");
        return None;
    }
    Some(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::object;
    use domain::patch::Patch;
    use serde_json::json;

    const CUSTOMER: &str = "01J00000000000000000000000";

    fn fields_of(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    #[test]
    fn a_new_task_needs_type_customer_and_due_date() {
        let errors = new_task(&object(json!({"title": ""}))).unwrap_err();
        assert_eq!(
            fields_of(&errors),
            ["customer_id", "due_date", "title", "type"]
        );
    }

    #[test]
    fn a_new_task_and_its_assignee() {
        let body = json!({"type": "call_reminder", "customer_id": CUSTOMER,
                          "due_date": "2026-06-05", "assignee_id": null});
        let parsed = new_task(&object(body)).unwrap();
        assert_eq!(parsed.kind, Some(TaskType::CallReminder));
        assert_eq!(parsed.customer_id.as_deref(), Some(CUSTOMER));
        assert_eq!(parsed.assignee_id, Patch::Clear);
        assert_eq!(parsed.due_date, NaiveDate::from_ymd_opt(2026, 6, 5));
    }

    #[test]
    fn computed_and_unknown_fields_are_refused() {
        let errors = changes(&object(json!({
            "customer_id": CUSTOMER, "status": "completed", "overdue_amount": "1", "colour": "red",
            "due_date": "10000-01-01", "invoice_ids": ["x"], "type": "nap"
        })))
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "colour",
                "customer_id",
                "due_date",
                "invoice_ids[0]",
                "overdue_amount",
                "status",
                "type"
            ]
        );
    }

    #[test]
    fn calls_need_an_outcome_and_other_types_refuse_one() {
        let call = completion(
            &object(json!({"outcome": "left_voicemail"})),
            TaskType::CallReminder,
        );
        assert_eq!(call.unwrap().outcome, Some(CallOutcome::LeftVoicemail));
        let missing = completion(&object(json!({})), TaskType::CallReminder).unwrap_err();
        assert!(missing.iter().any(|(f, _)| f == "outcome"));
        let bad = completion(&object(json!({"outcome": "maybe"})), TaskType::CallReminder);
        assert!(bad.is_err());
        let refused = completion(
            &object(json!({"outcome": "answered"})),
            TaskType::BookMeeting,
        );
        assert!(refused.unwrap_err().iter().any(|(f, _)| f == "outcome"));
        let plain = completion(
            &object(json!({"note": "booked for Friday"})),
            TaskType::BookMeeting,
        );
        assert_eq!(plain.unwrap().note.as_deref(), Some("booked for Friday"));
    }

    #[test]
    fn a_reschedule_needs_a_valid_due_date() {
        assert!(reschedule(&object(json!({}))).is_err());
        assert!(reschedule(&object(json!({"due_date": "2026-13-01"}))).is_err());
        assert!(reschedule(&object(json!({"due_date": "2026-07-01", "x": 1}))).is_err());
        assert_eq!(
            reschedule(&object(json!({"due_date": "2026-07-01"}))).unwrap(),
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()
        );
    }
}
