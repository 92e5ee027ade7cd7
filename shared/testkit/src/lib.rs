//! In-memory ports for fast handler and job tests, and the conformance
//! suite every store implementation must pass.
//!
//! - [`MemoryStore`]: every store port, with the DynamoDB store's
//!   conditions and failure reporting, fault injection and request counts.
//! - [`FixedClock`], [`SettableClock`], [`SequentialIds`]: time and ids a
//!   test controls.
//! - [`MemoryQueue`], [`RecordingMailer`], [`RecordingSms`]: messaging that
//!   records what was sent and fails when told to.
//! - [`MemoryFiles`]: the documents bucket.
//! - [`conformance`]: the behaviour of the store ports, as checks that run
//!   against any [`app::ports::Store`] (this one, and DynamoDB Local).
//! - [`fixtures`]: small valid domain values to write in tests.

mod clock;
pub mod conformance;
mod files;
pub mod fixtures;
mod memory;
mod messaging;

pub use clock::{FixedClock, SequentialIds, SettableClock};
pub use files::MemoryFiles;
pub use memory::MemoryStore;
pub use messaging::{tick_through, MemoryQueue, RecordingMailer, RecordingSms, SentSms};
