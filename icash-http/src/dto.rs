//! The JSON shapes of the contract: every field name a client relies on lives here.
//!
//! Money is written as a JSON number computed exactly ([`Money::to_f64`] explains why the
//! conversion at this edge is exact); timestamps as RFC 3339 instants in UTC.

use async_stream::try_stream;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use icash_core::analytics::{
    BranchStatistics, CustomerActivity, CustomerPurchases, Dashboard, LoyalCustomers, LoyalStream,
    RankedProduct, RefundTotals, Statistics,
};
use icash_core::purchase::MAX_ITEMS;
use icash_core::refund::MAX_REASON_LENGTH;
use icash_core::{
    AuditEntry, Branch, KeyInfo, Money, Product, Purchase, PurchaseLine, PurchaseStatus, Receipt,
    Refund, Role,
};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod prices;
mod sales;

pub(crate) use prices::price;
pub use prices::{
    BatchBody, BatchRequest, BatchResultBody, NewProductRequest, PriceChangeRequest,
    PriceHistoryBody, PricePointBody,
};
pub(crate) use sales::period_start;
pub use sales::{
    DailyReportBody, ReportHourBody, ReportProductBody, ReportTillBody, SalesPointBody,
    VoidTotalsBody,
};

fn amount(money: Money) -> f64 {
    money.to_f64()
}

/// An exact amount that may be negative (a net figure), as a JSON number: as exact as
/// [`Money::to_f64`], for the same reason.
fn signed_amount(amount: Decimal) -> f64 {
    amount.to_f64().unwrap_or(0.0)
}

/// Every error: a sentence that says what is wrong.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, in a sentence.
    pub error: String,
}

/// `GET /`: what the service is and where its endpoints are.
#[derive(Debug, Serialize, ToSchema)]
pub struct Index {
    /// The service's name.
    pub service: &'static str,
    /// Its version.
    pub version: &'static str,
    /// The endpoints, as "METHOD /path".
    pub endpoints: IndexEndpoints,
}

/// The endpoints of the index.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexEndpoints {
    /// The health check.
    pub health: &'static str,
    /// The liveness probe.
    pub livez: &'static str,
    /// The readiness probe.
    pub readyz: &'static str,
    /// The dashboard.
    pub dashboard: &'static str,
    /// The key a request is made with and what it may do.
    pub whoami: &'static str,
    /// The till's endpoints.
    pub cash_register: CashRegisterEndpoints,
    /// The owner's analytics.
    pub analytics: AnalyticsEndpoints,
    /// This API's OpenAPI 3 document.
    pub openapi: &'static str,
    /// API keys and the audit trail (admin keys only).
    pub admin: AdminEndpoints,
    /// The branches and their business days.
    pub branches: BranchEndpoints,
}

/// The branches' endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct BranchEndpoints {
    /// Every branch with its time zone and start of day.
    pub list: &'static str,
    /// Changing a branch (admin keys only).
    pub update: &'static str,
}

/// The till's endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct CashRegisterEndpoints {
    /// The catalog.
    pub products: &'static str,
    /// Recording a purchase.
    pub purchase: &'static str,
    /// The customers with the most purchases.
    pub customers: &'static str,
    /// A recorded purchase (a receipt).
    pub receipt: &'static str,
    /// Refunding some of a purchase's lines (managers and admins).
    pub refund: &'static str,
    /// Voiding a purchase recorded by mistake (managers and admins).
    pub void: &'static str,
    /// The purchases of a till that was offline, handed in together.
    pub purchase_batch: &'static str,
    /// Adding a product.
    pub add_product: &'static str,
    /// Changing a product's price.
    pub change_price: &'static str,
    /// A product's prices over time.
    pub prices: &'static str,
    /// Retiring a product.
    pub retire_product: &'static str,
}

/// The analytics endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsEndpoints {
    /// Distinct customers.
    pub unique_customers: &'static str,
    /// Loyal customers.
    pub loyal_customers: &'static str,
    /// Best sellers.
    pub top_products: &'static str,
    /// Totals per branch.
    pub statistics: &'static str,
    /// Sales over time.
    pub sales: &'static str,
    /// The report of a branch's business day.
    pub daily_report: &'static str,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `healthy`, or `degraded` when the database does not answer.
    pub status: &'static str,
    /// `up` or `down`.
    pub database: &'static str,
    /// Each service of the old gateway, as its monitors read them.
    pub services: Services,
}

