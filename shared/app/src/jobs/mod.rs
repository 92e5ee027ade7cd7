//! The event-driven jobs: the scheduler (a tick), the chase worker (a
//! queue batch) and delivery feedback (provider events).

pub mod chase_worker;
pub mod delivery_feedback;
pub mod scheduler;
