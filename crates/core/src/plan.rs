//! The planner: groups the rules due on one dataset into scans. Rules with
//! the same scope share one scan, and two rules needing the same metric share
//! it inside that scan. Targets turn a [`ScanPlan`] into as few queries as
//! their engine allows (one fused aggregate, plus GROUP BY / catalogue /
//! custom queries where needed).

use crate::metric::MetricRequest;
use crate::names::Dataset;
use crate::rule::Rule;
use crate::scope::Scope;

#[derive(Debug, Clone, PartialEq)]
pub struct ScanPlan<'r> {
    pub target: String,
    pub dataset: Dataset,
    pub scope: Scope,
    /// Deduplicated, in first-needed order.
    pub metrics: Vec<MetricRequest>,
    pub rules: Vec<&'r Rule>,
}

impl ScanPlan<'_> {
    /// The aggregates that go into the single fused scan.
    pub fn scan_aggregates(&self) -> impl Iterator<Item = &MetricRequest> {
        self.metrics.iter().filter(|m| m.is_scan_aggregate())
    }

    /// Metrics that need a query of their own (GROUP BY, catalogue, user SQL).
    pub fn separate_queries(&self) -> impl Iterator<Item = &MetricRequest> {
        self.metrics.iter().filter(|m| !m.is_scan_aggregate())
    }
}

/// Groups `rules` by (target, dataset, scope), preserving the order in which
/// each group first appears, and deduplicates each group's metrics.
pub fn plan<'r>(rules: &[&'r Rule]) -> Vec<ScanPlan<'r>> {
    let mut plans: Vec<ScanPlan<'r>> = Vec::new();
    for &rule in rules {
        let position = plans.iter().position(|p| {
            p.target == rule.target && p.dataset == rule.dataset && p.scope == rule.scope
        });
        let index = match position {
            Some(i) => i,
            None => {
                plans.push(ScanPlan {
                    target: rule.target.clone(),
                    dataset: rule.dataset.clone(),
                    scope: rule.scope.clone(),
                    metrics: Vec::new(),
                    rules: Vec::new(),
                });
                plans.len() - 1
            }
        };
        let plan = &mut plans[index];
        plan.rules.push(rule);
        for request in rule.check.metric_requests() {
            if !plan.metrics.iter().any(|m| m.key() == request.key()) {
                plan.metrics.push(request);
            }
        }
    }
    plans
}
