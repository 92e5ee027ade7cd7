//! The Docker-free local stack: resources created from `template.yaml` in
//! DynamoDB Local and moto, and a runner that serves the HTTP functions with
//! API Gateway's routing and JWT check, moves a local clock, and drives the
//! scheduler and the chase worker as EventBridge and Lambda's SQS event
//! source mapping would.

pub mod clock;
pub mod demo;
pub mod outbox;
pub mod policies;
pub mod requests;
pub mod resources;
pub mod server;
pub mod streams;
pub mod template;
pub mod tick;
pub mod token;

use app::context::{AppConfig, Context};
use app::jobs::chase_worker::ChaseWorker;
use app::jobs::delivery_feedback::DeliveryFeedback;
use app::jobs::reports::ReportsConsumer;
use app::jobs::scheduler::Scheduler;
use app::ports::UlidIds;
use app::usecases::portal::PortalConfig;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use clock::SettableClock;
use domain::portal::PortalSecret;
use requests::RequestCounter;
use resources::{Clients, Resources};
use runtime::config::AwsTimeouts;
use runtime::ClientOptions;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use template::StackDefinition;

/// The local stack's portal key, derived from its token secret (the
/// deployed functions get `PORTAL_LINK_SECRET` from Secrets Manager).
fn local_portal_secret(jwt_secret: &str) -> Option<PortalSecret> {
    let derived = hex::encode(Sha256::digest(format!("portal-links\0{jwt_secret}")));
    PortalSecret::new(derived.as_bytes())
}

/// One function as Lambda would run it: its own clients (and here its own
/// request counter), sharing the stack's clock.
pub struct Function<T> {
    pub job: T,
    pub context: Context,
    pub requests: RequestCounter,
}

/// The template's functions.
pub struct Functions {
    pub api: Function<axum::Router>,
    pub portal: Function<axum::Router>,
    pub scheduler: Function<Scheduler>,
    pub chase_worker: Function<ChaseWorker>,
    pub delivery_feedback: Function<DeliveryFeedback>,
    pub reports: Function<ReportsConsumer>,
}

