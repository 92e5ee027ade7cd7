//! docs/api.md (Conventions): the OpenAPI document `shared/api/openapi.yaml` describes the whole
//! API. Checked three ways: the document itself (OpenAPI 3.1.0, every `$ref`
//! resolves, the conventions every operation must state), the route table
//! (every arm documented, every documented operation routed), and the running
//! API (every documented operation reaches its handler, answers only statuses
//! it documents, and real responses match the documented schemas).

use integration_tests::{Reply, TestStack};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Every route the API serves, from its route table.
use api::ROUTES;

/// A well-formed ULID no test ever creates.
const MISSING_ID: &str = "01J00000000000000000000000";

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/api/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("shared/api/openapi.yaml exists");
    serde_norway::from_str(&text).expect("shared/api/openapi.yaml is valid YAML")
}

/// One documented operation.
struct Operation<'a> {
    method: String,
    path: String,
    /// Path-level and operation-level parameters, `$ref`s resolved.
    parameters: Vec<&'a Value>,
    op: &'a Value,
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut found = Vec::new();
    let paths = doc["paths"].as_object().expect("paths is an object");
    for (path, item) in paths {
        let shared: Vec<&Value> = params(doc, &item["parameters"]);
        for method in HTTP_METHODS {
            if let Some(op) = item.get(method) {
                let mut parameters = shared.clone();
                parameters.extend(params(doc, &op["parameters"]));
                found.push(Operation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    parameters,
                    op,
                });
            }
        }
    }
    found
}

fn params<'a>(doc: &'a Value, list: &'a Value) -> Vec<&'a Value> {
    list.as_array()
        .map(|items| items.iter().map(|p| resolve(doc, p)).collect())
        .unwrap_or_default()
}

/// Follows `$ref`s (local ones only) until a value without one.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        value = pointer(doc, reference)
            .unwrap_or_else(|| panic!("{reference} does not resolve in openapi.yaml"));
    }
    panic!("$ref cycle in openapi.yaml");
}

fn pointer<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let fragment = reference.strip_prefix('#')?;
    let fragment = fragment.replace("~1", "/").replace("~0", "~");
    doc.pointer(&fragment)
}

fn path_params(template: &str) -> Vec<&str> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn header_param<'a>(operation: &Operation<'a>, name: &str) -> Option<&'a Value> {
    operation.parameters.iter().copied().find(|p| {
        p["in"] == "header"
            && p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

fn find_operation<'a>(doc: &'a Value, method: &str, template: &str) -> Operation<'a> {
    operations(doc)
        .into_iter()
        .find(|o| o.method == method && o.path == template)
        .unwrap_or_else(|| panic!("{method} {template} is not documented"))
}

