//! The chasing pipeline end to end: HTTP API → scheduler (EventBridge tick)
//! → SQS → worker → SES / SNS (moto) / tasks → history, replayed day by day
//! through the local runner's clock and ticks.

use aws_lambda_events::sqs::SqsEvent;
use chrono::{NaiveDate, TimeZone, Utc};
use integration_tests::proxy::{Fault, FaultyProxy};
use integration_tests::{StackOptions, TestStack};
use runtime::config::AwsTimeouts;
use serde_json::{json, Value};
use std::time::Duration;

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
async fn the_installment_example() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-04-30T07:00:00Z").await;
    let steps = json!([
        {"trigger": "account_age", "days": 10, "action": "email", "template_id": "EMAIL_TEMPLATE"},
        {"trigger": "past_due_age", "days": 2, "action": "email", "template_id": "EMAIL_TEMPLATE"}
    ]);
    let (setup, cadence_id) = setup(&stack, &owner, steps, "plan").await;
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
    // Two scheduler runs for one instant, at the same time: both may enqueue.
    let (a, b) = tokio::join!(stack.schedule(at), stack.schedule(at));
    let enqueued = a.enqueued + b.enqueued;
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
    let report = stack
        .schedule("2026-03-01T08:00:00Z".parse().unwrap())
        .await;
    assert_eq!(report.enqueued, 1);
    // The test takes the message off the queue itself, as Lambda's event source mapping would.
    let (sqs, queue) = (
        &stack.stack.clients.sqs,
        &stack.stack.resources.chase_queue_url,
    );
    let received = sqs.receive_message().queue_url(queue).send().await.unwrap();
    let message = received.messages.unwrap().remove(0);
    sqs.delete_message()
        .queue_url(queue)
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
    let first = stack.work(sqs_event("m-1", 1, &body)).await;
    let second = stack.work(sqs_event("m-1", 2, &body)).await;
    let duplicate = stack.work(sqs_event("m-2", 1, &body)).await;
    assert!(first.is_empty() && second.is_empty() && duplicate.is_empty());
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1);
    assert_eq!(
        timeline(&stack, &owner, &setup.customer_id).await,
        [("2026-03-01".into(), "chase_email".into(), 0)]
    );
}

/// A stack whose functions reach DynamoDB and SES through fault proxies,
/// with AWS call timeouts long enough that a stalled call is still waiting
/// when the test "crashes" the worker by dropping its future.
async fn faulty_stack() -> (TestStack, FaultyProxy, FaultyProxy) {
    let dynamodb = FaultyProxy::start(&std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap()).await;
    let ses = FaultyProxy::start(&std::env::var("AWS_ENDPOINT_URL").unwrap()).await;
    let stack = TestStack::start_with(StackOptions {
        dynamodb_endpoint: Some(dynamodb.url.clone()),
        ses_endpoint: Some(ses.url.clone()),
        aws_timeouts: Some(AwsTimeouts {
            connect: Duration::from_secs(1),
            attempt: Duration::from_secs(30),
            operation: Duration::from_secs(30),
        }),
        ..StackOptions::default()
    })
    .await;
    (stack, dynamodb, ses)
}

/// The worker's invocation, killed after `after` as if its sandbox died.
async fn crash_after(stack: &TestStack, after: Duration, event: SqsEvent) {
    let run = stack.work(event);
    assert!(
        tokio::time::timeout(after, run).await.is_err(),
        "the worker was meant to be stuck at the fault"
    );
}

#[tokio::test]
async fn a_crash_before_the_send_is_redelivered_and_sent_once() {
    let (stack, dynamodb, _ses) = faulty_stack().await;
    let owner = stack.token("owner");
    let (setup, body) = one_step_customer(&stack, &owner, "crash1").await;
    // DynamoDB stops answering once the worker has read the customer: it
    // dies before claiming the chase (the claim is written with the
    // `sending` mark, right before the send).
    dynamodb.fail_after("Query", &dynamodb, Fault::Stall);
    crash_after(&stack, Duration::from_secs(2), sqs_event("m-9", 1, &body)).await;
    dynamodb.heal();
    assert_eq!(stack.emails_to(&setup.email).await.len(), 0);
    let redelivered = stack.work(sqs_event("m-9", 2, &body)).await;
    assert!(redelivered.is_empty());
    assert_eq!(
        stack.emails_to(&setup.email).await.len(),
        1,
        "sent, not lost"
    );
    let again = stack.work(sqs_event("m-9", 3, &body)).await;
    assert!(again.is_empty());
    assert_eq!(
        stack.emails_to(&setup.email).await.len(),
        1,
        "and only once"
    );
}

