//! `/v1/reports/*` (docs/api.md "Reports"): the receivables overview, read
//! from the tenant's report aggregates. Amounts are decimal strings at the
//! currency's minor unit, one entry per currency, never summed across them.

use crate::extract::Ctx;
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::usecases::reports;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use domain::cadence::Action;
use domain::money::Currency;
use domain::reports::{CurrencyAging, OpenFilter};
use domain::statement::Aging;
use domain::validation::FieldErrors;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

const AGING_PARAMS: &[&str] = &[
    "as_of",
    "currency",
    "group_id",
    "ar_specialist_id",
    "by",
    "limit",
    "cursor",
];

/// `?as_of=YYYY-MM-DD`.
fn as_of(ctx: &Ctx, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let raw = ctx.param("as_of")?;
    parse::fields::date(errors, "as_of", &Value::String(raw.to_string()))
}

fn money(amount: Decimal, currency: Currency) -> String {
    let mut amount = amount;
    amount.rescale(currency.minor_unit_digits());
    amount.to_string()
}

fn buckets(map: &mut Map<String, Value>, aging: &Aging, currency: Currency) {
    for (name, amount) in [
        ("current", aging.current),
        ("d1_30", aging.d1_30),
        ("d31_60", aging.d31_60),
        ("d61_90", aging.d61_90),
        ("over_90", aging.over_90),
    ] {
        map.insert(name.into(), money(amount, currency).into());
    }
}

fn currency_aging(currency: Currency, aged: &CurrencyAging) -> Value {
    let mut map = Map::new();
    map.insert("currency".into(), currency.code().into());
    buckets(&mut map, &aged.aging, currency);
    map.insert("total".into(), money(aged.total, currency).into());
    map.insert("disputed".into(), money(aged.disputed, currency).into());
    map.insert("credit".into(), money(aged.credit, currency).into());
    Value::Object(map)
}

pub async fn aging(ctx: Ctx) -> Result<Response, ApiError> {
    ctx.only_params(AGING_PARAMS, "the aging report")?;
    // Checked whether or not `by=customer` uses them.
    let page = ctx.page()?;
    let mut errors = FieldErrors::new();
    let as_of = as_of(&ctx, &mut errors);
    let currency = ctx.param("currency").and_then(|raw| {
        parse::fields::currency(&mut errors, "currency", &Value::String(raw.into()))
    });
    let group_id = match ctx.id_param("group_id") {
        Ok(group) => group.map(str::to_string),
        Err(_) => {
            errors.add("group_id", "must be an id (26 letters and digits)");
            None
        }
    };
    let ar_specialist_id = ctx
        .param("ar_specialist_id")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let by_customer = match ctx.param("by") {
        None => false,
        Some("customer") => true,
        Some(_) => {
            errors.add("by", "must be customer");
            false
        }
    };
    let filter = errors
        .into_result(OpenFilter {
            currency,
            group_id,
            ar_specialist_id,
        })
        .map_err(ApiError::from)?;
    if by_customer {
        let (as_of, page) =
            reports::aging_by_customer(&ctx.context, &ctx.caller, ctx.now, as_of, filter, page)
                .await?;
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|line| {
                let statement = &line.statement;
                let currency = statement.currency;
                let mut map = Map::new();
                map.insert("customer_id".into(), line.customer_id.clone().into());
                map.insert("number".into(), line.number.clone().into());
                map.insert("name".into(), line.name.clone().into());
                map.insert("currency".into(), currency.code().into());
                buckets(&mut map, &statement.aging, currency);
                let total: Decimal = statement.items.iter().map(|l| l.balance).sum();
                map.insert("total".into(), money(total, currency).into());
                map.insert(
                    "overdue".into(),
                    money(total - statement.aging.current, currency).into(),
                );
                Value::Object(map)
            })
            .collect();
        return Ok(ApiResponse::ok(&json!({
            "as_of": as_of.to_string(),
            "items": items,
            "next_cursor": page.next_cursor,
        }))?
        .into_response());
    }
    let report = reports::aging(&ctx.context, &ctx.caller, ctx.now, as_of, filter).await?;
    let currencies: Vec<Value> = report
        .currencies
        .iter()
        .map(|(currency, aged)| currency_aging(*currency, aged))
        .collect();
    Ok(ApiResponse::ok(&json!({
        "as_of": report.as_of.to_string(),
        "currencies": currencies,
        "items": [],
        "next_cursor": null,
    }))?
    .into_response())
}

