//! A customer's contacts, their roles and which one is primary.
//!
//! Every change is one transaction: the contact, its role counts, and the
//! customer record (primary contact, contact phones, contact roles, history),
//! conditioned on both.

use super::customers::load;
use super::{valid_id, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::Write;
use crate::records::StoredCustomer;
use chrono::{DateTime, Utc};
use domain::contact::{Contact, ContactChanges};
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission};
use serde_json::json;

/// A contact and whether it is its customer's primary contact.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactDetail {
    pub contact: Contact,
    pub primary: bool,
}

impl ContactDetail {
    fn of(contact: Contact, customer: &StoredCustomer) -> Self {
        let primary = customer.customer.primary_contact_id.as_deref() == Some(contact.id.as_str());
        Self { contact, primary }
    }
}

/// Every contact of the customer (404 for an unknown customer).
pub async fn list(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
) -> AppResult<Vec<ContactDetail>> {
    require(caller, Permission::Read)?;
    let customer = load(context, &caller.tenant, customer_id).await?;
    let contacts = context.store.contacts(&caller.tenant, customer_id).await?;
    Ok(contacts
        .into_iter()
        .map(|contact| ContactDetail::of(contact, &customer))
        .collect())
}

/// A new contact; the first contact is primary unless the changes say
/// otherwise.
pub async fn create(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    changes: &ContactChanges,
    now: DateTime<Utc>,
) -> AppResult<Change<ContactDetail>> {
    require(caller, Permission::ManageRecords)?;
    let customer = load(context, &caller.tenant, customer_id).await?;
    let id = context.ids.new_id(now);
    let contact = changes.apply(None, &id, customer_id, now)?;
    let primary = changes.primary.or(customer
        .customer
        .primary_contact_id
        .is_none()
        .then_some(true));
    let contacts = context.store.contacts(&caller.tenant, customer_id).await?;
    let edit = Edit {
        customer: &customer,
        contacts: &contacts,
        before: None,
        after: Some(&contact),
        primary,
        kind: HistoryType::ContactCreated,
    };
    let (writes, next, conflicts) = edit.writes(caller, now)?;
    let detail = ContactDetail::of(contact, &next);
    Ok(conflicts.apply(Change::new(writes, detail, concurrent_customer)))
}

/// Applies the changes of a PATCH to the contact at `expected_version`.
pub async fn update(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    contact_id: &str,
    changes: &ContactChanges,
    expected_version: u64,
    now: DateTime<Utc>,
) -> AppResult<Change<ContactDetail>> {
    require(caller, Permission::ManageRecords)?;
    let (customer, contacts, current) =
        load_contact(context, caller, customer_id, contact_id).await?;
    if current.version != expected_version {
        return Err(AppError::stale_version());
    }
    let next_contact = changes.apply(Some(&current), contact_id, customer_id, now)?;
    let edit = Edit {
        customer: &customer,
        contacts: &contacts,
        before: Some(&current),
        after: Some(&next_contact),
        primary: changes.primary,
        kind: HistoryType::ContactUpdated,
    };
    let (writes, next, conflicts) = edit.writes(caller, now)?;
    let detail = ContactDetail::of(next_contact, &next);
    Ok(conflicts.apply(Change::new(writes, detail, concurrent_customer)))
}

pub async fn delete(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    contact_id: &str,
    now: DateTime<Utc>,
) -> AppResult<Change<()>> {
    require(caller, Permission::ManageRecords)?;
    let (customer, contacts, current) =
        load_contact(context, caller, customer_id, contact_id).await?;
    let edit = Edit {
        customer: &customer,
        contacts: &contacts,
        before: Some(&current),
        after: None,
        primary: None,
        kind: HistoryType::ContactDeleted,
    };
    let (writes, _, conflicts) = edit.writes(caller, now)?;
    Ok(conflicts.apply(Change::new(writes, (), concurrent_customer)))
}

