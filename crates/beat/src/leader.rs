//! The leader lease. Any number of beats may run; the one holding the lease
//! enqueues. The lease has an owner and a fencing token: it is renewed only
//! if both still match (RedBeat renewed a lock it no longer owned and ran two
//! beats at once), and every enqueue presents it, so a beat that lost the
//! lease while paused cannot write as if it still held it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_store::{Lease, Store};

pub const LEASE_NAME: &str = "dq-beat";

pub struct Leadership {
    owner: String,
    ttl: Duration,
    lease: Option<Lease>,
}

/// What changed at this check, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Acquired,
    Kept,
    Lost,
    Follower,
}

impl Leadership {
    pub fn new(owner: impl Into<String>, ttl: Duration) -> Self {
        Leadership {
            owner: owner.into(),
            ttl,
            lease: None,
        }
    }

    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    pub fn is_leader(&self) -> bool {
        self.lease.is_some()
    }

    /// Renews the lease we hold, or tries to take it. Renewal happens on
    /// every call: callers call at a fraction of the ttl.
    pub async fn check(
        &mut self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<Transition, dq_store::StoreError> {
        match &self.lease {
            Some(lease) => match store.renew_lease(lease, self.ttl, now).await? {
                Some(renewed) => {
                    self.lease = Some(renewed);
                    Ok(Transition::Kept)
                }
                None => {
                    self.lease = None;
                    Ok(Transition::Lost)
                }
            },
            None => match store
                .try_acquire_lease(LEASE_NAME, &self.owner, self.ttl, now)
                .await?
            {
                Some(lease) => {
                    self.lease = Some(lease);
                    Ok(Transition::Acquired)
                }
                None => Ok(Transition::Follower),
            },
        }
    }

    /// Forget the lease without touching the store (after LeaseLost).
    pub fn drop_lease(&mut self) {
        self.lease = None;
    }

    pub async fn release(&mut self, store: &Store) {
        if let Some(lease) = self.lease.take() {
            if let Err(e) = store.release_lease(&lease).await {
                tracing::warn!(error = %e, "could not release the beat lease; it will expire");
            }
        }
    }
}
