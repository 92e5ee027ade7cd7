//! Customers: revisions, recent history, number reservations, the list
//! (filters, sorts, search, list copies), deletion with its partition, and
//! paging with cursors.

use super::{
    bad_cursor, committed, create, first, ids, put_new, put_over, refused, setup, stored, walk,
    Outcome, ALL,
};
use crate::fixtures::fresh_tenant;
use app::ports::{
    CustomerFilter, CustomerQuery, CustomerSort, HistoryFilter, PageRequest, Store, Write,
};
use domain::customer::{ChasingStatus, Customer};
use domain::history::{HistoryItem, HistoryType, RECENT_ITEMS};
use domain::identity::TenantId;
use rust_decimal::Decimal;

fn query(filters: Vec<CustomerFilter>, search: Option<&str>, sort: CustomerSort) -> CustomerQuery {
    CustomerQuery {
        filters,
        search: search.map(str::to_string),
        sort,
        page: first(ALL),
    }
}

async fn listed(
    store: &dyn Store,
    tenant: &TenantId,
    query: CustomerQuery,
) -> Result<Vec<String>, super::Failure> {
    let page = store.list_customers(tenant, query).await?;
    Ok(ids(&page.items, |c: &Customer| &c.id))
}

/// Every write to a customer is conditioned on the revision read, and moves
/// it; only the client's changes move `version`.
pub async fn customer_writes_are_conditioned_on_the_revision(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let customer = fx.customer("c1", "Acme");
    let s1 = create(store, &t, &customer).await?;
    ensure_eq!(
        s1.customer,
        customer,
        "a created customer reads back as written"
    );
    refused(
        store.commit(&t, vec![put_new(&customer)]).await,
        0,
        "creating a customer that exists",
    )?;

    let mut renamed = s1.customer.clone();
    renamed.name = "Acme Ltd".into();
    renamed.version = 2;
    committed(
        store.commit(&t, vec![put_over(&renamed, &s1)]).await,
        "put over the latest read",
    )?;
    let s2 = stored(store, &t, "c1").await?;
    ensure!(
        s2.revision > s1.revision,
        "a put moves the revision ({} then {})",
        s1.revision,
        s2.revision
    );
    ensure_eq!(s2.customer.name, "Acme Ltd", "the put is stored");
    refused(
        store.commit(&t, vec![put_over(&renamed, &s1)]).await,
        0,
        "put over a stale read",
    )?;
    refused(
        store
            .commit(
                &t,
                vec![Write::DeleteCustomer {
                    stored: Box::new(s1.clone()),
                }],
            )
            .await,
        0,
        "delete after a stale read",
    )?;

    let mut scheduled = s2.customer.clone();
    scheduled.next_evaluation_at = Some(fx.instant(3600));
    scheduled.last_evaluated_at = Some(fx.instant(-60));
    scheduled.chasing.status = ChasingStatus::Paused;
    scheduled.name = "not a chasing field".into();
    let update = |stored: &app::records::StoredCustomer| Write::UpdateChasing {
        stored: Box::new(stored.clone()),
        next: Box::new(scheduled.clone()),
    };
    committed(store.commit(&t, vec![update(&s2)]).await, "update chasing")?;
    let s3 = stored(store, &t, "c1").await?;
    ensure!(
        s3.revision > s2.revision,
        "updating chasing moves the revision"
    );
    ensure_eq!(
        s3.customer.next_evaluation_at,
        scheduled.next_evaluation_at,
        "next evaluation set"
    );
    ensure_eq!(
        s3.customer.last_evaluated_at,
        scheduled.last_evaluated_at,
        "last evaluation set"
    );
    ensure_eq!(
        s3.customer.chasing.status,
        s2.customer.chasing.status,
        "the chasing state is left to puts"
    );
    ensure_eq!(
        s3.customer.name,
        "Acme Ltd",
        "only the evaluation's fields change"
    );
    ensure_eq!(s3.customer.version, 2, "updating chasing keeps the version");
    refused(
        store.commit(&t, vec![update(&s2)]).await,
        0,
        "update chasing after a stale read",
    )?;

    let item = fx.history("c1", HistoryType::Note, fx.instant(10));
    let record = |stored: &app::records::StoredCustomer, item: &HistoryItem| Write::RecordHistory {
        stored: Box::new(stored.clone()),
        items: vec![item.clone()],
    };
    committed(
        store.commit(&t, vec![record(&s3, &item)]).await,
        "record history",
    )?;
    let s4 = stored(store, &t, "c1").await?;
    ensure!(
        s4.revision > s3.revision,
        "recording history moves the revision"
    );
    ensure_eq!(
        s4.customer.recent_history,
        vec![item.clone()],
        "the item is in recent history"
    );
    ensure_eq!(
        store.history(&t, "c1", &[], first(ALL)).await?.items,
        vec![item.clone()],
        "the item is stored in the timeline"
    );
    ensure_eq!(
        s4.customer.version,
        2,
        "recording history keeps the version"
    );
    ensure_eq!(
        s4.customer.next_evaluation_at,
        scheduled.next_evaluation_at,
        "recording keeps the rest"
    );
    let another = fx.history("c1", HistoryType::Note, fx.instant(11));
    refused(
        store.commit(&t, vec![record(&s3, &another)]).await,
        0,
        "record after a stale read",
    )?;
    refused(
        store.commit(&t, vec![record(&s4, &item)]).await,
        0,
        "record an item already in the timeline",
    )?;
    let s4 = stored(store, &t, "c1").await?;
    ensure_eq!(
        s4.customer.recent_history,
        vec![item.clone()],
        "refused recordings changed nothing"
    );
    ensure_eq!(
        store.history(&t, "c1", &[], first(ALL)).await?.items,
        vec![item.clone()],
        "refused recordings stored nothing"
    );

    committed(
        store
            .commit(
                &t,
                vec![Write::DeleteCustomer {
                    stored: Box::new(s4),
                }],
            )
            .await,
        "delete at the latest revision",
    )?;
    ensure!(
        store.customer(&t, "c1").await?.is_none(),
        "a deleted customer is gone"
    );
    committed(
        store.commit(&t, vec![put_new(&customer)]).await,
        "re-creating a deleted customer",
    )?;
    Ok(())
}

