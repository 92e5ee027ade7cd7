//! `GET /_local/outbox`: the emails and SMS the local stack sent, read back
//! from moto's own record (`/moto-api/data.json`) and made readable: raw MIME
//! emails are parsed (text, HTML, attachments), simple ones taken as they
//! are. moto keeps no send times, so the runner notes the local clock's
//! instant of every send its chase worker makes.

use app::ports::{Clock, Email, Mailer, SendError, Sms};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("AWS_ENDPOINT_URL is not set: no moto to read")]
    NoMoto,
    #[error("reading moto's data: {0}")]
    Moto(#[from] reqwest::Error),
}

/// When each message the runner's functions sent left, on the local clock,
/// and in which order.
#[derive(Default)]
pub struct SendLog {
    sent: Mutex<HashMap<String, (u64, DateTime<Utc>)>>,
}

impl SendLog {
    fn note(&self, message_id: &str, at: DateTime<Utc>) {
        // A poisoned lock only means a panic elsewhere; the map is still valid.
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let order = sent.len() as u64;
        sent.insert(message_id.to_string(), (order, at));
    }

    fn get(&self, message_id: &str) -> Option<(u64, DateTime<Utc>)> {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.get(message_id).copied()
    }
}

/// The chase worker's mailer, noting each send in the log.
pub struct LoggedMailer {
    pub inner: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub log: Arc<SendLog>,
}

#[async_trait]
impl Mailer for LoggedMailer {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        let id = self.inner.send_email(email).await?;
        self.log.note(&id, self.clock.now());
        Ok(id)
    }
}

/// The chase worker's SMS sender, noting each send in the log.
pub struct LoggedSms {
    pub inner: Arc<dyn Sms>,
    pub clock: Arc<dyn Clock>,
    pub log: Arc<SendLog>,
}