/// The old gateway's services in `GET /health`: each `healthy`, or `unhealthy` when the
/// database it needs does not answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Services {
    /// The tills' service.
    pub cash_register: &'static str,
    /// The analytics' service.
    pub analytics: &'static str,
}

/// `GET /livez`: the process answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always `alive`.
    pub status: &'static str,
}

/// `GET /readyz`: whether the server can serve every endpoint, and each condition of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// When not ready, the sentence naming each condition that fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `ready` or `not ready`.
    pub status: &'static str,
    /// `up`, or `down` when the database does not answer in time.
    pub database: &'static str,
    /// `applied`, `missing` when the database lacks some of the server's migrations, or
    /// `unknown` when the database does not answer.
    pub migrations: &'static str,
    /// `finished`, or `loading` while the server loads its data files at start.
    pub startup: &'static str,
    /// The database servers, the primary first, when the store has more than one (a primary
    /// and standbys, or several hosts in its URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<NodeBody>>,
}

/// One database server behind the store, in `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeBody {
    /// Where it is: `host:port`.
    pub name: String,
    /// `primary`, `standby`, or `down` when it does not answer.
    pub role: &'static str,
    /// How far its data is behind the primary's, in milliseconds (0 for the primary); `null`
    /// when it cannot be told.
    #[schema(minimum = 0)]
    pub lag_ms: Option<u64>,
    /// Whether the server's writes go there now.
    pub writes: bool,
    /// Whether the server's reads may go there now (a standby within the staleness bound).
    pub reads: bool,
}

impl From<&icash_core::Node> for NodeBody {
    fn from(node: &icash_core::Node) -> NodeBody {
        NodeBody {
            name: node.name.clone(),
            role: node.role.as_str(),
            lag_ms: node
                .lag
                .map(|lag| u64::try_from(lag.as_millis()).unwrap_or(u64::MAX)),
            writes: node.writes,
            reads: node.reads,
        }
    }
}

/// A product of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductBody {
    /// Its id.
    pub id: i32,
    /// Its name.
    pub name: String,
    /// Its current unit price.
    pub price: f64,
}

impl From<&Product> for ProductBody {
    fn from(product: &Product) -> ProductBody {
        ProductBody {
            id: product.id().get(),
            name: product.name().to_owned(),
            price: amount(product.price()),
        }
    }
}

/// `POST /cash-register/purchase`: what a till sends. Fields a client adds are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "a purchase object with supermarket_id, user_id and items")]
#[schema(example = json!({"supermarket_id": 1, "user_id": "new", "items": [{"product_id": 1}, {"product_id": 3}]}))]
pub struct PurchaseRequest {
    /// The branch the purchase is made at: one the chain has.
    #[schema(minimum = 1, maximum = 2147483647)]
    pub supermarket_id: i32,
    /// `"new"` for a new customer, or the customer's UUID, hyphenated, in either case.
    #[schema(
        pattern = r"^(new|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
    )]
    pub user_id: String,
    /// The products bought, one unit each.
    #[serde(deserialize_with = "objects")]
    #[schema(schema_with = purchase_items)]
    pub items: Vec<ItemRequest>,
    /// The till's own id for the purchase (a UUID): recorded once per API key and
    /// `client_id`, for good, so a resend at any later time answers 200 with the purchase
    /// recorded the first time.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    )]
    pub client_id: Option<String>,
    /// When the sale was made (RFC 3339), for a till that was offline: at most 5 minutes ahead
    /// of the server's clock and at most `ICASH_OFFLINE_WINDOW_DAYS` (7 by default) old; now
    /// when absent. The sale is priced at the prices in force then.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub purchased_at: Option<DateTime<Utc>>,
}

/// An optional field that, when sent, holds a value: `null` is refused, as the document says,
/// rather than read as absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The schema of a purchase's items. JSON Schema's `uniqueItems` compares whole objects, so
/// the rule that no `product_id` comes twice is also said in words.
fn purchase_items() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("ItemRequest"))
        .min_items(Some(1))
        .max_items(Some(MAX_ITEMS))
        .unique_items(true)
        .description(Some(format!(
            "The products bought, one unit each: 1 to {MAX_ITEMS} items, each naming a product of \
             the catalog, no `product_id` twice (a repeated product is refused, never merged)."
        )))
        .build()
}

