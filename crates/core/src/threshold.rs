//! Bounds on an observed value. A value outside the fail bounds fails the
//! rule; inside them but outside the warn bounds it warns.

use serde::{Deserialize, Serialize};

/// Inclusive bounds: `min <= value <= max` passes. `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Bounds {
    pub const fn at_most(max: f64) -> Self {
        Bounds {
            min: None,
            max: Some(max),
        }
    }

    pub const fn at_least(min: f64) -> Self {
        Bounds {
            min: Some(min),
            max: None,
        }
    }

    pub fn is_unbounded(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }

    /// Which bound `value` crosses, if any. At exactly a bound it passes.
    pub fn crossed(&self, value: f64) -> Option<Crossed> {
        if let Some(min) = self.min {
            if value < min {
                return Some(Crossed::BelowMin(min));
            }
        }
        if let Some(max) = self.max {
            if value > max {
                return Some(Crossed::AboveMax(max));
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Crossed {
    BelowMin(f64),
    AboveMax(f64),
}

/// The fail bounds and the (stricter) warn bounds of a rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    #[serde(default)]
    pub fail: Bounds,
    #[serde(default, skip_serializing_if = "Bounds::is_unbounded")]
    pub warn: Bounds,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    #[error("{field} is {value}, which is not a finite number")]
    NotFinite { field: &'static str, value: f64 },
    #[error("{field} is {value} (expected a value between {low} and {high})")]
    OutOfRange {
        field: &'static str,
        value: f64,
        low: f64,
        high: f64,
    },
    #[error("min {min} is greater than max {max}")]
    MinAboveMax { min: f64, max: f64 },
    #[error("warn bound {warn} is not stricter than the fail bound {fail} (a warning must come before the failure)")]
    WarnNotStricter { warn: f64, fail: f64 },
}

impl Thresholds {
    pub fn fail(bounds: Bounds) -> Self {
        Thresholds {
            fail: bounds,
            warn: Bounds::default(),
        }
    }

    /// Checks that every bound is finite and inside `[low, high]` (the domain
    /// of the observed metric: [0, 1] for a rate, [0, inf) for a count), that
    /// min <= max, and that warn bounds sit inside the fail bounds.
    pub fn validate(&self, low: f64, high: f64) -> Vec<(&'static str, ThresholdError)> {
        let mut errors = Vec::new();
        let named = [
            ("min", self.fail.min),
            ("max", self.fail.max),
            ("warn_min", self.warn.min),
            ("warn_max", self.warn.max),
        ];
        for (field, value) in named {
            let Some(value) = value else { continue };
            if !value.is_finite() {
                errors.push((field, ThresholdError::NotFinite { field, value }));
            } else if value < low || value > high {
                errors.push((
                    field,
                    ThresholdError::OutOfRange {
                        field,
                        value,
                        low,
                        high,
                    },
                ));
            }
        }
        for (field, bounds) in [("min", self.fail), ("warn_min", self.warn)] {
            if let (Some(min), Some(max)) = (bounds.min, bounds.max) {
                if min > max {
                    errors.push((field, ThresholdError::MinAboveMax { min, max }));
                }
            }
        }
        if let (Some(warn), Some(fail)) = (self.warn.max, self.fail.max) {
            if warn > fail {
                errors.push(("warn_max", ThresholdError::WarnNotStricter { warn, fail }));
            }
        }
        if let (Some(warn), Some(fail)) = (self.warn.min, self.fail.min) {
            if warn < fail {
                errors.push(("warn_min", ThresholdError::WarnNotStricter { warn, fail }));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        let b = Bounds {
            min: Some(1.0),
            max: Some(10.0),
        };
        for (value, expected) in [
            (0.999, Some(Crossed::BelowMin(1.0))),
            (1.0, None),
            (10.0, None),
            (10.000001, Some(Crossed::AboveMax(10.0))),
            (f64::MAX, Some(Crossed::AboveMax(10.0))),
        ] {
            assert_eq!(b.crossed(value), expected, "{value}");
        }
        assert_eq!(Bounds::default().crossed(1e300), None);
    }

    #[test]
    fn validation_finds_every_problem() {
        let t = Thresholds {
            fail: Bounds {
                min: Some(0.5),
                max: Some(0.2),
            },
            warn: Bounds {
                min: None,
                max: Some(1.5),
            },
        };
        let fields: Vec<_> = t.validate(0.0, 1.0).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, vec!["warn_max", "min", "warn_max"]);
        let ok = Thresholds {
            fail: Bounds::at_most(0.01),
            warn: Bounds::at_most(0.005),
        };
        assert!(ok.validate(0.0, 1.0).is_empty());
        let nan = Thresholds::fail(Bounds::at_most(f64::NAN));
        assert!(matches!(
            nan.validate(0.0, 1.0)[0].1,
            ThresholdError::NotFinite { .. }
        ));
    }
}
