//! `/api/v1/dq/rules`: list, get, create, replace, enable, disable. A rule
//! is written as a manifest entry (JSON is YAML), validated by the same
//! code as `dq load`, so the API accepts exactly what a manifest may hold.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use dq_core::manifest::{load_manifests, ManifestFile, SUPPORTED_VERSION};
use dq_core::{Queue, Rule, Severity};
use dq_store::{RuleFilter, SaveMode, API_SOURCE};

use crate::auth::{CanRead, CanWrite};
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult, ErrorBody, Problem};
use crate::params::Params;
use crate::views::{RuleHistory, RuleList, RuleVersionView, RuleView};
use crate::ApiState;

#[utoipa::path(get, path = "/rules", tag = "rules",
    params(
        ("enabled" = Option<bool>, Query, description = "Only enabled (true) or disabled (false) rules"),
        ("tag" = Option<String>, Query, description = "Only rules carrying this tag"),
        ("target" = Option<String>, Query), ("dataset" = Option<String>, Query),
        ("queue" = Option<String>, Query, description = "dq_database, dq_compute or dq_memory"),
        ("severity" = Option<String>, Query, description = "INFO, LOW, MEDIUM, HIGH or CRITICAL"),
        ("owner" = Option<String>, Query),
    ),
    responses((status = 200, body = RuleList), (status = 400, body = ErrorBody)))]
pub async fn list_rules(
    _: CanRead,
    State(state): State<ApiState>,
    params: Params,
) -> ApiResult<Json<RuleList>> {
    params.only(&[
        "enabled", "tag", "target", "dataset", "queue", "severity", "owner",
    ])?;
    let enabled = params.flag("enabled")?;
    let filter = RuleFilter {
        enabled_only: enabled == Some(true),
        disabled_only: enabled == Some(false),
        tag: params.one("tag")?,
        target: params.one("target")?,
        dataset: params.one("dataset")?,
        queue: params.one::<Queue>("queue")?,
        severity: params.one::<Severity>("severity")?,
        owner: params.one("owner")?,
        ..RuleFilter::default()
    };
    let rules = state.store.rules(&filter).await?;
    Ok(Json(RuleList {
        items: rules.into_iter().map(RuleView::from).collect(),
    }))
}

#[utoipa::path(get, path = "/rules/{name}", tag = "rules",
    params(("name" = String, Path)),
    responses((status = 200, body = RuleView), (status = 404, body = ErrorBody)))]
pub async fn get_rule(
    _: CanRead,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<RuleView>> {
    match state.store.rule_by_name(&name).await? {
        Some(rule) => Ok(Json(rule.into())),
        None => Err(ApiError::not_found(format!("no rule named {name:?}"))),
    }
}

#[utoipa::path(post, path = "/rules", tag = "rules",
    request_body(content = Object, description = "A manifest rule entry, e.g. {\"name\": \"orders_ids\", \"target\": \"shop\", \"dataset\": \"orders\", \"check\": \"not_null\", \"column\": \"id\", \"schedule\": \"*/5 * * * *\"}"),
    security(("bearer" = [])),
    responses((status = 201, body = RuleView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_rule(
    _: CanWrite,
    State(state): State<ApiState>,
    JsonBody(entry): JsonBody<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let rule = validate(&state, entry)?;
    let stored = state
        .store
        .save_rule(&rule, API_SOURCE, SaveMode::Create)
        .await?;
    tracing::info!(rule = %rule.name, "rule created through the API");
    Ok((StatusCode::CREATED, Json(stored.into())))
}

#[utoipa::path(put, path = "/rules/{name}", tag = "rules",
    params(("name" = String, Path)),
    request_body(content = Object, description = "The whole manifest rule entry; its name, if given, must be the path's"),
    security(("bearer" = [])),
    responses((status = 200, body = RuleView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn replace_rule(
    _: CanWrite,
    State(state): State<ApiState>,
    Path(name): Path<String>,
    JsonBody(mut entry): JsonBody<serde_json::Value>,
) -> ApiResult<Json<RuleView>> {
    let Some(fields) = entry.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object (a manifest rule entry)",
        ));
    };
    match fields.get("name") {
        None => {
            fields.insert("name".into(), serde_json::Value::String(name.clone()));
        }
        Some(given) if given.as_str() == Some(name.as_str()) => {}
        Some(given) => {
            return Err(ApiError::bad_field(
                "name",
                format!(
                "the body names {given} but the path names {name:?}; renaming is create + disable"
            ),
            ))
        }
    }
    let rule = validate(&state, entry)?;
    let stored = state
        .store
        .save_rule(&rule, API_SOURCE, SaveMode::Replace)
        .await?;
    tracing::info!(rule = %rule.name, "rule replaced through the API");
    Ok(Json(stored.into()))
}

#[utoipa::path(post, path = "/rules/{name}/enable", tag = "rules",
    params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RuleView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn enable_rule(
    auth: CanWrite,
    state: State<ApiState>,
    name: Path<String>,
) -> ApiResult<Json<RuleView>> {
    set_enabled(auth, state, name, true).await
}

#[utoipa::path(post, path = "/rules/{name}/disable", tag = "rules",
    params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = RuleView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn disable_rule(
    auth: CanWrite,
    state: State<ApiState>,
    name: Path<String>,
) -> ApiResult<Json<RuleView>> {
    set_enabled(auth, state, name, false).await
}

#[utoipa::path(get, path = "/rules/{name}/versions", tag = "rules",
    params(("name" = String, Path)),
    responses((status = 200, body = RuleHistory), (status = 404, body = ErrorBody)))]
pub async fn rule_versions(
    _: CanRead,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<Json<RuleHistory>> {
    let versions = state.store.rule_history(&name).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no rule named {name:?}")));
    }
    Ok(Json(RuleHistory {
        items: versions.into_iter().map(RuleVersionView::from).collect(),
    }))
}

async fn set_enabled(
    _: CanWrite,
    State(state): State<ApiState>,
    Path(name): Path<String>,
    enabled: bool,
) -> ApiResult<Json<RuleView>> {
    let stored = state.store.set_rule_enabled(&name, enabled).await?;
    tracing::info!(rule = %name, enabled, "rule switched through the API");
    Ok(Json(stored.into()))
}

/// The entry as a rule, through the manifest loader; every problem is
/// reported, with its field.
fn validate(state: &ApiState, entry: serde_json::Value) -> ApiResult<Rule> {
    if !entry.is_object() {
        return Err(ApiError::bad_request(
            "the body must be a JSON object (a manifest rule entry)",
        ));
    }
    let document = serde_json::json!({"version": SUPPORTED_VERSION, "rules": [entry]}).to_string();
    let file = ManifestFile {
        path: "request body",
        text: &document,
    };
    let targets = &state.config.targets;
    let known = |name: &str| targets.iter().any(|t| t == name);
    match load_manifests(&[file], &known) {
        Ok(mut rules) if rules.len() == 1 => Ok(rules.remove(0)),
        Ok(_) => Err(ApiError::bad_request("the body must hold exactly one rule")),
        Err(errors) => Err(ApiError::invalid_rule(
            errors
                .into_iter()
                .map(|e| Problem {
                    rule: e.rule,
                    field: e.field,
                    message: e.message,
                })
                .collect(),
        )),
    }
}
