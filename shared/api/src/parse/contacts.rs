//! Contact create and patch bodies (`/v1/customers/{id}/contacts`).

use super::fields;
use domain::contact::{ContactChanges, MAX_ROLES};
use domain::validation::FieldErrors;
use serde_json::{Map, Value};

/// A create (`creating`: `name` is required) or patch body.
pub fn changes(body: &Map<String, Value>, creating: bool) -> Result<ContactChanges, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut changes = ContactChanges::default();
    for (field, value) in body {
        let e = &mut errors;
        match field.as_str() {
            "name" => changes.name = fields::text(e, field, value, 200),
            "email" => changes.email = fields::nullable(e, field, value, fields::email),
            "phone" => changes.phone = fields::nullable(e, field, value, fields::phone),
            "sms_enabled" => changes.sms_enabled = fields::boolean(e, field, value),
            "receives_chasers" => changes.receives_chasers = fields::boolean(e, field, value),
            "receives_escalations" => {
                changes.receives_escalations = fields::boolean(e, field, value)
            }
            "cc" => changes.cc = fields::boolean(e, field, value),
            "primary" => changes.primary = fields::boolean(e, field, value),
            "roles" => changes.roles = roles(e, field, value),
            "id" | "customer_id" | "version" | "created_at" | "updated_at" | "email_bouncing" => {
                e.add(field, "is computed and cannot be set")
            }
            _ => e.add(field, "is not a contact field"),
        }
    }
    if creating && !body.contains_key("name") {
        errors.add("name", "is required");
    }
    errors.into_result(changes)
}

/// Contact role ids, each once; whether each exists is checked on write.
fn roles(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Vec<String>> {
    let Some(items) = value.as_array() else {
        errors.add(field, "must be an array of contact role ids");
        return None;
    };
    if items.len() > MAX_ROLES {
        errors.add(field, format!("must have at most {MAX_ROLES} roles"));
        return None;
    }
    let mut roles: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let id = fields::reference(errors, &format!("{field}[{i}]"), item)?;
        if !roles.contains(&id) {
            roles.push(id);
        }
    }
    Some(roles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::object;
    use domain::patch::Patch;
    use serde_json::json;

    #[test]
    fn every_bad_field_is_named() {
        let errors = changes(
            &object(json!({"email": "x", "roles": "cfo", "cc": "yes", "version": 2})),
            true,
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["cc", "email", "name", "roles", "version"]);
    }

    #[test]
    fn a_patch_may_clear_the_phone_and_repeat_roles() {
        let parsed = changes(
            &object(json!({"phone": null, "roles": ["r1", "r2", "r1"]})),
            false,
        )
        .unwrap();
        assert_eq!(parsed.phone, Patch::Clear);
        assert_eq!(parsed.roles.unwrap(), ["r1", "r2"]);
        assert_eq!(parsed.name, None);
    }
}
