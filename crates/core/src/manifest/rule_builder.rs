//! One rule node plus the manifest's defaults to a `Rule`, reporting every
//! problem of the rule on the way (a rule with any problem yields no Rule).

use super::check_params;
use super::common_fields as common;
use super::error::{Field, ManifestError, Problems};
use super::fields;
use super::keys;
use super::reconciliation_params;
use super::thresholds;
use super::yaml::{Entry, Scalar, Value};
use crate::check::CHECK_KINDS;
use crate::names::RuleName;
use crate::rule::{
    Rule, DEFAULT_ALERT_COOLDOWN_MINUTES, DEFAULT_SCHEDULE, DEFAULT_SEVERITY, DEFAULT_TIMEOUT,
    DEFAULT_TIMEZONE,
};
use crate::schedule::Schedule;
use crate::scope::{Scope, Window};

/// The keys of one rule, with the manifest's defaults behind them.
pub struct RuleInput<'n> {
    entries: &'n [Entry],
    defaults: &'n [Entry],
    /// Where a missing field is reported: the rule's `name`, else its first key.
    pub line: usize,
}

fn field_of(entry: &Entry, inherited: bool) -> Field<'_> {
    Field {
        key: &entry.key,
        line: entry.key_line,
        node: &entry.value,
        inherited,
    }
}

impl<'n> RuleInput<'n> {
    pub fn new(entries: &'n [Entry], defaults: &'n [Entry], node_line: usize) -> Self {
        let line = entries
            .iter()
            .find(|e| e.key == "name")
            .or(entries.first())
            .map_or(node_line, |e| e.key_line);
        RuleInput {
            entries,
            defaults,
            line,
        }
    }

    /// The rule's own value for `key`.
    pub fn own(&self, key: &str) -> Option<Field<'n>> {
        let entries: &'n [Entry] = self.entries;
        entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| field_of(e, false))
    }

    /// The rule's own value for `key`, else the default (for keys that may have one).
    pub fn get(&self, key: &str) -> Option<Field<'n>> {
        let defaults: &'n [Entry] = self.defaults;
        self.own(key).or_else(|| {
            keys::is_defaultable(key)
                .then(|| defaults.iter().find(|e| e.key == key))
                .flatten()
                .map(|e| field_of(e, true))
        })
    }

    /// `own(key)`, reporting it as missing (at the rule's line) if absent.
    pub fn own_required(
        &self,
        p: &mut Problems<'_>,
        key: &str,
        expected: &str,
    ) -> Option<Field<'n>> {
        missing_unless(p, self.own(key), self.line, key, expected)
    }

    /// `get(key)`, reporting it as missing (at the rule's line) if absent.
    pub fn get_required(
        &self,
        p: &mut Problems<'_>,
        key: &str,
        expected: &str,
    ) -> Option<Field<'n>> {
        missing_unless(p, self.get(key), self.line, key, expected)
    }
}

fn missing_unless<'n>(
    p: &mut Problems<'_>,
    field: Option<Field<'n>>,
    line: usize,
    key: &str,
    expected: &str,
) -> Option<Field<'n>> {
    if field.is_none() {
        p.push(line, key, format!("missing (expected {expected})"));
    }
    field
}

/// What building one rule gave: its name (for the duplicate check), the
/// rule if it had no problem, and the problems.
pub struct Built {
    pub name: Option<(String, usize)>,
    pub rule: Option<Rule>,
    pub errors: Vec<ManifestError>,
}

pub fn build(file: &str, input: &RuleInput<'_>, is_known_target: &dyn Fn(&str) -> bool) -> Built {
    let name_field = input.own("name");
    let name_text = name_field.and_then(|f| match &f.node.value {
        Value::Scalar(Scalar::Str(s)) => Some((s.clone(), f.line)),
        _ => None,
    });
    let mut p = Problems::new(file, name_text.as_ref().map(|(n, _)| n.clone()));
    let rule = build_rule(&mut p, input, is_known_target);
    let rule = match rule {
        Some(rule) if !p.failed() => Some(rule),
        Some(_) => None,
        None => {
            if !p.failed() {
                // Every reader reports why it gave nothing; never drop a rule silently.
                p.push(
                    input.line,
                    "rule",
                    "could not be built (expected a complete rule)",
                );
            }
            None
        }
    };
    Built {
        name: name_text,
        rule,
        errors: p.into_errors(),
    }
}

