//! The endpoints, one module per group, each a filter with its handler beside it.

pub(crate) mod admin;
pub(crate) mod analytics;
pub(crate) mod cash_register;
pub(crate) mod gateway;

use std::convert::Infallible;

use warp::Filter;

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
