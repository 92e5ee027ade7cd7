//! One tick with N customers due at the same instant, on the local stack
//! (DynamoDB Local and moto, which `infra/bench-tick` starts): for each N,
//! once the scheduler alone with its evaluation units one at a time (its
//! time, requests and the peak heap of one unit), and once the whole tick
//! with the template's `MaximumConcurrency` (wall time, requests per chase
//! by operation).
//!
//! `tick-bench 500 2000 8000`

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use integration_tests::TestStack;
use local_stack::tick::Concurrency;
use local_stack::StackOptions;
use peak_alloc::PeakAlloc;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;

/// The system allocator, counting live bytes and their peak: the memory an
/// evaluation unit needs is the peak while one runs alone.
#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// Starts a new peak at the current heap; the heap then.
fn reset_peak() -> usize {
    ALLOCATOR.reset_peak_usage();
    ALLOCATOR.current_usage()
}

fn peak_since(start: usize) -> usize {
    ALLOCATOR.peak_usage().saturating_sub(start)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

const DUE_AT: &str = "2026-03-01T08:00:00Z";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|n| n.parse().context("sizes are numbers of customers"))
        .collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        bail!("usage: tick-bench N [N ...]   (e.g. 500 2000 8000)");
    }
    for &due in &sizes {
        for sequential in [true, false] {
            run(due, sequential).await?;
        }
    }
    Ok(())
}

async fn run(due: usize, sequential: bool) -> anyhow::Result<()> {
    let options = StackOptions {
        concurrency: sequential.then_some(Concurrency {
            chase_worker: 1,
            evaluation: 1,
        }),
        ..StackOptions::default()
    };
    let stack = TestStack::start_with(options).await;
    let concurrency = stack.stack.concurrency;
    seed(&stack, due).await?;
    let at: DateTime<Utc> = DUE_AT.parse()?;
    stack.set_clock(DUE_AT).await;
    let functions = &stack.stack.functions;

    // The scheduler's tick invocation alone.
    stack.reset_aws_requests();
    let started = Instant::now();
    let before = reset_peak();
    let fan_out = functions.scheduler.job.tick(at).await?;
    let fan_out_time = started.elapsed();
    let fan_out_peak = peak_since(before);
    let fan_out_requests = functions.scheduler.requests.snapshot();

    stack.reset_aws_requests();
    let before = reset_peak();
    let started = Instant::now();
    let report = if sequential {
        // The units one at a time, nothing sent: the peak is one unit's.
        let scheduler = local_stack::tick::evaluate_units(&stack.stack).await?;
        let elapsed = started.elapsed();
        let per_customer = per(functions.scheduler.requests.snapshot(), due);
        json!({
            "mode": "evaluation units one at a time (chases left on the queue)",
            "due_customers": due,
            "fan_out": fan_out_json(&fan_out, fan_out_time, fan_out_requests, fan_out_peak),
            "units_seconds": elapsed.as_secs_f64(),
            "scheduler": scheduler,
            "peak_heap_of_one_unit_mib": mib(peak_since(before)),
            "scheduler_requests_per_due_customer": per_customer,
            "scheduler_capacity_units_per_due_customer":
                capacity_per(functions.scheduler.requests.capacity(), due),
        })
    } else {
        // The units and the chases, as the event source mappings run them.
        let tick = local_stack::tick::drain_after_fan_out(&stack.stack, at).await?;
        let elapsed = started.elapsed() + fan_out_time;
        let sent = tick.succeeded;
        json!({
            "mode": "whole tick with the template's concurrency",
            "concurrency": concurrency,
            "due_customers": due,
            "fan_out": fan_out_json(&fan_out, fan_out_time, fan_out_requests, fan_out_peak),
            "tick_seconds": elapsed.as_secs_f64(),
            "evaluation_units": tick.evaluation.records,
            "scheduler": tick.scheduler,
            "chases_sent": sent,
            "chases_failed": tick.failed,
            "peak_heap_during_tick_mib": mib(peak_since(before)),
            "requests_per_chase": {
                "scheduler": per(functions.scheduler.requests.snapshot(), sent),
                "chase_worker": per(functions.chase_worker.requests.snapshot(), sent),
            },
            "capacity_units_per_chase": {
                "scheduler": capacity_per(functions.scheduler.requests.capacity(), sent),
                "chase_worker": capacity_per(functions.chase_worker.requests.capacity(), sent),
            },
        })
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn per(counts: BTreeMap<String, u64>, of: usize) -> BTreeMap<String, f64> {
    counts
        .into_iter()
        .map(|(operation, count)| (operation, count as f64 / of.max(1) as f64))
        .collect()
}

fn capacity_per(capacity: local_stack::requests::Capacity, of: usize) -> serde_json::Value {
    let of = of.max(1) as f64;
    json!({
        "read_units": capacity.read_units / of,
        "write_units": capacity.write_units / of,
    })
}

fn fan_out_json(
    fan_out: &app::jobs::scheduler::FanOut,
    time: std::time::Duration,
    requests: BTreeMap<String, u64>,
    peak: usize,
) -> serde_json::Value {
    json!({
        "units": fan_out.units,
        "seconds": time.as_secs_f64(),
        "requests": requests,
        "peak_heap_mib": mib(peak),
    })
}

/// `due` customers with one open invoice each, enrolled in a cadence whose
/// first email is due at [`DUE_AT`]: one made through the API, the others
/// copies of its record written straight to the table (fast to seed).
async fn seed(stack: &TestStack, due: usize) -> anyhow::Result<()> {
    stack.set_clock("2026-03-01T07:00:00Z").await;
    let owner = stack.token("owner");
    stack
        .patch(
            "/v1/settings",
            &owner,
            0,
            &json!({"sender_email": "ar@bench.example"}),
        )
        .await;
    let cadence = stack.two_day_email_cadence(&owner).await;
    let first = stack
        .create(
            "/v1/customers",
            &owner,
            &json!({"number": "B-0", "name": "Bench 0", "currency": "EUR", "email": "b-0@bench.example"}),
        )
        .await;
    stack
        .create(
            "/v1/invoices",
            &owner,
            &json!({"customer_id": first, "number": "B-INV-0", "currency": "EUR", "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "10.00"}),
        )
        .await;
    stack.enrol(&owner, &first, &cadence).await;
    let tenant = domain::identity::TenantId::parse(&stack.tenant).context("tenant")?;
    let table = stack.table();
    let template = store::customer::get(table, &tenant, &first)
        .await?
        .context("the first customer")?
        .customer;
    let copies: Vec<_> = (1..due)
        .map(|i| {
            let mut copy = template.clone();
            copy.id = ulid::Ulid::new().to_string();
            copy.number = format!("B-{i}");
            copy.name = format!("Bench {i}");
            copy.email = Some(format!("b-{i}@bench.example"));
            copy.portal_nonce = None;
            copy
        })
        .collect();
    let tenant = &tenant;
    for chunk in copies.chunks(25) {
        let writes = chunk.iter().map(|customer| async move {
            let items = store::customer::put(table, tenant, customer, None)?;
            table.transact(items).await
        });
        for outcome in futures::future::join_all(writes).await {
            outcome?;
        }
    }
    Ok(())
}
