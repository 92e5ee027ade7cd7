//! Each [`Write`] as the DynamoDB store performs it: the items it touches
//! (one name per item of the DynamoDB store's table, to count them and to
//! refuse a transaction that touches one item twice; the key layout itself
//! is the store's alone), the condition it carries, and its effect.
//!
//! Conditions are evaluated against the state before the transaction, as
//! DynamoDB does; effects are applied only once every condition held.

use super::listing::{entry_keys, list_copy};
use super::state::{Pointer, Tenant};
use app::ports::Write;
// `Write::ClaimIdempotencyKey` carries no "now": the claim is taken to be
// made `IDEMPOTENCY_RETENTION_SECONDS` before the new record's expiry, which
// is how the API sets it and how the DynamoDB store judges it.
use app::records::{ChaseKey, ChaseStatus, StoredCustomer, IDEMPOTENCY_RETENTION_SECONDS};
use domain::cadence::MAX_CADENCES_PER_TENANT;
use domain::history::push_recent;
use domain::task::TaskStatus;
use std::collections::BTreeSet;

const TENANT: &str = "tenant";

fn customer_item(customer_id: &str, sort_key: &str) -> String {
    format!("customer {customer_id}: {sort_key}")
}

fn tenant_item(sort_key: &str) -> String {
    format!("{TENANT}: {sort_key}")
}

const CUSTOMER_SK: &str = "record";

fn contact_sk(id: &str) -> String {
    format!("contact {id}")
}

fn invoice_sk(id: &str, open: bool) -> String {
    if open {
        format!("open invoice {id}")
    } else {
        format!("closed invoice {id}")
    }
}

fn task_sk(id: &str, status: TaskStatus) -> String {
    match status {
        TaskStatus::Open => format!("open task {id}"),
        TaskStatus::Completed => format!("completed task {id}"),
    }
}

fn history_sk(id: &str) -> String {
    format!("history {id}")
}

fn note_sk(id: &str) -> String {
    format!("note {id}")
}

fn payment_sk(id: &str) -> String {
    format!("payment {id}")
}

fn adjustment_sk(id: &str) -> String {
    format!("adjustment {id}")
}

fn promise_sk(id: &str) -> String {
    format!("promise {id}")
}

fn chase_sk(key: &ChaseKey) -> String {
    format!("chase {:?} {} {}", key.invoice_id, key.cycle, key.step)
}

fn listing_sk(key: &str) -> String {
    format!("list entry {key}")
}

const CADENCE_COUNT_SK: &str = "cadence count";

fn version_sk(id: &str, version: u32) -> String {
    format!("cadence {id} version {version}")
}

