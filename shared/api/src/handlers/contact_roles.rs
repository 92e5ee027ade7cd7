//! `GET/POST /v1/contact-roles`, `DELETE /v1/contact-roles/{id}`.

use super::Ctx;
use crate::adapters::contact_role_store;
use crate::adapters::keys::{tenant_pk, PK};
use crate::domain::contact_role::ContactRole;
use crate::domain::identity::Permission;
use crate::http::pagination::{list_reply, page_params};
use crate::http::{auth, request, ApiError, ApiResponse};
use http::StatusCode;
use lambda_http::Request;

pub async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let partition = tenant_pk(&ctx.caller.tenant);
    let page = page_params(request, (PK, &partition))?;
    let (roles, last_key) =
        contact_role_store::list(&ctx.app.table, &ctx.caller.tenant, page.limit, page.start)
            .await?;
    list_reply(&roles, last_key.as_ref())
}

pub async fn create(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = request::json_object(request)?;
    let role = ContactRole::create(&body, ulid::Ulid::new().to_string(), ctx.now)?;
    let writes = contact_role_store::create(&ctx.app.table, &ctx.caller.tenant, &role)?;
    let response = ApiResponse::json(StatusCode::CREATED, &role)?
        .with_version(role.version)
        .with_location(format!("/v1/contact-roles/{}", role.id));
    ctx.commit(
        writes,
        |_| {
            ApiError::conflict(
                "duplicate_name",
                "a contact role with this name already exists",
            )
        },
        response,
    )
    .await
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let role = contact_role_store::get(&ctx.app.table, &ctx.caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let writes = contact_role_store::delete(&ctx.app.table, &ctx.caller.tenant, &role)?;
    ctx.commit(
        writes,
        |_| {
            ApiError::conflict(
                "role_in_use",
                "contacts still hold this role; remove it from them first",
            )
        },
        ApiResponse::no_content(),
    )
    .await
}
