//! [`MemoryStore`]: every store port in memory, with the DynamoDB store's
//! conditions, all-or-nothing transactions and failure reporting, plus the
//! controls tests need: injected faults, a count of requests per port
//! method and a log of committed transactions.

mod listing;
mod paging;
mod reads;
mod reports;
mod state;
mod writes;

use app::ports::{StoreError, StoreResult, Transactions, Write, MAX_TRANSACTION_ITEMS};
use async_trait::async_trait;
use domain::identity::TenantId;
use state::State;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Decides, for one commit, whether it fails and how.
type CommitRule = Arc<dyn Fn(&TenantId, &[Write]) -> Option<StoreError> + Send + Sync>;

/// A scripted outcome of the next call of one port method.
#[derive(Debug)]
enum Fault {
    /// The call fails and changes nothing.
    Fail(StoreError),
    /// The commit is applied, then the caller gets the error: a timeout
    /// after DynamoDB did the work.
    ApplyThenFail(StoreError),
}

#[derive(Default)]
struct Control {
    requests: BTreeMap<String, usize>,
    scripted: BTreeMap<String, VecDeque<Fault>>,
    rules: Vec<CommitRule>,
    commits: Vec<(TenantId, Vec<Write>)>,
}

struct Inner {
    state: Mutex<State>,
    control: Mutex<Control>,
}

/// The store in memory. Clones share the same data, so a test keeps one
/// handle to inspect and control it while the code under test holds another.
///
/// Every read and write is scoped by its tenant; only [`app::ports::DueIndex`]
/// reads across tenants, as the scheduler does. Differences from DynamoDB,
/// all deliberate: reads are always strongly consistent (index reads
/// included); a conflict between concurrent transactions never happens
/// unless injected; a search lists a customer once even when it matches on
/// several fields; lists never end with an empty page behind a cursor, nor
/// stop short of their limit; a transaction touching one item twice is
/// refused outright even when DynamoDB Local would first fail a condition;
/// a cursor is accepted only by the query that gave it (DynamoDB's by any
/// listing read from the same partition, other filters or lists included).
/// What DynamoDB does is kept, oddities included: list entries are the
/// copies the last put wrote (chasing updates, recorded history and pushed
/// group settings change the record only), and a put or delete removes the
/// entries of the record it was conditioned on, leaving any others.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change is made whole under the lock; a test that panicked
    // elsewhere left the data consistent.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemoryStore {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                control: Mutex::new(Control::default()),
            }),
        }
    }

    /// The next call of the port method named `method` (e.g. `"customer"`,
    /// `"list_tasks"`, `"commit"`) fails with `error`. Calls queue up.
    pub fn fail_next_call(&self, method: &str, error: StoreError) {
        self.script(method, Fault::Fail(error));
    }

    /// The next commit fails with `error` and writes nothing.
    pub fn fail_next_commit(&self, error: StoreError) {
        self.script("commit", Fault::Fail(error));
    }

    /// The next commit writes (if its conditions hold) and then reports
    /// `error`: the caller cannot tell whether it happened.
    pub fn apply_then_fail_next_commit(&self, error: StoreError) {
        self.script("commit", Fault::ApplyThenFail(error));
    }

    /// Until [`MemoryStore::clear_faults`], every commit for which `rule`
    /// returns an error fails with it and writes nothing.
    pub fn fail_commits_matching(
        &self,
        rule: impl Fn(&TenantId, &[Write]) -> Option<StoreError> + Send + Sync + 'static,
    ) {
        lock(&self.inner.control).rules.push(Arc::new(rule));
    }

    /// Drops every scripted fault and commit rule.
    pub fn clear_faults(&self) {
        let mut control = lock(&self.inner.control);
        control.scripted.clear();
        control.rules.clear();
    }

    /// How many times each port method was called, by method name
    /// (`items_of` is arithmetic, not a request, and is not counted).
    pub fn requests(&self) -> BTreeMap<String, usize> {
        lock(&self.inner.control).requests.clone()
    }

    /// How many times the port method `method` was called.
    pub fn request_count(&self, method: &str) -> usize {
        lock(&self.inner.control)
            .requests
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_requests(&self) {
        lock(&self.inner.control).requests.clear();
    }

    /// Every transaction committed so far, in order, with its tenant.
    pub fn commits(&self) -> Vec<(TenantId, Vec<Write>)> {
        lock(&self.inner.control).commits.clone()
    }

    fn script(&self, method: &str, fault: Fault) {
        lock(&self.inner.control)
            .scripted
            .entry(method.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Counts a call of `method` and takes its scripted fault, if any.
    fn call(&self, method: &str) -> Option<Fault> {
        let mut control = lock(&self.inner.control);
        *control.requests.entry(method.to_string()).or_default() += 1;
        control
            .scripted
            .get_mut(method)
            .and_then(VecDeque::pop_front)
    }

    /// Starts a read: counts it and fails it if a fault is scripted.
    fn read(&self, method: &str) -> StoreResult<MutexGuard<'_, State>> {
        match self.call(method) {
            Some(Fault::Fail(error) | Fault::ApplyThenFail(error)) => Err(error),
            None => Ok(lock(&self.inner.state)),
        }
    }

    /// Checks and applies `writes` as one transaction.
    fn transact(&self, tenant: &TenantId, writes: &[Write]) -> StoreResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let items = self.items_of(tenant, writes);
        if items > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Rejected(format!(
                "{items} items exceed one transaction"
            )));
        }
        let mut seen = BTreeSet::new();
        for write in writes {
            for item in writes::items(write) {
                if !seen.insert(item.clone()) {
                    // DynamoDB: "Transaction request cannot include multiple
                    // operations on one item".
                    return Err(StoreError::Rejected(format!(
                        "the transaction touches {item} more than once"
                    )));
                }
            }
        }
        let mut state = lock(&self.inner.state);
        let data = state.tenants.entry(tenant.clone()).or_default();
        if let Some(index) = writes.iter().position(|w| !writes::holds(data, w)) {
            return Err(StoreError::ConditionFailed { index });
        }
        for write in writes.iter().cloned() {
            writes::apply(data, write);
        }
        drop(state);
        lock(&self.inner.control)
            .commits
            .push((tenant.clone(), writes.to_vec()));
        Ok(())
    }
}

#[async_trait]
impl Transactions for MemoryStore {
    async fn commit(&self, tenant: &TenantId, writes: Vec<Write>) -> StoreResult<()> {
        match self.call("commit") {
            Some(Fault::Fail(error)) => return Err(error),
            Some(Fault::ApplyThenFail(error)) => {
                self.transact(tenant, &writes)?;
                return Err(error);
            }
            None => {}
        }
        // Rules run without the lock: one may well inspect the store.
        let rules = lock(&self.inner.control).rules.clone();
        let refused = rules.iter().find_map(|rule| rule(tenant, &writes));
        match refused {
            Some(error) => Err(error),
            None => self.transact(tenant, &writes),
        }
    }

    /// The items DynamoDB would write, counted as the DynamoDB store builds
    /// them (an empty [`Write::CountEnrolments`] takes none).
    fn items_of(&self, _tenant: &TenantId, writes: &[Write]) -> usize {
        writes.iter().map(|w| writes::items(w).len()).sum()
    }
}
