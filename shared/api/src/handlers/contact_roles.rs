//! `GET/POST /v1/contact-roles`, `DELETE /v1/contact-roles/{id}` (docs/api.md
//! "Contacts").

use crate::extract::{list_reply, Ctx};
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::usecases::contact_roles;
use axum::extract::Path;
use domain::identity::Permission;
use http::StatusCode;

pub async fn list(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let page = ctx.page()?;
    let roles = contact_roles::list(&ctx.context, &ctx.caller, page).await?;
    list_reply(&roles.items, roles.next_cursor)
}

pub async fn create(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let name = parse::contact_roles::name(&body)?;
    let change = contact_roles::create(&ctx.context, &ctx.caller, name, ctx.now)?;
    let role = &change.value;
    let response = ApiResponse::json(StatusCode::CREATED, role)?
        .with_version(role.version)
        .with_location(format!("/v1/contact-roles/{}", role.id));
    ctx.commit(change, response).await
}

pub async fn delete(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let change = contact_roles::delete(&ctx.context, &ctx.caller, &id).await?;
    ctx.commit(change, ApiResponse::no_content()).await
}
