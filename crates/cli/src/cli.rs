//! The command line: what each command does, with examples a newcomer can copy.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dq_core::Severity;

mod bench;
mod rules;

pub use bench::*;
pub use rules::*;

#[derive(Debug, Parser)]
#[command(
    name = "dq",
    version,
    about = "dq: declare data-quality rules in YAML, run them, keep every result.",
    long_about = "dq: declare data-quality rules in YAML manifests, run them against your \
databases, and keep every run, violation and metric in a store.\n\n\
Start with `dq demo`: it builds a small SQLite shop with seeded problems, \
loads manifests/demo.yaml and runs every rule.",
    after_help = "Examples:\n  \
dq demo                                   run the demo (no setup needed)\n  \
dq load manifests/orders.yaml --dry-run   validate and show what would change\n  \
dq load manifests/*.yaml                  create/update the rules\n  \
dq run --all --fail-on HIGH               run every enabled rule; exit 1 on a HIGH+ failure\n  \
dq export violations violations.csv --days 7\n\n\
Configuration: --config FILE, else $DQ_CONFIG, else ./dq.toml, else an embedded \
default (store sqlite://dq.db, no targets)."
)]
pub struct Cli {
    /// Configuration file (dq.toml). Also read from DQ_CONFIG.
    #[arg(long, global = true, env = "DQ_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log more (-v: debug, -vv: trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log lines as text, or as one JSON object each (for log shippers;
    /// docs/runbook.md, "Log events"). Also read from DQ_LOG_FORMAT.
    #[arg(
        long,
        global = true,
        env = "DQ_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a demo shop database with seeded problems, load its rules and run them all.
    #[command(
        after_help = "Example:\n  dq demo              writes ./dq-demo/ (dataset, store, dq.toml)\n  \
dq --config dq-demo/dq.toml run --all   run the demo rules again"
    )]
    Demo(DemoArgs),

    /// Validate manifests and create/update their rules (all or nothing).
    #[command(
        after_help = "Examples:\n  dq load manifests/orders.yaml --dry-run\n  \
dq load manifests/orders.yaml manifests/customers.yaml\n\n\
Every problem in every file is reported as FILE:LINE: rule \"NAME\": FIELD: problem.\n\
A manifest with any error changes nothing. Rules that were loaded from a file\n\
earlier and are no longer in it are disabled (their history is kept)."
    )]
    Load(LoadArgs),

    /// Run rules now, in this process, and store the results.
    #[command(
        after_help = "Examples:\n  dq run --all\n  dq run --rule-name orders_fresh --rule-name orders_nulls\n  \
dq run --tag sla --fail-on CRITICAL\n  dq run --all --dry-run      show the planned queries\n  dq run --tag sla --async    hand them to the workers\n\n\
Exit codes: 0 all passed (or failed below --fail-on); 1 a rule at or above\n\
--fail-on failed; 3 a check could not run (ERROR or TIMEOUT); 2 bad usage or\n\
configuration."
    )]
    Run(RunArgs),

    /// Write violations, runs, rules or a manifest to a file (or - for stdout).
    #[command(after_help = "Examples:\n  dq export violations - --days 7\n  \
