//! Cadences and the evaluation that decides, for one customer at one instant,
//! which step runs (DESIGN §5). Pure: the worker, the scheduler and the
//! preview all call the same [`Evaluator`], so what is previewed is what runs.
//!
//! Choices where DESIGN §5 is silent:
//! - Step positions are 0-based indexes into `steps`.
//! - A step is due on the run whose local date is at least its anchor (oldest
//!   item date, or oldest due date) plus `days`; ages are measured on the
//!   run's local date.
//! - A due step whose contact role no customer contact holds is passed over
//!   (not superseded) while an applicable step runs; it stays eligible and is
//!   superseded only when a later step runs.
//! - The frequency cap counts emails, SMS and letters sent on the tenant-local
//!   dates of the window (today and the `window_days - 1` before), so a daily
//!   09:00 run is never blocked by yesterday's 09:00:03 send. Phone calls and
//!   escalations are tasks for the team, not messages, and are never capped.
//! - A threshold in another currency than the customer's is not applied
//!   (no conversion exists yet; DESIGN §3 defers per-currency chasing).
//! - Pausing "until" a date means chasing resumes on that date; a promise
//!   holds chasing through `promised_date + grace_days` inclusive.

use super::balance::{cycle_resets, ChasedBalance, ChasedItem, CustomerBalance, ItemId};
use super::invoice::Invoice;
use super::money::{Currency, Money};
use super::schedule::{DayOfWeek, RunAt, RunSlot, Schedule, Timing};
use super::settings::FrequencyCap;
use super::template::Channel;
use super::validation::{bounded_text, FieldErrors};
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// DESIGN §5: at most 100 steps a cadence.
pub const MAX_STEPS: usize = 100;
/// DESIGN §5: at most 100 cadences a tenant (checked by the caller, who can count).
pub const MAX_CADENCES_PER_TENANT: usize = 100;
/// Ten years: a later step can never run in any real account.
pub const MAX_STEP_DAYS: i32 = 3650;
/// Reminders may go up to a year before the due date.
pub const MIN_PAST_DUE_DAYS: i32 = -365;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_RULES: usize = 20;
const MAX_REF_CHARS: usize = 128;
const MAX_RULE_VALUE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Days since the oldest item date.
    AccountAge,
    /// Days since the oldest due date; negative before it.
    PastDueAge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Email,
    Sms,
    Letter,
    PhoneCall,
    Escalation,
}

impl Action {
    /// Whether it reaches the customer and so counts against the frequency cap.
    pub fn is_message(self) -> bool {
        matches!(self, Action::Email | Action::Sms | Action::Letter)
    }

    /// The template channel it needs, if any.
    pub fn channel(self) -> Option<Channel> {
        match self {
            Action::Email => Some(Channel::Email),
            Action::Sms => Some(Channel::Sms),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Contacts flagged to receive normal chasers.
    #[default]
    Normal,
    /// Contacts flagged to receive escalated chasers.
    Escalated,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub trigger: Trigger,
    pub days: i32,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default)]
    pub audience: Audience,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    #[serde(default)]
    pub attach_invoices: bool,
}

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
            let Ok(wanted) = super::money::parse_decimal(self.value.trim()) else {
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
    let mut candidates: Vec<&Cadence> = cadences
        .iter()
        .filter(|c| c.assignment.mode == AssignmentMode::Always)
        .collect();
    candidates.sort_by(|a, b| (a.assignment.priority, &a.id).cmp(&(b.assignment.priority, &b.id)));
    candidates.into_iter().find(|c| c.assignment.matches(facts))
}

/// A validated cadence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cadence {
    pub id: String,
    pub name: String,
    /// `run_at`, `days_of_week`, `days_of_month` at the top level, as in the API.
    #[serde(flatten)]
    pub timing: Timing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Money>,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub assignment: Assignment,
    pub version: u32,
}

impl Cadence {
    pub fn step(&self, position: u32) -> Option<&Step> {
        self.steps.get(position as usize)
    }
}

/// What validation needs to know about other resources of the tenant.
pub trait CadenceRefs {
    /// The channel of a template, `None` when there is no such template.
    fn template_channel(&self, template_id: &str) -> Option<Channel>;
    /// Whether a contact role exists; by default any non-empty name is accepted.
    fn contact_role_exists(&self, _role: &str) -> bool {
        true
    }
}

impl<F: Fn(&str) -> Option<Channel>> CadenceRefs for F {
    fn template_channel(&self, template_id: &str) -> Option<Channel> {
        self(template_id)
    }
}

