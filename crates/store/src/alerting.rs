//! What the alert dispatcher calls (the outbox itself is written by
//! [`Store::finish_runs`], with the run results). A planning pass turns
//! pending events into deliveries under each rule's alert state; deliveries
//! are claimed by one dispatcher at a time, every attempt recorded, and a
//! delivery whose dispatcher died mid-attempt is never sent again.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::alert_model::{
    AlertBacklog, AlertDecision, AlertEvent, AttemptOutcome, AttemptRecord, ClaimedDelivery,
    DeliveryFilter, DeliveryRecord, EscalationScan, PlanSummary, RuleAlertState,
};
use crate::error::Result;
use crate::tables::alerts;
use crate::{Backend, Store};

impl Store {
    /// One planning pass, in ONE transaction: up to `limit` pending outbox
    /// events, oldest first, then (with `escalation`) the open incidents
    /// overdue for escalation, each handed to `decide` with its rule's
    /// alert state, the decision written (the state, each notification
    /// added to its channel's open batch or a new delivery, the event
    /// marked planned). Passes take turns. On any error nothing is written
    /// and the events stay pending.
    pub async fn plan_alerts(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        escalation: Option<EscalationScan>,
        decide: &mut (dyn FnMut(&AlertEvent, &RuleAlertState) -> AlertDecision + Send),
    ) -> Result<PlanSummary> {
        on_pool!(self, pool => alerts::plan(pool, now, limit, escalation, decide).await)
    }

    /// Claims up to `limit` deliveries due at `now` for `dispatcher` until
    /// `now + lease`, recording each one's attempt as STARTED before it is
    /// returned. Of dispatchers claiming at once, each delivery goes to one.
    /// The lease must outlast an attempt: one still SENDING when it expires
    /// is taken for dead ([`Store::recover_deliveries`]).
    pub async fn claim_deliveries(
        &self,
        dispatcher: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>> {
        on_pool!(self, pool => alerts::claim(pool, dispatcher, now, lease, limit).await)
    }

    /// Records how `delivery`'s attempt ended and moves the delivery on:
    /// SENT, PENDING again until `not_before` (a retry), or FAILED. Only
    /// the dispatcher that claimed it can settle it.
    pub async fn settle_delivery(
        &self,
        delivery: &ClaimedDelivery,
        dispatcher: &str,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        on_pool!(self, pool => alerts::settle(pool, delivery, dispatcher, outcome, now).await)
    }

    /// Deliveries still SENDING with their lease expired at `now` (their
    /// dispatcher died mid-attempt) become IN_DOUBT and are never sent
    /// again: the message may have arrived. Returns how many.
    pub async fn recover_deliveries(&self, now: DateTime<Utc>) -> Result<u64> {
        on_pool!(self, pool => alerts::recover(pool, now).await)
    }

    /// Deliveries matching `filter`, newest first, with their items.
    pub async fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>> {
        on_pool!(self, pool => alerts::list(pool, filter).await)
    }

    /// Every attempt of one delivery, in order.
    pub async fn delivery_attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRecord>> {
        on_pool!(self, pool => alerts::attempts(pool, delivery_id).await)
    }

    /// Events not yet planned and deliveries not yet settled.
    pub async fn alert_backlog(&self) -> Result<AlertBacklog> {
        on_pool!(self, pool => alerts::backlog(pool).await)
    }
}
