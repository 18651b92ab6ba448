//! Numbers as people read them in messages: `1,204 rows`, `0.62%`, `3h 12m`.

use crate::check::Unit;
use crate::threshold::Bounds;

pub fn value(unit: Unit, v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match unit {
        Unit::Count => count(v),
        Unit::Rate => format!("{}%", trim_decimals(v * 100.0, 4)),
        Unit::Seconds => duration(v),
        Unit::Number => trim_decimals(v, 6),
    }
}

/// What the bounds allow: `<= 0.5%`, `>= 1`, `between 1 and 10`.
pub fn bounds(unit: Unit, b: &Bounds) -> String {
    match (b.min, b.max) {
        (Some(min), Some(max)) => format!("between {} and {}", value(unit, min), value(unit, max)),
        (Some(min), None) => format!(">= {}", value(unit, min)),
        (None, Some(max)) => format!("<= {}", value(unit, max)),
        (None, None) => "any".into(),
    }
}

fn count(v: f64) -> String {
    if v.fract() != 0.0 || v.abs() >= 9.2e18 {
        return trim_decimals(v, 2);
    }
    let digits = format!("{}", v.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        out.insert(0, '-');
    }
    out
}

fn trim_decimals(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

fn duration(seconds: f64) -> String {
    if seconds < 0.0 {
        return format!("-{}", duration(-seconds));
    }
    let total = seconds.round() as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        for (unit, v, expected) in [
            (Unit::Count, 0.0, "0"),
            (Unit::Count, 1204.0, "1,204"),
            (Unit::Count, 12_345_678_901.0, "12,345,678,901"),
            (Unit::Count, 2.5, "2.5"),
            (Unit::Rate, 0.0062, "0.62%"),
            (Unit::Rate, 0.005, "0.5%"),
            (Unit::Rate, 0.0, "0%"),
            (Unit::Rate, 1.0, "100%"),
            (Unit::Seconds, 7200.0, "2h"),
            (Unit::Seconds, 11_520.0, "3h 12m"),
            (Unit::Seconds, 90_061.0, "1d 1h 1m 1s"),
            (Unit::Seconds, 0.2, "0s"),
            (Unit::Number, 1.23456789, "1.234568"),
            (Unit::Number, -0.0, "0"),
            (Unit::Number, f64::NAN, "NaN"),
        ] {
            assert_eq!(value(unit, v), expected, "{unit:?} {v}");
        }
        assert_eq!(bounds(Unit::Rate, &Bounds::at_most(0.005)), "<= 0.5%");
        assert_eq!(
            bounds(
                Unit::Count,
                &Bounds {
                    min: Some(1.0),
                    max: Some(1000.0)
                }
            ),
            "between 1 and 1,000"
        );
    }
}
