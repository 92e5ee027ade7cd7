//! The DynamoDB adapter: one table, the key schema ([`keys`], the only place
//! keys are spelled), one module per item kind, and [`DynamoStore`], which
//! implements every store port of `app::ports` and turns each named
//! [`Write`] into the transaction items it takes.

pub mod cadence;
pub mod chase;
pub mod contact;
pub mod contact_role;
pub mod cursor;
pub mod customer;
pub mod document;
pub mod due_index;
pub mod dynamo;
pub mod group;
pub mod history;
pub mod idempotency;
pub mod invoice;
pub mod keys;
pub mod money_records;
pub mod note;
pub mod portal;
pub mod reports;
pub mod settings;
pub mod task;
pub mod template;

use app::ports::{
    CadenceStore, ChaseStore, ContactRoleStore, ContactStore, CustomerQuery, CustomerStore,
    DocumentStore, DueCustomer, DueIndex, GroupStore, HistoryFilter, HistoryStore,
    IdempotencyStore, InvoiceQuery, InvoiceStore, MoneyRecordStore, NoteStore, Page, PageRequest,
    PortalStore, ReportStore, SettingsStore, StoreError, StoreResult, TaskQuery, TaskStore,
    TemplateStore, Transactions, Write,
};
use app::records::{
    CadenceRecord, Chase, ChaseKey, CustomerPage, IdempotencyRecord, InvoiceRecord, StoredCustomer,
    TaskFound, TemplateRecord, VersionRecord,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use domain::cadence::Cadence;
use domain::contact::Contact;
use domain::contact_role::ContactRole;
use domain::customer::Customer;
use domain::document::Document;
use domain::group::CustomerGroup;
use domain::history::HistoryItem;
use domain::identity::TenantId;
use domain::note::Note;
use domain::payment::Payment;
use domain::promise::Promise;
use domain::settings::Settings;
use domain::task::Task;
pub use dynamo::Table;
use std::collections::HashMap;

/// Every store port over one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub table: Table,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: impl Into<String>) -> Self {
        Self {
            table: Table::new(client, table_name),
        }
    }

    /// The transaction items of one named write.
    fn items(&self, tenant: &TenantId, write: &Write) -> StoreResult<Vec<TransactWriteItem>> {
        let table = &self.table;
        Ok(match write {
            Write::PutCustomer { next, previous } => {
                customer::put(table, tenant, next, previous.as_deref())?
            }
            Write::UpdateChasing { stored, next } => {
                vec![customer::update_chasing(table, tenant, stored, next)?]
            }
            Write::RecordHistory { stored, items } => {
                history::record(table, tenant, stored, items)?
            }
            Write::DeleteCustomer { stored } => customer::delete(table, tenant, stored)?,
            Write::ReserveCustomerNumber {
                number,
                customer_id,
            } => vec![customer::reserve_number(
                table,
                tenant,
                number,
                customer_id,
            )?],
            Write::ReleaseCustomerNumber { number } => {
                vec![customer::release_number(table, tenant, number)?]
            }
            Write::History(item) => vec![customer::history_put(table, tenant, item)?],
            Write::SaveInvoice { next, previous } => {
                invoice::save(table, tenant, next, previous.as_deref())?
            }
            Write::ReserveInvoiceNumber { number, invoice_id } => {
                vec![invoice::reserve_number(table, tenant, number, invoice_id)?]
            }
            Write::ReleaseInvoiceNumber { number } => {
                vec![invoice::release_number(table, tenant, number)?]
            }
            Write::InsertPayment(payment) => {
                vec![money_records::insert_payment(table, tenant, payment)?]
            }
            Write::InsertAdjustment(adjustment) => {
                vec![money_records::insert_adjustment(table, tenant, adjustment)?]
            }
            Write::PutPromise(promise) => vec![money_records::put_promise(table, tenant, promise)?],
            Write::InsertTask(task) => task::insert(table, tenant, task)?,
            Write::ReplaceTask {
                next,
                expected_version,
            } => vec![task::replace(table, tenant, next, *expected_version)?],
            Write::CloseTask {
                completed,
                expected_version,
            } => task::close(table, tenant, completed, *expected_version)?,
            Write::InsertNote(note) => vec![note::insert(table, tenant, note)?],
            Write::PutDocument(document) => vec![document::put(table, tenant, document)?],
            Write::SaveContact {
                contact,
                expected_version,
            } => vec![contact::save(table, tenant, contact, *expected_version)?],
            Write::DeleteContact { contact } => vec![contact::delete(table, tenant, contact)?],
            Write::CountRoleUse { role_id, delta } => {
                vec![contact::count_role(table, tenant, role_id, *delta)?]
            }
            Write::CreateContactRole(role) => contact_role::create(table, tenant, role)?,
            Write::DeleteContactRole(role) => contact_role::delete(table, tenant, role)?,
            Write::SaveGroup {
                group,
                expected_version,
            } => vec![group::save(table, tenant, group, *expected_version)?],
            Write::CountGroupMember { group_id, delta } => {
                vec![group::count_member(table, tenant, group_id, *delta)?]
            }
            Write::DeleteGroup(group) => vec![group::delete(table, tenant, group)?],
            Write::PushGroupSettings {
                group_id,
                customer_id,
                settings,
            } => vec![group::push_settings_to_member(
                table,
                tenant,
                group_id,
                customer_id,
                settings,
            )?],
            Write::SaveTemplate {
                record,
                expected_version,
            } => vec![template::save(table, tenant, record, *expected_version)?],
            Write::DeleteTemplate(record) => vec![template::delete(table, tenant, record)?],
            Write::SaveCadence {
                record,
                previous_version,
                unenrolled,
            } => cadence::save(table, tenant, record, *previous_version, *unenrolled)?,
            Write::CountCadences { delta } => vec![cadence::count_cadences(table, tenant, *delta)?],
            Write::DeleteCadence { id } => cadence::delete(table, tenant, id)?,
            Write::CountEnrolments(deltas) => cadence::count_enrolments(table, tenant, deltas)?,
            Write::SaveSettings {
                settings,
                expected_version,
            } => vec![settings::save(table, tenant, settings, *expected_version)?],
            Write::ClaimChase(chase) => vec![chase::claim(table, tenant, chase)?],
            Write::AdvanceChase {
                key,
                from,
                to,
                provider_message_id,
                at,
            } => vec![chase::advance(
                table,
                tenant,
                key,
                (*from, *to),
                provider_message_id.as_deref(),
                *at,
            )?],
            Write::ClaimIdempotencyKey { key_hash, record } => {
                vec![idempotency::claim(table, tenant, key_hash, record)?]
            }
            Write::PutPortalToken {
                customer_id,
                token_hash,
            } => vec![portal::put_token(table, tenant, customer_id, token_hash)?],
            Write::DeletePortalToken { token_hash } => {
                vec![portal::delete_token(table, token_hash)?]
            }
            Write::RecordPortalVisit { customer_id, visit } => {
                vec![portal::record_visit(table, tenant, customer_id, visit)?]
            }
        })
    }
}