/// `recent_history` keeps the newest items, newest first.
pub async fn recent_history_keeps_the_newest(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let s = create(store, &t, &fx.customer("c1", "Acme")).await?;
    let items: Vec<_> = (0..RECENT_ITEMS as i64 + 5)
        .map(|i| fx.history("c1", HistoryType::Note, fx.instant(i)))
        .collect();
    let (early, late) = items.split_at(15);
    committed(
        store
            .commit(
                &t,
                vec![Write::RecordHistory {
                    stored: Box::new(s),
                    items: early.to_vec(),
                }],
            )
            .await,
        "record 15 items",
    )?;
    let s = stored(store, &t, "c1").await?;
    committed(
        store
            .commit(
                &t,
                vec![Write::RecordHistory {
                    stored: Box::new(s),
                    items: late.to_vec(),
                }],
            )
            .await,
        "record 10 more",
    )?;
    let recent = stored(store, &t, "c1").await?.customer.recent_history;
    let mut newest = items.clone();
    newest.sort_by(|a, b| b.id.cmp(&a.id));
    newest.truncate(RECENT_ITEMS);
    ensure_eq!(
        ids(&recent, |h| &h.id),
        ids(&newest, |h| &h.id),
        "the newest {RECENT_ITEMS}, newest first"
    );
    let timeline = store.history(&t, "c1", &[], first(ALL)).await?.items;
    let mut every = items;
    every.sort_by(|a, b| b.id.cmp(&a.id));
    ensure_eq!(
        ids(&timeline, |h| &h.id),
        ids(&every, |h| &h.id),
        "the timeline keeps every item"
    );
    Ok(())
}

