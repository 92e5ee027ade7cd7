//! Tasks: work for a person (or the team) about one customer, with the
//! rules for creating, changing, completing and routing them.

use super::customer::Customer;
use super::history::{HistoryItem, HistoryType};
use super::money::Money;
use super::patch::Patch;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// API.md "Work": every task type.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    CallReminder,
    GetCreditReport,
    BookMeeting,
    ValidateInvoice,
    UpdateInvoice,
    OfferPaymentPlan,
    EscalateToCollections,
    Escalation,
    PromiseBroken,
    NoteReminder,
    FixContact,
}

impl TaskType {
    pub const ALL: [TaskType; 11] = [
        Self::CallReminder,
        Self::GetCreditReport,
        Self::BookMeeting,
        Self::ValidateInvoice,
        Self::UpdateInvoice,
        Self::OfferPaymentPlan,
        Self::EscalateToCollections,
        Self::Escalation,
        Self::PromiseBroken,
        Self::NoteReminder,
        Self::FixContact,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The title a task gets when none is given.
    pub fn label(self) -> &'static str {
        match self {
            Self::CallReminder => "Call reminder",
            Self::GetCreditReport => "Get credit report",
            Self::BookMeeting => "Book meeting",
            Self::ValidateInvoice => "Validate invoice information",
            Self::UpdateInvoice => "Update invoice",
            Self::OfferPaymentPlan => "Offer payment plan",
            Self::EscalateToCollections => "Escalate to collections",
            Self::Escalation => "Escalation",
            Self::PromiseBroken => "Promise to pay broken",
            Self::NoteReminder => "Note reminder",
            Self::FixContact => "Fix contact details",
        }
    }