impl Functions {
    /// Each function's request counter, by its binary's name.
    pub fn counters(&self) -> [(&'static str, &RequestCounter); 6] {
        [
            ("api", &self.api.requests),
            ("portal", &self.portal.requests),
            ("scheduler", &self.scheduler.requests),
            ("chase-worker", &self.chase_worker.requests),
            ("delivery-feedback", &self.delivery_feedback.requests),
            ("reports", &self.reports.requests),
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
    /// Where portal links point: the runner's own URL.
    pub portal_base_url: Option<String>,
    /// Whether the table has its stream, as `template.yaml` declares it (the
    /// reports function's source). The runner has it; tests that read no
    /// report leave it off: DynamoDB Local slows down for every table with a
    /// stream, and the suite creates hundreds of tables.
    pub table_stream: bool,
    /// Concurrent invocations of the queue-driven functions; the template's
    /// `MaximumConcurrency` defaults when `None`.
    pub concurrency: Option<tick::Concurrency>,
}

/// A running local stack's state, shared by every runner route.
pub struct LocalStack {
    pub functions: Functions,
    /// Clients of the runner itself (resources, the SQS event source
    /// mapping, tests reading the table); their requests are no function's.
    pub clients: Clients,
    pub table: store::Table,
    pub clock: Arc<SettableClock>,
    pub jwt_secret: String,
    pub resources: Resources,
    /// When the chase worker sent each message (moto keeps no times).
    pub send_log: Arc<outbox::SendLog>,
    /// moto's base URL, where `/_local/outbox` reads what was sent.
    pub moto_url: Option<String>,
    /// The table's stream, fed to the reports function.
    pub streams: streams::StreamPump,
    /// How many invocations of each queue-driven function run at once.
    pub concurrency: tick::Concurrency,
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
        let sdk = runtime::sdk_config().await;
        let stack = StackDefinition::load(&template::default_path())?;
        let clients = Clients::new(&sdk);
        let resources = resources::create(&clients, &stack, prefix, options.table_stream).await?;
        let clock = Arc::new(SettableClock::default());
        let send_log = Arc::new(outbox::SendLog::default());
        let timeouts = options.aws_timeouts.unwrap_or_default();
        let app_config = AppConfig {
            sender_domain: Some(resources.sender_domain.clone()),
            portal: local_portal_secret(jwt_secret).map(|secret| PortalConfig {
                secret,
                base_url: options.portal_base_url.clone(),
            }),
        };
        let request_deadline = options
            .request_deadline
            .unwrap_or(runtime::config::DEFAULT_REQUEST_DEADLINE);
        // Each function gets its own clients with its own request counter.
        let function = || {
            let requests = RequestCounter::default();
            let client_options = ClientOptions {
                timeouts,
                interceptors: vec![SharedInterceptor::new(requests.clone())],
                dynamodb_endpoint: options.dynamodb_endpoint.clone(),
                ses_endpoint: options.ses_endpoint.clone(),
                sns_endpoint: None,
                s3_path_style: true,
            };
            let store = store::DynamoStore::new(
                store::client(&sdk, &client_options),
                resources.table_name.clone(),
            );
            let context = Context::new(
                Arc::new(store),
                clock.clone(),
                Arc::new(UlidIds),
                app_config.clone(),
            );
            (context, client_options, requests)
        };
        let documents = |client_options: &ClientOptions| {
            Arc::new(messaging::s3::S3DocumentFiles::new(
                &sdk,
                client_options,
                resources.documents_bucket.clone(),
            ))
        };
        let (context, client_options, requests) = function();
        let api = Function {
            job: api::router(api::ApiState {
                context: context.clone(),
                files: documents(&client_options),
                request_deadline,
            }),
            context,
            requests,
        };
        let (context, client_options, requests) = function();
        let portal = Function {
            job: api::portal::router(api::ApiState {
                context: context.clone(),
                files: documents(&client_options),
                request_deadline,
            }),
            context,
            requests,
        };
        let (context, client_options, requests) = function();
        let scheduler = Function {
            job: Scheduler {
                context: context.clone(),
                chase_queue: Arc::new(messaging::sqs::SqsQueue::new(
                    &sdk,
                    &client_options,
                    resources.chase_queue_url.clone(),
                )),
                evaluation_queue: Arc::new(messaging::sqs::SqsQueue::new(
                    &sdk,
                    &client_options,
                    resources.evaluation_queue_url.clone(),
                )),
            },
            context,
            requests,
        };
        let (context, client_options, requests) = function();
        let chase_worker = Function {
            job: ChaseWorker {
                context: context.clone(),
                mailer: Arc::new(outbox::LoggedMailer {
                    inner: Arc::new(messaging::ses::SesMailer::new(&sdk, &client_options, None)),
                    clock: clock.clone(),
                    log: send_log.clone(),
                }),
                sms: Arc::new(outbox::LoggedSms {
                    inner: Arc::new(messaging::sns::SnsSms::new(&sdk, &client_options)),
                    clock: clock.clone(),
                    log: send_log.clone(),
                }),
                files: documents(&client_options),
                printer: Arc::new(app::ports::RecordedForPrint),
                email_pace: None,
            },
            context,
            requests,
        };
        let (context, _, requests) = function();
        let delivery_feedback = Function {
            job: DeliveryFeedback {
                context: context.clone(),
            },
            context,
            requests,
        };
        let (context, _, requests) = function();
        let reports = Function {
            job: ReportsConsumer {
                context: context.clone(),
            },
            context,
            requests,
        };
        Ok(Self {
            functions: Functions {
                api,
                portal,
                scheduler,
                chase_worker,
                delivery_feedback,
                reports,
            },
            streams: streams::StreamPump::new(&sdk),
            concurrency: options.concurrency.unwrap_or(tick::Concurrency {
                chase_worker: stack.worker_max_concurrency,
                evaluation: stack.evaluation_max_concurrency,
            }),
            table: store::Table::new(clients.dynamodb.clone(), resources.table_name.clone()),
            clients,
            clock,
            jwt_secret: jwt_secret.to_string(),
            resources,
            send_log,
            moto_url: std::env::var("AWS_ENDPOINT_URL").ok(),
        })
    }

    /// Feeds the table's stream to the reports function until it is caught up.
    pub async fn drain_streams(&self) -> anyhow::Result<streams::DrainReport> {
        self.streams.drain(self).await
    }

    /// AWS requests of every function since the last reset, by operation.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        let mut total = BTreeMap::new();
        for (_, counter) in self.functions.counters() {
            for (operation, count) in counter.snapshot() {
                *total.entry(operation).or_default() += count;
            }
        }
        total
    }

    pub fn reset_request_counts(&self) {
        for (_, counter) in self.functions.counters() {
            counter.reset();
        }
    }

    /// The IAM actions each function has used, by binary name.
    pub fn actions(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
        self.functions
            .counters()
            .into_iter()
            .map(|(name, counter)| (name, counter.actions()))
            .collect()
    }
}
