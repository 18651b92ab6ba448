//! The one backoff policy for reconnecting, shared by the network backends:
//! exponential with jitter (so a fleet of workers does not reconnect in
//! lockstep after a broker restart), bounded in total by
//! `BrokerConfig::reconnect_timeout`. backon adds the jitter (up to one more
//! delay) after capping, so a step waits at most twice `MAX_DELAY`: 4 s.

use std::time::Duration;

use backon::ExponentialBuilder;

const FIRST_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(2);

pub fn backoff(total: Duration) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_jitter()
        .with_factor(2.0)
        .with_min_delay(FIRST_DELAY)
        .with_max_delay(MAX_DELAY)
        .without_max_times()
        .with_total_delay(Some(total))
}
