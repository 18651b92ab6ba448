//! `dq rules`: the rule lifecycle's arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use dq_core::Severity;

use super::{parse_queue, parse_severity, ReportFormat};

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Rules with their state, filtered.
    #[command(
        after_help = "Examples:\n  dq rules list\n  dq rules list --target warehouse --severity CRITICAL\n  \
dq rules list --no-sampling --min-sample-size 50000    rules scanning whole big tables\n  \
dq rules list --disabled --format json"
    )]
    List(RulesListArgs),
    /// One rule: definition, version, next fire times, last runs, open violations.
    #[command(after_help = "Example:\n  dq rules show orders_fresh")]
    Show(RuleNameArgs),
    /// Enable rules (each change is a new version).
    #[command(after_help = "Example:\n  dq rules enable orders_fresh orders_nulls")]
    Enable(RuleNamesArgs),
    /// Disable rules: they stop being scheduled; their history stays.
    #[command(after_help = "Example:\n  dq rules disable orders_fresh")]
    Disable(RuleNamesArgs),
    /// Turn alerting on for rules loaded in shadow (`dq load --shadow`).
    #[command(after_help = "Example:\n  dq rules promote orders_fresh")]
    Promote(RuleNamesArgs),
    /// Every version of a rule: who changed what, when, with the diff.
    #[command(
        after_help = "Examples:\n  dq rules history orders_fresh\n  dq rules history orders_fresh --format json"
    )]
    History(RuleHistoryArgs),
    /// Restore a rule as it was at an earlier version (itself a new version).
    #[command(
        after_help = "Example:\n  dq rules history orders_fresh           find the version\n  \
dq rules rollback orders_fresh --to 3"
    )]
    Rollback(RollbackArgs),
    /// Retire rules. Refused while a rule is enabled unless --force.
    #[command(
        after_help = "Examples:\n  dq rules disable orders_old && dq rules delete orders_old --keep-history\n  \
dq rules delete orders_old --archive orders_old.ndjson     runs and violations archived, then deleted\n\n\
--keep-history keeps the rule's runs, violations and versions (the rule is hidden and never\n\
scheduled; loading its name again brings it back). Without it everything of the rule is\n\
deleted, written first to --archive when given."
    )]
    Delete(RuleDeleteArgs),
}

#[derive(Debug, Args)]
pub struct RulesListArgs {
    #[arg(long)]
    pub target: Option<String>,
    #[arg(long)]
    pub dataset: Option<String>,
    #[arg(long, value_parser = parse_queue)]
    pub queue: Option<dq_core::Queue>,
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long)]
    pub owner: Option<String>,
    #[arg(long, value_parser = parse_severity)]
    pub severity: Option<Severity>,
    /// Only enabled rules.
    #[arg(long, conflicts_with = "disabled")]
    pub enabled: bool,
    /// Only disabled rules.
    #[arg(long)]
    pub disabled: bool,
    /// Only rules in shadow (never alerting).
    #[arg(long)]
    pub shadow: bool,
    /// Only rules that scan the whole table (no use_sampling).
    #[arg(long)]
    pub no_sampling: bool,
    /// Only rules whose sample (or, with --no-sampling, nothing) is at least N rows.
    #[arg(long, value_name = "N")]
    pub min_sample_size: Option<u64>,
    /// Also rules deleted with their history kept.
    #[arg(long)]
    pub deleted: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct RuleNameArgs {
    pub name: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct RuleNamesArgs {
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RuleHistoryArgs {
    pub name: String,
    /// Only the list of versions, no diffs.
    #[arg(long)]
    pub no_diff: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    pub name: String,
    /// The version to restore (see `dq rules history NAME`).
    #[arg(long, value_name = "VERSION")]
    pub to: u32,
}

#[derive(Debug, Args)]
pub struct RuleDeleteArgs {
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Keep the rule's runs, violations and versions (the rule is hidden).
    #[arg(long, conflicts_with = "archive")]
    pub keep_history: bool,
    /// Delete even an enabled rule.
    #[arg(long)]
    pub force: bool,
    /// Write the rule's runs, violations, metrics and versions here (NDJSON) before deleting.
    #[arg(long, value_name = "FILE")]
    pub archive: Option<PathBuf>,
}
