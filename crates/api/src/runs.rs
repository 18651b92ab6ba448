//! `/api/v1/dq/runs`: runs by rule, status and time, a page at a time.

use axum::extract::{Path, State};
use axum::Json;
use dq_core::{RunId, RunStatus};
use dq_store::RunFilter;

use crate::auth::CanRead;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::params::{cursor, parse_cursor, Params};
use crate::views::{RunPage, RunView};
use crate::ApiState;

#[utoipa::path(get, path = "/runs", tag = "runs",
    params(
        ("rule" = Option<Vec<String>>, Query, description = "Only these rules (repeat the parameter)"),
        ("status" = Option<Vec<String>>, Query, description = "Only these statuses, e.g. FAILED (repeatable)"),
        ("since" = Option<String>, Query, description = "Scheduled at or after (RFC 3339)"),
        ("until" = Option<String>, Query, description = "Scheduled before (RFC 3339)"),
        ("limit" = Option<u32>, Query, description = "Page size, 1-1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorBody)))]
pub async fn list_runs(
    _: CanRead,
    State(state): State<ApiState>,
    params: Params,
) -> ApiResult<Json<RunPage>> {
    params.only(&["rule", "status", "since", "until", "limit", "cursor"])?;
    let limit = params.limit()?;
    let after = match params.one::<String>("cursor")? {
        Some(text) => Some(parse_cursor::<RunId>(&text)?),
        None => None,
    };
    let filter = RunFilter {
        rule_names: params.all("rule")?,
        statuses: params.all::<RunStatus>("status")?,
        since: params.time("since")?,
        until: params.time("until")?,
        after,
        // One more than a page: whether there is a next page.
        limit: Some(limit + 1),
    };
    let mut runs = state.store.runs(&filter).await?;
    let more = runs.len() > limit as usize;
    runs.truncate(limit as usize);
    let next_cursor = more
        .then(|| runs.last().map(|r| cursor(r.scheduled_for, r.id)))
        .flatten();
    Ok(Json(RunPage {
        items: runs.into_iter().map(RunView::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "The run id (a UUID)")),
    responses((status = 200, body = RunView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_run(
    _: CanRead,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    let id: RunId = id
        .parse()
        .map_err(|e| ApiError::bad_field("id", format!("{id:?}: {e}")))?;
    match state.store.run_by_id(id).await? {
        Some(run) => Ok(Json(run.into())),
        None => Err(ApiError::not_found(format!("no run {id}"))),
    }
}