/// Reads a list of JSON objects, refusing the arrays that serde would otherwise read as a
/// struct's fields in order (`[[1]]` is not a list of items).
fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    /// One element that must be an object.
    struct Object<T>(T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor<T>(std::marker::PhantomData<T>);

            impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
                type Value = Object<T>;

                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an item object with product_id")
                }

                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    map: A,
                ) -> Result<Object<T>, A::Error> {
                    T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
                }
            }

            deserializer.deserialize_map(Visitor(std::marker::PhantomData))
        }
    }

    let items: Vec<Object<T>> = Deserialize::deserialize(deserializer)?;
    Ok(items.into_iter().map(|Object(item)| item).collect())
}

/// One product of a purchase request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "an item object with product_id")]
pub struct ItemRequest {
    /// The product: one of the catalog.
    #[schema(minimum = 1, maximum = 2147483647)]
    pub product_id: i32,
    /// How many units: 1 when given, as a customer buys at most one unit of each product.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1)]
    pub quantity: Option<i64>,
}

/// A recorded purchase: the answer to a purchase, and its receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseBody {
    /// Its id.
    pub purchase_id: i64,
    /// The customer, minted when the request said `"new"`.
    pub user_id: String,
    /// The branch.
    pub supermarket_id: i32,
    /// When it was made.
    pub timestamp: DateTime<Utc>,
    /// The exact sum of the lines.
    pub total_amount: f64,
    /// The lines, in the till's order.
    pub items: Vec<LineBody>,
    /// The name of the API key that recorded it; `null` for purchases loaded from files or
    /// recorded without authentication.
    pub recorded_by: Option<String>,
    /// The till's own id for it, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// One line of a purchase.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineBody {
    /// The product.
    pub product_id: i32,
    /// Its name.
    pub name: String,
    /// The unit price of the sale.
    pub price: f64,
    /// Always 1.
    pub quantity: u32,
}

impl From<&PurchaseLine> for LineBody {
    fn from(line: &PurchaseLine) -> LineBody {
        LineBody {
            product_id: line.product().get(),
            name: line.name().to_owned(),
            price: amount(line.unit_price()),
            quantity: line.quantity(),
        }
    }
}

impl From<&Purchase> for PurchaseBody {
    fn from(purchase: &Purchase) -> PurchaseBody {
        let details = purchase.details();
        PurchaseBody {
            purchase_id: purchase.id().get(),
            user_id: details.customer().to_string(),
            supermarket_id: details.branch().get(),
            timestamp: details.at(),
            total_amount: amount(purchase.total()),
            items: details.lines().iter().map(LineBody::from).collect(),
            recorded_by: details.recorder().map(ToString::to_string),
            client_id: details.client_id().map(|id| id.to_string()),
        }
    }
}

/// A customer and their number of purchases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerBody {
    /// The customer.
    pub user_id: String,
    /// How many purchases they made.
    pub purchase_count: u64,
}

impl From<&CustomerPurchases> for CustomerBody {
    fn from(entry: &CustomerPurchases) -> CustomerBody {
        CustomerBody {
            user_id: entry.customer.to_string(),
            purchase_count: entry.purchase_count,
        }
    }
}

/// `GET /analytics/unique-customers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UniqueCustomersBody {
    /// How many distinct customers made a purchase.
    pub unique_customers: u64,
}

/// A loyal customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoyalCustomerBody {
    /// The customer.
    pub user_id: String,
    /// How many purchases they made.
    pub purchase_count: u64,
    /// What they spent in all.
    pub total_spent: f64,
    /// Their first purchase.
    pub first_purchase: DateTime<Utc>,
    /// Their last purchase.
    pub last_purchase: DateTime<Utc>,
}

impl From<&CustomerActivity> for LoyalCustomerBody {
    fn from(entry: &CustomerActivity) -> LoyalCustomerBody {
        LoyalCustomerBody {
            user_id: entry.customer.to_string(),
            purchase_count: entry.purchase_count,
            total_spent: amount(entry.total_spent),
            first_purchase: entry.first_purchase,
            last_purchase: entry.last_purchase,
        }
    }
}

