//! The one table from errors to HTTP responses: domain errors, the API's own refusals, and
//! warp's rejections all become `{"error": "<sentence>"}` with their status here.
//!
//! A client's mistake gets a sentence that names it. An infrastructure failure gets a generic
//! sentence; its cause goes to the log (with the request id, through the request's span) and
//! never into a response.

use std::convert::Infallible;

use icash_core::{Error, StoreError};
use warp::http::StatusCode;
use warp::http::header::{ALLOW, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::reject::{
    InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, PayloadTooLarge,
    UnsupportedMediaType,
};
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::context::{REQUEST_ID, json, new_id, set_request_id};
use crate::dto::ErrorBody;
use crate::request_head::Refused;
use crate::startup::StartingUp;

/// Everything a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// A domain error from the store or the domain's validation.
    Domain(Error),
    /// A malformed request: the sentence says what is wrong.
    BadRequest(String),
    /// A body that is not declared as JSON.
    UnsupportedMediaType,
    /// A body over the limit, in bytes.
    PayloadTooLarge(u64),
    /// A body in a content coding the API does not decode, as the client named it.
    UnsupportedContentEncoding(String),
    /// A request that needs the store while the host's start-up is under way.
    StartingUp,
    /// Authentication is required and the request's credentials name no one: none were
    /// `presented`, or they are unknown or revoked.
    Unauthorized {
        /// Whether the request carried credentials.
        presented: bool,
    },
    /// The key made more requests than its rate allows; it may retry after the wait.
    TooManyRequests(std::time::Duration),
    /// The client's address failed to authenticate too often; it may retry after the wait.
    TooManyFailures(std::time::Duration),
    /// An administration endpoint on a server whose authentication is off.
    KeysOff,
    /// A failure that is nobody's business but the log's (already logged).
    Internal,
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError::Domain(error)
    }
}

impl From<icash_core::ValidationError> for ApiError {
    fn from(error: icash_core::ValidationError) -> ApiError {
        ApiError::Domain(error.into())
    }
}

/// The sentence for a store that cannot be reached.
const UNAVAILABLE: &str = "the database is unavailable; please retry shortly";
/// The sentence for a store whose every connection is in use: overload, not an outage.
const BUSY: &str = "the server is busy; please retry in a few seconds";
/// The sentence for a request the store cut short at its time limit.
const TIMED_OUT: &str = "the request took longer than the server allows and was stopped; please retry shortly, or ask for less (a shorter period, a page)";
/// How long a client is asked to wait before it retries a busy or timed-out request, in
/// seconds: a busy pool frees a connection within a statement's time, most within a second.
const RETRY_AFTER_SECS: &str = "2";
/// The sentence for everything that is not the client's doing.
const INTERNAL: &str = "an internal error occurred; it has been logged";

