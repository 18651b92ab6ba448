//! What a scan computes once its backend has read the catalogue, the same
//! on every backend: the schema metric, a check that every column a metric
//! reads exists (so a typo is an error naming the column, not a query
//! error or, on SQLite, a string literal counted as a value), one fused
//! aggregate statement retried metric by metric when one bad rule breaks
//! it, and one duplicate count per column. A [`ScanSession`] runs the
//! statements on the backend's read transaction.

use std::future::Future;

use dq_core::{ColumnInfo, Identifier, MetricRequest, MetricValue, RowPredicate, ScanPlan};
use serde_json::Value;

use crate::error::TargetError;
use crate::execute::Computed;

/// A backend's open read transaction for one scan.
pub(crate) trait ScanSession: Sized {
    /// Whether the catalogue's column `name` is the column a rule calls
    /// `wanted`.
    fn is_column(name: &str, wanted: &str) -> bool;

    /// One value per request, in order, from one statement.
    fn aggregates(
        &mut self,
        requests: &[&MetricRequest],
    ) -> impl Future<Output = Result<Vec<MetricValue>, TargetError>>;

    /// The duplicate count of `column`, and its most repeated values as
    /// sample rows when the backend's statement brings them.
    fn duplicates(
        &mut self,
        column: &Identifier,
    ) -> impl Future<Output = Result<(MetricValue, Option<Vec<Value>>), TargetError>>;

    /// A drift check's distribution of `column` (see
    /// `MetricRequest::Distribution`).
    fn distribution(
        &mut self,
        column: &Identifier,
        categorical: bool,
        limit: u64,
    ) -> impl Future<Output = Result<MetricValue, TargetError>>;

    /// The session, fit for the next statement after one failed.
    fn recover(self) -> impl Future<Output = Result<Self, TargetError>>;
}

/// Errors after which no other query on this dataset can succeed.
fn aborts_scan(e: &TargetError) -> bool {
    matches!(
        e,
        TargetError::Connect { .. }
            | TargetError::DatasetNotFound { .. }
            | TargetError::Timeout { .. }
    )
}

/// Every scan metric of `plan` on `session`, given the dataset's `columns`
/// as the catalogue query found them on `target`. Records what it computes
/// (or fails to) in `computed` as it goes, so a timeout part-way keeps the
/// metrics already done; an error that dooms the rest of the scan is
/// returned. Gives the session back for the backend to close.
pub(crate) async fn measure<S: ScanSession>(
    mut session: S,
    plan: &ScanPlan<'_>,
    target: &str,
    columns: &[ColumnInfo],
    computed: &mut Computed,
) -> Result<S, TargetError> {
    let catalogue = Catalogue {
        plan,
        target,
        columns,
        is_column: S::is_column,
    };
    computed.columns = Some(columns.to_vec());
    if plan.metrics.contains(&MetricRequest::Columns) {
        computed.metrics.insert(
            MetricRequest::Columns.key(),
            MetricValue::Columns(columns.to_vec()),
        );
    }
    if let Some(window) = &plan.scope.window {
        catalogue.require(&window.column)?;
    }
    for request in &plan.metrics {
        if let Some(why) = document_only(request) {
            record(computed, request.key(), Err(TargetError::query(why)))?;
        }
    }
    let mut aggregates: Vec<&MetricRequest> = Vec::new();
    for request in plan.scan_aggregates() {
        if document_only(request).is_some() {
            continue;
        }
        match request_column(request).map_or(Ok(()), |c| catalogue.require(c)) {
            Ok(()) => aggregates.push(request),
            Err(e) => record(computed, request.key(), Err(e))?,
        }
    }
    // Whether the last statement failed: on PostgreSQL that aborts the
    // transaction, and the next statement needs a fresh one.
    let mut broken = false;
    if !aggregates.is_empty() {
        match session.aggregates(&aggregates).await {
            Ok(values) => {
                for (request, value) in aggregates.iter().zip(values) {
                    computed.metrics.insert(request.key(), value);
                }
            }
            Err(e) if aborts_scan(&e) || aggregates.len() == 1 => {
                broken = true;
                record(computed, aggregates[0].key(), Err(e))?;
            }
            // One bad rule (an invalid regex, avg of a text column) must
            // not take down every rule on the dataset: retry each alone.
            Err(_) => {
                broken = true;
                for request in &aggregates {
                    if broken {
                        session = session.recover().await?;
                    }
                    let result = session.aggregates(&[request]).await.and_then(|v| {
                        v.into_iter().next().ok_or_else(|| {
                            TargetError::query(format!("{}: no value", request.key()))
                        })
                    });
                    broken = result.is_err();
                    record(computed, request.key(), result)?;
                }
            }
        }
    }
    for request in &plan.metrics {
        let MetricRequest::DuplicateRows(column) = request else {
            continue;
        };
        if let Err(e) = catalogue.require(column) {
            record(computed, request.key(), Err(e))?;
            continue;
        }
        if broken {
            session = session.recover().await?;
        }
        let result = match session.duplicates(column).await {
            Ok((value, rows)) => {
                if let Some(rows) = rows {
                    computed.samples.insert(request.key(), rows);
                }
                Ok(value)
            }
            Err(e) => Err(e),
        };
        broken = result.is_err();
        record(computed, request.key(), result)?;
    }
    for request in &plan.metrics {
        let MetricRequest::Distribution {
            column,
            categorical,
            limit,
        } = request
        else {
            continue;
        };
        if let Err(e) = catalogue.require(column) {
            record(computed, request.key(), Err(e))?;
            continue;
        }
        if broken {
            session = session.recover().await?;
        }
        let result = session.distribution(column, *categorical, *limit).await;
        broken = result.is_err();
        record(computed, request.key(), result)?;
    }
    Ok(session)
}