/// Every `$ref` anywhere in the document, with where it is.
fn refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "$ref" {
                    if let Some(target) = item.as_str() {
                        out.push((at.clone(), target));
                    }
                } else {
                    refs(item, format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refs(item, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Whether a response's JSON schema is (or extends) the shared `Error`.
fn is_error_schema(doc: &Value, schema: &Value) -> bool {
    if schema.get("$ref").and_then(Value::as_str) == Some("#/components/schemas/Error") {
        return true;
    }
    let schema = resolve(doc, schema);
    schema["allOf"]
        .as_array()
        .is_some_and(|parts| parts.iter().any(|p| is_error_schema(doc, p)))
}

#[test]
fn the_document_is_openapi_3_1_with_the_conventions_of_design_4() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string(), "info.title");
    assert!(doc["info"]["version"].is_string(), "info.version");
    assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
    assert!(doc["components"].is_object(), "components");
    assert!(
        doc["components"]["schemas"].is_object(),
        "components.schemas"
    );

    // Bearer JWT, applied to every operation.
    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    assert_eq!(doc["security"], json!([{"bearerAuth": []}]));

    // The shared error body.
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], json!(["error", "message"]));
    assert_eq!(error["properties"]["error"]["type"], "string");
    assert_eq!(error["properties"]["message"]["type"], "string");
    assert_eq!(
        error["properties"]["fields"]["additionalProperties"]["type"],
        "string"
    );

    let mut all_refs = Vec::new();
    refs(&doc, String::new(), &mut all_refs);
    for (at, target) in &all_refs {
        assert!(
            pointer(&doc, target).is_some(),
            "{at}: $ref {target} does not resolve"
        );
    }

    let mut operation_ids = BTreeSet::new();
    for operation in operations(&doc) {
        let name = format!("{} {}", operation.method, operation.path);
        let op = operation.op;
        assert!(name.contains(" /v1/"), "{name}: every path is under /v1");
        if let Some(id) = op["operationId"].as_str() {
            assert!(operation_ids.insert(id), "{name}: operationId {id} twice");
        }
        assert!(
            op.get("security").is_none(),
            "{name}: no operation is exempt from the bearer token"
        );

        // Path parameters are declared, required, and only those of the path.
        let declared: BTreeSet<&str> = operation
            .parameters
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{name}: path parameters are required");
                p["name"].as_str().unwrap()
            })
            .collect();
        let expected: BTreeSet<&str> = path_params(&operation.path).into_iter().collect();
        assert_eq!(declared, expected, "{name}: path parameters");

        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: responses"));
        assert!(
            responses.keys().any(|code| code.starts_with('2')),
            "{name}: a success response"
        );
        assert!(responses.contains_key("401"), "{name}: 401 (bearer token)");
        for (code, response) in responses {
            let response = resolve(&doc, response);
            assert!(
                response["description"].is_string(),
                "{name} {code}: description"
            );
            if code.starts_with('4') || code.starts_with('5') || code == "default" {
                let schema = &response["content"]["application/json"]["schema"];
                assert!(
                    is_error_schema(&doc, schema),
                    "{name} {code}: error responses use the Error schema"
                );
            }
        }

        match operation.method.as_str() {
            "PATCH" => {
                let if_match = header_param(&operation, "If-Match")
                    .unwrap_or_else(|| panic!("{name}: If-Match"));
                assert_eq!(if_match["required"], true, "{name}: If-Match is required");
                for code in ["409", "428"] {
                    assert!(responses.contains_key(code), "{name}: {code}");
                }
            }
            "POST" => {
                assert!(
                    header_param(&operation, "Idempotency-Key").is_some(),
                    "{name}: Idempotency-Key"
                );
                assert!(responses.contains_key("409"), "{name}: 409 (key reused)");
            }
            _ => {}
        }
        if ["POST", "PUT", "PATCH"].contains(&operation.method.as_str()) {
            assert!(responses.contains_key("413"), "{name}: 413");
        }
        if op.get("requestBody").is_some() {
            assert!(responses.contains_key("400"), "{name}: 400 malformed body");
        }
        if !path_params(&operation.path).is_empty() {
            assert!(
                responses.contains_key("404"),
                "{name}: a path with an id can be 404"
            );
        }

        // Lists: limit and cursor in, {items, next_cursor} out.
        let has = |param: &str| {
            operation
                .parameters
                .iter()
                .any(|p| p["in"] == "query" && p["name"] == param)
        };
        if has("cursor") {
            assert!(has("limit"), "{name}: limit with cursor");
            let schema = resolve(
                &doc,
                &resolve(&doc, &responses["200"])["content"]["application/json"]["schema"],
            );
            assert_eq!(
                schema["required"],
                json!(["items", "next_cursor"]),
                "{name}: the list envelope"
            );
            assert_eq!(schema["properties"]["items"]["type"], "array", "{name}");
        }

        // A response that names a version carries it as the ETag.
        for (code, response) in responses.iter().filter(|(c, _)| c.starts_with('2')) {
            let response = resolve(&doc, response);
            let schema = &response["content"]["application/json"]["schema"];
            if schema.is_null() {
                continue;
            }
            let schema = resolve(&doc, schema);
            let versioned = schema["properties"]["version"].is_object()
                && schema["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!("version")))
                && schema["properties"]["items"].is_null();
            if versioned && !name.contains("/migrate") {
                assert!(
                    response["headers"]["ETag"].is_object(),
                    "{name} {code}: a versioned resource carries its ETag"
                );
            }
        }
    }

    // Money is a decimal string, ids are strings.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Decimal"]["type"], "string");
    assert_eq!(schemas["Id"]["type"], "string");
    for (schema, field) in [
        ("Invoice", "total"),
        ("Invoice", "balance"),
        ("Payment", "amount"),
        ("Adjustment", "amount"),
        ("Promise", "amount"),
        ("CustomerBalance", "outstanding"),
        ("Money", "amount"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["$ref"], "#/components/schemas/Decimal",
            "{schema}.{field} is a decimal string"
        );
    }
    for schema in [
        "Settings",
        "ContactRole",
        "Customer",
        "Contact",
        "CustomerGroup",
        "Invoice",
        "Payment",
        "Adjustment",
        "Promise",
        "Task",
        "Note",
        "HistoryItem",
        "Template",
        "Cadence",
        "CustomerPage",
        "ChasingPreview",
        "ImportResult",
    ] {
        assert!(schemas[schema].is_object(), "schema {schema}");
    }
}

