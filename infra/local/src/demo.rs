//! `local demo`: a new tenant with a realistic book, created through the API
//! as a client would (settings, group, templates, a cadence, 50 customers
//! with contacts, 200 invoices in every state, payments, enrolments); then
//! what will be chased in the coming days, and optionally those days played
//! through the runner's ticks with what was sent.

use anyhow::{bail, Context as _};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const CUSTOMERS: usize = 50;
pub const INVOICES: usize = 200;

const NAMES: [&str; 25] = [
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Acme",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Monarch",
    "Duff",
    "Oscorp",
    "Pied Piper",
    "Massive Dynamic",
    "Aperture",
    "Black Mesa",
    "Nakatomi",
    "Virtucon",
    "Prestige",
    "Bluth",
    "Dunder",
];
const SUFFIXES: [&str; 2] = ["Ltd", "Trading"];

/// What the demo made, for the summary and for tests.
#[derive(Debug, Default)]
pub struct DemoBook {
    pub tenant: String,
    pub customers: Vec<(String, String)>,
    pub invoices: usize,
    pub paid: usize,
    pub disputed: usize,
    pub plans: usize,
    pub voided: usize,
    /// Each preview entry: (instant, customer name, step, action).
    pub upcoming: Vec<(DateTime<Utc>, String, u64, String)>,
    /// Where the demo's contacts receive mail: `...@<domain>`.
    pub email_domain: String,
}

