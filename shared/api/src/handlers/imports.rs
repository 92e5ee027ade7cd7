//! `POST /v1/imports/{customers|invoices|enrolments}`: a CSV body with a
//! header row. All rows valid or nothing written: every row is checked
//! first (fields, references, numbers taken in the file or in the tenant),
//! and any problem answers 422 with each bad row's line number and reasons.
//! On success, 201 with counts.
//!
//! Writing: rows are packed into as few `TransactWriteItems` (100 writes
//! each) as they fit in, counters summed per transaction. An import too
//! large for one transaction is written as several, one after another,
//! after everything was validated; the only way one of them can fail is a
//! concurrent request taking a number or changing a customer in between. That
//! is answered 409 `import_partially_applied` saying how many rows were
//! written, and the import is safe to send again: customer and invoice
//! numbers are reserved with the rows, so rows already written are reported
//! as duplicates rather than written twice, and enrolments already in place
//! are left as they are. The `Idempotency-Key` record rides in the last
//! transaction, so a retried import with the same key returns the first
//! response.

use super::invoices::MoneyChange;
use super::Ctx;
use crate::adapters::cadence_store::{self, EnrolmentDeltas};
use crate::adapters::customer_store::{self, StoredCustomer};
use crate::adapters::dynamo::{StoreError, MAX_TRANSACTION_ITEMS};
use crate::adapters::invoice_store::{self, InvoiceRecord};
use crate::adapters::keys::{customer_number_sk, invoice_number_sk, tenant_pk, SK};
use crate::adapters::{group_store, task_store};
use crate::chasing;
use crate::domain::cadence::Cadence;
use crate::domain::customer::CustomerChanges;
use crate::domain::history::{push_recent, HistoryItem, HistoryType};
use crate::domain::identity::Permission;
use crate::domain::invoice::{CollectionStatus, NewInvoice};
use crate::domain::validation::FieldErrors;
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::NaiveDate;
use http::StatusCode;
use lambda_http::Request;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Rows in one import, good or bad (the body is also capped at 256 KB).
pub const MAX_ROWS: usize = 1000;
/// Problems listed in a 422; the rest are counted.
const MAX_REPORTED_PROBLEMS: usize = 100;
/// Invoices of one customer written with one copy of the customer record.
const INVOICES_PER_WRITE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Customers,
    Invoices,
    Enrolments,
}

impl Kind {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "customers" => Some(Self::Customers),
            "invoices" => Some(Self::Invoices),
            "enrolments" => Some(Self::Enrolments),
            _ => None,
        }
    }

    fn accepts(self, column: &str) -> bool {
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

    fn columns(self) -> String {
        match self {
            Self::Customers => format!("{}, metadata.<key>", CUSTOMER_COLUMNS.join(", ")),
            Self::Invoices => INVOICE_COLUMNS.join(", "),
            Self::Enrolments => ENROLMENT_COLUMNS.join(", "),
        }
    }
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

/// One data row: its line in the file and its non-empty cells by column.
struct Row {
    line: u64,
    cells: BTreeMap<String, String>,
}

impl Row {
    fn get(&self, column: &str) -> Option<&str> {
        self.cells.get(column).map(String::as_str)
    }
}

/// Problems by line, each with its fields.
#[derive(Default)]
struct RowErrors(BTreeMap<u64, FieldErrors>);

impl RowErrors {
    fn add(&mut self, line: u64, field: impl Into<String>, problem: impl Into<String>) {
        self.0.entry(line).or_default().add(field, problem);
    }

    fn extend(&mut self, line: u64, errors: &FieldErrors) {
        for (field, problem) in errors.iter() {
            self.add(line, field.clone(), problem.clone());
        }
    }

    fn has(&self, line: u64) -> bool {
        self.0.contains_key(&line)
    }

    /// 422: DESIGN §4's error body with the first [`MAX_REPORTED_PROBLEMS`]
    /// problems by row and how many there are in all, so a file of bad rows
    /// gets a short answer.
    fn into_response(self) -> Result<ApiResponse, ApiError> {
        let total: usize = self.0.values().map(FieldErrors::len).sum();
        let mut reported = 0;
        let mut rows = Vec::new();
        for (line, errors) in &self.0 {
            if reported >= MAX_REPORTED_PROBLEMS {
                break;
            }
            let mut row = Map::new();
            for (field, problem) in errors.iter().take(MAX_REPORTED_PROBLEMS - reported) {
                row.insert(field.clone(), json!(problem));
                reported += 1;
            }
            rows.push(json!({"line": line, "errors": row}));
        }
        let count = self.0.len();
        ApiResponse::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "error": "validation_failed",
                "message": format!("{count} row(s) are invalid ({total} problem(s); the first {reported} are listed); nothing was imported"),
                "rows": rows,
                "invalid_rows": count,
                "problems": total,
            }),
        )
    }
}

