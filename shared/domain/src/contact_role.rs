//! Contact roles: a tenant-defined list ("Accounts payable", "CFO", ...) that
//! chase steps can target (docs/chasing.md).

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
    /// A new role named `name` (validated: trimmed, at most [`MAX_NAME_CHARS`]).
    pub fn new(name: String, id: String, now: DateTime<Utc>) -> Self {
        Self {
            id,
            name,
            version: 1,
            created_at: now,
            updated_at: now,
        }
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

    #[test]
    fn names_are_unique_regardless_of_case_and_spacing() {
        let role = ContactRole::new("Accounts  Payable".into(), "01J".into(), Utc::now());
        assert_eq!(role.unique_name(), "accounts payable");
        assert_eq!(role.version, 1);
    }
}