/// A cadence as submitted. Free-form where a bad value must become a field
/// error rather than a parse failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CadenceDraft {
    pub name: String,
    pub run_at: String,
    #[serde(default)]
    pub days_of_week: Vec<String>,
    #[serde(default)]
    pub days_of_month: Vec<i64>,
    #[serde(default)]
    pub threshold: Option<Money>,
    pub steps: Vec<StepDraft>,
    #[serde(default)]
    pub assignment: Option<AssignmentDraft>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDraft {
    pub trigger: Trigger,
    pub days: i64,
    pub action: Action,
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub audience: Audience,
    #[serde(default)]
    pub contact_role: Option<String>,
    #[serde(default)]
    pub assignee_id: Option<String>,
    #[serde(default)]
    pub attach_invoices: bool,
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

impl CadenceDraft {
    /// Checks every field at once and builds the cadence.
    pub fn validate(
        self,
        id: String,
        version: u32,
        refs: &dyn CadenceRefs,
    ) -> Result<Cadence, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = bounded_text(&mut errors, "name", &self.name, MAX_NAME_CHARS);
        let run_at = RunAt::parse(self.run_at.trim());
        if run_at.is_none() {
            errors.add("run_at", "must be a local time written HH:MM, e.g. 07:00");
        }
        let mut days_of_week = Vec::new();
        for raw in &self.days_of_week {
            match DayOfWeek::parse(raw) {
                Some(day) if days_of_week.contains(&day) => {
                    errors.add("days_of_week", format!("lists {raw} twice"))
                }
                Some(day) => days_of_week.push(day),
                None => errors.add(
                    "days_of_week",
                    format!("{raw:?} is not a day of the week (mon … sun)"),
                ),
            }
        }
        days_of_week.sort();
        let mut days_of_month = Vec::new();
        for &day in &self.days_of_month {
            match u8::try_from(day).ok().filter(|d| (1..=31).contains(d)) {
                Some(day) if days_of_month.contains(&day) => {
                    errors.add("days_of_month", format!("lists {day} twice"))
                }
                Some(day) => days_of_month.push(day),
                None => errors.add("days_of_month", "days must be from 1 to 31"),
            }
        }
        days_of_month.sort_unstable();
        let threshold = self
            .threshold
            .and_then(|t| match Money::new(t.amount, t.currency) {
                Ok(money) if money.amount > Decimal::ZERO => Some(money),
                Ok(_) => {
                    errors.add("threshold.amount", "must be greater than zero");
                    None
                }
                Err(error) => {
                    errors.add("threshold.amount", error.to_string());
                    None
                }
            });
        let steps = validate_steps(&mut errors, &self.steps, refs);
        let assignment = match &self.assignment {
            Some(draft) => validate_assignment(&mut errors, draft),
            None => Assignment::default(),
        };
        let (Some(name), Some(run_at)) = (name, run_at) else {
            return Err(errors);
        };
        errors.into_result(Cadence {
            id,
            name,
            timing: Timing {
                run_at,
                days_of_week,
                days_of_month,
            },
            threshold,
            steps,
            assignment,
            version,
        })
    }
}

fn validate_steps(
    errors: &mut FieldErrors,
    drafts: &[StepDraft],
    refs: &dyn CadenceRefs,
) -> Vec<Step> {
    if drafts.is_empty() {
        errors.add("steps", "must have at least one step");
    }
    if drafts.len() > MAX_STEPS {
        errors.add("steps", format!("must have at most {MAX_STEPS} steps"));
        return Vec::new();
    }
    let mut steps = Vec::with_capacity(drafts.len());
    for (index, draft) in drafts.iter().enumerate() {
        let field = |name: &str| format!("steps[{index}].{name}");
        let range = match draft.trigger {
            Trigger::AccountAge => 0..=MAX_STEP_DAYS,
            Trigger::PastDueAge => MIN_PAST_DUE_DAYS..=MAX_STEP_DAYS,
        };
        let days = i32::try_from(draft.days).ok().filter(|d| range.contains(d));
        if days.is_none() {
            errors.add(
                field("days"),
                format!(
                    "must be from {} to {} for {}",
                    range.start(),
                    range.end(),
                    match draft.trigger {
                        Trigger::AccountAge => "account_age",
                        Trigger::PastDueAge => "past_due_age",
                    }
                ),
            );
        }
        let template_id = clean_ref(&draft.template_id);
        match (draft.action.channel(), &template_id) {
            (Some(_), None) => errors.add(field("template_id"), "is required for this action"),
            (Some(channel), Some(id)) => match refs.template_channel(id) {
                None => errors.add(field("template_id"), "is not a template of this tenant"),
                Some(actual) if actual != channel => errors.add(
                    field("template_id"),
                    format!(
                        "is a {} template; this step needs {}",
                        actual.as_str(),
                        channel.as_str()
                    ),
                ),
                Some(_) => {}
            },
            (None, Some(_)) => {
                errors.add(field("template_id"), "is only used by email and sms steps")
            }
            (None, None) => {}
        }
        let assignee_id = clean_ref(&draft.assignee_id);
        if draft.action == Action::Escalation && assignee_id.is_none() {
            errors.add(field("assignee_id"), "is required for an escalation");
        }
        if assignee_id.is_some() && !matches!(draft.action, Action::Escalation | Action::PhoneCall)
        {
            errors.add(
                field("assignee_id"),
                "is only used by phone_call and escalation steps",
            );
        }
        if draft.attach_invoices && draft.action != Action::Email {
            errors.add(
                field("attach_invoices"),
                "is only possible on an email step",
            );
        }
        let contact_role = clean_ref(&draft.contact_role);
        if let Some(role) = &contact_role {
            if !refs.contact_role_exists(role) {
                errors.add(
                    field("contact_role"),
                    "is not a contact role of this tenant",
                );
            }
        }
        for (name, value) in [
            ("template_id", &draft.template_id),
            ("assignee_id", &draft.assignee_id),
            ("contact_role", &draft.contact_role),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.trim().chars().count() > MAX_REF_CHARS)
            {
                errors.add(
                    field(name),
                    format!("must be at most {MAX_REF_CHARS} characters"),
                );
            }
        }
        if let Some(days) = days {
            steps.push(Step {
                trigger: draft.trigger,
                days,
                action: draft.action,
                template_id,
                audience: draft.audience,
                contact_role,
                assignee_id,
                attach_invoices: draft.attach_invoices,
            });
        }
    }
    steps
}

