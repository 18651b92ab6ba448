//! A real MongoDB-wire server for the tests: each test gets its own
//! database (`dq_t_<random hex>`), dropped when the guard goes out of
//! scope, so tests run in parallel and leave nothing behind.
//!
//! The server is SecantusDB (PyPI `secantusdb`, GPL-2.0, run only as a
//! separate test process; WiredTiger storage, MongoDB 8 semantics) at
//! `mongodb://127.0.0.1:27018/?directConnection=true`, started by
//! `scripts/services.sh secantus`, unless `DQ_TEST_MONGO_URL` names another
//! (a real MongoDB runs the same tests). nx-27017 (port 27017) is the
//! lighter server, but its `$type` reports an absent field as `null`, its
//! `$avg` reads numeric text and its `$max` of dates is null, so the
//! semantic tests need SecantusDB; `mongodb_nx.rs` runs what nx-27017
//! does answer faithfully. The server must be up: an unreachable one fails
//! the test, naming it, rather than skipping it.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use dq_core::manifest::{load_manifests, ManifestFile};
use dq_core::{Rule, RunStatus};
use dq_targets::{ExecuteOptions, RuleOutcome, Target};
use mongodb::bson::{doc, Document};
use mongodb::Client;

pub const DEFAULT_URL: &str = "mongodb://127.0.0.1:27018/?directConnection=true";
/// nx-27017, for the tests that say they run on it.
pub const NX_URL: &str = "mongodb://127.0.0.1:27017/?directConnection=true";
/// The name rules give the target.
pub const TARGET: &str = "mongo";

pub fn url() -> String {
    std::env::var("DQ_TEST_MONGO_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// Which server the tests ran on, for their messages.
pub fn server() -> String {
    match std::env::var("DQ_TEST_MONGO_URL") {
        Ok(url) => format!("the MongoDB server at {url}"),
        Err(_) => "SecantusDB on 127.0.0.1:27018".to_string(),
    }
}

fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// `url` with `database` as its default database.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// One test's database on the test server, with a read-write client.
pub struct MongoDb {
    pub name: String,
    pub url: String,
    pub client: Client,
}

impl MongoDb {
    pub async fn new() -> MongoDb {
        MongoDb::on(&url()).await
    }

    /// A database on the server at `server_url`.
    pub async fn on(server_url: &str) -> MongoDb {
        let name = format!("dq_t_{}", random_hex());
        let url = with_database(server_url, &name);
        let client = Client::with_uri_str(&url)
            .await
            .unwrap_or_else(|e| panic!("bad MongoDB test URL {url}: {e}"));
        if let Err(e) = client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
        {
            panic!(
                "the MongoDB wire server is not reachable at {url}: {e}. The MongoDB tests \
                 need it: run scripts/services.sh mongo secantus, or set DQ_TEST_MONGO_URL"
            );
        }
        MongoDb { name, url, client }
    }

    pub fn collection(&self, name: &str) -> mongodb::Collection<Document> {
        self.client.database(&self.name).collection(name)
    }

    /// Inserts `documents` into `collection` (creating it).
    pub async fn insert(&self, collection: &str, documents: Vec<Document>) {
        if documents.is_empty() {
            self.client
                .database(&self.name)
                .create_collection(collection)
                .await
                .expect("create collection");
            return;
        }
        self.collection(collection)
            .insert_many(documents)
            .await
            .expect("insert documents");
    }

    pub async fn target(&self) -> Target {
        Target::connect(TARGET, &self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", server()))
    }
}

impl Drop for MongoDb {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop cannot await; a thread with its own runtime can, with its own
        // client: the test's client runs on the test's (now blocked) runtime.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(async {
                    if let Ok(client) = Client::with_uri_str(&url).await {
                        let _ = client.database(&name).drop().await;
                        client.shutdown().await;
                    }
                });
            }
        })
        .join();
    }
}

/// Rules from manifest text (every rule's target is [`TARGET`]).
pub fn rules(yaml: &str) -> Vec<Rule> {
    let text = format!("version: 1\ndefaults:\n  target: {TARGET}\nrules:\n{yaml}");
    load_manifests(
        &[ManifestFile {
            path: "test.yaml",
            text: &text,
        }],
        &|t: &str| t == TARGET,
    )
    .unwrap_or_else(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("test manifest should load:\n{}\n{text}", lines.join("\n"))
    })
}

/// The instant tests measure freshness and windows against.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 30, 0, 0, 0).unwrap()
}

pub fn date(hours_before_now: i64) -> mongodb::bson::DateTime {
    mongodb::bson::DateTime::from_millis(
        (now() - chrono::Duration::hours(hours_before_now)).timestamp_millis(),
    )
}

pub fn options() -> ExecuteOptions {
    ExecuteOptions {
        now: now(),
        sample_limit: 5,
    }
}

/// Every rule run through the planner and `execute`, outcomes by rule order.
pub async fn run(target: &Target, rules: &[Rule]) -> Vec<RuleOutcome> {
    let refs: Vec<&Rule> = rules.iter().collect();
    let mut outcomes = Vec::new();
    for plan in dq_core::plan(&refs) {
        outcomes.extend(dq_targets::execute(target, &plan, &options()).await);
    }
    let order = |o: &RuleOutcome| rules.iter().position(|r| r.name == o.rule);
    outcomes.sort_by_key(order);
    outcomes
}

/// The outcome of rule `name`.
pub fn outcome<'a>(outcomes: &'a [RuleOutcome], name: &str) -> &'a RuleOutcome {
    outcomes
        .iter()
        .find(|o| o.rule.as_str() == name)
        .unwrap_or_else(|| panic!("no outcome for {name}"))
}

/// The primary observed value of rule `name`, which must have run.
pub fn observed(outcomes: &[RuleOutcome], name: &str) -> f64 {
    let o = outcome(outcomes, name);
    assert!(
        !matches!(o.verdict.status, RunStatus::Error | RunStatus::Timeout),
        "{name} did not run on {}: {}",
        server(),
        o.verdict.message
    );
    o.observation
        .as_ref()
        .and_then(|obs| obs.primary())
        .and_then(|m| m.value)
        .unwrap_or_else(|| panic!("{name} has no observed value: {o:?}"))
}
