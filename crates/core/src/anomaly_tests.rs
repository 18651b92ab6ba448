//! The detectors on synthetic series with known anomalies: spikes, drops,
//! a level shift, daily and weekly seasonality. Each test prints its
//! precision and recall (`cargo test -p dq-core anomaly -- --nocapture`)
//! and holds them to a floor.

use chrono::{Duration, TimeZone, Utc};

use super::*;

/// Deterministic noise: a linear congruential generator, and roughly
/// normal values from the sum of twelve uniforms.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

struct Series {
    points: Vec<Point>,
    /// Indices that are anomalies.
    truth: Vec<usize>,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

/// `n` points `step` apart: `level(i, at)` plus noise of `sigma`.
fn series(
    n: usize,
    step: Duration,
    sigma: f64,
    level: impl Fn(usize, DateTime<Utc>) -> f64,
) -> Series {
    let mut noise = Noise(42);
    let points = (0..n)
        .map(|i| {
            let at = start() + step * i as i32;
            Point {
                at,
                value: level(i, at) + sigma * noise.normal(),
            }
        })
        .collect();
    Series {
        points,
        truth: Vec::new(),
    }
}

impl Series {
    fn inject(mut self, at: usize, factor: f64) -> Series {
        self.points[at].value *= factor;
        self.truth.push(at);
        self
    }
}

struct Score {
    precision: f64,
    recall: f64,
}

/// Streams the series through the detector, training each point on the
/// `window` points before it; scores the flags from index `from` on.
fn evaluate(name: &str, detector: &Detector, s: &Series, window: usize, from: usize) -> Score {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    let mut missed = Vec::new();
    let mut false_alarms = Vec::new();
    // Each point is judged once, when it comes, and its flag is kept (as
    // the store keeps each run's verdict); training reads the window's flags.
    let mut flags: Vec<bool> = Vec::with_capacity(s.points.len());
    for i in 0..s.points.len() {
        let first = i.saturating_sub(window);
        let training = training_set(detector, &s.points[first..i], &flags[first..i]);
        let flagged = assess(detector, &training, s.points[i]).is_anomalous();
        flags.push(flagged);
        if i < from {
            continue;
        }
        match (flagged, s.truth.contains(&i)) {
            (true, true) => tp += 1,
            (true, false) => {
                fp += 1;
                false_alarms.push(i);
            }
            (false, true) => {
                fn_ += 1;
                missed.push(i);
            }
            (false, false) => {}
        }
    }
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        1.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    eprintln!(
        "{name}: precision {precision:.2}, recall {recall:.2} ({tp} found, {fp} false alarms {false_alarms:?}, {fn_} missed {missed:?})"
    );
    Score { precision, recall }
}

#[test]
fn zscore_finds_spikes_and_drops_in_a_noisy_flat_series() {
    let s = series(24 * 21, Duration::hours(1), 20.0, |_, _| 1000.0)
        .inject(340, 1.3)
        .inject(365, 0.6)
        .inject(401, 1.15)
        .inject(433, 0.8)
        .inject(470, 2.0)
        .inject(490, 0.0);
    let detector = Detector::new(Strategy::ZScore { threshold: 3.5 });
    let score = evaluate("zscore, flat", &detector, &s, 24 * 14, 24 * 14);
    assert!(
        score.precision >= 0.85 && score.recall >= 0.99,
        "see stderr"
    );
}

#[test]
fn seasonal_model_knows_the_nightly_dip_that_a_plain_zscore_calls_anomalous() {
    let daily = |_: usize, at: DateTime<Utc>| {
        1000.0 + 400.0 * (std::f64::consts::TAU * at.hour() as f64 / 24.0).sin()
    };
    let s = series(24 * 21, Duration::hours(1), 15.0, daily)
        .inject(350, 1.25)
        .inject(380, 0.7)
        .inject(415, 1.2)
        .inject(460, 0.75);
    let seasonal = Detector {
        min_history: 7,
        ..Detector::new(Strategy::Seasonal {
            season: Season::HourOfDay,
            threshold: 4.0,
        })
    };
    let score = evaluate("seasonal by hour", &seasonal, &s, 24 * 14, 24 * 14);
    assert!(
        score.precision >= 0.85 && score.recall >= 0.99,
        "see stderr"
    );
    // A plain z-score over the same data misses what the season hides.
    let plain = Detector::new(Strategy::ZScore { threshold: 4.0 });
    let plain_score = evaluate(
        "plain zscore on a seasonal series",
        &plain,
        &s,
        24 * 14,
        24 * 14,
    );
    assert!(plain_score.recall < score.recall);
}

#[test]
fn weekly_seasonality_by_day_of_week() {
    // Daily points; weekends at a third of the weekday volume.
    let weekly = |_: usize, at: DateTime<Utc>| {
        if at.weekday().num_days_from_monday() >= 5 {
            30_000.0
        } else {
            90_000.0
        }
    };
    let s = series(7 * 30, Duration::days(1), 1_500.0, weekly)
        .inject(7 * 20 + 2, 0.5)
        .inject(7 * 22 + 5, 2.0)
        .inject(7 * 25 + 3, 1.3)
        .inject(7 * 27 + 6, 0.4);
    let detector = Detector {
        min_history: 6,
        ..Detector::new(Strategy::Seasonal {
            season: Season::DayOfWeek,
            threshold: 4.0,
        })
    };
    let score = evaluate("seasonal by weekday", &detector, &s, 7 * 12, 7 * 14);
    assert!(
        score.precision >= 0.99 && score.recall >= 0.99,
        "see stderr"
    );
}

#[test]
fn a_level_shift_alerts_then_becomes_the_new_normal() {
    let shift_at = 24 * 17;
    let s = series(24 * 21, Duration::hours(1), 20.0, |i, _| {
        if i >= shift_at {
            1500.0
        } else {
            1000.0
        }
    });
    let detector = Detector::new(Strategy::ZScore { threshold: 4.0 });
    // The first points at the new level are anomalies; then it is normal.
    let truth: Vec<usize> = (shift_at..shift_at + detector.accept_shift_after).collect();
    let s = Series { truth, ..s };
    let score = evaluate("level shift", &detector, &s, 24 * 14, 24 * 14);
    assert!(
        score.precision >= 0.99 && score.recall >= 0.99,
        "see stderr"
    );
}

#[test]
fn an_isolated_spike_is_left_out_of_later_training() {
    let mut s = series(200, Duration::hours(1), 10.0, |_, _| 500.0);
    s.points[150].value = 5_000.0;
    let detector = Detector::new(Strategy::ZScore { threshold: 4.0 });
    let (training, flags) = train(&detector, &s.points);
    let flagged: Vec<usize> = (0..flags.len()).filter(|&i| flags[i]).collect();
    assert_eq!(flagged, [150]);
    assert!(!training.iter().any(|p| p.value > 1_000.0));
}

#[test]
fn changes_from_the_previous_point() {
    let at = |i: i64| start() + Duration::hours(i);
    let history: Vec<Point> = (0..5)
        .map(|i| Point {
            at: at(i),
            value: 100.0,
        })
        .collect();
    let relative = Detector {
        min_history: 1,
        ..Detector::new(Strategy::RelativeChange { max_change: 0.2 })
    };
    let absolute = Detector {
        min_history: 1,
        ..Detector::new(Strategy::AbsoluteChange { max_change: 15.0 })
    };
    let judge = |d: &Detector, value: f64| assess(d, &history, Point { at: at(5), value });
    assert!(!judge(&relative, 119.0).is_anomalous());
    assert!(judge(&relative, 121.0).is_anomalous());
    assert!(judge(&relative, 79.0).is_anomalous());
    assert!(!judge(&absolute, 114.0).is_anomalous());
    assert!(judge(&absolute, 116.0).is_anomalous());
    // Sensitivity scales the band: twice as sensitive, half as wide.
    let sensitive = Detector {
        sensitivity: 2.0,
        ..absolute
    };
    assert!(judge(&sensitive, 108.0).is_anomalous());
}

#[test]
fn too_little_history_is_said_not_judged() {
    let detector = Detector::new(Strategy::ZScore { threshold: 3.0 });
    let history: Vec<Point> = (0..4)
        .map(|i| Point {
            at: start() + Duration::hours(i),
            value: 1.0,
        })
        .collect();
    let current = Point {
        at: start() + Duration::hours(5),
        value: 99.0,
    };
    assert_eq!(
        assess(&detector, &history, current),
        Assessment::NotEnoughHistory { have: 4, need: 10 }
    );
}

#[test]
fn subtle_anomalies_show_the_threshold_trade_off() {
    // Deviations from 2.5 to 8 standard deviations (sigma 20 on 1000).
    let s = series(24 * 28, Duration::hours(1), 20.0, |_, _| 1000.0)
        .inject(24 * 14 + 10, 1.05)
        .inject(24 * 15 + 3, 0.94)
        .inject(24 * 16 + 20, 1.08)
        .inject(24 * 18 + 7, 0.92)
        .inject(24 * 20 + 1, 1.16)
        .inject(24 * 22 + 12, 0.85)
        .inject(24 * 24 + 5, 1.07)
        .inject(24 * 26 + 9, 0.95);
    let mut scores = Vec::new();
    for threshold in [3.0, 3.5, 4.0] {
        let detector = Detector::new(Strategy::ZScore { threshold });
        let name = format!("zscore {threshold} on subtle anomalies");
        scores.push(evaluate(&name, &detector, &s, 24 * 14, 24 * 14));
    }
    // A lower threshold finds more and raises more false alarms.
    assert!(scores[0].recall >= scores[2].recall);
    assert!(scores[0].precision <= scores[2].precision);
    assert!(
        scores[1].precision >= 0.5 && scores[1].recall >= 0.5,
        "see stderr"
    );
}
