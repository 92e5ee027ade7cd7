//! Imports of customers, invoices and enrolments from rows of a CSV file
//! (the HTTP edge reads the file, and parses customer rows as customer
//! bodies; this module decides what the rows mean).
//! All rows valid or nothing written: every row is checked first (fields,
//! references, numbers taken in the file or in the tenant), and any problem
//! fails the whole import with each bad row's line number and reasons
//! ([`AppError::InvalidRows`]).
//!
//! Writing: rows are packed into as few transactions as they fit in,
//! counters summed per transaction. An import too large for one transaction
//! is written as several, one after another, after everything was
//! validated; the only way one of them can fail is a concurrent request
//! taking a number or changing a customer in between. That is a 409
//! `import_partially_applied` saying how many rows were written, and the
//! import is safe to send again: customer and invoice numbers are reserved
//! with the rows, so rows already written are reported as duplicates rather
//! than written twice, and enrolments already in place are left as they are.
//! The last transaction is returned as a [`Change`], so the caller's
//! Idempotency-Key record rides in it and a retried import with the same key
//! returns the first response.

use super::invoices::MoneyChange;
use super::{valid_id, Change};
use crate::access::require;
use crate::chasing;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{EnrolmentDeltas, StoreError, Write, MAX_TRANSACTION_ITEMS};
use crate::records::{InvoiceRecord, StoredCustomer};
use chrono::{DateTime, NaiveDate, Utc};
use domain::cadence::Cadence;
use domain::customer::{Customer, CustomerChanges};
use domain::history::{push_recent, HistoryItem, HistoryType};
use domain::identity::{Caller, Permission, TenantId};
use domain::invoice::{CollectionStatus, NewInvoice};
use domain::validation::FieldErrors;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Rows in one import, good or bad (the body is also capped at 256 KB).
pub const MAX_ROWS: usize = 1000;
/// Problems listed in the error; the rest are counted.
pub const MAX_REPORTED_PROBLEMS: usize = 100;
/// Invoices of one customer written with one copy of the customer record.
const INVOICES_PER_WRITE: usize = 10;

/// What a file imports: `POST /v1/imports/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::AsRefStr)]
#[strum(serialize_all = "snake_case")]
pub enum Kind {
    Customers,
    Invoices,
    Enrolments,
}

const CUSTOMER_COLUMNS: &[&str] = &[
    "number",
    "name",
    "currency",
    "email",
    "phone",
    "language",
    "payment_terms",
    "tags",
    "credit_limit",
    "ar_specialist_id",
    "group_id",
    "autopay",
    "billing_line1",
    "billing_line2",
    "billing_city",
    "billing_region",
    "billing_postal_code",
    "billing_country",
];
const INVOICE_COLUMNS: &[&str] = &[
    "customer_id",
    "customer_number",
    "number",
    "currency",
    "issue_date",
    "due_date",
    "total",
    "autopay",
    "collection_status",
    "dispute_reason",
];
const ENROLMENT_COLUMNS: &[&str] = &[
    "customer_id",
    "customer_number",
    "cadence_id",
    "cadence_name",
];

impl Kind {
    /// Whether a header names a column of this kind of file.
    pub fn accepts(self, column: &str) -> bool {
        match self {
            Self::Customers => {
                CUSTOMER_COLUMNS.contains(&column)
                    || column
                        .strip_prefix("metadata.")
                        .is_some_and(|k| !k.is_empty())
            }
            Self::Invoices => INVOICE_COLUMNS.contains(&column),
            Self::Enrolments => ENROLMENT_COLUMNS.contains(&column),
        }
    }

    /// The columns, for the error naming a wrong one.
    pub fn columns(self) -> String {
        match self {
            Self::Customers => format!("{}, metadata.<key>", CUSTOMER_COLUMNS.join(", ")),
            Self::Invoices => INVOICE_COLUMNS.join(", "),
            Self::Enrolments => ENROLMENT_COLUMNS.join(", "),
        }
    }
}

