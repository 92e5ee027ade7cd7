//! The chase worker's branches, one queue batch at a time, against the
//! in-memory store, mailer and SMS.

use crate::harness::{contact, email_step, message, record, sms_step, utc, World, FIRST_RUN};
use app::jobs::chase_worker::OUTCOME_UNKNOWN;
use app::messages::QueuedRecord;
use app::ports::{SendError, StoreError, Write};
use app::records::ChaseStatus;
use domain::history::HistoryType;
use domain::task::TaskType;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test]
async fn an_email_step_is_sent_and_recorded() {
    let world = World::start().await;
    let globex = world.chased("mail", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert!(failed.is_empty(), "{failed:?}");
    let sent = world.mailer.sent_with_ids();
    assert_eq!(sent.len(), 1);
    let (provider_id, email) = &sent[0];
    assert_eq!(email.to, std::slice::from_ref(&globex.email));
    assert_eq!(
        email.from.address, "chasing@chase.example",
        "the deployment's domain"
    );
    assert!(
        email.subject.contains("Globex CH-mail"),
        "{}",
        email.subject
    );
    assert!(email.html.contains("Dear Pat"), "{}", email.html);
    assert!(email.html.contains("INV-mail"), "{}", email.html);
    let tag = |name: &str| {
        email
            .tags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(tag("tenant").as_deref(), Some(world.tenant.as_str()));
    assert_eq!(tag("customer").as_deref(), Some(globex.id.as_str()));
    assert!(world.sms.sent().is_empty());

    assert_eq!(
        world.chase_timeline(&globex.id).await,
        [(HistoryType::ChaseEmail, 0)]
    );
    let item = &world.history_of(&globex.id, HistoryType::ChaseEmail).await[0];
    assert_eq!(item.detail["provider_message_id"], json!(provider_id));
    assert_eq!(item.invoice_ids, std::slice::from_ref(&globex.invoice_id));
    let chase = world.chase(&message(&bodies[0])).await.unwrap();
    assert_eq!(chase.status, ChaseStatus::Done);
    assert_eq!(chase.provider_message_id.as_ref(), Some(provider_id));
    let customer = world.stored(&globex.id).await.customer;
    assert_eq!(
        customer.messages_sent,
        [world.now()],
        "counted for the frequency cap"
    );
    assert!(world.open_tasks(&globex.id).await.is_empty());
}

#[tokio::test]
async fn an_sms_step_is_texted_to_the_sms_enabled_contact() {
    let world = World::start().await;
    let globex = world.chased("text", sms_step()).await;
    let bodies = world.due_messages(&[&globex]).await;

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert!(failed.is_empty(), "{failed:?}");
    let texts = world.sms.sent();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].phone, globex.phone);
    assert!(
        texts[0].text.contains("Globex CH-text"),
        "{}",
        texts[0].text
    );
    assert!(world.mailer.sent().is_empty());
    assert_eq!(
        world.chase_timeline(&globex.id).await,
        [(HistoryType::ChaseSms, 0)]
    );
}

