//! One tick with N customers due at the same instant, on the local stack
//! (DynamoDB Local and moto, which `infra/bench-tick` starts): for each N,
//! once the tick's invocation and one evaluation unit alone (time, requests
//! and peak heap of each invocation), and once the whole tick with the
//! template's `MaximumConcurrency` (wall time, requests and capacity per
//! chase by operation, and whether any customer was emailed twice).
//!
//! `tick-bench 500 2000 8000`

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use integration_tests::TestStack;
use local_stack::tick::Concurrency;
use local_stack::StackOptions;
use peak_alloc::PeakAlloc;
use runtime::config::AwsTimeouts;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
        .filter(|a| !a.starts_with("--"))
        .map(|n| n.parse().context("sizes are numbers of customers"))
        .collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        bail!("usage: tick-bench N [N ...]   (e.g. 500 2000 8000)");
    }
    // `--units-only`: skip the whole tick (moto's SES limits it to a few
    // emails a second on a small machine).
    let whole_tick = !std::env::args().any(|a| a == "--units-only");
    for &due in &sizes {
        run(due, true).await?;
        if whole_tick {
            run(due, false).await?;
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
        // Two cores running both emulators and 25 invocations answer some
        // calls in seconds. With the deployed timeouts (2 s an attempt) the
        // SDK gives up on calls the emulator then carries out, and retries
        // them: duplicate chase messages, which the claims absorb but which
        // inflate every figure per chase. AWS answers in milliseconds.
        aws_timeouts: Some(AwsTimeouts {
            connect: Duration::from_secs(10),
            attempt: Duration::from_secs(30),
            operation: Duration::from_secs(60),
        }),
        ..StackOptions::default()
    };
    let stack = TestStack::start_with(options).await;
    let concurrency = stack.stack.concurrency;
    stack.seed_due_customers(due).await;
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
        // One unit alone, as one invocation runs it: a full page of due
        // customers (its next page is left alone).
        let unit = local_stack::tick::take_unit(&stack.stack)
            .await?
            .context("a unit on the evaluation queue")?;
        let done = functions.scheduler.job.evaluate(&unit, false).await?;
        let elapsed = started.elapsed();
        json!({
            "mode": "one evaluation unit alone (one scheduler invocation)",
            "due_customers": due,
            "fan_out": fan_out_json(&fan_out, fan_out_time, fan_out_requests, fan_out_peak),
            "unit_seconds": elapsed.as_secs_f64(),
            "unit": done,
            "unit_peak_heap_mib": mib(peak_since(before)),
            "unit_requests": functions.scheduler.requests.snapshot(),
            "unit_capacity_units": functions.scheduler.requests.capacity(),
        })
    } else {
        // The units and the chases, as the event source mappings run them.
        let tick = local_stack::tick::drain_after_fan_out(&stack.stack, at).await?;
        let elapsed = started.elapsed() + fan_out_time;
        // What reached the customers, from moto's record: a redelivered
        // unit or chase is handled again, but must not send again.
        let emails = emails_per_customer(&stack).await;
        let sent: usize = emails.values().sum();
        json!({
            "mode": "whole tick with the template's concurrency",
            "concurrency": concurrency,
            "due_customers": due,
            "fan_out": fan_out_json(&fan_out, fan_out_time, fan_out_requests, fan_out_peak),
            "tick_seconds": elapsed.as_secs_f64(),
            "evaluation_units": tick.evaluation.records,
            "scheduler": tick.scheduler,
            "chases_sent": sent,
            "customers_emailed": emails.len(),
            "customers_emailed_twice": emails.values().filter(|count| **count > 1).count(),
            "evaluation_records": tick.evaluation,
            "chase_records": {
                "handled": tick.records,
                "succeeded": tick.succeeded,
                "failed": tick.failed,
            },
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

/// Emails moto received per due customer of this stack's tenant.
async fn emails_per_customer(stack: &TestStack) -> BTreeMap<String, usize> {
    let domain = format!("@{}.example", stack.tenant);
    let data = stack.moto_sent().await;
    let mut emails: BTreeMap<String, usize> = BTreeMap::new();
    for email in data["ses"]["RawMessage"].as_array().into_iter().flatten() {
        let raw = email.to_string();
        let Some(end) = raw.find(&domain) else {
            continue;
        };
        if let Some(start) = raw[..end].rfind("due-") {
            *emails.entry(raw[start..end].to_string()).or_default() += 1;
        }
    }
    emails
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
