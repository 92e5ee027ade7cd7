//! Cadences in the tenant partition. Each version is also kept as an
//! immutable snapshot, which is what the scheduler and workers read: a
//! version with enrolled customers never changes (edits create the next one).
//! Documents are stored as JSON text: cadences are read whole, never queried
//! by attribute. Each snapshot also counts the customers enrolled in that
//! version (`enrolled`), beside the cadence-wide `enrolled_count`; cadences in
//! assignment mode `always` have a copy under `CADENCE_ASSIGNMENT#` so the
//! rules read only those.

use super::dynamo::{Condition, Item, KeyQuery, Table};
use super::keys::{
    cadence_assignment_sk, cadence_sk, cadence_version_sk, tenant_pk, CADENCE_ASSIGNMENT_PREFIX,
    CADENCE_COUNT_SK, CADENCE_PREFIX, CADENCE_VERSION_PREFIX, PK, SK,
};
use app::ports::EnrolmentDeltas;
use app::ports::{Page, PageRequest, StoreError};
use app::records::{CadenceRecord, VersionRecord};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::cadence::{AssignmentMode, Cadence, MAX_CADENCES_PER_TENANT};
use domain::identity::TenantId;
use serde::Serialize;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

fn doc<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|e| StoreError::Malformed(e.to_string()))
}

fn parse_record(item: &Item) -> Result<CadenceRecord, StoreError> {
    let text = match item.get("doc") {
        Some(AttributeValue::S(text)) => text,
        _ => return Err(StoreError::Malformed("cadence without doc".into())),
    };
    let mut record: CadenceRecord =
        serde_json::from_str(text).map_err(|e| StoreError::Malformed(e.to_string()))?;
    if let Some(AttributeValue::N(n)) = item.get("enrolled_count") {
        record.enrolled_count = n.parse().unwrap_or(0);
    }
    Ok(record)
}

pub async fn get(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<CadenceRecord>, StoreError> {
    table
        .get(&tenant_pk(tenant), &cadence_sk(id))
        .await?
        .map(|item| parse_record(&item))
        .transpose()
}

/// The version an enrolled customer runs on.
pub async fn get_version(
    table: &Table,
    tenant: &TenantId,
    id: &str,
    version: u32,
) -> Result<Option<Cadence>, StoreError> {
    let Some(item) = table
        .get(&tenant_pk(tenant), &cadence_version_sk(id, version))
        .await?
    else {
        return Ok(None);
    };
    match item.get("doc") {
        Some(AttributeValue::S(text)) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| StoreError::Malformed(e.to_string())),
        _ => Err(StoreError::Malformed("cadence version without doc".into())),
    }
}

