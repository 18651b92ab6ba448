//! Run ids are derived, never random: the same rule at the same scheduled
//! time always gets the same id, so a second beat, a retry or a redelivered
//! job cannot create a second run.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::names::RuleName;

/// Namespace for UUIDv5 run ids (a fixed random UUID, never to change).
const RUN_NAMESPACE: Uuid = Uuid::from_u128(0x6d71_2d72_756e_4a8b_9c41_3f0e_5b7a_1d20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(Uuid);

impl RunId {
    pub fn for_tick(rule: &RuleName, scheduled_for: DateTime<Utc>) -> Self {
        let key = format!(
            "{}@{}",
            rule.as_str(),
            scheduled_for.timestamp_nanos_opt().unwrap_or(i64::MAX)
        );
        RunId(Uuid::new_v5(&RUN_NAMESPACE, key.as_bytes()))
    }

    pub fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok().map(RunId)
    }
}

impl std::str::FromStr for RunId {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RunId::parse(text).ok_or("not a run id (a UUID)")
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn same_tick_same_id_and_different_ticks_differ() {
        let rule = RuleName::new("orders_fresh").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        assert_eq!(RunId::for_tick(&rule, t), RunId::for_tick(&rule, t));
        assert_ne!(
            RunId::for_tick(&rule, t),
            RunId::for_tick(&rule, t + chrono::Duration::seconds(1))
        );
        let other = RuleName::new("orders_fresh2").unwrap();
        assert_ne!(RunId::for_tick(&rule, t), RunId::for_tick(&other, t));
        let id = RunId::for_tick(&rule, t);
        assert_eq!(RunId::parse(&id.to_string()), Some(id));
    }
}
