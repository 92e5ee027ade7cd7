//! Small helpers the test files share: the HTTP verbs `TestStack` lacks,
//! creating records through the API and reading ids and list items out of
//! replies.

use crate::{Reply, TestStack};
use reqwest::Method;
use serde_json::{json, Value};

impl Reply {
    /// The `id` of a created or read record.
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id: {:?}", self.body))
            .to_string()
    }

    /// The `items` of a list reply.
    pub fn items(&self) -> &Vec<Value> {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {:?}", self.body))
    }

    /// The string `field` of every item of a list reply, in order.
    pub fn item_strings(&self, field: &str) -> Vec<String> {
        self.items()
            .iter()
            .map(|item| item[field].as_str().unwrap().to_string())
            .collect()
    }
}

impl TestStack {
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None, &[])
            .await
    }

    /// POSTs `body` to a collection, expects 201 and returns the new id.
    pub async fn create(&self, path: &str, token: &str, body: &Value) -> String {
        let reply = self.post(path, token, body).await;
        assert_eq!(reply.status, 201, "{path}: {:?}", reply.body);
        reply.id()
    }

    /// A EUR customer named "Customer {number}"; returns its id.
    pub async fn create_customer(&self, token: &str, number: &str) -> String {
        self.create(
            "/v1/customers",
            token,
            &json!({"number": number, "name": format!("Customer {number}"), "currency": "EUR"}),
        )
        .await
    }

    /// A cadence running at 08:00 that emails on account age 0 and 1 (one
    /// email template); returns its id.
    pub async fn two_day_email_cadence(&self, token: &str) -> String {
        let template = self.create("/v1/templates", token, &json!({"name": "R", "channel": "email", "subject": "Balance", "body": "Please pay {{account_balance}}."})).await;
        self.create(
            "/v1/cadences",
            token,
            &json!({"name": "Daily", "run_at": "08:00", "steps": [
            {"trigger": "account_age", "days": 0, "action": "email", "template_id": template},
            {"trigger": "account_age", "days": 1, "action": "email", "template_id": template}]}),
        )
        .await
    }

    /// Enrols the customer in the cadence; expects 200.
    pub async fn enrol(&self, token: &str, customer_id: &str, cadence_id: &str) {
        let reply = self
            .put(
                &format!("/v1/customers/{customer_id}/chasing"),
                token,
                &json!({"cadence_id": cadence_id}),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }

    /// Every item of a list, following cursors; also the number of pages.
    pub async fn all_pages(&self, token: &str, path: &str) -> (Vec<Value>, usize) {
        let mut seen = Vec::new();
        let mut pages = 0;
        let mut cursor = String::new();
        let separator = if path.contains('?') { '&' } else { '?' };
        loop {
            let reply = self
                .get(&format!("{path}{separator}cursor={cursor}"), token)
                .await;
            assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
            seen.extend(reply.items().iter().cloned());
            pages += 1;
            match reply.body["next_cursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => return (seen, pages),
            }
        }
    }
}
