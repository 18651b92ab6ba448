//! The alert outbox, planning and deliveries, on both backends.

mod common;

use std::time::Duration;

use common::{on_each_backend, Backend};
use dq_core::{RunStatus, Severity};
use dq_store::{
    AlertDecision, AlertEvent, AlertEventKind, AttemptOutcome, DeliveryFilter, DeliveryState,
    EscalationScan, Notification, RuleAlertState, ViolationFilter,
};

/// Records a run of `rule` at `minute`: FAILED with a violation of
/// `severity`, or PASSED when `severity` is None.
async fn record(
    t: &common::TestStore,
    rule: &dq_core::Rule,
    minute: u32,
    severity: Option<Severity>,
) {
    let status = if severity.is_some() {
        RunStatus::Failed
    } else {
        RunStatus::Passed
    };
    let mut run = common::run(rule, minute, status);
    run.severity = severity;
    let violation = severity.map(|s| common::violation(s, minute));
    assert!(t
        .store
        .record_run(&run, violation.as_ref(), &[])
        .await
        .unwrap());
}

/// A decision that notifies `channels` (batch key "default", window
/// `window`) with the event's kind and rule as the item, and opens the
/// incident.
fn notify_all(
    channels: &'static [&'static str],
    window: Duration,
) -> impl FnMut(&AlertEvent, &RuleAlertState) -> AlertDecision + Send {
    move |event, state| AlertDecision {
        outcome: format!("SEEN {}", event.kind.as_str()),
        state: RuleAlertState {
            open: event.kind != AlertEventKind::Recovery,
            opened_at: Some(event.at),
            severity: event.violation.as_ref().map(|v| v.severity),
            notified_at: Some(event.at),
            last_violation_id: event.violation.as_ref().map(|v| v.id),
            channels: channels.iter().map(|c| c.to_string()).collect(),
            ..state.clone()
        },
        notifications: channels
            .iter()
            .map(|c| Notification {
                channel: c.to_string(),
                batch_key: "default".into(),
                batch_window: window,
                item: serde_json::json!({
                    "kind": event.kind.as_str(),
                    "rule": event.rule.rule.name.as_str(),
                    "violation": event.violation.as_ref().map(|v| v.id),
                    "run_status": event.run.as_ref().map(|r| r.status.as_str()),
                }),
            })
            .collect(),
    }
}

async fn the_outbox_is_written_with_the_run_and_only_once(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "orders_nulls", "customer_id").await;
    record(&t, &rule, 0, Some(Severity::Low)).await;
    record(&t, &rule, 5, Some(Severity::Low)).await;
    // A redelivered finish of the same run writes nothing, outbox included.
    let mut again = common::run(&rule, 5, RunStatus::Failed);
    again.severity = Some(Severity::Low);
    let v = common::violation(Severity::Low, 5);
    assert!(!t.store.record_run(&again, Some(&v), &[]).await.unwrap());
    // ERROR says nothing about the data.
    let error = common::run(&rule, 10, RunStatus::Error);
    t.store.record_run(&error, None, &[]).await.unwrap();
    assert_eq!(t.count("alert_outbox").await, 2);
    // The first pass resolves both violations and is one RECOVERY; the
    // second has nothing to resolve.
    record(&t, &rule, 15, None).await;
    record(&t, &rule, 20, None).await;
    assert_eq!(t.count("alert_outbox").await, 3);
    let open = t
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    assert!(
        open.iter()
            .all(|v| v.resolved_at == Some(common::at(15) + chrono::Duration::seconds(2))),
        "{open:?}"
    );

    let mut seen = Vec::new();
    let summary = t
        .store
        .plan_alerts(common::at(30), 100, None, &mut |event, state| {
            seen.push((
                event.kind,
                event.violation.as_ref().map(|v| v.severity),
                event.run.as_ref().map(|r| r.status),
                state.open,
            ));
            notify_all(&[], Duration::ZERO)(event, state)
        })
        .await
        .unwrap();
    assert_eq!(summary.events, 3);
    assert_eq!(
        seen,
        [
            (
                AlertEventKind::Violation,
                Some(Severity::Low),
                Some(RunStatus::Failed),
                false
            ),
            (
                AlertEventKind::Violation,
                Some(Severity::Low),
                Some(RunStatus::Failed),
                true
            ),
            (
                AlertEventKind::Recovery,
                None,
                Some(RunStatus::Passed),
                true
            ),
        ],
        "in order, each seeing the state the previous one left"
    );
    // Planned events are not planned again.
    let again = t
        .store
        .plan_alerts(common::at(31), 100, None, &mut |_, _| unreachable!())
        .await
        .unwrap();
    assert_eq!(again.events, 0);
    assert_eq!(t.store.alert_backlog().await.unwrap().unplanned, 0);
}

