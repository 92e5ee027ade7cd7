//! The account's SES sending rate, shared by the chase workers: each
//! invocation sends at most its share (the rate divided by the workers'
//! maximum concurrency), waiting for it before a chase is marked `sending`,
//! so a wait never turns into an unknown send outcome.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

pub struct SendPace(DefaultDirectRateLimiter);

impl SendPace {
    /// `per_second` sends per second across `workers` concurrent
    /// invocations; `None` when either is not positive.
    pub fn share(per_second: f64, workers: u32) -> Option<Self> {
        let share = per_second / f64::from(workers);
        if !share.is_finite() || share <= 0.0 {
            return None;
        }
        let quota =
            Quota::with_period(Duration::from_secs_f64(1.0 / share))?.allow_burst(NonZeroU32::MIN);
        Some(Self(RateLimiter::direct(quota)))
    }

    /// Waits for the next send's turn.
    pub async fn ready(&self) {
        self.0.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_worker_gets_its_share_and_the_first_send_never_waits() {
        assert!(SendPace::share(0.0, 5).is_none());
        assert!(SendPace::share(14.0, 0).is_none());
        let pace = SendPace::share(14.0, 5).unwrap();
        let started = std::time::Instant::now();
        pace.ready().await;
        assert!(started.elapsed() < Duration::from_millis(100));
        // The second send of a 2.8-per-second share is not allowed at once.
        assert!(pace.0.check().is_err());
    }
}
