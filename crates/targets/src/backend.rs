//! What every backend does the same way around its own queries: the scan
//! and the custom SQL queries of a plan run side by side, each under its
//! timeout; a failing rule's rows come from a bounded sample query. A
//! backend supplies only the queries themselves, and how it opens,
//! bounds and closes them.

use std::future::Future;
use std::time::Duration;

use dq_core::{
    rule::DEFAULT_TIMEOUT, ColumnInfo, CustomSqlMode, MetricRequest, MetricValue, RowPredicate,
    Rule, SampleRequest, ScanPlan, Tuning,
};
use serde_json::Value;

use crate::custom_sql::custom_body;
use crate::error::{Context, TargetError};
use crate::execute::{Computed, ExecuteOptions};
use crate::sql_common::{custom_sample, Dialect, Sql};

/// One piece of work on a plan under a timeout: its scan, or a failing
/// rule's sample.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job<'a> {
    pub(crate) plan: &'a ScanPlan<'a>,
    pub(crate) options: &'a ExecuteOptions,
    pub(crate) timeout: Duration,
}

pub(crate) trait Backend {
    type Dialect: Dialect;

    /// How long the client waits for work the backend itself stops after
    /// `timeout`.
    fn client_timeout(timeout: Duration) -> Duration;
}

/// How a backend computes metrics: its `scan` module.
pub(crate) trait Scanner: Backend {
    /// Every scan metric of the job's plan (all but custom SQL), recorded
    /// in `computed` as they come, so a timeout part-way keeps those done;
    /// an error that ends the scan is returned.
    fn scan(
        &self,
        job: &Job<'_>,
        computed: &mut Computed,
    ) -> impl Future<Output = Result<(), TargetError>>;

    /// The number a custom query (already screened to `body`) gives in
    /// `mode`, under the `tuning` of the rules that asked for it (as far as
    /// the backend honours it).
    fn custom_value(
        &self,
        body: &str,
        mode: CustomSqlMode,
        timeout: Duration,
        tuning: &Tuning,
    ) -> impl Future<Output = Result<Option<f64>, TargetError>>;
}

/// How a backend fetches failing rows: its `samples` module.
pub(crate) trait Sampler: Backend {
    /// The query for up to `options.sample_limit` rows of the plan's scope
    /// that meet `predicate`, given the dataset's columns as the plan's
    /// scan found them.
    fn sample_where(
        &self,
        job: &Job<'_>,
        predicate: &RowPredicate,
        columns: &[ColumnInfo],
    ) -> Sql<Self::Dialect>;

    /// The rows `query` returns, as JSON objects.
    fn fetch_rows(
        &self,
        query: &Sql<Self::Dialect>,
        context: Context<'_>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<Value>, TargetError>>;
}

/// `work` under `timeout`, as the backend bounds it on the client.
async fn bounded<B: Backend, T>(
    timeout: Duration,
    work: impl Future<Output = Result<T, TargetError>>,
) -> Result<T, TargetError> {
    match tokio::time::timeout(B::client_timeout(timeout), work).await {
        Ok(result) => result,
        Err(_) => Err(TargetError::Timeout { after: timeout }),
    }
}

pub(crate) async fn compute<B: Scanner>(
    target: &B,
    plan: &ScanPlan<'_>,
    options: &ExecuteOptions,
) -> Computed {
    let (mut scanned, custom) = tokio::join!(
        scan_metrics(target, plan, options),
        custom_metrics(target, plan)
    );
    scanned.merge(custom);
    scanned
}

/// The longest timeout among the rules: the scan serves them all, so none
/// is cut short by a stricter neighbour.
fn scan_timeout(plan: &ScanPlan<'_>) -> Duration {
    plan.rules
        .iter()
        .map(|r| r.timeout)
        .max()
        .unwrap_or(DEFAULT_TIMEOUT)
}

async fn scan_metrics<B: Scanner>(
    target: &B,
    plan: &ScanPlan<'_>,
    options: &ExecuteOptions,
) -> Computed {
    let requests: Vec<&MetricRequest> = plan
        .metrics
        .iter()
        .filter(|m| !matches!(m, MetricRequest::CustomSql { .. }))
        .collect();
    let mut computed = Computed::default();
    if requests.is_empty() {
        return computed;
    }
    let job = Job {
        plan,
        options,
        timeout: scan_timeout(plan),
    };
    let scan = target.scan(&job, &mut computed);
    if let Err(e) = bounded::<B, _>(job.timeout, scan).await {
        for request in requests {
            computed.fail_if_missing(request.key(), &e);
        }
    }
    computed
}

/// Each custom SQL metric under the timeout of the rules that asked for it.
async fn custom_metrics<B: Scanner>(target: &B, plan: &ScanPlan<'_>) -> Computed {
    let mut computed = Computed::default();
    for request in &plan.metrics {
        let MetricRequest::CustomSql { sql, mode } = request else {
            continue;
        };
        let key = request.key();
        let asking: Vec<&Rule> = plan
            .rules
            .iter()
            .copied()
            .filter(|r| r.check.metric_requests().iter().any(|m| m.key() == key))
            .collect();
        let timeout = asking
            .iter()
            .map(|r| r.timeout)
            .max()
            .unwrap_or(DEFAULT_TIMEOUT);
        let tuning = Tuning::for_rules(asking);
        let run = async {
            let body = custom_body(sql)?;
            target.custom_value(&body, *mode, timeout, &tuning).await
        };
        match bounded::<B, _>(timeout, run).await {
            Ok(value) => {
                computed.metrics.insert(key, MetricValue::Number(value));
            }
            Err(e) => {
                computed.failures.insert(key, e);
            }
        }
    }
    computed
}

/// A bounded sample of a failing rule's rows, for a person to look at:
/// always `LIMIT n`, never a full fetch.
pub(crate) async fn fetch_samples<B: Sampler>(
    target: &B,
    plan: &ScanPlan<'_>,
    rule: &Rule,
    request: &SampleRequest,
    computed: &Computed,
    options: &ExecuteOptions,
) -> Result<Vec<Value>, TargetError> {
    let timeout = rule.timeout;
    let (query, context) = match request {
        SampleRequest::Where(predicate) => {
            let job = Job {
                plan,
                options,
                timeout,
            };
            let columns = computed.columns.as_deref().unwrap_or_default();
            (
                target.sample_where(&job, predicate, columns),
                Context::Dataset(&plan.dataset),
            )
        }
        SampleRequest::FailingJsonSchema(_) | SampleRequest::CustomPipeline(_) => {
            return Err(TargetError::query(
                "documents are sampled only on document targets (MongoDB)",
            ))
        }
        SampleRequest::CustomSql(text) => {
            let body = custom_body(text)?;
            (
                custom_sample::<B::Dialect>(&body, options.sample_limit),
                Context::CustomSql,
            )
        }
    };
    bounded::<B, _>(timeout, target.fetch_rows(&query, context, timeout)).await
}
