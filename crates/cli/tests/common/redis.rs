//! A key prefix of the test's own in the shared Redis, with every key under
//! it deleted when the test ends (even on panic).

use std::process::Command;

pub struct RedisPrefix {
    pub url: String,
    pub prefix: String,
}

impl RedisPrefix {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        RedisPrefix {
            url: std::env::var("DQ_TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into()),
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

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "redis-cli --scan --pattern '{}*' | xargs -r redis-cli del",
                self.prefix
            ))
            .output();
    }
}
