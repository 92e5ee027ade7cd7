//! What a handler knows about its request: the caller, the instant, the
//! body and query, and how to commit its writes (with the Idempotency-Key
//! record in the same transaction).

use crate::edge::RequestFacts;
use crate::error::ApiError;
use crate::response::ApiResponse;
use crate::ApiState;
use app::context::Context;
use app::ports::{PageRequest, StoreError, Write};
use app::usecases::Change;
use axum::extract::FromRequestParts;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use domain::identity::Caller;
use domain::settings::Settings;
use domain::validation::FieldErrors;
use serde_json::{Map, Value};
use std::sync::Arc;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

pub struct Ctx {
    pub context: Context,
    pub caller: Caller,
    pub now: DateTime<Utc>,
    facts: RequestFacts,
    query: Vec<(String, String)>,
    headers: http::HeaderMap,
}

impl FromRequestParts<Arc<ApiState>> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let facts = parts
            .extensions
            .get::<RequestFacts>()
            .cloned()
            .ok_or(ApiError::Unauthorized)?;
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        // No parameter of this API takes several values: a repeated one is a
        // mistake, not a choice between them.
        let mut seen = std::collections::BTreeSet::new();
        if let Some((name, _)) = query.iter().find(|(name, _)| !seen.insert(name.as_str())) {
            return Err(ApiError::invalid_field(name, "is given more than once"));
        }
        Ok(Self {
            context: state.context.clone(),
            caller: facts.caller.clone(),
            now: facts.now,
            facts,
            query,
            headers: parts.headers.clone(),
        })
    }
}

impl Ctx {
    pub fn body(&self) -> &Bytes {
        &self.facts.body
    }

    /// The body as a JSON object (400 if it is not JSON or not an object).
    pub fn json_object(&self) -> Result<Map<String, Value>, ApiError> {
        let bytes = self.body();
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "malformed_body",
                "a JSON object body is required",
            ));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(mut object)) => {
                object.values_mut().for_each(whole_numbers_as_integers);
                Ok(object)
            }
            Ok(_) => Err(ApiError::bad_request(
                "malformed_body",
                "the body must be a JSON object",
            )),
            // Only the position: serde's message may echo parts of the input.
            Err(error) => Err(ApiError::bad_request(
                "malformed_body",
                format!(
                    "the body is not valid JSON: line {} column {}",
                    error.line(),
                    error.column()
                ),
            )),
        }
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// An id query parameter (a filter): absent, or a well-formed id.
    pub fn id_param(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.param(name) {
            Some(id) if !app::usecases::valid_id(id) => Err(ApiError::invalid_field(
                name,
                "must be an id (26 letters and digits)",
            )),
            other => Ok(other),
        }
    }

    /// Every query parameter, in order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Refuses parameters not in `known` (a typo must not silently widen a list).
    pub fn only_params(&self, known: &[&str], what: &str) -> Result<(), ApiError> {
        let mut errors = FieldErrors::new();
        for (name, _) in self.params() {
            if !known.contains(&name) {
                errors.add(name, format!("is not a parameter of {what}"));
            }
        }
        errors.into_result(()).map_err(ApiError::from)
    }

    pub fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `If-Match: "3"` (quoted, unquoted or weak) is required on every PATCH.
    pub fn if_match_version(&self) -> Result<u64, ApiError> {
        let raw = self
            .headers
            .get(http::header::IF_MATCH)
            .ok_or(ApiError::PreconditionRequired)?
            .to_str()
            .map_err(|_| invalid_if_match())?;
        raw.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse::<u64>()
            .map_err(|_| invalid_if_match())
    }

    /// `?limit=&cursor=` (docs/api.md): 1-200, default 50; the cursor is opaque.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.param("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid_field(
                        "limit",
                        "must be a whole number from 1 to 200",
                    ))
                }
            },
        };
        let cursor = self
            .param("cursor")
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        Ok(PageRequest { limit, cursor })
    }

    /// The tenant's settings (cached briefly per process).
    pub async fn settings(&self) -> Result<Settings, ApiError> {
        Ok(self.context.settings(&self.caller.tenant).await?)
    }

    /// "Today" for this tenant: the date of `now` in its time zone (docs/api.md, Money, time and ids).
    pub async fn today(&self) -> Result<NaiveDate, ApiError> {
        let zone = self.settings().await?.time_zone;
        Ok(self.now.with_timezone(&zone).date_naive())
    }

    /// Commits the change's writes and the Idempotency-Key record (if any)
    /// in one transaction, answering `response`.
    pub async fn commit<T>(
        &self,
        change: Change<T>,
        response: ApiResponse,
    ) -> Result<ApiResponse, ApiError> {
        let Change { writes, .. } = &change;
        // Nothing changes (already in that state): nothing is written, and
        // the Idempotency-Key stays unused.
        if writes.is_empty() {
            return Ok(response);
        }
        let mut writes: Vec<Write> = writes.clone();
        if let Some(key) = &self.facts.idempotency {
            writes.push(key.claim(&response, self.now));
        }
        match self.context.store.commit(&self.caller.tenant, writes).await {
            Ok(()) => Ok(response),
            Err(StoreError::ConditionFailed { index }) => {
                // Another write's condition may be reported first; if a
                // concurrent request with the same key won, answer as it did.
                match self.replay().await? {
                    Some(first) => Ok(first),
                    None => Err(change.conflict(index).into()),
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn replay(&self) -> Result<Option<ApiResponse>, ApiError> {
        match &self.facts.idempotency {
            Some(key) => {
                key.replay(&self.context, &self.caller.tenant, self.now)
                    .await
            }
            None => Ok(None),
        }
    }
}

/// JSON (and JSON Schema) reads `18.0` as the whole number 18; serde's
/// integer types would refuse it, so whole numbers are made integers here,
/// once for every body. Money is written as strings and never affected.
fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(float) = number.as_f64() {
                // Exactly representable whole numbers only (|n| < 2^53).
                if float.fract() == 0.0 && float.abs() < 9_007_199_254_740_992.0 {
                    *value = Value::from(float as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn invalid_if_match() -> ApiError {
    ApiError::bad_request(
        "invalid_if_match",
        "If-Match must be the resource's version, e.g. \"3\"",
    )
}

/// A list reply: one page of items and the cursor of the next page (null
/// on the last one).
pub fn list_reply<T: serde::Serialize>(
    items: &[T],
    next_cursor: Option<String>,
) -> Result<ApiResponse, ApiError> {
    ApiResponse::ok(&serde_json::json!({"items": items, "next_cursor": next_cursor}))
}

#[cfg(test)]
mod tests {
    use super::whole_numbers_as_integers;
    use serde_json::json;

    #[test]
    fn whole_numbers_written_with_a_fraction_are_integers() {
        let mut body = json!({"cap": {"max_messages": 18.0}, "steps": [{"day": -3.0}], "rate": 1.5, "huge": 1e300});
        body.as_object_mut()
            .unwrap()
            .values_mut()
            .for_each(whole_numbers_as_integers);
        assert_eq!(
            body,
            json!({"cap": {"max_messages": 18}, "steps": [{"day": -3}], "rate": 1.5, "huge": 1e300})
        );
    }
}
