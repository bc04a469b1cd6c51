//! The icash HTTP contract as warp filters, over any store that implements
//! [`icash_core::Store`].
//!
//! [`api`] is the whole API, complete with the JSON error body for every refusal, CORS, and a
//! request id per request; a host mounts it in its own warp server, under a path prefix if it
//! likes. [`routes`] is the same without the finishing layers, for a host that wants its own
//! `recover` (it rejects paths it does not serve, so other filters can follow it).
//!
//! ```
//! use std::sync::Arc;
//! use warp::Filter;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = Arc::new(icash_core::MemoryStore::new());
//! let pos = warp::path("pos").and(icash_http::api(store, icash_http::ApiConfig::default()));
//!
//! let response = warp::test::request().path("/pos/health").reply(&pos).await;
//! assert_eq!(response.status(), 200);
//! assert!(response.headers().contains_key("x-request-id"));
//! # }
//! ```
//!
//! Layout: [`dto`] holds the JSON shapes, [`error`] the one table from errors to responses,
//! `routes` the endpoints, [`query`] and `body` the reading of requests. [`ui()`] is the web
//! page, a filter of its own that a host mounts beside the API.

pub mod auth;
mod body;
mod config;
mod connection;
mod context;
pub mod dto;
pub mod error;
pub mod export;
pub mod limits;
pub mod metrics;
mod openapi;
pub mod query;
mod request_head;
mod routes;
mod serve;
mod startup;
mod ui;

use std::sync::Arc;

use icash_core::Store;
use warp::filters::BoxedFilter;
use warp::filters::path::FullPath;
use warp::http::Method;
use warp::reply::Response;
use warp::{Filter, Reply};

pub use auth::{AuthMode, Authenticator, StoreKeys};
pub use config::{ApiConfig, Cors, DEFAULT_BATCH_BODY_LIMIT, DEFAULT_BODY_LIMIT};
pub use connection::{ConnectionLimits, DEFAULT_DRAIN};
pub use context::{CONSISTENCY, REQUEST_ID};
pub use limits::RateLimits;
pub use openapi::document as openapi_document;
pub use routes::cash_register::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, NEXT_CURSOR};
pub use serve::serve;
pub use startup::Startup;
pub use ui::ui;

/// The store as the API shares it between requests.
pub type SharedStore = Arc<dyn Store>;

/// Every endpoint, without the finishing layers of [`api`]: a path it does not serve is
/// rejected, so a host can chain its own filters after it. `GET` routes answer `HEAD` too.
/// Until [`ApiConfig::startup`] has finished, the endpoints that use the store are rejected
/// (503 through [`error::handle_rejection`]); `/`, `/health`, `/livez`, `/readyz`,
/// `/openapi.json` and `/metrics` always answer.
pub fn routes(store: SharedStore, config: &ApiConfig) -> BoxedFilter<(Response,)> {
    let auth = auth::Auth::new(config, store.clone());
    let always = routes::gateway::filters(store.clone(), config.health_timeout)
        .or(routes::probes::filters(
            store.clone(),
            config.startup.clone(),
            config.health_timeout,
        ))
        .unify()
        // Before the start-up ends too: a scrape follows the load's progress.
        .or(routes::metrics::filter(
            config.metrics.clone(),
            auth.clone(),
        ))
        .unify();
    let after_startup = routes::gateway::dashboard_filter(store.clone(), auth.clone())
        .or(routes::cash_register::filters(
            store.clone(),
            config.body_limit,
            config.offline_window,
            auth.clone(),
        ))
        .unify()
        .or(routes::products::filters(
            store.clone(),
            config.body_limit,
            auth.clone(),
        ))
        .unify()
        .or(routes::batch::filters(
            store.clone(),
            config.batch_body_limit,
            config.offline_window,
            auth.clone(),
        ))
        .unify()
        .or(routes::refunds::filters(
            store.clone(),
            config.body_limit,
            auth.clone(),
        ))
        .unify()
        .or(routes::analytics::filters(store.clone(), auth.clone()))
        .unify()
        .or(routes::branches::filters(
            store.clone(),
            config.body_limit,
            auth.clone(),
        ))
        .unify()
        .or(routes::admin::filters(
            store,
            config.body_limit,
            auth.clone(),
        ))
        .unify()
        .or(routes::whoami::filter(auth))
        .unify();
    request_head::check()
        .and(
            always
                .or(startup::admit(config.startup.clone()).and(after_startup))
                .unify(),
        )
        .boxed()
}

/// The whole API: every endpoint, the JSON error body for every refusal (404, 405, ...),
/// CORS with preflight, and an `x-request-id` on every response.
pub fn api(store: SharedStore, config: ApiConfig) -> BoxedFilter<(Response,)> {
    let body_limit = config.body_limit;
    let answered = warp::path::full()
        .and(
            routes(store, &config)
                .recover(move |rejection| error::handle_rejection(rejection, body_limit))
                .unify(),
        )
        .map(|path: FullPath, response| error::with_allow(path.as_str(), response))
        .and(warp::method())
        .map(routes::without_body_for_head)
        .with(cors(&config.cors))
        .map(Reply::into_response)
        // What CORS itself refuses (an origin or a header it does not allow).
        .recover(move |rejection| error::handle_rejection(rejection, body_limit))
        .unify();
    // Outermost, so that preflights and refusals carry a request id too.
    context::client_request_id()
        .and(answered)
        .map(error::ensure_request_id)
        .boxed()
}

fn cors(config: &Cors) -> warp::cors::Builder {
    let builder = warp::cors()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            "content-type",
            "authorization",
            REQUEST_ID,
            IDEMPOTENCY_KEY,
            CONSISTENCY,
        ])
        .expose_headers([
            REQUEST_ID,
            "link",
            NEXT_CURSOR,
            IDEMPOTENT_REPLAYED,
            CONSISTENCY,
            "content-disposition",
        ])
        .max_age(600);
    match config {
        Cors::AnyOrigin => builder.allow_any_origin(),
        Cors::Origins(origins) => origins.iter().fold(builder, |builder, origin| {
            builder.allow_origin(origin.as_str())
        }),
    }
}
