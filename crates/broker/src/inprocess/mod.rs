//! The embedded backend: queues in this process's memory, with the same
//! semantics as the network backends (acks, delayed retries, attempts, dead
//! letters, visibility timeout and redelivery, extend). Nothing survives the
//! process; `dq run --async` without a broker configured uses it.
//!
//! Each queue is a mutex-guarded set of shelves plus a `Notify` to wake
//! waiting consumers; a plain channel would not let us count, age, purge or
//! put an expired claim back at the front.

mod shelves;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dq_core::Queue;
use tokio::sync::Notify;

use crate::config::BrokerConfig;
use crate::envelope::Envelope;
use crate::error::BrokerError;
use crate::stats::{gave_up_reason, redelivered_reason, DeadLetter, QueueStats, RetryOutcome};
use shelves::{Body, Shelves};

/// A consumer with nothing to do re-checks at least this often.
const IDLE_RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct InProcessBroker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: BrokerConfig,
    queues: [Arc<QueueState>; 3],
}

#[derive(Debug, Default)]
struct QueueState {
    shelves: Mutex<Shelves>,
    wake: Notify,
    consumers: AtomicU64,
}

impl QueueState {
    /// A poisoned lock only means another thread panicked mid-update; the
    /// shelves are still consistent (every update is a few field writes).
    fn lock(&self) -> MutexGuard<'_, Shelves> {
        self.shelves.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn slot(queue: Queue) -> usize {
    match queue {
        Queue::Database => 0,
        Queue::Compute => 1,
        Queue::Memory => 2,
    }
}

impl InProcessBroker {
    pub fn new(config: &BrokerConfig) -> Self {
        InProcessBroker {
            inner: Arc::new(Inner {
                config: config.clone(),
                queues: Default::default(),
            }),
        }
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.inner.config
    }

    fn queue(&self, queue: Queue) -> &Arc<QueueState> {
        &self.inner.queues[slot(queue)]
    }

    pub async fn publish(&self, envelope: &Envelope) -> Result<(), BrokerError> {
        let body = envelope.encode()?;
        self.push_raw(envelope.queue, &body);
        Ok(())
    }

    /// Puts any bytes on a queue, as a misbehaving publisher could (tests of
    /// the refusal path).
    pub fn push_raw(&self, queue: Queue, body: &[u8]) {
        let state = self.queue(queue);
        state.lock().push(Arc::from(body), Instant::now());
        state.wake.notify_waiters();
    }

    pub fn consumer(&self, queue: Queue, name: &str) -> InProcessConsumer {
        let state = self.queue(queue).clone();
        state.consumers.fetch_add(1, Ordering::SeqCst);
        InProcessConsumer {
            state,
            name: name.to_string(),
            visibility: self.inner.config.visibility_timeout,
        }
    }

    pub fn queue_stats(&self, queue: Queue) -> QueueStats {
        let state = self.queue(queue);
        let consumers = state.consumers.load(Ordering::SeqCst);
        state.lock().stats(Instant::now(), consumers)
    }

    pub fn dead_letters(&self, queue: Queue, limit: usize) -> Vec<DeadLetter> {
        self.queue(queue).lock().dead_letters(limit)
    }

    pub fn requeue_dead(&self, queue: Queue, limit: Option<usize>) -> Result<usize, BrokerError> {
        let state = self.queue(queue);
        let letters = state.lock().take_dead(limit.unwrap_or(usize::MAX));
        let mut bodies = Vec::with_capacity(letters.len());
        for letter in &letters {
            if let Some(envelope) = letter.payload.envelope() {
                bodies.push(envelope.replayed().encode()?);
            }
        }
        let mut shelves = state.lock();
        let now = Instant::now();
        for body in &bodies {
            shelves.push(Arc::from(body.as_slice()), now);
        }
        drop(shelves);
        state.wake.notify_waiters();
        Ok(bodies.len())
    }

    pub fn purge(&self, queue: Queue) -> u64 {
        self.queue(queue).lock().purge()
    }

