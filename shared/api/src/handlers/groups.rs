//! `/v1/customer-groups` (docs/api.md, Resources): CRUD; members join
//! through the customer's `group_id`.

use crate::extract::{list_reply, Ctx};
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::usecases::groups;
use axum::extract::Path;
use domain::identity::Permission;
use http::StatusCode;

pub async fn create(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let changes = parse::groups::changes(&body, true)?;
    let change = groups::create(&ctx.context, &ctx.caller, &changes, ctx.now)?;
    let group = &change.value;
    let response = ApiResponse::json(StatusCode::CREATED, group)?
        .with_version(group.version)
        .with_location(format!("/v1/customer-groups/{}", group.id));
    ctx.commit(change, response).await
}

pub async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let group = groups::get(&ctx.context, &ctx.caller, &id).await?;
    Ok(ApiResponse::ok(&group)?.with_version(group.version))
}

pub async fn list(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let page = ctx.page()?;
    let groups = groups::list(&ctx.context, &ctx.caller, page).await?;
    list_reply(&groups.items, groups.next_cursor)
}

/// Saves the group, then copies its settings onto every member.
pub async fn patch(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let expected = ctx.if_match_version()?;
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let changes = parse::groups::changes(&body, false)?;
    let change =
        groups::update(&ctx.context, &ctx.caller, &id, &changes, expected, ctx.now).await?;
    let update = change.value.clone();
    let response = ApiResponse::ok(&update.group)?.with_version(update.group.version);
    let response = ctx.commit(change, response).await?;
    if update.settings_changed {
        groups::copy_settings_to_members(&ctx.context, &ctx.caller.tenant, &update.group).await?;
    }
    Ok(response)
}

pub async fn delete(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let change = groups::delete(&ctx.context, &ctx.caller, &id).await?;
    ctx.commit(change, ApiResponse::no_content()).await
}
