//! Transactions: all or nothing, the first failed condition reported by
//! its write's index, and DynamoDB's limits (100 items, one operation per
//! item) enforced the same way everywhere.

use super::{committed, create, first, put_new, refused, rejected, setup, Outcome, ALL};
use app::ports::{EnrolmentDeltas, Store, StoreError, Write, MAX_TRANSACTION_ITEMS};
use app::records::StoredCustomer;
use domain::cadence::AssignmentMode;
use domain::history::HistoryType;

/// A transaction whose condition fails changes nothing, and reports the
/// first write whose condition failed.
pub async fn a_failed_transaction_writes_nothing(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let taken = Write::ReserveCustomerNumber {
        number: "N-taken".into(),
        customer_id: "owner".into(),
    };
    committed(store.commit(&t, vec![taken]).await, "reserve a number")?;
    let existing = fx.customer("c0", "Existing");
    create(store, &t, &existing).await?;

    let customer = fx.customer("c1", "Acme");
    let history = fx.history("c1", HistoryType::CustomerCreated, fx.instant(1));
    let group = fx.group("g1", "Key accounts");
    let writes = vec![
        put_new(&customer),
        Write::History(Box::new(history.clone())),
        Write::ReserveCustomerNumber {
            number: "N-taken".into(),
            customer_id: "c1".into(),
        },
        Write::SaveGroup {
            group: Box::new(group.clone()),
            expected_version: 0,
        },
    ];
    refused(
        store.commit(&t, writes).await,
        2,
        "a transaction with a taken number",
    )?;
    ensure!(
        store.customer(&t, "c1").await?.is_none(),
        "the customer was not written"
    );
    ensure!(
        store
            .history(&t, "c1", &[], first(ALL))
            .await?
            .items
            .is_empty(),
        "the history was not written"
    );
    ensure!(
        store.group(&t, "g1").await?.is_none(),
        "the group was not written"
    );
    let owner = store
        .customer_id_by_number(&t, &["N-taken".to_string()])
        .await?;
    ensure_eq!(
        owner.get("N-taken").map(String::as_str),
        Some("owner"),
        "the number kept its owner"
    );

    let writes = vec![
        Write::History(Box::new(history.clone())),
        put_new(&existing),
        Write::ReserveCustomerNumber {
            number: "N-taken".into(),
            customer_id: "c1".into(),
        },
    ];
    refused(
        store.commit(&t, writes).await,
        1,
        "two failing writes report the first",
    )?;

    let writes = vec![
        put_new(&customer),
        Write::History(Box::new(history.clone())),
        Write::SaveGroup {
            group: Box::new(group),
            expected_version: 0,
        },
    ];
    committed(
        store.commit(&t, writes).await,
        "the same writes without the taken number",
    )?;
    ensure!(
        store.customer(&t, "c1").await?.is_some(),
        "customer written"
    );
    ensure_eq!(
        store.history(&t, "c1", &[], first(ALL)).await?.items,
        vec![history],
        "history written"
    );
    ensure!(store.group(&t, "g1").await?.is_some(), "group written");
    Ok(())
}

