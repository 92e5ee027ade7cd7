//! Fast tests of the three jobs (scheduler, chase worker, delivery feedback)
//! against the in-memory ports of `testkit`: no emulator, no network. The
//! emulator-backed integration tests (`tests/tests/integration`) cover the
//! same pipeline through the real AWS adapters; these cover the many cases
//! (mixed batches, partial failures, malformed records, each worker branch)
//! in milliseconds.

// Helpers outside `#[test]` functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "jobs/harness.rs"]
mod harness;

#[path = "jobs/chase_worker.rs"]
mod chase_worker;
#[path = "jobs/delivery_feedback.rs"]
mod delivery_feedback;
#[path = "jobs/invoice_level.rs"]
mod invoice_level;
#[path = "jobs/scheduler.rs"]
mod scheduler;
