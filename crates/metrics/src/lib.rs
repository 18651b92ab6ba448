//! dq-metrics: every metric dq exports, declared once ([`families`]), and
//! the handle services record into ([`Metrics`]).
//!
//! Each process exports what it sees itself: a worker its runs, a beat its
//! lag, a dispatcher its deliveries, the API the fleet's state (queues,
//! heartbeats, acknowledgements) read at scrape time. `dq serve` holds all
//! of them in one process and one registry. The families and the KPIs the
//! runbook asks for, as PromQL, are listed in [`families`].

mod families;
mod labels;
mod text_format;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

/// An integer gauge (jobs running, queue depth).
pub type IntGauge = prometheus_client::metrics::gauge::Gauge;
pub use families::{Families, FloatGauge, ACK_SECONDS_BUCKETS, CHECK_DURATION_BUCKETS, KPIS};
pub use labels::{
    AlertLabels, FreshnessLabels, JobLabels, QueueLabels, RuleLabels, RunLabels, SeverityLabels,
};

/// Content type of [`Metrics::encode`]'s output: what Prometheus asks for.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of [`Metrics::encode_text`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A handle on one registry of every family; cheap to clone (clones share
/// the counters). A service given none creates its own, unexported.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    families: Families,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The same registry.
impl PartialEq for Metrics {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let families = Families::default();
        families.register(&mut registry);
        Metrics {
            inner: Arc::new(Inner { registry, families }),
        }
    }

    /// The families, to record into.
    pub fn families(&self) -> &Families {
        &self.inner.families
    }

    /// The exposition of every family, OpenMetrics text ending in `# EOF`
    /// ([`OPENMETRICS_CONTENT_TYPE`]).
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }

    /// The same exposition in Prometheus' text format 0.0.4
    /// ([`TEXT_CONTENT_TYPE`]), for clients that do not ask for
    /// OpenMetrics: curl, promtool, older scrapers.
    pub fn encode_text(&self) -> Result<String, fmt::Error> {
        Ok(text_format::from_openmetrics(&self.encode()?))
    }
}

/// Seconds as a float, for gauges and histograms.
pub fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}
