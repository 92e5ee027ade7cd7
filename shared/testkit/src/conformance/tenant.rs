//! The tenant's own records: settings, groups, contact roles, templates and
//! cadences, with their versions and the counters that guard deletion and
//! the cadence limit.

use super::{committed, create, first, ids, put_over, refused, setup, stored, walk, Outcome, ALL};
use app::ports::{EnrolmentDeltas, PageRequest, Store, Write};
use app::records::CadenceRecord;
use domain::cadence::{AssignmentMode, MAX_CADENCES_PER_TENANT};
use domain::customer::GroupSettings;
use domain::settings::Settings;

/// Settings read as the defaults until saved, then at their version.
pub async fn settings_are_versioned(store: &dyn Store) -> Outcome {
    let (t, _) = setup()?;
    ensure_eq!(
        store.settings(&t).await?,
        Settings::default(),
        "the defaults until saved"
    );
    let first_save = Settings {
        company_name: Some("Acme Receivables".into()),
        version: 1,
        ..Settings::default()
    };
    let save = |settings: &Settings, expected_version| Write::SaveSettings {
        settings: Box::new(settings.clone()),
        expected_version,
    };
    committed(
        store.commit(&t, vec![save(&first_save, 0)]).await,
        "first save",
    )?;
    refused(
        store.commit(&t, vec![save(&first_save, 0)]).await,
        0,
        "a second first save",
    )?;
    let second = Settings {
        promise_grace_days: 5,
        version: 2,
        ..first_save.clone()
    };
    refused(
        store.commit(&t, vec![save(&second, 2)]).await,
        0,
        "save at a wrong version",
    )?;
    committed(
        store.commit(&t, vec![save(&second, 1)]).await,
        "save at the version read",
    )?;
    ensure_eq!(store.settings(&t).await?, second, "read back");
    Ok(())
}

/// A group is saved at its version without touching its member count,
/// which members move and which must be zero to delete it (whatever
/// version of the group was read: the delete has no version condition).
pub async fn groups_count_their_members(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let group = fx.group("g1", "Key accounts");
    let save = |group: &domain::group::CustomerGroup, expected_version| Write::SaveGroup {
        group: Box::new(group.clone()),
        expected_version,
    };
    let count = |delta| Write::CountGroupMember {
        group_id: "g1".into(),
        delta,
    };
    let delete = |group: &domain::group::CustomerGroup| Write::DeleteGroup(Box::new(group.clone()));
    refused(
        store.commit(&t, vec![count(1)]).await,
        0,
        "count a member of no group",
    )?;
    committed(
        store.commit(&t, vec![save(&group, 0)]).await,
        "create a group",
    )?;
    refused(
        store.commit(&t, vec![save(&group, 0)]).await,
        0,
        "create it again",
    )?;
    committed(store.commit(&t, vec![count(1)]).await, "a member joins")?;
    committed(store.commit(&t, vec![count(1)]).await, "another joins")?;
    let mut renamed = group.clone();
    renamed.name = "Strategic".into();
    renamed.version = 2;
    committed(
        store.commit(&t, vec![save(&renamed, 1)]).await,
        "rename at its version",
    )?;
    refused(
        store.commit(&t, vec![save(&renamed, 1)]).await,
        0,
        "rename a stale read",
    )?;
    let stored = store.group(&t, "g1").await?;
    ensure_eq!(
        stored
            .as_ref()
            .map(|g| (g.name.as_str(), g.version, g.member_count)),
        Some(("Strategic", 2, 2)),
        "saving keeps the member count"
    );
    refused(
        store.commit(&t, vec![delete(&renamed)]).await,
        0,
        "delete a group with members",
    )?;
    committed(store.commit(&t, vec![count(-2)]).await, "the members leave")?;
    committed(
        store.commit(&t, vec![delete(&group)]).await,
        "delete an empty group, from an older read",
    )?;
    ensure!(store.group(&t, "g1").await?.is_none(), "deleted");
    refused(
        store.commit(&t, vec![delete(&renamed)]).await,
        0,
        "delete a group that is gone",
    )?;

    for id in ["ga", "gc", "gb"] {
        committed(
            store.commit(&t, vec![save(&fx.group(id, id), 0)]).await,
            "create groups",
        )?;
    }
    let pages = walk(2, async |page: PageRequest| store.groups(&t, page).await).await?;
    ensure_eq!(
        ids(&pages.concat(), |g| &g.id),
        vec!["ga", "gb", "gc"],
        "groups by id"
    );
    Ok(())
}

