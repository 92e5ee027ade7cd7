//! The scheduler's tick against the in-memory store and queue.

use crate::harness::{contact, date, email_step, message, record, utc, World, FIRST_RUN};
use app::ports::StoreError;
use domain::customer::ChasingStatus;
use domain::history::HistoryType;
use domain::promise::NewPromise;
use domain::task::TaskType;
use serde_json::json;

#[tokio::test]
async fn a_due_customer_is_enqueued_once_with_its_chase() {
    let world = World::start().await;
    let due = world.chased("due", email_step()).await;
    let before = world.stored(&due.id).await.customer;
    assert_eq!(before.next_evaluation_at, Some(utc(FIRST_RUN)));

    let report = world.tick(utc(FIRST_RUN)).await;

    assert_eq!(
        (
            report.due_customers,
            report.evaluated,
            report.enqueued,
            report.skipped
        ),
        (1, 1, 1, 0)
    );
    let bodies = world.queue.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(world.queue.calls(), 1, "one batch per unit with chases");
    let sent = message(&bodies[0]);
    assert_eq!(sent.tenant_id, world.tenant.as_str());
    assert_eq!(sent.customer_id, due.id);
    assert_eq!(sent.cadence_id, due.cadence_id);
    assert_eq!(sent.cadence_version, 1);
    assert_eq!(sent.step, 0);
    assert_eq!(sent.scheduled_for, utc(FIRST_RUN));
    // The scheduler only enqueues: nothing is sent, claimed or written yet
    // (the worker records the evaluation with the chase, in one write).
    assert!(world.mailer.sent().is_empty());
    assert!(world.chase(&sent).await.is_none());
    assert_eq!(world.stored(&due.id).await.customer, before);

    world.work_queue().await;
    let after = world.stored(&due.id).await.customer;
    assert_eq!(sent.cycle, after.cycle.cycle);
    // The evaluation is recorded: the customer is not due at this instant
    // any more (its only step ran: nothing is due until the balance changes).
    assert_eq!(after.last_evaluated_at, Some(utc(FIRST_RUN)));
    assert!(after
        .next_evaluation_at
        .is_none_or(|next| next > utc(FIRST_RUN)));
}

#[tokio::test]
async fn the_same_tick_twice_enqueues_the_chase_twice_and_it_is_sent_once() {
    // EventBridge delivers at least once: the same instant may run twice,
    // before the worker got to the first tick's message.
    let world = World::start().await;
    let due = world.chased("twice", email_step()).await;
    let first = world.tick(utc(FIRST_RUN)).await;
    let second = world.tick(utc(FIRST_RUN)).await;
    assert_eq!((first.enqueued, second.enqueued), (1, 1));
    let bodies = world.queue.bodies();
    assert_eq!(bodies[0], bodies[1], "the same chase twice");
    world.work_queue().await;
    assert_eq!(
        world.mailer.sent().len(),
        1,
        "the claim absorbs the duplicate"
    );
    assert_eq!(world.mailer.sent()[0].to, [due.email]);
    assert_eq!(
        world.chase_timeline(&due.id).await,
        [(HistoryType::ChaseEmail, 0)]
    );
    // Once the worker recorded it, the same instant finds nobody due.
    let third = world.tick(utc(FIRST_RUN)).await;
    assert_eq!((third.due_customers, third.enqueued), (0, 0));
}

#[tokio::test]
async fn only_due_customers_are_enqueued() {
    let world = World::start().await;
    let due = world.chased("now", email_step()).await;
    // Enrolled too, but its only step is a week after the invoice's due date.
    let later = world
        .chased(
            "later",
            json!([{"trigger": "past_due_age", "days": 7, "action": "email", "template_id": "EMAIL"}]),
        )
        .await;

    let report = world.tick(utc(FIRST_RUN)).await;

    assert_eq!(
        (report.due_customers, report.enqueued),
        (2, 1),
        "{report:?}"
    );
    let bodies = world.queue.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(message(&bodies[0]).customer_id, due.id);
    // The other was evaluated and waits for a later run.
    let waiting = world.stored(&later.id).await.customer;
    assert!(waiting
        .next_evaluation_at
        .is_some_and(|next| next > utc(FIRST_RUN)));
    // Once the chase is worked, a tick before anyone's run finds nobody due.
    world.work_queue().await;
    let early = world.tick(utc("2026-03-02T07:59:59Z")).await;
    assert_eq!((early.due_customers, early.enqueued), (0, 0));
}

