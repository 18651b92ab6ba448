//! Which ticks a beat enqueues for a rule: the normal tick, and what happens
//! to ticks missed while no beat was running. Celery beat silently drops or
//! floods them depending on its store; here the policy is explicit.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::schedule::Schedule;

/// A grace window of zero means "never run a missed tick late".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "policy")]
pub enum CatchUp {
    /// One run for all the missed ticks: the latest one, if it is within
    /// the grace window. The default: data is checked once after an outage,
    /// not N times in a burst.
    #[default]
    Latest,
    /// Every missed tick within the grace window, oldest first, at most `max`.
    All { max: usize },
}

/// What to do for one rule at one beat iteration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTicks {
    /// Ticks to enqueue now, oldest first.
    pub enqueue: Vec<DateTime<Utc>>,
    /// Ticks that were due but are not enqueued (older than the grace
    /// window, or folded into the latest by the policy).
    pub dropped: usize,
    /// Where the rule's schedule resumes: the beat's cursor after this call.
    pub cursor: DateTime<Utc>,
}

/// How late a tick may be and still count as on time rather than missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lateness {
    /// Ticks at most this late are all enqueued, each one: a beat failover
    /// (a lease expiring and another beat taking over) is not an outage and
    /// must not fold ticks together. Set it above the lease ttl.
    pub on_time: Duration,
    /// Ticks later than this are never run; between `on_time` and `grace`
    /// the catch-up policy decides.
    pub grace: Duration,
}

/// Ticks after `cursor` (the last tick already handled) up to `now`.
pub fn due_ticks(
    schedule: &Schedule,
    cursor: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: CatchUp,
    lateness: Lateness,
) -> DueTicks {
    // Bounded: a rule firing every second and a beat down for a week would
    // otherwise enumerate 600,000 ticks. The cursor advances by this many
    // per call, so a long outage is worked off over a few calls.
    const SCAN_LIMIT: usize = 10_000;
    let due = schedule.ticks_between(cursor, now, SCAN_LIMIT);
    let Some(&latest) = due.last() else {
        return DueTicks {
            enqueue: Vec::new(),
            dropped: 0,
            cursor,
        };
    };
    let late = |t: &DateTime<Utc>| (now - *t).to_std().unwrap_or_default();
    let on_time: Vec<DateTime<Utc>> = due
        .iter()
        .copied()
        .filter(|t| late(t) <= lateness.on_time)
        .collect();
    let missed: Vec<DateTime<Utc>> = due
        .iter()
        .copied()
        .filter(|t| late(t) > lateness.on_time && late(t) <= lateness.grace)
        .collect();
    let enqueue = match policy {
        // The missed ticks fold into one run, unless an on-time tick runs anyway.
        CatchUp::Latest if on_time.is_empty() => missed.last().copied().into_iter().collect(),
        CatchUp::Latest => on_time,
        CatchUp::All { max } => {
            let keep = max.saturating_sub(on_time.len());
            let skip = missed.len().saturating_sub(keep);
            missed[skip..].iter().copied().chain(on_time).collect()
        }
    };
    DueTicks {
        dropped: due.len() - enqueue.len(),
        enqueue,
        cursor: latest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, h, m, 0).unwrap()
    }

    #[test]
    fn policies() {
        let every_15 = Schedule::new("*/15 * * * *", "UTC").unwrap();
        let lateness = |grace_secs: u64| Lateness {
            on_time: Duration::from_secs(30),
            grace: Duration::from_secs(grace_secs),
        };
        let hour = lateness(3600);
        let minute = lateness(60);
        // (case, cursor, now, policy, grace, enqueue, dropped, cursor after)
        let cases = vec![
            (
                "nothing due",
                at(10, 0),
                at(10, 10),
                CatchUp::Latest,
                hour,
                vec![],
                0,
                at(10, 0),
            ),
            (
                "normal tick",
                at(10, 0),
                at(10, 15),
                CatchUp::Latest,
                hour,
                vec![at(10, 15)],
                0,
                at(10, 15),
            ),
            (
                "after a 2 h outage: one run, for the latest tick",
                at(8, 0),
                at(10, 5),
                CatchUp::Latest,
                hour,
                vec![at(10, 0)],
                7,
                at(10, 0),
            ),
            (
                "all missed ticks within the grace window",
                at(8, 0),
                at(10, 5),
                CatchUp::All { max: 100 },
                hour,
                vec![at(9, 15), at(9, 30), at(9, 45), at(10, 0)],
                4,
                at(10, 0),
            ),
            (
                "all, capped",
                at(8, 0),
                at(10, 5),
                CatchUp::All { max: 2 },
                hour,
                vec![at(9, 45), at(10, 0)],
                6,
                at(10, 0),
            ),
            (
                "latest tick older than the grace window: nothing runs late",
                at(8, 0),
                at(10, 10),
                CatchUp::Latest,
                minute,
                vec![],
                8,
                at(10, 0),
            ),
            (
                "a zero grace window still runs a tick due right now",
                at(10, 0),
                at(10, 15),
                CatchUp::Latest,
                lateness(0),
                vec![at(10, 15)],
                0,
                at(10, 15),
            ),
        ];
        for (case, cursor, now, policy, grace, enqueue, dropped, after) in cases {
            let due = due_ticks(&every_15, cursor, now, policy, grace);
            assert_eq!(due.enqueue, enqueue, "{case}");
            assert_eq!(due.dropped, dropped, "{case}");
            assert_eq!(due.cursor, after, "{case}");
        }
    }

    #[test]
    fn a_failover_enqueues_every_tick_it_delayed() {
        let every_second = Schedule::new("* * * * * *", "UTC").unwrap();
        let lateness = Lateness {
            on_time: Duration::from_secs(30),
            grace: Duration::from_secs(3600),
        };
        // The old leader enqueued 10:00:00 and died; the new one takes over 12 s later.
        let now = at(10, 0) + chrono::Duration::seconds(12);
        let due = due_ticks(&every_second, at(10, 0), now, CatchUp::Latest, lateness);
        assert_eq!(due.enqueue.len(), 12);
        assert_eq!(due.dropped, 0);
        assert_eq!(due.cursor, now);
        // A real outage, 2 minutes: the on-time ticks run, the rest fold away.
        let now = at(10, 2);
        let due = due_ticks(&every_second, at(10, 0), now, CatchUp::Latest, lateness);
        assert_eq!(due.enqueue.len(), 31);
        assert_eq!(due.dropped, 120 - 31);
    }

    #[test]
    fn a_long_outage_of_a_seconds_level_rule_is_bounded() {
        let every_second = Schedule::new("* * * * * *", "UTC").unwrap();
        let due = due_ticks(
            &every_second,
            at(0, 0),
            at(23, 0),
            CatchUp::Latest,
            Lateness {
                on_time: Duration::from_secs(20),
                grace: Duration::from_secs(3600),
            },
        );
        assert!(due.enqueue.len() <= 1);
        assert!(due.cursor <= at(23, 0));
    }
}
