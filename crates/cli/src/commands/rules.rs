//! `dq rules`: the rule lifecycle from the command line. Every change is a
//! new version in the store (who: `DQ_ACTOR`, else `USER`), so `history`
//! shows what changed and `rollback` undoes it.

use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use dq_core::manifest::export_manifest;
use dq_core::Rule;
use dq_store::{
    NdjsonArchive, RuleFilter, RuleVersion, RunFilter, Store, StoredRule, ViolationFilter,
};

use super::table;
use crate::cli::{
    ReportFormat, RuleDeleteArgs, RuleHistoryArgs, RuleNameArgs, RulesCommand, RulesListArgs,
};
use crate::exit;

pub async fn run(config_path: Option<&Path>, command: RulesCommand) -> Result<u8> {
    let (_, store) = super::open(config_path).await?;
    match command {
        RulesCommand::List(args) => list(&store, args).await,
        RulesCommand::Show(args) => show(&store, args).await,
        RulesCommand::Enable(args) => switch(&store, &args.names, Switch::Enable).await,
        RulesCommand::Disable(args) => switch(&store, &args.names, Switch::Disable).await,
        RulesCommand::Promote(args) => switch(&store, &args.names, Switch::Promote).await,
        RulesCommand::History(args) => history(&store, args).await,
        RulesCommand::Rollback(args) => {
            let stored = store.rollback_rule(&args.name, args.to).await?;
            println!(
                "{}: rolled back to v{} (now v{})",
                args.name, args.to, stored.version
            );
            Ok(exit::OK)
        }
        RulesCommand::Delete(args) => delete(&store, args).await,
    }
}

async fn list(store: &Store, args: RulesListArgs) -> Result<u8> {
    let filter = RuleFilter {
        tag: args.tag.clone(),
        enabled_only: args.enabled,
        disabled_only: args.disabled,
        target: args.target.clone(),
        dataset: args.dataset.clone(),
        queue: args.queue,
        severity: args.severity,
        owner: args.owner.clone(),
        include_deleted: args.deleted,
        ..RuleFilter::default()
    };
    let rules: Vec<StoredRule> = store
        .rules(&filter)
        .await?
        .into_iter()
        .filter(|r| !args.shadow || r.rule.shadow)
        .filter(|r| !args.no_sampling || r.rule.scope.sample_size.is_none())
        .filter(|r| match args.min_sample_size {
            // Without sampling a rule reads every row: as big as it gets.
            Some(n) => r.rule.scope.sample_size.is_none_or(|size| size >= n),
            None => true,
        })
        .collect();
    if args.format == ReportFormat::Json {
        let rows: Vec<serde_json::Value> = rules.iter().map(summary_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(exit::OK);
    }
    let mut t = table(&[
        "NAME", "STATE", "SEVERITY", "TARGET", "DATASET", "CHECK", "QUEUE", "SCHEDULE", "SAMPLE",
        "VERSION",
    ]);
    for stored in &rules {
        let rule = &stored.rule;
        t.add_row(vec![
            rule.name.to_string(),
            state(stored),
            rule.severity.as_str().to_string(),
            rule.target.clone(),
            rule.dataset.to_string(),
            rule.check.kind().to_string(),
            rule.queue.as_str().to_string(),
            rule.schedule.expression().to_string(),
            rule.scope
                .sample_size
                .map_or("all rows".to_string(), |n| n.to_string()),
            format!("v{}", stored.version),
        ]);
    }
    println!("{t}");
    println!("{} rule(s)", rules.len());
    Ok(exit::OK)
}

fn state(stored: &StoredRule) -> String {
    let rule = &stored.rule;
    match (stored.deleted_at, rule.enabled, rule.shadow) {
        (Some(_), _, _) => "deleted".into(),
        (None, false, _) => "disabled".into(),
        (None, true, true) => "shadow".into(),
        (None, true, false) => "enabled".into(),
    }
}

fn summary_json(stored: &StoredRule) -> serde_json::Value {
    serde_json::json!({
        "name": stored.rule.name.as_str(),
        "state": state(stored),
        "version": stored.version,
        "source": stored.source,
        "updated_at": stored.updated_at,
        "definition": dq_core::manifest::export_rule_json(&stored.rule),
    })
}

async fn show(store: &Store, args: RuleNameArgs) -> Result<u8> {
    let Some(stored) = store.rule_by_name(&args.name).await? else {
        bail!("no rule named {:?}", args.name);
    };
    let runs = store
        .runs(&RunFilter {
            rule_names: vec![args.name.clone()],
            limit: Some(10),
            ..RunFilter::default()
        })
        .await?;
    let open = store
        .violations(&ViolationFilter {
            rule_names: vec![args.name.clone()],
            unacknowledged_only: true,
            limit: Some(20),
            ..ViolationFilter::default()
        })
        .await?;
    let open: Vec<_> = open
        .into_iter()
        .filter(|v| v.resolved_at.is_none())
        .collect();
    let next = next_fires(&stored.rule, Utc::now(), 5);
    if args.format == ReportFormat::Json {
        let mut json = summary_json(&stored);
        json["next_fire_times"] = serde_json::json!(next);
        json["last_runs"] = serde_json::to_value(&runs)?;
        json["open_violations"] = serde_json::to_value(&open)?;
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(exit::OK);
    }
    println!(
        "{}: {} (v{}, source {}, updated {})\n",
        stored.rule.name,
        state(&stored),
        stored.version,
        stored.source.as_deref().unwrap_or("-"),
        stored.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    print!("{}", definition_text(&stored.rule));
    if stored.rule.enabled && stored.deleted_at.is_none() {
        println!("\nNext fire times (UTC):");
        for at in &next {
            println!("  {}", at.format("%Y-%m-%d %H:%M:%S"));
        }
    }
    let mut t = table(&[
        "SCHEDULED (UTC)",
        "STATUS",
        "OBSERVED",
        "DURATION",
        "VERSION",
    ]);
    for run in &runs {
        t.add_row(vec![
            run.scheduled_for.format("%Y-%m-%d %H:%M:%S").to_string(),
            run.status.as_str().to_string(),
            run.observed_value.map_or("-".into(), |v| v.to_string()),
            run.duration_ms.map_or("-".into(), |ms| format!("{ms} ms")),
            run.rule_version.map_or("-".into(), |v| format!("v{v}")),
        ]);
    }
    println!("\nLast runs:\n{t}");
    let mut t = table(&["ID", "DETECTED (UTC)", "SEVERITY", "MESSAGE"]);
    for v in &open {
        t.add_row(vec![
            v.id.to_string(),
            v.detected_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            v.severity.as_str().to_string(),
            v.message.clone(),
        ]);
    }
    println!("\nOpen violations ({}):\n{t}", open.len());
    Ok(exit::OK)
}

fn next_fires(rule: &Rule, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut at = from;
    let mut fires = Vec::with_capacity(n);
    while fires.len() < n {
        match rule.schedule.next_after(at) {
            Some(next) => {
                fires.push(next);
                at = next;
            }
            None => break,
        }
    }
    fires
}

/// The rule as the manifest entry `dq load` takes (without the header).
fn definition_text(rule: &Rule) -> String {
    export_manifest(std::slice::from_ref(rule))
        .lines()
        .skip_while(|l| !l.starts_with("rules:"))
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Switch {
    Enable,
    Disable,
    Promote,
}

async fn switch(store: &Store, names: &[String], how: Switch) -> Result<u8> {
    for name in names {
        let before = store.rule_by_name(name).await?.map(|r| r.version);
        let stored = match how {
            Switch::Enable => store.set_rule_enabled(name, true).await,
            Switch::Disable => store.set_rule_enabled(name, false).await,
            Switch::Promote => store.promote_rule(name).await,
        }
        .with_context(|| format!("rule {name}"))?;
        let done = match how {
            Switch::Enable => "enabled",
            Switch::Disable => "disabled",
            Switch::Promote => "promoted: alerts on",
        };
        if before == Some(stored.version) {
            println!("{name}: already {done} (v{})", stored.version);
        } else {
            println!("{name}: {done} (v{})", stored.version);
        }
    }
    Ok(exit::OK)
}

async fn history(store: &Store, args: RuleHistoryArgs) -> Result<u8> {
    let versions = store.rule_history(&args.name).await?;
    if versions.is_empty() {
        bail!("no rule named {:?}", args.name);
    }
    if args.format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&versions)?);
        return Ok(exit::OK);
    }
    let mut previous: Option<String> = None;
    for version in &versions {
        println!(
            "v{}  {}  {}  {}{}",
            version.version,
            version.changed_at.format("%Y-%m-%d %H:%M:%S UTC"),
            version.changed_by,
            version.change,
            fields_note(version)
        );
        let text = version_text(version);
        if !args.no_diff {
            if let Some(before) = &previous {
                print!("{}", diff(before, &text));
            }
        }
        previous = Some(text);
    }
    Ok(exit::OK)
}

