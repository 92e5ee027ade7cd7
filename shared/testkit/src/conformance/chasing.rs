//! What makes chasing safe: exclusive chase claims and their status moves,
//! Idempotency-Keys claimed once per lifetime, the due index, and portal
//! tokens and visits.

use super::{committed, create, refused, setup, stored, Failure, Outcome};
use crate::fixtures::fresh_tenant;
use app::ports::{PageRequest, Store, StoreError, Write};
use app::records::{ChaseKey, ChaseStatus};
use chrono::{SubsecRound, TimeDelta, Utc};
use domain::identity::TenantId;
use std::collections::BTreeSet;

/// One delivery of one message owns a chase; only a later delivery of the
/// same message takes over a chase still `claimed`; status moves are
/// conditioned on the status they leave.
pub async fn chase_claims_are_exclusive(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let claim = |message: &str, receive_count| {
        Write::ClaimChase(Box::new(fx.chase("c1", 1, 0, message, receive_count)))
    };
    let key = ChaseKey {
        customer_id: "c1".into(),
        invoice_id: None,
        cycle: 1,
        step: 0,
    };
    committed(
        store.commit(&t, vec![claim("m1", 1)]).await,
        "claim a new chase",
    )?;
    ensure_eq!(
        store.chase(&t, &key).await?,
        Some(fx.chase("c1", 1, 0, "m1", 1)),
        "read back"
    );
    refused(
        store.commit(&t, vec![claim("m2", 1)]).await,
        0,
        "another message claims it",
    )?;
    refused(
        store.commit(&t, vec![claim("m1", 1)]).await,
        0,
        "the same delivery claims it again",
    )?;
    committed(
        store.commit(&t, vec![claim("m1", 2)]).await,
        "a later delivery takes it over",
    )?;
    ensure_eq!(
        store.chase(&t, &key).await?.map(|c| c.owner_receive_count),
        Some(2),
        "owned by the later delivery"
    );

    let advance = |from, to, provider: Option<&str>, seconds| Write::AdvanceChase {
        key: key.clone(),
        from,
        to,
        provider_message_id: provider.map(str::to_string),
        at: fx.instant(seconds),
    };
    use ChaseStatus::{Claimed, Done, Sending, Sent};
    committed(
        store
            .commit(&t, vec![advance(Claimed, Sending, None, 10)])
            .await,
        "start sending",
    )?;
    refused(
        store.commit(&t, vec![claim("m1", 3)]).await,
        0,
        "take over a chase being sent",
    )?;
    refused(
        store
            .commit(&t, vec![advance(Claimed, Sending, None, 11)])
            .await,
        0,
        "move from a status it left",
    )?;
    committed(
        store
            .commit(&t, vec![advance(Sending, Sent, Some("prov-1"), 12)])
            .await,
        "sent",
    )?;
    committed(
        store.commit(&t, vec![advance(Sent, Done, None, 13)]).await,
        "done",
    )?;
    let chase = store
        .chase(&t, &key)
        .await?
        .ok_or_else(|| super::fail("the chase is still there"))?;
    ensure_eq!(chase.status, Done, "final status");
    ensure_eq!(
        chase.provider_message_id.as_deref(),
        Some("prov-1"),
        "the provider id stays"
    );
    ensure_eq!(chase.updated_at, fx.instant(13), "moved at the last move");
    let missing = Write::AdvanceChase {
        key: ChaseKey {
            step: 1,
            ..key.clone()
        },
        from: Claimed,
        to: Sending,
        provider_message_id: None,
        at: fx.instant(14),
    };
    refused(
        store.commit(&t, vec![missing]).await,
        0,
        "move a chase nobody claimed",
    )?;

    let race = |message: &str| {
        let chase = fx.chase("c1", 2, 0, message, 1);
        store.commit(&t, vec![Write::ClaimChase(Box::new(chase))])
    };
    let (first, second) = tokio::join!(race("m3"), race("m4"));
    let won = [&first, &second].iter().filter(|r| r.is_ok()).count();
    let lost = [&first, &second]
        .iter()
        .filter(|r| matches!(r, Err(StoreError::ConditionFailed { index: 0 })))
        .count();
    ensure!(
        won == 1 && lost == 1,
        "two concurrent claims: one wins, one is refused; got {first:?} and {second:?}"
    );

    // An invoice's chase is its own claim, beside the customer's of the
    // same cycle and step, and beside another invoice's.
    let invoice_chase = |invoice: &str, message: &str| {
        let mut chase = fx.chase("c1", 2, 0, message, 1);
        chase.invoice_id = Some(invoice.to_string());
        chase
    };
    committed(
        store
            .commit(
                &t,
                vec![
                    Write::ClaimChase(Box::new(invoice_chase("inv-1", "m5"))),
                    Write::ClaimChase(Box::new(invoice_chase("inv-2", "m5"))),
                ],
            )
            .await,
        "claim two invoices' chases of a cycle and step the customer's chase holds",
    )?;
    refused(
        store
            .commit(
                &t,
                vec![Write::ClaimChase(Box::new(invoice_chase("inv-2", "m6")))],
            )
            .await,
        0,
        "claim an invoice's chase again",
    )?;
    let stored = store
        .chase(&t, &invoice_chase("inv-1", "m5").key())
        .await?
        .ok_or_else(|| super::fail("the invoice's chase is there"))?;
    ensure_eq!(stored.invoice_id.as_deref(), Some("inv-1"), "its invoice");
    Ok(())
}