/// `items_of` counts the items of the single-table layout (a customer
/// with its list entries, a task with its pointer, ...); more than
/// [`MAX_TRANSACTION_ITEMS`] items, or two operations on one item, are
/// refused outright and write nothing.
pub async fn transactions_respect_dynamodb_limits(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let customer = fx.customer("c1", "Acme");
    let put = vec![put_new(&customer)];
    let s = StoredCustomer {
        customer: customer.clone(),
        revision: 1,
    };
    let task = fx.task("c1", "t1", fx.day(1), None);
    let notes = [
        fx.history("c1", HistoryType::Note, fx.instant(1)),
        fx.history("c1", HistoryType::Note, fx.instant(2)),
    ];
    let counts: Vec<(Vec<Write>, usize, &str)> = vec![
        (
            put.clone(),
            6,
            "a customer put: record, 3 facets (all, status, overdue), 2 search fields",
        ),
        (
            vec![Write::RecordHistory {
                stored: Box::new(s.clone()),
                items: notes.to_vec(),
            }],
            3,
            "recording history: the record and each item",
        ),
        (
            vec![Write::DeleteCustomer {
                stored: Box::new(s.clone()),
            }],
            7,
            "a customer delete: record, 5 list entries, number",
        ),
        (
            vec![Write::InsertTask(Box::new(task.clone()))],
            2,
            "a task and its pointer",
        ),
        (
            vec![Write::CloseTask {
                completed: Box::new(fx.completed(&task)),
                expected_version: 1,
            }],
            3,
            "closing a task: open out, completed in, pointer",
        ),
        (
            vec![Write::SaveCadence {
                record: Box::new(fx.cadence("k1", 1, AssignmentMode::Manual)),
                previous_version: 0,
                unenrolled: false,
            }],
            3,
            "a cadence: current, snapshot, assignment copy",
        ),
        (
            vec![Write::CountCadences { delta: 1 }],
            1,
            "the cadence count",
        ),
        (
            vec![Write::DeleteCadence { id: "k1".into() }],
            3,
            "a cadence delete: current, count, assignment copy",
        ),
        (
            vec![Write::DeleteGroup(Box::new(fx.group("g1", "G")))],
            1,
            "a group delete",
        ),
        (
            vec![Write::PushGroupSettings {
                group_id: "g1".into(),
                customer_id: "c1".into(),
                settings: Box::default(),
            }],
            1,
            "group settings pushed to a member",
        ),
        (
            vec![Write::DeleteTemplate(Box::new(fx.template("tp1", 1)))],
            1,
            "a template delete",
        ),
        (
            vec![Write::CountEnrolments(EnrolmentDeltas::moving(
                Some(("k1".into(), 1)),
                Some(("k1".into(), 2)),
            ))],
            2,
            "a migration moves two version counters, the cadence's nets out",
        ),
        (
            vec![Write::CountEnrolments(EnrolmentDeltas::default())],
            0,
            "no counter moves",
        ),
    ];
    for (writes, expected, what) in counts {
        ensure_eq!(store.items_of(&t, &writes), expected, "{what}");
    }
    let many: Vec<Write> = (0..=MAX_TRANSACTION_ITEMS as i64)
        .map(|i| Write::History(Box::new(fx.history("c1", HistoryType::Note, fx.instant(i)))))
        .collect();
    ensure_eq!(
        store.items_of(&t, &many),
        many.len(),
        "one item per history write"
    );
    rejected(store.commit(&t, many).await, "101 items in one transaction")?;
    ensure!(
        store
            .history(&t, "c1", &[], first(ALL))
            .await?
            .items
            .is_empty(),
        "an oversized transaction wrote nothing"
    );

    // Unconditioned operations: DynamoDB Local (unlike DynamoDB) checks
    // the conditions of a transaction before refusing one that touches an
    // item twice, and then reports the second conditioned operation's
    // condition as failed.
    let promise = fx.promise("c1", fx.instant(0), 10);
    let twice = vec![
        put_new(&customer),
        Write::PutPromise(Box::new(promise.clone())),
        Write::PutPromise(Box::new(promise)),
    ];
    rejected(store.commit(&t, twice).await, "one item written twice")?;
    let released_twice = vec![
        put_new(&customer),
        Write::ReleaseCustomerNumber {
            number: customer.number.clone(),
        },
        Write::ReleaseCustomerNumber {
            number: customer.number.clone(),
        },
    ];
    rejected(
        store.commit(&t, released_twice).await,
        "one item deleted twice",
    )?;
    ensure!(
        store.customer(&t, "c1").await?.is_none(),
        "a refused transaction wrote nothing"
    );
    committed(store.commit(&t, put).await, "create the customer")?;
    let s = super::stored(store, &t, "c1").await?;
    let recorded_twice = vec![
        Write::RecordHistory {
            stored: Box::new(s),
            items: notes.to_vec(),
        },
        Write::History(Box::new(notes[0].clone())),
    ];
    // DynamoDB refuses it outright; DynamoDB Local fails the second
    // condition (see above). Either way nothing is written.
    match store.commit(&t, recorded_twice).await {
        Err(StoreError::Rejected(_) | StoreError::ConditionFailed { index: 1 }) => {}
        other => {
            return Err(super::fail(format!(
            "an item recorded on the customer and written again: expected Rejected, got {other:?}"
        )))
        }
    }
    ensure!(
        store
            .history(&t, "c1", &[], first(ALL))
            .await?
            .items
            .is_empty(),
        "a refused recording wrote nothing"
    );
    committed(store.commit(&t, Vec::new()).await, "an empty transaction")?;
    Ok(())
}
