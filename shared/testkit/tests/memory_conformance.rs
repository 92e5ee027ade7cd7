#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The memory store passes the conformance suite, and its test controls
//! (faults, request counts, the commit log) do what they say.

use app::ports::{CustomerStore, HistoryStore, PageRequest, StoreError, Transactions, Write};
use domain::history::HistoryType;
use testkit::conformance;
use testkit::fixtures::{fresh_tenant, Fixtures};
use testkit::MemoryStore;

#[tokio::test]
async fn the_memory_store_conforms() {
    conformance::all(&MemoryStore::new()).await.unwrap();
}

#[tokio::test]
async fn one_store_passes_the_suite_twice() {
    // Checks use fresh tenants, so they can share a store (or a table).
    let store = MemoryStore::new();
    conformance::all(&store).await.unwrap();
    conformance::all(&store).await.unwrap();
}

#[tokio::test]
async fn a_scripted_commit_failure_writes_nothing_then_clears() {
    let store = MemoryStore::new();
    let fx = Fixtures::new().unwrap();
    let t = fresh_tenant("unit").unwrap();
    let put = || Write::PutCustomer {
        next: Box::new(fx.customer("c1", "Acme")),
        previous: None,
    };
    store.fail_next_commit(StoreError::Throttled("slow down".into()));
    let result = store.commit(&t, vec![put()]).await;
    assert!(
        matches!(result, Err(StoreError::Throttled(_))),
        "{result:?}"
    );
    assert!(store.customer(&t, "c1").await.unwrap().is_none());
    store.commit(&t, vec![put()]).await.unwrap();
    assert!(store.customer(&t, "c1").await.unwrap().is_some());
    assert_eq!(
        store.commits().len(),
        1,
        "only the applied commit is logged"
    );
}

#[tokio::test]
async fn apply_then_fail_writes_but_reports_the_error() {
    let store = MemoryStore::new();
    let fx = Fixtures::new().unwrap();
    let t = fresh_tenant("unit").unwrap();
    let put = || Write::PutCustomer {
        next: Box::new(fx.customer("c1", "Acme")),
        previous: None,
    };
    store.apply_then_fail_next_commit(StoreError::Unavailable("timeout".into()));
    let result = store.commit(&t, vec![put()]).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        store.customer(&t, "c1").await.unwrap().is_some(),
        "it happened"
    );
    let again = store.commit(&t, vec![put()]).await;
    assert!(
        matches!(again, Err(StoreError::ConditionFailed { index: 0 })),
        "{again:?}"
    );
}

#[tokio::test]
async fn commit_rules_fail_matching_transactions_until_cleared() {
    let store = MemoryStore::new();
    let fx = Fixtures::new().unwrap();
    let t = fresh_tenant("unit").unwrap();
    store.fail_commits_matching(|_, writes| {
        writes
            .iter()
            .any(|w| matches!(w, Write::History(_)))
            .then_some(StoreError::TransactionConflict)
    });
    let history = || Write::History(Box::new(fx.history("c1", HistoryType::Note, fx.instant(1))));
    for _ in 0..2 {
        let result = store.commit(&t, vec![history()]).await;
        assert!(
            matches!(result, Err(StoreError::TransactionConflict)),
            "{result:?}"
        );
    }
    let group = Write::SaveGroup {
        group: Box::new(fx.group("g1", "G")),
        expected_version: 0,
    };
    store.commit(&t, vec![group]).await.unwrap();
    store.clear_faults();
    store.commit(&t, vec![history()]).await.unwrap();
}

#[tokio::test]
async fn reads_fail_when_scripted_and_every_call_is_counted() {
    let store = MemoryStore::new();
    let t = fresh_tenant("unit").unwrap();
    store.fail_next_call("customer", StoreError::Unavailable("down".into()));
    assert!(store.customer(&t, "c1").await.is_err());
    assert!(store.customer(&t, "c1").await.unwrap().is_none());
    let page = PageRequest {
        limit: 5,
        cursor: None,
    };
    store.history(&t, "c1", &[], page).await.unwrap();
    store.commit(&t, Vec::new()).await.unwrap();
    let _ = store.items_of(&t, &[]);

    let requests = store.requests();
    assert_eq!(requests.get("customer"), Some(&2));
    assert_eq!(requests.get("history"), Some(&1));
    assert_eq!(requests.get("commit"), Some(&1));
    assert_eq!(requests.len(), 3, "items_of is not a request: {requests:?}");
    assert_eq!(store.request_count("customer"), 2);
    assert_eq!(store.request_count("list_tasks"), 0);
    store.reset_requests();
    assert!(store.requests().is_empty());
}

