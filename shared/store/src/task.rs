//! Tasks in their customer's partition, a pointer per task in the tenant's
//! partition, and three overloaded index partitions for the task lists.
//!
//! - Open task: `T#<tenant>#C#<customer>` / `P#3#TASK#<id>` (the customer
//!   page's range); completed: `X#TASK#<id>`, moved in the completing
//!   transaction.
//! - Pointer: `T#<tenant>` / `TASK#<id>` with `customer_id` and `task_sk`.
//! - GSI1: one assignee's tasks in one status; GSI2: every task of the tenant
//!   in one status; GSI3: one customer's tasks in one status. All sorted by
//!   `<due date>#<id>`, so a list page is one Query of one index partition.

use super::customer;
use super::dynamo::{batch_get, from_item, text_attribute, to_item, Condition, Item, Table};
use super::history::{page, PageQuery, SortCondition};
use super::keys::*;
use app::ports::StoreError;
use app::ports::{AssigneeFilter, Page, TaskQuery};
use app::records::{StoredCustomer, TaskFound};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use domain::identity::TenantId;
use domain::task::{Task, TaskStatus};
use std::collections::HashMap;

const POINTER_CUSTOMER: &str = "customer_id";
const POINTER_SK: &str = "task_sk";

/// The customer records of `ids`, by id (missing ones are left out).
pub async fn customers(
    table: &Table,
    tenant: &TenantId,
    ids: &[String],
    consistent: bool,
) -> Result<HashMap<String, StoredCustomer>, StoreError> {
    let keys: Vec<(String, String)> = ids
        .iter()
        .map(|id| (customer_pk(tenant, id), CUSTOMER_SK.to_string()))
        .collect();
    let mut found = HashMap::new();
    for item in batch_get(table, &keys, consistent).await? {
        let stored = customer::parse(item)?;
        found.insert(stored.customer.id.clone(), stored);
    }
    Ok(found)
}

fn sk_of(task: &Task) -> String {
    match task.status {
        TaskStatus::Open => task_sk(&task.id),
        TaskStatus::Completed => closed_task_sk(&task.id),
    }
}

/// The stored task with the index keys of its lists.
fn item(tenant: &TenantId, task: &Task) -> Result<Item, StoreError> {
    let status = task.status.as_str();
    let due = AttributeValue::S(task_due_sk(task.due_date, &task.id));
    let mut item = to_item(task)?;
    item.insert(
        PK.into(),
        AttributeValue::S(customer_pk(tenant, &task.customer_id)),
    );
    item.insert(SK.into(), AttributeValue::S(sk_of(task)));
    if let Some(assignee) = &task.assignee_id {
        item.insert(
            GSI1PK.into(),
            AttributeValue::S(assignee_tasks_pk(tenant, assignee, status)),
        );
        item.insert(GSI1SK.into(), due.clone());
    }
    item.insert(
        GSI2PK.into(),
        AttributeValue::S(team_tasks_pk(tenant, status)),
    );
    item.insert(GSI2SK.into(), due.clone());
    item.insert(
        GSI3PK.into(),
        AttributeValue::S(customer_tasks_pk(tenant, &task.customer_id, status)),
    );
    item.insert(GSI3SK.into(), due);
    Ok(item)
}

/// A task item as read from any of its ranges (the customer page reads the
/// open ones in its `P#` Query).
pub fn parse(item: Item) -> Result<Task, StoreError> {
    from_item(item)
}

fn pointer(tenant: &TenantId, task: &Task) -> Item {
    [
        (PK.to_string(), AttributeValue::S(tenant_pk(tenant))),
        (SK.to_string(), AttributeValue::S(task_pointer_sk(&task.id))),
        (
            POINTER_CUSTOMER.to_string(),
            AttributeValue::S(task.customer_id.clone()),
        ),
        (POINTER_SK.to_string(), AttributeValue::S(sk_of(task))),
    ]
    .into()
}

/// Writes that store a new task and its pointer. Chasing adds these to its
/// own transaction with the `task_created` history.
pub fn insert(
    table: &Table,
    tenant: &TenantId,
    task: &Task,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    Ok(vec![
        table.put(item(tenant, task)?, Some(Condition::absent()))?,
        table.put(pointer(tenant, task), Some(Condition::absent()))?,
    ])
}

/// Stores `next` in place of the task at `expected_version` (same status).
pub fn replace(
    table: &Table,
    tenant: &TenantId,
    next: &Task,
    expected_version: u64,
) -> Result<TransactWriteItem, StoreError> {
    table.put(
        item(tenant, next)?,
        Some(Condition::version_is(expected_version)),
    )
}

