//! Contact roles: a tenant-defined list ("Accounts payable", "CFO", ...) that
//! chase steps can target (DESIGN §5 "Contacts").

use super::validation::{bounded_text, FieldErrors};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const MAX_NAME_CHARS: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRole {
    pub id: String,
    pub name: String,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ContactRole {
    pub fn create(
        body: &serde_json::Map<String, serde_json::Value>,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut name = None;
        for (field, value) in body {
            match (field.as_str(), value) {
                ("name", serde_json::Value::String(raw)) => {
                    name = bounded_text(&mut errors, field, raw, MAX_NAME_CHARS);
                }
                ("name", _) => errors.add(field, "must be a string"),
                _ => errors.add(field, "is not a contact role field"),
            }
        }
        if name.is_none() && !body.contains_key("name") {
            errors.add("name", "is required");
        }
        let role = Self {
            id,
            name: name.unwrap_or_default(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        errors.into_result(role)
    }

    /// Names are unique per tenant regardless of case and spacing.
    pub fn unique_name(&self) -> String {
        self.name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: serde_json::Value) -> Result<ContactRole, FieldErrors> {
        ContactRole::create(body.as_object().unwrap(), "01J".into(), Utc::now())
    }

    #[test]
    fn a_role_needs_a_name_and_nothing_else() {
        assert_eq!(
            create(json!({"name": " Accounts  Payable "}))
                .unwrap()
                .unique_name(),
            "accounts payable"
        );
        assert!(create(json!({})).is_err());
        assert!(create(json!({"name": ""})).is_err());
        assert!(create(json!({"name": "x", "colour": "red"})).is_err());
        assert!(create(json!({"name": 3})).is_err());
    }
}
