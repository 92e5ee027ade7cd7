//! The delivery feedback function: SES events (delivery, bounce, complaint,
//! reject) arrive through an SNS topic and become history items; a hard
//! bounce marks the contact's address as bouncing (later chases skip it) and
//! asks a person to fix it; a reject (SES refused the message, e.g. for its
//! content) is a `chase_failed` item and a task. Events find their customer through the tags every chase email
//! carries. Redelivered events write nothing new: each history item's id is
//! derived from the event itself and written only if absent.

use crate::context::Context;
use crate::ports::{StoreError, Write};
use chrono::{DateTime, Utc};
use domain::history::{HistoryItem, HistoryType, SYSTEM_ACTOR};
use domain::identity::TenantId;
use domain::task::{NewTask, TaskType};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    event_type: String,
    mail: Mail,
    #[serde(default)]
    bounce: Option<Bounce>,
    #[serde(default)]
    complaint: Option<Complaint>,
    #[serde(default)]
    reject: Option<Reject>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reject {
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    timestamp: DateTime<Utc>,
    message_id: String,
    #[serde(default)]
    tags: HashMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FeedbackReport {
    pub recorded: usize,
    pub ignored: usize,
}

/// What one delivery event records.
struct Recorded<'a> {
    tenant: &'a TenantId,
    customer_id: &'a str,
    history: &'a HistoryItem,
    addresses: &'a [String],
    /// A permanent bounce: flag the addresses and ask for a fix.
    hard: bool,
    /// A task for a person, and its title (hard bounce, reject).
    task_title: Option<&'static str>,
    fix_task_id: String,
    now: DateTime<Utc>,
}

pub struct DeliveryFeedback {
    pub context: Context,
}

impl DeliveryFeedback {
    /// Handles the SES event notifications of one delivery (each the text
    /// of an SNS message). Store failures are returned so Lambda retries the
    /// event; events that cannot be about a chase (no tags, unknown type)
    /// are logged and skipped.
    pub async fn handle(&self, messages: &[String]) -> Result<FeedbackReport, FeedbackError> {
        let mut report = FeedbackReport::default();
        for message in messages {
            let Ok(ses) = serde_json::from_str::<SesEvent>(message) else {
                tracing::warn!("not an SES event");
                report.ignored += 1;
                continue;
            };
            if self.record_event(&ses).await? {
                report.recorded += 1;
            } else {
                report.ignored += 1;
            }
        }
        Ok(report)
    }
}

fn tag<'a>(mail: &'a Mail, name: &str) -> Option<&'a str> {
    mail.tags
        .get(name)
        .and_then(|values| values.first())
        .map(String::as_str)
}

/// A history id that is the same every time this event is delivered.
fn event_id(mail: &Mail, kind: &str) -> String {
    let digest = Sha256::digest(format!("{}#{kind}", mail.message_id));
    let mut random = [0u8; 16];
    random.copy_from_slice(&digest[..16]);
    let random = u128::from_be_bytes(random) >> 48;
    ulid::Ulid::from_parts(mail.timestamp.timestamp_millis().max(0) as u64, random).to_string()
}

