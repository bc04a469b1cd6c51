//! The JSON shapes of prices over time and of the batches of tills that were offline.

use chrono::{DateTime, Utc};
use icash_core::offline::MAX_BATCH;
use icash_core::{Money, PriceHistory, ValidationError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PurchaseRequest, amount};

/// Reads a price sent as a JSON number: the amount it writes, to the cent. A client's `4.2`
/// is the binary float nearest 4.20, so the number is read from its shortest decimal form,
/// which gives back the amount the client meant.
pub(crate) fn price(field: &str, number: &serde_json::Number) -> Result<Money, ValidationError> {
    let money: Money = number.to_string().parse().map_err(|error| match error {
        ValidationError::InvalidAmount { amount, reason } => ValidationError::InvalidAmount {
            amount: format!("{amount} (field `{field}`)"),
            reason,
        },
        other => other,
    })?;
    if money > Money::MAX_PRICE {
        return Err(ValidationError::InvalidAmount {
            amount: format!("{number} (field `{field}`)"),
            reason: "it is more than 99999999.99",
        });
    }
    Ok(money)
}

/// `POST /cash-register/products`: a product to add. Fields a client adds are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "a product object with name and price")]
#[schema(example = json!({"name": "green tea", "price": 4.20}))]
pub struct NewProductRequest {
    /// Its name: not blank, and no product on sale may have it already (in any case).
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    /// Its unit price, in force from now on.
    #[schema(value_type = f64, minimum = 0, maximum = 99999999.99, multiple_of = 0.01)]
    pub price: serde_json::Number,
}

/// `PUT /cash-register/products/{id}/price`: a new price. Fields a client adds are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "a price object with price and optionally effective_from")]
#[schema(example = json!({"price": 4.50, "effective_from": "2026-12-07T06:00:00Z"}))]
pub struct PriceChangeRequest {
    /// The unit price.
    #[schema(value_type = f64, minimum = 0, maximum = 99999999.99, multiple_of = 0.01)]
    pub price: serde_json::Number,
    /// From when it is in force (RFC 3339): in the past, to price sales that tills still have
    /// to hand in, or in the future; now when absent. Not before the product was added.
    #[serde(default)]
    pub effective_from: Option<DateTime<Utc>>,
}

/// A price and from when it is in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PricePointBody {
    /// The unit price.
    pub price: f64,
    /// From when it is in force; `null`: from the start of the history (prices loaded from
    /// the data files).
    pub effective_from: Option<DateTime<Utc>>,
}

/// A product with its prices over time.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceHistoryBody {
    /// The product's id.
    pub product_id: i32,
    /// Its name.
    pub name: String,
    /// When it was added to the catalog; `null` for a product there from the start.
    pub added_at: Option<DateTime<Utc>>,
    /// When it was retired (no longer sold); `null` while on sale.
    pub retired_at: Option<DateTime<Utc>>,
    /// Its prices, in the order they take effect.
    pub prices: Vec<PricePointBody>,
}

impl From<&PriceHistory> for PriceHistoryBody {
    fn from(history: &PriceHistory) -> PriceHistoryBody {
        PriceHistoryBody {
            product_id: history.product.get(),
            name: history.name.clone(),
            added_at: history.added_at,
            retired_at: history.retired_at,
            prices: history
                .prices
                .iter()
                .map(|point| PricePointBody {
                    price: amount(point.price),
                    effective_from: point.effective_from,
                })
                .collect(),
        }
    }
}

/// `POST /cash-register/purchases/batch`: the purchases a till made while offline. Fields a
/// client adds are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "a batch object with purchases")]
pub struct BatchRequest {
    /// The purchases, each with its `client_id` and `purchased_at`.
    #[schema(schema_with = batch_purchases)]
    pub purchases: Vec<PurchaseRequest>,
}

/// The schema of a batch's purchases: purchase requests whose `client_id` and `purchased_at`
/// are required.
fn batch_purchases() -> utoipa::openapi::Array {
    let offline = utoipa::openapi::ObjectBuilder::new()
        .required("client_id")
        .required("purchased_at")
        .build();
    let purchase = utoipa::openapi::AllOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name("PurchaseRequest"))
        .item(offline)
        .build();
    utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(utoipa::openapi::Schema::AllOf(
            purchase,
        )))
        .min_items(Some(1))
        .max_items(Some(MAX_BATCH))
        .description(Some(format!(
            "1 to {MAX_BATCH} purchases, each as `POST /cash-register/purchase` takes it, with its \
             `client_id` and `purchased_at` required."
        )))
        .build()
}

/// The answer to a batch: each purchase's outcome, in the order sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchBody {
    /// One per purchase sent, in order.
    pub results: Vec<BatchResultBody>,
}

/// What became of one purchase of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResultBody {
    /// The purchase's `client_id`, as sent.
    pub client_id: String,
    /// 201: recorded now; 200: recorded before under this `client_id` (the same
    /// `purchase_id`); a 4xx: refused, with `error`, and nothing of it recorded.
    pub status: u16,
    /// The purchase's id, unless it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_id: Option<i64>,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
