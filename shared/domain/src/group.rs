//! Customer groups: settings their members inherit unless they set their own.

use super::customer::GroupSettings;
use super::fields::{self, Change};
use super::validation::FieldErrors;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub cadence_id: Change<String>,
    pub payment_terms: Change<String>,
    pub autopay: Change<bool>,
    pub chasing_threshold: Change<Decimal>,
    pub auto_settle: Change<bool>,
}

impl GroupChanges {
    pub fn parse(body: &Map<String, Value>, creating: bool) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut changes = GroupChanges::default();
        for (field, value) in body {
            match field.as_str() {
                "name" => changes.name = fields::text(&mut errors, field, value, 120),
                "settings" => match value.as_object() {
                    Some(settings) => changes.parse_settings(&mut errors, settings),
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

    fn parse_settings(&mut self, errors: &mut FieldErrors, settings: &Map<String, Value>) {
        for (key, value) in settings {
            let field = format!("settings.{key}");
            let f = field.as_str();
            match key.as_str() {
                "cadence_id" => {
                    self.cadence_id = fields::nullable(errors, f, value, fields::reference)
                }
                "payment_terms" => {
                    self.payment_terms =
                        fields::nullable(errors, f, value, |e, f, v| fields::text(e, f, v, 40))
                }
                "autopay" => self.autopay = fields::nullable(errors, f, value, fields::boolean),
                "chasing_threshold" => {
                    self.chasing_threshold = fields::nullable(errors, f, value, threshold)
                }
                "auto_settle" => {
                    self.auto_settle = fields::nullable(errors, f, value, fields::boolean)
                }
                _ => errors.add(f, "is not a group setting"),
            }
        }
    }

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
/// non-negative amount with at most two decimals.
fn threshold(errors: &mut FieldErrors, field: &str, value: &Value) -> Option<Decimal> {
    fields::decimal(errors, field, value, 2, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_validate_their_settings() {
        let body = json!({"name": "Retail", "settings": {"autopay": "yes", "chasing_threshold": "-5", "colour": 1}});
        let errors = GroupChanges::parse(body.as_object().unwrap(), true).unwrap_err();
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
        let group = GroupChanges::parse(ok.as_object().unwrap(), true)
            .unwrap()
            .create("g".into(), Utc::now());
        assert_eq!(group.settings.payment_terms.as_deref(), Some("NET30"));
        assert_eq!(group.version, 1);
    }
}
