//! The single-table key schema. Every key starts with the tenant, so no key
//! built here can reach another tenant's items, with one exception: the
//! portal token lookup ([`portal_token_pk`]), which a debtor's token must
//! find without knowing the tenant. See `infra/README.md`.

use domain::identity::TenantId;

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

/// The sparse "next evaluation time" index (docs/architecture.md, Delivery and idempotency) is spread over this
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

/// The tenant and customer a customer partition key names.
pub fn customer_of_pk(pk: &str) -> Option<app::ports::DueCustomer> {
    let rest = pk.strip_prefix("T#")?;
    let (tenant, customer_id) = rest.split_once("#C#")?;
    Some(app::ports::DueCustomer {
        tenant: TenantId::parse(tenant)?,
        customer_id: customer_id.to_string(),
    })
}

pub const PAGE_PREFIX: &str = "P#";
pub const CUSTOMER_SK: &str = "P#0#CUSTOMER";
pub const CONTACT_PREFIX: &str = "P#1#CONTACT#";

pub fn contact_sk(contact_id: &str) -> String {
    format!("{CONTACT_PREFIX}{contact_id}")
}

/// A customer's last portal visit, in the page range (the page shows it).
pub const PORTAL_VISIT_SK: &str = "P#9#PORTAL_VISIT";

/// Token hash → tenant and customer. The key is a SHA-256 of a 256-bit
/// secret token: only its holder can name it, and it names one customer.
pub fn portal_token_pk(token_hash: &str) -> String {
    format!("PORTAL_TOKEN#{token_hash}")
}

pub const PORTAL_TOKEN_SK: &str = "PORTAL_TOKEN";

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

/// A user id inside a key: `%` and `#` are escaped so no user id can end a
/// key segment early (`sub` claims are not restricted like tenant ids).
pub fn key_part(raw: &str) -> String {
    raw.replace('%', "%25").replace('#', "%23")
}

/// Open tasks live in their customer's page range; completing one moves it
/// to the closed range in the same transaction.
pub const TASK_PREFIX: &str = "P#3#TASK#";
pub const CLOSED_TASK_PREFIX: &str = "X#TASK#";

pub fn task_sk(task_id: &str) -> String {
    format!("{TASK_PREFIX}{task_id}")
}

pub fn closed_task_sk(task_id: &str) -> String {
    format!("{CLOSED_TASK_PREFIX}{task_id}")
}

/// In the tenant's partition: where a task is (customer and current `SK`),
/// so a task id is found with one `GetItem`.
pub fn task_pointer_sk(task_id: &str) -> String {
    format!("TASK#{task_id}")
}

/// GSI1 partition of one assignee's tasks in one status.
pub fn assignee_tasks_pk(tenant: &TenantId, assignee: &str, status: &str) -> String {
    format!("T#{tenant}#TASKS#U#{}#{status}", key_part(assignee))
}

/// GSI2 partition of every task of the tenant in one status.
pub fn team_tasks_pk(tenant: &TenantId, status: &str) -> String {
    format!("T#{tenant}#TASKS#ALL#{status}")
}

/// GSI3 partition of one customer's tasks in one status.
pub fn customer_tasks_pk(tenant: &TenantId, customer_id: &str, status: &str) -> String {
    format!("T#{tenant}#C#{customer_id}#TASKS#{status}")
}

/// The sort key of a task on every task index: due date, then id.
pub fn task_due_sk(due_date: chrono::NaiveDate, task_id: &str) -> String {
    format!("{}#{task_id}", due_date.format("%Y-%m-%d"))
}

pub const DOCUMENT_PREFIX: &str = "DOC#";

pub fn document_sk(document_id: &str) -> String {
    format!("{DOCUMENT_PREFIX}{document_id}")
}

pub const NOTE_PREFIX: &str = "NOTE#";

pub fn note_sk(note_id: &str) -> String {
    format!("{NOTE_PREFIX}{note_id}")
}

pub const OPEN_INVOICE_PREFIX: &str = "P#2#INVOICE#";
pub const CLOSED_INVOICE_PREFIX: &str = "Z#INVOICE#";

/// Open invoices sit in the customer page range; paid and void ones outside it.
pub fn invoice_sk(invoice_id: &str, open: bool) -> String {
    if open {
        format!("{OPEN_INVOICE_PREFIX}{invoice_id}")
    } else {
        format!("{CLOSED_INVOICE_PREFIX}{invoice_id}")
    }
}

