//! What a due chase costs in AWS requests, and that the scheduler's cost does
//! not grow with customers that are enrolled but not due.

use chrono::{TimeZone, Utc};
use domain::customer::CustomerChanges;
use domain::identity::TenantId;
use domain::money::Currency;
use integration_tests::TestStack;
use serde_json::json;
use std::collections::BTreeMap;
use store::customer as customer_store;

async fn due_customers(
    stack: &TestStack,
    token: &str,
    cadence_id: &str,
    prefix: &str,
    count: usize,
) {
    for i in 0..count {
        let customer = stack.post("/v1/customers", token, &json!({"number": format!("{prefix}-{i}"), "name": format!("Due {prefix} {i}"), "currency": "EUR", "email": format!("due-{prefix}-{i}@cost.example")})).await;
        assert_eq!(customer.status, 201, "{:?}", customer.body);
        let id = customer.body["id"].as_str().unwrap();
        let invoice = stack
            .post("/v1/invoices", token, &json!({"customer_id": id, "number": format!("{prefix}-INV-{i}"), "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "10.00"}))
            .await;
        assert_eq!(invoice.status, 201);
        stack.enrol(token, id, cadence_id).await;
    }
}

/// A stack on 2026-03-01 07:00 whose tenant has a sender; its owner's token.
async fn stack_with_sender() -> (TestStack, String) {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    stack.set_clock("2026-03-01T07:00:00Z").await;
    stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"sender_email": "ar@example.com"}),
        )
        .await;
    (stack, owner)
}

/// `count` customers enrolled by `enrol` but not due until 2027, written
/// straight to the table.
async fn seed_idle_customers(
    stack: &TestStack,
    count: usize,
    enrol: impl Fn(&mut domain::customer::Customer),
) {
    let tenant = TenantId::parse(&stack.tenant).unwrap();
    let table = stack.table();
    let mut writes = Vec::new();
    for i in 0..count {
        let mut customer = CustomerChanges {
            number: Some(format!("IDLE-{i}")),
            name: Some(format!("Idle {i}")),
            currency: Currency::parse("EUR"),
            ..CustomerChanges::default()
        }
        .create(ulid::Ulid::new().to_string(), Utc::now())
        .unwrap();
        enrol(&mut customer);
        customer.next_evaluation_at = Some(Utc.with_ymd_and_hms(2027, 1, 1, 8, 0, 0).unwrap());
        writes.push(customer_store::put(table, &tenant, &customer, None).unwrap());
    }
    for chunk in writes.chunks(25) {
        let batch = chunk.iter().map(|w| table.transact(w.clone()));
        for result in futures::future::join_all(batch).await {
            result.unwrap();
        }
    }
}

fn per_operation(stack: &TestStack) -> BTreeMap<String, u64> {
    stack.aws_requests()
}

#[tokio::test]
async fn a_due_chase_costs_a_few_requests_and_idle_customers_cost_none() {
    let (stack, owner) = stack_with_sender().await;
    let cadence_id = stack.two_day_email_cadence(&owner).await;
    due_customers(&stack, &owner, &cadence_id, "A", 20).await;

    stack.set_clock("2026-03-01T08:00:00Z").await;
    stack.reset_aws_requests();
    let report = stack
        .schedule("2026-03-01T08:00:00Z".parse().unwrap())
        .await;
    assert_eq!(report.enqueued, 20);
    let scheduler_first = per_operation(&stack);
    assert_eq!(
        scheduler_first.get("DynamoDB.TransactWriteItems"),
        None,
        "the worker records each evaluation with its chase: {scheduler_first:?}"
    );
    // The tick's 16 units (2 calls), then one call per unit with due chases.
    assert!(
        scheduler_first.get("SQS.SendMessageBatch") <= Some(&(2 + report.units as u64)),
        "{scheduler_first:?}"
    );
    assert_eq!(
        scheduler_first.get("DynamoDB.Query"),
        Some(&(report.units as u64)),
        "one due-index page a unit: {scheduler_first:?}"
    );

    stack.reset_aws_requests();
    stack.set_clock("2026-03-01T08:00:30Z").await;
    let drained = stack.work_chases().await;
    assert_eq!(drained.succeeded, 20, "{drained:?}");
    let worker = per_operation(&stack);
    println!("scheduler for 20 due chases: {scheduler_first:?}");
    println!("worker for 20 chases: {worker:?}");
    // The worker's own reads and writes: the customer with its contacts,
    // the claim written as the `sending` mark, and the record (settings,
    // the cadence version and the template once a batch).
    assert_eq!(worker.get("DynamoDB.Query"), Some(&20), "{worker:?}");
    assert_eq!(worker.get("DynamoDB.PutItem"), Some(&20), "{worker:?}");
    assert_eq!(worker.get("DynamoDB.UpdateItem"), None, "{worker:?}");
    assert!(
        worker.get("DynamoDB.GetItem").copied().unwrap_or(0) <= 3 * 2,
        "three reads a batch of ten: {worker:?}"
    );
    assert_eq!(
        worker.get("DynamoDB.TransactWriteItems"),
        Some(&20),
        "{worker:?}"
    );
    assert_eq!(worker.get("SESv2.SendEmail"), Some(&20));
    let capacity = stack.capacity_of("chase-worker");
    println!("worker capacity for 20 chases: {capacity:?}");
    assert!(
        capacity.write_units > 0.0 && capacity.write_units / 20.0 <= 20.0,
        "at most 20 write units a chase, table and indexes: {capacity:?}"
    );

    // 1,000 enrolled customers that are not due, and 20 more that are due tomorrow.
    seed_idle_customers(&stack, 1000, |customer| {
        customer.chasing.cadence_id = Some(cadence_id.clone());
        customer.chasing.cadence_version = Some(1);
    })
    .await;
    // The 20 customers of the first run are due again tomorrow (step 2).
    stack.set_clock("2026-03-02T08:00:00Z").await;
    stack.reset_aws_requests();
    let report = stack
        .schedule("2026-03-02T08:00:00Z".parse().unwrap())
        .await;
    assert_eq!(report.enqueued, 20);
    let scheduler_second = per_operation(&stack);
    println!("scheduler for 20 due chases with 1,000 idle customers: {scheduler_second:?}");
    // Settings and the cadence version are read at most once a unit that
    // has due customers (one `BatchGetItem` each); how many units find the
    // settings in the scheduler's short-lived cache depends on their timing.
    let reads_bounded = |counts: &BTreeMap<String, u64>| {
        counts.get("DynamoDB.GetItem").copied().unwrap_or(0)
            <= 2 * counts.get("DynamoDB.BatchGetItem").copied().unwrap_or(0)
    };
    assert!(reads_bounded(&scheduler_first), "{scheduler_first:?}");
    assert!(reads_bounded(&scheduler_second), "{scheduler_second:?}");
    let without_reads = |mut counts: BTreeMap<String, u64>| {
        counts.remove("DynamoDB.GetItem");
        counts
    };
    assert_eq!(
        without_reads(scheduler_second),
        without_reads(scheduler_first),
        "idle customers cost the scheduler nothing"
    );
}

