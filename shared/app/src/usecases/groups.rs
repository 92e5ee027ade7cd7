//! Customer groups: settings their members inherit. Members join through
//! the customer's `group_id`; a group's settings are copied onto each member
//! so a customer read stays one request.

use super::{stale, valid_id, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{
    CustomerFilter, CustomerQuery, CustomerSort, Page, PageRequest, StoreError, Write,
};
use chrono::{DateTime, Utc};
use domain::group::{CustomerGroup, GroupChanges};
use domain::identity::{Caller, Permission, TenantId};

/// Members are read this many per page when settings are copied to them.
const MEMBERS_PER_PAGE: usize = 200;

fn group_in_use() -> AppError {
    AppError::conflict(
        "group_has_members",
        "the group has customers; move them out first",
    )
}

async fn load(context: &Context, tenant: &TenantId, id: &str) -> AppResult<CustomerGroup> {
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    context
        .store
        .group(tenant, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A new group.
pub fn create(
    context: &Context,
    caller: &Caller,
    changes: &GroupChanges,
    now: DateTime<Utc>,
) -> AppResult<Change<CustomerGroup>> {
    require(caller, Permission::ManageRecords)?;
    let group = changes.create(context.ids.new_id(now), now);
    let writes = vec![Write::SaveGroup {
        group: Box::new(group.clone()),
        expected_version: 0,
    }];
    Ok(Change::new(writes, group, stale))
}

pub async fn get(context: &Context, caller: &Caller, id: &str) -> AppResult<CustomerGroup> {
    require(caller, Permission::Read)?;
    load(context, &caller.tenant, id).await
}

pub async fn list(
    context: &Context,
    caller: &Caller,
    page: PageRequest,
) -> AppResult<Page<CustomerGroup>> {
    require(caller, Permission::Read)?;
    Ok(context.store.groups(&caller.tenant, page).await?)
}

/// The group after a PATCH, and whether its settings changed (then the
/// caller copies them to the members with [`copy_settings_to_members`]
/// once the group is saved).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupUpdate {
    pub group: CustomerGroup,
    pub settings_changed: bool,
}

/// Applies the changes of a PATCH to the group at `expected_version`.
pub async fn update(
    context: &Context,
    caller: &Caller,
    id: &str,
    changes: &GroupChanges,
    expected_version: u64,
    now: DateTime<Utc>,
) -> AppResult<Change<GroupUpdate>> {
    require(caller, Permission::ManageRecords)?;
    let current = load(context, &caller.tenant, id).await?;
    if current.version != expected_version {
        return Err(AppError::stale_version());
    }
    let next = changes.apply(&current, now);
    let writes = vec![Write::SaveGroup {
        group: Box::new(next.clone()),
        expected_version,
    }];
    let update = GroupUpdate {
        settings_changed: next.settings != current.settings,
        group: next,
    };
    Ok(Change::new(writes, update, stale))
}

/// Copies the group's settings onto every member, one small conditional
/// write per member; a customer that left the group meanwhile is skipped.
pub async fn copy_settings_to_members(
    context: &Context,
    tenant: &TenantId,
    group: &CustomerGroup,
) -> AppResult<()> {
    let mut query = CustomerQuery {
        filters: vec![CustomerFilter::Group(group.id.clone())],
        search: None,
        sort: CustomerSort::Name,
        page: PageRequest {
            limit: MEMBERS_PER_PAGE,
            cursor: None,
        },
    };
    loop {
        let members = context.store.list_customers(tenant, query.clone()).await?;
        for member in members.items {
            let write = Write::PushGroupSettings {
                group_id: group.id.clone(),
                customer_id: member.id,
                settings: Box::new(group.settings.clone()),
            };
            match context.store.commit(tenant, vec![write]).await {
                // The customer left the group meanwhile: nothing to copy.
                Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        match members.next_cursor {
            Some(cursor) => query.page.cursor = Some(cursor),
            None => return Ok(()),
        }
    }
}

/// Deletes a group without members (409 otherwise).
pub async fn delete(context: &Context, caller: &Caller, id: &str) -> AppResult<Change<()>> {
    require(caller, Permission::ManageRecords)?;
    let group = load(context, &caller.tenant, id).await?;
    if group.member_count > 0 {
        return Err(group_in_use());
    }
    let writes = vec![Write::DeleteGroup(Box::new(group))];
    Ok(Change::new(writes, (), group_in_use))
}
