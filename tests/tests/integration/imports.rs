//! CSV imports of customers, invoices and enrolments: all rows valid or
//! nothing written, every bad row reported with its line number.

use integration_tests::TestStack;
use serde_json::{json, Value};

struct Imported {
    status: u16,
    body: Value,
    replayed: bool,
}

async fn import(
    stack: &TestStack,
    token: &str,
    kind: &str,
    csv: &str,
    key: Option<&str>,
) -> Imported {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/imports/{kind}", stack.url))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let text = response.text().await.unwrap();
    Imported {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        replayed,
    }
}

/// Every customer of the tenant, through the list's pages.
async fn all_customers(stack: &TestStack, token: &str) -> Vec<Value> {
    stack
        .all_pages(token, "/v1/customers?limit=200&sort=created_at")
        .await
        .0
}

fn lines(body: &Value) -> Vec<u64> {
    body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn customers_are_imported_all_or_nothing() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let csv =
        "number,name,currency,email,tags,billing_line1,billing_country,metadata.erp_id,autopay\n\
               C-1,Acme Ltd,GBP,ap@acme.test,vip;uk,1 High St,GB,A1,no\n\
               C-2,\"Bolt, Nuts & Co\",GBP,,,,,,\n\
               C-3,Crane,EUR,,,,,B7,true\n";
    let created = import(&stack, &owner, "customers", csv, None).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["created"], 3);
    let customers = all_customers(&stack, &owner).await;
    assert_eq!(customers.len(), 3);
    let acme = customers.iter().find(|c| c["number"] == "C-1").unwrap();
    assert_eq!(acme["tags"], json!(["vip", "uk"]));
    assert_eq!(acme["billing_address"]["line1"], "1 High St");
    assert_eq!(acme["metadata"], json!({"erp_id": "A1"}));
    assert_eq!(acme["autopay"], false);
    assert!(customers.iter().any(|c| c["name"] == "Bolt, Nuts & Co"));

    // Sent again, every row is a duplicate: nothing is written twice.
    let again = import(&stack, &owner, "customers", csv, None).await;
    assert_eq!(again.status, 422, "{:?}", again.body);
    assert_eq!(lines(&again.body), [2, 3, 4]);
    assert!(again.body["rows"][0]["errors"]["number"].is_string());

    let bad = "number,name,currency,email\n\
               D-1,Fine,EUR,\n\
               D-2,Bad currency,XXX,\n\
               D-1,Duplicate,EUR,\n\
               \n\
               D-3,,EUR,not-an-email\n\
               D-4,Short\n";
    let refused = import(&stack, &owner, "customers", bad, None).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "validation_failed");
    assert_eq!(lines(&refused.body), [3, 4, 6, 7]);
    let rows = refused.body["rows"].as_array().unwrap();
    assert!(rows[0]["errors"]["currency"].is_string());
    assert!(rows[1]["errors"]["number"]
        .as_str()
        .unwrap()
        .contains("line 2"));
    assert!(rows[2]["errors"]["name"].is_string());
    assert!(rows[2]["errors"]["email"].is_string());
    assert!(rows[3]["errors"]["row"].is_string());
    assert_eq!(
        all_customers(&stack, &owner).await.len(),
        3,
        "nothing of a bad file is written"
    );

    let header = import(
        &stack,
        &owner,
        "customers",
        "number,name,currency,colour\nE-1,E,EUR,red\n",
        None,
    )
    .await;
    assert_eq!(header.status, 422);
    assert_eq!(lines(&header.body), [1]);
}