fn listed() -> BTreeSet<(String, String)> {
    let set: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        set.len(),
        ROUTES.len(),
        "the route table lists a route twice"
    );
    set
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|o| (o.method, o.path))
        .collect();
    let routed = listed();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from shared/api/openapi.yaml: {undocumented:?}"
    );
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unrouted.is_empty(),
        "documented operations the router does not serve: {unrouted:?}"
    );
}

fn is_no_route(reply: &Reply) -> bool {
    reply.status == 404 && reply.body["message"] == "no such route"
}

fn assert_error_body(name: &str, reply: &Reply) {
    assert!(
        reply.body["error"].is_string() && reply.body["message"].is_string(),
        "{name}: a {} must be a JSON {{error, message}} body, got {:?}",
        reply.status,
        reply.body
    );
}

/// The concrete paths an operation is probed at: every path parameter a
/// missing id, then (for parameters with an enum) each allowed value.
fn probe_paths(operation: &Operation<'_>) -> Vec<String> {
    let fill = |value_of: &dyn Fn(&str) -> String| {
        let mut path = operation.path.clone();
        for name in path_params(&operation.path) {
            path = path.replace(&format!("{{{name}}}"), &value_of(name));
        }
        path
    };
    let mut paths = vec![fill(&|_| MISSING_ID.to_string())];
    for parameter in operation.parameters.iter().filter(|p| p["in"] == "path") {
        let name = parameter["name"].as_str().unwrap();
        for value in parameter["schema"]["enum"].as_array().into_iter().flatten() {
            let value = value.as_str().unwrap();
            paths.push(fill(&|n| {
                if n == name {
                    value.to_string()
                } else {
                    MISSING_ID.to_string()
                }
            }));
        }
    }
    paths
}

#[tokio::test]
async fn every_documented_operation_reaches_its_handler_and_answers_as_documented() {
    let doc = document();
    let stack = TestStack::start().await;
    let owner = stack.token("owner");

    // The sentinels below mean something: an unknown path is "no such route",
    // a known path with another method 405.
    let unknown = stack.get("/v1/no-such-thing", &owner).await;
    assert!(is_no_route(&unknown), "{unknown:?}");
    assert_eq!(unknown.body["error"], "not_found");
    let wrong_method = stack
        .call(Method::PUT, "/v1/settings", Some(&owner), None, &[])
        .await;
    assert_eq!(wrong_method.status, 405);
    let missing = stack
        .get(&format!("/v1/customers/{MISSING_ID}"), &owner)
        .await;
    assert_eq!(missing.status, 404);
    assert!(!is_no_route(&missing), "{missing:?}");

    let mut probes = 0;
    for operation in operations(&doc) {
        let method = Method::from_bytes(operation.method.as_bytes()).unwrap();
        let sends_body = ["POST", "PUT", "PATCH"].contains(&operation.method.as_str());
        let body = sends_body.then(|| json!({}));
        for path in probe_paths(&operation) {
            let name = format!("{} {path}", operation.method);
            let mut headers = Vec::new();
            if operation.method == "PATCH" {
                headers.push(("if-match", "\"1\""));
            }
            let key = format!("openapi-probe-{probes}");
            if operation.method == "POST" {
                headers.push(("idempotency-key", key.as_str()));
            }
            let reply = stack
                .call(method.clone(), &path, Some(&owner), body.as_ref(), &headers)
                .await;
            probes += 1;
            assert_ne!(reply.status, 405, "{name}: {:?}", reply.body);
            assert!(!is_no_route(&reply), "{name}: not routed");
            if !(200..300).contains(&reply.status) {
                assert_error_body(&name, &reply);
            }
            check_reply(&doc, &operation, &name, &reply);

            let anonymous = stack
                .call(method.clone(), &path, None, body.as_ref(), &[])
                .await;
            assert_eq!(anonymous.status, 401, "{name} without a token");
            assert_error_body(&name, &anonymous);
        }
    }
    assert!(probes >= ROUTES.len());
}