/// One data row: its line in the file and its non-empty cells by column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    pub cells: BTreeMap<String, String>,
}

/// The data rows of an import. Customer rows come checked as
/// `POST /v1/customers` bodies (by the HTTP edge), each with its line.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    Customers(Vec<(u64, Result<CustomerChanges, FieldErrors>)>),
    Invoices(Vec<Row>),
    Enrolments(Vec<Row>),
}

impl Row {
    fn get(&self, column: &str) -> Option<&str> {
        self.cells.get(column).map(String::as_str)
    }
}

/// Problems by line (line 1 is the header), each with its fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowErrors(BTreeMap<u64, FieldErrors>);

/// The rows a client is shown: the first [`MAX_REPORTED_PROBLEMS`]
/// problems by line, and how many there are in all.
#[derive(Debug, Clone, PartialEq)]
pub struct RowReport {
    pub rows: Vec<(u64, Vec<(String, String)>)>,
    pub invalid_rows: usize,
    pub problems: usize,
    pub reported: usize,
}

impl RowErrors {
    pub fn add(&mut self, line: u64, field: impl Into<String>, problem: impl Into<String>) {
        self.0.entry(line).or_default().add(field, problem);
    }

    fn extend(&mut self, line: u64, errors: &FieldErrors) {
        for (field, problem) in errors.iter() {
            self.add(line, field.clone(), problem.clone());
        }
    }

    pub fn has(&self, line: u64) -> bool {
        self.0.contains_key(&line)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn report(&self) -> RowReport {
        let problems = self.0.values().map(FieldErrors::len).sum();
        let mut reported = 0;
        let mut rows = Vec::new();
        for (line, errors) in &self.0 {
            if reported >= MAX_REPORTED_PROBLEMS {
                break;
            }
            let listed: Vec<(String, String)> = errors
                .iter()
                .take(MAX_REPORTED_PROBLEMS - reported)
                .map(|(field, problem)| (field.clone(), problem.clone()))
                .collect();
            reported += listed.len();
            rows.push((*line, listed));
        }
        RowReport {
            rows,
            invalid_rows: self.0.len(),
            problems,
            reported,
        }
    }

    /// Fails the import when any row is bad.
    fn check(self) -> AppResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::InvalidRows(self))
        }
    }
}

impl std::fmt::Display for RowErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let report = self.report();
        write!(
            f,
            "{} row(s) are invalid ({} problem(s); the first {} are listed); nothing was imported",
            report.invalid_rows, report.problems, report.reported
        )
    }
}

/// What one row (or one group of rows) writes; `key` names the record it
/// writes that no other unit may write in the same transaction.
struct Unit {
    lines: Vec<u64>,
    key: String,
    writes: Vec<Write>,
    /// Store items `writes` take.
    items: usize,
    groups: BTreeMap<String, i64>,
    enrolments: EnrolmentDeltas,
}

/// One transaction's worth of units, with their counters summed.
#[derive(Default)]
struct Batch {
    writes: Vec<Write>,
    /// The row line of each write (counters get the batch's first line).
    lines: Vec<u64>,
    items: usize,
    keys: BTreeSet<String>,
    groups: BTreeMap<String, i64>,
    enrolments: EnrolmentDeltas,
    rows: usize,
}

impl Batch {
    fn group_counters(groups: &BTreeMap<String, i64>) -> usize {
        groups.values().filter(|d| **d != 0).count()
    }

    /// Whether `unit` fits, leaving room for the Idempotency-Key record.
    fn fits(&self, unit: &Unit) -> bool {
        let mut groups = self.groups.clone();
        for (id, delta) in &unit.groups {
            *groups.entry(id.clone()).or_default() += delta;
        }
        let mut enrolments = self.enrolments.clone();
        enrolments.merge(&unit.enrolments);
        let counters = Self::group_counters(&groups) + enrolments.len();
        !self.keys.contains(&unit.key) && self.items + unit.items + counters < MAX_TRANSACTION_ITEMS
    }