    /// Only calls are completed with an outcome (and must be).
    pub fn takes_outcome(self) -> bool {
        self == Self::CallReminder
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Completed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

/// How a call went (answered, not answered, left voicemail, skipped).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    Answered,
    NotAnswered,
    LeftVoicemail,
    Skipped,
}

impl CallOutcome {
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub customer_id: String,
    #[serde(rename = "type")]
    pub kind: TaskType,
    pub title: String,
    #[serde(default)]
    pub invoice_ids: Vec<String>,
    /// `None`: on the team's list, nobody's own.
    pub assignee_id: Option<String>,
    pub due_date: NaiveDate,
    pub status: TaskStatus,
    pub outcome: Option<CallOutcome>,
    pub completion_note: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
    /// A user id, or `system` for tasks created by chasing.
    pub created_by: String,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_NOTE_CHARS: usize = 5000;
pub const MAX_INVOICE_IDS: usize = 50;

/// What a new task is about; how every task is created (by the API, by a
/// note's reminder, by chasing with `created_by` = `system`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub customer_id: String,
    pub kind: TaskType,
    /// The type's label when `None`.
    pub title: Option<String>,
    pub invoice_ids: Vec<String>,
    pub assignee_id: Option<String>,
    pub due_date: NaiveDate,
}

impl NewTask {
    pub fn open(self, id: String, created_by: &str, now: DateTime<Utc>) -> Task {
        Task {
            id,
            customer_id: self.customer_id,
            kind: self.kind,
            title: self.title.unwrap_or_else(|| self.kind.label().to_string()),
            invoice_ids: self.invoice_ids,
            assignee_id: self.assignee_id,
            due_date: self.due_date,
            status: TaskStatus::Open,
            outcome: None,
            completion_note: None,
            completed_at: None,
            completed_by: None,
            created_by: created_by.to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Validated task fields from a create or patch body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskChanges {
    pub kind: Option<TaskType>,
    pub customer_id: Option<String>,
    pub title: Option<String>,
    pub invoice_ids: Option<Vec<String>>,
    pub assignee_id: Patch<String>,
    pub due_date: Option<NaiveDate>,
}

impl TaskChanges {
    /// A new open task; without an `assignee_id` in the body it is the
    /// creator's own, with `assignee_id: null` it goes to the team's list.
    pub fn create(&self, id: String, creator: &str, now: DateTime<Utc>) -> Option<Task> {
        let assignee_id = match &self.assignee_id {
            Patch::Keep => Some(creator.to_string()),
            Patch::Set(user) => Some(user.clone()),
            Patch::Clear => None,
        };
        let spec = NewTask {
            customer_id: self.customer_id.clone()?,
            kind: self.kind?,
            title: self.title.clone(),
            invoice_ids: self.invoice_ids.clone().unwrap_or_default(),
            assignee_id,
            due_date: self.due_date?,
        };
        Some(spec.open(id, creator, now))
    }

    pub fn apply(&self, current: &Task, now: DateTime<Utc>) -> Task {
        let mut next = current.clone();
        if let Some(kind) = self.kind {
            next.kind = kind;
        }
        if let Some(title) = &self.title {
            next.title = title.clone();
        }
        if let Some(invoice_ids) = &self.invoice_ids {
            next.invoice_ids = invoice_ids.clone();
        }
        next.assignee_id = self.assignee_id.apply(&current.assignee_id);
        if let Some(due_date) = self.due_date {
            next.due_date = due_date;
        }
        next.version = current.version + 1;
        next.updated_at = now;
        next
    }
}

/// A validated `POST /v1/tasks/{id}/complete {outcome?, note?}` body: an
/// outcome for calls only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    pub outcome: Option<CallOutcome>,
    pub note: Option<String>,
}

impl Task {
    pub fn is_open(&self) -> bool {
        self.status == TaskStatus::Open
    }

    pub fn completed(&self, completion: &Completion, by: &str, now: DateTime<Utc>) -> Task {
        Task {
            status: TaskStatus::Completed,
            outcome: completion.outcome,
            completion_note: completion.note.clone(),
            completed_at: Some(now),
            completed_by: Some(by.to_string()),
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }

    pub fn rescheduled(&self, due_date: NaiveDate, now: DateTime<Utc>) -> Task {
        Task {
            due_date,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }

    /// The `task_created` item of the customer's history.
    pub fn created_history(&self, actor: &str, now: DateTime<Utc>) -> HistoryItem {
        HistoryItem::new(
            &self.customer_id,
            HistoryType::TaskCreated,
            now,
            actor,
            format!("Task created: {}", self.title),
            json!({
                "task_id": self.id,
                "task_type": self.kind,
                "title": self.title,
                "assignee_id": self.assignee_id,
                "due_date": self.due_date,
            }),
        )
        .with_invoices(self.invoice_ids.clone())
    }

    /// The `task_completed` item of the customer's history.
    pub fn completed_history(&self, actor: &str, now: DateTime<Utc>) -> HistoryItem {
        let summary = match self.outcome {
            Some(outcome) => format!(
                "Task completed: {} ({})",
                self.title,
                outcome.as_str().replace('_', " ")
            ),
            None => format!("Task completed: {}", self.title),
        };
        HistoryItem::new(
            &self.customer_id,
            HistoryType::TaskCompleted,
            now,
            actor,
            summary,
            json!({
                "task_id": self.id,
                "task_type": self.kind,
                "title": self.title,
                "outcome": self.outcome,
                "note": self.completion_note,
            }),
        )
        .with_invoices(self.invoice_ids.clone())
    }
}

/// What a task shows about its customer, computed from the customer record
/// when the task is read (never stored on the task, so it is always current).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerFacts {
    pub customer_name: String,
    pub outstanding_invoice_count: u32,
    /// The customer's overdue balance as the money rules compute it for
    /// `today`: partial payments deducted, installments only for invoices
    /// on a plan.
    pub overdue_amount: Money,
    /// The customer's phone, then its contacts' numbers.
    pub contact_numbers: Vec<String>,
}

impl CustomerFacts {
    /// `today` is the tenant-local date: what is overdue moves with it.
    pub fn of(customer: &Customer, today: NaiveDate) -> Self {
        let mut current = customer.clone();
        current.refresh(today);
        let mut contact_numbers: Vec<String> = Vec::new();
        for number in current.phone.iter().chain(&current.contact_phones) {
            if !contact_numbers.contains(number) {
                contact_numbers.push(number.clone());
            }
        }
        let overdue = current.balance.overdue;
        Self {
            overdue_amount: Money::new(overdue, current.currency).unwrap_or(Money {
                amount: overdue,
                currency: current.currency,
            }),
            outstanding_invoice_count: current.open_invoice_count,
            customer_name: current.name,
            contact_numbers,
        }
    }
}

/// Who gets a call or escalation task created by chasing: the step's
/// assignee, else the customer's AR specialist, else nobody (the team's list).
pub fn chase_task_assignee(
    step_assignee: Option<&str>,
    ar_specialist_id: Option<&str>,
) -> Option<String> {
    [step_assignee, ar_specialist_id]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|id| !id.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::CustomerChanges;
    use crate::money::Currency;

    fn now() -> DateTime<Utc> {
        "2026-06-01T09:00:00Z".parse().unwrap()
    }

    const CUSTOMER: &str = "01J00000000000000000000000";

    fn new_task(assignee_id: Patch<String>) -> Task {
        TaskChanges {
            kind: Some(TaskType::CallReminder),
            customer_id: Some(CUSTOMER.into()),
            due_date: NaiveDate::from_ymd_opt(2026, 6, 5),
            assignee_id,
            ..TaskChanges::default()
        }
        .create("01J00000000000000000000001".into(), "u1", now())
        .unwrap()
    }

    #[test]
    fn chasing_routes_to_the_step_then_the_ar_specialist_then_the_team() {
        assert_eq!(
            chase_task_assignee(Some("step-user"), Some("ar-user")).as_deref(),
            Some("step-user")
        );
        assert_eq!(
            chase_task_assignee(None, Some("ar-user")).as_deref(),
            Some("ar-user")
        );
        assert_eq!(
            chase_task_assignee(Some("  "), Some("ar-user")).as_deref(),
            Some("ar-user")
        );
        assert_eq!(chase_task_assignee(None, None), None);
        assert_eq!(chase_task_assignee(Some(""), Some("")), None);
    }

    #[test]
    fn every_api_type_parses_and_round_trips() {
        for kind in TaskType::ALL {
            assert_eq!(TaskType::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
        assert_eq!(TaskType::parse("nap"), None);
    }

    #[test]
    fn a_task_needs_type_customer_and_due_date() {
        let incomplete = TaskChanges {
            kind: Some(TaskType::CallReminder),
            ..TaskChanges::default()
        };
        assert!(incomplete.create("t".into(), "u1", now()).is_none());
    }

    #[test]
    fn tasks_default_to_their_creator_and_a_null_assignee_means_the_team() {
        let task = new_task(Patch::Keep);
        assert_eq!(task.assignee_id.as_deref(), Some("u1"));
        assert_eq!(task.title, "Call reminder");
        assert_eq!(task.status, TaskStatus::Open);
        assert_eq!(new_task(Patch::Clear).assignee_id, None);
        assert_eq!(
            new_task(Patch::Set("u2".into())).assignee_id.as_deref(),
            Some("u2")
        );
    }

    #[test]
    fn completing_and_rescheduling_move_the_version() {
        let task = new_task(Patch::Keep);
        let done = task.completed(
            &Completion {
                outcome: Some(CallOutcome::Answered),
                note: None,
            },
            "u1",
            now(),
        );
        assert_eq!(done.status, TaskStatus::Completed);
        assert_eq!(done.version, 2);
        assert_eq!(
            done.completed_history("u1", now()).summary,
            "Task completed: Call reminder (answered)"
        );
        let later = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        let moved = task.rescheduled(later, now());
        assert_eq!(moved.due_date, later);
        assert_eq!(moved.version, 2);
    }

    #[test]
    fn facts_come_from_the_customer_record_as_of_today() {
        let mut customer = CustomerChanges {
            number: Some("C-1".into()),
            name: Some("Acme".into()),
            currency: Currency::parse("GBP"),
            phone: Patch::Set("+447700900123".into()),
            ..CustomerChanges::default()
        }
        .create(CUSTOMER.into(), now())
        .unwrap();
        // A stored figure is recomputed from the open invoices (none here).
        customer.balance.overdue = rust_decimal::Decimal::new(7050, 2);
        customer.contact_phones = vec!["+447700900999".into(), "+447700900123".into()];
        let facts = CustomerFacts::of(&customer, now().date_naive());
        assert_eq!(facts.customer_name, "Acme");
        assert_eq!(facts.outstanding_invoice_count, 0);
        assert_eq!(facts.overdue_amount.amount.to_string(), "0.00");
        assert_eq!(facts.overdue_amount.currency.code(), "GBP");
        assert_eq!(facts.contact_numbers, ["+447700900123", "+447700900999"]);
    }
}