#[tokio::test]
async fn a_payment_between_schedule_and_send_suppresses_the_chase() {
    let world = World::start().await;
    let globex = world.chased("paid", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    world.pay(&globex.id, &globex.invoice_id, "80.00").await;

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert!(failed.is_empty(), "{failed:?}");
    assert!(world.mailer.sent().is_empty(), "nothing after the payment");
    assert_eq!(world.mailer.attempts(), 0);
    let suppressed = world
        .history_of(&globex.id, HistoryType::ChaseSuppressed)
        .await;
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].detail["reason"], "no_chased_balance");
    let chase = world.chase(&message(&bodies[0])).await.unwrap();
    assert_eq!(chase.status, ChaseStatus::Suppressed);
    // A redelivery does nothing more.
    assert!(world
        .worker()
        .handle(vec![record("m-1", 2, &bodies[0])])
        .await
        .is_empty());
    assert_eq!(
        world
            .history_of(&globex.id, HistoryType::ChaseSuppressed)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn an_unknown_send_outcome_is_recorded_for_a_person_and_never_resent() {
    let world = World::start().await;
    let globex = world.chased("unknown", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    // The provider sends it, then the answer is lost.
    world
        .mailer
        .send_then_fail_next(SendError::Unknown("timeout".into()));

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert!(failed.is_empty(), "acknowledged, not retried: {failed:?}");
    assert_eq!(world.mailer.sent().len(), 1);
    assert_eq!(
        world.chase_timeline(&globex.id).await,
        [(HistoryType::ChaseFailed, 0)]
    );
    let failure = &world.history_of(&globex.id, HistoryType::ChaseFailed).await[0];
    assert_eq!(failure.detail["reason"], OUTCOME_UNKNOWN);
    let tasks = world.open_tasks(&globex.id).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].kind, TaskType::FixContact);
    assert!(
        tasks[0].title.contains("outcome unknown"),
        "{}",
        tasks[0].title
    );
    assert_eq!(
        world.chase(&message(&bodies[0])).await.unwrap().status,
        ChaseStatus::Failed
    );

    // A redelivery and a duplicate from a second scheduler run send nothing.
    let again = world
        .worker()
        .handle(vec![
            record("m-1", 2, &bodies[0]),
            record("m-dup", 1, &bodies[0]),
        ])
        .await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(world.mailer.attempts(), 1, "never attempted twice");
    assert_eq!(world.open_tasks(&globex.id).await.len(), 1);
    // Nor does the next day's tick chase this step again.
    let next_day = world.tick_days("2026-03-02", "2026-03-02").await;
    assert!(next_day.is_empty(), "{next_day:?}");
}

