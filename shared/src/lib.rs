//! Everything the Lambda functions and the local runner share: the pure domain,
//! the ports it needs, the AWS adapters behind them and the HTTP mapping.

pub mod adapters;
pub mod api;
pub mod bootstrap;
pub mod chasing;
pub mod config;
pub use domain;
pub mod feedback;
pub mod http;
pub mod ports;
pub mod scheduler;
pub mod worker;
