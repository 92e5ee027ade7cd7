//! The application: use cases (one module per capability), the event-driven
//! jobs (scheduler, chase worker, delivery feedback) and the ports they use.
//! Nothing here knows DynamoDB, SQS, SES, SNS, HTTP or Lambda.

pub mod access;
pub mod chasing;
pub mod context;
pub mod error;
pub mod jobs;
pub mod messages;
pub mod metrics;
pub mod pace;
pub mod ports;
pub mod records;
pub mod retry;
pub mod usecases;
pub mod writes;
