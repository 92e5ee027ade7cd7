//! The Docker-free local stack: resources created from `template.yaml` in
//! DynamoDB Local and moto, and a runner that serves the HTTP functions with
//! API Gateway's routing and JWT check, moves a local clock, and drives the
//! scheduler and the chase worker as EventBridge and Lambda's SQS event
//! source mapping would.

pub mod resources;
pub mod server;
pub mod template;
pub mod tick;
pub mod token;

use resources::{Clients, Resources};
use shared::adapters::request_counter::RequestCounter;
use shared::bootstrap::App;
use shared::config::Config;
use shared::ports::SettableClock;
use std::sync::Arc;
use template::StackDefinition;

/// A running local stack's state, shared by every runner route.
pub struct LocalStack {
    pub app: App,
    pub clock: Arc<SettableClock>,
    pub jwt_secret: String,
    pub resources: Resources,
}

impl LocalStack {
    /// Creates the resources named `<prefix>-…` (if missing) in the emulators
    /// the standard `AWS_ENDPOINT_URL*` variables point at.
    pub async fn create(prefix: &str, jwt_secret: &str) -> anyhow::Result<Self> {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let stack = StackDefinition::load(&template::default_path())?;
        let resources = resources::create(&Clients::new(&sdk), &stack, prefix).await?;
        let clock = Arc::new(SettableClock::default());
        let config = Config {
            table_name: resources.table_name.clone(),
            chase_queue_url: resources.chase_queue_url.clone(),
            ses_configuration_set: None,
            sender_domain: Some(resources.sender_domain.clone()),
        };
        let app = App::new(&sdk, config, clock.clone(), RequestCounter::default());
        Ok(Self {
            app,
            clock,
            jwt_secret: jwt_secret.to_string(),
            resources,
        })
    }
}