#[tokio::test]
async fn clones_share_data_and_controls() {
    let store = MemoryStore::new();
    let handle = store.clone();
    let fx = Fixtures::new().unwrap();
    let t = fresh_tenant("unit").unwrap();
    handle
        .commit(
            &t,
            vec![Write::PutCustomer {
                next: Box::new(fx.customer("c1", "Acme")),
                previous: None,
            }],
        )
        .await
        .unwrap();
    assert!(store.customer(&t, "c1").await.unwrap().is_some());
    assert_eq!(store.request_count("commit"), 1);
}

#[tokio::test]
async fn a_negative_counter_reads_as_malformed() {
    use app::ports::GroupStore;
    let store = MemoryStore::new();
    let fx = Fixtures::new().unwrap();
    let t = fresh_tenant("unit").unwrap();
    store
        .commit(
            &t,
            vec![Write::SaveGroup {
                group: Box::new(fx.group("g1", "G")),
                expected_version: 0,
            }],
        )
        .await
        .unwrap();
    store
        .commit(
            &t,
            vec![Write::CountGroupMember {
                group_id: "g1".into(),
                delta: -1,
            }],
        )
        .await
        .unwrap();
    let read = store.group(&t, "g1").await;
    assert!(matches!(read, Err(StoreError::Malformed(_))), "{read:?}");
}

#[tokio::test]
async fn tags_equal_but_for_case_are_one_list_entry_written_twice() {
    // Tags are deduplicated exactly, but listed case-insensitively: DynamoDB
    // refuses a transaction putting the same list entry twice, and so does
    // the memory store.
    let store = MemoryStore::new();
    let fx = Fixtures::new().unwrap();
    let t = fresh_tenant("unit").unwrap();
    let mut customer = fx.customer("c1", "Acme");
    customer.tags = vec!["VIP".into(), "vip".into()];
    let result = store
        .commit(
            &t,
            vec![Write::PutCustomer {
                next: Box::new(customer),
                previous: None,
            }],
        )
        .await;
    assert!(matches!(result, Err(StoreError::Rejected(_))), "{result:?}");
}

#[tokio::test]
async fn a_chasing_update_leaves_the_entries_and_the_next_put_moves_them() {
    // A chasing update writes the evaluation's bookkeeping only, never the
    // chasing state the lists file customers by; so the record a put is
    // conditioned on always names the entries in the table, and a put
    // moves exactly those (here and in DynamoDB).
    use app::ports::{CustomerFilter, CustomerQuery, CustomerSort};
    use domain::customer::ChasingStatus;
    let store = MemoryStore::new();
    let fx = Fixtures::new().unwrap();
    let t = fresh_tenant("unit").unwrap();
    let customer = fx.customer("c1", "Acme");
    store
        .commit(
            &t,
            vec![Write::PutCustomer {
                next: Box::new(customer.clone()),
                previous: None,
            }],
        )
        .await
        .unwrap();
    let s1 = store.customer(&t, "c1").await.unwrap().unwrap();
    let mut paused = customer.clone();
    paused.chasing.status = ChasingStatus::Paused;
    store
        .commit(
            &t,
            vec![Write::UpdateChasing {
                stored: Box::new(s1),
                next: Box::new(paused.clone()),
            }],
        )
        .await
        .unwrap();
    let s2 = store.customer(&t, "c1").await.unwrap().unwrap();
    assert_eq!(s2.customer.chasing.status, ChasingStatus::Active);
    store
        .commit(
            &t,
            vec![Write::PutCustomer {
                next: Box::new(paused),
                previous: Some(Box::new(s2)),
            }],
        )
        .await
        .unwrap();
    let by_status = |status: &str| CustomerQuery {
        filters: vec![CustomerFilter::ChasingStatus(status.into())],
        search: None,
        sort: CustomerSort::Name,
        page: PageRequest {
            limit: 10,
            cursor: None,
        },
    };
    let count = |status: &'static str| {
        let store = &store;
        let t = &t;
        async move {
            store
                .list_customers(t, by_status(status))
                .await
                .unwrap()
                .items
                .len()
        }
    };
    assert_eq!((count("active").await, count("paused").await), (0, 1));
    let s3 = store.customer(&t, "c1").await.unwrap().unwrap();
    store
        .commit(
            &t,
            vec![Write::DeleteCustomer {
                stored: Box::new(s3),
            }],
        )
        .await
        .unwrap();
    assert_eq!((count("active").await, count("paused").await), (0, 0));
}
