//! Contact role create bodies (`POST /v1/contact-roles {name}`).

use domain::contact_role::MAX_NAME_CHARS;
use domain::validation::{bounded_text, FieldErrors};
use serde_json::{Map, Value};

/// The new role's name: the one field, required.
pub fn name(body: &Map<String, Value>) -> Result<String, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut name = None;
    for (field, value) in body {
        match (field.as_str(), value) {
            ("name", Value::String(raw)) => {
                name = bounded_text(&mut errors, field, raw, MAX_NAME_CHARS);
            }
            ("name", _) => errors.add(field, "must be a string"),
            _ => errors.add(field, "is not a contact role field"),
        }
    }
    if name.is_none() && !body.contains_key("name") {
        errors.add("name", "is required");
    }
    match name {
        Some(name) if errors.is_empty() => Ok(name),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::object;
    use serde_json::json;

    #[test]
    fn a_role_needs_a_name_and_nothing_else() {
        assert_eq!(
            name(&object(json!({"name": " Accounts  Payable "}))).unwrap(),
            "Accounts  Payable"
        );
        assert!(name(&object(json!({}))).is_err());
        assert!(name(&object(json!({"name": ""}))).is_err());
        assert!(name(&object(json!({"name": "x", "colour": "red"}))).is_err());
        assert!(name(&object(json!({"name": 3}))).is_err());
    }
}