#[tokio::test]
async fn a_large_import_spans_transactions_and_counts_once_per_item() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let gid = stack
        .create("/v1/customer-groups", &owner, &json!({"name": "Wholesale"}))
        .await;
    let cadence_id = stack.create(
            "/v1/cadences",
            &owner,
            &json!({"name": "Auto", "run_at": "09:00", "steps": [{"trigger": "past_due_age", "days": 1, "action": "phone_call"}],
                    "assignment": {"mode": "always", "rules": [{"field": "group_id", "op": "==", "value": gid}]}}),
        ).await;
    let mut csv = String::from("number,name,currency,group_id\n");
    for i in 0..150 {
        csv.push_str(&format!("L-{i:03},Customer {i},EUR,{gid}\n"));
    }
    stack.reset_aws_requests();
    let created = import(&stack, &owner, "customers", &csv, Some("bulk-1")).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["created"], 150);
    // About a dozen writes a customer: several transactions, each nearly full.
    let transactions = stack.aws_requests()["DynamoDB.TransactWriteItems"];
    assert!(
        (15..=25).contains(&transactions),
        "{transactions} transactions"
    );
    assert_eq!(all_customers(&stack, &owner).await.len(), 150);
    let group = stack
        .get(&format!("/v1/customer-groups/{gid}"), &owner)
        .await;
    assert_eq!(group.body["member_count"], 150, "{:?}", group.body);
    let cadence = stack
        .get(&format!("/v1/cadences/{cadence_id}"), &owner)
        .await;
    assert_eq!(
        cadence.body["enrolled_count"], 150,
        "assignment rules run on imported customers"
    );

    let replay = import(&stack, &owner, "customers", &csv, Some("bulk-1")).await;
    assert_eq!(replay.status, 201);
    assert!(replay.replayed);
    assert_eq!(replay.body, created.body);
}

#[tokio::test]
async fn invoices_are_imported_for_customers_by_number_or_id() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let customers = import(
        &stack,
        &owner,
        "customers",
        "number,name,currency\nK-1,Kilo,EUR\nK-2,Lima,EUR\n",
        None,
    )
    .await;
    assert_eq!(customers.status, 201, "{:?}", customers.body);
    let k2 = all_customers(&stack, &owner)
        .await
        .into_iter()
        .find(|c| c["number"] == "K-2")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut csv = String::from(
        "customer_number,customer_id,number,currency,issue_date,due_date,total,collection_status\n",
    );
    for i in 0..25 {
        csv.push_str(&format!("K-1,,I-{i:02},EUR,2026-05-01,2026-05-31,10.00,\n"));
    }
    csv.push_str(&format!(
        ",{k2},J-1,EUR,2026-06-01,2026-07-01,99.95,disputed\n"
    ));
    let created = import(&stack, &owner, "invoices", &csv, None).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["created"], 26);
    assert_eq!(created.body["customers"], 2);
    let kilo = all_customers(&stack, &owner)
        .await
        .into_iter()
        .find(|c| c["number"] == "K-1")
        .unwrap();
    let kilo = stack
        .get(
            &format!("/v1/customers/{}", kilo["id"].as_str().unwrap()),
            &owner,
        )
        .await;
    assert_eq!(kilo.body["balance"]["outstanding"], "250.00");
    assert_eq!(kilo.body["balance"]["overdue"], "250.00");
    let lima = stack.get(&format!("/v1/customers/{k2}"), &owner).await;
    assert_eq!(lima.body["balance"]["outstanding"], "99.95");
    assert_eq!(lima.body["balance"]["chased"], "0.00", "disputed");
    let listed = stack
        .get(&format!("/v1/invoices?customer_id={k2}"), &owner)
        .await;
    assert_eq!(listed.body["items"][0]["number"], "J-1");

    let bad = "customer_number,number,currency,issue_date,due_date,total\n\
               K-1,N-1,EUR,2026-05-01,2026-05-31,10.00\n\
               Z-9,N-2,EUR,2026-05-01,2026-05-31,10.00\n\
               K-1,N-3,USD,2026-05-01,2026-05-31,10.00\n\
               K-1,N-1,EUR,2026-05-01,2026-05-31,10.00\n\
               K-1,I-00,EUR,2026-05-01,2026-05-31,10.00\n\
               K-1,N-4,EUR,01/05/2026,2026-04-01,ten\n";
    let refused = import(&stack, &owner, "invoices", bad, None).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(lines(&refused.body), [3, 4, 5, 6, 7]);
    let rows = refused.body["rows"].as_array().unwrap();
    assert!(rows[0]["errors"]["customer_number"].is_string());
    assert!(rows[1]["errors"]["currency"].is_string());
    assert!(rows[2]["errors"]["number"]
        .as_str()
        .unwrap()
        .contains("line 2"));
    assert!(
        rows[3]["errors"]["number"].is_string(),
        "already in the tenant"
    );
    assert!(rows[4]["errors"]["issue_date"].is_string());
    assert!(rows[4]["errors"]["total"].is_string());
    let kilo_after = stack
        .get(
            &format!("/v1/customers/{}", kilo.body["id"].as_str().unwrap()),
            &owner,
        )
        .await;
    assert_eq!(
        kilo_after.body["balance"]["outstanding"], "250.00",
        "nothing written"
    );
}

