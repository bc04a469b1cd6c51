//! How the API behaves where the contract leaves a choice: body limit, CORS, health timeout,
//! the host's start-up it waits for, authentication, and the metrics it serves.

use std::sync::Arc;
use std::time::Duration;

use icash_core::OfflineWindow;

use crate::auth::{AuthMode, Authenticator};
use crate::limits::RateLimits;
use crate::metrics::Scrape;
use crate::startup::Startup;

/// The default largest request body: 64 KiB, far above any real purchase.
pub const DEFAULT_BODY_LIMIT: u64 = 64 * 1024;

/// The default largest body of a batch of purchases (`POST /cash-register/purchases/batch`):
/// 4 MiB, room for a full batch of purchases of a dozen items each.
pub const DEFAULT_BATCH_BODY_LIMIT: u64 = 4 * 1024 * 1024;

/// Settings of the API filter.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The largest request body accepted, in bytes; a larger one gets 413.
    pub body_limit: u64,
    /// The largest body of a batch of purchases, in bytes; a larger one gets 413.
    pub batch_body_limit: u64,
    /// How old a sale a till hands in may be (`ICASH_OFFLINE_WINDOW_DAYS`).
    pub offline_window: OfflineWindow,
    /// Which browser origins may call the API.
    pub cors: Cors,
    /// How long `GET /health` and `GET /readyz` wait for the store before they answer 503.
    pub health_timeout: Duration,
    /// The host's start-up: `GET /readyz` answers 503, and the endpoints that use the store
    /// answer 503, until it has finished. The default has nothing to wait for.
    pub startup: Startup,
    /// Whether requests must authenticate.
    pub auth: AuthMode,
    /// Who authenticates requests when [`AuthMode::Required`]: `None` for the store's API keys
    /// ([`StoreKeys`](crate::StoreKeys)), or the host's own identity system.
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// The rate limits of keys and of failed authentications (none by default).
    pub rate_limits: RateLimits,
    /// What `GET /metrics` answers, to admin keys; `None` (the default): the API has no
    /// `/metrics`.
    pub metrics: Option<Scrape>,
}

impl Default for ApiConfig {
    /// The old contract: [`AuthMode::Off`], so that a host embedding the filters chooses to
    /// require keys (the icash server does, unless `ICASH_AUTH=off`).
    fn default() -> ApiConfig {
        ApiConfig {
            body_limit: DEFAULT_BODY_LIMIT,
            batch_body_limit: DEFAULT_BATCH_BODY_LIMIT,
            offline_window: OfflineWindow::default(),
            cors: Cors::AnyOrigin,
            health_timeout: Duration::from_secs(2),
            startup: Startup::default(),
            auth: AuthMode::Off,
            authenticator: None,
            rate_limits: RateLimits::default(),
            metrics: None,
        }
    }
}

impl ApiConfig {
    /// The default settings with API keys required.
    pub fn required() -> ApiConfig {
        ApiConfig {
            auth: AuthMode::Required,
            ..ApiConfig::default()
        }
    }
}

/// The origins CORS allows. Tills and dashboards are pages opened from other origins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cors {
    /// Any origin (the default, as the old system did).
    AnyOrigin,
    /// Only these origins, such as `https://dashboard.example.com`.
    Origins(Vec<String>),
}
