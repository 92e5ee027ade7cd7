//! Invoice-level chasing through the scheduler and the chase worker: each
//! invoice runs its own steps, one message per contact and run carries every
//! due chase, the frequency cap spans both levels, and a redelivered or
//! duplicated message sends nothing twice.

use crate::harness::{contact, date, record, utc, World};
use app::jobs::chase_worker::OUTCOME_UNKNOWN;
use chrono::{NaiveDate, TimeDelta};
use domain::history::HistoryType;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Emails at 3 days before, on, and 7 days after each invoice's due date.
fn reminders() -> Value {
    json!([
        {"trigger": "days_from_due", "days": -3, "action": "email", "template_id": "EMAIL"},
        {"trigger": "days_from_due", "days": 0, "action": "email", "template_id": "EMAIL"},
        {"trigger": "days_from_due", "days": 7, "action": "email", "template_id": "EMAIL"}
    ])
}

/// A customer with one contact, enrolled on an invoice-level cadence of `steps`.
async fn invoice_chased(world: &World, steps: Value) -> (String, String) {
    let id = world.customer("IL-1").await;
    world
        .contact(&id, contact("Pat", Some("ap@globex.example"), None))
        .await;
    let cadence = world.invoice_cadence(steps).await;
    world.enrol(&id, &cadence).await;
    (id, cadence)
}

/// Ticks daily at 08:00 from `from` through `days` days, working the queue
/// after each tick; the emails sent per day (days without any left out).
async fn replay(world: &World, from: &str, days: i64) -> BTreeMap<NaiveDate, usize> {
    let mut per_day = BTreeMap::new();
    for offset in 0..days {
        let day = date(from) + TimeDelta::days(offset);
        let before = world.mailer.sent().len();
        world
            .tick(day.and_hms_opt(8, 0, 0).unwrap().and_utc())
            .await;
        world.work_queue().await;
        let sent = world.mailer.sent().len() - before;
        if sent > 0 {
            per_day.insert(day, sent);
        }
    }
    per_day
}

fn days(expected: &[(&str, usize)]) -> BTreeMap<NaiveDate, usize> {
    expected.iter().map(|(d, n)| (date(d), *n)).collect()
}

#[tokio::test]
async fn three_invoices_each_get_their_reminders_and_a_paid_one_stops() {
    let world = World::start().await;
    let (customer, _) = invoice_chased(&world, reminders()).await;
    world
        .invoice(&customer, "A", "2026-02-01", "2026-03-10", "100.00")
        .await;
    world
        .invoice(&customer, "B", "2026-02-10", "2026-03-20", "200.00")
        .await;
    let c = world
        .invoice(&customer, "C", "2026-02-20", "2026-03-25", "300.00")
        .await;

    let first = replay(&world, "2026-03-01", 20).await;
    // A: 03-07, 03-10, 03-17; B: 03-17 (merged with A's), 03-20; C: 03-22 ...
    assert_eq!(
        first,
        days(&[
            ("2026-03-07", 1),
            ("2026-03-10", 1),
            ("2026-03-17", 1),
            ("2026-03-20", 1),
        ])
    );
    // A's +7 and B's -3 fell on the same run: one email listing both.
    let sent = world.mailer.sent();
    assert!(sent[0].html.contains("for A."), "{}", sent[0].html);
    assert!(sent[2].html.contains("for A, B."), "{}", sent[2].html);

    // C is paid before its due date: its reminder at -3 went out, no more.
    world.clock.set(utc("2026-03-21T12:00:00Z"));
    world.pay(&customer, &c, "300.00").await;
    let rest = replay(&world, "2026-03-21", 70).await;
    // B's +7 on 03-27; C's -3 (03-22), 0 and +7 never go out.
    assert_eq!(rest, days(&[("2026-03-27", 1)]));

    let history = world.history(&customer).await;
    let emails: Vec<_> = history
        .iter()
        .filter(|h| h.kind == HistoryType::ChaseEmail)
        .collect();
    // One item per chase, each naming its invoice: A ×3, B ×3 (its +7 on
    // 03-27), C ×0 (paid before -3 on 03-22).
    assert_eq!(emails.len(), 6, "{emails:#?}");
    assert!(emails.iter().all(|h| h.invoice_ids.len() == 1));
}

/// A customer on both levels, with two invoices due 03-10.
async fn on_both_levels(world: &World) -> String {
    let (customer, _) = invoice_chased(world, reminders()).await;
    let account = world
        .cadence(json!([{"trigger": "past_due_age", "days": 0, "action": "email", "template_id": "EMAIL"}]))
        .await;
    world.enrol(&customer, &account).await;
    world
        .invoice(&customer, "A", "2026-02-01", "2026-03-10", "100.00")
        .await;
    world
        .invoice(&customer, "B", "2026-02-05", "2026-03-10", "50.00")
        .await;
    customer
}