#[tokio::test]
async fn enrolments_are_imported_by_cadence_name_or_id() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-06-15T12:00:00Z").await;
    let cadence = stack
        .post(
            "/v1/cadences",
            &owner,
            &json!({"name": "Calls", "run_at": "09:00", "steps": [{"trigger": "past_due_age", "days": 1, "action": "phone_call"}]}),
        )
        .await;
    let cadence_id = cadence.id();
    let customers = import(
        &stack,
        &owner,
        "customers",
        "number,name,currency\nQ-1,Q1,EUR\nQ-2,Q2,EUR\nQ-3,Q3,EUR\n",
        None,
    )
    .await;
    assert_eq!(customers.status, 201);

    let csv = format!("customer_number,cadence_name,cadence_id\nQ-1,calls,\nQ-2,,{cadence_id}\n");
    let enrolled = import(&stack, &owner, "enrolments", &csv, None).await;
    assert_eq!(enrolled.status, 201, "{:?}", enrolled.body);
    assert_eq!(enrolled.body["enrolled"], 2);
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{cadence_id}"), &owner)
            .await
            .body["enrolled_count"],
        2
    );
    let again = import(&stack, &owner, "enrolments", &csv, None).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["enrolled"], 0);
    assert_eq!(again.body["unchanged"], 2);
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{cadence_id}"), &owner)
            .await
            .body["enrolled_count"],
        2
    );

    let bad = "customer_number,cadence_name\nQ-3,Nope\nQ-9,Calls\nQ-3,Calls\n";
    let refused = import(&stack, &owner, "enrolments", bad, None).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(lines(&refused.body), [2, 3, 4]);
    assert_eq!(
        stack
            .get(&format!("/v1/cadences/{cadence_id}"), &owner)
            .await
            .body["enrolled_count"],
        2
    );
}

#[tokio::test]
async fn imports_refuse_what_they_cannot_read() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let mut csv = String::from("number,name,currency\n");
    for i in 0..1001 {
        csv.push_str(&format!("T-{i},T,EUR\n"));
    }
    let too_many = import(&stack, &owner, "customers", &csv, None).await;
    assert_eq!(too_many.status, 422);
    assert!(too_many.body["fields"]["rows"].is_string());
    let json_body = stack
        .post("/v1/imports/customers", &owner, &json!({"number": "x"}))
        .await;
    assert_eq!(json_body.status, 400);
    let empty = import(&stack, &owner, "customers", "", None).await;
    assert_eq!(empty.status, 400);
    let header_only = import(&stack, &owner, "customers", "number,name,currency\n", None).await;
    assert_eq!(header_only.status, 400);
    let unknown_kind = import(&stack, &owner, "payments", "a\n1\n", None).await;
    assert_eq!(unknown_kind.status, 404);
    let contributor = import(
        &stack,
        &stack.token("contributor"),
        "customers",
        "number,name,currency\nX,X,EUR\n",
        None,
    )
    .await;
    assert_eq!(contributor.status, 403);
    let wrong_method = stack.get("/v1/imports/customers", &owner).await;
    assert_eq!(wrong_method.status, 405);
}

#[tokio::test]
async fn bad_rows_count_toward_the_limit_and_only_the_first_problems_are_listed() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    // Short rows used to escape the row limit.
    let mut short = String::from("number,name,currency\n");
    for _ in 0..1001 {
        short.push_str("X\n");
    }
    let refused = import(&stack, &owner, "customers", &short, None).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body["fields"]["rows"].is_string(),
        "{:?}",
        refused.body
    );

    let mut bad = String::from("number,name,currency\n");
    for i in 0..900 {
        bad.push_str(&format!("B-{i},Bad currency,XXX\n"));
    }
    bad.push_str("NUL,Null\u{0}byte,EUR\n");
    let refused = import(&stack, &owner, "customers", &bad, None).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.body["invalid_rows"], 901);
    assert_eq!(refused.body["problems"], 901);
    let listed = lines(&refused.body);
    assert_eq!(listed.len(), 100);
    assert_eq!(listed.first(), Some(&2));
    assert_eq!(listed.last(), Some(&101));
    assert!(refused.body.to_string().len() < 20_000);
    assert!(refused.body.get("fields").is_none());
    assert!(all_customers(&stack, &owner).await.is_empty());
}
