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