/// The items `write` touches, by table key.
pub(crate) fn items(write: &Write) -> Vec<String> {
    match write {
        Write::PutCustomer { next, previous } => {
            let record = customer_item(&next.id, CUSTOMER_SK);
            let keep: BTreeSet<String> = entry_keys(next).into_iter().collect();
            let stale = previous
                .iter()
                .flat_map(|p| entry_keys(&p.customer))
                .filter(|key| !keep.contains(key));
            std::iter::once(record)
                .chain(stale.map(|key| customer_item(&next.id, &listing_sk(&key))))
                .chain(
                    entry_keys(next)
                        .into_iter()
                        .map(|key| customer_item(&next.id, &listing_sk(&key))),
                )
                .collect()
        }
        Write::UpdateChasing { next, .. } => vec![customer_item(&next.id, CUSTOMER_SK)],
        Write::RecordHistory { stored, items } => {
            std::iter::once(customer_item(&stored.customer.id, CUSTOMER_SK))
                .chain(
                    items
                        .iter()
                        .map(|item| customer_item(&item.customer_id, &history_sk(&item.id))),
                )
                .collect()
        }
        Write::DeleteCustomer { stored } => {
            let id = &stored.customer.id;
            std::iter::once(customer_item(id, CUSTOMER_SK))
                .chain(
                    entry_keys(&stored.customer)
                        .into_iter()
                        .map(|key| customer_item(id, &listing_sk(&key))),
                )
                .chain(std::iter::once(tenant_item(&format!(
                    "customer number {}",
                    stored.customer.number
                ))))
                .collect()
        }
        Write::ReserveCustomerNumber { number, .. } | Write::ReleaseCustomerNumber { number } => {
            vec![tenant_item(&format!("customer number {number}"))]
        }
        Write::History(item) => vec![customer_item(&item.customer_id, &history_sk(&item.id))],
        Write::SaveInvoice { next, previous } => {
            let invoice = &next.invoice;
            let sk = invoice_sk(&invoice.id, invoice.is_open());
            let mut items = vec![customer_item(&invoice.customer_id, &sk)];
            if let Some(previous) = previous {
                let old = invoice_sk(&previous.invoice.id, previous.invoice.is_open());
                if old != sk {
                    items.push(customer_item(&invoice.customer_id, &old));
                }
            }
            items.push(tenant_item(&format!("invoice pointer {}", invoice.id)));
            items
        }
        Write::ReserveInvoiceNumber { number, .. } | Write::ReleaseInvoiceNumber { number } => {
            vec![tenant_item(&format!("invoice number {number}"))]
        }
        Write::InsertPayment(payment) => {
            vec![customer_item(
                &payment.customer_id,
                &payment_sk(&payment.id),
            )]
        }
        Write::InsertAdjustment(adjustment) => vec![customer_item(
            &adjustment.customer_id,
            &adjustment_sk(&adjustment.id),
        )],
        Write::PutPromise(promise) => {
            vec![customer_item(
                &promise.customer_id,
                &promise_sk(&promise.id),
            )]
        }
        Write::InsertTask(task) => vec![
            customer_item(&task.customer_id, &task_sk(&task.id, task.status)),
            tenant_item(&format!("task pointer {}", task.id)),
        ],
        Write::ReplaceTask { next, .. } => {
            vec![customer_item(
                &next.customer_id,
                &task_sk(&next.id, next.status),
            )]
        }
        Write::CloseTask { completed, .. } => vec![
            customer_item(
                &completed.customer_id,
                &task_sk(&completed.id, TaskStatus::Open),
            ),
            customer_item(
                &completed.customer_id,
                &task_sk(&completed.id, completed.status),
            ),
            tenant_item(&format!("task pointer {}", completed.id)),
        ],
        Write::InsertNote(note) => vec![customer_item(&note.customer_id, &note_sk(&note.id))],
        Write::PutDocument(document) => vec![customer_item(
            &document.customer_id,
            &format!("document {}", document.id),
        )],
        Write::SaveContact { contact, .. } | Write::DeleteContact { contact } => {
            vec![customer_item(
                &contact.customer_id,
                &contact_sk(&contact.id),
            )]
        }
        Write::CountRoleUse { role_id, .. } => {
            vec![tenant_item(&format!("contact role {role_id}"))]
        }
        Write::CreateContactRole(role) | Write::DeleteContactRole(role) => vec![
            tenant_item(&format!("contact role {}", role.id)),
            tenant_item(&format!("contact role name {}", role.unique_name())),
        ],
        Write::SaveGroup { group, .. } => vec![tenant_item(&format!("group {}", group.id))],
        Write::CountGroupMember { group_id, .. } => {
            vec![tenant_item(&format!("group {group_id}"))]
        }
        Write::DeleteGroup(group) => vec![tenant_item(&format!("group {}", group.id))],
        Write::PushGroupSettings { customer_id, .. } => {
            vec![customer_item(customer_id, CUSTOMER_SK)]
        }
        Write::SaveTemplate { record, .. } | Write::DeleteTemplate(record) => {
            vec![tenant_item(&format!("template {}", record.template.id))]
        }
        Write::SaveCadence { record, .. } => {
            let id = &record.cadence.id;
            vec![
                tenant_item(&format!("cadence {id}")),
                tenant_item(&version_sk(id, record.cadence.version)),
                tenant_item(&format!("cadence assignment {id}")),
            ]
        }
        Write::CountCadences { .. } => vec![tenant_item(CADENCE_COUNT_SK)],
        Write::DeleteCadence { id } => vec![
            tenant_item(&format!("cadence {id}")),
            tenant_item(CADENCE_COUNT_SK),
            tenant_item(&format!("cadence assignment {id}")),
        ],
        Write::CountEnrolments(deltas) => deltas
            .cadences
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .map(|(id, _)| tenant_item(&format!("cadence {id}")))
            .chain(
                deltas
                    .versions
                    .iter()
                    .filter(|(_, delta)| **delta != 0)
                    .map(|((id, version), _)| tenant_item(&version_sk(id, *version))),
            )
            .collect(),
        Write::SaveSettings { .. } => vec![tenant_item("SETTINGS")],
        Write::ClaimChase(chase) => {
            vec![customer_item(&chase.customer_id, &chase_sk(&chase.key()))]
        }
        Write::AdvanceChase { key, .. } => {
            vec![customer_item(&key.customer_id, &chase_sk(key))]
        }
        Write::ClaimIdempotencyKey { key_hash, .. } => {
            vec![tenant_item(&format!("idempotency key {key_hash}"))]
        }
        Write::PutPortalToken { token_hash, .. } | Write::DeletePortalToken { token_hash } => {
            vec![format!("portal token {token_hash}")]
        }
        Write::RecordPortalVisit { customer_id, .. } => {
            vec![customer_item(customer_id, "portal visit")]
        }
    }
}

