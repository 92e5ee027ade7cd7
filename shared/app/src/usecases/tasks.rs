//! Tasks: create, read, update, list, complete and reschedule.
//!
//! A task shows its customer's name, open invoice count, overdue amount and
//! phone numbers, read from the customer record with the task (one batch per
//! page), so they are as current as the customer.

use super::{valid_id, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult, CONCURRENT_UPDATE};
use crate::ports::{Page, TaskQuery, Write};
use crate::records::{StoredCustomer, TaskFound};
use chrono::{DateTime, NaiveDate, Utc};
use domain::identity::{Caller, Permission, TenantId};
use domain::task::{Completion, CustomerFacts, Task, TaskChanges};
use domain::validation::FieldErrors;
use std::collections::BTreeSet;

/// A write that lost a race with another write to the same customer or task
/// (without a client-supplied version) is read again and retried this often.
pub const ATTEMPTS: u32 = 4;

pub const CUSTOMER_CHANGED: &str = "customer_changed";
pub const TASK_CHANGED: &str = "task_changed";

pub fn customer_changed() -> AppError {
    AppError::conflict(
        CUSTOMER_CHANGED,
        "the customer changed while this was being saved; retry",
    )
}

pub fn task_changed() -> AppError {
    AppError::conflict(
        TASK_CHANGED,
        "the task changed while this was being saved; retry",
    )
}

/// Whether a failed commit is worth reading again and retrying (at most
/// [`ATTEMPTS`] in all).
pub fn retryable(error: &AppError) -> bool {
    matches!(
        error,
        AppError::Conflict {
            code: CUSTOMER_CHANGED | TASK_CHANGED | CONCURRENT_UPDATE,
            ..
        }
    )
}

/// A task and what it shows of its customer (`None` if the customer is gone).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDetail {
    pub task: Task,
    pub customer: Option<CustomerFacts>,
}

impl TaskDetail {
    fn of(task: Task, customer: Option<&StoredCustomer>, today: NaiveDate) -> Self {
        Self {
            task,
            customer: customer.map(|stored| CustomerFacts::of(&stored.customer, today)),
        }
    }
}

