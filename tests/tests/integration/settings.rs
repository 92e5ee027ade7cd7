//! `GET/PATCH /v1/settings` through the local runner: auth, versions, errors.

use integration_tests::TestStack;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_new_tenant_reads_default_settings() {
    let stack = TestStack::start().await;
    let reply = stack.get("/v1/settings", &stack.token("owner")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["version"], 0);
    assert_eq!(reply.body["time_zone"], "UTC");
    assert_eq!(
        reply.body["frequency_cap"],
        json!({"max_messages": 1, "window_days": 1})
    );
    assert_eq!(reply.body["id"], stack.tenant.as_str());
    assert_eq!(reply.header("etag"), Some("\"0\""));
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn an_owner_updates_settings_and_the_version_moves() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let reply = stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"company_name": "Acme Ltd", "time_zone": "Europe/London", "sender_email": "ar@acme.example.com"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["version"], 1);
    assert_eq!(reply.header("etag"), Some("\"1\""));

    let reply = stack
        .patch("/v1/settings", &owner, 1, &json!({"promise_grace_days": 5}))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let read = stack.get("/v1/settings", &owner).await;
    assert_eq!(read.body["company_name"], "Acme Ltd");
    assert_eq!(read.body["time_zone"], "Europe/London");
    assert_eq!(read.body["promise_grace_days"], 5);
    assert_eq!(read.body["version"], 2);
}

#[tokio::test]
async fn a_stale_if_match_is_a_conflict_and_writes_nothing() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let first = stack
        .patch("/v1/settings", &owner, 0, &json!({"company_name": "First"}))
        .await;
    assert_eq!(first.status, 200);
    let stale = stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"company_name": "Second"}),
        )
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.body["error"], "version_conflict");
    let read = stack.get("/v1/settings", &owner).await;
    assert_eq!(read.body["company_name"], "First");
    assert_eq!(read.body["version"], 1);
}

#[tokio::test]
async fn concurrent_updates_from_one_version_let_exactly_one_win() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let patches = (0..6).map(|i| {
        let stack = &stack;
        let owner = &owner;
        async move {
            stack
                .patch(
                    "/v1/settings",
                    owner,
                    0,
                    &json!({"company_name": format!("Writer {i}")}),
                )
                .await
                .status
        }
    });
    // Polled together so the requests really overlap.
    let mut statuses = futures::future::join_all(patches).await;
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
    let read = stack.get("/v1/settings", &owner).await;
    assert_eq!(read.body["version"], 1);
}

#[tokio::test]
async fn missing_or_bad_credentials_get_401_json() {
    let stack = TestStack::start().await;
    let none = stack
        .call(Method::GET, "/v1/settings", None, None, &[])
        .await;
    assert_eq!(none.status, 401);
    assert_eq!(none.body["error"], "unauthorized");
    let forged = stack
        .call(Method::GET, "/v1/settings", Some("not.a.jwt"), None, &[])
        .await;
    assert_eq!(forged.status, 401);
    // A validly signed token without a tenant claim.
    let no_tenant = stack.token_for("", "someone", "owner");
    let reply = stack.get("/v1/settings", &no_tenant).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["error"], "unauthorized");
}

#[tokio::test]
async fn only_owners_change_settings_but_everyone_reads_them() {
    let stack = TestStack::start().await;
    for role in ["manager", "contributor"] {
        let token = stack.token(role);
        let reply = stack
            .patch("/v1/settings", &token, 0, &json!({"company_name": "X"}))
            .await;
        assert_eq!(reply.status, 403, "{role}");
        assert_eq!(reply.body["error"], "forbidden");
        assert_eq!(
            stack.get("/v1/settings", &token).await.status,
            200,
            "{role}"
        );
    }
    let unknown_role = stack.token("auditor");
    assert_eq!(stack.get("/v1/settings", &unknown_role).await.status, 403);
    assert_eq!(
        stack.get("/v1/settings", &stack.token("owner")).await.body["version"],
        0
    );
}

