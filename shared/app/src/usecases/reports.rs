//! Receivables overview (docs/api.md "Reports"): aging, summary and the
//! rebuild of the aggregates they read. A report reads the tenant's
//! aggregates, never every customer, so its cost does not grow with them.

use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{CustomerFilter, CustomerQuery, CustomerSort, Page, PageRequest};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::identity::{Caller, Permission, TenantId};
use domain::money::Currency;
use domain::reports::{self, CurrencyAging, OpenFilter, Summary};
use domain::statement::Statement;
use std::collections::BTreeMap;

/// Aging per currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgingReport {
    pub as_of: NaiveDate,
    pub currencies: BTreeMap<Currency, CurrencyAging>,
}

/// The tenant's open balance aged as of `as_of` (default: the tenant's today).
pub async fn aging(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    as_of: Option<NaiveDate>,
    filter: OpenFilter,
) -> AppResult<AgingReport> {
    require(caller, Permission::Read)?;
    let as_of = match as_of {
        Some(as_of) => as_of,
        None => today(context, &caller.tenant, now).await?.0,
    };
    let tally = context
        .store
        .report_aggregates(&caller.tenant, Some(&[]))
        .await?;
    let currencies = reports::aging(&tally, &filter, as_of).map_err(AppError::internal)?;
    Ok(AgingReport { as_of, currencies })
}

/// One customer's aging line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerAging {
    pub customer_id: String,
    pub number: String,
    pub name: String,
    pub statement: Statement,
}

/// Customers with their buckets, largest overdue first (the customer
/// list's overdue order: one Query of a listing partition, then one batch
/// read of the page's records for their open invoices).
pub async fn aging_by_customer(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    as_of: Option<NaiveDate>,
    filter: OpenFilter,
    page: PageRequest,
) -> AppResult<(NaiveDate, Page<CustomerAging>)> {
    require(caller, Permission::Read)?;
    let as_of = match as_of {
        Some(as_of) => as_of,
        None => today(context, &caller.tenant, now).await?.0,
    };
    let mut filters = Vec::new();
    if let Some(group) = &filter.group_id {
        filters.push(CustomerFilter::Group(group.clone()));
    }
    if let Some(ar) = &filter.ar_specialist_id {
        filters.push(CustomerFilter::ArSpecialist(ar.clone()));
    }
    let listed = context
        .store
        .list_customers(
            &caller.tenant,
            CustomerQuery {
                filters,
                search: None,
                sort: CustomerSort::Overdue,
                page,
            },
        )
        .await?;
    let ids: Vec<String> = listed.items.iter().map(|c| c.id.clone()).collect();
    let records = context.store.customers(&caller.tenant, &ids, false).await?;
    let mut items = Vec::new();
    for id in ids {
        let Some(record) = records.get(&id) else {
            continue;
        };
        let customer = &record.customer;
        if filter.currency.is_some_and(|c| c != customer.currency) {
            continue;
        }
        items.push(CustomerAging {
            customer_id: customer.id.clone(),
            number: customer.number.clone(),
            name: customer.name.clone(),
            statement: Statement::of(customer, as_of).map_err(AppError::internal)?,
        });
    }
    Ok((
        as_of,
        Page {
            items,
            next_cursor: listed.next_cursor,
        },
    ))
}

/// The summary as of `as_of` (default: the tenant's today).
pub async fn summary(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    as_of: Option<NaiveDate>,
) -> AppResult<(NaiveDate, Summary)> {
    require(caller, Permission::Read)?;
    let (today, day) = today(context, &caller.tenant, now).await?;
    let as_of = as_of.unwrap_or(today);
    let wanted = reports::summary_aggregates(as_of, day);
    let tally = context
        .store
        .report_aggregates(&caller.tenant, Some(&wanted))
        .await?;
    let summary = reports::summary(&tally, as_of, day).map_err(AppError::internal)?;
    Ok((as_of, summary))
}

