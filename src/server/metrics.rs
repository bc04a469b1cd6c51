//! `/metrics`, in Prometheus's text format: on the API's address for admin keys, and, when
//! [`Config::metrics_addr`](super::Config::metrics_addr) asks for it, on a listen address of
//! its own that answers without a key (for a private interface only, never a public one).
//!
//! The server installs the Prometheus recorder of the `metrics` facade at start; the libraries
//! only call the facade. What is counted as it happens ([`icash_http::metrics`],
//! [`icash_postgres::pool_metrics`]) costs the requests a few atomic additions; what can be
//! read at any time (the pools' connections, the start-up load's progress) is read when
//! `/metrics` is, and costs nothing in between.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use icash_http::metrics::{REQUEST_DURATION, Scrape};
use icash_postgres::PgStore;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::StartError;
use crate::data::LoadProgress;

/// Purchases the start-up load has handed to the store.
pub const LOAD_PURCHASES: &str = "icash_load_purchases";
/// Bytes of the purchases file the start-up load has read, and its size.
pub const LOAD_BYTES_READ: &str = "icash_load_bytes_read";
/// The size of the purchases file the start-up load reads.
pub const LOAD_BYTES_TOTAL: &str = "icash_load_bytes_total";
/// 1 once the start-up load is over (done, skipped, or nothing to load), else 0.
pub const LOAD_DONE: &str = "icash_load_done";

/// The request latency histogram's bucket bounds, in seconds: from an idle connection's
/// purchase to an analytic near the statement timeout.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often histogram samples not yet read by a scrape are folded into their buckets, so that
/// memory stays bounded when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// What `/metrics` reads when it is asked: the recorder, the load's progress and the store's
/// pools.
pub(super) struct Exposition {
    handle: PrometheusHandle,
    load: Arc<LoadProgress>,
    startup: icash_http::Startup,
    store: OnceLock<PgStore>,
}

impl Exposition {
    /// The load's progress, as `/metrics` reports it.
    pub(super) fn load_progress(&self) -> Arc<LoadProgress> {
        Arc::clone(&self.load)
    }

    /// Gives `/metrics` the store whose pools it reports.
    pub(super) fn set_store(&self, store: PgStore) {
        let _ = self.store.set(store);
    }

    /// The text `/metrics` answers: the counters and histograms as recorded, the gauges as of now.
    fn render(&self) -> String {
        metrics::gauge!(LOAD_PURCHASES).set(self.load.purchases_loaded() as f64);
        metrics::gauge!(LOAD_BYTES_READ).set(self.load.bytes_read() as f64);
        metrics::gauge!(LOAD_BYTES_TOTAL).set(self.load.total_bytes() as f64);
        let done = self.startup.is_finished();
        metrics::gauge!(LOAD_DONE).set(if done { 1.0 } else { 0.0 });
        if let Some(store) = self.store.get() {
            store.record_pool_metrics();
        }
        self.handle.render()
    }

    /// Installs the Prometheus recorder (once per process) and keeps its histograms folded
    /// until the returned task is aborted; the load counts as done once `startup` has finished.
    pub(super) fn install(
        startup: icash_http::Startup,
    ) -> Result<(Arc<Exposition>, JoinHandle<()>), StartError> {
        let handle = recorder()?;
        let exposition = Arc::new(Exposition {
            handle: handle.clone(),
            load: Arc::default(),
            startup,
            store: OnceLock::new(),
        });
        let upkeep = tokio::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
        Ok((exposition, upkeep))
    }

    /// What the API's `/metrics` answers.
    pub(super) fn scrape(self: &Arc<Exposition>) -> Scrape {
        let exposition = Arc::clone(self);
        Scrape::new(move || exposition.render())
    }
}

/// The `/metrics` listener, serving until dropped or [`Listener::stop`]ped.
pub(super) struct Listener {
    stop: oneshot::Sender<()>,
    served: JoinHandle<()>,
}

impl Listener {
    /// Stops listening, letting a scrape in flight finish.
    pub(super) async fn stop(self) {
        drop(self.stop);
        let _ = self.served.await;
    }
}

/// Serves `exposition` as `/metrics` on `addr`, without a key, each connection under `limits`.
pub(super) async fn listen(
    addr: SocketAddr,
    limits: icash_http::ConnectionLimits,
    exposition: &Arc<Exposition>,
) -> Result<Listener, StartError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| StartError::Listen { addr, error })?;
    let bound = listener.local_addr().map_err(StartError::LocalAddr)?;
    tracing::info!(addr = %bound, "serving metrics on http://{bound}/metrics");
    let (stop, stopped) = oneshot::channel::<()>();
    let metrics_filter = icash_http::metrics::exposition_filter(exposition.scrape());
    // The API's limits serve here too: a scraper is a client like any other.
    let served = tokio::spawn(async move {
        icash_http::serve(
            listener,
            metrics_filter,
            async {
                let _ = stopped.await;
            },
            &limits,
        )
        .await;
    });
    Ok(Listener { stop, served })
}

/// The process's Prometheus recorder, installed as the global `metrics` recorder the first
/// time it is asked for: a host that runs the server twice reuses it.
fn recorder() -> Result<PrometheusHandle, StartError> {
    static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    RECORDER
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(REQUEST_DURATION.to_owned()),
                    &LATENCY_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|error| error.to_string())
        })
        .clone()
        .map_err(StartError::Metrics)
}