#[tokio::test]
async fn invalid_fields_are_422_with_every_field_named_and_nothing_written() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let reply = stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({
                "company_name": "Valid",
                "time_zone": "Mars/Olympus_Mons",
                "sender_email": "nope",
                "frequency_cap": {"max_messages": 0, "window_days": 1},
                "portal_base_url": "javascript:alert(1)",
                "promise_grace_days": 1000,
                "version": 9,
                "favourite_colour": "blue"
            }),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["error"], "validation_failed");
    let fields = reply.body["fields"].as_object().unwrap();
    for field in [
        "time_zone",
        "sender_email",
        "frequency_cap.max_messages",
        "portal_base_url",
        "promise_grace_days",
        "version",
        "favourite_colour",
    ] {
        assert!(
            fields.contains_key(field),
            "{field} missing from {fields:?}"
        );
    }
    assert!(!fields.contains_key("company_name"));
    assert_eq!(stack.get("/v1/settings", &owner).await.body["version"], 0);
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let auth = format!("Bearer {owner}");
    let http = reqwest::Client::new();
    let url = format!("{}/v1/settings", stack.url);

    let bad_json = http
        .patch(&url)
        .header("authorization", &auth)
        .header("if-match", "0")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let body: serde_json::Value = bad_json.json().await.unwrap();
    assert_eq!(body["error"], "malformed_body");

    let array = stack.patch("/v1/settings", &owner, 0, &json!([1, 2])).await;
    assert_eq!(array.status, 400);

    let no_if_match = stack
        .call(
            Method::PATCH,
            "/v1/settings",
            Some(&owner),
            Some(&json!({})),
            &[],
        )
        .await;
    assert_eq!(no_if_match.status, 428);
    assert_eq!(no_if_match.body["error"], "precondition_required");

    let huge = json!({"company_name": "x".repeat(300 * 1024)});
    let too_large = stack.patch("/v1/settings", &owner, 0, &huge).await;
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.body["error"], "payload_too_large");

    assert_eq!(stack.get("/v1/nothing-here", &owner).await.status, 404);
    let delete = stack.delete("/v1/settings", &owner).await;
    assert_eq!(delete.status, 405);
    assert_eq!(stack.get("/v1/settings", &owner).await.body["version"], 0);
}

#[tokio::test]
async fn tenants_never_see_each_others_settings() {
    let stack = TestStack::start().await;
    let owner_a = stack.token_for("tenant-a-iso", "a", "owner");
    let owner_b = stack.token_for("tenant-b-iso", "b", "owner");
    let reply = stack
        .patch(
            "/v1/settings",
            &owner_a,
            0,
            &json!({"company_name": "A Corp"}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let read_b = stack.get("/v1/settings", &owner_b).await;
    assert_eq!(read_b.body["company_name"], serde_json::Value::Null);
    assert_eq!(read_b.body["version"], 0);
}

#[tokio::test]
async fn the_local_clock_stamps_updates() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let set = stack
        .call(
            Method::POST,
            "/_local/clock",
            None,
            Some(&json!({"now": "2026-06-09T08:00:00Z"})),
            &[],
        )
        .await;
    assert_eq!(set.status, 200);
    let reply = stack
        .patch("/v1/settings", &owner, 0, &json!({"company_name": "Acme"}))
        .await;
    assert_eq!(reply.body["updated_at"], "2026-06-09T08:00:00Z");
    let reset = stack
        .call(
            Method::POST,
            "/_local/clock",
            None,
            Some(&json!({"now": null})),
            &[],
        )
        .await;
    assert_eq!(reset.body["fixed"], false);
}

#[tokio::test]
async fn reads_and_updates_cost_a_known_number_of_aws_requests() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.reset_aws_requests();
    stack.get("/v1/settings", &owner).await;
    assert_eq!(
        stack.aws_requests().into_iter().collect::<Vec<_>>(),
        [("DynamoDB.GetItem".to_string(), 1)]
    );
    stack.reset_aws_requests();
    stack
        .patch("/v1/settings", &owner, 0, &json!({"company_name": "Acme"}))
        .await;
    // One item written: a conditional put, not a one-item transaction.
    assert_eq!(
        stack.aws_requests().into_iter().collect::<Vec<_>>(),
        [
            ("DynamoDB.GetItem".to_string(), 1),
            ("DynamoDB.PutItem".to_string(), 1)
        ]
    );
}

#[tokio::test]
async fn the_sender_must_be_on_the_verified_domain() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let elsewhere = stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"sender_email": "ar@gmail.com"}),
        )
        .await;
    assert_eq!(elsewhere.status, 422);
    assert!(elsewhere.body["fields"]["sender_email"]
        .as_str()
        .unwrap()
        .contains("example.com"));
    let verified = stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"sender_email": "ar@example.com"}),
        )
        .await;
    assert_eq!(verified.status, 200);
}
