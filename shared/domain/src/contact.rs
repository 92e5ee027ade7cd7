//! Contacts of a customer: who receives chasers, escalations and copies, and
//! in which tenant-defined roles (docs/chasing.md).

use super::patch::Patch;
use super::validation::FieldErrors;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

/// Validated contact fields from a create or patch body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactChanges {
    pub name: Option<String>,
    pub email: Patch<String>,
    pub phone: Patch<String>,
    pub sms_enabled: Option<bool>,
    pub roles: Option<Vec<String>>,
    pub receives_chasers: Option<bool>,
    pub receives_escalations: Option<bool>,
    pub cc: Option<bool>,
    pub primary: Option<bool>,
}

impl ContactChanges {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_needs_a_phone() {
        let ann = ContactChanges {
            name: Some("Ann".into()),
            sms_enabled: Some(true),
            ..ContactChanges::default()
        };
        assert!(ann.apply(None, "c1", "k1", Utc::now()).is_err());
        let with_phone = ContactChanges {
            phone: Patch::Set("+447700900123".into()),
            ..ann
        };
        let contact = with_phone.apply(None, "c1", "k1", Utc::now()).unwrap();
        assert!(contact.receives_chasers && !contact.cc && contact.version == 1);
        let cleared = ContactChanges {
            phone: Patch::Clear,
            ..ContactChanges::default()
        };
        assert!(cleared
            .apply(Some(&contact), "c1", "k1", Utc::now())
            .is_err());
    }
}
