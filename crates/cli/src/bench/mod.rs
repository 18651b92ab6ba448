//! `dq bench postgres`: dq against the hand-written floor on the reference
//! dataset (bench/postgres, a copy of the published benchmark's scripts).
//! Both run in this process over the same driver, alternating, so machine
//! noise hits both; the figure that matters is the ratio of the medians.

mod fleet;
pub(crate) mod measure;
mod psql_script;

use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use dq_core::manifest::{load_manifests, ManifestFile};
use dq_core::{Rule, RunStatus};
use dq_targets::{ExecuteOptions, QueryStats, RuleOutcome, Target};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::cli::BenchPostgresArgs;
use crate::config::redact;
use crate::exit;
use measure::{peak_rss_bytes, seconds, Samples};

pub use fleet::fleet;

const GENERATOR: &str = include_str!("../../../../bench/postgres/orders.sql");
const FLOOR_METRICS: &str = include_str!("../../../../bench/postgres/floor_metrics.sql");
const FLOOR_DUPS: &str = include_str!("../../../../bench/postgres/floor_dups.sql");
const SUITE: &str = include_str!("../../../../bench/postgres/suite.yaml");
const SUITE_PATH: &str = "bench/postgres/suite.yaml";

pub async fn postgres(args: BenchPostgresArgs) -> Result<u8> {
    let options: PgConnectOptions = args
        .url
        .parse()
        .with_context(|| format!("invalid PostgreSQL URL {}", redact(&args.url)))?;
    ensure_database(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .with_context(|| format!("cannot connect to {}", redact(&args.url)))?;
    ensure_dataset(&pool, args.rows, args.regenerate).await?;

    let rules = suite()?;
    let refs: Vec<&Rule> = rules.iter().collect();
    let plans = dq_core::plan(&refs);
    let target = Target::connect("bench", &args.url).await?;
    let floor: Vec<String> = [FLOOR_METRICS, FLOOR_DUPS]
        .iter()
        .flat_map(|s| psql_script::statements(s, &[("tbl", "orders")]))
        .collect();
    let execute_options = ExecuteOptions {
        now: Utc::now(),
        sample_limit: if args.no_samples { 0 } else { 5 },
    };

    println!(
        "dq bench postgres: public.orders, {} rows, {} rules, {} repetitions after 1 warm-up, samples {}",
        format_count(args.rows),
        rules.len(),
        args.repeat,
        if args.no_samples { "off" } else { "on (5 per failed rule)" }
    );
    let (mut floor_times, mut dq_times) = (Samples::default(), Samples::default());
    let mut last_outcomes = Vec::new();
    let mut dq_stats = QueryStats::default();
    for round in 0..=args.repeat {
        let started = Instant::now();
        for statement in &floor {
            sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                .fetch_all(&pool)
                .await
                .context("the floor query failed")?;
        }
        let floor_time = started.elapsed();

        let before = target.query_stats();
        let started = Instant::now();
        let mut outcomes: Vec<RuleOutcome> = Vec::new();
        for plan in &plans {
            outcomes.extend(dq_targets::execute(&target, plan, &execute_options).await);
        }
        let dq_time = started.elapsed();
        dq_stats = target.query_stats().since(&before);

        if round == 0 {
            println!(
                "  warm-up: floor {}, dq {}",
                seconds(floor_time),
                seconds(dq_time)
            );
            continue;
        }
        println!(
            "  round {round}: floor {}, dq {}",
            seconds(floor_time),
            seconds(dq_time)
        );
        floor_times.push(floor_time);
        dq_times.push(dq_time);
        last_outcomes = outcomes;
    }
    report(
        &floor_times,
        &dq_times,
        floor.len(),
        &dq_stats,
        &last_outcomes,
    );
    if let Some(error) = last_outcomes
        .iter()
        .find(|o| matches!(o.verdict.status, RunStatus::Error | RunStatus::Timeout))
    {
        bail!("rule {} did not run: {}", error.rule, error.verdict.message);
    }
    Ok(exit::OK)
}

fn report(
    floor: &Samples,
    dq: &Samples,
    floor_statements: usize,
    stats: &QueryStats,
    outcomes: &[RuleOutcome],
) {
    let ratio = dq.median().as_secs_f64() / floor.median().as_secs_f64().max(1e-9);
    println!("\n             median     min        max");
    for (name, s) in [("floor", floor), ("dq", dq)] {
        println!(
            "  {name:<9}  {:<9}  {:<9}  {}",
            seconds(s.median()),
            seconds(s.min()),
            seconds(s.max())
        );
    }
    println!("\n  ratio dq/floor (medians): {ratio:.3}x");
    println!(
        "  statements per run: floor {floor_statements}; dq {} ({} catalogue, {} aggregate, {} group-by, {} custom, {} sample)",
        stats.total(),
        stats.catalogue,
        stats.aggregate,
        stats.group_by,
        stats.custom,
        stats.sample
    );
    let failed = outcomes
        .iter()
        .filter(|o| o.verdict.status == RunStatus::Failed)
        .count();
    let samples: usize = outcomes.iter().map(|o| o.samples.len()).sum();
    println!(
        "  verdicts: {failed} failed, {} passed; {samples} failing rows sampled",
        outcomes
            .iter()
            .filter(|o| o.verdict.status == RunStatus::Passed)
            .count()
    );
    match peak_rss_bytes() {
        Some(bytes) => println!(
            "  peak RSS of the dq process: {:.1} MiB",
            bytes as f64 / 1048576.0
        ),
        None => println!("  peak RSS of the dq process: not available on this OS"),
    }
}

fn suite() -> Result<Vec<Rule>> {
    load_manifests(
        &[ManifestFile {
            path: SUITE_PATH,
            text: SUITE,
        }],
        &|target| target == "bench",
    )
    .map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("the benchmark suite is invalid:\n{}", lines.join("\n"))
    })
}