#[tokio::test]
async fn both_levels_due_on_one_run_send_one_email_and_record_each_chase() {
    let world = World::start().await;
    let customer = on_both_levels(&world).await;
    world.clock.set(utc("2026-03-10T07:00:00Z"));

    world.tick(utc("2026-03-10T08:00:00Z")).await;
    let bodies = world.queue.bodies();
    assert_eq!(bodies.len(), 1, "one message for the run: {bodies:?}");
    world.work_queue().await;

    let sent = world.mailer.sent();
    assert_eq!(sent.len(), 1);
    let history = world.history(&customer).await;
    let emails: Vec<_> = history
        .iter()
        .filter(|h| {
            h.kind == HistoryType::ChaseEmail && h.occurred_at >= utc("2026-03-10T00:00:00Z")
        })
        .collect();
    // The customer's step and each invoice's, recorded on their own.
    assert_eq!(emails.len(), 3, "{emails:#?}");
    let levels: Vec<&str> = emails
        .iter()
        .map(|h| h.detail["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels.iter().filter(|l| **l == "invoice").count(), 2);
    assert_eq!(levels.iter().filter(|l| **l == "customer").count(), 1);
}

#[tokio::test]
async fn a_frequency_cap_of_one_sends_one_message_and_suppresses_the_others() {
    let world = World::start().await;
    let customer = world.customer("IL-CAP").await;
    world
        .contact(
            &customer,
            domain::contact::ContactChanges {
                sms_enabled: Some(true),
                ..contact("Pat", Some("ap@globex.example"), Some("+447700900123"))
            },
        )
        .await;
    let emails = world
        .invoice_cadence(json!([
            {"trigger": "days_from_due", "days": 0, "action": "email", "template_id": "EMAIL"}
        ]))
        .await;
    let texts = world
        .invoice_cadence(json!([
            {"trigger": "days_from_due", "days": 0, "action": "sms", "template_id": "SMS"}
        ]))
        .await;
    world.enrol(&customer, &emails).await;
    let mut invoices = Vec::new();
    for number in ["A", "B", "C"] {
        invoices.push(
            world
                .invoice(&customer, number, "2026-02-01", "2026-03-10", "100.00")
                .await,
        );
    }
    // C is chased by text instead: two messages due on 03-10, one allowed.
    world.override_invoice(&invoices[2], &texts).await;

    let per_day = replay(&world, "2026-03-09", 5).await;

    assert_eq!(per_day, days(&[("2026-03-10", 1)]), "one email for A and B");
    assert!(world.sms.sent().is_empty(), "the text is capped");
    let history = world.history(&customer).await;
    let recorded = |kind: HistoryType| -> Vec<Vec<String>> {
        history
            .iter()
            .filter(|h| h.kind == kind)
            .map(|h| h.invoice_ids.clone())
            .collect()
    };
    assert_eq!(recorded(HistoryType::ChaseEmail).len(), 2);
    let suppressed = history
        .iter()
        .filter(|h| h.kind == HistoryType::ChaseSuppressed)
        .collect::<Vec<_>>();
    assert_eq!(suppressed.len(), 1, "{suppressed:#?}");
    assert_eq!(suppressed[0].detail["reason"], "frequency_cap");
    assert_eq!(suppressed[0].invoice_ids, [invoices[2].clone()]);
}

#[tokio::test]
async fn a_duplicated_tick_and_a_redelivered_message_send_one_email() {
    let world = World::start().await;
    let customer = on_both_levels(&world).await;
    let at = utc("2026-03-10T08:00:00Z");
    world.clock.set(at - TimeDelta::hours(1));
    world.tick(at).await;
    world.tick(at).await;
    let bodies = world.queue.take();
    assert_eq!(bodies.len(), 2, "the same message from each tick");
    assert_eq!(bodies[0], bodies[1]);

    let worker = world.worker();
    let failed = worker
        .handle(vec![
            record("m-1", 1, &bodies[0]),
            record("m-2", 1, &bodies[1]),
        ])
        .await;
    assert!(failed.is_empty(), "{failed:?}");
    let again = worker.handle(vec![record("m-1", 2, &bodies[0])]).await;
    assert!(again.is_empty(), "{again:?}");

    assert_eq!(world.mailer.attempts(), 1);
    let emails = world
        .history_of(&customer, HistoryType::ChaseEmail)
        .await
        .len();
    assert_eq!(emails, 3, "each chase recorded once");
    // Nothing is due again that day nor the next.
    world.tick(at + TimeDelta::hours(1)).await;
    world.tick(at + TimeDelta::days(1)).await;
    assert!(world.queue.take().is_empty());
}

#[tokio::test]
async fn a_crash_after_the_send_is_flagged_for_a_person_and_never_resent() {
    let world = World::start().await;
    let customer = on_both_levels(&world).await;
    let at = utc("2026-03-10T08:00:00Z");
    world.clock.set(at - TimeDelta::hours(1));
    world.tick(at).await;
    let bodies = world.queue.take();
    // The email goes out; every write after it fails, as if the worker died.
    world.lose_writes_after_sending();
    let failed = world
        .worker()
        .handle(vec![record("m-1", 1, &bodies[0])])
        .await;
    assert_eq!(failed, ["m-1"]);
    world.store.clear_faults();

    let again = world
        .worker()
        .handle(vec![record("m-1", 2, &bodies[0])])
        .await;
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(world.mailer.attempts(), 1, "never sent twice");
    let failures = world.history_of(&customer, HistoryType::ChaseFailed).await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].detail["reason"], OUTCOME_UNKNOWN);
    assert_eq!(world.open_tasks(&customer).await.len(), 1);
    // The chases it carried are not chased again.
    world.tick(at + TimeDelta::days(1)).await;
    world.work_queue().await;
    assert_eq!(world.mailer.attempts(), 1);
}

