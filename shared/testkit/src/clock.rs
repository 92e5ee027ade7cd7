//! Time and ids a test controls: nothing in the application reads the wall
//! clock or a random source directly, so a test can pin both and get the
//! same output on every run.

use app::ports::{Clock, Ids};
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock the test moves by hand (days of scheduling replayed in a
/// moment). Clones share the same time, so a test keeps one handle and gives
/// another to the code under test.
#[derive(Debug, Clone)]
pub struct SettableClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl SettableClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = at;
    }

    /// Moves the time forward (or back, with a negative duration); returns
    /// the new time.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let mut now = self.lock();
        *now += by;
        *now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A test that panicked while holding the lock left a valid instant.
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for SettableClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

/// ULIDs whose random part is a counter: ids still sort by their instant
/// (and, within one millisecond, by creation order), as the real ones do,
/// but a test can predict them and two runs produce the same ones.
#[derive(Debug, Default)]
pub struct SequentialIds {
    counter: AtomicU64,
}

impl SequentialIds {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many ids were handed out.
    pub fn issued(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }
}

impl Ids for SequentialIds {
    fn new_id(&self, at: DateTime<Utc>) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        // ULIDs cannot encode instants before the epoch.
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        ulid::Ulid::from_parts(millis, u128::from(n)).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_settable_clock_is_shared_by_its_clones() {
        let clock = SettableClock::new(at(0));
        let given = clock.clone();
        assert_eq!(clock.advance(Duration::hours(25)), at(25 * 3600));
        assert_eq!(given.now(), at(25 * 3600));
        given.set(at(5));
        assert_eq!(clock.now(), at(5));
        assert_eq!(FixedClock(at(1)).now(), at(1));
    }

    #[test]
    fn sequential_ids_are_ulids_sorted_by_instant_then_order() {
        let ids = SequentialIds::new();
        let a = ids.new_id(at(10));
        let b = ids.new_id(at(10));
        let c = ids.new_id(at(5));
        assert!(a < b, "same instant: creation order");
        assert!(c < a, "earlier instant sorts first");
        assert_eq!(a.len(), 26);
        assert_eq!(
            ulid::Ulid::from_string(&a).unwrap().datetime(),
            std::time::SystemTime::from(at(10))
        );
        assert_eq!(ids.issued(), 3);
        let again = SequentialIds::new();
        assert_eq!(again.new_id(at(10)), a, "deterministic");
    }
}
