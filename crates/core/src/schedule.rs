//! When a rule runs: a cron expression (5 fields, or 6 with seconds) read in
//! an IANA time zone. Parsing happens once, here; the beat only asks for ticks.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "{0:?} has {1} fields (expected 5: minute hour day month weekday, or 6 with seconds first)"
    )]
    FieldCount(String, usize),
    #[error("{0:?} is not a valid cron expression: {1}")]
    Cron(String, String),
    #[error("unknown time zone {0:?} (expected an IANA name such as UTC or Europe/Paris)")]
    TimeZone(String),
}

/// A validated cron expression plus the time zone it is read in.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "ScheduleText", into = "ScheduleText")]
pub struct Schedule {
    expression: String,
    timezone: Tz,
    cron: Cron,
}

#[derive(Serialize, Deserialize)]
struct ScheduleText {
    cron: String,
    timezone: String,
}

impl Schedule {
    pub fn new(expression: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let cron = parse_cron(expression)?;
        let timezone = parse_timezone(timezone)?;
        Ok(Schedule {
            expression: expression.trim().to_string(),
            timezone,
            cron,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first tick strictly after `after`, in UTC.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

impl Schedule {
    /// Every tick in `(after, until]`, oldest first, at most `limit` of them.
    pub fn ticks_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut ticks = Vec::new();
        let mut cursor = after;
        while ticks.len() < limit {
            match self.next_after(cursor) {
                Some(tick) if tick <= until => {
                    ticks.push(tick);
                    cursor = tick;
                }
                _ => break,
            }
        }
        ticks
    }
}

pub fn parse_cron(expression: &str) -> Result<Cron, ScheduleError> {
    let trimmed = expression.trim();
    if !trimmed.starts_with('@') {
        let fields = trimmed.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(ScheduleError::FieldCount(trimmed.to_string(), fields));
        }
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(trimmed)
        .map_err(|e| ScheduleError::Cron(trimmed.to_string(), e.to_string()))
}

pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ScheduleError::TimeZone(name.to_string()))
}

impl TryFrom<ScheduleText> for Schedule {
    type Error = ScheduleError;
    fn try_from(value: ScheduleText) -> Result<Self, Self::Error> {
        Schedule::new(&value.cron, &value.timezone)
    }
}

impl From<Schedule> for ScheduleText {
    fn from(value: Schedule) -> Self {
        ScheduleText {
            cron: value.expression,
            timezone: value.timezone.name().to_string(),
        }
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression && self.timezone == other.timezone
    }
}

impl Eq for Schedule {}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Schedule({:?} in {})",
            self.expression,
            self.timezone.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn accepts_five_and_six_fields_and_rejects_the_rest() {
        for (expr, ok) in [
            ("*/15 * * * *", true),
            ("0 */5 * * * *", true),
            ("@daily", true),
            ("* * * *", false),
            ("0 0 0 1 1 * 2030", false),
            ("61 * * * *", false),
            ("not a cron", false),
            ("", false),
        ] {
            assert_eq!(Schedule::new(expr, "UTC").is_ok(), ok, "{expr:?}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert!(Schedule::new("0 2 * * *", "Europe/Paris").is_ok());
        assert_eq!(
            Schedule::new("0 2 * * *", "Mars/Olympus").unwrap_err(),
            ScheduleError::TimeZone("Mars/Olympus".into())
        );
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// Europe/Paris springs forward 2026-03-29 02:00 CET -> 03:00 CEST and
    /// falls back 2026-10-25 03:00 CEST -> 02:00 CET.
    #[test]
    fn daylight_saving_transitions_neither_skip_nor_double() {
        type Case = (
            &'static str,
            &'static str,
            DateTime<Utc>,
            DateTime<Utc>,
            Vec<DateTime<Utc>>,
        );
        let cases: Vec<Case> = vec![
            (
                "a daily 02:30 job runs once on the spring-forward day (at 03:00 CEST, the first valid time)",
                "30 2 * * *",
                utc(2026, 3, 28, 12, 0),
                utc(2026, 3, 30, 12, 0),
                vec![utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)],
            ),
            (
                "a daily 02:30 job runs once on the fall-back day (the first 02:30)",
                "30 2 * * *",
                utc(2026, 10, 24, 12, 0),
                utc(2026, 10, 26, 12, 0),
                vec![utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
            ),
            (
                "an hourly job across spring-forward: one run per real hour",
                "0 * * * *",
                utc(2026, 3, 28, 23, 30),
                utc(2026, 3, 29, 3, 0),
                vec![
                    utc(2026, 3, 29, 0, 0),
                    utc(2026, 3, 29, 1, 0),
                    utc(2026, 3, 29, 2, 0),
                    utc(2026, 3, 29, 3, 0),
                ],
            ),
            (
                "an hourly job across fall-back: one run per real hour, both 02:00s",
                "0 * * * *",
                utc(2026, 10, 24, 23, 30),
                utc(2026, 10, 25, 3, 0),
                vec![
                    utc(2026, 10, 25, 0, 0),
                    utc(2026, 10, 25, 1, 0),
                    utc(2026, 10, 25, 2, 0),
                    utc(2026, 10, 25, 3, 0),
                ],
            ),
            (
                "a seconds-level schedule",
                "*/20 * * * * *",
                utc(2026, 1, 1, 0, 0),
                utc(2026, 1, 1, 0, 1),
                vec![
                    utc(2026, 1, 1, 0, 0) + chrono::Duration::seconds(20),
                    utc(2026, 1, 1, 0, 0) + chrono::Duration::seconds(40),
                    utc(2026, 1, 1, 0, 1),
                ],
            ),
        ];
        for (case, expr, after, until, expected) in cases {
            let schedule = Schedule::new(expr, "Europe/Paris").unwrap();
            assert_eq!(
                schedule.ticks_between(after, until, 100),
                expected,
                "{case}"
            );
        }
        let hourly = Schedule::new("0 * * * *", "UTC").unwrap();
        assert_eq!(
            hourly
                .ticks_between(utc(2026, 1, 1, 0, 0), utc(2026, 1, 2, 0, 0), 5)
                .len(),
            5,
            "limit"
        );
    }

    #[test]
    fn next_tick_is_read_in_the_rules_time_zone() {
        let schedule = Schedule::new("30 2 * * *", "Europe/Paris").unwrap();
        let after = Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap();
        // 02:30 in Paris (UTC+1 in winter) is 01:30 UTC.
        assert_eq!(
            schedule.next_after(after),
            Some(Utc.with_ymd_and_hms(2026, 1, 10, 1, 30, 0).unwrap())
        );
    }
}
