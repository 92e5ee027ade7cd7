//! Invoices (versions, the move between open and closed, the lists) and
//! the money records (payments, adjustments, promises).

use super::{committed, create, first, ids, refused, setup, walk, Failure, Outcome, ALL};
use app::ports::{InvoiceQuery, PageRequest, Store, Write};
use app::records::InvoiceRecord;
use chrono::NaiveDate;
use domain::identity::TenantId;
use domain::invoice::{CollectionStatus, InvoiceStatus};
use rust_decimal::Decimal;

fn save(next: &InvoiceRecord, previous: Option<&InvoiceRecord>) -> Write {
    Write::SaveInvoice {
        next: Box::new(next.clone()),
        previous: previous.map(|p| Box::new(p.clone())),
    }
}

fn invoice_ids(records: &[InvoiceRecord]) -> Vec<String> {
    ids(records, |r| &r.invoice.id)
}

/// An invoice is conditioned on the version read; paying it moves it out
/// of the open ones (and reopening it back), wherever it is read from.
pub async fn invoice_moves_between_open_and_closed(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    create(store, &t, &fx.customer("c1", "Acme")).await?;
    let invoice = fx.invoice("c1", "i1", fx.day(10), 100);
    committed(
        store.commit(&t, vec![save(&invoice, None)]).await,
        "create an invoice",
    )?;
    ensure_eq!(
        store.invoice(&t, "i1").await?,
        Some(invoice.clone()),
        "read by id"
    );
    ensure_eq!(
        store.open_invoices(&t, "c1").await?,
        vec![invoice.clone()],
        "open invoices"
    );
    refused(
        store.commit(&t, vec![save(&invoice, None)]).await,
        0,
        "create it again",
    )?;

    let mut disputed = invoice.clone();
    disputed.invoice.collection_status = CollectionStatus::Disputed;
    disputed.version = 2;
    committed(
        store
            .commit(&t, vec![save(&disputed, Some(&invoice))])
            .await,
        "update at its version",
    )?;
    ensure_eq!(
        store.invoice(&t, "i1").await?,
        Some(disputed.clone()),
        "updated"
    );
    refused(
        store
            .commit(&t, vec![save(&disputed, Some(&invoice))])
            .await,
        0,
        "update a stale read",
    )?;

    let paid = fx.paid(&disputed);
    committed(
        store.commit(&t, vec![save(&paid, Some(&disputed))]).await,
        "pay it",
    )?;
    ensure_eq!(
        store.invoice(&t, "i1").await?,
        Some(paid.clone()),
        "read by id once closed"
    );
    ensure!(
        store.open_invoices(&t, "c1").await?.is_empty(),
        "no longer open"
    );
    let page = store
        .customer_page(&t, "c1")
        .await?
        .map(|p| p.open_invoices);
    ensure_eq!(page, Some(Vec::new()), "not on the customer page");
    let paid_list = store
        .list_invoices(&t, list(Some("c1"), Some(InvoiceStatus::Paid), None, None))
        .await?;
    ensure_eq!(invoice_ids(&paid_list.items), vec!["i1"], "listed as paid");
    refused(
        store.commit(&t, vec![save(&paid, Some(&disputed))]).await,
        0,
        "move a stale read",
    )?;

    let mut reopened = paid.clone();
    reopened.invoice.amount_paid = Decimal::ZERO;
    reopened.version += 1;
    committed(
        store.commit(&t, vec![save(&reopened, Some(&paid))]).await,
        "reopen it",
    )?;
    ensure_eq!(
        store.open_invoices(&t, "c1").await?,
        vec![reopened.clone()],
        "open again"
    );
    ensure_eq!(
        store.invoice(&t, "i1").await?,
        Some(reopened),
        "read by id once reopened"
    );
    ensure_eq!(
        store
            .unknown_invoices(&t, "c1", &["i1".to_string(), "nope".to_string()])
            .await?,
        vec!["nope".to_string()],
        "unknown invoices of the customer"
    );
    ensure_eq!(
        store
            .unknown_invoices(&t, "c2", &["i1".to_string()])
            .await?,
        vec!["i1".to_string()],
        "another customer's invoice is unknown"
    );
    Ok(())
}

fn list(
    customer: Option<&str>,
    status: Option<InvoiceStatus>,
    overdue_on: Option<NaiveDate>,
    collection_status: Option<CollectionStatus>,
) -> InvoiceQuery {
    InvoiceQuery {
        customer_id: customer.map(str::to_string),
        status,
        overdue_on,
        collection_status,
        page: first(ALL),
    }
}

async fn listed(
    store: &dyn Store,
    t: &TenantId,
    query: InvoiceQuery,
) -> Result<Vec<String>, Failure> {
    Ok(invoice_ids(&store.list_invoices(t, query).await?.items))
}

