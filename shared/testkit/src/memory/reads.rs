//! The read ports. Each read is counted under its method name and can be
//! made to fail (see [`MemoryStore::fail_next_call`]); lists are built in
//! the order of the DynamoDB range or index that serves them.

use super::listing::{facets, filter_facet, normalize, search_terms, sort_key, SEARCH_ENTRY};
use super::paging::{page, sorted, Order};
use super::state::{count, Tenant};
use super::MemoryStore;
use app::ports::{
    AssigneeFilter, CadenceStore, ChaseStore, ContactRoleStore, ContactStore, CustomerFilter,
    CustomerQuery, CustomerSort, CustomerStore, DocumentStore, DueCustomer, DueIndex, GroupStore,
    HistoryFilter, HistoryStore, IdempotencyStore, InvoiceQuery, InvoiceStore, MoneyRecordStore,
    NoteStore, Page, PageRequest, PortalStore, SettingsStore, StoreResult, TaskQuery, TaskStore,
    TemplateStore,
};
use app::records::{
    CadenceRecord, Chase, ChaseKey, CustomerPage, IdempotencyRecord, InvoiceRecord, StoredCustomer,
    TaskFound, TemplateRecord, VersionRecord,
};
use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use domain::cadence::{AssignmentMode, Cadence};
use domain::contact::Contact;
use domain::contact_role::ContactRole;
use domain::customer::Customer;
use domain::document::Document;
use domain::group::CustomerGroup;
use domain::history::HistoryItem;
use domain::identity::TenantId;
use domain::invoice::InvoiceStatus;
use domain::note::Note;
use domain::payment::Payment;
use domain::promise::Promise;
use domain::settings::Settings;
use domain::task::{Task, TaskStatus};
use std::collections::{BTreeMap, HashMap};

#[async_trait]
impl SettingsStore for MemoryStore {
    async fn settings(&self, tenant: &TenantId) -> StoreResult<Settings> {
        let state = self.read("settings")?;
        Ok(state.tenant(tenant).settings.clone().unwrap_or_default())
    }
}

/// Whether a list copy passes `filters`: it is filed under each one's
/// facet (as DynamoDB compares the entry's own attributes).
fn passes(copy: &Customer, filters: &[CustomerFilter]) -> bool {
    let facets = facets(copy);
    filters
        .iter()
        .all(|filter| facets.contains(&filter_facet(filter)))
}

/// The customers a query lists, keyed and ordered as the index serving it:
/// the entries of one facet (the first filter's, else `all`) narrowed by
/// the other filters, or with a search the search entries narrowed by
/// every filter.
fn customer_listing(tenant: &Tenant, query: &CustomerQuery) -> (Vec<(String, Customer)>, Order) {
    match &query.search {
        Some(search) => {
            let needle = normalize(search);
            // A customer matching on several fields is listed once, where
            // its first match sorts.
            let mut first: BTreeMap<&str, (String, &Customer)> = BTreeMap::new();
            for partition in tenant.customers.values() {
                for (key, copy) in &partition.entries {
                    let Some(field) = key.strip_prefix(SEARCH_ENTRY) else {
                        continue;
                    };
                    let Some((_, term)) = search_terms(copy).into_iter().find(|(f, _)| *f == field)
                    else {
                        continue;
                    };
                    let sort = format!("{term}#{}", copy.id);
                    if !sort.starts_with(&needle) || !passes(copy, &query.filters) {
                        continue;
                    }
                    let earlier = first.get(copy.id.as_str());
                    if earlier.is_none_or(|(found, _)| sort < *found) {
                        first.insert(&copy.id, (sort, copy));
                    }
                }
            }
            let items = first
                .into_values()
                .map(|(sort, copy)| (sort, copy.clone()))
                .collect();
            (sorted(items, Order::Ascending), Order::Ascending)
        }
        None => {
            let facet = query
                .filters
                .first()
                .map_or_else(|| "all".to_string(), filter_facet);
            let narrowing = query.filters.get(1..).unwrap_or(&[]);
            let order = match query.sort {
                CustomerSort::CreatedAt => Order::Descending,
                CustomerSort::Name | CustomerSort::Overdue => Order::Ascending,
            };
            let items = tenant
                .customers
                .values()
                .filter_map(|partition| partition.entries.get(&facet))
                .filter(|copy| passes(copy, narrowing))
                .map(|copy| (sort_key(copy, query.sort), copy.clone()))
                .collect();
            (sorted(items, order), order)
        }
    }
}

