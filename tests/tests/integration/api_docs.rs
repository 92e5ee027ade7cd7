//! The API serves its own documentation without a token: the OpenAPI
//! document at `GET /openapi.yaml` and a rendered page at `GET /docs` that
//! loads nothing from elsewhere. These routes are outside `/v1`, so they are
//! not in the document's paths (the both-ways check covers `/v1` only), and
//! `template.yaml` routes them without the JWT authorizer.

use api::docs::DOC_ROUTES;
use integration_tests::TestStack;
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn the_openapi_document_is_served_without_a_token() {
    let stack = TestStack::start().await;
    let reply = stack
        .call(Method::GET, "/openapi.yaml", None, None, &[])
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/yaml"));
    let text = reply.body.as_str().unwrap();
    assert_eq!(text, api::docs::OPENAPI_YAML);
    let served: Value = serde_norway::from_str(text).unwrap();
    assert_eq!(served["openapi"], "3.1.0");
}

#[tokio::test]
async fn the_docs_page_lists_every_operation_and_needs_nothing_from_elsewhere() {
    let stack = TestStack::start().await;
    let reply = stack.call(Method::GET, "/docs", None, None, &[]).await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(reply
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    let html = reply.body.as_str().unwrap();
    let doc: Value = serde_norway::from_str(api::docs::OPENAPI_YAML).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "{method} {path} ({id}) missing"
            );
        }
    }
    // Offline: no script and no resource from another origin.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(!html.contains("<link"));
}

#[test]
fn the_documentation_routes_are_outside_the_documented_paths_and_public_in_the_template() {
    let doc: Value = serde_norway::from_str(api::docs::OPENAPI_YAML).unwrap();
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&template).unwrap();
    let events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
        .as_mapping()
        .unwrap();
    for (method, path) in DOC_ROUTES {
        assert!(
            doc["paths"].get(*path).is_none(),
            "{path} is not a /v1 operation"
        );
        assert!(!api::ROUTES.iter().any(|(_, p)| p == path));
        let event = events
            .values()
            .find(|e| e["Properties"]["Path"].as_str() == Some(path))
            .unwrap_or_else(|| panic!("template.yaml routes {path} to the API function"));
        assert_eq!(event["Properties"]["Method"].as_str().unwrap(), *method);
        assert_eq!(
            event["Properties"]["Auth"]["Authorizer"].as_str(),
            Some("NONE")
        );
    }
}

#[tokio::test]
async fn other_paths_outside_v1_are_still_404() {
    let stack = TestStack::start().await;
    assert_eq!(
        stack
            .call(Method::GET, "/docs/x", None, None, &[])
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .call(Method::POST, "/docs", None, None, &[])
            .await
            .status,
        404
    );
}

/// One request of an `.http` collection.
struct HttpRequest {
    name: Option<String>,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// The `.http` format as REST Client and the JetBrains client read it:
/// `@var = value` lines, `###` between requests, `# @name` to keep a
/// response, headers until a blank line, then the body.
fn http_collection(text: &str) -> (Vec<(String, String)>, Vec<HttpRequest>) {
    let mut variables = Vec::new();
    let mut requests = Vec::new();
    let mut blocks = text.split("\n###");
    for line in blocks.next().unwrap().lines() {
        if let Some((name, value)) = line.strip_prefix('@').and_then(|l| l.split_once('=')) {
            variables.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    for block in blocks {
        let mut lines = block.lines().skip(1).peekable();
        let mut name = None;
        while let Some(line) = lines.next_if(|l| l.starts_with('#') || l.trim().is_empty()) {
            if let Some(n) = line.strip_prefix("# @name ") {
                name = Some(n.trim().to_string());
            }
        }
        let (method, url) = lines.next().unwrap().split_once(' ').unwrap();
        let headers = lines
            .by_ref()
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.split_once(':').unwrap())
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let body = lines.collect::<Vec<_>>().join("\n").trim().to_string();
        requests.push(HttpRequest {
            name,
            method: method.parse().unwrap(),
            url: url.to_string(),
            headers,
            body,
        });
    }
    (variables, requests)
}

#[tokio::test]
async fn the_walkthrough_collection_runs_against_the_local_stack() {
    let stack = TestStack::start().await;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/walkthrough.http"
    ))
    .unwrap();
    let (declared, requests) = http_collection(&text);
    assert!(declared.iter().any(|(n, _)| n == "api") && declared.iter().any(|(n, _)| n == "token"));
    let mut values = vec![
        ("api".to_string(), stack.url.clone()),
        ("token".to_string(), stack.token("owner")),
    ];
    let client = reqwest::Client::new();
    for request in requests {
        let fill = |text: &str| {
            values.iter().fold(text.to_string(), |t, (n, v)| {
                t.replace(&format!("{{{{{n}}}}}"), v)
            })
        };
        let url = fill(&request.url);
        let mut call = client
            .request(request.method.clone(), &url)
            .body(fill(&request.body));
        for (name, value) in &request.headers {
            call = call.header(name, fill(value));
        }
        let response = call.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "{} {url}: {status} {body}",
            request.method
        );
        assert!(
            !url.contains("{{"),
            "{url}: a variable the collection never set"
        );
        if let Some(name) = request.name {
            let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
                .as_str()
                .map(str::to_string);
            if let Some(id) = id {
                values.push((format!("{name}.response.body.id"), id));
            }
        }
    }
    let sent = stack
        .call(
            Method::GET,
            "/_local/outbox?to=pat@globex.example",
            None,
            None,
            &[],
        )
        .await;
    let sent = sent.body["items"].as_array().unwrap();
    assert!(
        sent.iter().any(|m| m["sent_at"] == "2026-04-01T08:00:00Z"),
        "{sent:?}"
    );
}
