//! Tasks (versions, the move to completed, the lists), history, notes and
//! contacts.

use super::{committed, create, first, ids, refused, setup, walk, Failure, Outcome, ALL};
use app::ports::{AssigneeFilter, HistoryFilter, PageRequest, Store, TaskQuery, Write};
use chrono::NaiveDate;
use domain::history::{HistoryItem, HistoryType};
use domain::identity::TenantId;
use domain::task::{Task, TaskStatus};

fn task_ids(tasks: &[Task]) -> Vec<String> {
    ids(tasks, |t| &t.id)
}

/// A task is conditioned on its version; completing it moves it from the
/// open tasks (and the customer page) to the completed ones.
pub async fn task_close_moves_it(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let customer = create(store, &t, &fx.customer("c1", "Acme")).await?;
    let task = fx.task("c1", "t1", fx.day(3), Some("u1"));
    let insert = || Write::InsertTask(Box::new(task.clone()));
    committed(store.commit(&t, vec![insert()]).await, "insert a task")?;
    refused(store.commit(&t, vec![insert()]).await, 0, "insert it again")?;
    let found = store.task(&t, "t1").await?;
    ensure_eq!(found.as_ref().map(|f| &f.task), Some(&task), "read by id");
    ensure_eq!(
        found.and_then(|f| f.customer),
        Some(customer),
        "read with its customer"
    );
    ensure_eq!(
        task_ids(
            &store
                .list_tasks(&t, tasks(AssigneeFilter::All, TaskStatus::Open, None, None))
                .await?
                .items
        ),
        vec!["t1"],
        "listed as open"
    );
    ensure_eq!(
        store.customer_page(&t, "c1").await?.map(|p| p.open_tasks),
        Some(vec![task.clone()]),
        "on the customer page"
    );

    let mut retitled = task.clone();
    retitled.title = "Call the CFO".into();
    retitled.version = 2;
    let replace = |expected_version| Write::ReplaceTask {
        next: Box::new(retitled.clone()),
        expected_version,
    };
    refused(
        store.commit(&t, vec![replace(2)]).await,
        0,
        "replace at a wrong version",
    )?;
    committed(
        store.commit(&t, vec![replace(1)]).await,
        "replace at its version",
    )?;
    ensure_eq!(
        store.task(&t, "t1").await?.map(|f| f.task),
        Some(retitled.clone()),
        "replaced"
    );

    let done = fx.completed(&retitled);
    let close = |expected_version| Write::CloseTask {
        completed: Box::new(done.clone()),
        expected_version,
    };
    refused(
        store.commit(&t, vec![close(1)]).await,
        0,
        "complete a stale read",
    )?;
    committed(
        store.commit(&t, vec![close(2)]).await,
        "complete at its version",
    )?;
    ensure_eq!(
        store.task(&t, "t1").await?.map(|f| f.task),
        Some(done.clone()),
        "read by id once completed"
    );
    ensure!(
        store
            .list_tasks(&t, tasks(AssigneeFilter::All, TaskStatus::Open, None, None))
            .await?
            .items
            .is_empty(),
        "no longer open"
    );
    ensure_eq!(
        store
            .list_tasks(
                &t,
                tasks(AssigneeFilter::All, TaskStatus::Completed, None, None)
            )
            .await?
            .items,
        vec![done.clone()],
        "listed as completed"
    );
    let page = store.customer_page(&t, "c1").await?.map(|p| p.open_tasks);
    ensure_eq!(page, Some(Vec::new()), "not on the customer page");
    refused(
        store.commit(&t, vec![close(2)]).await,
        0,
        "complete it twice",
    )?;
    Ok(())
}

fn tasks(
    assignee: AssigneeFilter,
    status: TaskStatus,
    customer: Option<&str>,
    due_before: Option<NaiveDate>,
) -> TaskQuery {
    TaskQuery {
        assignee,
        status,
        customer_id: customer.map(str::to_string),
        due_before,
        page: first(ALL),
    }
}

async fn listed(store: &dyn Store, t: &TenantId, query: TaskQuery) -> Result<Vec<String>, Failure> {
    Ok(task_ids(&store.list_tasks(t, query).await?.items))
}

