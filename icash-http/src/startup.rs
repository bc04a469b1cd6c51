//! The host's start-up as the API sees it: whether the work the host does before serving
//! everything (loading its data files) has finished.
//!
//! Until it has, `GET /readyz` answers 503 and the endpoints that read or write the store
//! answer 503 too, while `/`, `/health`, `/livez`, `/readyz` and `/openapi.json` answer as
//! usual: a load balancer sends no traffic yet, and an orchestrator sees the process alive.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use warp::{Filter, Rejection};

/// A shared handle on whether the host's start-up has finished. Clones share the state: the
/// host keeps one, hands another to [`ApiConfig`](crate::ApiConfig), and calls
/// [`Startup::finish`] once its load is done. The default has nothing to wait for.
#[derive(Clone, Debug)]
pub struct Startup(Arc<AtomicBool>);

impl Startup {
    /// A start-up still under way: the API is not ready until [`Startup::finish`].
    pub fn pending() -> Startup {
        Startup(Arc::new(AtomicBool::new(false)))
    }

    /// A start-up with nothing to wait for: the API is ready as soon as its store answers.
    pub fn finished() -> Startup {
        Startup(Arc::new(AtomicBool::new(true)))
    }

    /// Marks the start-up as finished, for every clone.
    pub fn finish(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the start-up has finished.
    pub fn is_finished(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl Default for Startup {
    fn default() -> Startup {
        Startup::finished()
    }
}

/// The rejection of a request that needs the store while the start-up is under way.
#[derive(Debug)]
pub(crate) struct StartingUp;

impl warp::reject::Reject for StartingUp {}

/// Lets requests through once the start-up has finished; rejects them with [`StartingUp`]
/// before.
pub(crate) fn admit(startup: Startup) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::any()
        .and_then(move || {
            let finished = startup.is_finished();
            async move {
                if finished {
                    Ok(())
                } else {
                    Err(warp::reject::custom(StartingUp))
                }
            }
        })
        .untuple_one()
}
