//! Invoice-level chasing over HTTP (docs/chasing.md "Invoice-level
//! chasing"): cadence levels, one cadence per level on a customer, an
//! invoice's own override, the preview of both levels, and enrolment by
//! assignment rules and CSV at both levels, a customer chased through an
//! override alone, and 90 days of both levels read back from what moto
//! received. Every timeline rule is played in the domain's tests
//! (`shared/domain/src/cadence/invoice_level_tests.rs`).

use integration_tests::{Reply, TestStack};
use serde_json::{json, Value};

/// The tenant's company name and sender address, which emails need.
async fn set_sender(stack: &TestStack, token: &str) {
    let settings = stack
        .patch(
            "/v1/settings",
            token,
            0,
            &json!({"company_name": "Acme Ltd", "sender_email": "ar@example.com"}),
        )
        .await;
    assert_eq!(settings.status, 200, "{:?}", settings.body);
}

async fn email_template(stack: &TestStack, token: &str) -> String {
    stack
        .create(
            "/v1/templates",
            token,
            &json!({"name": "Invoice reminder", "channel": "email", "subject": "Invoice {{invoice_number}}",
                    "body": "{{invoice_number}} ({{invoice_balance}}) was due {{invoice_due_date}}: {{days_overdue}} days."}),
        )
        .await
}

/// Emails 3 days before each invoice's due date, on it and a week after, at 09:00.
async fn invoice_cadence(stack: &TestStack, token: &str, template: &str, extra: Value) -> String {
    let body = json!({"name": "Per invoice", "level": "invoice", "run_at": "09:00", "steps": [
        {"trigger": "days_from_due", "days": -3, "action": "email", "template_id": template},
        {"trigger": "days_from_due", "days": 0, "action": "email", "template_id": template},
        {"trigger": "days_from_due", "days": 7, "action": "email", "template_id": template}
    ]});
    stack
        .create("/v1/cadences", token, &with(body, extra))
        .await
}