/// Customer numbers, invoice numbers and contact role names can each be
/// held by one owner at a time.
pub async fn reservations_are_unique(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let reserve = |number: &str, customer: &str| Write::ReserveCustomerNumber {
        number: number.into(),
        customer_id: customer.into(),
    };
    committed(
        store.commit(&t, vec![reserve("N-1", "c1")]).await,
        "reserve a free number",
    )?;
    refused(
        store.commit(&t, vec![reserve("N-1", "c2")]).await,
        0,
        "reserve a taken number",
    )?;
    refused(
        store.commit(&t, vec![reserve("N-1", "c1")]).await,
        0,
        "reserve one's own number again",
    )?;
    let owners = store
        .customer_id_by_number(&t, &["N-1".to_string(), "N-2".to_string()])
        .await?;
    ensure_eq!(owners.len(), 1, "only reserved numbers have owners");
    ensure_eq!(
        owners.get("N-1").map(String::as_str),
        Some("c1"),
        "the owner of N-1"
    );
    committed(
        store
            .commit(
                &t,
                vec![Write::ReleaseCustomerNumber {
                    number: "N-1".into(),
                }],
            )
            .await,
        "release",
    )?;
    committed(
        store.commit(&t, vec![reserve("N-1", "c2")]).await,
        "reserve a released number",
    )?;
    let owners = store
        .customer_id_by_number(&t, &["N-1".to_string()])
        .await?;
    ensure_eq!(
        owners.get("N-1").map(String::as_str),
        Some("c2"),
        "the new owner"
    );

    let reserve_invoice = |number: &str, invoice: &str| Write::ReserveInvoiceNumber {
        number: number.into(),
        invoice_id: invoice.into(),
    };
    committed(
        store.commit(&t, vec![reserve_invoice("INV-1", "i1")]).await,
        "reserve an invoice number",
    )?;
    refused(
        store.commit(&t, vec![reserve_invoice("INV-1", "i2")]).await,
        0,
        "reserve a taken invoice number",
    )?;
    let numbers = ["INV-1".to_string(), "INV-2".to_string()];
    ensure_eq!(
        store.taken_invoice_numbers(&t, &numbers).await?,
        vec!["INV-1".to_string()],
        "taken invoice numbers"
    );
    let asked = ["INV-1".to_string(), "INV-2".into(), "INV-1".into()];
    ensure_eq!(
        store.taken_invoice_numbers(&t, &asked).await?,
        vec!["INV-1".to_string(), "INV-1".into()],
        "taken numbers in the order asked, as often as asked"
    );
    committed(
        store
            .commit(
                &t,
                vec![Write::ReleaseInvoiceNumber {
                    number: "INV-1".into(),
                }],
            )
            .await,
        "release an invoice number",
    )?;
    ensure!(
        store.taken_invoice_numbers(&t, &numbers).await?.is_empty(),
        "a released invoice number is free"
    );

    let first_role = fx.contact_role("r1", "Accounts Payable");
    let same_name = fx.contact_role("r2", "  accounts   PAYABLE ");
    committed(
        store
            .commit(
                &t,
                vec![Write::CreateContactRole(Box::new(first_role.clone()))],
            )
            .await,
        "create a role",
    )?;
    refused(
        store
            .commit(
                &t,
                vec![Write::CreateContactRole(Box::new(same_name.clone()))],
            )
            .await,
        0,
        "a role name differing only in case and spacing",
    )?;
    committed(
        store
            .commit(&t, vec![Write::DeleteContactRole(Box::new(first_role))])
            .await,
        "delete the role",
    )?;
    committed(
        store
            .commit(&t, vec![Write::CreateContactRole(Box::new(same_name))])
            .await,
        "the name is free once its role is deleted",
    )?;
    Ok(())
}