#[async_trait]
impl Transactions for DynamoStore {
    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> StoreResult<()> {
        let mut items = Vec::new();
        // The named write each transaction item belongs to, to report a
        // failed condition by the caller's index.
        let mut owners = Vec::new();
        for (index, write) in writes.iter().enumerate() {
            let of_write = self.items(tenant, write)?;
            owners.extend(std::iter::repeat_n(index, of_write.len()));
            items.extend(of_write);
        }
        match self.table.transact(items).await {
            Err(StoreError::ConditionFailed { index }) => Err(StoreError::ConditionFailed {
                index: owners.get(index).copied().unwrap_or(index),
            }),
            other => other,
        }
    }

    fn items_of(&self, tenant: &TenantId, writes: &[Write]) -> usize {
        writes
            .iter()
            .map(|w| self.items(tenant, w).map_or(1, |items| items.len()))
            .sum()
    }
}

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn settings(&self, tenant: &TenantId) -> StoreResult<Settings> {
        settings::load(&self.table, tenant).await
    }
}

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn customer(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<StoredCustomer>> {
        customer::get(&self.table, tenant, id).await
    }

    async fn customer_with_contacts(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<(StoredCustomer, Vec<Contact>)>> {
        customer::with_contacts(&self.table, tenant, id).await
    }

    async fn customers(
        &self,
        tenant: &TenantId,
        ids: &[String],
        consistent: bool,
    ) -> StoreResult<HashMap<String, StoredCustomer>> {
        task::customers(&self.table, tenant, ids, consistent).await
    }

    async fn customer_id_by_number(
        &self,
        tenant: &TenantId,
        numbers: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        customer::ids_by_number(&self.table, tenant, numbers).await
    }

    async fn list_customers(
        &self,
        tenant: &TenantId,
        query: CustomerQuery,
    ) -> StoreResult<Page<Customer>> {
        customer::list(&self.table, tenant, query).await
    }

    async fn customer_page(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> StoreResult<Option<CustomerPage>> {
        customer::page(&self.table, tenant, customer_id).await
    }
}

#[async_trait]
impl InvoiceStore for DynamoStore {
    async fn invoice(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<InvoiceRecord>> {
        invoice::get(&self.table, tenant, id).await
    }

    async fn open_invoices(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> StoreResult<Vec<InvoiceRecord>> {
        invoice::open_of_customer(&self.table, tenant, customer_id).await
    }

    async fn list_invoices(
        &self,
        tenant: &TenantId,
        query: InvoiceQuery,
    ) -> StoreResult<Page<InvoiceRecord>> {
        invoice::list(&self.table, tenant, query).await
    }

    async fn taken_invoice_numbers(
        &self,
        tenant: &TenantId,
        numbers: &[String],
    ) -> StoreResult<Vec<String>> {
        invoice::taken_numbers(&self.table, tenant, numbers).await
    }
}

#[async_trait]
impl MoneyRecordStore for DynamoStore {
    async fn payments(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Payment>> {
        money_records::payments(&self.table, tenant, customer_id, &page).await
    }

    async fn promises(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Promise>> {
        money_records::promises(&self.table, tenant, customer_id, &page).await
    }
}

#[async_trait]
impl TaskStore for DynamoStore {
    async fn task(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<TaskFound>> {
        task::find(&self.table, tenant, id).await
    }

    async fn list_tasks(&self, tenant: &TenantId, query: TaskQuery) -> StoreResult<Page<Task>> {
        task::list(&self.table, tenant, query).await
    }
}

#[async_trait]
impl HistoryStore for DynamoStore {
    async fn history(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        filters: &[HistoryFilter],
        page: PageRequest,
    ) -> StoreResult<Page<HistoryItem>> {
        history::list(&self.table, tenant, customer_id, filters, page).await
    }
}

#[async_trait]
impl DocumentStore for DynamoStore {
    async fn documents(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Document>> {
        document::list(&self.table, tenant, customer_id, &page).await
    }

    async fn document(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        document_id: &str,
    ) -> StoreResult<Option<Document>> {
        document::get(&self.table, tenant, customer_id, document_id).await
    }
}

#[async_trait]
impl NoteStore for DynamoStore {
    async fn notes(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Note>> {
        note::list(&self.table, tenant, customer_id, &page).await
    }

    async fn unknown_invoices(
        &self,
        tenant: &TenantId,
        customer_id: &str,
        invoice_ids: &[String],
    ) -> StoreResult<Vec<String>> {
        note::unknown_invoices(&self.table, tenant, customer_id, invoice_ids).await
    }
}

#[async_trait]
impl ContactStore for DynamoStore {
    async fn contacts(&self, tenant: &TenantId, customer_id: &str) -> StoreResult<Vec<Contact>> {
        contact::all(&self.table, tenant, customer_id).await
    }
}

#[async_trait]
impl ContactRoleStore for DynamoStore {
    async fn contact_role(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ContactRole>> {
        contact_role::get(&self.table, tenant, id).await
    }

    async fn contact_roles(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<ContactRole>> {
        contact_role::list(&self.table, tenant, &page).await
    }
}

#[async_trait]
impl GroupStore for DynamoStore {
    async fn group(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<CustomerGroup>> {
        group::get(&self.table, tenant, id).await
    }

    async fn groups(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<CustomerGroup>> {
        group::list(&self.table, tenant, &page).await
    }
}

#[async_trait]
impl TemplateStore for DynamoStore {
    async fn template(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<TemplateRecord>> {
        template::get(&self.table, tenant, id).await
    }

    async fn templates(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<TemplateRecord>> {
        template::list(&self.table, tenant, &page).await
    }
}

#[async_trait]
impl CadenceStore for DynamoStore {
    async fn cadence(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<CadenceRecord>> {
        cadence::get(&self.table, tenant, id).await
    }

    async fn cadence_version(
        &self,
        tenant: &TenantId,
        id: &str,
        version: u32,
    ) -> StoreResult<Option<Cadence>> {
        cadence::get_version(&self.table, tenant, id, version).await
    }

    async fn cadences(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<CadenceRecord>> {
        cadence::list(&self.table, tenant, &page).await
    }

    async fn all_cadences(&self, tenant: &TenantId) -> StoreResult<Vec<CadenceRecord>> {
        cadence::all(&self.table, tenant).await
    }

    async fn automatic_cadences(&self, tenant: &TenantId) -> StoreResult<Vec<Cadence>> {
        cadence::automatic(&self.table, tenant).await
    }

    async fn cadence_versions(
        &self,
        tenant: &TenantId,
        id: Option<&str>,
    ) -> StoreResult<Vec<VersionRecord>> {
        match id {
            Some(id) => cadence::versions(&self.table, tenant, id).await,
            None => cadence::all_versions(&self.table, tenant).await,
        }
    }
}

#[async_trait]
impl DueIndex for DynamoStore {
    fn due_shards(&self) -> u32 {
        keys::DUE_SHARDS
    }

    async fn due_page(
        &self,
        shard: u32,
        at: DateTime<Utc>,
        page: PageRequest,
    ) -> StoreResult<Page<DueCustomer>> {
        due_index::due_page(&self.table, shard, at, page).await
    }
}

#[async_trait]
impl ChaseStore for DynamoStore {
    async fn chase(&self, tenant: &TenantId, key: &ChaseKey) -> StoreResult<Option<Chase>> {
        chase::get(&self.table, tenant, key).await
    }
}

#[async_trait]
impl PortalStore for DynamoStore {
    async fn portal_token(&self, token_hash: &str) -> StoreResult<Option<(TenantId, String)>> {
        portal::token(&self.table, token_hash).await
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn idempotency(
        &self,
        tenant: &TenantId,
        key_hash: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        idempotency::get(&self.table, tenant, key_hash).await
    }
}

#[async_trait]
impl ReportStore for DynamoStore {
    async fn apply_report_delta(
        &self,
        tenant: &TenantId,
        record_id: &str,
        delta: &domain::reports::Tally,
        keep_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        reports::apply(&self.table, tenant, record_id, delta, keep_until).await
    }

    async fn report_aggregates(
        &self,
        tenant: &TenantId,
        others: Option<&[domain::reports::Aggregate]>,
    ) -> StoreResult<domain::reports::Tally> {
        reports::read(&self.table, tenant, others).await
    }

    async fn report_items(
        &self,
        tenant: &TenantId,
    ) -> StoreResult<Vec<domain::reports::ReportItem>> {
        reports::items(&self.table, tenant).await
    }

    async fn replace_report_aggregates(
        &self,
        tenant: &TenantId,
        tally: &domain::reports::Tally,
    ) -> StoreResult<()> {
        reports::replace(&self.table, tenant, tally).await
    }
}

/// The DynamoDB client every function uses: bounded attempts and
/// operations, the runner's interceptors and endpoint when it sets them.
pub fn client(
    sdk: &runtime::SdkConfig,
    options: &runtime::ClientOptions,
) -> aws_sdk_dynamodb::Client {
    let mut config =
        aws_sdk_dynamodb::config::Builder::from(sdk).timeout_config(options.storage_timeouts());
    if let Some(url) = &options.dynamodb_endpoint {
        config.set_endpoint_url(Some(url.clone()));
    }
    for interceptor in &options.interceptors {
        config.push_interceptor(interceptor.clone());
    }
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// The application context every function runs with: this store, the wall
/// clock and random ULIDs.
pub fn context(started: &runtime::Started) -> app::context::Context {
    let store = DynamoStore::new(
        client(&started.sdk, &started.options),
        started.config.table_name.clone(),
    );
    app::context::Context::new(
        std::sync::Arc::new(store),
        std::sync::Arc::new(app::ports::SystemClock),
        std::sync::Arc::new(app::ports::UlidIds),
        app::context::AppConfig {
            sender_domain: started.config.sender_domain.clone(),
            portal: started
                .config
                .portal_link_secret
                .as_deref()
                .and_then(|secret| domain::portal::PortalSecret::new(secret.as_bytes()))
                .map(|secret| app::usecases::portal::PortalConfig {
                    secret,
                    base_url: started.config.portal_base_url.clone(),
                }),
        },
    )
}
