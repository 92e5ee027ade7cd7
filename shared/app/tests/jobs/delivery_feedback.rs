//! SES events (through SNS) becoming history, bouncing addresses and tasks.

use crate::harness::{email_step, record, World};
use app::ports::{StoreError, Transactions, Write};
use domain::history::HistoryType;
use domain::task::TaskType;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An SES event about a chase email to `customer_id` of this world's tenant.
fn ses_event(world: &World, customer_id: &str, event_type: &str, extra: Value) -> String {
    let mut event = json!({
        "eventType": event_type,
        "mail": {
            "timestamp": "2026-03-01T08:00:06.000Z",
            "source": "chasing@chase.example",
            "messageId": format!("ses-{event_type}-{customer_id}"),
            "tags": {"tenant": [world.tenant.as_str()], "customer": [customer_id], "chase": ["1-0"]}
        }
    });
    if let (Some(event), Value::Object(extra)) = (event.as_object_mut(), extra) {
        event.extend(extra);
    }
    event.to_string()
}

fn hard_bounce(world: &World, customer_id: &str, address: &str) -> String {
    ses_event(
        world,
        customer_id,
        "Bounce",
        json!({"bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                          "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1"}]}}),
    )
}

#[tokio::test]
async fn a_hard_bounce_flags_the_address_once_and_asks_a_person_to_fix_it() {
    let world = World::start().await;
    let globex = world.chased("bounce", email_step()).await;
    // SES reports addresses in its own case.
    let event = hard_bounce(&world, &globex.id, &globex.email.to_uppercase());

    let first = world
        .feedback()
        .handle(std::slice::from_ref(&event))
        .await
        .unwrap();
    let again = world.feedback().handle(&[event]).await.unwrap();

    assert_eq!((first.recorded, first.ignored), (1, 0));
    assert_eq!(again.recorded, 0, "a redelivered event writes nothing");
    let contacts = world.contacts(&globex.id).await;
    assert!(contacts[0].email_bouncing, "{contacts:?}");
    let bounces = world.history_of(&globex.id, HistoryType::Bounce).await;
    assert_eq!(bounces.len(), 1);
    assert_eq!(bounces[0].detail["hard"], true);
    assert_eq!(
        bounces[0].detail["provider_message_id"],
        format!("ses-Bounce-{}", globex.id)
    );
    let tasks = world.open_tasks(&globex.id).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].kind, TaskType::FixContact);
}

#[tokio::test]
async fn the_next_chase_skips_a_bouncing_address() {
    let world = World::start().await;
    let globex = world.chased("skip", email_step()).await;
    let bounce = hard_bounce(&world, &globex.id, &globex.email);
    world.feedback().handle(&[bounce]).await.unwrap();
    let bodies = world.due_messages(&[&globex]).await;

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert!(failed.is_empty());
    assert_eq!(world.mailer.attempts(), 0, "nobody deliverable is left");
    let failure = world.history_of(&globex.id, HistoryType::ChaseFailed).await;
    assert_eq!(failure.len(), 1);
    assert_eq!(failure[0].detail["reason"], "no_recipient");
}