#[tokio::test]
async fn a_send_the_provider_did_not_make_is_retried_and_sent_exactly_once() {
    let world = World::start().await;
    let globex = world.chased("notsent", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    world
        .mailer
        .fail_next(SendError::NotSent("throttled".into()));

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert_eq!(failed, ["m-1"], "left for the queue's retry");
    assert!(world.mailer.sent().is_empty());
    let chase = world.chase(&message(&bodies[0])).await.unwrap();
    assert_eq!(
        chase.status,
        ChaseStatus::Claimed,
        "the claim is handed back"
    );
    assert!(world.chase_timeline(&globex.id).await.is_empty());

    // Meanwhile a duplicate of the message (another scheduler run) is dropped:
    // the retry owns the chase.
    let duplicate = world
        .worker()
        .handle(vec![record("m-dup", 1, &bodies[0])])
        .await;
    assert!(duplicate.is_empty());
    assert!(world.mailer.sent().is_empty());

    let retried = world
        .worker()
        .handle(vec![record("m-1", 2, &bodies[0])])
        .await;
    assert!(retried.is_empty(), "{retried:?}");
    assert_eq!(world.mailer.sent().len(), 1);
    let third = world
        .worker()
        .handle(vec![record("m-1", 3, &bodies[0])])
        .await;
    assert!(third.is_empty());
    assert_eq!(world.mailer.sent().len(), 1, "exactly once");
    assert_eq!(
        world.chase_timeline(&globex.id).await,
        [(HistoryType::ChaseEmail, 0)]
    );
}

#[tokio::test]
async fn a_rejected_send_is_recorded_failed_and_not_retried() {
    let world = World::start().await;
    let globex = world.chased("rejected", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    world
        .mailer
        .fail_next(SendError::Rejected("MessageRejected".into()));

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert!(failed.is_empty(), "not retried: {failed:?}");
    assert!(world.mailer.sent().is_empty());
    let failure = world.history_of(&globex.id, HistoryType::ChaseFailed).await;
    assert_eq!(failure.len(), 1);
    assert_eq!(failure[0].detail["reason"], "MessageRejected");
    let tasks = world.open_tasks(&globex.id).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, TaskType::FixContact);
    assert!(
        tasks[0].title.contains("MessageRejected"),
        "{}",
        tasks[0].title
    );
    assert_eq!(
        world.chase(&message(&bodies[0])).await.unwrap().status,
        ChaseStatus::Failed
    );
    assert!(world
        .worker()
        .handle(vec![record("m-1", 2, &bodies[0])])
        .await
        .is_empty());
    assert_eq!(world.mailer.attempts(), 1);
}

#[tokio::test]
async fn a_step_nobody_can_receive_fails_with_a_task_without_calling_the_provider() {
    let world = World::start().await;
    let customer = world.customer("NR-1").await;
    // A contact without an email address; the customer has none either.
    world
        .contact(
            &customer,
            contact("Phone only", None, Some("+447700900999")),
        )
        .await;
    world
        .invoice(&customer, "NR-1", "2026-03-01", "2026-03-31", "80.00")
        .await;
    let cadence = world.cadence(email_step()).await;
    world.enrol(&customer, &cadence).await;
    world.tick(utc(FIRST_RUN)).await;
    let bodies = world.queue.take();

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert!(failed.is_empty());
    assert_eq!(world.mailer.attempts(), 0);
    let failure = world.history_of(&customer, HistoryType::ChaseFailed).await;
    assert_eq!(failure.len(), 1);
    assert_eq!(failure[0].detail["reason"], "no_recipient");
    assert_eq!(
        world.open_tasks(&customer).await[0].kind,
        TaskType::FixContact
    );
}

#[tokio::test]
async fn a_malformed_record_fails_alone_in_a_mixed_batch() {
    let world = World::start().await;
    let a = world.chased("a", email_step()).await;
    let b = world.chased("b", email_step()).await;
    let c = world.chased("c", email_step()).await;
    let bodies = world.due_messages(&[&a, &b, &c]).await;

    let failed = world
        .worker()
        .handle(vec![
            record("m-a", 1, &bodies[0]),
            record("m-bad", 1, "{not json"),
            record("m-b", 1, &bodies[1]),
            record("m-c", 1, &bodies[2]),
        ])
        .await;

    // Reported failed: SQS redelivers it up to maxReceiveCount, then the
    // redrive policy moves it to the dead-letter queue for a person.
    assert_eq!(failed, ["m-bad"]);
    let mut to: Vec<String> = world.mailer.sent().into_iter().flat_map(|e| e.to).collect();
    to.sort();
    assert_eq!(to, [a.email.clone(), b.email.clone(), c.email.clone()]);
    for customer in [&a, &b, &c] {
        assert_eq!(
            world.chase_timeline(&customer.id).await,
            [(HistoryType::ChaseEmail, 0)]
        );
    }
}

#[tokio::test]
async fn every_kind_of_malformed_record_is_reported_and_writes_nothing() {
    let world = World::start().await;
    let globex = world.chased("shape", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    let good = serde_json::from_str::<serde_json::Value>(&bodies[0]).unwrap();
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no body", None),
        ("empty body", Some(String::new())),
        ("not JSON", Some("{not json".into())),
        ("a JSON string", Some("\"chase\"".into())),
        (
            "another message's shape",
            Some(json!({"not": "a chase"}).to_string()),
        ),
        ("a missing field", Some(without("step"))),
        ("an unknown field", Some(with("priority", json!(1)))),
        (
            "a field of the wrong type",
            Some(with("step", json!("first"))),
        ),
        ("a negative step", Some(with("step", json!(-1)))),
        (
            "a bad instant",
            Some(with("scheduled_for", json!("tomorrow"))),
        ),
        (
            "a tenant id that could break a key",
            Some(with("tenant_id", json!("t#other"))),
        ),
    ];
    world.store.reset_requests();
    let records: Vec<QueuedRecord> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, body))| QueuedRecord {
            message_id: Some(format!("bad-{i}")),
            body: body.clone(),
            receive_count: 1,
        })
        .collect();

    let failed = world.worker().handle(records).await;

    let expected: Vec<String> = (0..cases.len()).map(|i| format!("bad-{i}")).collect();
    assert_eq!(failed, expected, "each reported on its own: {cases:?}");
    assert!(
        world.store.requests().is_empty(),
        "rejected before any store call: {:?}",
        world.store.requests()
    );
    assert_eq!(world.mailer.attempts(), 0);
}