/// A group's settings are copied onto a customer only while the customer
/// is in that group; the copy moves the customer's revision (so a write
/// from an older read fails) but not its version.
pub async fn group_settings_reach_current_members(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let member = |id: &str, group: Option<&str>| {
        let mut customer = fx.customer(id, id);
        customer.group_id = group.map(str::to_string);
        customer
    };
    let before = create(store, &t, &member("m1", Some("g1"))).await?;
    create(store, &t, &member("m2", Some("g1"))).await?;
    create(store, &t, &member("x1", Some("g2"))).await?;
    create(store, &t, &member("x2", None)).await?;
    let settings = GroupSettings {
        payment_terms: Some("net 45".into()),
        autopay: Some(true),
        ..GroupSettings::default()
    };
    let push = |customer: &str| Write::PushGroupSettings {
        group_id: "g1".into(),
        customer_id: customer.into(),
        settings: Box::new(settings.clone()),
    };
    committed(
        store.commit(&t, vec![push("m1"), push("m2")]).await,
        "push to both members",
    )?;
    for id in ["m1", "m2"] {
        let after = stored(store, &t, id).await?;
        ensure_eq!(
            after.customer.group_settings.as_ref(),
            Some(&settings),
            "{id} has the group's settings"
        );
        ensure_eq!(after.customer.version, 1, "{id} keeps its version");
    }
    let after = stored(store, &t, "m1").await?;
    ensure!(
        after.revision > before.revision,
        "the push moves the revision ({} then {})",
        before.revision,
        after.revision
    );
    ensure_eq!(
        after.customer,
        domain::customer::Customer {
            group_settings: Some(settings.clone()),
            ..before.customer.clone()
        },
        "nothing else changes"
    );
    refused(
        store
            .commit(&t, vec![put_over(&before.customer, &before)])
            .await,
        0,
        "a put from a read before the push",
    )?;
    for (id, what) in [
        ("x1", "a customer of another group"),
        ("x2", "a customer without a group"),
        ("nobody", "a customer that does not exist"),
    ] {
        refused(store.commit(&t, vec![push("m1"), push(id)]).await, 1, what)?;
    }
    for id in ["x1", "x2"] {
        ensure_eq!(
            stored(store, &t, id).await?.customer.group_settings,
            None,
            "{id} did not get the settings"
        );
    }
    ensure!(
        store.customer(&t, "nobody").await?.is_none(),
        "a refused push creates nobody"
    );
    Ok(())
}

/// A role counts the contacts holding it and can only be deleted unused.
pub async fn contact_roles_count_their_use(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let role = fx.contact_role("r1", "CFO");
    let count = |delta| Write::CountRoleUse {
        role_id: "r1".into(),
        delta,
    };
    refused(
        store.commit(&t, vec![count(1)]).await,
        0,
        "count the use of no role",
    )?;
    committed(
        store
            .commit(&t, vec![Write::CreateContactRole(Box::new(role.clone()))])
            .await,
        "create a role",
    )?;
    ensure_eq!(
        store.contact_role(&t, "r1").await?,
        Some(role.clone()),
        "read back"
    );
    committed(
        store.commit(&t, vec![count(1)]).await,
        "a contact takes the role",
    )?;
    let delete = || Write::DeleteContactRole(Box::new(role.clone()));
    refused(
        store.commit(&t, vec![delete()]).await,
        0,
        "delete a role in use",
    )?;
    committed(
        store.commit(&t, vec![count(-1)]).await,
        "the contact drops it",
    )?;
    committed(
        store.commit(&t, vec![delete()]).await,
        "delete an unused role",
    )?;
    ensure!(store.contact_role(&t, "r1").await?.is_none(), "deleted");

    for (id, name) in [("rb", "Buyer"), ("ra", "Accounts"), ("rc", "Controller")] {
        committed(
            store
                .commit(
                    &t,
                    vec![Write::CreateContactRole(Box::new(
                        fx.contact_role(id, name),
                    ))],
                )
                .await,
            "create roles",
        )?;
    }
    let pages = walk(2, async |page: PageRequest| {
        store.contact_roles(&t, page).await
    })
    .await?;
    ensure_eq!(
        ids(&pages.concat(), |r| &r.id),
        vec!["ra", "rb", "rc"],
        "roles by id"
    );
    Ok(())
}