fn clean_ref(raw: &Option<String>) -> Option<String> {
    raw.as_ref()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn validate_assignment(errors: &mut FieldErrors, draft: &AssignmentDraft) -> Assignment {
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
        if field.is_money() && super::money::parse_decimal(&value).is_err() {
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

/// Where a customer is in its current cycle. Persist it with the customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CycleState {
    /// 0 before the first cycle; the chase id is (tenant, customer, cycle, step).
    pub cycle: u32,
    /// The items in this cycle's balance when last observed. Empty: no cycle
    /// in progress.
    pub members: BTreeSet<ItemId>,
    /// Step positions that ran in this cycle.
    pub ran: BTreeSet<u32>,
    /// Step positions passed over because a later due step ran.
    pub superseded: BTreeSet<u32>,
    pub last_run: Option<u32>,
}

/// What an observation or a change did to the cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CycleChange {
    /// The previous cycle ended.
    pub reset: bool,
    /// A new cycle began, with this number.
    pub started: Option<u32>,
}

impl CycleChange {
    fn merge(self, later: CycleChange) -> Self {
        Self {
            reset: self.reset || later.reset,
            started: later.started.or(self.started),
        }
    }
}

impl CycleState {
    /// Whether `position` may still run in this cycle: not run, not
    /// superseded, and after the last step that ran.
    pub fn is_eligible(&self, position: u32) -> bool {
        !self.ran.contains(&position)
            && !self.superseded.contains(&position)
            && self.last_run.is_none_or(|last| position > last)
    }

    fn clear_steps(&mut self) {
        self.ran.clear();
        self.superseded.clear();
        self.last_run = None;
    }

    /// Brings the state up to date with the current items: a positive balance
    /// with no cycle in progress starts one, and items that joined (a new
    /// invoice, the next installment) join the cycle. As a safety net, if
    /// every remembered member is gone the cycle resets; this is exact only
    /// when every money event went through [`CycleState::record_change`].
    pub fn observe(&mut self, items: &[ChasedItem]) -> CycleChange {
        let current: BTreeSet<ItemId> = items
            .iter()
            .filter(|i| i.remaining > Decimal::ZERO)
            .map(|i| i.id.clone())
            .collect();
        let mut change = CycleChange::default();
        if !self.members.is_empty() && self.members.is_disjoint(&current) {
            self.clear_steps();
            self.members.clear();
            change.reset = true;
        }
        if self.members.is_empty() && !current.is_empty() {
            self.cycle += 1;
            self.clear_steps();
            change.started = Some(self.cycle);
        }
        self.members = current;
        change
    }

    /// Applies DESIGN §5's reset rule to one change of the customer's
    /// invoices (payment, credit, void, dispute, new or edited invoice).
    /// `before` and `after` are the chased items just before and just after
    /// it, both computed for the same tenant-local day.
    pub fn record_change(&mut self, before: &[ChasedItem], after: &[ChasedItem]) -> CycleChange {
        let mut change = self.observe(before);
        if cycle_resets(before, after) {
            self.clear_steps();
            self.members.clear();
            change.reset = true;
        }
        change.merge(self.observe(after))
    }

    /// Records a run the worker carried out (after its claim and send). A run
    /// decided in another cycle than the current one is stale and ignored.
    pub fn record_run(&mut self, run: &Run) {
        if run.cycle != self.cycle {
            return;
        }
        self.ran.insert(run.position);
        self.superseded.extend(run.superseded.iter().copied());
        self.last_run = Some(run.position);
    }

    /// Starts afresh on another cadence (or version): positions of the old
    /// steps mean nothing there, and a new cycle number keeps chase ids unique.
    pub fn restart(&mut self) {
        self.clear_steps();
        if !self.members.is_empty() {
            self.cycle += 1;
        }
    }
}

/// A customer's pause (chasing status `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// Chasing resumes on this tenant-local date; `None`: until resumed by hand.
    pub until: Option<NaiveDate>,
}

/// An open promise to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPromise {
    pub promised_date: NaiveDate,
    /// The tenant's `promise_grace_days`.
    pub grace_days: u32,
}

impl OpenPromise {
    /// The last date chasing is held: the promised date plus the grace.
    pub fn holds_through(&self) -> NaiveDate {
        self.promised_date
            .checked_add_days(Days::new(u64::from(self.grace_days)))
            .unwrap_or(NaiveDate::MAX)
    }
}

/// Everything about a customer, other than its balance, that can hold a
/// chase back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stops {
    pub pause: Option<Pause>,
    pub promise: Option<OpenPromise>,
    /// Roles held by at least one of the customer's contacts.
    pub contact_roles: BTreeSet<String>,
    /// When chase messages (email, sms, letter) were sent; at least those in
    /// the frequency cap window.
    pub messages_sent: Vec<DateTime<Utc>>,
    pub frequency_cap: FrequencyCap,
}

/// Run one step now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub cycle: u32,
    pub position: u32,
    pub action: Action,
    /// Earlier due steps recorded as superseded by this one.
    pub superseded: Vec<u32>,
    /// The scheduled run this decision belongs to.
    pub slot: RunSlot,
}

/// Nothing to do, and nothing was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Idle {
    /// The cadence has not had a run yet (or never runs).
    NoRunYet,
    NoChasedBalance,
    NoStepDue,
    /// Every step has run or can no longer run in this cycle.
    StepsDone,
}

/// A step was due but is held back; the worker records it as suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Stop {
    Paused {
        until: Option<NaiveDate>,
    },
    Promised {
        until: NaiveDate,
    },
    /// The cycle does not advance.
    BelowThreshold {
        balance: Money,
        threshold: Money,
    },
    NoContactWithRole {
        position: u32,
        role: String,
    },
    FrequencyCap {
        reopens_on: NaiveDate,
    },
}

impl Stop {
    /// A stable code for history items and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Stop::Paused { .. } => "paused",
            Stop::Promised { .. } => "promised",
            Stop::BelowThreshold { .. } => "below_threshold",
            Stop::NoContactWithRole { .. } => "no_contact_with_role",
            Stop::FrequencyCap { .. } => "frequency_cap",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Decision {
    Run(Run),
    Nothing(Idle),
    Stopped(Stop),
}

/// The outcome of evaluating one customer at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub decision: Decision,
    /// The run evaluated: the latest at or before the instant (a late tick
    /// catches up on it).
    pub slot: Option<RunSlot>,
    /// The cycle state brought up to date with the balance. Persist it
    /// whatever the decision; after a carried-out run persist
    /// [`Evaluation::state_after_run`] instead.
    pub state: CycleState,
    pub cycle_change: CycleChange,
    pub chased_balance: Money,
    pub account_age: Option<i64>,
    pub past_due_age: Option<i64>,
    /// The open promise's hold is over: the worker resolves it (kept or broken).
    pub promise_expired: bool,
    /// When to look at this customer again if nothing changes, assuming the
    /// decision is carried out. `None`: only an event can make a step due.
    pub next_evaluation_at: Option<DateTime<Utc>>,
}

