//! Bearer tokens. Writes always need the configured token (none configured:
//! writes are refused); reads need it only when the configuration says so.
//! The token comes from the environment, never from a file, and is compared
//! in constant time.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::ApiState;

/// Proof that the request may write; take it as a handler argument.
pub struct CanWrite;

/// Proof that the request may read.
pub struct CanRead;

impl FromRequestParts<ApiState> for CanWrite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let Some(expected) = state.config.token.as_deref() else {
            return Err(ApiError::forbidden(
                "writes are disabled: no API token is configured ([api] token_env)",
            ));
        };
        check(parts, expected).map(|()| CanWrite)
    }
}

impl FromRequestParts<ApiState> for CanRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        match (state.config.reads_need_token, state.config.token.as_deref()) {
            (true, Some(expected)) => check(parts, expected).map(|()| CanRead),
            (true, None) => Err(ApiError::forbidden(
                "reads need a token but none is configured ([api] token_env)",
            )),
            (false, _) => Ok(CanRead),
        }
    }
}

fn check(parts: &Parts, expected: &str) -> Result<(), ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
    let given = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("the Authorization header is not Bearer <token>"))?;
    if constant_time_eq(given.trim().as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("wrong token"))
    }
}

/// Equal, in a time that does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn equal_only_when_every_byte_is() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
    }
}
