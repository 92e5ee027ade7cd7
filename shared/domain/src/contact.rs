//! Contacts of a customer: who receives chasers, escalations and copies, and
//! in which tenant-defined roles (DESIGN §5 "Contacts").

use super::fields::{self, Change};
use super::validation::FieldErrors;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const MAX_ROLES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub sms_enabled: bool,
    /// Contact role ids.
    pub roles: Vec<String>,
    pub receives_chasers: bool,
    pub receives_escalations: bool,
    pub cc: bool,
    /// Set by delivery feedback after a hard bounce; chases skip the address.
    #[serde(default)]
    pub email_bouncing: bool,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactChanges {
    pub name: Option<String>,
    pub email: Change<String>,
    pub phone: Change<String>,
    pub sms_enabled: Option<bool>,
    pub roles: Option<Vec<String>>,
    pub receives_chasers: Option<bool>,
    pub receives_escalations: Option<bool>,
    pub cc: Option<bool>,
    pub primary: Option<bool>,
}

impl ContactChanges {
    pub fn parse(body: &Map<String, Value>, creating: bool) -> Result<Self, FieldErrors> {
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
                "id" | "customer_id" | "version" | "created_at" | "updated_at"
                | "email_bouncing" => e.add(field, "is computed and cannot be set"),
                _ => e.add(field, "is not a contact field"),
            }
        }
        if creating && !body.contains_key("name") {
            errors.add("name", "is required");
        }
        errors.into_result(changes)
    }

    /// The contact after this change; `None` id/customer on a patch keep the current ones.
    pub fn apply(
        &self,
        current: Option<&Contact>,
        id: &str,
        customer_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Contact, FieldErrors> {
        let base = current.cloned().unwrap_or_else(|| Contact {
            id: id.to_string(),
            customer_id: customer_id.to_string(),
            name: String::new(),
            email: None,
            phone: None,
            sms_enabled: false,
            roles: Vec::new(),
            receives_chasers: true,
            receives_escalations: false,
            cc: false,
            email_bouncing: false,
            version: 0,
            created_at: now,
            updated_at: now,
        });
        let email = self.email.apply(&base.email);
        let next = Contact {
            name: self.name.clone().unwrap_or(base.name.clone()),
            // A new address is worth trying again.
            email_bouncing: base.email_bouncing && email == base.email,
            email,
            phone: self.phone.apply(&base.phone),
            sms_enabled: self.sms_enabled.unwrap_or(base.sms_enabled),
            roles: self.roles.clone().unwrap_or(base.roles.clone()),
            receives_chasers: self.receives_chasers.unwrap_or(base.receives_chasers),
            receives_escalations: self
                .receives_escalations
                .unwrap_or(base.receives_escalations),
            cc: self.cc.unwrap_or(base.cc),
            version: base.version + 1,
            updated_at: now,
            ..base
        };
        if next.sms_enabled && next.phone.is_none() {
            return Err(FieldErrors::single("sms_enabled", "needs a phone number"));
        }
        Ok(next)
    }
}

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
    use serde_json::json;

    fn parse(value: Value, creating: bool) -> Result<ContactChanges, FieldErrors> {
        ContactChanges::parse(value.as_object().unwrap(), creating)
    }

    #[test]
    fn sms_needs_a_phone() {
        let changes = parse(json!({"name": "Ann", "sms_enabled": true}), true).unwrap();
        assert!(changes.apply(None, "c1", "k1", Utc::now()).is_err());
        let changes = parse(
            json!({"name": "Ann", "sms_enabled": true, "phone": "+447700900123"}),
            true,
        )
        .unwrap();
        let contact = changes.apply(None, "c1", "k1", Utc::now()).unwrap();
        assert!(contact.receives_chasers && !contact.cc && contact.version == 1);
        let cleared = parse(json!({"phone": null}), false).unwrap();
        assert!(cleared
            .apply(Some(&contact), "c1", "k1", Utc::now())
            .is_err());
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = parse(
            json!({"email": "x", "roles": "cfo", "cc": "yes", "version": 2}),
            true,
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["cc", "email", "name", "roles", "version"]);
    }
}
