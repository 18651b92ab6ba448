//! `dq bench`: the benchmarks' arguments.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// dq vs the hand-written floor SQL on the reference orders dataset in PostgreSQL.
    #[command(
        after_help = "Examples:\n  dq bench postgres                      1M rows (generated on first use)\n  \
dq bench postgres --rows 10000000      10M rows (about 1.2 GB, ~1 min to generate)\n\n\
Prints each round, the medians, the ratio dq/floor, statements issued and peak RSS."
    )]
    Postgres(BenchPostgresArgs),
    /// The fleet end to end: beat -> Redis/RabbitMQ -> `dq worker` -> PostgreSQL.
    #[command(
        after_help = "Examples:\n  dq bench fleet                          both brokers, 20000 jobs per scenario\n  \
dq bench fleet --brokers redis --jobs 50000\n\n\
Prints the broker's own limit, the beat's enqueue rate, drain throughput per pool \
(no-op and 10 ms I/O checks), due -> stored latency at a steady rate, and worker RSS. \
Uses its own schema (dq_bench_fleet) and broker prefix, dropped at the end."
    )]
    Fleet(BenchFleetArgs),
}

#[derive(Debug, Args)]
pub struct BenchFleetArgs {
    /// The PostgreSQL server holding the benchmark's store (database created if missing).
    #[arg(
        long,
        env = "DQ_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/dq_bench"
    )]
    pub store: String,
    #[arg(
        long,
        env = "DQ_BENCH_REDIS_URL",
        default_value = "redis://127.0.0.1:6379/0"
    )]
    pub redis: String,
    #[arg(
        long,
        env = "DQ_BENCH_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp: String,
    /// Which brokers to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "redis,amqp")]
    pub brokers: Vec<String>,
    /// Jobs (one run each) per scenario.
    #[arg(long, default_value_t = 20_000)]
    pub jobs: usize,
    /// Jobs per second in the latency phase.
    #[arg(long, default_value_t = 50)]
    pub rate: u32,
    /// How long the latency phase publishes.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub latency_for: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct BenchPostgresArgs {
    /// The benchmark database (created if missing; public.orders is replaced).
    #[arg(
        long,
        env = "DQ_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/dq_bench"
    )]
    pub url: String,
    /// Rows in public.orders.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Timed rounds (after one warm-up round).
    #[arg(long, default_value_t = 5)]
    pub repeat: u32,
    /// Do not fetch failing-row samples.
    #[arg(long)]
    pub no_samples: bool,
    /// Rebuild the dataset even if it has the requested size.
    #[arg(long)]
    pub regenerate: bool,
}
