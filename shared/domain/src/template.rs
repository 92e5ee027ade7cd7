//! Email, SMS and letter templates: checked at save time so an unknown variable is a
//! 422 rather than a failed chase, and rendered with Handlebars in strict mode.
//!
//! Variables are exactly these: `customer_name`, `customer_contact_name`,
//! `customer_number`, `customer_address`, `customer_payment_terms`,
//! `account_balance`, `invoice_numbers`, `invoice_dates`, `invoice_due_dates`,
//! the invoice-level `invoice_number`, `invoice_date`, `invoice_due_date`,
//! `invoice_balance`, `days_overdue` (a list, comma-separated, when one
//! message covers several invoices), and `{{{customer_portal_button}}}`. Besides them only `{{#if x}}` /
//! `{{#unless x}}` blocks (with `{{else}}`) over those variables are allowed.
//!
//! Escaping: in an email body `{{x}}` is HTML-escaped, and triple braces are
//! refused for everything but the portal button (customer data must never be
//! injected as HTML). Subjects, SMS and letter bodies are plain text, so nothing is
//! escaped there and the portal button renders as the bare portal URL.
//!
//! Money is written in the customer's currency and language (primary subtag
//! of `language`; unknown languages use English):
//!
//! | language | example        | grouping, decimal | symbol |
//! |----------|----------------|-------------------|--------|
//! | en       | €1,234.56      | `,` `.`           | before, no space (a code gets a space: `CHF 1,234.56`) |
//! | fr       | 1 234,56 €     | narrow nbsp, `,`  | after, nbsp |
//! | de       | 1.234,56 €     | `.` `,`           | after, nbsp |
//! | es       | 1234,56 € / 12.345,67 € | `.` `,`, grouped from 5 digits | after, nbsp |
//! | nl       | € 1.234,56     | `.` `,`           | before, nbsp |
//!
//! Symbols: EUR €, GBP £, JPY ¥, USD `$` in English and `US$` elsewhere; any
//! other currency is written with its ISO code. Decimals follow the
//! currency's minor unit. Dates are written in the same language
//! (`May 30, 2026`, `30 mai 2026`, `30. Mai 2026`, `30 de mayo de 2026`,
//! `30 mei 2026`).

use super::money::Money;
#[cfg(feature = "render")]
use super::validation::{bounded_text, FieldErrors};
use chrono::{Datelike, NaiveDate};
#[cfg(feature = "render")]
use handlebars::template::{Parameter, Template as Parsed, TemplateElement};
#[cfg(feature = "render")]
use handlebars::Handlebars;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    /// Plain text printed above the statement in a chase letter.
    Letter,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The variables a template may use.
pub const VARIABLES: [&str; 15] = [
    "customer_name",
    "customer_contact_name",
    "customer_number",
    "customer_address",
    "customer_payment_terms",
    "account_balance",
    "invoice_numbers",
    "invoice_dates",
    "invoice_due_dates",
    "invoice_number",
    "invoice_date",
    "invoice_due_date",
    "invoice_balance",
    "days_overdue",
    PORTAL_BUTTON,
];
const PORTAL_BUTTON: &str = "customer_portal_button";
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_SUBJECT_CHARS: usize = 250;
pub const MAX_EMAIL_BODY_CHARS: usize = 100_000;
/// Ten concatenated SMS segments.
pub const MAX_SMS_BODY_CHARS: usize = 1_600;
/// About three printed pages.
pub const MAX_LETTER_BODY_CHARS: usize = 10_000;

/// A saved, checked template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub channel: Channel,
    /// Email only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    /// Email only: the customer's uploaded documents go with the email.
    #[serde(default)]
    pub attach_documents: bool,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDraft {
    pub name: String,
    pub channel: Channel,
    #[serde(default)]
    pub subject: Option<String>,
    pub body: String,
    #[serde(default)]
    pub attach_documents: bool,
}

