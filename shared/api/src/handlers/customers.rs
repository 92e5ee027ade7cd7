//! `/v1/customers`: create, read, update, delete, list, search and export.

use super::Ctx;
use crate::adapters::customer_store::{self, Filter, ListQuery, Sort, StoredCustomer};
use crate::adapters::group_store;
use crate::adapters::keys::{CONTACT_PREFIX, PK};
use crate::domain::customer::{Customer, CustomerChanges};
use crate::domain::history::{HistoryItem, HistoryType};
use crate::domain::identity::Permission;
use crate::http::pagination::{list_reply, page_request, MAX_LIMIT};
use crate::http::{auth, request, ApiError, ApiResponse};
use aws_sdk_dynamodb::types::TransactWriteItem;
use http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde_json::{json, Value};

/// Ids are ULIDs; anything else cannot name a stored resource.
pub fn valid_id(id: &str) -> bool {
    id.len() == 26 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

pub async fn load(ctx: &Ctx<'_>, id: &str) -> Result<StoredCustomer, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::NotFound);
    }
    customer_store::get(&ctx.app.table, &ctx.caller.tenant, id)
        .await?
        .ok_or(ApiError::NotFound)
}

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

fn history(
    ctx: &Ctx<'_>,
    customer: &Customer,
    kind: HistoryType,
    summary: String,
    detail: Value,
) -> HistoryItem {
    HistoryItem::new(
        &customer.id,
        kind,
        ctx.now,
        ctx.caller.user.as_str(),
        summary,
        detail,
    )
}

/// What a write may fail on, by the index of the write in its transaction.
struct Conflicts {
    number: Option<usize>,
    groups: Vec<usize>,
}

impl Conflicts {
    fn error(&self, index: usize) -> ApiError {
        if Some(index) == self.number {
            ApiError::conflict(
                "duplicate_number",
                "another customer already has this number",
            )
        } else if self.groups.contains(&index) {
            ApiError::invalid_field("group_id", "no such customer group")
        } else {
            ApiError::stale_version()
        }
    }
}

/// Fills in the group's settings and adds the member-count writes.
async fn join_groups(
    ctx: &Ctx<'_>,
    next: &mut Customer,
    previous_group: Option<&str>,
    writes: &mut Vec<TransactWriteItem>,
    conflicts: &mut Conflicts,
) -> Result<(), ApiError> {
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    if next.group_id.as_deref() == previous_group {
        return Ok(());
    }
    next.group_settings = None;
    if let Some(group_id) = next.group_id.clone() {
        let group = group_store::get(table, tenant, &group_id)
            .await?
            .ok_or_else(|| ApiError::invalid_field("group_id", "no such customer group"))?;
        next.group_settings = Some(group.settings);
        conflicts.groups.push(writes.len());
        writes.push(group_store::count_member(table, tenant, &group_id, 1)?);
    }
    if let Some(old) = previous_group {
        conflicts.groups.push(writes.len());
        writes.push(group_store::count_member(table, tenant, old, -1)?);
    }
    Ok(())
}

pub async fn create(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let body = request::json_object(request)?;
    let changes = CustomerChanges::parse_new(&body)?;
    let mut customer = changes
        .create(ulid::Ulid::new().to_string(), ctx.now)
        .ok_or_else(|| ApiError::invalid_field("number", "is required"))?;
    customer.refresh(ctx.today().await?);
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let mut extra = Vec::new();
    let mut conflicts = Conflicts {
        number: None,
        groups: Vec::new(),
    };
    join_groups(ctx, &mut customer, None, &mut extra, &mut conflicts).await?;
    let assigned = super::chasing::assign(ctx, &mut customer, &mut extra).await?;
    let created = history(
        ctx,
        &customer,
        HistoryType::CustomerCreated,
        format!("Customer {} created", customer.number),
        json!({"number": customer.number}),
    );
    let items: Vec<HistoryItem> = std::iter::once(created).chain(assigned).collect();
    let mut writes = customer_store::put(table, tenant, customer.clone(), None, &items)?;
    let offset = writes.len();
    conflicts.groups = conflicts.groups.iter().map(|i| i + offset).collect();
    writes.extend(extra);
    conflicts.number = Some(writes.len());
    writes.push(customer_store::reserve_number(
        table,
        tenant,
        &customer.number,
        &customer.id,
    )?);
    let response = ApiResponse::json(StatusCode::CREATED, &view(&customer))?
        .with_version(customer.version)
        .with_location(format!("/v1/customers/{}", customer.id));
    ctx.commit(writes, |i| conflicts.error(i), response).await
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let mut customer = load(ctx, id).await?.customer;
    customer.refresh(ctx.today().await?);
    Ok(ApiResponse::ok(&view(&customer))?.with_version(customer.version))
}

