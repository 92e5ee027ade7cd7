//! Report aggregates (README "Reports"): one item per aggregate in the
//! tenant's report partition, one numeric attribute per cell, moved with
//! `ADD` (commutative, so records of different shards may land in any
//! order); and the reading of stream images into the items reports count.

use super::dynamo::{from_item, Condition, Item, KeyQuery, Table};
use super::keys::*;
use app::jobs::reports::{Change, StreamRecord};
use app::ports::StoreError;
use app::records::InvoiceRecord;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};
use domain::customer::ChasingStatus;
use domain::history::HistoryItem;
use domain::identity::TenantId;
use domain::money::Currency;
use domain::reports::{Aggregate, Field, ReportItem, Tally};
use domain::task::Task;
use domain::template::Channel;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

const CURRENCY: &str = "m_currency";
const GROUP: &str = "m_group_id";
const AR_SPECIALIST: &str = "m_ar_specialist_id";
const EXPIRES_AT: &str = "expires_at";
/// Transactions of a rebuild's replacement (well under DynamoDB's 100).
const REPLACE_CHUNK: usize = 25;

// ------------------------------------------------------------- stream items

/// The item reports count that a stored item is, with its tenant; `None`
/// for every other item.
pub fn report_item(item: Item) -> Result<Option<(TenantId, ReportItem)>, StoreError> {
    let (Some(pk), Some(sk)) = (text(&item, PK), text(&item, SK)) else {
        return Ok(None);
    };
    let Some(owner) = customer_of_pk(pk) else {
        return Ok(None);
    };
    let sk = sk.to_string();
    let parsed = if sk == CUSTOMER_SK {
        ReportItem::Customer(Box::new(super::customer::parse(item)?.customer))
    } else if sk.starts_with(OPEN_INVOICE_PREFIX) || sk.starts_with(CLOSED_INVOICE_PREFIX) {
        ReportItem::Invoice(Box::new(from_item::<InvoiceRecord>(item)?.invoice))
    } else if sk.starts_with(TASK_PREFIX) || sk.starts_with(CLOSED_TASK_PREFIX) {
        ReportItem::Task(Box::new(from_item::<Task>(item)?))
    } else if sk.starts_with(HISTORY_PREFIX) {
        ReportItem::History(Box::new(from_item::<HistoryItem>(item)?))
    } else {
        return Ok(None);
    };
    Ok(Some((owner.tenant, parsed)))
}

/// One stream record from its images (either empty when absent).
pub fn stream_record(sequence_number: String, old: Item, new: Item) -> StreamRecord {
    let read = |image: Item| -> Result<Option<(TenantId, ReportItem)>, String> {
        if image.is_empty() {
            return Ok(None);
        }
        report_item(image).map_err(|e| e.to_string())
    };
    let change = read(old).and_then(|old| {
        let new = read(new)?;
        let tenant = match (&old, &new) {
            (Some((tenant, _)), _) | (None, Some((tenant, _))) => tenant.clone(),
            (None, None) => return Ok(None),
        };
        Ok(Some(Change {
            tenant,
            old: old.map(|(_, item)| item),
            new: new.map(|(_, item)| item),
        }))
    });
    StreamRecord {
        sequence_number,
        change,
    }
}

/// The records of a Lambda DynamoDB stream event, in order.
pub fn stream_records(event: aws_lambda_events::dynamodb::Event) -> Vec<StreamRecord> {
    event
        .records
        .into_iter()
        .map(|record| {
            let change = record.change;
            stream_record(
                change.sequence_number.unwrap_or_default(),
                change.old_image.into(),
                change.new_image.into(),
            )
        })
        .collect()
}

// ------------------------------------------------------------- aggregates

fn sk_of(aggregate: &Aggregate) -> String {
    match aggregate {
        Aggregate::Open {
            currency,
            group_id,
            ar_specialist_id,
        } => report_open_sk(
            currency.code(),
            group_id.as_deref(),
            ar_specialist_id.as_deref(),
        ),
        Aggregate::Counts => REPORT_COUNTS_SK.to_string(),
        Aggregate::Sent { month } => report_month_sk(REPORT_SENT_PREFIX, *month),
        Aggregate::Invoiced { month } => report_month_sk(REPORT_INVOICED_PREFIX, *month),
        Aggregate::Scheduled { month } => report_month_sk(REPORT_SCHEDULED_PREFIX, *month),
    }
}