/// Templates are created at version 0 and saved and deleted at their version.
pub async fn templates_are_versioned(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let v1 = fx.template("tp1", 1);
    let v2 = fx.template("tp1", 2);
    let save = |record: &app::records::TemplateRecord, expected_version| Write::SaveTemplate {
        record: Box::new(record.clone()),
        expected_version,
    };
    let delete =
        |record: &app::records::TemplateRecord| Write::DeleteTemplate(Box::new(record.clone()));
    committed(
        store.commit(&t, vec![save(&v1, 0)]).await,
        "create a template",
    )?;
    refused(
        store.commit(&t, vec![save(&v1, 0)]).await,
        0,
        "create it again",
    )?;
    committed(
        store.commit(&t, vec![save(&v2, 1)]).await,
        "save at its version",
    )?;
    refused(
        store.commit(&t, vec![save(&v2, 1)]).await,
        0,
        "save a stale read",
    )?;
    ensure_eq!(
        store.template(&t, "tp1").await?,
        Some(v2.clone()),
        "read back"
    );
    refused(
        store.commit(&t, vec![delete(&v1)]).await,
        0,
        "delete a stale read",
    )?;
    committed(
        store.commit(&t, vec![delete(&v2)]).await,
        "delete at its version",
    )?;
    ensure!(store.template(&t, "tp1").await?.is_none(), "deleted");
    refused(
        store.commit(&t, vec![delete(&v2)]).await,
        0,
        "delete a template that is gone",
    )?;
    for id in ["tb", "ta"] {
        committed(
            store.commit(&t, vec![save(&fx.template(id, 1), 0)]).await,
            "create templates",
        )?;
    }
    let listed = store.templates(&t, first(ALL)).await?.items;
    ensure_eq!(
        ids(&listed, |r| &r.template.id),
        vec!["ta", "tb"],
        "templates by id"
    );
    Ok(())
}

fn save_cadence(record: &CadenceRecord, previous_version: u32, unenrolled: bool) -> Write {
    Write::SaveCadence {
        record: Box::new(record.clone()),
        previous_version,
        unenrolled,
    }
}

/// A new cadence as the API creates it: the record and snapshot, then one
/// more on the tenant's count.
fn create_cadence(record: &CadenceRecord) -> Vec<Write> {
    vec![
        save_cadence(record, 0, false),
        Write::CountCadences { delta: 1 },
    ]
}

/// Every save of a cadence keeps an immutable snapshot of its version;
/// enrolment counters move on their own, forbid deleting the cadence, and
/// make an `unenrolled` save fail; only `always` cadences are automatic.
pub async fn cadences_are_versioned_and_counted(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let v1 = fx.cadence("k1", 1, AssignmentMode::Always);
    committed(
        store.commit(&t, create_cadence(&v1)).await,
        "create a cadence",
    )?;
    ensure_eq!(
        store.cadence(&t, "k1").await?,
        Some(v1.clone()),
        "read back"
    );
    ensure_eq!(
        store.cadence_version(&t, "k1", 1).await?,
        Some(v1.cadence.clone()),
        "its snapshot"
    );
    ensure_eq!(
        store.automatic_cadences(&t).await?,
        vec![v1.cadence.clone()],
        "automatic"
    );
    ensure_eq!(
        store.all_cadences(&t).await?,
        vec![v1.clone()],
        "all cadences"
    );
    refused(
        store.commit(&t, create_cadence(&v1)).await,
        0,
        "create it again",
    )?;

    let mut v2 = fx.cadence("k1", 2, AssignmentMode::Manual);
    v2.cadence.name = "Gentle".into();
    committed(
        store.commit(&t, vec![save_cadence(&v2, 1, true)]).await,
        "save version 2",
    )?;
    refused(
        store.commit(&t, vec![save_cadence(&v2, 1, false)]).await,
        0,
        "save a stale read",
    )?;
    let mut same_version = v2.clone();
    same_version.cadence.name = "Changed in place".into();
    refused(
        store
            .commit(&t, vec![save_cadence(&same_version, 2, false)])
            .await,
        0,
        "a saved version never changes",
    )?;
    ensure_eq!(
        store
            .cadence(&t, "k1")
            .await?
            .map(|r| (r.cadence.version, r.cadence.name)),
        Some((2, "Gentle".to_string())),
        "the current version"
    );
    ensure!(
        store.automatic_cadences(&t).await?.is_empty(),
        "manual cadences are not automatic"
    );

    let enrol = EnrolmentDeltas::moving(None, Some(("k1".into(), 2)));
    committed(
        store.commit(&t, vec![Write::CountEnrolments(enrol)]).await,
        "enrol a customer",
    )?;
    ensure_eq!(
        store.cadence(&t, "k1").await?.map(|r| r.enrolled_count),
        Some(1),
        "enrolled count"
    );
    let versions = store.cadence_versions(&t, Some("k1")).await?;
    ensure_eq!(
        versions
            .iter()
            .map(|v| (v.cadence.version, v.enrolled))
            .collect::<Vec<_>>(),
        vec![(1, 0), (2, 1)],
        "versions oldest first with their enrolment"
    );
    let v3 = fx.cadence("k1", 3, AssignmentMode::Manual);
    refused(
        store.commit(&t, vec![save_cadence(&v3, 2, true)]).await,
        0,
        "a change to chasing while someone is enrolled",
    )?;
    committed(
        store.commit(&t, vec![save_cadence(&v3, 2, false)]).await,
        "a change that may go ahead",
    )?;
    ensure_eq!(
        store.cadence(&t, "k1").await?.map(|r| r.enrolled_count),
        Some(1),
        "saving keeps the count"
    );
    refused(
        store
            .commit(&t, vec![Write::DeleteCadence { id: "k1".into() }])
            .await,
        0,
        "delete while enrolled",
    )?;

    let leave = EnrolmentDeltas::moving(Some(("k1".into(), 2)), None);
    committed(
        store.commit(&t, vec![Write::CountEnrolments(leave)]).await,
        "unenrol",
    )?;
    committed(
        store
            .commit(&t, vec![Write::DeleteCadence { id: "k1".into() }])
            .await,
        "delete",
    )?;
    ensure!(store.cadence(&t, "k1").await?.is_none(), "deleted");
    ensure_eq!(
        store.cadence_version(&t, "k1", 2).await?,
        Some(v2.cadence),
        "snapshots outlive it"
    );
    let other = fx.cadence("k0", 1, AssignmentMode::Always);
    committed(
        store.commit(&t, create_cadence(&other)).await,
        "another cadence",
    )?;
    let all: Vec<_> = store
        .cadence_versions(&t, None)
        .await?
        .into_iter()
        .map(|v| (v.cadence.id, v.cadence.version))
        .collect();
    ensure_eq!(
        all,
        vec![
            ("k0".to_string(), 1),
            ("k1".into(), 1),
            ("k1".into(), 2),
            ("k1".into(), 3)
        ],
        "every version of every cadence"
    );
    refused(
        store
            .commit(
                &t,
                vec![Write::CountEnrolments(EnrolmentDeltas::moving(
                    None,
                    Some(("k1".into(), 3)),
                ))],
            )
            .await,
        0,
        "enrol in a deleted cadence",
    )?;
    refused(
        store
            .commit(
                &t,
                vec![Write::CountEnrolments(EnrolmentDeltas::moving(
                    None,
                    Some(("k0".into(), 9)),
                ))],
            )
            .await,
        0,
        "enrol in a version that does not exist",
    )?;
    let pages = walk(1, async |page: PageRequest| store.cadences(&t, page).await).await?;
    ensure_eq!(
        ids(&pages.concat(), |r| &r.cadence.id),
        vec!["k0"],
        "the cadence list"
    );
    Ok(())
}