pub async fn patch(ctx: &Ctx<'_>, request: &Request, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let expected = request::if_match_version(request)?;
    let body = request::json_object(request)?;
    let stored = load(ctx, id).await?;
    let changes = CustomerChanges::parse(&body, Some(stored.customer.currency))?;
    if stored.customer.version != expected {
        return Err(ApiError::stale_version());
    }
    let current = &stored.customer;
    let mut next = changes.apply(current, ctx.now);
    next.refresh(ctx.today().await?);
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let mut extra = Vec::new();
    let mut conflicts = Conflicts {
        number: None,
        groups: Vec::new(),
    };
    join_groups(
        ctx,
        &mut next,
        current.group_id.as_deref(),
        &mut extra,
        &mut conflicts,
    )
    .await?;
    let assigned = super::chasing::assign(ctx, &mut next, &mut extra).await?;
    let updated = history(
        ctx,
        &next,
        HistoryType::CustomerUpdated,
        format!("Customer {} updated", next.number),
        json!({"fields": CustomerChanges::changed_fields(&body)}),
    );
    let items: Vec<HistoryItem> = std::iter::once(updated).chain(assigned).collect();
    let mut writes = customer_store::put(table, tenant, next.clone(), Some(&stored), &items)?;
    let offset = writes.len();
    conflicts.groups = conflicts.groups.iter().map(|i| i + offset).collect();
    writes.extend(extra);
    if next.number != current.number {
        conflicts.number = Some(writes.len());
        writes.push(customer_store::reserve_number(
            table,
            tenant,
            &next.number,
            &next.id,
        )?);
        writes.push(customer_store::release_number(
            table,
            tenant,
            &current.number,
        )?);
    }
    let response = ApiResponse::ok(&view(&next))?.with_version(next.version);
    ctx.commit(writes, |i| conflicts.error(i), response).await
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::ManageRecords)?;
    let stored = load(ctx, id).await?;
    if stored.customer.open_invoice_count > 0 {
        return Err(ApiError::conflict(
            "customer_has_open_invoices",
            "the customer has open invoices; settle or void them first",
        ));
    }
    let table = &ctx.app.table;
    let tenant = &ctx.caller.tenant;
    let open_tasks = table
        .query(
            crate::adapters::dynamo::KeyQuery::partition(
                PK,
                crate::adapters::keys::customer_pk(tenant, id),
            )
            .sort_begins_with(crate::adapters::keys::SK, "P#3#TASK#")
            .limit(1)
            .consistent(),
        )
        .await?;
    if !open_tasks.items.is_empty() {
        return Err(ApiError::conflict(
            "customer_has_open_tasks",
            "the customer has open tasks; complete them first",
        ));
    }
    let mut writes = customer_store::delete(table, tenant, &stored)?;
    let partition = crate::adapters::keys::customer_pk(tenant, id);
    let contacts = table
        .query(
            crate::adapters::dynamo::KeyQuery::partition(PK, partition.clone())
                .sort_begins_with(crate::adapters::keys::SK, CONTACT_PREFIX)
                .consistent(),
        )
        .await?;
    for contact in &contacts.items {
        if let Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) =
            contact.get(crate::adapters::keys::SK)
        {
            writes.push(table.delete(&partition, sk, None)?);
        }
    }
    if let Some(group) = &stored.customer.group_id {
        writes.push(group_store::count_member(table, tenant, group, -1)?);
    }
    let mut unenrolled = stored.customer.clone();
    crate::chasing::unenrol(&mut unenrolled);
    writes.extend(super::chasing::enrolment_writes(
        ctx,
        stored
            .customer
            .chasing
            .cadence_id
            .clone()
            .zip(stored.customer.chasing.cadence_version),
        &unenrolled,
    )?);
    ctx.commit(
        writes,
        |_| {
            ApiError::conflict(
                "version_conflict",
                "the customer changed while being deleted; retry",
            )
        },
        ApiResponse::no_content(),
    )
    .await
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
fn list_query(request: &Request) -> Result<(ListQuery, Option<String>, Option<String>), ApiError> {
    let params = request.query_string_parameters();
    let mut errors = crate::domain::validation::FieldErrors::new();
    for (name, _) in params.iter() {
        if !LIST_PARAMS.contains(&name) {
            errors.add(name, "is not a filter of this list");
        }
    }
    let mut filters = Vec::new();
    let text = |name: &str| params.first(name).map(str::trim).filter(|v| !v.is_empty());
    if let Some(group) = text("group_id") {
        filters.push(Filter::Group(group.to_string()));
    }
    if let Some(ar) = text("ar_specialist_id") {
        filters.push(Filter::ArSpecialist(ar.to_string()));
    }
    if let Some(tag) = text("tag") {
        filters.push(Filter::Tag(tag.to_string()));
    }
    if let Some(status) = text("chasing_status") {
        match status {
            "active" | "paused" => filters.push(Filter::ChasingStatus(status.to_string())),
            _ => errors.add("chasing_status", "must be active or paused"),
        }
    }
    if let Some(overdue) = text("has_overdue") {
        match overdue {
            "true" => filters.push(Filter::HasOverdue(true)),
            "false" => filters.push(Filter::HasOverdue(false)),
            _ => errors.add("has_overdue", "must be true or false"),
        }
    }
    let sort = match text("sort") {
        None | Some("name") => Sort::Name,
        Some("overdue") => Sort::Overdue,
        Some("created_at") => Sort::CreatedAt,
        Some(_) => {
            errors.add("sort", "must be name, overdue or created_at");
            Sort::Name
        }
    };
    let search = text("q").map(str::to_string);
    if search.as_ref().is_some_and(|q| q.chars().count() > 100) {
        errors.add("q", "must be at most 100 characters");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let query = ListQuery {
        filters,
        search,
        sort,
        limit: 0,
        start: None,
    };
    Ok((
        query,
        params.first("limit").map(str::to_string),
        params.first("cursor").map(str::to_string),
    ))
}

pub async fn list(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let (mut query, limit, cursor) = list_query(request)?;
    let (_, key, partition) = query.partition(&ctx.caller.tenant);
    let page = page_request(limit.as_deref(), cursor.as_deref(), (key, &partition))?;
    query.limit = page.limit;
    query.start = page.start;
    let (customers, last_key) =
        customer_store::list(&ctx.app.table, &ctx.caller.tenant, query).await?;
    let items: Vec<Value> = customers.iter().map(list_view).collect();
    list_reply(&items, last_key.as_ref())
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

/// An export is built in memory; Lambda responses are capped at 6 MB.
pub const MAX_EXPORT_ROWS: usize = 10_000;

pub async fn export(ctx: &Ctx<'_>, request: &Request) -> Result<ApiResponse, ApiError> {
    auth::require(&ctx.caller, Permission::Read)?;
    let (mut query, _, _) = list_query(request)?;
    let mut csv = String::from(
        "id,number,name,email,phone,currency,outstanding,overdue,chased,group_id,ar_specialist_id,chasing_status,tags,created_at\n",
    );
    let mut rows = 0;
    loop {
        query.limit = MAX_LIMIT;
        let (customers, last_key) =
            customer_store::list(&ctx.app.table, &ctx.caller.tenant, query.clone()).await?;
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
            rows += 1;
        }
        if rows > MAX_EXPORT_ROWS {
            return Err(ApiError::conflict(
                "export_too_large",
                "more than 10000 customers match; narrow the filters or page through the list",
            ));
        }
        match last_key {
            Some(key) => query.start = Some(key),
            None => break,
        }
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