dq export runs runs.csv --rule-name orders_fresh\n  \
dq export manifest all-rules.yaml      # load it back with `dq load`\n\n\
The format comes from --format, else from the file extension, else json.")]
    Export(ExportArgs),

    /// The scheduler: enqueue each enabled rule on its cron schedule (run 2+ for HA).
    #[command(
        after_help = "Examples:\n  dq --config prod.toml beat\n  dq beat --owner beat-eu-1\n\n\
Several beats may run against one store: one holds the leader lease and enqueues,\n\
the others take over when it stops renewing. Stop with SIGTERM or Ctrl-C."
    )]
    Beat(BeatArgs),

    /// A worker: take jobs from one queue and run them in a pool.
    #[command(
        after_help = "Examples:\n  dq worker -Q dq_database --pool async -c 8\n  \
dq worker -Q dq_compute --pool threads -c 2\n  \
dq worker -Q dq_memory --pool process -c 2 --memory-limit-mb 512 --max-tasks-per-child 50\n\n\
Results are stored, then the job is acked; SIGTERM stops taking work, finishes\n\
what is in flight (up to --shutdown-deadline) and exits."
    )]
    Worker(WorkerArgs),

    /// Beat plus one worker per queue in one process: the fleet on one machine.
    #[command(
        after_help = "Examples:\n  dq serve                       embedded default: SQLite store, in-process queues\n  \
dq --config prod.toml serve    same, against the configured store and broker\n\n\
It also serves the HTTP API and /metrics (default 127.0.0.1:8080, [api] listen)."
    )]
    Serve(ServeArgs),

    /// The HTTP API: health, /metrics, REST for rules, runs and violations.
    #[command(
        after_help = "Examples:\n  dq api                              listen on [api] listen (default 127.0.0.1:8080)\n  \
dq api --listen 0.0.0.0:8080\n  \
curl -s localhost:8080/api/v1/dq/health/\n  \
curl -s localhost:8080/api/v1/dq/openapi.json\n\n\
Writes (POST, PUT) need `Authorization: Bearer $DQ_API_TOKEN` (the variable is\n\
[api] token_env); without a token configured they are refused."
    )]
    Api(ApiArgs),

    /// Look at the fleet: queues, dead letters, workers, running checks, the schedule.
    #[command(
        after_help = "Examples:\n  dq inspect queues\n  dq inspect dead --queue dq_database\n  \
dq inspect workers\n  dq inspect active\n  dq inspect scheduled --limit 20\n  dq inspect stats"
    )]
    Inspect(InspectArgs),

    /// Replay the dead letters of a queue.
    #[command(
        after_help = "Example:\n  dq inspect dead --queue dq_database   # see why they died\n  \
dq requeue dq_database                 # replay them, attempts reset"
    )]
    Requeue(RequeueArgs),

    /// Acknowledge violations: their incident stops repeating and escalating.
    #[command(
        after_help = "Examples:\n  dq ack 42\n  dq ack 42 43 --by ana --note \"backfill running, fixed by 14:00\"\n\n\
The time from detection to acknowledgement is stored (`dq violations` shows it).\n\
An id already acknowledged keeps its first acknowledgement."
    )]
    Ack(AckArgs),

    /// List violations, newest first.
    #[command(after_help = "Examples:\n  dq violations --unacknowledged\n  \
dq violations --since 24h --severity HIGH\n  dq violations --rule orders_fresh --limit 10")]
    Violations(ViolationsArgs),

    /// Reports from the store: weekly review, alert fatigue, KPIs against their targets.
    #[command(subcommand)]
    Report(ReportCommand),

    /// Rule lifecycle: list, show, enable, disable, promote, history, rollback, delete.
    #[command(subcommand)]
    Rules(RulesCommand),

    /// Delete old runs with their violations, metrics and alerts, archiving them first.
    #[command(
        after_help = "Examples:\n  dq cleanup --older-than 180d --dry-run       what would go, per table\n  \
dq cleanup --older-than 180d --archive dq-archive-2026-03.ndjson\n\n\
Runs scheduled before now - DURATION go, with everything that hangs off them, a\n\
batch per transaction; each batch is archived (one JSON object a line:\n\
{\"table\": ..., \"row\": {...}}) and flushed before its delete commits. Kept: runs\n\
whose violation is still open, whose alert is being delivered, or still running.\n\
The beat can do the same on a schedule: [retention] in dq.toml."
    )]
    Cleanup(CleanupArgs),

    /// Alert delivery: run the dispatcher, look at deliveries.
    #[command(subcommand)]
    Alerts(AlertsCommand),

    /// Check every part, one line each: store, broker, workers, beat, targets, alerts, clocks.
    #[command(after_help = "Examples:\n  dq doctor\n  dq doctor --format json\n  \
