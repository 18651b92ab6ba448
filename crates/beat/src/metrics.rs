//! The beat's counters, exported: after each iteration the gauges are set
//! and the counters advanced by what the iteration added.

use dq_metrics::Metrics;

use crate::BeatStats;

/// What has been exported of the cumulative [`BeatStats`] so far.
#[derive(Debug, Default)]
pub(crate) struct Exported {
    runs_enqueued: u64,
    ticks_dropped: u64,
}

impl Exported {
    pub(crate) fn export(&mut self, metrics: &Metrics, stats: &BeatStats) {
        let f = metrics.families();
        f.beat_is_leader.set(i64::from(stats.is_leader));
        if let Some(lag) = stats.last_lag {
            f.beat_lag.set(dq_metrics::seconds(lag));
        }
        f.beat_runs_enqueued
            .inc_by(stats.runs_enqueued.saturating_sub(self.runs_enqueued));
        f.beat_ticks_dropped
            .inc_by(stats.ticks_dropped.saturating_sub(self.ticks_dropped));
        self.runs_enqueued = stats.runs_enqueued;
        self.ticks_dropped = stats.ticks_dropped;
    }
}
