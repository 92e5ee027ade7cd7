//! Start-up shared by every function: tracing, configuration, SDK clients.
//! Built once per sandbox and reused across invocations.

use crate::adapters::dynamo::Table;
use crate::adapters::settings_store::SettingsCache;
use crate::config::{AwsTimeouts, Config, ConfigError};
use crate::ports::{Clock, SystemClock};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use std::sync::Arc;

pub struct App {
    pub config: Config,
    pub table: Table,
    pub sqs: aws_sdk_sqs::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub sns: aws_sdk_sns::Client,
    pub clock: Arc<dyn Clock>,
    pub settings: SettingsCache,
}

/// How the SDK clients are built beyond the shared SDK configuration. On
/// Lambda this is the default: no extra interceptors, the endpoints the SDK
/// resolves itself. The local runner adds its request counter and, in
/// fault tests, points one service at a misbehaving proxy.
#[derive(Clone, Default)]
pub struct ClientOptions {
    pub interceptors: Vec<SharedInterceptor>,
    pub dynamodb_endpoint: Option<String>,
    pub ses_endpoint: Option<String>,
    pub sns_endpoint: Option<String>,
}

impl App {
    /// Reads configuration from the environment. The SDK itself honours
    /// `AWS_ENDPOINT_URL[_<SERVICE>]`, which is how the local stack points
    /// this same code at DynamoDB Local and moto.
    pub async fn from_env() -> Result<Self, ConfigError> {
        init_tracing();
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Ok(Self::new(
            &sdk,
            config,
            Arc::new(SystemClock),
            &ClientOptions::default(),
        ))
    }

    pub fn new(
        sdk: &SdkConfig,
        config: Config,
        clock: Arc<dyn Clock>,
        options: &ClientOptions,
    ) -> Self {
        let storage = storage_timeouts(&config.aws_timeouts);
        let sends = send_timeouts(&config.aws_timeouts);
        let mut dynamodb =
            aws_sdk_dynamodb::config::Builder::from(sdk).timeout_config(storage.clone());
        if let Some(url) = &options.dynamodb_endpoint {
            dynamodb.set_endpoint_url(Some(url.clone()));
        }
        let mut sqs = aws_sdk_sqs::config::Builder::from(sdk).timeout_config(storage);
        // A send that timed out may have gone out: the SDK must not repeat
        // it; the worker decides what an error means (DESIGN §9).
        let mut ses = aws_sdk_sesv2::config::Builder::from(sdk)
            .timeout_config(sends.clone())
            .retry_config(RetryConfig::disabled());
        if let Some(url) = &options.ses_endpoint {
            ses.set_endpoint_url(Some(url.clone()));
        }
        let mut sns = aws_sdk_sns::config::Builder::from(sdk)
            .timeout_config(sends)
            .retry_config(RetryConfig::disabled());
        if let Some(url) = &options.sns_endpoint {
            sns.set_endpoint_url(Some(url.clone()));
        }
        for interceptor in &options.interceptors {
            dynamodb.push_interceptor(interceptor.clone());
            sqs.push_interceptor(interceptor.clone());
            ses.push_interceptor(interceptor.clone());
            sns.push_interceptor(interceptor.clone());
        }
        Self {
            table: Table::new(
                aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
                config.table_name.clone(),
            ),
            config,
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            ses: aws_sdk_sesv2::Client::from_conf(ses.build()),
            sns: aws_sdk_sns::Client::from_conf(sns.build()),
            clock,
            settings: SettingsCache::default(),
        }
    }
}

/// Reads and writes: each attempt bounded, retries (the SDK's standard
/// ones) inside one operation bound, both below the function's timeout.
fn storage_timeouts(timeouts: &AwsTimeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.operation)
        .build()
}

/// Sends: one attempt, bounded by the operation timeout.
fn send_timeouts(timeouts: &AwsTimeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .operation_attempt_timeout(timeouts.operation)
        .operation_timeout(timeouts.operation)
        .build()
}

/// JSON logs. The level comes from `RUST_LOG`, else Lambda's
/// `AWS_LAMBDA_LOG_LEVEL` (the template's `ApplicationLogLevel`), else `info`.
/// Safe to call twice.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .map_err(|_| ())
                .and_then(|level| {
                    tracing_subscriber::EnvFilter::try_new(level.to_lowercase()).map_err(|_| ())
                })
        })
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_target(false)
        .try_init();
}
