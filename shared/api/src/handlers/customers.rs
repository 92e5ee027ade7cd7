//! `/v1/customers`: create, read, update, delete, list, search and export.

use crate::extract::{list_reply, Ctx};
use crate::parse;
use crate::{ApiError, ApiResponse};
use app::ports::{CustomerFilter, CustomerQuery, CustomerSort, PageRequest};
use app::usecases::{customers, portal};
use axum::extract::Path;
use domain::customer::Customer;
use domain::validation::FieldErrors;
use http::StatusCode;
use serde_json::{json, Value};

/// The API representation: stored fields, computed balance with its
/// currency, and the effective settings with their sources.
pub fn view(customer: &Customer) -> Value {
    let mut value = json!({
        "id": customer.id,
        "number": customer.number,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "language": customer.language,
        "currency": customer.currency,
        "payment_terms": customer.payment_terms,
        "tags": customer.tags,
        "billing_address": customer.billing_address,
        "shipping_address": customer.shipping_address,
        "credit_limit": customer.credit_limit.map(|d| d.to_string()),
        "ar_specialist_id": customer.ar_specialist_id,
        "group_id": customer.group_id,
        "autopay": customer.autopay,
        "auto_settle": customer.auto_settle,
        "portal_note": customer.portal_note,
        "metadata": customer.metadata,
        "chasing": customer.chasing,
        "balance": customer.balance,
        "account_age": customer.account_age,
        "past_due_age": customer.past_due_age,
        "payer_rating": customer.payer_rating,
        "primary_contact_id": customer.primary_contact_id,
        "effective": customer.effective(),
        "version": customer.version,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    });
    value["balance"]["currency"] = json!(customer.currency);
    value
}

/// A customer's own response: its view with its version as the ETag.
pub fn response(customer: &Customer) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::ok(&view(customer))?.with_version(customer.version))
}

pub async fn create(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let changes = parse::customers::new_customer(&ctx.json_object()?)?;
    let change = customers::create(&ctx.context, &ctx.caller, ctx.now, &changes).await?;
    let customer = &change.value;
    let response = ApiResponse::json(StatusCode::CREATED, &view(customer))?
        .with_version(customer.version)
        .with_location(format!("/v1/customers/{}", customer.id));
    ctx.commit(change, response).await
}

pub async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let (customer, portal_url) = customers::get(&ctx.context, &ctx.caller, ctx.now, &id).await?;
    let mut body = view(&customer);
    body["portal_url"] = json!(portal_url);
    Ok(ApiResponse::ok(&body)?.with_version(customer.version))
}

/// `POST /v1/customers/{id}/portal-link`: a new portal link; the old one
/// stops working at once.
pub async fn rotate_portal_link(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let url = portal::rotate(&ctx.context, &ctx.caller, &id, ctx.now).await?;
    ApiResponse::ok(&json!({"portal_url": url}))
}

pub async fn patch(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    app::access::require(&ctx.caller, domain::identity::Permission::ManageRecords)?;
    let expected = ctx.if_match_version()?;
    let body = ctx.json_object()?;
    let stored = customers::load(&ctx.context, &ctx.caller.tenant, &id).await?;
    let changes = parse::customers::changes(&body, Some(stored.customer.currency))?;
    let changed = parse::field_names(&body);
    let change = customers::update(
        &ctx.context,
        &ctx.caller,
        ctx.now,
        stored,
        expected,
        &changes,
        changed,
    )
    .await?;
    let response = response(&change.value)?;
    ctx.commit(change, response).await
}

pub async fn delete(ctx: Ctx, Path(id): Path<String>) -> Result<ApiResponse, ApiError> {
    let change = customers::delete(&ctx.context, &ctx.caller, &id).await?;
    ctx.commit(change, ApiResponse::no_content()).await
}

const LIST_PARAMS: &[&str] = &[
    "q",
    "group_id",
    "chasing_status",
    "ar_specialist_id",
    "tag",
    "has_overdue",
    "sort",
    "limit",
    "cursor",
];