impl Evaluation {
    /// The state to persist once a `Run` was carried out.
    pub fn state_after_run(&self) -> CycleState {
        let mut state = self.state.clone();
        if let Decision::Run(run) = &self.decision {
            state.record_run(run);
        }
        state
    }
}

/// One line of a preview: what would run, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewEntry {
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub cycle: u32,
    pub position: u32,
    pub action: Action,
    pub superseded: Vec<u32>,
}

/// Evaluates customers of one cadence in one tenant zone.
#[derive(Debug, Clone)]
pub struct Evaluator<'a> {
    cadence: &'a Cadence,
    schedule: Schedule,
    stops: &'a Stops,
}

impl<'a> Evaluator<'a> {
    pub fn new(cadence: &'a Cadence, zone: Tz, stops: &'a Stops) -> Self {
        Self {
            cadence,
            schedule: Schedule::new(&cadence.timing, zone),
            stops,
        }
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// THE evaluation: which step, if any, runs for this customer at `now`,
    /// judged on the latest scheduled run at or before `now`. `balance` is the
    /// customer's chased balance computed for the tenant-local date of `now`.
    pub fn evaluate(
        &self,
        balance: &ChasedBalance,
        state: &CycleState,
        now: DateTime<Utc>,
    ) -> Evaluation {
        let mut observed = state.clone();
        let cycle_change = observed.observe(&balance.items);
        let slot = self.schedule.last_run_at_or_before(now);
        let anchors = Anchors::of(balance);
        let decision = match slot {
            None => Decision::Nothing(Idle::NoRunYet),
            Some(slot) => self.decide(balance, &anchors, &observed, slot),
        };
        let as_of = slot.map_or_else(|| self.schedule.local_date(now), |s| s.date);
        let (next_state, just_sent) = match &decision {
            Decision::Run(run) => {
                let mut next = observed.clone();
                next.record_run(run);
                (Some(next), run.action.is_message().then_some(now))
            }
            _ => (None, None),
        };
        let next_evaluation_at = self.next_after(
            balance,
            &anchors,
            next_state.as_ref().unwrap_or(&observed),
            now,
            just_sent,
        );
        Evaluation {
            decision,
            slot,
            chased_balance: balance.total(),
            account_age: balance.account_age(as_of),
            past_due_age: balance.past_due_age(as_of),
            promise_expired: self
                .stops
                .promise
                .is_some_and(|p| as_of > p.holds_through()),
            state: observed,
            cycle_change,
            next_evaluation_at,
        }
    }

    /// When to look at this customer next if nothing changes: the first run
    /// strictly after `now` at which a step could run or a stop ends. Event
    /// handlers call this after a change (see [`reschedule`]).
    pub fn next_evaluation_at(
        &self,
        balance: &ChasedBalance,
        state: &CycleState,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut observed = state.clone();
        observed.observe(&balance.items);
        self.next_after(balance, &Anchors::of(balance), &observed, now, None)
    }

    /// A dry run over the runs in `(now, now + days]` if nothing changes:
    /// each run evaluated in turn with the same code, its decisions applied to
    /// a copy of the state, messages it sends counted against the cap.
    pub fn preview(
        &self,
        invoices: &[Invoice],
        currency: Currency,
        credit: Decimal,
        state: &CycleState,
        now: DateTime<Utc>,
        days: u32,
    ) -> Vec<PreviewEntry> {
        let end = now + TimeDelta::days(i64::from(days));
        let mut stops = self.stops.clone();
        let mut state = state.clone();
        let mut entries = Vec::new();
        for slot in self.schedule.runs_between(now, end) {
            let balance = ChasedBalance::of(invoices, currency, slot.date).net_of_credit(credit);
            let evaluator = Evaluator {
                cadence: self.cadence,
                schedule: self.schedule.clone(),
                stops: &stops,
            };
            let evaluation = evaluator.evaluate(&balance, &state, slot.at);
            state = evaluation.state_after_run();
            if let Decision::Run(run) = evaluation.decision {
                if run.action.is_message() {
                    stops.messages_sent.push(slot.at);
                }
                entries.push(PreviewEntry {
                    date: slot.date,
                    at: slot.at,
                    cycle: run.cycle,
                    position: run.position,
                    action: run.action,
                    superseded: run.superseded,
                });
            }
        }
        entries
    }

    fn decide(
        &self,
        balance: &ChasedBalance,
        anchors: &Anchors,
        state: &CycleState,
        slot: RunSlot,
    ) -> Decision {
        if balance.is_empty() {
            return Decision::Nothing(Idle::NoChasedBalance);
        }
        let as_of = slot.date;
        let mut any_eligible = false;
        let mut due: Vec<u32> = Vec::new();
        let mut last_applicable: Option<u32> = None;
        for (position, step) in (0u32..).zip(&self.cadence.steps) {
            if !state.is_eligible(position) {
                continue;
            }
            any_eligible = true;
            if anchors.due_on(step).is_some_and(|d| d <= as_of) {
                due.push(position);
                if self.applicable(step) {
                    last_applicable = Some(position);
                }
            }
        }
        let Some(&last_due) = due.last() else {
            return Decision::Nothing(if any_eligible {
                Idle::NoStepDue
            } else {
                Idle::StepsDone
            });
        };
        let Some(position) = last_applicable else {
            let role = self
                .cadence
                .step(last_due)
                .and_then(|s| s.contact_role.clone())
                .unwrap_or_default();
            return Decision::Stopped(Stop::NoContactWithRole {
                position: last_due,
                role,
            });
        };
        if let Some(pause) = self.stops.pause {
            if pause.until.is_none_or(|until| as_of < until) {
                return Decision::Stopped(Stop::Paused { until: pause.until });
            }
        }
        if let Some(promise) = self.stops.promise {
            if as_of <= promise.holds_through() {
                return Decision::Stopped(Stop::Promised {
                    until: promise.holds_through(),
                });
            }
        }
        if let Some(threshold) = self.below_threshold(balance) {
            return Decision::Stopped(Stop::BelowThreshold {
                balance: balance.total(),
                threshold,
            });
        }
        let Some(step) = self.cadence.step(position) else {
            return Decision::Nothing(Idle::StepsDone);
        };
        if step.action.is_message() {
            let opens = cap_opens_on(
                &self.stops.messages_sent,
                self.stops.frequency_cap,
                &self.schedule,
                as_of,
                None,
            );
            if opens > as_of {
                return Decision::Stopped(Stop::FrequencyCap { reopens_on: opens });
            }
        }
        Decision::Run(Run {
            cycle: state.cycle,
            position,
            action: step.action,
            superseded: due.into_iter().filter(|p| *p < position).collect(),
            slot,
        })
    }

    fn applicable(&self, step: &Step) -> bool {
        step.contact_role
            .as_ref()
            .is_none_or(|role| self.stops.contact_roles.contains(role))
    }

    fn below_threshold(&self, balance: &ChasedBalance) -> Option<Money> {
        let threshold = self.cadence.threshold?;
        let total = balance.total();
        (threshold.currency == total.currency && total.amount < threshold.amount)
            .then_some(threshold)
    }

    /// The earliest date on which anything could run or end, then the first
    /// run on or after it. Never later than the first run at which
    /// [`Evaluator::evaluate`] would return `Run`, so a scheduler that only
    /// looks at due customers misses nothing.
    fn next_after(
        &self,
        balance: &ChasedBalance,
        anchors: &Anchors,
        state: &CycleState,
        now: DateTime<Utc>,
        just_sent: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let mut earliest: Option<NaiveDate> = None;
        let mut consider = |date: Option<NaiveDate>| {
            if let Some(date) = date {
                earliest = Some(earliest.map_or(date, |e| e.min(date)));
            }
        };
        let promise_ends = self.stops.promise.map(|p| {
            p.holds_through()
                .checked_add_days(Days::new(1))
                .unwrap_or(NaiveDate::MAX)
        });
        // An open promise must be resolved (kept or broken) even with nothing to chase.
        consider(promise_ends);
        let paused_for_good = self.stops.pause.is_some_and(|p| p.until.is_none());
        if balance.is_empty() {
            // Only an event can bring a balance back.
        } else if self.below_threshold(balance).is_some() {
            // Only an installment joining (or an event) can lift the balance.
            consider(balance.changes_on);
        } else if !paused_for_good {
            let resume = self.stops.pause.and_then(|p| p.until);
            for (position, step) in (0u32..).zip(&self.cadence.steps) {
                if !state.is_eligible(position) || !self.applicable(step) {
                    continue;
                }
                let Some(mut date) = anchors.due_on(step) else {
                    continue;
                };
                date = date.max(resume.unwrap_or(date));
                date = date.max(promise_ends.unwrap_or(date));
                if step.action.is_message() {
                    date = cap_opens_on(
                        &self.stops.messages_sent,
                        self.stops.frequency_cap,
                        &self.schedule,
                        date,
                        just_sent,
                    );
                }
                consider(Some(date));
            }
        }
        let date = earliest?;
        self.schedule.first_run_from(date, now).map(|slot| slot.at)
    }
}

/// The dates ages are measured from, computed once per evaluation.
struct Anchors {
    oldest_item: Option<NaiveDate>,
    oldest_due: Option<NaiveDate>,
}

impl Anchors {
    fn of(balance: &ChasedBalance) -> Self {
        Self {
            oldest_item: balance.oldest_item_date(),
            oldest_due: balance.oldest_due_date(),
        }
    }

