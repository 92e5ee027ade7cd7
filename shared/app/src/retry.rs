//! The one retry helper: the SDK retries throttling and transient network
//! errors itself; this covers what it cannot know is safe to repeat
//! (a transaction cancelled by a concurrent one, a batch entry refused).

use std::future::Future;
use std::time::Duration;

/// Runs `operation` up to `attempts` times while its error is `retryable`,
/// waiting 20 ms, 40 ms, 80 ms, ... in between.
pub async fn retrying<T, E, F, Fut>(
    attempts: u32,
    retryable: impl Fn(&E) -> bool,
    mut operation: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match operation().await {
            Err(error) if attempt < attempts && retryable(&error) => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// The wait before attempt `attempt + 1`.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(20u64 << attempt.min(8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_only_what_is_retryable_and_only_so_often() {
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = retrying(
            3,
            |e| *e == "busy",
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err("busy") }
            },
        )
        .await;
        assert_eq!(result, Err("busy"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        calls.store(0, Ordering::SeqCst);
        let result: Result<(), &str> = retrying(
            3,
            |e| *e == "busy",
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err("broken") }
            },
        )
        .await;
        assert_eq!(result, Err("broken"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
