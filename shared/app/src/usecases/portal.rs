//! The customer portal (docs/portal.md): a debtor opens their page with
//! the capability link from a chase, and acts on it through the same use
//! cases as the API, as the actor `customer`.
//!
//! A portal request reaches exactly one customer: the one whose current
//! link has the presented token's hash. Anything else (unknown, rotated,
//! malformed, a portal not configured) is `None`, which the edge answers
//! with one 404 page that says nothing more.

use super::{customers, invoices, payments, Change};
use crate::access::require;
use crate::context::Context;
use crate::error::{AppError, AppResult};
use crate::ports::{StoreError, StoreResult, Write};
use crate::records::{
    IdempotencyRecord, InvoiceRecord, StoredCustomer, IDEMPOTENCY_RETENTION_SECONDS,
};
use chrono::{DateTime, NaiveDate, Utc};
use domain::customer::Customer;
use domain::history::{HistoryItem, HistoryType};
use domain::identity::{Caller, Permission, Role, TenantId, UserId};
use domain::invoice::{CollectionStatus, InvoiceChanges};
use domain::patch::Patch;
use domain::portal::{portal_url, PortalSecret, PortalToken, PortalVisit};
use domain::promise::NewPromise;
use domain::settings::Settings;
use domain::task::{NewTask, TaskType};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The actor of everything a debtor does in the portal (API.md).
pub const PORTAL_ACTOR: &str = "customer";

/// A promise made in the portal is due within this many days.
pub const MAX_PROMISE_DAYS: u64 = 60;

/// The deployment's portal: its key and where links point unless a tenant
/// sets its own `portal_base_url`.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    pub secret: PortalSecret,
    pub base_url: Option<String>,
}

/// The base links of `tenant` point at, if the portal is configured.
fn base<'a>(context: &'a Context, settings: &'a Settings) -> Option<(&'a PortalSecret, &'a str)> {
    let portal = context.config.portal.as_ref()?;
    let base = settings
        .portal_base_url
        .as_deref()
        .or(portal.base_url.as_deref())?;
    Some((&portal.secret, base))
}

/// Gives a new customer its portal link: the nonce on `customer` and the
/// token lookup to write with it (`None` without a portal).
pub fn issue(
    context: &Context,
    tenant: &TenantId,
    customer: &mut Customer,
    now: DateTime<Utc>,
) -> Option<Write> {
    let portal = context.config.portal.as_ref()?;
    let nonce = context.ids.new_id(now);
    let token = portal.secret.token(tenant, &customer.id, &nonce);
    customer.portal_nonce = Some(nonce);
    Some(Write::PutPortalToken {
        customer_id: customer.id.clone(),
        token_hash: token.hash(),
    })
}

/// How many times a first use retries when the customer changes meanwhile.
const ISSUE_ATTEMPTS: u32 = 3;

/// The customer's portal URL (`<base>/p/<token>`); a customer created
/// before the portal gets its link here, on first use. `None` when the
/// deployment has no portal.
pub async fn url(
    context: &Context,
    tenant: &TenantId,
    stored: &StoredCustomer,
    settings: &Settings,
    now: DateTime<Utc>,
) -> StoreResult<Option<String>> {
    let Some((secret, base)) = base(context, settings) else {
        return Ok(None);
    };
    let mut current = stored.clone();
    for _ in 0..ISSUE_ATTEMPTS {
        if let Some(nonce) = &current.customer.portal_nonce {
            let token = secret.token(tenant, &current.customer.id, nonce);
            return Ok(Some(portal_url(base, &token)));
        }
        let mut next = current.customer.clone();
        let Some(token_write) = issue(context, tenant, &mut next, now) else {
            return Ok(None);
        };
        let nonce = next.portal_nonce.clone().unwrap_or_default();
        let writes = vec![
            Write::PutCustomer {
                next: Box::new(next),
                previous: Some(Box::new(current.clone())),
            },
            token_write,
        ];
        match context.store.commit(tenant, writes).await {
            Ok(()) => {
                let token = secret.token(tenant, &current.customer.id, &nonce);
                return Ok(Some(portal_url(base, &token)));
            }
            // Changed meanwhile (perhaps given its link): read it again.
            Err(StoreError::ConditionFailed { .. }) => {
                match context.store.customer(tenant, &current.customer.id).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(None),
                }
            }
            Err(other) => return Err(other),
        }
    }
    Err(StoreError::ConditionFailed { index: 0 })
}

