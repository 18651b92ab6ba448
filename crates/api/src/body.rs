//! JSON request bodies whose problems name the field: `{"by": 5}` is a 400
//! saying `by` is not a string, not a generic "unprocessable entity".

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Bodies above this are refused (a rule or an acknowledgement is small).
const MAX_BODY: usize = 256 * 1024;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("unreadable body: {e}")))?;
        if bytes.len() > MAX_BODY {
            return Err(ApiError::bad_request(format!(
                "the body is {} bytes; at most {MAX_BODY} are accepted",
                bytes.len()
            )));
        }
        if bytes.is_empty() {
            return Err(ApiError::bad_request("the body is empty (expected JSON)"));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut deserializer) {
            Ok(value) => Ok(JsonBody(value)),
            Err(e) => {
                let field = e.path().to_string();
                let message = format!("invalid JSON body: {}", e.inner());
                Err(if field == "." {
                    ApiError::bad_request(message)
                } else {
                    ApiError::bad_field(&field, message)
                })
            }
        }
    }
}
