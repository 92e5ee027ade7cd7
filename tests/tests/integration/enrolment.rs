//! Enrolment, pause and resume, and the chasing preview (the dry run of the
//! scheduler's own evaluation). That the preview equals day-by-day
//! evaluation for arbitrary timelines is the property test
//! `the_preview_is_what_day_by_day_evaluation_does` in
//! `shared/tests/chasing_timelines.rs`; the endpoint calls that same
//! `Evaluator::preview` through `app::chasing::preview`, and the tests
//! here pin its output for known customers.

use integration_tests::{Reply, TestStack};
use reqwest::Method;
use serde_json::{json, Value};

/// Past-due steps at -3 (email), 7 (email), 30 (call) and 75 (escalation), daily at 09:00.
async fn cadence(stack: &TestStack, token: &str) -> String {
    let template = stack
        .post(
            "/v1/templates",
            token,
            &json!({"name": "Reminder", "channel": "email", "subject": "Balance", "body": "{{account_balance}}"}),
        )
        .await;
    let tid = template.id();
    stack
        .create(
            "/v1/cadences",
            token,
            &json!({"name": "Standard", "run_at": "09:00", "steps": [
                {"trigger": "past_due_age", "days": -3, "action": "email", "template_id": tid},
                {"trigger": "past_due_age", "days": 7, "action": "email", "template_id": tid},
                {"trigger": "past_due_age", "days": 30, "action": "phone_call"},
                {"trigger": "past_due_age", "days": 75, "action": "escalation", "assignee_id": "ar-lead"}
            ]}),
        )
        .await
}

/// A customer whose one invoice fell due on 2026-04-16: 60 days past due on 2026-06-15.
async fn overdue_customer(stack: &TestStack, token: &str, number: &str) -> String {
    let cid = stack.create_customer(token, number).await;
    let invoice = stack
        .post(
            "/v1/invoices",
            token,
            &json!({"customer_id": cid, "number": format!("INV-{number}"), "currency": "EUR", "issue_date": "2026-04-01", "due_date": "2026-04-16", "total": "900.00"}),
        )
        .await;
    assert_eq!(invoice.status, 201, "{:?}", invoice.body);
    cid
}

