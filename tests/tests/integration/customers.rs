//! `/v1/customers` and `/v1/customer-groups` through the local runner.

use integration_tests::{Reply, TestStack};
use serde_json::{json, Value};

async fn create(stack: &TestStack, token: &str, body: Value) -> Reply {
    stack.post("/v1/customers", token, &body).await
}

fn acme(number: &str) -> Value {
    json!({
        "number": number,
        "name": format!("Acme {number}"),
        "email": format!("ap+{}@acme.example.com", number.to_lowercase()),
        "phone": "+447700900123",
        "language": "en",
        "currency": "GBP",
        "payment_terms": "NET30",
        "tags": ["retail", "vip"],
        "billing_address": {"line1": "1 High Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
        "credit_limit": "5000.00",
        "metadata": {"erp_id": "A-17"}
    })
}

#[tokio::test]
async fn a_customer_is_created_read_updated_and_deleted() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    let created = create(&stack, &manager, acme("C-001")).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    assert_eq!(
        created.body["balance"],
        json!({"outstanding": "0.00", "overdue": "0.00", "chased": "0.00", "credit": "0.00", "currency": "GBP"})
    );
    assert_eq!(created.body["credit_limit"], "5000.00");
    assert_eq!(
        created.body["effective"]["payment_terms"],
        json!({"value": "NET30", "source": "customer"})
    );

    stack.reset_aws_requests();
    let read = stack
        .get(&format!("/v1/customers/{id}"), &stack.token("contributor"))
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["name"], "Acme C-001");
    assert_eq!(
        stack.aws_requests().values().sum::<u64>(),
        1,
        "a customer read is one request"
    );

    let patched = stack
        .patch(
            &format!("/v1/customers/{id}"),
            &manager,
            1,
            &json!({"name": "Acme Holdings", "phone": null, "tags": ["wholesale"]}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["phone"], Value::Null);
    assert_eq!(patched.body["tags"], json!(["wholesale"]));

    let stale = stack
        .patch(
            &format!("/v1/customers/{id}"),
            &manager,
            1,
            &json!({"name": "Nope"}),
        )
        .await;
    assert_eq!(stale.status, 409);

    let deleted = stack.delete(&format!("/v1/customers/{id}"), &manager).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        stack
            .get(&format!("/v1/customers/{id}"), &manager)
            .await
            .status,
        404
    );
    // The number is free again.
    assert_eq!(create(&stack, &manager, acme("C-001")).await.status, 201);
}

#[tokio::test]
async fn every_invalid_field_is_reported_and_nothing_is_written() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let reply = create(
        &stack,
        &owner,
        json!({
            "number": "C#1",
            "name": "",
            "email": "not-an-email",
            "phone": "0770090",
            "currency": "XXX",
            "credit_limit": "12.345",
            "language": "English",
            "tags": "vip",
            "billing_address": {"city": "Leeds"},
            "metadata": {"bad key": "x"},
            "balance": {"outstanding": "1"},
            "chasing": {"status": "paused"},
            "unknown": 1
        }),
    )
    .await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    let fields = reply.body["fields"].as_object().unwrap();
    for field in [
        "number",
        "name",
        "email",
        "phone",
        "currency",
        "credit_limit",
        "language",
        "tags",
        "billing_address.line1",
        "billing_address.country",
        "metadata.bad key",
        "balance",
        "chasing",
        "unknown",
    ] {
        assert!(
            fields.contains_key(field),
            "{field} not reported: {fields:?}"
        );
    }
    let missing = create(&stack, &owner, json!({})).await;
    assert_eq!(missing.status, 422);
    for field in ["number", "name", "currency"] {
        assert_eq!(missing.body["fields"][field], "is required");
    }
    let listed = stack.get("/v1/customers", &owner).await;
    assert_eq!(listed.body["items"], json!([]));
}

#[tokio::test]
async fn numbers_are_unique_per_tenant_even_under_concurrency() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let attempts = (0..4).map(|_| create(&stack, &owner, acme("DUP-1")));
    let mut statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);
    let again = create(&stack, &owner, acme("DUP-1")).await;
    assert_eq!(again.body["error"], "duplicate_number");
    // Renaming another customer onto the number is refused too.
    let other = create(&stack, &owner, acme("DUP-2")).await;
    let id = other.body["id"].as_str().unwrap();
    let clash = stack
        .patch(
            &format!("/v1/customers/{id}"),
            &owner,
            1,
            &json!({"number": "DUP-1"}),
        )
        .await;
    assert_eq!(clash.status, 409);
    // Another tenant may use it.
    let elsewhere = stack.token_for("tenant-numbers-other", "o", "owner");
    assert_eq!(create(&stack, &elsewhere, acme("DUP-1")).await.status, 201);
}

