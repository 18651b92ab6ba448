//! `dq run`: run the selected rules now, in this process, store the results,
//! print the report, and exit non-zero when a pipeline should stop.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{bail, Result};
use dq_core::{Rule, RunStatus, Severity};
use dq_store::{RuleFilter, Store};

use crate::cli::RunArgs;
use crate::exit;
use crate::report;
use crate::runner::{run_rules, RuleResult, RunOptions};

pub async fn run(config_path: Option<&Path>, args: RunArgs) -> Result<u8> {
    let (config, store) = super::open(config_path).await?;
    let rules = select(&store, &args).await?;
    if rules.is_empty() {
        println!("No enabled rule matches; nothing to run. Load rules with `dq load FILE`.");
        return Ok(exit::OK);
    }
    if args.dry_run {
        print!("{}", describe_plan(&rules));
        println!("dry run: nothing was executed.");
        return Ok(exit::OK);
    }
    if args.publish {
        return publish(&config, &store, rules).await;
    }
    let options = RunOptions {
        sample_limit: args.sample_limit,
        show_progress: std::io::stderr().is_terminal(),
    };
    let results = run_rules(&store, &config, &rules, &options).await?;
    print!("{}", report::render(&results));
    Ok(exit_code(&results, args.fail_on))
}

async fn select(store: &Store, args: &RunArgs) -> Result<Vec<Rule>> {
    if !args.rule_names.is_empty() {
        let filter = RuleFilter {
            names: args.rule_names.clone(),
            ..RuleFilter::default()
        };
        let found = store.rules(&filter).await?;
        let missing: Vec<&String> = args
            .rule_names
            .iter()
            .filter(|n| !found.iter().any(|r| r.rule.name.as_str() == n.as_str()))
            .collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            bail!(
                "no rule named {} in the store (see `dq export rules -`)",
                names.join(", ")
            );
        }
        return Ok(found.into_iter().map(|r| r.rule).collect());
    }
    let filter = RuleFilter {
        tag: args.tag.clone(),
        enabled_only: true,
        ..RuleFilter::default()
    };
    Ok(store
        .rules(&filter)
        .await?
        .into_iter()
        .map(|r| r.rule)
        .collect())
}

/// 1 when a rule at or above `fail_on` failed; else 3 when a check could not
/// run; else 0. Warnings never fail a pipeline.
pub fn exit_code(results: &[RuleResult], fail_on: Severity) -> u8 {
    let failed = results
        .iter()
        .any(|r| r.status == RunStatus::Failed && r.severity.is_some_and(|s| s >= fail_on));
    let errored = results
        .iter()
        .any(|r| matches!(r.status, RunStatus::Error | RunStatus::Timeout));
    if failed {
        exit::FAILED
    } else if errored {
        exit::CHECK_ERROR
    } else {
        exit::OK
    }
}

/// `--async`: the runs go to the broker as the beat would send them; the
/// workers execute and store them.
async fn publish(config: &crate::config::Config, store: &Store, rules: Vec<Rule>) -> Result<u8> {
    let broker = super::connect_broker(config).await?;
    let now = chrono::Utc::now();
    let due: Vec<dq_beat::DueRun> = rules
        .into_iter()
        .map(|rule| dq_beat::DueRun {
            rule,
            scheduled_for: now,
        })
        .collect();
    let runs: Vec<dq_store::NewRun> = due
        .iter()
        .map(|d| dq_store::NewRun::for_rule(&d.rule, now, RunStatus::Pending))
        .collect();
    store.enqueue_runs(None, &runs).await?;
    let envelopes = dq_beat::envelopes(due, config.broker.max_attempts, now);
    for envelope in &envelopes {
        broker.publish(envelope).await?;
        let ids: Vec<_> = envelope.job.runs.iter().map(|r| r.run_id).collect();
        store.mark_enqueued(&ids, chrono::Utc::now()).await?;
        println!(
            "published {} run(s) of {} to {}",
            ids.len(),
            envelope.job.dataset,
            envelope.queue
        );
    }
    println!(
        "{} job(s) published; follow them with `dq inspect active` and `dq export runs -`.",
        envelopes.len()
    );
    Ok(exit::OK)
}

fn describe_plan(rules: &[Rule]) -> String {
    let refs: Vec<&Rule> = rules.iter().collect();
    let plans = dq_core::plan(&refs);
    let mut out = format!("{} rules in {} scans:\n", rules.len(), plans.len());
    for plan in &plans {
        let scope = if plan.scope.is_whole_table() {
            String::new()
        } else {
            format!(
                " (scope: {})",
                serde_json::to_string(&plan.scope).unwrap_or_default()
            )
        };
        out.push_str(&format!(
            "\n  {}.{}{scope}\n    one scan computing {} aggregate(s), plus {} separate query(ies)\n",
            plan.target,
            plan.dataset,
            plan.scan_aggregates().count(),
            plan.separate_queries().count()
        ));
        for rule in &plan.rules {
            out.push_str(&format!(
                "    - {} ({}, {})\n",
                rule.name,
                rule.check.kind(),
                rule.severity
            ));
        }
    }
    out
}
