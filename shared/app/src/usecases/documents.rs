//! A customer's documents: letters the chase worker printed and files the
//! team uploads through a presigned link, listed and downloaded through
//! short-lived links.

use super::tasks::customer_changed;
use super::{customers, valid_id, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{DocumentFiles, Page, PageRequest, Write};
use chrono::{DateTime, Utc};
use domain::document::{Document, DocumentKind, NewUpload};
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission};
use serde_json::json;
use std::time::Duration;

/// How long an upload or download link works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// A document and the link to act on it, valid until `expires_at`.
#[derive(Debug, Clone)]
pub struct Linked {
    pub document: Document,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

fn expiry(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(LINK_LIFETIME).unwrap_or_default()
}

/// Registers an upload and returns the link that accepts exactly that file
/// (type and size are signed into it); the history records it. Write 0 is
/// the customer's (a failed condition there is retryable).
pub async fn upload(
    context: &Context,
    files: &dyn DocumentFiles,
    caller: &Caller,
    customer_id: &str,
    upload: NewUpload,
    now: DateTime<Utc>,
) -> AppResult<Change<Linked>> {
    require(caller, Permission::ManageRecords)?;
    let customer = customers::load(context, &caller.tenant, customer_id).await?;
    let document = Document {
        id: context.ids.new_id(now),
        customer_id: customer.customer.id.clone(),
        kind: DocumentKind::Upload,
        filename: upload.filename,
        content_type: upload.content_type.to_string(),
        size: upload.size,
        created_by: caller.user.as_str().to_string(),
        created_at: now,
    };
    let url = files
        .upload_url(&caller.tenant, &document, LINK_LIFETIME)
        .await?;
    let history = HistoryItem::new(
        &document.customer_id,
        HistoryType::DocumentUploaded,
        now,
        caller.user.as_str(),
        format!("Document {} added", document.filename),
        json!({"document_id": document.id, "filename": document.filename, "content_type": document.content_type, "size": document.size}),
    );
    let writes = vec![
        Write::RecordHistory {
            stored: Box::new(customer),
            items: vec![history],
        },
        Write::PutDocument(Box::new(document.clone())),
    ];
    let linked = Linked {
        document,
        url,
        expires_at: expiry(now),
    };
    Ok(Change::new(writes, linked, customer_changed).on_conflict(0, customer_changed))
}

/// One page of a customer's documents, newest first.
pub async fn list(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    page: PageRequest,
) -> AppResult<Page<Document>> {
    require(caller, Permission::Read)?;
    customers::load(context, &caller.tenant, customer_id).await?;
    Ok(context
        .store
        .documents(&caller.tenant, customer_id, page)
        .await?)
}

/// A document with a short-lived download link.
pub async fn download(
    context: &Context,
    files: &dyn DocumentFiles,
    caller: &Caller,
    customer_id: &str,
    document_id: &str,
    now: DateTime<Utc>,
) -> AppResult<Linked> {
    require(caller, Permission::Read)?;
    if !valid_id(customer_id) || !valid_id(document_id) {
        return Err(AppError::NotFound);
    }
    let document = context
        .store
        .document(&caller.tenant, customer_id, document_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let url = files
        .download_url(&caller.tenant, &document, LINK_LIFETIME)
        .await?;
    Ok(Linked {
        document,
        url,
        expires_at: expiry(now),
    })
}
