//! Transactions: all or nothing, the first failed condition reported by
//! its write's index, and DynamoDB's limits (100 items, one operation per
//! item) enforced the same way everywhere.

use super::{committed, create, first, put_new, refused, rejected, setup, Outcome, ALL};
use app::ports::{Store, Write, MAX_TRANSACTION_ITEMS};
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

/// `items_of` counts at least an item per write (a customer with its list
/// entries more); more than [`MAX_TRANSACTION_ITEMS`] items, or two
/// operations on one item, are refused outright and write nothing.
pub async fn transactions_respect_dynamodb_limits(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let customer = fx.customer("c1", "Acme");
    let put = vec![put_new(&customer)];
    ensure!(
        store.items_of(&put) >= 2,
        "a customer put takes its record and list entries, counted {}",
        store.items_of(&put)
    );
    let many: Vec<Write> = (0..=MAX_TRANSACTION_ITEMS as i64)
        .map(|i| Write::History(Box::new(fx.history("c1", HistoryType::Note, fx.instant(i)))))
        .collect();
    ensure!(
        store.items_of(&many) >= many.len(),
        "at least one item per write"
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

    let item = fx.history("c1", HistoryType::Note, fx.instant(0));
    let twice = vec![
        put_new(&customer),
        Write::History(Box::new(item.clone())),
        Write::History(Box::new(item)),
    ];
    rejected(store.commit(&t, twice).await, "one item written twice")?;
    ensure!(
        store.customer(&t, "c1").await?.is_none(),
        "a refused transaction wrote nothing"
    );
    committed(store.commit(&t, Vec::new()).await, "an empty transaction")?;
    Ok(())
}