/// `GET /analytics/loyal-customers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoyalCustomersBody {
    /// How many customers are loyal, whatever the page.
    pub loyal_customers_count: u64,
    /// The loyal customers (a page of them when `limit` or `cursor` was given).
    pub loyal_customers: Vec<LoyalCustomerBody>,
    /// The cursor of the next page; present only when paging and more may follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// How many bytes of a streamed list are gathered before they are sent: large enough that a
/// chunk is one write, small enough that a list of any length takes little memory.
const STREAM_CHUNK_BYTES: usize = 64 * 1024;

impl LoyalCustomersBody {
    /// The body for a page of loyal customers.
    pub fn new(loyal: &LoyalCustomers, next_cursor: Option<String>) -> LoyalCustomersBody {
        LoyalCustomersBody {
            loyal_customers_count: loyal.count,
            loyal_customers: loyal
                .customers
                .iter()
                .map(LoyalCustomerBody::from)
                .collect(),
            next_cursor,
        }
    }

    /// The whole list as JSON chunks, written as the store reads its entries: the same JSON as
    /// this body without a cursor, so that a list of any length takes bounded memory. An error
    /// of the store ends the chunks with it.
    pub fn chunks(
        loyal: LoyalStream,
    ) -> impl Stream<Item = Result<Bytes, icash_core::Error>> + Send + 'static {
        // The body's own serialization, cut before its empty list closes, makes the opening, so
        // that the field names are written only in this type.
        let empty = serde_json::to_vec(&LoyalCustomersBody {
            loyal_customers_count: loyal.count,
            loyal_customers: Vec::new(),
            next_cursor: None,
        })
        .expect("the body serializes");
        let opening = empty
            .strip_suffix(b"]}")
            .expect("the list is the body's last field")
            .to_vec();
        let mut entries = loyal.customers;
        try_stream! {
            let mut buffer = opening;
            let mut first = true;
            while let Some(entry) = entries.try_next().await? {
                if !first {
                    buffer.push(b',');
                }
                first = false;
                serde_json::to_writer(&mut buffer, &LoyalCustomerBody::from(&entry))
                    .expect("an entry serializes");
                if buffer.len() >= STREAM_CHUNK_BYTES {
                    yield Bytes::from(std::mem::take(&mut buffer));
                }
            }
            buffer.extend_from_slice(b"]}");
            yield Bytes::from(buffer);
        }
    }
}

/// A ranked product.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopProductBody {
    /// The product.
    pub product_id: i32,
    /// Its name.
    pub product_name: String,
    /// Units sold, less the units returned: what the products are ranked by.
    pub units_sold: u64,
    /// Units returned by refunds (already taken from `units_sold`).
    pub units_returned: u64,
    /// Its competition rank (1, 1, 3).
    pub rank: u32,
}

impl From<&RankedProduct> for TopProductBody {
    fn from(ranked: &RankedProduct) -> TopProductBody {
        TopProductBody {
            product_id: ranked.sales.product.get(),
            product_name: ranked.sales.name.clone(),
            // A ranked product's net units are positive.
            units_sold: u64::try_from(ranked.sales.net_units()).unwrap_or(0),
            units_returned: ranked.sales.units_returned,
            rank: ranked.rank,
        }
    }
}

/// `GET /analytics/top-products`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopProductsBody {
    /// Every product ranked 3 or better.
    pub top_products: Vec<TopProductBody>,
}

/// A branch's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct BranchBody {
    /// The branch.
    pub supermarket_id: i32,
    /// Its purchases (voided ones count nowhere).
    pub purchase_count: u64,
    /// Their exact sum.
    pub revenue: f64,
    /// The refunds of its purchases made in the period.
    pub refunds: RefundTotalsBody,
    /// `revenue` minus the refunds' amount.
    pub net_revenue: f64,
}

impl From<&BranchStatistics> for BranchBody {
    fn from(branch: &BranchStatistics) -> BranchBody {
        BranchBody {
            supermarket_id: branch.branch.get(),
            purchase_count: branch.purchase_count,
            revenue: amount(branch.revenue),
            refunds: RefundTotalsBody::from(branch.refunds),
            net_revenue: signed_amount(branch.net_revenue()),
        }
    }
}