    /// The first date on which the step's trigger age reaches its days.
    fn due_on(&self, step: &Step) -> Option<NaiveDate> {
        let anchor = match step.trigger {
            Trigger::AccountAge => self.oldest_item,
            Trigger::PastDueAge => self.oldest_due,
        }?;
        anchor.checked_add_signed(TimeDelta::days(i64::from(step.days)))
    }
}

/// The first date on or after `from` on which one more message fits the cap:
/// fewer than `max_messages` sent on the `window_days` local dates ending then.
fn cap_opens_on(
    sent: &[DateTime<Utc>],
    cap: FrequencyCap,
    schedule: &Schedule,
    from: NaiveDate,
    extra: Option<DateTime<Utc>>,
) -> NaiveDate {
    let max = cap.max_messages.max(1) as usize;
    let window = u64::from(cap.window_days.max(1));
    let earliest_counted = from
        .checked_sub_days(Days::new(window - 1))
        .unwrap_or(NaiveDate::MIN);
    let mut dates: Vec<NaiveDate> = sent
        .iter()
        .chain(extra.iter())
        .map(|at| schedule.local_date(*at))
        .filter(|d| *d >= earliest_counted)
        .collect();
    if dates.len() < max {
        return from;
    }
    // The max-th most recent send must leave the window.
    dates.sort_unstable_by(|a, b| b.cmp(a));
    let blocking = dates[max - 1];
    from.max(
        blocking
            .checked_add_days(Days::new(window))
            .unwrap_or(NaiveDate::MAX),
    )
}

/// The due-index entry to write after an event at `now`: an entry already due
/// stays, so the worker still catches up on a run it has not processed; any
/// other is replaced by the freshly computed one.
pub fn reschedule(
    current: Option<DateTime<Utc>>,
    computed: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match current {
        Some(current) if current <= now => Some(current),
        _ => computed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::tests::{d, date, eur};
    use crate::invoice::CollectionStatus;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn templates(id: &str) -> Option<Channel> {
        match id {
            "t-email" => Some(Channel::Email),
            "t-sms" => Some(Channel::Sms),
            _ => None,
        }
    }

    fn step(trigger: Trigger, days: i64, action: Action) -> StepDraft {
        StepDraft {
            trigger,
            days,
            action,
            template_id: match action {
                Action::Email => Some("t-email".into()),
                Action::Sms => Some("t-sms".into()),
                _ => None,
            },
            audience: Audience::Normal,
            contact_role: None,
            assignee_id: (action == Action::Escalation).then(|| "u1".into()),
            attach_invoices: false,
        }
    }

    fn draft(steps: Vec<StepDraft>) -> CadenceDraft {
        CadenceDraft {
            name: "Standard".into(),
            run_at: "09:00".into(),
            days_of_week: vec![],
            days_of_month: vec![],
            threshold: None,
            steps,
            assignment: None,
        }
    }

    fn cadence(steps: Vec<StepDraft>) -> Cadence {
        draft(steps).validate("cad".into(), 1, &templates).unwrap()
    }

    fn fields(errors: &FieldErrors) -> Vec<&str> {
        errors.iter().map(|(f, _)| f.as_str()).collect()
    }

    fn one_invoice(issue: &str, due: Option<&str>, total: &str) -> ChasedBalance {
        let invoice = Invoice {
            id: "inv".into(),
            customer_id: "cus".into(),
            number: "N1".into(),
            currency: eur(),
            issue_date: date(issue),
            due_date: due.map(date),
            total: d(total),
            amount_paid: d("0"),
            autopay: false,
            collection_status: CollectionStatus::Normal,
            dispute_reason: None,
            voided: false,
            payment_plan: None,
        };
        ChasedBalance::of(&[invoice], eur(), date(issue))
    }

    #[test]
    fn every_bad_step_field_is_reported() {
        let mut bad_template = step(Trigger::AccountAge, 1, Action::Email);
        bad_template.template_id = Some("t-sms".into());
        let mut missing = step(Trigger::AccountAge, 2, Action::Sms);
        missing.template_id = None;
        let mut escalation = step(Trigger::AccountAge, 3, Action::Escalation);
        escalation.assignee_id = None;
        let mut letter = step(Trigger::AccountAge, 4, Action::Letter);
        letter.attach_invoices = true;
        letter.template_id = Some("t-email".into());
        let errors = CadenceDraft {
            run_at: "9am".into(),
            days_of_week: vec!["mon".into(), "Monday".into(), "xyz".into()],
            days_of_month: vec![0, 32],
            threshold: Some(Money {
                amount: d("0.001"),
                currency: eur(),
            }),
            ..draft(vec![
                step(Trigger::AccountAge, -1, Action::Letter),
                step(Trigger::PastDueAge, -366, Action::Letter),
                bad_template,
                missing,
                escalation,
                letter,
            ])
        }
        .validate("cad".into(), 1, &templates)
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "days_of_month",
                "days_of_week",
                "run_at",
                "steps[0].days",
                "steps[1].days",
                "steps[2].template_id",
                "steps[3].template_id",
                "steps[4].assignee_id",
                "steps[5].attach_invoices",
                "steps[5].template_id",
                "threshold.amount",
            ]
        );
        let too_many = draft(
            (0..101)
                .map(|n| step(Trigger::AccountAge, n, Action::Letter))
                .collect(),
        );
        let errors = too_many.validate("cad".into(), 1, &templates).unwrap_err();
        assert_eq!(fields(&errors), ["steps"]);
        assert_eq!(MAX_CADENCES_PER_TENANT, 100);
    }

