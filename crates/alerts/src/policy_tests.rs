//! The fatigue policy, step by step: each scenario feeds events through
//! `decide` carrying the state forward as the store would, and lists what
//! each step decided and which channels it reached.

use dq_core::{RunStatus, Severity};
use dq_store::{AlertEventKind, RuleAlertState};

use super::*;
use crate::testing::{at, config, event, rule};

enum Step {
    /// A violation at minute m.
    Fail(i64, Severity),
    Warn(i64, Severity),
    Pass(i64),
    /// The timer found the incident overdue at minute m.
    Overdue(i64),
    Ack,
}

/// (outcome, channels) per step; `Ack` gives ("ACK", []).
fn play(steps: &[Step], cooldown_minutes: u32) -> Vec<(String, Vec<String>)> {
    let config = config();
    let mut rule = rule("orders_nulls", &[], None);
    rule.alert_cooldown_minutes = cooldown_minutes;
    let mut state = RuleAlertState {
        rule_id: 1,
        ..RuleAlertState::default()
    };
    let mut said = Vec::new();
    for step in steps {
        let (e, now) = match step {
            Step::Fail(m, s) => (
                event(AlertEventKind::Violation, &rule, *s, RunStatus::Failed, *m),
                at(*m),
            ),
            Step::Warn(m, s) => (
                event(AlertEventKind::Violation, &rule, *s, RunStatus::Warned, *m),
                at(*m),
            ),
            Step::Pass(m) => (
                event(
                    AlertEventKind::Recovery,
                    &rule,
                    Severity::Info,
                    RunStatus::Passed,
                    *m,
                ),
                at(*m),
            ),
            Step::Overdue(m) => {
                let mut e = event(
                    AlertEventKind::Escalation,
                    &rule,
                    Severity::High,
                    RunStatus::Failed,
                    *m,
                );
                e.outbox_id = None;
                (e, at(*m))
            }
            Step::Ack => {
                state.acknowledged = true;
                said.push(("ACK".to_string(), Vec::new()));
                continue;
            }
        };
        let decision = decide(&config, &e, &state, now);
        said.push((
            decision.outcome.clone(),
            decision
                .notifications
                .iter()
                .map(|n| n.channel.clone())
                .collect(),
        ));
        let acknowledged = state.acknowledged && decision.state.open;
        state = decision.state;
        // The store reads it back for the open incident.
        state.acknowledged = acknowledged;
    }
    said
}

fn expect(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    list.iter()
        .map(|(o, c)| (o.to_string(), c.iter().map(|c| c.to_string()).collect()))
        .collect()
}

const ALL: &[&str] = &["email", "slack", "pagerduty"];

#[test]
fn fifty_repeats_of_a_low_violation_notify_once() {
    let mut steps = vec![Step::Fail(0, Severity::Low)];
    steps.extend((1..50).map(|m| Step::Fail(m, Severity::Low)));
    let said = play(&steps, 60);
    assert_eq!(said[0], expect(&[("NOTIFIED", &["slack"])])[0]);
    assert!(
        said[1..]
            .iter()
            .all(|(o, c)| o == "SUPPRESSED_REPEAT" && c.is_empty()),
        "{said:?}"
    );
}