fn malformed(message: &str) -> ApiError {
    ApiError::bad_request("malformed_csv", message.to_string())
}

/// Parses the CSV body: a header row, then data rows. Bad structure of a
/// row (a wrong number of cells) is a row error; a bad header is a 422 on line 1.
fn read(request: &Request, kind: Kind, errors: &mut RowErrors) -> Result<Vec<Row>, ApiError> {
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.contains("json") {
        return Err(malformed(
            "the body must be CSV with a header row (Content-Type: text/csv)",
        ));
    }
    let bytes = request::body_bytes(request)?;
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("the CSV must be UTF-8"))?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(malformed("a CSV body with a header row is required"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| malformed("the header row cannot be read"))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let mut seen = BTreeSet::new();
    for header in &headers {
        if !kind.accepts(header) {
            errors.add(
                1,
                "header",
                format!("{header:?} is not a column here; use {}", kind.columns()),
            );
        } else if !seen.insert(header.clone()) {
            errors.add(1, "header", format!("{header:?} appears twice"));
        }
    }
    let mut rows = Vec::new();
    let mut lines = LineCounter::new(text);
    let mut seen_rows = 0;
    for record in reader.records() {
        seen_rows += 1;
        if seen_rows > MAX_ROWS {
            return Err(ApiError::invalid_field(
                "rows",
                &format!("an import has at most {MAX_ROWS} rows; split the file"),
            ));
        }
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| lines.line_at(p));
                errors.add(
                    line,
                    "row",
                    format!("must have {} cells, like the header", headers.len()),
                );
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.line_at(p));
        let cells: BTreeMap<String, String> = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, cell)| !cell.is_empty())
            .map(|(h, cell)| (h.clone(), cell.to_string()))
            .collect();
        if cells.is_empty() {
            continue;
        }
        if let Some((column, _)) = cells
            .iter()
            .find(|(_, cell)| crate::domain::validation::has_control_characters(cell, true))
        {
            errors.add(line, column.clone(), "must not contain control characters");
            continue;
        }
        rows.push(Row { line, cells });
    }
    if rows.is_empty() && errors.0.is_empty() {
        return Err(malformed("the CSV has a header row but no data rows"));
    }
    Ok(rows)
}

/// The physical line a record starts on (the reader's own line count
/// leaves out the blank lines it skips). Records come in order, so each
/// call counts only the newlines since the previous one: linear in the file.
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, position: &csv::Position) -> u64 {
        let offset = usize::try_from(position.byte())
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        if offset >= self.offset {
            let between = self.text.get(self.offset..offset).unwrap_or("");
            self.line += between.matches('\n').count() as u64;
            self.offset = offset;
        }
        // A record's position is where the previous one ended, before any blank lines.
        let rest = self.text.get(offset..).unwrap_or("");
        let blank = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
        let skipped = rest.get(..blank).unwrap_or("");
        self.line + skipped.matches('\n').count() as u64
    }
}

