//! What the API measures: requests by route and status, their latency, and the outcome of each
//! purchase, through the [`metrics`] facade.
//!
//! The crate installs no recorder: without one (an embedder that did not ask for metrics) every
//! call below is a no-op. A host that wants them installs a recorder before the API answers
//! its first request (the icash server installs the Prometheus one): the handles are taken from
//! the recorder on first use and kept, so that a request costs a few atomic operations on
//! handles it already holds, with no lookup in the recorder and no lock. The host serves them on
//! the API's own `/metrics`, to admin keys ([`Scrape`]), or on an address of its own
//! ([`exposition_filter`]), or both.
//!
//! The `route` label is the path template of the OpenAPI document (`/cash-register/purchases/{id}`),
//! never the path a client sent, so the number of series stays bounded whatever clients send.

use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use metrics::{Counter, Histogram, Unit};
use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, HeaderValue};
use warp::reply::Response;

use crate::routes::cash_register::IDEMPOTENT_REPLAYED;

/// Requests answered, by `route` and `status`; `route` is `none` for those no route answered (a
/// path or method the API does not have, a CORS preflight or refusal).
pub const REQUESTS: &str = "icash_http_requests_total";
/// Time from a request's route being matched to its response's head, by `route`, in seconds.
pub const REQUEST_DURATION: &str = "icash_http_request_duration_seconds";
/// Purchase requests by `outcome`: `recorded`, `replayed` (a repeated idempotency key),
/// `refused` (the client's mistake: 4xx) or `failed` (5xx).
pub const PURCHASES: &str = "icash_purchases_total";