#[tokio::test]
async fn an_invoice_level_letter_is_kept_and_recorded_with_its_invoice() {
    let world = World::start().await;
    let (customer, _) = invoice_chased(
        &world,
        json!([{"trigger": "days_from_due", "days": 14, "action": "letter"}]),
    )
    .await;
    let invoice = world
        .invoice(&customer, "L-1", "2026-02-01", "2026-02-15", "120.00")
        .await;

    let per_day = replay(&world, "2026-03-01", 3).await;

    assert!(per_day.is_empty(), "a letter is not an email");
    let letters = world.history_of(&customer, HistoryType::ChaseLetter).await;
    assert_eq!(letters.len(), 1, "{letters:#?}");
    assert_eq!(letters[0].invoice_ids, [invoice]);
    assert!(letters[0].detail["document_id"].is_string());
}

#[tokio::test]
async fn a_customer_chased_only_through_an_override_gets_its_reminders() {
    let world = World::start().await;
    let customer = world.customer("IL-OVR").await;
    world
        .contact(&customer, contact("Pat", Some("ap@globex.example"), None))
        .await;
    let cadence = world.invoice_cadence(reminders()).await;
    let invoice = world
        .invoice(&customer, "A", "2026-02-01", "2026-03-10", "100.00")
        .await;
    // No enrolment at either level: the override alone puts it in the due index.
    world.override_invoice(&invoice, &cadence).await;

    let per_day = replay(&world, "2026-03-01", 20).await;

    assert_eq!(
        per_day,
        days(&[("2026-03-07", 1), ("2026-03-10", 1), ("2026-03-17", 1)])
    );
}

#[tokio::test]
async fn an_override_runs_at_its_own_cadences_time_of_day() {
    let world = World::start().await;
    let (customer, _) = invoice_chased(
        &world,
        json!([{"trigger": "days_from_due", "days": 0, "action": "email", "template_id": "EMAIL"}]),
    )
    .await;
    let afternoon = world
        .invoice_cadence_at(
            "14:00",
            json!([{"trigger": "days_from_due", "days": 0, "action": "email", "template_id": "EMAIL"}]),
        )
        .await;
    world
        .invoice(&customer, "A", "2026-02-01", "2026-03-10", "100.00")
        .await;
    let late = world
        .invoice(&customer, "B", "2026-02-01", "2026-03-12", "80.00")
        .await;
    world.override_invoice(&late, &afternoon).await;

    // Ticks every two hours; each email is sent on the tick of its cadence's run.
    let mut sent_at = Vec::new();
    for hour in 0..(7 * 12) {
        let at = utc("2026-03-08T00:00:00Z") + TimeDelta::hours(2 * hour);
        let before = world.mailer.sent().len();
        world.tick(at).await;
        world.work_queue().await;
        sent_at.extend((before..world.mailer.sent().len()).map(|_| at));
    }

    assert_eq!(
        sent_at,
        [utc("2026-03-10T08:00:00Z"), utc("2026-03-12T14:00:00Z")]
    );
}
