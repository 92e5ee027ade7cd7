//! `/v1/tasks` through the local runner: the lifecycle, validation, lists,
//! the computed customer fields and what a list page costs.

use domain::identity::TenantId;
use integration_tests::{Reply, TestStack};
use reqwest::Method;
use serde_json::{json, Value};
use store::keys;

async fn customer(stack: &TestStack, token: &str, number: &str) -> String {
    stack
        .create(
            "/v1/customers",
            token,
            &json!({"number": number, "name": format!("Customer {number}"), "currency": "EUR", "phone": "+447700900123"}),
        )
        .await
}

async fn task(stack: &TestStack, token: &str, body: Value) -> Reply {
    stack.post("/v1/tasks", token, &body).await
}

async fn task_id(stack: &TestStack, token: &str, body: Value) -> String {
    stack.create("/v1/tasks", token, &body).await
}

async fn post(stack: &TestStack, path: &str, token: &str, body: Option<&Value>) -> Reply {
    stack.call(Method::POST, path, Some(token), body, &[]).await
}

/// Whether the item at `sk` exists in the customer's partition.
async fn stored(stack: &TestStack, customer_id: &str, sk: &str) -> bool {
    let tenant = TenantId::parse(&stack.tenant).unwrap();
    stack
        .table()
        .get(&keys::customer_pk(&tenant, customer_id), sk)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_task_is_created_read_updated_rescheduled_and_completed() {
    let stack = TestStack::start().await;
    let manager = stack.token("manager");
    let cid = customer(&stack, &manager, "T-1").await;
    let created = task(
        &stack,
        &manager,
        json!({"type": "call_reminder", "customer_id": cid, "due_date": "2026-06-05"}),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/tasks/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.body["status"], "open");
    assert_eq!(created.body["outcome"], Value::Null);
    assert_eq!(created.body["title"], "Call reminder");
    assert_eq!(
        created.body["assignee_id"], "manager",
        "the creator's own by default"
    );
    assert_eq!(created.body["customer_name"], "Customer T-1");
    assert_eq!(created.body["contact_numbers"], json!(["+447700900123"]));
    assert_eq!(created.body["outstanding_invoice_count"], 0);
    assert_eq!(
        created.body["overdue_amount"],
        json!({"amount": "0.00", "currency": "EUR"})
    );
    assert!(
        stored(&stack, &cid, &keys::task_sk(&id)).await,
        "open tasks are in the page range"
    );

    stack.reset_aws_requests();
    let read = stack
        .get(&format!("/v1/tasks/{id}"), &stack.token("contributor"))
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, created.body);
    let requests = stack.aws_requests();
    assert_eq!(
        requests.get("DynamoDB.BatchGetItem"),
        Some(&1),
        "{requests:?}"
    );
    assert!(
        requests.get("DynamoDB.GetItem").copied().unwrap_or(0) <= 2,
        "the pointer (and at most the tenant's settings): {requests:?}"
    );

    let path = format!("/v1/tasks/{id}");
    let patched = stack
        .patch(
            &path,
            &manager,
            1,
            &json!({"title": "Call about INV-7", "assignee_id": "ar-1"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["title"], "Call about INV-7");
    assert_eq!(patched.body["assignee_id"], "ar-1");
    assert_eq!(patched.body["customer_name"], "Customer T-1");
    let stale = stack
        .patch(&path, &manager, 1, &json!({"title": "Nope"}))
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.body["error"], "version_conflict");
    let no_version = stack
        .call(
            Method::PATCH,
            &path,
            Some(&manager),
            Some(&json!({"title": "x"})),
            &[],
        )
        .await;
    assert_eq!(no_version.status, 428);

    let rescheduled = post(
        &stack,
        &format!("{path}/reschedule"),
        &manager,
        Some(&json!({"due_date": "2026-06-12"})),
    )
    .await;
    assert_eq!(rescheduled.status, 200, "{:?}", rescheduled.body);
    assert_eq!(rescheduled.body["due_date"], "2026-06-12");
    assert_eq!(rescheduled.body["version"], 3);

    let no_outcome = post(
        &stack,
        &format!("{path}/complete"),
        &manager,
        Some(&json!({})),
    )
    .await;
    assert_eq!(no_outcome.status, 422);
    assert!(no_outcome.body["fields"]["outcome"].is_string());
    let bad_outcome = post(
        &stack,
        &format!("{path}/complete"),
        &manager,
        Some(&json!({"outcome": "hung_up"})),
    )
    .await;
    assert_eq!(bad_outcome.status, 422);
    let stale_complete = stack
        .call(
            Method::POST,
            &format!("{path}/complete"),
            Some(&manager),
            Some(&json!({"outcome": "answered"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(
        stale_complete.status, 409,
        "an If-Match, when sent, must hold"
    );

    let completed = post(
        &stack,
        &format!("{path}/complete"),
        &manager,
        Some(&json!({"outcome": "left_voicemail", "note": "Voicemail, will try Friday"})),
    )
    .await;
    assert_eq!(completed.status, 200, "{:?}", completed.body);
    assert_eq!(completed.body["status"], "completed");
    assert_eq!(completed.body["outcome"], "left_voicemail");
    assert_eq!(
        completed.body["completion_note"],
        "Voicemail, will try Friday"
    );
    assert_eq!(completed.body["completed_by"], "manager");
    assert_eq!(completed.body["version"], 4);
    assert!(
        !stored(&stack, &cid, &keys::task_sk(&id)).await,
        "completed tasks leave the page range"
    );
    assert!(stored(&stack, &cid, &keys::closed_task_sk(&id)).await);

    let read = stack.get(&path, &manager).await;
    assert_eq!(read.status, 200, "a completed task is still found by id");
    assert_eq!(read.body["status"], "completed");
    for (route, body) in [
        ("complete", json!({"outcome": "answered"})),
        ("reschedule", json!({"due_date": "2026-07-01"})),
    ] {
        let again = post(&stack, &format!("{path}/{route}"), &manager, Some(&body)).await;
        assert_eq!(again.status, 409, "{route}");
        assert_eq!(again.body["error"], "task_completed");
    }
    let late_patch = stack
        .patch(&path, &manager, 4, &json!({"title": "x"}))
        .await;
    assert_eq!(late_patch.status, 409);

    let history = stack
        .get(&format!("/v1/customers/{cid}/history"), &manager)
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items[0]["type"], "task_completed");
    assert_eq!(items[0]["actor"], "manager");
    assert_eq!(items[0]["detail"]["outcome"], "left_voicemail");
    assert_eq!(items[0]["detail"]["task_id"], json!(id));
    assert_eq!(items[1]["type"], "task_created");
    assert_eq!(items[1]["detail"]["task_id"], json!(id));

    let open = stack.get("/v1/tasks?assignee=ar-1", &manager).await;
    assert_eq!(open.item_strings("id"), Vec::<String>::new());
    let done = stack
        .get("/v1/tasks?assignee=ar-1&status=completed", &manager)
        .await;
    assert_eq!(done.item_strings("id"), [id]);
    assert_eq!(done.body["items"][0]["outcome"], "left_voicemail");
}

#[tokio::test]
async fn every_type_is_created_and_only_calls_take_an_outcome() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = customer(&stack, &owner, "T-2").await;
    let types = [
        "call_reminder",
        "get_credit_report",
        "book_meeting",
        "validate_invoice",
        "update_invoice",
        "offer_payment_plan",
        "escalate_to_collections",
        "escalation",
        "promise_broken",
        "note_reminder",
        "fix_contact",
    ];
    for kind in types {
        let id = task_id(
            &stack,
            &owner,
            json!({"type": kind, "customer_id": cid, "due_date": "2026-06-05", "title": format!("Do {kind}")}),
        )
        .await;
        let path = format!("/v1/tasks/{id}/complete");
        if kind == "call_reminder" {
            let done = post(&stack, &path, &owner, Some(&json!({"outcome": "skipped"}))).await;
            assert_eq!(done.status, 200, "{:?}", done.body);
            assert_eq!(done.body["outcome"], "skipped");
        } else {
            let refused = post(&stack, &path, &owner, Some(&json!({"outcome": "answered"}))).await;
            assert_eq!(refused.status, 422, "{kind}");
            assert!(refused.body["fields"]["outcome"].is_string());
            // No body at all is a completion without outcome or note.
            let done = post(&stack, &path, &owner, None).await;
            assert_eq!(done.status, 200, "{kind}: {:?}", done.body);
            assert_eq!(done.body["outcome"], Value::Null);
        }
    }
    let done = stack
        .get("/v1/tasks?status=completed&limit=200", &owner)
        .await;
    assert_eq!(done.item_strings("id").len(), types.len());
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_other_tenants_tasks_are_404() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = customer(&stack, &owner, "T-3").await;

    let missing = task(&stack, &owner, json!({})).await;
    assert_eq!(missing.status, 422);
    for field in ["type", "customer_id", "due_date"] {
        assert_eq!(
            missing.body["fields"][field], "is required",
            "{:?}",
            missing.body
        );
    }
    let invalid = task(
        &stack,
        &owner,
        json!({
            "type": "nap", "customer_id": cid, "due_date": "2026-02-30", "title": "",
            "invoice_ids": "INV-1", "assignee_id": "a b", "status": "completed",
            "overdue_amount": "5.00", "colour": "red"
        }),
    )
    .await;
    assert_eq!(invalid.status, 422);
    for field in [
        "type",
        "due_date",
        "title",
        "invoice_ids",
        "assignee_id",
        "status",
        "overdue_amount",
        "colour",
    ] {
        assert!(
            invalid.body["fields"][field].is_string(),
            "{field}: {:?}",
            invalid.body
        );
    }
    let unknown_customer = task(
        &stack,
        &owner,
        json!({"type": "book_meeting", "customer_id": "01J00000000000000000000000", "due_date": "2026-06-05"}),
    )
    .await;
    assert_eq!(unknown_customer.status, 422);
    assert_eq!(
        unknown_customer.body["fields"]["customer_id"],
        "no such customer"
    );
    let unknown_invoice = task(
        &stack,
        &owner,
        json!({"type": "validate_invoice", "customer_id": cid, "due_date": "2026-06-05",
               "invoice_ids": ["01J00000000000000000000009"]}),
    )
    .await;
    assert_eq!(unknown_invoice.status, 422);
    assert!(unknown_invoice.body["fields"]["invoice_ids[0]"].is_string());
    let malformed = stack
        .call(Method::POST, "/v1/tasks", Some(&owner), None, &[])
        .await;
    assert_eq!(malformed.status, 400);

    let id = task_id(
        &stack,
        &owner,
        json!({"type": "book_meeting", "customer_id": cid, "due_date": "2026-06-05"}),
    )
    .await;
    let path = format!("/v1/tasks/{id}");
    let customer_change = stack
        .patch(
            &path,
            &owner,
            1,
            &json!({"customer_id": cid, "outcome": "answered"}),
        )
        .await;
    assert_eq!(customer_change.status, 422);
    assert!(customer_change.body["fields"]["customer_id"].is_string());
    assert!(customer_change.body["fields"]["outcome"].is_string());
    let bad_date = post(
        &stack,
        &format!("{path}/reschedule"),
        &owner,
        Some(&json!({"due_date": "soon"})),
    )
    .await;
    assert_eq!(bad_date.status, 422);
    assert!(bad_date.body["fields"]["due_date"].is_string());
    let no_date = post(
        &stack,
        &format!("{path}/reschedule"),
        &owner,
        Some(&json!({})),
    )
    .await;
    assert_eq!(no_date.body["fields"]["due_date"], "is required");
    let delete = stack.delete(&path, &owner).await;
    assert_eq!(delete.status, 405);

    for bad in [
        "status=done",
        "due_before=yesterday",
        "customer_id=nope",
        "limit=0",
        "cursor=garbage",
        "sort=due",
        "assignee=a%20b",
    ] {
        let reply = stack.get(&format!("/v1/tasks?{bad}"), &owner).await;
        assert_eq!(reply.status, 422, "{bad}: {:?}", reply.body);
    }

    let intruder = stack.token_for("tenant-tasks-intruder", "i", "owner");
    assert_eq!(stack.get(&path, &intruder).await.status, 404);
    assert_eq!(
        stack
            .patch(&path, &intruder, 1, &json!({"title": "Mine"}))
            .await
            .status,
        404
    );
    for route in ["complete", "reschedule"] {
        let reply = post(
            &stack,
            &format!("{path}/{route}"),
            &intruder,
            Some(&json!({"due_date": "2026-07-01"})),
        )
        .await;
        assert_eq!(reply.status, 404, "{route}");
    }
    let theirs = task(
        &stack,
        &intruder,
        json!({"type": "book_meeting", "customer_id": cid, "due_date": "2026-06-05"}),
    )
    .await;
    assert_eq!(
        theirs.status, 422,
        "another tenant's customer does not exist for them"
    );
    assert_eq!(
        stack
            .get("/v1/tasks?assignee=all", &intruder)
            .await
            .item_strings("id"),
        Vec::<String>::new()
    );
    assert_eq!(stack.get("/v1/tasks/not-a-ulid", &owner).await.status, 404);
    assert_eq!(
        stack
            .get("/v1/tasks/01J00000000000000000000000", &owner)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call(Method::GET, "/v1/tasks", None, None, &[])
            .await
            .status,
        401
    );
    assert_eq!(
        stack.get(&path, &owner).await.body["version"],
        1,
        "nothing changed"
    );
}

#[tokio::test]
async fn lists_default_to_my_open_tasks_by_due_date_and_filter_and_paginate() {
    let stack = TestStack::start().await;
    let me = stack.token_for(&stack.tenant, "ar-me", "contributor");
    let owner = stack.token("owner");
    let first = customer(&stack, &owner, "L-1").await;
    let second = customer(&stack, &owner, "L-2").await;
    let mut mine = Vec::new();
    for (due, cid) in [
        ("2026-06-20", &first),
        ("2026-06-01", &second),
        ("2026-06-10", &first),
        ("2026-06-15", &second),
        ("2026-06-05", &first),
    ] {
        let id = task_id(
            &stack,
            &owner,
            json!({"type": "call_reminder", "customer_id": cid, "due_date": due, "assignee_id": "ar-me"}),
        )
        .await;
        mine.push((due, id));
    }
    mine.sort();
    let mine: Vec<String> = mine.into_iter().map(|(_, id)| id).collect();
    let theirs = task_id(
        &stack,
        &owner,
        json!({"type": "book_meeting", "customer_id": first, "due_date": "2026-06-02", "assignee_id": "ar-other"}),
    )
    .await;
    let team = task_id(
        &stack,
        &owner,
        json!({"type": "escalation", "customer_id": second, "due_date": "2026-06-03", "assignee_id": null}),
    )
    .await;

    let default = stack.get("/v1/tasks", &me).await;
    assert_eq!(default.status, 200, "{:?}", default.body);
    assert_eq!(
        default.item_strings("id"),
        mine,
        "my open tasks, soonest due first"
    );
    assert_eq!(default.body["next_cursor"], Value::Null);
    assert_eq!(
        stack
            .get("/v1/tasks?assignee=me", &me)
            .await
            .item_strings("id"),
        mine
    );
    assert_eq!(
        stack
            .get("/v1/tasks?assignee=ar-me", &owner)
            .await
            .item_strings("id"),
        mine
    );
    assert_eq!(
        stack
            .get("/v1/tasks?assignee=ar-other", &me)
            .await
            .item_strings("id"),
        std::slice::from_ref(&theirs)
    );
    let all = stack
        .get("/v1/tasks?assignee=all", &me)
        .await
        .item_strings("id");
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], mine[0]);
    assert_eq!(all[1], theirs, "due June 2");
    assert_eq!(all[2], team, "unassigned tasks are on the team's list");

    let due_soon = stack
        .get("/v1/tasks?due_before=2026-06-10", &me)
        .await
        .item_strings("id");
    assert_eq!(due_soon, mine[..2], "due strictly before the date");
    let of_first = stack
        .get(&format!("/v1/tasks?customer_id={first}&assignee=all"), &me)
        .await
        .item_strings("id");
    assert_eq!(of_first.len(), 4);
    let my_first = stack
        .get(&format!("/v1/tasks?customer_id={first}"), &me)
        .await
        .item_strings("id");
    assert_eq!(my_first.len(), 3, "a customer's tasks narrowed to mine");
    let my_first_soon = stack
        .get(
            &format!("/v1/tasks?customer_id={first}&due_before=2026-06-11"),
            &me,
        )
        .await
        .item_strings("id");
    assert_eq!(my_first_soon.len(), 2);

    // Pages of two, each task once, in order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let reply = stack
            .get(
                &format!("/v1/tasks?assignee=all&limit=2&cursor={cursor}"),
                &me,
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        seen.extend(reply.item_strings("id"));
        pages += 1;
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, all);
    assert_eq!(pages, 4, "the last page says it is the last");
    let page = stack.get("/v1/tasks?limit=2", &me).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let elsewhere = stack
        .get(&format!("/v1/tasks?status=completed&cursor={cursor}"), &me)
        .await;
    assert_eq!(
        elsewhere.status, 422,
        "a cursor only continues its own list"
    );
    let mine_paged = stack
        .get(&format!("/v1/tasks?limit=2&cursor={cursor}"), &me)
        .await;
    assert_eq!(mine_paged.item_strings("id"), mine[2..4]);
}

#[tokio::test]
async fn listing_my_open_tasks_costs_the_same_however_many_tasks_others_have() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let me = stack.token_for(&stack.tenant, "ar-1", "contributor");
    let cid = customer(&stack, &owner, "R-1").await;
    for day in 1..=3 {
        task_id(
            &stack,
            &owner,
            json!({"type": "call_reminder", "customer_id": cid, "due_date": format!("2026-06-0{day}"), "assignee_id": "ar-1"}),
        )
        .await;
    }
    // Warm the tenant's settings cache so only the listing is counted.
    assert_eq!(stack.get("/v1/tasks", &me).await.status, 200);
    stack.reset_aws_requests();
    assert_eq!(
        stack.get("/v1/tasks", &me).await.item_strings("id").len(),
        3
    );
    let few_others = stack.aws_requests();
    assert_eq!(few_others.get("DynamoDB.Query"), Some(&1), "{few_others:?}");
    assert_eq!(
        few_others.get("DynamoDB.BatchGetItem"),
        Some(&1),
        "{few_others:?}"
    );

    let others = customer(&stack, &owner, "R-2").await;
    for i in 0..40 {
        task_id(
            &stack,
            &owner,
            json!({"type": "book_meeting", "customer_id": if i % 2 == 0 { &cid } else { &others },
                   "due_date": "2026-06-01", "assignee_id": format!("other-{}", i % 4)}),
        )
        .await;
    }
    assert_eq!(stack.get("/v1/tasks", &me).await.status, 200);
    stack.reset_aws_requests();
    assert_eq!(
        stack.get("/v1/tasks", &me).await.item_strings("id").len(),
        3
    );
    let many_others = stack.aws_requests();
    assert_eq!(
        many_others, few_others,
        "one index Query and one customer batch, whatever others have"
    );
}