impl ApiError {
    /// The status and the sentence a client sees.
    pub(crate) fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            ApiError::Domain(Error::Invalid(error)) => (StatusCode::BAD_REQUEST, error.to_string()),
            ApiError::Domain(error @ Error::NotFound { .. }) => {
                (StatusCode::NOT_FOUND, error.to_string())
            }
            ApiError::Domain(error @ Error::Conflict(_)) => {
                (StatusCode::CONFLICT, error.to_string())
            }
            ApiError::Domain(error @ Error::Forbidden(_)) => {
                (StatusCode::FORBIDDEN, error.to_string())
            }
            ApiError::Domain(Error::Store(StoreError::Unavailable(_))) => {
                (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE.to_owned())
            }
            ApiError::Domain(Error::Store(StoreError::Busy(_))) => {
                (StatusCode::SERVICE_UNAVAILABLE, BUSY.to_owned())
            }
            ApiError::Domain(Error::Store(StoreError::TimedOut(_))) => {
                (StatusCode::SERVICE_UNAVAILABLE, TIMED_OUT.to_owned())
            }
            ApiError::Domain(Error::Store(StoreError::Internal(_))) | ApiError::Internal => {
                (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL.to_owned())
            }
            ApiError::Unauthorized { presented: false } => (
                StatusCode::UNAUTHORIZED,
                "this endpoint needs an API key, sent as `Authorization: Bearer <key>`".to_owned(),
            ),
            ApiError::Unauthorized { presented: true } => (
                StatusCode::UNAUTHORIZED,
                "the API key is not valid: it is unknown or revoked".to_owned(),
            ),
            ApiError::TooManyRequests(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this API key made more requests than its rate allows; retry in {} s",
                    crate::limits::retry_after_secs(*wait)
                ),
            ),
            ApiError::TooManyFailures(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed authentications from this address; retry in {} s",
                    crate::limits::retry_after_secs(*wait)
                ),
            ),
            ApiError::KeysOff => (
                StatusCode::FORBIDDEN,
                "API keys are off on this server (ICASH_AUTH=off): keys and the audit trail are managed only where keys are required"
                    .to_owned(),
            ),
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message.clone()),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must be JSON, sent with Content-Type: application/json"
                    .to_owned(),
            ),
            ApiError::UnsupportedContentEncoding(coding) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "the request body is sent with Content-Encoding `{coding}`, which this server \
                     does not decode; send it without a Content-Encoding"
                ),
            ),
            ApiError::StartingUp => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is starting and still loading its data files; please retry shortly"
                    .to_owned(),
            ),
            ApiError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than the limit of {limit} bytes"),
            ),
        }
    }

    /// The response, logging the cause of a server-side failure.
    pub fn into_response(self) -> Response {
        if let ApiError::Domain(Error::Store(error)) = &self {
            let cause = std::error::Error::source(error)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::error!(error = %error, cause = %cause, "the store failed");
        }
        let (status, message) = self.status_and_message();
        let mut response = json(status, &ErrorBody { error: message });
        if let ApiError::Domain(Error::Store(StoreError::Busy(_) | StoreError::TimedOut(_))) = self
        {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        if let ApiError::TooManyRequests(wait) | ApiError::TooManyFailures(wait) = self {
            response.headers_mut().insert(
                RETRY_AFTER,
                HeaderValue::from(crate::limits::retry_after_secs(wait)),
            );
        }
        if let ApiError::Unauthorized { presented } = self {
            // RFC 6750: the scheme to use, and why the credentials sent were refused.
            let challenge = if presented {
                r#"Bearer realm="icash", error="invalid_token""#
            } else {
                r#"Bearer realm="icash""#
            };
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// Turns warp's own rejections (no route, wrong method, bad query...) into the JSON error body,
/// for [`crate::api`]; a host that mounts [`crate::routes`] may use it in its own `recover`.
pub async fn handle_rejection(
    rejection: Rejection,
    body_limit: u64,
) -> Result<Response, Infallible> {
    let error = if rejection.is_not_found() {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "there is no endpoint at this path; GET / lists them",
        ));
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "this endpoint does not answer that method; GET / lists the endpoints and their methods",
        ));
    } else if rejection.find::<PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge(body_limit)
    } else if let Some(refused) = rejection.find::<Refused>() {
        match refused {
            Refused::ContentEncoding(coding) => {
                ApiError::UnsupportedContentEncoding(coding.clone())
            }
            Refused::TransferEncoding(coding) => ApiError::BadRequest(format!(
                "the request body is sent with Transfer-Encoding `{coding}`, which this server \
                 does not apply; send it with a Content-Length, or chunked alone"
            )),
        }
    } else if rejection.find::<StartingUp>().is_some() {
        ApiError::StartingUp
    } else if rejection.find::<UnsupportedMediaType>().is_some() {
        ApiError::UnsupportedMediaType
    } else if let Some(header) = rejection.find::<InvalidHeader>() {
        ApiError::BadRequest(format!("header `{}` is not valid", header.name()))
    } else if rejection.find::<InvalidQuery>().is_some() {
        ApiError::BadRequest("the query string is not valid".to_owned())
    } else if rejection.find::<LengthRequired>().is_some() {
        ApiError::BadRequest("the request body's length is missing".to_owned())
    } else if let Some(cors) = rejection.find::<warp::cors::CorsForbidden>() {
        return Ok(plain(StatusCode::FORBIDDEN, &format!("CORS: {cors}")));
    } else {
        tracing::error!(?rejection, "unhandled rejection");
        ApiError::Internal
    };
    Ok(error.into_response())
}

/// Gives a 405 the `Allow` header HTTP requires: the methods its path answers.
pub(crate) fn with_allow(path: &str, mut response: Response) -> Response {
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(methods) = crate::openapi::allowed_methods(path)
    {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(methods));
    }
    response
}

fn plain(status: StatusCode, message: &str) -> Response {
    json(
        status,
        &ErrorBody {
            error: message.to_owned(),
        },
    )
}

/// Gives a response that has no request id (a rejection's) one: the client's, or a new one.
pub(crate) fn ensure_request_id(client_id: Option<String>, response: impl Reply) -> Response {
    let mut response = response.into_response();
    if !response.headers().contains_key(REQUEST_ID) {
        let id = client_id
            .filter(|id| crate::context::is_acceptable_id(id))
            .unwrap_or_else(new_id);
        set_request_id(&mut response, &id);
        crate::metrics::answered_without_route(response.status());
    }
    response
}

#[cfg(test)]
mod tests {
    use icash_core::Error;
    use warp::Filter;
    use warp::http::StatusCode;

    use super::ApiError;

    async fn answer(error: fn() -> Error) -> (StatusCode, Option<String>, String) {
        let filter = warp::any().map(move || ApiError::Domain(error()).into_response());
        let response = warp::test::request().reply(&filter).await;
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().to_owned());
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        let sentence = body["error"].as_str().unwrap().to_owned();
        (response.status(), retry_after, sentence)
    }

    #[tokio::test]
    async fn overload_is_not_reported_as_an_outage() {
        let (status, retry_after, busy) = answer(|| Error::busy("pool timed out")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("2"));
        assert!(busy.contains("the server is busy"), "{busy}");

        let (status, retry_after, cut) = answer(|| Error::timed_out("statement timeout")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after.as_deref(), Some("2"));
        assert!(cut.contains("took longer than the server allows"), "{cut}");

        let (status, _, down) = answer(|| Error::unavailable("connection refused")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down, "the database is unavailable; please retry shortly");
        assert_ne!(busy, down);
        assert_ne!(cut, down);
    }
}