async fn load(context: &Context, tenant: &TenantId, id: &str) -> AppResult<TaskFound> {
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    context
        .store
        .task(tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The customer record and which of `invoice_ids` are not its invoices
/// (both strongly consistent).
pub async fn customer_and_unknown_invoices(
    context: &Context,
    tenant: &TenantId,
    customer_id: &str,
    invoice_ids: &[String],
) -> AppResult<(Option<StoredCustomer>, Vec<String>)> {
    let unknown = async {
        if invoice_ids.is_empty() {
            Ok(Vec::new())
        } else {
            context
                .store
                .unknown_invoices(tenant, customer_id, invoice_ids)
                .await
        }
    };
    let (customer, unknown) =
        futures::try_join!(context.store.customer(tenant, customer_id), unknown)?;
    Ok((customer, unknown))
}

/// 422 naming each invoice id that is not one of the customer's invoices.
pub fn check_invoices(requested: &[String], unknown: &[String]) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    for (i, id) in requested.iter().enumerate() {
        if unknown.contains(id) {
            errors.add(
                format!("invoice_ids[{i}]"),
                "is not an invoice of this customer",
            );
        }
    }
    Ok(errors.into_result(())?)
}

fn may_change(caller: &Caller, task: &Task) -> AppResult<()> {
    require(
        caller,
        Permission::change_task(caller, task.assignee_id.as_deref()),
    )
}

fn completed_already() -> AppError {
    AppError::conflict(
        "task_completed",
        "the task is completed and can no longer be changed",
    )
}

/// A new task, with its `task_created` history. Write 0 is the
/// customer's; a failed condition on it means [`customer_changed`], on the
/// task [`task_changed`] (both [`retryable`]).
pub async fn create(
    context: &Context,
    caller: &Caller,
    changes: &TaskChanges,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> AppResult<Change<TaskDetail>> {
    require(caller, Permission::CreateNotesAndTasks)?;
    let task = changes
        .create(context.ids.new_id(now), caller.user.as_str(), now)
        .ok_or_else(|| AppError::invalid_field("type", "is required"))?;
    let tenant = &caller.tenant;
    let (customer, unknown) =
        customer_and_unknown_invoices(context, tenant, &task.customer_id, &task.invoice_ids)
            .await?;
    let customer =
        customer.ok_or_else(|| AppError::invalid_field("customer_id", "no such customer"))?;
    check_invoices(&task.invoice_ids, &unknown)?;
    let created = task.created_history(caller.user.as_str(), now);
    let writes = vec![
        Write::RecordHistory {
            stored: Box::new(customer.clone()),
            items: vec![created],
        },
        Write::InsertTask(Box::new(task.clone())),
    ];
    let detail = TaskDetail::of(task, Some(&customer), today);
    Ok(Change::new(writes, detail, task_changed).on_conflict(0, customer_changed))
}

pub async fn get(
    context: &Context,
    caller: &Caller,
    id: &str,
    today: NaiveDate,
) -> AppResult<TaskDetail> {
    require(caller, Permission::Read)?;
    let found = load(context, &caller.tenant, id).await?;
    Ok(TaskDetail::of(found.task, found.customer.as_ref(), today))
}

/// The task, if the caller may change it (404, then 403).
pub async fn changeable(context: &Context, caller: &Caller, id: &str) -> AppResult<TaskFound> {
    require(caller, Permission::Read)?;
    let found = load(context, &caller.tenant, id).await?;
    may_change(caller, &found.task)?;
    Ok(found)
}

/// [`changeable`], and still open (409 once completed).
pub async fn open_changeable(context: &Context, caller: &Caller, id: &str) -> AppResult<TaskFound> {
    let found = changeable(context, caller, id).await?;
    if !found.task.is_open() {
        return Err(completed_already());
    }
    Ok(found)
}

/// Applies the changes of a PATCH to a task found by [`changeable`], at
/// `expected_version`.
pub async fn update(
    context: &Context,
    caller: &Caller,
    found: TaskFound,
    changes: &TaskChanges,
    expected_version: u64,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> AppResult<Change<TaskDetail>> {
    may_change(caller, &found.task)?;
    let current = &found.task;
    if !current.is_open() {
        return Err(completed_already());
    }
    if current.version != expected_version {
        return Err(AppError::stale_version());
    }
    let mut customer = found.customer.clone();
    if let Some(invoice_ids) = &changes.invoice_ids {
        let (read, unknown) = customer_and_unknown_invoices(
            context,
            &caller.tenant,
            &current.customer_id,
            invoice_ids,
        )
        .await?;
        check_invoices(invoice_ids, &unknown)?;
        customer = read;
    }
    let next = changes.apply(current, now);
    let writes = vec![Write::ReplaceTask {
        next: Box::new(next.clone()),
        expected_version,
    }];
    let detail = TaskDetail::of(next, customer.as_ref(), today);
    Ok(Change::new(writes, detail, AppError::stale_version))
}

/// Completes a task found by [`open_changeable`], recording
/// `task_completed` on its customer (if it still exists).
pub fn complete(
    caller: &Caller,
    found: TaskFound,
    completion: &Completion,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> AppResult<Change<TaskDetail>> {
    may_change(caller, &found.task)?;
    if !found.task.is_open() {
        return Err(completed_already());
    }
    let user = caller.user.as_str();
    let done = found.task.completed(completion, user, now);
    let mut writes = Vec::new();
    if let Some(customer) = &found.customer {
        writes.push(Write::RecordHistory {
            stored: Box::new(customer.clone()),
            items: vec![done.completed_history(user, now)],
        });
    }
    writes.push(Write::CloseTask {
        completed: Box::new(done.clone()),
        expected_version: found.task.version,
    });
    let has_customer = found.customer.is_some();
    let detail = TaskDetail::of(done, found.customer.as_ref(), today);
    let change = Change::new(writes, detail, task_changed);
    Ok(if has_customer {
        change.on_conflict(0, customer_changed)
    } else {
        change
    })
}

/// Moves a task found by [`open_changeable`] to `due_date`.
pub fn reschedule(
    caller: &Caller,
    found: TaskFound,
    due_date: NaiveDate,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> AppResult<Change<TaskDetail>> {
    may_change(caller, &found.task)?;
    if !found.task.is_open() {
        return Err(completed_already());
    }
    let next = found.task.rescheduled(due_date, now);
    let writes = vec![Write::ReplaceTask {
        next: Box::new(next.clone()),
        expected_version: found.task.version,
    }];
    let detail = TaskDetail::of(next, found.customer.as_ref(), today);
    Ok(Change::new(writes, detail, task_changed))
}

/// One page of tasks, each with its customer's facts (read in one batch).
pub async fn list(
    context: &Context,
    caller: &Caller,
    query: TaskQuery,
    today: NaiveDate,
) -> AppResult<Page<TaskDetail>> {
    require(caller, Permission::Read)?;
    let tenant = &caller.tenant;
    let tasks = context.store.list_tasks(tenant, query).await?;
    let ids: BTreeSet<&str> = tasks.items.iter().map(|t| t.customer_id.as_str()).collect();
    let ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
    let customers = if ids.is_empty() {
        Default::default()
    } else {
        context.store.customers(tenant, &ids, false).await?
    };
    Ok(tasks.map(|task| {
        let customer = customers.get(&task.customer_id);
        TaskDetail::of(task, customer, today)
    }))
}
