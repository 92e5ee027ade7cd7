//! Invoices, payments, credit, adjustments, promises, balances and the
//! customer page, through the local runner with a fixed clock.

use integration_tests::{Reply, TestStack};
use reqwest::Method;
use serde_json::{json, Value};

async fn invoice(
    stack: &TestStack,
    token: &str,
    customer_id: &str,
    number: &str,
    issue: &str,
    due: &str,
    total: &str,
) -> Reply {
    stack
        .post(
            "/v1/invoices",
            token,
            &json!({"customer_id": customer_id, "number": number, "currency": "EUR", "issue_date": issue, "due_date": due, "total": total}),
        )
        .await
}

#[tokio::test]
async fn invoices_are_created_updated_voided_and_validated() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let cid = stack.create_customer(&owner, "M-1").await;
    let created = invoice(
        &stack,
        &owner,
        &cid,
        "INV-1",
        "2026-05-01",
        "2026-05-31",
        "1200.00",
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["status"], "open");
    assert_eq!(created.body["balance"], "1200.00");
    assert_eq!(created.body["days_overdue"], 15);
    let id = created.id();

    let read = stack
        .get(&format!("/v1/invoices/{id}"), &stack.token("contributor"))
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["number"], "INV-1");

    let duplicate = invoice(
        &stack,
        &owner,
        &cid,
        "INV-1",
        "2026-05-01",
        "2026-05-31",
        "10.00",
    )
    .await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.body["error"], "duplicate_number");

    let invalid = stack
        .post("/v1/invoices", &owner, &json!({"customer_id": cid, "number": "X", "currency": "USD", "issue_date": "2026-05-10", "due_date": "2026-05-01", "total": "0"}))
        .await;
    assert_eq!(invalid.status, 422, "{:?}", invalid.body);
    for field in ["currency", "due_date"] {
        assert!(
            invalid.body["fields"][field].is_string(),
            "{field}: {:?}",
            invalid.body
        );
    }
    let bad_plan = stack
        .post(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": cid, "number": "P", "currency": "EUR", "issue_date": "2026-05-01", "total": "300.00",
                    "payment_plan": {"installments": [{"due_date": "2026-06-30", "amount": "100.00"}, {"due_date": "2026-05-30", "amount": "100.00"}]}}),
        )
        .await;
    assert_eq!(bad_plan.status, 422, "{:?}", bad_plan.body);
    let unknown_customer = invoice(
        &stack,
        &owner,
        "01J00000000000000000000000",
        "Q",
        "2026-05-01",
        "2026-05-31",
        "1.00",
    )
    .await;
    assert_eq!(unknown_customer.status, 422);
    assert!(unknown_customer.body["fields"]["customer_id"].is_string());

    let patched = stack
        .patch(
            &format!("/v1/invoices/{id}"),
            &owner,
            1,
            &json!({"collection_status": "disputed", "dispute_reason": "Wrong quantity"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["collection_status"], "disputed");
    let customer_view = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(customer_view.body["balance"]["outstanding"], "1200.00");
    assert_eq!(
        customer_view.body["balance"]["chased"], "0.00",
        "a disputed invoice leaves the chased balance"
    );

    let stale = stack
        .patch(
            &format!("/v1/invoices/{id}"),
            &owner,
            1,
            &json!({"total": "1300.00"}),
        )
        .await;
    assert_eq!(stale.status, 409);

    let voided = stack
        .call(
            Method::POST,
            &format!("/v1/invoices/{id}/void"),
            Some(&owner),
            None,
            &[],
        )
        .await;
    assert_eq!(voided.status, 200, "{:?}", voided.body);
    assert_eq!(voided.body["status"], "void");
    let again = stack
        .call(
            Method::POST,
            &format!("/v1/invoices/{id}/void"),
            Some(&owner),
            None,
            &[],
        )
        .await;
    assert_eq!(again.status, 409);
    let customer_view = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(customer_view.body["balance"]["outstanding"], "0.00");

    let intruder = stack.token_for("tenant-money-intruder", "i", "owner");
    assert_eq!(
        stack
            .get(&format!("/v1/invoices/{id}"), &intruder)
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call(
                Method::POST,
                &format!("/v1/invoices/{id}/void"),
                Some(&intruder),
                None,
                &[]
            )
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn payments_pay_installments_in_order_and_leave_credit() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    // Manual settlement: what is not applied stays as credit until applied.
    let manual = stack
        .patch("/v1/settings", &owner, 0, &json!({"auto_settle": false}))
        .await;
    assert_eq!(manual.status, 200, "{:?}", manual.body);
    let cid = stack.create_customer(&owner, "M-2").await;
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
    let other = invoice(
        &stack,
        &owner,
        &cid,
        "INV-2",
        "2026-05-01",
        "2026-05-31",
        "50.00",
    )
    .await;
    let other_id = other.id();

    let before = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(before.body["balance"]["outstanding"], "350.00");
    assert_eq!(
        before.body["balance"]["overdue"], "150.00",
        "installment 1 and INV-2 are past due"
    );
    assert_eq!(
        before.body["balance"]["chased"], "250.00",
        "INV-2, installment 1, and installment 2 pulled in by it"
    );

    let over = stack
        .post("/v1/payments", &owner, &json!({"customer_id": cid, "amount": "500.00", "currency": "EUR", "date": "2026-06-15",
                                             "applications": [{"invoice_id": other_id, "amount": "60.00"}]}))
        .await;
    assert_eq!(over.status, 422, "{:?}", over.body);
    assert!(over.body["fields"]["applications[0].amount"].is_string());
    let too_much = stack
        .post("/v1/payments", &owner, &json!({"customer_id": cid, "amount": "10.00", "currency": "EUR", "date": "2026-06-15",
                                             "applications": [{"invoice_id": other_id, "amount": "20.00"}]}))
        .await;
    assert_eq!(too_much.status, 422);
    assert!(too_much.body["fields"]["applications"].is_string());

    let paid = stack
        .post(
            "/v1/payments",
            &owner,
            &json!({"customer_id": cid, "amount": "200.00", "currency": "EUR", "date": "2026-06-15", "method": "bank_transfer", "reference": "BT-77",
                    "applications": [{"invoice_id": plan_id, "amount": "150.00"}]}),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    assert_eq!(paid.body["unapplied"], "50.00");
    let plan_now = stack.get(&format!("/v1/invoices/{plan_id}"), &owner).await;
    let installments = plan_now.body["payment_plan"]["installments"]
        .as_array()
        .unwrap();
    assert_eq!(installments[0]["paid"], true);
    assert_eq!(installments[1]["amount_paid"], "50.00");
    assert_eq!(installments[1]["paid"], false);
    let customer_view = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(customer_view.body["balance"]["credit"], "50.00");

    let credit = stack
        .call(
            Method::POST,
            &format!("/v1/customers/{cid}/apply-credit"),
            Some(&owner),
            None,
            &[],
        )
        .await;
    assert_eq!(credit.status, 200, "{:?}", credit.body);
    assert_eq!(credit.body["applied"], "50.00");
    // Oldest due date first: INV-2 (due May 31) before the plan's current
    // installment (due June 30).
    let other_now = stack.get(&format!("/v1/invoices/{other_id}"), &owner).await;
    assert_eq!(other_now.body["status"], "paid");
    let plan_now = stack.get(&format!("/v1/invoices/{plan_id}"), &owner).await;
    assert_eq!(plan_now.body["amount_paid"], "150.00");
    let nothing = stack
        .call(
            Method::POST,
            &format!("/v1/customers/{cid}/apply-credit"),
            Some(&owner),
            None,
            &[],
        )
        .await;
    assert_eq!(nothing.status, 409);

    let listed = stack
        .get(&format!("/v1/payments?customer_id={cid}"), &owner)
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["items"][0]["reference"], "BT-77");
}

#[tokio::test]
async fn two_payments_racing_for_one_invoice_never_overpay_it() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = stack.create_customer(&owner, "M-3").await;
    let inv = invoice(
        &stack,
        &owner,
        &cid,
        "RACE-1",
        "2026-05-01",
        "2026-05-31",
        "100.00",
    )
    .await;
    let inv_id = inv.id();
    let body = json!({"customer_id": cid, "amount": "100.00", "currency": "EUR", "date": "2026-06-01",
                      "applications": [{"invoice_id": inv_id, "amount": "100.00"}]});
    let replies =
        futures::future::join_all((0..3).map(|_| stack.post("/v1/payments", &owner, &body))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses[0], 201, "{replies:?}");
    assert!(
        statuses[1..].iter().all(|s| *s == 409 || *s == 422),
        "{statuses:?}"
    );
    for busy in replies.iter().filter(|r| r.status == 409) {
        assert_eq!(busy.body["error"], "concurrent_update", "{:?}", busy.body);
        assert!(
            busy.header("retry-after").is_some(),
            "a busy customer says when to retry"
        );
    }
    let read = stack.get(&format!("/v1/invoices/{inv_id}"), &owner).await;
    assert_eq!(read.body["amount_paid"], "100.00");
    assert_eq!(read.body["status"], "paid");
    let payments = stack
        .get(&format!("/v1/payments?customer_id={cid}"), &owner)
        .await;
    assert_eq!(payments.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn adjustments_and_promises() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-01T09:00:00Z").await;
    let manual = stack
        .patch("/v1/settings", &owner, 0, &json!({"auto_settle": false}))
        .await;
    assert_eq!(manual.status, 200, "{:?}", manual.body);
    let cid = stack.create_customer(&owner, "M-4").await;
    let inv = invoice(
        &stack,
        &owner,
        &cid,
        "ADJ-1",
        "2026-05-01",
        "2026-05-31",
        "100.00",
    )
    .await;
    let inv_id = inv.id();
    let path = format!("/v1/customers/{cid}/adjustments");
    let credit_note = stack
        .post(
            &path,
            &owner,
            &json!({"amount": "-30.00", "reason": "Damaged goods", "invoice_id": inv_id}),
        )
        .await;
    assert_eq!(credit_note.status, 201, "{:?}", credit_note.body);
    assert_eq!(
        stack
            .get(&format!("/v1/invoices/{inv_id}"), &owner)
            .await
            .body["balance"],
        "70.00"
    );
    let fee = stack
        .post(
            &path,
            &owner,
            &json!({"amount": "15.00", "reason": "Late fee", "invoice_id": inv_id}),
        )
        .await;
    assert_eq!(fee.status, 201);
    assert_eq!(
        stack
            .get(&format!("/v1/invoices/{inv_id}"), &owner)
            .await
            .body["total"],
        "115.00"
    );
    let goodwill = stack
        .post(
            &path,
            &owner,
            &json!({"amount": "-5.00", "reason": "Goodwill"}),
        )
        .await;
    assert_eq!(goodwill.status, 201);
    assert_eq!(
        stack
            .get(&format!("/v1/customers/{cid}"), &owner)
            .await
            .body["balance"]["credit"],
        "5.00"
    );
    let bad = stack.post(&path, &owner, &json!({"amount": "15.00"})).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body["fields"]["reason"].is_string());
    assert!(bad.body["fields"]["invoice_id"].is_string());

    let promises = format!("/v1/customers/{cid}/promises");
    let past = stack
        .post(
            &promises,
            &owner,
            &json!({"amount": "85.00", "promised_date": "2026-05-01"}),
        )
        .await;
    assert_eq!(past.status, 422);
    let promise = stack.post(&promises, &owner, &json!({"amount": "85.00", "promised_date": "2026-06-10", "note": "Paying on the 10th"})).await;
    assert_eq!(promise.status, 201, "{:?}", promise.body);
    assert_eq!(promise.body["status"], "open");
    let paid = stack
        .post("/v1/payments", &owner, &json!({"customer_id": cid, "amount": "85.00", "currency": "EUR", "date": "2026-06-01",
                                             "applications": [{"invoice_id": inv_id, "amount": "85.00"}]}))
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let listed = stack.get(&promises, &owner).await;
    assert_eq!(listed.body["items"][0]["status"], "kept");

    // A second promise that nobody keeps is broken after promised date + grace (3 days).
    let inv2 = invoice(
        &stack,
        &owner,
        &cid,
        "ADJ-2",
        "2026-06-01",
        "2026-06-30",
        "40.00",
    )
    .await;
    assert_eq!(inv2.status, 201);
    let broken = stack
        .post(
            &promises,
            &owner,
            &json!({"amount": "40.00", "promised_date": "2026-06-05"}),
        )
        .await;
    assert_eq!(broken.status, 201);
    stack.set_clock("2026-06-08T09:00:00Z").await;
    assert_eq!(
        stack.get(&promises, &owner).await.body["items"][0]["status"],
        "open"
    );
    stack.set_clock("2026-06-09T09:00:00Z").await;
    assert_eq!(
        stack.get(&promises, &owner).await.body["items"][0]["status"],
        "broken"
    );
}

#[tokio::test]
async fn balances_and_ages_follow_the_clock_in_the_tenants_zone() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let zone = stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"time_zone": "America/New_York"}),
        )
        .await;
    assert_eq!(zone.status, 200);
    let cid = stack.create_customer(&owner, "M-5").await;
    invoice(
        &stack,
        &owner,
        &cid,
        "AGE-1",
        "2026-06-01",
        "2026-06-11",
        "80.00",
    )
    .await;
    // 2026-06-12 02:00 UTC is still June 11 in New York: due today, not overdue.
    stack.set_clock("2026-06-12T02:00:00Z").await;
    let view = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(view.body["account_age"], 10);
    assert_eq!(view.body["past_due_age"], 0);
    assert_eq!(view.body["balance"]["overdue"], "0.00");
    stack.set_clock("2026-06-12T05:00:00Z").await;
    let view = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(view.body["past_due_age"], 1);
    assert_eq!(view.body["balance"]["overdue"], "80.00");
    assert_eq!(view.body["payer_rating"], "A");
}

