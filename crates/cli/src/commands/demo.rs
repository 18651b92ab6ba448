//! `dq demo`: the first thing a newcomer runs. Builds a SQLite shop with
//! seeded problems, writes a dq.toml next to it, loads manifests/demo.yaml,
//! runs every rule and prints the report.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use dq_store::{RuleFilter, Store};

use crate::cli::DemoArgs;
use crate::commands::load::{validate_and_plan, Source};
use crate::config::{redact, Config};
use crate::demo_data;
use crate::exit;
use crate::report;
use crate::runner::{run_rules, RunOptions};

pub const DEMO_MANIFEST: &str = include_str!("../../../../manifests/demo.yaml");
pub const DEMO_MANIFEST_PATH: &str = "manifests/demo.yaml";

pub async fn run(args: DemoArgs) -> Result<u8> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("cannot resolve {}", args.dir.display()))?;
    let dataset = dir.join("shop.db");
    let config_path = dir.join("dq.toml");

    println!("dq demo: building a demo shop with seeded data-quality problems");
    demo_data::create(&dataset, Utc::now()).await?;
    println!(
        "  dataset  {}  ({} orders, {} customers, {} shipments)",
        dataset.display(),
        demo_data::ORDERS,
        demo_data::CUSTOMERS,
        demo_data::SHIPMENTS
    );
    let store_line = store_setting(&dir, args.store.as_deref());
    write_config(&config_path, &dir, &store_line)?;
    println!("  config   {}", config_path.display());

    let config = match &args.store {
        // The written file may hold ${DQ_STORE_URL}: read it with the real URL.
        Some(url) => Config::parse(
            &std::fs::read_to_string(&config_path)?,
            &config_path.display().to_string(),
            &dir,
            &|name| {
                (name == "DQ_STORE_URL")
                    .then(|| url.clone())
                    .or_else(|| std::env::var(name).ok())
            },
        )?,
        None => Config::from_file(&config_path)?,
    };
    let store = Store::open(&config.store_url)
        .await
        .with_context(|| format!("cannot open the store {}", redact(&config.store_url)))?;
    println!("  store    {}", redact(&config.store_url));
    let source = Source {
        path: DEMO_MANIFEST_PATH.into(),
        text: DEMO_MANIFEST.into(),
    };
    match validate_and_plan(&config, &store, &[source], false, Default::default()).await? {
        Ok(plans) => {
            for (_, plan) in &plans {
                println!(
                    "  rules    {} loaded from {DEMO_MANIFEST_PATH} ({} new, {} changed)",
                    plan.created.len() + plan.changed.len() + plan.unchanged.len(),
                    plan.created.len(),
                    plan.changed.len()
                );
            }
        }
        Err(errors) => bail!("the demo manifest is invalid:\n{}", errors.join("\n")),
    }
    let rules: Vec<_> = store
        .rules(&RuleFilter {
            enabled_only: true,
            ..RuleFilter::default()
        })
        .await?
        .into_iter()
        .map(|r| r.rule)
        .filter(|r| r.target == "shop")
        .collect();
    println!("\nRunning {} rules...\n", rules.len());
    let options = RunOptions {
        sample_limit: 5,
        show_progress: std::io::stderr().is_terminal(),
    };
    let results = run_rules(&store, &config, &rules, &options).await?;
    print!("{}", report::render(&results));
    let config_arg = config_path.display();
    println!(
        "\nEvery run, violation and metric is stored in {}.\nNext:\n  \
dq --config {config_arg} run --all                 run the rules again\n  \
dq --config {config_arg} export violations - --days 1\n  \
dq --config {config_arg} export manifest rules.yaml",
        redact(&config.store_url)
    );
    Ok(exit::OK)
}

/// The `store = ...` value for the demo's dq.toml. A URL with a password is
/// not written to disk: the file refers to $DQ_STORE_URL instead.
fn store_setting(dir: &Path, store: Option<&str>) -> String {
    match store {
        None => format!("sqlite://{}", dir.join("dq.db").display()),
        Some(url) if redact(url) != url => "${DQ_STORE_URL}".to_string(),
        Some(url) => url.to_string(),
    }
}

fn write_config(path: &Path, dir: &Path, store: &str) -> Result<()> {
    let text = format!(
        "# Written by `dq demo`.\nstore = \"{store}\"\n\n[targets.shop]\nurl = \"sqlite://{}\"\n",
        dir.join("shop.db").display()
    );
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
