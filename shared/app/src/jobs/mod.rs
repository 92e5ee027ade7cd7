//! The event-driven jobs: the scheduler (a tick), the chase worker (a
//! queue batch) and delivery feedback (provider events).

#[cfg(feature = "render")]
pub mod chase_worker;
pub mod delivery_feedback;
pub mod reports;
pub mod scheduler;