struct Api<'a> {
    http: Client,
    url: &'a str,
    token: &'a str,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(self.token);
        if method == Method::PATCH {
            request = request.header("If-Match", "\"0\"");
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create(&self, path: &str, body: Value) -> anyhow::Result<String> {
        let created = self.call(Method::POST, path, Some(body)).await?;
        created["id"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("POST {path}: no id in {created}"))
    }
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A deterministic spread of numbers, so every demo looks alike.
fn spread(i: usize, modulus: i64) -> i64 {
    ((i as i64 * 7919 + 104_729) % modulus).abs()
}

/// Seeds the book for a tenant on the runner at `url` (the token's tenant),
/// as of `today`.
pub async fn seed(
    url: &str,
    token: &str,
    tenant: &str,
    sender_domain: &str,
    today: NaiveDate,
) -> anyhow::Result<DemoBook> {
    let api = Api {
        http: Client::new(),
        url,
        token,
    };
    let email_domain = format!("{tenant}.demo.example");
    let mut book = DemoBook {
        tenant: tenant.to_string(),
        email_domain: email_domain.clone(),
        ..DemoBook::default()
    };
    api.call(
        Method::PATCH,
        "/v1/settings",
        Some(json!({"company_name": "Northwind Supplies", "time_zone": "Europe/London",
                    "sender_email": format!("accounts@{sender_domain}"), "sender_name": "Northwind accounts",
                    "payment_instructions": "Bank transfer to Northwind Supplies Ltd\nSort code 20-00-00, account 55779911\nReference: your customer number"})),
    )
    .await?;
    let reminder = api.create("/v1/templates", json!({"name": "Friendly reminder", "channel": "email",
        "subject": "{{customer_name}}: invoices due soon",
        "body": "<p>Dear {{customer_contact_name}},</p><p>a friendly reminder that {{account_balance}} falls due soon ({{invoice_numbers}}, due {{invoice_due_dates}}).</p>{{{customer_portal_button}}}"})).await?;
    let overdue = api.create("/v1/templates", json!({"name": "Overdue notice", "channel": "email",
        "subject": "{{customer_name}}: {{account_balance}} is overdue",
        "body": "<p>Dear {{customer_contact_name}},</p><p>our records show {{account_balance}} overdue on {{invoice_numbers}}. Please pay at your earliest convenience.</p>{{{customer_portal_button}}}"})).await?;
    let sms = api.create("/v1/templates", json!({"name": "Overdue SMS", "channel": "sms",
        "body": "Northwind: {{account_balance}} is overdue on your account {{customer_number}}. {{{customer_portal_button}}}"})).await?;
    let last = api.create("/v1/templates", json!({"name": "Final notice", "channel": "email",
        "subject": "Final notice: {{account_balance}} overdue",
        "body": "<p>Dear {{customer_contact_name}},</p><p>{{account_balance}} remains unpaid ({{invoice_numbers}}). Without payment within 7 days we will pass the account to collections.</p>"})).await?;
    let cadence = api.create("/v1/cadences", json!({"name": "Standard (30 days)", "run_at": "08:00", "steps": [
        {"trigger": "past_due_age", "days": -3, "action": "email", "template_id": reminder},
        {"trigger": "past_due_age", "days": 1, "action": "email", "template_id": overdue},
        {"trigger": "past_due_age", "days": 7, "action": "sms", "template_id": sms},
        {"trigger": "past_due_age", "days": 14, "action": "phone_call", "assignee_id": "demo-owner"},
        {"trigger": "past_due_age", "days": 30, "action": "email", "template_id": last},
        {"trigger": "past_due_age", "days": 45, "action": "escalation", "assignee_id": "demo-owner"}]})).await?;
    let key_accounts = api
        .create(
            "/v1/customer-groups",
            json!({"name": "Key accounts", "settings": {"payment_terms": "NET45"}}),
        )
        .await?;

    for i in 0..CUSTOMERS {
        let name = format!(
            "{} {}",
            NAMES[i % NAMES.len()],
            SUFFIXES[i / NAMES.len() % 2]
        );
        let slug = name.to_lowercase().replace(' ', "-");
        let mut customer = json!({"number": format!("C-{:04}", 1001 + i), "name": name, "currency": "GBP",
            "payment_terms": "NET30", "tags": [if i % 3 == 0 { "wholesale" } else { "retail" }]});
        if i % 10 == 0 {
            customer["group_id"] = json!(key_accounts);
        }
        let id = api.create("/v1/customers", customer).await?;
        let mut contact = json!({"name": format!("Accounts payable ({name})"),
            "email": format!("ap@{slug}.{email_domain}"), "primary": true});
        if i % 4 == 0 {
            contact["phone"] = json!(format!("+44770090{:04}", 1000 + i));
            contact["sms_enabled"] = json!(true);
        }
        api.create(&format!("/v1/customers/{id}/contacts"), contact)
            .await?;
        book.customers.push((id, name));
    }

    for i in 0..INVOICES {
        let (customer_id, _) = &book.customers[i % CUSTOMERS];
        // Issued over the last 120 days, due 30 days later: some not yet
        // due, most overdue by a few days to three months.
        let issue = today - Duration::days(spread(i, 120));
        let due = issue + Duration::days(30);
        let total = 15_000 + spread(i, 480_000);
        let mut invoice = json!({"customer_id": customer_id, "number": format!("INV-{:05}", 20_001 + i),
            "currency": "GBP", "issue_date": issue, "due_date": due, "total": money(total)});
        let plan = i % 20 == 3;
        if plan {
            let part = total / 3;
            invoice["due_date"] = Value::Null;
            invoice["payment_plan"] = json!({"installments": [
                {"due_date": issue + Duration::days(30), "amount": money(part)},
                {"due_date": issue + Duration::days(60), "amount": money(part)},
                {"due_date": issue + Duration::days(90), "amount": money(total - 2 * part)}]});
            book.plans += 1;
        } else if i % 25 == 2 {
            invoice["collection_status"] = json!("disputed");
            invoice["dispute_reason"] = json!("Goods damaged on delivery");
            book.disputed += 1;
        }
        let invoice_id = api.create("/v1/invoices", invoice).await?;
        book.invoices += 1;
        let paid_on = (issue + Duration::days(20)).min(today);
        if i % 4 == 0 && !plan {
            api.create(
                "/v1/payments",
                json!({"customer_id": customer_id, "amount": money(total), "currency": "GBP",
                "date": paid_on, "method": "bank_transfer", "reference": format!("BACS {i}"),
                "applications": [{"invoice_id": invoice_id, "amount": money(total)}]}),
            )
            .await?;
            book.paid += 1;
        } else if i % 9 == 1 && !plan {
            let part = total / 2;
            api.create("/v1/payments", json!({"customer_id": customer_id, "amount": money(part), "currency": "GBP",
                "date": paid_on, "applications": [{"invoice_id": invoice_id, "amount": money(part)}]})).await?;
        } else if i % 50 == 7 {
            api.call(
                Method::POST,
                &format!("/v1/invoices/{invoice_id}/void"),
                Some(json!({})),
            )
            .await?;
            book.voided += 1;
        }
    }

    for (id, _) in &book.customers {
        api.call(
            Method::PUT,
            &format!("/v1/customers/{id}/chasing"),
            Some(json!({"cadence_id": cadence})),
        )
        .await?;
    }
    Ok(book)
}

/// Every customer's preview for the next `days` days.
pub async fn upcoming(
    url: &str,
    token: &str,
    book: &mut DemoBook,
    days: u32,
) -> anyhow::Result<()> {
    let api = Api {
        http: Client::new(),
        url,
        token,
    };
    for (id, name) in &book.customers {
        let preview = api
            .call(
                Method::GET,
                &format!("/v1/customers/{id}/chasing/preview?days={days}"),
                None,
            )
            .await?;
        for entry in preview["items"].as_array().into_iter().flatten() {
            let at: DateTime<Utc> = serde_json::from_value(entry["at"].clone())?;
            book.upcoming.push((
                at,
                name.clone(),
                entry["step"].as_u64().unwrap_or_default(),
                entry["action"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    book.upcoming.sort();
    Ok(())
}

/// The preview as a table: per day, each action and who gets it.
pub fn upcoming_text(book: &DemoBook) -> String {
    let mut by_day: BTreeMap<NaiveDate, BTreeMap<String, Vec<&str>>> = BTreeMap::new();
    for (at, name, step, action) in &book.upcoming {
        by_day
            .entry(at.date_naive())
            .or_default()
            .entry(format!("step {step} {action}"))
            .or_default()
            .push(name);
    }
    let mut out = String::new();
    for (day, actions) in by_day {
        for (action, names) in actions {
            let shown: Vec<&str> = names.iter().take(4).copied().collect();
            let more = names.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{day}  {action:<22} {:>3} × {}{more}\n",
                names.len(),
                shown.join(", ")
            ));
        }
    }
    out
}