/// What one row (or one group of rows) writes; `key` names the item it
/// writes that no other unit may write in the same transaction.
struct Unit {
    lines: Vec<u64>,
    key: String,
    writes: Vec<TransactWriteItem>,
    groups: BTreeMap<String, i64>,
    enrolments: EnrolmentDeltas,
}

/// One transaction's worth of units, with their counters summed.
#[derive(Default)]
struct Batch {
    writes: Vec<TransactWriteItem>,
    /// The row line of each write (counters get the batch's first line).
    lines: Vec<u64>,
    keys: BTreeSet<String>,
    groups: BTreeMap<String, i64>,
    enrolments: EnrolmentDeltas,
    rows: usize,
}

impl Batch {
    /// Whether `unit` fits, leaving room for the Idempotency-Key record.
    fn fits(&self, unit: &Unit) -> bool {
        let mut groups = self.groups.clone();
        for (id, delta) in &unit.groups {
            *groups.entry(id.clone()).or_default() += delta;
        }
        let mut enrolments = self.enrolments.clone();
        enrolments.merge(&unit.enrolments);
        let counters = groups.values().filter(|d| **d != 0).count() + enrolments.len();
        !self.keys.contains(&unit.key)
            && self.writes.len() + unit.writes.len() + counters < MAX_TRANSACTION_ITEMS
    }

    fn add(&mut self, unit: Unit) {
        let line = unit.lines.first().copied().unwrap_or(0);
        self.lines
            .extend(std::iter::repeat_n(line, unit.writes.len()));
        self.writes.extend(unit.writes);
        self.keys.insert(unit.key);
        for (id, delta) in unit.groups {
            *self.groups.entry(id).or_default() += delta;
        }
        self.enrolments.merge(&unit.enrolments);
        self.rows += unit.lines.len();
    }

    fn into_writes(
        mut self,
        ctx: &Ctx<'_>,
    ) -> Result<(Vec<TransactWriteItem>, Vec<u64>), ApiError> {
        let table = &ctx.app.table;
        let tenant = &ctx.caller.tenant;
        let first = self.lines.first().copied().unwrap_or(0);
        for (id, delta) in self.groups.iter().filter(|(_, d)| **d != 0) {
            self.writes
                .push(group_store::count_member(table, tenant, id, *delta)?);
            self.lines.push(first);
        }
        let counters = self.enrolments.writes(table, tenant)?;
        self.lines
            .extend(std::iter::repeat_n(first, counters.len()));
        self.writes.extend(counters);
        Ok((self.writes, self.lines))
    }
}

fn pack(units: Vec<Unit>) -> Result<Vec<Batch>, ApiError> {
    let mut batches = vec![Batch::default()];
    for unit in units {
        if unit.writes.len() + 1 + unit.groups.len() + unit.enrolments.len()
            >= MAX_TRANSACTION_ITEMS
        {
            return Err(ApiError::conflict(
                "import_row_too_large",
                format!(
                    "line {} needs more writes than one transaction holds",
                    unit.lines.first().copied().unwrap_or(0)
                ),
            ));
        }
        let fits = batches.last().is_some_and(|b| b.fits(&unit));
        if !fits {
            batches.push(Batch::default());
        }
        if let Some(batch) = batches.last_mut() {
            batch.add(unit);
        }
    }
    batches.retain(|b| b.rows > 0);
    Ok(batches)
}