pub async fn list(
    table: &Table,
    tenant: &TenantId,
    request: &PageRequest,
) -> Result<Page<CadenceRecord>, StoreError> {
    let (items, next_cursor) = table
        .tenant_list_page(tenant, CADENCE_PREFIX, request)
        .await?;
    let items = items.iter().map(parse_record).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

/// Every cadence of the tenant (at most [`MAX_CADENCES_PER_TENANT`]); a
/// Query page stops at 1 MB, so large cadences may take a few pages.
pub async fn all(table: &Table, tenant: &TenantId) -> Result<Vec<CadenceRecord>, StoreError> {
    let mut records = Vec::new();
    let mut request = PageRequest {
        limit: MAX_CADENCES_PER_TENANT + 1,
        cursor: None,
    };
    loop {
        let page = list(table, tenant, &request).await?;
        records.extend(page.items);
        match page.next_cursor {
            Some(cursor) if records.len() <= MAX_CADENCES_PER_TENANT => {
                request.cursor = Some(cursor)
            }
            _ => return Ok(records),
        }
    }
}

/// Writes: the current record (conditioned on the stored version, or absent
/// when `previous_version` is 0) and the version's snapshot (creating is
/// committed with a count of the tenant's cadences). `unenrolled` makes it fail
/// if anyone is enrolled: how a change to what the cadence does is written,
/// so an enrolment committed meanwhile fails it rather than changes under
/// the customer.
pub fn save(
    table: &Table,
    tenant: &TenantId,
    record: &CadenceRecord,
    previous_version: u32,
    unenrolled: bool,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    save_with(table, tenant, record, previous_version, unenrolled)
}

fn save_with(
    table: &Table,
    tenant: &TenantId,
    record: &CadenceRecord,
    previous_version: u32,
    unenrolled: bool,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let pk = tenant_pk(tenant);
    let id = &record.cadence.id;
    let version = AttributeValue::N(record.cadence.version.to_string());
    let mut writes = Vec::new();
    if previous_version == 0 {
        let current: Item = [
            (PK.to_string(), s(&pk)),
            (SK.to_string(), s(&cadence_sk(id))),
            ("doc".to_string(), doc(record)?),
            ("version".to_string(), version),
            (
                "enrolled_count".to_string(),
                AttributeValue::N(record.enrolled_count.to_string()),
            ),
        ]
        .into();
        writes.push(table.put(current, Some(Condition::absent()))?);
    } else {
        // Enrolment counts move on their own; only the document and version change.
        let mut unchanged = Condition::version_is(u64::from(previous_version));
        if unenrolled {
            unchanged.expression = format!(
                "{} AND (attribute_not_exists(enrolled_count) OR enrolled_count = :zero)",
                unchanged.expression
            );
            unchanged = unchanged.value(":zero", AttributeValue::N("0".into()));
        }
        let unchanged = unchanged
            .name("#doc", "doc")
            .value(":doc", doc(record)?)
            .value(":version", version);
        writes.push(table.update(
            &pk,
            &cadence_sk(id),
            "SET #doc = :doc, #version = :version",
            unchanged,
        )?);
    }
    let snapshot: Item = [
        (PK.to_string(), s(&pk)),
        (
            SK.to_string(),
            s(&cadence_version_sk(id, record.cadence.version)),
        ),
        ("doc".to_string(), doc(&record.cadence)?),
    ]
    .into();
    writes.push(table.put(snapshot, Some(Condition::absent()))?);
    writes.push(assignment_write(table, tenant, &record.cadence)?);
    Ok(writes)
}

/// Keeps the copy read by the assignment rules: present exactly while the
/// cadence's mode is `always`.
fn assignment_write(
    table: &Table,
    tenant: &TenantId,
    cadence: &Cadence,
) -> Result<TransactWriteItem, StoreError> {
    let pk = tenant_pk(tenant);
    let sk = cadence_assignment_sk(&cadence.id);
    if cadence.assignment.mode == AssignmentMode::Always {
        let item: Item = [
            (PK.to_string(), s(&pk)),
            (SK.to_string(), s(&sk)),
            ("doc".to_string(), doc(cadence)?),
        ]
        .into();
        table.put(item, None)
    } else {
        table.delete(&pk, &sk, None)
    }
}

/// The current version of every cadence whose assignment mode is `always`:
/// what a customer create or update evaluates the rules over.
pub async fn automatic(table: &Table, tenant: &TenantId) -> Result<Vec<Cadence>, StoreError> {
    let items = table
        .query_all(
            KeyQuery::partition(PK, tenant_pk(tenant))
                .sort_begins_with(SK, CADENCE_ASSIGNMENT_PREFIX),
        )
        .await?;
    items
        .iter()
        .map(|item| match item.get("doc") {
            Some(AttributeValue::S(text)) => {
                serde_json::from_str(text).map_err(|e| StoreError::Malformed(e.to_string()))
            }
            _ => Err(StoreError::Malformed("assignment copy without doc".into())),
        })
        .collect()
}

/// Moves the tenant's cadence count; refuses to pass the limit.
pub fn count_cadences(
    table: &Table,
    tenant: &TenantId,
    delta: i64,
) -> Result<TransactWriteItem, StoreError> {
    // Every placeholder must appear in the expressions, so a decrement has no `:max`.
    let condition = if delta < 0 {
        Condition::new("attribute_exists(PK)")
    } else {
        Condition::new("attribute_not_exists(#count) OR #count < :max").value(
            ":max",
            AttributeValue::N(MAX_CADENCES_PER_TENANT.to_string()),
        )
    };
    let condition = condition
        .name("#count", "count")
        .value(":delta", AttributeValue::N(delta.to_string()));
    table.update(
        &tenant_pk(tenant),
        CADENCE_COUNT_SK,
        "ADD #count :delta",
        condition,
    )
}

/// Moves a cadence's enrolled count (on enrol, unenrol, migrate).
pub fn count_enrolled(
    table: &Table,
    tenant: &TenantId,
    id: &str,
    delta: i64,
) -> Result<TransactWriteItem, StoreError> {
    let condition = Condition::new("attribute_exists(PK)")
        .value(":delta", AttributeValue::N(delta.to_string()));
    table.update(
        &tenant_pk(tenant),
        &cadence_sk(id),
        "ADD enrolled_count :delta",
        condition,
    )
}

/// Deletes a cadence nobody is enrolled in (its snapshots stay for history).
pub fn delete(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let unused = Condition::new(
        "attribute_exists(PK) AND (attribute_not_exists(enrolled_count) OR enrolled_count = :zero)",
    )
    .value(":zero", AttributeValue::N("0".into()));
    Ok(vec![
        table.delete(&tenant_pk(tenant), &cadence_sk(id), Some(unused))?,
        count_cadences(table, tenant, -1)?,
        table.delete(&tenant_pk(tenant), &cadence_assignment_sk(id), None)?,
    ])
}

/// Attribute on a version snapshot counting the customers enrolled in it.
const VERSION_ENROLLED: &str = "enrolled";

fn parse_version(item: &Item) -> Result<VersionRecord, StoreError> {
    let cadence = match item.get("doc") {
        Some(AttributeValue::S(text)) => {
            serde_json::from_str(text).map_err(|e| StoreError::Malformed(e.to_string()))?
        }
        _ => return Err(StoreError::Malformed("cadence version without doc".into())),
    };
    let enrolled = match item.get(VERSION_ENROLLED) {
        Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    Ok(VersionRecord { cadence, enrolled })
}

async fn versions_under(
    table: &Table,
    tenant: &TenantId,
    prefix: String,
) -> Result<Vec<VersionRecord>, StoreError> {
    table
        .query_all(KeyQuery::partition(PK, tenant_pk(tenant)).sort_begins_with(SK, prefix))
        .await?
        .iter()
        .map(parse_version)
        .collect()
}

/// Every version of one cadence, oldest first.
pub async fn versions(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Vec<VersionRecord>, StoreError> {
    versions_under(table, tenant, format!("{CADENCE_VERSION_PREFIX}{id}#")).await
}

/// Every version of every cadence of the tenant (deleted cadences' too).
pub async fn all_versions(
    table: &Table,
    tenant: &TenantId,
) -> Result<Vec<VersionRecord>, StoreError> {
    versions_under(table, tenant, CADENCE_VERSION_PREFIX.to_string()).await
}

/// Moves one version's enrolled count; fails if the version does not exist.
pub fn count_enrolled_version(
    table: &Table,
    tenant: &TenantId,
    id: &str,
    version: u32,
    delta: i64,
) -> Result<TransactWriteItem, StoreError> {
    let condition = Condition::new("attribute_exists(PK)")
        .name("#enrolled", VERSION_ENROLLED)
        .value(":delta", AttributeValue::N(delta.to_string()));
    table.update(
        &tenant_pk(tenant),
        &cadence_version_sk(id, version),
        "ADD #enrolled :delta",
        condition,
    )
}

/// The counter writes of enrolment moves summed per counter.
pub fn count_enrolments(
    table: &Table,
    tenant: &TenantId,
    deltas: &EnrolmentDeltas,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut writes = Vec::new();
    for (id, delta) in deltas.cadences.iter().filter(|(_, d)| **d != 0) {
        writes.push(count_enrolled(table, tenant, id, *delta)?);
    }
    for ((id, version), delta) in deltas.versions.iter().filter(|(_, d)| **d != 0) {
        writes.push(count_enrolled_version(table, tenant, id, *version, *delta)?);
    }
    Ok(writes)
}
