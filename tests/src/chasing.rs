//! Helpers for chasing scenarios: a customer with contacts and invoices, a
//! template and a cadence created through the API, ticks day by day, and
//! what moto says was sent.

use crate::TestStack;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use reqwest::Method;
use serde_json::{json, Value};

impl TestStack {
    pub async fn set_clock(&self, now: &str) {
        let reply = self
            .call(
                Method::POST,
                "/_local/clock",
                None,
                Some(&json!({"now": now})),
                &[],
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }

    pub async fn tick(&self, at: DateTime<Utc>) -> Value {
        let reply = self
            .call(
                Method::POST,
                "/_local/tick",
                None,
                Some(&json!({"at": at})),
                &[],
            )
            .await;
        assert_eq!(reply.status, 200, "tick at {at}: {:?}", reply.body);
        reply.body
    }

    /// Ticks every 15 minutes' run at `run_at_utc` (hour, minute) on each day
    /// from `from` to `to` inclusive, as the EventBridge schedule would at
    /// that time of day. Returns each tick's report.
    pub async fn tick_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        hour: u32,
        minute: u32,
    ) -> Vec<Value> {
        let mut reports = Vec::new();
        let mut day = from;
        while day <= to {
            let at = Utc.from_utc_datetime(&day.and_hms_opt(hour, minute, 0).unwrap());
            reports.push(self.tick(at).await);
            day += Duration::days(1);
        }
        reports
    }

    /// Everything moto recorded as sent by SES v2 and SNS since it started,
    /// for every test: filter by recipient.
    pub async fn moto_sent(&self) -> Value {
        let base = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
        // moto dumps its state without a lock: while other tests write (S3
        // objects, emails) the dump can fail; a moment later it succeeds.
        for _ in 0..10 {
            let reply = reqwest::get(format!("{base}/moto-api/data.json"))
                .await
                .unwrap();
            if let Ok(data) = reply.json::<Value>().await {
                return data;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("moto's data.json did not answer with JSON");
    }

    /// Emails moto accepted for `address` (as To or Cc), oldest first.
    pub async fn emails_to(&self, address: &str) -> Vec<Value> {
        let data = self.moto_sent().await;
        data["ses"]["RawMessage"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|m| m.to_string().contains(address))
                    .map(read_mime)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// SMS moto accepted for `phone`.
    pub async fn sms_to(&self, phone: &str) -> Vec<Value> {
        let data = self.moto_sent().await;
        data["sns"]["SMS"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|m| m.to_string().contains(phone))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The customer's history, newest first, all pages.
    pub async fn history(&self, token: &str, customer_id: &str) -> Vec<Value> {
        self.all_pages(
            token,
            &format!("/v1/customers/{customer_id}/history?limit=200"),
        )
        .await
        .0
    }
}

/// A raw email as moto stored it, read back: `source`, `subject`, `body`
/// (the HTML part), `text`, and `attachments` with `filename`,
/// `content_type` and `base64` contents.
fn read_mime(stored: &Value) -> Value {
    use base64::Engine;
    use mail_parser::MimeHeaders;
    let raw = stored["raw_data"].as_str().unwrap_or_default();
    let message = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    let attachments: Vec<Value> = message
        .attachments()
        .map(|part| {
            let content_type = part
                .content_type()
                .map(|t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or_default()))
                .unwrap_or_default();
            serde_json::json!({
                "filename": part.attachment_name(),
                "content_type": content_type,
                "base64": base64::engine::general_purpose::STANDARD.encode(part.contents()),
            })
        })
        .collect();
    serde_json::json!({
        "source": stored["source"],
        "subject": message.subject(),
        "body": message.body_html(0),
        "text": message.body_text(0),
        "attachments": attachments,
    })
}