/// Commits the batches in order; the last one through `ctx.commit` with the
/// Idempotency-Key record and the success response.
async fn write(
    ctx: &Ctx<'_>,
    batches: Vec<Batch>,
    response: ApiResponse,
) -> Result<ApiResponse, ApiError> {
    let total: usize = batches.iter().map(|b| b.rows).sum();
    let count = batches.len();
    let mut written = 0;
    for (index, batch) in batches.into_iter().enumerate() {
        let rows = batch.rows;
        let (writes, lines) = batch.into_writes(ctx)?;
        let conflict = |write: usize| {
            let line = lines.get(write).copied().unwrap_or(0);
            if written == 0 {
                ApiError::conflict(
                    "import_conflict",
                    format!("line {line} conflicts with a change made at the same time (a number just taken, a customer just changed); nothing was imported, retry"),
                )
            } else {
                ApiError::conflict(
                    "import_partially_applied",
                    format!("{written} of {total} rows were imported before line {line} conflicted with a change made at the same time; send the file again: imported rows are reported as duplicates, never written twice"),
                )
            }
        };
        if index + 1 == count {
            return ctx.commit(writes, conflict, response).await;
        }
        match ctx.app.table.transact(writes).await {
            Ok(()) => written += rows,
            Err(StoreError::ConditionFailed { index }) => return Err(conflict(index)),
            Err(StoreError::TransactionConflict) => return Err(conflict(usize::MAX)),
            Err(other) => return Err(other.into()),
        }
    }
    ctx.commit(Vec::new(), |_| ApiError::stale_version(), response)
        .await
}

/// Which of `keys` (sort keys in the tenant partition) exist.
async fn existing(ctx: &Ctx<'_>, sort_keys: &[String]) -> Result<BTreeSet<String>, ApiError> {
    let pk = tenant_pk(&ctx.caller.tenant);
    let keys: Vec<(String, String)> = sort_keys
        .iter()
        .map(|sk| (pk.clone(), sk.clone()))
        .collect();
    let items = crate::adapters::dynamo::batch_get(&ctx.app.table, &keys, true).await?;
    Ok(items
        .iter()
        .filter_map(|item| crate::adapters::dynamo::text_attribute(item, SK).map(str::to_string))
        .collect())
}