#[cfg(feature = "render")]
impl TemplateDraft {
    pub fn validate(self, id: String, version: u32) -> Result<Template, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = bounded_text(&mut errors, "name", &self.name, MAX_NAME_CHARS);
        if let Err(problems) = check_template(self.channel, self.subject.as_deref(), &self.body) {
            for (field, problem) in problems.iter() {
                errors.add(field.clone(), problem.clone());
            }
        }
        if self.attach_documents && self.channel != Channel::Email {
            errors.add("attach_documents", "is only used by email templates");
        }
        let Some(name) = name else {
            return Err(errors);
        };
        errors.into_result(Template {
            id,
            name,
            channel: self.channel,
            subject: self.subject.map(|s| s.trim().to_string()),
            body: self.body,
            attach_documents: self.attach_documents,
            version,
        })
    }
}

#[cfg(feature = "render")]
/// Where a piece of template text ends up, which decides escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    HtmlBody,
    PlainText,
    Subject,
}

#[cfg(feature = "render")]
/// Save-time check: sizes, syntax and variables. Problems are reported on
/// `subject` and `body`.
pub fn check_template(
    channel: Channel,
    subject: Option<&str>,
    body: &str,
) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::new();
    match (channel, subject) {
        (Channel::Email, None) => errors.add("subject", "is required for an email template"),
        (Channel::Email, Some(subject)) => {
            if subject.trim().is_empty() {
                errors.add("subject", "must not be empty");
            } else if subject.chars().count() > MAX_SUBJECT_CHARS {
                errors.add(
                    "subject",
                    format!("must be at most {MAX_SUBJECT_CHARS} characters"),
                );
            } else if super::validation::has_control_characters(subject, false) {
                errors.add(
                    "subject",
                    "must be a single line without control characters",
                );
            } else {
                check_source(&mut errors, "subject", subject, Context::Subject);
            }
        }
        (Channel::Sms | Channel::Letter, Some(_)) => {
            errors.add("subject", "is only used by email templates")
        }
        (Channel::Sms | Channel::Letter, None) => {}
    }
    let (max, context) = match channel {
        Channel::Email => (MAX_EMAIL_BODY_CHARS, Context::HtmlBody),
        Channel::Sms => (MAX_SMS_BODY_CHARS, Context::PlainText),
        Channel::Letter => (MAX_LETTER_BODY_CHARS, Context::PlainText),
    };
    if body.trim().is_empty() {
        errors.add("body", "must not be empty");
    } else if body.chars().count() > max {
        errors.add("body", format!("must be at most {max} characters"));
    } else if super::validation::has_control_characters(body, true) {
        errors.add("body", "must not contain control characters");
    } else {
        check_source(&mut errors, "body", body, context);
    }
    errors.into_result(())
}

#[cfg(feature = "render")]
fn check_source(errors: &mut FieldErrors, field: &str, source: &str, context: Context) {
    match Parsed::compile(source) {
        Ok(parsed) => {
            let mut problems = Vec::new();
            check_elements(&parsed.elements, context, &mut problems);
            problems.dedup();
            if !problems.is_empty() {
                errors.add(field, problems.join("; "));
            }
        }
        Err(error) => errors.add(
            field,
            format!("is not a valid template: {}", error.reason()),
        ),
    }
}

#[cfg(feature = "render")]
fn check_elements(elements: &[TemplateElement], context: Context, problems: &mut Vec<String>) {
    for element in elements {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::Expression(expression) => {
                if let Some(name) = plain_variable(
                    &expression.name,
                    expression.params.is_empty() && expression.hash.is_empty(),
                    problems,
                ) {
                    if name == PORTAL_BUTTON {
                        problems.push(format!(
                            "write the portal button as {{{{{{{PORTAL_BUTTON}}}}}}}"
                        ));
                    }
                }
            }
            TemplateElement::HtmlExpression(expression) => {
                if let Some(name) = plain_variable(
                    &expression.name,
                    expression.params.is_empty() && expression.hash.is_empty(),
                    problems,
                ) {
                    if name != PORTAL_BUTTON {
                        problems.push(format!(
                            "{{{{{{{name}}}}}}} would not be escaped; write {{{{{name}}}}}"
                        ));
                    } else if context == Context::Subject {
                        problems.push("the portal button belongs in the body".to_string());
                    }
                }
            }
            TemplateElement::HelperBlock(block) => {
                let helper = block.name.as_name().unwrap_or_default();
                if !matches!(helper, "if" | "unless") {
                    problems.push(format!(
                        "{{{{#{helper}}}}} is not supported; only #if and #unless"
                    ));
                    continue;
                }
                match block.params.as_slice() {
                    [param] if block.hash.is_empty() => {
                        plain_variable(param, true, problems);
                    }
                    _ => problems.push(format!("{{{{#{helper}}}}} takes one variable")),
                }
                for inner in [&block.template, &block.inverse].into_iter().flatten() {
                    check_elements(&inner.elements, context, problems);
                }
            }
            _ => problems.push("partials and decorators are not supported".to_string()),
        }
    }
}

