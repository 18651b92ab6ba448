//! PagerDuty Events API v2: a violation or escalation is a `trigger`, a
//! recovery a `resolve`, both under the rule's stable `dedup_key`, so one
//! failing rule is one PagerDuty incident however often it repeats, and
//! its recovery closes it. One event per item (never batched).

use serde_json::{json, Value};

use super::render::facts;
use super::{http, SendError, Sent};
use crate::item::{AlertItem, ItemKind};

pub(super) struct PagerDuty {
    client: reqwest::Client,
    url: String,
    routing_key: String,
}

impl PagerDuty {
    pub(super) fn new(client: reqwest::Client, url: String, routing_key: String) -> Self {
        PagerDuty {
            client,
            url,
            routing_key,
        }
    }

    pub(super) async fn send(
        &self,
        items: &[AlertItem],
        console: Option<&str>,
    ) -> Result<Sent, SendError> {
        let mut last = Sent { status: None };
        // PagerDuty deduplicates by key, so resending the events of a
        // partly sent batch is harmless.
        for item in items {
            let body =
                serde_json::to_vec(&event(&self.routing_key, item, console)).map_err(|e| {
                    SendError::Permanent {
                        status: None,
                        error: e.to_string(),
                    }
                })?;
            last = http::post(&self.client, &self.url, body, &[]).await?;
        }
        Ok(last)
    }
}

/// PagerDuty's four severities.
fn severity(item: &AlertItem) -> &'static str {
    match item.severity {
        dq_core::Severity::Critical => "critical",
        dq_core::Severity::High => "error",
        dq_core::Severity::Medium => "warning",
        dq_core::Severity::Low | dq_core::Severity::Info => "info",
    }
}

pub(super) fn event(routing_key: &str, item: &AlertItem, console: Option<&str>) -> Value {
    if item.kind == ItemKind::Recovery {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": item.dedup_key,
        });
    }
    let details: serde_json::Map<String, Value> = facts(item)
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), Value::String(v)))
        .chain(
            item.ack_hint()
                .map(|h| ("acknowledge".to_string(), Value::String(h))),
        )
        .chain(std::iter::once((
            "sample".to_string(),
            Value::Array(item.sample.clone()),
        )))
        .collect();
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": item.dedup_key,
        "payload": {
            "summary": item.title(),
            "source": format!("{}/{}", item.target, item.dataset),
            "severity": severity(item),
            "timestamp": item.at.to_rfc3339(),
            "component": item.dataset,
            "group": item.target,
            "class": item.check,
            "custom_details": details,
        },
    });
    if let Some(url) = console {
        event["links"] = json!([{"href": url, "text": "dq console"}]);
    }
    event
}
