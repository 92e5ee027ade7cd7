//! Configuration read once at start-up. Missing values fail start-up loudly.

use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Names of the resources a function talks to. AWS endpoints are not here:
/// the SDK reads `AWS_ENDPOINT_URL_<SERVICE>` itself, which is how the local
/// stack points the same code at DynamoDB Local and moto.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// The chase queue (the scheduler's; see [`Config::chase_queue_url`]).
    chase_queue_url: Option<String>,
    /// The scheduler's evaluation units (see [`Config::evaluation_queue_url`]).
    evaluation_queue_url: Option<String>,
    /// The documents bucket (the API and the chase worker; see
    /// [`Config::documents_bucket`]).
    documents_bucket: Option<String>,
    /// SES configuration set that routes delivery events; optional locally.
    pub ses_configuration_set: Option<String>,
    /// The verified SES domain; chases from tenants without their own
    /// sender address go out as `chasing@<domain>`.
    pub sender_domain: Option<String>,
    pub aws_timeouts: AwsTimeouts,
    /// How long an HTTP request may take before it is answered 503; below
    /// the API function's timeout, so a slow dependency never turns into a
    /// bare Lambda error.
    pub request_deadline: Duration,
    /// The key of customer portal links (`PORTAL_LINK_SECRET`, at least 32
    /// bytes); the functions that write or open links have it.
    pub portal_link_secret: Option<String>,
    /// Where portal links point by default (`PORTAL_BASE_URL`, the HTTP
    /// API's URL); a tenant's `portal_base_url` overrides it.
    pub portal_base_url: Option<String>,
    /// The account's SES sending rate and the chase workers' maximum
    /// concurrency (`SES_MAX_SEND_RATE`, `WORKER_MAX_CONCURRENCY`): each
    /// worker invocation sends at most its share.
    pub ses_send_share: Option<(f64, u32)>,
}

/// Bounds on every AWS call (docs/architecture.md, Timeouts). `template.yaml` sets them per
/// function, below each function's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    pub connect: Duration,
    /// One HTTP attempt.
    pub attempt: Duration,
    /// The whole call, retries included.
    pub operation: Duration,
}

impl Default for AwsTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(1),
            attempt: Duration::from_secs(2),
            operation: Duration::from_secs(5),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            chase_queue_url: std::env::var("CHASE_QUEUE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            evaluation_queue_url: std::env::var("EVALUATION_QUEUE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            ses_send_share: ses_send_share()?,
            documents_bucket: std::env::var("DOCUMENTS_BUCKET")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            ses_configuration_set: std::env::var("SES_CONFIGURATION_SET")
                .ok()
                .filter(|v| !v.is_empty()),
            sender_domain: std::env::var("SENDER_DOMAIN")
                .ok()
                .filter(|v| !v.is_empty()),
            aws_timeouts: aws_timeouts()?,
            request_deadline: millis("REQUEST_DEADLINE_MS")?.unwrap_or(DEFAULT_REQUEST_DEADLINE),
            portal_link_secret: portal_link_secret()?,
            portal_base_url: std::env::var("PORTAL_BASE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty()),
        })
    }
}

/// Links made with a short key could be guessed.
pub const MIN_PORTAL_SECRET_BYTES: usize = 32;

fn portal_link_secret() -> Result<Option<String>, ConfigError> {
    match std::env::var("PORTAL_LINK_SECRET") {
        Err(_) => Ok(None),
        Ok(secret) if secret.len() >= MIN_PORTAL_SECRET_BYTES => Ok(Some(secret)),
        Ok(_) => Err(ConfigError::Invalid {
            name: "PORTAL_LINK_SECRET",
            reason: format!("must be at least {MIN_PORTAL_SECRET_BYTES} bytes"),
        }),
    }
}

/// Below the API function's 10 s timeout.
pub const DEFAULT_REQUEST_DEADLINE: Duration = Duration::from_secs(8);

fn aws_timeouts() -> Result<AwsTimeouts, ConfigError> {
    let defaults = AwsTimeouts::default();
    let timeouts = AwsTimeouts {
        connect: defaults.connect,
        attempt: millis("AWS_ATTEMPT_TIMEOUT_MS")?.unwrap_or(defaults.attempt),
        operation: millis("AWS_OPERATION_TIMEOUT_MS")?.unwrap_or(defaults.operation),
    };
    if timeouts.attempt > timeouts.operation {
        return Err(ConfigError::Invalid {
            name: "AWS_ATTEMPT_TIMEOUT_MS",
            reason: "longer than AWS_OPERATION_TIMEOUT_MS".into(),
        });
    }
    Ok(timeouts)
}

/// An optional positive number of milliseconds.
fn millis(name: &'static str) -> Result<Option<Duration>, ConfigError> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(raw) => match raw.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms))),
            _ => Err(ConfigError::Invalid {
                name,
                reason: "must be a positive number of milliseconds".into(),
            }),
        },
    }
}

impl Config {
    /// Configuration for the local runner and tests, which create their own resources.
    pub fn local(
        table_name: String,
        chase_queue_url: String,
        sender_domain: Option<String>,
        aws_timeouts: AwsTimeouts,
        request_deadline: Duration,
    ) -> Self {
        Self {
            table_name,
            chase_queue_url: Some(chase_queue_url),
            evaluation_queue_url: None,
            ses_send_share: None,
            documents_bucket: None,
            ses_configuration_set: None,
            sender_domain,
            aws_timeouts,
            request_deadline,
            portal_link_secret: None,
            portal_base_url: None,
        }
    }

    /// The documents bucket; only the API and the chase worker need it.
    pub fn documents_bucket(&self) -> Result<String, ConfigError> {
        self.documents_bucket
            .clone()
            .ok_or(ConfigError::Missing("DOCUMENTS_BUCKET"))
    }

    /// The chase queue; only the functions that send to it need it.
    pub fn chase_queue_url(&self) -> Result<String, ConfigError> {
        self.chase_queue_url
            .clone()
            .ok_or(ConfigError::Missing("CHASE_QUEUE_URL"))
    }

    /// The evaluation queue; only the scheduler needs it.
    pub fn evaluation_queue_url(&self) -> Result<String, ConfigError> {
        self.evaluation_queue_url
            .clone()
            .ok_or(ConfigError::Missing("EVALUATION_QUEUE_URL"))
    }
}

fn ses_send_share() -> Result<Option<(f64, u32)>, ConfigError> {
    let (Ok(rate), Ok(workers)) = (
        std::env::var("SES_MAX_SEND_RATE"),
        std::env::var("WORKER_MAX_CONCURRENCY"),
    ) else {
        return Ok(None);
    };
    let rate: f64 = rate
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or(ConfigError::Invalid {
            name: "SES_MAX_SEND_RATE",
            reason: "must be a positive number of emails per second".into(),
        })?;
    let workers: u32 =
        workers
            .trim()
            .parse()
            .ok()
            .filter(|w| *w > 0)
            .ok_or(ConfigError::Invalid {
                name: "WORKER_MAX_CONCURRENCY",
                reason: "must be a positive whole number".into(),
            })?;
    Ok(Some((rate, workers)))
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        Ok(_) => Err(ConfigError::Invalid {
            name,
            reason: "empty".into(),
        }),
        Err(_) => Err(ConfigError::Missing(name)),
    }
}
