//! Input the API must refuse cleanly (bounded money, strict decimals and
//! dates, control characters, empty filters) and dependencies that stall:
//! every case answers a clear 4xx or 503 and writes nothing.

use integration_tests::proxy::{Fault, FaultyProxy};
use integration_tests::{StackOptions, TestStack};
use runtime::config::AwsTimeouts;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn timeouts(attempt_ms: u64, operation_ms: u64) -> AwsTimeouts {
    AwsTimeouts {
        connect: Duration::from_secs(1),
        attempt: Duration::from_millis(attempt_ms),
        operation: Duration::from_millis(operation_ms),
    }
}

async fn stalling_stack(aws_timeouts: AwsTimeouts, deadline: Duration) -> (TestStack, FaultyProxy) {
    let dynamodb = FaultyProxy::start(&std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap()).await;
    let stack = TestStack::start_with(StackOptions {
        dynamodb_endpoint: Some(dynamodb.url.clone()),
        aws_timeouts: Some(aws_timeouts),
        request_deadline: Some(deadline),
        ..StackOptions::default()
    })
    .await;
    (stack, dynamodb)
}

async fn assert_unavailable_within(stack: &TestStack, token: &str, limit: Duration) {
    let started = Instant::now();
    let reply = stack.get("/v1/settings", token).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "unavailable");
    assert!(reply.header("retry-after").is_some());
    assert!(took < limit, "answered after {took:?}");
}

#[tokio::test]
async fn a_stalled_dynamodb_is_answered_503_at_the_request_deadline() {
    // The SDK would wait 30 s; the request's own deadline answers first.
    let (stack, dynamodb) = stalling_stack(timeouts(30_000, 30_000), Duration::from_secs(2)).await;
    let owner = stack.token("owner");
    assert_eq!(stack.get("/v1/settings", &owner).await.status, 200);
    dynamodb.fail(Fault::Stall);
    assert_unavailable_within(&stack, &owner, Duration::from_secs(4)).await;
    dynamodb.heal();
    assert_eq!(stack.get("/v1/settings", &owner).await.status, 200);
}

#[tokio::test]
async fn every_aws_call_has_its_own_timeout() {
    // A generous request deadline: the SDK's operation timeout ends the call.
    let (stack, dynamodb) = stalling_stack(timeouts(300, 800), Duration::from_secs(30)).await;
    let owner = stack.token("owner");
    dynamodb.fail(Fault::Stall);
    assert_unavailable_within(&stack, &owner, Duration::from_secs(3)).await;
    let create = stack
        .post(
            "/v1/customers",
            &owner,
            &json!({"number": "T-1", "name": "Slow", "currency": "EUR"}),
        )
        .await;
    assert_eq!(create.status, 503, "{:?}", create.body);
    dynamodb.heal();
    let listed = stack.get("/v1/customers", &owner).await;
    assert_eq!(listed.status, 200);
}

/// Each body is refused with 422 naming `field`, and nothing is written.
async fn refused(stack: &TestStack, token: &str, path: &str, cases: &[(Value, &str)]) {
    for (body, field) in cases {
        let reply = stack.post(path, token, body).await;
        assert_eq!(reply.status, 422, "{path} {body}: {:?}", reply.body);
        assert!(
            reply.body["fields"][*field].is_string(),
            "{path} {body}: {:?}",
            reply.body
        );
    }
}

#[tokio::test]
async fn money_is_bounded_and_strictly_written() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    // Credit stays credit here (settings are cached per process, so first).
    let manual = stack
        .patch("/v1/settings", &owner, 0, &json!({"auto_settle": false}))
        .await;
    assert_eq!(manual.status, 200);
    let cid = stack.create_customer(&owner, "B-1").await;
    let invoice = |total: &str| json!({"customer_id": cid, "number": format!("N-{total}"), "currency": "EUR", "issue_date": "2026-01-01", "total": total});
    let mut cases: Vec<(Value, &str)> = vec![
        (invoice("1000000000000000000000000000.00"), "total"),
        (invoice("1000000000000000"), "total"),
        (invoice("10.001"), "total"),
    ];
    for bad in [
        " 10 ", "1_000", "+5", ".5", "5.", "1e3", "-5", "0x10", "NaN",
    ] {
        cases.push((invoice(bad), "total"));
    }
    refused(&stack, &owner, "/v1/invoices", &cases).await;
    let usd = stack
        .create(
            "/v1/customers",
            &owner,
            &json!({"number": "B-2", "name": "Dollar", "currency": "USD"}),
        )
        .await;
    refused(
        &stack,
        &owner,
        "/v1/invoices",
        &[(json!({"customer_id": usd, "number": "U-1", "currency": "USD", "issue_date": "2026-01-01", "total": "10.001"}), "total")],
    )
    .await;
    let ok = stack
        .post("/v1/invoices", &owner, &invoice("999999999999999.99"))
        .await;
    assert_eq!(
        ok.status, 201,
        "the largest amount is accepted: {:?}",
        ok.body
    );
    let huge = "1000000000000000000000000000.00";
    refused(
        &stack,
        &owner,
        "/v1/payments",
        &[
            (json!({"customer_id": cid, "amount": huge, "currency": "EUR", "date": "2026-01-02"}), "amount"),
            (json!({"customer_id": cid, "amount": "1e3", "currency": "EUR", "date": "2026-01-02"}), "amount"),
        ],
    )
    .await;
    refused(
        &stack,
        &owner,
        &format!("/v1/customers/{cid}/adjustments"),
        &[
            (
                json!({"amount": format!("-{huge}"), "reason": "x"}),
                "amount",
            ),
            (
                json!({"amount": "-1000000000000000", "reason": "x", "invoice_id": ok.id()}),
                "amount",
            ),
        ],
    )
    .await;
    // Credit may not grow past the bound either.
    let big_credit = json!({"amount": "-999999999999999.99", "reason": "Big credit"});
    assert_eq!(
        stack
            .post(
                &format!("/v1/customers/{cid}/adjustments"),
                &owner,
                &big_credit
            )
            .await
            .status,
        201
    );
    refused(
        &stack,
        &owner,
        &format!("/v1/customers/{cid}/adjustments"),
        &[(big_credit.clone(), "amount")],
    )
    .await;
    refused(
        &stack,
        &owner,
        &format!("/v1/customers/{cid}/promises"),
        &[(
            json!({"amount": huge, "promised_date": "2026-12-20"}),
            "amount",
        )],
    )
    .await;
    refused(
        &stack,
        &owner,
        "/v1/customers",
        &[(
            json!({"number": "B-3", "name": "Limit", "currency": "EUR", "credit_limit": huge}),
            "credit_limit",
        )],
    )
    .await;
    // Lists sorted by overdue still answer over the whole range.
    let sorted = stack.get("/v1/customers?sort=overdue", &owner).await;
    assert_eq!(sorted.status, 200);
}

