//! `dq bench fleet`: the fleet end to end on the real services. A beat
//! enqueues one tick of N no-op rules (each its own job) into Redis or
//! RabbitMQ; a real `dq worker` process drains them into a PostgreSQL
//! store. Printed per broker: the broker's own limit (redis-benchmark,
//! dq-broker alone), the beat's enqueue rate, drain throughput per pool,
//! due -> stored latency at a steady low rate, and the worker's RSS idle
//! and loaded. The no-op target (`noop://`) takes the checks' own cost out;
//! `noop://?latency_ms=10` stands for a 10 ms check pushed down to a
//! database.

mod baseline;
mod cpu;
mod env;
mod latency;
mod worker_process;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::cli::BenchFleetArgs;
use crate::config::redact;
use crate::exit;
use cpu::CpuSnapshot;
use env::FleetEnv;
use worker_process::WorkerProcess;

struct Scenario {
    what: &'static str,
    target: &'static str,
    pool: &'static str,
    concurrency: usize,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        what: "no-op",
        target: "noop",
        pool: "async",
        concurrency: 16,
    },
    Scenario {
        what: "no-op",
        target: "noop",
        pool: "threads",
        concurrency: 4,
    },
    Scenario {
        what: "no-op",
        target: "noop",
        pool: "process",
        concurrency: 2,
    },
    Scenario {
        what: "10 ms I/O",
        target: "io10ms",
        pool: "async",
        concurrency: 128,
    },
];

/// The pool and concurrency of the idle-memory and latency phases.
const STEADY: (&str, usize) = ("async", 16);
const MB: f64 = 1024.0 * 1024.0;

pub async fn fleet(args: BenchFleetArgs) -> Result<u8> {
    super::ensure_database(&args.store.parse()?).await?;
    println!(
        "dq bench fleet: {} jobs of one no-op run each per scenario, store PostgreSQL {} (schema {})",
        args.jobs,
        redact(&args.store),
        env::SCHEMA
    );
    for broker in &args.brokers {
        let url = match broker.as_str() {
            "redis" => &args.redis,
            "amqp" => &args.amqp,
            other => bail!("unknown broker {other:?} (expected redis or amqp)"),
        };
        let env = FleetEnv::create(&args.store, url).await?;
        let outcome = bench_broker(&env, broker, &args).await;
        if std::env::var_os("DQ_BENCH_KEEP").is_some() {
            println!(
                "kept: schema {}, worker logs in {}",
                env::SCHEMA,
                env.keep_dir().display()
            );
        } else {
            env.drop_schema().await?;
        }
        outcome?;
    }
    Ok(exit::OK)
}

async fn bench_broker(env: &FleetEnv, broker: &str, args: &BenchFleetArgs) -> Result<()> {
    println!("\n== {broker} ({})", redact(&env.broker_url));
    let rules = env.reset("noop", args.jobs).await?;
    if broker == "redis" {
        match baseline::redis_benchmark(&env.broker_url, 200_000) {
            Ok(rates) => {
                let shown: Vec<String> = rates
                    .iter()
                    .map(|(name, rate)| format!("{name} {}/s", count(*rate)))
                    .collect();
                println!(
                    "baseline   redis-benchmark (unpipelined, 50 clients): {}",
                    shown.join(", ")
                );
            }
            Err(e) => println!("baseline   redis-benchmark not run: {e}"),
        }
    }
    let alone = baseline::broker_only(&env.broker, &rules[0], args.jobs).await?;
    println!(
        "baseline   dq-broker alone (no store, no worker): publish {}/s, take+ack {}/s",
        count(alone.publish_per_s),
        count(alone.consume_per_s)
    );

    let worker = WorkerProcess::start(
        &env.config_path(),
        &env.log_path("idle"),
        STEADY.0,
        STEADY.1,
    )?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = worker.rss();
    worker.stop().await?;
    if let Some(rss) = idle {
        println!(
            "idle       worker ({} ×{}) RSS {:.1} MB",
            STEADY.0,
            STEADY.1,
            rss as f64 / MB
        );
    }

    for scenario in &SCENARIOS {
        drain(env, scenario, args.jobs, alone.consume_per_s).await?;
    }

    let rules = env.reset("noop", args.jobs).await?;
    env.notify_on_finish().await?;
    let worker = WorkerProcess::start(
        &env.config_path(),
        &env.log_path("latency"),
        STEADY.0,
        STEADY.1,
    )?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let measured = latency::measure(env, &rules, args.rate, args.latency_for).await;
    worker.stop().await?;
    let l = measured?;
    println!(
        "latency    {}/s for {:?}, due -> stored ({} runs): p50 {}, p99 {}, max {} \
         (of which the PENDING insert {} and the publish {}, medians)",
        args.rate,
        args.latency_for,
        l.count,
        millis(l.p50),
        millis(l.p99),
        millis(l.max),
        millis(l.insert_p50),
        millis(l.publish_p50)
    );
    Ok(())
}