dq doctor --send-test        also send a test message to every alert channel\n\n\
Checks: the store (reachable, every migration applied), the broker (reachable, queues\n\
declared), a live worker for every queue with enabled rules, the beat leader and its\n\
lag, every target (latency, server version), every alert channel's variables, and\n\
the clocks of this host and the workers against the store's.\n\n\
Exit codes: 0 every check passed; 1 at least one failed (its FAIL line says why).")]
    Doctor(DoctorArgs),

    /// Write a commented dq.toml and manifests/example.yaml for a new environment.
    #[command(
        after_help = "Examples:\n  dq init                      SQLite store, in-process broker, an example database\n  \
dq init --store postgres://dq:secret@db:5432/ops --broker redis://cache:6379/0 \\\n      \
--target warehouse=postgres://checker:secret@wh:5432/dw\n\n\
Passwords in URLs are written as ${DQ_<NAME>_PASSWORD} (NAME: STORE, BROKER or the\n\
target's), never literally; dq init says which variables to set. Existing files are\n\
kept unless --force."
    )]
    Init(InitArgs),

    /// Apply the store's migrations (other commands also do it when they open the store).
    #[command(after_help = "Example:\n  dq --config prod.toml migrate")]
    Migrate,

    /// Measure dq against a hand-written baseline.
    #[command(subcommand)]
    Bench(BenchCommand),

    /// A process-pool child of `dq worker`: runs jobs sent on stdin. Not for direct use.
    #[command(hide = true)]
    WorkerChild,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Also send a test message to every alert channel (a real send, nothing stored).
    #[arg(long)]
    pub send_test: bool,
    /// Fail when this host's or a worker's clock is further than this from the store's.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s", value_name = "DURATION")]
    pub max_clock_skew: std::time::Duration,
    /// Fail when the beat published a run of the last hour later than this after its tick.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1m", value_name = "DURATION")]
    pub max_beat_lag: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write dq.toml and manifests/.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// The store (default sqlite://dq.db).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// The broker (default memory://, for `dq serve`).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// A target the rules check, NAME=URL (repeatable); the example manifest uses the first.
    #[arg(long = "target", value_name = "NAME=URL", value_parser = parse_named_url)]
    pub targets: Vec<(String, String)>,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

fn parse_named_url(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, url)) if !name.is_empty() && !url.is_empty() => {
            Ok((name.to_string(), url.to_string()))
        }
        _ => Err(format!("{text:?} is not NAME=URL")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event: timestamp, level, message, fields, target.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Deliver pending alerts ([alerts] in dq.toml) until stopped (or --once).
    #[command(
        after_help = "Examples:\n  dq alerts dispatch              as a service (workers also dispatch unless dispatch = false)\n  \
dq alerts dispatch --once       deliver what is pending, batches and retries included, then exit\n\n\
Several dispatchers may run against one store: each delivery is claimed by one.\n\
Secrets come from the environment variables the channels name."
    )]
    Dispatch(DispatchArgs),
    /// Recent deliveries: channel, state, attempts, last error.
    #[command(
        after_help = "Examples:\n  dq alerts status\n  dq alerts status --state FAILED --state IN_DOUBT"
    )]
    Status(AlertsStatusArgs),
}

