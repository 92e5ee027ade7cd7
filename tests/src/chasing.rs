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

    /// `count` customers with one open 10.00 EUR invoice each, enrolled in
    /// a cadence emailing at 08:00 on account age 0 and 1, so all are due
    /// at 2026-03-01T08:00Z. One is made through the API; the others are
    /// copies of its record written straight to the table (fast to seed).
    /// Their addresses are `due-<i>@<tenant>.example`.
    pub async fn seed_due_customers(&self, count: usize) -> Vec<String> {
        self.set_clock("2026-03-01T07:00:00Z").await;
        let owner = self.token("owner");
        self.patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"sender_email": "ar@bench.example"}),
        )
        .await;
        let cadence = self.two_day_email_cadence(&owner).await;
        let address = |i: usize| format!("due-{i}@{}.example", self.tenant);
        let first = self
            .create(
                "/v1/customers",
                &owner,
                &json!({"number": "D-0", "name": "Due 0", "currency": "EUR", "email": address(0)}),
            )
            .await;
        self.create(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": first, "number": "D-INV-0", "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "10.00"}),
        )
        .await;
        self.enrol(&owner, &first, &cadence).await;
        let tenant = domain::identity::TenantId::parse(&self.tenant).unwrap();
        let table = self.table();
        let model = store::customer::get(table, &tenant, &first)
            .await
            .unwrap()
            .unwrap()
            .customer;
        let copies: Vec<_> = (1..count)
            .map(|i| {
                let mut copy = model.clone();
                copy.id = ulid::Ulid::new().to_string();
                copy.number = format!("D-{i}");
                copy.name = format!("Due {i}");
                copy.email = Some(address(i));
                copy.portal_nonce = None;
                copy
            })
            .collect();
        let tenant = &tenant;
        for chunk in copies.chunks(25) {
            let writes = chunk.iter().map(|customer| async move {
                let items = store::customer::put(table, tenant, customer, None).unwrap();
                table.transact(items).await
            });
            for outcome in futures::future::join_all(writes).await {
                outcome.unwrap();
            }
        }
        (0..count).map(address).collect()
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
