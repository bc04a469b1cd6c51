//! `GET /livez` and `GET /readyz`: the probes an orchestrator or a load balancer polls.
//!
//! Liveness never touches the store, so a slow or absent database never gets a healthy process
//! restarted; readiness asks the store, so traffic goes only where every endpoint can answer.

use std::time::Duration;

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{get, with_store};
use crate::SharedStore;
use crate::context::{context, json, respond};
use crate::dto::{Live, NodeBody, Ready};
use crate::error::ApiError;
use crate::startup::Startup;

/// Whether the process is up.
#[utoipa::path(get, path = "/livez", tag = "gateway",
    description = "Public (answers without credentials). 200 as long as the process serves \
                   requests; never asks the database.",
    responses((status = 200, description = "The process is up", body = Live)))]
pub(crate) async fn livez() -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &Live { status: "alive" }))
}

/// Whether the server can serve every endpoint now.
#[utoipa::path(get, path = "/readyz", tag = "gateway",
    description = "Public (answers without credentials). 200 when the database answers, has \
                   every migration of this server, and the start-up load has finished; 503 \
                   otherwise, with `error` naming each condition that fails. With standbys or \
                   several database hosts, `nodes` lists each server's role and lag.",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready; `error` says why", body = Ready),
    ))]
pub(crate) async fn readyz(
    store: SharedStore,
    startup: Startup,
    timeout: Duration,
) -> Result<Response, ApiError> {
    let finished = startup.is_finished();
    let missing = match tokio::time::timeout(timeout, store.missing_migrations()).await {
        Ok(Ok(missing)) => Some(missing),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the store does not answer");
            None
        }
        Err(_) => {
            tracing::warn!(?timeout, "readiness: the store did not answer in time");
            None
        }
    };
    let mut failing = Vec::new();
    match missing {
        None => failing.push("the database does not answer".to_owned()),
        Some(0) => {}
        Some(missing) => failing.push(format!(
            "the database lacks {missing} of the server's migrations"
        )),
    }
    if !finished {
        failing.push("the server is still loading its data files".to_owned());
    }
    let ready = Ready {
        status: if failing.is_empty() {
            "ready"
        } else {
            "not ready"
        },
        database: if missing.is_some() { "up" } else { "down" },
        migrations: match missing {
            None => "unknown",
            Some(0) => "applied",
            Some(_) => "missing",
        },
        startup: if finished { "finished" } else { "loading" },
        nodes: match store.nodes().await {
            Ok(nodes) if nodes.len() > 1 => Some(nodes.iter().map(NodeBody::from).collect()),
            _ => None,
        },
        error: (!failing.is_empty()).then(|| format!("not ready: {}", failing.join("; "))),
    };
    let status = if ready.error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(json(status, &ready))
}

/// The probes' filters.
pub(crate) fn filters(
    store: SharedStore,
    startup: Startup,
    timeout: Duration,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let livez = warp::path!("livez")
        .and(get())
        .and(context())
        .and_then(|ctx| respond(ctx, livez()));
    let readyz = warp::path!("readyz")
        .and(get())
        .and(context())
        .and(with_store(store))
        .and_then(move |ctx, store| respond(ctx, readyz(store, startup.clone(), timeout)));
    livez.or(readyz).unify()
}
