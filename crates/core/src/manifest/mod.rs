//! YAML manifests: the text teams write, validated in one pass into `Rule`s,
//! and rules written back as manifest text.
//!
//! Pure like the rest of dq-core: callers read the files and pass each
//! file's name and text. Every problem in every file is reported (with file,
//! line, rule and field), and if there is any, no rule is returned at all, so
//! a bad manifest changes nothing.
//!
//! Flow: `yaml` reads text into a tree with line numbers; `validate` walks
//! the document (version, defaults, rules, unique names); `rule_builder`
//! turns one rule into a `Rule` with `common_fields`, `check_params` and
//! `thresholds`, all reading values through `fields`; `keys` knows which
//! keys go where; `export` writes rules back.

mod baseline_params;
mod check_params;
mod common_fields;
mod error;
mod export;
mod fields;
mod keys;
mod reconciliation_params;
mod rule_builder;
mod thresholds;
mod validate;
mod yaml;

#[cfg(test)]
mod tests;

pub use error::ManifestError;
pub use export::{export_manifest, export_rule_json};
pub use validate::SUPPORTED_VERSION;

use crate::rule::Rule;

/// One manifest to load: its name as shown in errors, and its text.
#[derive(Debug, Clone, Copy)]
pub struct ManifestFile<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

/// Parses and validates all files together (duplicate names across files are errors).
/// `is_known_target` says whether a target name is configured.
pub fn load_manifests(
    files: &[ManifestFile<'_>],
    is_known_target: &dyn Fn(&str) -> bool,
) -> Result<Vec<Rule>, Vec<ManifestError>> {
    let mut seen = validate::Seen::new();
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        validate::validate_file(file, is_known_target, &mut seen, &mut rules, &mut errors);
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}