/// Invoice-level chasing: ten customers with three invoices each, all due on
/// one run, cost the worker the same few requests per customer (one message
/// carries the three chases), and the scheduler one unit's reads.
#[tokio::test]
async fn an_invoice_level_run_costs_a_few_requests_per_due_customer() {
    let (stack, owner) = stack_with_sender().await;
    let template = stack.create("/v1/templates", &owner, &json!({"name": "R", "channel": "email", "subject": "Invoices {{invoice_number}}", "body": "Please pay {{invoice_balance}}."})).await;
    let cadence_id = stack
        .create(
            "/v1/cadences",
            &owner,
            &json!({"name": "Per invoice", "level": "invoice", "run_at": "08:00", "steps": [
                {"trigger": "days_from_due", "days": -3, "action": "email", "template_id": template}]}),
        )
        .await;
    let customers = 10;
    for i in 0..customers {
        let customer = stack.post("/v1/customers", &owner, &json!({"number": format!("IL-{i}"), "name": format!("Due {i}"), "currency": "EUR", "email": format!("due-il-{i}@cost.example")})).await;
        assert_eq!(customer.status, 201, "{:?}", customer.body);
        let id = customer.body["id"].as_str().unwrap();
        for n in 0..3 {
            let invoice = stack
                .post("/v1/invoices", &owner, &json!({"customer_id": id, "number": format!("IL-{i}-{n}"), "currency": "EUR", "issue_date": "2026-02-01", "due_date": "2026-03-04", "total": "10.00"}))
                .await;
            assert_eq!(invoice.status, 201);
        }
        stack.enrol(&owner, id, &cadence_id).await;
    }

    stack.set_clock("2026-03-01T08:00:00Z").await;
    stack.reset_aws_requests();
    let report = stack
        .schedule("2026-03-01T08:00:00Z".parse().unwrap())
        .await;
    assert_eq!(report.enqueued, customers, "one message a customer");
    let scheduler = per_operation(&stack);
    println!("scheduler for {customers} due customers, 3 invoices each: {scheduler:?}");
    assert_eq!(scheduler.get("DynamoDB.TransactWriteItems"), None);
    stack.reset_aws_requests();
    stack.set_clock("2026-03-01T08:00:30Z").await;
    let drained = stack.work_chases().await;
    assert_eq!(drained.succeeded, customers, "{drained:?}");
    let worker = per_operation(&stack);
    let capacity = stack.capacity_of("chase-worker");
    println!("worker for {customers} customers, 3 invoice chases each: {worker:?}; {capacity:?}");
    let n = customers as u64;
    // The customer with its contacts; the three claims in one transaction
    // (the lead's as the `sending` mark); the record of the three chases in
    // one transaction.
    assert_eq!(worker.get("DynamoDB.Query"), Some(&n), "{worker:?}");
    assert_eq!(
        worker.get("DynamoDB.TransactWriteItems"),
        Some(&(2 * n)),
        "{worker:?}"
    );
    assert_eq!(worker.get("DynamoDB.UpdateItem"), None, "{worker:?}");
    assert_eq!(worker.get("SESv2.SendEmail"), Some(&n));

    // 1,000 customers enrolled at invoice level but not due: the next
    // day's tick reads one empty due-index page a shard, nothing more.
    seed_idle_customers(&stack, 1000, |customer| {
        customer.chasing.invoice_cadence_id = Some(cadence_id.clone());
        customer.chasing.invoice_cadence_version = Some(1);
    })
    .await;
    stack.set_clock("2026-03-02T08:00:00Z").await;
    stack.reset_aws_requests();
    let report = stack
        .schedule("2026-03-02T08:00:00Z".parse().unwrap())
        .await;
    assert_eq!((report.due_customers, report.enqueued), (0, 0));
    let idle = per_operation(&stack);
    assert_eq!(
        idle,
        BTreeMap::from([
            ("DynamoDB.Query".to_string(), report.units as u64),
            ("SQS.SendMessageBatch".to_string(), 2),
        ]),
        "idle customers cost the scheduler nothing"
    );
}