    #[test]
    fn a_valid_cadence_round_trips_in_api_shape() {
        let json = serde_json::json!({
            "name": "Gentle", "run_at": "07:30", "days_of_week": ["mon", "fri"],
            "days_of_month": [], "threshold": {"amount": "100", "currency": "EUR"},
            "steps": [
                {"trigger": "past_due_age", "days": -3, "action": "email", "template_id": "t-email", "attach_invoices": true},
                {"trigger": "account_age", "days": 45, "action": "phone_call", "contact_role": "ap"}
            ],
            "assignment": {"mode": "always", "priority": 2, "rules": [
                {"field": "balance.overdue", "op": ">=", "value": 500},
                {"field": "metadata.region", "op": "==", "value": "north"}
            ]}
        });
        let draft: CadenceDraft = serde_json::from_value(json).unwrap();
        let cadence = draft.validate("cad".into(), 1, &templates).unwrap();
        assert_eq!(cadence.threshold.unwrap().amount.to_string(), "100.00");
        let stored = serde_json::to_value(&cadence).unwrap();
        assert_eq!(stored["run_at"], "07:30");
        assert_eq!(stored["days_of_week"], serde_json::json!(["mon", "fri"]));
        assert_eq!(stored["assignment"]["rules"][0]["field"], "balance.overdue");
        assert_eq!(stored["assignment"]["rules"][0]["op"], ">=");
        let back: Cadence = serde_json::from_value(stored).unwrap();
        assert_eq!(back, cadence);
    }

    fn facts() -> CustomerFacts {
        CustomerFacts {
            payment_terms: Some("NET30".into()),
            language: Some("fr".into()),
            currency: eur(),
            group_id: None,
            tags: vec!["vip".into()],
            country: Some("FR".into()),
            metadata: BTreeMap::from([("region".into(), "north".into())]),
            credit_limit: None,
            balance: CustomerBalance {
                outstanding: d("1000"),
                overdue: d("250.50"),
                chased: d("1000"),
                currency: eur(),
            },
        }
    }

    fn rule(field: &str, op: &str, value: &str) -> Rule {
        Rule {
            field: RuleField::parse(field).unwrap(),
            op: RuleOp::parse(op).unwrap(),
            value: value.into(),
        }
    }