/// The reply's status is one the operation documents (5xx may come from
/// anywhere), documented headers are present, and a JSON body matches the
/// documented schema.
fn check_reply(doc: &Value, operation: &Operation<'_>, name: &str, reply: &Reply) {
    let responses = &operation.op["responses"];
    let code = reply.status.to_string();
    let response = match responses.get(&code) {
        Some(response) => resolve(doc, response),
        None if reply.status >= 500 => resolve(doc, &responses["default"]),
        None => panic!(
            "{name}: answered {code}, which openapi.yaml does not list: {:?}",
            reply.body
        ),
    };
    for header in ["ETag", "Location"] {
        if response["headers"][header].is_object() && (200..300).contains(&reply.status) {
            assert!(
                reply.header(header).is_some(),
                "{name}: {code} documents {header} but it is missing"
            );
        }
    }
    let content = &response["content"];
    if content.is_null() {
        assert!(
            reply.body.is_null(),
            "{name}: {code} documents no body: {:?}",
            reply.body
        );
        return;
    }
    let content_type = reply.header("content-type").unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let Some(entry) = content.get(media) else {
        panic!("{name}: {code} answered {content_type}, not a documented media type");
    };
    if media == "application/json" {
        let mut problems = Vec::new();
        validate(doc, &entry["schema"], &reply.body, "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{name}: {code} does not match openapi.yaml:\n  {}\nbody: {}",
            problems.join("\n  "),
            reply.body
        );
    }
}

