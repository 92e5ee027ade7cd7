//! Notes: what someone wrote about a customer, optionally about some of its
//! invoices and with a reminder task for the author.

use super::history::{HistoryItem, HistoryType};
use super::task::{NewTask, Task, TaskType};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const MAX_BODY_CHARS: usize = 10_000;

/// Reminder task titles quote the start of the note.
const TITLE_QUOTE_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: String,
    pub customer_id: String,
    pub body: String,
    #[serde(default)]
    pub invoice_ids: Vec<String>,
    pub reminder_date: Option<NaiveDate>,
    /// The `note_reminder` task created with the note, if any.
    pub reminder_task_id: Option<String>,
    pub author_id: String,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated `POST /v1/customers/{id}/notes` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNote {
    pub body: String,
    pub invoice_ids: Vec<String>,
    pub reminder_date: Option<NaiveDate>,
}

impl NewNote {
    /// The note, and its reminder task when a reminder date was given.
    pub fn create(
        &self,
        customer_id: &str,
        author: &str,
        now: DateTime<Utc>,
    ) -> (Note, Option<Task>) {
        let note_id = ulid::Ulid::from_datetime(now.into()).to_string();
        let reminder = self.reminder_date.map(|due_date| {
            NewTask {
                customer_id: customer_id.to_string(),
                kind: TaskType::NoteReminder,
                title: Some(reminder_title(&self.body)),
                invoice_ids: self.invoice_ids.clone(),
                assignee_id: Some(author.to_string()),
                due_date,
            }
            .open(
                ulid::Ulid::from_datetime(now.into()).to_string(),
                author,
                now,
            )
        });
        let note = Note {
            id: note_id,
            customer_id: customer_id.to_string(),
            body: self.body.clone(),
            invoice_ids: self.invoice_ids.clone(),
            reminder_date: self.reminder_date,
            reminder_task_id: reminder.as_ref().map(|t| t.id.clone()),
            author_id: author.to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        (note, reminder)
    }
}

fn reminder_title(body: &str) -> String {
    let first_line = body.lines().next().unwrap_or_default().trim();
    let quoted: String = first_line.chars().take(TITLE_QUOTE_CHARS).collect();
    if quoted.chars().count() < first_line.chars().count() || body.lines().count() > 1 {
        format!("Reminder: {quoted}…")
    } else {
        format!("Reminder: {quoted}")
    }
}

impl Note {
    /// The `note` item of the customer's history: the whole note, so the
    /// timeline expands it without another read.
    pub fn history(&self) -> HistoryItem {
        let summary: String = self.body.chars().take(TITLE_QUOTE_CHARS).collect();
        HistoryItem::new(
            &self.customer_id,
            HistoryType::Note,
            self.created_at,
            &self.author_id,
            format!("Note: {summary}"),
            json!({
                "note_id": self.id,
                "body": self.body,
                "reminder_date": self.reminder_date,
                "reminder_task_id": self.reminder_task_id,
            }),
        )
        .with_invoices(self.invoice_ids.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-06-01T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_reminder_date_creates_a_note_reminder_for_the_author() {
        let parsed = NewNote {
            body: "Called Jane, she will pay on Friday\nSecond line".into(),
            invoice_ids: Vec::new(),
            reminder_date: Some("2026-06-05".parse().unwrap()),
        };
        let (note, task) = parsed.create("01J00000000000000000000000", "u7", now());
        let task = task.unwrap();
        assert_eq!(task.kind, TaskType::NoteReminder);
        assert_eq!(task.assignee_id.as_deref(), Some("u7"));
        assert_eq!(task.title, "Reminder: Called Jane, she will pay on Friday…");
        assert_eq!(note.reminder_task_id.as_deref(), Some(task.id.as_str()));
        let history = note.history();
        assert_eq!(history.kind, HistoryType::Note);
        assert_eq!(history.detail["note_id"], json!(note.id));

        let plain = NewNote {
            body: "No reminder".into(),
            invoice_ids: Vec::new(),
            reminder_date: None,
        };
        let (note, task) = plain.create("01J00000000000000000000000", "u7", now());
        assert!(task.is_none());
        assert_eq!(note.reminder_task_id, None);
    }
}