#[derive(Debug, Args)]
pub struct DispatchArgs {
    /// Deliver what is pending now, wait out batches and retries, then exit.
    #[arg(long)]
    pub once: bool,
    /// With --once: give up waiting after this long (what is left stays pending).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5m")]
    pub within: std::time::Duration,
    /// This dispatcher's name in delivery records (default: host:pid:alerts).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct AlertsStatusArgs {
    /// Only deliveries in this state (repeatable): PENDING, SENDING, SENT, FAILED, IN_DOUBT.
    #[arg(long = "state", value_parser = parse_delivery_state)]
    pub states: Vec<dq_store::DeliveryState>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

fn parse_delivery_state(text: &str) -> Result<dq_store::DeliveryState, String> {
    text.to_ascii_uppercase().parse()
}

#[derive(Debug, Args)]
pub struct AckArgs {
    /// Violation ids (from the alert, or `dq violations`).
    #[arg(required = true, value_name = "VIOLATION_ID")]
    pub ids: Vec<i64>,
    /// Who acknowledges (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
    /// Why, or what happens next.
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct ViolationsArgs {
    /// Only those nobody acknowledged yet.
    #[arg(long)]
    pub unacknowledged: bool,
    /// Only those detected within this long, e.g. 24h, 7d.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<std::time::Duration>,
    /// This severity and above.
    #[arg(long, value_parser = parse_severity)]
    pub severity: Option<Severity>,
    /// Only this rule (repeatable).
    #[arg(long = "rule", value_name = "NAME")]
    pub rules: Vec<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// One JSON object a line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Rules that failed (runs, failure rate, last failure) and rule coverage by target.
    #[command(
        after_help = "Examples:\n  dq report weekly\n  dq report weekly --days 14 --format json"
    )]
    Weekly(ReportArgs),
    /// Violations by severity (acknowledged, mean time to ack) and the rules raising the most.
    #[command(after_help = "Examples:\n  dq report alerts\n  dq report alerts --days 30 --top 20")]
    Alerts(AlertsReportArgs),
    /// The KPIs (success rate, check duration, alert response, critical pass rate,
    /// freshness) against their targets.
    #[command(
        after_help = "Examples:\n  dq report kpis\n  dq report kpis --days 30 --format json\n\n\
The targets are those Prometheus alerts on. Exit codes: 0 every KPI with data\n\
meets its target (a KPI without data is shown, not judged); 1 at least one misses it."
    )]
    Kpis(ReportArgs),
    /// Schema stability: the changes `schema_change` rules saw, per dataset,
    /// against the runbook's target of fewer than 5 a month.
    #[command(
        after_help = "Examples:\n  dq report schema --days 30\n  dq report schema --days 30 --format json\n\n\
Exit codes: 0 every dataset below 5 changes per 30 days (scaled to --days); 1 one is not."
    )]
    Schema(ReportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Tables for people.
    Text,
    /// One JSON object.
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The window: the last N days up to now.
    #[arg(long, default_value_t = 7, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub days: u32,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct AlertsReportArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// How many of the most violating rules to list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: u32,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Delete runs scheduled longer ago than this, e.g. 180d, 26weeks.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub older_than: std::time::Duration,
    /// First write every row deleted to this NDJSON file (never overwritten).
    #[arg(long, value_name = "FILE")]
    pub archive: Option<PathBuf>,
    /// Show what would be deleted and kept, per table; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Runs deleted per transaction.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub batch_size: u32,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo writes its dataset, store and dq.toml.
    #[arg(long, default_value = "dq-demo", value_name = "DIR")]
    pub dir: PathBuf,
    /// Keep results in this store instead of DIR/dq.db (e.g. postgres://user@host/db).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Manifest files (YAML).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Validate and show what would change, without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Load every rule in shadow: it runs and records but never alerts,
    /// until `dq rules promote NAME`.
    #[arg(long)]
    pub shadow: bool,
    /// Load every rule disabled (`dq rules enable NAME` starts it).
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Debug, Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("selection").required(true).multiple(false)))]
pub struct RunArgs {
    /// Run this rule (repeatable). Runs it even if it is disabled.
    #[arg(long = "rule-name", value_name = "NAME", group = "selection")]
    pub rule_names: Vec<String>,
    /// Run every enabled rule.
    #[arg(long, group = "selection")]
    pub all: bool,
    /// Run every enabled rule with this tag.
    #[arg(long, value_name = "TAG", group = "selection")]
    pub tag: Option<String>,
    /// Show the scans and rules that would run, without running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Publish the runs to the broker for the workers instead of running them here.
    #[arg(long = "async", conflicts_with = "dry_run")]
    pub publish: bool,
    /// Exit 1 when a rule of this severity or higher fails.
    #[arg(long, default_value = "HIGH", value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Failing rows shown and stored per violation.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub sample_limit: usize,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The queue to serve: dq_database, dq_compute or dq_memory.
    #[arg(short = 'Q', long, value_parser = parse_queue)]
    pub queue: dq_core::Queue,
    /// async (tokio tasks), threads (OS threads) or process (child processes).
    #[arg(long, default_value = "async")]
    pub pool: dq_worker::PoolKind,
    /// Jobs run at once.
    #[arg(short = 'c', long, default_value_t = 4)]
    pub concurrency: usize,
    /// Process pool: address-space limit of each child.
    #[arg(long)]
    pub memory_limit_mb: Option<u64>,
    /// Process pool: replace a child after this many jobs.
    #[arg(long)]
    pub max_tasks_per_child: Option<u32>,
    /// Ceiling on one job, after which it is abandoned (process pool: the child is killed).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub hard_time_limit: Option<std::time::Duration>,
    /// First retry delay after a transient error (doubling, with jitter, up to 5m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub retry_delay: Option<std::time::Duration>,
    /// How long SIGTERM waits for in-flight jobs.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub shutdown_deadline: std::time::Duration,
    /// This worker's name in heartbeats (default: host:pid:queue).
    #[arg(long)]
    pub name: Option<String>,
    /// Serve Prometheus metrics on this address (GET /metrics), e.g. 127.0.0.1:9101.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Address to listen on (default: [api] listen, else 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Jobs run at once by each queue's worker.
    #[arg(short = 'c', long, default_value_t = 2)]
    pub concurrency: usize,
    /// Address of the API and /metrics (default: [api] listen, else 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct BeatArgs {
    /// This beat's name in the leader lease (default: host:pid:beat).
    #[arg(long)]
    pub owner: Option<String>,
    /// How long the leader lease lasts without renewal, e.g. 10s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub lease_ttl: Option<std::time::Duration>,
    /// Serve Prometheus metrics on this address (GET /metrics), e.g. 127.0.0.1:9100.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectWhat {
    /// Per queue: ready, in flight, delayed, dead, consumers, oldest message age.
    Queues,
    /// Dead letters and why they died.
    Dead,
    /// Workers seen recently: pool, concurrency, processed, failed, RSS, uptime.
    Workers,
    /// Checks running now.
    Active,
    /// Next fire time of each enabled rule, and the beat leader.
    Scheduled,
    /// Runs by status over the last hour, and scheduling lag.
    Stats,
    /// Per configured target: reachable, ping latency, server version and
    /// connections (PostgreSQL by pg_stat_activity state, MongoDB from
    /// serverStatus). Exits 1 when one is unreachable.
    Targets,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    pub what: InspectWhat,
    /// Only this queue (dead).
    #[arg(long, value_parser = parse_queue)]
    pub queue: Option<dq_core::Queue>,
    /// At most this many rows.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct RequeueArgs {
    /// dq_database, dq_compute or dq_memory.
    #[arg(value_parser = parse_queue)]
    pub queue: dq_core::Queue,
    /// At most this many.
    #[arg(long)]
    pub limit: Option<usize>,
}

pub(crate) fn parse_queue(text: &str) -> Result<dq_core::Queue, String> {
    text.parse()
        .map_err(|e: dq_core::queue::UnknownQueue| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportKind {
    Violations,
    Runs,
    Rules,
    Manifest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Json,
    Ndjson,
    Csv,
    Yaml,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export.
    pub kind: ExportKind,
    /// Output file, or - for standard output.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Only records from the last N days (violations, runs).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Only this rule (repeatable).
    #[arg(long = "rule-name", value_name = "NAME")]
    pub rule_names: Vec<String>,
    /// Output format (default: from the file extension, else json).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
}

pub(crate) fn parse_severity(text: &str) -> Result<Severity, String> {
    text.parse()
        .map_err(|e: dq_core::severity::UnknownSeverity| e.to_string())
}
