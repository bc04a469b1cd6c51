//! The till's endpoints: the catalog, recording a purchase, receipts, and the customers list.

use std::convert::Infallible;

use bytes::Buf;
use chrono::{DateTime, Utc};
use futures::{FutureExt, Stream};
use icash_core::analytics::{DEFAULT_TOP_CUSTOMERS, TopCustomersQuery};
use icash_core::{
    Action, BranchId, ClientId, CustomerRef, IdempotencyKey, NewPurchase, OfflineWindow, ProductId,
    PurchaseId, Recorded, ValidationError,
};
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{get, raw_query, with_store};
use crate::SharedStore;
use crate::auth::{Auth, Credentials, credentials};
use crate::body::{RawBody, raw_body};
use crate::context::{context, json, respond};
use crate::dto::{
    CustomerBody, ErrorBody, ItemRequest, ProductBody, PurchaseBody, PurchaseRequest, ReceiptBody,
};
use crate::error::ApiError;
use crate::export::{self, Format, FormatParams};
use crate::query::{PageParams, encode_customers_cursor, next_link, parse};

/// The header that carries the next page's cursor, beside the `Link` header.
pub const NEXT_CURSOR: &str = "x-next-cursor";

/// The catalog, in id order.
#[utoipa::path(get, path = "/cash-register/products", tag = "cash-register",
    responses((status = 200, description = "Every product", body = [ProductBody])))]
pub(crate) async fn products(
    store: SharedStore,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    credentials.allow(Action::ReadCatalog).await?;
    let products = store.products().await?;
    Ok(json(
        StatusCode::OK,
        &products.iter().map(ProductBody::from).collect::<Vec<_>>(),
    ))
}

/// Turns a purchase request into a validated purchase, made at its `purchased_at`, or `now`.
pub(crate) fn new_purchase(
    request: PurchaseRequest,
    now: DateTime<Utc>,
) -> Result<NewPurchase, ApiError> {
    let branch = BranchId::new(request.supermarket_id)?;
    let customer: CustomerRef = request.user_id.parse()?;
    let products = item_products(&request.items)?;
    let client_id = request
        .client_id
        .as_deref()
        .map(str::parse::<ClientId>)
        .transpose()?;
    Ok(NewPurchase::new(
        branch,
        customer,
        products,
        request.purchased_at.unwrap_or(now),
    )?
    .with_client_id(client_id))
}

/// The products of a request's items, one unit each (a purchase's, or a refund's).
pub(crate) fn item_products(items: &[ItemRequest]) -> Result<Vec<ProductId>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            if item.quantity.is_some_and(|quantity| quantity != 1) {
                return Err(ApiError::BadRequest(format!(
                    "field `items[{index}].quantity` must be 1: a purchase has at most one unit of each product"
                )));
            }
            Ok(ProductId::new(item.product_id)?)
        })
        .collect()
}

/// The `Idempotency-Key` header's value as a key, refused with the key's own sentence when it is
/// not one.
pub(crate) fn parse_idempotency_key(
    value: Option<HeaderValue>,
) -> Result<Option<IdempotencyKey>, ApiError> {
    Ok(value
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ValidationError::InvalidIdempotencyKey)
                .and_then(IdempotencyKey::new)
        })
        .transpose()?)
}

/// The header that makes a purchase safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header that marks an answer as the replay of an earlier one.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Records a purchase of one unit of each item.
///
/// With an `Idempotency-Key`, a retry of the same request answers as the first did (marked by
/// `idempotent-replayed: true`) and records nothing; the same key with another request is a 409.
/// With a `client_id` this key (or, without authentication, anyone) recorded before, at any
/// time, it answers 200 with that purchase (also marked), and records nothing.
#[utoipa::path(post, path = "/cash-register/purchase", tag = "cash-register",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]{1,255}$",
        description = "Makes the request safe to retry: 1 to 255 visible ASCII characters, such as a UUID; kept 24 hours")),
    request_body(content = PurchaseRequest, content_type = "application/json",
        description = "The purchase, as JSON of at most 64 KiB unless the server is configured otherwise (a larger body gets 413)"),
    responses(
        (status = 201, description = "Recorded, or replayed for a repeated Idempotency-Key", body = PurchaseBody,
            links(("receipt" = (operation_id = "receipt", parameters(("id" = "$response.body#/purchase_id")),
                description = "The purchase's receipt")))),
        (status = 200, description = "Its `client_id` was recorded before: the purchase recorded then", body = PurchaseBody),
        (status = 409, description = "The Idempotency-Key was used for a different purchase", body = ErrorBody),
    ))]