    #[test]
    fn rules_compare_money_as_numbers_and_the_rest_as_text() {
        let f = facts();
        assert!(rule("balance.overdue", ">", "99").holds(&f)); // text would say "250.50" < "99"
        assert!(rule("balance.overdue", "<=", "250.5").holds(&f));
        assert!(!rule("balance.overdue", "<", "250.50").holds(&f));
        assert!(rule("language", "==", "FR").holds(&f));
        assert!(rule("payment_terms", "!=", "net30").holds(&f));
        assert!(rule("payment_terms", "<", "NET60").holds(&f));
        assert!(rule("tags", "==", "vip").holds(&f));
        assert!(rule("tags", "!=", "slow").holds(&f));
        assert!(rule("metadata.region", "==", "north").holds(&f));
        assert!(!rule("metadata.missing", "==", "x").holds(&f));
        assert!(rule("metadata.missing", "!=", "x").holds(&f));
        assert!(!rule("credit_limit", ">", "0").holds(&f));
        assert!(rule("currency", "==", "eur").holds(&f));
        assert!(rule("group_id", "!=", "g1").holds(&f));
    }

    #[test]
    fn cadences_are_tried_by_priority() {
        let mut catch_all = cadence(vec![step(Trigger::AccountAge, 1, Action::Letter)]);
        catch_all.id = "z".into();
        catch_all.assignment = Assignment {
            mode: AssignmentMode::Always,
            priority: 10,
            rules: vec![],
        };
        let mut french = catch_all.clone();
        french.id = "fr".into();
        french.assignment.priority = 1;
        french.assignment.rules = vec![rule("language", "==", "fr")];
        let mut manual = catch_all.clone();
        manual.id = "a".into();
        manual.assignment.mode = AssignmentMode::Manual;
        manual.assignment.priority = 0;
        let all = [catch_all, french, manual];
        assert_eq!(assign_cadence(&all, &facts()).unwrap().id, "fr");
        let german = CustomerFacts {
            language: Some("de".into()),
            ..facts()
        };
        assert_eq!(assign_cadence(&all, &german).unwrap().id, "z");
    }