/// A JSON Schema (2020-12) subset, enough for this document: `$ref`, `type`,
/// `enum`, `required`, `properties`, `additionalProperties`, `items`,
/// `allOf`, `oneOf`, `anyOf`, `format` (date, date-time) and the formats of
/// the `Id`, `Decimal` and `Currency` components.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = pointer(doc, reference).expect("$ref resolves");
        validate(doc, target, value, at, problems);
        check_named_format(reference, value, at, problems);
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.iter().any(|t| has_type(value, t)) {
            problems.push(format!("{at}: {value} is not of type {allowed:?}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            problems.push(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    if let (Some(format), Some(text)) =
        (schema.get("format").and_then(Value::as_str), value.as_str())
    {
        let ok = match format {
            "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
            "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            _ => true,
        };
        if !ok {
            problems.push(format!("{at}: {text:?} is not a {format}"));
        }
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        validate(doc, part, value, at, problems);
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let matching = options
                .iter()
                .filter(|option| {
                    let mut found = Vec::new();
                    validate(doc, option, value, at, &mut found);
                    found.is_empty()
                })
                .count();
            if matching == 0 || (exactly_one && matching > 1) {
                problems.push(format!(
                    "{at}: {value} matches {matching} of the {keyword} options"
                ));
            }
        }
    }
    if let Some(object) = value.as_object() {
        for field in schema["required"].as_array().into_iter().flatten() {
            let field = field.as_str().unwrap_or_default();
            if !object.contains_key(field) {
                problems.push(format!("{at}: required field {field} is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, item) in object {
            let path = format!("{at}.{key}");
            match (
                properties.and_then(|p| p.get(key)),
                &schema["additionalProperties"],
            ) {
                (Some(property), _) => validate(doc, property, item, &path, problems),
                (None, Value::Bool(false)) => {
                    problems.push(format!("{path}: not a documented field"))
                }
                (None, extra @ Value::Object(_)) => validate(doc, extra, item, &path, problems),
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(doc, schema, item, &format!("{at}[{i}]"), problems);
        }
    }
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}

fn check_named_format(reference: &str, value: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(text) = value.as_str() else {
        return;
    };
    let ok = match reference.rsplit('/').next() {
        Some("Id") => text.len() == 26 && text.chars().all(|c| c.is_ascii_alphanumeric()),
        Some("Decimal") => {
            text.parse::<rust_decimal::Decimal>().is_ok()
                && !text.contains(['e', 'E', '+'])
                && !text.starts_with('.')
        }
        Some("Currency") => text.len() == 3 && text.chars().all(|c| c.is_ascii_uppercase()),
        _ => true,
    };
    if !ok {
        problems.push(format!("{at}: {text:?} is not a valid {reference}"));
    }
}

/// Calls the API and checks the reply against the operation documented for
/// `method template`; returns it for the next step.
struct Checked<'a> {
    doc: &'a Value,
    stack: &'a TestStack,
    token: String,
}

impl Checked<'_> {
    async fn call(
        &self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
        expected: u16,
    ) -> Reply {
        let operation = find_operation(self.doc, method, template);
        let reply = self
            .stack
            .call(
                Method::from_bytes(method.as_bytes()).unwrap(),
                path,
                Some(&self.token),
                body.as_ref(),
                headers,
            )
            .await;
        let name = format!("{method} {path}");
        assert_eq!(reply.status, expected, "{name}: {:?}", reply.body);
        check_reply(self.doc, &operation, &name, &reply);
        reply
    }

    async fn get(&self, template: &str, path: &str) -> Reply {
        self.call("GET", template, path, None, &[], 200).await
    }

    async fn post(&self, template: &str, path: &str, body: Value, expected: u16) -> Reply {
        self.call("POST", template, path, Some(body), &[], expected)
            .await
    }

    async fn patch(&self, template: &str, path: &str, reply: &Reply, body: Value) -> Reply {
        let version = reply
            .header("etag")
            .expect("an ETag to send back")
            .to_string();
        self.call(
            "PATCH",
            template,
            path,
            Some(body),
            &[("if-match", &version)],
            200,
        )
        .await
    }
}

fn id(reply: &Reply) -> String {
    reply.body["id"].as_str().expect("an id").to_string()
}

#[tokio::test]
async fn real_responses_match_the_documented_schemas() {
    let doc = document();
    let stack = TestStack::start().await;
    let clock = stack
        .call(
            Method::POST,
            "/_local/clock",
            None,
            Some(&json!({"now": "2026-06-15T12:00:00Z"})),
            &[],
        )
        .await;
    assert_eq!(clock.status, 200);
    let api = Checked {
        doc: &doc,
        stack: &stack,
        token: stack.token("owner"),
    };

    let settings = api.get("/v1/settings", "/v1/settings").await;
    api.patch(
        "/v1/settings",
        "/v1/settings",
        &settings,
        json!({"company_name": "Acme Ltd", "time_zone": "Europe/London", "sender_email": "ar@acme.example.com", "frequency_cap": {"max_messages": 2, "window_days": 7}, "auto_settle": false}),
    )
    .await;

    let role = api
        .post(
            "/v1/contact-roles",
            "/v1/contact-roles",
            json!({"name": "Accounts payable"}),
            201,
        )
        .await;
    let role_id = id(&role);
    api.get("/v1/contact-roles", "/v1/contact-roles?limit=10")
        .await;

    let group = api
        .post(
            "/v1/customer-groups",
            "/v1/customer-groups",
            json!({"name": "Retail", "settings": {"payment_terms": "NET30", "autopay": false, "chasing_threshold": "10.00"}}),
            201,
        )
        .await;
    let group_id = id(&group);
    let group_path = format!("/v1/customer-groups/{group_id}");
    api.get("/v1/customer-groups/{id}", &group_path).await;
    api.patch(
        "/v1/customer-groups/{id}",
        &group_path,
        &group,
        json!({"name": "Retail UK"}),
    )
    .await;
    api.get("/v1/customer-groups", "/v1/customer-groups").await;

    let customer = api
        .post(
            "/v1/customers",
            "/v1/customers",
            json!({
                "number": "C-1", "name": "Acme Retail", "email": "ap@acme.example.com",
                "phone": "+447700900123", "language": "en", "currency": "GBP",
                "tags": ["vip"], "group_id": group_id, "credit_limit": "5000.00",
                "billing_address": {"line1": "1 High Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
                "metadata": {"erp_id": "A-17"}
            }),
            201,
        )
        .await;
    let cid = id(&customer);
    let customer_path = format!("/v1/customers/{cid}");
    api.get("/v1/customers/{id}", &customer_path).await;
    api.patch(
        "/v1/customers/{id}",
        &customer_path,
        &customer,
        json!({"payment_terms": "NET14"}),
    )
    .await;
    api.get("/v1/customers", "/v1/customers?sort=name&limit=5")
        .await;
    api.get("/v1/customers/export", "/v1/customers/export")
        .await;

    let contact = api
        .post(
            "/v1/customers/{id}/contacts",
            &format!("{customer_path}/contacts"),
            json!({"name": "Pat Payer", "email": "pat@acme.example.com", "roles": [role_id], "receives_chasers": true}),
            201,
        )
        .await;
    let contact_path = format!("{customer_path}/contacts/{}", id(&contact));
    api.patch(
        "/v1/customers/{id}/contacts/{contact_id}",
        &contact_path,
        &contact,
        json!({"cc": true}),
    )
    .await;
    api.get(
        "/v1/customers/{id}/contacts",
        &format!("{customer_path}/contacts"),
    )
    .await;

    let invoice = api
        .post(
            "/v1/invoices",
            "/v1/invoices",
            json!({"customer_id": cid, "number": "INV-1", "currency": "GBP", "issue_date": "2026-05-01", "due_date": "2026-05-31", "total": "300.00"}),
            201,
        )
        .await;
    let invoice_id = id(&invoice);
    let invoice_path = format!("/v1/invoices/{invoice_id}");
    let planned = api
        .post(
            "/v1/invoices",
            "/v1/invoices",
            json!({"customer_id": cid, "number": "INV-2", "currency": "GBP", "issue_date": "2026-06-01", "total": "200.00",
                   "payment_plan": {"installments": [{"due_date": "2026-06-30", "amount": "100.00"}, {"due_date": "2026-07-30", "amount": "100.00"}]}}),
            201,
        )
        .await;
    api.get("/v1/invoices/{id}", &invoice_path).await;
    api.patch(
        "/v1/invoices/{id}",
        &format!("/v1/invoices/{}", id(&planned)),
        &planned,
        json!({"collection_status": "disputed", "dispute_reason": "wrong quantity"}),
    )
    .await;
    api.get("/v1/invoices", &format!("/v1/invoices?customer_id={cid}"))
        .await;
    api.get("/v1/invoices", "/v1/invoices?status=open&overdue=true")
        .await;
    let spare = api
        .post(
            "/v1/invoices",
            "/v1/invoices",
            json!({"customer_id": cid, "number": "INV-3", "currency": "GBP", "issue_date": "2026-06-10", "total": "10.00"}),
            201,
        )
        .await;
    api.post(
        "/v1/invoices/{id}/void",
        &format!("/v1/invoices/{}/void", id(&spare)),
        json!({}),
        200,
    )
    .await;

    api.post(
        "/v1/payments",
        "/v1/payments",
        json!({"customer_id": cid, "amount": "80.00", "currency": "GBP", "date": "2026-06-14", "method": "bank_transfer", "reference": "R-1",
               "applications": [{"invoice_id": invoice_id, "amount": "50.00"}]}),
        201,
    )
    .await;
    api.get("/v1/payments", &format!("/v1/payments?customer_id={cid}"))
        .await;
    api.post(
        "/v1/customers/{id}/apply-credit",
        &format!("{customer_path}/apply-credit"),
        json!({}),
        200,
    )
    .await;
    api.post(
        "/v1/customers/{id}/adjustments",
        &format!("{customer_path}/adjustments"),
        json!({"amount": "-5.00", "reason": "goodwill", "invoice_id": invoice_id}),
        201,
    )
    .await;
    api.post(
        "/v1/customers/{id}/promises",
        &format!("{customer_path}/promises"),
        json!({"amount": "100.00", "promised_date": "2026-06-25", "note": "by phone"}),
        201,
    )
    .await;
    api.get(
        "/v1/customers/{id}/promises",
        &format!("{customer_path}/promises"),
    )
    .await;

    let template = api
        .post(
            "/v1/templates",
            "/v1/templates",
            json!({"name": "Reminder", "channel": "email", "subject": "Balance {{account_balance}}", "body": "<p>Dear {{customer_contact_name}}, {{invoice_numbers}}</p>"}),
            201,
        )
        .await;
    let template_id = id(&template);
    let template_path = format!("/v1/templates/{template_id}");
    api.get("/v1/templates/{id}", &template_path).await;
    api.patch(
        "/v1/templates/{id}",
        &template_path,
        &template,
        json!({"name": "First reminder"}),
    )
    .await;
    api.get("/v1/templates", "/v1/templates").await;
    api.post(
        "/v1/templates/{id}/preview",
        &format!("{template_path}/preview"),
        json!({"customer_id": cid}),
        200,
    )
    .await;

    let definition = json!({
        "name": "Standard", "run_at": "09:00", "days_of_week": ["mon", "tue", "wed", "thu", "fri"],
        "threshold": {"amount": "50.00", "currency": "GBP"},
        "steps": [
            {"trigger": "past_due_age", "days": -3, "action": "email", "template_id": template_id},
            {"trigger": "past_due_age", "days": 14, "action": "phone_call", "contact_role": role_id},
            {"trigger": "past_due_age", "days": 45, "action": "escalation", "assignee_id": "user-ar-lead"}
        ],
        "assignment": {"mode": "manual", "priority": 1, "rules": [{"field": "currency", "op": "==", "value": "GBP"}]}
    });
    let cadence = api
        .post("/v1/cadences", "/v1/cadences", definition.clone(), 201)
        .await;
    let cadence_id = id(&cadence);
    let cadence_path = format!("/v1/cadences/{cadence_id}");
    api.get("/v1/cadences/{id}", &cadence_path).await;
    api.get("/v1/cadences", "/v1/cadences").await;
    api.patch(
        "/v1/cadences/{id}",
        &cadence_path,
        &cadence,
        json!({"name": "Standard terms"}),
    )
    .await;

    let chasing = format!("{customer_path}/chasing");
    api.call(
        "PUT",
        "/v1/customers/{id}/chasing",
        &chasing,
        Some(json!({"cadence_id": cadence_id})),
        &[],
        200,
    )
    .await;
    api.get(
        "/v1/customers/{id}/chasing/preview",
        &format!("{chasing}/preview?days=120"),
    )
    .await;
    api.post(
        "/v1/customers/{id}/chasing/pause",
        &format!("{chasing}/pause"),
        json!({"until": "2026-07-01"}),
        200,
    )
    .await;
    api.post(
        "/v1/customers/{id}/chasing/resume",
        &format!("{chasing}/resume"),
        json!({}),
        200,
    )
    .await;
    api.post(
        "/v1/cadences/{id}/versions",
        &format!("{cadence_path}/versions"),
        definition,
        201,
    )
    .await;
    api.post(
        "/v1/cadences/{id}/migrate",
        &format!("{cadence_path}/migrate?limit=10"),
        json!({}),
        200,
    )
    .await;

    let task = api
        .post(
            "/v1/tasks",
            "/v1/tasks",
            json!({"type": "call_reminder", "customer_id": cid, "due_date": "2026-06-20", "invoice_ids": [invoice_id]}),
            201,
        )
        .await;
    let task_path = format!("/v1/tasks/{}", id(&task));
    api.get("/v1/tasks/{id}", &task_path).await;
    api.patch(
        "/v1/tasks/{id}",
        &task_path,
        &task,
        json!({"title": "Call Pat"}),
    )
    .await;
    api.post(
        "/v1/tasks/{id}/reschedule",
        &format!("{task_path}/reschedule"),
        json!({"due_date": "2026-06-22"}),
        200,
    )
    .await;
    api.get("/v1/tasks", "/v1/tasks?assignee=all&status=open")
        .await;
    api.post(
        "/v1/tasks/{id}/complete",
        &format!("{task_path}/complete"),
        json!({"outcome": "answered", "note": "will pay Friday"}),
        200,
    )
    .await;

    api.post(
        "/v1/customers/{id}/notes",
        &format!("{customer_path}/notes"),
        json!({"body": "Spoke to Pat", "invoice_ids": [invoice_id], "reminder_date": "2026-06-30"}),
        201,
    )
    .await;
    api.get(
        "/v1/customers/{id}/notes",
        &format!("{customer_path}/notes"),
    )
    .await;
    api.get(
        "/v1/customers/{id}/history",
        &format!("{customer_path}/history?limit=50"),
    )
    .await;
    api.get("/v1/customers/{id}/page", &format!("{customer_path}/page"))
        .await;

    // Imports take CSV.
    for (kind, csv) in [
        (
            "customers",
            "number,name,currency,tags,metadata.erp_id\nC-2,Beta Ltd,GBP,a;b,B-2\n".to_string(),
        ),
        (
            "invoices",
            "customer_number,number,currency,issue_date,due_date,total\nC-2,INV-9,GBP,2026-06-01,2026-07-01,75.00\n"
                .to_string(),
        ),
        (
            "enrolments",
            format!("customer_number,cadence_id\nC-2,{cadence_id}\n"),
        ),
        ("customers", "number,name,currency\n,No number,XXX\n".to_string()),
    ] {
        let path = format!("/v1/imports/{kind}");
        let response = reqwest::Client::new()
            .post(format!("{}{path}", stack.url))
            .bearer_auth(&api.token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap();
        let reply = Reply {
            status,
            body,
            headers,
        };
        assert!([201, 422].contains(&status), "{path}: {reply:?}");
        check_reply(
            &doc,
            &find_operation(&doc, "POST", "/v1/imports/{kind}"),
            &format!("POST {path}"),
            &reply,
        );
    }

    // Deletes answer 204 without a body; leaving chasing answers the customer.
    api.call(
        "DELETE",
        "/v1/customers/{id}/contacts/{contact_id}",
        &contact_path,
        None,
        &[],
        204,
    )
    .await;
    api.call(
        "DELETE",
        "/v1/customers/{id}/chasing",
        &chasing,
        None,
        &[],
        200,
    )
    .await;
    api.call(
        "DELETE",
        "/v1/contact-roles/{id}",
        &format!("/v1/contact-roles/{role_id}"),
        None,
        &[],
        204,
    )
    .await;
    let unused = api
        .post(
            "/v1/customer-groups",
            "/v1/customer-groups",
            json!({"name": "Unused"}),
            201,
        )
        .await;
    api.call(
        "DELETE",
        "/v1/customer-groups/{id}",
        &format!("/v1/customer-groups/{}", id(&unused)),
        None,
        &[],
        204,
    )
    .await;
    let empty = api
        .post(
            "/v1/customers",
            "/v1/customers",
            json!({"number": "C-3", "name": "Gamma", "currency": "GBP"}),
            201,
        )
        .await;
    api.call(
        "DELETE",
        "/v1/customers/{id}",
        &format!("/v1/customers/{}", id(&empty)),
        None,
        &[],
        204,
    )
    .await;
    let other = api
        .post(
            "/v1/templates",
            "/v1/templates",
            json!({"name": "Text", "channel": "sms", "body": "You owe {{account_balance}}"}),
            201,
        )
        .await;
    api.call(
        "DELETE",
        "/v1/templates/{id}",
        &format!("/v1/templates/{}", id(&other)),
        None,
        &[],
        204,
    )
    .await;
    let spare_cadence = api
        .post(
            "/v1/cadences",
            "/v1/cadences",
            json!({"name": "Spare", "run_at": "10:00", "steps": [{"trigger": "account_age", "days": 10, "action": "letter"}]}),
            201,
        )
        .await;
    api.call(
        "DELETE",
        "/v1/cadences/{id}",
        &format!("/v1/cadences/{}", id(&spare_cadence)),
        None,
        &[],
        204,
    )
    .await;
}
