//! `/v1/customers/{id}/contacts` (docs/api.md, Resources): a customer's contacts,
//! their roles and which one is primary.

use crate::extract::Ctx;
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::usecases::contacts::{self, ContactDetail};
use axum::extract::Path;
use domain::identity::Permission;
use http::StatusCode;
use serde_json::{json, Value};

fn view(detail: &ContactDetail) -> Value {
    let mut value = json!(detail.contact);
    value["primary"] = json!(detail.primary);
    value
}

pub async fn list(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    let contacts = contacts::list(&ctx.context, &ctx.caller, &customer_id).await?;
    let items: Vec<Value> = contacts.iter().map(view).collect();
    ApiResponse::ok(&json!({"items": items, "next_cursor": null}))
}

pub async fn create(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let changes = parse::contacts::changes(&body, true)?;
    let change =
        contacts::create(&ctx.context, &ctx.caller, &customer_id, &changes, ctx.now).await?;
    let contact = &change.value.contact;
    let response = ApiResponse::json(StatusCode::CREATED, &view(&change.value))?
        .with_version(contact.version)
        .with_location(format!(
            "/v1/customers/{}/contacts/{}",
            contact.customer_id, contact.id
        ));
    ctx.commit(change, response).await
}

pub async fn patch(
    ctx: Ctx,
    Path((customer_id, contact_id)): Path<(String, String)>,
) -> Result<ApiResponse, ApiError> {
    let expected = ctx.if_match_version()?;
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    let changes = parse::contacts::changes(&body, false)?;
    let change = contacts::update(
        &ctx.context,
        &ctx.caller,
        &customer_id,
        &contact_id,
        &changes,
        expected,
        ctx.now,
    )
    .await?;
    let response =
        ApiResponse::ok(&view(&change.value))?.with_version(change.value.contact.version);
    ctx.commit(change, response).await
}

pub async fn delete(
    ctx: Ctx,
    Path((customer_id, contact_id)): Path<(String, String)>,
) -> Result<ApiResponse, ApiError> {
    let change = contacts::delete(
        &ctx.context,
        &ctx.caller,
        &customer_id,
        &contact_id,
        ctx.now,
    )
    .await?;
    ctx.commit(change, ApiResponse::no_content()).await
}