#[tokio::test]
async fn computed_fields_follow_invoices_partial_payments_and_installments() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let cid = customer(&stack, &owner, "M-1").await;
    let contact = stack
        .post(
            &format!("/v1/customers/{cid}/contacts"),
            &owner,
            &json!({"name": "Ann Payables", "phone": "+447700900555"}),
        )
        .await;
    assert_eq!(contact.status, 201, "{:?}", contact.body);
    let plain_id = stack.create(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": cid, "number": "INV-1", "currency": "EUR", "issue_date": "2026-05-01",
                    "due_date": "2026-05-31", "total": "100.00"}),
        ).await;
    let plan = stack
        .post(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": cid, "number": "PLAN-1", "currency": "EUR", "issue_date": "2026-04-30", "total": "300.00",
                    "payment_plan": {"installments": [
                        {"due_date": "2026-05-30", "amount": "100.00"},
                        {"due_date": "2026-06-30", "amount": "100.00"},
                        {"due_date": "2026-07-30", "amount": "100.00"}]}}),
        )
        .await;
    assert_eq!(plan.status, 201, "{:?}", plan.body);
    let plan_id = plan.id();
    let future = stack
        .post(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": cid, "number": "INV-3", "currency": "EUR", "issue_date": "2026-06-10",
                    "due_date": "2026-07-10", "total": "50.00"}),
        )
        .await;
    assert_eq!(future.status, 201, "{:?}", future.body);
    let partial = stack
        .post(
            "/v1/payments",
            &owner,
            &json!({"customer_id": cid, "amount": "30.00", "currency": "EUR", "date": "2026-06-15",
                    "applications": [{"invoice_id": plain_id, "amount": "30.00"}]}),
        )
        .await;
    assert_eq!(partial.status, 201, "{:?}", partial.body);

    let id = task_id(
        &stack,
        &owner,
        json!({"type": "call_reminder", "customer_id": cid, "due_date": "2026-06-16", "invoice_ids": [plain_id, plan_id]}),
    )
    .await;
    let read = stack.get(&format!("/v1/tasks/{id}"), &owner).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["outstanding_invoice_count"], 3);
    // INV-1 70.00 after the partial payment; of the plan only the first
    // installment (May 30) is due; INV-3 is not due yet.
    assert_eq!(
        read.body["overdue_amount"],
        json!({"amount": "170.00", "currency": "EUR"})
    );
    assert_eq!(
        read.body["contact_numbers"],
        json!(["+447700900123", "+447700900555"])
    );
    assert_eq!(read.body["invoice_ids"], json!([plain_id, plan_id]));

    // Paying the first installment changes what the task shows: computed
    // at read time, never stored on the task.
    let installment = stack
        .post(
            "/v1/payments",
            &owner,
            &json!({"customer_id": cid, "amount": "100.00", "currency": "EUR", "date": "2026-06-15",
                    "applications": [{"invoice_id": plan_id, "amount": "100.00"}]}),
        )
        .await;
    assert_eq!(installment.status, 201, "{:?}", installment.body);
    let listed = stack.get("/v1/tasks", &owner).await;
    assert_eq!(listed.body["items"][0]["id"], json!(id));
    assert_eq!(
        listed.body["items"][0]["overdue_amount"],
        json!({"amount": "70.00", "currency": "EUR"})
    );
    // A month later the plan's second installment and INV-3 are overdue too.
    stack.set_clock("2026-07-15T12:00:00Z").await;
    let later = stack.get(&format!("/v1/tasks/{id}"), &owner).await;
    assert_eq!(
        later.body["overdue_amount"],
        json!({"amount": "220.00", "currency": "EUR"})
    );
}

#[tokio::test]
async fn an_idempotent_create_is_answered_once() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = customer(&stack, &owner, "I-1").await;
    let body = json!({"type": "book_meeting", "customer_id": cid, "due_date": "2026-06-05"});
    let first = stack
        .call(
            Method::POST,
            "/v1/tasks",
            Some(&owner),
            Some(&body),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.status, 201);
    let second = stack
        .call(
            Method::POST,
            "/v1/tasks",
            Some(&owner),
            Some(&body),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(second.status, 201);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(
        stack
            .get("/v1/tasks", &owner)
            .await
            .item_strings("id")
            .len(),
        1
    );
}