    fn add(&mut self, unit: Unit) {
        let line = unit.lines.first().copied().unwrap_or(0);
        self.lines
            .extend(std::iter::repeat_n(line, unit.writes.len()));
        self.writes.extend(unit.writes);
        self.items += unit.items;
        self.keys.insert(unit.key);
        for (id, delta) in unit.groups {
            *self.groups.entry(id).or_default() += delta;
        }
        self.enrolments.merge(&unit.enrolments);
        self.rows += unit.lines.len();
    }

    /// The writes with the summed counters last.
    fn finish(mut self) -> Batch {
        let first = self.lines.first().copied().unwrap_or(0);
        for (group_id, delta) in std::mem::take(&mut self.groups) {
            if delta != 0 {
                self.writes
                    .push(Write::CountGroupMember { group_id, delta });
                self.lines.push(first);
            }
        }
        let enrolments = std::mem::take(&mut self.enrolments);
        if !enrolments.is_empty() {
            self.writes.push(Write::CountEnrolments(enrolments));
            self.lines.push(first);
        }
        self
    }
}

/// A validated import: its transactions, in order, and what it answers.
pub struct Import {
    batches: Vec<Batch>,
    pub summary: Value,
}

fn pack(units: Vec<Unit>) -> AppResult<Vec<Batch>> {
    let mut batches = vec![Batch::default()];
    for unit in units {
        if unit.items + 1 + unit.groups.len() + unit.enrolments.len() >= MAX_TRANSACTION_ITEMS {
            return Err(AppError::conflict(
                "import_row_too_large",
                format!(
                    "line {} needs more writes than one transaction holds",
                    unit.lines.first().copied().unwrap_or(0)
                ),
            ));
        }
        if !batches.last().is_some_and(|b| b.fits(&unit)) {
            batches.push(Batch::default());
        }
        if let Some(batch) = batches.last_mut() {
            batch.add(unit);
        }
    }
    batches.retain(|b| b.rows > 0);
    Ok(batches.into_iter().map(Batch::finish).collect())
}

fn unit(
    context: &Context,
    tenant: &TenantId,
    lines: Vec<u64>,
    key: String,
    writes: Vec<Write>,
) -> Unit {
    Unit {
        items: context.store.items_of(tenant, &writes),
        lines,
        key,
        writes,
        groups: BTreeMap::new(),
        enrolments: EnrolmentDeltas::default(),
    }
}

/// What a failed condition on a write at `line` means, `written` rows of
/// `total` being in already.
fn import_conflict(line: Option<u64>, written: usize, total: usize) -> AppError {
    let at = line.map_or_else(String::new, |line| format!(" at line {line}"));
    if written == 0 {
        AppError::conflict(
            "import_conflict",
            format!("a change made at the same time (a number just taken, a customer just changed) conflicts with the import{at}; nothing was imported, retry"),
        )
    } else {
        AppError::conflict(
            "import_partially_applied",
            format!("{written} of {total} rows were imported before a change made at the same time conflicted with the import{at}; send the file again: imported rows are reported as duplicates, never written twice"),
        )
    }
}

/// Commits every transaction but the last, in order; the last is returned
/// for the caller to commit (with its Idempotency-Key record), answering
/// the import's summary.
pub async fn apply(
    context: &Context,
    tenant: &TenantId,
    import: Import,
) -> AppResult<Change<Value>> {
    let total: usize = import.batches.iter().map(|b| b.rows).sum();
    let mut written = 0;
    let mut batches = import.batches;
    let last = batches.pop();
    for batch in batches {
        match context.store.commit(tenant, batch.writes).await {
            Ok(()) => written += batch.rows,
            Err(StoreError::ConditionFailed { index }) => {
                return Err(import_conflict(
                    batch.lines.get(index).copied(),
                    written,
                    total,
                ))
            }
            Err(StoreError::TransactionConflict) => {
                return Err(import_conflict(None, written, total))
            }
            Err(other) => return Err(other.into()),
        }
    }
    let Some(last) = last else {
        return Ok(Change::new(Vec::new(), import.summary, super::stale));
    };
    let lines = last.lines;
    let mut change = Change::new(last.writes, import.summary, super::stale);
    for (index, line) in lines.into_iter().enumerate() {
        change = change.on_conflict(index, move || import_conflict(Some(line), written, total));
    }
    Ok(change)
}