/// The list shows list copies, narrowed by every filter, in the asked
/// order; search is a case-insensitive prefix match on name, number or
/// email; a put moves the customer between facets.
pub async fn customer_lists_follow_the_query(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let mut a = fx.customer("a", "Beta Corp");
    a.group_id = Some("g1".into());
    a.tags = vec!["VIP".into()];
    a.ar_specialist_id = Some("u1".into());
    a.balance.overdue = Decimal::from(100);
    a.created_at = fx.instant(1);
    let mut b = fx.customer("b", "alpha inc");
    b.tags = vec!["vip".into(), "Late".into()];
    b.balance.overdue = Decimal::from(500);
    b.created_at = fx.instant(2);
    b.email = Some("Pay@Alpha.example".into());
    b.recent_history = vec![fx.history("b", HistoryType::Note, fx.instant(2))];
    let mut c = fx.customer("c", "Gamma");
    c.group_id = Some("g1".into());
    c.chasing.status = ChasingStatus::Paused;
    c.chasing.cadence_id = Some("k1".into());
    c.chasing.cadence_version = Some(2);
    c.created_at = fx.instant(3);
    let stored_a = create(store, &t, &a).await?;
    create(store, &t, &b).await?;
    create(store, &t, &c).await?;

    use CustomerFilter as F;
    use CustomerSort as S;
    let cases: Vec<(CustomerQuery, Vec<&str>, &str)> = vec![
        (
            query(vec![], None, S::Name),
            vec!["b", "a", "c"],
            "everyone by name",
        ),
        (
            query(vec![], None, S::Overdue),
            vec!["b", "a", "c"],
            "largest overdue first",
        ),
        (
            query(vec![], None, S::CreatedAt),
            vec!["c", "b", "a"],
            "newest first",
        ),
        (
            query(vec![F::Group("g1".into())], None, S::Name),
            vec!["a", "c"],
            "by group",
        ),
        (
            query(vec![F::Tag("Vip".into())], None, S::Name),
            vec!["b", "a"],
            "by tag, any case",
        ),
        (
            query(vec![F::ChasingStatus("paused".into())], None, S::Name),
            vec!["c"],
            "paused",
        ),
        (
            query(vec![F::HasOverdue(true)], None, S::Name),
            vec!["b", "a"],
            "with overdue",
        ),
        (
            query(vec![F::HasOverdue(false)], None, S::Name),
            vec!["c"],
            "without overdue",
        ),
        (
            query(vec![F::ArSpecialist("u1".into())], None, S::Name),
            vec!["a"],
            "by AR specialist",
        ),
        (
            query(
                vec![F::Enrolment {
                    cadence_id: "k1".into(),
                    version: 2,
                }],
                None,
                S::Name,
            ),
            vec!["c"],
            "by enrolment",
        ),
        (
            query(
                vec![F::Enrolment {
                    cadence_id: "k1".into(),
                    version: 1,
                }],
                None,
                S::Name,
            ),
            vec![],
            "another version's enrolment",
        ),
        (
            query(
                vec![F::Group("g1".into()), F::HasOverdue(true)],
                None,
                S::Name,
            ),
            vec!["a"],
            "two filters",
        ),
        (
            query(
                vec![
                    F::Group("g1".into()),
                    F::Enrolment {
                        cadence_id: "k1".into(),
                        version: 2,
                    },
                ],
                None,
                S::Name,
            ),
            vec!["c"],
            "an enrolment narrowing a group",
        ),
        (
            query(
                vec![
                    F::HasOverdue(false),
                    F::Enrolment {
                        cadence_id: "k1".into(),
                        version: 1,
                    },
                ],
                None,
                S::Name,
            ),
            vec![],
            "another version's enrolment narrowing",
        ),
        (
            query(
                vec![
                    F::Enrolment {
                        cadence_id: "k1".into(),
                        version: 2,
                    },
                    F::Group("g1".into()),
                    F::ChasingStatus("paused".into()),
                ],
                None,
                S::Name,
            ),
            vec!["c"],
            "an enrolment narrowed by two filters",
        ),
        (
            query(
                vec![
                    F::Enrolment {
                        cadence_id: "k1".into(),
                        version: 2,
                    },
                    F::HasOverdue(true),
                ],
                None,
                S::Name,
            ),
            vec![],
            "an enrolment narrowed to nobody",
        ),
        (
            query(
                vec![F::Group("g1".into()), F::Tag("vip".into())],
                None,
                S::Name,
            ),
            vec!["a"],
            "a tag narrowing a group, any case",
        ),
        (
            query(
                vec![F::HasOverdue(true), F::Tag("Vip".into())],
                None,
                S::Overdue,
            ),
            vec!["b", "a"],
            "a tag narrowing, any case, largest overdue first",
        ),
        (
            query(vec![], Some("ALPHA"), S::Name),
            vec!["b"],
            "search by name",
        ),
        (
            query(vec![], Some("pay@al"), S::Name),
            vec!["b"],
            "search by email",
        ),
        (
            query(vec![], Some("n-"), S::Name),
            vec!["a", "b", "c"],
            "search by number",
        ),
        (
            query(vec![F::Group("g1".into())], Some("n-"), S::Name),
            vec!["a", "c"],
            "search with a filter",
        ),
        (
            query(
                vec![F::Enrolment {
                    cadence_id: "k1".into(),
                    version: 2,
                }],
                Some("n-"),
                S::Name,
            ),
            vec!["c"],
            "search narrowed by enrolment",
        ),
        (
            query(vec![F::Tag("VIP".into())], Some("n-"), S::Name),
            vec!["a", "b"],
            "search narrowed by a tag, any case",
        ),
        (
            query(vec![], Some("zzz"), S::Name),
            vec![],
            "search without match",
        ),
        (
            query(vec![], Some("corp"), S::Name),
            vec![],
            "search matches the start of a field only",
        ),
    ];
    for (query, expected, what) in cases {
        ensure_eq!(listed(store, &t, query).await?, expected, "{what}");
    }

    let page = store
        .list_customers(&t, query(vec![], Some("alpha"), S::Name))
        .await?;
    let copy = page.items.first().cloned();
    ensure!(
        copy.as_ref()
            .is_some_and(|copy| copy.recent_history.is_empty() && copy.name == "alpha inc"),
        "the list shows list copies, without recent history: {copy:?}"
    );

    let mut moved = stored_a.customer.clone();
    moved.name = "Aardvark".into();
    moved.group_id = None;
    moved.tags.clear();
    committed(
        store.commit(&t, vec![put_over(&moved, &stored_a)]).await,
        "move a",
    )?;
    ensure_eq!(
        listed(store, &t, query(vec![], None, S::Name)).await?,
        vec!["a", "b", "c"],
        "renamed"
    );
    ensure_eq!(
        listed(store, &t, query(vec![F::Group("g1".into())], None, S::Name)).await?,
        vec!["c"],
        "left the group"
    );
    ensure_eq!(
        listed(store, &t, query(vec![F::Tag("vip".into())], None, S::Name)).await?,
        vec!["b"],
        "lost its tag"
    );
    ensure_eq!(
        listed(store, &t, query(vec![], Some("beta"), S::Name)).await?,
        Vec::<String>::new(),
        "old name unsearchable"
    );
    Ok(())
}

