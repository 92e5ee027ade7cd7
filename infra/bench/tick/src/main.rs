//! One tick with N customers due at the same instant, on the local stack
//! (DynamoDB Local and moto, which `infra/bench-tick` starts): for each N,
//! once with one invocation of each function at a time and once with the
//! template's `MaximumConcurrency`. Prints the scheduler's fan-out, its
//! evaluation units, the chase worker, the requests per chase by operation
//! and the peak heap of one evaluation unit.
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

    // Then the units and the chases, as the event source mappings run them.
    stack.reset_aws_requests();
    let before = reset_peak();
    let started = Instant::now();
    let tick = local_stack::tick::drain_after_fan_out(&stack.stack, at).await?;
    let tick_time = started.elapsed();
    let peak = peak_since(before);
    let sent = tick.succeeded;
    let per_chase = |counts: BTreeMap<String, u64>| -> BTreeMap<String, f64> {
        counts
            .into_iter()
            .map(|(operation, count)| (operation, count as f64 / sent.max(1) as f64))
            .collect()
    };
    let report = json!({
        "due_customers": due,
        "concurrency": if sequential { json!("one invocation at a time") } else { json!(concurrency) },
        "fan_out": {
            "units": fan_out.units,
            "seconds": fan_out_time.as_secs_f64(),
            "requests": fan_out_requests,
            "peak_heap_mib": mib(fan_out_peak),
        },
        "tick_seconds_after_fan_out": tick_time.as_secs_f64(),
        "evaluation_units": tick.evaluation.records,
        "scheduler": tick.scheduler,
        "chases_sent": sent,
        "chases_failed": tick.failed,
        // With one unit at a time this is one unit's heap (plus the
        // runner's own bookkeeping); concurrent units add up.
        "peak_heap_during_tick_mib": mib(peak),
        "requests_per_chase": {
            "scheduler": per_chase(functions.scheduler.requests.snapshot()),
            "chase_worker": per_chase(functions.chase_worker.requests.snapshot()),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
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
