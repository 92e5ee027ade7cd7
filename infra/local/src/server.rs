//! The runner's HTTP server. `/v1/*` goes to the API function exactly as API
//! Gateway would send it: an HTTP API v2 event with the verified JWT claims
//! in `requestContext.authorizer.jwt.claims`. `/_local/*` exists only here.

use crate::LocalStack;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// API Gateway HTTP APIs accept bodies up to 10 MB; the function enforces
/// its own smaller limit.
const GATEWAY_BODY_LIMIT: usize = 10 * 1024 * 1024;
const ROUTE_KEY: &str = "ANY /v1/{proxy+}";
const PORTAL_ROUTE_KEY: &str = "ANY /p/{proxy+}";

pub fn router(stack: Arc<LocalStack>) -> Router {
    Router::new()
        .route("/_local/clock", post(set_clock))
        .route("/_local/tick", post(tick))
        .route("/_local/streams", post(drain_streams))
        .route("/_local/outbox", get(outbox))
        .route(
            "/_local/requests",
            get(request_counts).delete(reset_request_counts),
        )
        .fallback(api_gateway)
        .with_state(stack)
}

pub async fn serve(
    stack: Arc<LocalStack>,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    axum::serve(listener, router(stack)).await
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

#[derive(Deserialize)]
struct ClockBody {
    now: Option<DateTime<Utc>>,
}

async fn set_clock(State(stack): State<Arc<LocalStack>>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<ClockBody>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "expected {\"now\": RFC 3339 instant or null}",
        );
    };
    stack.clock.set(body.now);
    let note = if body.now.is_some() {
        "the clock stays fixed at this instant (ticks move it) until {\"now\": null}"
    } else {
        "the clock follows real time"
    };
    Json(json!({
        "now": app::ports::Clock::now(stack.clock.as_ref()),
        "fixed": body.now.is_some(),
        "note": note,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct TickBody {
    at: DateTime<Utc>,
}

/// Feeds the table's stream to the reports function until caught up (the
/// runner also does so every second).
async fn drain_streams(State(stack): State<Arc<LocalStack>>) -> Response {
    match stack.drain_streams().await {
        Ok(report) => Json(report).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "stream drain failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "drain_failed",
                &e.to_string(),
            )
        }
    }
}

async fn tick(State(stack): State<Arc<LocalStack>>, body: axum::body::Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<TickBody>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "expected {\"at\": RFC 3339 instant}",
        );
    };
    match crate::tick::run(&stack, body.at).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "tick failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "tick_failed",
                &e.to_string(),
            )
        }
    }
}

#[derive(Deserialize)]
struct OutboxQuery {
    /// Only messages to this address or phone number.
    to: Option<String>,
    /// `text` for a terminal; JSON otherwise.
    format: Option<String>,
}

async fn outbox(
    State(stack): State<Arc<LocalStack>>,
    axum::extract::Query(query): axum::extract::Query<OutboxQuery>,
) -> Response {
    let moto_url = stack.moto_url.as_deref();
    match crate::outbox::read(moto_url, &stack.send_log, query.to.as_deref()).await {
        Ok(messages) if query.format.as_deref() == Some("text") => {
            crate::outbox::as_text(&messages).into_response()
        }
        Ok(messages) => Json(json!({
            "items": messages,
            "moto_data": moto_url.map(|url| format!("{url}/moto-api/data.json")),
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "outbox failed");
            error(StatusCode::BAD_GATEWAY, "outbox_failed", &e.to_string())
        }
    }
}

async fn request_counts(State(stack): State<Arc<LocalStack>>) -> Response {
    let by_function: std::collections::BTreeMap<&str, _> = stack
        .functions
        .counters()
        .into_iter()
        .map(|(name, counter)| (name, counter.snapshot()))
        .collect();
    Json(json!({"total": stack.request_counts(), "by_function": by_function})).into_response()
}

async fn reset_request_counts(State(stack): State<Arc<LocalStack>>) -> Response {
    stack.reset_request_counts();
    StatusCode::NO_CONTENT.into_response()
}

async fn api_gateway(State(stack): State<Arc<LocalStack>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    // The documentation routes have no authorizer in template.yaml either.
    let route = if let Some((method, doc_path)) = api::docs::DOC_ROUTES
        .iter()
        .find(|(method, doc_path)| *doc_path == path && request.method().as_str() == *method)
    {
        GatewayRoute {
            key: format!("{method} {doc_path}"),
            proxy: None,
            claims: None,
        }
    } else if let Some(proxy) = path.strip_prefix("/p/") {
        // The portal's routes have no authorizer: the token is the capability.
        GatewayRoute {
            key: PORTAL_ROUTE_KEY.to_string(),
            proxy: Some(proxy.to_string()),
            claims: None,
        }
    } else {
        let Some(proxy) = path.strip_prefix("/v1/") else {
            return error(StatusCode::NOT_FOUND, "not_found", "no such route");
        };
        let Some(claims) = bearer_claims(&stack, request.headers()) else {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid bearer token",
            );
        };
        GatewayRoute {
            key: ROUTE_KEY.to_string(),
            proxy: Some(proxy.to_string()),
            claims: Some(claims),
        }
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, GATEWAY_BODY_LIMIT).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body is too large",
        );
    };
    let event = gateway_event(&parts, &path, &route, &body);
    let lambda_request = match serde_json::from_value::<lambda_http::request::LambdaRequest>(event)
    {
        Ok(request) => lambda_http::Request::from(request),
        Err(e) => {
            tracing::error!(error = %e, "cannot build API Gateway event");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error",
            );
        }
    };
    let function = if route.key == PORTAL_ROUTE_KEY {
        &stack.functions.portal
    } else {
        &stack.functions.api
    };
    match tower::ServiceExt::oneshot(function.job.clone(), lambda_request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn bearer_claims(stack: &LocalStack, headers: &HeaderMap) -> Option<HashMap<String, String>> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    crate::token::verify(&stack.jwt_secret, token.trim())
}

/// The API Gateway route a request matched.
struct GatewayRoute {
    key: String,
    /// `{proxy+}` of `/v1/{proxy+}`.
    proxy: Option<String>,
    /// The verified token's claims; `None` on routes without the authorizer.
    claims: Option<HashMap<String, String>>,
}

/// An API Gateway HTTP API (payload 2.0) event for this request.
fn gateway_event(
    parts: &axum::http::request::Parts,
    path: &str,
    route: &GatewayRoute,
    body: &[u8],
) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        if name == axum::http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| Value::String(c.trim().to_string())),
            );
            continue;
        }
        // API Gateway joins repeated headers with commas.
        let joined = match headers.get(name.as_str()).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value.to_string(),
        };
        headers.insert(name.as_str().to_string(), Value::String(joined));
    }
    let query = parts.uri.query().unwrap_or("").to_string();
    let mut query_parameters = Map::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let joined = match query_parameters.get(name.as_ref()).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value.to_string(),
        };
        query_parameters.insert(name.to_string(), Value::String(joined));
    }
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let now = Utc::now();
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": route.key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": is_base64,
    });
    if let Some(proxy) = &route.proxy {
        event["pathParameters"] = json!({"proxy": proxy});
    }
    if let Some(claims) = &route.claims {
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query_parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(query_parameters);
    }
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}
