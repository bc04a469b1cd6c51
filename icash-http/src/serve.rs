//! Serving the API over HTTP/1.1 with a shutdown that loses no request in flight.
//!
//! warp's own graceful shutdown closes the listener at once (resetting the connections the
//! kernel has queued) and asks every connection to close, which cancels a connection whose
//! request was sent but not read yet. Here, once the shutdown signal comes:
//! 1. the connections already queued are accepted and served: their clients sent them before;
//! 2. every connection goes on being served for a short drain period, so that requests already
//!    sent are read and answered;
//! 3. then each connection closes once its request in progress, if any, is answered.

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use warp::filters::BoxedFilter;
use warp::reply::Response;

/// How long connections keep being served after the shutdown signal by default.
pub const DEFAULT_DRAIN: Duration = Duration::from_millis(500);

/// Serves `api` on `listener` until `shutdown` resolves, then stops as described in the module
/// documentation, waiting `drain` before asking connections to close.
pub async fn serve(
    listener: TcpListener,
    api: BoxedFilter<(Response,)>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => spawn_connection(stream, &api, &connections),
                // Out of file descriptors, or a connection reset before it was accepted: the
                // listener itself is fine, so keep accepting after a breath.
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    // tokio only tries `accept` when it knows the socket is readable, so it can miss what the
    // kernel queued a moment ago: ask the kernel itself until it has nothing left, then close.
    let mut queued = 0;
    if let Ok(listener) = listener.into_std() {
        let _ = listener.set_nonblocking(true);
        while let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(true);
            if let Ok(stream) = TcpStream::from_std(stream) {
                spawn_connection(stream, &api, &connections);
                queued += 1;
            }
        }
    }
    tracing::info!(
        queued,
        ?drain,
        "stopped accepting connections; serving those already made"
    );
    tokio::time::sleep(drain).await;
    connections.shutdown().await;
}

fn spawn_connection(
    stream: TcpStream,
    api: &BoxedFilter<(Response,)>,
    connections: &GracefulShutdown,
) {
    let service = TowerToHyperService::new(warp::service(api.clone()));
    // Each request carries its client's address, which the audit trail records.
    let peer = stream.peer_addr().ok();
    let service = hyper::service::service_fn(move |mut request| {
        if let Some(peer) = peer {
            request
                .extensions_mut()
                .insert(crate::auth::ClientAddr(peer));
        }
        hyper::service::Service::call(&service, request)
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let connection = connections.watch(connection);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "connection ended with an error");
        }
    });
}
