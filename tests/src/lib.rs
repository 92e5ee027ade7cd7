//! Test harness: a local stack of its own per test (own table and queues in
//! the shared emulators, own runner on a free port), driven over real HTTP.
// Test support: a failed setup step should stop the test where it failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use local_stack::token::{self, LocalClaims};
use local_stack::LocalStack;
pub use local_stack::StackOptions;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct TestStack {
    pub url: String,
    pub stack: Arc<LocalStack>,
    /// A tenant of this test's own.
    pub tenant: String,
    http: reqwest::Client,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestStack {
    /// Needs `AWS_ENDPOINT_URL_DYNAMODB` and `AWS_ENDPOINT_URL` pointing at
    /// running emulators, as `infra/test` sets them.
    pub async fn start() -> Self {
        Self::start_with(StackOptions::default()).await
    }

    /// A stack whose table has its stream, for the tests that read reports.
    pub async fn start_with_stream() -> Self {
        Self::start_with(StackOptions {
            table_stream: true,
            ..StackOptions::default()
        })
        .await
    }

    /// A stack whose functions reach AWS as `options` say (fault proxies,
    /// shorter timeouts).
    pub async fn start_with(mut options: StackOptions) -> Self {
        let prefix = format!("t{}", ulid::Ulid::new().to_string().to_lowercase());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        options.portal_base_url.get_or_insert_with(|| url.clone());
        let stack = Arc::new(
            LocalStack::create_with(&prefix, token::DEFAULT_SECRET, options)
                .await
                .expect("local stack resources (are the emulators running? use infra/test)"),
        );
        tokio::spawn(local_stack::server::serve(stack.clone(), listener));
        Self {
            url,
            stack,
            tenant: format!("tenant-{}", ulid::Ulid::new().to_string().to_lowercase()),
            http: reqwest::Client::new(),
        }
    }

    /// A token for this test's tenant; the user id is the role's name.
    pub fn token(&self, role: &str) -> String {
        self.token_for(&self.tenant, role, role)
    }

    pub fn token_for(&self, tenant: &str, sub: &str, role: &str) -> String {
        token::issue(
            &self.stack.jwt_secret,
            &LocalClaims::new(tenant, sub, role, 1),
        )
        .unwrap()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            body,
            headers,
        }
    }

    /// A GET answered with bytes (a PDF): status, headers and body.
    pub async fn get_bytes(
        &self,
        path: &str,
        token: &str,
        accept: &str,
    ) -> (u16, HeaderMap, Vec<u8>) {
        let response = self
            .http
            .get(format!("{}{}", self.url, path))
            .bearer_auth(token)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, version: u64, body: &Value) -> Reply {
        let version = format!("\"{version}\"");
        self.call(
            Method::PATCH,
            path,
            Some(token),
            Some(body),
            &[("if-match", &version)],
        )
        .await
    }

    /// AWS requests made by the stack's functions since the last reset, by operation.
    pub fn aws_requests(&self) -> BTreeMap<String, u64> {
        self.stack.request_counts()
    }

    /// DynamoDB capacity the functions consumed since the last reset, as
    /// DynamoDB reported it (table and indexes).
    pub fn capacity_of(&self, function: &str) -> local_stack::requests::Capacity {
        self.stack
            .functions
            .counters()
            .into_iter()
            .find(|(name, _)| *name == function)
            .map(|(_, counter)| counter.capacity())
            .unwrap_or_default()
    }

    pub fn reset_aws_requests(&self) {
        self.stack.reset_request_counts();
    }

    /// The table, for tests that read or write items directly (requests
    /// not counted against any function).
    pub fn table(&self) -> &store::Table {
        &self.stack.table
    }

    /// The scheduler's invocations for the tick at `at`: the tick and its
    /// evaluation units (the chases stay on the queue).
    pub async fn schedule(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> app::jobs::scheduler::SchedulerReport {
        local_stack::tick::schedule(&self.stack, at)
            .await
            .expect("scheduler tick")
    }

    /// The chase worker's invocations until the chase queue is empty.
    pub async fn work_chases(&self) -> local_stack::tick::QueueReport {
        local_stack::tick::work_chases(&self.stack)
            .await
            .expect("chase worker")
    }

    /// One chase worker invocation for an SQS event; the failed message ids.
    pub async fn work(&self, event: aws_lambda_events::sqs::SqsEvent) -> Vec<String> {
        self.stack
            .functions
            .chase_worker
            .job
            .handle(messaging::sqs_events::records(event))
            .await
    }

    /// One delivery feedback invocation for an SNS event.
    pub async fn feedback(
        &self,
        event: aws_lambda_events::sns::SnsEvent,
    ) -> Result<
        app::jobs::delivery_feedback::FeedbackReport,
        app::jobs::delivery_feedback::FeedbackError,
    > {
        let messages: Vec<String> = event.records.into_iter().map(|r| r.sns.message).collect();
        self.stack
            .functions
            .delivery_feedback
            .job
            .handle(&messages)
            .await
    }

    /// Feeds the table's stream to the reports function until it is caught
    /// up, as Lambda's event source mapping would.
    pub async fn drain_streams(&self) -> local_stack::streams::DrainReport {
        match self.stack.drain_streams().await {
            Ok(report) => report,
            Err(e) => panic!("stream drain: {e:?}"),
        }
    }

    /// One API function invocation for a Lambda request (as `lambda_http` builds it).
    pub async fn invoke_api(&self, request: lambda_http::Request) -> axum::response::Response {
        match tower::ServiceExt::oneshot(self.stack.functions.api.job.clone(), request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// When `AWS_ACTIONS_DIR` is set (infra/test sets it), each test leaves the
/// IAM actions its functions used there for the policy check.
impl Drop for TestStack {
    fn drop(&mut self) {
        let Ok(dir) = std::env::var("AWS_ACTIONS_DIR") else {
            return;
        };
        let actions = self.stack.actions();
        if actions.values().all(|a| a.is_empty()) {
            return;
        }
        let path = std::path::Path::new(&dir).join(format!("{}.json", ulid::Ulid::new()));
        if let Ok(json) = serde_json::to_vec(&actions) {
            let _ = std::fs::write(path, json);
        }
    }
}

pub mod chasing;
pub mod fixtures;
pub mod proxy;
