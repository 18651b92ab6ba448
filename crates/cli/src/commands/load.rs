//! `dq load`: validate every manifest, then create/update/disable rules in
//! one transaction, or (with --dry-run) only say what would happen.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dq_core::manifest::{load_manifests, ManifestFile};
use dq_store::{LoadPlan, Store};

use crate::cli::LoadArgs;
use crate::config::Config;
use crate::exit;

pub async fn run(config_path: Option<&Path>, args: LoadArgs) -> Result<u8> {
    let (config, store) = super::open(config_path).await?;
    let sources = read_files(&args.files)?;
    let staging = Staging {
        shadow: args.shadow,
        disabled: args.disabled,
    };
    let plans = match validate_and_plan(&config, &store, &sources, args.dry_run, staging).await? {
        Ok(plans) => plans,
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            eprintln!(
                "\n{} problem{} found; nothing was changed.",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            return Ok(exit::FAILED);
        }
    };
    for (source, plan) in &plans {
        print!("{}", describe(source, plan));
    }
    for note in ignored_tuning_notes(&config, &sources) {
        eprintln!("{note}");
    }
    if args.dry_run {
        println!("dry run: nothing was written.");
    }
    Ok(exit::OK)
}

pub struct Source {
    /// The path as given, used in messages and as the rules' source.
    pub path: String,
    pub text: String,
}

pub fn read_files(files: &[PathBuf]) -> Result<Vec<Source>> {
    files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read manifest {}", path.display()))?;
            Ok(Source {
                path: path.display().to_string(),
                text,
            })
        })
        .collect()
}

/// Validates all files together; on success applies (or only plans) the load
/// and returns one plan per file. Validation problems come back as `Err`
/// lines, already formatted `file:line: rule "name": field: problem`.
/// How a load stages its rules before they page anyone.
#[derive(Debug, Clone, Copy, Default)]
pub struct Staging {
    /// Every rule in shadow: it runs and records, and never alerts.
    pub shadow: bool,
    /// Every rule disabled.
    pub disabled: bool,
}

pub async fn validate_and_plan(
    config: &Config,
    store: &Store,
    sources: &[Source],
    dry_run: bool,
    staging: Staging,
) -> Result<Result<Vec<(String, LoadPlan)>, Vec<String>>> {
    let files: Vec<ManifestFile<'_>> = sources
        .iter()
        .map(|s| ManifestFile {
            path: &s.path,
            text: &s.text,
        })
        .collect();
    // Validate everything together first: duplicates across files are errors.
    if let Err(errors) = load_manifests(&files, &|name| config.is_known_target(name)) {
        return Ok(Err(errors.iter().map(|e| e.to_string()).collect()));
    }
    // Then split by file (cannot fail now) so each rule remembers its source.
    let mut sets: Vec<(String, Vec<dq_core::Rule>)> = Vec::with_capacity(files.len());
    for file in &files {
        match load_manifests(std::slice::from_ref(file), &|name| {
            config.is_known_target(name)
        }) {
            Ok(mut rules) => {
                for rule in &mut rules {
                    rule.shadow |= staging.shadow;
                    rule.enabled &= !staging.disabled;
                }
                sets.push((source_key(file.path), rules))
            }
            Err(errors) => return Ok(Err(errors.iter().map(|e| e.to_string()).collect())),
        }
    }
    let plans = if dry_run {
        store.plan_loads(&sets).await?
    } else {
        store.apply_loads(&sets).await?
    };
    Ok(Ok(sets.into_iter().map(|(s, _)| s).zip(plans).collect()))
}

/// "note: ..." for each tuning parameter a rule's target will ignore.
fn ignored_tuning_notes(config: &Config, sources: &[Source]) -> Vec<String> {
    let files: Vec<ManifestFile<'_>> = sources
        .iter()
        .map(|s| ManifestFile {
            path: &s.path,
            text: &s.text,
        })
        .collect();
    let Ok(rules) = load_manifests(&files, &|name| config.is_known_target(name)) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for rule in &rules {
        let Some(target) = config.targets.get(&rule.target) else {
            continue;
        };
        let tuning = dq_core::Tuning::of(rule);
        for (key, why) in dq_targets::ignored_tuning(&target.url, &tuning) {
            notes.push(format!(
                "note: rule \"{}\": parameters.{key} is ignored on target {} ({why})",
                rule.name, rule.target
            ));
        }
    }
    notes
}

/// Rules remember the file they were loaded from, so a rule removed from that
/// file can be disabled. The canonical path makes `./a.yaml` and `a.yaml` one file.
fn source_key(path: &str) -> String {
    std::fs::canonicalize(path)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.to_string())
}

pub fn describe(source: &str, plan: &LoadPlan) -> String {
    // A rule whose definition is the same but that now comes from this file
    // (e.g. an exported backup loaded back) is not a change to its behaviour.
    let (moved, changed): (Vec<_>, Vec<_>) = plan
        .changed
        .iter()
        .partition(|c| c.fields.iter().all(|f| f == "source"));
    let mut out = format!(
        "{source}: {} to create, {} to change, {} to disable, {} unchanged\n",
        plan.created.len(),
        changed.len(),
        plan.disabled.len(),
        plan.unchanged.len() + moved.len()
    );
    for name in &plan.created {
        out.push_str(&format!("  + {name}\n"));
    }
    for change in &changed {
        out.push_str(&format!(
            "  ~ {} ({})\n",
            change.name,
            change.fields.join(", ")
        ));
    }
    for name in &plan.disabled {
        out.push_str(&format!(
            "  - {name} (no longer in the manifest: disabled, history kept)\n"
        ));
    }
    if !moved.is_empty() {
        out.push_str(&format!(
            "  {} unchanged rule(s) now belong to this file (it decides when they are disabled)\n",
            moved.len()
        ));
    }
    out
}
