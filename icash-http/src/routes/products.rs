//! The catalog's changes: products added, repriced and retired (managers of every branch and
//! admins; anyone without authentication), and a product's prices over time (whoever reads the
//! catalog).

use bytes::Buf;
use futures::Stream;
use icash_core::{Action, NewProduct, PriceChange, ProductId, ValidationError};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{get, with_store};
use crate::SharedStore;
use crate::auth::{Auth, Credentials, credentials};
use crate::body::{RawBody, raw_body};
use crate::context::{context, json, respond};
use crate::dto::{
    ErrorBody, NewProductRequest, PriceChangeRequest, PriceHistoryBody, ProductBody, price,
};
use crate::error::ApiError;

/// Who may change the catalog: its prices are the chain's, not a branch's.
const CHANGE_CATALOG: Action = Action::ChangePrices(None);

/// A product id from the path.
fn product_id(raw: &str) -> Result<ProductId, ApiError> {
    let id = raw.parse::<i32>().map_err(|_| ValidationError::InvalidId {
        what: "product id",
        value: raw.to_owned(),
    })?;
    Ok(ProductId::new(id)?)
}

/// Adds a product, priced from now on.
#[utoipa::path(post, path = "/cash-register/products", tag = "cash-register",
    request_body(content = NewProductRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Added, with the id it was given", body = ProductBody,
            links(("prices" = (operation_id = "prices", parameters(("id" = "$response.body#/id")),
                description = "The product's prices over time")))),
        (status = 409, description = "A product on sale has this name", body = ErrorBody),
    ))]
pub(crate) async fn add_product<S, B>(
    store: SharedStore,
    credentials: Credentials,
    body: RawBody<S>,
    body_limit: u64,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let origin = credentials.origin(CHANGE_CATALOG).await?;
    let request: NewProductRequest = body.json(body_limit).await?;
    let product = NewProduct::new(&request.name, price("price", &request.price)?)?;
    let added = store.add_product(&product, &origin).await?;
    tracing::info!(product = added.id().get(), "added a product");
    Ok(json(StatusCode::CREATED, &ProductBody::from(&added)))
}

/// Gives a product a new price, from `effective_from` (now when absent) on.
#[utoipa::path(put, path = "/cash-register/products/{id}/price", tag = "cash-register",
    params(("id" = i32, Path, description = "The product id", minimum = 1, maximum = 2147483647)),
    request_body(content = PriceChangeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The product's prices, the new one included", body = PriceHistoryBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 409, description = "The product is retired", body = ErrorBody),
    ))]
pub(crate) async fn change_price<S, B>(
    store: SharedStore,
    credentials: Credentials,
    id: String,
    body: RawBody<S>,
    body_limit: u64,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let origin = credentials.origin(CHANGE_CATALOG).await?;
    let id = product_id(&id)?;
    let request: PriceChangeRequest = body.json(body_limit).await?;
    let change = PriceChange::new(
        price("price", &request.price)?,
        request.effective_from.unwrap_or_else(chrono::Utc::now),
    );
    let history = store.change_price(id, &change, &origin).await?;
    tracing::info!(product = id.get(), "changed a price");
    Ok(json(StatusCode::OK, &PriceHistoryBody::from(&history)))
}

/// Retires a product: it is no longer sold; its history and analytics stay. Retiring it again
/// changes nothing.
#[utoipa::path(post, path = "/cash-register/products/{id}/retire", tag = "cash-register",
    params(("id" = i32, Path, description = "The product id", minimum = 1, maximum = 2147483647)),
    responses(
        (status = 200, description = "Retired (`retired_at` says since when)", body = PriceHistoryBody),
        (status = 404, description = "No such product", body = ErrorBody),
    ))]
pub(crate) async fn retire(
    store: SharedStore,
    credentials: Credentials,
    id: String,
) -> Result<Response, ApiError> {
    let origin = credentials.origin(CHANGE_CATALOG).await?;
    let id = product_id(&id)?;
    let history = store.retire_product(id, &origin).await?;
    tracing::info!(product = id.get(), "retired a product");
    Ok(json(StatusCode::OK, &PriceHistoryBody::from(&history)))
}

/// A product's prices over time, retired products included.
#[utoipa::path(get, path = "/cash-register/products/{id}/prices", tag = "cash-register", operation_id = "prices",
    params(("id" = i32, Path, description = "The product id", minimum = 1, maximum = 2147483647)),
    responses(
        (status = 200, description = "The product and its prices, in the order they take effect", body = PriceHistoryBody),
        (status = 404, description = "No such product", body = ErrorBody),
    ))]
pub(crate) async fn prices(
    store: SharedStore,
    credentials: Credentials,
    id: String,
) -> Result<Response, ApiError> {
    credentials.allow(Action::ReadCatalog).await?;
    let id = product_id(&id)?;
    let history = store.price_history(id).await?;
    Ok(json(StatusCode::OK, &PriceHistoryBody::from(&history)))
}

/// The catalog's filters.
pub(crate) fn filters(
    store: SharedStore,
    body_limit: u64,
    auth: Auth,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let add = warp::path!("cash-register" / "products")
        .and(warp::post())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and(raw_body())
        .and_then(move |ctx, store, credentials, body| {
            respond(ctx, add_product(store, credentials, body, body_limit))
        });
    let change = warp::path!("cash-register" / "products" / String / "price")
        .and(warp::put())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and(raw_body())
        .and_then(move |id, ctx, store, credentials, body| {
            respond(ctx, change_price(store, credentials, id, body, body_limit))
        });
    let retire = warp::path!("cash-register" / "products" / String / "retire")
        .and(warp::post())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and_then(|id, ctx, store, credentials| respond(ctx, retire(store, credentials, id)));
    let prices = warp::path!("cash-register" / "products" / String / "prices")
        .and(get())
        .and(context())
        .and(with_store(store))
        .and(credentials(auth))
        .and_then(|id, ctx, store, credentials| respond(ctx, prices(store, credentials, id)));
    add.or(change).unify().or(retire).unify().or(prices).unify()
}