/// One tick of `jobs` rules enqueued by a beat, then drained by one worker.
async fn drain(env: &FleetEnv, scenario: &Scenario, jobs: usize, broker_limit: f64) -> Result<()> {
    env.reset(scenario.target, jobs).await?;
    let (enqueued, took) = env.enqueue_tick().await?;
    if enqueued != jobs as u64 {
        bail!("the beat enqueued {enqueued} runs, not {jobs}");
    }
    let name = format!("{}-{}", scenario.target, scenario.pool);
    let mut worker = WorkerProcess::start(
        &env.config_path(),
        &env.log_path(&name),
        scenario.pool,
        scenario.concurrency,
    )?;
    let started = Instant::now();
    let (cpu_before, bench_before) = (CpuSnapshot::now(), cpu::of_process("self"));
    loop {
        worker.check_alive()?;
        if env.finished_runs().await? >= jobs as u64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("{name}: not drained after 300 s");
        }
        // Coarse on purpose: each poll is a count over the runs, work the
        // server would otherwise spend on the worker's writes.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let peak_rss = worker.peak_rss().unwrap_or(0);
    let cpu_after = CpuSnapshot::now();
    let spent = [
        ("worker", worker.cpu()),
        ("postgres", cpu_after.since(&cpu_before, "postgres")),
        (
            broker_program(&env.broker_url),
            cpu_after.since(&cpu_before, broker_program(&env.broker_url)),
        ),
        (
            "this benchmark",
            cpu::of_process("self").saturating_sub(bench_before),
        ),
    ];
    worker.stop().await?;
    let (not_passed, retried) = env.anomalies().await?;
    if not_passed + retried > 0 {
        bail!("{name}: {not_passed} runs not PASSED, {retried} run more than once");
    }
    let rate = jobs as f64 / elapsed.as_secs_f64();
    println!(
        "enqueue    beat tick of {jobs} runs: {} = {}/s",
        millis(took),
        count(jobs as f64 / took.as_secs_f64())
    );
    println!(
        "drain      {:<9} {:>7} ×{:<3} {jobs} runs stored in {:.2} s = {:>6}/s ({:.0}% of dq-broker alone), worker RSS peak {:.1} MB",
        scenario.what,
        scenario.pool,
        scenario.concurrency,
        elapsed.as_secs_f64(),
        count(rate),
        100.0 * rate / broker_limit,
        peak_rss as f64 / MB
    );
    let per_run: Vec<String> = spent
        .iter()
        .map(|(who, cpu)| format!("{who} {:.0} µs", cpu.as_secs_f64() * 1e6 / jobs as f64))
        .collect();
    println!("           CPU per run: {}", per_run.join(", "));
    Ok(())
}

/// The broker server's program name, as /proc knows it.
fn broker_program(url: &str) -> &'static str {
    if url.starts_with("redis") {
        "redis-server"
    } else {
        "beam.smp"
    }
}

fn count(per_second: f64) -> String {
    dq_core::format::value(dq_core::Unit::Count, per_second.round())
}

fn millis(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
