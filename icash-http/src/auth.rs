//! Who is asking: the [`Authenticator`] a host plugs into [`ApiConfig`](crate::ApiConfig), the
//! default one ([`StoreKeys`]) that looks bearer keys up in the store through a short-lived
//! cache, and the caller each handler asks before it acts.
//!
//! With [`AuthMode::Required`], a request to any endpoint but the public ones
//! ([`PUBLIC_PATHS`]) needs credentials that authenticate an actor (else 401), and the actor
//! must be allowed the endpoint's operation (else 403, see [`icash_core::access`]). With
//! [`AuthMode::Off`], every request is allowed and nothing names an actor: the contract of the
//! clients that have no credentials.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use icash_core::{Action, Actor, Error, KeyHash, KeyName, Origin};
use warp::Filter;
use warp::http::HeaderMap;
use warp::http::header::AUTHORIZATION;

use crate::SharedStore;
use crate::error::ApiError;
use crate::limits::Limiters;

/// The paths that answer without credentials, so that load balancers, monitors and API tools
/// keep working.
pub const PUBLIC_PATHS: [&str; 5] = ["/", "/health", "/livez", "/readyz", "/openapi.json"];

/// How long [`StoreKeys`] trusts what it read of a key: a revoked key is refused within this
/// time on every server sharing the store.
pub const DEFAULT_KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Whether requests must authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Every endpoint but the public ones needs credentials, and allows what the actor's role
    /// may do.
    Required,
    /// Nothing is asked, everything is allowed, and nothing names an actor: the contract of
    /// the clients that have no credentials.
    Off,
}

/// Finds who a request's credentials name. A host implements it with its own identity system;
/// [`StoreKeys`] is the default.
#[async_trait]
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// The actor the request's headers authenticate; `None` when they carry no credentials, or
    /// credentials that name no one (the client gets 401). An error is the identity system's
    /// failure (a store that does not answer gets 503).
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Actor>, Error>;
}

/// The secret of an `Authorization: Bearer <secret>` header (the scheme's name in any case).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The most lookups [`StoreKeys`] keeps: far more keys than a chain has tills, so that only a
/// client trying secrets at random fills it.
const MAX_CACHED: usize = 10_000;

/// Bearer keys looked up by their hash in the store's [`Keys`](icash_core::Keys) port, each
/// answer (an actor, or no one) kept for a time to live.
///
/// A key check is then a map lookup for every request but one per key and period, so the
/// purchase path keeps its speed; the time to live bounds how long a revoked key is still
/// accepted. A mutex-guarded map with an expiry per entry is all this needs: a chain has a few
/// hundred keys, each looked up once per period.
pub struct StoreKeys {
    store: SharedStore,
    ttl: Duration,
    cache: Mutex<HashMap<KeyHash, (Instant, Option<Actor>)>>,
}

impl StoreKeys {
    /// Looks keys up in `store`, trusting each answer for `ttl`.
    pub fn new(store: SharedStore, ttl: Duration) -> StoreKeys {
        StoreKeys {
            store,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, hash: &KeyHash, now: Instant) -> Option<Option<Actor>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(hash)
            .filter(|(read, _)| now.duration_since(*read) < self.ttl)
            .map(|(_, actor)| actor.clone())
    }

    fn remember(&self, hash: KeyHash, actor: Option<Actor>, now: Instant) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (read, _)| now.duration_since(*read) < self.ttl);
        }
        if cache.len() < MAX_CACHED {
            cache.insert(hash, (now, actor));
        }
    }
}

impl fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Authenticator for StoreKeys {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Actor>, Error> {
        let Some(token) = bearer_token(headers) else {
            return Ok(None);
        };
        let hash = KeyHash::of(token);
        let now = Instant::now();
        if let Some(actor) = self.cached(&hash, now) {
            return Ok(actor);
        }
        let actor = self.store.authenticate(&hash).await?;
        self.remember(hash, actor.clone(), now);
        Ok(actor)
    }
}

/// The API's authentication: its mode and its authenticator.
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    mode: AuthMode,
    authenticator: Arc<dyn Authenticator>,
    limits: Arc<Limiters>,
}

impl Auth {
    /// The authentication `config` asks for, with [`StoreKeys`] over `store` unless the config
    /// gives its own authenticator.
    pub(crate) fn new(config: &crate::ApiConfig, store: SharedStore) -> Auth {
        let authenticator = config.authenticator.clone().unwrap_or_else(|| {
            Arc::new(StoreKeys::new(store, DEFAULT_KEY_CACHE_TTL)) as Arc<dyn Authenticator>
        });
        Auth {
            mode: config.auth,
            authenticator,
            limits: Arc::new(Limiters::new(config.rate_limits)),
        }
    }
}