#[tokio::test]
async fn a_soft_bounce_and_a_delivery_are_history_only() {
    let world = World::start().await;
    let globex = world.chased("soft", email_step()).await;
    let soft = ses_event(
        &world,
        &globex.id,
        "Bounce",
        json!({"bounce": {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": globex.email}]}}),
    );
    let delivered = ses_event(&world, &globex.id, "Delivery", json!({"delivery": {}}));

    let report = world.feedback().handle(&[soft, delivered]).await.unwrap();

    assert_eq!((report.recorded, report.ignored), (2, 0));
    assert!(!world.contacts(&globex.id).await[0].email_bouncing);
    assert!(world.open_tasks(&globex.id).await.is_empty());
    let bounce = world.history_of(&globex.id, HistoryType::Bounce).await;
    assert_eq!(bounce[0].detail["hard"], false);
    assert_eq!(
        world
            .history_of(&globex.id, HistoryType::Delivery)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_complaint_is_recorded_without_flagging_the_address() {
    let world = World::start().await;
    let globex = world.chased("spam", email_step()).await;
    let complaint = ses_event(
        &world,
        &globex.id,
        "Complaint",
        json!({"complaint": {"complainedRecipients": [{"emailAddress": globex.email}]}}),
    );

    let report = world.feedback().handle(&[complaint]).await.unwrap();

    assert_eq!(report.recorded, 1);
    assert_eq!(
        world
            .history_of(&globex.id, HistoryType::Complaint)
            .await
            .len(),
        1
    );
    assert!(!world.contacts(&globex.id).await[0].email_bouncing);
}

#[tokio::test]
async fn a_reject_is_a_failed_chase_with_a_task_and_the_address_stays() {
    let world = World::start().await;
    let globex = world.chased("reject", email_step()).await;
    let reject = ses_event(
        &world,
        &globex.id,
        "Reject",
        json!({"reject": {"reason": "Bad content"}}),
    );

    let first = world
        .feedback()
        .handle(std::slice::from_ref(&reject))
        .await
        .unwrap();
    let again = world.feedback().handle(&[reject]).await.unwrap();

    assert_eq!((first.recorded, again.recorded), (1, 0));
    let failed = world.history_of(&globex.id, HistoryType::ChaseFailed).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail["reason"], "rejected");
    assert_eq!(failed[0].detail["provider_reason"], "Bad content");
    assert!(!world.contacts(&globex.id).await[0].email_bouncing);
    let tasks = world.open_tasks(&globex.id).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert!(tasks[0].title.contains("rejected"));
}

#[tokio::test]
async fn events_of_unknown_customers_or_without_chase_tags_are_ignored() {
    let world = World::start().await;
    let globex = world.chased("known", email_step()).await;
    let unknown_customer = hard_bounce(&world, "01J00000000000000000000000", "x@example.com");
    let other_tenant = hard_bounce(&world, &globex.id, &globex.email).replace("t-jobs", "t-other");
    let untagged = json!({"eventType": "Delivery", "mail": {"timestamp": "2026-03-01T08:00:06Z", "messageId": "x"}})
        .to_string();
    let bad_tenant = hard_bounce(&world, &globex.id, &globex.email).replace("t-jobs", "t#jobs");
    let unknown_type = ses_event(&world, &globex.id, "Open", json!({}));
    let bounce_without_details = ses_event(&world, &globex.id, "Bounce", json!({}));
    world.store.reset_requests();

    let report = world
        .feedback()
        .handle(&[
            unknown_customer,
            other_tenant,
            untagged,
            bad_tenant,
            unknown_type,
            bounce_without_details,
        ])
        .await
        .unwrap();

    assert_eq!((report.recorded, report.ignored), (0, 6));
    assert_eq!(world.store.request_count("commit"), 0, "nothing written");
    assert!(!world.contacts(&globex.id).await[0].email_bouncing);
}

#[tokio::test]
async fn malformed_notifications_are_skipped_and_the_rest_recorded() {
    let world = World::start().await;
    let globex = world.chased("malformed", email_step()).await;
    let good = hard_bounce(&world, &globex.id, &globex.email);

    let report = world
        .feedback()
        .handle(&[
            "not json".to_string(),
            String::new(),
            json!({"eventType": "Bounce"}).to_string(),
            json!({"eventType": "Delivery", "mail": {"messageId": "no timestamp"}}).to_string(),
            good,
        ])
        .await
        .unwrap();

    assert_eq!((report.recorded, report.ignored), (1, 4));
    assert!(world.contacts(&globex.id).await[0].email_bouncing);
}

#[tokio::test]
async fn a_store_failure_fails_the_delivery_for_lambda_to_retry() {
    let world = World::start().await;
    let globex = world.chased("retry", email_step()).await;
    let event = hard_bounce(&world, &globex.id, &globex.email);
    world
        .store
        .fail_next_commit(StoreError::Unavailable("down".into()));

    let failed = world.feedback().handle(std::slice::from_ref(&event)).await;

    assert!(failed.is_err(), "{failed:?}");
    assert!(!world.contacts(&globex.id).await[0].email_bouncing);
    // Lambda retries the event: it is recorded then, once.
    let retried = world.feedback().handle(&[event]).await.unwrap();
    assert_eq!(retried.recorded, 1);
    assert!(world.contacts(&globex.id).await[0].email_bouncing);
    assert_eq!(
        world
            .history_of(&globex.id, HistoryType::Bounce)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_hard_bounce_racing_a_contact_edit_is_still_recorded() {
    let world = World::start().await;
    let globex = world.chased("race", email_step()).await;
    let event = hard_bounce(&world, &globex.id, &globex.email);
    // Between the feedback's read of the contact and its commit, someone
    // edits the contact (its phone number): the contact's version moves on.
    let armed = Arc::new(AtomicBool::new(true));
    let store = world.store.clone();
    let tenant = world.tenant.clone();
    world.store.fail_commits_matching(move |_, writes| {
        let flags = writes
            .iter()
            .any(|w| matches!(w, Write::SaveContact { contact, .. } if contact.email_bouncing));
        if flags && armed.swap(false, Ordering::SeqCst) {
            let edit = writes.iter().find_map(|w| match w {
                Write::SaveContact {
                    contact,
                    expected_version,
                } => {
                    let mut edited = (**contact).clone();
                    edited.email_bouncing = false;
                    edited.phone = Some("+447700900456".into());
                    Some(Write::SaveContact {
                        contact: Box::new(edited),
                        expected_version: *expected_version,
                    })
                }
                _ => None,
            });
            let edit = edit.into_iter().collect();
            let applied = futures::executor::block_on(store.commit(&tenant, edit));
            assert!(applied.is_ok(), "{applied:?}");
        }
        None
    });

    let report = world.feedback().handle(std::slice::from_ref(&event)).await;

    // Either recorded now, or failed so that Lambda delivers it again.
    match report {
        Ok(report) => assert_eq!(report.recorded, 1, "{report:?}"),
        Err(_) => {
            world.store.clear_faults();
            world.feedback().handle(&[event]).await.unwrap();
        }
    }
    assert!(world.contacts(&globex.id).await[0].email_bouncing);
    assert_eq!(
        world
            .history_of(&globex.id, HistoryType::Bounce)
            .await
            .len(),
        1
    );
}
