//! Cadences: CRUD and validation, the tenant limit, versions while customers
//! are enrolled, migration, and the `always` assignment rules.

use integration_tests::{Reply, TestStack};
use reqwest::Method;
use serde_json::{json, Value};

async fn template(stack: &TestStack, token: &str, channel: &str) -> String {
    let body = match channel {
        "email" => {
            json!({"name": "Reminder", "channel": "email", "subject": "Balance {{account_balance}}", "body": "<p>{{customer_name}}</p>"})
        }
        _ => json!({"name": "Text", "channel": "sms", "body": "You owe {{account_balance}}"}),
    };
    let reply = stack.post("/v1/templates", token, &body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.id()
}

fn definition(name: &str, email: &str) -> Value {
    json!({
        "name": name,
        "run_at": "09:00",
        "days_of_week": ["mon", "tue", "wed", "thu", "fri"],
        "threshold": {"amount": "50.00", "currency": "EUR"},
        "steps": [
            {"trigger": "past_due_age", "days": -3, "action": "email", "template_id": email},
            {"trigger": "past_due_age", "days": 14, "action": "phone_call"},
            {"trigger": "past_due_age", "days": 45, "action": "escalation", "assignee_id": "user-ar-lead"}
        ]
    })
}

async fn create_cadence(stack: &TestStack, token: &str, body: &Value) -> Reply {
    stack.post("/v1/cadences", token, body).await
}

async fn customer(stack: &TestStack, token: &str, body: Value) -> Value {
    let reply = stack.post("/v1/customers", token, &body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

#[tokio::test]
async fn cadences_are_created_read_listed_updated_and_deleted() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    let email = template(&stack, &manager, "email").await;
    let created = create_cadence(&stack, &manager, &definition("Standard", &email)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/cadences/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["enrolled_count"], 0);
    assert_eq!(created.body["run_at"], "09:00");
    assert_eq!(
        created.body["days_of_week"],
        json!(["mon", "tue", "wed", "thu", "fri"])
    );
    assert_eq!(
        created.body["threshold"],
        json!({"amount": "50.00", "currency": "EUR"})
    );
    assert_eq!(created.body["steps"][0]["days"], -3);
    assert_eq!(created.body["assignment"]["mode"], "manual");

    let contributor = stack.token("contributor");
    let read = stack.get(&format!("/v1/cadences/{id}"), &contributor).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, created.body);
    let listed = stack.get("/v1/cadences?limit=1", &contributor).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert_eq!(
        create_cadence(&stack, &contributor, &definition("No", &email))
            .await
            .status,
        403
    );

    // Without enrolled customers every field may change.
    let patched = stack
        .patch(
            &format!("/v1/cadences/{id}"),
            &manager,
            1,
            &json!({"run_at": "07:30", "days_of_week": null, "threshold": null, "steps": [{"trigger": "account_age", "days": 10, "action": "letter"}]}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["run_at"], "07:30");
    assert_eq!(patched.body["days_of_week"], json!([]));
    assert_eq!(patched.body["threshold"], Value::Null);
    assert_eq!(patched.body["name"], "Standard");
    let stale = stack
        .patch(
            &format!("/v1/cadences/{id}"),
            &manager,
            1,
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(stale.status, 409);

    let other_tenant = stack.token_for("another-tenant", "u", "owner");
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{id}"), &other_tenant)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .delete(&format!("/v1/cadences/{id}"), &other_tenant)
            .await
            .status,
        404
    );
    let wrong_method = stack
        .call(
            Method::PUT,
            &format!("/v1/cadences/{id}"),
            Some(&manager),
            None,
            &[],
        )
        .await;
    assert_eq!(wrong_method.status, 405);

    assert_eq!(
        stack
            .delete(&format!("/v1/cadences/{id}"), &manager)
            .await
            .status,
        204
    );
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{id}"), &manager)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn every_bad_field_is_named_in_a_422() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let sms = template(&stack, &owner, "sms").await;
    let invalid = create_cadence(
        &stack,
        &owner,
        &json!({
            "name": "",
            "run_at": "9am",
            "days_of_week": ["mon", "funday"],
            "days_of_month": [0, 15],
            "threshold": {"amount": "-1.00", "currency": "EUR"},
            "steps": [
                {"trigger": "past_due_age", "days": 1, "action": "email", "template_id": sms},
                {"trigger": "past_due_age", "days": 5, "action": "escalation"},
                {"trigger": "account_age", "days": -1, "action": "sms", "template_id": "01J00000000000000000000000"},
                {"trigger": "account_age", "days": 3, "action": "letter", "contact_role": "01J00000000000000000000000"}
            ],
            "assignment": {"mode": "always", "rules": [{"field": "shoe_size", "op": "~", "value": "9"}]}
        }),
    )
    .await;
    assert_eq!(invalid.status, 422, "{:?}", invalid.body);
    for field in [
        "name",
        "run_at",
        "days_of_week",
        "days_of_month",
        "threshold.amount",
        "steps[0].template_id",
        "steps[1].assignee_id",
        "steps[2].days",
        "steps[2].template_id",
        "steps[3].contact_role",
        "assignment.rules[0].field",
        "assignment.rules[0].op",
    ] {
        assert!(
            invalid.body["fields"][field].is_string(),
            "{field}: {:?}",
            invalid.body
        );
    }

    let types = create_cadence(
        &stack,
        &owner,
        &json!({"name": 3, "run_at": "09:00", "steps": [{"trigger": "someday", "days": "two", "action": "email", "colour": "red"}], "version": 4, "extra": true}),
    )
    .await;
    assert_eq!(types.status, 422, "{:?}", types.body);
    for field in [
        "name",
        "steps[0].trigger",
        "steps[0].days",
        "steps[0].colour",
        "version",
        "extra",
    ] {
        assert!(
            types.body["fields"][field].is_string(),
            "{field}: {:?}",
            types.body
        );
    }
    let missing = create_cadence(&stack, &owner, &json!({})).await;
    assert_eq!(missing.status, 422);
    for field in ["name", "run_at", "steps"] {
        assert!(
            missing.body["fields"][field].is_string(),
            "{field}: {:?}",
            missing.body
        );
    }
}

#[tokio::test]
async fn a_tenant_has_at_most_100_cadences() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let body = json!({"name": "Calls", "run_at": "10:00", "steps": [{"trigger": "past_due_age", "days": 1, "action": "phone_call"}]});
    let mut last = String::new();
    for _ in 0..100 {
        let reply = create_cadence(&stack, &owner, &body).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        last = reply.id();
    }
    let full = create_cadence(&stack, &owner, &body).await;
    assert_eq!(full.status, 409);
    assert_eq!(full.body["error"], "cadence_limit");
    assert_eq!(
        stack
            .delete(&format!("/v1/cadences/{last}"), &owner)
            .await
            .status,
        204
    );
    assert_eq!(create_cadence(&stack, &owner, &body).await.status, 201);
}

#[tokio::test]
async fn enrolled_cadences_change_through_versions_and_migration() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let email = template(&stack, &owner, "email").await;
    let created = create_cadence(&stack, &owner, &definition("Standard", &email)).await;
    let id = created.id();
    let mut customers = Vec::new();
    for number in ["M-1", "M-2", "M-3"] {
        let c = customer(
            &stack,
            &owner,
            json!({"number": number, "name": number, "currency": "EUR"}),
        )
        .await;
        let cid = c["id"].as_str().unwrap().to_string();
        stack.enrol(&owner, &cid, &id).await;
        customers.push(cid);
    }
    let read = stack.get(&format!("/v1/cadences/{id}"), &owner).await;
    assert_eq!(read.body["enrolled_count"], 3);

    let steps = stack
        .patch(
            &format!("/v1/cadences/{id}"),
            &owner,
            1,
            &json!({"steps": [{"trigger": "past_due_age", "days": 1, "action": "phone_call"}]}),
        )
        .await;
    assert_eq!(steps.status, 409, "{:?}", steps.body);
    assert_eq!(steps.body["error"], "cadence_in_use");
    let timing = stack
        .patch(
            &format!("/v1/cadences/{id}"),
            &owner,
            1,
            &json!({"run_at": "08:00"}),
        )
        .await;
    assert_eq!(timing.status, 409);

    // Name and assignment do not change how anyone is chased.
    let renamed = stack
        .patch(
            &format!("/v1/cadences/{id}"),
            &owner,
            1,
            &json!({"name": "Standard (EU)", "assignment": {"mode": "manual", "priority": 5}}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    assert_eq!(renamed.body["version"], 2);
    assert_eq!(renamed.body["enrolled_count"], 3);

    let mut next = definition("Standard v3", &email);
    next["steps"][1]["days"] = json!(10);
    let version = stack
        .post(&format!("/v1/cadences/{id}/versions"), &owner, &next)
        .await;
    assert_eq!(version.status, 201, "{:?}", version.body);
    assert_eq!(version.body["version"], 3);
    assert_eq!(version.body["steps"][1]["days"], 10);
    assert_eq!(version.body["enrolled_count"], 3);
    let stale_version = stack
        .call(
            Method::POST,
            &format!("/v1/cadences/{id}/versions"),
            Some(&owner),
            Some(&next),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(stale_version.status, 409);
    let bad_version = stack
        .post(
            &format!("/v1/cadences/{id}/versions"),
            &owner,
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(bad_version.status, 422);

    let before = stack
        .get(&format!("/v1/customers/{}", customers[0]), &owner)
        .await;
    assert_eq!(
        before.body["chasing"]["cadence_version"], 1,
        "enrolled customers stay on their version"
    );

    assert_eq!(
        stack
            .delete(&format!("/v1/cadences/{id}"), &owner)
            .await
            .status,
        409
    );

    // History sorts by time, and the clock is fixed: let it move on.
    stack.set_clock("2026-06-15T13:00:00Z").await;
    let bad_limit = stack
        .post(
            &format!("/v1/cadences/{id}/migrate?limit=0"),
            &owner,
            &json!({}),
        )
        .await;
    assert_eq!(bad_limit.status, 422);
    let first = stack
        .post(
            &format!("/v1/cadences/{id}/migrate?limit=2"),
            &owner,
            &json!({}),
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["migrated"], 2);
    assert_eq!(first.body["cycles_restarted"], 2);
    assert_eq!(first.body["remaining"], 1);
    let second = stack
        .post(&format!("/v1/cadences/{id}/migrate"), &owner, &json!({}))
        .await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["remaining"], 0);
    assert_eq!(
        first.body["migrated"].as_u64().unwrap() + second.body["migrated"].as_u64().unwrap(),
        3
    );
    for cid in &customers {
        let after = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
        assert_eq!(after.body["chasing"]["cadence_version"], 3);
        let history = stack
            .get(
                &format!("/v1/customers/{cid}/history?type=chasing_changed"),
                &owner,
            )
            .await;
        assert_eq!(history.status, 200, "{:?}", history.body);
        assert_eq!(history.body["items"][0]["detail"]["change"], "migrated");
        assert_eq!(history.body["items"][0]["detail"]["from_version"], 1);
    }
    let nothing_left = stack
        .post(&format!("/v1/cadences/{id}/migrate"), &owner, &json!({}))
        .await;
    assert_eq!(nothing_left.body["migrated"], 0);

    for cid in &customers {
        let left = stack
            .delete(&format!("/v1/customers/{cid}/chasing"), &owner)
            .await;
        assert_eq!(left.status, 200, "{:?}", left.body);
    }
    assert_eq!(
        stack.get(&format!("/v1/cadences/{id}"), &owner).await.body["enrolled_count"],
        0
    );
    assert_eq!(
        stack
            .delete(&format!("/v1/cadences/{id}"), &owner)
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn assignment_rules_enrol_customers_on_create_and_update() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let rules = |name: &str, priority: i64, rules: Value| {
        json!({"name": name, "run_at": "09:00", "steps": [{"trigger": "past_due_age", "days": 1, "action": "phone_call"}],
               "assignment": {"mode": "always", "priority": priority, "rules": rules}})
    };
    let vip = create_cadence(
        &stack,
        &owner,
        &rules("VIP", 1, json!([{"field": "tags", "op": "==", "value": "vip"}, {"field": "currency", "op": "==", "value": "eur"}])),
    )
    .await;
    assert_eq!(vip.status, 201, "{:?}", vip.body);
    let vip_id = vip.id();
    let net60 = create_cadence(
        &stack,
        &owner,
        &rules(
            "Net 60",
            2,
            json!([{"field": "payment_terms", "op": "==", "value": "NET60"}]),
        ),
    )
    .await;
    let net60_id = net60.id();
    let manual = create_cadence(&stack, &owner, &json!({"name": "Manual", "run_at": "09:00", "steps": [{"trigger": "past_due_age", "days": 1, "action": "letter"}]})).await;
    assert_eq!(manual.status, 201);

    let plain = customer(
        &stack,
        &owner,
        json!({"number": "A-1", "name": "Plain", "currency": "EUR"}),
    )
    .await;
    assert_eq!(plain["chasing"]["cadence_id"], Value::Null);
    let both = customer(&stack, &owner, json!({"number": "A-2", "name": "Both", "currency": "EUR", "tags": ["vip"], "payment_terms": "NET60"})).await;
    assert_eq!(
        both["chasing"]["cadence_id"],
        vip_id.as_str(),
        "the lower priority wins"
    );
    assert_eq!(both["chasing"]["cadence_version"], 1);
    let gbp = customer(
        &stack,
        &owner,
        json!({"number": "A-3", "name": "Pounds", "currency": "GBP", "tags": ["vip"]}),
    )
    .await;
    assert_eq!(gbp["chasing"]["cadence_id"], Value::Null);

    let cid = plain["id"].as_str().unwrap();
    let updated = stack
        .patch(
            &format!("/v1/customers/{cid}"),
            &owner,
            1,
            &json!({"payment_terms": "NET60"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(updated.body["chasing"]["cadence_id"], net60_id.as_str());
    let history = stack
        .get(
            &format!("/v1/customers/{cid}/history?type=chasing_changed"),
            &owner,
        )
        .await;
    assert_eq!(history.body["items"][0]["detail"]["by"], "assignment_rules");
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{net60_id}"), &owner)
            .await
            .body["enrolled_count"],
        1
    );
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{vip_id}"), &owner)
            .await
            .body["enrolled_count"],
        1
    );

    // Deleting an enrolled customer gives its place back.
    let both_id = both["id"].as_str().unwrap();
    assert_eq!(
        stack
            .delete(&format!("/v1/customers/{both_id}"), &owner)
            .await
            .status,
        204
    );
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{vip_id}"), &owner)
            .await
            .body["enrolled_count"],
        0
    );
}