    #[test]
    fn bad_rules_are_field_errors() {
        let errors = CadenceDraft {
            assignment: Some(AssignmentDraft {
                mode: AssignmentMode::Always,
                priority: 0,
                rules: vec![
                    RuleDraft {
                        field: "shoe_size".into(),
                        op: "==".into(),
                        value: "9".into(),
                    },
                    RuleDraft {
                        field: "credit_limit".into(),
                        op: ">".into(),
                        value: "lots".into(),
                    },
                    RuleDraft {
                        field: "tags".into(),
                        op: "<".into(),
                        value: "vip".into(),
                    },
                    RuleDraft {
                        field: "language".into(),
                        op: "=~".into(),
                        value: "en".into(),
                    },
                    RuleDraft {
                        field: "metadata.".into(),
                        op: "==".into(),
                        value: serde_json::Value::Null,
                    },
                ],
            }),
            ..draft(vec![step(Trigger::AccountAge, 1, Action::Letter)])
        }
        .validate("cad".into(), 1, &templates)
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "assignment.rules[0].field",
                "assignment.rules[1].value",
                "assignment.rules[2].op",
                "assignment.rules[3].op",
                "assignment.rules[4].field",
                "assignment.rules[4].value",
            ]
        );
    }

    #[test]
    fn enrolment_of_an_old_account_runs_only_the_latest_due_step() {
        let cadence = cadence(vec![
            step(Trigger::AccountAge, 0, Action::Email),
            step(Trigger::PastDueAge, 1, Action::Email),
            step(Trigger::PastDueAge, 30, Action::PhoneCall),
            step(Trigger::PastDueAge, 60, Action::Escalation),
            step(Trigger::PastDueAge, 90, Action::Letter),
        ]);
        let stops = Stops::default();
        let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
        let balance = one_invoice("2026-01-01", Some("2026-01-31"), "100");
        let evaluation = evaluator.evaluate(
            &balance,
            &CycleState::default(),
            utc("2026-04-01T09:00:00Z"),
        );
        let Decision::Run(run) = &evaluation.decision else {
            panic!("{:?}", evaluation.decision)
        };
        assert_eq!(
            (run.cycle, run.position, run.superseded.clone()),
            (1, 3, vec![0, 1, 2])
        );
        assert_eq!(evaluation.past_due_age, Some(60));
        // Next: the 90-day letter, on May 1.
        assert_eq!(
            evaluation.next_evaluation_at,
            Some(utc("2026-05-01T09:00:00Z"))
        );
        let state = evaluation.state_after_run();
        let again = evaluator.evaluate(&balance, &state, utc("2026-04-01T09:00:00Z"));
        assert_eq!(again.decision, Decision::Nothing(Idle::NoStepDue));
    }

    #[test]
    fn a_missed_run_is_caught_up_and_a_new_situation_waits_for_the_next_run() {
        let cadence = cadence(vec![step(Trigger::AccountAge, 0, Action::Email)]);
        let stops = Stops::default();
        let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
        let balance = one_invoice("2026-03-02", None, "100");
        // The 09:00 tick was missed; at 11:00 the run is caught up.
        let late = evaluator.evaluate(
            &balance,
            &CycleState::default(),
            utc("2026-03-02T11:00:00Z"),
        );
        assert!(matches!(late.decision, Decision::Run(_)));
        // An invoice created at 15:00 gets its first evaluation at the next run.
        let next = evaluator.next_evaluation_at(
            &balance,
            &CycleState::default(),
            utc("2026-03-02T15:00:00Z"),
        );
        assert_eq!(next, Some(utc("2026-03-03T09:00:00Z")));
        assert_eq!(
            reschedule(
                Some(utc("2026-03-02T09:00:00Z")),
                next,
                utc("2026-03-02T15:00:00Z")
            ),
            Some(utc("2026-03-02T09:00:00Z"))
        );
        assert_eq!(reschedule(None, next, utc("2026-03-02T15:00:00Z")), next);
    }

    #[test]
    fn stops_hold_a_due_step_and_say_when_to_look_again() {
        let cadence = cadence(vec![step(Trigger::AccountAge, 0, Action::Email)]);
        let balance = one_invoice("2026-03-02", None, "100");
        let at = utc("2026-03-05T09:00:00Z");
        let check = |stops: Stops| {
            let evaluation = Evaluator::new(&cadence, Tz::UTC, &stops).evaluate(
                &balance,
                &CycleState::default(),
                at,
            );
            (evaluation.decision, evaluation.next_evaluation_at)
        };
        let (decision, next) = check(Stops {
            pause: Some(Pause {
                until: Some(date("2026-03-10")),
            }),
            ..Stops::default()
        });
        assert_eq!(
            decision,
            Decision::Stopped(Stop::Paused {
                until: Some(date("2026-03-10"))
            })
        );
        assert_eq!(next, Some(utc("2026-03-10T09:00:00Z")));
        let (_, next) = check(Stops {
            pause: Some(Pause { until: None }),
            ..Stops::default()
        });
        assert_eq!(next, None);
        let (decision, next) = check(Stops {
            promise: Some(OpenPromise {
                promised_date: date("2026-03-06"),
                grace_days: 3,
            }),
            ..Stops::default()
        });
        assert_eq!(
            decision,
            Decision::Stopped(Stop::Promised {
                until: date("2026-03-09")
            })
        );
        assert_eq!(next, Some(utc("2026-03-10T09:00:00Z")));
        let (decision, next) = check(Stops {
            messages_sent: vec![utc("2026-03-04T09:00:00Z")],
            frequency_cap: FrequencyCap {
                max_messages: 1,
                window_days: 3,
            },
            ..Stops::default()
        });
        assert_eq!(
            decision,
            Decision::Stopped(Stop::FrequencyCap {
                reopens_on: date("2026-03-07")
            })
        );
        assert_eq!(next, Some(utc("2026-03-07T09:00:00Z")));
        // Yesterday's send does not block today's under the default cap.
        let (decision, _) = check(Stops {
            messages_sent: vec![utc("2026-03-04T09:00:03Z")],
            ..Stops::default()
        });
        assert!(matches!(decision, Decision::Run(_)));
    }

    #[test]
    fn a_step_for_a_missing_role_is_passed_over_until_a_later_step_runs() {
        let mut exec = step(Trigger::AccountAge, 5, Action::Email);
        exec.contact_role = Some("executive".into());
        let cadence = cadence(vec![step(Trigger::AccountAge, 0, Action::Email), exec]);
        let stops = Stops::default();
        let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
        let balance = one_invoice("2026-03-01", None, "100");
        let first = evaluator.evaluate(
            &balance,
            &CycleState::default(),
            utc("2026-03-10T09:00:00Z"),
        );
        let Decision::Run(run) = &first.decision else {
            panic!()
        };
        assert_eq!((run.position, run.superseded.clone()), (0, vec![]));
        let second = evaluator.evaluate(
            &balance,
            &first.state_after_run(),
            utc("2026-03-11T09:00:00Z"),
        );
        assert_eq!(
            second.decision,
            Decision::Stopped(Stop::NoContactWithRole {
                position: 1,
                role: "executive".into()
            })
        );
        assert_eq!(second.next_evaluation_at, None);
    }

    #[test]
    fn threshold_holds_the_cycle_without_advancing_it() {
        let mut d = draft(vec![step(Trigger::AccountAge, 0, Action::Email)]);
        d.threshold = Some(Money {
            amount: d_("100"),
            currency: eur(),
        });
        let cadence = d.validate("cad".into(), 1, &templates).unwrap();
        let stops = Stops::default();
        let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
        let small = one_invoice("2026-03-01", None, "99.99");
        let evaluation =
            evaluator.evaluate(&small, &CycleState::default(), utc("2026-03-10T09:00:00Z"));
        assert_eq!(
            evaluation.decision.clone(),
            Decision::Stopped(Stop::BelowThreshold {
                balance: Money::parse("99.99", eur()).unwrap(),
                threshold: Money::parse("100", eur()).unwrap(),
            })
        );
        assert!(evaluation.state.ran.is_empty());
        assert_eq!(evaluation.next_evaluation_at, None);
    }

    fn d_(s: &str) -> Decimal {
        d(s)
    }

    #[test]
    fn decisions_and_state_serialize_for_storage_and_history() {
        let cadence = cadence(vec![step(Trigger::AccountAge, 0, Action::Email)]);
        let stops = Stops::default();
        let evaluator = Evaluator::new(&cadence, Tz::UTC, &stops);
        let balance = one_invoice("2026-03-02", None, "100");
        let evaluation = evaluator.evaluate(
            &balance,
            &CycleState::default(),
            utc("2026-03-02T09:00:00Z"),
        );
        let json = serde_json::to_value(&evaluation).unwrap();
        assert_eq!(json["decision"]["kind"], "run");
        assert_eq!(json["decision"]["detail"]["position"], 0);
        assert_eq!(json["chased_balance"]["amount"], "100.00");
        let state = serde_json::to_value(evaluation.state_after_run()).unwrap();
        assert_eq!(
            state,
            serde_json::json!({
                "cycle": 1,
                "members": [{"invoice_id": "inv"}],
                "ran": [0],
                "superseded": [],
                "last_run": 0
            })
        );
        let back: Evaluation = serde_json::from_value(json).unwrap();
        assert_eq!(back, evaluation);
        let stop = Decision::Stopped(Stop::FrequencyCap {
            reopens_on: date("2026-03-03"),
        });
        assert_eq!(
            serde_json::to_value(&stop).unwrap(),
            serde_json::json!({"kind": "stopped", "detail": {"reason": "frequency_cap", "reopens_on": "2026-03-03"}})
        );
    }

    #[test]
    fn cycle_state_starts_joins_and_resets() {
        let a = one_invoice("2026-03-01", None, "10").items;
        let mut state = CycleState::default();
        assert_eq!(state.observe(&a).started, Some(1));
        state.ran.insert(0);
        state.last_run = Some(0);
        let change = state.record_change(&a, &[]);
        assert!(change.reset);
        assert_eq!(change.started, None);
        assert!(state.ran.is_empty() && state.members.is_empty());
        assert_eq!(state.observe(&a).started, Some(2));
        state.restart();
        assert_eq!(state.cycle, 3);
    }
}