fn steps(preview: &Reply) -> Vec<(String, u64, String, Vec<u64>)> {
    preview.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["date"].as_str().unwrap().to_string(),
                e["step"].as_u64().unwrap(),
                e["action"].as_str().unwrap().to_string(),
                e["superseded"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

fn entry(
    date: &str,
    step: u64,
    action: &str,
    superseded: &[u64],
) -> (String, u64, String, Vec<u64>) {
    (
        date.to_string(),
        step,
        action.to_string(),
        superseded.to_vec(),
    )
}

#[tokio::test]
async fn customers_are_enrolled_paused_resumed_and_unenrolled() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let id = cadence(&stack, &manager).await;
    let cid = overdue_customer(&stack, &manager, "E-1").await;
    let path = format!("/v1/customers/{cid}/chasing");

    let enrolled = stack.put(&path, &manager, &json!({"cadence_id": id})).await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    assert_eq!(
        enrolled.body["chasing"],
        json!({"status": "active", "paused_until": null, "cadence_id": id, "cadence_version": 1, "invoice_cadence_id": null, "invoice_cadence_version": null})
    );
    let cadence_view = stack.get(&format!("/v1/cadences/{id}"), &manager).await;
    assert_eq!(cadence_view.body["enrolled_count"], 1);
    let again = stack.put(&path, &manager, &json!({"cadence_id": id})).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{id}"), &manager)
            .await
            .body["enrolled_count"],
        1
    );
    let history = stack
        .get(
            &format!("/v1/customers/{cid}/history?type=chasing_changed"),
            &manager,
        )
        .await;
    assert_eq!(
        history.body["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        history.body
    );
    assert_eq!(history.body["items"][0]["detail"]["change"], "enrolled");

    let unknown = stack
        .put(
            &path,
            &manager,
            &json!({"cadence_id": "01J00000000000000000000000"}),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body["fields"]["cadence_id"].is_string());
    let bad = stack.put(&path, &manager, &json!({"cadence": id})).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body["fields"]["cadence_id"].is_string());
    assert!(bad.body["fields"]["cadence"].is_string());
    assert_eq!(
        stack
            .put(
                &path,
                &stack.token("contributor"),
                &json!({"cadence_id": id})
            )
            .await
            .status,
        403
    );
    let other_tenant = stack.token_for("another-tenant", "u", "owner");
    assert_eq!(
        stack
            .put(&path, &other_tenant, &json!({"cadence_id": id}))
            .await
            .status,
        404
    );
    assert_eq!(stack.get(&path, &manager).await.status, 405);

    let past = stack
        .post(
            &format!("{path}/pause"),
            &manager,
            &json!({"until": "2026-06-15"}),
        )
        .await;
    assert_eq!(past.status, 422);
    assert!(past.body["fields"]["until"].is_string());
    let paused = stack
        .post(
            &format!("{path}/pause"),
            &manager,
            &json!({"until": "2026-07-01"}),
        )
        .await;
    assert_eq!(paused.status, 200, "{:?}", paused.body);
    assert_eq!(paused.body["chasing"]["status"], "paused");
    assert_eq!(paused.body["chasing"]["paused_until"], "2026-07-01");
    let listed = stack
        .get("/v1/customers?chasing_status=paused", &manager)
        .await;
    assert_eq!(listed.body["items"][0]["id"], cid.as_str());
    let resumed = stack
        .call(
            Method::POST,
            &format!("{path}/resume"),
            Some(&manager),
            None,
            &[],
        )
        .await;
    assert_eq!(resumed.status, 200, "{:?}", resumed.body);
    assert_eq!(resumed.body["chasing"]["status"], "active");
    assert_eq!(resumed.body["chasing"]["paused_until"], Value::Null);
    let indefinitely = stack
        .call(
            Method::POST,
            &format!("{path}/pause"),
            Some(&manager),
            None,
            &[],
        )
        .await;
    assert_eq!(indefinitely.status, 200, "{:?}", indefinitely.body);
    assert_eq!(indefinitely.body["chasing"]["paused_until"], Value::Null);

    let left = stack.delete(&path, &manager).await;
    assert_eq!(left.status, 200, "{:?}", left.body);
    assert_eq!(left.body["chasing"]["cadence_id"], Value::Null);
    assert_eq!(
        left.body["chasing"]["status"], "paused",
        "the pause is the customer's own"
    );
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{id}"), &manager)
            .await
            .body["enrolled_count"],
        0
    );
    let history = stack
        .get(
            &format!("/v1/customers/{cid}/history?type=chasing_changed"),
            &manager,
        )
        .await;
    let mut changes: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["detail"]["change"].as_str().unwrap())
        .collect();
    // Same instant (the clock is fixed), so compare without order.
    changes.sort_unstable();
    assert_eq!(
        changes,
        ["enrolled", "paused", "paused", "resumed", "unenrolled"]
    );
}

#[tokio::test]
async fn the_preview_runs_only_the_latest_due_step_and_respects_stops() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let id = cadence(&stack, &owner).await;
    let cid = overdue_customer(&stack, &owner, "P-1").await;
    let path = format!("/v1/customers/{cid}/chasing");

    let not_enrolled = stack.get(&format!("{path}/preview"), &owner).await;
    assert_eq!(not_enrolled.status, 200);
    assert_eq!(not_enrolled.body["items"], json!([]));

    assert_eq!(
        stack
            .put(&path, &owner, &json!({"cadence_id": id}))
            .await
            .status,
        200
    );
    let preview = stack
        .get(
            &format!("{path}/preview?days=30"),
            &stack.token("contributor"),
        )
        .await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    assert_eq!(preview.body["days"], 30);
    assert_eq!(preview.body["cadence_version"], 1);
    // 60 days past due: the first run does only the latest due step (the call),
    // superseding the two reminders; the escalation falls on day 75.
    assert_eq!(
        steps(&preview),
        [
            entry("2026-06-16", 2, "phone_call", &[0, 1]),
            entry("2026-06-30", 3, "escalation", &[])
        ]
    );
    assert_eq!(preview.body["items"][0]["at"], "2026-06-16T09:00:00Z");
    let default_days = stack.get(&format!("{path}/preview"), &owner).await;
    assert_eq!(default_days.body["days"], 90);

    for bad in ["days=0", "days=366", "days=x", "weeks=2"] {
        let reply = stack.get(&format!("{path}/preview?{bad}"), &owner).await;
        assert_eq!(reply.status, 422, "{bad}");
    }

    // A pause until June 20 moves the call to that day.
    let paused = stack
        .post(
            &format!("{path}/pause"),
            &owner,
            &json!({"until": "2026-06-20"}),
        )
        .await;
    assert_eq!(paused.status, 200);
    let preview = stack.get(&format!("{path}/preview?days=30"), &owner).await;
    assert_eq!(
        steps(&preview),
        [
            entry("2026-06-20", 2, "phone_call", &[0, 1]),
            entry("2026-06-30", 3, "escalation", &[])
        ]
    );
    let resumed = stack
        .call(
            Method::POST,
            &format!("{path}/resume"),
            Some(&owner),
            None,
            &[],
        )
        .await;
    assert_eq!(resumed.status, 200);

    // A promise for June 25 holds chasing through the grace days (3 by default).
    let promise = stack
        .post(
            &format!("/v1/customers/{cid}/promises"),
            &owner,
            &json!({"amount": "900.00", "promised_date": "2026-06-25"}),
        )
        .await;
    assert_eq!(promise.status, 201, "{:?}", promise.body);
    let preview = stack.get(&format!("{path}/preview?days=30"), &owner).await;
    assert_eq!(
        steps(&preview),
        [
            entry("2026-06-29", 2, "phone_call", &[0, 1]),
            entry("2026-06-30", 3, "escalation", &[])
        ]
    );

    // A run due but not evaluated yet (before the next tick) is shown too.
    stack.set_clock("2026-06-29T09:05:00Z").await;
    let preview = stack.get(&format!("{path}/preview?days=3"), &owner).await;
    assert_eq!(
        steps(&preview)[0],
        entry("2026-06-29", 2, "phone_call", &[0, 1])
    );
}

