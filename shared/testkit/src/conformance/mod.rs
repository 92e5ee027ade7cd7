//! The behaviour every [`Store`] must have, as checks that run against any
//! implementation: [`crate::MemoryStore`] here, the DynamoDB store against
//! DynamoDB Local. A check uses only the port traits and fresh tenants (so
//! checks can share a table and run in any order), and returns a
//! [`Failure`] saying what differed instead of panicking, so one run
//! reports every broken behaviour.
//!
//! Dates are fixed ([`Fixtures`], from 2001-01-01) except where the port
//! leaves "now" to the implementation (idempotency expiry), which uses the
//! wall clock.
//!
//! The DynamoDB store runs it in the integration suite
//! (`tests/tests/integration/store_conformance.rs`):
//!
//! ```ignore
//! #[tokio::test]
//! async fn the_dynamodb_store_conforms() {
//!     let store = store::DynamoStore::new(client, table_name);
//!     testkit::conformance::all(&store).await.unwrap();
//! }
//! ```

use crate::fixtures::{fresh_tenant, FixtureError, Fixtures};
use app::ports::{Page, PageRequest, Store, StoreError, StoreResult, Write};
use app::records::StoredCustomer;
use domain::customer::Customer;
use domain::identity::TenantId;
use std::fmt;

/// What a check found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure(format!("unexpected store error: {error:?}"))
    }
}

impl From<FixtureError> for Failure {
    fn from(error: FixtureError) -> Self {
        Failure(error.to_string())
    }
}

/// The result of one check.
pub type Outcome = Result<(), Failure>;

/// Every failed check of [`all`], by name.
#[derive(Clone, PartialEq, Eq)]
pub struct Failures(pub Vec<(&'static str, Failure)>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} conformance check(s) failed:", self.0.len())?;
        for (check, failure) in &self.0 {
            writeln!(f, "- {check}: {failure}")?;
        }
        Ok(())
    }
}

/// Shown in full when a test unwraps the result of [`all`].
impl fmt::Debug for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failures {}

/// Fails the check unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err($crate::conformance::Failure(format!(
                "line {}: {}",
                line!(),
                format_args!($($message)+)
            )));
        }
    };
}

/// Fails the check unless both sides are equal, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($message:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::conformance::Failure(format!(
                        "line {}: {}\n  found:    {:?}\n  expected: {:?}",
                        line!(),
                        format_args!($($message)+),
                        left,
                        right
                    )));
                }
            }
        }
    };
}

mod chasing;
mod customers;
mod isolation;
mod money;
mod tenant;
mod transactions;
mod work;

pub use chasing::{
    chase_claims_are_exclusive, due_index_finds_due_customers, idempotency_keys_claim_once,
    portal_tokens_and_visits,
};
pub use customers::{
    customer_deletion_takes_its_partition, customer_lists_follow_the_query,
    customer_writes_are_conditioned_on_the_revision, list_entries_move_with_puts_only,
    lists_page_with_cursors, recent_history_keeps_the_newest, reservations_are_unique,
};
pub use isolation::tenants_never_see_each_other;
pub use money::{
    invoice_lists_follow_the_query, invoice_moves_between_open_and_closed,
    money_records_are_newest_first,
};
pub use tenant::{
    cadence_count_refuses_to_pass_the_limit, cadences_are_versioned_and_counted,
    contact_roles_count_their_use, group_settings_reach_current_members,
    groups_count_their_members, settings_are_versioned, templates_are_versioned,
};
pub use transactions::{a_failed_transaction_writes_nothing, transactions_respect_dynamodb_limits};
pub use work::{
    contacts_are_versioned, history_is_newest_first_and_filtered, notes_are_newest_first,
    task_close_moves_it, task_lists_follow_the_query,
};

