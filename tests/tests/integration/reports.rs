//! Reports (docs/api.md "Reports") through the local runner: the table's
//! stream drained into the reports function as Lambda would, aggregates
//! read back through the API, replays, rebuild, and request counts.

use app::usecases::reports as report_usecases;
use chrono::Utc;
use domain::customer::CustomerChanges;
use domain::identity::TenantId;
use domain::money::Currency;
use integration_tests::TestStack;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use store::customer as customer_store;

/// An invoice issued 2025-10-01 (before every due date here).
async fn invoice(
    stack: &TestStack,
    token: &str,
    customer: &str,
    number: &str,
    due: &str,
    total: &str,
) -> String {
    issued(stack, token, customer, number, "2025-10-01", due, total).await
}

async fn issued(
    stack: &TestStack,
    token: &str,
    customer: &str,
    number: &str,
    issue: &str,
    due: &str,
    total: &str,
) -> String {
    stack
        .create(
            "/v1/invoices",
            token,
            &json!({"customer_id": customer, "number": number, "currency": "EUR",
                    "issue_date": issue, "due_date": due, "total": total}),
        )
        .await
}

async fn void(stack: &TestStack, token: &str, id: &str) -> u16 {
    stack
        .call(
            Method::POST,
            &format!("/v1/invoices/{id}/void"),
            Some(token),
            None,
            &[],
        )
        .await
        .status
}