/// A request's credentials, checked by the handler (so that a refusal is answered in the
/// request's context, with its request id and log line).
#[derive(Debug)]
pub(crate) struct Credentials {
    auth: Auth,
    headers: HeaderMap,
    client: Option<SocketAddr>,
}

/// Extracts the request's credentials.
pub(crate) fn credentials(
    auth: Auth,
) -> impl Filter<Extract = (Credentials,), Error = Infallible> + Clone {
    warp::header::headers_cloned()
        .and(client())
        .map(move |headers, client| Credentials {
            auth: auth.clone(),
            headers,
            client,
        })
}

impl Credentials {
    /// Whether the request carries no credentials where the server asks for them: it names no
    /// one, and only an endpoint that answers anyone serves it.
    pub(crate) fn anonymous(&self) -> bool {
        self.auth.mode == AuthMode::Required && !self.headers.contains_key(AUTHORIZATION)
    }

    /// Who is asking: 401 when authentication is required and the credentials name no one.
    pub(crate) async fn caller(self) -> Result<Caller, ApiError> {
        match self.auth.mode {
            AuthMode::Off => Ok(Caller(None)),
            AuthMode::Required => {
                let limits = &self.auth.limits;
                let client = self.client.map(|addr| addr.ip());
                let presented = self.headers.contains_key(AUTHORIZATION);
                if presented {
                    limits.check_address(client)?;
                }
                match self.auth.authenticator.authenticate(&self.headers).await? {
                    Some(actor) => {
                        limits.request(actor.key())?;
                        Ok(Caller(Some(actor)))
                    }
                    None if presented => {
                        limits.failed(client)?;
                        Err(ApiError::Unauthorized { presented: true })
                    }
                    None => Err(ApiError::Unauthorized { presented: false }),
                }
            }
        }
    }

    /// The administrator asking for `action`: 401 or 403 as for [`Credentials::allow`], and
    /// 403 when authentication is off, as keys made on an open server would be keys no one
    /// vouched for.
    pub(crate) async fn administrator(self, action: Action) -> Result<Actor, ApiError> {
        match self.caller().await?.0 {
            Some(actor) => {
                actor.may(&action).map_err(Error::from)?;
                Ok(actor)
            }
            None => Err(ApiError::KeysOff),
        }
    }

    /// Who is asking and from where, once allowed `action` (401 or 403 otherwise), as the audit
    /// trail records a change: without authentication, no one, from the client's address.
    pub(crate) async fn origin(self, action: Action) -> Result<Origin, ApiError> {
        let client = self.client.map(|addr| addr.ip());
        let caller = self.allow(action).await?;
        Ok(Origin {
            actor: caller.0,
            client,
        })
    }

    /// Who is asking, once allowed `action` (401 or 403 otherwise).
    pub(crate) async fn allow(self, action: Action) -> Result<Caller, ApiError> {
        let caller = self.caller().await?;
        caller.may(action)?;
        Ok(caller)
    }
}

/// The client's address, as [`serve`](crate::serve) puts it in each request's extensions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub(crate) SocketAddr);

/// The client's address: the one [`serve`](crate::serve) records, or warp's own server's.
pub(crate) fn client() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Clone {
    warp::ext::optional::<ClientAddr>()
        .and(warp::addr::remote())
        .map(|served: Option<ClientAddr>, remote: Option<SocketAddr>| {
            served.map(|ClientAddr(addr)| addr).or(remote)
        })
}

/// Who is asking: an actor, or no one when authentication is off.
#[derive(Clone, Debug)]
pub(crate) struct Caller(Option<Actor>);

impl Caller {
    /// Allows `action`, or refuses it with the sentence that names what the role may not do;
    /// without authentication everything is allowed.
    pub(crate) fn may(&self, action: Action) -> Result<(), ApiError> {
        match &self.0 {
            Some(actor) => Ok(actor.may(&action).map_err(Error::from)?),
            None => Ok(()),
        }
    }

    /// The acting key's actor; `None` when authentication is off.
    pub(crate) fn actor(&self) -> Option<&Actor> {
        self.0.as_ref()
    }

    /// The name of the acting key, which what it records carries.
    pub(crate) fn key_name(&self) -> Option<KeyName> {
        self.0.as_ref().map(|actor| actor.name().clone())
    }

    /// The origin of a change the caller makes from `client`: no actor when authentication is
    /// off.
    pub(crate) fn origin(&self, client: Option<std::net::SocketAddr>) -> icash_core::Origin {
        icash_core::Origin {
            actor: self.0.clone(),
            client: client.map(|addr| addr.ip()),
        }
    }
}

#[cfg(test)]
mod tests {
    use warp::http::HeaderValue;

    use super::*;

    #[test]
    fn a_bearer_token_is_read_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("Bearer", None),
        ] {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_token(&headers), expected, "{value:?}");
        }
    }
}