fn check_kind(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<&'static str> {
    let all = CHECK_KINDS.join(", ");
    let field = input.own_required(p, "check", &format!("one of {all}"))?;
    let text = fields::text(p, &field)?;
    let text = text.trim();
    if let Some(kind) = CHECK_KINDS.into_iter().find(|k| *k == text) {
        return Some(kind);
    }
    let hint = match keys::suggest(text, CHECK_KINDS) {
        Some(near) => format!("did you mean \"{near}\"? "),
        None => String::new(),
    };
    p.at(
        &field,
        format!("unknown check kind {text:?} ({hint}expected one of {all})"),
    );
    None
}

fn build_rule(
    p: &mut Problems<'_>,
    input: &RuleInput<'_>,
    is_known_target: &dyn Fn(&str) -> bool,
) -> Option<Rule> {
    let name = input
        .own_required(p, "name", "a unique rule name")
        .and_then(|f| {
            let text = fields::text(p, &f)?;
            RuleName::new(text)
                .map_err(|e| p.at(&f, fields::name_problem(&e, "a rule name")))
                .ok()
        });
    let kind = check_kind(p, input);
    for entry in input.entries {
        if let Some(message) = keys::rule_problem(&entry.key, kind) {
            p.push(entry.key_line, &entry.key, message);
        }
    }
    let check = kind.and_then(|kind| match kind {
        // Its `against` target must be a configured one too.
        "reconciliation" => reconciliation_params::build(p, input, is_known_target),
        _ => check_params::build(p, input, kind),
    });
    let shape = check
        .clone()
        .or_else(|| kind.and_then(|kind| check_params::shape(kind, input)));
    let thresholds = shape.and_then(|shape| thresholds::build(p, input, &shape));

    let description = input.get("description").and_then(|f| fields::text(p, &f));
    let owner = input.get("owner").and_then(|f| fields::text(p, &f));
    let tags = input.get("tags").and_then(|f| common::tags(p, &f));
    let target = input
        .get_required(
            p,
            "target",
            "a target configured in dq.toml, on the rule or in defaults",
        )
        .and_then(|f| common::target(p, &f, is_known_target));
    let dataset = input
        .own_required(p, "dataset", "a table such as public.orders")
        .and_then(|f| fields::dataset(p, &f));
    let severity = match input.get("severity") {
        Some(f) => common::severity(p, &f),
        None => Some(DEFAULT_SEVERITY),
    };
    let schedule = schedule(p, input);
    let queue = match (input.get("queue"), &check) {
        (Some(f), _) => common::queue(p, &f),
        (None, check) => check.as_ref().map(|c| c.default_queue()),
    };
    let enabled = match input.get("enabled") {
        Some(f) => fields::boolean(p, &f),
        None => Some(true),
    };
    let shadow = match input.get("shadow") {
        Some(f) => fields::boolean(p, &f),
        None => Some(false),
    };
    let scope = scope(p, input);
    if kind == Some("reconciliation") {
        // Both sides are compared whole: a scope on one would report the
        // rows it leaves out as missing.
        let sampled = scope.sample_size.is_some();
        for key in ["filter", "partition_column", "window", "use_sampling"] {
            if key == "use_sampling" && !sampled {
                continue;
            }
            if let Some(f) = input.own(key) {
                p.at(&f, "a reconciliation compares whole datasets (expected no filter, window or sampling)");
            }
        }
    }
    let timeout = match input.get("timeout") {
        Some(f) => fields::duration(p, &f),
        None => Some(DEFAULT_TIMEOUT),
    };
    let alert_cooldown_minutes = match input.get("alert_cooldown_minutes") {
        Some(f) => fields::whole_u32(p, &f),
        None => Some(DEFAULT_ALERT_COOLDOWN_MINUTES),
    };
    let parameters = match input.get("parameters") {
        Some(f) => fields::json_object(p, &f).filter(|parameters| {
            let problems = crate::tuning::problems(parameters);
            for (key, message) in &problems {
                p.at(&f, format!("{key}: {message}"));
            }
            problems.is_empty()
        }),
        None => Some(serde_json::Map::new()),
    };

    let (
        Some(name),
        Some(target),
        Some(dataset),
        Some(check),
        Some(severity),
        Some(thresholds),
        Some(schedule),
        Some(queue),
        Some(enabled),
        Some(shadow),
        Some(timeout),
        Some(alert_cooldown_minutes),
        Some(parameters),
    ) = (
        name,
        target,
        dataset,
        check,
        severity,
        thresholds,
        schedule,
        queue,
        enabled,
        shadow,
        timeout,
        alert_cooldown_minutes,
        parameters,
    )
    else {
        return None;
    };
    Some(Rule {
        name,
        description,
        owner,
        tags: tags.unwrap_or_default(),
        target,
        dataset,
        check,
        severity,
        thresholds,
        schedule,
        queue,
        enabled,
        shadow,
        scope,
        timeout,
        alert_cooldown_minutes,
        parameters,
    })
}

