//! Who is calling: tenant, user and role, as the JWT authorizer states them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A tenant id as issued by the identity provider. Every storage key starts
/// with it, so it is restricted to characters that cannot break a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        ok.then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `sub` claim: the calling user's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty() && raw.len() <= 128 && !raw.chars().any(char::is_control);
        ok.then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Manager,
    Contributor,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What a caller may do (docs/api.md). The one place permissions are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read anything in the tenant.
    Read,
    /// Change tenant settings and users.
    ManageSettings,
    /// Create and change customers, invoices, cadences and other records.
    ManageRecords,
    /// Create notes and tasks.
    CreateNotesAndTasks,
    /// Update, complete or reschedule a task; contributors only their own.
    ChangeTask { assigned_to_caller: bool },
}

impl Permission {
    /// The permission to change a task assigned to `assignee` (none: the
    /// team's list, which is nobody's own).
    pub fn change_task(caller: &Caller, assignee: Option<&str>) -> Self {
        Self::ChangeTask {
            assigned_to_caller: assignee == Some(caller.user.as_str()),
        }
    }
}

impl Role {
    pub fn allows(self, permission: Permission) -> bool {
        matches!(
            (self, permission),
            (_, Permission::Read | Permission::CreateNotesAndTasks)
                | (Self::Owner, _)
                | (
                    Self::Manager,
                    Permission::ManageRecords | Permission::ChangeTask { .. }
                )
                | (
                    Self::Contributor,
                    Permission::ChangeTask {
                        assigned_to_caller: true
                    }
                )
        )
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub user: UserId,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_cannot_smuggle_key_separators() {
        assert!(TenantId::parse("acme-ltd_1").is_some());
        assert!(TenantId::parse("acme#other").is_none());
        assert!(TenantId::parse("").is_none());
    }

    #[test]
    fn only_owners_manage_settings() {
        assert!(Role::Owner.allows(Permission::ManageSettings));
        assert!(!Role::Manager.allows(Permission::ManageSettings));
        assert!(!Role::Contributor.allows(Permission::ManageSettings));
        assert!(Role::Manager.allows(Permission::ManageRecords));
        assert!(!Role::Contributor.allows(Permission::ManageRecords));
        assert!(Role::Contributor.allows(Permission::CreateNotesAndTasks));
    }

    #[test]
    fn contributors_change_only_their_own_tasks() {
        let caller = |role| Caller {
            tenant: TenantId::parse("t").unwrap(),
            user: UserId::parse("u1").unwrap(),
            role,
        };
        for (role, own, other, team) in [
            (Role::Owner, true, true, true),
            (Role::Manager, true, true, true),
            (Role::Contributor, true, false, false),
        ] {
            let c = caller(role);
            assert_eq!(role.allows(Permission::change_task(&c, Some("u1"))), own);
            assert_eq!(role.allows(Permission::change_task(&c, Some("u2"))), other);
            assert_eq!(role.allows(Permission::change_task(&c, None)), team);
        }
    }
}