fn fields_note(version: &RuleVersion) -> String {
    if version.fields.is_empty() {
        String::new()
    } else {
        format!(" ({})", version.fields.join(", "))
    }
}

/// A version's definition as manifest text, or its JSON if it no longer
/// reads as a rule of this build.
fn version_text(version: &RuleVersion) -> String {
    match serde_json::from_value::<Rule>(version.definition.clone()) {
        Ok(rule) => definition_text(&rule),
        Err(_) => serde_json::to_string_pretty(&version.definition).unwrap_or_default() + "\n",
    }
}

/// The changed lines, `-` before and `+` after, indented under the version.
fn diff(before: &str, after: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => continue,
        };
        out.push_str(&format!("      {sign} {}", change.value()));
        if change.missing_newline() {
            out.push('\n');
        }
    }
    out
}

async fn delete(store: &Store, args: RuleDeleteArgs) -> Result<u8> {
    let mut archive = match &args.archive {
        Some(path) => Some(
            NdjsonArchive::create(path)
                .with_context(|| format!("cannot create the archive {}", path.display()))?,
        ),
        None => None,
    };
    for name in &args.names {
        if args.keep_history {
            let stored = store
                .retire_rule(name, args.force)
                .await
                .with_context(|| format!("rule {name}"))?;
            println!(
                "{name}: deleted, history kept (v{}); loading it again brings it back",
                stored.version
            );
            continue;
        }
        let sink = archive
            .as_mut()
            .map(|a| a as &mut dyn dq_store::ArchiveSink);
        let report = store
            .purge_rule(name, args.force, 1000, sink)
            .await
            .with_context(|| format!("rule {name}"))?;
        println!(
            "{name}: deleted with {} run(s), {} violation(s), {} metric point(s)",
            report.deleted("runs"),
            report.deleted("violations"),
            report.deleted("metrics")
        );
    }
    if let Some(archive) = &archive {
        println!(
            "archived {} row(s) to {}",
            archive.rows(),
            archive.path().display()
        );
    }
    Ok(exit::OK)
}