/// The variable named by an expression, if it is one of [`VARIABLES`].
#[cfg(feature = "render")]
fn plain_variable<'p>(
    name: &'p Parameter,
    bare: bool,
    problems: &mut Vec<String>,
) -> Option<&'p str> {
    let raw = match name {
        Parameter::Path(_) | Parameter::Name(_) => name.as_name().unwrap_or_default(),
        _ => {
            problems.push("only variables can be written inside {{ }}".to_string());
            return None;
        }
    };
    if !bare {
        problems.push(format!("helpers are not supported ({{{{{raw} …}}}})"));
        return None;
    }
    if VARIABLES.contains(&raw) {
        Some(raw)
    } else {
        problems.push(format!(
            "unknown variable {{{{{raw}}}}}; use one of {}",
            VARIABLES.join(", ")
        ));
        None
    }
}

/// One invoice as listed in a chase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub number: String,
    pub issue_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    /// What is chased on it.
    pub balance: Money,
    /// Days past the due date on the day of the chase; 0 before it.
    pub days_overdue: i64,
}

/// What a chase knows about the customer when rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateData {
    pub customer_name: String,
    pub customer_contact_name: Option<String>,
    pub customer_number: Option<String>,
    pub customer_address: Option<String>,
    pub customer_payment_terms: Option<String>,
    /// The chased balance.
    pub account_balance: Money,
    /// The invoices the message is about: every chased one for a
    /// customer-level chase, the due ones for invoice-level chases.
    pub invoices: Vec<InvoiceLine>,
    /// The customer's portal link; the button is left out without one.
    pub portal_url: Option<String>,
    /// The customer's language (e.g. `fr`, `de-CH`); English when absent.
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub subject: Option<String>,
    /// HTML for email; plain text for SMS and letters.
    pub body: String,
    /// Email only: the plain-text part sent beside the HTML one.
    pub text: Option<String>,
    /// Variables the template uses that are empty for this customer (a
    /// preview shows them; a send falls back, see [`Template::render`]).
    #[serde(skip_deserializing)]
    pub empty_variables: Vec<&'static str>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Only for templates that skipped [`check_template`].
    #[error("template cannot be rendered: {0}")]
    Template(String),
}

#[cfg(feature = "render")]
impl Template {
    /// Renders the template for one customer. An email has an HTML and a
    /// plain-text part: an HTML template gives the HTML part and its text is
    /// derived from it (links written out); a plain-text template keeps its
    /// line breaks in the text part and gets an HTML part made from it.
    ///
    /// Empty values never leave a gap such as "Hello ,": an absent contact
    /// name falls back to the customer's name, and the other variables that
    /// are empty are listed in `empty_variables` for the preview to warn.
    /// Whether rendering needs the customer's portal link (so the link is
    /// looked up only for templates that show it).
    pub fn uses_portal_link(&self) -> bool {
        self.body.contains(PORTAL_BUTTON)
    }

