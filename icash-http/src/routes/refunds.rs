//! A sale's life after it was made: refunds and voids, for managers of the purchase's branch
//! and admins (anyone with authentication off).

use std::net::SocketAddr;

use bytes::Buf;
use futures::Stream;
use icash_core::{Action, NewRefund, NewVoid, PurchaseId, VoidReason};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::cash_register::{
    IDEMPOTENT_REPLAYED, idempotency_key, item_products, parse_idempotency_key, purchase_id,
};
use super::with_store;
use crate::SharedStore;
use crate::auth::{Auth, Credentials, credentials};
use crate::body::{RawBody, raw_body};
use crate::context::{context, json, respond};
use crate::dto::{ErrorBody, ReceiptBody, RefundBody, RefundRequest, VoidRequest};
use crate::error::ApiError;

/// Refunds some of a purchase's lines (every line not yet refunded without `items`), at the
/// prices they were sold at.
///
/// With an `Idempotency-Key`, a retry of the same request answers as the first did (marked by
/// `idempotent-replayed: true`) and refunds nothing more; the same key with another request
/// is a 409.
#[utoipa::path(post, path = "/cash-register/purchases/{id}/refunds", tag = "cash-register",
    operation_id = "refund",
    params(("id" = i64, Path, description = "The purchase id", minimum = 1, maximum = 9223372036854775807_i64),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]{1,255}$",
        description = "Makes the request safe to retry: 1 to 255 visible ASCII characters, such as a UUID; kept 24 hours")),
    request_body(content = RefundRequest, content_type = "application/json",
        description = "The products to refund, as JSON of at most 64 KiB unless the server is configured otherwise (a larger body gets 413)"),
    responses(
        (status = 201, description = "Refunded, or replayed for a repeated Idempotency-Key", body = RefundBody,
            links(("receipt" = (operation_id = "receipt", parameters(("id" = "$response.body#/purchase_id")),
                description = "The purchase's receipt, with its refunds")))),
        (status = 404, description = "No such purchase", body = ErrorBody),
        (status = 409, description = "A product is not on the purchase or was already refunded, nothing is left to refund, the purchase is voided, or the Idempotency-Key was used for another refund", body = ErrorBody),
    ))]
pub(crate) async fn refund<S, B>(
    store: SharedStore,
    credentials: Credentials,
    client: Option<SocketAddr>,
    id: String,
    key: Option<HeaderValue>,
    body: RawBody<S>,
    body_limit: u64,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let caller = credentials.caller().await?;
    let id = purchase_id(&id)?;
    let key = parse_idempotency_key(key)?;
    let request: RefundRequest = body.json(body_limit).await?;
    let products = request.items.as_deref().map(item_products).transpose()?;
    let refund = NewRefund::new(id, products, chrono::Utc::now())?;
    let purchase = store.purchase(id).await?;
    caller.may(Action::RefundPurchase(purchase.details().branch()))?;
    let refunded = store
        .refund(&refund, key.as_ref(), &caller.origin(client))
        .await?;
    tracing::Span::current().record("purchase_id", id.get());
    let mut response = json(StatusCode::CREATED, &RefundBody::from(refunded.refund()));
    if refunded.is_replay() {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    } else {
        tracing::info!(refund = refunded.refund().id().get(), "refunded a purchase");
    }
    Ok(response)
}

/// Voids a purchase recorded by mistake: it stays on record, with who voided it, when and why,
/// and counts in no analytic. Only while it has no refund; voiding it again is a 409.
#[utoipa::path(post, path = "/cash-register/purchases/{id}/void", tag = "cash-register",
    operation_id = "void",
    params(("id" = i64, Path, description = "The purchase id", minimum = 1, maximum = 9223372036854775807_i64)),
    request_body(content = VoidRequest, content_type = "application/json",
        description = "Why, as JSON of at most 64 KiB unless the server is configured otherwise (a larger body gets 413)"),
    responses(
        (status = 200, description = "Voided: the receipt as it is now", body = ReceiptBody),
        (status = 404, description = "No such purchase", body = ErrorBody),
        (status = 409, description = "The purchase has a refund, or was already voided", body = ErrorBody),
    ))]
pub(crate) async fn void<S, B>(
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
    let caller = credentials.caller().await?;
    let id: PurchaseId = purchase_id(&id)?;
    let request: VoidRequest = body.json(body_limit).await?;
    let void = NewVoid::new(id, VoidReason::new(&request.reason)?, chrono::Utc::now());
    let purchase = store.purchase(id).await?;
    caller.may(Action::VoidPurchase(purchase.details().branch()))?;
    let receipt = store.void(&void, &caller.origin(client)).await?;
    tracing::Span::current().record("purchase_id", id.get());
    tracing::info!("voided a purchase");
    Ok(json(StatusCode::OK, &ReceiptBody::from(&receipt)))
}

/// The refunds' and voids' filters.
pub(crate) fn filters(
    store: SharedStore,
    body_limit: u64,
    auth: Auth,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let refund = warp::path!("cash-register" / "purchases" / String / "refunds")
        .and(warp::post())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and(crate::auth::client())
        .and(idempotency_key())
        .and(raw_body())
        .and_then(move |id, ctx, store, credentials, client, key, body| {
            respond(
                ctx,
                refund(store, credentials, client, id, key, body, body_limit),
            )
        });
    let void = warp::path!("cash-register" / "purchases" / String / "void")
        .and(warp::post())
        .and(context())
        .and(with_store(store))
        .and(credentials(auth))
        .and(crate::auth::client())
        .and(raw_body())
        .and_then(move |id, ctx, store, credentials, client, body| {
            respond(ctx, void(store, credentials, client, id, body, body_limit))
        });
    refund.or(void).unify()
}
