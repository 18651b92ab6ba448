//! Leader leases: one holder at a time, a token that grows with every new
//! term, and writes fenced by it.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{on_each_backend, Backend};
use dq_store::{Lease, StoreError};

const BEAT: &str = "dq-beat";
const TTL: Duration = Duration::from_secs(30);

fn at_second(s: i64) -> DateTime<Utc> {
    common::at(0) + chrono::Duration::seconds(s)
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// `try_acquire_lease` by this owner.
    Acquire(&'static str),
    /// `renew_lease` of the lease this owner got last.
    Renew(&'static str),
    /// `release_lease` of the lease this owner got last; then the expected
    /// lease is the current one.
    Release(&'static str),
}

/// Expected: owner, token, and when the lease expires (seconds from
/// `at(0)`), `None` for released (expired at once).
type Expected = Option<(&'static str, i64, Option<i64>)>;

async fn a_lease_has_one_holder_and_a_new_token_for_each_new_term(backend: Backend) {
    let t = common::open(backend).await;
    assert_eq!(t.store.current_lease(BEAT).await.unwrap(), None);
    use Step::*;
    let steps: Vec<(&str, i64, Step, Expected)> = vec![
        ("free: acquired", 0, Acquire("a"), Some(("a", 1, Some(30)))),
        ("held: another owner is refused", 10, Acquire("b"), None),
        (
            "acquired again by its owner: renewed, same token",
            10,
            Acquire("a"),
            Some(("a", 1, Some(40))),
        ),
        ("renewed", 20, Renew("a"), Some(("a", 1, Some(50)))),
        ("refused until the last instant", 49, Acquire("b"), None),
        (
            "expired: another owner takes it, token + 1",
            50,
            Acquire("b"),
            Some(("b", 2, Some(80))),
        ),
        ("the stale holder cannot renew", 51, Renew("a"), None),
        ("nor take it back", 51, Acquire("a"), None),
        ("nor release it", 52, Release("a"), Some(("b", 2, Some(80)))),
        (
            "the holder renews",
            60,
            Renew("b"),
            Some(("b", 2, Some(90))),
        ),
        ("released", 61, Release("b"), Some(("b", 2, None))),
        (
            "free at once after a release, token + 1",
            61,
            Acquire("c"),
            Some(("c", 3, Some(91))),
        ),
        (
            "its own lease, expired, is a new term too",
            200,
            Acquire("c"),
            Some(("c", 4, Some(230))),
        ),
    ];
    let mut held: HashMap<&str, Lease> = HashMap::new();
    for (label, second, step, expected) in steps {
        let now = at_second(second);
        let got = match step {
            Acquire(owner) => t.store.try_acquire_lease(BEAT, owner, TTL, now).await,
            Renew(owner) => t.store.renew_lease(&held[owner], TTL, now).await,
            Release(owner) => {
                t.store.release_lease(&held[owner]).await.unwrap();
                t.store.current_lease(BEAT).await
            }
        }
        .unwrap();
        let shown = got.as_ref().map(|l| {
            let expires = l
                .is_held_at(now)
                .then(|| (l.expires_at - at_second(0)).num_seconds());
            (l.owner.as_str(), l.token, expires)
        });
        assert_eq!(shown, expected, "{label}");
        if let (Some(lease), Acquire(owner) | Renew(owner)) = (got, step) {
            assert_eq!(lease.name, BEAT, "{label}");
            held.insert(owner, lease);
        }
    }
    let current = t.store.current_lease(BEAT).await.unwrap().unwrap();
    assert_eq!(current, held["c"]);
    assert_eq!(t.store.current_lease("other").await.unwrap(), None);
}

async fn leases_of_other_names_are_independent_and_bad_requests_are_invalid(backend: Backend) {
    let t = common::open(backend).await;
    let now = at_second(0);
    for name in ["beat-a", "beat-b"] {
        let lease = t
            .store
            .try_acquire_lease(name, "x", TTL, now)
            .await
            .unwrap();
        assert_eq!(lease.map(|l| l.token), Some(1), "{name}");
    }
    let bad: Vec<(&str, &str, &str, Duration)> = vec![
        ("no name", "", "x", TTL),
        ("no owner", BEAT, " ", TTL),
        ("zero ttl", BEAT, "x", Duration::ZERO),
        ("ttl out of range", BEAT, "x", Duration::MAX),
    ];
    for (label, name, owner, ttl) in bad {
        let err = t
            .store
            .try_acquire_lease(name, owner, ttl, now)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{label}: {err}");
    }
    assert_eq!(t.count("leases").await, 2);
}

async fn of_eight_concurrent_acquirers_exactly_one_wins(backend: Backend) {
    let t = common::open(backend).await;
    // Twice: for a lease never taken (all insert), then for an expired one
    // (all update).
    for (round, second, token) in [(0, 0, 1), (1, 100, 2)] {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = t.store.clone();
                let owner = format!("beat-{round}-{i}");
                tokio::spawn(async move {
                    store
                        .try_acquire_lease(BEAT, &owner, TTL, at_second(second))
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            if let Some(lease) = task.await.unwrap().unwrap() {
                winners.push(lease);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(winners[0].token, token, "round {round}");
        let current = t.store.current_lease(BEAT).await.unwrap();
        assert_eq!(current.as_ref(), Some(&winners[0]), "round {round}");
    }
}

async fn enqueueing_under_a_lost_lease_is_refused_and_writes_nothing(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "a", "x").await;
    // Fenced writes check expiry against the clock, so these leases live
    // around the real now.
    let now = Utc::now();
    let later = |s: i64| now + chrono::Duration::seconds(s);
    let first = t
        .store
        .try_acquire_lease(BEAT, "beat-1", TTL, now)
        .await
        .unwrap()
        .unwrap();
    let inserted = t
        .store
        .enqueue_runs(Some(&first), &[common::pending(&rule, 0)])
        .await
        .unwrap();
    assert_eq!(inserted, [common::pending(&rule, 0).id]);

    // beat-1 stalls past its lease; beat-2 takes over.
    let second = t
        .store
        .try_acquire_lease(BEAT, "beat-2", TTL, later(31))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.token, first.token + 1);
    let mut renewed_elsewhere = first.clone();
    renewed_elsewhere.expires_at = later(3_600);
    let expired = t
        .store
        .try_acquire_lease("other", "beat-1", TTL, now - chrono::Duration::seconds(60))
        .await
        .unwrap()
        .unwrap();
    let stale: Vec<(&str, Lease)> = vec![
        ("superseded by a new holder", first.clone()),
        (
            "a stale token, whatever expiry it claims",
            renewed_elsewhere,
        ),
        ("expired, though nobody took it", expired),
    ];
    let batch = [common::pending(&rule, 1), common::pending(&rule, 2)];
    for (label, lease) in stale {
        let err = t
            .store
            .enqueue_runs(Some(&lease), &batch)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::LeaseLost(m) if m.contains(&lease.name)),
            "{label}: {err}"
        );
        assert_eq!(t.count("runs").await, 1, "{label}: nothing written");
        let err = t.store.enqueue_runs(Some(&lease), &[]).await.unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost(_)), "{label}: {err}");
    }

    let inserted = t.store.enqueue_runs(Some(&second), &batch).await.unwrap();
    assert_eq!(inserted, [batch[0].id, batch[1].id]);
    assert_eq!(t.count("runs").await, 3);
}

on_each_backend!(
    a_lease_has_one_holder_and_a_new_token_for_each_new_term,
    leases_of_other_names_are_independent_and_bad_requests_are_invalid,
    of_eight_concurrent_acquirers_exactly_one_wins,
    enqueueing_under_a_lost_lease_is_refused_and_writes_nothing,
);