/// Parses the list's filters and sort, shared by the list and the export.
fn list_query(ctx: &Ctx, page: PageRequest) -> Result<CustomerQuery, ApiError> {
    let mut errors = FieldErrors::new();
    for (name, _) in ctx.params() {
        if !LIST_PARAMS.contains(&name) {
            errors.add(name, "is not a filter of this list");
        }
    }
    let mut filters = Vec::new();
    let text = |name: &str| ctx.param(name).map(str::trim).filter(|v| !v.is_empty());
    match ctx.id_param("group_id") {
        Ok(Some(group)) => filters.push(CustomerFilter::Group(group.to_string())),
        Ok(None) => {}
        Err(_) => errors.add("group_id", "must be an id (26 letters and digits)"),
    }
    if let Some(ar) = text("ar_specialist_id") {
        filters.push(CustomerFilter::ArSpecialist(ar.to_string()));
    }
    if let Some(tag) = text("tag") {
        filters.push(CustomerFilter::Tag(tag.to_string()));
    }
    if let Some(status) = text("chasing_status") {
        match status {
            "active" | "paused" => filters.push(CustomerFilter::ChasingStatus(status.to_string())),
            _ => errors.add("chasing_status", "must be active or paused"),
        }
    }
    if let Some(overdue) = text("has_overdue") {
        match overdue {
            "true" => filters.push(CustomerFilter::HasOverdue(true)),
            "false" => filters.push(CustomerFilter::HasOverdue(false)),
            _ => errors.add("has_overdue", "must be true or false"),
        }
    }
    let sort = match text("sort") {
        None | Some("name") => CustomerSort::Name,
        Some("overdue") => CustomerSort::Overdue,
        Some("created_at") => CustomerSort::CreatedAt,
        Some(_) => {
            errors.add("sort", "must be name, overdue or created_at");
            CustomerSort::Name
        }
    };
    let search = text("q").map(str::to_string);
    if search.as_ref().is_some_and(|q| q.chars().count() > 100) {
        errors.add("q", "must be at most 100 characters");
    }
    errors
        .into_result(CustomerQuery {
            filters,
            search,
            sort,
            page,
        })
        .map_err(ApiError::from)
}

pub async fn list(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let query = list_query(&ctx, ctx.page()?)?;
    let page = customers::list(&ctx.context, &ctx.caller, query).await?;
    let items: Vec<Value> = page.items.iter().map(list_view).collect();
    list_reply(&items, page.next_cursor)
}

/// Lists come from index copies; the effective settings are only shown on
/// the customer itself, where they are always current.
fn list_view(customer: &Customer) -> Value {
    let mut value = view(customer);
    if let Some(object) = value.as_object_mut() {
        object.remove("effective");
    }
    value
}

pub async fn export(ctx: Ctx) -> Result<ApiResponse, ApiError> {
    let query = list_query(
        &ctx,
        PageRequest {
            limit: crate::extract::MAX_LIMIT,
            cursor: None,
        },
    )?;
    let customers = customers::export(&ctx.context, &ctx.caller, query).await?;
    let mut csv = String::from(
        "id,number,name,email,phone,currency,outstanding,overdue,chased,group_id,ar_specialist_id,chasing_status,tags,created_at\n",
    );
    for c in &customers {
        let fields = [
            c.id.clone(),
            c.number.clone(),
            c.name.clone(),
            c.email.clone().unwrap_or_default(),
            c.phone.clone().unwrap_or_default(),
            c.currency.to_string(),
            c.balance.outstanding.to_string(),
            c.balance.overdue.to_string(),
            c.balance.chased.to_string(),
            c.group_id.clone().unwrap_or_default(),
            c.ar_specialist_id.clone().unwrap_or_default(),
            c.chasing.status.as_str().to_string(),
            c.tags.join(";"),
            c.created_at.to_rfc3339(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        csv.push_str(&line.join(","));
        csv.push('\n');
    }
    Ok(ApiResponse::text("text/csv; charset=utf-8", csv))
}

/// RFC 4180 quoting, and a leading quote on values a spreadsheet would
/// otherwise run as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
    }
}