    pub fn render(&self, data: &TemplateData) -> Result<Rendered, RenderError> {
        let language = Language::of(data.language.as_deref());
        let plain_button = data
            .portal_url
            .as_deref()
            .map(|url| format!("{}: {url}", pay_now(language)))
            .unwrap_or_default();
        let empty_variables = self.empty_variables(data);
        let subject = match &self.subject {
            Some(subject) => {
                let values = variables(data, language, String::new());
                Some(render_source(subject, &values, Context::Subject)?)
            }
            None => None,
        };
        let (body, text) = match self.channel {
            Channel::Sms | Channel::Letter => {
                let values = variables(data, language, data.portal_url.clone().unwrap_or_default());
                (
                    render_source(&self.body, &values, Context::PlainText)?,
                    None,
                )
            }
            Channel::Email if looks_like_html(&self.body) => {
                let button = data
                    .portal_url
                    .as_deref()
                    .map(|url| portal_button(url, language))
                    .unwrap_or_default();
                let html = render_source(
                    &self.body,
                    &variables(data, language, button),
                    Context::HtmlBody,
                )?;
                // The button written as "Pay now: <url>" so the text part
                // keeps the link.
                let linked = render_source(
                    &self.body,
                    &variables(data, language, escape_attribute(&plain_button)),
                    Context::HtmlBody,
                )?;
                let text = mail_parser::decoders::html::html_to_text(&linked);
                (html, Some(text.trim().to_string()))
            }
            Channel::Email => {
                let text = render_source(
                    &self.body,
                    &variables(data, language, plain_button),
                    Context::PlainText,
                )?;
                // The portal link becomes the button in the HTML part.
                const MARK: &str = "\u{1}portal\u{1}";
                let mark = if data.portal_url.is_some() { MARK } else { "" };
                let marked = render_source(
                    &self.body,
                    &variables(data, language, mark.to_string()),
                    Context::PlainText,
                )?;
                let button = data
                    .portal_url
                    .as_deref()
                    .map(|url| portal_button(url, language))
                    .unwrap_or_default();
                let html = text_to_html(&marked).replace(MARK, &button);
                (html, Some(text))
            }
        };
        Ok(Rendered {
            subject,
            body,
            text,
            empty_variables,
        })
    }

    /// The variables this template uses whose value is empty for `data`.
    fn empty_variables(&self, data: &TemplateData) -> Vec<&'static str> {
        let sources = [Some(self.body.as_str()), self.subject.as_deref()];
        VARIABLES
            .iter()
            .copied()
            .filter(|name| {
                sources.iter().flatten().any(|source| {
                    source.contains(&format!("{{{{{name}}}}}"))
                        || source.contains(&format!("{{{{{{{name}}}}}}}"))
                })
            })
            .filter(|name| match *name {
                "customer_contact_name" => data
                    .customer_contact_name
                    .as_deref()
                    .is_none_or(|v| v.trim().is_empty()),
                "customer_number" => data
                    .customer_number
                    .as_deref()
                    .is_none_or(|v| v.trim().is_empty()),
                "customer_address" => data
                    .customer_address
                    .as_deref()
                    .is_none_or(|v| v.trim().is_empty()),
                "customer_payment_terms" => data
                    .customer_payment_terms
                    .as_deref()
                    .is_none_or(|v| v.trim().is_empty()),
                "invoice_numbers" | "invoice_dates" | "invoice_due_dates" | "invoice_number"
                | "invoice_date" | "invoice_balance" | "days_overdue" => data.invoices.is_empty(),
                "invoice_due_date" => data.invoices.iter().all(|i| i.due_date.is_none()),
                PORTAL_BUTTON => data.portal_url.is_none(),
                _ => false,
            })
            .collect()
    }
}

