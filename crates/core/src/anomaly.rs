//! Anomaly detection on a metric's history: is the newest value of a
//! series (a table's row count, a column's null rate, a freshness lag) out
//! of line with what came before? Pure: the caller reads the history from
//! the store and records the verdict.
//!
//! Strategies:
//! - `ZScore`: distance from the training mean in standard deviations.
//! - `RelativeChange`: change from the previous point, as a share of it.
//! - `AbsoluteChange`: change from the previous point.
//! - `Seasonal`: a z-score against the mean of the points of the same hour
//!   of the day (or day of the week), with the noise pooled over all of
//!   them, so a nightly dip or a Monday peak is normal.
//!
//! Training uses the points of the window that were themselves normal:
//! an isolated anomaly is left out, so one spike does not widen the band
//! for the next two weeks. A level shift is not isolated: once
//! `accept_shift_after` anomalies in a row sit on the same side, they are
//! the new normal and train the model again.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// How an `anomaly` rule judges, as its manifest says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalySpec {
    pub strategy: StrategyKind,
    /// Standard deviations (z-score, seasonal), a share of the previous
    /// value (relative change) or a value (absolute change).
    pub threshold: f64,
    /// How far back the history trains the model.
    #[serde(with = "crate::rule::duration_secs")]
    pub training_window: Duration,
    pub min_history: u32,
    pub sensitivity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    Zscore,
    RelativeChange,
    AbsoluteChange,
    SeasonalHour,
    SeasonalWeekday,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::Zscore,
        StrategyKind::RelativeChange,
        StrategyKind::AbsoluteChange,
        StrategyKind::SeasonalHour,
        StrategyKind::SeasonalWeekday,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Zscore => "zscore",
            StrategyKind::RelativeChange => "relative_change",
            StrategyKind::AbsoluteChange => "absolute_change",
            StrategyKind::SeasonalHour => "seasonal_hour",
            StrategyKind::SeasonalWeekday => "seasonal_weekday",
        }
    }

    pub fn parse(name: &str) -> Option<StrategyKind> {
        StrategyKind::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The threshold when the manifest gives none (`None`: it must).
    pub fn default_threshold(self) -> Option<f64> {
        match self {
            StrategyKind::Zscore | StrategyKind::SeasonalHour | StrategyKind::SeasonalWeekday => {
                Some(3.0)
            }
            StrategyKind::RelativeChange => Some(0.5),
            StrategyKind::AbsoluteChange => None,
        }
    }
}

pub const DEFAULT_TRAINING_WINDOW: Duration = Duration::from_secs(14 * 24 * 3600);
pub const DEFAULT_MIN_HISTORY: u32 = 10;

impl AnomalySpec {
    pub fn detector(&self) -> Detector {
        let threshold = self.threshold;
        let strategy = match self.strategy {
            StrategyKind::Zscore => Strategy::ZScore { threshold },
            StrategyKind::RelativeChange => Strategy::RelativeChange {
                max_change: threshold,
            },
            StrategyKind::AbsoluteChange => Strategy::AbsoluteChange {
                max_change: threshold,
            },
            StrategyKind::SeasonalHour => Strategy::Seasonal {
                season: Season::HourOfDay,
                threshold,
            },
            StrategyKind::SeasonalWeekday => Strategy::Seasonal {
                season: Season::DayOfWeek,
                threshold,
            },
        };
        Detector {
            min_history: self.min_history as usize,
            sensitivity: self.sensitivity,
            ..Detector::new(strategy)
        }
    }
}

/// One value of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// Which points of the history a seasonal model compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    HourOfDay,
    DayOfWeek,
}