/// How many refunds were made, and what they paid back.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundTotalsBody {
    /// How many refunds.
    pub count: u64,
    /// Their exact sum.
    pub amount: f64,
}

impl From<RefundTotals> for RefundTotalsBody {
    fn from(refunds: RefundTotals) -> RefundTotalsBody {
        RefundTotalsBody {
            count: refunds.count,
            amount: amount(refunds.amount),
        }
    }
}

/// `GET /analytics/statistics`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatisticsBody {
    /// Distinct customers.
    pub unique_customers: u64,
    /// Purchases.
    pub total_purchases: u64,
    /// Their exact sum.
    pub total_revenue: f64,
    /// The refunds made in the period (by their own instant, whenever the purchase was made).
    pub refunds: RefundTotalsBody,
    /// `total_revenue` minus the refunds' amount; negative when a period's refunds pay back
    /// more than it sold.
    pub net_revenue: f64,
    /// Per branch, in id order.
    pub by_supermarket: Vec<BranchBody>,
}

impl From<&Statistics> for StatisticsBody {
    fn from(statistics: &Statistics) -> StatisticsBody {
        StatisticsBody {
            unique_customers: statistics.unique_customers,
            total_purchases: statistics.total_purchases,
            total_revenue: amount(statistics.total_revenue),
            refunds: RefundTotalsBody::from(statistics.refunds),
            net_revenue: signed_amount(statistics.net_revenue()),
            by_supermarket: statistics.by_branch.iter().map(BranchBody::from).collect(),
        }
    }
}

/// `GET /dashboard`: each part shaped as the endpoint of the same name.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardBody {
    /// Distinct customers.
    pub unique_customers: u64,
    /// How many customers are loyal.
    pub loyal_customers_count: u64,
    /// The first ten loyal customers.
    pub loyal_customers: Vec<LoyalCustomerBody>,
    /// Every product ranked 3 or better.
    pub top_products: Vec<TopProductBody>,
    /// The chain's figures.
    pub statistics: StatisticsBody,
}

impl From<&Dashboard> for DashboardBody {
    fn from(dashboard: &Dashboard) -> DashboardBody {
        DashboardBody {
            unique_customers: dashboard.unique_customers,
            loyal_customers_count: dashboard.loyal_customers.count,
            loyal_customers: dashboard
                .loyal_customers
                .customers
                .iter()
                .map(LoyalCustomerBody::from)
                .collect(),
            top_products: dashboard
                .top_products
                .iter()
                .map(TopProductBody::from)
                .collect(),
            statistics: StatisticsBody::from(&dashboard.statistics),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use icash_core::CustomerId;
    use rust_decimal::Decimal;

    use futures::stream::{self, StreamExt};

    use super::*;

    fn activity(n: u64) -> CustomerActivity {
        let at = Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap();
        CustomerActivity {
            customer: CustomerId::random(),
            purchase_count: 10_000 - n,
            total_spent: Money::new(Decimal::new(1_234_567 - n as i64, 2)).unwrap(),
            first_purchase: at,
            last_purchase: at + chrono::Duration::seconds(n as i64),
        }
    }

    async fn streamed(loyal: LoyalStream) -> (usize, Vec<Result<Bytes, icash_core::Error>>) {
        let chunks: Vec<_> = LoyalCustomersBody::chunks(loyal).collect().await;
        (chunks.len(), chunks)
    }

    /// Lists shorter and longer than a chunk come out as the body's own JSON, whole.
    #[tokio::test]
    async fn a_streamed_list_is_the_body_without_a_cursor() {
        for entries in [0, 1, 2, 3_000] {
            let loyal = LoyalCustomers {
                count: entries as u64 + 7,
                customers: (0..entries as u64).map(activity).collect(),
            };
            let expected = serde_json::to_value(LoyalCustomersBody::new(&loyal, None)).unwrap();
            let (count, chunks) = streamed(LoyalStream::gathered(loyal)).await;
            let bytes: Vec<u8> = chunks
                .into_iter()
                .flat_map(|chunk| chunk.unwrap().to_vec())
                .collect();
            let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(parsed, expected, "{entries} entries");
            if entries == 3_000 {
                assert!(count > 3, "{} bytes in {count} chunks", bytes.len());
            }
        }
    }

    /// A store error ends the chunks with that error, after what was read before it.
    #[tokio::test]
    async fn a_store_error_ends_the_chunks_with_it() {
        let entries = (0..2_000)
            .map(|n| Ok(activity(n)))
            .chain([Err(icash_core::Error::internal("the connection broke"))]);
        let loyal = LoyalStream {
            count: 5_000,
            customers: stream::iter(entries).boxed(),
        };
        let (_, chunks) = streamed(loyal).await;
        let (last, sent) = chunks.split_last().unwrap();
        assert!(last.is_err(), "the last item is the error");
        assert!(!sent.is_empty() && sent.iter().all(Result::is_ok));
        let bytes: Vec<u8> = sent
            .iter()
            .flat_map(|c| c.as_ref().unwrap().to_vec())
            .collect();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&bytes).is_err(),
            "never a complete body"
        );
    }
}