fn eur(body: &Value) -> &Value {
    body["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["currency"] == "EUR")
        .unwrap_or_else(|| panic!("no EUR line in {body}"))
}

fn buckets(body: &Value) -> [String; 6] {
    let line = eur(body);
    ["current", "d1_30", "d31_60", "d61_90", "over_90", "total"]
        .map(|b| line[b].as_str().unwrap().to_string())
}

#[tokio::test]
async fn aging_of_hand_computed_invoices_moves_with_as_of_and_follows_payments_credits_voids_and_disputes(
) {
    let stack = TestStack::start_with_stream().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-15T12:00:00Z").await;
    let customer = stack.create_customer(&owner, "AGE-1").await;
    // 2026-03-15: A 5 days late (d1_30), B 42 (d31_60), C 134 (over_90), D not due.
    let a = invoice(&stack, &owner, &customer, "A", "2026-03-10", "100.00").await;
    let b = invoice(&stack, &owner, &customer, "B", "2026-02-01", "200.00").await;
    let _c = invoice(&stack, &owner, &customer, "C", "2025-11-01", "300.00").await;
    let d = invoice(&stack, &owner, &customer, "D", "2026-04-30", "50.00").await;
    stack.drain_streams().await;

    let march = stack
        .get("/v1/reports/aging?as_of=2026-03-15", &owner)
        .await;
    assert_eq!(march.status, 200, "{:?}", march.body);
    assert_eq!(
        buckets(&march.body),
        ["50.00", "100.00", "200.00", "0.00", "300.00", "650.00"]
    );
    // 2026-05-20, no write in between: A 71 days, B 108, C 200, D 20.
    let may = stack
        .get("/v1/reports/aging?as_of=2026-05-20", &owner)
        .await;
    assert_eq!(
        buckets(&may.body),
        ["0.00", "50.00", "0.00", "100.00", "500.00", "650.00"]
    );

    // 40 paid on A; B disputed (still owed, marked); D voided.
    let paid = stack
        .post(
            "/v1/payments",
            &owner,
            &json!({"customer_id": customer, "amount": "40.00", "currency": "EUR", "date": "2026-03-15",
                    "applications": [{"invoice_id": a, "amount": "40.00"}]}),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    let disputed = stack
        .patch(
            &format!("/v1/invoices/{b}"),
            &owner,
            1,
            &json!({"collection_status": "disputed"}),
        )
        .await;
    assert_eq!(disputed.status, 200, "{:?}", disputed.body);
    assert_eq!(void(&stack, &owner, &d).await, 200);
    stack.drain_streams().await;
    let after = stack
        .get("/v1/reports/aging?as_of=2026-03-15", &owner)
        .await;
    assert_eq!(
        buckets(&after.body),
        ["0.00", "60.00", "200.00", "0.00", "300.00", "560.00"]
    );
    assert_eq!(eur(&after.body)["disputed"], "200.00");
    assert_eq!(eur(&after.body)["credit"], "0.00");

    // A payment beyond what is open: every invoice paid (auto-settle,
    // oldest due first), the rest is unapplied credit beside the buckets.
    let overpaid = stack
        .post(
            "/v1/payments",
            &owner,
            &json!({"customer_id": customer, "amount": "600.00", "currency": "EUR", "date": "2026-03-15"}),
        )
        .await;
    assert_eq!(overpaid.status, 201, "{:?}", overpaid.body);
    stack.drain_streams().await;
    let settled = stack
        .get("/v1/reports/aging?as_of=2026-03-15", &owner)
        .await;
    let line = eur(&settled.body);
    let amount = |field: &str| line[field].as_str().unwrap().parse::<Decimal>().unwrap();
    // Whatever auto-settlement applied left the buckets; the rest is credit.
    let applied = Decimal::new(560, 0) - amount("total");
    assert!(applied > Decimal::ZERO, "{}", settled.body);
    assert_eq!(
        amount("credit"),
        Decimal::new(600, 0) - applied,
        "{}",
        settled.body
    );

    // By customer, and the filters.
    let by_customer = stack
        .get(
            "/v1/reports/aging?by=customer&as_of=2026-03-15&limit=10",
            &owner,
        )
        .await;
    assert_eq!(by_customer.status, 200, "{:?}", by_customer.body);
    assert_eq!(
        by_customer.body["items"][0]["customer_id"],
        customer.as_str()
    );
    let other = stack.get("/v1/reports/aging?currency=USD", &owner).await;
    assert_eq!(other.body["currencies"], json!([]));
    let bad = stack.get("/v1/reports/aging?by=invoice", &owner).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body["fields"]["by"].is_string());
}

#[tokio::test]
async fn the_summary_reports_outstanding_overdue_dso_and_counts() {
    let stack = TestStack::start_with_stream().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-15T12:00:00Z").await;
    let customer = stack.create_customer(&owner, "SUM-1").await;
    stack.create_customer(&owner, "SUM-2").await;
    // 900 invoiced in the 90 days to 03-15, 300 of it open: DSO 30.
    let x = issued(
        &stack,
        &owner,
        &customer,
        "X",
        "2026-01-15",
        "2026-03-01",
        "600.00",
    )
    .await;
    issued(
        &stack,
        &owner,
        &customer,
        "Y",
        "2026-01-15",
        "2026-04-01",
        "300.00",
    )
    .await;
    let paid = stack
        .post(
            "/v1/payments",
            &owner,
            &json!({"customer_id": customer, "amount": "600.00", "currency": "EUR", "date": "2026-03-10",
                    "applications": [{"invoice_id": x, "amount": "600.00"}]}),
        )
        .await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    stack.drain_streams().await;
    let summary = stack
        .get("/v1/reports/summary?as_of=2026-03-15", &owner)
        .await;
    assert_eq!(summary.status, 200, "{:?}", summary.body);
    let line = eur(&summary.body);
    assert_eq!(line["outstanding"], "300.00");
    assert_eq!(line["overdue"], "0.00");
    assert_eq!(line["dso"], "30.0");
    assert_eq!(summary.body["customers_by_chasing_status"]["active"], 2);
    assert_eq!(summary.body["tasks"], json!({"due_today": 0, "overdue": 0}));
}

/// Every aggregate of the tenant as the store holds it.
async fn aggregates(stack: &TestStack) -> domain::reports::Tally {
    let tenant = TenantId::parse(&stack.tenant).unwrap();
    stack
        .stack
        .functions
        .api
        .context
        .store
        .report_aggregates(&tenant, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn replaying_the_stream_changes_nothing_and_rebuild_equals_incremental_after_random_operations(
) {
    let stack = TestStack::start_with_stream().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-15T12:00:00Z").await;
    let group = stack
        .create("/v1/customer-groups", &owner, &json!({"name": "Wholesale"}))
        .await;
    let customers = [
        stack.create_customer(&owner, "R-1").await,
        stack.create_customer(&owner, "R-2").await,
        stack.create_customer(&owner, "R-3").await,
    ];
    // A fixed-seed sequence of random operations (reproducible).
    let mut seed: u64 = 0x5eed_2026;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut open: Vec<(String, usize, bool)> = Vec::new(); // (invoice, customer, paid on)
    for step in 0..30 {
        let who = next(3) as usize;
        let customer = &customers[who];
        match next(5) {
            0 | 1 => {
                let due = format!("2026-0{}-{:02}", 1 + next(4), 1 + next(28));
                let total = format!("{}.{:02}", 10 + next(900), next(100));
                let id =
                    invoice(&stack, &owner, customer, &format!("N-{step}"), &due, &total).await;
                open.push((id, who, false));
            }
            2 => {
                if let Some((id, _, paid)) =
                    open.iter_mut().find(|(_, c, paid)| *c == who && !*paid)
                {
                    let reply = stack
                        .post(
                            "/v1/payments",
                            &owner,
                            &json!({"customer_id": customer, "amount": "5.00", "currency": "EUR",
                                    "date": "2026-03-14", "applications": [{"invoice_id": id, "amount": "5.00"}]}),
                        )
                        .await;
                    assert_eq!(reply.status, 201, "{:?}", reply.body);
                    *paid = true;
                }
            }
            3 => {
                if let Some(index) = open.iter().position(|(_, c, paid)| *c == who && !paid) {
                    let (id, ..) = open.remove(index);
                    assert_eq!(void(&stack, &owner, &id).await, 200);
                }
            }
            _ => {
                let current = stack
                    .get(&format!("/v1/customers/{customer}"), &owner)
                    .await;
                let version = current.body["version"].as_u64().unwrap();
                let group_id = if current.body["group_id"].is_null() {
                    json!(group)
                } else {
                    Value::Null
                };
                let reply = stack
                    .patch(
                        &format!("/v1/customers/{customer}"),
                        &owner,
                        version,
                        &json!({"group_id": group_id}),
                    )
                    .await;
                assert_eq!(reply.status, 200, "{:?}", reply.body);
            }
        }
    }
    let first = stack.drain_streams().await;
    assert!(first.records > 0);
    assert!(first.set_aside.is_empty(), "{first:?}");
    let incremental = aggregates(&stack).await;
    assert!(!incremental.is_empty());

    // The whole stream handed to the function again: every record is
    // recognised as applied, nothing moves.
    stack.stack.streams.rewind().await;
    stack.reset_aws_requests();
    let replay = stack.drain_streams().await;
    assert_eq!(replay.records, first.records);
    assert_eq!(aggregates(&stack).await, incremental);

    // The same batch twice through the handler itself.
    let tenant = TenantId::parse(&stack.tenant).unwrap();
    let item = stack
        .table()
        .get(
            &store::keys::customer_pk(&tenant, &customers[0]),
            store::keys::CUSTOMER_SK,
        )
        .await
        .unwrap()
        .unwrap();
    let batch = || {
        vec![store::reports::stream_record(
            "test-0001".into(),
            Default::default(),
            item.clone(),
        )]
    };
    let reports = &stack.stack.functions.reports.job;
    let once = reports.handle(batch()).await;
    assert_eq!(once.applied, 1);
    let moved = aggregates(&stack).await;
    let twice = reports.handle(batch()).await;
    assert_eq!((twice.applied, twice.replayed), (0, 1));
    assert_eq!(aggregates(&stack).await, moved);
    // Undo the synthetic record so the aggregates match the items again.
    let undo = reports
        .handle(vec![store::reports::stream_record(
            "test-0002".into(),
            item.clone(),
            Default::default(),
        )])
        .await;
    assert_eq!(undo.applied, 1);
    assert_eq!(aggregates(&stack).await, incremental);

    // Rebuilt from the items, the aggregates are the incremental ones.
    let rebuilt = report_usecases::rebuild(&stack.stack.functions.api.context, &tenant)
        .await
        .unwrap();
    assert_eq!(rebuilt, incremental);
    assert_eq!(aggregates(&stack).await, incremental);
}

/// `count` customers written straight to the table (no API, no stream lag
/// of the test's own making), each owing one invoice.
async fn seed_customers(stack: &TestStack, from: usize, count: usize) {
    let tenant = TenantId::parse(&stack.tenant).unwrap();
    let table = stack.table();
    let fixtures = testkit::fixtures::Fixtures::new().unwrap();
    let mut writes = Vec::new();
    for i in from..from + count {
        let mut customer = CustomerChanges {
            number: Some(format!("BULK-{i}")),
            name: Some(format!("Bulk {i}")),
            currency: Currency::parse("EUR"),
            ..CustomerChanges::default()
        }
        .create(ulid::Ulid::new().to_string(), Utc::now())
        .unwrap();
        let due = chrono::NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        let id = ulid::Ulid::new().to_string();
        customer
            .open_invoices
            .push(fixtures.invoice(&customer.id, &id, due, 100).invoice);
        writes.push(customer_store::put(table, &tenant, &customer, None).unwrap());
    }
    for chunk in writes.chunks(25) {
        let batch = chunk.iter().map(|w| table.transact(w.clone()));
        for result in futures::future::join_all(batch).await {
            result.unwrap();
        }
    }
}

const REPORTS: [&str; 3] = [
    "/v1/reports/aging?as_of=2026-03-15",
    "/v1/reports/aging?by=customer&limit=20&as_of=2026-03-15",
    "/v1/reports/summary?as_of=2026-03-15",
];

async fn report_requests(stack: &TestStack, token: &str) -> Vec<BTreeMap<String, u64>> {
    let mut counts = Vec::new();
    for path in REPORTS {
        // Settings are cached per process: warm them so both runs read alike.
        stack.get(path, token).await;
        stack.reset_aws_requests();
        let reply = stack.get(path, token).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        counts.push(stack.aws_requests());
    }
    counts
}

#[tokio::test]
async fn report_requests_do_not_grow_with_customers_and_each_change_costs_one_transaction() {
    let stack = TestStack::start_with_stream().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-15T12:00:00Z").await;
    seed_customers(&stack, 0, 10).await;
    stack.drain_streams().await;
    let ten = report_requests(&stack, &owner).await;
    let total = stack.get(REPORTS[0], &owner).await;
    assert_eq!(eur(&total.body)["total"], "1000.00");

    seed_customers(&stack, 10, 990).await;
    stack.reset_aws_requests();
    let drained = stack.drain_streams().await;
    let consumer = stack.stack.functions.reports.requests.snapshot();
    let thousand = report_requests(&stack, &owner).await;
    let total = stack.get(REPORTS[0], &owner).await;
    assert_eq!(eur(&total.body)["total"], "100000.00");
    for ((path, ten), thousand) in REPORTS.iter().zip(&ten).zip(&thousand) {
        println!("{path}: 10 customers {ten:?}, 1,000 customers {thousand:?}");
        assert_eq!(ten, thousand, "{path}");
    }
    // 990 customer records (a customer write also writes listing entries,
    // which the stream carries and the consumer skips without a request).
    println!(
        "stream consumer for {} records (990 customer changes): {consumer:?}",
        drained.records
    );
    assert_eq!(consumer.get("DynamoDB.TransactWriteItems"), Some(&990));
    assert_eq!(consumer.values().sum::<u64>(), 990);
}

#[tokio::test]
async fn the_forecast_counts_every_enrolled_customers_preview_per_day_and_action() {
    let stack = TestStack::start_with_stream().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let cadence_id = stack.two_day_email_cadence(&owner).await;
    let mut customers = Vec::new();
    for i in 0..3 {
        let id = stack.create_customer(&owner, &format!("F-{i}")).await;
        issued(
            &stack,
            &owner,
            &id,
            &format!("F-INV-{i}"),
            "2026-03-01",
            "2026-03-31",
            "10.00",
        )
        .await;
        stack.enrol(&owner, &id, &cadence_id).await;
        customers.push(id);
    }
    // One customer not enrolled: not in the forecast.
    stack.create_customer(&owner, "F-OUT").await;

    let forecast = stack.get("/v1/reports/forecast?days=5", &owner).await;
    assert_eq!(forecast.status, 200, "{:?}", forecast.body);
    assert_eq!(forecast.body["customers"], 3);
    // The same steps the customers' own previews list, counted per date.
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for id in &customers {
        let preview = stack
            .get(
                &format!("/v1/customers/{id}/chasing/preview?days=5"),
                &owner,
            )
            .await;
        for item in preview.body["items"].as_array().unwrap() {
            *expected
                .entry(item["date"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let counted: BTreeMap<String, u64> = forecast.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|day| {
            (
                day["date"].as_str().unwrap().to_string(),
                day["email"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(counted, expected);
    assert_eq!(counted.get("2026-03-01"), Some(&3), "{}", forecast.body);
    let bad = stack.get("/v1/reports/forecast?days=0", &owner).await;
    assert_eq!(bad.status, 422);
}