#[tokio::test]
async fn the_preview_follows_the_frequency_cap_and_weekdays() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    // Friday 2026-06-12, New York.
    stack.set_clock("2026-06-12T16:00:00Z").await;
    let settings = stack
        .patch("/v1/settings", &owner, 0, &json!({"time_zone": "America/New_York", "frequency_cap": {"max_messages": 1, "window_days": 3}}))
        .await;
    assert_eq!(settings.status, 200, "{:?}", settings.body);
    let template = stack
        .post(
            "/v1/templates",
            &owner,
            &json!({"name": "T", "channel": "email", "subject": "s", "body": "b"}),
        )
        .await;
    let tid = template.body["id"].as_str().unwrap();
    let cadence = stack
        .post(
            "/v1/cadences",
            &owner,
            &json!({"name": "Weekdays", "run_at": "08:00", "days_of_week": ["mon", "tue", "wed", "thu", "fri"], "steps": [
                {"trigger": "account_age", "days": 0, "action": "email", "template_id": tid},
                {"trigger": "account_age", "days": 2, "action": "email", "template_id": tid},
                {"trigger": "account_age", "days": 3, "action": "sms", "template_id": null}
            ]}),
        )
        .await;
    assert_eq!(cadence.status, 422, "an sms step needs an sms template");
    let cadence = stack
        .post(
            "/v1/cadences",
            &owner,
            &json!({"name": "Weekdays", "run_at": "08:00", "days_of_week": ["mon", "tue", "wed", "thu", "fri"], "steps": [
                {"trigger": "account_age", "days": 0, "action": "email", "template_id": tid},
                {"trigger": "account_age", "days": 2, "action": "email", "template_id": tid},
                {"trigger": "account_age", "days": 3, "action": "letter"}
            ]}),
        )
        .await;
    assert_eq!(cadence.status, 201, "{:?}", cadence.body);
    let id = cadence.body["id"].as_str().unwrap();
    let customer = stack
        .post(
            "/v1/customers",
            &owner,
            &json!({"number": "W-1", "name": "Weekday", "currency": "USD"}),
        )
        .await;
    let cid = customer.body["id"].as_str().unwrap();
    let invoice = stack
        .post(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": cid, "number": "W-INV", "currency": "USD", "issue_date": "2026-06-13", "due_date": "2026-07-13", "total": "10.00"}),
        )
        .await;
    assert_eq!(invoice.status, 201, "{:?}", invoice.body);
    stack.enrol(&owner, cid, id).await;
    let preview = stack
        .get(
            &format!("/v1/customers/{cid}/chasing/preview?days=14"),
            &owner,
        )
        .await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    // Issued on a Saturday: by Monday's run steps 0 and 1 are due, so only
    // step 1 runs (step 0 superseded). The letter, due Tuesday, is a message
    // too: the cap (one per 3 days) holds it until Thursday.
    assert_eq!(
        steps(&preview),
        [
            entry("2026-06-15", 1, "email", &[0]),
            entry("2026-06-18", 2, "letter", &[]),
        ]
    );
    assert_eq!(preview.body["items"][0]["at"], "2026-06-15T12:00:00Z");
}
