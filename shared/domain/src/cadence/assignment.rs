//! Assignment rules: which cadence a customer is enrolled in automatically.

use super::*;
use crate::balance::CustomerBalance;
use crate::money::Currency;
use crate::validation::FieldErrors;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentMode {
    /// Customers are enrolled by hand or by import only.
    #[default]
    Manual,
    /// The rules are re-evaluated on every customer create and update.
    Always,
}

/// `== != < > <= >=`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::AsRefStr,
    strum::EnumString,
    strum::IntoStaticStr,
)]
pub enum RuleOp {
    #[strum(serialize = "==")]
    Eq,
    #[strum(serialize = "!=")]
    Ne,
    #[strum(serialize = "<")]
    Lt,
    #[strum(serialize = ">")]
    Gt,
    #[strum(serialize = "<=")]
    Le,
    #[strum(serialize = ">=")]
    Ge,
}

impl RuleOp {
    pub fn parse(raw: &str) -> Option<Self> {
        raw.trim().parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Eq => ordering == Ordering::Equal,
            Self::Ne => ordering != Ordering::Equal,
            Self::Lt => ordering == Ordering::Less,
            Self::Gt => ordering == Ordering::Greater,
            Self::Le => ordering != Ordering::Greater,
            Self::Ge => ordering != Ordering::Less,
        }
    }
}

/// A customer field an assignment rule can test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuleField {
    PaymentTerms,
    Language,
    Currency,
    GroupId,
    /// `==` means "has the tag", `!=` "does not have it".
    Tags,
    Country,
    Metadata(String),
    CreditLimit,
    Outstanding,
    Overdue,
    Chased,
}

impl RuleField {
    /// `payment_terms`, `language`, `currency`, `group_id`, `tags`, `country`,
    /// `metadata.<key>`, `credit_limit`, `balance.outstanding`,
    /// `balance.overdue`, `balance.chased`.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw.trim() {
            "payment_terms" => Self::PaymentTerms,
            "language" => Self::Language,
            "currency" => Self::Currency,
            "group_id" => Self::GroupId,
            "tags" => Self::Tags,
            "country" => Self::Country,
            "credit_limit" => Self::CreditLimit,
            "balance.outstanding" => Self::Outstanding,
            "balance.overdue" => Self::Overdue,
            "balance.chased" => Self::Chased,
            other => {
                let key = other.strip_prefix("metadata.")?;
                if key.is_empty() || key.len() > MAX_REF_CHARS {
                    return None;
                }
                Self::Metadata(key.to_string())
            }
        })
    }

    /// Money fields compare as numbers; everything else as text.
    pub fn is_money(&self) -> bool {
        matches!(
            self,
            Self::CreditLimit | Self::Outstanding | Self::Overdue | Self::Chased
        )
    }

    /// Codes whose case carries no meaning (ISO 639, 3166, 4217).
    fn is_code(&self) -> bool {
        matches!(self, Self::Language | Self::Country | Self::Currency)
    }
}

impl fmt::Display for RuleField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::PaymentTerms => "payment_terms",
            Self::Language => "language",
            Self::Currency => "currency",
            Self::GroupId => "group_id",
            Self::Tags => "tags",
            Self::Country => "country",
            Self::CreditLimit => "credit_limit",
            Self::Outstanding => "balance.outstanding",
            Self::Overdue => "balance.overdue",
            Self::Chased => "balance.chased",
            Self::Metadata(key) => return write!(f, "metadata.{key}"),
        };
        f.write_str(name)
    }
}

macro_rules! serde_as_string {
    ($type:ty, $parse:expr, $what:literal) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&DisplayWith(self))
            }
        }
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                $parse(&raw).ok_or_else(|| serde::de::Error::custom(concat!("not ", $what)))
            }
        }
    };
}

struct DisplayWith<'a, T>(&'a T);

impl fmt::Display for DisplayWith<'_, RuleField> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for DisplayWith<'_, RuleOp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

serde_as_string!(RuleField, RuleField::parse, "a rule field");
serde_as_string!(RuleOp, RuleOp::parse, "a rule operator");

/// One condition of an assignment rule. `value` is text; for money fields it
/// is a decimal string in the customer's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub field: RuleField,
    pub op: RuleOp,
    pub value: String,
}

/// What assignment rules can see of a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFacts {
    pub payment_terms: Option<String>,
    pub language: Option<String>,
    pub currency: Currency,
    pub group_id: Option<String>,
    pub tags: Vec<String>,
    pub country: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub credit_limit: Option<Decimal>,
    pub balance: CustomerBalance,
}

