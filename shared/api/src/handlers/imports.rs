//! `POST /v1/imports/{customers|invoices|enrolments}`: a CSV body with a
//! header row, read here into rows (customer rows parsed as
//! `POST /v1/customers` bodies); the use case checks and writes them all or
//! none (201 with counts, or 422 with each bad row's line).

use crate::extract::Ctx;
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::usecases::imports::{self, Kind, Row, RowErrors, Rows, MAX_ROWS};
use axum::extract::Path;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

pub async fn create(ctx: Ctx, Path(kind): Path<String>) -> Result<ApiResponse, ApiError> {
    let kind = Kind::from_str(&kind).map_err(|_| app::error::AppError::NotFound)?;
    if ctx
        .header(http::header::CONTENT_TYPE)
        .is_some_and(|t| t.contains("json"))
    {
        return Err(malformed(
            "the body must be CSV with a header row (Content-Type: text/csv)",
        ));
    }
    let text = std::str::from_utf8(ctx.body()).map_err(|_| malformed("the CSV must be UTF-8"))?;
    let mut errors = RowErrors::default();
    let rows = read(text, kind, &mut errors)?;
    if errors.has(1) {
        return Err(app::error::AppError::InvalidRows(errors).into());
    }
    let rows = match kind {
        Kind::Customers => Rows::Customers(
            rows.iter()
                .map(|row| {
                    (
                        row.line,
                        parse::customers::new_customer(&customer_body(row)),
                    )
                })
                .collect(),
        ),
        Kind::Invoices => Rows::Invoices(rows),
        Kind::Enrolments => Rows::Enrolments(rows),
    };
    let import = imports::plan(&ctx.context, &ctx.caller, ctx.now, rows, errors).await?;
    let change = imports::apply(&ctx.context, &ctx.caller.tenant, import).await?;
    let response = ApiResponse::json(StatusCode::CREATED, &change.value)?;
    ctx.commit(change, response).await
}

fn malformed(message: &str) -> ApiError {
    ApiError::bad_request("malformed_csv", message.to_string())
}

/// Parses the CSV: a header row, then data rows. Bad structure of a row (a
/// wrong number of cells) is a row error; a bad header is an error on line 1.
fn read(text: &str, kind: Kind, errors: &mut RowErrors) -> Result<Vec<Row>, ApiError> {
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
    for (index, record) in reader.records().enumerate() {
        if index >= MAX_ROWS {
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
            .find(|(_, cell)| domain::validation::has_control_characters(cell, true))
        {
            errors.add(line, column.clone(), "must not contain control characters");
            continue;
        }
        rows.push(Row { line, cells });
    }
    if rows.is_empty() && errors.is_empty() {
        return Err(malformed("the CSV has a header row but no data rows"));
    }
    Ok(rows)
}

/// A customer row as the JSON object `POST /v1/customers` takes, so the
/// same validation applies: `billing_*` cells make the billing address,
/// `metadata.*` cells the metadata, tags are `;`-separated.
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
                imports::boolean(cell).map_or_else(|| json!(cell), |b| json!(b)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_line_numbers_and_skip_blank_lines() {
        let mut errors = RowErrors::default();
        let rows = read(
            "number,name,currency\nC-1,Acme,EUR\n\n\"C-2\",\"Multi\nline\",EUR\nC-3,Short\n",
            Kind::Customers,
            &mut errors,
        )
        .unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(rows[1].cells["name"], "Multi\nline");
        assert!(errors.has(6), "a short row is a row error");
    }

    #[test]
    fn unknown_and_repeated_columns_are_header_errors() {
        let mut errors = RowErrors::default();
        read(
            "number,colour,number\nC-1,red,C-1\n",
            Kind::Customers,
            &mut errors,
        )
        .unwrap();
        assert!(errors.has(1));
        let mut errors = RowErrors::default();
        read(
            "number,metadata.erp_id\nC-1,42\n",
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
        let errors = parse::customers::new_customer(&body).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["currency", "name"]);
    }

    #[test]
    fn too_many_rows_are_refused() {
        let mut body = String::from("number,name,currency\n");
        for i in 0..=MAX_ROWS {
            body.push_str(&format!("C-{i},N,EUR\n"));
        }
        let mut errors = RowErrors::default();
        assert!(read(&body, Kind::Customers, &mut errors).is_err());
    }
}
