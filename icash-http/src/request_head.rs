//! What every request's head must be for the API to read its body, checked before routing:
//! a body in a content coding the API does not decode (`Content-Encoding: gzip`), or in a
//! transfer coding other than `chunked` that the HTTP server let through (`gzip, chunked`),
//! would otherwise reach the JSON parser as bytes it cannot make sense of.
//!
//! [`host_refusal`] is the one check that needs the request's HTTP version, which warp's
//! filters do not see: the server ([`crate::serve`]) makes it before the API.

use warp::http::header::{CONTENT_ENCODING, HOST, TRANSFER_ENCODING};
use warp::http::{HeaderMap, Request, Version};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::context::{new_id, set_request_id};
use crate::error::ApiError;

/// A request refused for its head; the error table in [`crate::error`] answers it.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A content coding other than `identity`, as the client named it.
    ContentEncoding(String),
    /// A transfer coding other than `chunked`, as the client named it.
    TransferEncoding(String),
}

impl warp::reject::Reject for Refused {}

/// Rejects a request whose body is in a coding the API does not apply.
pub(crate) fn check() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::filters::header::headers_cloned()
        .and_then(|headers: HeaderMap| async move {
            match refusal(&headers) {
                None => Ok(()),
                Some(refused) => Err(warp::reject::custom(refused)),
            }
        })
        .untuple_one()
}

fn refusal(headers: &HeaderMap) -> Option<Refused> {
    let unsupported = |name, accepted: &str| {
        headers
            .get_all(name)
            .iter()
            .flat_map(|value| {
                // A value that is not text is no coding the API knows either.
                let text = value.to_str().unwrap_or("?");
                text.split(',').map(str::trim).collect::<Vec<_>>()
            })
            .find(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case(accepted))
            .map(str::to_owned)
    };
    unsupported(CONTENT_ENCODING, "identity")
        .map(Refused::ContentEncoding)
        .or_else(|| unsupported(TRANSFER_ENCODING, "chunked").map(Refused::TransferEncoding))
}

/// The answer to an HTTP/1.1 request without exactly one `Host` header, which HTTP requires
/// a server to refuse; `None` for a request that has one (or an HTTP/1.0 request).
pub(crate) fn host_refusal<B>(request: &Request<B>) -> Option<Response> {
    let hosts = request.headers().get_all(HOST).iter().count();
    let sentence = match hosts {
        0 if request.version() == Version::HTTP_11 => "an HTTP/1.1 request must send a Host header",
        0 | 1 => return None,
        _ => "the request sends more than one Host header",
    };
    let mut response = ApiError::BadRequest(sentence.to_owned()).into_response();
    set_request_id(&mut response, &new_id());
    Some(response)
}