/// Creates the benchmark database when it does not exist yet.
pub(super) async fn ensure_database(options: &PgConnectOptions) -> Result<()> {
    let database = options.get_database().unwrap_or("postgres").to_string();
    if options.clone().connect().await.is_ok() {
        return Ok(());
    }
    let admin = options.clone().database("postgres");
    let mut conn = admin
        .connect()
        .await
        .context("cannot connect to the postgres database to create the benchmark database")?;
    let ident = dq_core::Identifier::new(database.as_str())
        .with_context(|| format!("unusual database name {database:?}"))?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {}",
        ident.quoted()
    )))
    .execute(&mut conn)
    .await
    .with_context(|| format!("cannot create database {database}"))?;
    Ok(())
}

/// Generates public.orders with `rows` rows unless it is already there.
async fn ensure_dataset(pool: &PgPool, rows: u64, regenerate: bool) -> Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS public.dq_bench_meta (nrows bigint NOT NULL)")
        .execute(pool)
        .await?;
    let existing: Option<i64> = sqlx::query_scalar("SELECT max(nrows) FROM public.dq_bench_meta")
        .fetch_one(pool)
        .await?;
    if !regenerate && existing == Some(rows as i64) {
        println!(
            "reusing public.orders ({} rows); --regenerate to rebuild it",
            format_count(rows)
        );
        return Ok(());
    }
    println!(
        "generating public.orders with {} rows (bench/postgres/orders.sql)...",
        format_count(rows)
    );
    let started = Instant::now();
    let nrows = rows.to_string();
    for statement in psql_script::statements(GENERATOR, &[("nrows", &nrows)]) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .context("generating the dataset failed")?;
    }
    sqlx::query("DELETE FROM public.dq_bench_meta")
        .execute(pool)
        .await?;
    sqlx::query("INSERT INTO public.dq_bench_meta (nrows) VALUES ($1)")
        .bind(rows as i64)
        .execute(pool)
        .await?;
    println!("  generated in {}", seconds(started.elapsed()));
    Ok(())
}

fn format_count(n: u64) -> String {
    dq_core::format::value(dq_core::Unit::Count, n as f64)
}
