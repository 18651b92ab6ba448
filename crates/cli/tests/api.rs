//! The HTTP API against a running `dq api` / `dq serve` and a real store
//! (SQLite, and PostgreSQL in a schema of its own): status codes, auth,
//! pagination, bad input, health, the OpenAPI document, and /metrics as
//! promtool reads it.

mod common;
#[path = "common/fleet.rs"]
mod fleet;

use std::collections::BTreeSet;
use std::time::Duration;

use common::postgres::PgSchema;
use common::Scratch;
use fleet::{wait_for, Service};
use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "t0ken-for-tests";

/// Rules of the demo manifest that run fast; each `dq run` adds one run of each.
const QUICK_RULES: [&str; 3] = [
    "orders_not_empty",
    "orders_customer_id_nulls",
    "customers_email_unique",
];

/// A `dq` process serving HTTP, and a client for it that blocks, so the
/// tests read top to bottom.
struct Http {
    base: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    service: Service,
}

struct Answer {
    status: StatusCode,
    body: Value,
    text: String,
    content_type: String,
}

impl Http {
    /// `dq ARGS --listen 127.0.0.1:PORT`, once it answers.
    fn start(scratch: &Scratch, name: &str, args: &[&str], env: &[(&str, &str)]) -> Http {
        Http::start_on(scratch, name, args, env, "--listen")
    }

    /// `dq ARGS FLAG 127.0.0.1:PORT`, once it answers.
    fn start_on(
        scratch: &Scratch,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        flag: &str,
    ) -> Http {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all: Vec<&str> = args.to_vec();
        all.extend([flag, &listen]);
        let service = Service::spawn_with_env(scratch, name, &all, env);
        let http = Http {
            base: format!("http://{listen}"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
            service,
        };
        let mut http = http;
        wait_for(
            Duration::from_secs(30),
            Duration::from_millis(250),
            || {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                    .ok()
                    .map(|_| ())
            },
            || format!("{name} never listened on {listen}"),
        );
        http.service.assert_alive("after start");
        http
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.runtime.block_on(async {
            let response = request.send().await.expect("HTTP request");
            let status = response.status();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let text = response.text().await.expect("body");
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            Answer {
                status,
                body,
                text,
                content_type,
            }
        })
    }

    fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, None, None)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &str) -> Answer {
        self.call(reqwest::Method::POST, path, token, Some(body))
    }

    fn put(&self, path: &str, token: Option<&str>, body: &str) -> Answer {
        self.call(reqwest::Method::PUT, path, token, Some(body))
    }
}

impl Answer {
    #[track_caller]
    fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }

    /// A 4xx naming `field`.
    #[track_caller]
    fn expect_field(&self, status: StatusCode, field: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["field"], json!(field), "{}", self.text);
        assert!(self.body["error"].is_string(), "{}", self.text);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The demo shop as target `shop`, the store at `store_url`, its rules
