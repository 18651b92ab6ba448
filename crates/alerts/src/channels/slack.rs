//! Slack incoming webhooks: one Block Kit message per delivery. Each item
//! is a section with its facts, the failing-row sample as a code block, and
//! how to acknowledge it; `text` is the notification fallback.

use serde_json::{json, Value};

use super::render::{ack_line, facts, sample_lines, subject};
use super::{http, SendError, Sent};
use crate::item::{AlertItem, ItemKind};

/// Slack allows 50 blocks a message; each item takes up to four.
const ITEMS_SHOWN: usize = 10;
/// Slack caps a text object at 3000 characters.
const TEXT_LIMIT: usize = 2900;

pub(super) struct Slack {
    client: reqwest::Client,
    url: String,
}

impl Slack {
    pub(super) fn new(client: reqwest::Client, url: String) -> Self {
        Slack { client, url }
    }

    pub(super) async fn send(
        &self,
        items: &[AlertItem],
        console: Option<&str>,
    ) -> Result<Sent, SendError> {
        let body =
            serde_json::to_vec(&message(items, console)).map_err(|e| SendError::Permanent {
                status: None,
                error: e.to_string(),
            })?;
        http::post(&self.client, &self.url, body, &[]).await
    }
}

/// `&`, `<` and `>` are control characters in Slack text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn clip(text: String) -> String {
    if text.chars().count() <= TEXT_LIMIT {
        return text;
    }
    let mut clipped: String = text.chars().take(TEXT_LIMIT).collect();
    clipped.push('…');
    clipped
}

fn emoji(item: &AlertItem) -> &'static str {
    match (item.kind, item.severity) {
        (ItemKind::Recovery, _) => ":white_check_mark:",
        (ItemKind::Escalation, _) => ":rotating_light:",
        (_, dq_core::Severity::Critical | dq_core::Severity::High) => ":red_circle:",
        (_, dq_core::Severity::Medium) => ":large_orange_circle:",
        _ => ":large_yellow_circle:",
    }
}

pub(super) fn message(items: &[AlertItem], console: Option<&str>) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": clip(subject(items)), "emoji": true}
    })];
    for item in items.iter().take(ITEMS_SHOWN) {
        let mut text = format!("{} *{}*", emoji(item), escape(&item.title()));
        if let Some(d) = &item.description {
            text.push_str(&format!("\n_{}_", escape(d)));
        }
        for (label, value) in facts(item) {
            text.push_str(&format!("\n*{label}:* {}", escape(&value)));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}));
        let rows = sample_lines(item);
        if !rows.is_empty() {
            let sample = format!("Failing rows (sample):\n```{}```", escape(&rows.join("\n")));
            blocks
                .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(sample)}}));
        }
        if let Some(ack) = ack_line(item, console) {
            blocks.push(json!({
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": escape(&ack)}]
            }));
        }
        blocks.push(json!({"type": "divider"}));
    }
    if items.len() > ITEMS_SHOWN {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn",
                     "text": format!("…and {} more (`dq violations --unacknowledged`)", items.len() - ITEMS_SHOWN)}
        }));
    }
    json!({"text": subject(items), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, rule};

    fn item(kind: ItemKind) -> AlertItem {
        AlertItem {
            kind,
            rule: "orders_nulls".into(),
            description: Some("ids <never> NULL".into()),
            owner: None,
            tags: vec![],
            target: "warehouse".into(),
            dataset: "public.orders".into(),
            check: "null_count".into(),
            severity: dq_core::Severity::Critical,
            status: Some(dq_core::RunStatus::Failed),
            violation_id: Some(42),
            observed: Some("3".into()),
            expected: "<= 0".into(),
            message: "3 rows".into(),
            sample: vec![serde_json::json!({"id": 7})],
            run_id: None,
            run_at: Some(at(0)),
            at: at(0),
            dedup_key: crate::item::dedup_key(rule("orders_nulls", &[], None).name.as_str()),
            suppressed: 0,
            route: "default".into(),
        }
    }

    #[test]
    fn block_kit_message_has_every_fact_and_the_ack_command() {
        let message = message(&[item(ItemKind::Violation)], None);
        let text = message.to_string();
        for expected in [
            "CRITICAL orders_nulls failed on warehouse/public.orders",
            "*Dataset:* warehouse/public.orders",
            "*Severity:* CRITICAL",
            "*Observed:* observed 3, expected &lt;= 0",
            "*Run:* 2026-03-29 10:00:00 UTC",
            "ids &lt;never&gt; NULL",
            "Failing rows (sample):\\n```{\\\"id\\\":7}```",
            "Acknowledge: `dq ack 42`",
        ] {
            assert!(text.contains(expected), "{expected}\n{text}");
        }
        assert_eq!(message["blocks"][0]["type"], "header");
    }

    #[test]
    fn a_big_batch_stays_within_slack_limits() {
        let items: Vec<AlertItem> = (0..30).map(|_| item(ItemKind::Violation)).collect();
        let message = message(&items, None);
        let blocks = message["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50, "{}", blocks.len());
        assert!(message.to_string().contains("and 20 more"));
        assert_eq!(message["text"], "[dq] 30 alerts: 30 CRITICAL");
        let recovery = super::message(&[item(ItemKind::Recovery)], None).to_string();
        assert!(
            recovery.contains("RESOLVED orders_nulls recovered"),
            "{recovery}"
        );
        assert!(!recovery.contains("dq ack"), "{recovery}");
    }
}
