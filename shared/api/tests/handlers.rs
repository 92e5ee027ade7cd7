//! Fast tests of the API's edge and a few handlers: the router is called
//! in-process with API Gateway (HTTP API, payload 2.0) events, as Lambda
//! would, against the in-memory ports of `testkit`: no emulator, no network.

// Helpers outside `#[test]` functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use api::{router, ApiState};
use app::context::{AppConfig, Context};
use app::jobs::chase_worker::ChaseWorker;
use app::jobs::scheduler::Scheduler;
use app::messages::QueuedRecord;
use app::ports::{CustomerQuery, CustomerSort, CustomerStore, PageRequest, StoreError};
use axum::Router;
use chrono::{DateTime, Utc};
use domain::identity::TenantId;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use testkit::{
    MemoryQueue, MemoryStore, RecordingMailer, RecordingSms, SequentialIds, SettableClock,
};
use tower::ServiceExt;

struct Api {
    store: MemoryStore,
    clock: SettableClock,
    context: Context,
    router: Router,
}

/// Who calls: the claims API Gateway's JWT authorizer verified.
#[derive(Clone, Copy)]
struct As<'a> {
    tenant: &'a str,
    user: &'a str,
    role: Option<&'a str>,
}

const OWNER: As<'static> = As {
    tenant: "t-api",
    user: "owner-1",
    role: Some("owner"),
};

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Api {
    fn start() -> Self {
        let store = MemoryStore::new();
        let clock = SettableClock::new(utc("2026-03-01T07:00:00Z"));
        let context = Context::new(
            Arc::new(store.clone()),
            Arc::new(clock.clone()),
            Arc::new(SequentialIds::new()),
            AppConfig::default(),
        );
        let router = router(ApiState {
            context: context.clone(),
            files: Arc::new(testkit::MemoryFiles::new()),
            request_deadline: Duration::from_secs(5),
        });
        Self {
            store,
            clock,
            context,
            router,
        }
    }

    /// One request as API Gateway hands it to the function. `caller: None`
    /// is a request that reached the function without verified claims.
    async fn call(
        &self,
        method: &str,
        path: &str,
        caller: Option<As<'_>>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut header_map = Map::new();
        header_map.insert("content-type".into(), json!("application/json"));
        for (name, value) in headers {
            header_map.insert(name.to_string(), json!(value));
        }
        let mut context = json!({
            "accountId": "000000000000", "apiId": "test", "domainName": "api.test",
            "domainPrefix": "api", "requestId": ulid::Ulid::new().to_string(),
            "routeKey": "$default", "stage": "$default",
            "time": "01/Mar/2026:09:00:00 +0000", "timeEpoch": 1_772_355_600_000_i64,
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.1", "userAgent": "handlers-test"},
        });
        if let Some(caller) = caller {
            let mut claims = json!({"sub": caller.user, "tenant_id": caller.tenant});
            if let Some(role) = caller.role {
                claims["role"] = json!(role);
            }
            context["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        }
        let mut event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": raw_path,
            "rawQueryString": query, "headers": header_map, "requestContext": context,
            "isBase64Encoded": false,
        });
        if !query.is_empty() {
            let params: Map<String, Value> = url_pairs(query)
                .into_iter()
                .map(|(k, v)| (k, json!(v)))
                .collect();
            event["queryStringParameters"] = Value::Object(params);
        }
        if let Some(body) = body {
            event["body"] = json!(body.to_string());
        }
        let event: lambda_http::request::LambdaRequest = serde_json::from_value(event).unwrap();
        let request = lambda_http::Request::from(event);
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, caller: As<'_>) -> Reply {
        self.call("GET", path, Some(caller), &[], None).await
    }

    async fn post(&self, path: &str, caller: As<'_>, body: &Value) -> Reply {
        self.call("POST", path, Some(caller), &[], Some(body)).await
    }

    async fn customer_count(&self, tenant: &str) -> usize {
        let query = CustomerQuery {
            filters: Vec::new(),
            search: None,
            sort: CustomerSort::Name,
            page: PageRequest {
                limit: 100,
                cursor: None,
            },
        };
        let tenant = TenantId::parse(tenant).unwrap();
        self.store
            .list_customers(&tenant, query)
            .await
            .unwrap()
            .items
            .len()
    }
}

fn utc(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn globex(number: &str) -> Value {
    json!({"number": number, "name": "Globex", "currency": "EUR"})
}

#[tokio::test]
async fn a_customer_created_through_the_api_is_read_back() {
    let api = Api::start();

    let created = api.post("/v1/customers", OWNER, &globex("C-1")).await;

    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/customers/{id}").as_str())
    );
    assert!(created.header("x-request-id").is_some());
    let read = api.get(&format!("/v1/customers/{id}"), OWNER).await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    assert_eq!(read.body["number"], "C-1");
    assert_eq!(read.body["currency"], "EUR");
    assert_eq!(api.customer_count("t-api").await, 1);
}