/// Plain text as HTML: escaped, blank lines between paragraphs, single
/// line breaks kept.
#[cfg(feature = "render")]
fn text_to_html(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| paragraph.trim_matches('\n'))
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| {
            format!(
                "<p>{}</p>",
                escape_attribute(paragraph).replace('\n', "<br>\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a template body is written in HTML (it has a tag).
#[cfg(feature = "render")]
fn looks_like_html(body: &str) -> bool {
    body.match_indices('<').any(|(at, _)| {
        body[at + 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
    })
}

#[cfg(feature = "render")]
fn pay_now(language: Language) -> &'static str {
    match language {
        Language::En => "Pay now",
        Language::Fr => "Payer maintenant",
        Language::De => "Jetzt bezahlen",
        Language::Es => "Pagar ahora",
        Language::Nl => "Nu betalen",
    }
}

#[cfg(feature = "render")]
fn variables(data: &TemplateData, language: Language, button: String) -> serde_json::Value {
    let join = |parts: Vec<String>| parts.join(", ");
    let due_dates: Vec<String> = data
        .invoices
        .iter()
        .filter_map(|i| i.due_date)
        .map(|d| format_date_in(d, language))
        .collect();
    serde_json::json!({
        "customer_name": data.customer_name,
        // Never "Hello ,": without a contact name, the customer's.
        "customer_contact_name": data
            .customer_contact_name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| data.customer_name.clone()),
        "customer_number": data.customer_number.clone().unwrap_or_default(),
        "customer_address": data.customer_address.clone().unwrap_or_default(),
        "customer_payment_terms": data.customer_payment_terms.clone().unwrap_or_default(),
        "account_balance": format_money(data.account_balance, data.language.as_deref()),
        "invoice_numbers": join(data.invoices.iter().map(|i| i.number.clone()).collect()),
        "invoice_dates": join(data.invoices.iter().map(|i| format_date_in(i.issue_date, language)).collect()),
        "invoice_due_dates": join(due_dates.clone()),
        "invoice_number": join(data.invoices.iter().map(|i| i.number.clone()).collect()),
        "invoice_date": join(data.invoices.iter().map(|i| format_date_in(i.issue_date, language)).collect()),
        "invoice_due_date": join(due_dates),
        "invoice_balance": join(data.invoices.iter().map(|i| format_money(i.balance, data.language.as_deref())).collect()),
        "days_overdue": join(data.invoices.iter().map(|i| i.days_overdue.to_string()).collect()),
        PORTAL_BUTTON: button,
    })
}

#[cfg(feature = "render")]
fn render_source(
    source: &str,
    values: &serde_json::Value,
    context: Context,
) -> Result<String, RenderError> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    if context != Context::HtmlBody {
        registry.register_escape_fn(handlebars::no_escape);
    }
    registry
        .render_template(source, values)
        .map_err(|e| RenderError::Template(e.reason().to_string()))
}

#[cfg(feature = "render")]
fn portal_button(url: &str, language: Language) -> String {
    let label = pay_now(language);
    format!(
        "<a href=\"{}\" style=\"display:inline-block;padding:10px 20px;background:#1a56db;color:#ffffff;text-decoration:none;border-radius:4px\">{label}</a>",
        escape_attribute(url)
    )
}

#[cfg(feature = "render")]
/// Enough for a double-quoted attribute; keeps `=` readable in URLs.
fn escape_attribute(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The languages messages and documents are written in; anything else is English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    En,
    Fr,
    De,
    Es,
    Nl,
}

impl Language {
    /// From a customer's language tag (`de`, `fr-CA`, ...).
    pub fn of(tag: Option<&str>) -> Self {
        let primary = tag
            .unwrap_or("en")
            .split(['-', '_'])
            .next()
            .unwrap_or("en")
            .to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Self::Fr,
            "de" => Self::De,
            "es" => Self::Es,
            "nl" => Self::Nl,
            _ => Self::En,
        }
    }
}

