//! Customers: the record in the customer's partition, its number reservation,
//! and the listing entries the list and search indexes are built from.
//!
//! Listing entries: one small copy of the customer per facet it belongs to
//! (`all`, its group, chasing status, AR specialist, each tag, overdue or
//! not), each carrying three sort keys (name, overdue, created) on GSI1-3,
//! plus one entry per searchable field (name, number, email) on GSI1. A list
//! page is then one Query of one index partition, whatever the tenant's size.

use super::dynamo::{from_item, to_item, Condition, Item, KeyQuery, Table};
use super::keys::*;
use app::ports::StoreError;
use app::ports::{CustomerFilter, CustomerQuery, CustomerSort, Page};
use app::records::StoredCustomer;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::cadence::Level;
use domain::contact::Contact;
use domain::customer::Customer;
use domain::history::HistoryItem;
use domain::identity::TenantId;
use rust_decimal::Decimal;
use std::collections::BTreeSet;

pub const REVISION: &str = "revision";

pub async fn get(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<StoredCustomer>, StoreError> {
    let Some(item) = table.get(&customer_pk(tenant, id), CUSTOMER_SK).await? else {
        return Ok(None);
    };
    parse(item).map(Some)
}

/// The customer's record and its contacts: the start of its page range,
/// one strongly consistent Query.
pub async fn with_contacts(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<(StoredCustomer, Vec<Contact>)>, StoreError> {
    // '~' sorts after every character of a contact id.
    let items = table
        .query_all(
            KeyQuery::partition(PK, customer_pk(tenant, id))
                .sort_between(SK, CUSTOMER_SK, format!("{CONTACT_PREFIX}~"))
                .consistent(),
        )
        .await?;
    let mut customer = None;
    let mut contacts = Vec::new();
    for item in items {
        match item.get(SK) {
            Some(AttributeValue::S(sk)) if sk == CUSTOMER_SK => customer = Some(parse(item)?),
            _ => contacts.push(from_item(item)?),
        }
    }
    Ok(customer.map(|customer| (customer, contacts)))
}

pub fn parse(item: Item) -> Result<StoredCustomer, StoreError> {
    let revision = match item.get(REVISION) {
        Some(AttributeValue::N(n)) => n
            .parse()
            .map_err(|_| StoreError::Malformed("revision".into()))?,
        _ => 0,
    };
    Ok(StoredCustomer {
        customer: from_item(item)?,
        revision,
    })
}

/// Writes that store `next` and its list entries, conditioned on nobody
/// having written the customer since `previous` was read. Write 0 is the
/// customer record, the one whose condition can fail.
pub fn put(
    table: &Table,
    tenant: &TenantId,
    next: &Customer,
    previous: Option<&StoredCustomer>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let pk = customer_pk(tenant, &next.id);
    let revision = previous.map_or(0, |p| p.revision);
    let mut item = to_item(next)?;
    item.insert(PK.into(), s(&pk));
    item.insert(SK.into(), s(CUSTOMER_SK));
    item.insert(
        REVISION.into(),
        AttributeValue::N((revision + 1).to_string()),
    );
    if let Some(at) = next.next_evaluation_at {
        item.insert(DUE_PK.into(), s(&due_pk(due_shard(&next.id))));
        item.insert(DUE_SK.into(), s(&due_sk(at, tenant, &next.id)));
    }
    let condition = match previous {
        None => Condition::absent(),
        Some(_) => revision_is(revision),
    };
    let mut writes = vec![table.put(item, Some(condition))?];

    let keep: BTreeSet<String> = entry_keys(next).into_iter().collect();
    if let Some(previous) = previous {
        for stale in entry_keys(&previous.customer) {
            if !keep.contains(&stale) {
                writes.push(table.delete(&pk, &listing_sk(&stale), None)?);
            }
        }
    }
    // Only the entries whose copy changed: most writes (a payment, a chase
    // recorded) leave every list entry as it was.
    let unchanged = match previous {
        Some(previous) => entries(tenant, &previous.customer)?,
        None => Vec::new(),
    };
    for entry in entries(tenant, next)? {
        if !unchanged.contains(&entry) {
            writes.push(table.put(entry, None)?);
        }
    }
    Ok(writes)
}

fn revision_is(revision: u64) -> Condition {
    Condition::new("#revision = :revision")
        .name("#revision", REVISION)
        .value(":revision", AttributeValue::N(revision.to_string()))
}

pub fn history_put(
    table: &Table,
    tenant: &TenantId,
    item: &HistoryItem,
) -> Result<TransactWriteItem, StoreError> {
    let mut stored = to_item(item)?;
    stored.insert(PK.into(), s(&customer_pk(tenant, &item.customer_id)));
    stored.insert(SK.into(), s(&history_sk(&item.id)));
    table.put(stored, Some(Condition::absent()))
}

/// Reserves `number` for the customer: fails if another customer has it.
pub fn reserve_number(
    table: &Table,
    tenant: &TenantId,
    number: &str,
    customer_id: &str,
) -> Result<TransactWriteItem, StoreError> {
    table.reserve(
        &tenant_pk(tenant),
        &customer_number_sk(number),
        ("customer_id", customer_id),
    )
}

pub fn release_number(
    table: &Table,
    tenant: &TenantId,
    number: &str,
) -> Result<TransactWriteItem, StoreError> {
    table.delete(&tenant_pk(tenant), &customer_number_sk(number), None)
}

/// Removes the record (if unchanged since read) and every listing entry.
pub fn delete(
    table: &Table,
    tenant: &TenantId,
    stored: &StoredCustomer,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let pk = customer_pk(tenant, &stored.customer.id);
    let unchanged = Condition::new("#revision = :revision")
        .name("#revision", REVISION)
        .value(":revision", AttributeValue::N(stored.revision.to_string()));
    let mut writes = vec![table.delete(&pk, CUSTOMER_SK, Some(unchanged))?];
    for key in entry_keys(&stored.customer) {
        writes.push(table.delete(&pk, &listing_sk(&key), None)?);
    }
    writes.push(release_number(table, tenant, &stored.customer.number)?);
    Ok(writes)
}

/// Spreads customers over the due index's shards by their id.
pub fn due_shard(customer_id: &str) -> u32 {
    customer_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % DUE_SHARDS
}

pub fn due_sk(at: chrono::DateTime<chrono::Utc>, tenant: &TenantId, customer_id: &str) -> String {
    format!(
        "{}#{tenant}#{customer_id}",
        super::due_index::due_sort_prefix(at)
    )
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

/// Lower case with runs of white space folded: how names sort and match.
pub fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The facets a customer is listed under.
pub fn facets(customer: &Customer) -> Vec<String> {
    let mut facets = vec![
        "all".to_string(),
        format!("status:{}", customer.chasing.status.as_str()),
        format!(
            "overdue:{}",
            if customer.has_overdue() { "yes" } else { "no" }
        ),
    ];
    if let Some(group) = &customer.group_id {
        facets.push(format!("group:{group}"));
    }
    if let Some(ar) = &customer.ar_specialist_id {
        facets.push(format!("ar:{ar}"));
    }
    for tag in &customer.tags {
        facets.push(format!("tag:{}", normalize(tag)));
    }
    facets.extend(enrolment_facets(customer));
    facets
}

/// The enrolment facets of a customer: one per level it is enrolled at.
fn enrolment_facets(customer: &Customer) -> Vec<String> {
    [Level::Customer, Level::Invoice]
        .into_iter()
        .filter_map(|level| customer.chasing.enrolment(level))
        .map(|(cadence, version)| enrolment_facet(&cadence, version))
        .collect()
}

/// The facet of the customers enrolled in one version of a cadence: what
/// `POST /v1/cadences/{id}/migrate` reads to find whom to move.
pub fn enrolment_facet(cadence_id: &str, version: u32) -> String {
    format!("cadence:{cadence_id}:{version}")
}

const SEARCH_FACET: &str = "search";

fn search_terms(customer: &Customer) -> Vec<(&'static str, String)> {
    let mut terms = vec![
        ("name", normalize(&customer.name)),
        ("number", normalize(&customer.number)),
    ];
    if let Some(email) = &customer.email {
        terms.push(("email", normalize(email)));
    }
    terms
}

fn entry_keys(customer: &Customer) -> Vec<String> {
    let mut keys = facets(customer);
    keys.extend(
        search_terms(customer)
            .into_iter()
            .map(|(field, _)| format!("{SEARCH_FACET}:{field}")),
    );
    keys
}

/// Overdue sorts highest first on an ascending index: store the distance
/// from a ceiling, fixed width, in minor units.
/// Largest overdue first: the amount in ten-thousandths (every currency's
/// minor unit fits) subtracted from a ceiling, zero-padded to a fixed width.
/// A customer's overdue is a sum of bounded invoices, so it stays far below
/// the ceiling (10^20 major units); anything above would sort as the ceiling.
fn overdue_sort_key(overdue: Decimal, id: &str) -> String {
    const CEILING_DIGITS: u32 = 24;
    const WIDTH: usize = CEILING_DIGITS as usize + 1;
    let ceiling = Decimal::from_i128_with_scale(10_i128.pow(CEILING_DIGITS), 0);
    let scaled = overdue
        .max(Decimal::ZERO)
        .checked_mul(Decimal::from(10_000))
        .map_or(ceiling, |d| d.trunc().min(ceiling));
    let inverted = ceiling - scaled;
    format!("{:0>WIDTH$}#{id}", inverted.to_string())
}

fn entries(tenant: &TenantId, customer: &Customer) -> Result<Vec<Item>, StoreError> {
    let pk = customer_pk(tenant, &customer.id);
    let mut base = to_item(&Customer {
        recent_history: Vec::new(),
        open_invoices: Vec::new(),
        cycle: Default::default(),
        invoice_cycles: Default::default(),
        messages_sent: Vec::new(),
        ..customer.clone()
    })?;
    // Lists need the summary, not the bulky copies nor the chasing
    // bookkeeping every evaluation moves (entries are rewritten only when
    // what they hold changes).
    for bookkeeping in [
        "recent_history",
        "open_invoices",
        "cycle",
        "invoice_cycles",
        "messages_sent",
        "chase_timing",
        "invoice_chase_timing",
        "override_chase_timings",
        "next_evaluation_at",
        "last_evaluated_at",
    ] {
        base.remove(bookkeeping);
    }
    base.insert(PK.into(), s(&pk));
    base.insert("f_status".into(), s(customer.chasing.status.as_str()));
    // Enrolments of both levels, for an enrolment filter narrowing another
    // (left out when none: see `Customer::invoice_cycles` on empty values).
    let enrolments = enrolment_facets(customer);
    if !enrolments.is_empty() {
        base.insert(
            "f_enrolment".into(),
            AttributeValue::L(enrolments.iter().map(|f| s(f)).collect()),
        );
    }
    base.insert(
        "f_overdue".into(),
        AttributeValue::Bool(customer.has_overdue()),
    );
    // Tags as their facets file them, for a tag filter narrowing another.
    base.insert(
        "f_tags".into(),
        AttributeValue::L(customer.tags.iter().map(|t| s(&normalize(t))).collect()),
    );
    let name_key = format!("{}#{}", normalize(&customer.name), customer.id);
    let overdue_key = overdue_sort_key(customer.balance.overdue, &customer.id);
    let created_key = format!(
        "{}#{}",
        customer.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
        customer.id
    );
    let mut items = Vec::new();
    for facet in facets(customer) {
        let partition = s(&listing_pk(tenant, &facet));
        let mut item = base.clone();
        item.insert(SK.into(), s(&listing_sk(&facet)));
        item.insert(GSI1PK.into(), partition.clone());
        item.insert(GSI1SK.into(), s(&name_key));
        item.insert(GSI2PK.into(), partition.clone());
        item.insert(GSI2SK.into(), s(&overdue_key));
        item.insert(GSI3PK.into(), partition);
        item.insert(GSI3SK.into(), s(&created_key));
        items.push(item);
    }
    for (field, term) in search_terms(customer) {
        let mut item = base.clone();
        item.insert(
            SK.into(),
            s(&listing_sk(&format!("{SEARCH_FACET}:{field}"))),
        );
        item.insert(GSI1PK.into(), s(&listing_pk(tenant, SEARCH_FACET)));
        item.insert(GSI1SK.into(), s(&format!("{term}#{}", customer.id)));
        items.push(item);
    }
    Ok(items)
}

fn facet_of(filter: &CustomerFilter) -> String {
    match filter {
        CustomerFilter::Group(id) => format!("group:{id}"),
        CustomerFilter::ArSpecialist(id) => format!("ar:{id}"),
        CustomerFilter::Tag(tag) => format!("tag:{}", normalize(tag)),
        CustomerFilter::ChasingStatus(status) => format!("status:{status}"),
        CustomerFilter::HasOverdue(yes) => format!("overdue:{}", if *yes { "yes" } else { "no" }),
        CustomerFilter::Enrolment {
            cadence_id,
            version,
        } => enrolment_facet(cadence_id, *version),
    }
}

/// The filter expression of a filter that narrows another facet's partition.
fn condition_of(
    filter: &CustomerFilter,
    n: usize,
) -> (String, (String, String), (String, AttributeValue)) {
    let name = format!("#f{n}");
    let value = format!(":f{n}");
    let (expression, attribute, stored) = match filter {
        CustomerFilter::Group(id) => (format!("{name} = {value}"), "group_id", s(id)),
        CustomerFilter::ArSpecialist(id) => {
            (format!("{name} = {value}"), "ar_specialist_id", s(id))
        }
        CustomerFilter::Tag(tag) => (
            format!("contains({name}, {value})"),
            "f_tags",
            s(&normalize(tag)),
        ),
        CustomerFilter::ChasingStatus(status) => {
            (format!("{name} = {value}"), "f_status", s(status))
        }
        CustomerFilter::HasOverdue(yes) => (
            format!("{name} = {value}"),
            "f_overdue",
            AttributeValue::Bool(*yes),
        ),
        CustomerFilter::Enrolment {
            cadence_id,
            version,
        } => (
            format!("contains({name}, {value})"),
            "f_enrolment",
            s(&enrolment_facet(cadence_id, *version)),
        ),
    };
    (expression, (name, attribute.to_string()), (value, stored))
}

/// With several filters, one is served by the index and the others narrow
/// its results; a page then takes at most this many Queries.
pub const MAX_QUERIES_PER_PAGE: usize = 5;

/// The index and partition a page is read from: the cursor must match it.
fn partition(query: &CustomerQuery, tenant: &TenantId) -> (&'static str, &'static str, String) {
    if query.search.is_some() {
        return (GSI1, GSI1PK, listing_pk(tenant, SEARCH_FACET));
    }
    let facet = query
        .filters
        .first()
        .map_or_else(|| "all".to_string(), facet_of);
    let (index, key) = match query.sort {
        CustomerSort::Name => (GSI1, GSI1PK),
        CustomerSort::Overdue => (GSI2, GSI2PK),
        CustomerSort::CreatedAt => (GSI3, GSI3PK),
    };
    (index, key, listing_pk(tenant, &facet))
}

pub async fn list(
    table: &Table,
    tenant: &TenantId,
    query: CustomerQuery,
) -> Result<Page<Customer>, StoreError> {
    let (index, key, partition) = partition(&query, tenant);
    let limit = i32::try_from(query.page.limit).unwrap_or(i32::MAX);
    // With a search, every filter narrows; otherwise the first is the index partition.
    let narrowing: &[CustomerFilter] = if query.search.is_some() {
        &query.filters
    } else {
        query.filters.get(1..).unwrap_or(&[])
    };
    let filter = (!narrowing.is_empty()).then(|| {
        let mut condition = Condition::new("");
        let mut parts = Vec::new();
        for (n, f) in narrowing.iter().enumerate() {
            let (expression, (placeholder, attribute), (value_placeholder, value)) =
                condition_of(f, n);
            parts.push(expression);
            condition = condition
                .name(&placeholder, &attribute)
                .value(&value_placeholder, value);
        }
        condition.expression = parts.join(" AND ");
        condition
    });
    let mut customers: Vec<Customer> = Vec::new();
    let mut start = crate::cursor::decode(query.page.cursor.as_deref(), (key, &partition))?;
    let mut seen = BTreeSet::new();
    for _ in 0..MAX_QUERIES_PER_PAGE {
        let remaining = limit - customers.len() as i32;
        let mut key_query = KeyQuery::partition(key, partition.clone())
            .on_index(index)
            .limit(remaining)
            .start(start.take())
            .filter(filter.clone());
        if let Some(search) = &query.search {
            key_query = key_query.sort_begins_with(GSI1SK, normalize(search));
        }
        if query.sort == CustomerSort::CreatedAt && query.search.is_none() {
            key_query = key_query.descending();
        }
        let page = table.query(key_query).await?;
        for item in page.items {
            let customer: Customer = from_item(item)?;
            if seen.insert(customer.id.clone()) {
                customers.push(customer);
            }
        }
        start = page.last_key;
        if start.is_none() || customers.len() as i32 >= limit || filter.is_none() {
            break;
        }
    }
    Ok(Page {
        items: customers,
        next_cursor: start.as_ref().and_then(crate::cursor::encode),
    })
}

/// The scheduler's write: only the evaluation's bookkeeping and the due
/// index entry (no field a list shows),
/// conditioned on the customer not having changed since it was read (if it
/// did, whoever changed it rescheduled it).
pub fn update_chasing(
    table: &Table,
    tenant: &TenantId,
    stored: &StoredCustomer,
    next: &Customer,
) -> Result<TransactWriteItem, StoreError> {
    let mut condition = Condition::new("#revision = :revision")
        .name("#revision", REVISION)
        .value(":revision", AttributeValue::N(stored.revision.to_string()))
        .value(":one", AttributeValue::N("1".into()))
        .value(":cycle", attribute(&next.cycle)?)
        .value(":last", attribute(&next.last_evaluated_at)?)
        .value(":next", attribute(&next.next_evaluation_at)?);
    // Names go through placeholders: `cycle` is a reserved word.
    condition = condition
        .name("#cycle", "cycle")
        .name("#last", "last_evaluated_at")
        .name("#next", "next_evaluation_at");
    let mut expression = "SET #cycle = :cycle, #last = :last, #next = :next".to_string();
    // An empty map is left out, as in a full put (see `Customer::invoice_cycles`).
    let mut remove = Vec::new();
    if next.invoice_cycles.is_empty() {
        remove.push("invoice_cycles");
    } else {
        condition = condition.value(":invoice_cycles", attribute(&next.invoice_cycles)?);
        expression.push_str(", invoice_cycles = :invoice_cycles");
    }
    match next.next_evaluation_at {
        Some(at) => {
            condition = condition
                .value(":due_pk", s(&due_pk(due_shard(&next.id))))
                .value(":due_sk", s(&due_sk(at, tenant, &next.id)));
            expression.push_str(", DuePK = :due_pk, DueSK = :due_sk");
        }
        None => remove.extend(["DuePK", "DueSK"]),
    }
    expression.push_str(" ADD revision :one");
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    table.update(
        &customer_pk(tenant, &next.id),
        CUSTOMER_SK,
        &expression,
        condition,
    )
}

fn attribute<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// The ids of the customers holding `numbers`, by number.
pub async fn ids_by_number(
    table: &Table,
    tenant: &TenantId,
    numbers: &[String],
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    let pk = tenant_pk(tenant);
    let numbers_by_key: std::collections::HashMap<String, &String> =
        numbers.iter().map(|n| (customer_number_sk(n), n)).collect();
    let keys: Vec<(String, String)> = numbers_by_key
        .keys()
        .map(|sk| (pk.clone(), sk.clone()))
        .collect();
    let mut by_number = std::collections::HashMap::new();
    for item in crate::dynamo::batch_get(table, &keys, true).await? {
        if let (Some(sk), Some(id)) = (
            crate::dynamo::text_attribute(&item, SK),
            crate::dynamo::text_attribute(&item, "customer_id"),
        ) {
            if let Some(number) = numbers_by_key.get(sk) {
                by_number.insert((*number).clone(), id.to_string());
            }
        }
    }
    Ok(by_number)
}

/// The customer page from one Query of its page range (customer, contacts,
/// open invoices, open tasks), unless it passes DynamoDB's 1 MB page.
pub async fn page(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
) -> Result<Option<app::records::CustomerPage>, StoreError> {
    let items = table
        .query_all(
            KeyQuery::partition(PK, customer_pk(tenant, customer_id))
                .sort_begins_with(SK, PAGE_PREFIX)
                .consistent(),
        )
        .await?;
    let mut customer = None;
    let mut contacts = Vec::new();
    let mut open_invoices = Vec::new();
    let mut open_tasks = Vec::new();
    let mut portal_visit = None;
    for item in items {
        let sk = match item.get(SK) {
            Some(AttributeValue::S(sk)) => sk.clone(),
            _ => continue,
        };
        if sk == CUSTOMER_SK {
            customer = Some(parse(item)?);
        } else if sk.starts_with(CONTACT_PREFIX) {
            contacts.push(from_item(item)?);
        } else if sk.starts_with(OPEN_INVOICE_PREFIX) {
            open_invoices.push(from_item(item)?);
        } else if sk.starts_with(TASK_PREFIX) {
            open_tasks.push(from_item(item)?);
        } else if sk == PORTAL_VISIT_SK {
            portal_visit = Some(from_item(item)?);
        }
    }
    Ok(customer.map(|customer| app::records::CustomerPage {
        customer,
        contacts,
        open_invoices,
        open_tasks,
        portal_visit,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overdue_key_orders_largest_first_over_the_whole_range() {
        let amounts = [
            "999999999999999.99",
            "100000000000000",
            "123456.789",
            "10.5",
            "10.05",
            "0.01",
            "0",
        ];
        let keys: Vec<String> = amounts
            .iter()
            .map(|a| overdue_sort_key(a.parse().unwrap(), "X"))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert!(keys.iter().all(|k| k.len() == keys[0].len()));
        // Sums beyond any single invoice still sort and never panic.
        let huge = overdue_sort_key(Decimal::MAX, "X");
        assert!(huge <= keys[0]);
    }
}
