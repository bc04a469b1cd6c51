//! `POST /cash-register/purchases/batch`: the purchases a till made while it was offline,
//! handed in together, each answered on its own.
//!
//! A body that breaks a rule the OpenAPI document states (a field's type or format, an
//! item's rules, a `client_id` or `purchased_at` missing, more than [`MAX_BATCH`] purchases) is
//! refused whole, with a sentence naming the purchase, as any malformed request is. Past that,
//! each purchase stands or falls alone: one the key may not record (403), whose sale time is
//! out of the window, or that the store refuses (400) is answered in its place among the
//! results, and the others are recorded.

use bytes::Buf;
use chrono::Utc;
use futures::Stream;
use icash_core::offline::{MAX_BATCH, check_batch_size};
use icash_core::{Action, BatchOutcome, Error, NewPurchase, OfflineWindow};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::cash_register::new_purchase;
use super::with_store;
use crate::SharedStore;
use crate::auth::{Auth, Credentials, credentials};
use crate::body::{RawBody, raw_body};
use crate::context::{context, json, respond};
use crate::dto::{BatchBody, BatchRequest, BatchResultBody};
use crate::error::ApiError;

/// Records a batch of purchases made offline, each once per API key and `client_id`, for good.
///
/// Each purchase is answered in its place: 201 recorded, 200 recorded before under its
/// `client_id` (the same `purchase_id` as then), or its 4xx and the sentence saying why it
/// was refused (nothing of it is recorded).
#[utoipa::path(post, path = "/cash-register/purchases/batch", tag = "cash-register",
    request_body(content = BatchRequest, content_type = "application/json",
        description = "At most 1,000 purchases, as JSON of at most 4 MiB unless the server is configured otherwise (a larger body gets 413)"),
    responses(
        (status = 200, description = "Each purchase's outcome, in the order sent", body = BatchBody),
    ))]
pub(crate) async fn batch<S, B>(
    store: SharedStore,
    credentials: Credentials,
    body: RawBody<S>,
    body_limit: u64,
    window: OfflineWindow,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let caller = credentials.caller().await?;
    let request: BatchRequest = body.json(body_limit).await?;
    check_batch_size(request.purchases.len())?;
    let now = Utc::now();
    let mut client_ids = Vec::with_capacity(request.purchases.len());
    let mut purchases = Vec::with_capacity(request.purchases.len());
    for (index, purchase) in request.purchases.into_iter().enumerate() {
        let in_place = |message: String| {
            ApiError::BadRequest(format!("purchases[{index}] is not valid: {message}"))
        };
        let (Some(client_id), Some(_)) = (&purchase.client_id, &purchase.purchased_at) else {
            return Err(in_place(
                "a purchase of a batch needs its `client_id` and `purchased_at`".to_owned(),
            ));
        };
        client_ids.push(client_id.clone());
        let purchase = new_purchase(purchase, now).map_err(|error| {
            let (_, message) = error.status_and_message();
            in_place(message)
        })?;
        purchases.push(purchase.recorded_by(caller.key_name()));
    }

    // What this server refuses before the store sees it: a branch the key may not record for,
    // a sale time out of the window.
    let mut results: Vec<Option<Result<BatchOutcome, ApiError>>> = Vec::new();
    let mut to_store: Vec<NewPurchase> = Vec::new();
    for purchase in purchases {
        let refusal = caller
            .may(Action::RecordPurchase(purchase.branch()))
            .err()
            .or_else(|| {
                window
                    .check(purchase.at(), now)
                    .err()
                    .map(|error| ApiError::Domain(Error::Invalid(error)))
            });
        match refusal {
            Some(refusal) => results.push(Some(Err(refusal))),
            None => {
                results.push(None);
                to_store.push(purchase);
            }
        }
    }
    let mut stored = if to_store.is_empty() {
        Vec::new()
    } else {
        store.record_batch(to_store).await?
    }
    .into_iter();
    let results = results
        .into_iter()
        .zip(client_ids)
        .map(|(result, client_id)| {
            let outcome = match result {
                Some(refused) => refused,
                None => Ok(stored.next().ok_or(ApiError::Internal)?),
            };
            let body = match outcome {
                Ok(BatchOutcome::Recorded(id)) => {
                    answer(client_id, StatusCode::CREATED, Some(id.get()), None)
                }
                Ok(BatchOutcome::AlreadyRecorded(id)) => {
                    answer(client_id, StatusCode::OK, Some(id.get()), None)
                }
                Ok(BatchOutcome::Refused(error)) => refused(client_id, ApiError::Domain(error)),
                Err(error) => refused(client_id, error),
            };
            crate::metrics::batch_purchase_answered(body.status);
            Ok(body)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let recorded = results.iter().filter(|result| result.status == 201).count();
    tracing::info!(
        purchases = results.len(),
        recorded,
        "recorded a batch of purchases"
    );
    Ok(json(StatusCode::OK, &BatchBody { results }))
}

fn answer(
    client_id: String,
    status: StatusCode,
    purchase_id: Option<i64>,
    error: Option<String>,
) -> BatchResultBody {
    BatchResultBody {
        client_id,
        status: status.as_u16(),
        purchase_id,
        error,
    }
}

/// A refused purchase's answer: the status and sentence the same refusal of a single purchase
/// gets, from the one error table.
fn refused(client_id: String, error: ApiError) -> BatchResultBody {
    let (status, message) = error.status_and_message();
    answer(client_id, status, None, Some(message))
}

/// The batch's filter.
pub(crate) fn filters(
    store: SharedStore,
    body_limit: u64,
    window: OfflineWindow,
    auth: Auth,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    const _: () = assert!(MAX_BATCH == 1_000, "the OpenAPI description says 1,000");
    warp::path!("cash-register" / "purchases" / "batch")
        .and(warp::post())
        .and(context())
        .and(with_store(store))
        .and(credentials(auth))
        .and(raw_body())
        .and_then(move |ctx, store, credentials, body| {
            respond(ctx, batch(store, credentials, body, body_limit, window))
        })
}
