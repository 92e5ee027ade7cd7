//! The example events in `tests/events/` (the ones `sam local invoke -e`
//! uses) parse into the functions' event types and run through the real
//! handlers against the local stack.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use integration_tests::TestStack;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn api_request(name: &str) -> lambda_http::Request {
    let event: lambda_http::request::LambdaRequest = serde_json::from_value(fixture(name)).unwrap();
    lambda_http::Request::from(event)
}

fn tenant_of(name: &str) -> String {
    fixture(name)["requestContext"]["authorizer"]["jwt"]["claims"]["tenant_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn body_json(response: axum::response::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn api_gateway_events_reach_the_settings_handler() {
    let stack = TestStack::start().await;
    // The fixtures' tenant is fixed; clear what an earlier run may have left.
    let tenant = tenant_of("api-get-settings.json");
    let (status, body) =
        body_json(stack.invoke_api(api_request("api-get-settings.json")).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], tenant.as_str());

    // The PATCH fixture sends If-Match "1": bring the tenant to version 1 first.
    let owner = stack.token_for(&tenant, "fixture-owner", "owner");
    let version = body["version"].as_u64().unwrap();
    if version == 0 {
        let reply = stack
            .patch(
                "/v1/settings",
                &owner,
                0,
                &json!({"company_name": "Before"}),
            )
            .await;
        assert_eq!(reply.status, 200);
    }
    let (status, body) = body_json(
        stack
            .invoke_api(api_request("api-patch-settings.json"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["company_name"], "Acme Ltd");
    assert_eq!(body["time_zone"], "Europe/London");
}

#[tokio::test]
async fn the_scheduled_event_runs_the_scheduler_at_its_own_time() {
    let stack = TestStack::start().await;
    let event: EventBridgeEvent =
        serde_json::from_value(fixture("scheduler-scheduled-event.json")).unwrap();
    assert_eq!(
        event.time.unwrap().to_rfc3339(),
        "2026-06-09T08:00:00+00:00"
    );
    let report = stack.schedule(event.time.unwrap()).await;
    assert_eq!(report.due_customers, 0);
}

#[tokio::test]
async fn the_sqs_batch_parses_and_each_record_is_reported_on_its_own() {
    let stack = TestStack::start().await;
    let mut event: SqsEvent =
        serde_json::from_value(fixture("chase-worker-sqs-batch.json")).unwrap();
    assert_eq!(event.records.len(), 2);
    event.records[1].body = Some("{not json".into());
    let failed = stack.work(event.clone()).await;
    assert!(
        failed.contains(&event.records[1].message_id.clone().unwrap()),
        "the malformed record fails alone"
    );
}

#[tokio::test]
async fn a_local_tick_runs_the_scheduler_and_drains_the_queue() {
    let stack = TestStack::start().await;
    let reply = stack
        .call(
            reqwest::Method::POST,
            "/_local/tick",
            None,
            Some(&json!({"at": "2026-06-09T08:00:00Z"})),
            &[],
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["scheduler"]["due_customers"], 0);
    assert_eq!(reply.body["records"], 0);
    let bad = stack
        .call(
            reqwest::Method::POST,
            "/_local/tick",
            None,
            Some(&json!({"at": "yesterday"})),
            &[],
        )
        .await;
    assert_eq!(bad.status, 400);
}
