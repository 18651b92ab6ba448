//! A queue prefix of the test's own on the shared RabbitMQ. Dropped (even on
//! panic), it deletes the prefix's queues and exchange through dq's own
//! client, and by name with rabbitmqctl if the client cannot.
//!
//! Not in `common/mod.rs`: a test takes it with
//! `#[path = "common/rabbit.rs"] mod rabbit;`.

use std::process::Command;
use std::time::Duration;

use dq_broker::{Broker, BrokerConfig};

const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

pub struct RabbitPrefix {
    pub url: String,
    pub prefix: String,
}

impl RabbitPrefix {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        RabbitPrefix {
            url: std::env::var("DQ_TEST_AMQP_URL").unwrap_or_else(|_| DEFAULT_URL.into()),
            prefix: format!("t_{tag}_{}_{nanos:x}_", std::process::id()),
        }
    }

    /// A `[broker]` section for dq.toml, plus `extra` lines.
    pub fn broker_toml(&self, extra: &str) -> String {
        format!(
            "[broker]\nurl = \"{}\"\nprefix = \"{}\"\n{extra}",
            self.url, self.prefix
        )
    }
}

/// Deletes the prefix's queues and exchange through dq's own client.
fn teardown(url: &str, prefix: &str) -> bool {
    let config = BrokerConfig::new(url)
        .with_prefix(prefix)
        .with_reconnect_timeout(Duration::from_secs(10));
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return false;
    };
    runtime
        .block_on(async { Broker::connect(&config).await?.teardown().await })
        .is_ok()
}

impl Drop for RabbitPrefix {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        // A fresh thread: Drop may run inside a runtime, or while panicking.
        let removed = std::thread::spawn(move || teardown(&url, &prefix))
            .join()
            .unwrap_or(false);
        if removed {
            return;
        }
        let Ok(listed) = Command::new("rabbitmqctl")
            .args(["-q", "list_queues", "name"])
            .output()
        else {
            return;
        };
        for name in String::from_utf8_lossy(&listed.stdout).lines() {
            if name.starts_with(&self.prefix) {
                let _ = Command::new("rabbitmqctl")
                    .args(["delete_queue", name])
                    .output();
            }
        }
    }
}