pub(crate) async fn purchase<S, B>(
    store: SharedStore,
    credentials: Credentials,
    key: Option<HeaderValue>,
    body: RawBody<S>,
    body_limit: u64,
    window: OfflineWindow,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let caller = credentials.caller().await?;
    let key = parse_idempotency_key(key)?;
    let request: PurchaseRequest = body.json(body_limit).await?;
    let now = Utc::now();
    let purchase = new_purchase(request, now)?;
    caller.may(Action::RecordPurchase(purchase.branch()))?;
    window.check(purchase.at(), now)?;
    let purchase = purchase.recorded_by(caller.key_name());
    let recorded = store.record(purchase, key.as_ref()).await?;
    let status = match recorded {
        Recorded::Resent(_) => StatusCode::OK,
        Recorded::Created(_) | Recorded::Replayed(_) => StatusCode::CREATED,
    };
    let purchase = recorded.purchase();
    let mut response = json(status, &PurchaseBody::from(purchase));
    tracing::Span::current().record("purchase_id", purchase.id().get());
    if recorded.is_replay() {
        tracing::info!("purchase replayed for a repeated idempotency key or client id");
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// A purchase id from a path, with a sentence when it is not one.
pub(crate) fn purchase_id(id: &str) -> Result<PurchaseId, ValidationError> {
    id.parse::<i64>()
        .map_err(|_| ValidationError::InvalidId {
            what: "purchase id",
            value: id.to_owned(),
        })
        .and_then(PurchaseId::new)
}

/// A recorded purchase, as the purchase endpoint returned it, with its status and refunds.
#[utoipa::path(get, path = "/cash-register/purchases/{id}", tag = "cash-register",
    params(("id" = i64, Path, description = "The purchase id", minimum = 1, maximum = 9223372036854775807_i64)),
    responses(
        (status = 200, description = "The receipt", body = ReceiptBody),
        (status = 404, description = "No such purchase", body = ErrorBody),
    ))]
pub(crate) async fn receipt(
    store: SharedStore,
    credentials: Credentials,
    id: String,
) -> Result<Response, ApiError> {
    let caller = credentials.caller().await?;
    let id = purchase_id(&id)?;
    let receipt = store.receipt(id).await?;
    caller.may(Action::ReadReceipt(receipt.purchase.details().branch()))?;
    Ok(json(StatusCode::OK, &ReceiptBody::from(&receipt)))
}

/// The customers with the most purchases (20 unless `limit` says otherwise).
#[utoipa::path(get, path = "/cash-register/customers", tag = "cash-register",
    params(PageParams, FormatParams, ("cursor" = Option<String>, Query, pattern = "^[1-9][0-9]{0,17}_[0-9a-f]{32}$",
        description = "Where to start: the `x-next-cursor` header (or the `Link` header's `cursor`) of the previous page")),
    responses((status = 200, description = "Most purchases first; when paging, the `Link` and `x-next-cursor` headers give the next page. \
        As CSV (`format=csv` or `Accept: text/csv`): a header row, then user_id, purchase_count",
        content(([CustomerBody] = "application/json"), (String = "text/csv")),
        headers(
            ("x-next-cursor" = String,
                description = "The next page's `cursor`, present when paging and more may follow"),
            ("link" = String, description = "The next page's URL, as `<url>; rel=\"next\"`, beside `x-next-cursor`"),
        ))))]
pub(crate) async fn customers(
    store: SharedStore,
    credentials: Credentials,
    path: String,
    query: String,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    credentials.allow(Action::ListCustomers).await?;
    let format = Format::asked(&parse::<FormatParams>(&query)?, &headers)?;
    let page: PageParams = parse(&query)?;
    let limit = page.limit()?.unwrap_or(DEFAULT_TOP_CUSTOMERS);
    let entries = store
        .top_customers(&TopCustomersQuery {
            limit,
            after: page.customers_cursor()?,
        })
        .await?;
    let mut response = match format {
        Format::Json => json(
            StatusCode::OK,
            &entries.iter().map(CustomerBody::from).collect::<Vec<_>>(),
        ),
        Format::Csv => export::csv_response(
            export::customers(&entries),
            &export::file_name("customers", None, chrono::Utc::now()),
        ),
    };
    if page.is_paging() && entries.len() == limit as usize {
        let cursor = encode_customers_cursor(entries.last().expect("a full page"));
        set_next_page(&mut response, &path, &query, &cursor);
    }
    Ok(response)
}