/// DynamoDB's `version_is`: 0 means "never stored".
fn version_is(stored: Option<u64>, expected: u64) -> bool {
    if expected == 0 {
        stored.is_none()
    } else {
        stored == Some(expected)
    }
}

fn revision_is(tenant: &Tenant, customer_id: &str, revision: u64) -> bool {
    tenant
        .record(customer_id)
        .is_some_and(|stored| stored.revision == revision)
}

/// Whether the condition of `write` holds in `tenant`.
pub(crate) fn holds(tenant: &Tenant, write: &Write) -> bool {
    match write {
        Write::PutCustomer { next, previous } => match previous {
            None => tenant.record(&next.id).is_none(),
            Some(previous) => revision_is(tenant, &next.id, previous.revision),
        },
        Write::UpdateChasing { stored, next } => revision_is(tenant, &next.id, stored.revision),
        Write::DeleteCustomer { stored } => {
            revision_is(tenant, &stored.customer.id, stored.revision)
        }
        Write::RecordHistory { stored, items } => {
            revision_is(tenant, &stored.customer.id, stored.revision)
                && items.iter().all(|item| {
                    !tenant
                        .partition(&item.customer_id)
                        .history
                        .contains_key(&item.id)
                })
        }
        Write::ReleaseCustomerNumber { .. }
        | Write::ReleaseInvoiceNumber { .. }
        | Write::PutPromise(_) => true,
        Write::ReserveCustomerNumber { number, .. } => {
            !tenant.customer_numbers.contains_key(number)
        }
        Write::History(item) => !tenant
            .partition(&item.customer_id)
            .history
            .contains_key(&item.id),
        Write::SaveInvoice { next, previous } => {
            let invoice = &next.invoice;
            let partition = tenant.partition(&invoice.customer_id);
            match previous {
                None => !partition
                    .invoices(invoice.is_open())
                    .contains_key(&invoice.id),
                Some(previous) => version_is(
                    partition
                        .invoices(previous.invoice.is_open())
                        .get(&invoice.id)
                        .map(|r| r.version),
                    previous.version,
                ),
            }
        }
        Write::ReserveInvoiceNumber { number, .. } => !tenant.invoice_numbers.contains_key(number),
        Write::InsertPayment(payment) => !tenant
            .partition(&payment.customer_id)
            .payments
            .contains_key(&payment.id),
        Write::InsertAdjustment(adjustment) => !tenant
            .partition(&adjustment.customer_id)
            .adjustments
            .contains_key(&adjustment.id),
        Write::InsertTask(task) => {
            !tenant
                .partition(&task.customer_id)
                .tasks(task.status)
                .contains_key(&task.id)
                && !tenant.task_pointers.contains_key(&task.id)
        }
        Write::ReplaceTask {
            next,
            expected_version,
        } => version_is(
            tenant
                .partition(&next.customer_id)
                .tasks(next.status)
                .get(&next.id)
                .map(|t| t.version),
            *expected_version,
        ),
        Write::CloseTask {
            completed,
            expected_version,
        } => {
            let partition = tenant.partition(&completed.customer_id);
            version_is(
                partition
                    .tasks(TaskStatus::Open)
                    .get(&completed.id)
                    .map(|t| t.version),
                *expected_version,
            ) && !partition
                .tasks(completed.status)
                .contains_key(&completed.id)
                && tenant.task_pointers.contains_key(&completed.id)
        }
        Write::InsertNote(note) => !tenant
            .partition(&note.customer_id)
            .notes
            .contains_key(&note.id),
        Write::PutDocument(_) => true,
        Write::SaveContact {
            contact,
            expected_version,
        } => version_is(
            tenant
                .partition(&contact.customer_id)
                .contacts
                .get(&contact.id)
                .map(|c| c.version),
            *expected_version,
        ),
        Write::DeleteContact { contact } => version_is(
            tenant
                .partition(&contact.customer_id)
                .contacts
                .get(&contact.id)
                .map(|c| c.version),
            contact.version,
        ),
        Write::CountRoleUse { role_id, .. } => tenant.roles.contains_key(role_id),
        Write::CreateContactRole(role) => {
            !tenant.roles.contains_key(&role.id)
                && !tenant.role_names.contains_key(&role.unique_name())
        }
        Write::DeleteContactRole(role) => tenant
            .roles
            .get(&role.id)
            .is_some_and(|(_, in_use)| *in_use == 0),
        Write::SaveGroup {
            group,
            expected_version,
        } => version_is(
            tenant.groups.get(&group.id).map(|(g, _)| g.version),
            *expected_version,
        ),
        Write::CountGroupMember { group_id, .. } => tenant.groups.contains_key(group_id),
        // No version condition: an empty group goes whatever was read of it.
        Write::DeleteGroup(group) => tenant
            .groups
            .get(&group.id)
            .is_some_and(|(_, members)| *members == 0),
        Write::PushGroupSettings {
            group_id,
            customer_id,
            ..
        } => tenant
            .record(customer_id)
            .is_some_and(|stored| stored.customer.group_id.as_deref() == Some(group_id.as_str())),
        Write::SaveTemplate {
            record,
            expected_version,
        } => version_is(
            tenant
                .templates
                .get(&record.template.id)
                .map(|r| u64::from(r.template.version)),
            u64::from(*expected_version),
        ),
        Write::DeleteTemplate(record) => version_is(
            tenant
                .templates
                .get(&record.template.id)
                .map(|r| u64::from(r.template.version)),
            u64::from(record.template.version),
        ),
        Write::SaveCadence {
            record,
            previous_version,
            unenrolled,
        } => {
            let id = &record.cadence.id;
            let snapshot_free = !tenant
                .cadence_versions
                .contains_key(&(id.clone(), record.cadence.version));
            let current = tenant.cadences.get(id);
            let saved = if *previous_version == 0 {
                current.is_none()
            } else {
                current.is_some_and(|(stored, enrolled)| {
                    stored.cadence.version == *previous_version && (!unenrolled || *enrolled == 0)
                })
            };
            saved && snapshot_free
        }
        // As DynamoDB's `attribute_not_exists(count) OR count < max`: any
        // increase (even one passing the limit) goes while below it; a
        // decrease needs the counter to exist.
        Write::CountCadences { delta } => {
            if *delta < 0 {
                tenant.cadence_count.is_some()
            } else {
                let limit = i64::try_from(MAX_CADENCES_PER_TENANT).unwrap_or(i64::MAX);
                tenant.cadence_count.is_none_or(|count| count < limit)
            }
        }
        Write::DeleteCadence { id } => {
            tenant
                .cadences
                .get(id)
                .is_some_and(|(_, enrolled)| *enrolled == 0)
                && tenant.cadence_count.is_some()
        }
        Write::CountEnrolments(deltas) => {
            deltas
                .cadences
                .iter()
                .filter(|(_, delta)| **delta != 0)
                .all(|(id, _)| tenant.cadences.contains_key(id))
                && deltas
                    .versions
                    .iter()
                    .filter(|(_, delta)| **delta != 0)
                    .all(|(key, _)| tenant.cadence_versions.contains_key(key))
        }
        Write::SaveSettings {
            expected_version, ..
        } => version_is(
            tenant.settings.as_ref().map(|s| s.version),
            *expected_version,
        ),
        Write::ClaimChase(chase) => {
            let stored = tenant
                .partition(&chase.customer_id)
                .chases
                .get(&super::state::chase_slot(&chase.key()));
            stored.is_none_or(|stored| {
                stored.status == ChaseStatus::Claimed
                    && stored.owner_message_id == chase.owner_message_id
                    && stored.owner_receive_count < chase.owner_receive_count
            })
        }
        Write::AdvanceChase { key, from, .. } => tenant
            .partition(&key.customer_id)
            .chases
            .get(&super::state::chase_slot(key))
            .is_some_and(|chase| chase.status == *from),
        Write::ClaimIdempotencyKey { key_hash, record } => {
            let now = record.expires_at - IDEMPOTENCY_RETENTION_SECONDS;
            tenant
                .idempotency
                .get(key_hash)
                .is_none_or(|stored| stored.expires_at <= now)
        }
        Write::PutPortalToken { token_hash, .. } => !tenant.portal_tokens.contains_key(token_hash),
        Write::DeletePortalToken { .. } => true,
        Write::RecordPortalVisit { customer_id, visit } => tenant
            .customers
            .get(customer_id)
            .and_then(|p| p.portal_visit)
            .is_none_or(|last| last.on != visit.on),
    }
}