/// A new link for the customer: the old one stops working at once.
pub async fn rotate(
    context: &Context,
    caller: &Caller,
    customer_id: &str,
    now: DateTime<Utc>,
) -> AppResult<String> {
    require(caller, Permission::ManageRecords)?;
    let tenant = &caller.tenant;
    let stored = customers::load(context, tenant, customer_id).await?;
    let settings = context.settings(tenant).await?;
    let Some((secret, base)) = base(context, &settings) else {
        return Err(AppError::conflict(
            "portal_not_configured",
            "this deployment has no customer portal (PORTAL_BASE_URL) and the tenant no portal_base_url",
        ));
    };
    let mut next = stored.customer.clone();
    let old_token = stored
        .customer
        .portal_nonce
        .as_deref()
        .map(|nonce| secret.token(tenant, customer_id, nonce));
    let Some(new_token_write) = issue(context, tenant, &mut next, now) else {
        return Err(AppError::conflict(
            "portal_not_configured",
            "no portal secret",
        ));
    };
    let nonce = next.portal_nonce.clone().unwrap_or_default();
    let history = HistoryItem::new(
        customer_id,
        HistoryType::CustomerUpdated,
        now,
        caller.user.as_str(),
        "Portal link rotated: the previous link no longer opens the portal",
        json!({"fields": ["portal_url"]}),
    );
    let mut writes = crate::writes::customer(next, Some(&stored), &[history]);
    writes.push(new_token_write);
    if let Some(old) = &old_token {
        writes.push(Write::DeletePortalToken {
            token_hash: old.hash(),
        });
    }
    match context.store.commit(tenant, writes).await {
        Ok(()) => Ok(portal_url(base, &secret.token(tenant, customer_id, &nonce))),
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::concurrent(
            "the customer changed meanwhile; try again",
        )),
        Err(other) => Err(other.into()),
    }
}

/// A debtor's open portal: the customer their token names, as read now.
#[derive(Debug, Clone)]
pub struct Visit {
    pub caller: Caller,
    pub customer: StoredCustomer,
    pub token_hash: String,
    pub settings: Settings,
    pub today: NaiveDate,
    /// The link's URL, for the page's own forms and links.
    pub url: String,
}

impl Visit {
    pub fn secret<'a>(&self, context: &'a Context) -> Option<&'a PortalSecret> {
        context.config.portal.as_ref().map(|p| &p.secret)
    }
}

/// The visit a raw token opens, or `None` for anything that is not a
/// current link (one answer for unknown, rotated and malformed tokens).
pub async fn open(context: &Context, raw: &str, now: DateTime<Utc>) -> AppResult<Option<Visit>> {
    let Some(presented) = PortalToken::parse(raw) else {
        return Ok(None);
    };
    let Some(portal) = context.config.portal.as_ref() else {
        return Ok(None);
    };
    let token_hash = presented.hash();
    let Some((tenant, customer_id)) = context.store.portal_token(&token_hash).await? else {
        return Ok(None);
    };
    let Some(customer) = context.store.customer(&tenant, &customer_id).await? else {
        return Ok(None);
    };
    // The lookup and the customer are separate reads: a rotation in
    // between leaves the customer with another nonce.
    let current = customer
        .customer
        .portal_nonce
        .as_deref()
        .map(|nonce| portal.secret.token(&tenant, &customer_id, nonce));
    if !current.is_some_and(|token| token.matches(&presented)) {
        return Ok(None);
    }
    let settings = context.settings(&tenant).await?;
    let today = now.with_timezone(&settings.time_zone).date_naive();
    let base = settings
        .portal_base_url
        .clone()
        .or_else(|| portal.base_url.clone())
        .unwrap_or_default();
    let url = portal_url(&base, &presented);
    let Some(user) = UserId::parse(PORTAL_ACTOR) else {
        return Ok(None);
    };
    Ok(Some(Visit {
        // The portal may record promises and disputes for this customer
        // only: the routes decide what it calls, the role lets them write.
        caller: Caller {
            tenant,
            user,
            role: Role::Manager,
        },
        customer,
        token_hash,
        settings,
        today,
        url,
    }))
}