/// A chasing update writes the evaluation's bookkeeping only: the chasing
/// state, the promise and the list entries stay as the last put left them.
/// A put moves the entries whose copy changed.
pub async fn list_entries_move_with_puts_only(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let s1 = create(store, &t, &fx.customer("c1", "Acme")).await?;
    let mut evaluated = s1.customer.clone();
    evaluated.chasing.status = ChasingStatus::Paused;
    evaluated.next_evaluation_at = Some(fx.instant(60));
    evaluated.last_evaluated_at = Some(fx.instant(1));
    committed(
        store
            .commit(
                &t,
                vec![Write::UpdateChasing {
                    stored: Box::new(s1.clone()),
                    next: Box::new(evaluated),
                }],
            )
            .await,
        "a chasing update",
    )?;
    let s2 = stored(store, &t, "c1").await?;
    ensure_eq!(
        (
            s2.customer.chasing.status,
            s2.customer.next_evaluation_at,
            s2.customer.last_evaluated_at
        ),
        (
            ChasingStatus::Active,
            Some(fx.instant(60)),
            Some(fx.instant(1))
        ),
        "bookkeeping written, chasing state left to puts"
    );
    committed(
        store
            .commit(
                &t,
                vec![Write::RecordHistory {
                    stored: Box::new(s2.clone()),
                    items: vec![fx.history("c1", HistoryType::Note, fx.instant(1))],
                }],
            )
            .await,
        "record history",
    )?;
    let by_status = |status: &str| {
        query(
            vec![CustomerFilter::ChasingStatus(status.into())],
            None,
            CustomerSort::Name,
        )
    };
    let active = store.list_customers(&t, by_status("active")).await?.items;
    ensure_eq!(
        active
            .iter()
            .map(|c| (c.id.as_str(), c.chasing.status))
            .collect::<Vec<_>>(),
        vec![("c1", ChasingStatus::Active)],
        "listed as the put wrote it"
    );
    ensure!(
        active.iter().all(|c| c.recent_history.is_empty()),
        "list copies carry no history"
    );
    let s3 = stored(store, &t, "c1").await?;
    let mut paused = s3.customer.clone();
    paused.chasing.status = ChasingStatus::Paused;
    committed(
        store.commit(&t, vec![put_over(&paused, &s3)]).await,
        "a put that pauses",
    )?;
    ensure_eq!(
        listed(store, &t, by_status("paused")).await?,
        vec!["c1"],
        "filed as paused once put"
    );
    ensure_eq!(
        listed(store, &t, by_status("active")).await?,
        Vec::<String>::new(),
        "and no longer as active"
    );
    Ok(())
}

