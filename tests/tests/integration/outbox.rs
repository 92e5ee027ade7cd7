//! `GET /_local/outbox`: what the local stack sent, newest first, read from
//! moto: chases the worker sent (with the local clock's send time) and raw
//! MIME emails with their parts and attachments.

use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use chrono::NaiveDate;
use integration_tests::TestStack;
use reqwest::Method;
use serde_json::json;

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

#[tokio::test]
async fn the_outbox_lists_the_chases_sent_newest_first_with_their_times() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let settings = json!({"company_name": "Acme Ltd", "sender_email": "ar@example.com"});
    assert_eq!(
        stack
            .patch("/v1/settings", &owner, 0, &settings)
            .await
            .status,
        200
    );
    let customer_id = stack.create_customer(&owner, &unique("OB")).await;
    let email = format!("{}@globex.example", unique("ap"));
    let phone = format!("+4477009{:05}", ulid::Ulid::new().random() % 100_000);
    let contact = json!({"name": "Pat", "email": email, "phone": phone, "sms_enabled": true});
    let reply = stack
        .post(
            &format!("/v1/customers/{customer_id}/contacts"),
            &owner,
            &contact,
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let email_template = stack.create("/v1/templates", &owner, &json!({"name": "Reminder", "channel": "email",
        "subject": "{{customer_name}}: {{account_balance}} due", "body": "<p>Please pay {{account_balance}}.</p>"})).await;
    let sms_template = stack
        .create(
            "/v1/templates",
            &owner,
            &json!({"name": "SMS", "channel": "sms",
        "body": "{{customer_name}}: {{account_balance}} is overdue."}),
        )
        .await;
    let cadence_id = stack
        .create(
            "/v1/cadences",
            &owner,
            &json!({"name": unique("Outbox"), "run_at": "08:00", "steps": [
        {"trigger": "past_due_age", "days": 1, "action": "email", "template_id": email_template},
        {"trigger": "past_due_age", "days": 3, "action": "sms", "template_id": sms_template}]}),
        )
        .await;
    stack
        .create(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": customer_id, "number": "OB-1", "currency": "EUR",
        "issue_date": "2026-03-01", "due_date": "2026-03-05", "total": "120.00"}),
        )
        .await;
    stack.enrol(&owner, &customer_id, &cadence_id).await;

    let day = |d: &str| d.parse::<NaiveDate>().unwrap();
    stack
        .tick_days(day("2026-03-01"), day("2026-03-10"), 8, 0)
        .await;

    let to_email = stack
        .call(
            Method::GET,
            &format!("/_local/outbox?to={email}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(to_email.status, 200, "{:?}", to_email.body);
    let items = to_email.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["channel"], "email");
    assert_eq!(items[0]["sent_at"], "2026-03-06T08:00:00Z");
    assert_eq!(items[0]["from"], "ar@example.com");
    assert!(
        items[0]["subject"].as_str().unwrap().contains("120.00"),
        "{items:?}"
    );
    assert!(
        items[0]["text"].as_str().unwrap().contains("Please pay"),
        "{items:?}"
    );
    assert!(to_email.body["moto_data"]
        .as_str()
        .unwrap()
        .ends_with("/moto-api/data.json"));

    let to_phone = stack
        .call(
            Method::GET,
            &format!("/_local/outbox?to={}", phone.replace('+', "%2B")),
            None,
            None,
            &[],
        )
        .await;
    let items = to_phone.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["channel"], "sms");
    assert_eq!(items[0]["sent_at"], "2026-03-08T08:00:00Z");
    assert!(items[0]["text"].as_str().unwrap().contains("is overdue"));

    // Everything, newest first: the SMS before the email.
    let all = stack
        .call(Method::GET, "/_local/outbox", None, None, &[])
        .await;
    let ids: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["to"][0].as_str().unwrap())
        .collect();
    let (sms_at, email_at) = (
        ids.iter().position(|t| *t == phone).unwrap(),
        ids.iter().position(|t| *t == email).unwrap(),
    );
    assert!(sms_at < email_at, "{ids:?}");

    let text = stack
        .call(
            Method::GET,
            &format!("/_local/outbox?to={email}&format=text"),
            None,
            None,
            &[],
        )
        .await;
    let text = text.body.as_str().unwrap().to_string();
    assert!(
        text.starts_with(&format!("2026-03-06T08:00:00+00:00  email  to {email}")),
        "{text}"
    );
}

#[tokio::test]
async fn raw_mime_emails_are_listed_with_their_text_and_attachments() {
    let stack = TestStack::start().await;
    let to = format!("{}@customer.example", unique("raw"));
    let raw = format!("From: ar@{domain}\r\nTo: {to}\r\nSubject: Your statement\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour statement is attached.\r\n--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Your statement is attached.</p>\r\n--b2--\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"statement-2026-03.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcTl8uXr\r\n--b1--\r\n",
        domain = stack.stack.resources.sender_domain);
    stack
        .stack
        .clients
        .ses
        .send_email()
        .from_email_address(format!("ar@{}", stack.stack.resources.sender_domain))
        .destination(Destination::builder().to_addresses(&to).build())
        .content(
            EmailContent::builder()
                .raw(RawMessage::builder().data(Blob::new(raw)).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();

    let reply = stack
        .call(
            Method::GET,
            &format!("/_local/outbox?to={to}"),
            None,
            None,
            &[],
        )
        .await;
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["to"], json!([to]));
    assert_eq!(items[0]["subject"], "Your statement");
    assert_eq!(
        items[0]["text"].as_str().unwrap().trim(),
        "Your statement is attached."
    );
    assert!(items[0]["html"].as_str().unwrap().contains("<p>"));
    assert_eq!(
        items[0]["attachments"],
        json!([{"filename": "statement-2026-03.pdf", "content_type": "application/pdf", "size": 15}])
    );
    // Not sent by this runner's worker: no local send time.
    assert_eq!(items[0]["sent_at"], json!(null));
}
