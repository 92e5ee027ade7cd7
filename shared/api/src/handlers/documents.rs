//! `/v1/customers/{id}/documents` (API.md "Statements and documents"):
//! register an upload (a presigned PUT link), list, and download links.

use super::tasks::{retrying_races, unknown_filters};
use crate::extract::{list_reply, Ctx};
use crate::{ApiError, ApiResponse, ApiState};
use app::error::AppError;
use app::usecases::documents::{self, Linked};
use app::usecases::valid_id;
use axum::extract::{Path, State};
use domain::document::{Document, NewUpload};
use domain::identity::Permission;
use domain::validation::FieldErrors;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn view(document: &Document) -> Value {
    json!({
        "id": document.id,
        "customer_id": document.customer_id,
        "kind": document.kind,
        "filename": document.filename,
        "content_type": document.content_type,
        "size": document.size,
        "created_by": document.created_by,
        "created_at": document.created_at,
    })
}

/// `{filename, content_type, size}`, each checked.
fn new_upload(body: &Map<String, Value>) -> Result<NewUpload, FieldErrors> {
    let mut errors = FieldErrors::new();
    for name in body.keys() {
        if !["filename", "content_type", "size"].contains(&name.as_str()) {
            errors.add(name, "is not a field of a document upload");
        }
    }
    let text = |errors: &mut FieldErrors, name: &str| match body.get(name) {
        Some(Value::String(value)) => Some(value.clone()),
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
        None => {
            errors.add(name, "is required");
            None
        }
    };
    let filename = text(&mut errors, "filename");
    let content_type = text(&mut errors, "content_type");
    let size = match body.get("size") {
        Some(value) => value.as_u64().or_else(|| {
            errors.add("size", "must be a whole number of bytes");
            None
        }),
        None => {
            errors.add("size", "is required");
            None
        }
    };
    let (Some(filename), Some(content_type), Some(size)) = (filename, content_type, size) else {
        return Err(errors);
    };
    match NewUpload::validate(&filename, &content_type, size) {
        Ok(upload) if errors.is_empty() => Ok(upload),
        Ok(_) => Err(errors),
        Err(problems) => {
            for (field, problem) in problems.iter() {
                errors.add(field.clone(), problem.clone());
            }
            Err(errors)
        }
    }
}

pub async fn create(
    State(state): State<Arc<ApiState>>,
    ctx: Ctx,
    Path(customer_id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    let body = ctx.json_object()?;
    app::access::require(&ctx.caller, Permission::ManageRecords)?;
    if !valid_id(&customer_id) {
        return Err(AppError::NotFound.into());
    }
    let upload = new_upload(&body)?;
    let (ctx, upload, customer_id, files) = (&ctx, &upload, &customer_id, state.files.as_ref());
    retrying_races(|| async move {
        let change = documents::upload(
            &ctx.context,
            files,
            &ctx.caller,
            customer_id,
            upload.clone(),
            ctx.now,
        )
        .await?;
        let Linked {
            document,
            url,
            expires_at,
        } = &change.value;
        let response = ApiResponse::json(
            StatusCode::CREATED,
            &json!({"document_id": document.id, "upload_url": url, "expires_at": expires_at,
                    "document": view(document)}),
        )?
        .with_location(format!(
            "/v1/customers/{}/documents/{}",
            document.customer_id, document.id
        ));
        ctx.commit(change, response).await
    })
    .await
}

pub async fn list(ctx: Ctx, Path(customer_id): Path<String>) -> Result<ApiResponse, ApiError> {
    let mut errors = FieldErrors::new();
    unknown_filters(&ctx, &["limit", "cursor"], &mut errors);
    errors.into_result(()).map_err(ApiError::from)?;
    let page = ctx.page()?;
    let found = documents::list(&ctx.context, &ctx.caller, &customer_id, page).await?;
    let items: Vec<Value> = found.items.iter().map(view).collect();
    list_reply(&items, found.next_cursor)
}

pub async fn get(
    State(state): State<Arc<ApiState>>,
    ctx: Ctx,
    Path((customer_id, document_id)): Path<(String, String)>,
) -> Result<ApiResponse, ApiError> {
    ctx.only_params(&[], "a document")?;
    let linked = documents::download(
        &ctx.context,
        state.files.as_ref(),
        &ctx.caller,
        &customer_id,
        &document_id,
        ctx.now,
    )
    .await?;
    let mut body = view(&linked.document);
    body["download_url"] = json!(linked.url);
    body["expires_at"] = json!(linked.expires_at);
    ApiResponse::ok(&body)
}
