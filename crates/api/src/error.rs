//! The one error type of every handler: a status and a message saying what is wrong.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cointrail_query::QueryError;
use serde::Serialize;

/// An error answer: 4xx with a message naming what is wrong, or a generic 500 (the cause is
/// logged, not sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: a malformed parameter or body.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no API key, or an unknown one.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: not allowed from this client.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the store has no such thing.
    #[error("{0}")]
    NotFound(String),
    /// 413: the body is larger than the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: JSON of the wrong shape (unknown fields, wrong types).
    #[error("{0}")]
    Unprocessable(String),
    /// 429: the key's rate limit is exhausted; retry after this many seconds.
    #[error("rate limit exceeded: retry after {0} s")]
    RateLimited(u64),
    /// 503: too many analyses at once.
    #[error("{0}")]
    Busy(String),
    /// 500: the cause is logged, the client gets a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    status: u16,
}

impl ApiError {
    /// Returns the HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A query error about one request parameter: 4xx naming it, 500 for store errors.
    pub(crate) fn query(parameter: &str, error: QueryError) -> Self {
        match error {
            QueryError::Invalid(message) => Self::BadRequest(format!("{parameter}: {message}")),
            QueryError::NotFound(message) => Self::NotFound(message),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(cause) => {
                crate::log(&format!("500: {cause}"));
                "internal error (logged on the server)".to_owned()
            }
            other => other.to_string(),
        };
        let mut response =
            (status, Json(ErrorBody { error: &message, status: status.as_u16() })).into_response();
        match &self {
            Self::RateLimited(seconds) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
            }
            Self::Unauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(format!("worker task failed: {error}"))
    }
}