impl DeliveryFeedback {
    async fn record_event(&self, ses: &SesEvent) -> Result<bool, FeedbackError> {
        let (Some(tenant), Some(customer_id)) = (
            tag(&ses.mail, "tenant").and_then(TenantId::parse),
            tag(&ses.mail, "customer"),
        ) else {
            return Ok(false);
        };
        let now = self.context.clock.now();
        let (kind, addresses, hard) = match (ses.event_type.as_str(), &ses.bounce, &ses.complaint) {
            ("Delivery", _, _) => (HistoryType::Delivery, Vec::new(), false),
            ("Bounce", Some(bounce), _) => (
                HistoryType::Bounce,
                bounce
                    .bounced_recipients
                    .iter()
                    .map(|r| r.email_address.to_lowercase())
                    .collect(),
                bounce.bounce_type == "Permanent",
            ),
            ("Reject", _, _) => (HistoryType::ChaseFailed, Vec::new(), false),
            ("Complaint", _, Some(complaint)) => (
                HistoryType::Complaint,
                complaint
                    .complained_recipients
                    .iter()
                    .map(|r| r.email_address.to_lowercase())
                    .collect(),
                false,
            ),
            _ => return Ok(false),
        };
        let mut history = HistoryItem::new(
            customer_id,
            kind,
            now,
            SYSTEM_ACTOR,
            match kind {
                HistoryType::Delivery => "Chase email delivered".to_string(),
                HistoryType::Bounce if hard => format!(
                    "Chase email bounced permanently ({} address)",
                    addresses.len()
                ),
                HistoryType::Bounce => "Chase email bounced temporarily".to_string(),
                HistoryType::ChaseFailed => {
                    "SES rejected the chase email; it was not sent".to_string()
                }
                _ => "The recipient marked the chase email as spam".to_string(),
            },
            json!({"provider_message_id": ses.mail.message_id, "chase": tag(&ses.mail, "chase"), "hard": hard, "recipients": addresses.len()}),
        );
        if let Some(reject) = &ses.reject {
            history.detail["reason"] = json!("rejected");
            history.detail["provider_reason"] = json!(reject.reason);
        }
        let task_title = match kind {
            HistoryType::Bounce if hard => Some("A chase email bounced: fix the contact's address"),
            HistoryType::ChaseFailed => {
                Some("SES rejected a chase email: check its template and attachments")
            }
            _ => None,
        };
        history.id = event_id(&ses.mail, &ses.event_type);
        let store = &self.context.store;
        // Events of customers deleted since (or never ours) leave nothing behind.
        if store.customer(&tenant, customer_id).await?.is_none() {
            return Ok(false);
        }
        // A contact edited between the read and the commit fails its
        // condition: read the contacts again rather than lose the bounce.
        let event = Recorded {
            tenant: &tenant,
            customer_id,
            history: &history,
            addresses: &addresses,
            hard,
            task_title,
            fix_task_id: event_id(&ses.mail, "fix_contact"),
            now,
        };
        let recorded = crate::retry::retrying(
            3,
            |error: &StoreError| matches!(error, StoreError::ConditionFailed { .. }),
            || self.commit_event(&event),
        )
        .await?;
        Ok(recorded)
    }

    /// One attempt: the history item, and for a hard bounce the bouncing
    /// flag on every contact with a bounced address and a task. `false`
    /// when the event was recorded already (the history item exists).
    async fn commit_event(&self, event: &Recorded<'_>) -> Result<bool, StoreError> {
        let Recorded {
            tenant,
            customer_id,
            history,
            addresses,
            hard,
            task_title,
            now,
            ..
        } = *event;
        let store = &self.context.store;
        let mut writes = vec![Write::History(Box::new(history.clone()))];
        if hard {
            let contacts = store.contacts(tenant, customer_id).await?;
            for contact in contacts.iter().filter(|c| {
                c.email
                    .as_ref()
                    .is_some_and(|e| addresses.contains(&e.to_lowercase()))
            }) {
                let mut bouncing = contact.clone();
                bouncing.email_bouncing = true;
                bouncing.version += 1;
                bouncing.updated_at = now;
                writes.push(Write::SaveContact {
                    contact: Box::new(bouncing),
                    expected_version: contact.version,
                });
            }
        }
        if let Some(title) = task_title {
            let task = NewTask {
                customer_id: customer_id.to_string(),
                kind: TaskType::FixContact,
                title: Some(title.to_string()),
                invoice_ids: Vec::new(),
                assignee_id: None,
                due_date: now.date_naive(),
            }
            .open(event.fix_task_id.clone(), SYSTEM_ACTOR, now);
            writes.push(Write::InsertTask(Box::new(task)));
        }
        match store.commit(tenant, writes).await {
            Ok(()) => Ok(true),
            // The history item exists: a redelivered event.
            Err(StoreError::ConditionFailed { index: 0 }) => Ok(false),
            Err(other) => Err(other),
        }
    }
}
