//! The portal token lookup that a portal request starts from
//! (`keys::portal_token_pk`) and the customer's last portal visit.

use super::dynamo::{to_item, Condition, Table};
use super::keys::{customer_pk, portal_token_pk, PK, PORTAL_TOKEN_SK, PORTAL_VISIT_SK, SK};
use app::ports::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::identity::TenantId;
use domain::portal::PortalVisit;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct TokenEntry {
    tenant: String,
    customer_id: String,
}

pub async fn token(
    table: &Table,
    token_hash: &str,
) -> Result<Option<(TenantId, String)>, StoreError> {
    let entry: Option<TokenEntry> = table
        .get_as(&portal_token_pk(token_hash), PORTAL_TOKEN_SK)
        .await?;
    Ok(entry
        .and_then(|entry| TenantId::parse(&entry.tenant).map(|tenant| (tenant, entry.customer_id))))
}

pub fn put_token(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    token_hash: &str,
) -> Result<TransactWriteItem, StoreError> {
    let mut entry = to_item(&TokenEntry {
        tenant: tenant.as_str().to_string(),
        customer_id: customer_id.to_string(),
    })?;
    entry.insert(PK.into(), AttributeValue::S(portal_token_pk(token_hash)));
    entry.insert(SK.into(), AttributeValue::S(PORTAL_TOKEN_SK.into()));
    table.put(entry, Some(Condition::absent()))
}

pub fn delete_token(table: &Table, token_hash: &str) -> Result<TransactWriteItem, StoreError> {
    table.delete(&portal_token_pk(token_hash), PORTAL_TOKEN_SK, None)
}

/// The day's visit, unless that day's is already there.
pub fn record_visit(
    table: &Table,
    tenant: &TenantId,
    customer_id: &str,
    visit: &PortalVisit,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(visit)?;
    item.insert(
        PK.into(),
        AttributeValue::S(customer_pk(tenant, customer_id)),
    );
    item.insert(SK.into(), AttributeValue::S(PORTAL_VISIT_SK.into()));
    let new_day = Condition::new("attribute_not_exists(#on) OR #on <> :on")
        .name("#on", "on")
        .value(":on", AttributeValue::S(visit.on.to_string()));
    table.put(item, Some(new_day))
}