#[async_trait]
impl Sms for LoggedSms {
    async fn send_sms(&self, phone: &str, text: &str) -> Result<String, SendError> {
        let id = self.inner.send_sms(phone, text).await?;
        self.log.note(&id, self.clock.now());
        Ok(id)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SentMessage {
    /// `email` or `sms`.
    pub channel: &'static str,
    /// The provider's message id (what history items record).
    pub message_id: String,
    /// The local clock when the runner's worker sent it; `None` for
    /// messages other clients sent through moto.
    pub sent_at: Option<DateTime<Utc>>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    #[serde(skip)]
    order: Option<u64>,
}

/// Everything moto recorded as sent, newest first: messages this runner sent
/// in the order it sent them, then any others (moto's order, reversed).
pub async fn read(
    moto_url: Option<&str>,
    log: &SendLog,
    to: Option<&str>,
) -> Result<Vec<SentMessage>, OutboxError> {
    let base = moto_url.ok_or(OutboxError::NoMoto)?;
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", base.trim_end_matches('/')))
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(from_moto_data(&data, log, to))
}

pub fn from_moto_data(data: &Value, log: &SendLog, to: Option<&str>) -> Vec<SentMessage> {
    let list = |service: &str, kind: &str| -> Vec<Value> {
        data[service][kind].as_array().cloned().unwrap_or_default()
    };
    let mut messages: Vec<SentMessage> = Vec::new();
    messages.extend(list("ses", "Message").iter().map(simple_email));
    messages.extend(list("ses", "RawMessage").iter().map(raw_email));
    messages.extend(list("sns", "SMS").iter().map(sms));
    for message in &mut messages {
        if let Some((order, at)) = log.get(&message.message_id) {
            message.order = Some(order);
            message.sent_at = Some(at);
        }
    }
    if let Some(to) = to {
        messages.retain(|m| m.to.iter().any(|r| r.eq_ignore_ascii_case(to)));
    }
    // Stable sort of the reversed list: moto's newest first among the unknown.
    messages.reverse();
    messages.sort_by_key(|m| std::cmp::Reverse(m.order.map_or(0, |o| o + 1)));
    messages
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

fn strings(value: &Value) -> Vec<String> {
    let mut all: Vec<String> = value
        .as_array()
        .map(|a| a.iter().filter_map(text).collect())
        .unwrap_or_default();
    // moto lists a raw email's recipients twice.
    let mut seen = std::collections::HashSet::new();
    all.retain(|a| seen.insert(a.to_ascii_lowercase()));
    all
}

fn simple_email(message: &Value) -> SentMessage {
    let destinations = &message["destinations"];
    let mut to = strings(&destinations["ToAddresses"]);
    to.extend(strings(&destinations["CcAddresses"]));
    // moto keeps one body: the HTML part when there is one.
    let body = text(&message["body"]);
    let is_html = body
        .as_deref()
        .is_some_and(|b| b.trim_start().starts_with('<'));
    SentMessage {
        channel: "email",
        message_id: text(&message["id"]).unwrap_or_default(),
        sent_at: None,
        from: text(&message["source"]),
        to,
        subject: text(&message["subject"]),
        text: if is_html {
            body.as_deref().map(|html| {
                mail_parser::decoders::html::html_to_text(html)
                    .trim()
                    .to_string()
            })
        } else {
            body.clone()
        },
        html: if is_html { body } else { None },
        attachments: Vec::new(),
        order: None,
    }
}

fn raw_email(message: &Value) -> SentMessage {
    let raw = message["raw_data"].as_str().unwrap_or_default();
    let mut sent = SentMessage {
        channel: "email",
        message_id: text(&message["id"]).unwrap_or_default(),
        sent_at: None,
        from: text(&message["source"]),
        to: strings(&message["destinations"]),
        subject: None,
        text: None,
        html: None,
        attachments: Vec::new(),
        order: None,
    };
    let Some(parsed) = MessageParser::default().parse(raw.as_bytes()) else {
        // Unparseable: the raw text still tells a person what was sent.
        sent.text = Some(raw.to_string());
        return sent;
    };
    sent.subject = parsed.subject().map(str::to_string);
    sent.text = parsed.body_text(0).map(|t| t.into_owned());
    sent.html = parsed.body_html(0).map(|h| h.into_owned());
    // Without an HTML part body_html renders the text; keep only real HTML.
    if parsed.html_body_count() == 0 {
        sent.html = None;
    }
    sent.attachments = parsed
        .attachments()
        .map(|part| Attachment {
            filename: part.attachment_name().map(str::to_string),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: part.contents().len(),
        })
        .collect();
    sent
}

fn sms(message: &Value) -> SentMessage {
    SentMessage {
        channel: "sms",
        message_id: text(&message["message_id"]).unwrap_or_default(),
        sent_at: None,
        from: None,
        to: text(&message["phone_number"]).into_iter().collect(),
        subject: None,
        text: text(&message["message"]),
        html: None,
        attachments: Vec::new(),
        order: None,
    }
}

/// One block per message, for a terminal.
pub fn as_text(messages: &[SentMessage]) -> String {
    let mut out = String::new();
    for m in messages {
        let at = m
            .sent_at
            .map_or_else(|| "(not sent by this runner)".into(), |t| t.to_rfc3339());
        let _ = writeln!(out, "{at}  {}  to {}", m.channel, m.to.join(", "));
        if let Some(subject) = &m.subject {
            let _ = writeln!(out, "  subject: {subject}");
        }
        for attachment in &m.attachments {
            let _ = writeln!(
                out,
                "  attachment: {} ({}, {} bytes)",
                attachment.filename.as_deref().unwrap_or("(unnamed)"),
                attachment.content_type,
                attachment.size
            );
        }
        if let Some(text) = &m.text {
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .take(6)
            {
                let _ = writeln!(out, "  | {line}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RAW: &str = "From: ar@example.com\r\nTo: pay@customer.test\r\nSubject: Invoice INV-1 is overdue\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease pay 100.00.\r\n--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Please pay <b>100.00</b>.</p>\r\n--inner--\r\n--outer\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"statement.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--outer--\r\n";

    fn data() -> Value {
        json!({
            "ses": {
                "Message": [{"id": "simple-1", "source": "ar@example.com",
                    "destinations": {"ToAddresses": ["a@customer.test"], "CcAddresses": ["cc@customer.test"]},
                    "subject": "Reminder", "body": "<p>Hello <b>there</b></p>"}],
                "RawMessage": [{"id": "raw-1", "source": "ar@example.com",
                    "destinations": ["pay@customer.test", "pay@customer.test"], "raw_data": RAW}]
            },
            "sns": {"SMS": [{"message_id": "sms-1", "phone_number": "+14155550100", "message": "Pay now"}]}
        })
    }

    #[test]
    fn raw_mime_emails_show_text_html_and_attachments() {
        let messages = from_moto_data(&data(), &SendLog::default(), Some("pay@customer.test"));
        assert_eq!(messages.len(), 1);
        let m = &messages[0];
        assert_eq!(m.to, vec!["pay@customer.test"]);
        assert_eq!(m.subject.as_deref(), Some("Invoice INV-1 is overdue"));
        assert_eq!(m.text.as_deref().map(str::trim), Some("Please pay 100.00."));
        assert!(m.html.as_deref().unwrap().contains("<b>100.00</b>"));
        assert_eq!(
            m.attachments,
            vec![Attachment {
                filename: Some("statement.pdf".into()),
                content_type: "application/pdf".into(),
                size: 9,
            }]
        );
    }

    #[test]
    fn simple_emails_keep_their_html_and_read_as_text() {
        let messages = from_moto_data(&data(), &SendLog::default(), Some("cc@customer.test"));
        assert_eq!(messages[0].subject.as_deref(), Some("Reminder"));
        assert_eq!(messages[0].text.as_deref(), Some("Hello there"));
        assert!(messages[0].html.is_some());
    }

    #[test]
    fn messages_this_runner_sent_come_first_newest_first_with_their_times() {
        let log = SendLog::default();
        let at = |d: u32| {
            DateTime::parse_from_rfc3339(&format!("2026-06-{d:02}T08:00:00Z"))
                .unwrap()
                .to_utc()
        };
        log.note("sms-1", at(1));
        log.note("simple-1", at(2));
        let messages = from_moto_data(&data(), &log, None);
        let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["simple-1", "sms-1", "raw-1"]);
        assert_eq!(messages[0].sent_at, Some(at(2)));
        assert_eq!(messages[2].sent_at, None);
        assert!(as_text(&messages)
            .contains("2026-06-02T08:00:00+00:00  email  to a@customer.test, cc@customer.test"));
    }
}