/// A tenant holds at most [`MAX_CADENCES_PER_TENANT`] cadences: the count
/// refuses to rise from the limit, deleting a cadence counts it out and
/// makes room, and the count cannot fall before anything was counted.
pub async fn cadence_count_refuses_to_pass_the_limit(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    refused(
        store
            .commit(&t, vec![Write::CountCadences { delta: -1 }])
            .await,
        0,
        "count out of a tenant that never counted a cadence",
    )?;
    let lone = fx.cadence("k-lone", 1, AssignmentMode::Manual);
    committed(
        store.commit(&t, vec![save_cadence(&lone, 0, false)]).await,
        "a cadence saved without counting it",
    )?;
    refused(
        store
            .commit(
                &t,
                vec![Write::DeleteCadence {
                    id: "k-lone".into(),
                }],
            )
            .await,
        0,
        "deleting needs a count to take it from",
    )?;
    ensure!(
        store.cadence(&t, "k-lone").await?.is_some(),
        "the refused delete kept it"
    );

    let (t, fx) = setup()?;
    for i in 0..MAX_CADENCES_PER_TENANT {
        let record = fx.cadence(&format!("k{i:03}"), 1, AssignmentMode::Manual);
        committed(
            store.commit(&t, create_cadence(&record)).await,
            &format!("cadence {i}"),
        )?;
    }
    let extra = fx.cadence("k999", 1, AssignmentMode::Manual);
    refused(
        store.commit(&t, create_cadence(&extra)).await,
        1,
        "one cadence over the limit",
    )?;
    ensure!(
        store.cadence(&t, "k999").await?.is_none(),
        "the refused cadence was not written"
    );
    ensure_eq!(
        store.all_cadences(&t).await?.len(),
        MAX_CADENCES_PER_TENANT,
        "all cadences"
    );
    committed(
        store
            .commit(&t, vec![Write::DeleteCadence { id: "k000".into() }])
            .await,
        "delete one",
    )?;
    committed(
        store.commit(&t, create_cadence(&extra)).await,
        "a deletion makes room",
    )?;
    refused(
        store
            .commit(&t, vec![Write::CountCadences { delta: 1 }])
            .await,
        0,
        "count past the limit again",
    )?;
    Ok(())
}
