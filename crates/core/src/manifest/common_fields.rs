//! Readers for the fields every rule has (and `defaults` may set), shared by
//! the defaults check and the rule builder so both say the same thing.

use super::error::{Field, Problems};
use super::fields::{self, wrong_type};
use super::yaml::{Scalar, Value};
use crate::queue::Queue;
use crate::schedule::{self, ScheduleError};
use crate::scope::RowFilter;
use crate::severity::Severity;

/// Strings parsed with `FromStr`, whose error already says what was expected.
fn parsed<T: std::str::FromStr>(p: &mut Problems<'_>, f: &Field<'_>, expected: &str) -> Option<T>
where
    T::Err: std::fmt::Display,
{
    let Value::Scalar(Scalar::Str(text)) = &f.node.value else {
        p.at(f, wrong_type(f.node, expected));
        return None;
    };
    text.parse()
        .map_err(|e: T::Err| p.at(f, e.to_string()))
        .ok()
}

pub fn severity(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Severity> {
    parsed(p, f, "one of INFO, LOW, MEDIUM, HIGH, CRITICAL")
}

pub fn queue(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Queue> {
    parsed(p, f, "one of dq_database, dq_compute, dq_memory")
}

/// A cron expression, validated; kept as text because the schedule is
/// built only once the time zone is known too.
pub fn cron(p: &mut Problems<'_>, f: &Field<'_>) -> Option<String> {
    const EXPECTED: &str = "a quoted cron expression such as \"*/15 * * * *\"";
    let Value::Scalar(Scalar::Str(text)) = &f.node.value else {
        p.at(f, wrong_type(f.node, EXPECTED));
        return None;
    };
    match schedule::parse_cron(text) {
        Ok(_) => Some(text.clone()),
        Err(e @ ScheduleError::Cron(..)) => {
            p.at(
                f,
                format!(
                    "{e} (expected minute hour day month weekday, with seconds first if 6 fields)"
                ),
            );
            None
        }
        Err(e) => {
            p.at(f, e.to_string());
            None
        }
    }
}

pub fn timezone(p: &mut Problems<'_>, f: &Field<'_>) -> Option<String> {
    let Value::Scalar(Scalar::Str(text)) = &f.node.value else {
        p.at(
            f,
            wrong_type(f.node, "an IANA time zone such as UTC or Europe/Paris"),
        );
        return None;
    };
    match schedule::parse_timezone(text) {
        Ok(_) => Some(text.clone()),
        Err(e) => {
            p.at(f, e.to_string());
            None
        }
    }
}

pub fn target(
    p: &mut Problems<'_>,
    f: &Field<'_>,
    is_known_target: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let name = fields::text(p, f)?;
    if is_known_target(&name) {
        Some(name)
    } else {
        p.at(
            f,
            format!("unknown target {name:?} (expected a target configured in dq.toml)"),
        );
        None
    }
}

pub fn filter(p: &mut Problems<'_>, f: &Field<'_>) -> Option<RowFilter> {
    const EXPECTED: &str = "a read-only SQL condition such as \"status <> 'test'\"";
    let Value::Scalar(Scalar::Str(text)) = &f.node.value else {
        p.at(f, wrong_type(f.node, EXPECTED));
        return None;
    };
    RowFilter::new(text)
        .map_err(|e| p.at(f, format!("{text:?} {e} (expected {EXPECTED})")))
        .ok()
}

pub fn tags(p: &mut Problems<'_>, f: &Field<'_>) -> Option<Vec<String>> {
    fields::list_of(p, f, "a list of tags such as [orders, sla]", fields::text)
}

pub fn sample_size(p: &mut Problems<'_>, f: &Field<'_>) -> Option<u64> {
    fields::whole(p, f, 1)
}

/// Checks one `defaults` entry with the reader its key uses (the key is
/// known to be defaultable).
pub fn check_default(p: &mut Problems<'_>, f: &Field<'_>, is_known_target: &dyn Fn(&str) -> bool) {
    // Each reader reports its own problems; only that matters here.
    let _ = match f.key {
        "description" | "owner" => fields::text(p, f).is_some(),
        "tags" => tags(p, f).is_some(),
        "target" => target(p, f, is_known_target).is_some(),
        "severity" => severity(p, f).is_some(),
        "schedule" => cron(p, f).is_some(),
        "timezone" => timezone(p, f).is_some(),
        "queue" => queue(p, f).is_some(),
        "enabled" | "shadow" | "use_sampling" => fields::boolean(p, f).is_some(),
        "sample_size" => sample_size(p, f).is_some(),
        "timeout" | "window" => fields::duration(p, f).is_some(),
        "filter" => filter(p, f).is_some(),
        "partition_column" => fields::identifier(p, f).is_some(),
        "alert_cooldown_minutes" => fields::whole_u32(p, f).is_some(),
        "parameters" => fields::json_object(p, f).is_some(),
        _ => true,
    };
}
