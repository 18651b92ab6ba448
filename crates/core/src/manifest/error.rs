//! The one error type of manifest loading, and the collector that stamps
//! each problem with its file and rule while validation goes on.

/// One problem in a manifest: where it is, which rule and field, what is
/// wrong and (in parentheses) what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {}{field}: {message}", rule_prefix(.rule))]
pub struct ManifestError {
    pub file: String,
    pub line: usize,
    /// The rule the problem is in; `None` for file-level problems
    /// (YAML syntax, `version`, `defaults`).
    pub rule: Option<String>,
    pub field: String,
    pub message: String,
}

fn rule_prefix(rule: &Option<String>) -> String {
    match rule {
        Some(name) => format!("rule \"{name}\": "),
        None => String::new(),
    }
}

/// A value found for a key, in the rule itself or inherited from `defaults`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'n> {
    pub key: &'n str,
    /// The line of the key, where problems with this value are reported.
    pub line: usize,
    pub node: &'n super::yaml::Node,
    pub inherited: bool,
}

/// Collects the problems of one scope (a rule, the defaults, a file).
pub(crate) struct Problems<'f> {
    file: &'f str,
    rule: Option<String>,
    /// Prepended to field names: `defaults.` while checking the defaults.
    prefix: &'static str,
    errors: Vec<ManifestError>,
    failed: bool,
}

impl<'f> Problems<'f> {
    pub fn new(file: &'f str, rule: Option<String>) -> Self {
        Problems {
            file,
            rule,
            prefix: "",
            errors: Vec::new(),
            failed: false,
        }
    }

    pub fn for_defaults(file: &'f str) -> Self {
        Problems {
            prefix: "defaults.",
            ..Problems::new(file, None)
        }
    }

    /// A problem with a value. An inherited value was already reported once,
    /// on the `defaults` block; the rule still fails, silently.
    pub fn at(&mut self, field: &Field<'_>, message: impl Into<String>) {
        self.failed = true;
        if !field.inherited {
            self.push(field.line, field.key, message);
        }
    }

    /// A problem reported at `line` whatever the origin of the values involved.
    pub fn push(&mut self, line: usize, field: &str, message: impl Into<String>) {
        self.failed = true;
        self.errors.push(ManifestError {
            file: self.file.to_string(),
            line,
            rule: self.rule.clone(),
            field: format!("{}{field}", self.prefix),
            message: message.into(),
        });
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn into_errors(self) -> Vec<ManifestError> {
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_rule_only_when_there_is_one() {
        let mut e = ManifestError {
            file: "demo.yaml".into(),
            line: 14,
            rule: Some("orders_nulls".into()),
            field: "colum".into(),
            message: "unknown key (did you mean \"column\"?)".into(),
        };
        assert_eq!(
            e.to_string(),
            "demo.yaml:14: rule \"orders_nulls\": colum: unknown key (did you mean \"column\"?)"
        );
        e.rule = None;
        e.field = "version".into();
        e.message = "unsupported version 2 (expected 1)".into();
        assert_eq!(
            e.to_string(),
            "demo.yaml:14: version: unsupported version 2 (expected 1)"
        );
    }
}