/// The customers the rows name by `customer_id` or `customer_number`, by
/// line; unknown ones are row errors.
async fn customers_of(
    ctx: &Ctx<'_>,
    rows: &[Row],
    errors: &mut RowErrors,
) -> Result<(BTreeMap<u64, String>, HashMap<String, StoredCustomer>), ApiError> {
    let pk = tenant_pk(&ctx.caller.tenant);
    let numbers: Vec<(String, String)> = rows
        .iter()
        .filter_map(|r| r.get("customer_number"))
        .map(|n| (pk.clone(), customer_number_sk(n)))
        .collect();
    let mut by_number = HashMap::new();
    for item in crate::adapters::dynamo::batch_get(&ctx.app.table, &numbers, true).await? {
        if let (Some(sk), Some(id)) = (
            crate::adapters::dynamo::text_attribute(&item, SK),
            crate::adapters::dynamo::text_attribute(&item, "customer_id"),
        ) {
            by_number.insert(sk.to_string(), id.to_string());
        }
    }
    let mut ids = BTreeMap::new();
    for row in rows {
        match (row.get("customer_id"), row.get("customer_number")) {
            (Some(_), Some(_)) => errors.add(
                row.line,
                "customer_id",
                "give customer_id or customer_number, not both",
            ),
            (Some(id), None) if super::customers::valid_id(id) => {
                ids.insert(row.line, id.to_string());
            }
            (Some(_), None) => errors.add(row.line, "customer_id", "no such customer"),
            (None, Some(number)) => match by_number.get(&customer_number_sk(number)) {
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
    let wanted: Vec<&str> = ids
        .values()
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let found = task_store::customers(&ctx.app.table, &ctx.caller.tenant, &wanted, true).await?;
    ids.retain(|line, id| {
        let known = found.contains_key(id);
        if !known {
            errors.add(*line, "customer_id", "no such customer");
        }
        known
    });
    Ok((ids, found))
}

pub async fn create(ctx: &Ctx<'_>, request: &Request, kind: &str) -> Result<ApiResponse, ApiError> {
    let kind = Kind::parse(kind).ok_or(ApiError::NotFound)?;
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let mut errors = RowErrors::default();
    let rows = read(request, kind, &mut errors)?;
    if errors.has(1) {
        return errors.into_response();
    }
    match kind {
        Kind::Customers => customers(ctx, rows, errors).await,
        Kind::Invoices => invoices(ctx, rows, errors).await,
        Kind::Enrolments => enrolments(ctx, rows, errors).await,
    }
}

/// A customer row as the JSON object `POST /v1/customers` takes, so the
/// same validation applies.
fn customer_body(row: &Row) -> Map<String, Value> {
    let mut body = Map::new();
    let mut address = Map::new();
    let mut metadata = Map::new();
    for (column, cell) in &row.cells {
        if let Some(part) = column.strip_prefix("billing_") {
            address.insert(part.to_string(), json!(cell));
        } else if let Some(key) = column.strip_prefix("metadata.") {
            metadata.insert(key.to_string(), json!(cell));
        } else if column == "tags" {
            let tags: Vec<&str> = cell
                .split(';')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            body.insert(column.clone(), json!(tags));
        } else if column == "autopay" {
            body.insert(
                column.clone(),
                boolean(cell).map_or_else(|| json!(cell), |b| json!(b)),
            );
        } else {
            body.insert(column.clone(), json!(cell));
        }
    }
    if !address.is_empty() {
        body.insert("billing_address".into(), Value::Object(address));
    }
    if !metadata.is_empty() {
        body.insert("metadata".into(), Value::Object(metadata));
    }
    body
}

fn boolean(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

async fn customers(
    ctx: &Ctx<'_>,
    rows: Vec<Row>,
    mut errors: RowErrors,
) -> Result<ApiResponse, ApiError> {
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let mut parsed = Vec::new();
    let mut numbers: HashMap<String, u64> = HashMap::new();
    for row in &rows {
        match CustomerChanges::parse_new(&customer_body(row)) {
            Ok(changes) => {
                if let Some(number) = &changes.number {
                    if let Some(first) = numbers.get(number) {
                        errors.add(row.line, "number", format!("is also on line {first}"));
                        continue;
                    }
                    numbers.insert(number.clone(), row.line);
                }
                parsed.push((row.line, changes));
            }
            Err(problems) => errors.extend(row.line, &problems),
        }
    }
    let sort_keys: Vec<String> = numbers.keys().map(|n| customer_number_sk(n)).collect();
    let taken = existing(ctx, &sort_keys).await?;
    let group_ids: BTreeSet<String> = parsed
        .iter()
        .filter_map(|(_, c)| c.group_id.apply(&None))
        .collect();
    let mut groups = HashMap::new();
    for id in group_ids {
        if let Some(group) = group_store::get(table, tenant, &id).await? {
            groups.insert(id, group.settings);
        }
    }
    let settings = ctx.settings().await?;
    let today = ctx.now.with_timezone(&settings.time_zone).date_naive();
    let automatic = cadence_store::automatic(table, tenant).await?;
    let mut units = Vec::new();
    for (line, changes) in parsed {
        let Some(mut customer) = changes.create(ulid::Ulid::new().to_string(), ctx.now) else {
            errors.add(line, "number", "is required");
            continue;
        };
        if taken.contains(&customer_number_sk(&customer.number)) {
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
        customer.refresh(today);
        let mut history = vec![HistoryItem::new(
            &customer.id,
            HistoryType::CustomerCreated,
            ctx.now,
            ctx.caller.user.as_str(),
            format!("Customer {} created (import)", customer.number),
            json!({"number": customer.number, "import_line": line}),
        )];
        let mut enrolments = EnrolmentDeltas::default();
        if let Some(cadence) = chasing::assignment(&automatic, &customer) {
            chasing::enrol(&mut customer, cadence, settings.time_zone, ctx.now);
            enrolments.add(Some((&cadence.id, cadence.version)), 1);
            history.push(super::chasing::enrolled_history(
                ctx,
                &customer,
                cadence,
                &None,
                "assignment_rules",
            ));
        }
        let mut writes = customer_store::put(table, tenant, customer.clone(), None, &history)?;
        writes.push(customer_store::reserve_number(
            table,
            tenant,
            &customer.number,
            &customer.id,
        )?);
        units.push(Unit {
            lines: vec![line],
            key: customer.id.clone(),
            writes,
            groups: unit_groups,
            enrolments,
        });
    }
    if !errors.0.is_empty() {
        return errors.into_response();
    }
    let created = units.len();
    let response = ApiResponse::json(
        StatusCode::CREATED,
        &json!({"kind": "customers", "rows": created, "created": created}),
    )?;
    write(ctx, pack(units)?, response).await
}

fn date(errors: &mut RowErrors, line: u64, field: &str, raw: Option<&str>) -> Option<NaiveDate> {
    let parsed = crate::domain::validation::iso_date(raw?);
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
        .and_then(|raw| match crate::domain::money::parse_decimal(raw) {
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

async fn invoices(
    ctx: &Ctx<'_>,
    rows: Vec<Row>,
    mut errors: RowErrors,
) -> Result<ApiResponse, ApiError> {
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let (customer_ids, customers) = customers_of(ctx, &rows, &mut errors).await?;
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
    let sort_keys: Vec<String> = numbers.keys().map(|n| invoice_number_sk(n)).collect();
    let taken = existing(ctx, &sort_keys).await?;
    let mut by_customer: BTreeMap<String, Vec<(u64, InvoiceRecord)>> = BTreeMap::new();
    for row in &rows {
        if row
            .get("number")
            .is_some_and(|n| taken.contains(&invoice_number_sk(n)))
        {
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
        match new.validate(ulid::Ulid::new().to_string(), customer.customer.currency) {
            Ok(invoice) if !errors.has(row.line) => {
                let record = InvoiceRecord {
                    invoice,
                    version: 1,
                    created_at: ctx.now,
                    updated_at: ctx.now,
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
    if !errors.0.is_empty() {
        return errors.into_response();
    }
    let settings = ctx.settings().await?;
    let today = ctx.now.with_timezone(&settings.time_zone).date_naive();
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
                        ctx.now,
                        ctx.caller.user.as_str(),
                        format!("Invoice {} for {} {} created (import)", invoice.number, invoice.total, invoice.currency),
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
                extra: Vec::new(),
            };
            let (mut writes, mut next) = change.writes(ctx, today, settings.time_zone)?;
            for (_, record) in chunk {
                writes.push(invoice_store::reserve_number(
                    table,
                    tenant,
                    &record.invoice.number,
                    &record.invoice.id,
                )?);
            }
            push_recent(&mut next.recent_history, &history);
            current = StoredCustomer {
                customer: next,
                revision: current.revision + 1,
            };
            count += chunk.len();
            units.push(Unit {
                lines: chunk.iter().map(|(line, _)| *line).collect(),
                key: customer_id.clone(),
                writes,
                groups: BTreeMap::new(),
                enrolments: EnrolmentDeltas::default(),
            });
        }
    }
    let response = ApiResponse::json(
        StatusCode::CREATED,
        &json!({"kind": "invoices", "rows": count, "created": count, "customers": customers_touched(&units)}),
    )?;
    write(ctx, pack(units)?, response).await
}

fn customers_touched(units: &[Unit]) -> usize {
    units
        .iter()
        .map(|u| u.key.as_str())
        .collect::<BTreeSet<_>>()
        .len()
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
    ctx: &Ctx<'_>,
    rows: Vec<Row>,
    mut errors: RowErrors,
) -> Result<ApiResponse, ApiError> {
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let (customer_ids, customers) = customers_of(ctx, &rows, &mut errors).await?;
    let cadences: Vec<Cadence> = cadence_store::all(table, tenant)
        .await?
        .into_iter()
        .map(|r| r.cadence)
        .collect();
    let settings = ctx.settings().await?;
    let today = ctx.now.with_timezone(&settings.time_zone).date_naive();
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
        let before = stored
            .customer
            .chasing
            .cadence_id
            .clone()
            .zip(stored.customer.chasing.cadence_version);
        if before == Some((cadence.id.clone(), cadence.version)) {
            unchanged += 1;
            continue;
        }
        let mut next = stored.customer.clone();
        next.refresh(today);
        chasing::enrol(&mut next, cadence, settings.time_zone, ctx.now);
        let history = super::chasing::enrolled_history(ctx, &next, cadence, &before, "import");
        let mut enrolments = EnrolmentDeltas::default();
        enrolments.add(before.as_ref().map(|(id, v)| (id.as_str(), *v)), -1);
        enrolments.add(Some((&cadence.id, cadence.version)), 1);
        units.push(Unit {
            lines: vec![row.line],
            key: customer_id.clone(),
            writes: customer_store::put(table, tenant, next, Some(stored), &[history])?,
            groups: BTreeMap::new(),
            enrolments,
        });
    }
    if !errors.0.is_empty() {
        return errors.into_response();
    }
    let response = ApiResponse::json(
        StatusCode::CREATED,
        &json!({"kind": "enrolments", "rows": units.len() + unchanged, "enrolled": units.len(), "unchanged": unchanged}),
    )?;
    write(ctx, pack(units)?, response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> Request {
        http::Request::builder()
            .header("content-type", "text/csv")
            .body(lambda_http::Body::Text(body.to_string()))
            .unwrap()
    }

    #[test]
    fn rows_keep_their_line_numbers_and_skip_blank_lines() {
        let mut errors = RowErrors::default();
        let rows = read(
            &request(
                "number,name,currency\nC-1,Acme,EUR\n\n\"C-2\",\"Multi\nline\",EUR\nC-3,Short\n",
            ),
            Kind::Customers,
            &mut errors,
        )
        .unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(rows[1].get("name"), Some("Multi\nline"));
        assert!(errors.has(6), "a short row is a row error");
    }

    #[test]
    fn unknown_and_repeated_columns_are_header_errors() {
        let mut errors = RowErrors::default();
        read(
            &request("number,colour,number\nC-1,red,C-1\n"),
            Kind::Customers,
            &mut errors,
        )
        .unwrap();
        assert!(errors.has(1));
        let mut errors = RowErrors::default();
        read(
            &request("number,metadata.erp_id\nC-1,42\n"),
            Kind::Customers,
            &mut errors,
        )
        .unwrap();
        assert!(!errors.has(1));
    }

    #[test]
    fn customer_rows_become_api_bodies() {
        let row = Row {
            line: 2,
            cells: [
                ("number", "C-1"),
                ("tags", "vip; export ;"),
                ("autopay", "yes"),
                ("billing_line1", "1 Main St"),
                ("billing_country", "gb"),
                ("metadata.erp_id", "42"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let body = customer_body(&row);
        assert_eq!(body["tags"], json!(["vip", "export"]));
        assert_eq!(body["autopay"], json!(true));
        assert_eq!(
            body["billing_address"],
            json!({"line1": "1 Main St", "country": "gb"})
        );
        assert_eq!(body["metadata"], json!({"erp_id": "42"}));
    }

    #[test]
    fn too_many_rows_are_refused() {
        let mut body = String::from("number,name,currency\n");
        for i in 0..=MAX_ROWS {
            body.push_str(&format!("C-{i},N,EUR\n"));
        }
        let mut errors = RowErrors::default();
        assert!(matches!(
            read(&request(&body), Kind::Customers, &mut errors),
            Err(ApiError::Validation(_))
        ));
    }
}