/// Without a customer: one status (open by default), soonest due first;
/// with a customer: its invoices, open before closed; both narrowed by
/// overdue and collection status.
pub async fn invoice_lists_follow_the_query(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let a = fx.invoice("c1", "a", fx.day(1), 100);
    let mut b = fx.invoice("c1", "b", fx.day(10), 50);
    b.invoice.collection_status = CollectionStatus::Disputed;
    let d = fx.invoice("c2", "d", fx.day(3), 70);
    let f = fx.invoice("c2", "f", fx.day(5), 40);
    let e = fx.paid(&fx.invoice("c2", "e", fx.day(2), 20));
    let mut v = fx.invoice("c1", "v", fx.day(4), 30);
    v.invoice.voided = true;
    let writes = [&a, &b, &d, &e, &f, &v].map(|r| save(r, None)).to_vec();
    committed(store.commit(&t, writes).await, "create the invoices")?;

    use InvoiceStatus::{Open, Paid, Void};
    let today = Some(fx.day(5));
    let cases = vec![
        (
            list(None, None, None, None),
            vec!["a", "d", "f", "b"],
            "open by due date",
        ),
        (
            list(None, Some(Open), today, None),
            vec!["a", "d"],
            "overdue: due strictly before today",
        ),
        (
            list(None, None, None, Some(CollectionStatus::Disputed)),
            vec!["b"],
            "disputed",
        ),
        (list(None, Some(Paid), None, None), vec!["e"], "paid"),
        (list(None, Some(Void), None, None), vec!["v"], "void"),
        (
            list(Some("c1"), None, None, None),
            vec!["a", "b", "v"],
            "a customer's, open first",
        ),
        (
            list(Some("c1"), Some(Open), None, None),
            vec!["a", "b"],
            "a customer's open",
        ),
        (
            list(Some("c1"), None, today, None),
            vec!["a"],
            "a customer's overdue",
        ),
        (
            list(Some("c1"), Some(Void), None, None),
            vec!["v"],
            "a customer's void",
        ),
        (
            list(Some("c2"), Some(Paid), None, None),
            vec!["e"],
            "another customer's paid",
        ),
        (
            list(Some("c2"), None, today, None),
            vec!["d"],
            "another customer's overdue",
        ),
        (
            list(Some("c1"), None, None, Some(CollectionStatus::Normal)),
            vec!["a", "v"],
            "a customer's not disputed",
        ),
    ];
    for (query, expected, what) in cases {
        ensure_eq!(listed(store, &t, query).await?, expected, "{what}");
    }
    let pages = walk(2, async |page: PageRequest| {
        store
            .list_invoices(
                &t,
                InvoiceQuery {
                    page,
                    ..list(None, None, None, None)
                },
            )
            .await
    })
    .await?;
    let walked: Vec<String> = pages
        .iter()
        .map(|p| invoice_ids(p))
        .collect::<Vec<_>>()
        .concat();
    ensure_eq!(walked, vec!["a", "d", "f", "b"], "paged by cursor");

    // Overdue means open and past a due date: an invoice without one (listed
    // by its issue date) never is, nor is a paid one.
    let (t, _) = setup()?;
    let mut n = fx.invoice("c1", "n", fx.day(1), 10);
    n.invoice.due_date = None;
    let late = fx.invoice("c1", "late", fx.day(2), 10);
    let paid = fx.paid(&fx.invoice("c1", "paid", fx.day(1), 10));
    let writes = [&n, &late, &paid].map(|r| save(r, None)).to_vec();
    committed(store.commit(&t, writes).await, "create more invoices")?;
    let cases = vec![
        (
            list(None, None, None, None),
            vec!["n", "late"],
            "without a due date, by issue date",
        ),
        (
            list(None, None, today, None),
            vec!["late"],
            "no due date, not overdue",
        ),
        (
            list(Some("c1"), None, today, None),
            vec!["late"],
            "a customer's: no due date, not overdue",
        ),
        (
            list(None, Some(Paid), today, None),
            vec![],
            "a paid invoice is not overdue",
        ),
        (
            list(Some("c1"), Some(Paid), today, None),
            vec![],
            "a customer's paid invoice is not overdue",
        ),
    ];
    for (query, expected, what) in cases {
        ensure_eq!(listed(store, &t, query).await?, expected, "{what}");
    }
    Ok(())
}

/// Payments and promises list newest first; payments and adjustments are
/// written once, a promise is replaced as it progresses.
pub async fn money_records_are_newest_first(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let payments: Vec<_> = (1..=3)
        .map(|i| fx.payment("c1", fx.instant(i), 10 * i))
        .collect();
    let writes = payments
        .iter()
        .map(|p| Write::InsertPayment(Box::new(p.clone())))
        .collect();
    committed(store.commit(&t, writes).await, "insert payments")?;
    let pages = walk(2, async |page: PageRequest| {
        store.payments(&t, "c1", page).await
    })
    .await?;
    let walked: Vec<String> = pages.iter().flatten().map(|p| p.id.clone()).collect();
    let newest: Vec<String> = payments.iter().rev().map(|p| p.id.clone()).collect();
    ensure_eq!(walked, newest, "payments newest first");
    refused(
        store
            .commit(
                &t,
                vec![Write::InsertPayment(Box::new(payments[0].clone()))],
            )
            .await,
        0,
        "a payment inserted twice",
    )?;

    let adjustment = domain::payment::Adjustment {
        id: fx.id_at(fx.instant(4)),
        customer_id: "c1".into(),
        amount: Decimal::from(-5),
        reason: "rounding".into(),
        invoice_id: None,
        created_by: "user-1".into(),
        created_at: fx.instant(4),
    };
    let insert = || Write::InsertAdjustment(Box::new(adjustment.clone()));
    committed(
        store.commit(&t, vec![insert()]).await,
        "insert an adjustment",
    )?;
    refused(
        store.commit(&t, vec![insert()]).await,
        0,
        "an adjustment inserted twice",
    )?;

    let older = fx.promise("c1", fx.instant(5), 50);
    let newer = fx.promise("c1", fx.instant(6), 60);
    let put = |p: &domain::promise::Promise| Write::PutPromise(Box::new(p.clone()));
    committed(
        store.commit(&t, vec![put(&older), put(&newer)]).await,
        "put promises",
    )?;
    let mut progressed = older.clone();
    progressed.paid_since = Decimal::from(20);
    committed(
        store.commit(&t, vec![put(&progressed)]).await,
        "a promise's progress replaces it",
    )?;
    ensure_eq!(
        store.promises(&t, "c1", first(ALL)).await?.items,
        vec![newer, progressed],
        "promises newest first, as last put"
    );
    Ok(())
}