/// Writes that move a task completed at `expected_version` out of the page
/// range: write 0 removes the open item if it is still at that version.
pub fn close(
    table: &Table,
    tenant: &TenantId,
    completed: &Task,
    expected_version: u64,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let pk = customer_pk(tenant, &completed.customer_id);
    let moved = Condition::new("attribute_exists(PK)")
        .value(":sk", AttributeValue::S(closed_task_sk(&completed.id)));
    Ok(vec![
        table.delete(
            &pk,
            &task_sk(&completed.id),
            Some(Condition::version_is(expected_version)),
        )?,
        table.put(item(tenant, completed)?, Some(Condition::absent()))?,
        table.update(
            &tenant_pk(tenant),
            &task_pointer_sk(&completed.id),
            "SET task_sk = :sk",
            moved,
        )?,
    ])
}

/// Finds a task by id: the pointer, then task and customer in one batch.
/// A completion can move the task between the two reads; the pointer is
/// then read again.
pub async fn find(
    table: &Table,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<TaskFound>, StoreError> {
    for _ in 0..3 {
        let Some(pointer) = table.get(&tenant_pk(tenant), &task_pointer_sk(id)).await? else {
            return Ok(None);
        };
        let (Some(customer_id), Some(sk)) = (
            text_attribute(&pointer, POINTER_CUSTOMER),
            text_attribute(&pointer, POINTER_SK),
        ) else {
            return Err(StoreError::Malformed(format!("task pointer {id}")));
        };
        let pk = customer_pk(tenant, customer_id);
        let keys = [(pk.clone(), sk.to_string()), (pk, CUSTOMER_SK.to_string())];
        let mut task = None;
        let mut customer = None;
        for item in batch_get(table, &keys, true).await? {
            if text_attribute(&item, SK) == Some(CUSTOMER_SK) {
                customer = Some(customer::parse(item)?);
            } else {
                task = Some(parse(item)?);
            }
        }
        if let Some(task) = task {
            return Ok(Some(TaskFound { task, customer }));
        }
    }
    Err(StoreError::Unavailable(format!(
        "task {id} kept moving while being read"
    )))
}

/// The index partition a page is read from: a customer's tasks when a
/// customer is named, else the assignee's, else the whole team's.
fn partition(
    query: &TaskQuery,
    tenant: &TenantId,
) -> (&'static str, &'static str, &'static str, String) {
    let status = query.status.as_str();
    match (&query.customer_id, &query.assignee) {
        (Some(customer), _) => (
            GSI3,
            GSI3PK,
            GSI3SK,
            customer_tasks_pk(tenant, customer, status),
        ),
        (None, AssigneeFilter::User(user)) => (
            GSI1,
            GSI1PK,
            GSI1SK,
            assignee_tasks_pk(tenant, user, status),
        ),
        (None, AssigneeFilter::All) => (GSI2, GSI2PK, GSI2SK, team_tasks_pk(tenant, status)),
    }
}

/// One page of tasks by due date: soonest first when open, latest first
/// when completed.
pub async fn list(
    table: &Table,
    tenant: &TenantId,
    query: TaskQuery,
) -> Result<Page<Task>, StoreError> {
    let (index, key, sort_key, partition) = partition(&query, tenant);
    let start = crate::cursor::decode(query.page.cursor.as_deref(), (key, &partition))?;
    let key_attributes: &'static [&'static str] = match index {
        GSI1 => &[PK, SK, GSI1PK, GSI1SK],
        GSI2 => &[PK, SK, GSI2PK, GSI2SK],
        _ => &[PK, SK, GSI3PK, GSI3SK],
    };
    // Only a customer's list is narrowed by assignee; it is small.
    let filter = match (&query.customer_id, &query.assignee) {
        (Some(_), AssigneeFilter::User(user)) => Some(
            Condition::new("#assignee = :assignee")
                .name("#assignee", "assignee_id")
                .value(":assignee", AttributeValue::S(user.clone())),
        ),
        _ => None,
    };
    let (items, last_key) = page(
        table,
        PageQuery {
            index: Some(index),
            partition: (key, partition),
            sort: query
                .due_before
                .map(|date| SortCondition::Before(sort_key, date.format("%Y-%m-%d").to_string())),
            descending: query.status == TaskStatus::Completed,
            limit: query.page.limit,
            start,
            filter,
            consistent: false,
            key_attributes,
        },
    )
    .await?;
    let tasks = items.into_iter().map(parse).collect::<Result<_, _>>()?;
    Ok(Page {
        items: tasks,
        next_cursor: last_key.as_ref().and_then(crate::cursor::encode),
    })
}
