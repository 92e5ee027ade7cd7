//! CloudWatch Embedded Metric Format on Lambda: the recorder behind
//! `app::metrics` (namespace [`NAMESPACE`]), written to stdout (the
//! function's log) by [`flush`] at the end of every invocation. CloudWatch
//! turns those log lines into metrics; no API call is made.

pub use metrics_cloudwatch_embedded::Collector;

/// The CloudWatch namespace of every metric the functions report.
pub const NAMESPACE: &str = "Chaser";

#[derive(Debug, thiserror::Error)]
#[error("metrics recorder: {0}")]
pub struct MetricsError(String);

/// Installs the EMF recorder, once per sandbox.
pub fn emf() -> Result<&'static Collector, MetricsError> {
    metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .init()
        .map_err(|e| MetricsError(e.to_string()))
}

/// Writes what this invocation recorded as one EMF log line.
pub fn flush(collector: &Collector) {
    // A lost metrics line must not fail the invocation that did the work.
    let _ = collector.flush(std::io::stdout());
}
