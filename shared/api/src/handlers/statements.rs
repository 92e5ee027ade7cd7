//! `/v1/customers/{id}/statement` and `/v1/invoices/{id}/pdf` (API.md
//! "Statements and documents"): JSON, or PDF when the client accepts it.

use crate::extract::Ctx;
use crate::parse;
use crate::response::Download;
use crate::{ApiError, ApiResponse};
use app::usecases::statements;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use domain::validation::FieldErrors;
use serde_json::Value;

const PDF: &str = "application/pdf";

/// `?as_of=YYYY-MM-DD`, the only parameter.
fn as_of(ctx: &Ctx) -> Result<Option<chrono::NaiveDate>, ApiError> {
    ctx.only_params(&["as_of"], "a statement")?;
    let Some(raw) = ctx.param("as_of") else {
        return Ok(None);
    };
    let mut errors = FieldErrors::new();
    let date = parse::fields::date(&mut errors, "as_of", &Value::String(raw.to_string()));
    errors.into_result(date).map_err(ApiError::from)
}

/// Whether the client asked for the PDF (`Accept: application/pdf`).
fn wants_pdf(ctx: &Ctx) -> bool {
    ctx.header(http::header::ACCEPT)
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with(PDF)))
}

pub async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    let as_of = as_of(&ctx)?;
    if wants_pdf(&ctx) {
        let (filename, bytes) =
            statements::statement_pdf(&ctx.context, &ctx.caller, ctx.now, &id, as_of).await?;
        return Ok(Download {
            content_type: PDF,
            filename,
            bytes,
        }
        .into_response());
    }
    let view = statements::statement(&ctx.context, &ctx.caller, ctx.now, &id, as_of).await?;
    let mut body = serde_json::to_value(&view.statement).map_err(ApiError::internal)?;
    if let Value::Object(map) = &mut body {
        map.insert("portal_url".into(), view.portal_url.into());
    }
    Ok(ApiResponse::ok(&body)?.into_response())
}

pub async fn invoice_pdf(ctx: Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    ctx.only_params(&[], "an invoice PDF")?;
    let (filename, bytes) =
        statements::invoice_pdf(&ctx.context, &ctx.caller, ctx.now, &id).await?;
    Ok(Download {
        content_type: PDF,
        filename,
        bytes,
    }
    .into_response())
}