#[tokio::test]
async fn a_message_for_a_customer_deleted_since_is_acknowledged_and_sends_nothing() {
    let world = World::start().await;
    let globex = world.chased("gone", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    let mut ghost = message(&bodies[0]);
    ghost.customer_id = "01J00000000000000000000000".into();
    let body = serde_json::to_string(&ghost).unwrap();

    let failed = world
        .worker()
        .handle(vec![record("m-ghost", 1, &body)])
        .await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(world.mailer.attempts(), 0);
    assert_eq!(
        world.chase(&ghost).await.map(|c| c.status),
        Some(ChaseStatus::Suppressed)
    );
}

#[tokio::test]
async fn one_chase_delivered_twice_in_a_batch_and_again_later_sends_one_email() {
    let world = World::start().await;
    let globex = world.chased("dup", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;

    // Two scheduler runs enqueued it twice; both copies arrive in one batch.
    let first = world
        .worker()
        .handle(vec![
            record("m-1", 1, &bodies[0]),
            record("m-2", 1, &bodies[0]),
        ])
        .await;
    // Then each is delivered again (the visibility timeout ran out).
    let second = world
        .worker()
        .handle(vec![record("m-2", 2, &bodies[0])])
        .await;
    let third = world
        .worker()
        .handle(vec![record("m-1", 2, &bodies[0])])
        .await;

    assert!(first.is_empty() && second.is_empty() && third.is_empty());
    assert_eq!(world.mailer.attempts(), 1);
    assert_eq!(world.mailer.sent().len(), 1);
    assert_eq!(
        world.chase_timeline(&globex.id).await,
        [(HistoryType::ChaseEmail, 0)]
    );
}

#[tokio::test]
async fn a_store_outage_fails_only_the_records_it_touched() {
    let world = World::start().await;
    let a = world.chased("up-a", email_step()).await;
    let b = world.chased("down", email_step()).await;
    let c = world.chased("up-c", email_step()).await;
    let bodies = world.due_messages(&[&a, &b, &c]).await;
    let down = b.id.clone();
    world.store.fail_commits_matching(move |_, writes| {
        writes
            .iter()
            .any(|w| matches!(w, Write::ClaimChase(chase) if chase.customer_id == down))
            .then(|| StoreError::Unavailable("partition unavailable".into()))
    });

    let failed = world
        .worker()
        .handle(vec![
            record("m-a", 1, &bodies[0]),
            record("m-b", 1, &bodies[1]),
            record("m-c", 1, &bodies[2]),
        ])
        .await;

    assert_eq!(failed, ["m-b"]);
    let to: Vec<String> = world.mailer.sent().into_iter().flat_map(|e| e.to).collect();
    assert_eq!(to, [a.email.clone(), c.email.clone()]);
    assert!(
        world.chase(&message(&bodies[1])).await.is_none(),
        "not claimed"
    );

    // The store is back: the redelivery sends it.
    world.store.clear_faults();
    assert!(world
        .worker()
        .handle(vec![record("m-b", 2, &bodies[1])])
        .await
        .is_empty());
    assert_eq!(world.mailer.sent().len(), 3);
    assert_eq!(world.mailer.sent()[2].to, [b.email]);
}

#[tokio::test]
async fn a_read_failing_mid_batch_fails_that_record_only() {
    let world = World::start().await;
    let a = world.chased("read-a", email_step()).await;
    let b = world.chased("read-b", email_step()).await;
    let bodies = world.due_messages(&[&a, &b]).await;
    // The first record's customer read (after its claim) times out.
    world.store.fail_next_call(
        "customer_with_contacts",
        StoreError::Throttled("slow down".into()),
    );

    let failed = world
        .worker()
        .handle(vec![
            record("m-a", 1, &bodies[0]),
            record("m-b", 1, &bodies[1]),
        ])
        .await;

    assert_eq!(failed, ["m-a"]);
    assert_eq!(world.mailer.sent().len(), 1);
    assert_eq!(world.mailer.sent()[0].to, [b.email]);
    // Claimed by m-a's first delivery: its redelivery takes it over and sends.
    assert!(world
        .worker()
        .handle(vec![record("m-a", 2, &bodies[0])])
        .await
        .is_empty());
    assert_eq!(world.mailer.sent().len(), 2);
    assert_eq!(world.mailer.sent()[1].to, [a.email]);
}

#[tokio::test]
async fn a_store_outage_after_the_send_is_never_resent_and_is_flagged_for_a_person() {
    let world = World::start().await;
    let globex = world.chased("after-send", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    // The email goes out; every write after it fails (the record, then
    // the `sent` mark).
    world.lose_writes_after_sending();

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;
    assert_eq!(failed, ["m-1"], "retried through the queue");
    assert_eq!(world.mailer.sent().len(), 1);
    world.store.clear_faults();

    // The redelivery finds the chase `sending`: it may have gone out.
    let again = world
        .worker()
        .handle(vec![record("m-1", 2, &bodies[0])])
        .await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(world.mailer.attempts(), 1, "never sent twice");
    let failure = world.history_of(&globex.id, HistoryType::ChaseFailed).await;
    assert_eq!(failure.len(), 1);
    assert_eq!(failure[0].detail["reason"], OUTCOME_UNKNOWN);
    assert_eq!(world.open_tasks(&globex.id).await.len(), 1);
}

#[tokio::test]
async fn a_record_failing_after_the_send_keeps_the_sent_mark_for_the_redelivery() {
    let world = World::start().await;
    let globex = world.chased("lost-answer", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    // The email goes out; the transaction recording it fails once (the
    // customer kept changing, the store hiccuped): the `sent` mark with the
    // provider's id is written instead.
    let armed = Arc::new(AtomicBool::new(true));
    world.store.fail_commits_matching(move |_, writes| {
        let record = writes.iter().any(|w| {
            matches!(
                w,
                Write::AdvanceChase {
                    from: ChaseStatus::Sending,
                    to: ChaseStatus::Done,
                    ..
                }
            )
        });
        (record && armed.swap(false, Ordering::SeqCst))
            .then(|| StoreError::Unavailable("record lost".into()))
    });

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;
    assert_eq!(failed, ["m-1"]);
    world.store.clear_faults();
    assert_eq!(
        world.chase(&message(&bodies[0])).await.unwrap().status,
        ChaseStatus::Sent
    );

    let again = world
        .worker()
        .handle(vec![record("m-1", 2, &bodies[0])])
        .await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(world.mailer.attempts(), 1, "never sent twice");
    assert_eq!(
        world.chase_timeline(&globex.id).await,
        [(HistoryType::ChaseEmail, 0)],
        "recorded as sent"
    );
    assert_eq!(
        world.chase(&message(&bodies[0])).await.unwrap().status,
        ChaseStatus::Done
    );
}

#[tokio::test]
async fn calls_escalations_and_letters_become_tasks_and_records_without_sending() {
    let world = World::start().await;
    let call = world
        .chased(
            "call",
            json!([{"trigger": "account_age", "days": 0, "action": "phone_call"}]),
        )
        .await;
    let escalation = world
        .chased(
            "escalate",
            json!([{"trigger": "account_age", "days": 0, "action": "escalation", "assignee_id": "user-head-of-ar"}]),
        )
        .await;
    let letter = world
        .chased(
            "letter",
            json!([{"trigger": "account_age", "days": 0, "action": "letter"}]),
        )
        .await;
    let bodies = world.due_messages(&[&call, &escalation, &letter]).await;

    let failed = world
        .worker()
        .handle(vec![
            record("m-call", 1, &bodies[0]),
            record("m-esc", 1, &bodies[1]),
            record("m-letter", 1, &bodies[2]),
        ])
        .await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(world.mailer.attempts() + world.sms.attempts(), 0);
    let tasks = world.open_tasks(&call.id).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, TaskType::CallReminder);
    assert_eq!(tasks[0].invoice_ids, std::slice::from_ref(&call.invoice_id));
    assert_eq!(
        world.chase_timeline(&call.id).await,
        [(HistoryType::TaskCreated, 0)]
    );
    let tasks = world.open_tasks(&escalation.id).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].kind, TaskType::Escalation);
    assert_eq!(tasks[0].assignee_id.as_deref(), Some("user-head-of-ar"));
    assert!(world.open_tasks(&letter.id).await.is_empty());
    let letters = world.history_of(&letter.id, HistoryType::ChaseLetter).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].detail["fulfilment"], "recorded_for_print");
    // The letter's PDF is in the documents bucket under the linked id.
    let document_id = letters[0].detail["document_id"].as_str().unwrap();
    let pdf = world.files.object(&world.tenant, document_id).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // A redelivery writes the same document again, not a second one.
    assert!(world
        .worker()
        .handle(vec![record("m-letter", 2, &bodies[2])])
        .await
        .is_empty());
    assert_eq!(world.files.count(), 1);
    for body in &bodies {
        assert_eq!(
            world.chase(&message(body)).await.map(|c| c.status),
            Some(ChaseStatus::Done)
        );
    }
    // A redelivery creates no second task.
    assert!(world
        .worker()
        .handle(vec![record("m-call", 2, &bodies[0])])
        .await
        .is_empty());
    assert_eq!(world.open_tasks(&call.id).await.len(), 1);
}