fn add(counter: &mut i64, delta: i64) {
    *counter = counter.saturating_add(delta);
}

fn signed(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Applies `write` (its condition held).
pub(crate) fn apply(tenant: &mut Tenant, write: Write) {
    match write {
        Write::PutCustomer { next, previous } => {
            let revision = previous.as_ref().map_or(0, |p| p.revision) + 1;
            let partition = tenant.partition_mut(&next.id);
            let keep = entry_keys(&next);
            // Stale entries are those of the customer the put was
            // conditioned on (not whatever entries exist), as DynamoDB's.
            if let Some(previous) = &previous {
                for stale in entry_keys(&previous.customer) {
                    if !keep.contains(&stale) {
                        partition.entries.remove(&stale);
                    }
                }
            }
            let copy = list_copy(&next);
            for key in keep {
                partition.entries.insert(key, copy.clone());
            }
            partition.record = Some(StoredCustomer {
                customer: *next,
                revision,
            });
        }
        Write::UpdateChasing { next, .. } => {
            if let Some(stored) = tenant.partition_mut(&next.id).record.as_mut() {
                let customer = &mut stored.customer;
                customer.cycle = next.cycle;
                customer.invoice_cycles = next.invoice_cycles;
                customer.last_evaluated_at = next.last_evaluated_at;
                customer.next_evaluation_at = next.next_evaluation_at;
                stored.revision += 1;
            }
        }
        Write::RecordHistory { stored, items } => {
            // From the copy read: the condition made sure it is the stored one.
            let mut recent = stored.customer.recent_history.clone();
            push_recent(&mut recent, &items);
            if let Some(current) = tenant.partition_mut(&stored.customer.id).record.as_mut() {
                current.customer.recent_history = recent;
                current.revision += 1;
            }
            for item in items {
                tenant
                    .partition_mut(&item.customer_id)
                    .history
                    .insert(item.id.clone(), item);
            }
        }
        Write::DeleteCustomer { stored } => {
            let partition = tenant.partition_mut(&stored.customer.id);
            partition.record = None;
            for key in entry_keys(&stored.customer) {
                partition.entries.remove(&key);
            }
            tenant.customer_numbers.remove(&stored.customer.number);
        }
        Write::ReserveCustomerNumber {
            number,
            customer_id,
        } => {
            tenant.customer_numbers.insert(number, customer_id);
        }
        Write::ReleaseCustomerNumber { number } => {
            tenant.customer_numbers.remove(&number);
        }
        Write::History(item) => {
            tenant
                .partition_mut(&item.customer_id)
                .history
                .insert(item.id.clone(), *item);
        }
        Write::SaveInvoice { next, previous } => {
            let id = next.invoice.id.clone();
            let customer_id = next.invoice.customer_id.clone();
            let open = next.invoice.is_open();
            let partition = tenant.partition_mut(&customer_id);
            if let Some(previous) = previous {
                partition
                    .invoices_mut(previous.invoice.is_open())
                    .remove(&id);
            }
            partition.invoices_mut(open).insert(id.clone(), *next);
            tenant
                .invoice_pointers
                .insert(id, Pointer { customer_id, open });
        }
        Write::ReserveInvoiceNumber { number, invoice_id } => {
            tenant.invoice_numbers.insert(number, invoice_id);
        }
        Write::ReleaseInvoiceNumber { number } => {
            tenant.invoice_numbers.remove(&number);
        }
        Write::InsertPayment(payment) => {
            tenant
                .partition_mut(&payment.customer_id)
                .payments
                .insert(payment.id.clone(), *payment);
        }
        Write::InsertAdjustment(adjustment) => {
            tenant
                .partition_mut(&adjustment.customer_id)
                .adjustments
                .insert(adjustment.id.clone(), *adjustment);
        }
        Write::PutPromise(promise) => {
            tenant
                .partition_mut(&promise.customer_id)
                .promises
                .insert(promise.id.clone(), *promise);
        }
        Write::InsertTask(task) => {
            tenant.task_pointers.insert(
                task.id.clone(),
                Pointer {
                    customer_id: task.customer_id.clone(),
                    open: task.status == TaskStatus::Open,
                },
            );
            tenant
                .partition_mut(&task.customer_id)
                .tasks_mut(task.status)
                .insert(task.id.clone(), *task);
        }
        Write::ReplaceTask { next, .. } => {
            tenant
                .partition_mut(&next.customer_id)
                .tasks_mut(next.status)
                .insert(next.id.clone(), *next);
        }
        Write::CloseTask { completed, .. } => {
            if let Some(pointer) = tenant.task_pointers.get_mut(&completed.id) {
                pointer.open = false;
            }
            let partition = tenant.partition_mut(&completed.customer_id);
            partition.tasks_mut(TaskStatus::Open).remove(&completed.id);
            partition
                .tasks_mut(completed.status)
                .insert(completed.id.clone(), *completed);
        }
        Write::InsertNote(note) => {
            tenant
                .partition_mut(&note.customer_id)
                .notes
                .insert(note.id.clone(), *note);
        }
        Write::PutDocument(document) => {
            tenant
                .partition_mut(&document.customer_id)
                .documents
                .insert(document.id.clone(), *document);
        }
        Write::SaveContact { contact, .. } => {
            tenant
                .partition_mut(&contact.customer_id)
                .contacts
                .insert(contact.id.clone(), *contact);
        }
        Write::DeleteContact { contact } => {
            tenant
                .partition_mut(&contact.customer_id)
                .contacts
                .remove(&contact.id);
        }
        Write::CountRoleUse { role_id, delta } => {
            if let Some((_, in_use)) = tenant.roles.get_mut(&role_id) {
                add(in_use, delta);
            }
        }
        Write::CreateContactRole(role) => {
            tenant
                .role_names
                .insert(role.unique_name(), role.id.clone());
            tenant.roles.insert(role.id.clone(), (*role, 0));
        }
        Write::DeleteContactRole(role) => {
            tenant.roles.remove(&role.id);
            tenant.role_names.remove(&role.unique_name());
        }
        Write::SaveGroup {
            group,
            expected_version,
        } => match tenant.groups.get_mut(&group.id) {
            Some((stored, _)) if expected_version != 0 => {
                // The member count only moves with members.
                stored.name = group.name;
                stored.settings = group.settings;
                stored.version = group.version;
                stored.updated_at = group.updated_at;
            }
            _ => {
                let members = signed(group.member_count);
                tenant.groups.insert(group.id.clone(), (*group, members));
            }
        },
        Write::CountGroupMember { group_id, delta } => {
            if let Some((_, members)) = tenant.groups.get_mut(&group_id) {
                add(members, delta);
            }
        }
        Write::DeleteGroup(group) => {
            tenant.groups.remove(&group.id);
        }
        Write::PushGroupSettings {
            customer_id,
            settings,
            ..
        } => {
            // The record only: list copies keep what the last put wrote.
            if let Some(stored) = tenant.partition_mut(&customer_id).record.as_mut() {
                stored.customer.group_settings = Some(*settings);
                stored.revision += 1;
            }
        }
        Write::SaveTemplate { record, .. } => {
            tenant.templates.insert(record.template.id.clone(), *record);
        }
        Write::DeleteTemplate(record) => {
            tenant.templates.remove(&record.template.id);
        }
        Write::SaveCadence {
            record,
            previous_version,
            ..
        } => {
            let id = record.cadence.id.clone();
            tenant.cadence_versions.insert(
                (id.clone(), record.cadence.version),
                (record.cadence.clone(), 0),
            );
            match tenant.cadences.get_mut(&id) {
                Some((stored, _)) if previous_version != 0 => {
                    // The enrolment count moves on its own; the document is replaced.
                    stored.cadence = record.cadence;
                    stored.created_at = record.created_at;
                    stored.updated_at = record.updated_at;
                }
                _ => {
                    // Counted against the limit by its own write.
                    let enrolled = signed(record.enrolled_count);
                    tenant.cadences.insert(id, (*record, enrolled));
                }
            }
        }
        Write::CountCadences { delta } => {
            add(tenant.cadence_count.get_or_insert(0), delta);
        }
        Write::DeleteCadence { id } => {
            tenant.cadences.remove(&id);
            if let Some(count) = tenant.cadence_count.as_mut() {
                add(count, -1);
            }
        }
        Write::CountEnrolments(deltas) => {
            for (id, delta) in deltas.cadences {
                if let Some((_, enrolled)) = tenant.cadences.get_mut(&id) {
                    add(enrolled, delta);
                }
            }
            for (key, delta) in deltas.versions {
                if let Some((_, enrolled)) = tenant.cadence_versions.get_mut(&key) {
                    add(enrolled, delta);
                }
            }
        }
        Write::SaveSettings { settings, .. } => {
            tenant.settings = Some(*settings);
        }
        Write::ClaimChase(chase) => {
            tenant
                .partition_mut(&chase.customer_id)
                .chases
                .insert(super::state::chase_slot(&chase.key()), *chase);
        }
        Write::AdvanceChase {
            key,
            to,
            provider_message_id,
            at,
            ..
        } => {
            if let Some(chase) = tenant
                .partition_mut(&key.customer_id)
                .chases
                .get_mut(&super::state::chase_slot(&key))
            {
                chase.status = to;
                chase.updated_at = at;
                if provider_message_id.is_some() {
                    chase.provider_message_id = provider_message_id;
                }
            }
        }
        Write::ClaimIdempotencyKey { key_hash, record } => {
            tenant.idempotency.insert(key_hash, *record);
        }
        Write::PutPortalToken {
            customer_id,
            token_hash,
        } => {
            tenant.portal_tokens.insert(token_hash, customer_id);
        }
        Write::DeletePortalToken { token_hash } => {
            tenant.portal_tokens.remove(&token_hash);
        }
        Write::RecordPortalVisit { customer_id, visit } => {
            tenant.partition_mut(&customer_id).portal_visit = Some(visit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_zero_means_absent() {
        assert!(version_is(None, 0));
        assert!(!version_is(Some(1), 0));
        assert!(version_is(Some(3), 3));
        assert!(!version_is(None, 3));
    }
}