#[tokio::test]
async fn dates_are_strictly_yyyy_mm_dd_from_1900() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = stack.create_customer(&owner, "D-1").await;
    let mut cases = Vec::new();
    for bad in [
        "26-1-1",
        "0026-01-01",
        "1899-12-31",
        "2026-1-1",
        "2026-02-30",
        "2026-01-01T00:00:00Z",
    ] {
        cases.push((
            json!({"customer_id": cid, "number": format!("D-{bad}"), "currency": "EUR", "issue_date": bad, "total": "10.00"}),
            "issue_date",
        ));
    }
    refused(&stack, &owner, "/v1/invoices", &cases).await;
    refused(
        &stack,
        &owner,
        "/v1/payments",
        &[(
            json!({"customer_id": cid, "amount": "5.00", "currency": "EUR", "date": "26-1-1"}),
            "date",
        )],
    )
    .await;
    refused(
        &stack,
        &owner,
        "/v1/tasks",
        &[(
            json!({"type": "call_reminder", "customer_id": cid, "due_date": "26-1-1"}),
            "due_date",
        )],
    )
    .await;
    let filter = stack.get("/v1/tasks?due_before=26-1-1", &owner).await;
    assert_eq!(filter.status, 422, "{:?}", filter.body);
    let invoices = stack
        .get(&format!("/v1/invoices?customer_id={cid}"), &owner)
        .await;
    assert!(invoices.items().is_empty(), "nothing was written");
}

#[tokio::test]
async fn control_characters_are_refused_in_every_text() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    refused(
        &stack,
        &owner,
        "/v1/customers",
        &[
            (
                json!({"number": "C-1", "name": "Acme\u{0}Ltd", "currency": "EUR"}),
                "name",
            ),
            (
                json!({"number": "C-\u{1b}", "name": "Acme", "currency": "EUR"}),
                "number",
            ),
        ],
    )
    .await;
    let cid = stack.create_customer(&owner, "C-2").await;
    refused(
        &stack,
        &owner,
        "/v1/invoices",
        &[(json!({"customer_id": cid, "number": "I\u{0}1", "currency": "EUR", "issue_date": "2026-01-01", "total": "1.00"}), "number")],
    )
    .await;
    refused(
        &stack,
        &owner,
        "/v1/templates",
        &[(
            json!({"name": "T", "channel": "email", "subject": "Hi", "body": "Pay\u{0} now"}),
            "body",
        )],
    )
    .await;
    refused(
        &stack,
        &owner,
        &format!("/v1/customers/{cid}/notes"),
        &[(json!({"body": "Called\u{7}"}), "body")],
    )
    .await;
    // Line breaks are text, not control, in multi-line fields.
    let note = stack
        .post(
            &format!("/v1/customers/{cid}/notes"),
            &owner,
            &json!({"body": "Called.\nWill pay Friday."}),
        )
        .await;
    assert_eq!(note.status, 201, "{:?}", note.body);
}

#[tokio::test]
async fn empty_filters_are_refused_not_ignored() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    for path in [
        "/v1/invoices?customer_id=",
        "/v1/payments?customer_id=",
        "/v1/customers?group_id=",
        "/v1/customers?q=",
        "/v1/tasks?customer_id=",
        "/v1/tasks?status=",
    ] {
        let reply = stack.get(path, &owner).await;
        assert_eq!(reply.status, 422, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "validation_failed");
    }
}