async fn notifications_within_the_window_share_one_delivery(backend: Backend) {
    let t = common::open(backend).await;
    let a = common::rule("a", "x");
    let b = common::rule("b", "x");
    t.store
        .apply_load(&[a.clone(), b.clone()], "m.yaml")
        .await
        .unwrap();
    record(&t, &a, 0, Some(Severity::High)).await;
    record(&t, &b, 1, Some(Severity::High)).await;
    let window = Duration::from_secs(60);
    let mut decide = notify_all(&["slack", "email"], window);
    t.store
        .plan_alerts(common::at(2), 100, None, &mut decide)
        .await
        .unwrap();
    // Another violation inside the window joins; one after it starts anew.
    record(&t, &a, 2, Some(Severity::High)).await;
    t.store
        .plan_alerts(common::at(2), 100, None, &mut decide)
        .await
        .unwrap();
    record(&t, &b, 4, Some(Severity::High)).await;
    t.store
        .plan_alerts(common::at(4), 100, None, &mut decide)
        .await
        .unwrap();

    let deliveries = t
        .store
        .deliveries(&DeliveryFilter::default())
        .await
        .unwrap();
    let shape: Vec<(String, usize, DeliveryState)> = deliveries
        .iter()
        .map(|d| (d.channel.clone(), d.items.len(), d.state))
        .collect();
    assert_eq!(
        shape,
        [
            ("email".to_string(), 1, DeliveryState::Pending),
            ("slack".to_string(), 1, DeliveryState::Pending),
            ("email".to_string(), 3, DeliveryState::Pending),
            ("slack".to_string(), 3, DeliveryState::Pending),
        ],
        "newest first"
    );
    assert_eq!(
        deliveries[3].due_at,
        common::at(2) + chrono::Duration::seconds(60)
    );
    assert_eq!(deliveries[3].items[0]["rule"], "a");

    // Nothing is due before the window ends.
    let early = t
        .store
        .claim_deliveries("d1", common::at(2), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert!(early.is_empty());
    let claimed = t
        .store
        .claim_deliveries("d1", common::at(3), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|d| d.items.len() == 3 && d.attempt == 1));
}