/// The customer, all its contacts, and the one named `contact_id`.
async fn load_contact(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    contact_id: &str,
) -> AppResult<(StoredCustomer, Vec<Contact>, Contact)> {
    if !valid_id(contact_id) {
        return Err(AppError::NotFound);
    }
    let customer = load(context, &caller.tenant, customer_id).await?;
    let contacts = context.store.contacts(&caller.tenant, customer_id).await?;
    let contact = contacts
        .iter()
        .find(|c| c.id == contact_id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    Ok((customer, contacts, contact))
}

fn concurrent_customer() -> AppError {
    AppError::concurrent("the customer changed at the same time; retry")
}

/// One contact change: the contact before and after (`None` when created
/// or deleted), among the customer's `contacts` as read.
struct Edit<'a> {
    customer: &'a StoredCustomer,
    contacts: &'a [Contact],
    before: Option<&'a Contact>,
    after: Option<&'a Contact>,
    primary: Option<bool>,
    kind: HistoryType,
}

/// Which write's failed condition means what (anything else: the customer
/// changed at the same time).
struct Conflicts {
    contact: usize,
    /// A role count that failed: the role at that position of the contact's
    /// roles does not exist.
    roles: Vec<(usize, usize)>,
}

impl Conflicts {
    fn apply<T>(self, change: Change<T>) -> Change<T> {
        let mut change = change.on_conflict(self.contact, AppError::stale_version);
        for (index, position) in self.roles {
            change = change.on_conflict(index, move || {
                AppError::invalid_field(&format!("roles[{position}]"), "no such contact role")
            });
        }
        change
    }
}

impl Edit<'_> {
    /// The writes, the customer as it will be, and what their conflicts mean.
    fn writes(
        &self,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> AppResult<(Vec<Write>, StoredCustomer, Conflicts)> {
        let (before, after) = (self.before, self.after);
        let subject = after.or(before).ok_or(AppError::NotFound)?;
        let others: Vec<&Contact> = self
            .contacts
            .iter()
            .filter(|c| c.id != subject.id)
            .collect();

        let mut next = self.customer.customer.clone();
        let is_primary = next.primary_contact_id.as_deref() == Some(subject.id.as_str());
        next.primary_contact_id = match (after, self.primary) {
            (None, _) if is_primary => None,
            (Some(_), Some(true)) => Some(subject.id.clone()),
            (Some(_), Some(false)) if is_primary => None,
            _ => next.primary_contact_id,
        };
        next.contact_phones = others
            .iter()
            .copied()
            .chain(after)
            .filter_map(|c| c.phone.clone())
            .collect();
        next.contact_phones.dedup();
        // Steps with a contact role run only for customers with such a contact.
        next.contact_roles = others
            .iter()
            .copied()
            .chain(after)
            .filter(|c| c.receives_chasers || c.receives_escalations)
            .flat_map(|c| c.roles.iter().cloned())
            .collect();
        let summary = match self.kind {
            HistoryType::ContactCreated => format!("Contact {} added", subject.name),
            HistoryType::ContactDeleted => format!("Contact {} removed", subject.name),
            _ => format!("Contact {} updated", subject.name),
        };
        let history = HistoryItem::new(
            &next.id,
            self.kind,
            now,
            caller.user.as_str(),
            summary,
            json!({"contact_id": subject.id}),
        );
        let mut writes = crate::writes::customer(next.clone(), Some(self.customer), &[history]);
        let contact = writes.len();
        writes.push(match after {
            Some(contact) => Write::SaveContact {
                contact: Box::new(contact.clone()),
                expected_version: before.map_or(0, |b| b.version),
            },
            None => Write::DeleteContact {
                contact: Box::new(subject.clone()),
            },
        });
        let old_roles = before.map(|c| c.roles.clone()).unwrap_or_default();
        let new_roles = after.map(|c| c.roles.clone()).unwrap_or_default();
        let mut roles = Vec::new();
        for (i, role) in new_roles.iter().enumerate() {
            if !old_roles.contains(role) {
                roles.push((writes.len(), i));
                writes.push(Write::CountRoleUse {
                    role_id: role.clone(),
                    delta: 1,
                });
            }
        }
        for role in &old_roles {
            if !new_roles.contains(role) {
                writes.push(Write::CountRoleUse {
                    role_id: role.clone(),
                    delta: -1,
                });
            }
        }
        let stored = StoredCustomer {
            customer: next,
            revision: self.customer.revision + 1,
        };
        Ok((writes, stored, Conflicts { contact, roles }))
    }
}