/// Cell attribute names all hold a `:`; other attributes hold none.
fn field_name(field: &Field) -> String {
    let date = |d: &Option<NaiveDate>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
    match field {
        Field::Open { due } => format!("o:{}", date(due)),
        Field::Disputed { due } => format!("x:{}", date(due)),
        Field::Credit => "c:".to_string(),
        Field::Promised { date } => format!("p:{date}"),
        Field::Installment { date } => format!("i:{date}"),
        Field::Customers { status } => format!("s:{}", status.as_str()),
        Field::TasksDue { date } => format!("t:{date}"),
        Field::Sent { date, channel } => format!("e:{date}:{}", channel.as_str()),
        Field::Invoiced { currency, date } => format!("v:{}:{date}", currency.code()),
        Field::Scheduled { hour } => format!("h:{}", hour.format("%Y-%m-%dT%H")),
    }
}

fn parse_field(name: &str) -> Option<Field> {
    let (kind, rest) = name.split_once(':')?;
    let date = |raw: &str| NaiveDate::from_str(raw).ok();
    let optional_date = |raw: &str| {
        if raw == "-" {
            Some(None)
        } else {
            date(raw).map(Some)
        }
    };
    Some(match kind {
        "o" => Field::Open {
            due: optional_date(rest)?,
        },
        "x" => Field::Disputed {
            due: optional_date(rest)?,
        },
        "c" => Field::Credit,
        "p" => Field::Promised { date: date(rest)? },
        "i" => Field::Installment { date: date(rest)? },
        "s" => Field::Customers {
            status: ChasingStatus::parse(rest)?,
        },
        "t" => Field::TasksDue { date: date(rest)? },
        "e" => {
            let (day, channel) = rest.split_once(':')?;
            Field::Sent {
                date: date(day)?,
                channel: Channel::from_str(channel).ok()?,
            }
        }
        "v" => {
            let (currency, day) = rest.split_once(':')?;
            Field::Invoiced {
                currency: Currency::parse(currency)?,
                date: date(day)?,
            }
        }
        "h" => Field::Scheduled {
            hour: DateTime::parse_from_rfc3339(&format!("{rest}:00:00Z"))
                .ok()?
                .with_timezone(&Utc),
        },
        _ => return None,
    })
}

/// The aggregate a stored aggregate item is, with its non-zero cells.
fn parse_aggregate(item: &Item) -> Option<(Aggregate, BTreeMap<Field, Decimal>)> {
    let sk = text(item, SK)?;
    let month = |prefix: &str| {
        NaiveDate::parse_from_str(&format!("{}-01", sk.strip_prefix(prefix)?), "%Y-%m-%d").ok()
    };
    let aggregate = if sk.starts_with(REPORT_OPEN_PREFIX) {
        Aggregate::Open {
            currency: Currency::parse(text(item, CURRENCY)?)?,
            group_id: text(item, GROUP).map(str::to_string),
            ar_specialist_id: text(item, AR_SPECIALIST).map(str::to_string),
        }
    } else if sk == REPORT_COUNTS_SK {
        Aggregate::Counts
    } else if let Some(month) = month(REPORT_SENT_PREFIX) {
        Aggregate::Sent { month }
    } else if let Some(month) = month(REPORT_INVOICED_PREFIX) {
        Aggregate::Invoiced { month }
    } else if let Some(month) = month(REPORT_SCHEDULED_PREFIX) {
        Aggregate::Scheduled { month }
    } else {
        return None;
    };
    let cells = item
        .iter()
        .filter_map(|(name, value)| {
            let field = parse_field(name)?;
            let AttributeValue::N(number) = value else {
                return None;
            };
            let amount = Decimal::from_str(number)
                .or_else(|_| Decimal::from_scientific(number))
                .ok()?;
            (!amount.is_zero()).then_some((field, amount))
        })
        .collect();
    Some((aggregate, cells))
}