/// A key is claimed once while its record lives; an expired record no
/// longer holds it. Keys belong to their tenant.
///
/// Uses the wall clock: the port leaves the instant an expiry is judged at
/// to the implementation.
pub async fn idempotency_keys_claim_once(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let now = Utc::now().trunc_subsecs(0);
    let first = fx.idempotency("fp-1", now);
    let claim = |record: &app::records::IdempotencyRecord| Write::ClaimIdempotencyKey {
        key_hash: "h1".into(),
        record: Box::new(record.clone()),
    };
    committed(store.commit(&t, vec![claim(&first)]).await, "claim a key")?;
    ensure_eq!(
        store.idempotency(&t, "h1").await?,
        Some(first.clone()),
        "read back"
    );
    let retry = fx.idempotency("fp-2", now);
    refused(
        store.commit(&t, vec![claim(&retry)]).await,
        0,
        "claim a live key",
    )?;
    ensure_eq!(
        store.idempotency(&t, "h1").await?,
        Some(first.clone()),
        "the first claim stays"
    );
    ensure!(
        store.idempotency(&t, "h2").await?.is_none(),
        "an unused key"
    );

    let other = fresh_tenant("conf")?;
    committed(
        store.commit(&other, vec![claim(&retry)]).await,
        "the same key in another tenant",
    )?;

    let (t2, _) = setup()?;
    let expired = fx.idempotency("fp-old", now - TimeDelta::hours(25));
    committed(
        store.commit(&t2, vec![claim(&expired)]).await,
        "a claim made 25 hours ago",
    )?;
    committed(
        store.commit(&t2, vec![claim(&first)]).await,
        "reclaim an expired key",
    )?;
    ensure_eq!(
        store.idempotency(&t2, "h1").await?,
        Some(first),
        "the new claim"
    );
    Ok(())
}

