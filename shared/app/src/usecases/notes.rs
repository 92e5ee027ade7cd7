//! Notes on a customer: add one (optionally about some invoices, optionally
//! with a reminder task for its author) and list them.

use super::tasks::{check_invoices, customer_and_unknown_invoices, customer_changed};
use super::{valid_id, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{Page, PageRequest, Write};
use chrono::{DateTime, Utc};
use domain::identity::{Caller, Permission};
use domain::note::{NewNote, Note};

fn note_conflict() -> AppError {
    AppError::conflict("note_conflict", "the note could not be saved; retry")
}

/// The note of a `POST /v1/customers/{id}/notes` request, its `note`
/// history and, with a `reminder_date`, a reminder task for its author.
/// Write 0 is the customer's (a failed condition there is retryable,
/// [`super::tasks::retryable`]).
pub async fn create(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    input: &NewNote,
    now: DateTime<Utc>,
) -> AppResult<Change<Note>> {
    require(caller, Permission::CreateNotesAndTasks)?;
    if !valid_id(customer_id) {
        return Err(AppError::NotFound);
    }
    let author = caller.user.as_str();
    let (note, reminder) = input.create(customer_id, author, now);
    let (customer, unknown) =
        customer_and_unknown_invoices(context, &caller.tenant, customer_id, &note.invoice_ids)
            .await?;
    let customer = customer.ok_or(AppError::NotFound)?;
    check_invoices(&note.invoice_ids, &unknown)?;
    let mut history = vec![note.history()];
    if let Some(task) = &reminder {
        history.push(task.created_history(author, now));
    }
    let mut writes = vec![
        Write::RecordHistory {
            stored: Box::new(customer),
            items: history,
        },
        Write::InsertNote(Box::new(note.clone())),
    ];
    if let Some(task) = reminder {
        writes.push(Write::InsertTask(Box::new(task)));
    }
    Ok(Change::new(writes, note, note_conflict).on_conflict(0, customer_changed))
}

/// One page of a customer's notes, newest first (404 for an unknown customer).
pub async fn list(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    page: PageRequest,
) -> AppResult<Page<Note>> {
    require(caller, Permission::Read)?;
    if !valid_id(customer_id) {
        return Err(AppError::NotFound);
    }
    let tenant = &caller.tenant;
    let (customer, notes) = futures::try_join!(
        context.store.customer(tenant, customer_id),
        context.store.notes(tenant, customer_id, page),
    )?;
    if customer.is_none() {
        return Err(AppError::NotFound);
    }
    Ok(notes)
}