/// `body` with the fields of `extra` added or replaced.
fn with(mut body: Value, extra: Value) -> Value {
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

/// A customer-level cadence: one email at past-due age 30.
async fn customer_cadence(stack: &TestStack, token: &str, template: &str, extra: Value) -> String {
    let body = json!({"name": "Statement", "run_at": "09:00", "steps": [
        {"trigger": "past_due_age", "days": 30, "action": "email", "template_id": template}
    ]});
    stack
        .create("/v1/cadences", token, &with(body, extra))
        .await
}

async fn invoice(stack: &TestStack, token: &str, customer: &str, number: &str, due: &str) -> Reply {
    let reply = stack
        .post(
            "/v1/invoices",
            token,
            &json!({"customer_id": customer, "number": number, "currency": "EUR",
                    "issue_date": "2026-05-01", "due_date": due, "total": "100.00"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply
}

fn field_errors(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    reply.body["fields"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn cadences_have_a_level_and_each_level_takes_its_own_triggers() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    let template = email_template(&stack, &manager).await;
    let per_invoice = invoice_cadence(&stack, &manager, &template, json!({})).await;
    let statement = customer_cadence(&stack, &manager, &template, json!({})).await;

    let shown = stack
        .get(&format!("/v1/cadences/{per_invoice}"), &manager)
        .await;
    assert_eq!(shown.body["level"], "invoice");
    assert_eq!(shown.body["steps"][0]["trigger"], "days_from_due");
    let listed = stack.get("/v1/cadences", &manager).await;
    let levels: Vec<(String, String)> = listed
        .items()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["level"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(levels.contains(&(per_invoice.clone(), "invoice".into())));
    assert!(levels.contains(&(statement.clone(), "customer".into())));

    let mixed = stack
        .post(
            "/v1/cadences",
            &manager,
            &json!({"name": "Mixed", "level": "invoice", "run_at": "09:00", "steps": [
                {"trigger": "account_age", "days": 1, "action": "phone_call"},
                {"trigger": "invoice_age", "days": -1, "action": "phone_call"}]}),
        )
        .await;
    assert_eq!(field_errors(&mixed), ["steps[0].trigger", "steps[1].days"]);
    let customer_level = stack
        .post(
            "/v1/cadences",
            &manager,
            &json!({"name": "Wrong", "run_at": "09:00", "steps": [
                {"trigger": "days_from_due", "days": 1, "action": "phone_call"}]}),
        )
        .await;
    assert_eq!(field_errors(&customer_level), ["steps[0].trigger"]);
    let bad_level = stack
        .post(
            "/v1/cadences",
            &manager,
            &json!({"name": "Odd", "level": "account", "run_at": "09:00", "steps": [
                {"trigger": "account_age", "days": 1, "action": "phone_call"}]}),
        )
        .await;
    assert_eq!(field_errors(&bad_level), ["level"]);
    let version = shown.body["version"].as_u64().unwrap();
    let moved = stack
        .patch(
            &format!("/v1/cadences/{per_invoice}"),
            &manager,
            version,
            &json!({"level": "customer"}),
        )
        .await;
    assert_eq!(field_errors(&moved), ["level"]);

    // A customer on version 1 moves to a new version of its invoice-level cadence.
    let customer = stack
        .create(
            "/v1/customers",
            &manager,
            &json!({"number": "MIG-1", "name": "Initech", "currency": "EUR"}),
        )
        .await;
    stack.enrol(&manager, &customer, &per_invoice).await;
    let v2 = stack
        .post(
            &format!("/v1/cadences/{per_invoice}/versions"),
            &manager,
            &json!({"name": "Per invoice v2", "level": "invoice", "run_at": "09:00", "steps": [
                {"trigger": "days_from_due", "days": -3, "action": "email", "template_id": template},
                {"trigger": "days_from_due", "days": 5, "action": "email", "template_id": template}
            ]}),
        )
        .await;
    assert_eq!(v2.status, 201, "{:?}", v2.body);
    let migrated = stack
        .post(
            &format!("/v1/cadences/{per_invoice}/migrate"),
            &manager,
            &json!({}),
        )
        .await;
    assert_eq!(migrated.status, 200, "{:?}", migrated.body);
    assert_eq!(
        (&migrated.body["migrated"], &migrated.body["remaining"]),
        (&json!(1), &json!(0))
    );
    let moved = stack
        .get(&format!("/v1/customers/{customer}"), &manager)
        .await;
    assert_eq!(moved.body["chasing"]["invoice_cadence_version"], 2);
}

#[tokio::test]
async fn a_customer_holds_one_cadence_per_level_and_leaves_either_or_both() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    stack.set_clock("2026-06-01T12:00:00Z").await;
    let template = email_template(&stack, &manager).await;
    let per_invoice = invoice_cadence(&stack, &manager, &template, json!({})).await;
    let other_invoice =
        invoice_cadence(&stack, &manager, &template, json!({"name": "Other"})).await;
    let statement = customer_cadence(&stack, &manager, &template, json!({})).await;
    let cid = stack.create_customer(&manager, "IL-1").await;
    let path = format!("/v1/customers/{cid}/chasing");
    let count = |id: String| {
        let stack = &stack;
        let manager = &manager;
        async move {
            stack.get(&format!("/v1/cadences/{id}"), manager).await.body["enrolled_count"].clone()
        }
    };

    stack.enrol(&manager, &cid, &statement).await;
    let both = stack
        .put(&path, &manager, &json!({"cadence_id": per_invoice}))
        .await;
    assert_eq!(both.status, 200, "{:?}", both.body);
    assert_eq!(
        both.body["chasing"],
        json!({"status": "active", "paused_until": null, "cadence_id": statement, "cadence_version": 1,
               "invoice_cadence_id": per_invoice, "invoice_cadence_version": 1})
    );
    // Another invoice-level cadence replaces the first at its level only.
    let replaced = stack
        .put(&path, &manager, &json!({"cadence_id": other_invoice}))
        .await;
    assert_eq!(
        replaced.body["chasing"]["invoice_cadence_id"],
        json!(other_invoice)
    );
    assert_eq!(replaced.body["chasing"]["cadence_id"], json!(statement));
    assert_eq!(count(per_invoice.clone()).await, 0);
    assert_eq!(count(other_invoice.clone()).await, 1);
    assert_eq!(count(statement.clone()).await, 1);

    let bad = stack
        .delete(&format!("{path}?level=account"), &manager)
        .await;
    assert_eq!(field_errors(&bad), ["level"]);
    let invoice_left = stack
        .delete(&format!("{path}?level=invoice"), &manager)
        .await;
    assert_eq!(invoice_left.status, 200, "{:?}", invoice_left.body);
    assert_eq!(
        invoice_left.body["chasing"]["invoice_cadence_id"],
        Value::Null
    );
    assert_eq!(invoice_left.body["chasing"]["cadence_id"], json!(statement));
    assert_eq!(count(other_invoice.clone()).await, 0);

    stack
        .put(&path, &manager, &json!({"cadence_id": per_invoice}))
        .await;
    let all_left = stack.delete(&path, &manager).await;
    assert_eq!(all_left.status, 200);
    assert_eq!(all_left.body["chasing"]["cadence_id"], Value::Null);
    assert_eq!(all_left.body["chasing"]["invoice_cadence_id"], Value::Null);
    assert_eq!(count(per_invoice).await, 0);
    assert_eq!(count(statement).await, 0);
    let history = stack
        .get(
            &format!("/v1/customers/{cid}/history?type=chasing_changed"),
            &manager,
        )
        .await;
    let summaries = history.item_strings("summary");
    assert!(
        summaries.contains(&"Chasing stopped at invoice level".to_string()),
        "{summaries:?}"
    );
}

#[tokio::test]
async fn an_invoice_overrides_its_chasing_and_a_bad_override_writes_nothing() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    let template = email_template(&stack, &manager).await;
    let per_invoice = invoice_cadence(&stack, &manager, &template, json!({})).await;
    let statement = customer_cadence(&stack, &manager, &template, json!({})).await;
    let cid = stack.create_customer(&manager, "IL-2").await;
    let created = invoice(&stack, &manager, &cid, "IL-2-1", "2026-06-10").await;
    assert_eq!(
        created.body["chasing"],
        json!({"cadence_id": null, "paused": false})
    );
    let path = format!("/v1/invoices/{}", created.id());

    let customer_level = stack
        .patch(
            &path,
            &manager,
            1,
            &json!({"chasing": {"cadence_id": statement}}),
        )
        .await;
    assert_eq!(field_errors(&customer_level), ["chasing.cadence_id"]);
    let unknown = stack
        .patch(
            &path,
            &manager,
            1,
            &json!({"chasing": {"cadence_id": "01J00000000000000000000000"}, "number": "IL-2-X"}),
        )
        .await;
    assert_eq!(field_errors(&unknown), ["chasing.cadence_id"]);
    let typo = stack
        .patch(
            &path,
            &manager,
            1,
            &json!({"chasing": {"paused": "yes", "when": 1}}),
        )
        .await;
    assert_eq!(field_errors(&typo), ["chasing.paused", "chasing.when"]);
    let unchanged = stack.get(&path, &manager).await;
    assert_eq!(unchanged.body["version"], 1, "nothing written");
    assert_eq!(unchanged.body["number"], "IL-2-1");

    let overridden = stack
        .patch(
            &path,
            &manager,
            1,
            &json!({"chasing": {"cadence_id": per_invoice, "paused": true}}),
        )
        .await;
    assert_eq!(overridden.status, 200, "{:?}", overridden.body);
    assert_eq!(
        overridden.body["chasing"],
        json!({"cadence_id": per_invoice, "paused": true})
    );
    // Other edits keep the override.
    let renamed = stack
        .patch(&path, &manager, 2, &json!({"number": "IL-2-2"}))
        .await;
    assert_eq!(renamed.body["chasing"]["cadence_id"], json!(per_invoice));
    let followed = stack
        .patch(
            &path,
            &manager,
            3,
            &json!({"chasing": {"cadence_id": null}}),
        )
        .await;
    assert_eq!(
        followed.body["chasing"],
        json!({"cadence_id": null, "paused": false})
    );
    let on_create = stack
        .post(
            "/v1/invoices",
            &manager,
            &json!({"customer_id": cid, "number": "IL-2-3", "currency": "EUR", "issue_date": "2026-05-01",
                    "total": "10.00", "chasing": {"paused": true}}),
        )
        .await;
    assert_eq!(field_errors(&on_create), ["chasing"]);
}

fn planned(preview: &Reply) -> Vec<(String, String, Option<String>, u64)> {
    preview
        .items()
        .iter()
        .map(|item| {
            (
                item["date"].as_str().unwrap().to_string(),
                item["level"].as_str().unwrap().to_string(),
                item["invoice_id"].as_str().map(str::to_string),
                item["step"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_preview_lists_the_steps_of_both_levels() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    stack.set_clock("2026-06-01T12:00:00Z").await;
    let template = email_template(&stack, &manager).await;
    let per_invoice = invoice_cadence(&stack, &manager, &template, json!({})).await;
    let statement = customer_cadence(&stack, &manager, &template, json!({})).await;
    let cid = stack.create_customer(&manager, "IL-3").await;
    let early = invoice(&stack, &manager, &cid, "IL-3-1", "2026-06-05")
        .await
        .id();
    let late = invoice(&stack, &manager, &cid, "IL-3-2", "2026-06-12")
        .await
        .id();
    stack.enrol(&manager, &cid, &statement).await;
    stack.enrol(&manager, &cid, &per_invoice).await;

    let preview = stack
        .get(
            &format!("/v1/customers/{cid}/chasing/preview?days=40"),
            &manager,
        )
        .await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    assert_eq!(preview.body["cadence_id"], json!(statement));
    assert_eq!(preview.body["invoice_cadence_id"], json!(per_invoice));
    let invoice_step = |date: &str, invoice: &str, step: u64| {
        (
            date.to_string(),
            "invoice".to_string(),
            Some(invoice.to_string()),
            step,
        )
    };
    assert_eq!(
        planned(&preview),
        [
            invoice_step("2026-06-02", &early, 0),
            invoice_step("2026-06-05", &early, 1),
            invoice_step("2026-06-09", &late, 0),
            invoice_step("2026-06-12", &early, 2),
            invoice_step("2026-06-12", &late, 1),
            invoice_step("2026-06-19", &late, 2),
            ("2026-07-05".to_string(), "customer".to_string(), None, 0),
        ]
    );
    assert_eq!(preview.items()[0]["trigger"], "days_from_due");
    assert_eq!(preview.items()[0]["days"], -3);

    // A paused invoice drops out of the preview; the other goes on.
    let paused = stack
        .patch(
            &format!("/v1/invoices/{early}"),
            &manager,
            1,
            &json!({"chasing": {"paused": true}}),
        )
        .await;
    assert_eq!(paused.status, 200, "{:?}", paused.body);
    let preview = stack
        .get(
            &format!("/v1/customers/{cid}/chasing/preview?days=40"),
            &manager,
        )
        .await;
    let invoices: Vec<Option<String>> = planned(&preview).into_iter().map(|p| p.2).collect();
    assert!(!invoices.contains(&Some(early)), "{invoices:?}");
    assert!(invoices.contains(&Some(late)));
}

#[tokio::test]
async fn assignment_rules_and_csv_imports_enrol_at_both_levels() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let template = email_template(&stack, &owner).await;
    let always = json!({"assignment": {"mode": "always", "priority": 1, "rules": []}});
    let per_invoice = invoice_cadence(&stack, &owner, &template, always.clone()).await;
    let statement = customer_cadence(&stack, &owner, &template, always).await;

    let cid = stack.create_customer(&owner, "IL-4").await;
    let customer = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(customer.body["chasing"]["cadence_id"], json!(statement));
    assert_eq!(
        customer.body["chasing"]["invoice_cadence_id"],
        json!(per_invoice)
    );

    let manual = invoice_cadence(&stack, &owner, &template, json!({"name": "Manual"})).await;
    let csv = format!("customer_number,cadence_id\nIL-4,{manual}\n");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/imports/enrolments", stack.url))
        .bearer_auth(&owner)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let imported: Value = response.json().await.unwrap();
    assert_eq!(imported["enrolled"], 1, "{imported:?}");
    let customer = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(
        customer.body["chasing"]["invoice_cadence_id"],
        json!(manual)
    );
    assert_eq!(customer.body["chasing"]["cadence_id"], json!(statement));
}

/// 90 days of daily 09:00 ticks through the whole local stack (scheduler,
/// evaluation and chase queues, worker, SES in moto) for a customer on both
/// levels: three invoices with their own reminders, one paid between its
/// steps, one created mid-way, and a customer-level step that falls on the
/// same run as an invoice's. What moto received, per day, is exact.
#[tokio::test]
async fn ninety_days_of_both_levels_send_one_email_per_run_on_the_exact_days() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-05-01T07:00:00Z").await;
    set_sender(&stack, &owner).await;
    let template = email_template(&stack, &owner).await;
    let per_invoice = invoice_cadence(&stack, &owner, &template, json!({})).await;
    // One account-level email 33 days past the oldest due date.
    let account = customer_cadence(
        &stack,
        &owner,
        &template,
        json!({"steps": [{"trigger": "past_due_age", "days": 33, "action": "email", "template_id": template}]}),
    )
    .await;
    let customer = stack
        .create(
            "/v1/customers",
            &owner,
            &json!({"number": "IL-90", "name": "Globex", "currency": "EUR"}),
        )
        .await;
    let address = format!("ap-{}@globex.example", stack.tenant);
    let contact = stack
        .post(
            &format!("/v1/customers/{customer}/contacts"),
            &owner,
            &json!({"name": "Pat", "email": address}),
        )
        .await;
    assert_eq!(contact.status, 201, "{:?}", contact.body);
    stack.enrol(&owner, &customer, &per_invoice).await;
    stack.enrol(&owner, &customer, &account).await;
    let a = invoice(&stack, &owner, &customer, "A", "2026-05-10")
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    invoice(&stack, &owner, &customer, "B", "2026-05-20").await;

    let start = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
    for offset in 0..90 {
        let day = start + chrono::Duration::days(offset);
        if day.to_string() == "2026-05-12" {
            // A is paid two days after its due date: its +7 never goes out.
            stack.set_clock("2026-05-12T08:00:00Z").await;
            let paid = stack
                .post("/v1/payments", &owner, &json!({"customer_id": customer, "amount": "100.00", "currency": "EUR", "date": "2026-05-12",
                                                      "applications": [{"invoice_id": a, "amount": "100.00"}]}))
                .await;
            assert_eq!(paid.status, 201, "{:?}", paid.body);
        }
        if day.to_string() == "2026-05-25" {
            // A new invoice starts at its own first step.
            stack.set_clock("2026-05-25T08:00:00Z").await;
            invoice(&stack, &owner, &customer, "C", "2026-06-15").await;
        }
        stack
            .tick(day.and_hms_opt(9, 0, 0).unwrap().and_utc())
            .await;
    }

    // What moto received, each email dated by the run that sent it: the
    // history item recording its provider message id (moto's own id).
    let history = stack.history(&owner, &customer).await;
    let sent_on = |moto_id: &str| -> String {
        history
            .iter()
            .find(|h| h["detail"]["provider_message_id"] == moto_id)
            .map(|h| h["occurred_at"].as_str().unwrap()[..10].to_string())
            .unwrap_or_else(|| panic!("no chase recorded for moto's email {moto_id}"))
    };
    let received = stack.moto_sent().await["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut per_day: Vec<(String, usize)> = Vec::new();
    for email in received.iter().filter(|m| m.to_string().contains(&address)) {
        let day = sent_on(email["id"].as_str().unwrap());
        match per_day.last_mut() {
            Some((last, count)) if *last == day => *count += 1,
            _ => per_day.push((day, 1)),
        }
    }
    let counts: Vec<(&str, usize)> = per_day.iter().map(|(d, n)| (d.as_str(), *n)).collect();
    assert_eq!(
        counts,
        [
            ("2026-05-07", 1), // A -3
            ("2026-05-10", 1), // A 0
            ("2026-05-17", 1), // B -3 (A's +7 is paid)
            ("2026-05-20", 1), // B 0
            ("2026-05-27", 1), // B +7
            ("2026-06-12", 1), // C -3
            ("2026-06-15", 1), // C 0
            ("2026-06-22", 1), // C +7 and the account's step, one email
        ],
        "{per_day:#?}"
    );
    let chases: Vec<(String, Option<String>)> = history
        .iter()
        .filter(|h| h["type"] == "chase_email")
        .map(|h| {
            (
                h["detail"]["level"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                h["detail"]["invoice_id"].as_str().map(str::to_string),
            )
        })
        .collect();
    // Each chase recorded on its own: A ×2, B ×3, C ×3, the account ×1.
    assert_eq!(chases.len(), 9, "{chases:#?}");
    assert_eq!(
        chases
            .iter()
            .filter(|(level, _)| level == "customer")
            .count(),
        1
    );
    assert!(chases
        .iter()
        .filter(|(level, _)| level == "invoice")
        .all(|(_, invoice)| invoice.is_some()));
}

#[tokio::test]
async fn an_override_alone_schedules_its_customer_and_chases_its_invoice() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-01T07:00:00Z").await;
    set_sender(&stack, &owner).await;
    let template = email_template(&stack, &owner).await;
    let per_invoice = invoice_cadence(&stack, &owner, &template, json!({})).await;
    let customer = stack.create_customer(&owner, "IL-OVR").await;
    let contact = stack
        .post(
            &format!("/v1/customers/{customer}/contacts"),
            &owner,
            &json!({"name": "Pat", "email": format!("ap-{}@globex.example", stack.tenant)}),
        )
        .await;
    assert_eq!(contact.status, 201, "{:?}", contact.body);
    let created = invoice(&stack, &owner, &customer, "OVR-1", "2026-06-10").await;
    // Not enrolled at either level: the invoice's override is all it has.
    let overridden = stack
        .patch(
            &format!("/v1/invoices/{}", created.id()),
            &owner,
            1,
            &json!({"chasing": {"cadence_id": per_invoice}}),
        )
        .await;
    assert_eq!(overridden.status, 200, "{:?}", overridden.body);

    let start = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    for offset in 0..20 {
        let day = start + chrono::Duration::days(offset);
        stack
            .tick(day.and_hms_opt(9, 0, 0).unwrap().and_utc())
            .await;
    }

    let mut sent_on: Vec<String> = stack
        .history(&owner, &customer)
        .await
        .iter()
        .filter(|h| h["type"] == "chase_email")
        .map(|h| h["occurred_at"].as_str().unwrap()[..10].to_string())
        .collect();
    sent_on.sort();
    assert_eq!(sent_on, ["2026-06-07", "2026-06-10", "2026-06-17"]);
}
