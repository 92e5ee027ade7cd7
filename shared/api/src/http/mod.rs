//! The HTTP edge: auth context, request parsing, routing and the one mapping
//! from errors to responses.

pub mod auth;
pub mod error;
pub mod idempotency;
pub mod pagination;
pub mod request;
pub mod response;

pub use error::ApiError;
pub use response::ApiResponse;
