//! Request bodies parsed into the domain's validated types. The JSON shape
//! is checked here, the rules on each value are the domain's; every problem
//! is collected in a [`FieldErrors`](domain::validation::FieldErrors) (422
//! naming each field), so a client can fix them all in one go.

pub mod contact_roles;
pub mod contacts;
pub mod customers;
pub mod fields;
pub mod groups;
pub mod invoices;
pub mod notes;
pub mod payments;
pub mod settings;
pub mod tasks;

use serde_json::{Map, Value};

/// The fields a body sends, for the history item of the change.
pub fn field_names(body: &Map<String, Value>) -> Vec<String> {
    body.keys().cloned().collect()
}

/// A body for the parsers' tests.
#[cfg(test)]
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}