/// Most days a forecast looks ahead.
pub const MAX_FORECAST_DAYS: u32 = 90;
pub const DEFAULT_FORECAST_DAYS: u32 = 14;
/// Enrolled customers read per listing page (the list's largest page).
const FORECAST_PAGE: usize = 200;

/// The steps that would run in the next days, per tenant-local date and action.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forecast {
    pub days: BTreeMap<NaiveDate, BTreeMap<domain::cadence::Action, u64>>,
    /// Enrolled customers previewed.
    pub customers: usize,
}

/// The tenant-wide preview (`GET /v1/customers/{id}/chasing/preview` for
/// every enrolled customer, both levels, nothing sent). Unlike the other
/// reports it reads the enrolled customers: one Query per version's listing
/// page and one batch read per 100 customers, plus the versions (one Query)
/// and the cadences invoices override to. A customer enrolled at both
/// levels is listed under both versions and counted once.
pub async fn forecast(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    days: u32,
) -> AppResult<Forecast> {
    require(caller, Permission::Read)?;
    let settings = context.settings(&caller.tenant).await?;
    let mut forecast = Forecast::default();
    let versions = context.store.cadence_versions(&caller.tenant, None).await?;
    let lookups = crate::chasing::CadenceLookups::default();
    let mut seen = std::collections::HashSet::new();
    for version in versions.into_iter().filter(|v| v.enrolled > 0) {
        let cadence = version.cadence;
        let mut page = PageRequest {
            limit: FORECAST_PAGE,
            cursor: None,
        };
        loop {
            let listed = context
                .store
                .list_customers(
                    &caller.tenant,
                    CustomerQuery {
                        filters: vec![CustomerFilter::Enrolment {
                            cadence_id: cadence.id.clone(),
                            version: cadence.version,
                        }],
                        search: None,
                        sort: CustomerSort::Name,
                        page: page.clone(),
                    },
                )
                .await?;
            let ids: Vec<String> = listed.items.iter().map(|c| c.id.clone()).collect();
            let records = context.store.customers(&caller.tenant, &ids, false).await?;
            for record in records.values() {
                let customer = &record.customer;
                if !seen.insert(customer.id.clone()) {
                    continue;
                }
                forecast.customers += 1;
                let cadences = lookups
                    .of(context.store.as_ref(), &caller.tenant, customer)
                    .await?;
                let stops = crate::chasing::stops(customer, &settings);
                let input = cadences.input(customer, &stops, settings.time_zone);
                for step in crate::chasing::preview_both(&input, customer, now, days) {
                    *forecast
                        .days
                        .entry(step.entry.date)
                        .or_default()
                        .entry(step.entry.action)
                        .or_default() += 1;
                }
            }
            match listed.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
    }
    Ok(forecast)
}

/// Recomputes the tenant's aggregates from its items and replaces them
/// (an operator's repair; run it while the tenant is quiet, as records
/// applied meanwhile may be counted twice or lost).
pub async fn rebuild(context: &Context, tenant: &TenantId) -> AppResult<reports::Tally> {
    let items = context.store.report_items(tenant).await?;
    let tally = reports::rebuild(items.iter());
    context
        .store
        .replace_report_aggregates(tenant, &tally)
        .await?;
    Ok(tally)
}

/// The tenant's today and its bounds as UTC instants.
async fn today(
    context: &Context,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> AppResult<(NaiveDate, (DateTime<Utc>, DateTime<Utc>))> {
    let zone = context.settings(tenant).await?.time_zone;
    let today = now.with_timezone(&zone).date_naive();
    let start_of = |date: NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .and_then(|midnight| midnight.and_local_timezone(zone).earliest())
            .map(|local| local.with_timezone(&Utc))
    };
    let start = start_of(today).unwrap_or(now);
    let end = start_of(today + Duration::days(1)).unwrap_or(start + Duration::days(1));
    Ok((today, (start, end)))
}