/// The customer page reads record, contacts, open invoices and open tasks
/// in one go; deleting the customer (as the API does: its record with its
/// list entries and number, and each contact the page showed) takes it off
/// every read of it, and frees its number.
pub async fn customer_deletion_takes_its_partition(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let customer = fx.customer("c1", "Acme");
    committed(
        store
            .commit(
                &t,
                vec![
                    put_new(&customer),
                    Write::ReserveCustomerNumber {
                        number: customer.number.clone(),
                        customer_id: "c1".into(),
                    },
                ],
            )
            .await,
        "create with its number",
    )?;
    let contacts = [fx.contact("c1", "ct1"), fx.contact("c1", "ct2")];
    let task = fx.task("c1", "t1", fx.day(3), None);
    let invoice = fx.invoice("c1", "i1", fx.day(10), 100);
    let chase = fx.chase("c1", 1, 0, "m1", 1);
    let mut fill: Vec<Write> = contacts
        .iter()
        .map(|contact| Write::SaveContact {
            contact: Box::new(contact.clone()),
            expected_version: 0,
        })
        .collect();
    fill.extend([
        Write::InsertTask(Box::new(task.clone())),
        Write::SaveInvoice {
            next: Box::new(invoice.clone()),
            previous: None,
        },
        Write::History(Box::new(fx.history(
            "c1",
            HistoryType::InvoiceCreated,
            fx.instant(5),
        ))),
        Write::InsertNote(Box::new(fx.note("c1", fx.instant(6)))),
        Write::InsertPayment(Box::new(fx.payment("c1", fx.instant(7), 10))),
        Write::PutPromise(Box::new(fx.promise("c1", fx.instant(8), 50))),
        Write::ClaimChase(Box::new(chase)),
    ]);
    committed(store.commit(&t, fill).await, "fill the partition")?;
    let page = store
        .customer_page(&t, "c1")
        .await?
        .ok_or_else(|| super::fail("the customer page of an existing customer"))?;
    ensure_eq!(page.customer.customer, customer, "the page's record");
    ensure_eq!(page.contacts, contacts.to_vec(), "the page's contacts");
    ensure_eq!(
        page.open_invoices,
        vec![invoice.clone()],
        "the page's open invoices"
    );
    ensure_eq!(page.open_tasks, vec![task.clone()], "the page's open tasks");

    committed(
        store
            .commit(
                &t,
                vec![
                    Write::CloseTask {
                        completed: Box::new(fx.completed(&task)),
                        expected_version: 1,
                    },
                    Write::SaveInvoice {
                        next: Box::new(fx.paid(&invoice)),
                        previous: Some(Box::new(invoice)),
                    },
                ],
            )
            .await,
        "close the task and pay the invoice",
    )?;
    let page = store
        .customer_page(&t, "c1")
        .await?
        .ok_or_else(|| super::fail("the customer page after closing its work"))?;
    ensure!(
        page.open_invoices.is_empty() && page.open_tasks.is_empty(),
        "nothing open on the page any more: {page:?}"
    );

    let delete = |page: &app::records::CustomerPage| {
        let mut writes = vec![Write::DeleteCustomer {
            stored: Box::new(page.customer.clone()),
        }];
        writes.extend(page.contacts.iter().map(|contact| Write::DeleteContact {
            contact: Box::new(contact.clone()),
        }));
        writes
    };
    let mut stale = page.clone();
    if let Some(contact) = stale.contacts.first_mut() {
        contact.version += 1;
    }
    refused(
        store.commit(&t, delete(&stale)).await,
        1,
        "delete with a contact changed since the page was read",
    )?;
    ensure!(
        store.customer(&t, "c1").await?.is_some(),
        "a refused delete keeps the record"
    );
    committed(
        store.commit(&t, delete(&page)).await,
        "delete the customer and its contacts",
    )?;
    ensure!(store.customer(&t, "c1").await?.is_none(), "record gone");
    ensure!(store.customer_page(&t, "c1").await?.is_none(), "page gone");
    ensure!(
        store
            .customers(&t, &["c1".to_string()], true)
            .await?
            .is_empty(),
        "gone from batch reads"
    );
    ensure!(store.contacts(&t, "c1").await?.is_empty(), "contacts gone");
    ensure!(
        store
            .customer_id_by_number(&t, std::slice::from_ref(&customer.number))
            .await?
            .is_empty(),
        "the number is free"
    );
    for query in [
        query(vec![], None, CustomerSort::Name),
        query(vec![], None, CustomerSort::Overdue),
        query(vec![], None, CustomerSort::CreatedAt),
        query(
            vec![CustomerFilter::ChasingStatus("active".into())],
            None,
            CustomerSort::Name,
        ),
        query(vec![], Some("acme"), CustomerSort::Name),
        query(vec![], Some("n-c1"), CustomerSort::Name),
    ] {
        ensure!(
            store
                .list_customers(&t, query.clone())
                .await?
                .items
                .is_empty(),
            "unlisted: {query:?}"
        );
    }
    committed(
        store
            .commit(
                &t,
                vec![
                    put_new(&customer),
                    Write::ReserveCustomerNumber {
                        number: customer.number.clone(),
                        customer_id: "c1".into(),
                    },
                ],
            )
            .await,
        "the id and number can be used again",
    )?;
    Ok(())
}