impl Rule {
    /// A missing value (no credit limit, no such metadata key) satisfies only `!=`.
    pub fn holds(&self, facts: &CustomerFacts) -> bool {
        if self.field == RuleField::Tags {
            let has = facts.tags.iter().any(|t| t == self.value.trim());
            return match self.op {
                RuleOp::Eq => has,
                RuleOp::Ne => !has,
                _ => false,
            };
        }
        if self.field.is_money() {
            let actual = match self.field {
                RuleField::CreditLimit => facts.credit_limit,
                RuleField::Outstanding => Some(facts.balance.outstanding),
                RuleField::Overdue => Some(facts.balance.overdue),
                _ => Some(facts.balance.chased),
            };
            let Ok(wanted) = crate::money::parse_decimal(self.value.trim()) else {
                return false;
            };
            return match actual {
                Some(actual) => self.op.holds(actual.cmp(&wanted)),
                None => self.op == RuleOp::Ne,
            };
        }
        let actual: Option<&str> = match &self.field {
            RuleField::PaymentTerms => facts.payment_terms.as_deref(),
            RuleField::Language => facts.language.as_deref(),
            RuleField::Currency => Some(facts.currency.code()),
            RuleField::GroupId => facts.group_id.as_deref(),
            RuleField::Country => facts.country.as_deref(),
            RuleField::Metadata(key) => facts.metadata.get(key).map(String::as_str),
            _ => None,
        };
        match actual {
            Some(actual) if self.field.is_code() => self.op.holds(
                actual
                    .trim()
                    .to_ascii_lowercase()
                    .cmp(&self.value.trim().to_ascii_lowercase()),
            ),
            Some(actual) => self.op.holds(actual.cmp(self.value.as_str())),
            None => self.op == RuleOp::Ne,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Assignment {
    pub mode: AssignmentMode,
    /// Lower is tried first.
    pub priority: i32,
    pub rules: Vec<Rule>,
}

impl Assignment {
    /// All rules hold (no rules: every customer).
    pub fn matches(&self, facts: &CustomerFacts) -> bool {
        self.rules.iter().all(|rule| rule.holds(facts))
    }
}

/// The cadence automatic assignment enrols a customer in: among `always`
/// cadences, by priority (then id, so ties are stable), the first whose rules
/// all hold. Manual cadences are never chosen here.
pub fn assign_cadence<'a>(cadences: &'a [Cadence], facts: &CustomerFacts) -> Option<&'a Cadence> {
    first_matching(cadences.iter(), facts)
}

/// [`assign_cadence`] for each level on its own: a customer holds at most
/// one cadence per level, so each level's rules are tried separately.
pub fn assign_cadences<'a>(cadences: &'a [Cadence], facts: &CustomerFacts) -> Vec<&'a Cadence> {
    [Level::Customer, Level::Invoice]
        .into_iter()
        .filter_map(|level| first_matching(cadences.iter().filter(|c| c.level == level), facts))
        .collect()
}

fn first_matching<'a>(
    cadences: impl Iterator<Item = &'a Cadence>,
    facts: &CustomerFacts,
) -> Option<&'a Cadence> {
    let mut candidates: Vec<&Cadence> = cadences
        .filter(|c| c.assignment.mode == AssignmentMode::Always)
        .collect();
    candidates.sort_by(|a, b| (a.assignment.priority, &a.id).cmp(&(b.assignment.priority, &b.id)));
    candidates.into_iter().find(|c| c.assignment.matches(facts))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentDraft {
    #[serde(default)]
    pub mode: AssignmentMode,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub rules: Vec<RuleDraft>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDraft {
    pub field: String,
    pub op: String,
    /// A string, or a number for money fields.
    pub value: serde_json::Value,
}

pub(super) fn validate_assignment(errors: &mut FieldErrors, draft: &AssignmentDraft) -> Assignment {
    let priority = match i32::try_from(draft.priority) {
        Ok(p) => p,
        Err(_) => {
            errors.add("assignment.priority", "is out of range");
            0
        }
    };
    if draft.rules.len() > MAX_RULES {
        errors.add(
            "assignment.rules",
            format!("must have at most {MAX_RULES} rules"),
        );
    }
    let mut rules = Vec::new();
    for (index, raw) in draft.rules.iter().enumerate().take(MAX_RULES) {
        let prefix = format!("assignment.rules[{index}]");
        let field = RuleField::parse(&raw.field);
        if field.is_none() {
            errors.add(
                format!("{prefix}.field"),
                "is not a customer field rules can test",
            );
        }
        let op = RuleOp::parse(&raw.op);
        if op.is_none() {
            errors.add(format!("{prefix}.op"), "must be one of == != < > <= >=");
        }
        let value = match &raw.value {
            serde_json::Value::String(s) => Some(s.trim().to_string()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let value = value.filter(|v| v.chars().count() <= MAX_RULE_VALUE_CHARS);
        if value.is_none() {
            errors.add(
                format!("{prefix}.value"),
                format!("must be a string or number of at most {MAX_RULE_VALUE_CHARS} characters"),
            );
        }
        let (Some(field), Some(op), Some(value)) = (field, op, value) else {
            continue;
        };
        if field.is_money() && crate::money::parse_decimal(&value).is_err() {
            errors.add(
                format!("{prefix}.value"),
                "must be a decimal amount for this field",
            );
            continue;
        }
        if field == RuleField::Tags && !matches!(op, RuleOp::Eq | RuleOp::Ne) {
            errors.add(
                format!("{prefix}.op"),
                "tags can only be tested with == or !=",
            );
            continue;
        }
        rules.push(Rule { field, op, value });
    }
    Assignment {
        mode: draft.mode,
        priority,
        rules,
    }
}
