//! The administration endpoints, for admin keys only: API keys created, listed and revoked,
//! and the audit trail read a page at a time.

use std::net::SocketAddr;

use bytes::Buf;
use futures::Stream;
use icash_core::audit::AuditQuery;
use icash_core::{Action, AuditId, BranchId, KeyName, NewKey, Origin};
use serde::Deserialize;
use utoipa::IntoParams;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{get, raw_query, with_store};
use crate::SharedStore;
use crate::auth::{Auth, Credentials, credentials};
use crate::body::{RawBody, raw_body};
use crate::context::{context, json, respond};
use crate::dto::{
    AuditEntryBody, AuditPageBody, CreatedKeyBody, ErrorBody, KeyBody, NewKeyRequest,
};
use crate::error::ApiError;
use crate::query::{number, parse};

/// Creates an API key; the answer shows its secret, once. Admin keys only.
#[utoipa::path(post, path = "/admin/keys", tag = "admin",
    request_body(content = NewKeyRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created: `api_key` is the secret, shown only in this answer", body = CreatedKeyBody),
        (status = 409, description = "A key (revoked ones included) has this name", body = ErrorBody),
    ))]
pub(crate) async fn create_key<S, B>(
    store: SharedStore,
    credentials: Credentials,
    client: Option<SocketAddr>,
    body: RawBody<S>,
    body_limit: u64,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let actor = credentials.administrator(Action::ManageKeys).await?;
    let request: NewKeyRequest = body.json(body_limit).await?;
    let branch = request.supermarket_id.map(BranchId::new).transpose()?;
    let key = NewKey::new(KeyName::new(&request.name)?, request.role.into(), branch)?;
    let origin = Origin::actor(actor, client.map(|addr| addr.ip()));
    let (info, secret) = store.create_key(&key, &origin).await?;
    tracing::info!(key = %info.name, "created an API key");
    Ok(json(
        StatusCode::CREATED,
        &CreatedKeyBody {
            api_key: secret.expose().to_owned(),
            key: KeyBody::from(&info),
        },
    ))
}

/// Every API key, revoked ones included, in creation order; never a secret. Admin keys only.
#[utoipa::path(get, path = "/admin/keys", tag = "admin",
    responses((status = 200, description = "The keys", body = [KeyBody])))]
pub(crate) async fn keys(
    store: SharedStore,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    credentials.administrator(Action::ManageKeys).await?;
    let keys = store.keys().await?;
    Ok(json(
        StatusCode::OK,
        &keys.iter().map(KeyBody::from).collect::<Vec<_>>(),
    ))
}

/// Revokes an API key: servers refuse it within seconds. Revoking a revoked key changes
/// nothing; a key may not revoke itself. Admin keys only.
#[utoipa::path(delete, path = "/admin/keys/{name}", tag = "admin",
    params(("name" = String, Path, description = "The key's name", pattern = r"^[A-Za-z0-9._-]{1,64}$")),
    responses(
        (status = 200, description = "The key, revoked", body = KeyBody),
        (status = 404, description = "No key has this name", body = ErrorBody),
        (status = 409, description = "The key is the one making the request", body = ErrorBody),
    ))]
pub(crate) async fn revoke_key(
    store: SharedStore,
    credentials: Credentials,
    client: Option<SocketAddr>,
    name: String,
) -> Result<Response, ApiError> {
    let actor = credentials.administrator(Action::ManageKeys).await?;
    let name = KeyName::new(&name)?;
    if *actor.name() == name {
        // An administrator who revokes their own key locks themselves out.
        return Err(ApiError::Domain(icash_core::Error::Conflict(
            "a key may not revoke itself; revoke it with another admin key".to_owned(),
        )));
    }
    let origin = Origin::actor(actor, client.map(|addr| addr.ip()));
    let info = store.revoke_key(&name, &origin).await?;
    tracing::info!(key = %info.name, "revoked an API key");
    Ok(json(StatusCode::OK, &KeyBody::from(&info)))
}

/// Which page of the audit trail to read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// At most this many entries (1 to 1000; 50 unless given).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The entries older than this one: the previous page's `next_after`.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 9223372036854775807_i64)]
    after: Option<String>,
}

impl AuditParams {
    fn query(&self) -> Result<AuditQuery, ApiError> {
        let limit = self
            .limit
            .as_deref()
            .map(|value| number("limit", value, 1..=icash_core::audit::MAX_PAGE))
            .transpose()?
            .unwrap_or(icash_core::audit::DEFAULT_PAGE);
        let after = self
            .after
            .as_deref()
            .map(|value| number("after", value, 1..=i64::MAX).map(AuditId::new))
            .transpose()?
            .transpose()?;
        Ok(AuditQuery::new(limit, after)?)
    }
}

/// The audit trail, newest first, a page at a time: every change that is not a sale, with who
/// made it, when, and from which address. Admin keys only.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", params(AuditParams),
    responses((status = 200, description = "A page; `next_after` gives the next one", body = AuditPageBody,
        links(("next_page" = (operation_id = "audit",
            parameters(("after" = "$response.body#/next_after")),
            description = "The next page, when `next_after` is present"))))))]
pub(crate) async fn audit(
    store: SharedStore,
    credentials: Credentials,
    query: String,
) -> Result<Response, ApiError> {
    credentials.administrator(Action::ReadAudit).await?;
    let query = parse::<AuditParams>(&query)?.query()?;
    let entries = store.audit_entries(&query).await?;
    let next_after = match entries.last() {
        Some(last) if entries.len() == query.limit as usize => Some(last.id.get()),
        _ => None,
    };
    Ok(json(
        StatusCode::OK,
        &AuditPageBody {
            entries: entries.iter().map(AuditEntryBody::from).collect(),
            next_after,
        },
    ))
}

/// The administration filters.
pub(crate) fn filters(
    store: SharedStore,
    body_limit: u64,
    auth: Auth,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let create = warp::path!("admin" / "keys")
        .and(warp::post())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and(crate::auth::client())
        .and(raw_body())
        .and_then(move |ctx, store, credentials, client, body| {
            respond(
                ctx,
                create_key(store, credentials, client, body, body_limit),
            )
        });
    let list = warp::path!("admin" / "keys")
        .and(get())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and_then(|ctx, store, credentials| respond(ctx, keys(store, credentials)));
    let revoke = warp::path!("admin" / "keys" / String)
        .and(warp::delete())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and(crate::auth::client())
        .and_then(|name, ctx, store, credentials, client| {
            respond(ctx, revoke_key(store, credentials, client, name))
        });
    let audit = warp::path!("admin" / "audit")
        .and(get())
        .and(context())
        .and(raw_query())
        .and(with_store(store))
        .and(credentials(auth))
        .and_then(|ctx, query, store, credentials| respond(ctx, audit(store, credentials, query)));
    create.or(list).unify().or(revoke).unify().or(audit).unify()
}
