//! `/v1/customers/{id}/notes` and `/v1/customers/{id}/history` through the
//! local runner.

use chrono::{DateTime, Duration, Utc};
use domain::history::{HistoryItem, HistoryType};
use domain::identity::TenantId;
use integration_tests::TestStack;
use serde_json::{json, Value};
use store::customer as customer_store;
use store::keys;

async fn invoice(stack: &TestStack, token: &str, customer_id: &str, number: &str) -> String {
    stack
        .create(
            "/v1/invoices",
            token,
            &json!({"customer_id": customer_id, "number": number, "currency": "EUR",
                    "issue_date": "2026-05-01", "due_date": "2026-05-31", "total": "100.00"}),
        )
        .await
}

#[tokio::test]
async fn a_note_links_invoices_sets_a_reminder_and_appears_in_the_history() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let contributor = stack.token("contributor");
    let cid = stack.create_customer(&owner, "N-1").await;
    let inv = invoice(&stack, &owner, &cid, "INV-1").await;

    let created = stack
        .post(
            &format!("/v1/customers/{cid}/notes"),
            &contributor,
            &json!({"body": "Spoke to Jane: will pay INV-1 on Friday", "invoice_ids": [inv], "reminder_date": "2026-06-19"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["author_id"], "contributor");
    assert_eq!(created.body["invoice_ids"], json!([inv]));
    assert_eq!(created.body["version"], 1);
    let note_id = created.id();
    let task_id = created.body["reminder_task_id"]
        .as_str()
        .unwrap()
        .to_string();

    let reminder = stack
        .get(&format!("/v1/tasks/{task_id}"), &contributor)
        .await;
    assert_eq!(reminder.status, 200);
    assert_eq!(reminder.body["type"], "note_reminder");
    assert_eq!(
        reminder.body["assignee_id"], "contributor",
        "for the author"
    );
    assert_eq!(reminder.body["due_date"], "2026-06-19");
    assert_eq!(reminder.body["invoice_ids"], json!([inv]));
    let my_tasks = stack.get("/v1/tasks", &contributor).await;
    assert_eq!(my_tasks.items()[0]["id"], json!(task_id));

    let plain = stack
        .post(
            &format!("/v1/customers/{cid}/notes"),
            &owner,
            &json!({"body": "Account reviewed"}),
        )
        .await;
    assert_eq!(plain.status, 201, "{:?}", plain.body);
    assert_eq!(plain.body["reminder_task_id"], Value::Null);

    let notes = stack
        .get(&format!("/v1/customers/{cid}/notes"), &owner)
        .await;
    assert_eq!(notes.status, 200);
    let listed: Vec<&str> = notes
        .items()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "Account reviewed",
            "Spoke to Jane: will pay INV-1 on Friday"
        ]
    );
    let (paged, pages) = stack
        .all_pages(&owner, &format!("/v1/customers/{cid}/notes?limit=1"))
        .await;
    assert_eq!(paged.len(), 2);
    assert_eq!(pages, 2);

    let history = stack
        .get(&format!("/v1/customers/{cid}/history"), &owner)
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let kinds = history.item_strings("type");
    assert_eq!(kinds[0], "note");
    assert!(
        kinds[1..3].contains(&"note".to_string())
            && kinds[1..3].contains(&"task_created".to_string()),
        "{kinds:?}"
    );
    assert_eq!(kinds.last().map(String::as_str), Some("customer_created"));
    let note_item = history
        .items()
        .iter()
        .find(|i| i["detail"]["note_id"] == json!(note_id))
        .unwrap();
    assert_eq!(note_item["actor"], "contributor");
    assert_eq!(note_item["invoice_ids"], json!([inv]));
    assert_eq!(
        note_item["detail"]["body"],
        "Spoke to Jane: will pay INV-1 on Friday"
    );
    assert_eq!(note_item["detail"]["reminder_task_id"], json!(task_id));
    for field in ["id", "occurred_at", "summary"] {
        assert!(note_item[field].is_string(), "{field}");
    }

    let only_notes = stack
        .get(&format!("/v1/customers/{cid}/history?type=note"), &owner)
        .await;
    assert_eq!(only_notes.item_strings("type"), ["note", "note"]);
    let about_invoice = stack
        .get(
            &format!("/v1/customers/{cid}/history?invoice_id={inv}"),
            &owner,
        )
        .await;
    let about: Vec<String> = about_invoice.item_strings("type");
    assert!(
        about.contains(&"note".to_string()) && about.contains(&"task_created".to_string()),
        "{about:?}"
    );
    assert!(about_invoice
        .items()
        .iter()
        .all(|i| i["invoice_ids"].as_array().unwrap().contains(&json!(inv))));
    let both = stack
        .get(
            &format!("/v1/customers/{cid}/history?invoice_id={inv}&type=note"),
            &owner,
        )
        .await;
    assert_eq!(both.item_strings("type"), ["note"]);

    // The customer record's recent history (the page's timeline) is current.
    let tenant = TenantId::parse(&stack.tenant).unwrap();
    let record = stack
        .table()
        .get(&keys::customer_pk(&tenant, &cid), keys::CUSTOMER_SK)
        .await
        .unwrap()
        .unwrap();
    let recent = customer_store::parse(record)
        .unwrap()
        .customer
        .recent_history;
    assert_eq!(recent[0].kind, HistoryType::Note);
    assert!(recent.iter().any(|i| i.detail["note_id"] == json!(note_id)));
    assert!(recent.iter().any(|i| i.kind == HistoryType::TaskCreated));
}

