//! Customer groups: settings their members inherit unless they set their own.

use super::customer::GroupSettings;
use super::patch::Patch;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerGroup {
    pub id: String,
    pub name: String,
    pub settings: GroupSettings,
    /// Maintained by the writes that move customers in and out.
    #[serde(default)]
    pub member_count: u64,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Validated group fields from a create or patch body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub cadence_id: Patch<String>,
    pub payment_terms: Patch<String>,
    pub autopay: Patch<bool>,
    pub chasing_threshold: Patch<Decimal>,
    pub auto_settle: Patch<bool>,
}

impl GroupChanges {
    pub fn create(&self, id: String, now: DateTime<Utc>) -> CustomerGroup {
        let empty = CustomerGroup {
            id,
            name: String::new(),
            settings: GroupSettings::default(),
            member_count: 0,
            version: 0,
            created_at: now,
            updated_at: now,
        };
        self.apply(&empty, now)
    }

    pub fn apply(&self, current: &CustomerGroup, now: DateTime<Utc>) -> CustomerGroup {
        let settings = &current.settings;
        CustomerGroup {
            name: self.name.clone().unwrap_or_else(|| current.name.clone()),
            settings: GroupSettings {
                cadence_id: self.cadence_id.apply(&settings.cadence_id),
                payment_terms: self.payment_terms.apply(&settings.payment_terms),
                autopay: self.autopay.apply(&settings.autopay),
                chasing_threshold: self.chasing_threshold.apply(&settings.chasing_threshold),
                auto_settle: self.auto_settle.apply(&settings.auto_settle),
            },
            version: current.version + 1,
            updated_at: now,
            ..current.clone()
        }
    }
}

/// A threshold applies in each member's own currency, so it is a plain
/// non-negative amount with at most this many decimals.
pub const THRESHOLD_DECIMALS: u32 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_group_is_version_one_with_its_settings() {
        let changes = GroupChanges {
            name: Some("Retail".into()),
            payment_terms: Patch::Set("NET30".into()),
            chasing_threshold: Patch::Set(Decimal::new(100, 0)),
            ..GroupChanges::default()
        };
        let group = changes.create("g".into(), Utc::now());
        assert_eq!(group.settings.payment_terms.as_deref(), Some("NET30"));
        assert_eq!(group.settings.chasing_threshold, Some(Decimal::new(100, 0)));
        assert_eq!(group.version, 1);
        let cleared = GroupChanges {
            payment_terms: Patch::Clear,
            ..GroupChanges::default()
        }
        .apply(&group, Utc::now());
        assert_eq!(cleared.settings.payment_terms, None);
        assert_eq!(cleared.name, "Retail");
        assert_eq!(cleared.version, 2);
    }
}