/// A distribution from `(value, count)` rows: numbers (count NULL) or
/// values with their counts.
pub(crate) fn distribution_of(
    rows: Vec<(Option<String>, Option<f64>, Option<i64>)>,
    categorical: bool,
) -> MetricValue {
    let mut distribution = dq_core::Distribution::default();
    for (text, number, count) in rows {
        if categorical {
            if let (Some(value), Some(n)) = (text, count) {
                distribution
                    .counts
                    .insert(value, u64::try_from(n).unwrap_or(0));
            }
        } else if let Some(v) = number.filter(|v| v.is_finite()) {
            distribution.values.push(v);
        }
    }
    MetricValue::Distribution(distribution)
}

/// The dataset's columns, to check a metric's column before it is used.
struct Catalogue<'a> {
    plan: &'a ScanPlan<'a>,
    target: &'a str,
    columns: &'a [ColumnInfo],
    is_column: fn(&str, &str) -> bool,
}

impl Catalogue<'_> {
    fn require(&self, column: &Identifier) -> Result<(), TargetError> {
        if self
            .columns
            .iter()
            .any(|c| (self.is_column)(&c.name, column.as_str()))
        {
            return Ok(());
        }
        Err(TargetError::ColumnNotFound {
            column: column.to_string(),
            dataset: self.plan.dataset.to_string(),
            target: self.target.to_string(),
        })
    }
}

/// Keeps a metric's result; an error that dooms the rest of the scan is
/// returned so the caller stops issuing queries.
fn record(
    computed: &mut Computed,
    key: String,
    result: Result<MetricValue, TargetError>,
) -> Result<(), TargetError> {
    match result {
        Ok(value) => {
            computed.metrics.insert(key, value);
            Ok(())
        }
        Err(e) if aborts_scan(&e) => {
            computed.failures.insert(key, e.clone());
            Err(e)
        }
        Err(e) => {
            computed.failures.insert(key, e);
            Ok(())
        }
    }
}

/// Why a SQL target cannot compute `request`, if it is one of the
/// document-only metrics (MongoDB's kinds and `missing: missing`).
pub(crate) fn document_only(request: &MetricRequest) -> Option<String> {
    let what = match request {
        MetricRequest::CountWhere(RowPredicate::IsAbsent(_)) => {
            "missing: missing (absent fields; a SQL row has every column, \
             so use missing: null_or_missing)"
        }
        MetricRequest::CountWhere(RowPredicate::TypeNotIn(..)) => "check field_types",
        MetricRequest::JsonSchemaViolations(_) => "check json_schema",
        MetricRequest::CustomPipeline { .. } => "check custom_pipeline",
        _ => return None,
    };
    Some(format!(
        "{what} runs only on document targets (MongoDB), not on SQL targets"
    ))
}

/// The column a request reads, if any.
fn request_column(request: &MetricRequest) -> Option<&Identifier> {
    match request {
        MetricRequest::CountWhere(p) => Some(p.column()),
        MetricRequest::Avg(c)
        | MetricRequest::MaxTimestamp(c)
        | MetricRequest::DuplicateRows(c)
        | MetricRequest::Distribution { column: c, .. } => Some(c),
        MetricRequest::RowCount
        | MetricRequest::Columns
        | MetricRequest::CustomSql { .. }
        | MetricRequest::JsonSchemaViolations(_)
        | MetricRequest::CustomPipeline { .. } => None,
    }
}