#[tokio::test]
async fn other_tenants_ids_are_404_and_roles_are_enforced() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let id = create(&stack, &owner, acme("T-1")).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let intruder = stack.token_for("tenant-intruder", "i", "owner");
    let path = format!("/v1/customers/{id}");
    assert_eq!(stack.get(&path, &intruder).await.status, 404);
    assert_eq!(
        stack
            .patch(&path, &intruder, 1, &json!({"name": "Mine"}))
            .await
            .status,
        404
    );
    assert_eq!(stack.delete(&path, &intruder).await.status, 404);
    assert_eq!(
        stack.get("/v1/customers/not-a-ulid", &owner).await.status,
        404
    );
    let contributor = stack.token("contributor");
    assert_eq!(create(&stack, &contributor, acme("T-2")).await.status, 403);
    assert_eq!(
        stack
            .patch(&path, &contributor, 1, &json!({"name": "X"}))
            .await
            .status,
        403
    );
    assert_eq!(stack.get(&path, &owner).await.body["name"], "Acme T-1");
}

async fn names(stack: &TestStack, token: &str, path: &str) -> Vec<String> {
    let reply = stack.get(path, token).await;
    assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    reply.item_strings("name")
}

#[tokio::test]
async fn lists_paginate_in_a_stable_order_and_search_and_filter() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let group = stack
        .post("/v1/customer-groups", &owner, &json!({"name": "Retail"}))
        .await;
    let group_id = group.id();
    for (i, name) in [
        "Delta Ltd",
        "alpha plc",
        "Charlie & Co",
        "Bravo GmbH",
        "Echo SA",
    ]
    .iter()
    .enumerate()
    {
        let mut body = json!({"number": format!("N-{i}"), "name": name, "currency": "EUR", "email": format!("billing@{}.example", i)});
        if i % 2 == 0 {
            body["group_id"] = json!(group_id);
            body["tags"] = json!(["Key Account"]);
            body["ar_specialist_id"] = json!("user-ar-1");
        }
        assert_eq!(create(&stack, &owner, body).await.status, 201);
    }
    // Pages of two, in name order, each customer exactly once.
    let (all, _) = stack.all_pages(&owner, "/v1/customers?limit=2").await;
    let seen: Vec<String> = all
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        seen,
        [
            "alpha plc",
            "Bravo GmbH",
            "Charlie & Co",
            "Delta Ltd",
            "Echo SA"
        ]
    );

    assert_eq!(
        names(&stack, &owner, "/v1/customers?q=CHAR").await,
        ["Charlie & Co"]
    );
    assert_eq!(
        names(&stack, &owner, "/v1/customers?q=n-3").await,
        ["Bravo GmbH"],
        "search by number"
    );
    assert_eq!(
        names(&stack, &owner, "/v1/customers?q=billing@4").await,
        ["Echo SA"],
        "search by email"
    );
    let grouped = names(
        &stack,
        &owner,
        &format!("/v1/customers?group_id={group_id}"),
    )
    .await;
    assert_eq!(grouped, ["Charlie & Co", "Delta Ltd", "Echo SA"]);
    assert_eq!(
        names(&stack, &owner, "/v1/customers?tag=key%20account")
            .await
            .len(),
        3
    );
    assert_eq!(
        names(&stack, &owner, "/v1/customers?ar_specialist_id=user-ar-1")
            .await
            .len(),
        3
    );
    assert_eq!(
        names(&stack, &owner, "/v1/customers?chasing_status=active")
            .await
            .len(),
        5
    );
    assert_eq!(
        names(&stack, &owner, "/v1/customers?chasing_status=paused")
            .await
            .len(),
        0
    );
    assert_eq!(
        names(&stack, &owner, "/v1/customers?has_overdue=false")
            .await
            .len(),
        5
    );
    assert_eq!(
        names(&stack, &owner, "/v1/customers?has_overdue=true")
            .await
            .len(),
        0
    );
    let combined = names(
        &stack,
        &owner,
        &format!("/v1/customers?group_id={group_id}&q=e"),
    )
    .await;
    assert_eq!(combined, ["Echo SA"], "search narrowed by a filter");
    let newest = names(&stack, &owner, "/v1/customers?sort=created_at").await;
    assert_eq!(newest.first().map(String::as_str), Some("Echo SA"));
    assert_eq!(
        names(&stack, &owner, "/v1/customers?sort=overdue")
            .await
            .len(),
        5
    );

    for bad in [
        "sort=size",
        "has_overdue=maybe",
        "chasing_status=asleep",
        "limit=500",
        "colour=red",
    ] {
        let reply = stack.get(&format!("/v1/customers?{bad}"), &owner).await;
        assert_eq!(reply.status, 422, "{bad}");
    }
}

