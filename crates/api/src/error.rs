//! Every error the API returns: a status and a JSON body naming what is
//! wrong (and, for bad input, which field), never a bare 500 for input.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dq_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every 4xx and 5xx answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in a sentence.
    pub error: String,
    /// The request field at fault (query parameter, path segment or body
    /// field), when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem of an invalid rule, as a manifest load reports them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// One problem in a rule definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    pub rule: Option<String>,
    pub field: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, error: impl Into<String>, field: Option<&str>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                field: field.map(str::to_string),
                problems: Vec::new(),
            },
        }
    }

    pub fn bad_field(field: &str, error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, error, Some(field))
    }

    pub fn bad_request(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, error, None)
    }

    pub fn unauthorized(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, error, None)
    }

    pub fn forbidden(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, error, None)
    }

    pub fn not_found(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, error, None)
    }

    pub fn invalid_rule(problems: Vec<Problem>) -> Self {
        let mut error = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the rule is invalid ({} problems)", problems.len()),
            problems.first().map(|p| p.field.as_str()),
        );
        error.body.problems = problems;
        error
    }

    pub fn unavailable(error: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error, None)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let status = match &error {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Conflict(_) | StoreError::LeaseLost(_) => StatusCode::CONFLICT,
            StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            // The store is down or busy: the client may retry.
            StoreError::Database(_) | StoreError::Migrate(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Corrupt(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::warn!(%error, "API request failed in the store");
        }
        ApiError::new(status, error.to_string(), None)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