/// Records the day's visit (`portal_viewed`, at most one per customer per
/// day); a second view the same day writes nothing.
pub async fn record_view(context: &Context, visit: &Visit, now: DateTime<Utc>) -> AppResult<()> {
    let customer_id = &visit.customer.customer.id;
    let history = HistoryItem::new(
        customer_id,
        HistoryType::PortalViewed,
        now,
        PORTAL_ACTOR,
        "Viewed the portal",
        json!({}),
    );
    let writes = vec![
        Write::RecordPortalVisit {
            customer_id: customer_id.clone(),
            visit: PortalVisit {
                on: visit.today,
                at: now,
            },
        },
        Write::History(Box::new(history)),
    ];
    match context.store.commit(&visit.caller.tenant, writes).await {
        // That day's visit is already recorded.
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// A portal event that changes nothing but the history (`portal_download`,
/// `portal_pay_clicked`).
pub async fn record_event(
    context: &Context,
    visit: &Visit,
    kind: HistoryType,
    summary: String,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let history = HistoryItem::new(
        &visit.customer.customer.id,
        kind,
        now,
        PORTAL_ACTOR,
        summary,
        detail,
    );
    context
        .store
        .commit(
            &visit.caller.tenant,
            vec![Write::History(Box::new(history))],
        )
        .await?;
    Ok(())
}

/// What a portal form did, kept with its form id so that submitting the
/// same form again shows the same confirmation and writes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Done {
    Promise {
        amount: String,
        currency: String,
        promised_date: NaiveDate,
    },
    Dispute {
        invoice_number: String,
    },
}

fn form_key(visit: &Visit, form_id: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "portal\0{}\0{form_id}",
        visit.customer.customer.id
    )))
}

/// The confirmation of a form already submitted, if it was.
pub async fn already_done(
    context: &Context,
    visit: &Visit,
    form_id: &str,
) -> AppResult<Option<Done>> {
    let Some(record) = context
        .store
        .idempotency(&visit.caller.tenant, &form_key(visit, form_id))
        .await?
    else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&record.body).ok())
}

/// Commits `change` with the form's claim: one form, one effect.
async fn commit_once<T>(
    context: &Context,
    visit: &Visit,
    form_id: &str,
    change: Change<T>,
    done: Done,
    now: DateTime<Utc>,
) -> AppResult<Done> {
    let mut writes = change.writes.clone();
    let body = serde_json::to_string(&done).map_err(AppError::internal)?;
    writes.push(Write::ClaimIdempotencyKey {
        key_hash: form_key(visit, form_id),
        record: Box::new(IdempotencyRecord {
            fingerprint: "portal".into(),
            status: 200,
            body,
            version: None,
            location: None,
            expires_at: now.timestamp() + IDEMPOTENCY_RETENTION_SECONDS,
        }),
    });
    match context.store.commit(&visit.caller.tenant, writes).await {
        Ok(()) => Ok(done),
        Err(StoreError::ConditionFailed { index }) => {
            match already_done(context, visit, form_id).await? {
                Some(first) => Ok(first),
                None => Err(change.conflict(index)),
            }
        }
        Err(other) => Err(other.into()),
    }
}

