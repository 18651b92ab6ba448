//! The state of one in-process queue: ready messages, the in-flight table,
//! delayed retries and dead letters. Plain data under one mutex; no awaits
//! happen while it is held.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::stats::{DeadLetter, DeadPayload, QueueStats};

/// Bodies are kept as encoded bytes, as on a real broker, so the embedded
/// mode exercises the same envelope encoding and refusal paths.
pub type Body = Arc<[u8]>;

#[derive(Debug)]
pub struct Ready {
    pub seq: u64,
    pub body: Body,
    pub enqueued: Instant,
    /// Deliveries so far (0 for a fresh message).
    pub deliveries: u32,
}

#[derive(Debug)]
struct InFlight {
    body: Body,
    token: u64,
    deadline: Instant,
    deliveries: u32,
}

#[derive(Debug)]
struct Delayed {
    due: Instant,
    body: Body,
}

/// A message handed to a consumer: `token` fences later settle calls.
#[derive(Debug)]
pub struct Taken {
    pub seq: u64,
    pub token: u64,
    pub body: Body,
    pub deliveries: u32,
}

#[derive(Debug, Default)]
pub struct Shelves {
    ready: VecDeque<Ready>,
    in_flight: HashMap<u64, InFlight>,
    delayed: Vec<Delayed>,
    dead: Vec<DeadLetter>,
    next_seq: u64,
    next_token: u64,
}

impl Shelves {
    pub fn push(&mut self, body: Body, now: Instant) {
        self.next_seq += 1;
        self.ready.push_back(Ready {
            seq: self.next_seq,
            body,
            enqueued: now,
            deliveries: 0,
        });
    }

    /// Moves due retries to the ready queue and expired claims back to its
    /// front (they were first in line before), then takes the first ready
    /// message, if any.
    pub fn take(&mut self, now: Instant, visibility: Duration) -> Option<Taken> {
        self.promote_due(now);
        self.reclaim_expired(now);
        let ready = self.ready.pop_front()?;
        self.next_token += 1;
        let taken = Taken {
            seq: ready.seq,
            token: self.next_token,
            body: ready.body.clone(),
            deliveries: ready.deliveries + 1,
        };
        self.in_flight.insert(
            ready.seq,
            InFlight {
                body: ready.body,
                token: taken.token,
                deadline: now + visibility,
                deliveries: taken.deliveries,
            },
        );
        Some(taken)
    }

    /// When something changes by itself next: a retry falls due or a claim expires.
    pub fn next_wake(&self) -> Option<Instant> {
        let due = self.delayed.iter().map(|d| d.due);
        let deadlines = self.in_flight.values().map(|f| f.deadline);
        due.chain(deadlines).min()
    }

    fn promote_due(&mut self, now: Instant) {
        let (due, waiting): (Vec<Delayed>, Vec<Delayed>) =
            self.delayed.drain(..).partition(|d| d.due <= now);
        self.delayed = waiting;
        let mut due = due;
        due.sort_by_key(|d| d.due);
        for d in due {
            self.push(d.body, now);
        }
    }

