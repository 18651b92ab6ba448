//! What the fleet calls: beats hold a leader lease and enqueue runs, workers
//! start and finish them and send heartbeats. The store is the source of
//! truth for exactly-once effects under at-least-once delivery: a run is
//! inserted once per (rule, tick) and finished once, whoever retries.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dq_core::RunId;

use crate::error::Result;
use crate::model::{JobStart, Lease, NewRun, RunRecord, RunResult, WorkerHeartbeat};
use crate::tables::{leases, runs, workers};
use crate::{Backend, Store};

impl Store {
    /// Takes the lease `name` for `owner` until `now + ttl`. `Some` when
    /// `owner` holds it now: newly acquired (free, expired, or released),
    /// with a token one above the previous holder's; or already `owner`'s
    /// and unexpired, renewed with the same token. `None` while another
    /// owner holds it unexpired. Atomic: of concurrent contenders, one wins.
    pub async fn try_acquire_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        on_pool!(self, pool => leases::try_acquire(pool, name, owner, ttl, now).await)
    }

    /// Extends `lease` to `now + ttl`, only while it is still this term: same
    /// owner and token, unexpired at `now`. `None`: the lease is lost, and
    /// its holder must stop acting as leader.
    pub async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        on_pool!(self, pool => leases::renew(pool, lease, ttl, now).await)
    }

    /// Gives the lease up at once (a clean shutdown), so another owner need
    /// not wait for it to expire. A lease no longer held is left alone.
    pub async fn release_lease(&self, lease: &Lease) -> Result<()> {
        on_pool!(self, pool => leases::release(pool, lease).await)
    }

    /// The lease `name` as stored, expired or not ([`Lease::is_held_at`]
    /// tells); `None` if it was never acquired.
    pub async fn current_lease(&self, name: &str) -> Result<Option<Lease>> {
        on_pool!(self, pool => leases::current(pool, name).await)
    }

    /// Inserts the runs PENDING, in one transaction, and returns the ids of
    /// those it inserted, in input order: a run whose id exists already
    /// (another beat, a retry) is skipped. Fenced by `lease` when given: if
    /// it is no longer the current term (checked against the clock now),
    /// `LeaseLost` and nothing is written. A status other than PENDING is
    /// `Invalid`, a run of an unknown rule `NotFound`.
    pub async fn enqueue_runs(&self, lease: Option<&Lease>, runs: &[NewRun]) -> Result<Vec<RunId>> {
        on_pool!(self, pool => runs::enqueue(pool, lease, runs).await)
    }

    /// Reopens runs a worker gave up on (ERROR or TIMEOUT, retriable) so a
    /// replayed dead letter executes them again. Returns the reopened ids.
    pub async fn reopen_runs(&self, run_ids: &[RunId]) -> Result<Vec<RunId>> {
        on_pool!(self, pool => runs::reopen(pool, run_ids).await)
    }

    /// Notes that the runs' jobs were published, at `at`; a run marked
    /// already keeps its first time.
    pub async fn mark_enqueued(&self, run_ids: &[RunId], at: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => runs::mark_enqueued(pool, run_ids, at).await)
    }

    /// The outbox: PENDING runs never marked enqueued, scheduled at or before
    /// `older_than`, oldest tick first, at most `limit`. What a beat
    /// publishes again after a crash between insert and publish.
    pub async fn unpublished_runs(
        &self,
        older_than: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RunRecord>> {
        on_pool!(self, pool => runs::unpublished(pool, older_than, limit).await)
    }

    /// Marks the runs RUNNING under `worker`, attempt `attempt`, started at
    /// `at`. Returns, in input order, the runs to execute: those not final
    /// (now RUNNING), and those with no row yet (a job published without
    /// one; [`Store::finish_runs`] inserts it). A run left out is final: its
    /// job is a redelivery, to ack without running.
    pub async fn start_runs(
        &self,
        run_ids: &[RunId],
        worker: &str,
        attempt: u32,
        at: DateTime<Utc>,
    ) -> Result<Vec<RunId>> {
        let job = JobStart { run_ids, attempt };
        let mut started = self.start_jobs(&[job], worker, at).await?;
        Ok(started.pop().unwrap_or_default())
    }

    /// [`Store::start_runs`] for several jobs in ONE transaction (a worker
    /// starting many small jobs at once pays one commit, not one each):
    /// one list of runs to execute per job, in input order. A run asked
    /// twice is handed to the first job that asks.
    pub async fn start_jobs(
        &self,
        jobs: &[JobStart<'_>],
        worker: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Vec<RunId>>> {
        on_pool!(self, pool => runs::start(pool, jobs, worker, at).await)
    }

    /// Writes the results of finished runs, in ONE transaction for the
    /// whole batch: on any error none of it is written. Each run is written
    /// only if it is still PENDING or RUNNING, or inserted if it has no row;
    /// its violation and metrics are written with it and only then. Returns
    /// the runs this call finished, in input order; a run final already
    /// keeps its first result. A status that is not final, or a non-finite
    /// number, is `Invalid` (before anything is written); a run of an
    /// unknown rule is `NotFound`.
    pub async fn finish_runs(&self, results: &[RunResult]) -> Result<Vec<RunId>> {
        let finished: Vec<runs::Finished<'_>> = results
            .iter()
            .map(|r| runs::Finished {
                run: &r.run,
                violation: r.violation.as_ref(),
                metrics: &r.metrics,
            })
            .collect();
        on_pool!(self, pool => runs::finish(pool, &finished).await)
    }

    /// The latest tick each rule has a run for, by rule name: where a beat
    /// resumes after downtime. Rules that never ran are absent.
    pub async fn last_scheduled(&self) -> Result<BTreeMap<String, DateTime<Utc>>> {
        on_pool!(self, pool => runs::last_scheduled(pool).await)
    }

    /// When the last run finished, whatever its status; `None` before any.
    pub async fn last_finished_at(&self) -> Result<Option<DateTime<Utc>>> {
        on_pool!(self, pool => runs::last_finished(pool).await)
    }

    /// Records what a worker says about itself; a heartbeat older than the
    /// one stored changes nothing.
    pub async fn heartbeat(&self, hb: &WorkerHeartbeat) -> Result<()> {
        on_pool!(self, pool => workers::heartbeat(pool, hb).await)
    }

    /// Workers heard from at or after `seen_since`, by name.
    pub async fn workers(&self, seen_since: DateTime<Utc>) -> Result<Vec<WorkerHeartbeat>> {
        on_pool!(self, pool => workers::seen_since(pool, seen_since).await)
    }
}