/// Money in the customer's currency and language (rules in the module doc).
pub fn format_money(money: Money, language: Option<&str>) -> String {
    let language = Language::of(language);
    let digits = money.currency.minor_unit_digits();
    let mut amount = money.amount.abs().round_dp(digits);
    amount.rescale(digits);
    let text = amount.to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let (group, decimal, min_grouping) = match language {
        Language::En => (",", ".", 4),
        Language::Fr => ("\u{202f}", ",", 4),
        Language::De | Language::Nl => (".", ",", 4),
        Language::Es => (".", ",", 5),
    };
    let mut number = group_digits(whole, group, min_grouping);
    if !fraction.is_empty() {
        number.push_str(decimal);
        number.push_str(fraction);
    }
    if money.amount < Decimal::ZERO {
        number.insert(0, '-');
    }
    let code = money.currency.code();
    let symbol = match (code, language) {
        ("EUR", _) => "€",
        ("GBP", _) => "£",
        ("JPY", _) => "¥",
        ("USD", Language::En) => "$",
        ("USD", _) => "US$",
        _ => code,
    };
    match language {
        Language::En if symbol.chars().all(char::is_alphabetic) => format!("{symbol} {number}"),
        Language::En => match number.strip_prefix('-') {
            Some(positive) => format!("-{symbol}{positive}"),
            None => format!("{symbol}{number}"),
        },
        Language::Nl => format!("{symbol}\u{a0}{number}"),
        Language::Fr | Language::De | Language::Es => format!("{number}\u{a0}{symbol}"),
    }
}

fn group_digits(whole: &str, separator: &str, min_digits: usize) -> String {
    if whole.len() < min_digits {
        return whole.to_string();
    }
    let mut out = String::with_capacity(whole.len() + whole.len() / 3 * separator.len());
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(digit);
    }
    out
}

/// A date in the customer's language.
pub fn format_date(date: NaiveDate, language: Option<&str>) -> String {
    format_date_in(date, Language::of(language))
}

fn format_date_in(date: NaiveDate, language: Language) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const DE: [&str; 12] = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    const ES: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    const NL: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    let month = date.month0() as usize;
    let (day, year) = (date.day(), date.year());
    match language {
        Language::En => format!("{} {day}, {year}", EN[month]),
        Language::Fr => format!("{day} {} {year}", FR[month]),
        Language::De => format!("{day}. {} {year}", DE[month]),
        Language::Es => format!("{day} de {} de {year}", ES[month]),
        Language::Nl => format!("{day} {} {year}", NL[month]),
    }
}