/// Pages never exceed their limit and, followed by their cursors, show
/// every item once in order; a cursor is only good for the listing that
/// gave it.
pub async fn lists_page_with_cursors(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let names = ["Echo", "delta", "Charlie", "bravo", "Alpha"];
    for (i, name) in names.iter().enumerate() {
        create(store, &t, &fx.customer(&format!("c{i}"), name)).await?;
    }
    let by_name = |cursor: Option<String>| CustomerQuery {
        filters: Vec::new(),
        search: None,
        sort: CustomerSort::Name,
        page: PageRequest { limit: 2, cursor },
    };
    let pages = walk(2, async |page: PageRequest| {
        store.list_customers(&t, by_name(page.cursor)).await
    })
    .await?;
    let seen: Vec<String> = pages
        .iter()
        .flatten()
        .map(|c: &Customer| c.name.clone())
        .collect();
    ensure_eq!(
        seen,
        vec!["Alpha", "bravo", "Charlie", "delta", "Echo"],
        "every customer once, by name"
    );

    for (i, at) in [3, 1, 2].into_iter().enumerate() {
        committed(
            store
                .commit(
                    &t,
                    vec![Write::History(Box::new(fx.history(
                        "c0",
                        HistoryType::Note,
                        fx.instant(at),
                    )))],
                )
                .await,
            &format!("history {i}"),
        )?;
    }
    let pages = walk(1, async |page: PageRequest| {
        store
            .history(&t, "c0", &[HistoryFilter::Type(HistoryType::Note)], page)
            .await
    })
    .await?;
    let times: Vec<_> = pages.iter().flatten().map(|h| h.occurred_at).collect();
    ensure_eq!(
        times,
        vec![fx.instant(3), fx.instant(2), fx.instant(1)],
        "history newest first, page by page"
    );

    let cursor = store
        .list_customers(&t, by_name(None))
        .await?
        .next_cursor
        .ok_or_else(|| super::fail("a first page of two out of five has a cursor"))?;
    bad_cursor(
        store
            .list_customers(&t, by_name(Some("not a cursor".into())))
            .await,
        "a garbled cursor",
    )?;
    let from_empty = store
        .list_customers(&t, by_name(Some(String::new())))
        .await?;
    ensure_eq!(
        ids(&from_empty.items, |c: &Customer| &c.name),
        vec!["Alpha", "bravo"],
        "an empty cursor is no cursor"
    );
    let other = fresh_tenant("conf")?;
    bad_cursor(
        store
            .list_customers(&other, by_name(Some(cursor.clone())))
            .await,
        "another tenant's cursor",
    )?;
    for id in ["g1", "g2", "g3"] {
        committed(
            store
                .commit(
                    &t,
                    vec![Write::SaveGroup {
                        group: Box::new(fx.group(id, id)),
                        expected_version: 0,
                    }],
                )
                .await,
            "create a group",
        )?;
    }
    let group_cursor = store
        .groups(&t, first(1))
        .await?
        .next_cursor
        .ok_or_else(|| super::fail("a first page of one out of three groups has a cursor"))?;
    bad_cursor(
        store.list_customers(&t, by_name(Some(group_cursor))).await,
        "a cursor of the group list",
    )?;
    bad_cursor(
        store
            .groups(
                &t,
                PageRequest {
                    limit: 1,
                    cursor: Some(cursor),
                },
            )
            .await,
        "a cursor of the customer list",
    )?;
    Ok(())
}
