//! Start-up shared by every function: tracing, configuration, SDK clients.
//! Built once per sandbox and reused across invocations.

use crate::adapters::dynamo::Table;
use crate::adapters::request_counter::RequestCounter;
use crate::adapters::settings_store::SettingsCache;
use crate::config::{Config, ConfigError};
use crate::ports::{Clock, SystemClock};
use aws_config::{BehaviorVersion, SdkConfig};
use std::sync::Arc;

pub struct App {
    pub config: Config,
    pub table: Table,
    pub sqs: aws_sdk_sqs::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub sns: aws_sdk_sns::Client,
    pub clock: Arc<dyn Clock>,
    pub requests: RequestCounter,
    pub settings: SettingsCache,
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
            RequestCounter::default(),
        ))
    }

    pub fn new(
        sdk: &SdkConfig,
        config: Config,
        clock: Arc<dyn Clock>,
        requests: RequestCounter,
    ) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(requests.clone())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(sdk)
                .interceptor(requests.clone())
                .build(),
        );
        let ses = aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(sdk)
                .interceptor(requests.clone())
                .build(),
        );
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(sdk)
                .interceptor(requests.clone())
                .build(),
        );
        Self {
            table: Table::new(dynamodb, config.table_name.clone()),
            config,
            sqs,
            ses,
            sns,
            clock,
            requests,
            settings: SettingsCache::default(),
        }
    }
}

/// JSON logs, level from `RUST_LOG` (default `info`). Safe to call twice.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_target(false)
        .try_init();
}
