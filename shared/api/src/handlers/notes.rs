//! `/v1/customers/{id}/notes` (docs/api.md, Resources): add a note (optionally about
//! some invoices, optionally with a reminder task for its author) and list them.

use super::tasks::{retrying_races, unknown_filters};
use crate::extract::{list_reply, Ctx};
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::error::AppError;
use app::usecases::{notes, valid_id};
use axum::extract::Path;
use domain::identity::Permission;
use domain::validation::FieldErrors;
use http::StatusCode;

pub async fn create(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::CreateNotesAndTasks)?;
    // An id no customer can have is 404 before any field problem.
    if !valid_id(&customer_id) {
        return Err(AppError::NotFound.into());
    }
    let note = parse::notes::new_note(&body)?;
    let (ctx, note, customer_id) = (&ctx, &note, &customer_id);
    retrying_races(|| async move {
        let change = notes::create(&ctx.context, &ctx.caller, customer_id, note, ctx.now).await?;
        let response = ApiResponse::json(StatusCode::CREATED, &change.value)?
            .with_version(change.value.version);
        ctx.commit(change, response).await
    })
    .await
}

pub async fn list(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    let mut errors = FieldErrors::new();
    unknown_filters(&ctx, &["limit", "cursor"], &mut errors);
    errors.into_result(()).map_err(ApiError::from)?;
    let page = ctx.page()?;
    let notes = notes::list(&ctx.context, &ctx.caller, &customer_id, page).await?;
    list_reply(&notes.items, notes.next_cursor)
}