#[tokio::test]
async fn a_crash_after_sending_is_recorded_not_resent() {
    let (stack, dynamodb, ses) = faulty_stack().await;
    let owner = stack.token("owner");
    let (setup, body) = one_step_customer(&stack, &owner, "crash2").await;
    // SES accepts the email; DynamoDB then applies the `sent` mark but its
    // answer never arrives, and the worker dies waiting.
    ses.fail_after("outbound-emails", &dynamodb, Fault::LoseAnswers);
    crash_after(&stack, Duration::from_secs(2), sqs_event("m-7", 1, &body)).await;
    dynamodb.heal();
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1);
    let redelivered = stack.work(sqs_event("m-7", 2, &body)).await;
    assert!(redelivered.is_empty());
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1, "never twice");
    assert_eq!(
        timeline(&stack, &owner, &setup.customer_id).await,
        [("2026-03-01".into(), "chase_email".into(), 0)],
        "recorded"
    );
}

#[tokio::test]
async fn a_crash_during_the_send_is_never_resent_and_a_person_checks() {
    let (stack, dynamodb, ses) = faulty_stack().await;
    let owner = stack.token("owner");
    let (setup, body) = one_step_customer(&stack, &owner, "crash3").await;
    // SES accepts the email and DynamoDB stops before the `sent` mark.
    ses.fail_after("outbound-emails", &dynamodb, Fault::Stall);
    crash_after(&stack, Duration::from_secs(2), sqs_event("m-8", 1, &body)).await;
    dynamodb.heal();
    let redelivered = stack.work(sqs_event("m-8", 2, &body)).await;
    assert!(redelivered.is_empty());
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1, "never twice");
    assert_outcome_unknown(&stack, &owner, &setup.customer_id).await;
}

/// The chase is recorded failed with reason `outcome_unknown`, and a task
/// asks a person to check.
async fn assert_outcome_unknown(stack: &TestStack, owner: &str, customer_id: &str) {
    assert_eq!(
        timeline(stack, owner, customer_id).await,
        [("2026-03-01".into(), "chase_failed".into(), 0)]
    );
    let history = stack.history(owner, customer_id).await;
    let failed = history
        .iter()
        .find(|h| h["type"] == "chase_failed")
        .unwrap();
    assert_eq!(failed["detail"]["reason"], "outcome_unknown");
    let tasks = stack
        .get(
            &format!("/v1/tasks?assignee=all&customer_id={customer_id}"),
            owner,
        )
        .await;
    let task = tasks
        .items()
        .iter()
        .find(|t| t["type"] == "fix_contact")
        .unwrap_or_else(|| panic!("no fix_contact task: {:?}", tasks.body));
    assert!(task["title"].as_str().unwrap().contains("outcome unknown"));
}

#[tokio::test]
async fn an_unknown_send_outcome_is_recorded_and_never_retried() {
    let ses = FaultyProxy::start(&std::env::var("AWS_ENDPOINT_URL").unwrap()).await;
    let stack = TestStack::start_with(StackOptions {
        ses_endpoint: Some(ses.url.clone()),
        aws_timeouts: Some(AwsTimeouts {
            connect: Duration::from_secs(1),
            attempt: Duration::from_secs(1),
            operation: Duration::from_secs(1),
        }),
        ..StackOptions::default()
    })
    .await;
    let owner = stack.token("owner");
    let (setup, body) = one_step_customer(&stack, &owner, "unknown").await;
    // SES sends the email, then the answer is lost: the worker's call
    // times out after the request was written.
    ses.fail(Fault::LoseAnswers);
    let first = stack.work(sqs_event("m-u", 1, &body)).await;
    assert!(first.is_empty(), "recorded and acknowledged, not retried");
    ses.heal();
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1);
    assert_outcome_unknown(&stack, &owner, &setup.customer_id).await;
    // A redelivery and a duplicate from a second scheduler run change nothing.
    for (id, count) in [("m-u", 2), ("m-dup", 1)] {
        let again = stack.work(sqs_event(id, count, &body)).await;
        assert!(again.is_empty());
    }
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1, "never twice");
    // The next day's tick does not chase this step again either.
    stack
        .tick(Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap())
        .await;
    assert_eq!(stack.emails_to(&setup.email).await.len(), 1);
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
    let report = stack
        .schedule("2026-03-01T08:00:00Z".parse().unwrap())
        .await;
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
    stack
        .stack
        .clients
        .sqs
        .send_message()
        .queue_url(&stack.stack.resources.chase_queue_url)
        .message_body("{\"not\": \"a chase\"}")
        .send()
        .await
        .unwrap();
    let report = stack
        .tick(Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap())
        .await;
    assert_eq!(report["succeeded"], 0, "{report}");
    assert!(report["failed"].as_u64().unwrap() >= 1, "{report}");
    let dead = stack
        .stack
        .clients
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