    fn reclaim_expired(&mut self, now: Instant) {
        let mut expired: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(seq, _)| *seq)
            .collect();
        expired.sort_unstable_by(|a, b| b.cmp(a));
        for seq in expired {
            if let Some(f) = self.in_flight.remove(&seq) {
                self.ready.push_front(Ready {
                    seq,
                    body: f.body,
                    enqueued: now,
                    deliveries: f.deliveries,
                });
            }
        }
    }

    /// The job is done, whoever holds it now: forget the message wherever it is.
    pub fn ack(&mut self, seq: u64) {
        if self.in_flight.remove(&seq).is_none() {
            self.ready.retain(|r| r.seq != seq);
        }
    }

    /// Removes the message if `token` still holds it. False: the claim was lost.
    pub fn release(&mut self, seq: u64, token: u64) -> bool {
        match self.in_flight.get(&seq) {
            Some(f) if f.token == token => {
                self.in_flight.remove(&seq);
                true
            }
            _ => false,
        }
    }

    /// Pushes the claim's deadline out. False: the claim was lost.
    pub fn extend(&mut self, seq: u64, token: u64, deadline: Instant) -> bool {
        match self.in_flight.get_mut(&seq) {
            Some(f) if f.token == token => {
                f.deadline = deadline;
                true
            }
            _ => false,
        }
    }

    pub fn delay(&mut self, body: Body, due: Instant) {
        self.delayed.push(Delayed { due, body });
    }

    pub fn bury(&mut self, body: &[u8], reason: String) {
        self.dead.push(DeadLetter {
            payload: DeadPayload::from_body(body),
            reason,
            died_at: Utc::now(),
        });
    }

    pub fn dead_letters(&self, limit: usize) -> Vec<DeadLetter> {
        self.dead.iter().take(limit).cloned().collect()
    }

    /// Takes up to `limit` dead letters that hold an envelope (raw bodies
    /// stay: replaying them would only kill them again).
    pub fn take_dead(&mut self, limit: usize) -> Vec<DeadLetter> {
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for letter in self.dead.drain(..) {
            if taken.len() < limit && letter.payload.envelope().is_some() {
                taken.push(letter);
            } else {
                kept.push(letter);
            }
        }
        self.dead = kept;
        taken
    }

    /// Empties ready, delayed and dead; in-flight messages stay with their consumers.
    pub fn purge(&mut self) -> u64 {
        let count = self.ready.len() + self.delayed.len() + self.dead.len();
        self.ready.clear();
        self.delayed.clear();
        self.dead.clear();
        count as u64
    }

    pub fn clear(&mut self) {
        self.purge();
        self.in_flight.clear();
    }

    pub fn stats(&self, now: Instant, consumers: u64) -> QueueStats {
        QueueStats {
            depth: self.ready.len() as u64,
            in_flight: Some(self.in_flight.len() as u64),
            delayed: self.delayed.len() as u64,
            dead: self.dead.len() as u64,
            consumers: Some(consumers),
            oldest_ready_age: self
                .ready
                .iter()
                .map(|r| r.enqueued)
                .min()
                .map(|oldest| now.saturating_duration_since(oldest)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Body {
        Arc::from(text.as_bytes())
    }

    #[test]
    fn expired_claims_come_back_first_and_fencing_holds() {
        let t0 = Instant::now();
        let vt = Duration::from_secs(10);
        let mut s = Shelves::default();
        s.push(body("a"), t0);
        s.push(body("b"), t0);
        let a = s.take(t0, vt).unwrap();
        assert_eq!((&*a.body, a.deliveries), (&b"a"[..], 1));
        // Not expired yet: b comes next.
        let later = t0 + Duration::from_secs(11);
        let again = s.take(later, vt).unwrap();
        assert_eq!(
            (&*again.body, again.deliveries),
            (&b"a"[..], 2),
            "a expired and is first again"
        );
        assert!(!s.release(a.seq, a.token), "the first claim was lost");
        assert!(!s.extend(a.seq, a.token, later + vt));
        assert!(s.extend(again.seq, again.token, later + vt));
        assert!(s.release(again.seq, again.token));
        let b = s.take(later, vt).unwrap();
        assert_eq!(&*b.body, b"b");
        s.ack(b.seq);
        assert_eq!(s.stats(later, 0).in_flight, Some(0));
    }

    #[test]
    fn delayed_messages_wait_for_their_time() {
        let t0 = Instant::now();
        let mut s = Shelves::default();
        s.delay(body("late"), t0 + Duration::from_secs(5));
        assert!(s.take(t0, Duration::from_secs(1)).is_none());
        assert_eq!(s.next_wake(), Some(t0 + Duration::from_secs(5)));
        let taken = s
            .take(t0 + Duration::from_secs(5), Duration::from_secs(1))
            .unwrap();
        assert_eq!(&*taken.body, b"late");
    }
}