async fn one_claimant_per_delivery_and_every_attempt_recorded(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "r", "x").await;
    record(&t, &rule, 0, Some(Severity::High)).await;
    let mut decide = notify_all(&["a", "b", "c", "d"], Duration::ZERO);
    t.store
        .plan_alerts(common::at(1), 100, None, &mut decide)
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    let claims: Vec<_> = (0..4)
        .map(|i| {
            let store = t.store.clone();
            tokio::spawn(async move {
                store
                    .claim_deliveries(&format!("d{i}"), common::at(1), lease, 10)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for (i, c) in claims.into_iter().enumerate() {
        for delivery in c.await.unwrap() {
            claimed.push((format!("d{i}"), delivery));
        }
    }
    let mut ids: Vec<i64> = claimed.iter().map(|(_, d)| d.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        4,
        "each of the four deliveries claimed exactly once"
    );
    assert_eq!(claimed.len(), 4);

    // a: delivered; b: retried, then delivered; c: failed; d: its
    // dispatcher dies.
    let by = |channel: &str| claimed.iter().find(|(_, d)| d.channel == channel).unwrap();
    let (owner, a) = by("a");
    // A settle by another dispatcher changes nothing.
    t.store
        .settle_delivery(
            a,
            "intruder",
            &AttemptOutcome::Delivered { status: Some(200) },
            common::at(1),
        )
        .await
        .unwrap();
    t.store
        .settle_delivery(
            a,
            owner,
            &AttemptOutcome::Delivered { status: Some(200) },
            common::at(1),
        )
        .await
        .unwrap();
    let (owner, b) = by("b");
    let retry = AttemptOutcome::Retry {
        status: Some(429),
        error: "HTTP 429".into(),
        not_before: common::at(5),
    };
    t.store
        .settle_delivery(b, owner, &retry, common::at(1))
        .await
        .unwrap();
    let (owner, c) = by("c");
    let failed = AttemptOutcome::Failed {
        status: Some(404),
        error: "HTTP 404: no_service".into(),
    };
    t.store
        .settle_delivery(c, owner, &failed, common::at(1))
        .await
        .unwrap();

    assert!(t
        .store
        .claim_deliveries("d9", common::at(4), lease, 10)
        .await
        .unwrap()
        .is_empty());
    // The lease of d's dispatcher ends at 2; at 5, b is due again.
    assert_eq!(
        t.store
            .recover_deliveries(common::at(1) + chrono::Duration::seconds(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(t.store.recover_deliveries(common::at(2)).await.unwrap(), 1);
    let again = t
        .store
        .claim_deliveries("d9", common::at(5), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].channel.as_str(), again[0].attempt), ("b", 2));
    t.store
        .settle_delivery(
            &again[0],
            "d9",
            &AttemptOutcome::Delivered { status: Some(200) },
            common::at(5),
        )
        .await
        .unwrap();

    let deliveries = t
        .store
        .deliveries(&DeliveryFilter::default())
        .await
        .unwrap();
    let mut states: Vec<(String, DeliveryState, u32)> = deliveries
        .iter()
        .map(|d| (d.channel.clone(), d.state, d.attempts))
        .collect();
    states.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        states,
        [
            ("a".into(), DeliveryState::Sent, 1),
            ("b".into(), DeliveryState::Sent, 2),
            ("c".into(), DeliveryState::Failed, 1),
            ("d".into(), DeliveryState::InDoubt, 1),
        ]
    );
    let outcomes = |id: i64| {
        let store = t.store.clone();
        async move {
            store
                .delivery_attempts(id)
                .await
                .unwrap()
                .into_iter()
                .map(|a| (a.attempt, a.outcome, a.status))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        outcomes(b.id).await,
        [
            (1, "RETRY".to_string(), Some(429)),
            (2, "DELIVERED".to_string(), Some(200))
        ]
    );
    assert_eq!(
        outcomes(by("d").1.id).await,
        [(1, "UNKNOWN".to_string(), None)]
    );
    // IN_DOUBT is never claimed again.
    assert!(t
        .store
        .claim_deliveries("d9", common::at(50), lease, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(t.store.alert_backlog().await.unwrap().undelivered, 0);
}

async fn acknowledgement_stores_the_response_time_and_ends_escalation(backend: Backend) {
    let (t, rule) = common::open_with_rule(backend, "r", "x").await;
    record(&t, &rule, 0, Some(Severity::Critical)).await;
    let mut decide = notify_all(&["slack"], Duration::ZERO);
    t.store
        .plan_alerts(common::at(0), 100, None, &mut decide)
        .await
        .unwrap();
    let scan = EscalationScan {
        notified_before: common::at(30),
        min_severity: Severity::High,
    };
    let mut escalated = Vec::new();
    t.store
        .plan_alerts(common::at(31), 100, Some(scan), &mut |event, state| {
            escalated.push((
                event.kind,
                event.violation.as_ref().map(|v| v.severity),
                state.acknowledged,
            ));
            AlertDecision {
                outcome: String::new(),
                state: RuleAlertState {
                    notified_at: Some(common::at(31)),
                    ..state.clone()
                },
                notifications: Vec::new(),
            }
        })
        .await
        .unwrap();
    assert_eq!(
        escalated,
        [(AlertEventKind::Escalation, Some(Severity::Critical), false)]
    );

    let id = t
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap()[0]
        .id;
    t.store
        .acknowledge(&[id], "ana", Some("on it"), common::at(12))
        .await
        .unwrap();
    let v = &t
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap()[0];
    // Detected at :00:02, acknowledged at :12:00.
    assert_eq!(v.ack_delay_ms, Some(718_000));
    let scan = EscalationScan {
        notified_before: common::at(59),
        min_severity: Severity::High,
    };
    let summary = t
        .store
        .plan_alerts(common::at(59), 100, Some(scan), &mut |_, _| {
            unreachable!("acknowledged")
        })
        .await
        .unwrap();
    assert_eq!(summary.escalations, 0);
}

on_each_backend!(
    the_outbox_is_written_with_the_run_and_only_once,
    notifications_within_the_window_share_one_delivery,
    one_claimant_per_delivery_and_every_attempt_recorded,
    acknowledgement_stores_the_response_time_and_ends_escalation,
);