/// Task lists by assignee, team or customer, in one status, due before a
/// date: open soonest first, completed latest first.
pub async fn task_lists_follow_the_query(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let open = [
        fx.task("c1", "t1", fx.day(5), Some("u1")),
        fx.task("c1", "t2", fx.day(1), Some("u2")),
        fx.task("c1", "t3", fx.day(3), None),
        fx.task("c2", "t4", fx.day(2), Some("u1")),
    ];
    let to_complete = [
        fx.task("c1", "t5", fx.day(4), Some("u1")),
        fx.task("c2", "t6", fx.day(6), Some("u2")),
    ];
    let inserts = open
        .iter()
        .chain(&to_complete)
        .map(|task| Write::InsertTask(Box::new(task.clone())))
        .collect();
    committed(store.commit(&t, inserts).await, "insert tasks")?;
    let closes = to_complete
        .iter()
        .map(|task| Write::CloseTask {
            completed: Box::new(fx.completed(task)),
            expected_version: 1,
        })
        .collect();
    committed(store.commit(&t, closes).await, "complete two")?;

    use AssigneeFilter::{All, User};
    use TaskStatus::{Completed, Open};
    let u1 = || User("u1".into());
    let cases = vec![
        (
            tasks(All, Open, None, None),
            vec!["t2", "t4", "t3", "t1"],
            "the team's, soonest first",
        ),
        (
            tasks(u1(), Open, None, None),
            vec!["t4", "t1"],
            "one assignee's",
        ),
        (
            tasks(All, Open, Some("c1"), None),
            vec!["t2", "t3", "t1"],
            "one customer's",
        ),
        (
            tasks(u1(), Open, Some("c1"), None),
            vec!["t1"],
            "one customer's for one assignee",
        ),
        (
            tasks(All, Open, None, Some(fx.day(3))),
            vec!["t2", "t4"],
            "due strictly before",
        ),
        (
            tasks(All, Completed, None, None),
            vec!["t6", "t5"],
            "completed, latest first",
        ),
        (
            tasks(u1(), Completed, None, None),
            vec!["t5"],
            "one assignee's completed",
        ),
        (
            tasks(All, Completed, Some("c2"), None),
            vec!["t6"],
            "one customer's completed",
        ),
        (
            tasks(User("nobody".into()), Open, None, None),
            vec![],
            "an assignee without tasks",
        ),
    ];
    for (query, expected, what) in cases {
        ensure_eq!(listed(store, &t, query).await?, expected, "{what}");
    }
    let pages = walk(3, async |page: PageRequest| {
        store
            .list_tasks(
                &t,
                TaskQuery {
                    page,
                    ..tasks(All, Open, None, None)
                },
            )
            .await
    })
    .await?;
    let walked: Vec<String> = pages
        .iter()
        .map(|p| task_ids(p))
        .collect::<Vec<_>>()
        .concat();
    ensure_eq!(walked, vec!["t2", "t4", "t3", "t1"], "paged by cursor");
    Ok(())
}