/// A promise to pay from the portal: recorded exactly as the API records
/// one (chasing waits for it), as `portal_promise`.
pub async fn promise(
    context: &Context,
    visit: &Visit,
    form_id: &str,
    new: &NewPromise,
    now: DateTime<Utc>,
) -> AppResult<Done> {
    let latest_day = visit
        .today
        .checked_add_days(chrono::Days::new(MAX_PROMISE_DAYS));
    if latest_day.is_none_or(|latest| new.promised_date > latest) {
        return Err(AppError::invalid_field(
            "promised_date",
            "must be within 60 days from today",
        ));
    }
    let change = payments::promise_recorded_as(
        context,
        &visit.caller,
        visit.customer.clone(),
        new,
        now,
        HistoryType::PortalPromise,
    )
    .await?;
    let promise = &change.value.value;
    let done = Done::Promise {
        amount: promise.amount.to_string(),
        currency: promise.currency.code().to_string(),
        promised_date: promise.promised_date,
    };
    commit_once(context, visit, form_id, change, done, now).await
}

/// One of the customer's open invoices, or `None` (not theirs, not open).
pub async fn open_invoice(
    context: &Context,
    visit: &Visit,
    invoice_id: &str,
) -> AppResult<Option<InvoiceRecord>> {
    if !visit
        .customer
        .customer
        .open_invoices
        .iter()
        .any(|i| i.id == invoice_id)
    {
        return Ok(None);
    }
    match invoices::load(context, &visit.caller.tenant, invoice_id).await {
        Ok(record) if record.invoice.customer_id == visit.customer.customer.id => Ok(Some(record)),
        Ok(_) | Err(AppError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

/// A dispute from the portal: the invoice's collection status becomes
/// `disputed` with the reason (it leaves the chased balance), a
/// `validate_invoice` task goes to the customer's AR specialist, and the
/// history has `portal_dispute`.
pub async fn dispute(
    context: &Context,
    visit: &Visit,
    form_id: &str,
    invoice: InvoiceRecord,
    reason: String,
    now: DateTime<Utc>,
) -> AppResult<Done> {
    let customer = &visit.customer.customer;
    let number = invoice.invoice.number.clone();
    let invoice_id = invoice.invoice.id.clone();
    let version = invoice.version;
    let changes = InvoiceChanges {
        collection_status: Some(CollectionStatus::Disputed),
        dispute_reason: Patch::Set(reason.clone()),
        ..InvoiceChanges::default()
    };
    let fields = vec![
        "collection_status".to_string(),
        "dispute_reason".to_string(),
    ];
    let mut change = invoices::update(
        context,
        &visit.caller,
        invoice,
        &changes,
        fields,
        version,
        now,
    )
    .await?;
    let task = NewTask {
        customer_id: customer.id.clone(),
        kind: TaskType::ValidateInvoice,
        title: Some(format!("Customer disputes invoice {number}")),
        invoice_ids: vec![invoice_id.clone()],
        assignee_id: customer.ar_specialist_id.clone(),
        due_date: visit.today,
    }
    .open(context.ids.new_id(now), PORTAL_ACTOR, now);
    let disputed = HistoryItem::new(
        &customer.id,
        HistoryType::PortalDispute,
        now,
        PORTAL_ACTOR,
        format!("Disputed invoice {number} in the portal"),
        json!({"invoice_id": invoice_id, "reason": reason, "task_id": task.id}),
    )
    .with_invoices(vec![invoice_id]);
    change.writes.extend([
        Write::History(Box::new(task.created_history(PORTAL_ACTOR, now))),
        Write::History(Box::new(disputed)),
        Write::InsertTask(Box::new(task)),
    ]);
    commit_once(
        context,
        visit,
        form_id,
        change,
        Done::Dispute {
            invoice_number: number,
        },
        now,
    )
    .await
}
