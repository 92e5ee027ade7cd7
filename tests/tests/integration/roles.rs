//! docs/api.md (Who may do what) as a matrix: every role against every work route, on a task
//! of its own, someone else's, and the team's (unassigned).

use integration_tests::{Reply, TestStack};
use reqwest::Method;
use serde_json::{json, Value};

const ROLES: [&str; 3] = ["owner", "manager", "contributor"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    Own,
    Other,
    Team,
}

impl Whose {
    fn assignee(self, role: &str) -> Value {
        match self {
            Whose::Own => json!(role),
            Whose::Other => json!("someone-else"),
            Whose::Team => Value::Null,
        }
    }
}

async fn call(
    stack: &TestStack,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    version: Option<u64>,
) -> Reply {
    let version = version.map(|v| format!("\"{v}\""));
    let headers: Vec<(&str, &str)> = version.iter().map(|v| ("if-match", v.as_str())).collect();
    stack
        .call(method, path, Some(token), body.as_ref(), &headers)
        .await
}

/// What docs/api.md (Who may do what) allows: owners and managers change any task,
/// contributors only their own; everyone reads and creates.
fn expected(role: &str, route: &str, whose: Whose) -> u16 {
    let changes = matches!(route, "PATCH" | "reschedule" | "complete");
    match (role, changes, whose) {
        (_, false, _) => 200,
        ("contributor", true, Whose::Own) => 200,
        ("contributor", true, _) => 403,
        _ => 200,
    }
}

#[tokio::test]
async fn roles_against_task_routes_on_own_other_and_team_tasks() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let customer = stack
        .post(
            "/v1/customers",
            &owner,
            &json!({"number": "R-1", "name": "Roles Ltd", "currency": "EUR"}),
        )
        .await;
    let cid = customer.id();

    let mut mismatches = Vec::new();
    let mut cells = 0;
    for role in ROLES {
        let token = stack.token(role);
        for whose in [Whose::Own, Whose::Other, Whose::Team] {
            let created = stack
                .post(
                    "/v1/tasks",
                    &owner,
                    &json!({"type": "book_meeting", "customer_id": cid, "due_date": "2026-06-05", "assignee_id": whose.assignee(role)}),
                )
                .await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            let path = format!("/v1/tasks/{}", created.body["id"].as_str().unwrap());
            let mut version = 1;
            let steps: [(&str, Method, String, Option<Value>, bool); 4] = [
                ("GET", Method::GET, path.clone(), None, false),
                (
                    "PATCH",
                    Method::PATCH,
                    path.clone(),
                    Some(json!({"title": "Renamed"})),
                    true,
                ),
                (
                    "reschedule",
                    Method::POST,
                    format!("{path}/reschedule"),
                    Some(json!({"due_date": "2026-06-09"})),
                    false,
                ),
                (
                    "complete",
                    Method::POST,
                    format!("{path}/complete"),
                    Some(json!({"note": "Met"})),
                    false,
                ),
            ];
            for (route, method, url, body, if_match) in steps {
                let reply = call(
                    &stack,
                    method,
                    &url,
                    &token,
                    body,
                    if_match.then_some(version),
                )
                .await;
                cells += 1;
                let want = expected(role, route, whose);
                if reply.status != want {
                    mismatches.push(format!(
                        "{role} {route} {whose:?}: got {} want {want} {:?}",
                        reply.status, reply.body
                    ));
                }
                if reply.status == 200 && route != "GET" {
                    version += 1;
                }
                if reply.status == 403 {
                    assert_eq!(reply.body["error"], "forbidden");
                }
            }
            // A refused change leaves the task as it was.
            let after = stack.get(&path, &owner).await;
            let changed = expected(role, "complete", whose) == 200;
            assert_eq!(
                after.body["status"],
                if changed { "completed" } else { "open" },
                "{role} {whose:?}"
            );
            assert_eq!(
                after.body["version"],
                if changed { 4 } else { 1 },
                "{role} {whose:?}"
            );
        }

        // Reads and creation are open to every role.
        let create = stack
            .post("/v1/tasks", &token, &json!({"type": "call_reminder", "customer_id": cid, "due_date": "2026-06-05", "assignee_id": "someone-else"}))
            .await;
        let note = stack
            .post(
                &format!("/v1/customers/{cid}/notes"),
                &token,
                &json!({"body": format!("by {role}")}),
            )
            .await;
        for (route, status, want) in [
            ("POST /v1/tasks", create.status, 201),
            ("POST notes", note.status, 201),
            (
                "GET /v1/tasks",
                stack.get("/v1/tasks?assignee=all", &token).await.status,
                200,
            ),
            (
                "GET notes",
                stack
                    .get(&format!("/v1/customers/{cid}/notes"), &token)
                    .await
                    .status,
                200,
            ),
            (
                "GET history",
                stack
                    .get(&format!("/v1/customers/{cid}/history"), &token)
                    .await
                    .status,
                200,
            ),
        ] {
            cells += 1;
            if status != want {
                mismatches.push(format!("{role} {route}: got {status} want {want}"));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "role matrix mismatches:\n{}",
        mismatches.join("\n")
    );
    assert_eq!(cells, 3 * 3 * 4 + 3 * 5);
}

#[tokio::test]
async fn a_contributor_who_hands_a_task_on_can_no_longer_change_it() {
    let stack = TestStack::start().await;
    let owner = stack.token("owner");
    let contributor = stack.token("contributor");
    let customer = stack
        .post(
            "/v1/customers",
            &owner,
            &json!({"number": "R-2", "name": "Handover Ltd", "currency": "EUR"}),
        )
        .await;
    let cid = customer.body["id"].as_str().unwrap();
    let created = stack
        .post(
            "/v1/tasks",
            &contributor,
            &json!({"type": "call_reminder", "customer_id": cid, "due_date": "2026-06-05"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["assignee_id"], "contributor");
    let path = format!("/v1/tasks/{}", created.body["id"].as_str().unwrap());
    let handed = stack
        .patch(&path, &contributor, 1, &json!({"assignee_id": "colleague"}))
        .await;
    assert_eq!(handed.status, 200, "{:?}", handed.body);
    let back = stack
        .patch(
            &path,
            &contributor,
            2,
            &json!({"assignee_id": "contributor"}),
        )
        .await;
    assert_eq!(back.status, 403);
    let colleague = stack.token_for(&stack.tenant, "colleague", "contributor");
    let done = stack
        .post(
            &format!("{path}/complete"),
            &colleague,
            &json!({"outcome": "answered"}),
        )
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["completed_by"], "colleague");
}

#[tokio::test]
async fn only_owners_change_settings() {
    let stack = TestStack::start().await;
    for (role, want) in [("owner", 200), ("manager", 403), ("contributor", 403)] {
        let current = stack.get("/v1/settings", &stack.token(role)).await;
        let version = current.body["version"].as_u64().unwrap();
        let reply = stack
            .patch(
                "/v1/settings",
                &stack.token(role),
                version,
                &json!({"company_name": format!("By {role}")}),
            )
            .await;
        assert_eq!(reply.status, want, "{role}: {:?}", reply.body);
    }
}