/// The administration endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminEndpoints {
    /// Creating an API key.
    pub create_key: &'static str,
    /// Listing the API keys.
    pub keys: &'static str,
    /// Revoking an API key.
    pub revoke_key: &'static str,
    /// The audit trail.
    pub audit: &'static str,
    /// The server's metrics, in Prometheus's text format (when the host keeps them).
    pub metrics: &'static str,
}

/// A key's role, as clients write it.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// A cash register of one branch.
    Till,
    /// The manager of one branch, or of every branch.
    Manager,
    /// Reads every analytic; records nothing.
    Analyst,
    /// Everything, keys included.
    Admin,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Role {
        match role {
            RoleName::Till => Role::Till,
            RoleName::Manager => Role::Manager,
            RoleName::Analyst => Role::Analyst,
            RoleName::Admin => Role::Admin,
        }
    }
}

impl From<Role> for RoleName {
    fn from(role: Role) -> RoleName {
        match role {
            Role::Till => RoleName::Till,
            Role::Manager => RoleName::Manager,
            Role::Analyst => RoleName::Analyst,
            Role::Admin => RoleName::Admin,
        }
    }
}

/// `GET /whoami`: the key a request is made with and what it may do.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"auth": "required", "name": "branch-2-till-7", "role": "till",
    "supermarket_id": 2, "may": {"record_purchases": true, "read_receipts": true, "refund": false,
    "void": false, "change_prices": false, "read_analytics": false, "read_chain_analytics": false,
    "list_customers": false, "manage_keys": false}}))]
pub struct WhoAmIBody {
    /// `required` when the server asks for keys (without one, nothing else is named and
    /// nothing allowed), `off` when it asks for none (and allows everything).
    #[schema(pattern = "^(required|off)$")]
    pub auth: &'static str,
    /// The key's name; `null` without a key.
    pub name: Option<String>,
    /// The key's role; `null` without a key.
    pub role: Option<RoleName>,
    /// The one branch the key covers; `null` for a key of every branch, or without a key.
    #[schema(minimum = 1, maximum = 2147483647)]
    pub supermarket_id: Option<i32>,
    /// What the key may do at its branches.
    pub may: Permissions,
}

/// What a key may do at the branches it covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Permissions {
    /// Record purchases (`POST /cash-register/purchase` and the batch).
    pub record_purchases: bool,
    /// Read receipts.
    pub read_receipts: bool,
    /// Refund purchases.
    pub refund: bool,
    /// Void purchases.
    pub void: bool,
    /// Change the catalog: products and their prices.
    pub change_prices: bool,
    /// Read the analytics and dashboard of its branches.
    pub read_analytics: bool,
    /// Read the analytics and dashboard of the whole chain.
    pub read_chain_analytics: bool,
    /// List the customers.
    pub list_customers: bool,
    /// Manage API keys and read the audit trail.
    pub manage_keys: bool,
}

impl Permissions {
    /// Nothing: what a request without a key may do where keys are required.
    pub fn none() -> Permissions {
        Permissions {
            record_purchases: false,
            read_receipts: false,
            refund: false,
            void: false,
            change_prices: false,
            read_analytics: false,
            read_chain_analytics: false,
            list_customers: false,
            manage_keys: false,
        }
    }

