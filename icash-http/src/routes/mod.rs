//! The endpoints, one module per group, each a filter with its handler beside it.

pub(crate) mod admin;
pub(crate) mod analytics;
pub(crate) mod batch;
pub(crate) mod branches;
pub(crate) mod cash_register;
pub(crate) mod gateway;
pub(crate) mod metrics;
pub(crate) mod probes;
pub(crate) mod products;
pub(crate) mod refunds;
pub(crate) mod whoami;

use std::convert::Infallible;

use hyper::body::Body as _;
use warp::Filter;
use warp::http::Method;
use warp::http::header::{CONTENT_LENGTH, HeaderValue};
use warp::reply::Response;

use crate::SharedStore;

/// Hands each request a clone of the store.
pub(crate) fn with_store(
    store: SharedStore,
) -> impl Filter<Extract = (SharedStore,), Error = Infallible> + Clone {
    warp::any().map(move || store.clone())
}

/// The raw query string, empty when there is none.
pub(crate) fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// `GET`, or `HEAD`: every route that reads answers both, as HTTP requires. A `HEAD` runs the
/// `GET` handler; [`crate::api`] then sends its status and headers without the body.
pub(crate) fn get() -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::get().or(warp::head()).unify()
}

/// The answer to a `HEAD`: the `GET`'s status and headers, with its length when known, and no
/// body. Other methods' answers pass unchanged.
pub(crate) fn without_body_for_head(response: Response, method: Method) -> Response {
    if method != Method::HEAD {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    if let Some(length) = body.size_hint().exact() {
        parts
            .headers
            .entry(CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(length));
    }
    Response::from_parts(parts, Default::default())
}
