//! Contact roles, and `Idempotency-Key` on POST (docs/api.md, Conventions) exercised on them.

use integration_tests::TestStack;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn roles_are_created_listed_and_deleted() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    let created = stack
        .post(
            "/v1/contact-roles",
            &manager,
            &json!({"name": "Accounts payable"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/contact-roles/{id}").as_str())
    );
    assert_eq!(created.body["version"], 1);

    let listed = stack
        .get("/v1/contact-roles", &stack.token("contributor"))
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"][0]["name"], "Accounts payable");
    assert_eq!(listed.body["next_cursor"], serde_json::Value::Null);

    let deleted = stack
        .delete(&format!("/v1/contact-roles/{id}"), &manager)
        .await;
    assert_eq!(deleted.status, 204);
    let again = stack
        .delete(&format!("/v1/contact-roles/{id}"), &manager)
        .await;
    assert_eq!(again.status, 404);
    // The name is free again.
    let recreated = stack
        .post(
            "/v1/contact-roles",
            &manager,
            &json!({"name": "Accounts payable"}),
        )
        .await;
    assert_eq!(recreated.status, 201);
}

#[tokio::test]
async fn role_names_are_unique_per_tenant_ignoring_case() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    assert_eq!(
        stack
            .post("/v1/contact-roles", &owner, &json!({"name": "CFO"}))
            .await
            .status,
        201
    );
    let duplicate = stack
        .post("/v1/contact-roles", &owner, &json!({"name": " cfo "}))
        .await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.body["error"], "duplicate_name");
    // Another tenant may use the same name.
    let other = stack.token_for("other-tenant-roles", "x", "owner");
    assert_eq!(
        stack
            .post("/v1/contact-roles", &other, &json!({"name": "CFO"}))
            .await
            .status,
        201
    );
    let listed = stack.get("/v1/contact-roles", &owner).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn role_errors_are_clear() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let invalid = stack
        .post(
            "/v1/contact-roles",
            &owner,
            &json!({"name": "", "extra": 1}),
        )
        .await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.body["fields"]["name"].is_string());
    assert!(invalid.body["fields"]["extra"].is_string());
    let contributor = stack
        .post(
            "/v1/contact-roles",
            &stack.token("contributor"),
            &json!({"name": "X"}),
        )
        .await;
    assert_eq!(contributor.status, 403);
    let bad_limit = stack.get("/v1/contact-roles?limit=0", &owner).await;
    assert_eq!(bad_limit.status, 422);
    assert!(bad_limit.body["fields"]["limit"].is_string());
    let bad_cursor = stack.get("/v1/contact-roles?cursor=abc", &owner).await;
    assert_eq!(bad_cursor.status, 422);
    assert!(stack.get("/v1/contact-roles", &owner).await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn roles_paginate_with_cursors_that_only_work_for_their_tenant() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    for i in 0..5 {
        let reply = stack
            .post(
                "/v1/contact-roles",
                &owner,
                &json!({"name": format!("Role {i}")}),
            )
            .await;
        assert_eq!(reply.status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/contact-roles?limit=2&cursor={c}"),
            None => "/v1/contact-roles?limit=2".to_string(),
        };
        let page = stack.get(&path, &owner).await;
        assert_eq!(page.status, 200);
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                let other = stack.token_for("someone-else", "x", "owner");
                let stolen = stack
                    .get(&format!("/v1/contact-roles?cursor={next}"), &other)
                    .await;
                assert_eq!(stolen.status, 422, "a cursor must not cross tenants");
                cursor = Some(next.to_string());
            }
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["Role 0", "Role 1", "Role 2", "Role 3", "Role 4"]);
}

#[tokio::test]
async fn the_same_idempotency_key_and_body_replays_the_first_response() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let body = json!({"name": "Finance director"});
    let headers = [("idempotency-key", "create-fd-1")];
    let first = stack
        .call(
            Method::POST,
            "/v1/contact-roles",
            Some(&owner),
            Some(&body),
            &headers,
        )
        .await;
    assert_eq!(first.status, 201);
    let second = stack
        .call(
            Method::POST,
            "/v1/contact-roles",
            Some(&owner),
            Some(&body),
            &headers,
        )
        .await;
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body, "the replay is the first response");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.header("location"), first.header("location"));

    let listed = stack.get("/v1/contact-roles", &owner).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "nothing new was written"
    );

    let different = stack
        .call(
            Method::POST,
            "/v1/contact-roles",
            Some(&owner),
            Some(&json!({"name": "Other"})),
            &headers,
        )
        .await;
    assert_eq!(different.status, 409);
    assert_eq!(different.body["error"], "idempotency_key_reused");
}

#[tokio::test]
async fn concurrent_requests_with_one_key_write_once() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let body = json!({"name": "Treasurer"});
    let requests = (0..5).map(|_| {
        stack.call(
            Method::POST,
            "/v1/contact-roles",
            Some(&owner),
            Some(&body),
            &[("idempotency-key", "race-1")],
        )
    });
    let replies = futures::future::join_all(requests).await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{:?}", r.body);
            r.id()
        })
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "every reply names the one role that was created"
    );
    let replayed = replies
        .iter()
        .filter(|r| r.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(
        replayed, 4,
        "all but the one that wrote say they are replays"
    );
    let listed = stack.get("/v1/contact-roles", &owner).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_user_and_skip_failed_requests() {
    let stack = TestStack::start().await;
    let headers = [("idempotency-key", "shared-key")];
    let invalid = stack
        .call(
            Method::POST,
            "/v1/contact-roles",
            Some(&stack.token("owner")),
            Some(&json!({"name": ""})),
            &headers,
        )
        .await;
    assert_eq!(invalid.status, 422);
    // A failed request wrote nothing, so the corrected retry with the same key works.
    let fixed = stack
        .call(
            Method::POST,
            "/v1/contact-roles",
            Some(&stack.token("owner")),
            Some(&json!({"name": "AP"})),
            &headers,
        )
        .await;
    assert_eq!(fixed.status, 201);
    // Another user's identical key is a different key.
    let other_user = stack.token_for(&stack.tenant, "another-manager", "manager");
    let theirs = stack
        .call(
            Method::POST,
            "/v1/contact-roles",
            Some(&other_user),
            Some(&json!({"name": "AR"})),
            &headers,
        )
        .await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.body["id"], fixed.body["id"]);
}
