//! The integration suite: one test binary against the local stack (DynamoDB
//! Local and moto over HTTP), each test in its own tenant, stack and process.
// Helpers outside #[test] functions unwrap too: a failed step should stop the test where it failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_docs;
mod cadences;
mod chasing_cost;
mod chasing_pipeline;
mod contact_roles_and_idempotency;
mod contacts;
mod customers;
mod delivery_feedback;
mod demo;
mod enrolment;
mod event_fixtures;
mod hardening;
mod imports;
mod invoice_level;
mod money;
mod notes_and_history;
mod openapi;
mod outbox;
mod portal;
mod portal_browser;
mod reports;
mod roles;
mod run_script;
mod scale;
mod settings;
mod statements;
mod store_conformance;
mod tasks;
mod template_alarms;
mod templates;
