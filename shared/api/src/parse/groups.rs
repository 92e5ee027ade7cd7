//! Customer group create and patch bodies (`/v1/customer-groups`).

use super::fields;
use domain::group::{GroupChanges, THRESHOLD_DECIMALS};
use domain::validation::FieldErrors;
use serde_json::{Map, Value};

/// A create (`creating`: `name` is required) or patch body.
pub fn changes(body: &Map<String, Value>, creating: bool) -> Result<GroupChanges, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut changes = GroupChanges::default();
    for (field, value) in body {
        match field.as_str() {
            "name" => changes.name = fields::text(&mut errors, field, value, 120),
            "settings" => match value.as_object() {
                Some(settings) => parse_settings(&mut changes, &mut errors, settings),
                None => errors.add(field, "must be an object"),
            },
            "id" | "version" | "created_at" | "updated_at" | "member_count" => {
                errors.add(field, "is computed and cannot be set")
            }
            _ => errors.add(field, "is not a customer group field"),
        }
    }
    if creating && !body.contains_key("name") {
        errors.add("name", "is required");
    }
    errors.into_result(changes)
}

fn parse_settings(
    changes: &mut GroupChanges,
    errors: &mut FieldErrors,
    settings: &Map<String, Value>,
) {
    for (key, value) in settings {
        let field = format!("settings.{key}");
        let f = field.as_str();
        match key.as_str() {
            "cadence_id" => {
                changes.cadence_id = fields::nullable(errors, f, value, fields::reference)
            }
            "payment_terms" => {
                changes.payment_terms =
                    fields::nullable(errors, f, value, |e, f, v| fields::text(e, f, v, 40))
            }
            "autopay" => changes.autopay = fields::nullable(errors, f, value, fields::boolean),
            "chasing_threshold" => {
                changes.chasing_threshold = fields::nullable(errors, f, value, |e, f, v| {
                    fields::decimal(e, f, v, THRESHOLD_DECIMALS, false)
                })
            }
            "auto_settle" => {
                changes.auto_settle = fields::nullable(errors, f, value, fields::boolean)
            }
            _ => errors.add(f, "is not a group setting"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::object;
    use domain::patch::Patch;
    use serde_json::json;

    #[test]
    fn groups_validate_their_settings() {
        let body = json!({"name": "Retail", "settings": {"autopay": "yes", "chasing_threshold": "-5", "colour": 1}});
        let errors = changes(&object(body), true).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "settings.autopay",
                "settings.chasing_threshold",
                "settings.colour"
            ]
        );
        let ok = json!({"name": "Retail", "settings": {"payment_terms": "NET30", "chasing_threshold": "100"}});
        let parsed = changes(&object(ok), true).unwrap();
        assert_eq!(parsed.payment_terms, Patch::Set("NET30".into()));
        assert_eq!(parsed.chasing_threshold, Patch::Set("100".parse().unwrap()));
        assert!(changes(&object(json!({})), true).is_err());
        assert!(changes(&object(json!({})), false).is_ok());
    }
}