#[tokio::test]
async fn a_filtered_page_costs_the_same_requests_however_many_customers_exist() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    for i in 0..5 {
        let body = json!({"number": format!("V-{i}"), "name": format!("Vip {i}"), "currency": "EUR", "tags": ["vip"]});
        assert_eq!(create(&stack, &owner, body).await.status, 201);
    }
    stack.reset_aws_requests();
    assert_eq!(
        names(&stack, &owner, "/v1/customers?tag=vip&limit=3")
            .await
            .len(),
        3
    );
    let small = stack.aws_requests();
    for i in 0..40 {
        let body = json!({"number": format!("O-{i}"), "name": format!("Other {i}"), "currency": "EUR", "tags": ["other"]});
        assert_eq!(create(&stack, &owner, body).await.status, 201);
    }
    stack.reset_aws_requests();
    assert_eq!(
        names(&stack, &owner, "/v1/customers?tag=vip&limit=3")
            .await
            .len(),
        3
    );
    assert_eq!(stack.aws_requests(), small);
    assert_eq!(small.get("DynamoDB.Query"), Some(&1));
    stack.reset_aws_requests();
    assert_eq!(names(&stack, &owner, "/v1/customers?q=vip").await.len(), 5);
    assert_eq!(stack.aws_requests().get("DynamoDB.Query"), Some(&1));
}

#[tokio::test]
async fn groups_pass_their_settings_to_members_who_can_override_them() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let group = stack
        .post("/v1/customer-groups", &owner, &json!({"name": "Wholesale", "settings": {"payment_terms": "NET60", "autopay": true, "chasing_threshold": "100.00"}}))
        .await;
    assert_eq!(group.status, 201, "{:?}", group.body);
    let group_id = group.id();
    let member = create(
        &stack,
        &owner,
        json!({"number": "G-1", "name": "Member", "currency": "USD", "group_id": group_id}),
    )
    .await;
    assert_eq!(member.status, 201, "{:?}", member.body);
    let id = member.id();
    assert_eq!(
        member.body["effective"]["payment_terms"],
        json!({"value": "NET60", "source": "group"})
    );
    assert_eq!(
        member.body["effective"]["autopay"],
        json!({"value": true, "source": "group"})
    );
    assert_eq!(
        member.body["effective"]["chasing_threshold"],
        json!({"value": "100.00", "source": "group"})
    );

    let own = stack
        .patch(
            &format!("/v1/customers/{id}"),
            &owner,
            1,
            &json!({"payment_terms": "NET7"}),
        )
        .await;
    assert_eq!(
        own.body["effective"]["payment_terms"],
        json!({"value": "NET7", "source": "customer"})
    );

    let changed = stack
        .patch(
            &format!("/v1/customer-groups/{group_id}"),
            &owner,
            1,
            &json!({"settings": {"autopay": false}}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let read = stack.get(&format!("/v1/customers/{id}"), &owner).await;
    assert_eq!(
        read.body["effective"]["autopay"],
        json!({"value": false, "source": "group"})
    );
    assert_eq!(
        read.body["effective"]["payment_terms"]["source"],
        "customer"
    );

    let in_use = stack
        .delete(&format!("/v1/customer-groups/{group_id}"), &owner)
        .await;
    assert_eq!(in_use.status, 409);
    assert_eq!(in_use.body["error"], "group_has_members");
    assert_eq!(
        stack
            .get(&format!("/v1/customer-groups/{group_id}"), &owner)
            .await
            .body["member_count"],
        1
    );

    let left = stack
        .patch(
            &format!("/v1/customers/{id}"),
            &owner,
            2,
            &json!({"group_id": null}),
        )
        .await;
    assert_eq!(left.status, 200, "{:?}", left.body);
    assert_eq!(left.body["effective"]["autopay"]["source"], "default");
    let gone = stack
        .delete(&format!("/v1/customer-groups/{group_id}"), &owner)
        .await;
    assert_eq!(gone.status, 204);

    let missing_group = create(
        &stack,
        &owner,
        json!({"number": "G-2", "name": "X", "currency": "USD", "group_id": group_id}),
    )
    .await;
    assert_eq!(missing_group.status, 422);
    assert!(missing_group.body["fields"]["group_id"].is_string());
    let listed = stack.get("/v1/customer-groups", &owner).await;
    assert_eq!(listed.body["items"], json!([]));
    let invalid = stack
        .post(
            "/v1/customer-groups",
            &owner,
            &json!({"settings": {"autopay": 1}}),
        )
        .await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.body["fields"]["name"].is_string());
    assert!(invalid.body["fields"]["settings.autopay"].is_string());
}

#[tokio::test]
async fn the_export_is_csv_of_the_filtered_list() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    assert_eq!(
        create(
            &stack,
            &owner,
            json!({"number": "E-1", "name": "Comma, Inc", "currency": "EUR", "tags": ["x"]})
        )
        .await
        .status,
        201
    );
    assert_eq!(
        create(
            &stack,
            &owner,
            json!({"number": "E-2", "name": "=HYPERLINK()", "currency": "EUR"})
        )
        .await
        .status,
        201
    );
    let reply = stack.get("/v1/customers/export?tag=x", &owner).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let text = reply.body.as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("id,number,name,"));
    assert!(lines[1].contains("\"Comma, Inc\""));
    let all = stack.get("/v1/customers/export", &owner).await;
    assert!(all.body.as_str().unwrap().contains("'=HYPERLINK()"));
}
