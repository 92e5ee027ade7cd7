//! Tenants: nothing one writes is visible to, or in the way of, another.

use super::{committed, first, put_new, setup, stored, Outcome, ALL};
use app::ports::{
    AssigneeFilter, CustomerQuery, CustomerSort, InvoiceQuery, Store, TaskQuery, Write,
};
use app::records::ChaseKey;
use domain::cadence::AssignmentMode;
use domain::history::HistoryType;
use domain::settings::Settings;
use domain::task::TaskStatus;

/// Everything tenant A writes is invisible to tenant B, and B can write
/// the same ids, numbers and names without conflict.
pub async fn tenants_never_see_each_other(store: &dyn Store) -> Outcome {
    let (a, fx) = setup()?;
    let (b, _) = setup()?;
    let customer = fx.customer("c1", "Tenant A's customer");
    let settings = Settings {
        company_name: Some("A".into()),
        version: 1,
        ..Settings::default()
    };
    let writes_of = |customer: &domain::customer::Customer| {
        vec![
            put_new(customer),
            Write::ReserveCustomerNumber {
                number: customer.number.clone(),
                customer_id: "c1".into(),
            },
            Write::SaveInvoice {
                next: Box::new(fx.invoice("c1", "i1", fx.day(1), 100)),
                previous: None,
            },
            Write::ReserveInvoiceNumber {
                number: "INV-i1".into(),
                invoice_id: "i1".into(),
            },
            Write::InsertTask(Box::new(fx.task("c1", "t1", fx.day(1), Some("u1")))),
            Write::History(Box::new(fx.history("c1", HistoryType::Note, fx.instant(1)))),
            Write::InsertNote(Box::new(fx.note("c1", fx.instant(2)))),
            Write::SaveContact {
                contact: Box::new(fx.contact("c1", "ct1")),
                expected_version: 0,
            },
            Write::SaveGroup {
                group: Box::new(fx.group("g1", "G")),
                expected_version: 0,
            },
            Write::CreateContactRole(Box::new(fx.contact_role("r1", "CFO"))),
            Write::SaveTemplate {
                record: Box::new(fx.template("tp1", 1)),
                expected_version: 0,
            },
            Write::SaveCadence {
                record: Box::new(fx.cadence("k1", 1, AssignmentMode::Always)),
                previous_version: 0,
                unenrolled: false,
            },
            Write::CountCadences { delta: 1 },
            Write::SaveSettings {
                settings: Box::new(settings.clone()),
                expected_version: 0,
            },
            Write::ClaimChase(Box::new(fx.chase("c1", 1, 0, "m1", 1))),
            Write::ClaimIdempotencyKey {
                key_hash: "h1".into(),
                record: Box::new(fx.idempotency("fp", chrono::Utc::now())),
            },
            Write::InsertPayment(Box::new(fx.payment("c1", fx.instant(3), 5))),
            Write::PutPromise(Box::new(fx.promise("c1", fx.instant(4), 5))),
        ]
    };
    committed(
        store.commit(&a, writes_of(&customer)).await,
        "tenant A writes",
    )?;

    let ids = ["c1".to_string()];
    ensure!(store.customer(&b, "c1").await?.is_none(), "customer");
    ensure!(
        store.customers(&b, &ids, true).await?.is_empty(),
        "customers"
    );
    ensure!(
        store
            .customer_id_by_number(&b, std::slice::from_ref(&customer.number))
            .await?
            .is_empty(),
        "customer number"
    );
    let everyone = CustomerQuery {
        filters: vec![],
        search: None,
        sort: CustomerSort::Name,
        page: first(ALL),
    };
    ensure!(
        store
            .list_customers(&b, everyone.clone())
            .await?
            .items
            .is_empty(),
        "customer list"
    );
    let search = CustomerQuery {
        search: Some("tenant".into()),
        ..everyone.clone()
    };
    ensure!(
        store.list_customers(&b, search).await?.items.is_empty(),
        "customer search"
    );
    ensure!(
        store.customer_page(&b, "c1").await?.is_none(),
        "customer page"
    );
    ensure!(store.invoice(&b, "i1").await?.is_none(), "invoice");
    ensure!(
        store.open_invoices(&b, "c1").await?.is_empty(),
        "open invoices"
    );
    let invoices = InvoiceQuery {
        customer_id: None,
        status: None,
        overdue_on: None,
        collection_status: None,
        page: first(ALL),
    };
    ensure!(
        store.list_invoices(&b, invoices).await?.items.is_empty(),
        "invoice list"
    );
    ensure!(
        store
            .taken_invoice_numbers(&b, &["INV-i1".to_string()])
            .await?
            .is_empty(),
        "invoice numbers"
    );
    ensure!(store.task(&b, "t1").await?.is_none(), "task");
    let tasks = TaskQuery {
        assignee: AssigneeFilter::All,
        status: TaskStatus::Open,
        customer_id: None,
        due_before: None,
        page: first(ALL),
    };
    ensure!(
        store.list_tasks(&b, tasks).await?.items.is_empty(),
        "task list"
    );
    ensure!(
        store
            .history(&b, "c1", &[], first(ALL))
            .await?
            .items
            .is_empty(),
        "history"
    );
    ensure!(
        store.notes(&b, "c1", first(ALL)).await?.items.is_empty(),
        "notes"
    );
    ensure!(
        store.payments(&b, "c1", first(ALL)).await?.items.is_empty(),
        "payments"
    );
    ensure!(
        store.promises(&b, "c1", first(ALL)).await?.items.is_empty(),
        "promises"
    );
    ensure!(store.contacts(&b, "c1").await?.is_empty(), "contacts");
    ensure!(store.group(&b, "g1").await?.is_none(), "group");
    ensure!(
        store.groups(&b, first(ALL)).await?.items.is_empty(),
        "groups"
    );
    ensure!(
        store.contact_role(&b, "r1").await?.is_none(),
        "contact role"
    );
    ensure!(
        store.contact_roles(&b, first(ALL)).await?.items.is_empty(),
        "contact roles"
    );
    ensure!(store.template(&b, "tp1").await?.is_none(), "template");
    ensure!(
        store.templates(&b, first(ALL)).await?.items.is_empty(),
        "templates"
    );
    ensure!(store.cadence(&b, "k1").await?.is_none(), "cadence");
    ensure!(
        store.cadence_version(&b, "k1", 1).await?.is_none(),
        "cadence version"
    );
    ensure!(
        store.cadences(&b, first(ALL)).await?.items.is_empty(),
        "cadences"
    );
    ensure!(store.all_cadences(&b).await?.is_empty(), "all cadences");
    ensure!(
        store.automatic_cadences(&b).await?.is_empty(),
        "automatic cadences"
    );
    ensure!(
        store.cadence_versions(&b, None).await?.is_empty(),
        "cadence versions"
    );
    ensure_eq!(store.settings(&b).await?, Settings::default(), "settings");
    let chase = ChaseKey {
        customer_id: "c1".into(),
        invoice_id: None,
        cycle: 1,
        step: 0,
    };
    ensure!(store.chase(&b, &chase).await?.is_none(), "chase");
    ensure!(
        store.idempotency(&b, "h1").await?.is_none(),
        "idempotency record"
    );

    let mut theirs = customer.clone();
    theirs.name = "Tenant B's customer".into();
    committed(
        store.commit(&b, writes_of(&theirs)).await,
        "tenant B writes the same ids",
    )?;
    ensure_eq!(
        stored(store, &a, "c1").await?.customer.name,
        "Tenant A's customer",
        "A's customer is untouched"
    );
    ensure_eq!(
        store.settings(&a).await?,
        settings,
        "A's settings are untouched"
    );
    Ok(())
}