#[tokio::test]
async fn a_customer_unenrolled_between_schedule_and_send_is_not_chased() {
    let world = World::start().await;
    let globex = world.chased("unenrolled", email_step()).await;
    let bodies = world.due_messages(&[&globex]).await;
    let change =
        app::usecases::enrolment::unenrol(&world.context, &world.caller, world.now(), &globex.id)
            .await;
    world.commit(change).await;

    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(world.mailer.attempts(), 0);
    let suppressed = world
        .history_of(&globex.id, HistoryType::ChaseSuppressed)
        .await;
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0].detail["reason"], "cadence_changed");
}

/// Counts the sends in flight at once, holding each a moment so that
/// overlapping ones can be seen.
struct OverlapMailer {
    inner: testkit::RecordingMailer,
    in_flight: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
    to: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl app::ports::Mailer for OverlapMailer {
    async fn send_email(&self, email: &app::ports::Email) -> Result<String, SendError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        self.to.lock().unwrap().extend(email.to.iter().cloned());
        let sent = self.inner.send_email(email).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        sent
    }
}

#[tokio::test]
async fn a_batch_works_on_several_customers_at_once_and_on_each_customer_in_order() {
    let world = World::start().await;
    let mut customers = Vec::new();
    for tag in ["ov1", "ov2", "ov3", "ov4"] {
        customers.push(world.chased(tag, email_step()).await);
    }
    let refs: Vec<_> = customers.iter().collect();
    let bodies = world.due_messages(&refs).await;
    let mailer = Arc::new(OverlapMailer {
        inner: world.mailer.clone(),
        in_flight: Default::default(),
        most: Default::default(),
        to: Default::default(),
    });
    let worker = app::jobs::chase_worker::ChaseWorker {
        mailer: mailer.clone(),
        ..world.worker()
    };
    // The first customer's message twice (two scheduler runs), then the others.
    let mut records = vec![record("m-0a", 1, &bodies[0]), record("m-0b", 1, &bodies[0])];
    records.extend(
        bodies[1..]
            .iter()
            .enumerate()
            .map(|(i, body)| record(&format!("m-{}", i + 1), 1, body)),
    );

    let failed = worker.handle(records).await;

    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        mailer.most.load(Ordering::SeqCst) > 1,
        "different customers' sends overlap"
    );
    let mut sent_to = mailer.to.lock().unwrap().clone();
    sent_to.sort();
    let mut expected: Vec<String> = customers.iter().map(|c| c.email.clone()).collect();
    expected.sort();
    assert_eq!(
        sent_to, expected,
        "one email per customer, the duplicate none"
    );
    for customer in &customers {
        assert_eq!(
            world.chase_timeline(&customer.id).await,
            [(HistoryType::ChaseEmail, 0)]
        );
    }
}