#[async_trait]
impl CustomerStore for MemoryStore {
    async fn customer(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<StoredCustomer>> {
        let state = self.read("customer")?;
        Ok(state.tenant(tenant).record(id).cloned())
    }

    async fn customer_with_contacts(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<(StoredCustomer, Vec<Contact>)>> {
        let state = self.read("customer_with_contacts")?;
        let data = state.tenant(tenant);
        Ok(data.record(id).cloned().map(|customer| {
            let contacts = data.partition(id).contacts.values().cloned().collect();
            (customer, contacts)
        }))
    }

    async fn customers(
        &self,
        tenant: &TenantId,
        ids: &[String],
        _consistent: bool,
    ) -> StoreResult<HashMap<String, StoredCustomer>> {
        let state = self.read("customers")?;
        let data = state.tenant(tenant);
        Ok(ids
            .iter()
            .filter_map(|id| data.record(id).map(|stored| (id.clone(), stored.clone())))
            .collect())
    }

    async fn customer_id_by_number(
        &self,
        tenant: &TenantId,
        numbers: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        let state = self.read("customer_id_by_number")?;
        let data = state.tenant(tenant);
        Ok(numbers
            .iter()
            .filter_map(|number| {
                data.customer_numbers
                    .get(number)
                    .map(|id| (number.clone(), id.clone()))
            })
            .collect())
    }

    async fn list_customers(
        &self,
        tenant: &TenantId,
        query: CustomerQuery,
    ) -> StoreResult<Page<Customer>> {
        let state = self.read("list_customers")?;
        let (items, order) = customer_listing(state.tenant(tenant), &query);
        let signature = format!(
            "customers|{tenant}|{:?}|{:?}|{:?}",
            query.filters, query.search, query.sort
        );
        page(items, order, &query.page, &signature)
    }

    async fn customer_page(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> StoreResult<Option<CustomerPage>> {
        let state = self.read("customer_page")?;
        let partition = state.tenant(tenant).partition(customer_id);
        Ok(partition.record.as_ref().map(|customer| CustomerPage {
            customer: customer.clone(),
            contacts: partition.contacts.values().cloned().collect(),
            open_invoices: partition.open_invoices.values().cloned().collect(),
            open_tasks: partition.open_tasks.values().cloned().collect(),
            portal_visit: partition.portal_visit,
        }))
    }
}

/// The invoices a query lists: a customer's partition (open ones first, as
/// the page range sorts before the closed range), or the tenant's invoices
/// in one status by (effective) due date.
fn invoice_listing(tenant: &Tenant, query: &InvoiceQuery) -> Vec<(String, InvoiceRecord)> {
    let passes = |record: &InvoiceRecord| {
        let invoice = &record.invoice;
        query
            .collection_status
            .is_none_or(|status| invoice.collection_status == status)
            && query.overdue_on.is_none_or(|today| {
                invoice.is_open() && invoice.effective_due_date().is_some_and(|due| due < today)
            })
    };
    let items = match &query.customer_id {
        Some(customer_id) => {
            let partition = tenant.partition(customer_id);
            [true, false]
                .into_iter()
                .flat_map(|open| {
                    partition
                        .invoices(open)
                        .values()
                        .map(move |record| (invoice_order(&record.invoice.id, open), record))
                })
                .filter(|(_, record)| {
                    query
                        .status
                        .is_none_or(|status| record.invoice.status() == status)
                        && passes(record)
                })
                .map(|(key, record)| (key, record.clone()))
                .collect()
        }
        None => {
            let status = query.status.unwrap_or(InvoiceStatus::Open);
            tenant
                .customers
                .values()
                .flat_map(|partition| {
                    partition
                        .open_invoices
                        .values()
                        .chain(partition.closed_invoices.values())
                })
                .filter(|record| record.invoice.status() == status && passes(record))
                .map(|record| {
                    let invoice = &record.invoice;
                    let date = invoice.effective_due_date().unwrap_or(invoice.issue_date);
                    (format!("{date}#{}", invoice.id), record.clone())
                })
                .collect()
        }
    };
    sorted(items, Order::Ascending)
}

#[async_trait]
impl InvoiceStore for MemoryStore {
    async fn invoice(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<InvoiceRecord>> {
        let state = self.read("invoice")?;
        let data = state.tenant(tenant);
        Ok(data.invoice_pointers.get(id).and_then(|pointer| {
            data.partition(&pointer.customer_id)
                .invoices(pointer.open)
                .get(id)
                .cloned()
        }))
    }

    async fn open_invoices(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> StoreResult<Vec<InvoiceRecord>> {
        let state = self.read("open_invoices")?;
        let partition = state.tenant(tenant).partition(customer_id);
        Ok(partition.open_invoices.values().cloned().collect())
    }

    async fn list_invoices(
        &self,
        tenant: &TenantId,
        query: InvoiceQuery,
    ) -> StoreResult<Page<InvoiceRecord>> {
        let state = self.read("list_invoices")?;
        let items = invoice_listing(state.tenant(tenant), &query);
        let signature = format!(
            "invoices|{tenant}|{:?}|{:?}|{:?}|{:?}",
            query.customer_id, query.status, query.overdue_on, query.collection_status
        );
        page(items, Order::Ascending, &query.page, &signature)
    }

    async fn taken_invoice_numbers(
        &self,
        tenant: &TenantId,
        numbers: &[String],
    ) -> StoreResult<Vec<String>> {
        let state = self.read("taken_invoice_numbers")?;
        let data = state.tenant(tenant);
        // In the order asked, as often as asked (as the DynamoDB store answers).
        Ok(numbers
            .iter()
            .filter(|number| data.invoice_numbers.contains_key(*number))
            .cloned()
            .collect())
    }
}

/// Newest first: ids are ULIDs, so the highest id is the latest.
fn newest_first<'a, T: Clone + 'a>(
    items: impl Iterator<Item = (&'a String, &'a T)>,
) -> Vec<(String, T)> {
    sorted(
        items.map(|(id, item)| (id.clone(), item.clone())).collect(),
        Order::Descending,
    )
}

#[async_trait]
impl MoneyRecordStore for MemoryStore {
    async fn payments(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        request: PageRequest,
    ) -> StoreResult<Page<Payment>> {
        let state = self.read("payments")?;
        let items = newest_first(state.tenant(tenant).partition(customer_id).payments.iter());
        let signature = format!("payments|{tenant}|{customer_id}");
        page(items, Order::Descending, &request, &signature)
    }

    async fn promises(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        request: PageRequest,
    ) -> StoreResult<Page<Promise>> {
        let state = self.read("promises")?;
        let items = newest_first(state.tenant(tenant).partition(customer_id).promises.iter());
        let signature = format!("promises|{tenant}|{customer_id}");
        page(items, Order::Descending, &request, &signature)
    }
}

#[async_trait]
impl TaskStore for MemoryStore {
    async fn task(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<TaskFound>> {
        let state = self.read("task")?;
        let data = state.tenant(tenant);
        Ok(data.task_pointers.get(id).and_then(|pointer| {
            let status = if pointer.open {
                TaskStatus::Open
            } else {
                TaskStatus::Completed
            };
            let partition = data.partition(&pointer.customer_id);
            partition.tasks(status).get(id).map(|task| TaskFound {
                task: task.clone(),
                customer: partition.record.clone(),
            })
        }))
    }

    async fn list_tasks(&self, tenant: &TenantId, query: TaskQuery) -> StoreResult<Page<Task>> {
        let state = self.read("list_tasks")?;
        let data = state.tenant(tenant);
        let partitions: Vec<_> = match &query.customer_id {
            Some(customer_id) => vec![data.partition(customer_id)],
            None => data.customers.values().collect(),
        };
        let items: Vec<(String, Task)> = partitions
            .into_iter()
            .flat_map(|partition| partition.tasks(query.status).values())
            .filter(|task| match &query.assignee {
                AssigneeFilter::All => true,
                AssigneeFilter::User(user) => task.assignee_id.as_deref() == Some(user.as_str()),
            })
            .filter(|task| query.due_before.is_none_or(|before| task.due_date < before))
            .map(|task| {
                let key = format!("{}#{}", task.due_date.format("%Y-%m-%d"), task.id);
                (key, task.clone())
            })
            .collect();
        let order = match query.status {
            TaskStatus::Open => Order::Ascending,
            TaskStatus::Completed => Order::Descending,
        };
        let signature = format!(
            "tasks|{tenant}|{:?}|{:?}|{:?}|{:?}",
            query.assignee, query.status, query.customer_id, query.due_before
        );
        page(sorted(items, order), order, &query.page, &signature)
    }
}

#[async_trait]
impl HistoryStore for MemoryStore {
    async fn history(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        filters: &[HistoryFilter],
        request: PageRequest,
    ) -> StoreResult<Page<HistoryItem>> {
        let state = self.read("history")?;
        let partition = state.tenant(tenant).partition(customer_id);
        let matching = partition.history.iter().filter(|(_, item)| {
            filters.iter().all(|filter| match filter {
                HistoryFilter::Type(kind) => item.kind == *kind,
                HistoryFilter::Invoice(id) => item.invoice_ids.contains(id),
            })
        });
        let signature = format!("history|{tenant}|{customer_id}|{filters:?}");
        page(
            newest_first(matching),
            Order::Descending,
            &request,
            &signature,
        )
    }
}

#[async_trait]
impl DocumentStore for MemoryStore {
    async fn documents(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        request: PageRequest,
    ) -> StoreResult<Page<Document>> {
        let state = self.read("documents")?;
        let items = newest_first(state.tenant(tenant).partition(customer_id).documents.iter());
        let signature = format!("documents|{tenant}|{customer_id}");
        page(items, Order::Descending, &request, &signature)
    }

    async fn document(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        document_id: &str,
    ) -> StoreResult<Option<Document>> {
        let state = self.read("document")?;
        Ok(state
            .tenant(tenant)
            .partition(customer_id)
            .documents
            .get(document_id)
            .cloned())
    }
}

#[async_trait]
impl NoteStore for MemoryStore {
    async fn notes(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        request: PageRequest,
    ) -> StoreResult<Page<Note>> {
        let state = self.read("notes")?;
        let items = newest_first(state.tenant(tenant).partition(customer_id).notes.iter());
        let signature = format!("notes|{tenant}|{customer_id}");
        page(items, Order::Descending, &request, &signature)
    }

    async fn unknown_invoices(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        invoice_ids: &[String],
    ) -> StoreResult<Vec<String>> {
        let state = self.read("unknown_invoices")?;
        let partition = state.tenant(tenant).partition(customer_id);
        Ok(invoice_ids
            .iter()
            .filter(|id| {
                !partition.open_invoices.contains_key(*id)
                    && !partition.closed_invoices.contains_key(*id)
            })
            .cloned()
            .collect())
    }
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn contacts(&self, tenant: &TenantId, customer_id: &str) -> StoreResult<Vec<Contact>> {
        let state = self.read("contacts")?;
        let partition = state.tenant(tenant).partition(customer_id);
        Ok(partition.contacts.values().cloned().collect())
    }
}

/// A tenant-wide list: by id, as its items sort in the tenant partition.
fn by_id<T>(items: impl Iterator<Item = (String, T)>) -> Vec<(String, T)> {
    sorted(items.collect(), Order::Ascending)
}

#[async_trait]
impl ContactRoleStore for MemoryStore {
    async fn contact_role(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ContactRole>> {
        let state = self.read("contact_role")?;
        Ok(state
            .tenant(tenant)
            .roles
            .get(id)
            .map(|(role, _)| role.clone()))
    }

    async fn contact_roles(
        &self,
        tenant: &TenantId,
        request: PageRequest,
    ) -> StoreResult<Page<ContactRole>> {
        let state = self.read("contact_roles")?;
        let roles = &state.tenant(tenant).roles;
        let items = by_id(
            roles
                .iter()
                .map(|(id, (role, _))| (id.clone(), role.clone())),
        );
        page(
            items,
            Order::Ascending,
            &request,
            &format!("roles|{tenant}"),
        )
    }
}

#[async_trait]
impl GroupStore for MemoryStore {
    async fn group(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<CustomerGroup>> {
        let state = self.read("group")?;
        state.tenant(tenant).group(id)
    }

    async fn groups(
        &self,
        tenant: &TenantId,
        request: PageRequest,
    ) -> StoreResult<Page<CustomerGroup>> {
        let state = self.read("groups")?;
        let data = state.tenant(tenant);
        let mut items = Vec::new();
        for id in data.groups.keys() {
            if let Some(group) = data.group(id)? {
                items.push((id.clone(), group));
            }
        }
        page(
            by_id(items.into_iter()),
            Order::Ascending,
            &request,
            &format!("groups|{tenant}"),
        )
    }
}

#[async_trait]
impl TemplateStore for MemoryStore {
    async fn template(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<TemplateRecord>> {
        let state = self.read("template")?;
        Ok(state.tenant(tenant).templates.get(id).cloned())
    }

    async fn templates(
        &self,
        tenant: &TenantId,
        request: PageRequest,
    ) -> StoreResult<Page<TemplateRecord>> {
        let state = self.read("templates")?;
        let templates = &state.tenant(tenant).templates;
        let items = by_id(templates.iter().map(|(id, r)| (id.clone(), r.clone())));
        page(
            items,
            Order::Ascending,
            &request,
            &format!("templates|{tenant}"),
        )
    }
}

/// Every current cadence of the tenant, by id.
fn all_cadences(tenant: &Tenant) -> StoreResult<Vec<(String, CadenceRecord)>> {
    let mut records = Vec::new();
    for id in tenant.cadences.keys() {
        if let Some(record) = tenant.cadence(id)? {
            records.push((id.clone(), record));
        }
    }
    Ok(records)
}

#[async_trait]
impl CadenceStore for MemoryStore {
    async fn cadence(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<CadenceRecord>> {
        let state = self.read("cadence")?;
        state.tenant(tenant).cadence(id)
    }

    async fn cadence_version(
        &self,
        tenant: &TenantId,
        id: &str,
        version: u32,
    ) -> StoreResult<Option<Cadence>> {
        let state = self.read("cadence_version")?;
        Ok(state
            .tenant(tenant)
            .cadence_versions
            .get(&(id.to_string(), version))
            .map(|(cadence, _)| cadence.clone()))
    }

    async fn cadences(
        &self,
        tenant: &TenantId,
        request: PageRequest,
    ) -> StoreResult<Page<CadenceRecord>> {
        let state = self.read("cadences")?;
        let items = all_cadences(state.tenant(tenant))?;
        page(
            items,
            Order::Ascending,
            &request,
            &format!("cadences|{tenant}"),
        )
    }

    async fn all_cadences(&self, tenant: &TenantId) -> StoreResult<Vec<CadenceRecord>> {
        let state = self.read("all_cadences")?;
        Ok(all_cadences(state.tenant(tenant))?
            .into_iter()
            .map(|(_, record)| record)
            .collect())
    }

    async fn automatic_cadences(&self, tenant: &TenantId) -> StoreResult<Vec<Cadence>> {
        let state = self.read("automatic_cadences")?;
        Ok(state
            .tenant(tenant)
            .cadences
            .values()
            .map(|(record, _)| &record.cadence)
            .filter(|cadence| cadence.assignment.mode == AssignmentMode::Always)
            .cloned()
            .collect())
    }

    async fn cadence_versions(
        &self,
        tenant: &TenantId,
        id: Option<&str>,
    ) -> StoreResult<Vec<VersionRecord>> {
        let state = self.read("cadence_versions")?;
        state
            .tenant(tenant)
            .cadence_versions
            .iter()
            .filter(|((cadence_id, _), _)| id.is_none_or(|id| id == cadence_id))
            .map(|(_, (cadence, enrolled))| {
                Ok(VersionRecord {
                    cadence: cadence.clone(),
                    enrolled: count(*enrolled, "cadence version enrolled")?,
                })
            })
            .collect()
    }
}

/// Shards of the in-memory due index: several, so tests see the fan-out.
const DUE_SHARDS: u32 = 4;

fn due_shard(customer_id: &str) -> u32 {
    customer_id.bytes().map(u32::from).sum::<u32>() % DUE_SHARDS
}

#[async_trait]
impl DueIndex for MemoryStore {
    fn due_shards(&self) -> u32 {
        DUE_SHARDS
    }

    /// Compared at whole seconds, as the index's sort keys hold the instant.
    async fn due_page(
        &self,
        shard: u32,
        at: DateTime<Utc>,
        request: PageRequest,
    ) -> StoreResult<Page<DueCustomer>> {
        let state = self.read("due_page")?;
        let at = at.trunc_subsecs(0);
        let due: Vec<(String, DueCustomer)> = state
            .tenants
            .iter()
            .flat_map(|(tenant, data)| {
                data.customers.iter().filter_map(move |(id, partition)| {
                    let next = partition.record.as_ref()?.customer.next_evaluation_at?;
                    (due_shard(id) == shard && next.trunc_subsecs(0) <= at).then(|| {
                        (
                            format!("{}|{tenant}|{id}", next.trunc_subsecs(0).to_rfc3339()),
                            DueCustomer {
                                tenant: tenant.clone(),
                                customer_id: id.clone(),
                            },
                        )
                    })
                })
            })
            .collect();
        page(
            sorted(due, Order::Ascending),
            Order::Ascending,
            &request,
            &format!("due:{shard}"),
        )
    }
}

#[async_trait]
impl ChaseStore for MemoryStore {
    async fn chase(&self, tenant: &TenantId, key: &ChaseKey) -> StoreResult<Option<Chase>> {
        let state = self.read("chase")?;
        Ok(state
            .tenant(tenant)
            .partition(&key.customer_id)
            .chases
            .get(&super::state::chase_slot(key))
            .cloned())
    }
}

#[async_trait]
impl PortalStore for MemoryStore {
    async fn portal_token(&self, token_hash: &str) -> StoreResult<Option<(TenantId, String)>> {
        let state = self.read("portal_token")?;
        Ok(state.tenants.iter().find_map(|(tenant, data)| {
            data.portal_tokens
                .get(token_hash)
                .map(|customer_id| (tenant.clone(), customer_id.clone()))
        }))
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn idempotency(
        &self,
        tenant: &TenantId,
        key_hash: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let state = self.read("idempotency")?;
        Ok(state.tenant(tenant).idempotency.get(key_hash).cloned())
    }
}

/// A customer's invoices list open ones first, each part by id (as the
/// store's key layout orders them).
fn invoice_order(id: &str, open: bool) -> String {
    format!("{}{id}", if open { 0 } else { 1 })
}