/// Checks every row of an import and plans its writes. `errors` holds the
/// problems the file's reader found already (bad rows).
pub async fn plan(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    rows: Rows,
    errors: RowErrors,
) -> AppResult<Import> {
    require(caller, Permission::ManageRecords)?;
    match rows {
        Rows::Customers(rows) => customers(context, caller, now, rows, errors).await,
        Rows::Invoices(rows) => invoices(context, caller, now, rows, errors).await,
        Rows::Enrolments(rows) => enrolments(context, caller, now, rows, errors).await,
    }
}

/// A yes/no cell: `true`, `yes`, `1` or `false`, `no`, `0`, in any case.
pub fn boolean(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

fn today(now: DateTime<Utc>, zone: chrono_tz::Tz) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

async fn customers(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    rows: Vec<(u64, Result<CustomerChanges, FieldErrors>)>,
    mut errors: RowErrors,
) -> AppResult<Import> {
    let tenant = &caller.tenant;
    let mut created: Vec<(u64, Customer)> = Vec::new();
    let mut numbers: HashMap<String, u64> = HashMap::new();
    for (line, changes) in rows {
        let changes = match changes {
            Ok(changes) => changes,
            Err(problems) => {
                errors.extend(line, &problems);
                continue;
            }
        };
        let Some(customer) = changes.create(context.ids.new_id(now), now) else {
            errors.add(line, "number", "is required");
            continue;
        };
        if let Some(first) = numbers.get(&customer.number) {
            errors.add(line, "number", format!("is also on line {first}"));
            continue;
        }
        numbers.insert(customer.number.clone(), line);
        created.push((line, customer));
    }
    let wanted: Vec<String> = numbers.keys().cloned().collect();
    let taken = context.store.customer_id_by_number(tenant, &wanted).await?;
    let group_ids: BTreeSet<&String> = created
        .iter()
        .filter_map(|(_, c)| c.group_id.as_ref())
        .collect();
    let mut groups = HashMap::new();
    for id in group_ids {
        if !valid_id(id) {
            continue;
        }
        if let Some(group) = context.store.group(tenant, id).await? {
            groups.insert(id.clone(), group.settings);
        }
    }
    let zone = context.settings(tenant).await?.time_zone;
    let automatic = context.store.automatic_cadences(tenant).await?;
    let mut units = Vec::new();
    for (line, mut customer) in created {
        if taken.contains_key(&customer.number) {
            errors.add(line, "number", "another customer already has this number");
        }
        let mut unit_groups = BTreeMap::new();
        if let Some(group_id) = &customer.group_id {
            match groups.get(group_id) {
                Some(settings) => {
                    customer.group_settings = Some(settings.clone());
                    unit_groups.insert(group_id.clone(), 1);
                }
                None => errors.add(line, "group_id", "no such customer group"),
            }
        }
        if errors.has(line) {
            continue;
        }
        customer.refresh(today(now, zone));
        let mut history = vec![HistoryItem::new(
            &customer.id,
            HistoryType::CustomerCreated,
            now,
            caller.user.as_str(),
            format!("Customer {} created (import)", customer.number),
            json!({"number": customer.number, "import_line": line}),
        )];
        let mut enrolments = EnrolmentDeltas::default();
        for cadence in chasing::assignment(&automatic, &customer) {
            chasing::enrol(&mut customer, cadence, zone, now);
            enrolments.add(Some((cadence.id.clone(), cadence.version)), 1);
            history.push(super::enrolment::enrolled_history(
                caller,
                now,
                &customer,
                cadence,
                &None,
                "assignment_rules",
            ));
        }
        let mut writes = crate::writes::customer(customer.clone(), None, &history);
        writes.push(Write::ReserveCustomerNumber {
            number: customer.number.clone(),
            customer_id: customer.id.clone(),
        });
        let mut unit = unit(context, tenant, vec![line], customer.id.clone(), writes);
        unit.groups = unit_groups;
        unit.enrolments = enrolments;
        units.push(unit);
    }
    errors.check()?;
    let count = units.len();
    Ok(Import {
        batches: pack(units)?,
        summary: json!({"kind": "customers", "rows": count, "created": count}),
    })
}

fn date(errors: &mut RowErrors, line: u64, field: &str, raw: Option<&str>) -> Option<NaiveDate> {
    let parsed = domain::validation::iso_date(raw?);
    if parsed.is_none() {
        errors.add(
            line,
            field,
            "must be a date written YYYY-MM-DD, year 1900 or later",
        );
    }
    parsed
}

/// An invoice row as [`NewInvoice`] (payment plans are not imported).
fn new_invoice(errors: &mut RowErrors, row: &Row, customer_id: &str) -> Option<NewInvoice> {
    let line = row.line;
    for required in ["number", "currency", "issue_date", "total"] {
        if row.get(required).is_none() {
            errors.add(line, required, "is required");
        }
    }
    let issue_date = date(errors, line, "issue_date", row.get("issue_date"));
    let due_date = row
        .get("due_date")
        .and_then(|raw| date(errors, line, "due_date", Some(raw)));
    let total = row
        .get("total")
        .and_then(|raw| match domain::money::parse_decimal(raw) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                errors.add(line, "total", error.to_string());
                None
            }
        });
    let autopay = match row.get("autopay").map(boolean) {
        None => false,
        Some(Some(value)) => value,
        Some(None) => {
            errors.add(line, "autopay", "must be true or false");
            false
        }
    };
    let collection_status = match row.get("collection_status") {
        None | Some("normal") => CollectionStatus::Normal,
        Some("disputed") => CollectionStatus::Disputed,
        Some("on_hold") => CollectionStatus::OnHold,
        Some(_) => {
            errors.add(
                line,
                "collection_status",
                "must be normal, disputed or on_hold",
            );
            CollectionStatus::Normal
        }
    };
    Some(NewInvoice {
        customer_id: customer_id.to_string(),
        number: row.get("number")?.to_string(),
        currency: row.get("currency")?.to_string(),
        issue_date: issue_date?,
        due_date,
        total: total?,
        autopay,
        collection_status,
        dispute_reason: row.get("dispute_reason").map(str::to_string),
        payment_plan: None,
    })
}