/// Tells the client where the next page is: a `Link` header and the bare cursor.
pub(crate) fn set_next_page(response: &mut Response, path: &str, query: &str, cursor: &str) {
    let headers = response.headers_mut();
    if let Ok(link) = HeaderValue::from_str(&next_link(path, query, cursor)) {
        headers.insert("link", link);
    }
    if let Ok(cursor) = HeaderValue::from_str(cursor) {
        headers.insert(NEXT_CURSOR, cursor);
    }
}

/// The `Idempotency-Key` header as sent, so that a value that is not text is refused by the
/// key's own rule, with its sentence.
pub(crate) fn idempotency_key()
-> impl Filter<Extract = (Option<HeaderValue>,), Error = Infallible> + Clone {
    warp::header::value(IDEMPOTENCY_KEY)
        .map(Some)
        .or(warp::any().map(|| None))
        .unify()
}

/// The till's filters.
pub(crate) fn filters(
    store: SharedStore,
    body_limit: u64,
    window: OfflineWindow,
    auth: Auth,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let products = warp::path!("cash-register" / "products")
        .and(get())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and_then(|ctx, store, credentials| respond(ctx, products(store, credentials)));
    let purchase = warp::path!("cash-register" / "purchase")
        .and(warp::post())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and(idempotency_key())
        .and(raw_body())
        .and_then(move |ctx, store, credentials, key, body| {
            respond(
                ctx,
                purchase(store, credentials, key, body, body_limit, window),
            )
            .inspect(|answer| answer.iter().for_each(crate::metrics::purchase_answered))
        });
    let receipt = warp::path!("cash-register" / "purchases" / String)
        // `/cash-register/purchases/batch` is the batch's path, which answers POST only: any
        // other method there is a 405, not a receipt with a malformed id.
        .and_then(|id: String| async move {
            if id == "batch" {
                Err(warp::reject::not_found())
            } else {
                Ok(id)
            }
        })
        .and(get())
        .and(context())
        .and(with_store(store.clone()))
        .and(credentials(auth.clone()))
        .and_then(|id, ctx, store, credentials| respond(ctx, receipt(store, credentials, id)));
    let customers = warp::path!("cash-register" / "customers")
        .and(get())
        .and(context())
        .and(raw_query())
        .and(with_store(store))
        .and(credentials(auth))
        .and(warp::header::headers_cloned())
        .and_then(
            |ctx: crate::context::RequestContext, query, store, credentials, headers| {
                let path = ctx.path().to_owned();
                respond(ctx, customers(store, credentials, path, query, headers))
            },
        );
    products
        .or(purchase)
        .unify()
        .or(receipt)
        .unify()
        .or(customers)
        .unify()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use warp::http::HeaderValue;

    /// A header value that is not text (bytes above ASCII) is the client's mistake: a 400 with
    /// the key's own sentence, and the same sentence for the other headers' names.
    #[tokio::test]
    async fn a_header_that_is_not_text_is_refused_with_a_sentence() {
        let api = crate::api(
            Arc::new(icash_core::MemoryStore::new()),
            crate::ApiConfig::default(),
        );
        let response = warp::test::request()
            .method("POST")
            .path("/cash-register/purchase")
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                HeaderValue::from_bytes(b"key-\xe9").unwrap(),
            )
            .body(r#"{"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}]}"#)
            .reply(&api)
            .await;
        assert_eq!(response.status(), 400);
        let body = String::from_utf8_lossy(response.body());
        assert!(
            body.contains("idempotency key must be 1 to 255 visible ASCII"),
            "{body}"
        );

        let response = warp::test::request()
            .method("POST")
            .path("/cash-register/purchase")
            .header(
                "content-type",
                HeaderValue::from_bytes(b"application/json\xe9").unwrap(),
            )
            .body("{}")
            .reply(&api)
            .await;
        assert_eq!(response.status(), 400);
        let body = String::from_utf8_lossy(response.body());
        assert!(
            body.contains("header `content-type` is not valid"),
            "{body}"
        );
    }
}
