//! The request context: a request id and a tracing span per request, and the one function that
//! runs a handler inside them and turns its outcome into a response.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use bytes::Bytes;
use futures::{FutureExt, Stream, TryStreamExt};
use sync_wrapper::SyncStream;
use tracing::{Instrument, Span};
use warp::http::header::{CONTENT_TYPE, HeaderValue};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use icash_core::{Consistency, consistency};

use crate::error::ApiError;

/// The header that carries the request id, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The header that carries a write's consistency token to the client, and back with a read
/// that must see the write (see [`icash_core::consistency`]).
pub const CONSISTENCY: &str = "icash-consistency";

/// Who is asking what: the request id (the client's `x-request-id` when it is a sensible token,
/// else a new one) and the span its logs go to.
#[derive(Clone, Debug)]
pub struct RequestContext {
    id: String,
    span: Span,
    path: String,
    /// The consistency token the client sent back, as sent (`Some("")` when it was not text).
    consistency: Option<String>,
}

impl RequestContext {
    fn new(
        id: Option<String>,
        consistency: Option<String>,
        method: Method,
        path: warp::path::FullPath,
    ) -> RequestContext {
        let id = id.filter(|id| is_acceptable_id(id)).unwrap_or_else(new_id);
        // `purchase_id` is filled in by the purchase route: its id then shows on the request's
        // one "answered" line, and a purchase costs the log one line, not two.
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %method,
            path = path.as_str(),
            purchase_id = tracing::field::Empty,
        );
        RequestContext {
            id,
            span,
            path: path.as_str().to_owned(),
            consistency,
        }
    }

    /// The path as the client sent it, mount prefix included.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// A new request id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A client's request id is echoed only when it is short and plain, so that logs and headers
/// never carry what a client smuggles in.
pub(crate) fn is_acceptable_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Extracts the request context. Routes take it after their path and method, so that it is
/// made once, for the route that matched.
pub fn context() -> impl Filter<Extract = (RequestContext,), Error = Infallible> + Clone {
    client_request_id()
        .and(client_consistency())
        .and(warp::method())
        .and(warp::path::full())
        .map(RequestContext::new)
}

/// The client's `x-request-id`, if it sent one that reads as text: one that does not is
/// replaced, like any other unacceptable id, never a reason to refuse the request.
pub(crate) fn client_request_id()
-> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible> + Clone {
    warp::header::value(REQUEST_ID)
        .map(|value: HeaderValue| value.to_str().ok().map(str::to_owned))
        .or(warp::any().map(|| None))
        .unify()
}

/// The consistency token the client sent back, if any; one that is not text reads as empty,
/// which [`respond`] refuses with a sentence.
fn client_consistency() -> impl Filter<Extract = (Option<String>,), Error = Infallible> + Clone {
    warp::header::value(CONSISTENCY)
        .map(|value: HeaderValue| Some(value.to_str().unwrap_or_default().to_owned()))
        .or(warp::any().map(|| None))
        .unify()
}

/// Sets the request id header on a response.
pub(crate) fn set_request_id(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
}

/// Runs a handler in the request's span and in the client's consistency session (its reads see
/// the write whose token it sent back; a successful write's answer carries its token), maps
/// its error (or panic) to a response through the one error table, tags the response with the
/// request id, and logs the outcome.
pub(crate) async fn respond<F>(context: RequestContext, handler: F) -> Result<Response, Infallible>
where
    F: Future<Output = Result<Response, ApiError>> + Send,
{
    let span = context.span.clone();
    async move {
        let started = Instant::now();
        let read_after = context.consistency.as_deref().map(Consistency::parse);
        let mut response = match read_after.transpose() {
            Err(invalid) => ApiError::from(invalid).into_response(),
            Ok(read_after) => {
                let (outcome, wrote) =
                    consistency::session(read_after, AssertUnwindSafe(handler).catch_unwind())
                        .await;
                let mut response = match outcome {
                    Ok(Ok(response)) => response,
                    Ok(Err(error)) => error.into_response(),
                    Err(_) => {
                        tracing::error!("the handler panicked");
                        ApiError::Internal.into_response()
                    }
                };
                if let Some(wrote) = wrote
                    && response.status().is_success()
                    && let Ok(value) = HeaderValue::from_str(wrote.as_str())
                {
                    response.headers_mut().insert(CONSISTENCY, value);
                }
                response
            }
        };
        set_request_id(&mut response, &context.id);
        let status = response.status();
        let elapsed = started.elapsed();
        crate::metrics::answered(&context.path, status, elapsed);
        let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), elapsed_us, "answered");
        } else {
            tracing::info!(status = status.as_u16(), elapsed_us, "answered");
        }
        Ok(response)
    }
    .instrument(span)
    .await
}

/// A 200 response whose JSON body is sent chunk by chunk as `chunks` yields them. The status is
/// sent with the first chunk, so an error after it can only cut the body short: it is logged in
/// the request's span, and the client sees an incomplete response, never a complete wrong one.
pub(crate) fn json_chunks<S>(chunks: S) -> Response
where
    S: Stream<Item = Result<Bytes, icash_core::Error>> + Send + 'static,
{
    let span = Span::current();
    let chunks = chunks.inspect_err(move |error| {
        let _entered = span.enter();
        tracing::warn!(%error, "the response was cut short");
    });
    let mut response = warp::reply::stream(SyncStream::new(chunks)).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON response with a status.
pub(crate) fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}