    /// What is allowed with authentication off: everything but the keys, which an open server
    /// does not manage.
    pub fn open() -> Permissions {
        Permissions {
            record_purchases: true,
            read_receipts: true,
            refund: true,
            void: true,
            change_prices: true,
            read_analytics: true,
            read_chain_analytics: true,
            list_customers: true,
            manage_keys: false,
        }
    }
}

/// `POST /admin/keys`: the key to create. Fields a client adds are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "a key object with name and role")]
#[schema(example = json!({"name": "branch-2-till-7", "role": "till", "supermarket_id": 2}))]
pub struct NewKeyRequest {
    /// A unique name: 1 to 64 letters, digits, '.', '_' or '-'.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// What the key is for.
    pub role: RoleName,
    /// The branch of a till (required) or of a manager (every branch without it); none for an
    /// analyst or an admin.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub supermarket_id: Option<i32>,
}

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyBody {
    /// Its id.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// Its role.
    pub role: RoleName,
    /// Its branch; `null` for every branch.
    pub supermarket_id: Option<i32>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; `null` while it is active.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&KeyInfo> for KeyBody {
    fn from(info: &KeyInfo) -> KeyBody {
        KeyBody {
            id: info.id.get(),
            name: info.name.to_string(),
            role: info.role.into(),
            supermarket_id: info.scope.branch().map(|branch| branch.get()),
            created_at: info.created_at,
            revoked_at: info.revoked_at,
        }
    }
}

/// A key just created, with its secret: the only answer that ever shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyBody {
    /// The secret, to send as `Authorization: Bearer <api_key>`; shown only here.
    pub api_key: String,
    /// The key.
    pub key: KeyBody,
}

/// One change of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryBody {
    /// The entry's id; later entries have greater ids.
    pub id: i64,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// The name of the key that made it; `null` for the system (the first key, the command
    /// line).
    pub actor: Option<String>,
    /// What kind of change: `key.created`, `key.revoked`, `product.added`, `price.changed` or
    /// `product.retired`.
    pub kind: String,
    /// What it changed, such as a key's name.
    pub target: String,
    /// Its particulars, in a few words.
    pub details: String,
    /// The address it came from, when it came over the network.
    pub client: Option<String>,
}

impl From<&AuditEntry> for AuditEntryBody {
    fn from(entry: &AuditEntry) -> AuditEntryBody {
        AuditEntryBody {
            id: entry.id.get(),
            at: entry.at,
            actor: entry.actor.as_ref().map(|actor| actor.name.to_string()),
            kind: entry.kind.to_string(),
            target: entry.target.clone(),
            details: entry.details.clone(),
            client: entry.client.map(|client| client.to_string()),
        }
    }
}

/// A page of the audit trail, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageBody {
    /// The entries.
    pub entries: Vec<AuditEntryBody>,
    /// The `after` of the next page, when the page is full and older entries may follow.
    pub next_after: Option<i64>,
}

// Refunds, voids and the receipt that shows them.

/// `POST /cash-register/purchases/{id}/refunds`: which products to refund. Fields a client
/// adds are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "a refund object, with items or without (everything not yet refunded)")]
#[schema(example = json!({"items": [{"product_id": 3}]}))]
pub struct RefundRequest {
    /// The products to refund, one unit each; without it, every line not yet refunded.
    #[serde(default, deserialize_with = "some_objects")]
    #[schema(schema_with = refund_items)]
    pub items: Option<Vec<ItemRequest>>,
}

/// The schema of a refund's items: those of a purchase, each a product of the purchase.
fn refund_items() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name("ItemRequest"))
        .min_items(Some(1))
        .max_items(Some(MAX_ITEMS))
        .unique_items(true)
        .description(Some(format!(
            "The products to refund, one unit each: 1 to {MAX_ITEMS} items, no `product_id` \
             twice; each must be on the purchase and not refunded yet (409 otherwise)."
        )))
        .build()
}

/// [`objects`], present.
fn some_objects<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    objects(deserializer).map(Some)
}

/// `POST /cash-register/purchases/{id}/void`: why the purchase is voided.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "a void object with reason")]
#[schema(example = json!({"reason": "rung up twice"}))]
pub struct VoidRequest {
    /// Why: 1 to 500 characters, not only blanks.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// A refund: the lines handed back at the prices they were sold at.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundBody {
    /// Its id.
    pub refund_id: i64,
    /// The purchase refunded.
    pub purchase_id: i64,
    /// The lines handed back, in the purchase's order, at the unit prices of the sale.
    pub items: Vec<LineBody>,
    /// The exact sum of the lines.
    pub amount: f64,
    /// When it was made.
    pub refunded_at: DateTime<Utc>,
    /// The name of the API key that made it; `null` without authentication.
    pub refunded_by: Option<String>,
}