#[test]
fn scenarios() {
    use Step::*;
    type Case<'a> = (&'a str, Vec<Step>, u32, Vec<(&'a str, &'a [&'a str])>);
    let cases: Vec<Case> = vec![
        (
            "routing by severity",
            vec![Fail(0, Severity::Critical)],
            60,
            vec![("NOTIFIED", ALL)],
        ),
        (
            "recovery goes where the incident went; a new incident within the cooldown waits",
            vec![
                Fail(0, Severity::Medium),
                Pass(5),
                Fail(10, Severity::Medium),
                Fail(61, Severity::Medium),
            ],
            60,
            vec![
                ("NOTIFIED", &["email", "slack"]),
                ("RECOVERED", &["email", "slack"]),
                ("SUPPRESSED_COOLDOWN", &[]),
                // The cooldown is over and the rule still fails.
                ("NOTIFIED", &["email", "slack"]),
            ],
        ),
        (
            "no cooldown: every new incident notifies",
            vec![Fail(0, Severity::Low), Pass(1), Fail(2, Severity::Low)],
            0,
            vec![
                ("NOTIFIED", &["slack"]),
                ("RECOVERED", &["slack"]),
                ("NOTIFIED", &["slack"]),
            ],
        ),
        (
            "an incident never notified closes quietly",
            vec![
                Fail(0, Severity::Low),
                Pass(1),
                Fail(2, Severity::Low),
                Pass(3),
            ],
            60,
            vec![
                ("NOTIFIED", &["slack"]),
                ("RECOVERED", &["slack"]),
                ("SUPPRESSED_COOLDOWN", &[]),
                ("RESOLVED_QUIETLY", &[]),
            ],
        ),
        (
            "a change notifies after the cooldown; a worse severity at once",
            vec![
                Warn(0, Severity::Low),
                Fail(5, Severity::Low),
                Fail(70, Severity::Low),
                Fail(75, Severity::Critical),
            ],
            60,
            vec![
                ("NOTIFIED", &["slack"]),
                ("SUPPRESSED_COOLDOWN", &[]),
                ("CHANGED", &["slack"]),
                ("CHANGED", ALL),
            ],
        ),
        (
            "escalation of an unacknowledged HIGH, on a repeat and on the timer",
            vec![
                Fail(0, Severity::High),
                Fail(10, Severity::High),
                Fail(30, Severity::High),
                Overdue(61),
                Fail(65, Severity::High),
            ],
            60,
            vec![
                ("NOTIFIED", ALL),
                ("SUPPRESSED_REPEAT", &[]),
                ("ESCALATED", ALL),
                ("ESCALATED", ALL),
                ("SUPPRESSED_REPEAT", &[]),
            ],
        ),
        (
            "acknowledged: quiet, no escalation, until it changes",
            vec![
                Fail(0, Severity::High),
                Ack,
                Fail(40, Severity::High),
                Warn(45, Severity::High),
                Pass(50),
            ],
            0,
            vec![
                ("NOTIFIED", ALL),
                ("ACK", &[]),
                ("SUPPRESSED_ACKNOWLEDGED", &[]),
                ("CHANGED", ALL),
                ("RECOVERED", ALL),
            ],
        ),
        (
            "LOW never escalates",
            vec![Fail(0, Severity::Low), Fail(45, Severity::Low)],
            60,
            vec![("NOTIFIED", &["slack"]), ("SUPPRESSED_REPEAT", &[])],
        ),
    ];
    for (label, steps, cooldown, expected) in cases {
        assert_eq!(play(&steps, cooldown), expect(&expected), "{label}");
    }
}

#[test]
fn stale_events_send_nothing_but_open_the_incident() {
    let config = config();
    let rule = rule("r", &[], None);
    let e = event(
        AlertEventKind::Violation,
        &rule,
        Severity::Critical,
        RunStatus::Failed,
        0,
    );
    let state = RuleAlertState {
        rule_id: 1,
        ..RuleAlertState::default()
    };
    let decision = decide(&config, &e, &state, at(7 * 60));
    assert_eq!(decision.outcome, "STALE");
    assert!(decision.notifications.is_empty());
    assert!(decision.state.open);
    assert_eq!(decision.state.notified_at, None);
}

#[test]
fn items_carry_what_a_message_shows_and_pagerduty_is_not_batched() {
    let config = config();
    let rule = rule("orders_nulls", &["sla"], Some("data-eng"));
    let e = event(
        AlertEventKind::Violation,
        &rule,
        Severity::Critical,
        RunStatus::Failed,
        0,
    );
    let state = RuleAlertState {
        rule_id: 1,
        suppressed: 4,
        ..RuleAlertState::default()
    };
    let decision = decide(&config, &e, &state, at(0));
    let windows: Vec<(String, u64)> = decision
        .notifications
        .iter()
        .map(|n| (n.channel.clone(), n.batch_window.as_secs()))
        .collect();
    assert_eq!(
        windows,
        [
            ("email".into(), 30),
            ("slack".into(), 30),
            ("pagerduty".into(), 0)
        ]
    );
    let item: crate::AlertItem =
        serde_json::from_value(decision.notifications[0].item.clone()).unwrap();
    assert_eq!(
        item.title(),
        "CRITICAL orders_nulls failed on warehouse/public.orders"
    );
    assert_eq!(item.observed_vs_expected(), "observed 1,234, expected <= 0");
    assert_eq!(item.ack_hint().as_deref(), Some("dq ack 1"));
    assert_eq!(item.dedup_key, "dq/orders_nulls");
    assert_eq!(item.owner.as_deref(), Some("data-eng"));
    assert_eq!(item.sample.len(), 1);
    assert_eq!(item.route, "default");
}