    /// Forgets every message of every queue, in flight or not.
    pub fn teardown(&self) {
        for state in &self.inner.queues {
            state.lock().clear();
        }
    }
}

#[derive(Debug)]
pub struct InProcessConsumer {
    state: Arc<QueueState>,
    name: String,
    visibility: Duration,
}

impl Drop for InProcessConsumer {
    fn drop(&mut self) {
        self.state.consumers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl InProcessConsumer {
    pub async fn next(&mut self) -> Result<InProcessDelivery, BrokerError> {
        loop {
            // Registered before looking, so a publish between the look and
            // the wait still wakes us.
            let woken = self.state.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();

            let (taken, wake_at) = {
                let mut shelves = self.state.lock();
                let taken = shelves.take(Instant::now(), self.visibility);
                (taken, shelves.next_wake())
            };
            let Some(taken) = taken else {
                let until = wake_at.unwrap_or_else(|| Instant::now() + IDLE_RECHECK);
                tokio::select! {
                    _ = woken => {}
                    _ = tokio::time::sleep_until(until.into()) => {}
                }
                continue;
            };
            if let Some(delivery) = self.admit(taken.seq, taken.token, taken.body, taken.deliveries)
            {
                return Ok(delivery);
            }
        }
    }

    /// Refuses what cannot be handed out (unreadable bodies, messages
    /// redelivered past their attempts) by burying it.
    fn admit(
        &self,
        seq: u64,
        token: u64,
        body: Body,
        deliveries: u32,
    ) -> Option<InProcessDelivery> {
        // Refused: what to bury (the body as it came, or the envelope with
        // its attempts counted) and why.
        let refusal = match Envelope::decode(&body) {
            Err(reason) => (body.to_vec(), reason),
            Ok(mut envelope) => {
                envelope.attempt = envelope.attempt.saturating_add(deliveries - 1);
                if envelope.attempt <= envelope.max_attempts.max(1) {
                    return Some(InProcessDelivery {
                        state: self.state.clone(),
                        seq,
                        token,
                        envelope,
                        visibility: self.visibility,
                    });
                }
                let reason = redelivered_reason(envelope.attempt, envelope.max_attempts);
                (envelope.encode().unwrap_or_else(|_| body.to_vec()), reason)
            }
        };
        let (buried, reason) = refusal;
        tracing::warn!(consumer = %self.name, %reason, "dead-lettering a message");
        let mut shelves = self.state.lock();
        if shelves.release(seq, token) {
            shelves.bury(&buried, reason);
        }
        None
    }
}

#[derive(Debug)]
pub struct InProcessDelivery {
    state: Arc<QueueState>,
    seq: u64,
    token: u64,
    envelope: Envelope,
    visibility: Duration,
}

impl InProcessDelivery {
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    pub async fn ack(self) -> Result<(), BrokerError> {
        self.state.lock().ack(self.seq);
        Ok(())
    }

    pub async fn retry(self, delay: Duration, reason: &str) -> Result<RetryOutcome, BrokerError> {
        if self.envelope.is_last_attempt() {
            let reason = gave_up_reason(&self.envelope, reason);
            self.dead_letter(&reason).await?;
            return Ok(RetryOutcome::DeadLettered);
        }
        let body: Body = Arc::from(self.envelope.next_attempt().encode()?.as_slice());
        let mut shelves = self.state.lock();
        if !shelves.release(self.seq, self.token) {
            return Err(self.lost());
        }
        shelves.delay(body, Instant::now() + delay);
        drop(shelves);
        self.state.wake.notify_waiters();
        Ok(RetryOutcome::Scheduled)
    }

    pub async fn dead_letter(self, reason: &str) -> Result<(), BrokerError> {
        let body = self.envelope.encode()?;
        let mut shelves = self.state.lock();
        if !shelves.release(self.seq, self.token) {
            return Err(self.lost());
        }
        shelves.bury(&body, reason.to_string());
        Ok(())
    }

    pub async fn extend(&self) -> Result<(), BrokerError> {
        let deadline = Instant::now() + self.visibility;
        if self.state.lock().extend(self.seq, self.token, deadline) {
            Ok(())
        } else {
            Err(self.lost())
        }
    }

    fn lost(&self) -> BrokerError {
        BrokerError::Lost {
            id: self.envelope.id.clone(),
            message: "its visibility timeout expired and it was handed to another consumer".into(),
        }
    }
}
