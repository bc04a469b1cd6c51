//! Serving the API over HTTP/1.1 under [`ConnectionLimits`], with a shutdown that loses no
//! request in flight.
//!
//! warp's own graceful shutdown closes the listener at once (resetting the connections the
//! kernel has queued) and asks every connection to close, which cancels a connection whose
//! request was sent but not read yet. Here, once the shutdown signal comes:
//! 1. the connections already queued are accepted and served: their clients sent them before;
//! 2. every connection goes on being served for a short drain period, so that requests already
//!    sent are read and answered;
//! 3. then each connection closes once its request in progress, if any, is answered;
//! 4. connections still open after the shutdown timeout are dropped.
//!
//! Before the API sees a request, the server refuses an HTTP/1.1 request without a `Host`
//! header with the JSON error body (warp's filters cannot see the HTTP version). A request
//! head that hyper cannot parse at all is answered by hyper itself, with an empty body:
//! RELIABILITY.md lists those cases.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::Either;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::connection::{ConnectionLimits, HeadTimer, LastRead, TimedIo};

/// Serves `api` on `listener` until `shutdown` resolves, then stops as described in the module
/// documentation, each connection under `limits`.
pub async fn serve(
    listener: TcpListener,
    api: BoxedFilter<(Response,)>,
    shutdown: impl Future<Output = ()>,
    limits: &ConnectionLimits,
) {
    let connections = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    // A connection holds a permit until it closes: at the cap, the loop stops accepting and the
    // kernel queues new connections.
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Finished connections' tasks, so that the set holds only open ones.
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = accept(&listener, &slots) => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            (Ok((stream, _)), slot) => {
                spawn_connection(stream, slot, &api, limits, &connections, &mut tasks)
            }
            // Out of file descriptors, or a connection reset before it was accepted: the
            // listener itself is fine, so keep accepting after a breath.
            (Err(error), _) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // tokio only tries `accept` when it knows the socket is readable, so it can miss what the
    // kernel queued a moment ago: ask the kernel itself until it has nothing left, then close.
    // They are served beyond the cap: their clients sent them before the signal.
    let mut queued = 0;
    if let Ok(listener) = listener.into_std() {
        let _ = listener.set_nonblocking(true);
        while let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(true);
            if let Ok(stream) = TcpStream::from_std(stream) {
                spawn_connection(stream, None, &api, limits, &connections, &mut tasks);
                queued += 1;
            }
        }
    }
    tracing::info!(
        queued,
        drain = ?limits.drain,
        "stopped accepting connections; serving those already made"
    );
    let finished = tokio::time::timeout(limits.shutdown_timeout, async {
        tokio::time::sleep(limits.drain).await;
        connections.shutdown().await;
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            dropped = tasks.len(),
            timeout = ?limits.shutdown_timeout,
            "dropped the connections still open at the shutdown timeout"
        );
    }
    tasks.shutdown().await;
}

/// The next connection, once a slot is free.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (
    std::io::Result<(TcpStream, std::net::SocketAddr)>,
    Option<OwnedSemaphorePermit>,
) {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    (listener.accept().await, Some(slot))
}

fn spawn_connection(
    stream: TcpStream,
    slot: Option<OwnedSemaphorePermit>,
    api: &BoxedFilter<(Response,)>,
    limits: &ConnectionLimits,
    connections: &GracefulShutdown,
    tasks: &mut JoinSet<()>,
) {
    let api = TowerToHyperService::new(warp::service(api.clone()));
    // Each request carries its client's address, which the audit trail records.
    let peer = stream.peer_addr().ok();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        if let Some(peer) = peer {
            request
                .extensions_mut()
                .insert(crate::auth::ClientAddr(peer));
        }
        match crate::request_head::host_refusal(&request) {
            Some(refusal) => Either::Left(std::future::ready(Ok(refusal))),
            None => Either::Right(api.call(request)),
        }
    });
    let last_read = LastRead::new();
    let io = TimedIo::new(stream, Arc::clone(&last_read), limits.write_timeout);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(HeadTimer {
            last_read,
            head: limits.head_timeout,
            idle: limits.keep_alive,
        })
        .header_read_timeout(limits.head_timeout)
        .serve_connection(TokioIo::new(io), service);
    let connection = connections.watch(connection);
    tasks.spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "connection ended with an error");
        }
        drop(slot);
    });
}