/// The customers the rows name by `customer_id` or `customer_number`, by
/// line; unknown ones are row errors.
async fn customers_of(
    context: &Context,
    tenant: &TenantId,
    rows: &[Row],
    errors: &mut RowErrors,
) -> AppResult<(BTreeMap<u64, String>, HashMap<String, StoredCustomer>)> {
    let numbers: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get("customer_number"))
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let by_number = context
        .store
        .customer_id_by_number(tenant, &numbers)
        .await?;
    let mut ids = BTreeMap::new();
    for row in rows {
        match (row.get("customer_id"), row.get("customer_number")) {
            (Some(_), Some(_)) => errors.add(
                row.line,
                "customer_id",
                "give customer_id or customer_number, not both",
            ),
            (Some(id), None) if valid_id(id) => {
                ids.insert(row.line, id.to_string());
            }
            (Some(_), None) => errors.add(row.line, "customer_id", "no such customer"),
            (None, Some(number)) => match by_number.get(number) {
                Some(id) => {
                    ids.insert(row.line, id.clone());
                }
                None => errors.add(row.line, "customer_number", "no customer has this number"),
            },
            (None, None) => errors.add(
                row.line,
                "customer_id",
                "customer_id or customer_number is required",
            ),
        }
    }
    let wanted: Vec<String> = ids
        .values()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let found = context.store.customers(tenant, &wanted, true).await?;
    ids.retain(|line, id| {
        let known = found.contains_key(id);
        if !known {
            errors.add(*line, "customer_id", "no such customer");
        }
        known
    });
    Ok((ids, found))
}