#[cfg(feature = "render")]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn money(amount: &str, code: &str) -> Money {
        Money::parse(amount, Currency::parse(code).unwrap()).unwrap()
    }

    fn email(subject: &str, body: &str) -> Template {
        TemplateDraft {
            name: "Reminder".into(),
            channel: Channel::Email,
            subject: Some(subject.into()),
            body: body.into(),
            attach_documents: false,
        }
        .validate("tpl".into(), 1)
        .unwrap()
    }

    fn data() -> TemplateData {
        TemplateData {
            customer_name: "Smith & <Sons>".into(),
            customer_contact_name: Some("Ann".into()),
            customer_number: Some("C-7".into()),
            customer_address: None,
            customer_payment_terms: Some("NET30".into()),
            account_balance: money("1234.5", "EUR"),
            invoices: vec![
                InvoiceLine {
                    number: "INV-1".into(),
                    issue_date: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
                    due_date: NaiveDate::from_ymd_opt(2026, 5, 30),
                    balance: money("1000", "EUR"),
                    days_overdue: 12,
                },
                InvoiceLine {
                    number: "INV-2".into(),
                    issue_date: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
                    due_date: None,
                    balance: money("234.5", "EUR"),
                    days_overdue: 0,
                },
            ],
            portal_url: Some("https://pay.example/p?a=1&b=2".into()),
            language: Some("en".into()),
        }
    }

    #[test]
    fn renders_every_variable_and_escapes_html() {
        let template = email(
            "Balance of {{account_balance}} for {{customer_name}}",
            "{{#if customer_contact_name}}Dear {{customer_contact_name}},{{else}}Hello,{{/if}} \
             {{customer_name}} ({{customer_number}}, {{customer_payment_terms}}{{customer_address}}) owes \
             {{account_balance}} on {{invoice_numbers}} of {{invoice_dates}} due {{invoice_due_dates}}. \
             {{{customer_portal_button}}}",
        );
        let rendered = template.render(&data()).unwrap();
        assert_eq!(
            rendered.subject.as_deref(),
            Some("Balance of €1,234.50 for Smith & <Sons>")
        );
        assert!(
            rendered.body.starts_with(
                "<p>Dear Ann, Smith &amp; &lt;Sons&gt; (C-7, NET30) owes €1,234.50 on INV-1, INV-2"
            ),
            "{}",
            rendered.body
        );
        assert!(rendered
            .body
            .contains("of May 1, 2026, June 1, 2026 due May 30, 2026."));
        assert!(rendered
            .body
            .contains("<a href=\"https://pay.example/p?a=1&amp;b=2\""));
        assert!(rendered.body.ends_with(">Pay now</a></p>"));
        let text = rendered.text.unwrap();
        assert!(
            text.starts_with("Dear Ann, Smith & <Sons> (C-7, NET30) owes €1,234.50"),
            "{text}"
        );
        assert!(
            text.ends_with("Pay now: https://pay.example/p?a=1&b=2"),
            "{text}"
        );
        assert_eq!(rendered.empty_variables, ["customer_address"]);
    }

    #[test]
    fn invoice_variables_list_every_invoice_of_the_message() {
        let template = email(
            "Invoice {{invoice_number}}",
            "{{invoice_number}} of {{invoice_date}} due {{invoice_due_date}}: \
             {{invoice_balance}}, {{days_overdue}} days overdue",
        );
        let rendered = template.render(&data()).unwrap();
        assert_eq!(rendered.subject.as_deref(), Some("Invoice INV-1, INV-2"));
        assert_eq!(
            rendered.text.as_deref(),
            Some(
                "INV-1, INV-2 of May 1, 2026, June 1, 2026 due May 30, 2026: \
                 €1,000.00, €234.50, 12, 0 days overdue"
            )
        );
        let one = TemplateData {
            invoices: data().invoices[..1].to_vec(),
            ..data()
        };
        let rendered = template.render(&one).unwrap();
        assert_eq!(rendered.subject.as_deref(), Some("Invoice INV-1"));
        let none = TemplateData {
            invoices: Vec::new(),
            ..data()
        };
        assert_eq!(
            template.render(&none).unwrap().empty_variables,
            [
                "invoice_number",
                "invoice_date",
                "invoice_due_date",
                "invoice_balance",
                "days_overdue"
            ]
        );
    }

    #[test]
    fn a_plain_text_email_keeps_its_line_breaks_and_gets_an_html_part() {
        let template = email(
            "Your account",
            "Dear {{customer_contact_name}},\n\nPlease pay {{account_balance}}.\nThank you.",
        );
        let rendered = template.render(&data()).unwrap();
        assert_eq!(
            rendered.text.as_deref(),
            Some("Dear Ann,\n\nPlease pay €1,234.50.\nThank you.")
        );
        assert_eq!(
            rendered.body,
            "<p>Dear Ann,</p>\n<p>Please pay €1,234.50.<br>\nThank you.</p>"
        );
    }

    #[test]
    fn an_html_email_gets_a_text_part_with_the_link_written_out() {
        let template = email(
            "Your account",
            "<p>Dear {{customer_contact_name}},</p><p>Please pay <b>{{account_balance}}</b>.</p>{{{customer_portal_button}}}",
        );
        let rendered = template.render(&data()).unwrap();
        assert!(rendered.body.contains("<b>€1,234.50</b>"));
        let text = rendered.text.unwrap();
        assert!(text.contains("Dear Ann,"), "{text}");
        assert!(text.contains("Please pay €1,234.50."), "{text}");
        assert!(
            text.contains("Pay now: https://pay.example/p?a=1&b=2"),
            "{text}"
        );
        assert!(!text.contains('<'), "{text}");
    }

    #[test]
    fn empty_variables_fall_back_and_are_named() {
        let template = email(
            "Hello {{customer_contact_name}}",
            "Hello {{customer_contact_name}}, terms: {{customer_payment_terms}}. {{{customer_portal_button}}}",
        );
        let mut data = data();
        data.customer_contact_name = None;
        data.customer_payment_terms = None;
        data.portal_url = None;
        let rendered = template.render(&data).unwrap();
        assert_eq!(rendered.subject.as_deref(), Some("Hello Smith & <Sons>"));
        assert!(rendered
            .text
            .unwrap()
            .starts_with("Hello Smith & <Sons>, terms: ."));
        assert_eq!(
            rendered.empty_variables,
            [
                "customer_contact_name",
                "customer_payment_terms",
                "customer_portal_button"
            ]
        );
    }

    #[test]
    fn sms_is_plain_text_with_the_portal_url() {
        let template = TemplateDraft {
            name: "Text".into(),
            channel: Channel::Sms,
            subject: None,
            body: "{{customer_name}} owes {{account_balance}}: {{{customer_portal_button}}}".into(),
            attach_documents: false,
        }
        .validate("tpl".into(), 1)
        .unwrap();
        let rendered = template
            .render(&TemplateData {
                language: Some("fr-CA".into()),
                ..data()
            })
            .unwrap();
        assert_eq!(
            rendered.body,
            "Smith & <Sons> owes 1\u{202f}234,50\u{a0}€: https://pay.example/p?a=1&b=2"
        );
    }

    #[test]
    fn unknown_variables_and_unsafe_forms_are_refused_at_save() {
        let errors = check_template(Channel::Email, Some("Hi {{first_name}}"), "{{customer_portal_button}} {{{customer_name}}} {{lookup customer_name}} {{#each invoices}}x{{/each}} {{> footer}}").unwrap_err();
        let found: Vec<(&String, &String)> = errors.iter().collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, "body");
        for needle in [
            "{{{customer_portal_button}}}",
            "would not be escaped",
            "helpers are not supported",
            "#each",
            "partials",
        ] {
            assert!(found[0].1.contains(needle), "{needle}: {}", found[0].1);
        }
        assert_eq!(found[1].0, "subject");
        assert!(found[1].1.contains("unknown variable {{first_name}}"));
        let errors = check_template(Channel::Sms, Some("x"), "{{#if}}").unwrap_err();
        let fields: Vec<&String> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["body", "subject"]);
        assert!(check_template(Channel::Email, None, "hi").is_err());
        assert!(
            check_template(Channel::Email, Some("{{{customer_portal_button}}}"), "hi").is_err()
        );
        assert!(check_template(
            Channel::Email,
            Some("Hi {{ customer_name }}"),
            "{{!-- note --}}ok"
        )
        .is_ok());
    }

    #[test]
    fn money_follows_the_language() {
        let eur = money("1234567.8", "EUR");
        assert_eq!(format_money(eur, Some("en")), "€1,234,567.80");
        assert_eq!(
            format_money(eur, Some("fr")),
            "1\u{202f}234\u{202f}567,80\u{a0}€"
        );
        assert_eq!(format_money(eur, Some("de-AT")), "1.234.567,80\u{a0}€");
        assert_eq!(format_money(eur, Some("es")), "1.234.567,80\u{a0}€");
        assert_eq!(
            format_money(money("1234.5", "EUR"), Some("es")),
            "1234,50\u{a0}€"
        );
        assert_eq!(format_money(eur, Some("nl")), "€\u{a0}1.234.567,80");
        assert_eq!(format_money(money("1200", "JPY"), None), "¥1,200");
        assert_eq!(format_money(money("-5", "USD"), Some("en")), "-$5.00");
        assert_eq!(format_money(money("5", "USD"), Some("de")), "5,00\u{a0}US$");
        assert_eq!(
            format_money(money("999.1", "CHF"), Some("xx")),
            "CHF 999.10"
        );
        assert_eq!(format_money(money("1.234", "KWD"), Some("en")), "KWD 1.234");
    }

    #[test]
    fn dates_follow_the_language() {
        let date = NaiveDate::from_ymd_opt(2026, 5, 30).unwrap();
        assert_eq!(format_date(date, Some("en")), "May 30, 2026");
        assert_eq!(format_date(date, Some("fr")), "30 mai 2026");
        assert_eq!(format_date(date, Some("de")), "30. Mai 2026");
        assert_eq!(format_date(date, Some("es")), "30 de mayo de 2026");
        assert_eq!(format_date(date, Some("nl")), "30 mei 2026");
    }
}
