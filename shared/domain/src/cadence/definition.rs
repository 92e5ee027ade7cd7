//! What a cadence is: its steps (trigger, action, audience, template) and
//! the draft a client sends, validated into a [`Cadence`].

use super::*;
use crate::money::Money;
use crate::schedule::{DayOfWeek, RunAt, Timing};
use crate::template::Channel;
use crate::validation::{bounded_text, FieldErrors};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Days since the oldest item date.
    AccountAge,
    /// Days since the oldest due date; negative before it.
    PastDueAge,
    /// Invoice level: days since the invoice's due date; negative before it.
    DaysFromDue,
    /// Invoice level: days since the invoice's issue date.
    InvoiceAge,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::AccountAge => "account_age",
            Trigger::PastDueAge => "past_due_age",
            Trigger::DaysFromDue => "days_from_due",
            Trigger::InvoiceAge => "invoice_age",
        }
    }

    /// The level whose cadences may use it.
    pub fn level(self) -> Level {
        match self {
            Trigger::AccountAge | Trigger::PastDueAge => Level::Customer,
            Trigger::DaysFromDue | Trigger::InvoiceAge => Level::Invoice,
        }
    }

    /// The days a step with this trigger may wait: ages from a due date may
    /// be negative (a reminder ahead of it), ages from an issue date may not.
    fn days_range(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Trigger::AccountAge | Trigger::InvoiceAge => 0..=MAX_STEP_DAYS,
            Trigger::PastDueAge | Trigger::DaysFromDue => MIN_PAST_DUE_DAYS..=MAX_STEP_DAYS,
        }
    }
}

/// What a cadence chases: the customer's whole chased balance (one cycle per
/// customer) or each chased invoice on its own (docs/chasing.md).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    #[default]
    Customer,
    Invoice,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Customer => "customer",
            Level::Invoice => "invoice",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "customer" => Some(Level::Customer),
            "invoice" => Some(Level::Invoice),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
            Action::Letter => Some(Channel::Letter),
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

/// A validated cadence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cadence {
    pub id: String,
    pub name: String,
    /// Stored cadences from before invoice-level chasing are customer level.
    #[serde(default)]
    pub level: Level,
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
    #[serde(default)]
    pub level: Level,
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
        let steps = validate_steps(&mut errors, self.level, &self.steps, refs);
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
            level: self.level,
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
    level: Level,
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
        if draft.trigger.level() != level {
            let allowed = match level {
                Level::Customer => "account_age or past_due_age",
                Level::Invoice => "days_from_due or invoice_age",
            };
            errors.add(
                field("trigger"),
                format!("a {} level cadence uses {allowed}", level.as_str()),
            );
        }
        let range = draft.trigger.days_range();
        let days = i32::try_from(draft.days).ok().filter(|d| range.contains(d));
        if days.is_none() {
            errors.add(
                field("days"),
                format!(
                    "must be from {} to {} for {}",
                    range.start(),
                    range.end(),
                    draft.trigger.as_str()
                ),
            );
        }
        let template_id = clean_ref(&draft.template_id);
        match (draft.action.channel(), &template_id) {
            // A letter without a template is the statement alone.
            (Some(Channel::Letter), None) => {}
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
            (None, Some(_)) => errors.add(
                field("template_id"),
                "is only used by email, sms and letter steps",
            ),
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

pub(super) fn clean_ref(raw: &Option<String>) -> Option<String> {
    raw.as_ref()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
