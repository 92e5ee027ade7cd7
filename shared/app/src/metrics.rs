//! The operational metrics the functions report, through the `metrics`
//! facade: its recorder is the port. On Lambda, `runtime::metrics` installs
//! a CloudWatch Embedded Metric Format recorder (one JSON log line per
//! invocation, metrics without API calls); without a recorder (the local
//! runner, most tests) every call is a no-op, and a test can install a
//! recording one to read them back. Names and dimensions are spelled only
//! here (docs/operations.md lists them).

use crate::ports::{Email, Mailer, SendError, Sms};
use async_trait::async_trait;
use std::sync::Arc;

pub const CHASES_SENT: &str = "ChasesSent";
pub const CHASES_SUPPRESSED: &str = "ChasesSuppressed";
pub const CHASES_FAILED: &str = "ChasesFailed";
pub const PROVIDER_ERRORS: &str = "ProviderErrors";
pub const DUE_CUSTOMERS: &str = "DueCustomers";
pub const TICK_LAG_SECONDS: &str = "TickLagSeconds";
pub const API_REQUESTS: &str = "ApiRequests";

/// A chase message the provider accepted, by channel (`email`, `sms`).
pub fn chase_sent(channel: &'static str) {
    metrics::counter!(CHASES_SENT, "Channel" => channel).increment(1);
}

/// A due chase the send-time re-check stopped.
pub fn chase_suppressed(channel: &'static str) {
    metrics::counter!(CHASES_SUPPRESSED, "Channel" => channel).increment(1);
}

/// A chase recorded as failed (permanent rejection, unknown outcome).
pub fn chase_failed(channel: &'static str) {
    metrics::counter!(CHASES_FAILED, "Channel" => channel).increment(1);
}

/// Any error a provider (SES, SNS) answered a send with.
pub fn provider_error(channel: &'static str) {
    metrics::counter!(PROVIDER_ERRORS, "Channel" => channel).increment(1);
}

/// Due customers one evaluation unit read (summed per minute, the tick's
/// due set).
pub fn evaluated(due_customers: usize) {
    metrics::counter!(DUE_CUSTOMERS).increment(due_customers as u64);
}

/// One scheduler tick: how late it ran after the instant it was scheduled for.
pub fn tick(lag: chrono::Duration) {
    let lag_seconds = lag.num_milliseconds().max(0) as f64 / 1000.0;
    metrics::gauge!(TICK_LAG_SECONDS).set(lag_seconds);
}

/// One API request, by route template and status class (`2xx` … `5xx`).
pub fn api_request(route: &str, status: u16) {
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(API_REQUESTS, "Route" => route.to_string(), "StatusClass" => class)
        .increment(1);
}

/// The email port, counting sends and provider errors.
pub struct MeteredMailer(pub Arc<dyn Mailer>);

#[async_trait]
impl Mailer for MeteredMailer {
    async fn send_email(&self, email: &Email) -> Result<String, SendError> {
        let sent = self.0.send_email(email).await;
        match &sent {
            Ok(_) => chase_sent("email"),
            Err(_) => provider_error("email"),
        }
        sent
    }
}

/// The SMS port, counting sends and provider errors.
pub struct MeteredSms(pub Arc<dyn Sms>);

#[async_trait]
impl Sms for MeteredSms {
    async fn send_sms(&self, phone: &str, text: &str) -> Result<String, SendError> {
        let sent = self.0.send_sms(phone, text).await;
        match &sent {
            Ok(_) => chase_sent("sms"),
            Err(_) => provider_error("sms"),
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    type Recorded = Vec<(String, Vec<(String, String)>, DebugValue)>;

    /// What `f` recorded, with a recorder of its own.
    fn recorded(f: impl FnOnce()) -> Recorded {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, f);
        let mut all: Recorded = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels = key
                    .labels()
                    .map(|l| (l.key().to_string(), l.value().to_string()))
                    .collect();
                (key.name().to_string(), labels, value)
            })
            .collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn api_requests_count_by_route_and_status_class() {
        let all = recorded(|| {
            api_request("/v1/settings", 200);
            api_request("/v1/settings", 204);
            api_request("/v1/settings", 503);
        });
        assert_eq!(
            all,
            [
                (
                    API_REQUESTS.into(),
                    labels(&[("Route", "/v1/settings"), ("StatusClass", "2xx")]),
                    DebugValue::Counter(2)
                ),
                (
                    API_REQUESTS.into(),
                    labels(&[("Route", "/v1/settings"), ("StatusClass", "5xx")]),
                    DebugValue::Counter(1)
                ),
            ]
        );
    }

    #[test]
    fn a_tick_reports_its_lag_and_units_their_due_customers() {
        let all = recorded(|| {
            tick(chrono::Duration::milliseconds(2_500));
            evaluated(40);
            evaluated(2);
        });
        let values: Vec<(&str, f64)> = all
            .iter()
            .map(|(name, _, value)| match value {
                DebugValue::Gauge(g) => (name.as_str(), g.into_inner()),
                DebugValue::Counter(c) => (name.as_str(), *c as f64),
                other => panic!("{name}: {other:?}"),
            })
            .collect();
        assert_eq!(values, [(DUE_CUSTOMERS, 42.0), (TICK_LAG_SECONDS, 2.5)]);
    }

    struct FakeSms(Result<String, String>);

    #[async_trait]
    impl Sms for FakeSms {
        async fn send_sms(&self, _: &str, _: &str) -> Result<String, SendError> {
            self.0.clone().map_err(SendError::NotSent)
        }
    }

    #[test]
    fn metered_senders_count_sends_and_provider_errors_by_channel() {
        let ok = MeteredSms(Arc::new(FakeSms(Ok("m-1".into()))));
        let throttled = MeteredSms(Arc::new(FakeSms(Err("Throttling".into()))));
        let all = recorded(|| {
            futures::executor::block_on(async {
                assert!(ok.send_sms("+15550100", "hi").await.is_ok());
                assert!(ok.send_sms("+15550100", "hi").await.is_ok());
                assert!(throttled.send_sms("+15550100", "hi").await.is_err());
            });
        });
        assert_eq!(
            all,
            [
                (
                    CHASES_SENT.into(),
                    labels(&[("Channel", "sms")]),
                    DebugValue::Counter(2)
                ),
                (
                    PROVIDER_ERRORS.into(),
                    labels(&[("Channel", "sms")]),
                    DebugValue::Counter(1)
                ),
            ]
        );
    }
}
