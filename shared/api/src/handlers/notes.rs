//! `/v1/customers/{id}/notes`: add a note (optionally about some invoices,
//! optionally with a reminder task for its author) and list them.

use super::customers::valid_id;
use super::tasks::{check_invoices, customer_changed, retryable};
use super::Ctx;
use crate::adapters::customer_store;
use crate::adapters::history_store;
use crate::adapters::keys::{customer_pk, PK};
use crate::adapters::note_store;
use crate::adapters::task_store;
use crate::domain::identity::Permission;
use crate::domain::note::NewNote;
use crate::http::pagination::{list_reply, page_request};
use crate::http::{auth, request, ApiError, ApiResponse};
use http::StatusCode;
use lambda_http::{Request, RequestExt};

pub async fn create(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::CreateNotesAndTasks)?;
    if !valid_id(customer_id) {
        return Err(ApiError::NotFound);
    }
    let input = NewNote::parse(&request::json_object(request)?)?;
    let author = ctx.caller.user.as_str();
    let (note, reminder) = input.create(customer_id, author, ctx.now);
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (customer, unknown) = note_store::customer_and_unknown_invoices(
            table,
            tenant,
            customer_id,
            &note.invoice_ids,
        )
        .await?;
        let customer = customer.ok_or(ApiError::NotFound)?;
        check_invoices(&note.invoice_ids, &unknown)?;
        let mut history = vec![note.history()];
        if let Some(task) = &reminder {
            history.push(task.created_history(author, ctx.now));
        }
        let mut writes = history_store::record(table, tenant, &customer, &history)?;
        writes.push(note_store::insert(table, tenant, &note)?);
        if let Some(task) = &reminder {
            writes.extend(task_store::insert(table, tenant, task)?);
        }
        let response = ApiResponse::json(StatusCode::CREATED, &note)?.with_version(note.version);
        let conflict = |i: usize| {
            if i == 0 {
                customer_changed()
            } else {
                ApiError::conflict("note_conflict", "the note could not be saved; retry")
            }
        };
        match ctx.commit(writes, conflict, response).await {
            Err(error) if retryable(&error, attempt) => continue,
            result => return result,
        }
    }
}

pub async fn list(
    ctx: &Ctx<'_>,
    request: &Request,
    customer_id: &str,
) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let params = request.query_string_parameters();
    let mut errors = crate::domain::validation::FieldErrors::new();
    for (name, _) in params.iter() {
        if !["limit", "cursor"].contains(&name) {
            errors.add(name, "is not a filter of this list");
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    if !valid_id(customer_id) {
        return Err(ApiError::NotFound);
    }
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let partition = customer_pk(tenant, customer_id);
    let page = page_request(
        params.first("limit"),
        params.first("cursor"),
        (PK, &partition),
    )?;
    let limit = usize::try_from(page.limit).unwrap_or(1);
    let (customer, (notes, last_key)) = tokio::try_join!(
        customer_store::get(table, tenant, customer_id),
        note_store::list(table, tenant, customer_id, limit, page.start),
    )?;
    if customer.is_none() {
        return Err(ApiError::NotFound);
    }
    list_reply(&notes, last_key.as_ref())
}
