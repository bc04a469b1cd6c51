//! The chain's branches: listed for anyone who may read the catalog, and changed (name, time
//! zone, start of the business day) by admin keys, each change in the audit trail.

use std::net::SocketAddr;

use bytes::Buf;
use futures::Stream;
use icash_core::{Action, Branch, BranchId, DayStart, TimeZone};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{get, with_store};
use crate::SharedStore;
use crate::auth::{Auth, Credentials, credentials};
use crate::body::{RawBody, raw_body};
use crate::context::{context, json, respond};
use crate::dto::{BranchRequest, BranchSettingsBody, ErrorBody};
use crate::error::ApiError;
use crate::query::number;

/// Every branch, in id order, with the zone and start of its business day.
#[utoipa::path(get, path = "/branches", tag = "branches",
    responses((status = 200, description = "Every branch", body = [BranchSettingsBody])))]
pub(crate) async fn branches(
    store: SharedStore,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    credentials.allow(Action::ReadCatalog).await?;
    let branches = store.branches().await?;
    Ok(json(
        StatusCode::OK,
        &branches
            .iter()
            .map(BranchSettingsBody::from)
            .collect::<Vec<_>>(),
    ))
}

/// Sets a branch's name, time zone and start of its business day. Purchases keep their
/// instants; business dates asked from now on are reckoned with the new settings. Admin keys
/// only; each change is in the audit trail.
#[utoipa::path(put, path = "/branches/{id}", tag = "branches",
    params(("id" = i32, Path, description = "The branch's id", minimum = 1, maximum = 2147483647)),
    request_body(content = BranchRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The branch, as it is now", body = BranchSettingsBody),
        (status = 404, description = "The chain has no branch with this id", body = ErrorBody),
    ))]
pub(crate) async fn put_branch<S, B>(
    store: SharedStore,
    credentials: Credentials,
    client: Option<SocketAddr>,
    id: String,
    body: RawBody<S>,
    body_limit: u64,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let caller = credentials.allow(Action::ManageBranches).await?;
    let id = BranchId::new(number("id", &id, 1..=i32::MAX)?)?;
    let request: BranchRequest = body.json(body_limit).await?;
    let branch = Branch::with_settings(
        id,
        &request.name,
        request.time_zone.parse::<TimeZone>()?,
        request.day_starts_at.parse::<DayStart>()?,
    )?;
    let branch = store.update_branch(&branch, &caller.origin(client)).await?;
    tracing::info!(branch = %branch.id(), time_zone = %branch.time_zone(), "changed a branch");
    Ok(json(StatusCode::OK, &BranchSettingsBody::from(&branch)))
}

/// The branches' filters.
pub(crate) fn filters(
    store: SharedStore,
    body_limit: u64,
    auth: Auth,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let list = warp::path!("branches")
        .and(get())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and_then(|ctx, store, credentials| respond(ctx, branches(store, credentials)));
    let put = warp::path!("branches" / String)
        .and(warp::put())
        .and(context())
        .and(with_store(store))
        .and(credentials(auth))
        .and(crate::auth::client())
        .and(raw_body())
        .and_then(move |id, ctx, store, credentials, client, body| {
            respond(
                ctx,
                put_branch(store, credentials, client, id, body, body_limit),
            )
        });
    list.or(put).unify()
}