impl Season {
    fn bucket(self, at: DateTime<Utc>) -> u32 {
        match self {
            Season::HourOfDay => at.hour(),
            Season::DayOfWeek => at.weekday().num_days_from_monday(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    ZScore { threshold: f64 },
    RelativeChange { max_change: f64 },
    AbsoluteChange { max_change: f64 },
    Seasonal { season: Season, threshold: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detector {
    pub strategy: Strategy,
    /// Points needed before judging (per season bucket for `Seasonal`).
    pub min_history: usize,
    /// Scales the threshold: above 1 flags more, below 1 fewer.
    pub sensitivity: f64,
    /// Anomalies in a row, on one side, that make a level shift.
    pub accept_shift_after: usize,
}

impl Detector {
    pub fn new(strategy: Strategy) -> Detector {
        Detector {
            strategy,
            min_history: 10,
            sensitivity: 1.0,
            accept_shift_after: 3,
        }
    }
}

/// What the detector says of the newest point.
#[derive(Debug, Clone, PartialEq)]
pub enum Assessment {
    /// Too little normal history to judge: `have` of `need` points.
    NotEnoughHistory { have: usize, need: usize },
    Judged {
        anomalous: bool,
        /// How far out it is, in the strategy's unit (standard deviations,
        /// share of the previous value, or absolute change).
        score: f64,
        /// The band a normal value falls in.
        expected_low: f64,
        expected_high: f64,
    },
}

impl Assessment {
    pub fn is_anomalous(&self) -> bool {
        matches!(
            self,
            Assessment::Judged {
                anomalous: true,
                ..
            }
        )
    }
}

/// Judges `current` against `training` (the normal points before it, oldest
/// first).
pub fn assess(detector: &Detector, training: &[Point], current: Point) -> Assessment {
    let sensitivity = if detector.sensitivity > 0.0 {
        detector.sensitivity
    } else {
        1.0
    };
    match detector.strategy {
        Strategy::ZScore { threshold } => {
            let values: Vec<f64> = training.iter().map(|p| p.value).collect();
            z_band(
                &values,
                current.value,
                threshold / sensitivity,
                detector.min_history,
            )
        }
        Strategy::Seasonal { season, threshold } => seasonal_band(
            season,
            training,
            current,
            threshold / sensitivity,
            detector.min_history,
        ),
        Strategy::RelativeChange { max_change } => {
            change_band(training, current, detector.min_history, |previous| {
                previous.abs() * max_change / sensitivity
            })
            .map_score(|delta, previous| {
                if previous == 0.0 {
                    if delta == 0.0 {
                        0.0
                    } else {
                        f64::INFINITY
                    }
                } else {
                    delta / previous.abs()
                }
            })
        }
        Strategy::AbsoluteChange { max_change } => {
            change_band(training, current, detector.min_history, |_| {
                max_change / sensitivity
            })
            .map_score(|delta, _| delta)
        }
    }
}

/// The training set from a history whose points were each judged when
/// they came (`flags[i]`: point `i` was anomalous), as the store records
/// them: isolated anomalies left out, a level shift re-admitted.
pub fn training_set(detector: &Detector, history: &[Point], flags: &[bool]) -> Vec<Point> {
    let mut trainer = Trainer::new(detector.accept_shift_after);
    for (point, anomalous) in history.iter().zip(flags) {
        let high = trainer.last().is_some_and(|last| point.value > last.value);
        trainer.add(*point, *anomalous, high);
    }
    trainer.normal
}

/// Judges each point of `history` (oldest first) against the normal ones
/// before it, as a detector running all along would have: the training set
/// for the point after the last, and each point's flag.
pub fn train(detector: &Detector, history: &[Point]) -> (Vec<Point>, Vec<bool>) {
    let mut trainer = Trainer::new(detector.accept_shift_after);
    let mut flags = Vec::with_capacity(history.len());
    for &point in history {
        let (anomalous, high) = match assess(detector, &trainer.normal, point) {
            Assessment::Judged {
                anomalous,
                expected_high,
                ..
            } => (anomalous, point.value > expected_high),
            Assessment::NotEnoughHistory { .. } => (false, false),
        };
        flags.push(anomalous);
        trainer.add(point, anomalous, high);
    }
    (trainer.normal, flags)
}

/// The normal points so far, and the current run of anomalies.
struct Trainer {
    normal: Vec<Point>,
    streak: Vec<Point>,
    streak_high: bool,
    accept_shift_after: usize,
}

impl Trainer {
    fn new(accept_shift_after: usize) -> Self {
        Trainer {
            normal: Vec::new(),
            streak: Vec::new(),
            streak_high: false,
            accept_shift_after: accept_shift_after.max(1),
        }
    }

    fn last(&self) -> Option<&Point> {
        self.normal.last()
    }

    fn add(&mut self, point: Point, anomalous: bool, high: bool) {
        if !anomalous {
            // The anomalies before it were isolated: they stay out.
            self.streak.clear();
            self.normal.push(point);
            return;
        }
        if !self.streak.is_empty() && high != self.streak_high {
            self.streak.clear();
        }
        self.streak_high = high;
        self.streak.push(point);
        if self.streak.len() >= self.accept_shift_after {
            // A new level: train on it alone, the old one no longer applies.
            self.normal = std::mem::take(&mut self.streak);
        }
    }
}

fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, variance.sqrt())
}

fn z_band(values: &[f64], value: f64, threshold: f64, min_history: usize) -> Assessment {
    let need = min_history.max(2);
    if values.len() < need {
        return Assessment::NotEnoughHistory {
            have: values.len(),
            need,
        };
    }
    let (mean, std) = mean_and_std(values);
    // A perfectly flat history: any change is news, none is not.
    let std = if std > 0.0 {
        std
    } else {
        mean.abs() * 1e-9 + f64::EPSILON
    };
    let score = (value - mean).abs() / std;
    Assessment::Judged {
        anomalous: score > threshold,
        score,
        expected_low: mean - threshold * std,
        expected_high: mean + threshold * std,
    }
}

/// The z-band of the current point's season bucket: the bucket's own mean,
/// and the noise pooled over every bucket (deviations from their means),
/// which a bucket's few points alone would estimate poorly.
fn seasonal_band(
    season: Season,
    training: &[Point],
    current: Point,
    threshold: f64,
    min_history: usize,
) -> Assessment {
    let mut buckets: std::collections::BTreeMap<u32, Vec<f64>> = Default::default();
    for p in training {
        buckets
            .entry(season.bucket(p.at))
            .or_default()
            .push(p.value);
    }
    let need = min_history.max(2);
    let own = buckets.get(&season.bucket(current.at)).map_or(0, Vec::len);
    if own < need {
        return Assessment::NotEnoughHistory { have: own, need };
    }
    let (mut squares, mut dof) = (0.0, 0.0);
    let mut mean_of = std::collections::BTreeMap::new();
    for (bucket, values) in &buckets {
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        squares += values.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
        dof += (values.len() as f64 - 1.0).max(0.0);
        mean_of.insert(*bucket, mean);
    }
    let mean = mean_of[&season.bucket(current.at)];
    let std = (squares / dof.max(1.0)).sqrt();
    let std = if std > 0.0 {
        std
    } else {
        mean.abs() * 1e-9 + f64::EPSILON
    };
    let score = (current.value - mean).abs() / std;
    Assessment::Judged {
        anomalous: score > threshold,
        score,
        expected_low: mean - threshold * std,
        expected_high: mean + threshold * std,
    }
}

/// A band around the previous normal point, `allowed(previous)` wide.
struct ChangeBand {
    assessment: Assessment,
    delta: f64,
    previous: f64,
}

impl ChangeBand {
    fn map_score(self, score: impl Fn(f64, f64) -> f64) -> Assessment {
        match self.assessment {
            Assessment::Judged {
                anomalous,
                expected_low,
                expected_high,
                ..
            } => Assessment::Judged {
                anomalous,
                score: score(self.delta, self.previous),
                expected_low,
                expected_high,
            },
            other => other,
        }
    }
}

fn change_band(
    training: &[Point],
    current: Point,
    min_history: usize,
    allowed: impl Fn(f64) -> f64,
) -> ChangeBand {
    let need = min_history.max(1);
    let Some(previous) = training.last().filter(|_| training.len() >= need) else {
        return ChangeBand {
            assessment: Assessment::NotEnoughHistory {
                have: training.len(),
                need,
            },
            delta: 0.0,
            previous: 0.0,
        };
    };
    let width = allowed(previous.value);
    let delta = (current.value - previous.value).abs();
    ChangeBand {
        assessment: Assessment::Judged {
            anomalous: delta > width,
            score: delta,
            expected_low: previous.value - width,
            expected_high: previous.value + width,
        },
        delta,
        previous: previous.value,
    }
}

#[cfg(test)]
#[path = "anomaly_tests.rs"]
mod tests;
