//! `/v1/customer-groups`: CRUD; members join through the customer's `group_id`.

use super::customers::valid_id;
use super::Ctx;
use crate::adapters::customer_store::{self, Filter, ListQuery, Sort};
use crate::adapters::group_store;
use crate::adapters::keys::{tenant_pk, PK};
use crate::domain::group::{CustomerGroup, GroupChanges};
use crate::domain::identity::Permission;
use crate::http::pagination::{list_reply, page_params, MAX_LIMIT};
use crate::http::{auth, request, ApiError, ApiResponse};
use http::StatusCode;
use lambda_http::Request;

async fn load(ctx: &Ctx<'_>, id: &str) -> Result<CustomerGroup, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::NotFound);
    }
    group_store::get(&ctx.app.table, &ctx.caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn create(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let changes = GroupChanges::parse(&request::json_object(request)?, true)?;
    let group = changes.create(ulid::Ulid::new().to_string(), ctx.now);
    let write = group_store::save(&ctx.app.table, &ctx.caller.tenant, &group, 0)?;
    let response = ApiResponse::json(StatusCode::CREATED, &group)?
        .with_version(group.version)
        .with_location(format!("/v1/customer-groups/{}", group.id));
    ctx.commit(vec![write], |_| ApiError::stale_version(), response)
        .await
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let group = load(ctx, id).await?;
    Ok(ApiResponse::ok(&group)?.with_version(group.version))
}

pub async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let partition = tenant_pk(&ctx.caller.tenant);
    let page = page_params(request, (PK, &partition))?;
    let (groups, last_key) =
        group_store::list(&ctx.app.table, &ctx.caller.tenant, page.limit, page.start).await?;
    list_reply(&groups, last_key.as_ref())
}

/// Updates the group, then copies its settings onto every member so a
/// customer read stays one request. The copy is one small update per member.
pub async fn patch(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = request::if_match_version(request)?;
    let changes = GroupChanges::parse(&request::json_object(request)?, false)?;
    let current = load(ctx, id).await?;
    if current.version != expected {
        return Err(ApiError::stale_version());
    }
    let next = changes.apply(&current, ctx.now);
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let write = group_store::save(table, tenant, &next, expected)?;
    let response = ApiResponse::ok(&next)?.with_version(next.version);
    let response = ctx
        .commit(vec![write], |_| ApiError::stale_version(), response)
        .await?;
    if next.settings != current.settings {
        let mut query = ListQuery {
            filters: vec![Filter::Group(id.to_string())],
            search: None,
            sort: Sort::Name,
            limit: MAX_LIMIT,
            start: None,
        };
        loop {
            let (members, last_key) = customer_store::list(table, tenant, query.clone()).await?;
            for member in members {
                group_store::push_settings_to_member(table, tenant, id, &member.id, &next.settings)
                    .await?;
            }
            match last_key {
                Some(key) => query.start = Some(key),
                None => break,
            }
        }
    }
    Ok(response)
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let group = load(ctx, id).await?;
    if group.member_count > 0 {
        return Err(group_in_use());
    }
    let write = group_store::delete(&ctx.app.table, &ctx.caller.tenant, &group)?;
    ctx.commit(vec![write], |_| group_in_use(), ApiResponse::no_content())
        .await
}

fn group_in_use() -> ApiError {
    ApiError::conflict(
        "group_has_members",
        "the group has customers; move them out first",
    )
}
