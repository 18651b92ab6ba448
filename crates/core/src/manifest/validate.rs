//! The manifest document: `version`, `defaults`, `rules`, and rule names
//! unique across every file loaded together.

use std::collections::HashMap;

use super::common_fields;
use super::error::{Field, ManifestError, Problems};
use super::fields::wrong_type;
use super::keys;
use super::rule_builder::{self, RuleInput};
use super::yaml::{self, Entry, Node, Scalar, Value};
use super::ManifestFile;
use crate::rule::Rule;

pub const SUPPORTED_VERSION: i64 = 1;

/// Rule names seen so far, with the file and line that defined each first.
pub type Seen = HashMap<String, (String, usize)>;

/// Validates one file, appending its rules and its problems (sorted by line).
pub fn validate_file(
    file: &ManifestFile<'_>,
    is_known_target: &dyn Fn(&str) -> bool,
    seen: &mut Seen,
    rules: &mut Vec<Rule>,
    errors: &mut Vec<ManifestError>,
) {
    let mut p = Problems::new(file.path, None);
    let root = match yaml::load(file.text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            p.push(
                1,
                "manifest",
                "is empty (expected version: 1 and a list of rules)",
            );
            errors.extend(p.into_errors());
            return;
        }
        Err(e) => {
            p.push(e.line, "yaml", e.message);
            errors.extend(p.into_errors());
            return;
        }
    };
    let Some(entries) = root.as_map() else {
        let message = wrong_type(&root, "a mapping with version, defaults and rules");
        p.push(root.line, "manifest", message);
        errors.extend(p.into_errors());
        return;
    };
    let first_line = entries.first().map_or(root.line, |e| e.key_line);
    let find = |key: &str| entries.iter().find(|e| e.key == key);
    for entry in entries {
        if let Some(message) = keys::top_level_problem(&entry.key) {
            p.push(entry.key_line, &entry.key, message);
        }
    }
    check_version(&mut p, find("version"), first_line);
    let defaults = defaults(&mut p, file.path, find("defaults"), is_known_target);
    let mut file_errors = p.into_errors();

    for rule_node in rule_nodes(file.path, find("rules"), first_line, &mut file_errors) {
        let Some(rule_entries) = rule_node.as_map() else {
            let mut p = Problems::new(file.path, None);
            let message = wrong_type(
                rule_node,
                "a mapping of rule fields: name, dataset, check, ...",
            );
            p.push(rule_node.line, "rules", message);
            file_errors.extend(p.into_errors());
            continue;
        };
        let input = RuleInput::new(rule_entries, defaults, rule_node.line);
        let built = rule_builder::build(file.path, &input, is_known_target);
        file_errors.extend(built.errors);
        if let Some((name, line)) = built.name {
            if let Some((first_file, first_line)) = seen.get(&name) {
                file_errors.push(ManifestError {
                    file: file.path.to_string(),
                    line,
                    rule: Some(name.clone()),
                    field: "name".to_string(),
                    message: format!(
                        "duplicate rule name, first defined at {first_file}:{first_line} (expected each name once across all manifests)"
                    ),
                });
                continue;
            }
            seen.insert(name, (file.path.to_string(), line));
        }
        rules.extend(built.rule);
    }
    file_errors.sort_by_key(|e| e.line);
    errors.extend(file_errors);
}

fn check_version(p: &mut Problems<'_>, entry: Option<&Entry>, first_line: usize) {
    let Some(entry) = entry else {
        p.push(
            first_line,
            "version",
            format!("missing (expected version: {SUPPORTED_VERSION})"),
        );
        return;
    };
    match entry.value.value {
        Value::Scalar(Scalar::Int(SUPPORTED_VERSION)) => {}
        Value::Scalar(Scalar::Int(other)) => p.push(
            entry.key_line,
            "version",
            format!("unsupported version {other} (expected {SUPPORTED_VERSION})"),
        ),
        _ => p.push(
            entry.key_line,
            "version",
            wrong_type(&entry.value, &format!("the number {SUPPORTED_VERSION}")),
        ),
    }
}

/// The defaults block, each entry checked once here; rules that inherit a
/// bad default fail without repeating the problem.
fn defaults<'n>(
    p: &mut Problems<'_>,
    file: &str,
    entry: Option<&'n Entry>,
    is_known_target: &dyn Fn(&str) -> bool,
) -> &'n [Entry] {
    let Some(entry) = entry else { return &[] };
    let entries = match &entry.value.value {
        Value::Map(entries) => entries.as_slice(),
        Value::Scalar(Scalar::Null) => return &[],
        _ => {
            let message = wrong_type(
                &entry.value,
                "a mapping of rule fields and their default values",
            );
            p.push(entry.key_line, "defaults", message);
            return &[];
        }
    };
    let mut dp = Problems::for_defaults(file);
    for e in entries {
        if let Some(message) = keys::defaults_problem(&e.key) {
            dp.push(e.key_line, &e.key, message);
            continue;
        }
        let field = Field {
            key: &e.key,
            line: e.key_line,
            node: &e.value,
            inherited: false,
        };
        common_fields::check_default(&mut dp, &field, is_known_target);
    }
    for error in dp.into_errors() {
        p.push(error.line, &error.field, error.message);
    }
    entries
}

fn rule_nodes<'n>(
    file: &str,
    entry: Option<&'n Entry>,
    first_line: usize,
    errors: &mut Vec<ManifestError>,
) -> &'n [Node] {
    let mut p = Problems::new(file, None);
    let nodes: &'n [Node] = match entry.map(|e| (e, &e.value.value)) {
        None => {
            p.push(first_line, "rules", "missing (expected a list of rules)");
            &[]
        }
        Some((_, Value::Seq(nodes))) => nodes,
        Some((_, Value::Scalar(Scalar::Null))) => &[],
        Some((entry, _)) => {
            p.push(
                entry.key_line,
                "rules",
                wrong_type(&entry.value, "a list of rules"),
            );
            &[]
        }
    };
    errors.extend(p.into_errors());
    nodes
}
