//! Many customers due at one instant, through the fanned-out tick with the
//! template's concurrency: every chase reaches its customer exactly once.
//! Two ticks' units and workers overlap on the same 500 customers (31 or 32
//! a shard: one page each; the job tests cover pages).

use chrono::{DateTime, Utc};
use integration_tests::{StackOptions, TestStack};
use runtime::config::AwsTimeouts;
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn two_overlapping_ticks_for_500_due_customers_send_each_chase_once() {
    // What is tested is two ticks overlapping, not timeouts (those have
    // their own tests): generous ones keep a busy 2-core machine from
    // turning slow emulator answers into chases flagged `outcome_unknown`.
    let stack = TestStack::start_with(StackOptions {
        aws_timeouts: Some(AwsTimeouts {
            connect: Duration::from_secs(10),
            attempt: Duration::from_secs(30),
            operation: Duration::from_secs(60),
        }),
        ..StackOptions::default()
    })
    .await;
    let addresses = stack.seed_due_customers(500).await;
    let at: DateTime<Utc> = "2026-03-01T08:00:00Z".parse().unwrap();
    // EventBridge fires the same tick twice, and both run to completion at
    // once: two fan-outs, their units and the chase worker, all concurrent.
    let (first, second) = tokio::join!(
        local_stack::tick::run(&stack.stack, at),
        local_stack::tick::run(&stack.stack, at)
    );
    // Records may fail and come back (an overloaded emulator's timeout):
    // the queues are drained either way, and what counts is below.
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(
        first.evaluation.records + second.evaluation.records >= 32,
        "both ticks fanned out: {first:?} {second:?}"
    );

    let data = stack.moto_sent().await;
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for email in data["ses"]["RawMessage"].as_array().unwrap() {
        let raw = email.to_string();
        // "due-1@" is in no other address ("due-10@" has a 0 before the @).
        if let Some(address) = addresses.iter().find(|a| raw.contains(a.as_str())) {
            *received.entry(address.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        received.len(),
        500,
        "every customer chased: {first:?} {second:?}"
    );
    assert!(
        received.values().all(|count| *count == 1),
        "never twice: {:?}",
        received.iter().filter(|(_, c)| **c > 1).collect::<Vec<_>>()
    );
}
