//! Shared by the integration tests: a broker per backend under a unique
//! prefix (removed again on drop), sample jobs, raw injection of bodies, and
//! the macro that runs one behaviour on every backend.
//!
//! Redis and RabbitMQ are real servers (127.0.0.1 by default; override with
//! DQ_TEST_REDIS_URL / DQ_TEST_AMQP_URL). If one is unreachable the test
//! fails and says which: nothing is skipped.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use dq_broker::{Broker, BrokerConfig, Consumer, Delivery, Envelope, Job, JobRun};
use dq_core::manifest::{load_manifests, ManifestFile};
use dq_core::{Dataset, Queue, RunId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    InProcess,
    Redis,
    Amqp,
}

/// Runs `async fn $name(backend: Backend)` as one test per listed backend:
/// `$name::inprocess`, `$name::redis`, `$name::amqp`.
#[macro_export]
macro_rules! on_backends {
    ($name:ident: $($backend:ident),+ $(,)?) => {
        mod $name {
            $( $crate::backend_test!($name, $backend); )+
        }
    };
}

#[macro_export]
macro_rules! backend_test {
    ($name:ident, inprocess) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn inprocess() {
            super::$name($crate::common::Backend::InProcess).await
        }
    };
    ($name:ident, redis) => {
        #[cfg(feature = "redis")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn redis() {
            super::$name($crate::common::Backend::Redis).await
        }
    };
    ($name:ident, amqp) => {
        #[cfg(feature = "amqp")]
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn amqp() {
            super::$name($crate::common::Backend::Amqp).await
        }
    };
}

pub fn redis_url() -> String {
    std::env::var("DQ_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

pub fn amqp_url() -> String {
    std::env::var("DQ_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// `t_<unique>_`: tests share the servers and run in parallel.
pub fn unique_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("t_{:x}{:x}{n}_", std::process::id(), nanos & 0xffff_ffff)
}

pub fn config(backend: Backend) -> BrokerConfig {
    let url = match backend {
        Backend::InProcess => "memory://".to_string(),
        Backend::Redis => redis_url(),
        Backend::Amqp => amqp_url(),
    };
    BrokerConfig::new(url)
        .with_prefix(unique_prefix())
        .with_reconnect_timeout(Duration::from_secs(10))
}

/// A connected broker whose keys/queues are deleted when it is dropped.
pub struct TestBroker {
    pub backend: Backend,
    pub broker: Broker,
    _cleanup: Cleanup,
}

impl std::ops::Deref for TestBroker {
    type Target = Broker;
    fn deref(&self) -> &Broker {
        &self.broker
    }
}

pub async fn open(backend: Backend, tune: impl FnOnce(BrokerConfig) -> BrokerConfig) -> TestBroker {
    let config = tune(config(backend));
    let broker = match Broker::connect(&config).await {
        Ok(broker) => broker,
        Err(e) => panic!(
            "cannot connect to {} at {} (start it, or set {}): {e}",
            match backend {
                Backend::InProcess => "the in-process broker",
                Backend::Redis => "Redis",
                Backend::Amqp => "RabbitMQ",
            },
            dq_broker::redact_url(&config.url),
            match backend {
                Backend::Amqp => "DQ_TEST_AMQP_URL",
                _ => "DQ_TEST_REDIS_URL",
            }
        ),
    };
    TestBroker {
        backend,
        broker,
        _cleanup: Cleanup(Some(config)),
    }
}

/// Deletes everything under the test's prefix, on a thread and runtime of
/// its own (a test's runtime may be shutting down when this drops).
pub struct Cleanup(pub Option<BrokerConfig>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(config) = self.0.take() else { return };
        if config.url.starts_with("memory") {
            return;
        }
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let config = config.with_reconnect_timeout(Duration::from_secs(2));
                if let Ok(broker) = Broker::connect(&config).await {
                    let _ = broker.teardown().await;
                }
            });
        })
        .join();
    }
}

const MANIFEST: &str = "version: 1
defaults:
  target: warehouse
rules:
  - name: orders_not_empty
    dataset: public.orders
    check: row_count
    min: 1
  - name: orders_ids_present
    dataset: public.orders
    check: null_count
    column: id
    max: 0
";

/// A job of two rules at tick `n` (distinct ticks give distinct job ids).
pub fn job(n: i64) -> Job {
    let rules = load_manifests(
        &[ManifestFile {
            path: "t.yaml",
            text: MANIFEST,
        }],
        &|t| t == "warehouse",
    )
    .unwrap_or_else(|e| panic!("test manifest: {e:?}"));
    let at: DateTime<Utc> = DateTime::from_timestamp(1_780_000_000 + n * 60, 0).unwrap();
    Job {
        target: "warehouse".into(),
        dataset: Dataset::parse("public.orders").unwrap(),
        scheduled_for: at,
        runs: rules
            .into_iter()
            .map(|rule| JobRun {
                run_id: RunId::for_tick(&rule.name, at),
                rule,
            })
            .collect(),
    }
}

pub async fn publish_jobs(
    broker: &Broker,
    queue: Queue,
    ticks: std::ops::Range<i64>,
) -> Vec<Envelope> {
    let mut published = Vec::new();
    for n in ticks {
        let envelope = broker.envelope(queue, job(n));
        broker.publish(&envelope).await.unwrap();
        published.push(envelope);
    }
    published
}

/// The next delivery, or `None` if nothing comes within `wait`.
pub async fn next_within(consumer: &mut Consumer, wait: Duration) -> Option<Delivery> {
    match tokio::time::timeout(wait, consumer.next()).await {
        Ok(delivery) => Some(delivery.unwrap()),
        Err(_) => None,
    }
}

pub async fn expect_next(consumer: &mut Consumer, wait: Duration) -> Delivery {
    next_within(consumer, wait)
        .await
        .unwrap_or_else(|| panic!("nothing delivered within {wait:?}"))
}

/// Puts raw bytes on a queue the way a buggy or foreign publisher would,
/// bypassing the envelope encoding.
pub async fn push_raw(test: &TestBroker, queue: Queue, body: &[u8]) {
    match &test.broker {
        Broker::InProcess(b) => b.push_raw(queue, body),
        #[cfg(feature = "redis")]
        Broker::Redis(_) => {
            let key = test.config().names().main(queue);
            let client = redis::Client::open(redis_url()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            redis::cmd("XADD")
                .arg(&key)
                .arg("*")
                .arg("body")
                .arg(body)
                .query_async::<String>(&mut conn)
                .await
                .unwrap();
        }
        #[cfg(feature = "amqp")]
        Broker::Amqp(_) => {
            let key = test.config().names().main(queue);
            use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
            let connection = lapin::Connection::connect(&amqp_url(), Default::default())
                .await
                .unwrap();
            let channel = connection.create_channel().await.unwrap();
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .unwrap();
            let confirm = channel
                .basic_publish(
                    "".into(),
                    key.as_str().into(),
                    BasicPublishOptions::default(),
                    body,
                    lapin::BasicProperties::default(),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(confirm.is_ack());
        }
    }
}
