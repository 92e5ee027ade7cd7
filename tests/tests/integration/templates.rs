//! Templates: CRUD with save-time checks of their variables, preview for a
//! customer, and deletion refused while a cadence uses them.

use integration_tests::TestStack;
use reqwest::Method;
use serde_json::{json, Value};

fn email_template() -> Value {
    json!({
        "name": "Friendly reminder",
        "channel": "email",
        "subject": "Your account with us: {{account_balance}} due",
        "body": "<p>Dear {{customer_contact_name}},</p><p>{{customer_name}} ({{customer_number}}) owes {{account_balance}} on {{invoice_numbers}} (due {{invoice_due_dates}}).</p>{{{customer_portal_button}}}"
    })
}

#[tokio::test]
async fn templates_are_created_read_updated_and_deleted() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    let created = stack
        .post("/v1/templates", &manager, &email_template())
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/templates/{id}").as_str())
    );

    let contributor = stack.token("contributor");
    let read = stack
        .get(&format!("/v1/templates/{id}"), &contributor)
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["channel"], "email");
    let listed = stack.get("/v1/templates", &contributor).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["next_cursor"], Value::Null);

    let forbidden = stack
        .post("/v1/templates", &contributor, &email_template())
        .await;
    assert_eq!(forbidden.status, 403);

    let patched = stack
        .patch(
            &format!("/v1/templates/{id}"),
            &manager,
            1,
            &json!({"name": "Gentle reminder"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["name"], "Gentle reminder");
    let stale = stack
        .patch(
            &format!("/v1/templates/{id}"),
            &manager,
            1,
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.body["error"], "version_conflict");
    let channel = stack
        .patch(
            &format!("/v1/templates/{id}"),
            &manager,
            2,
            &json!({"channel": "sms"}),
        )
        .await;
    assert_eq!(channel.status, 422);
    assert!(channel.body["fields"]["channel"].is_string());
    let no_if_match = stack
        .call(
            Method::PATCH,
            &format!("/v1/templates/{id}"),
            Some(&manager),
            Some(&json!({"name": "y"})),
            &[],
        )
        .await;
    assert_eq!(no_if_match.status, 428);

    let other_tenant = stack.token_for("another-tenant", "u", "owner");
    assert_eq!(
        stack
            .get(&format!("/v1/templates/{id}"), &other_tenant)
            .await
            .status,
        404
    );
    assert_eq!(
        stack.get("/v1/templates/not-an-id", &manager).await.status,
        404
    );
    let wrong_method = stack
        .call(Method::PUT, "/v1/templates", Some(&manager), None, &[])
        .await;
    assert_eq!(wrong_method.status, 405);

    let deleted = stack.delete(&format!("/v1/templates/{id}"), &manager).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        stack
            .get(&format!("/v1/templates/{id}"), &manager)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn unknown_variables_and_bad_fields_are_named_in_a_422() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let unknown = stack
        .post(
            "/v1/templates",
            &owner,
            &json!({"name": "x", "channel": "email", "subject": "Hi {{first_name}}", "body": "Pay {{amount_due}} now"}),
        )
        .await;
    assert_eq!(unknown.status, 422, "{:?}", unknown.body);
    assert!(unknown.body["fields"]["subject"]
        .as_str()
        .unwrap()
        .contains("first_name"));
    assert!(unknown.body["fields"]["body"]
        .as_str()
        .unwrap()
        .contains("amount_due"));

    let sms = stack
        .post(
            "/v1/templates",
            &owner,
            &json!({"name": "x", "channel": "sms", "subject": "no", "body": "Pay {{account_balance}}: {{{customer_portal_button}}}"}),
        )
        .await;
    assert_eq!(sms.status, 422);
    assert!(sms.body["fields"]["subject"].is_string());

    let missing = stack
        .post("/v1/templates", &owner, &json!({"colour": "red"}))
        .await;
    assert_eq!(missing.status, 422);
    for field in ["name", "channel", "body", "colour"] {
        assert!(
            missing.body["fields"][field].is_string(),
            "{field}: {:?}",
            missing.body
        );
    }
    let unescaped = stack
        .post(
            "/v1/templates",
            &owner,
            &json!({"name": "x", "channel": "email", "subject": "s", "body": "{{{customer_name}}}"}),
        )
        .await;
    assert_eq!(unescaped.status, 422);
    assert!(unescaped.body["fields"]["body"].is_string());
}

#[tokio::test]
async fn a_preview_renders_the_customers_data() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let settings = stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"portal_base_url": "https://pay.acme.test/portal"}),
        )
        .await;
    assert_eq!(settings.status, 200, "{:?}", settings.body);
    let cid = stack.create(
            "/v1/customers",
            &owner,
            &json!({"number": "C-7", "name": "Dupont & Fils", "currency": "EUR", "language": "fr", "payment_terms": "NET30",
                    "billing_address": {"line1": "1 rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"}}),
        ).await;
    let contact = stack
        .post(
            &format!("/v1/customers/{cid}/contacts"),
            &owner,
            &json!({"name": "Marie Dupont", "email": "marie@dupont.test"}),
        )
        .await;
    assert_eq!(contact.status, 201, "{:?}", contact.body);
    for (number, total) in [("F-1", "1234.50"), ("F-2", "100.00")] {
        let invoice = stack
            .post(
                "/v1/invoices",
                &owner,
                &json!({"customer_id": cid, "number": number, "currency": "EUR", "issue_date": "2026-05-01", "due_date": "2026-05-31", "total": total}),
            )
            .await;
        assert_eq!(invoice.status, 201, "{:?}", invoice.body);
    }
    let template = stack.post("/v1/templates", &owner, &email_template()).await;
    let tid = template.id();

    let preview = stack
        .post(
            &format!("/v1/templates/{tid}/preview"),
            &stack.token("contributor"),
            &json!({"customer_id": cid}),
        )
        .await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let subject = preview.body["subject"].as_str().unwrap();
    assert_eq!(subject, "Your account with us: 1\u{202f}334,50\u{a0}€ due");
    let body = preview.body["body"].as_str().unwrap();
    assert!(body.contains("Dear Marie Dupont"), "{body}");
    assert!(
        body.contains("Dupont &amp; Fils (C-7)"),
        "HTML-escaped: {body}"
    );
    assert!(body.contains("F-1, F-2"), "{body}");
    assert!(body.contains("31 mai 2026"), "{body}");
    // The customer's capability link, under the tenant's portal base.
    let portal_url = stack
        .get(&format!("/v1/customers/{cid}"), &owner)
        .await
        .body["portal_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        portal_url.starts_with("https://pay.acme.test/portal/p/"),
        "{portal_url}"
    );
    assert!(body.contains(&format!("href=\"{portal_url}\"")), "{body}");
    assert!(body.contains("Payer maintenant"), "{body}");
    let text = preview.body["text"].as_str().unwrap();
    assert!(
        text.contains("Dupont & Fils (C-7)"),
        "the text part is not escaped: {text}"
    );
    assert!(
        text.contains(&format!("Payer maintenant: {portal_url}")),
        "{text}"
    );
    assert!(preview.body["warnings"].is_array(), "{:?}", preview.body);

    let no_customer = stack
        .post(&format!("/v1/templates/{tid}/preview"), &owner, &json!({}))
        .await;
    assert_eq!(no_customer.status, 422);
    assert!(no_customer.body["fields"]["customer_id"].is_string());
    let unknown = stack
        .post(
            &format!("/v1/templates/{tid}/preview"),
            &owner,
            &json!({"customer_id": "01J00000000000000000000000"}),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body["fields"]["customer_id"].is_string());
}

#[tokio::test]
async fn a_template_a_cadence_uses_cannot_be_deleted() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let template = stack.post("/v1/templates", &owner, &email_template()).await;
    let tid = template.id();
    let cadence_id = stack.create(
            "/v1/cadences",
            &owner,
            &json!({"name": "Standard", "run_at": "09:00", "steps": [{"trigger": "past_due_age", "days": 1, "action": "email", "template_id": tid}]}),
        ).await;
    let refused = stack.delete(&format!("/v1/templates/{tid}"), &owner).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.body["error"], "template_in_use");

    let deleted = stack
        .delete(&format!("/v1/cadences/{cadence_id}"), &owner)
        .await;
    assert_eq!(deleted.status, 204);
    let allowed = stack.delete(&format!("/v1/templates/{tid}"), &owner).await;
    assert_eq!(allowed.status, 204);
}