/// Runs every check, one after the other; fails with all that failed.
pub async fn all(store: &dyn Store) -> Result<(), Failures> {
    let mut failures = Vec::new();
    macro_rules! run {
        ($($check:ident),* $(,)?) => {
            $(
                if let Err(failure) = $check(store).await {
                    failures.push((stringify!($check), failure));
                }
            )*
        };
    }
    run!(
        customer_writes_are_conditioned_on_the_revision,
        recent_history_keeps_the_newest,
        reservations_are_unique,
        customer_lists_follow_the_query,
        list_entries_move_with_puts_only,
        customer_deletion_takes_its_partition,
        lists_page_with_cursors,
        a_failed_transaction_writes_nothing,
        transactions_respect_dynamodb_limits,
        invoice_moves_between_open_and_closed,
        invoice_lists_follow_the_query,
        money_records_are_newest_first,
        task_close_moves_it,
        task_lists_follow_the_query,
        history_is_newest_first_and_filtered,
        notes_are_newest_first,
        contacts_are_versioned,
        settings_are_versioned,
        groups_count_their_members,
        group_settings_reach_current_members,
        contact_roles_count_their_use,
        templates_are_versioned,
        cadences_are_versioned_and_counted,
        cadence_count_refuses_to_pass_the_limit,
        chase_claims_are_exclusive,
        idempotency_keys_claim_once,
        portal_tokens_and_visits,
        due_index_finds_due_customers,
        tenants_never_see_each_other,
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failures(failures))
    }
}

// ---------------------------------------------------------------- helpers

/// A fresh tenant and the fixture builders.
fn setup() -> Result<(TenantId, Fixtures), Failure> {
    Ok((fresh_tenant("conf")?, Fixtures::new()?))
}

fn fail(message: impl Into<String>) -> Failure {
    Failure(message.into())
}

/// The commit must have succeeded.
fn committed(result: StoreResult<()>, what: &str) -> Outcome {
    result.map_err(|error| {
        fail(format!(
            "{what}: expected the commit to succeed, got {error:?}"
        ))
    })
}

/// The commit must have failed on the condition of write `index`.
fn refused(result: StoreResult<()>, index: usize, what: &str) -> Outcome {
    match result {
        Err(StoreError::ConditionFailed { index: found }) if found == index => Ok(()),
        other => Err(fail(format!(
            "{what}: expected ConditionFailed {{ index: {index} }}, got {other:?}"
        ))),
    }
}

/// The commit must have been refused outright (not a condition).
fn rejected(result: StoreResult<()>, what: &str) -> Outcome {
    match result {
        Err(StoreError::Rejected(_)) => Ok(()),
        other => Err(fail(format!("{what}: expected Rejected, got {other:?}"))),
    }
}

/// The read must have refused its cursor.
fn bad_cursor<T: fmt::Debug>(result: StoreResult<T>, what: &str) -> Outcome {
    match result {
        Err(StoreError::BadCursor) => Ok(()),
        other => Err(fail(format!("{what}: expected BadCursor, got {other:?}"))),
    }
}

fn first(limit: usize) -> PageRequest {
    PageRequest {
        limit,
        cursor: None,
    }
}

/// Every item of a listing, for checks about content rather than paging.
const ALL: usize = 100;

/// Reads a listing page after page, following the cursors; checks that no
/// page exceeds `limit`. Returns the pages.
async fn walk<T>(
    limit: usize,
    mut read: impl AsyncFnMut(PageRequest) -> StoreResult<Page<T>>,
) -> Result<Vec<Vec<T>>, Failure> {
    let mut pages = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = read(PageRequest { limit, cursor }).await?;
        if page.items.len() > limit {
            return Err(fail(format!(
                "a page of limit {limit} held {} items",
                page.items.len()
            )));
        }
        pages.push(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(pages),
        }
    }
    Err(fail("a listing kept answering cursors"))
}

fn put_new(customer: &Customer) -> Write {
    Write::PutCustomer {
        next: Box::new(customer.clone()),
        previous: None,
    }
}

fn put_over(next: &Customer, previous: &StoredCustomer) -> Write {
    Write::PutCustomer {
        next: Box::new(next.clone()),
        previous: Some(Box::new(previous.clone())),
    }
}

async fn stored(store: &dyn Store, tenant: &TenantId, id: &str) -> Result<StoredCustomer, Failure> {
    store
        .customer(tenant, id)
        .await?
        .ok_or_else(|| fail(format!("customer {id} not found")))
}

/// Creates `customer` and reads it back.
async fn create(
    store: &dyn Store,
    tenant: &TenantId,
    customer: &Customer,
) -> Result<StoredCustomer, Failure> {
    committed(
        store.commit(tenant, vec![put_new(customer)]).await,
        &format!("creating customer {}", customer.id),
    )?;
    stored(store, tenant, &customer.id).await
}

/// The ids of `items`, to compare orders readably.
fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| id(item).to_string()).collect()
}