#[tokio::test]
async fn a_message_the_queue_refuses_leaves_the_customer_due_for_the_next_tick() {
    let world = World::start().await;
    let refused = world.chased("refused", email_step()).await;
    let accepted = world.chased("accepted", email_step()).await;
    let refused_id = refused.id.clone();
    world
        .queue
        .refuse_matching(move |body| message(body).customer_id == refused_id);

    let report = world.tick(utc(FIRST_RUN)).await;

    assert_eq!((report.evaluated, report.enqueued), (2, 1), "{report:?}");
    assert_eq!(world.queue.refused().len(), 1);
    let still_due = world.stored(&refused.id).await.customer;
    assert_eq!(
        still_due.next_evaluation_at,
        Some(utc(FIRST_RUN)),
        "not recorded as evaluated"
    );
    assert_eq!(still_due.last_evaluated_at, None);
    world.work_queue().await;
    let evaluated = world.stored(&accepted.id).await.customer;
    assert_eq!(evaluated.last_evaluated_at, Some(utc(FIRST_RUN)));

    // The queue is back; the next tick (a few minutes later) catches up.
    world.queue.clear_refusals();
    let next = world.tick(utc("2026-03-01T08:15:00Z")).await;
    assert_eq!((next.due_customers, next.enqueued), (1, 1), "{next:?}");
    let bodies = world.queue.bodies();
    assert_eq!(bodies.len(), 1);
    let caught_up = message(&bodies[0]);
    assert_eq!(caught_up.customer_id, refused.id);
    assert_eq!(
        caught_up.scheduled_for,
        utc(FIRST_RUN),
        "the missed run, not the late tick's instant"
    );
}

#[tokio::test]
async fn a_pause_that_ran_out_resumes_chasing_on_its_end_date() {
    let world = World::start().await;
    let paused = world.chased("pause", email_step()).await;
    let change = app::usecases::enrolment::pause(
        &world.context,
        &world.caller,
        world.now(),
        &paused.id,
        Some(date("2026-03-03")),
    )
    .await;
    world.commit(change).await;
    assert_eq!(
        world.stored(&paused.id).await.customer.chasing.status,
        ChasingStatus::Paused
    );

    let messages = world.tick_days("2026-03-01", "2026-03-02").await;
    assert!(messages.is_empty(), "nothing while paused: {messages:?}");
    let messages = world.tick_days("2026-03-03", "2026-03-03").await;

    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].scheduled_for, utc("2026-03-03T08:00:00Z"));
    let resumed = world.stored(&paused.id).await.customer;
    assert_eq!(resumed.chasing.status, ChasingStatus::Active);
    assert_eq!(resumed.chasing.paused_until, None);
}

#[tokio::test]
async fn a_broken_promise_gets_history_and_a_task_and_chasing_resumes() {
    let world = World::start().await;
    let customer = world.customer("PR-1").await;
    world
        .contact(&customer, contact("Sam", Some("sam@globex.example"), None))
        .await;
    world
        .invoice(&customer, "PR-1", "2026-02-01", "2026-02-15", "50.00")
        .await;
    let cadence = world.cadence(email_step()).await;
    world.enrol(&customer, &cadence).await;
    let promised = NewPromise {
        amount: "50.00".parse().unwrap(),
        promised_date: date("2026-03-02"),
        note: None,
    };
    let change = app::usecases::payments::promise(
        &world.context,
        &world.caller,
        world.stored(&customer).await,
        &promised,
        world.now(),
    )
    .await;
    world.commit(change).await;

    // Three days' grace: the promise holds through March 5.
    let held = world.tick_days("2026-03-01", "2026-03-05").await;
    assert!(
        held.is_empty(),
        "no chase while the promise holds: {held:?}"
    );
    assert!(world.open_tasks(&customer).await.is_empty());
    let after = world.tick_days("2026-03-06", "2026-03-06").await;

    let broken = world.history_of(&customer, HistoryType::Promise).await;
    let broken: Vec<_> = broken
        .iter()
        .filter(|h| h.detail["status"] == "broken")
        .collect();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0].actor, "system");
    let tasks = world.open_tasks(&customer).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].kind, TaskType::PromiseBroken);
    assert!(world
        .stored(&customer)
        .await
        .customer
        .active_promise
        .is_none());
    assert_eq!(after.len(), 1, "chasing resumes with the broken promise");
    // The next day does not break it again.
    world.tick_days("2026-03-07", "2026-03-07").await;
    assert_eq!(world.open_tasks(&customer).await.len(), 1);
}

