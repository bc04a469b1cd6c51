//! `GET /metrics` on the API's own address: the host's metrics, for admin keys only, since
//! they describe the whole server's traffic.

use icash_core::Action;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::get;
use crate::auth::{Auth, Credentials, credentials};
use crate::context::{context, respond};
use crate::error::ApiError;
use crate::metrics::Scrape;

/// The server's metrics in Prometheus's text format. Admin keys only (anyone when the server
/// runs with `ICASH_AUTH=off`). A host that keeps no metrics answers 404.
#[utoipa::path(get, path = "/metrics", tag = "admin",
    responses((status = 200, description = "The metrics, in Prometheus's text format \
                                            (version 0.0.4)",
               content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(
    scrape: Scrape,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    credentials.allow(Action::ReadMetrics).await?;
    Ok(scrape.response())
}

/// `GET /metrics`, when the host gives a [`Scrape`]; no route otherwise.
pub(crate) fn filter(scrape: Option<Scrape>, auth: Auth) -> BoxedFilter<(Response,)> {
    match scrape {
        Some(scrape) => warp::path!("metrics")
            .and(get())
            .and(context())
            .and(credentials(auth))
            .and_then(move |ctx, credentials| respond(ctx, metrics(scrape.clone(), credentials)))
            .boxed(),
        None => warp::any()
            .and_then(|| async { Err::<Response, Rejection>(warp::reject::not_found()) })
            .boxed(),
    }
}