impl From<&Refund> for RefundBody {
    fn from(refund: &Refund) -> RefundBody {
        RefundBody {
            refund_id: refund.id().get(),
            purchase_id: refund.purchase().get(),
            items: refund.lines().iter().map(LineBody::from).collect(),
            amount: amount(refund.amount()),
            refunded_at: refund.at(),
            refunded_by: refund.refunded_by().map(ToString::to_string),
        }
    }
}

/// A branch of the chain with its business day.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "name": "Tel Aviv", "time_zone": "Asia/Jerusalem", "day_starts_at": "04:00"}))]
pub struct BranchSettingsBody {
    /// Its id, the `supermarket_id` of its purchases.
    pub id: i32,
    /// Its name.
    pub name: String,
    /// The IANA time zone its business days are reckoned in.
    pub time_zone: String,
    /// The local time of day its business day starts, `HH:MM`.
    pub day_starts_at: String,
}

impl From<&Branch> for BranchSettingsBody {
    fn from(branch: &Branch) -> BranchSettingsBody {
        BranchSettingsBody {
            id: branch.id().get(),
            name: branch.name().to_owned(),
            time_zone: branch.time_zone().to_string(),
            day_starts_at: branch.day_starts_at().to_string(),
        }
    }
}

/// Whether a purchase counts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusName {
    /// It counts, refunds aside.
    Completed,
    /// It was voided, and counts nowhere.
    Voided,
}

/// Who voided a purchase, when and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoidBody {
    /// When.
    pub voided_at: DateTime<Utc>,
    /// The name of the API key that voided it; `null` without authentication.
    pub voided_by: Option<String>,
    /// Why.
    #[schema(max_length = 500)]
    pub reason: String,
}

/// `GET /cash-register/purchases/{id}`: the purchase as recorded, its status and its refunds.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptBody {
    /// The purchase, as the purchase endpoint returned it.
    #[serde(flatten)]
    pub purchase: PurchaseBody,
    /// `completed`, or `voided` (then `void` says who, when and why).
    pub status: StatusName,
    /// The void, when the purchase is voided; `null` otherwise.
    pub void: Option<VoidBody>,
    /// Its refunds, oldest first; empty when none.
    pub refunds: Vec<RefundBody>,
}

impl From<&Receipt> for ReceiptBody {
    fn from(receipt: &Receipt) -> ReceiptBody {
        let (status, void) = match &receipt.status {
            PurchaseStatus::Completed => (StatusName::Completed, None),
            PurchaseStatus::Voided(void) => (
                StatusName::Voided,
                Some(VoidBody {
                    voided_at: void.at,
                    voided_by: void.voided_by.as_ref().map(ToString::to_string),
                    reason: void.reason.to_string(),
                }),
            ),
        };
        ReceiptBody {
            purchase: PurchaseBody::from(&receipt.purchase),
            status,
            void,
            refunds: receipt.refunds.iter().map(RefundBody::from).collect(),
        }
    }
}

const _: () = assert!(MAX_REASON_LENGTH == 500, "the schema's bounds say 500");

/// `PUT /branches/{id}`: a branch's settings, every one given. Fields a client adds are
/// ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(expecting = "a branch object with name, time_zone and day_starts_at")]
#[schema(example = json!({"name": "Tel Aviv", "time_zone": "Asia/Jerusalem", "day_starts_at": "04:00"}))]
pub struct BranchRequest {
    /// The branch's name: 1 to 100 characters, not only spaces, and no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// An IANA time zone name, such as `Europe/Paris` or `UTC`; an unknown one is a 400. The
    /// document lists every name the server knows.
    #[schema(example = "Asia/Jerusalem")]
    pub time_zone: String,
    /// The local time of day the business day starts, `HH:MM` from `00:00` to `23:59`: `04:00`
    /// for a store open past midnight.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "04:00")]
    pub day_starts_at: String,
}