#[tokio::test]
async fn the_scheduler_resumes_expired_pauses_and_records_broken_promises() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let steps = json!([{"trigger": "account_age", "days": 0, "action": "email", "template_id": "EMAIL_TEMPLATE"}]);
    let (paused, cadence_id) = setup(&stack, &owner, steps, "pause").await;
    stack.create("/v1/invoices", &owner, &json!({"customer_id": paused.customer_id, "number": "PA-1", "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "80.00"})).await;
    stack.enrol(&owner, &paused.customer_id, &cadence_id).await;
    let pause = stack
        .post(
            &format!("/v1/customers/{}/chasing/pause", paused.customer_id),
            &owner,
            &json!({"until": "2026-03-03"}),
        )
        .await;
    assert_eq!(pause.status, 200, "{:?}", pause.body);
    let page = stack
        .get(
            &format!("/v1/customers/{}/page", paused.customer_id),
            &owner,
        )
        .await;
    let next = &page.body["chasing"]["next_step"];
    assert_eq!(
        next["date"], "2026-03-03",
        "the first run after the pause: {next}"
    );
    assert_eq!(next["step"], 0);
    assert_eq!(next["action"], "email");

    let promised = stack.create_customer(&owner, "PR-1").await;
    let contact = stack
        .post(
            &format!("/v1/customers/{promised}/contacts"),
            &owner,
            &json!({"name": "Sam", "email": format!("sam-{}@example.com", rand_digits())}),
        )
        .await;
    assert_eq!(contact.status, 201);
    stack.create("/v1/invoices", &owner, &json!({"customer_id": promised, "number": "PR-1", "currency": "EUR", "issue_date": "2026-02-01", "due_date": "2026-02-15", "total": "50.00"})).await;
    stack.enrol(&owner, &promised, &cadence_id).await;
    let promise = stack
        .post(
            &format!("/v1/customers/{promised}/promises"),
            &owner,
            &json!({"amount": "50.00", "promised_date": "2026-03-02"}),
        )
        .await;
    assert_eq!(promise.status, 201, "{:?}", promise.body);

    stack
        .tick_days(day("2026-03-01"), day("2026-03-06"), 8, 0)
        .await;

    let customer = stack
        .get(&format!("/v1/customers/{}", paused.customer_id), &owner)
        .await;
    assert_eq!(
        customer.body["chasing"]["status"], "active",
        "the pause ran out"
    );
    // The list moved with it (lists hold copies of the chasing state).
    for (status, listed) in [("paused", false), ("active", true)] {
        let list = stack
            .get(&format!("/v1/customers?chasing_status={status}"), &owner)
            .await;
        let ids: Vec<&str> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids.contains(&paused.customer_id.as_str()),
            listed,
            "chasing_status={status}: {ids:?}"
        );
    }
    assert_eq!(
        timeline(&stack, &owner, &paused.customer_id).await,
        [("2026-03-03".into(), "chase_email".into(), 0)],
        "chased once the pause ended"
    );
    let history = stack.history(&owner, &promised).await;
    assert!(
        history
            .iter()
            .any(|h| h["type"] == "promise" && h["detail"]["status"] == "broken"),
        "{history:?}"
    );
    let tasks = stack
        .get(
            &format!("/v1/tasks?assignee=all&customer_id={promised}"),
            &owner,
        )
        .await;
    assert!(tasks.items().iter().any(|t| t["type"] == "promise_broken"));
}