/// loaded and the quick ones run `times` times.
fn demo_store(scratch: &Scratch, store_url: &str, times: usize) {
    scratch.demo();
    scratch.write(
        "dq.toml",
        &format!("store = \"{store_url}\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n"),
    );
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../manifests/demo.yaml");
    scratch
        .dq(&["--config", "dq.toml", "load", manifest])
        .assert_code(0);
    let mut args = vec!["--config", "dq.toml", "run"];
    for rule in QUICK_RULES {
        args.extend(["--rule-name", rule]);
    }
    for _ in 0..times {
        let run = scratch.dq(&args);
        assert!(
            run.code == 0 || run.code == 1,
            "{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// Every page of `path` (which has no `?` yet) at `limit` items a page.
fn all_pages(http: &Http, path: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next = format!("{path}?limit={limit}");
    loop {
        let page = http.get(&next);
        let body = page.expect(StatusCode::OK).clone();
        let got = body["items"].as_array().expect("items").clone();
        assert!(got.len() <= limit, "{}", page.text);
        items.extend(got);
        match body["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}?limit={limit}&cursor={cursor}"),
            None => return items,
        }
    }
}

/// The REST surface on one store: what every backend must answer alike.
fn exercise_rest(http: &Http) {
    // Rules: list with filters, get, unknown.
    let rules = http.get("/api/v1/dq/rules").expect(StatusCode::OK).clone();
    let names: BTreeSet<&str> = rules["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert!(
        names.is_superset(&QUICK_RULES.into_iter().collect()),
        "{names:?}"
    );
    let critical = http.get("/api/v1/dq/rules?severity=CRITICAL&target=shop");
    for rule in critical.expect(StatusCode::OK)["items"]
        .as_array()
        .expect("items")
    {
        assert_eq!(rule["definition"]["severity"], "CRITICAL", "{rule}");
    }
    let one = http.get("/api/v1/dq/rules/orders_not_empty");
    assert_eq!(
        one.expect(StatusCode::OK)["definition"]["check"],
        "not_empty"
    );
    http.get("/api/v1/dq/rules/no_such_rule")
        .expect(StatusCode::NOT_FOUND);

    // Runs: every page together is the whole listing, each run once, newest first.
    let runs = all_pages(http, "/api/v1/dq/runs", 4);
    assert_eq!(
        runs.len(),
        3 * QUICK_RULES.len(),
        "three runs of each quick rule"
    );
    let ids: BTreeSet<&str> = runs.iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), runs.len(), "no run twice across pages");
    let ticks: Vec<&str> = runs
        .iter()
        .map(|r| r["scheduled_for"].as_str().expect("tick"))
        .collect();
    let mut sorted = ticks.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ticks, sorted, "newest tick first");
    let one_rule = http.get("/api/v1/dq/runs?rule=orders_not_empty&status=PASSED&limit=10");
    let items = one_rule.expect(StatusCode::OK)["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(items.len(), 3, "{}", one_rule.text);
    let run_id = items[0]["id"].as_str().expect("id");
    http.get(&format!("/api/v1/dq/runs/{run_id}"))
        .expect(StatusCode::OK);
    let future = http.get("/api/v1/dq/runs?since=2999-01-01T00:00:00Z");
    assert_eq!(future.expect(StatusCode::OK)["items"], json!([]));

    // Bad input: a 400 naming the parameter, never a 500.
    http.get("/api/v1/dq/runs?limit=0")
        .expect_field(StatusCode::BAD_REQUEST, "limit");
    http.get("/api/v1/dq/runs?limit=many")
        .expect_field(StatusCode::BAD_REQUEST, "limit");
    http.get("/api/v1/dq/runs?status=BOGUS")
        .expect_field(StatusCode::BAD_REQUEST, "status");
    http.get("/api/v1/dq/runs?since=yesterday")
        .expect_field(StatusCode::BAD_REQUEST, "since");
    http.get("/api/v1/dq/runs?cursor=garbage")
        .expect_field(StatusCode::BAD_REQUEST, "cursor");
    http.get("/api/v1/dq/runs?colour=blue")
        .expect_field(StatusCode::BAD_REQUEST, "colour");
    http.get("/api/v1/dq/runs/not-a-uuid")
        .expect_field(StatusCode::BAD_REQUEST, "id");
    http.get("/api/v1/dq/rules?queue=dq_gpu")
        .expect_field(StatusCode::BAD_REQUEST, "queue");
    http.get("/api/v1/dq/nowhere").expect(StatusCode::NOT_FOUND);

    // Writes need the token.
    let rule = json!({
        "name": "api_orders_ids",
        "target": "shop",
        "dataset": "orders",
        "check": "null_count",
        "column": "id",
        "max": 0,
        "schedule": "*/5 * * * *",
        "severity": "HIGH",
        "tags": ["api"],
    })
    .to_string();
    http.post("/api/v1/dq/rules", None, &rule)
        .expect(StatusCode::UNAUTHORIZED);
    http.post("/api/v1/dq/rules", Some("wrong"), &rule)
        .expect(StatusCode::UNAUTHORIZED);
    let created = http.post("/api/v1/dq/rules", Some(TOKEN), &rule);
    let created = created.expect(StatusCode::CREATED);
    assert_eq!(created["source"], "api");
    assert_eq!(created["definition"]["column"], "id");
    http.post("/api/v1/dq/rules", Some(TOKEN), &rule)
        .expect(StatusCode::CONFLICT);

    // An invalid rule: 422 with every problem, each naming its field.
    let invalid = json!({"name": "bad_rule", "target": "nowhere", "dataset": "orders",
        "check": "null_count", "schedule": "every day"})
    .to_string();
    let answer = http.post("/api/v1/dq/rules", Some(TOKEN), &invalid);
    let body = answer.expect(StatusCode::UNPROCESSABLE_ENTITY);
    let fields: BTreeSet<&str> = body["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["field"].as_str().expect("field"))
        .collect();
    for field in ["target", "schedule", "column"] {
        assert!(fields.contains(field), "{field} not named: {}", answer.text);
    }
    http.post("/api/v1/dq/rules", Some(TOKEN), "{not json")
        .expect(StatusCode::BAD_REQUEST);
    http.get("/api/v1/dq/rules/bad_rule")
        .expect(StatusCode::NOT_FOUND);

    // Replace, enable, disable.
    let mut changed: Value = serde_json::from_str(&rule).expect("json");
    changed["severity"] = json!("CRITICAL");
    let replaced = http.put(
        "/api/v1/dq/rules/api_orders_ids",
        Some(TOKEN),
        &changed.to_string(),
    );
    assert_eq!(
        replaced.expect(StatusCode::OK)["definition"]["severity"],
        "CRITICAL"
    );
    http.put(
        "/api/v1/dq/rules/other_name",
        Some(TOKEN),
        &changed.to_string(),
    )
    .expect_field(StatusCode::BAD_REQUEST, "name");
    http.put(
        "/api/v1/dq/rules/api_orders_ids",
        None,
        &changed.to_string(),
    )
    .expect(StatusCode::UNAUTHORIZED);
    let disabled = http.post("/api/v1/dq/rules/api_orders_ids/disable", Some(TOKEN), "");
    assert_eq!(disabled.expect(StatusCode::OK)["enabled"], false);
    let listed = http.get("/api/v1/dq/rules?enabled=false&tag=api");
    assert_eq!(
        listed.expect(StatusCode::OK)["items"][0]["name"],
        "api_orders_ids"
    );
    let enabled = http.post("/api/v1/dq/rules/api_orders_ids/enable", Some(TOKEN), "");
    assert_eq!(enabled.expect(StatusCode::OK)["enabled"], true);
    // Each write through the API is a version by "api".
    let versions = http.get("/api/v1/dq/rules/api_orders_ids/versions");
    let versions = versions.expect(StatusCode::OK)["items"].clone();
    let changes: Vec<(&str, &str)> = versions
        .as_array()
        .expect("items")
        .iter()
        .map(|v| {
            (
                v["change"].as_str().unwrap_or(""),
                v["changed_by"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("created", "api"),
            ("changed", "api"),
            ("disabled", "api"),
            ("enabled", "api")
        ]
    );
    assert_eq!(versions[1]["fields"], json!(["severity"]));
    http.get("/api/v1/dq/rules/no_such_rule/versions")
        .expect(StatusCode::NOT_FOUND);
    http.post("/api/v1/dq/rules/no_such_rule/enable", Some(TOKEN), "")
        .expect(StatusCode::NOT_FOUND);

    // Violations: filter, page, acknowledge.
    let open = all_pages(http, "/api/v1/dq/violations", 2);
    assert!(
        !open.is_empty(),
        "the demo's seeded problems raise violations"
    );
    let unacked =
        http.get("/api/v1/dq/violations?unacknowledged=true&rule=orders_customer_id_nulls");
    let first = unacked.expect(StatusCode::OK)["items"][0].clone();
    let id = first["id"].as_i64().expect("violation id");
    let path = format!("/api/v1/dq/violations/{id}/acknowledge");
    http.post(&path, None, r#"{"by": "oncall"}"#)
        .expect(StatusCode::UNAUTHORIZED);
    http.post(&path, Some(TOKEN), r#"{"by": 5}"#)
        .expect_field(StatusCode::BAD_REQUEST, "by");
    http.post(&path, Some(TOKEN), r#"{"by": "oncall", "colour": 1}"#)
        .expect(StatusCode::BAD_REQUEST);
    let acked = http.post(&path, Some(TOKEN), r#"{"by": "oncall", "note": "looking"}"#);
    let acked = acked.expect(StatusCode::OK);
    assert_eq!(acked["acknowledged"], true);
    assert_eq!(acked["acknowledged_by"], "oncall");
    assert!(acked["ack_delay_ms"].is_u64(), "{acked}");
    http.post(
        "/api/v1/dq/violations/999999/acknowledge",
        Some(TOKEN),
        r#"{"by": "x"}"#,
    )
    .expect(StatusCode::NOT_FOUND);
    http.get("/api/v1/dq/violations?severity=URGENT")
        .expect_field(StatusCode::BAD_REQUEST, "severity");
}

#[test]
fn rest_on_a_sqlite_store() {
    let scratch = Scratch::new();
    demo_store(&scratch, "sqlite://store.db", 3);
    let http = Http::start(&scratch, "api", &["api"], &[("DQ_API_TOKEN", TOKEN)]);
    exercise_rest(&http);
}

#[test]
fn rest_on_a_postgres_store() {
    let scratch = Scratch::new();
    let schema = PgSchema::new("dq_api");
    demo_store(&scratch, &schema.url(), 3);
    let http = Http::start(&scratch, "api", &["api"], &[("DQ_API_TOKEN", TOKEN)]);
    exercise_rest(&http);
}

#[test]
fn without_a_token_writes_are_refused_and_reads_can_be_closed() {
    let scratch = Scratch::new();
    demo_store(&scratch, "sqlite://store.db", 0);
    let open = Http::start(&scratch, "open", &["api"], &[]);
    let rule = r#"{"name": "x", "target": "shop", "dataset": "orders", "check": "row_count", "min": 1, "schedule": "* * * * *"}"#;
    open.post("/api/v1/dq/rules", Some("anything"), rule)
        .expect(StatusCode::FORBIDDEN);
    open.get("/api/v1/dq/rules").expect(StatusCode::OK);

    scratch.write(
        "dq.toml",
        "store = \"sqlite://store.db\"\n[targets.shop]\nurl = \"sqlite://demo/shop.db\"\n\
         [api]\ntoken_env = \"MY_TOKEN\"\nreads_need_token = true\n",
    );
    let closed = Http::start(&scratch, "closed", &["api"], &[("MY_TOKEN", TOKEN)]);
    closed
        .get("/api/v1/dq/rules")
        .expect(StatusCode::UNAUTHORIZED);
    closed
        .call(reqwest::Method::GET, "/api/v1/dq/rules", Some(TOKEN), None)
        .expect(StatusCode::OK);
    // Health and metrics stay open: probes and scrapers carry no token.
    closed.get("/metrics").expect(StatusCode::OK);
}

#[test]
fn openapi_document_matches_the_routes() {
    let scratch = Scratch::new();
    demo_store(&scratch, "sqlite://store.db", 1);
    let http = Http::start(&scratch, "api", &["api"], &[("DQ_API_TOKEN", TOKEN)]);
    let document = http.get("/api/v1/dq/openapi.json");
    let document = document.expect(StatusCode::OK);
    assert!(document["openapi"]
        .as_str()
        .expect("version")
        .starts_with("3."));
    let paths: BTreeSet<String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let expected: BTreeSet<String> = [
        "/metrics",
        "/api/v1/dq/health/",
        "/api/v1/dq/rules",
        "/api/v1/dq/rules/{name}",
        "/api/v1/dq/rules/{name}/enable",
        "/api/v1/dq/rules/{name}/disable",
        "/api/v1/dq/rules/{name}/versions",
        "/api/v1/dq/runs",
        "/api/v1/dq/runs/{id}",
        "/api/v1/dq/violations",
        "/api/v1/dq/violations/{id}/acknowledge",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(paths, expected);
    // Every documented operation is served: no route answers "no route".
    for (path, operations) in document["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{name}", "orders_not_empty")
            .replace("{id}", "1");
        for method in operations.as_object().expect("operations").keys() {
            let method: reqwest::Method = method.to_uppercase().parse().expect("method");
            let answer = http.call(method.clone(), &concrete, Some(TOKEN), Some("{}"));
            let no_route = answer.status == StatusCode::NOT_FOUND
                && answer.body["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("no route"));
            assert!(!no_route, "{method} {concrete}: {}", answer.text);
            assert_ne!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {concrete}"
            );
            assert!(
                !answer.status.is_server_error() || concrete.contains("health"),
                "{method} {concrete}: {}",
                answer.text
            );
        }
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn health_names_what_is_down_then_serve_brings_it_up_and_metrics_show_the_fleet() {
    let scratch = Scratch::new();
    demo_store(&scratch, "sqlite://store.db", 1);
    // The API alone: store and broker answer, but no beat leads and no worker runs.
    let api = Http::start(&scratch, "api", &["api"], &[("DQ_API_TOKEN", TOKEN)]);
    let health = api.get("/api/v1/dq/health/");
    let body = health.expect(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["down"], json!(["beat", "workers"]), "{}", health.text);
    assert_eq!(body["store"]["ok"], true);

    // The fleet on one machine: beat, workers and its own API.
    let serve = Http::start(&scratch, "serve", &["serve"], &[("DQ_API_TOKEN", TOKEN)]);
    let healthy = wait_for(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || {
            let answer = api.get("/api/v1/dq/health/");
            (answer.status == StatusCode::OK).then_some(answer.body)
        },
        || format!("never healthy: {}", api.get("/api/v1/dq/health/").text),
    );
    assert_eq!(healthy["status"], "ok");
    assert!(healthy["beat_leader"]
        .as_str()
        .is_some_and(|l| l.ends_with(":beat")));
    assert!(healthy["last_run_at"].is_string(), "{healthy}");

    // A rule created through the API runs on the fleet (every second) and
    // shows in the fleet's metrics.
    let rule = json!({"name": "api_every_second", "target": "shop", "dataset": "orders",
        "check": "row_count", "min": 1, "schedule": "* * * * * *", "severity": "CRITICAL"})
    .to_string();
    serve
        .post("/api/v1/dq/rules", Some(TOKEN), &rule)
        .expect(StatusCode::CREATED);
    let needle = "dq_runs_total{rule=\"api_every_second\",queue=\"dq_database\",severity=\"CRITICAL\",status=\"PASSED\"}";
    let metrics = wait_for(
        Duration::from_secs(40),
        Duration::from_millis(250),
        || {
            let answer = serve.get("/metrics");
            answer.text.contains(needle).then_some(answer)
        },
        || format!("no run counted:\n{}", serve.get("/metrics").text),
    );
    assert!(
        metrics
            .content_type
            .starts_with("text/plain; version=0.0.4"),
        "{}",
        metrics.content_type
    );
    for family in [
        "dq_check_duration_seconds_bucket{le=",
        "dq_rule_last_success_timestamp_seconds{rule=\"api_every_second\"}",
        "dq_beat_is_leader 1",
        "dq_beat_lag_seconds ",
        "dq_queue_depth{queue=\"dq_database\"}",
        "dq_workers_seen{queue=\"dq_memory\"} 1",
        "dq_open_violations{severity=\"CRITICAL\"}",
        "dq_jobs_total{queue=\"dq_database\",outcome=\"acked\"}",
    ] {
        assert!(
            metrics.text.contains(family),
            "{family} missing:\n{}",
            metrics.text
        );
    }
    promtool_accepts(&metrics.text);

    // An acknowledgement, wherever it is made, is one observation of the
    // response time.
    let violation = api.get("/api/v1/dq/violations?unacknowledged=true&limit=1");
    let id = violation.expect(StatusCode::OK)["items"][0]["id"]
        .as_i64()
        .expect("id");
    scratch
        .dq(&[
            "--config",
            "dq.toml",
            "ack",
            &id.to_string(),
            "--by",
            "oncall",
        ])
        .assert_code(0);
    let counted = wait_for(
        Duration::from_secs(10),
        Duration::from_millis(250),
        || {
            let text = serve.get("/metrics").text;
            text.lines()
                .find(|l| l.starts_with("dq_violation_ack_seconds_count{"))
                .map(str::to_string)
        },
        || "no acknowledgement counted".to_string(),
    );
    assert!(counted.ends_with(" 1"), "{counted}");
    // Asked for OpenMetrics, the same families come in that format.
    let om = serve.runtime.block_on(async {
        serve
            .client
            .get(format!("{}/metrics", serve.base))
            .header("accept", "application/openmetrics-text; version=1.0.0")
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    });
    assert!(om.ends_with("# EOF\n"), "{om}");
}

/// promtool (Prometheus' own linter, installed by scripts/services.sh)
/// reads the exposition without complaint.
fn promtool_accepts(exposition: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool is missing ({e}): scripts/services.sh promtool installs it")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool");
    assert!(
        output.status.success(),
        "promtool check metrics:\n{}{}\n--- exposition\n{exposition}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_worker_and_a_beat_serve_their_own_metrics() {
    let scratch = Scratch::new();
    demo_store(&scratch, "sqlite://store.db", 0);
    let beat = Http::start_on(&scratch, "beat", &["beat"], &[], "--metrics-listen");
    let worker = Http::start_on(
        &scratch,
        "worker",
        &["worker", "-Q", "dq_compute", "--pool", "threads"],
        &[],
        "--metrics-listen",
    );
    let leading = wait_for(
        Duration::from_secs(20),
        Duration::from_millis(250),
        || {
            let text = beat.get("/metrics").text;
            text.contains("\ndq_beat_is_leader 1\n").then_some(text)
        },
        || format!("the beat never led:\n{}", beat.get("/metrics").text),
    );
    promtool_accepts(&leading);
    let idle = worker.get("/metrics");
    assert!(
        idle.text
            .contains("dq_worker_active_tasks{queue=\"dq_compute\"} 0"),
        "{}",
        idle.text
    );
    promtool_accepts(&idle.text);
    // Only /metrics: the API is not served by a worker.
    worker
        .get("/api/v1/dq/health/")
        .expect(StatusCode::NOT_FOUND);
}
