//! Statements and invoice PDFs: the paper a debtor can act on, built from
//! one read of the customer (its open invoices are copied on it).

use super::customers;
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, NaiveDate, Utc};
use domain::identity::{Caller, Permission};
use domain::settings::Settings;
use domain::statement::Statement;

/// The statement with the link that lets the customer act on it.
#[derive(Debug, Clone)]
pub struct StatementView {
    pub statement: Statement,
    pub portal_url: Option<String>,
    pub settings: Settings,
}

/// The open-item statement of a customer as of `as_of` (default the
/// tenant's today).
pub async fn statement(
    context: &Context,
    caller: &Caller,
    now: DateTime<Utc>,
    customer_id: &str,
    as_of: Option<NaiveDate>,
) -> AppResult<StatementView> {
    require(caller, Permission::Read)?;
    let customer = customers::load(context, &caller.tenant, customer_id).await?;
    let settings = context.settings(&caller.tenant).await?;
    let as_of = as_of.unwrap_or_else(|| now.with_timezone(&settings.time_zone).date_naive());
    let statement = Statement::of(&customer.customer, as_of).map_err(AppError::internal)?;
    Ok(StatementView {
        portal_url: super::portal::url(context, &caller.tenant, &customer, &settings, now).await?,
        statement,
        settings,
    })
}

/// `statement-<customer number>-<as_of>.pdf`, as attached and downloaded.
pub fn statement_filename(statement: &Statement) -> String {
    format!(
        "statement-{}-{}.pdf",
        safe_filename_part(&statement.customer.number),
        statement.as_of
    )
}

/// Customer and invoice numbers come from accounting systems: keep what is
/// safe in a filename on every system.
pub fn safe_filename_part(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(feature = "render")]
pub use pdf::*;

#[cfg(feature = "render")]
mod pdf {
    use super::super::invoices;
    use super::*;
    use documents::Letterhead;
    use domain::statement::StatementCustomer;

    pub fn letterhead(settings: &Settings) -> Letterhead<'_> {
        Letterhead {
            company_name: settings.company_name.as_deref().unwrap_or_default(),
        }
    }

    /// The statement as a PDF, with its filename.
    pub async fn statement_pdf(
        context: &Context,
        caller: &Caller,
        now: DateTime<Utc>,
        customer_id: &str,
        as_of: Option<NaiveDate>,
    ) -> AppResult<(String, Vec<u8>)> {
        let view = statement(context, caller, now, customer_id, as_of).await?;
        let pdf = documents::statement_pdf(&view.statement, letterhead(&view.settings))
            .map_err(AppError::internal)?;
        Ok((statement_filename(&view.statement), pdf))
    }

    /// One invoice as a PDF, with its filename.
    pub async fn invoice_pdf(
        context: &Context,
        caller: &Caller,
        now: DateTime<Utc>,
        invoice_id: &str,
    ) -> AppResult<(String, Vec<u8>)> {
        let record = invoices::get(context, caller, invoice_id).await?;
        let invoice = record.invoice;
        let customer = customers::load(context, &caller.tenant, &invoice.customer_id).await?;
        let settings = context.settings(&caller.tenant).await?;
        let today = now.with_timezone(&settings.time_zone).date_naive();
        let printed = StatementCustomer::of(&customer.customer);
        let pdf = documents::invoice_pdf(&invoice, &printed, today, letterhead(&settings))
            .map_err(AppError::internal)?;
        Ok((
            format!("invoice-{}.pdf", safe_filename_part(&invoice.number)),
            pdf,
        ))
    }
}