/// The `ADD` of one aggregate's cells (and its identifying attributes).
fn add(
    table: &Table,
    pk: &str,
    aggregate: &Aggregate,
    cells: &BTreeMap<Field, Decimal>,
) -> Result<TransactWriteItem, StoreError> {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut adds = Vec::new();
    for (index, (field, amount)) in cells.iter().enumerate() {
        names.insert(format!("#f{index}"), field_name(field));
        values.insert(format!(":v{index}"), AttributeValue::N(amount.to_string()));
        adds.push(format!("#f{index} :v{index}"));
    }
    let mut expression = format!("ADD {}", adds.join(", "));
    if let Aggregate::Open {
        currency,
        group_id,
        ar_specialist_id,
    } = aggregate
    {
        let mut sets = vec![format!("{CURRENCY} = :currency")];
        values.insert(":currency".into(), s(currency.code()));
        for (attribute, placeholder, value) in [
            (GROUP, ":group", group_id),
            (AR_SPECIALIST, ":ar", ar_specialist_id),
        ] {
            if let Some(value) = value {
                sets.push(format!("{attribute} = {placeholder}"));
                values.insert(placeholder.into(), s(value));
            }
        }
        expression = format!("SET {} {expression}", sets.join(", "));
    }
    let update = Update::builder()
        .table_name(table.name())
        .key(PK, s(pk))
        .key(SK, s(&sk_of(aggregate)))
        .update_expression(expression)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Applies `delta` and the marker of `sequence_number` in one transaction;
/// `false` when the marker was already there (the record was applied).
pub async fn apply(
    table: &Table,
    tenant: &TenantId,
    sequence_number: &str,
    delta: &Tally,
    keep_until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let pk = reports_pk(tenant);
    let marker: Item = [
        (PK.to_string(), s(&pk)),
        (SK.to_string(), s(&report_applied_sk(sequence_number))),
        (
            EXPIRES_AT.to_string(),
            AttributeValue::N(keep_until.timestamp().to_string()),
        ),
    ]
    .into();
    let mut writes = vec![table.put(marker, Some(Condition::absent()))?];
    for (aggregate, cells) in &delta.cells {
        writes.push(add(table, &pk, aggregate, cells)?);
    }
    match table.transact(writes).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { index: 0 }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// The open-balance aggregates (one Query) and the `others` named (one
/// batch read), or every aggregate (one Query of the partition).
pub async fn read(
    table: &Table,
    tenant: &TenantId,
    others: Option<&[Aggregate]>,
) -> Result<Tally, StoreError> {
    let pk = reports_pk(tenant);
    let items = match others {
        None => table.query_all(KeyQuery::partition(PK, &pk)).await?,
        Some(others) => {
            let mut items = table
                .query_all(KeyQuery::partition(PK, &pk).sort_begins_with(SK, REPORT_OPEN_PREFIX))
                .await?;
            if !others.is_empty() {
                let keys: Vec<(String, String)> =
                    others.iter().map(|a| (pk.clone(), sk_of(a))).collect();
                items.extend(super::dynamo::batch_get(table, &keys, false).await?);
            }
            items
        }
    };
    let mut tally = Tally::default();
    for item in &items {
        if let Some((aggregate, cells)) = parse_aggregate(item) {
            for (field, amount) in cells {
                tally.add(&aggregate, field, amount);
            }
        }
    }
    Ok(tally)
}

/// Every item of the tenant the reports count: each customer's partition
/// (found through the `all` listing), read in full.
pub async fn items(table: &Table, tenant: &TenantId) -> Result<Vec<ReportItem>, StoreError> {
    let entries = table
        .query_all(KeyQuery::partition(GSI1PK, listing_pk(tenant, "all")).on_index(GSI1))
        .await?;
    let mut partitions: Vec<String> = entries
        .iter()
        .filter_map(|entry| text(entry, PK).map(str::to_string))
        .collect();
    partitions.sort();
    partitions.dedup();
    let mut found = Vec::new();
    for pk in partitions {
        for item in table
            .query_all(KeyQuery::partition(PK, pk).consistent())
            .await?
        {
            if let Some((_, item)) = report_item(item)? {
                found.push(item);
            }
        }
    }
    Ok(found)
}

/// Deletes every aggregate of the tenant and writes `tally` in their place
/// (the applied-record markers stay).
pub async fn replace(table: &Table, tenant: &TenantId, tally: &Tally) -> Result<(), StoreError> {
    let pk = reports_pk(tenant);
    let existing = table.query_all(KeyQuery::partition(PK, &pk)).await?;
    let mut deletes = Vec::new();
    for item in &existing {
        if let Some(sk) = text(item, SK).filter(|sk| !sk.starts_with(REPORT_APPLIED_PREFIX)) {
            deletes.push(table.delete(&pk, sk, None)?);
        }
    }
    for chunk in deletes.chunks(REPLACE_CHUNK) {
        table.transact(chunk.to_vec()).await?;
    }
    let mut adds = Vec::new();
    for (aggregate, cells) in &tally.cells {
        adds.push(add(table, &pk, aggregate, cells)?);
    }
    for chunk in adds.chunks(REPLACE_CHUNK) {
        table.transact(chunk.to_vec()).await?;
    }
    Ok(())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    super::dynamo::text_attribute(item, name)
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_reads_back_as_written() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        let eur = Currency::parse("EUR").unwrap();
        let fields = [
            Field::Open { due: Some(day) },
            Field::Open { due: None },
            Field::Disputed { due: Some(day) },
            Field::Credit,
            Field::Promised { date: day },
            Field::Installment { date: day },
            Field::Customers {
                status: ChasingStatus::Paused,
            },
            Field::TasksDue { date: day },
            Field::Sent {
                date: day,
                channel: Channel::Sms,
            },
            Field::Invoiced {
                currency: eur,
                date: day,
            },
            Field::Scheduled {
                hour: day.and_hms_opt(14, 0, 0).unwrap().and_utc(),
            },
        ];
        for field in fields {
            assert_eq!(parse_field(&field_name(&field)), Some(field));
        }
    }
}