/// The timeline lists newest first, narrowed by type and invoice; an item
/// is written once.
pub async fn history_is_newest_first_and_filtered(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let item = |kind, at, invoices: &[&str]| {
        let mut item = fx.history("c1", kind, fx.instant(at));
        item.invoice_ids = invoices.iter().map(|i| i.to_string()).collect();
        item
    };
    let h1 = item(HistoryType::Note, 1, &["i1"]);
    let h2 = item(HistoryType::Payment, 2, &["i1", "i2"]);
    let h3 = item(HistoryType::Note, 3, &[]);
    let h4 = item(HistoryType::ChaseEmail, 4, &["i2"]);
    let writes = [&h1, &h2, &h3, &h4]
        .map(|h| Write::History(Box::new(h.clone())))
        .to_vec();
    committed(store.commit(&t, writes).await, "write history")?;
    refused(
        store
            .commit(&t, vec![Write::History(Box::new(h1.clone()))])
            .await,
        0,
        "an item written twice",
    )?;

    let history_ids = |items: &[HistoryItem]| ids(items, |h| &h.id);
    let read = async |filters: &[HistoryFilter]| -> Result<Vec<String>, Failure> {
        Ok(history_ids(
            &store.history(&t, "c1", filters, first(ALL)).await?.items,
        ))
    };
    let cases = vec![
        (vec![], vec![&h4, &h3, &h2, &h1], "newest first"),
        (
            vec![HistoryFilter::Type(HistoryType::Note)],
            vec![&h3, &h1],
            "by type",
        ),
        (
            vec![HistoryFilter::Invoice("i1".into())],
            vec![&h2, &h1],
            "by invoice",
        ),
        (
            vec![
                HistoryFilter::Type(HistoryType::Payment),
                HistoryFilter::Invoice("i2".into()),
            ],
            vec![&h2],
            "by type and invoice",
        ),
        (
            vec![HistoryFilter::Type(HistoryType::Bounce)],
            vec![],
            "no match",
        ),
    ];
    for (filters, expected, what) in cases {
        let expected: Vec<String> = expected.into_iter().map(|h| h.id.clone()).collect();
        ensure_eq!(read(&filters).await?, expected, "{what}");
    }
    ensure_eq!(
        store.history(&t, "c1", &[], first(1)).await?.items,
        vec![h4],
        "items read back as written"
    );
    ensure!(
        store
            .history(&t, "c2", &[], first(ALL))
            .await?
            .items
            .is_empty(),
        "another customer's timeline"
    );
    Ok(())
}

/// Notes list newest first; a note is written once.
pub async fn notes_are_newest_first(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let notes: Vec<_> = (1..=3).map(|i| fx.note("c1", fx.instant(i))).collect();
    let writes = notes
        .iter()
        .map(|n| Write::InsertNote(Box::new(n.clone())))
        .collect();
    committed(store.commit(&t, writes).await, "insert notes")?;
    refused(
        store
            .commit(&t, vec![Write::InsertNote(Box::new(notes[0].clone()))])
            .await,
        0,
        "a note inserted twice",
    )?;
    let pages = walk(2, async |page: PageRequest| {
        store.notes(&t, "c1", page).await
    })
    .await?;
    let walked: Vec<_> = pages.concat();
    let newest: Vec<_> = notes.into_iter().rev().collect();
    ensure_eq!(walked, newest, "newest first, as written");
    Ok(())
}

/// Contacts are created at version 0, replaced and deleted at their version.
pub async fn contacts_are_versioned(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let contact = fx.contact("c1", "ct1");
    let save = |contact: &domain::contact::Contact, expected_version| Write::SaveContact {
        contact: Box::new(contact.clone()),
        expected_version,
    };
    committed(
        store.commit(&t, vec![save(&contact, 0)]).await,
        "create a contact",
    )?;
    refused(
        store.commit(&t, vec![save(&contact, 0)]).await,
        0,
        "create it again",
    )?;
    let mut renamed = contact.clone();
    renamed.name = "Renamed".into();
    renamed.version = 2;
    refused(
        store.commit(&t, vec![save(&renamed, 2)]).await,
        0,
        "replace at a wrong version",
    )?;
    committed(
        store.commit(&t, vec![save(&renamed, 1)]).await,
        "replace at its version",
    )?;
    let other = fx.contact("c1", "ct0");
    committed(
        store.commit(&t, vec![save(&other, 0)]).await,
        "a second contact",
    )?;
    ensure_eq!(
        store.contacts(&t, "c1").await?,
        vec![other.clone(), renamed.clone()],
        "the customer's contacts"
    );
    ensure!(
        store.contacts(&t, "c2").await?.is_empty(),
        "another customer's contacts"
    );
    refused(
        store
            .commit(
                &t,
                vec![Write::DeleteContact {
                    contact: Box::new(contact),
                }],
            )
            .await,
        0,
        "delete a stale read",
    )?;
    committed(
        store
            .commit(
                &t,
                vec![Write::DeleteContact {
                    contact: Box::new(renamed),
                }],
            )
            .await,
        "delete at its version",
    )?;
    ensure_eq!(store.contacts(&t, "c1").await?, vec![other], "deleted");
    Ok(())
}
