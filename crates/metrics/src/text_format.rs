//! OpenMetrics text to Prometheus text format 0.0.4. prometheus-client
//! writes OpenMetrics only; the two differ, for what dq exports, in three
//! ways: a counter's HELP and TYPE name the family (`dq_runs`) where the
//! older format names the sample (`dq_runs_total`), `# UNIT` lines, and
//! the closing `# EOF`.

use std::collections::HashSet;

pub(crate) fn from_openmetrics(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        match descriptor(line) {
            Some((keyword, name, rest)) if counters.contains(name) => {
                out.push_str(&format!("# {keyword} {name}_total {rest}"));
            }
            Some(_) | None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// `# HELP name text` or `# TYPE name type`, split.
fn descriptor(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix("# ")?;
    let (keyword, rest) = rest.split_once(' ')?;
    if keyword != "HELP" && keyword != "TYPE" {
        return None;
    }
    let (name, rest) = rest.split_once(' ')?;
    Some((keyword, name, rest))
}

#[cfg(test)]
mod tests {
    use super::from_openmetrics;

    #[test]
    fn counters_are_named_by_their_sample_and_openmetrics_lines_go() {
        let om = "# HELP a_runs Runs.\n# TYPE a_runs counter\na_runs_total 1\n\
                  # HELP a_lag Lag.\n# TYPE a_lag gauge\n# UNIT a_lag seconds\na_lag 0.5\n# EOF\n";
        assert_eq!(
            from_openmetrics(om),
            "# HELP a_runs_total Runs.\n# TYPE a_runs_total counter\na_runs_total 1\n\
             # HELP a_lag Lag.\n# TYPE a_lag gauge\na_lag 0.5\n"
        );
    }
}
