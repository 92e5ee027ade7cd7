//! The customer timeline: every change, chase, payment and note becomes an
//! item, written in the same transaction as what it records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// API.md "Work": the history types clients rely on.
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
pub enum HistoryType {
    CustomerCreated,
    CustomerUpdated,
    CustomerDeleted,
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
    ChaseEmail,
    ChaseSms,
    ChaseLetter,
    ChaseSuppressed,
    ChaseSuperseded,
    ChaseFailed,
    Delivery,
    Bounce,
    Complaint,
    Note,
    TaskCreated,
    TaskCompleted,
    Payment,
    Adjustment,
    Promise,
    InvoiceCreated,
    InvoiceUpdated,
    InvoiceVoided,
    ChasingChanged,
    DocumentUploaded,
    PortalViewed,
    PortalPromise,
    PortalDispute,
    PortalPayClicked,
    PortalDownload,
}

impl HistoryType {
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// A ULID: history sorts by it.
    pub id: String,
    pub customer_id: String,
    #[serde(rename = "type")]
    pub kind: HistoryType,
    pub occurred_at: DateTime<Utc>,
    /// A user id, or `system` for the scheduler and workers.
    pub actor: String,
    pub summary: String,
    #[serde(default)]
    pub invoice_ids: Vec<String>,
    pub detail: serde_json::Value,
}

pub const SYSTEM_ACTOR: &str = "system";

/// History sorts by id, so ids made in the same millisecond (a fixed local
/// clock, or one request writing several items) must still sort in the
/// order they were made; ids for other instants sort by their instant.
fn next_id(at: DateTime<Utc>) -> String {
    static LAST: std::sync::Mutex<Option<ulid::Ulid>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = ulid::Ulid::from_datetime(at.into());
    let id = match *last {
        Some(previous) if previous.timestamp_ms() == fresh.timestamp_ms() => {
            previous.increment().unwrap_or(fresh)
        }
        _ => fresh,
    };
    *last = Some(id);
    id.to_string()
}

/// How many of the latest items the customer record keeps for its page.
pub const RECENT_ITEMS: usize = 20;

impl HistoryItem {
    pub fn new(
        customer_id: &str,
        kind: HistoryType,
        occurred_at: DateTime<Utc>,
        actor: &str,
        summary: impl Into<String>,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            id: next_id(occurred_at),
            customer_id: customer_id.to_string(),
            kind,
            occurred_at,
            actor: actor.to_string(),
            summary: summary.into(),
            invoice_ids: Vec::new(),
            detail,
        }
    }

    pub fn with_invoices(mut self, invoice_ids: Vec<String>) -> Self {
        self.invoice_ids = invoice_ids;
        self
    }
}

/// Newest first, at most [`RECENT_ITEMS`].
pub fn push_recent(recent: &mut Vec<HistoryItem>, items: &[HistoryItem]) {
    recent.extend(items.iter().cloned());
    recent.sort_by(|a, b| b.id.cmp(&a.id));
    recent.truncate(RECENT_ITEMS);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recent_keeps_the_newest_twenty() {
        let mut recent = Vec::new();
        let start = Utc::now();
        for i in 0..30 {
            let at = start + chrono::Duration::seconds(i);
            let item = HistoryItem::new("c", HistoryType::Note, at, "u", format!("{i}"), json!({}));
            push_recent(&mut recent, &[item]);
        }
        assert_eq!(recent.len(), 20);
        assert_eq!(recent[0].summary, "29");
        assert_eq!(recent[19].summary, "10");
    }

    #[test]
    fn types_use_the_api_names() {
        assert_eq!(
            HistoryType::parse("chase_email"),
            Some(HistoryType::ChaseEmail)
        );
        assert_eq!(HistoryType::parse("nonsense"), None);
    }
}
