//! The whole path with real receivers on loopback: runs recorded as a
//! worker records them (outbox in the same transaction), a dispatcher
//! planning and delivering, an HTTP server standing in for Slack,
//! PagerDuty and a webhook (answering 500 or 429 on demand), and aiosmtpd
//! receiving the mail.

mod common;

use std::time::Duration;

use common::{channels, config, minutes, rule, Answer, Receiver, SmtpServer, World};
use dq_alerts::Dispatcher;
use dq_core::Severity;
use dq_store::{AlertBacklog, DeliveryFilter, DeliveryState, ViolationFilter};
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(20);

async fn drain(dispatcher: &Dispatcher) {
    let left = dispatcher.drain(WITHIN).await.unwrap();
    assert_eq!(
        left,
        AlertBacklog::default(),
        "undelivered after {WITHIN:?}"
    );
}

/// The rule a Slack or email message is about (single-item messages).
fn slack_rule(request: &common::receiver::Recorded) -> String {
    let text = request.json()["text"].as_str().unwrap().to_string();
    text.split_whitespace().nth(2).unwrap().to_string()
}

/// A mail with its soft line breaks (quoted-printable) undone.
fn unfolded(mail: &str) -> String {
    mail.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
        .replace("\r\n ", " ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_violation_reaches_all_three_channels_once() {
    let receiver = Receiver::start().await;
    let smtp = SmtpServer::start().await;
    let (channels, env) = channels(&receiver, Some(&smtp));
    let sales = rule("sales_not_empty", Severity::Critical, &[]);
    let world = World::new(std::slice::from_ref(&sales)).await;
    world.run(&sales, minutes(0), true).await;
    let dispatcher = world.dispatcher(
        config(json!({"channels": channels, "batch_window": "300ms"})),
        &env,
    );
    drain(&dispatcher).await;
    // The same violation again, and more ticks: nothing new is sent.
    world.run(&sales, minutes(1), true).await;
    drain(&dispatcher).await;

    let slack = receiver.requests("/slack");
    assert_eq!(slack.len(), 1);
    let message = slack[0].text();
    for expected in [
        "CRITICAL sales_not_empty failed on warehouse/public.orders",
        "*Observed:* observed 3, expected &lt;= 0",
        "Failing rows (sample)",
        "dq ack 1",
    ] {
        assert!(message.contains(expected), "{expected}: {message}");
    }
    let pagerduty = receiver.requests("/pagerduty");
    assert_eq!(pagerduty.len(), 1);
    let event = pagerduty[0].json();
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["routing_key"], "routing-key-123");
    assert_eq!(event["dedup_key"], "dq/sales_not_empty");
    assert_eq!(event["payload"]["severity"], "critical");
    assert_eq!(
        event["payload"]["custom_details"]["acknowledge"],
        "dq ack 1"
    );
    let mails = smtp.wait_for(1, WITHIN).await;
    assert_eq!(mails.len(), 1);
    let mail = unfolded(&mails[0]);
    for expected in [
        "Subject: [dq] CRITICAL sales_not_empty failed on warehouse/public.orders",
        "To: oncall@example.com",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "dq ack 1",
    ] {
        assert!(mail.contains(expected), "{expected}: {mail}");
    }
    assert!(receiver.requests("/hook").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_repeats_of_a_low_violation_within_the_cooldown_are_one_slack_message() {
    let receiver = Receiver::start().await;
    let (channels, env) = channels(&receiver, None);
    let low = rule("orders_nulls", Severity::Low, &[]);
    let world = World::new(std::slice::from_ref(&low)).await;
    let dispatcher = world.dispatcher(config(json!({"channels": channels})), &env);
    for m in 0..50 {
        world.run(&low, minutes(m), true).await;
        if m % 10 == 0 {
            dispatcher.tick(chrono::Utc::now()).await.unwrap();
        }
    }
    drain(&dispatcher).await;
    let slack = receiver.requests("/slack");
    assert_eq!(slack.len(), 1);
    assert!(slack[0].text().contains("LOW orders_nulls failed"));
    assert!(receiver.requests("/pagerduty").is_empty());
    assert_eq!(
        world
            .store
            .violations(&ViolationFilter::default())
            .await
            .unwrap()
            .len(),
        50,
        "every violation is stored, one is sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_follows_severity_unless_a_route_for_the_tag_says_otherwise() {
    let receiver = Receiver::start().await;
    let smtp = SmtpServer::start().await;
    let (channels, env) = channels(&receiver, Some(&smtp));
    let rules = [
        rule("info_rule", Severity::Info, &[]),
        rule("low_rule", Severity::Low, &[]),
        rule("medium_rule", Severity::Medium, &[]),
        rule("high_rule", Severity::High, &[]),
        rule("critical_rule", Severity::Critical, &[]),
        rule("payments_rule", Severity::Critical, &["payments"]),
    ];
    let world = World::new(&rules).await;
    for r in &rules {
        world.run(r, minutes(0), true).await;
    }
    let routes = json!([{"tag": "payments", "name": "payments",
                         "CRITICAL": ["payments_slack", "pagerduty"]}]);
    let dispatcher = world.dispatcher(config(json!({"channels": channels, "route": routes})), &env);
    drain(&dispatcher).await;

    let mut slack: Vec<String> = receiver.requests("/slack").iter().map(slack_rule).collect();
    slack.sort();
    assert_eq!(
        slack,
        [
            "critical_rule",
            "high_rule",
            "info_rule",
            "low_rule",
            "medium_rule"
        ]
    );
    let payments: Vec<String> = receiver
        .requests("/payments")
        .iter()
        .map(slack_rule)
        .collect();
    assert_eq!(payments, ["payments_rule"]);
    let mut paged: Vec<String> = receiver
        .requests("/pagerduty")
        .iter()
        .map(|r| r.json()["dedup_key"].as_str().unwrap().to_string())
        .collect();
    paged.sort();
    assert_eq!(
        paged,
        ["dq/critical_rule", "dq/high_rule", "dq/payments_rule"]
    );
    let mut mailed: Vec<String> = smtp
        .wait_for(3, WITHIN)
        .await
        .iter()
        .map(|m| {
            let m = unfolded(m);
            let subject = m.lines().find(|l| l.starts_with("Subject:")).unwrap();
            subject.split_whitespace().nth(3).unwrap().to_string()
        })
        .collect();
    mailed.sort();
    assert_eq!(mailed, ["critical_rule", "high_rule", "medium_rule"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn violations_within_the_batching_window_are_one_message_per_channel_and_route() {
    let receiver = Receiver::start().await;
    let smtp = SmtpServer::start().await;
    let (channels, env) = channels(&receiver, Some(&smtp));
    let rules = [
        rule("a_rule", Severity::Medium, &[]),
        rule("b_rule", Severity::Medium, &[]),
        rule("c_rule", Severity::Medium, &[]),
        rule("pay_one", Severity::Medium, &["payments"]),
        rule("pay_two", Severity::Low, &["payments"]),
    ];
    let world = World::new(&rules).await;
    let routes = json!([{"tag": "payments", "name": "payments", "channels": ["payments_slack"]}]);
    let dispatcher = world.dispatcher(
        config(json!({"channels": channels, "route": routes, "batch_window": "1s"})),
        &env,
    );
    // Two arrive, are planned, then three more within the window.
    world.run(&rules[0], minutes(0), true).await;
    world.run(&rules[3], minutes(0), true).await;
    dispatcher.tick(chrono::Utc::now()).await.unwrap();
    for r in [&rules[1], &rules[2], &rules[4]] {
        world.run(r, minutes(0), true).await;
    }
    drain(&dispatcher).await;

    let slack = receiver.requests("/slack");
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].json()["text"], "[dq] 3 alerts: 3 MEDIUM");
    for name in ["a_rule", "b_rule", "c_rule"] {
        assert!(slack[0].text().contains(name), "{name}");
    }
    let payments = receiver.requests("/payments");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].json()["text"], "[dq] 2 alerts: 1 MEDIUM, 1 LOW");
    let mails = smtp.wait_for(1, WITHIN).await;
    assert_eq!(mails.len(), 1);
    assert!(unfolded(&mails[0]).contains("Subject: [dq] 3 alerts: 3 MEDIUM"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_is_announced_where_the_alert_went_and_resolves_pagerduty() {
    let receiver = Receiver::start().await;
    let smtp = SmtpServer::start().await;
    let (channels, env) = channels(&receiver, Some(&smtp));
    let r = rule("orders_fresh", Severity::High, &[]);
    let world = World::new(std::slice::from_ref(&r)).await;
    let dispatcher = world.dispatcher(config(json!({"channels": channels})), &env);
    world.run(&r, minutes(0), true).await;
    drain(&dispatcher).await;
    world.run(&r, minutes(5), false).await;
    drain(&dispatcher).await;
    // Passing again: nothing was open, nothing is sent.
    world.run(&r, minutes(10), false).await;
    drain(&dispatcher).await;

    let slack = receiver.requests("/slack");
    assert_eq!(slack.len(), 2);
    assert_eq!(
        slack[1].json()["text"],
        "[dq] RESOLVED orders_fresh recovered on warehouse/public.orders"
    );
    let pagerduty: Vec<serde_json::Value> = receiver
        .requests("/pagerduty")
        .iter()
        .map(|r| r.json())
        .collect();
    assert_eq!(pagerduty.len(), 2);
    assert_eq!(pagerduty[0]["event_action"], "trigger");
    assert_eq!(
        pagerduty[1],
        json!({"routing_key": "routing-key-123", "event_action": "resolve",
               "dedup_key": "dq/orders_fresh"})
    );
    let mails = smtp.wait_for(2, WITHIN).await;
    let resolved = mails
        .iter()
        .filter(|m| unfolded(m).contains("Subject: [dq] RESOLVED orders_fresh recovered"))
        .count();
    assert_eq!((mails.len(), resolved), (2, 1));
    let violations = world
        .store
        .violations(&ViolationFilter::default())
        .await
        .unwrap();
    assert!(violations[0].resolved_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_and_a_429_retry_after_is_honoured() {
    let receiver = Receiver::start().await;
    let (channels, env) = channels(&receiver, None);
    receiver.script("/slack", &[Answer::Status(500)]);
    receiver.script("/pagerduty", &[Answer::TooManyRequests(1)]);
    let r = rule("orders_nulls", Severity::High, &[]);
    let world = World::new(std::slice::from_ref(&r)).await;
    let dispatcher = world.dispatcher(config(json!({"channels": channels})), &env);
    world.run(&r, minutes(0), true).await;
    drain(&dispatcher).await;

    let slack = receiver.requests("/slack");
    assert_eq!(slack.len(), 2, "one 500, then delivered");
    assert_eq!(slack[0].body, slack[1].body, "the same message");
    let pagerduty = receiver.requests("/pagerduty");
    assert_eq!(pagerduty.len(), 2);
    let waited = pagerduty[1].at - pagerduty[0].at;
    assert!(
        waited >= Duration::from_secs(1),
        "retried after {waited:?}, Retry-After was 1 s"
    );

    let deliveries = world
        .store
        .deliveries(&DeliveryFilter::default())
        .await
        .unwrap();
    for d in &deliveries {
        assert_eq!(
            (d.state, d.attempts),
            (DeliveryState::Sent, 2),
            "{}",
            d.channel
        );
        let attempts: Vec<(String, Option<u16>)> = world
            .store
            .delivery_attempts(d.id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.outcome, a.status))
            .collect();
        let first = if d.channel == "slack" { 500 } else { 429 };
        assert_eq!(
            attempts,
            [
                ("RETRY".to_string(), Some(first)),
                ("DELIVERED".to_string(), Some(200))
            ],
            "{}",
            d.channel
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_signed_and_a_refusal_is_not_retried() {
    let receiver = Receiver::start().await;
    let (channels, env) = channels(&receiver, None);
    let routes = json!([{"tag": "hooked", "channels": ["hook"]}]);
    let signed = rule("signed_rule", Severity::Low, &["hooked"]);
    let refused = rule("refused_rule", Severity::Low, &[]);
    receiver.script("/slack", &[Answer::Status(404)]);
    let world = World::new(&[signed.clone(), refused.clone()]).await;
    let dispatcher = world.dispatcher(config(json!({"channels": channels, "route": routes})), &env);
    world.run(&signed, minutes(0), true).await;
    world.run(&refused, minutes(0), true).await;
    drain(&dispatcher).await;

    let hook = receiver.requests("/hook");
    assert_eq!(hook.len(), 1);
    let timestamp = &hook[0].headers["x-dq-timestamp"];
    assert_eq!(
        hook[0].headers["x-dq-signature"],
        dq_alerts::channels::signature("s3cret", timestamp, &hook[0].body)
    );
    let body = hook[0].json();
    assert_eq!(body["items"][0]["rule"], "signed_rule");
    assert_eq!(
        body["delivery"].to_string(),
        hook[0].headers["x-dq-delivery"]
    );

    assert_eq!(receiver.requests("/slack").len(), 1, "a 404 is not retried");
    let failed = world
        .store
        .deliveries(&DeliveryFilter {
            states: vec![DeliveryState::Failed],
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]
        .last_error
        .as_deref()
        .unwrap()
        .starts_with("HTTP 404"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_high_violation_escalates_and_an_acknowledged_one_does_not() {
    let receiver = Receiver::start().await;
    let (channels, env) = channels(&receiver, None);
    let escalating = rule("orders_fresh", Severity::High, &[]);
    let acknowledged = rule("orders_nulls", Severity::High, &[]);
    let world = World::new(&[escalating.clone(), acknowledged.clone()]).await;
    let dispatcher = world.dispatcher(
        config(json!({"channels": channels, "escalate_after": "1s"})),
        &env,
    );
    world.run(&escalating, minutes(0), true).await;
    world.run(&acknowledged, minutes(0), true).await;
    drain(&dispatcher).await;
    assert_eq!(receiver.requests("/slack").len(), 2);
    let ids: Vec<i64> = world
        .store
        .violations(&ViolationFilter {
            rule_names: vec!["orders_nulls".into()],
            ..ViolationFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|v| v.id)
        .collect();
    world
        .store
        .acknowledge(&ids, "ana", None, chrono::Utc::now())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    drain(&dispatcher).await;
    let slack = receiver.requests("/slack");
    assert_eq!(slack.len(), 3, "one escalation");
    assert!(
        slack[2]
            .text()
            .contains("HIGH orders_fresh still failing, unacknowledged"),
        "{}",
        slack[2].text()
    );
    // Notified just now: nothing more until another second has passed.
    drain(&dispatcher).await;
    assert_eq!(receiver.requests("/slack").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_come_from_the_environment_and_are_never_shown() {
    let receiver = Receiver::start().await;
    let (channels, mut env) = channels(&receiver, None);
    let world = World::new(&[]).await;
    let config = config(json!({"channels": channels}));
    let dispatcher = world.dispatcher(config.clone(), &env);
    let shown = format!("{dispatcher:?}");
    assert!(!shown.contains(&receiver.addr.to_string()), "{shown}");
    assert!(!shown.contains("routing-key-123"), "{shown}");
    env.remove("T_PD_KEY");
    let err = Dispatcher::new(world.store.clone(), config, "d", &|v| env.get(v).cloned())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "channel pagerduty: environment variable T_PD_KEY is not set"
    );
}