#[tokio::test]
async fn a_request_without_verified_claims_is_401_and_without_a_known_role_403() {
    let api = Api::start();

    let anonymous = api
        .call("POST", "/v1/customers", None, &[], Some(&globex("C-1")))
        .await;
    let no_role = api
        .post(
            "/v1/customers",
            As {
                role: None,
                ..OWNER
            },
            &globex("C-1"),
        )
        .await;
    let bad_tenant = api
        .get(
            "/v1/settings",
            As {
                tenant: "t#other",
                ..OWNER
            },
        )
        .await;

    assert_eq!(anonymous.status, 401, "{:?}", anonymous.body);
    assert_eq!(anonymous.body["error"], "unauthorized");
    assert_eq!(no_role.status, 403, "{:?}", no_role.body);
    assert_eq!(bad_tenant.status, 401, "{:?}", bad_tenant.body);
    assert_eq!(api.customer_count("t-api").await, 0);
}

#[tokio::test]
async fn a_contributor_may_read_but_not_create_customers() {
    let api = Api::start();
    let contributor = As {
        user: "contrib-1",
        role: Some("contributor"),
        ..OWNER
    };

    let refused = api.post("/v1/customers", contributor, &globex("C-1")).await;
    let listed = api.get("/v1/customers", contributor).await;

    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "forbidden");
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(api.customer_count("t-api").await, 0);
}

#[tokio::test]
async fn invalid_fields_are_422_naming_each_field_and_write_nothing() {
    let api = Api::start();

    let reply = api
        .post(
            "/v1/customers",
            OWNER,
            &json!({"name": "Globex", "currency": "XXX", "colour": "red"}),
        )
        .await;
    let not_json = api
        .call(
            "POST",
            "/v1/customers",
            Some(OWNER),
            &[],
            Some(&json!("not an object")),
        )
        .await;

    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "validation_failed");
    for field in ["number", "currency", "colour"] {
        assert!(
            reply.body["fields"][field].is_string(),
            "{field}: {:?}",
            reply.body
        );
    }
    assert_eq!(not_json.status, 400, "{:?}", not_json.body);
    assert_eq!(not_json.body["error"], "malformed_body");
    assert!(api.store.commits().is_empty(), "nothing written");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response_and_writes_once() {
    let api = Api::start();
    let key = [("idempotency-key", "create-c-1")];
    let body = globex("C-1");

    let first = api
        .call("POST", "/v1/customers", Some(OWNER), &key, Some(&body))
        .await;
    let replay = api
        .call("POST", "/v1/customers", Some(OWNER), &key, Some(&body))
        .await;
    let reused = api
        .call(
            "POST",
            "/v1/customers",
            Some(OWNER),
            &key,
            Some(&globex("C-2")),
        )
        .await;

    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(replay.status, 201, "{:?}", replay.body);
    assert_eq!(replay.body, first.body, "the first response, repeated");
    assert_eq!(replay.header("location"), first.header("location"));
    assert_eq!(reused.status, 409, "{:?}", reused.body);
    assert_eq!(reused.body["error"], "idempotency_key_reused");
    assert_eq!(api.customer_count("t-api").await, 1);
}

#[tokio::test]
async fn a_store_outage_is_503_with_retry_after() {
    let api = Api::start();
    api.store
        .fail_next_call("settings", StoreError::Unavailable("down".into()));

    let down = api.get("/v1/settings", OWNER).await;
    let back = api.get("/v1/settings", OWNER).await;

    assert_eq!(down.status, 503, "{:?}", down.body);
    assert_eq!(down.body["error"], "unavailable");
    assert!(down.header("retry-after").is_some());
    assert_eq!(back.status, 200, "{:?}", back.body);
}

#[tokio::test]
async fn a_patch_needs_the_current_version_in_if_match() {
    let api = Api::start();
    let patch = json!({"company_name": "Acme Ltd"});

    let missing = api
        .call("PATCH", "/v1/settings", Some(OWNER), &[], Some(&patch))
        .await;
    let stale = api
        .call(
            "PATCH",
            "/v1/settings",
            Some(OWNER),
            &[("if-match", "\"7\"")],
            Some(&patch),
        )
        .await;
    let current = api
        .call(
            "PATCH",
            "/v1/settings",
            Some(OWNER),
            &[("if-match", "\"0\"")],
            Some(&patch),
        )
        .await;

    assert_eq!(missing.status, 428, "{:?}", missing.body);
    assert_eq!(stale.status, 409, "{:?}", stale.body);
    assert_eq!(stale.body["error"], "version_conflict");
    assert_eq!(current.status, 200, "{:?}", current.body);
    assert_eq!(current.body["company_name"], "Acme Ltd");
    assert_eq!(current.body["version"], 1);
}