async fn invoices(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    rows: Vec<Row>,
    mut errors: RowErrors,
) -> AppResult<Import> {
    let tenant = &caller.tenant;
    let (customer_ids, customers) = customers_of(context, tenant, &rows, &mut errors).await?;
    let mut numbers: HashMap<String, u64> = HashMap::new();
    for row in &rows {
        if let Some(number) = row.get("number") {
            match numbers.get(number) {
                Some(first) => errors.add(row.line, "number", format!("is also on line {first}")),
                None => {
                    numbers.insert(number.to_string(), row.line);
                }
            }
        }
    }
    let wanted: Vec<String> = numbers.keys().cloned().collect();
    let taken: BTreeSet<String> = context
        .store
        .taken_invoice_numbers(tenant, &wanted)
        .await?
        .into_iter()
        .collect();
    let mut by_customer: BTreeMap<String, Vec<(u64, InvoiceRecord)>> = BTreeMap::new();
    for row in &rows {
        if row.get("number").is_some_and(|n| taken.contains(n)) {
            errors.add(
                row.line,
                "number",
                "another invoice already has this number",
            );
        }
        let customer_id = customer_ids.get(&row.line);
        let new = new_invoice(&mut errors, row, customer_id.map_or("", String::as_str));
        let (Some(customer_id), Some(new)) = (customer_id, new) else {
            continue;
        };
        let Some(customer) = customers.get(customer_id) else {
            continue;
        };
        match new.validate(context.ids.new_id(now), customer.customer.currency) {
            Ok(invoice) if !errors.has(row.line) => {
                let record = InvoiceRecord {
                    invoice,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                by_customer
                    .entry(customer_id.clone())
                    .or_default()
                    .push((row.line, record));
            }
            Ok(_) => {}
            Err(problems) => errors.extend(row.line, &problems),
        }
    }
    errors.check()?;
    let zone = context.settings(tenant).await?.time_zone;
    let today = today(now, zone);
    let mut units = Vec::new();
    let mut count = 0;
    for (customer_id, records) in by_customer {
        let Some(stored) = customers.get(&customer_id) else {
            continue;
        };
        // A customer with many invoices is written once per chunk, each write
        // conditioned on the previous one.
        let mut current = stored.clone();
        for chunk in records.chunks(INVOICES_PER_WRITE) {
            let history: Vec<HistoryItem> = chunk
                .iter()
                .map(|(line, record)| {
                    let invoice = &record.invoice;
                    HistoryItem::new(
                        &customer_id,
                        HistoryType::InvoiceCreated,
                        now,
                        caller.user.as_str(),
                        format!(
                            "Invoice {} for {} {} created (import)",
                            invoice.number, invoice.total, invoice.currency
                        ),
                        json!({"invoice_id": invoice.id, "total": invoice.total.to_string(), "import_line": line}),
                    )
                    .with_invoices(vec![invoice.id.clone()])
                })
                .collect();
            let change = MoneyChange {
                customer: &current,
                next: current.customer.clone(),
                invoices: chunk
                    .iter()
                    .map(|(_, record)| (None, record.clone()))
                    .collect(),
                history: history.clone(),
                extra: chunk
                    .iter()
                    .map(|(_, record)| Write::ReserveInvoiceNumber {
                        number: record.invoice.number.clone(),
                        invoice_id: record.invoice.id.clone(),
                    })
                    .collect(),
            };
            let (writes, mut next) = change.writes(today, zone, now);
            push_recent(&mut next.recent_history, &history);
            current = StoredCustomer {
                customer: next,
                revision: current.revision + 1,
            };
            count += chunk.len();
            let lines = chunk.iter().map(|(line, _)| *line).collect();
            units.push(unit(context, tenant, lines, customer_id.clone(), writes));
        }
    }
    let touched = units
        .iter()
        .map(|u| u.key.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    Ok(Import {
        summary: json!({"kind": "invoices", "rows": count, "created": count, "customers": touched}),
        batches: pack(units)?,
    })
}

/// The cadence a row names by `cadence_id` or `cadence_name` (names must
/// be unique, compared without case).
fn cadence_of<'a>(
    errors: &mut RowErrors,
    row: &Row,
    cadences: &'a [Cadence],
) -> Option<&'a Cadence> {
    let line = row.line;
    match (row.get("cadence_id"), row.get("cadence_name")) {
        (Some(_), Some(_)) => {
            errors.add(
                line,
                "cadence_id",
                "give cadence_id or cadence_name, not both",
            );
            None
        }
        (Some(id), None) => {
            let found = cadences.iter().find(|c| c.id == id);
            if found.is_none() {
                errors.add(line, "cadence_id", "no such cadence");
            }
            found
        }
        (None, Some(name)) => {
            let wanted = name.to_lowercase();
            let matching: Vec<&Cadence> = cadences
                .iter()
                .filter(|c| c.name.to_lowercase() == wanted)
                .collect();
            match matching.as_slice() {
                [one] => Some(one),
                [] => {
                    errors.add(line, "cadence_name", "no cadence has this name");
                    None
                }
                _ => {
                    errors.add(
                        line,
                        "cadence_name",
                        "several cadences have this name; use cadence_id",
                    );
                    None
                }
            }
        }
        (None, None) => {
            errors.add(line, "cadence_id", "cadence_id or cadence_name is required");
            None
        }
    }
}

