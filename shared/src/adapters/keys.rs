//! The single-table key schema. Every key starts with the tenant, so no key
//! built here can reach another tenant's items. See `infra/README.md`.

use crate::domain::identity::TenantId;

pub const PK: &str = "PK";
pub const SK: &str = "SK";

/// The tenant's own partition: settings, idempotency records, and later the
/// tenant-wide lists (cadences, templates, contact roles).
pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}")
}

pub const SETTINGS_SK: &str = "SETTINGS";

/// Idempotency keys are hashed: clients choose them, keys must stay short and
/// free of separators.
pub fn idempotency_sk(key_hash: &str) -> String {
    format!("IDEMPOTENCY#{key_hash}")
}

/// The sparse "next evaluation time" index (DESIGN §6) is spread over this
/// many partitions so the scheduler's reads never concentrate on one key.
pub const DUE_SHARDS: u32 = 16;
pub const DUE_INDEX: &str = "DueIndex";
pub const DUE_PK: &str = "DuePK";
pub const DUE_SK: &str = "DueSK";

pub fn due_pk(shard: u32) -> String {
    format!("DUE#{shard:02}")
}

/// A customer's own partition: its record, contacts, open invoices, open
/// tasks (the `P#` range, read by the customer page in one Query), and its
/// history, listing entries and closed records outside that range.
pub fn customer_pk(tenant: &TenantId, customer_id: &str) -> String {
    format!("T#{tenant}#C#{customer_id}")
}

pub const PAGE_PREFIX: &str = "P#";
pub const CUSTOMER_SK: &str = "P#0#CUSTOMER";
pub const CONTACT_PREFIX: &str = "P#1#CONTACT#";

pub fn contact_sk(contact_id: &str) -> String {
    format!("{CONTACT_PREFIX}{contact_id}")
}

pub const HISTORY_PREFIX: &str = "H#";

pub fn history_sk(history_id: &str) -> String {
    format!("{HISTORY_PREFIX}{history_id}")
}

pub const LISTING_PREFIX: &str = "L#";

pub fn listing_sk(facet: &str) -> String {
    format!("{LISTING_PREFIX}{facet}")
}

/// The index partition holding one facet's listing entries of a tenant.
pub fn listing_pk(tenant: &TenantId, facet: &str) -> String {
    format!("T#{tenant}#CL#{facet}")
}

pub fn customer_number_sk(number: &str) -> String {
    format!("UNIQUE#CUSTOMER_NUMBER#{number}")
}

pub const GROUP_PREFIX: &str = "GROUP#";

pub fn group_sk(group_id: &str) -> String {
    format!("{GROUP_PREFIX}{group_id}")
}

pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";
pub const GSI3: &str = "GSI3";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