async fn due_in(
    store: &dyn Store,
    at: chrono::DateTime<Utc>,
    tenants: &[&TenantId],
) -> Result<BTreeSet<(String, String)>, Failure> {
    // Small pages, so the cursors are exercised too.
    let mut found = BTreeSet::new();
    for shard in 0..store.due_shards() {
        let mut cursor = None;
        loop {
            let page = store
                .due_page(shard, at, PageRequest { limit: 2, cursor })
                .await?;
            found.extend(
                page.items
                    .into_iter()
                    .filter(|due| tenants.contains(&&due.tenant))
                    .map(|due| (due.tenant.to_string(), due.customer_id)),
            );
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(found)
}

/// The due index holds exactly the customers with a next evaluation, of
/// every tenant, and follows puts, chasing updates and deletes.
pub async fn due_index_finds_due_customers(store: &dyn Store) -> Outcome {
    let (a, fx) = setup()?;
    let b = fresh_tenant("conf")?;
    let customer = |id: &str, next: Option<i64>| {
        let mut customer = fx.customer(id, id);
        customer.next_evaluation_at = next.map(|s| fx.instant(s));
        customer
    };
    create(store, &a, &customer("past", Some(-3600))).await?;
    create(store, &a, &customer("now", Some(0))).await?;
    create(store, &a, &customer("later", Some(3600))).await?;
    create(store, &a, &customer("never", None)).await?;
    create(store, &b, &customer("other", Some(-60))).await?;
    let key = |t: &TenantId, id: &str| (t.to_string(), id.to_string());

    let due = due_in(store, fx.instant(0), &[&a, &b]).await?;
    let expected: BTreeSet<_> = [key(&a, "past"), key(&a, "now"), key(&b, "other")].into();
    ensure_eq!(
        due,
        expected,
        "due at or before the instant, across tenants"
    );

    let past = stored(store, &a, "past").await?;
    let later = stored(store, &a, "later").await?;
    let mut unscheduled = past.customer.clone();
    unscheduled.next_evaluation_at = None;
    let mut sooner = later.customer.clone();
    sooner.next_evaluation_at = Some(fx.instant(-10));
    committed(
        store
            .commit(
                &a,
                vec![
                    Write::UpdateChasing {
                        stored: Box::new(past),
                        next: Box::new(unscheduled),
                    },
                    Write::UpdateChasing {
                        stored: Box::new(later),
                        next: Box::new(sooner),
                    },
                ],
            )
            .await,
        "reschedule two",
    )?;
    let now = stored(store, &a, "now").await?;
    committed(
        store
            .commit(
                &a,
                vec![Write::DeleteCustomer {
                    stored: Box::new(now),
                }],
            )
            .await,
        "delete one",
    )?;
    let due = due_in(store, fx.instant(0), &[&a, &b]).await?;
    let expected: BTreeSet<_> = [key(&a, "later"), key(&b, "other")].into();
    ensure_eq!(due, expected, "after rescheduling and deleting");
    let earlier = due_in(store, fx.instant(-3600), &[&a, &b]).await?;
    ensure!(
        earlier.is_empty(),
        "nothing due an hour earlier: {earlier:?}"
    );
    Ok(())
}

/// A portal token hash names one customer of one tenant until it is
/// deleted; a visit is recorded once a day, and the customer page shows it.
pub async fn portal_tokens_and_visits(store: &dyn Store) -> Outcome {
    let (t, fx) = setup()?;
    let customer = fx.customer("c1", "Acme");
    create(store, &t, &customer).await?;
    // Hashes are SHA-256 of 256-bit tokens: unique across tenants in practice.
    let hash = format!("{t}-token");
    let token = |hash: &str| Write::PutPortalToken {
        customer_id: "c1".into(),
        token_hash: hash.to_string(),
    };
    ensure!(store.portal_token(&hash).await?.is_none(), "no token yet");
    committed(store.commit(&t, vec![token(&hash)]).await, "put a token")?;
    ensure_eq!(
        store.portal_token(&hash).await?,
        Some((t.clone(), "c1".to_string())),
        "the token names its tenant and customer"
    );
    refused(
        store.commit(&t, vec![token(&hash)]).await,
        0,
        "the same token hash again",
    )?;
    let rotated = format!("{t}-rotated");
    committed(
        store
            .commit(
                &t,
                vec![
                    token(&rotated),
                    Write::DeletePortalToken {
                        token_hash: hash.clone(),
                    },
                ],
            )
            .await,
        "rotate",
    )?;
    ensure!(
        store.portal_token(&hash).await?.is_none(),
        "the old token is gone"
    );
    ensure!(
        store.portal_token(&rotated).await?.is_some(),
        "the new one opens"
    );

    let visit = |on: &str, at: &str| -> Result<Write, Failure> {
        Ok(Write::RecordPortalVisit {
            customer_id: "c1".into(),
            visit: domain::portal::PortalVisit {
                on: on.parse().map_err(|_| super::fail("date"))?,
                at: at.parse().map_err(|_| super::fail("instant"))?,
            },
        })
    };
    committed(
        store
            .commit(&t, vec![visit("2001-01-05", "2001-01-05T09:00:00Z")?])
            .await,
        "the day's first visit",
    )?;
    refused(
        store
            .commit(&t, vec![visit("2001-01-05", "2001-01-05T17:00:00Z")?])
            .await,
        0,
        "a second visit the same day",
    )?;
    committed(
        store
            .commit(&t, vec![visit("2001-01-06", "2001-01-06T08:00:00Z")?])
            .await,
        "the next day's visit",
    )?;
    let page = store
        .customer_page(&t, "c1")
        .await?
        .ok_or_else(|| super::fail("no page"))?;
    ensure_eq!(
        page.portal_visit.map(|v| v.at.to_rfc3339()),
        Some("2001-01-06T08:00:00+00:00".to_string()),
        "the page shows the last visit"
    );
    Ok(())
}