async fn enrolments(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    rows: Vec<Row>,
    mut errors: RowErrors,
) -> AppResult<Import> {
    let tenant = &caller.tenant;
    let (customer_ids, customers) = customers_of(context, tenant, &rows, &mut errors).await?;
    let cadences: Vec<Cadence> = context
        .store
        .all_cadences(tenant)
        .await?
        .into_iter()
        .map(|r| r.cadence)
        .collect();
    let zone = context.settings(tenant).await?.time_zone;
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let mut units = Vec::new();
    let mut unchanged = 0;
    for row in &rows {
        let cadence = cadence_of(&mut errors, row, &cadences);
        let Some(customer_id) = customer_ids.get(&row.line) else {
            continue;
        };
        if let Some(first) = seen.get(customer_id.as_str()) {
            errors.add(
                row.line,
                "customer_id",
                format!("this customer is also on line {first}"),
            );
            continue;
        }
        seen.insert(customer_id, row.line);
        let (Some(cadence), Some(stored)) = (cadence, customers.get(customer_id)) else {
            continue;
        };
        let before = stored.customer.chasing.enrolment(cadence.level);
        if before == Some((cadence.id.clone(), cadence.version)) {
            unchanged += 1;
            continue;
        }
        let mut next = stored.customer.clone();
        next.refresh(today(now, zone));
        chasing::enrol(&mut next, cadence, zone, now);
        let history =
            super::enrolment::enrolled_history(caller, now, &next, cadence, &before, "import");
        let mut enrolments = EnrolmentDeltas::default();
        enrolments.add(before, -1);
        enrolments.add(Some((cadence.id.clone(), cadence.version)), 1);
        let writes = crate::writes::customer(next, Some(stored), &[history]);
        let mut unit = unit(context, tenant, vec![row.line], customer_id.clone(), writes);
        unit.enrolments = enrolments;
        units.push(unit);
    }
    errors.check()?;
    let enrolled = units.len();
    Ok(Import {
        summary: json!({"kind": "enrolments", "rows": enrolled + unchanged, "enrolled": enrolled, "unchanged": unchanged}),
        batches: pack(units)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_problems_are_reported() {
        let mut errors = RowErrors::default();
        for line in 2..200 {
            errors.add(line, "number", "is required");
            errors.add(line, "name", "is required");
        }
        let report = errors.report();
        assert_eq!(report.invalid_rows, 198);
        assert_eq!(report.problems, 396);
        assert_eq!(report.reported, MAX_REPORTED_PROBLEMS);
        assert_eq!(report.rows.len(), 50);
    }
}