#[tokio::test]
async fn invoice_lists_filter_by_customer_status_overdue_and_collection() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let cid = stack.create_customer(&owner, "M-6").await;
    invoice(
        &stack,
        &owner,
        &cid,
        "L-1",
        "2026-05-01",
        "2026-05-31",
        "10.00",
    )
    .await;
    invoice(
        &stack,
        &owner,
        &cid,
        "L-2",
        "2026-06-01",
        "2026-07-01",
        "20.00",
    )
    .await;
    let disputed = invoice(
        &stack,
        &owner,
        &cid,
        "L-3",
        "2026-05-01",
        "2026-05-20",
        "30.00",
    )
    .await;
    let disputed_id = disputed.id();
    stack
        .patch(
            &format!("/v1/invoices/{disputed_id}"),
            &owner,
            1,
            &json!({"collection_status": "disputed"}),
        )
        .await;
    let numbers = |reply: &Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["number"].as_str().unwrap().to_string())
            .collect()
    };
    let overdue = stack.get("/v1/invoices?overdue=true", &owner).await;
    assert_eq!(numbers(&overdue), ["L-3", "L-1"], "by due date");
    let mine = stack
        .get(&format!("/v1/invoices?customer_id={cid}"), &owner)
        .await;
    assert_eq!(numbers(&mine).len(), 3);
    let disputed = stack
        .get("/v1/invoices?collection_status=disputed", &owner)
        .await;
    assert_eq!(numbers(&disputed), ["L-3"]);
    let paged = stack.get("/v1/invoices?limit=1", &owner).await;
    assert_eq!(numbers(&paged).len(), 1);
    assert!(paged.body["next_cursor"].is_string());
    for bad in [
        "status=late",
        "overdue=yes",
        "collection_status=lost",
        "sort=x",
    ] {
        assert_eq!(
            stack
                .get(&format!("/v1/invoices?{bad}"), &owner)
                .await
                .status,
            422,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_customer_page_is_one_query() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let cid = stack.create_customer(&owner, "PAGE-1").await;
    for i in 0..5 {
        let reply = stack
            .post(
                &format!("/v1/customers/{cid}/contacts"),
                &owner,
                &json!({"name": format!("Contact {i}")}),
            )
            .await;
        assert_eq!(reply.status, 201);
    }
    for i in 0..50 {
        let reply = invoice(
            &stack,
            &owner,
            &cid,
            &format!("PG-{i:02}"),
            "2026-05-01",
            "2026-05-31",
            "10.00",
        )
        .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    stack.reset_aws_requests();
    let page = stack
        .get(&format!("/v1/customers/{cid}/page"), &owner)
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    let requests: Vec<(String, u64)> = stack.aws_requests().into_iter().collect();
    assert_eq!(requests, [("DynamoDB.Query".to_string(), 1)]);
    assert_eq!(page.body["contacts"].as_array().unwrap().len(), 5);
    assert_eq!(page.body["open_invoices"].as_array().unwrap().len(), 50);
    assert_eq!(
        page.body["history"].as_array().unwrap().len(),
        20,
        "the 20 latest of 56 history items"
    );
    assert_eq!(page.body["history"][0]["type"], "invoice_created");
    assert_eq!(page.body["balance"]["outstanding"], "500.00");
    assert_eq!(
        page.body["customer"]["open_invoice_count"],
        Value::Null,
        "internal counters stay internal"
    );
    let intruder = stack.token_for("tenant-page-intruder", "i", "owner");
    assert_eq!(
        stack
            .get(&format!("/v1/customers/{cid}/page"), &intruder)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn automatic_settlement_pays_the_oldest_due_first_at_every_level() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let cid = stack.create_customer(&owner, "AS-1").await;
    let late = invoice(
        &stack,
        &owner,
        &cid,
        "AS-LATE",
        "2026-05-10",
        "2026-06-10",
        "100.00",
    )
    .await
    .id();
    let early = invoice(
        &stack,
        &owner,
        &cid,
        "AS-EARLY",
        "2026-05-20",
        "2026-05-25",
        "40.00",
    )
    .await
    .id();
    let future = invoice(
        &stack,
        &owner,
        &cid,
        "AS-NEXT",
        "2026-06-01",
        "2026-07-01",
        "60.00",
    )
    .await
    .id();

    // Tenant default (on): a payment without applications settles by due date.
    let paid = stack
        .post("/v1/payments", &owner, &json!({"customer_id": cid, "amount": "150.00", "currency": "EUR", "date": "2026-06-15"}))
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let applications = paid.body["applications"].as_array().unwrap();
    let applied: Vec<(&str, &str, bool)> = applications
        .iter()
        .map(|a| {
            (
                a["invoice_id"].as_str().unwrap(),
                a["amount"].as_str().unwrap(),
                a["automatic"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        applied,
        vec![
            (early.as_str(), "40.00", true),
            (late.as_str(), "100.00", true),
            (future.as_str(), "10.00", true)
        ]
    );
    assert_eq!(paid.body["unapplied"], "0.00");
    let customer = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    assert_eq!(customer.body["balance"]["credit"], "0.00");
    assert_eq!(customer.body["balance"]["overdue"], "0.00");
    assert_eq!(customer.body["balance"]["outstanding"], "50.00");
    assert_eq!(
        customer.body["effective"]["auto_settle"]["source"],
        "default"
    );
    for (id, status) in [(&early, "paid"), (&late, "paid"), (&future, "open")] {
        assert_eq!(
            stack.get(&format!("/v1/invoices/{id}"), &owner).await.body["status"],
            status
        );
    }

    // A group turns it off: money stays as credit, and the credit still
    // comes off the chased balance.
    let group = stack
        .create(
            "/v1/customer-groups",
            &owner,
            &json!({"name": "Manual", "settings": {"auto_settle": false}}),
        )
        .await;
    let manual = stack.create_customer(&owner, "AS-2").await;
    let version = |reply: &Reply| reply.body["version"].as_u64().unwrap();
    let current = stack.get(&format!("/v1/customers/{manual}"), &owner).await;
    let patched = stack
        .patch(
            &format!("/v1/customers/{manual}"),
            &owner,
            version(&current),
            &json!({"group_id": group}),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(
        patched.body["effective"]["auto_settle"],
        json!({"value": false, "source": "group"})
    );
    invoice(
        &stack,
        &owner,
        &manual,
        "AS-M1",
        "2026-05-01",
        "2026-05-31",
        "100.00",
    )
    .await;
    let credit = stack
        .post("/v1/payments", &owner, &json!({"customer_id": manual, "amount": "30.00", "currency": "EUR", "date": "2026-06-15"}))
        .await;
    assert_eq!(credit.status, 201, "{:?}", credit.body);
    assert_eq!(credit.body["applications"], json!([]));
    assert_eq!(credit.body["unapplied"], "30.00");
    let balance = &stack
        .get(&format!("/v1/customers/{manual}"), &owner)
        .await
        .body["balance"];
    assert_eq!(balance["credit"], "30.00");
    assert_eq!(balance["overdue"], "100.00");
    assert_eq!(
        balance["chased"], "70.00",
        "credit counts against the chased balance"
    );

    // The customer's own setting wins over its group's.
    let current = stack.get(&format!("/v1/customers/{manual}"), &owner).await;
    let own = stack
        .patch(
            &format!("/v1/customers/{manual}"),
            &owner,
            version(&current),
            &json!({"auto_settle": true}),
        )
        .await;
    assert_eq!(own.status, 200, "{:?}", own.body);
    assert_eq!(
        own.body["effective"]["auto_settle"],
        json!({"value": true, "source": "customer"})
    );
    let more = stack
        .post("/v1/payments", &owner, &json!({"customer_id": manual, "amount": "70.00", "currency": "EUR", "date": "2026-06-15"}))
        .await;
    assert_eq!(more.status, 201, "{:?}", more.body);
    assert_eq!(
        more.body["applications"][0]["amount"], "100.00",
        "the payment and the earlier credit"
    );
    let balance = &stack
        .get(&format!("/v1/customers/{manual}"), &owner)
        .await
        .body["balance"];
    assert_eq!(balance["credit"], "0.00");
    assert_eq!(balance["outstanding"], "0.00");
}

#[tokio::test]
async fn a_busy_customer_answers_409_with_retry_after_and_stays_consistent() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = stack.create_customer(&owner, "BUSY-1").await;
    invoice(
        &stack,
        &owner,
        &cid,
        "BUSY-1",
        "2026-05-01",
        "2026-05-31",
        "100.00",
    )
    .await;
    let body =
        json!({"customer_id": cid, "amount": "1.00", "currency": "EUR", "date": "2026-06-01"});
    let replies =
        futures::future::join_all((0..8).map(|_| stack.post("/v1/payments", &owner, &body))).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!(created + busy.len(), 8, "{replies:?}");
    assert!(created >= 1);
    assert!(
        !busy.is_empty(),
        "eight payments at once collide on the customer"
    );
    for reply in busy {
        assert_eq!(reply.body["error"], "concurrent_update");
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    let payments = stack
        .get(&format!("/v1/payments?customer_id={cid}"), &owner)
        .await;
    assert_eq!(payments.items().len(), created);
    let customer = stack.get(&format!("/v1/customers/{cid}"), &owner).await;
    let outstanding: rust_decimal::Decimal = customer.body["balance"]["outstanding"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        outstanding,
        rust_decimal::Decimal::from(100 - created as i64),
        "every accepted payment settled, nothing else"
    );
}

#[tokio::test]
async fn a_payment_dated_after_the_tenants_today_is_refused() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T22:30:00Z").await;
    // 22:30 UTC on June 15th is already June 16th in Auckland.
    let settings = json!({"time_zone": "Pacific/Auckland"});
    assert_eq!(
        stack
            .patch("/v1/settings", &owner, 0, &settings)
            .await
            .status,
        200
    );
    let cid = stack.create_customer(&owner, "FP-1").await;
    let payment = |date: &str| json!({"customer_id": cid, "amount": "10.00", "currency": "EUR", "date": date});
    let refused = stack
        .post("/v1/payments", &owner, &payment("2026-06-17"))
        .await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert!(refused.body["fields"]["date"]
        .as_str()
        .unwrap()
        .contains("after today"));
    // The tenant's today (Auckland) is June 16th.
    let accepted = stack
        .post("/v1/payments", &owner, &payment("2026-06-16"))
        .await;
    assert_eq!(accepted.status, 201, "{:?}", accepted.body);
}
