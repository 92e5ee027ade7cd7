//! The Docker-free local stack: resources created from `template.yaml` in
//! DynamoDB Local and moto, and a runner that serves the HTTP functions with
//! API Gateway's routing and JWT check, moves a local clock, and drives the
//! scheduler and the chase worker as EventBridge and Lambda's SQS event
//! source mapping would.

pub mod policies;
pub mod requests;
pub mod resources;
pub mod server;
pub mod template;
pub mod tick;
pub mod token;

use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use requests::RequestCounter;
use resources::{Clients, Resources};
use shared::bootstrap::{App, ClientOptions};
use shared::config::{AwsTimeouts, Config, DEFAULT_REQUEST_DEADLINE};
use shared::ports::SettableClock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use template::StackDefinition;

/// One function as Lambda would run it: its own clients (and here its own
/// request counter), sharing the stack's clock.
pub struct Function {
    pub app: App,
    pub requests: RequestCounter,
}

/// The template's functions, each with its binary's name.
pub struct Functions {
    pub api: Function,
    pub scheduler: Function,
    pub chase_worker: Function,
    pub delivery_feedback: Function,
}

impl Functions {
    pub fn all(&self) -> [(&'static str, &Function); 4] {
        [
            ("api", &self.api),
            ("scheduler", &self.scheduler),
            ("chase-worker", &self.chase_worker),
            ("delivery-feedback", &self.delivery_feedback),
        ]
    }
}

/// What a test may change about how the functions reach AWS.
#[derive(Clone, Default)]
pub struct StackOptions {
    /// Every function's DynamoDB / SES endpoint (e.g. a fault-injecting proxy).
    pub dynamodb_endpoint: Option<String>,
    pub ses_endpoint: Option<String>,
    pub aws_timeouts: Option<AwsTimeouts>,
    pub request_deadline: Option<std::time::Duration>,
}

/// A running local stack's state, shared by every runner route.
pub struct LocalStack {
    pub functions: Functions,
    /// Clients of the runner itself (resources, the SQS event source
    /// mapping); their requests are not any function's.
    pub clients: Clients,
    pub clock: Arc<SettableClock>,
    pub jwt_secret: String,
    pub resources: Resources,
}

impl LocalStack {
    /// Creates the resources named `<prefix>-…` (if missing) in the emulators
    /// the standard `AWS_ENDPOINT_URL*` variables point at.
    pub async fn create(prefix: &str, jwt_secret: &str) -> anyhow::Result<Self> {
        Self::create_with(prefix, jwt_secret, StackOptions::default()).await
    }

    pub async fn create_with(
        prefix: &str,
        jwt_secret: &str,
        options: StackOptions,
    ) -> anyhow::Result<Self> {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let stack = StackDefinition::load(&template::default_path())?;
        let clients = Clients::new(&sdk);
        let resources = resources::create(&clients, &stack, prefix).await?;
        let clock = Arc::new(SettableClock::default());
        let config = Config {
            table_name: resources.table_name.clone(),
            chase_queue_url: resources.chase_queue_url.clone(),
            ses_configuration_set: None,
            sender_domain: Some(resources.sender_domain.clone()),
            aws_timeouts: options.aws_timeouts.unwrap_or_default(),
            request_deadline: options.request_deadline.unwrap_or(DEFAULT_REQUEST_DEADLINE),
        };
        let function = || {
            let requests = RequestCounter::default();
            let client_options = ClientOptions {
                interceptors: vec![SharedInterceptor::new(requests.clone())],
                dynamodb_endpoint: options.dynamodb_endpoint.clone(),
                ses_endpoint: options.ses_endpoint.clone(),
                sns_endpoint: None,
            };
            Function {
                app: App::new(&sdk, config.clone(), clock.clone(), &client_options),
                requests,
            }
        };
        Ok(Self {
            functions: Functions {
                api: function(),
                scheduler: function(),
                chase_worker: function(),
                delivery_feedback: function(),
            },
            clients,
            clock,
            jwt_secret: jwt_secret.to_string(),
            resources,
        })
    }

    /// AWS requests of every function since the last reset, by operation.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        let mut total = BTreeMap::new();
        for (_, function) in self.functions.all() {
            for (operation, count) in function.requests.snapshot() {
                *total.entry(operation).or_default() += count;
            }
        }
        total
    }

    pub fn reset_request_counts(&self) {
        for (_, function) in self.functions.all() {
            function.requests.reset();
        }
    }

    /// The IAM actions each function has used, by binary name.
    pub fn actions(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
        self.functions
            .all()
            .into_iter()
            .map(|(name, function)| (name, function.requests.actions()))
            .collect()
    }
}
