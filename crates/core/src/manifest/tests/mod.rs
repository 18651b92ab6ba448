//! Manifest tests: loading every kind, the error table, round trips, and
//! the example manifest shipped in the repository.

mod errors;
mod example;
mod full;
mod reconciliation;
mod round_trip;

use super::{load_manifests, ManifestError, ManifestFile};
use crate::rule::Rule;

pub fn warehouse_only(target: &str) -> bool {
    target == "warehouse"
}

pub fn load(path: &str, text: &str) -> Result<Vec<Rule>, Vec<ManifestError>> {
    load_manifests(&[ManifestFile { path, text }], &warehouse_only)
}

/// Loads a manifest that must be valid, showing every error if it is not.
pub fn load_ok(path: &str, text: &str) -> Vec<Rule> {
    match load(path, text) {
        Ok(rules) => rules,
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("{path} should load:\n{}", lines.join("\n"))
        }
    }
}

/// The errors of a manifest that must be invalid, as display lines.
pub fn error_lines(path: &str, text: &str) -> Vec<String> {
    match load(path, text) {
        Ok(rules) => panic!("{path} should not load, got {} rules", rules.len()),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}
