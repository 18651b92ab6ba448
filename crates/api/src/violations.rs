//! `/api/v1/dq/violations`: what on-call people look at, and acknowledge.

use axum::extract::{Path, State};
use axum::Json;
use chrono::Utc;
use dq_core::Severity;
use dq_store::ViolationFilter;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{CanRead, CanWrite};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::params::{cursor, parse_cursor, Params};
use crate::views::{ViolationPage, ViolationView};
use crate::ApiState;

#[utoipa::path(get, path = "/violations", tag = "violations",
    params(
        ("rule" = Option<Vec<String>>, Query, description = "Only these rules (repeatable)"),
        ("severity" = Option<String>, Query, description = "This severity and above"),
        ("unacknowledged" = Option<bool>, Query, description = "Only unacknowledged ones"),
        ("since" = Option<String>, Query, description = "Detected at or after (RFC 3339)"),
        ("until" = Option<String>, Query, description = "Detected before (RFC 3339)"),
        ("limit" = Option<u32>, Query, description = "Page size, 1-1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = ViolationPage), (status = 400, body = ErrorBody)))]
pub async fn list_violations(
    _: CanRead,
    State(state): State<ApiState>,
    params: Params,
) -> ApiResult<Json<ViolationPage>> {
    params.only(&[
        "rule",
        "severity",
        "unacknowledged",
        "since",
        "until",
        "limit",
        "cursor",
    ])?;
    let limit = params.limit()?;
    let after = match params.one::<String>("cursor")? {
        Some(text) => Some(parse_cursor::<i64>(&text)?),
        None => None,
    };
    let filter = ViolationFilter {
        rule_names: params.all("rule")?,
        min_severity: params.one::<Severity>("severity")?,
        unacknowledged_only: params.flag("unacknowledged")?.unwrap_or(false),
        since: params.time("since")?,
        until: params.time("until")?,
        after,
        limit: Some(limit + 1),
        ..ViolationFilter::default()
    };
    let mut violations = state.store.violations(&filter).await?;
    let more = violations.len() > limit as usize;
    violations.truncate(limit as usize);
    let next_cursor = more
        .then(|| violations.last().map(|v| cursor(v.detected_at, v.id)))
        .flatten();
    Ok(Json(ViolationPage {
        items: violations.into_iter().map(ViolationView::from).collect(),
        next_cursor,
    }))
}

/// Who acknowledges, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// Who takes it (a person or a team).
    pub by: String,
    pub note: Option<String>,
}

#[utoipa::path(post, path = "/violations/{id}/acknowledge", tag = "violations",
    params(("id" = i64, Path)), request_body = Acknowledgement, security(("bearer" = [])),
    responses((status = 200, body = ViolationView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn acknowledge(
    _: CanWrite,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(ack): JsonBody<Acknowledgement>,
) -> ApiResult<Json<ViolationView>> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_field("id", format!("{id:?} is not a violation id")))?;
    if ack.by.trim().is_empty() {
        return Err(ApiError::bad_field("by", "say who acknowledges"));
    }
    state
        .store
        .acknowledge(&[id], ack.by.trim(), ack.note.as_deref(), Utc::now())
        .await?;
    let violation = state
        .store
        .violation_by_id(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no violation {id}")))?;
    tracing::info!(violation = id, by = %ack.by, "violation acknowledged through the API");
    Ok(Json(violation.into()))
}