pub async fn summary(ctx: Ctx) -> Result<Response, ApiError> {
    ctx.only_params(&["as_of"], "the summary")?;
    let mut errors = FieldErrors::new();
    let as_of = as_of(&ctx, &mut errors);
    errors.into_result(()).map_err(ApiError::from)?;
    let (as_of, summary) = reports::summary(&ctx.context, &ctx.caller, ctx.now, as_of).await?;
    let currencies: Vec<Value> = summary
        .currencies
        .iter()
        .map(|(currency, line)| {
            json!({
                "currency": currency.code(),
                "outstanding": money(line.outstanding, *currency),
                "overdue": money(line.overdue, *currency),
                "dso": line.dso.map(|d| d.to_string()),
                "promised": money(line.promised, *currency),
                "expected": money(line.expected, *currency),
            })
        })
        .collect();
    let statuses: Map<String, Value> = ["active", "paused"]
        .into_iter()
        .map(|name| {
            let count = domain::customer::ChasingStatus::parse(name)
                .and_then(|status| summary.customers_by_status.get(&status).copied())
                .unwrap_or(0);
            (name.to_string(), count.into())
        })
        .collect();
    let sent: Map<String, Value> = ["email", "sms", "letter"]
        .into_iter()
        .map(|name| {
            let count = name
                .parse::<domain::template::Channel>()
                .ok()
                .and_then(|channel| summary.sent_last_7_days.get(&channel).copied())
                .unwrap_or(0);
            (name.to_string(), count.into())
        })
        .collect();
    Ok(ApiResponse::ok(&json!({
        "as_of": as_of.to_string(),
        "currencies": currencies,
        "customers_by_chasing_status": statuses,
        "chases_sent_last_7_days": sent,
        "tasks": {"due_today": summary.tasks_due_today, "overdue": summary.tasks_overdue},
        "chases_scheduled_today": summary.chases_scheduled_today,
    }))?
    .into_response())
}

/// `GET /v1/reports/forecast?days=14`: per tenant-local date, the steps that
/// would run for every enrolled customer if nothing changes (nothing sent).
pub async fn forecast(ctx: Ctx) -> Result<Response, ApiError> {
    ctx.only_params(&["days"], "the forecast")?;
    let days = match ctx.param("days") {
        None => reports::DEFAULT_FORECAST_DAYS,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=reports::MAX_FORECAST_DAYS).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid_field(
                    "days",
                    "must be a whole number from 1 to 90",
                ))
            }
        },
    };
    let forecast = reports::forecast(&ctx.context, &ctx.caller, ctx.now, days).await?;
    let items: Vec<Value> = forecast
        .days
        .iter()
        .map(|(date, actions)| {
            let mut map = Map::new();
            map.insert("date".into(), date.to_string().into());
            for action in ACTIONS {
                let count = actions.get(&action).copied().unwrap_or(0);
                let name = serde_json::to_value(action).map_err(ApiError::internal)?;
                if let Value::String(name) = name {
                    map.insert(name, count.into());
                }
            }
            Ok(Value::Object(map))
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(ApiResponse::ok(&json!({
        "from": ctx.now,
        "days": days,
        "customers": forecast.customers,
        "items": items,
    }))?
    .into_response())
}

const ACTIONS: [Action; 5] = [
    Action::Email,
    Action::Sms,
    Action::Letter,
    Action::PhoneCall,
    Action::Escalation,
];
