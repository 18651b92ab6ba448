//! Small measuring helpers: medians of repeated timings, and this process's
//! peak resident memory.

use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn median(&self) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        match sorted.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        }
    }

    pub fn min(&self) -> Duration {
        self.0.iter().min().copied().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.0.iter().max().copied().unwrap_or_default()
    }
}

/// Peak resident set size of this process (VmHWM), where the OS tells it.
pub fn peak_rss_bytes() -> Option<u64> {
    memory_bytes("self", "VmHWM")
}

/// A memory field of /proc/PID/status (`VmRSS`, `VmHWM`, ...) in bytes;
/// `pid` may be `self`.
pub fn memory_bytes(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| {
        l.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        for (input, median) in [
            (vec![], ms(0)),
            (vec![ms(5)], ms(5)),
            (vec![ms(9), ms(1), ms(5)], ms(5)),
            (
                vec![ms(4), ms(1), ms(3), ms(2)],
                Duration::from_micros(2500),
            ),
        ] {
            let mut s = Samples::default();
            for d in input {
                s.push(d);
            }
            assert_eq!(s.median(), median);
        }
        assert!(peak_rss_bytes().is_some_and(|b| b > 0));
    }
}