#[tokio::test]
async fn notes_refuse_invoices_of_other_customers_and_bad_input() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = stack.create_customer(&owner, "N-2").await;
    let other = stack.create_customer(&owner, "N-3").await;
    let theirs = invoice(&stack, &owner, &other, "INV-9").await;
    let path = format!("/v1/customers/{cid}/notes");

    let foreign = stack
        .post(
            &path,
            &owner,
            &json!({"body": "x", "invoice_ids": ["01J00000000000000000000009", theirs]}),
        )
        .await;
    assert_eq!(foreign.status, 422, "{:?}", foreign.body);
    assert!(foreign.body["fields"]["invoice_ids[0]"].is_string());
    assert!(foreign.body["fields"]["invoice_ids[1]"].is_string());
    let invalid = stack
        .post(
            &path,
            &owner,
            &json!({"invoice_ids": ["x"], "reminder_date": "Friday", "pinned": true}),
        )
        .await;
    assert_eq!(invalid.status, 422);
    for field in ["body", "invoice_ids[0]", "reminder_date", "pinned"] {
        assert!(
            invalid.body["fields"][field].is_string(),
            "{field}: {:?}",
            invalid.body
        );
    }
    let too_long = stack
        .post(&path, &owner, &json!({"body": "x".repeat(10_001)}))
        .await;
    assert_eq!(too_long.status, 422);
    let nothing = stack.get(&path, &owner).await;
    assert_eq!(nothing.items().len(), 0, "nothing was written");
    let history = stack
        .get(&format!("/v1/customers/{cid}/history"), &owner)
        .await;
    assert_eq!(history.item_strings("type"), ["customer_created"]);

    let missing = "01J00000000000000000000000";
    for reply in [
        stack
            .post(
                &format!("/v1/customers/{missing}/notes"),
                &owner,
                &json!({"body": "x"}),
            )
            .await,
        stack
            .get(&format!("/v1/customers/{missing}/notes"), &owner)
            .await,
        stack
            .get(&format!("/v1/customers/{missing}/history"), &owner)
            .await,
        stack.get("/v1/customers/not-an-id/history", &owner).await,
    ] {
        assert_eq!(reply.status, 404, "{:?}", reply.body);
    }
    let intruder = stack.token_for("tenant-notes-intruder", "i", "owner");
    assert_eq!(
        stack
            .post(&path, &intruder, &json!({"body": "x"}))
            .await
            .status,
        404
    );
    assert_eq!(stack.get(&path, &intruder).await.status, 404);
    assert_eq!(
        stack
            .get(&format!("/v1/customers/{cid}/history"), &intruder)
            .await
            .status,
        404
    );
    for bad in [
        "type=gossip",
        "invoice_id=a%20b",
        "limit=500",
        "colour=red",
        "cursor=zzz",
    ] {
        let reply = stack
            .get(&format!("/v1/customers/{cid}/history?{bad}"), &owner)
            .await;
        assert_eq!(reply.status, 422, "{bad}");
    }
    // A cursor of one customer's history cannot read another's.
    for n in 0..3 {
        stack
            .post(
                &format!("/v1/customers/{other}/notes"),
                &owner,
                &json!({"body": format!("n{n}")}),
            )
            .await;
    }
    let page = stack
        .get(&format!("/v1/customers/{other}/history?limit=1"), &owner)
        .await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let crossed = stack
        .get(
            &format!("/v1/customers/{cid}/history?cursor={cursor}"),
            &owner,
        )
        .await;
    assert_eq!(crossed.status, 422);
    assert_eq!(stack.delete(&path, &owner).await.status, 405);
}

