//! What a `reconciliation` rule observed: the counts of a merge of two
//! datasets in key order (`dq_targets::reconcile` does the reading), turned
//! into the measures the judge applies the rule's thresholds to.
//!
//! The primary measure is `mismatched_rows`: keys only in the source, keys
//! only in the other dataset, and keys in both whose compared columns
//! differ. The breakdown rides along as unbounded measures, so it is stored
//! with the run (and as metrics) without being judged.

use serde::{Deserialize, Serialize};

use crate::check::{Check, Unit};
use crate::observe::{Measure, Observation, WhenMissing};
use crate::rule::Rule;
use crate::threshold::Thresholds;

/// Rows read per page from each side unless the rule says otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 10_000;
/// The largest page a rule may ask for: memory is O(page), so the page is
/// what bounds it.
pub const MAX_PAGE_SIZE: u32 = 1_000_000;

/// What the merge counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Rows (with a non-NULL key) in the rule's own dataset.
    pub source_rows: u64,
    /// Rows (with a non-NULL key) in the `against` dataset.
    pub target_rows: u64,
    /// Keys in the source and not in the other dataset.
    pub missing_in_target: u64,
    /// Keys in the other dataset and not in the source.
    pub missing_in_source: u64,
    /// Keys in both whose compared columns differ.
    pub differing_rows: u64,
}

impl Counts {
    pub fn mismatched_rows(&self) -> u64 {
        self.missing_in_target + self.missing_in_source + self.differing_rows
    }

    /// The breakdown, in measure order after the primary one.
    fn breakdown(&self) -> [(&'static str, u64); 5] {
        [
            ("source_rows", self.source_rows),
            ("target_rows", self.target_rows),
            ("missing_in_target", self.missing_in_target),
            ("missing_in_source", self.missing_in_source),
            ("differing_rows", self.differing_rows),
        ]
    }

    /// One line for a person: what the mismatches are.
    pub fn summary(&self) -> String {
        format!(
            "{} source rows, {} target rows: {} missing in target, {} missing in source, {} differing",
            self.source_rows,
            self.target_rows,
            self.missing_in_target,
            self.missing_in_source,
            self.differing_rows
        )
    }

    /// The observation of `rule` (a reconciliation) with these counts.
    pub fn observation(&self, rule: &Rule) -> Observation {
        let mut measures = vec![Measure {
            name: rule.check.measure_name().to_string(),
            value: Some(self.mismatched_rows() as f64),
            unit: Unit::Count,
            thresholds: rule.thresholds,
            when_missing: WhenMissing::Skip,
        }];
        measures.extend(self.breakdown().into_iter().map(|(name, value)| Measure {
            name: name.to_string(),
            value: Some(value as f64),
            unit: Unit::Count,
            thresholds: Thresholds::default(),
            when_missing: WhenMissing::Skip,
        }));
        Observation {
            measures,
            row_count: Some(self.source_rows),
            problems: Vec::new(),
            columns: Vec::new(),
            distribution: None,
        }
    }
}

/// The page size a reconciliation rule reads with.
pub fn page_size(check: &Check) -> u32 {
    match check {
        Check::Reconciliation { page_size, .. } => page_size.unwrap_or(DEFAULT_PAGE_SIZE),
        _ => DEFAULT_PAGE_SIZE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::judge;
    use crate::manifest::{load_manifests, ManifestFile};
    use crate::verdict::RunStatus;

    fn reconciliation_rule() -> Rule {
        let text = "version: 1\nrules:\n  - name: r\n    target: a\n    dataset: orders\n    check: reconciliation\n    against: {target: b, dataset: orders}\n    key: id\n";
        let file = ManifestFile {
            path: "r.yaml",
            text,
        };
        let mut rules = load_manifests(&[file], &|_| true).expect("valid");
        rules.remove(0)
    }

    #[test]
    fn mismatches_are_judged_and_the_breakdown_is_kept() {
        let rule = reconciliation_rule();
        for (counts, status, observed) in [
            (
                Counts {
                    source_rows: 10,
                    target_rows: 10,
                    ..Counts::default()
                },
                RunStatus::Passed,
                0.0,
            ),
            (
                Counts {
                    source_rows: 10,
                    target_rows: 9,
                    missing_in_target: 2,
                    missing_in_source: 1,
                    differing_rows: 3,
                },
                RunStatus::Failed,
                6.0,
            ),
        ] {
            let observation = counts.observation(&rule);
            let verdict = judge(&rule, &observation);
            assert_eq!(verdict.status, status, "{counts:?}");
            assert_eq!(verdict.observed, Some(observed));
            assert_eq!(observation.row_count, Some(10));
            let names: Vec<&str> = observation
                .measures
                .iter()
                .map(|m| m.name.as_str())
                .collect();
            assert_eq!(
                names,
                [
                    "mismatched_rows",
                    "source_rows",
                    "target_rows",
                    "missing_in_target",
                    "missing_in_source",
                    "differing_rows"
                ]
            );
        }
    }
}
