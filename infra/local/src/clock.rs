//! The runner's clock: follows the wall clock until a test or `/_local/clock`
//! fixes it, so days of chasing replay in seconds.

use app::ports::Clock;
use chrono::{DateTime, Utc};
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct SettableClock {
    fixed: RwLock<Option<DateTime<Utc>>>,
}

impl SettableClock {
    /// `None` returns to real time.
    pub fn set(&self, now: Option<DateTime<Utc>>) {
        // A poisoned lock only means another thread panicked while holding it;
        // the value inside is still a plain Option and safe to overwrite.
        let mut guard = self.fixed.write().unwrap_or_else(|e| e.into_inner());
        *guard = now;
    }
}

impl Clock for SettableClock {
    fn now(&self) -> DateTime<Utc> {
        let guard = self.fixed.read().unwrap_or_else(|e| e.into_inner());
        guard.unwrap_or_else(Utc::now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn settable_clock_is_fixed_until_reset() {
        let clock = SettableClock::default();
        let at = Utc.with_ymd_and_hms(2026, 6, 9, 8, 0, 0).unwrap();
        clock.set(Some(at));
        assert_eq!(clock.now(), at);
        clock.set(None);
        assert!(clock.now() > at);
    }
}
