//! Start-up shared by every function, built once per sandbox and reused
//! across invocations: configuration, tracing, and how AWS clients are made
//! (timeouts below the function's, interceptors and endpoint overrides the
//! local runner adds). The clients themselves are built by the adapter
//! crates, so a function links only the SDKs it uses.

pub mod config;
pub mod metrics;

use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use config::AwsTimeouts;

/// What a function starts with: its configuration, the shared SDK
/// configuration and how clients are built.
pub struct Started {
    pub config: config::Config,
    pub sdk: SdkConfig,
    pub options: ClientOptions,
}

/// Tracing, configuration from the environment (missing values fail
/// start-up loudly) and the SDK configuration: the first lines of every main.
pub async fn start() -> Result<Started, config::ConfigError> {
    init_tracing();
    let config = config::Config::from_env()?;
    let sdk = sdk_config().await;
    let options = ClientOptions::new(config.aws_timeouts);
    Ok(Started {
        config,
        sdk,
        options,
    })
}

/// The shared SDK configuration (region, credentials, endpoints from the
/// standard `AWS_*` variables).
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// How the adapters build their clients beyond the shared SDK
/// configuration. On Lambda: the default (no extra interceptors, the
/// endpoints the SDK resolves itself). The local runner adds its request
/// counter and, in fault tests, points a service at a misbehaving proxy.
#[derive(Clone, Default)]
pub struct ClientOptions {
    pub timeouts: AwsTimeouts,
    pub interceptors: Vec<SharedInterceptor>,
    pub dynamodb_endpoint: Option<String>,
    pub ses_endpoint: Option<String>,
    pub sns_endpoint: Option<String>,
    /// Path-style bucket addressing (S3-compatible endpoints such as moto).
    pub s3_path_style: bool,
}

impl ClientOptions {
    pub fn new(timeouts: AwsTimeouts) -> Self {
        Self {
            timeouts,
            ..Self::default()
        }
    }

    /// Reads and writes: each attempt bounded, the SDK's standard retries
    /// inside one operation bound, both below the function's timeout.
    pub fn storage_timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.timeouts.connect)
            .operation_attempt_timeout(self.timeouts.attempt)
            .operation_timeout(self.timeouts.operation)
            .build()
    }

    /// Sends: one attempt, bounded by the operation timeout (a send that
    /// timed out may have gone out and is never repeated by the SDK).
    pub fn send_timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.timeouts.connect)
            .operation_attempt_timeout(self.timeouts.operation)
            .operation_timeout(self.timeouts.operation)
            .build()
    }
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