/// Finds an invoice's customer from its id alone.
pub fn invoice_pointer_sk(invoice_id: &str) -> String {
    format!("INVOICE#{invoice_id}")
}

pub fn invoice_number_sk(number: &str) -> String {
    format!("UNIQUE#INVOICE_NUMBER#{number}")
}

/// Tenant-wide invoice lists by status, on GSI1, sorted by due date.
pub fn invoice_list_pk(tenant: &TenantId, status: &str) -> String {
    format!("T#{tenant}#INV#{status}")
}

pub const PAYMENT_PREFIX: &str = "PAYMENT#";
pub const ADJUSTMENT_PREFIX: &str = "ADJUSTMENT#";
pub const PROMISE_PREFIX: &str = "PROMISE#";

pub const CADENCE_PREFIX: &str = "CADENCE#";

/// The cadence's current version and counters.
pub fn cadence_sk(cadence_id: &str) -> String {
    format!("{CADENCE_PREFIX}{cadence_id}")
}

/// An immutable snapshot of one version: what enrolled customers run on.
pub fn cadence_version_sk(cadence_id: &str, version: u32) -> String {
    format!("CADENCE_VERSION#{cadence_id}#{version:05}")
}

pub const CADENCE_COUNT_SK: &str = "COUNT#CADENCES";

pub const TEMPLATE_PREFIX: &str = "TEMPLATE#";

pub fn template_sk(template_id: &str) -> String {
    format!("{TEMPLATE_PREFIX}{template_id}")
}

/// A chase's claim: (tenant, customer, cycle, step) identifies it, and an
/// invoice-level one's also names the invoice.
pub fn chase_sk(invoice_id: Option<&str>, cycle: u32, position: u32) -> String {
    match invoice_id {
        None => format!("CHASE#{cycle:06}#{position:03}"),
        Some(invoice) => format!("CHASE#INVOICE#{invoice}#{cycle:06}#{position:03}"),
    }
}

/// Every version snapshot of a cadence sorts under this prefix and its id.
pub const CADENCE_VERSION_PREFIX: &str = "CADENCE_VERSION#";

/// A copy of each cadence whose assignment mode is `always`, so the rules
/// run on every customer write read only those cadences.
pub const CADENCE_ASSIGNMENT_PREFIX: &str = "CADENCE_ASSIGNMENT#";

pub fn cadence_assignment_sk(cadence_id: &str) -> String {
    format!("{CADENCE_ASSIGNMENT_PREFIX}{cadence_id}")
}

/// A tenant's report aggregates (README "Reports") and the markers of the
/// stream records applied to them, in one partition of their own.
pub fn reports_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#RPT")
}

/// Open balances of one currency, customer group and AR specialist (`-`
/// when none; present ones are written `=<id>` so no id can look absent).
pub const REPORT_OPEN_PREFIX: &str = "OPEN#";

pub fn report_open_sk(
    currency: &str,
    group_id: Option<&str>,
    ar_specialist_id: Option<&str>,
) -> String {
    let part =
        |id: Option<&str>| id.map_or_else(|| "-".to_string(), |id| format!("={}", key_part(id)));
    format!(
        "{REPORT_OPEN_PREFIX}{currency}#{}#{}",
        part(group_id),
        part(ar_specialist_id)
    )
}

pub const REPORT_COUNTS_SK: &str = "COUNTS";
pub const REPORT_SENT_PREFIX: &str = "SENT#";
pub const REPORT_INVOICED_PREFIX: &str = "INVOICED#";
pub const REPORT_SCHEDULED_PREFIX: &str = "SCHEDULED#";

/// A monthly aggregate: `<prefix><yyyy-mm>`.
pub fn report_month_sk(prefix: &str, month: chrono::NaiveDate) -> String {
    format!("{prefix}{}", month.format("%Y-%m"))
}

/// Marks a stream record (by sequence number) as applied to the aggregates.
pub const REPORT_APPLIED_PREFIX: &str = "APPLIED#";

pub fn report_applied_sk(sequence_number: &str) -> String {
    format!("{REPORT_APPLIED_PREFIX}{sequence_number}")
}