#[tokio::test]
async fn concurrent_notes_on_one_customer_all_land() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = stack.create_customer(&owner, "N-4").await;
    let path = format!("/v1/customers/{cid}/notes");
    let bodies: Vec<Value> = (0..3)
        .map(|n| json!({"body": format!("note {n}")}))
        .collect();
    let replies =
        futures::future::join_all(bodies.iter().map(|b| stack.post(&path, &owner, b))).await;
    for reply in &replies {
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    let history = stack
        .get(&format!("/v1/customers/{cid}/history?type=note"), &owner)
        .await;
    assert_eq!(history.items().len(), 3);
}

/// Writes `count` history items straight to the table (as chasing and the
/// money routes would), `count / 10` of them payments of `invoice_id`.
async fn seed_history(stack: &TestStack, customer_id: &str, invoice_id: &str, count: usize) {
    let tenant = TenantId::parse(&stack.tenant).unwrap();
    let table = stack.table();
    let start: DateTime<Utc> = "2025-01-01T08:00:00Z".parse().unwrap();
    let mut writes = Vec::new();
    for i in 0..count {
        let at = start + Duration::minutes(i as i64);
        let item = if i % 10 == 0 {
            HistoryItem::new(
                customer_id,
                HistoryType::Payment,
                at,
                "system",
                format!("Payment {i}"),
                json!({"n": i}),
            )
            .with_invoices(vec![invoice_id.to_string()])
        } else {
            HistoryItem::new(
                customer_id,
                HistoryType::ChaseEmail,
                at,
                "system",
                format!("Email {i}"),
                json!({"n": i}),
            )
        };
        writes.push(customer_store::history_put(table, &tenant, &item).unwrap());
        if writes.len() == 100 {
            table.transact(std::mem::take(&mut writes)).await.unwrap();
        }
    }
    table.transact(writes).await.unwrap();
}

#[tokio::test]
async fn a_history_of_more_than_500_items_pages_newest_first_with_filters() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let cid = stack.create_customer(&owner, "H-1").await;
    let invoice_id = "01J0000000000000000000INV1";
    seed_history(&stack, &cid, invoice_id, 520).await;
    for n in 0..3 {
        let reply = stack
            .post(
                &format!("/v1/customers/{cid}/notes"),
                &owner,
                &json!({"body": format!("note {n}")}),
            )
            .await;
        assert_eq!(reply.status, 201);
    }
    let path = format!("/v1/customers/{cid}/history");

    let (all, pages) = stack.all_pages(&owner, &format!("{path}?limit=200")).await;
    assert_eq!(
        all.len(),
        520 + 3 + 1,
        "seeded items, notes and customer_created"
    );
    assert_eq!(pages, 3);
    let ids: Vec<&str> = all.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first, no repeats"
    );
    assert_eq!(all[0]["summary"], "Note: note 2");
    assert_eq!(all[3]["type"], "customer_created");
    assert_eq!(
        all[4]["summary"], "Email 519",
        "seeded items happened before"
    );
    assert_eq!(all.last().unwrap()["summary"], "Payment 0");
    let (default_pages, count) = stack.all_pages(&owner, &path).await;
    assert_eq!(
        (default_pages.len(), count),
        (524, 11),
        "50 a page by default"
    );

    stack.reset_aws_requests();
    let (payments, pages) = stack
        .all_pages(&owner, &format!("{path}?type=payment&limit=20"))
        .await;
    assert_eq!(payments.len(), 52);
    assert_eq!(pages, 3);
    assert!(payments.iter().all(|p| p["type"] == "payment"));
    let queries = stack
        .aws_requests()
        .get("DynamoDB.Query")
        .copied()
        .unwrap_or(0);
    assert!(queries <= 3 * 5, "at most five Queries a page: {queries}");

    let (about, _) = stack
        .all_pages(&owner, &format!("{path}?invoice_id={invoice_id}&limit=25"))
        .await;
    assert_eq!(about.len(), 52);
    assert!(about
        .iter()
        .all(|p| p["invoice_ids"] == json!([invoice_id])));
    let summaries: Vec<&str> = about
        .iter()
        .map(|p| p["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries[0], "Payment 510");
    assert_eq!(summaries[51], "Payment 0");

    // A type that never happened: a bounded number of requests per page.
    stack.reset_aws_requests();
    let none = stack
        .get(&format!("{path}?type=chase_failed"), &owner)
        .await;
    assert_eq!(none.items().len(), 0);
    assert_eq!(none.body["next_cursor"], Value::Null);
    let requests = stack.aws_requests();
    assert!(
        requests.get("DynamoDB.Query").copied().unwrap_or(0) <= 5,
        "{requests:?}"
    );
}
