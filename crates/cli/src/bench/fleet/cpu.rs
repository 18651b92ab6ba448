//! CPU time by program, from /proc: where a scenario's cycles went (the
//! worker, the store server, the broker server, the benchmark itself). On
//! a small machine every service shares the same cores, so a throughput
//! figure means little without it.

use std::collections::BTreeMap;
use std::time::Duration;

/// Clock ticks per second of /proc/*/stat times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time (user + system) of every live process, summed by program name.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot(BTreeMap<String, u64>);

impl CpuSnapshot {
    pub fn now() -> CpuSnapshot {
        let mut by_name = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return CpuSnapshot(by_name);
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if let Some((comm, ticks)) = parse_stat(&stat) {
                *by_name.entry(comm).or_insert(0) += ticks;
            }
        }
        CpuSnapshot(by_name)
    }

    /// CPU time spent since `earlier` by programs named `name`. Processes
    /// that ended in between are not counted.
    pub fn since(&self, earlier: &CpuSnapshot, name: &str) -> Duration {
        let now = self.0.get(name).copied().unwrap_or(0);
        let then = earlier.0.get(name).copied().unwrap_or(0);
        Duration::from_secs_f64(now.saturating_sub(then) as f64 / TICKS_PER_SECOND)
    }
}

/// CPU time of one process so far (zero if it is gone).
pub fn of_process(pid: &str) -> Duration {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| parse_stat(&stat))
        .map_or(Duration::ZERO, |(_, ticks)| {
            Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND)
        })
}

/// `(comm, utime + stime)` from one /proc/PID/stat line. The name is in
/// parentheses and may itself hold spaces or parentheses.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14, stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_and_times_from_a_stat_line() {
        let line = "4975 (dq worker (x)) S 1 4975 1 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 4 0";
        assert_eq!(parse_stat(line), Some(("dq worker (x)".to_string(), 1290)));
        assert!(CpuSnapshot::now().0.values().any(|&t| t > 0));
    }
}