fn schedule(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Option<Schedule> {
    let cron_field = input.get("schedule");
    let cron = match &cron_field {
        Some(f) => common::cron(p, f),
        None => Some(DEFAULT_SCHEDULE.to_string()),
    };
    let timezone = match input.get("timezone") {
        Some(f) => common::timezone(p, &f),
        None => Some(DEFAULT_TIMEZONE.to_string()),
    };
    let (cron, timezone) = (cron?, timezone?);
    match Schedule::new(&cron, &timezone) {
        Ok(schedule) => Some(schedule),
        Err(e) => {
            // Both parts were checked above; this only guards the combination.
            let line = cron_field.map_or(input.line, |f| f.line);
            p.push(line, "schedule", e.to_string());
            None
        }
    }
}

/// Sampling, filter and partition window, with their pairing rules.
fn scope(p: &mut Problems<'_>, input: &RuleInput<'_>) -> Scope {
    let use_sampling = match input.get("use_sampling") {
        Some(f) => fields::boolean(p, &f),
        None => Some(false),
    };
    let sample_size = match (use_sampling, input.get("sample_size")) {
        (Some(true), Some(f)) => common::sample_size(p, &f),
        (Some(true), None) => {
            p.push(
                input.line,
                "sample_size",
                "missing (expected a number of rows > 0, since use_sampling is true)",
            );
            None
        }
        (Some(false), _) => {
            // A default sample size is simply unused by a rule that does not sample.
            if let Some(f) = input.own("sample_size") {
                p.at(&f, "is set but use_sampling is not true (expected use_sampling: true, or no sample_size)");
            }
            None
        }
        (None, _) => None,
    };
    let filter = input.get("filter").and_then(|f| common::filter(p, &f));
    let column_field = input.get("partition_column");
    let length_field = input.get("window");
    let column = column_field.and_then(|f| fields::identifier(p, &f));
    let length = length_field.and_then(|f| fields::duration(p, &f));
    match (&column_field, &length_field) {
        (Some(_), None) => p.push(
            input.line,
            "window",
            "missing (expected a window such as 1d, since partition_column is set)",
        ),
        (None, Some(_)) => p.push(
            input.line,
            "partition_column",
            "missing (expected the timestamp column the window applies to, since window is set)",
        ),
        _ => {}
    }
    let window = match (column, length) {
        (Some(column), Some(length)) => Some(Window { column, length }),
        _ => None,
    };
    Scope {
        sample_size,
        filter,
        window,
    }
}