#[tokio::test]
async fn a_redelivered_unit_does_not_fork_its_shards_chain_of_pages() {
    let world = World::start().await;
    many_due(&world).await;
    world.clock.set(utc(FIRST_RUN));
    let scheduler = world.scheduler();
    scheduler.tick(utc(FIRST_RUN)).await.unwrap();
    let units = world.evaluations.take();
    let mut continued = 0;
    for (i, unit) in units.iter().enumerate() {
        // The first delivery of each unit sends its continuation, if its
        // shard has another page...
        let (first, failed) = scheduler
            .handle(vec![record(&format!("u-{i}"), 1, unit)])
            .await;
        assert!(failed.is_empty());
        let next = world.evaluations.take();
        assert!(next.len() <= 1);
        continued += next.len();
        // ...and a redelivery of the same unit never does again.
        let (again, failed) = scheduler
            .handle(vec![record(&format!("u-{i}"), 2, unit)])
            .await;
        assert!(failed.is_empty());
        assert!(
            world.evaluations.take().is_empty(),
            "{first:?} then {again:?}"
        );
    }
    assert!(continued >= 1, "some shard has more than one page");
}

/// 450 due customers (more than one unit's page in some shard).
async fn many_due(world: &World) {
    let cadence = world.cadence(email_step()).await;
    for i in 0..450 {
        let id = world.customer(&format!("PAGE-{i}")).await;
        world
            .invoice(
                &id,
                &format!("INV-P{i}"),
                "2026-03-01",
                "2026-03-31",
                "80.00",
            )
            .await;
        world.enrol(&id, &cadence).await;
    }
}

#[tokio::test]
async fn a_unit_failing_before_its_next_page_is_sent_again_and_its_shard_is_evaluated() {
    let world = World::start().await;
    many_due(&world).await;
    world.clock.set(utc(FIRST_RUN));
    let scheduler = world.scheduler();
    scheduler.tick(utc(FIRST_RUN)).await.unwrap();
    let mut queue = world.evaluations.take();
    // The first unit's page read fails once (a DynamoDB blip).
    world
        .store
        .fail_next_call("due_page", StoreError::Unavailable("blip".into()));
    let mut evaluated = 0;
    let mut delivered = 0;
    while let Some(unit) = queue.pop() {
        delivered += 1;
        let (report, failed) = scheduler
            .handle(vec![record(&format!("u-{delivered}"), 1, &unit)])
            .await;
        assert!(failed.is_empty(), "sent again, not failed");
        evaluated += report.evaluated;
        queue.extend(world.evaluations.take());
    }
    assert_eq!(evaluated, 450, "every page of every shard, once");
}

#[tokio::test]
async fn a_unit_is_sent_again_at_most_three_times_then_fails_to_the_queue() {
    let world = World::start().await;
    let scheduler = world.scheduler();
    scheduler.tick(utc(FIRST_RUN)).await.unwrap();
    let mut unit = world.evaluations.take().remove(0);
    for _ in 0..4 {
        world
            .store
            .fail_next_call("due_page", StoreError::Unavailable("down".into()));
    }
    for copy in 0..3 {
        let (_, failed) = scheduler
            .handle(vec![record(&format!("c-{copy}"), 1, &unit)])
            .await;
        assert!(failed.is_empty());
        let mut sent = world.evaluations.take();
        assert_eq!(sent.len(), 1, "one copy");
        unit = sent.remove(0);
    }
    let (_, failed) = scheduler.handle(vec![record("c-3", 1, &unit)]).await;
    assert_eq!(failed, ["c-3"], "the queue's retries and DLQ take over");
    assert!(world.evaluations.take().is_empty());
}
