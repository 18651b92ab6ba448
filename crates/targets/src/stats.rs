//! How many queries a target issued, by kind. Tests and benchmarks read it
//! to hold the planner to its promise: one aggregate query per scan, however
//! many rules share it.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the counters; subtract two snapshots to see what one
/// `execute` issued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Fused scans (`count(*)`, `count(*) FILTER (...)`, `avg`, `max`), plus
    /// per-metric retries after a fused scan failed on one bad metric.
    pub aggregate: u64,
    /// GROUP BY queries: one per duplicate-count column.
    pub group_by: u64,
    /// Catalogue queries: one per scan, for schema rules and to check that
    /// every column a metric reads exists.
    pub catalogue: u64,
    /// User queries of custom_sql rules.
    pub custom: u64,
    /// Bounded fetches of failing rows.
    pub sample: u64,
}

impl QueryStats {
    pub fn total(&self) -> u64 {
        self.aggregate + self.group_by + self.catalogue + self.custom + self.sample
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &QueryStats) -> QueryStats {
        QueryStats {
            aggregate: self.aggregate.saturating_sub(earlier.aggregate),
            group_by: self.group_by.saturating_sub(earlier.group_by),
            catalogue: self.catalogue.saturating_sub(earlier.catalogue),
            custom: self.custom.saturating_sub(earlier.custom),
            sample: self.sample.saturating_sub(earlier.sample),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryKind {
    Aggregate,
    GroupBy,
    Catalogue,
    Custom,
    Sample,
}

#[derive(Debug, Default)]
pub(crate) struct QueryCounters {
    aggregate: AtomicU64,
    group_by: AtomicU64,
    catalogue: AtomicU64,
    custom: AtomicU64,
    sample: AtomicU64,
}

impl QueryCounters {
    pub(crate) fn record(&self, kind: QueryKind) {
        let counter = match kind {
            QueryKind::Aggregate => &self.aggregate,
            QueryKind::GroupBy => &self.group_by,
            QueryKind::Catalogue => &self.catalogue,
            QueryKind::Custom => &self.custom,
            QueryKind::Sample => &self.sample,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> QueryStats {
        QueryStats {
            aggregate: self.aggregate.load(Ordering::Relaxed),
            group_by: self.group_by.load(Ordering::Relaxed),
            catalogue: self.catalogue.load(Ordering::Relaxed),
            custom: self.custom.load(Ordering::Relaxed),
            sample: self.sample.load(Ordering::Relaxed),
        }
    }
}