#[tokio::test]
async fn another_tenants_customer_is_not_found() {
    let api = Api::start();
    let created = api.post("/v1/customers", OWNER, &globex("C-1")).await;
    let id = created.body["id"].as_str().unwrap();
    let other = As {
        tenant: "t-other",
        ..OWNER
    };

    let read = api.get(&format!("/v1/customers/{id}"), other).await;

    assert_eq!(read.status, 404, "{:?}", read.body);
    assert_eq!(read.body["error"], "not_found");
}

#[tokio::test]
async fn unknown_paths_are_404_unknown_methods_405_and_empty_filters_422() {
    let api = Api::start();

    let path = api.get("/v1/nothing-here", OWNER).await;
    let method = api
        .call("DELETE", "/v1/settings", Some(OWNER), &[], None)
        .await;
    let filter = api.get("/v1/invoices?customer_id=", OWNER).await;

    assert_eq!(path.status, 404, "{:?}", path.body);
    assert_eq!(path.body["error"], "not_found");
    assert_eq!(method.status, 405, "{:?}", method.body);
    assert_eq!(method.body["error"], "method_not_allowed");
    let allow = method.header("allow").unwrap_or_default();
    assert!(
        allow.contains("GET") && allow.contains("PATCH"),
        "Allow: {allow:?}"
    );
    assert_eq!(filter.status, 422, "{:?}", filter.body);
    assert!(filter.body["fields"]["customer_id"].is_string());
}

#[tokio::test]
async fn a_customer_enrolled_through_the_api_is_chased_by_the_jobs() {
    let api = Api::start();
    let created = |reply: Reply| {
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    };
    let customer = created(api.post("/v1/customers", OWNER, &globex("C-1")).await);
    created(
        api.post(
            &format!("/v1/customers/{customer}/contacts"),
            OWNER,
            &json!({"name": "Pat", "email": "ap@globex.example"}),
        )
        .await,
    );
    created(
        api.post(
            "/v1/invoices",
            OWNER,
            &json!({"customer_id": customer, "number": "F-1", "currency": "EUR",
                    "issue_date": "2026-03-01", "due_date": "2026-03-31", "total": "80.00"}),
        )
        .await,
    );
    let template = created(
        api.post(
            "/v1/templates",
            OWNER,
            &json!({"name": "Reminder", "channel": "email", "subject": "{{customer_name}}",
                    "body": "<p>Please pay {{account_balance}}.</p>"}),
        )
        .await,
    );
    let cadence = created(
        api.post(
            "/v1/cadences",
            OWNER,
            &json!({"name": "Standard", "run_at": "08:00", "steps": [
                {"trigger": "account_age", "days": 0, "action": "email", "template_id": template}]}),
        )
        .await,
    );
    let enrolled = api
        .call(
            "PUT",
            &format!("/v1/customers/{customer}/chasing"),
            Some(OWNER),
            &[],
            Some(&json!({"cadence_id": cadence})),
        )
        .await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);

    let queue = MemoryQueue::new();
    let at = utc("2026-03-01T08:00:00Z");
    api.clock.set(at);
    let evaluations = MemoryQueue::new();
    let scheduler = Scheduler {
        context: api.context.clone(),
        chase_queue: Arc::new(queue.clone()),
        evaluation_queue: Arc::new(evaluations.clone()),
    };
    let report = testkit::tick_through(&scheduler, &evaluations, at)
        .await
        .unwrap();
    assert_eq!(report.enqueued, 1);
    let mailer = RecordingMailer::new();
    let worker = ChaseWorker {
        context: api.context.clone(),
        mailer: Arc::new(mailer.clone()),
        sms: Arc::new(RecordingSms::new()),
        files: Arc::new(testkit::MemoryFiles::new()),
        printer: Arc::new(app::ports::RecordedForPrint),
        email_pace: None,
    };
    let records = queue
        .take()
        .into_iter()
        .map(|body| QueuedRecord {
            message_id: Some("m-1".into()),
            body: Some(body),
            receive_count: 1,
        })
        .collect();
    assert!(worker.handle(records).await.is_empty());

    assert_eq!(mailer.sent().len(), 1);
    assert_eq!(mailer.sent()[0].to, ["ap@globex.example"]);
    let history = api
        .get(&format!("/v1/customers/{customer}/history"), OWNER)
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let types: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["type"].as_str())
        .collect();
    assert_eq!(
        types.first(),
        Some(&"chase_email"),
        "newest first: {types:?}"
    );
}