/// The statuses the API answers with, each with its label: their counters are kept per route.
/// Another status is counted too, through the recorder's own lookup.
const STATUSES: [(u16, &str); 18] = [
    (200, "200"),
    (201, "201"),
    (204, "204"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (408, "408"),
    (409, "409"),
    (413, "413"),
    (415, "415"),
    (429, "429"),
    (431, "431"),
    (500, "500"),
    (502, "502"),
    (503, "503"),
    (504, "504"),
];

/// The label of a route the OpenAPI document does not list (which a test forbids).
const UNLISTED: &str = "unlisted";
/// The label of a request no route answered: a path or method the API does not have, or one
/// that CORS answered (a preflight) or refused. Their latency is not measured.
const NO_ROUTE: &str = "none";

/// One route's handles, each taken from the recorder when first needed.
struct RouteMetrics {
    /// The path template, as the OpenAPI document writes it.
    template: String,
    /// The template's segments from the last, `None` for a `{parameter}`.
    segments: Vec<Option<String>>,
    duration: OnceLock<Histogram>,
    statuses: [OnceLock<Counter>; STATUSES.len()],
}

impl RouteMetrics {
    fn new(template: String) -> RouteMetrics {
        let segments = template
            .split('/')
            .filter(|segment| !segment.is_empty())
            .rev()
            .map(|segment| {
                let parameter = segment.starts_with('{') && segment.ends_with('}');
                (!parameter).then(|| segment.to_owned())
            })
            .collect();
        RouteMetrics {
            template,
            segments,
            duration: OnceLock::new(),
            statuses: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// Whether `path` ends with this route: the API may be mounted under a prefix.
    fn ends(&self, path: &str) -> bool {
        let mut given = path.split('/').filter(|segment| !segment.is_empty()).rev();
        self.segments
            .iter()
            .all(|expected| match (expected, given.next()) {
                (Some(literal), Some(segment)) => literal == segment,
                (None, Some(_)) => true,
                (_, None) => false,
            })
    }

    fn record(&'static self, status: StatusCode, elapsed: Duration) {
        self.duration
            .get_or_init(
                || metrics::histogram!(REQUEST_DURATION, "route" => self.template.as_str()),
            )
            .record(elapsed.as_secs_f64());
        self.count(status);
    }

    fn count(&'static self, status: StatusCode) {
        let code = status.as_u16();
        match STATUSES.iter().position(|(known, _)| *known == code) {
            Some(index) => self.statuses[index]
                .get_or_init(|| {
                    metrics::counter!(REQUESTS, "route" => self.template.as_str(), "status" => STATUSES[index].1)
                })
                .increment(1),
            None => metrics::counter!(
                REQUESTS,
                "route" => self.template.as_str(),
                "status" => status.as_str().to_owned()
            )
            .increment(1),
        }
    }
}

/// Every route of the OpenAPI document, and the purchase outcomes' counters.
struct ApiMetrics {
    routes: Vec<RouteMetrics>,
    unlisted: RouteMetrics,
    no_route: RouteMetrics,
    recorded: Counter,
    replayed: Counter,
    refused: Counter,
    failed: Counter,
}

static METRICS: LazyLock<ApiMetrics> = LazyLock::new(|| {
    metrics::describe_counter!(REQUESTS, "Requests answered, by route template and status");
    metrics::describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's route being matched to its response's head, by route template"
    );
    metrics::describe_counter!(
        PURCHASES,
        "Purchase requests by outcome: recorded, replayed (a repeated idempotency key), refused (4xx) or failed (5xx)"
    );
    let purchases = |outcome: &'static str| metrics::counter!(PURCHASES, "outcome" => outcome);
    let mut routes: Vec<RouteMetrics> = crate::openapi::templates()
        .into_iter()
        .map(RouteMetrics::new)
        .collect();
    // The longest template first, so that `/pos/health` is `/health`, not the index `/`.
    routes.sort_by_key(|route| std::cmp::Reverse(route.segments.len()));
    ApiMetrics {
        routes,
        unlisted: RouteMetrics::new(UNLISTED.to_owned()),
        no_route: RouteMetrics::new(NO_ROUTE.to_owned()),
        recorded: purchases("recorded"),
        replayed: purchases("replayed"),
        refused: purchases("refused"),
        failed: purchases("failed"),
    }
});

/// Counts a request answered with `status` at `path` (as sent, mount prefix included) after
/// `elapsed`, under its route's template.
pub(crate) fn answered(path: &str, status: StatusCode, elapsed: Duration) {
    let metrics: &'static ApiMetrics = &METRICS;
    let route = metrics
        .routes
        .iter()
        .find(|route| route.ends(path))
        .unwrap_or(&metrics.unlisted);
    route.record(status, elapsed);
}

/// Counts a request that no route answered (see [`NO_ROUTE`]), by its status.
pub(crate) fn answered_without_route(status: StatusCode) {
    let metrics: &'static ApiMetrics = &METRICS;
    metrics.no_route.count(status);
}

/// Counts a purchase request by what its response says of it.
pub(crate) fn purchase_answered(response: &Response) {
    let metrics = &*METRICS;
    let status = response.status();
    let counter = if status.is_success() {
        if response.headers().contains_key(IDEMPOTENT_REPLAYED) {
            &metrics.replayed
        } else {
            &metrics.recorded
        }
    } else if status.is_client_error() {
        &metrics.refused
    } else {
        &metrics.failed
    };
    counter.increment(1);
}

/// Counts one purchase of a batch by the status of its outcome: 201 recorded, 200 already
/// recorded (a replay), 4xx refused.
pub(crate) fn batch_purchase_answered(status: u16) {
    let metrics = &*METRICS;
    let counter = match status {
        201 => &metrics.recorded,
        200 => &metrics.replayed,
        _ => &metrics.refused,
    };
    counter.increment(1);
}

/// What `GET /metrics` answers on the API's own address ([`ApiConfig::metrics`](crate::ApiConfig::metrics)):
/// the host's function that writes its metrics in Prometheus's text format, called at each
/// scrape. The API asks for an admin key before calling it.
#[derive(Clone)]
pub struct Scrape(Arc<dyn Fn() -> String + Send + Sync>);

impl Scrape {
    /// A scrape that answers what `render` writes.
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> Scrape {
        Scrape(Arc::new(render))
    }

    /// The metrics as of now, as the response `/metrics` answers with.
    pub(crate) fn response(&self) -> Response {
        let mut response = Response::new((self.0)().into());
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    }
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrape(..)")
    }
}

/// `GET /metrics`, answering what `scrape` writes; every other request is a 404. For a listen
/// address of its own: it asks for no credentials.
pub fn exposition_filter(scrape: Scrape) -> warp::filters::BoxedFilter<(Response,)> {
    use warp::Filter as _;

    let metrics = warp::path!("metrics")
        .and(warp::get())
        .map(move || scrape.response());
    let elsewhere = warp::any().map(|| {
        let mut response = Response::new("only GET /metrics is served here\n".into());
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    });
    metrics.or(elsewhere).unify().boxed()
}

#[cfg(test)]
mod tests {
    use super::RouteMetrics;

    #[test]
    fn a_path_is_matched_to_its_template_under_any_prefix() {
        let receipt = RouteMetrics::new("/cash-register/purchases/{id}".to_owned());
        assert!(receipt.ends("/cash-register/purchases/42"));
        assert!(receipt.ends("/pos/cash-register/purchases/42"));
        assert!(!receipt.ends("/cash-register/purchase"));
        assert!(!receipt.ends("/purchases/42"));
        let index = RouteMetrics::new("/".to_owned());
        assert!(index.ends("/"));
        assert!(index.ends("/pos"));
    }
}
