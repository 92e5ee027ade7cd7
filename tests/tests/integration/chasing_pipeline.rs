//! The chasing pipeline end to end: HTTP API → scheduler (EventBridge tick)
//! → SQS → worker → SES / SNS (moto) / tasks → history, replayed day by day
//! through the local runner's clock and ticks.

use aws_lambda_events::sqs::SqsEvent;
use chrono::{NaiveDate, TimeZone, Utc};
use integration_tests::TestStack;
use serde_json::{json, Value};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

struct Setup {
    customer_id: String,
    email: String,
    phone: String,
}

/// A tenant with a sender, a customer with one chaser contact, an email and
/// an SMS template, and a cadence running daily at 08:00 UTC.
async fn setup(stack: &TestStack, token: &str, steps: Value, tag: &str) -> (Setup, String) {
    let settings = stack
        .patch("/v1/settings", token, 0, &json!({"company_name": "Acme Ltd", "sender_email": "ar@example.com", "portal_base_url": "https://pay.example.com"}))
        .await;
    assert_eq!(settings.status, 200, "{:?}", settings.body);
    let customer_id = stack
        .create(
            "/v1/customers",
            token,
            &json!({"number": format!("CH-{tag}"), "name": "Globex", "currency": "EUR"}),
        )
        .await;
    let email = format!(
        "ap-{}@globex.example",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let phone = format!("+4477009{:05}", rand_digits());
    let contact = stack
        .post(
            &format!("/v1/customers/{customer_id}/contacts"),
            token,
            &json!({"name": "Pat", "email": email, "phone": phone, "sms_enabled": true}),
        )
        .await;
    assert_eq!(contact.status, 201, "{:?}", contact.body);
    let email_template = stack
        .create("/v1/templates", token, &json!({"name": "Reminder", "channel": "email", "subject": "{{customer_name}}: {{account_balance}} due", "body": "<p>Dear {{customer_contact_name}}, please pay {{account_balance}} for {{invoice_numbers}}.</p>{{{customer_portal_button}}}"}))
        .await;
    let sms_template = stack
        .create("/v1/templates", token, &json!({"name": "SMS", "channel": "sms", "body": "{{customer_name}}: {{account_balance}} is overdue. {{{customer_portal_button}}}"}))
        .await;
    let steps = serde_json::to_string(&steps)
        .unwrap()
        .replace("EMAIL_TEMPLATE", &email_template)
        .replace("SMS_TEMPLATE", &sms_template);
    let steps: Value = serde_json::from_str(&steps).unwrap();
    let cadence_id = stack
        .create(
            "/v1/cadences",
            token,
            &json!({"name": format!("Standard {tag}"), "run_at": "08:00", "steps": steps}),
        )
        .await;
    (
        Setup {
            customer_id,
            email,
            phone,
        },
        cadence_id,
    )
}

fn rand_digits() -> u32 {
    (ulid::Ulid::new().random() % 100_000) as u32
}

async fn pay(
    stack: &TestStack,
    token: &str,
    customer_id: &str,
    invoice_id: &str,
    amount: &str,
    date: &str,
) {
    let reply = stack
        .post("/v1/payments", token, &json!({"customer_id": customer_id, "amount": amount, "currency": "EUR", "date": date,
                                             "applications": [{"invoice_id": invoice_id, "amount": amount}]}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
}

/// (date, type, step) of the chase history, oldest first.
async fn timeline(stack: &TestStack, token: &str, customer_id: &str) -> Vec<(String, String, i64)> {
    let mut items: Vec<(String, String, i64)> = stack
        .history(token, customer_id)
        .await
        .iter()
        .filter(|h| {
            h["type"].as_str().is_some_and(|t| {
                t.starts_with("chase_") || (t == "task_created" && h["actor"] == "system")
            })
        })
        .filter(|h| h["detail"]["step"].is_number())
        .map(|h| {
            (
                h["occurred_at"].as_str().unwrap()[..10].to_string(),
                h["type"].as_str().unwrap().to_string(),
                h["detail"]["step"].as_i64().unwrap(),
            )
        })
        .collect();
    items.reverse();
    items
}

#[tokio::test]
async fn a_five_step_cadence_over_ninety_days() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let steps = json!([
        {"trigger": "past_due_age", "days": -3, "action": "email", "template_id": "EMAIL_TEMPLATE"},
        {"trigger": "past_due_age", "days": 1, "action": "email", "template_id": "EMAIL_TEMPLATE"},
        {"trigger": "past_due_age", "days": 7, "action": "sms", "template_id": "SMS_TEMPLATE"},
        {"trigger": "past_due_age", "days": 14, "action": "phone_call"},
        {"trigger": "account_age", "days": 60, "action": "escalation", "assignee_id": "user-head-of-ar"}
    ]);
    let (setup, cadence_id) = setup(&stack, &owner, steps, "five").await;
    stack.create("/v1/invoices", &owner, &json!({"customer_id": setup.customer_id, "number": "F-1", "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "500.00"})).await;
    stack.enrol(&owner, &setup.customer_id, &cadence_id).await;

    stack
        .tick_days(day("2026-03-01"), day("2026-05-29"), 8, 0)
        .await;

    assert_eq!(
        timeline(&stack, &owner, &setup.customer_id).await,
        [
            ("2026-03-28".into(), "chase_email".into(), 0),
            ("2026-04-01".into(), "chase_email".into(), 1),
            ("2026-04-07".into(), "chase_sms".into(), 2),
            ("2026-04-14".into(), "task_created".into(), 3),
            ("2026-04-30".into(), "task_created".into(), 4),
        ]
    );
    let emails = stack.emails_to(&setup.email).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails[0]["subject"].as_str().unwrap().contains("Globex"));
    assert!(emails[0]["body"].as_str().unwrap().contains("F-1"));
    assert!(emails[0]["body"]
        .as_str()
        .unwrap()
        .contains("https://pay.example.com/"));
    assert!(emails[0]["source"]
        .as_str()
        .unwrap()
        .contains("ar@example.com"));
    assert_eq!(stack.sms_to(&setup.phone).await.len(), 1);
    let tasks = stack
        .get(
            &format!("/v1/tasks?assignee=all&customer_id={}", setup.customer_id),
            &owner,
        )
        .await;
    let kinds: Vec<&str> = tasks.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"call_reminder") && kinds.contains(&"escalation"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn the_seeds_installment_example() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-04-30T07:00:00Z").await;
    let steps = json!([
        {"trigger": "account_age", "days": 10, "action": "email", "template_id": "EMAIL_TEMPLATE"},
        {"trigger": "past_due_age", "days": 2, "action": "email", "template_id": "EMAIL_TEMPLATE"}
    ]);
    let (setup, cadence_id) = setup(&stack, &owner, steps, "seed").await;
    let plan = stack
        .create(
        "/v1/invoices",
        &owner,
        &json!({"customer_id": setup.customer_id, "number": "PLAN-1", "currency": "EUR", "issue_date": "2026-04-30", "total": "300.00",
               "payment_plan": {"installments": [
                   {"due_date": "2026-05-30", "amount": "100.00"},
                   {"due_date": "2026-06-30", "amount": "100.00"},
                   {"due_date": "2026-07-30", "amount": "100.00"}]}}),
    )
    .await;
    stack.enrol(&owner, &setup.customer_id, &cadence_id).await;
    stack
        .tick_days(day("2026-04-30"), day("2026-05-30"), 8, 0)
        .await;
    stack.set_clock("2026-05-30T12:00:00Z").await;
    pay(
        &stack,
        &owner,
        &setup.customer_id,
        &plan,
        "100.00",
        "2026-05-30",
    )
    .await;
    stack
        .tick_days(day("2026-05-31"), day("2026-07-05"), 8, 0)
        .await;
    stack.set_clock("2026-07-05T12:00:00Z").await;
    pay(
        &stack,
        &owner,
        &setup.customer_id,
        &plan,
        "100.00",
        "2026-07-05",
    )
    .await;
    stack
        .tick_days(day("2026-07-06"), day("2026-07-30"), 8, 0)
        .await;
    stack.set_clock("2026-07-30T12:00:00Z").await;
    pay(
        &stack,
        &owner,
        &setup.customer_id,
        &plan,
        "100.00",
        "2026-07-30",
    )
    .await;
    stack
        .tick_days(day("2026-07-31"), day("2026-08-31"), 8, 0)
        .await;

    assert_eq!(
        timeline(&stack, &owner, &setup.customer_id).await,
        [
            ("2026-05-10".into(), "chase_email".into(), 0),
            // Paid May 30: new cycle anchored on May 30, step 1 ten days later.
            ("2026-06-09".into(), "chase_email".into(), 0),
            // June 30 missed: the past-due reminder two days later.
            ("2026-07-02".into(), "chase_email".into(), 1),
            // Paying only June's amount does not reset: no step 1 on July 10.
        ]
    );
    assert_eq!(stack.emails_to(&setup.email).await.len(), 3);
}

#[tokio::test]
async fn the_same_tick_twice_or_concurrently_sends_once() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let steps = json!([{"trigger": "account_age", "days": 0, "action": "email", "template_id": "EMAIL_TEMPLATE"}]);
    let (setup, cadence_id) = setup(&stack, &owner, steps, "twice").await;
    stack.create("/v1/invoices", &owner, &json!({"customer_id": setup.customer_id, "number": "T-1", "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "80.00"})).await;
    stack.enrol(&owner, &setup.customer_id, &cadence_id).await;
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    let event = |at: chrono::DateTime<Utc>| -> aws_lambda_events::eventbridge::EventBridgeEvent {
        serde_json::from_value(json!({"version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "000000000000", "time": at, "region": "us-east-1", "resources": [], "detail": {}}))
        .unwrap()
    };
    // Two scheduler runs for one instant, at the same time: both may enqueue.
    let app = &stack.stack.app;
    let (a, b) = tokio::join!(
        shared::scheduler::handle(app, event(at)),
        shared::scheduler::handle(app, event(at))
    );
    let enqueued = a.unwrap().enqueued + b.unwrap().enqueued;
    assert!(enqueued >= 1);
    // Then the same tick twice through the runner, which also drains the queue.
    stack.tick(at).await;
    stack.tick(at).await;
    assert_eq!(
        stack.emails_to(&setup.email).await.len(),
        1,
        "one email whatever ran twice"
    );
    assert_eq!(timeline(&stack, &owner, &setup.customer_id).await.len(), 1);
}

fn sqs_event(message_id: &str, receive_count: u32, body: &str) -> SqsEvent {
    serde_json::from_value(json!({"Records": [{
        "messageId": message_id, "receiptHandle": "rh", "body": body,
        "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
        "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:chase", "awsRegion": "us-east-1"
    }]}))
    .unwrap()
}

/// A customer due for its one step, and the chase message the scheduler
/// enqueued for it (taken off the queue, to be delivered by hand).
async fn one_step_customer(stack: &TestStack, owner: &str, tag: &str) -> (Setup, String) {
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let steps = json!([{"trigger": "account_age", "days": 0, "action": "email", "template_id": "EMAIL_TEMPLATE"}]);
    let (setup, cadence_id) = setup(stack, owner, steps, tag).await;
    stack.create("/v1/invoices", owner, &json!({"customer_id": setup.customer_id, "number": format!("{tag}-1"), "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "80.00"})).await;
    stack.enrol(owner, &setup.customer_id, &cadence_id).await;
    stack.set_clock("2026-03-01T08:00:00Z").await;
    // The scheduler's evaluation, so the cycle exists as the worker expects.
    let event = serde_json::from_value(json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "000000000000", "time": "2026-03-01T08:00:00Z", "region": "us-east-1", "resources": [], "detail": {}})).unwrap();
    let report = shared::scheduler::handle(&stack.stack.app, event)
        .await
        .unwrap();
    assert_eq!(report.enqueued, 1);
    let app = &stack.stack.app;
    let received = app
        .sqs
        .receive_message()
        .queue_url(&app.config.chase_queue_url)
        .send()
        .await
        .unwrap();
    let message = received.messages.unwrap().remove(0);
    app.sqs
        .delete_message()
        .queue_url(&app.config.chase_queue_url)
        .receipt_handle(message.receipt_handle.unwrap())
        .send()
        .await
        .unwrap();
    (setup, message.body.unwrap())
}

#[tokio::test]
async fn a_batch_delivered_twice_sends_once() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let (setup, body) = one_step_customer(&stack, &owner, "dup").await;
    let app = &stack.stack.app;
    let first = shared::worker::handle(app, sqs_event("m-1", 1, &body)).await;
    let second = shared::worker::handle(app, sqs_event("m-1", 2, &body)).await;
    let duplicate = shared::worker::handle(app, sqs_event("m-2", 1, &body)).await;
    assert!(
        first.batch_item_failures.is_empty()
            && second.batch_item_failures.is_empty()
            && duplicate.batch_item_failures.is_empty()
    );
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1);
    assert_eq!(
        timeline(&stack, &owner, &setup.customer_id).await,
        [("2026-03-01".into(), "chase_email".into(), 0)]
    );
}

#[tokio::test]
async fn a_crash_after_the_claim_is_redelivered_and_sent_once() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let (setup, body) = one_step_customer(&stack, &owner, "crash1").await;
    let app = &stack.stack.app;
    shared::worker::faults::arm(shared::worker::faults::Point::AfterClaim);
    let crashed = shared::worker::handle(app, sqs_event("m-9", 1, &body)).await;
    assert_eq!(
        crashed.batch_item_failures.len(),
        1,
        "the crash leaves the message for redelivery"
    );
    assert_eq!(stack.emails_to(&setup.email).await.len(), 0);
    let redelivered = shared::worker::handle(app, sqs_event("m-9", 2, &body)).await;
    assert!(redelivered.batch_item_failures.is_empty());
    assert_eq!(
        stack.emails_to(&setup.email).await.len(),
        1,
        "sent, not lost"
    );
    let again = shared::worker::handle(app, sqs_event("m-9", 3, &body)).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(
        stack.emails_to(&setup.email).await.len(),
        1,
        "and only once"
    );
}

#[tokio::test]
async fn a_crash_after_sending_is_recorded_not_resent() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let (setup, body) = one_step_customer(&stack, &owner, "crash2").await;
    let app = &stack.stack.app;
    shared::worker::faults::arm(shared::worker::faults::Point::AfterSend);
    let crashed = shared::worker::handle(app, sqs_event("m-7", 1, &body)).await;
    assert_eq!(crashed.batch_item_failures.len(), 1);
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1);
    let redelivered = shared::worker::handle(app, sqs_event("m-7", 2, &body)).await;
    assert!(redelivered.batch_item_failures.is_empty());
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1, "never twice");
    assert_eq!(
        timeline(&stack, &owner, &setup.customer_id).await,
        [("2026-03-01".into(), "chase_email".into(), 0)],
        "recorded"
    );
}

#[tokio::test]
async fn a_payment_between_enqueue_and_send_suppresses_the_chase() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let steps = json!([{"trigger": "account_age", "days": 0, "action": "email", "template_id": "EMAIL_TEMPLATE"}]);
    let (setup, cadence_id) = setup(&stack, &owner, steps, "paid").await;
    let inv = stack.create("/v1/invoices", &owner, &json!({"customer_id": setup.customer_id, "number": "PD-1", "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "80.00"})).await;
    stack.enrol(&owner, &setup.customer_id, &cadence_id).await;
    let event = serde_json::from_value(json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "000000000000", "time": "2026-03-01T08:00:00Z", "region": "us-east-1", "resources": [], "detail": {}})).unwrap();
    let report = shared::scheduler::handle(&stack.stack.app, event)
        .await
        .unwrap();
    assert_eq!(report.enqueued, 1);
    stack.set_clock("2026-03-01T08:05:00Z").await;
    pay(
        &stack,
        &owner,
        &setup.customer_id,
        &inv,
        "80.00",
        "2026-03-01",
    )
    .await;
    // The queue is drained by the next tick (which finds nothing new due).
    stack
        .tick(Utc.with_ymd_and_hms(2026, 3, 1, 8, 15, 0).unwrap())
        .await;
    assert_eq!(
        stack.emails_to(&setup.email).await.len(),
        0,
        "nothing after the payment"
    );
    let history = stack.history(&owner, &setup.customer_id).await;
    let suppressed: Vec<&Value> = history
        .iter()
        .filter(|h| h["type"] == "chase_suppressed")
        .collect();
    assert_eq!(suppressed.len(), 1, "{history:?}");
    assert_eq!(suppressed[0]["detail"]["reason"], "no_chased_balance");
}

#[tokio::test]
async fn an_old_account_runs_only_its_latest_due_step_and_missed_runs_are_caught_up() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-05-30T07:00:00Z").await;
    let steps = json!([
        {"trigger": "past_due_age", "days": 1, "action": "email", "template_id": "EMAIL_TEMPLATE"},
        {"trigger": "past_due_age", "days": 7, "action": "email", "template_id": "EMAIL_TEMPLATE"},
        {"trigger": "past_due_age", "days": 30, "action": "email", "template_id": "EMAIL_TEMPLATE"},
        {"trigger": "past_due_age", "days": 90, "action": "email", "template_id": "EMAIL_TEMPLATE"}
    ]);
    let (setup, cadence_id) = setup(&stack, &owner, steps, "old").await;
    stack.create("/v1/invoices", &owner, &json!({"customer_id": setup.customer_id, "number": "OLD-1", "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "900.00"})).await;
    // Sixty days past due at enrolment.
    stack.enrol(&owner, &setup.customer_id, &cadence_id).await;
    stack
        .tick(Utc.with_ymd_and_hms(2026, 5, 30, 8, 0, 0).unwrap())
        .await;
    // The scheduler is down from May 31 to July 2; the next tick catches up once.
    stack
        .tick(Utc.with_ymd_and_hms(2026, 7, 3, 8, 15, 0).unwrap())
        .await;
    stack
        .tick_days(day("2026-07-04"), day("2026-07-10"), 8, 0)
        .await;
    assert_eq!(
        timeline(&stack, &owner, &setup.customer_id).await,
        [
            ("2026-05-30".into(), "chase_email".into(), 2),
            ("2026-05-30".into(), "chase_superseded".into(), 0),
            ("2026-05-30".into(), "chase_superseded".into(), 1),
            ("2026-07-03".into(), "chase_email".into(), 3),
        ]
    );
    assert_eq!(stack.emails_to(&setup.email).await.len(), 2);
}

#[tokio::test]
async fn a_poison_message_ends_in_the_dead_letter_queue() {
    let stack = TestStack::start().await;
    let app = &stack.stack.app;
    app.sqs
        .send_message()
        .queue_url(&app.config.chase_queue_url)
        .message_body("{\"not\": \"a chase\"}")
        .send()
        .await
        .unwrap();
    let report = stack
        .tick(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap())
        .await;
    assert_eq!(report["succeeded"], 0, "{report}");
    assert!(report["failed"].as_u64().unwrap() >= 1, "{report}");
    let dead = app
        .sqs
        .receive_message()
        .queue_url(&stack.stack.resources.dead_letter_queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    assert_eq!(
        dead.messages.unwrap_or_default().len(),
        1,
        "redriven after the queue's maxReceiveCount"
    );
}
