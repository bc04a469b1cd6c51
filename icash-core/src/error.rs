//! The errors of the domain, split by who is at fault.
//!
//! A client's mistake ([`Error::Invalid`], [`Error::NotFound`], [`Error::Conflict`]) carries a
//! sentence meant for that client. An infrastructure failure ([`Error::Store`]) has a generic
//! message; its cause is kept as [`std::error::Error::source`] for the logs and never shown to a
//! client.

use crate::access::Forbidden;
use crate::actor::Role;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::id::{BranchId, ProductId};

/// A boxed cause, kept for the logs.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result of every fallible operation of the domain and its stores.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Any error an icash operation returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or names things that do not exist; nothing was written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The request names something that the store does not have.
    #[error("{what} {id} was not found")]
    NotFound {
        /// What kind of thing was looked for ("purchase", ...).
        what: &'static str,
        /// The id that was looked for, as the client gave it.
        id: String,
    },
    /// The request contradicts what the store holds; nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// The actor's role may not do what the request asks; nothing was done.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The store could not do its part; the client's request may well be fine.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A failure of the infrastructure behind a store, never the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached now (connection refused, pool timeout, shutting down);
    /// the same request may succeed later.
    #[error("the store is unavailable")]
    Unavailable(#[source] Cause),
    /// Every connection to the store is in use and the request waited its limit for one: the
    /// store works but is saturated (overload, not an outage); the same request is likely to
    /// succeed in a moment.
    #[error("the store is busy")]
    Busy(#[source] Cause),
    /// The store cut the operation short because it ran past the store's time limit for one
    /// (such as PostgreSQL's statement timeout); nothing was written.
    #[error("the store's operation ran past its time limit")]
    TimedOut(#[source] Cause),
    /// The store failed in an unexpected way.
    #[error("the store failed")]
    Internal(#[source] Cause),
}

/// A client's input that breaks a rule of the domain. Its `Display` is the sentence shown to
/// the client, naming the field or value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// An amount of money that is negative, fractional below a cent, or not a number.
    #[error("amount {amount} is not valid: {reason}")]
    InvalidAmount {
        /// The amount as it was given.
        amount: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An id that is zero or negative.
    #[error("{what} {value} is not valid: ids are positive whole numbers")]
    InvalidId {
        /// Which id ("product id", "supermarket id", ...).
        what: &'static str,
        /// The value as it was given.
        value: String,
    },
    /// A branch code that is not `SMKT` followed by a positive number.
    #[error(
        "branch code {0:?} is not valid: expected SMKT followed by the branch number, such as SMKT001"
    )]
    InvalidBranchCode(String),
    /// A customer id that is neither `"new"` nor a UUID.
    #[error("user_id {0:?} is not valid: expected \"new\" or a customer UUID")]
    InvalidCustomerId(String),
    /// A purchase without items.
    #[error("items must contain at least one product")]
    NoItems,
    /// A purchase with more items than a purchase may have.
    #[error("items has {count} products, more than the {max} a purchase may have")]
    TooManyItems {
        /// How many items were sent.
        count: usize,
        /// The most a purchase may have.
        max: usize,
    },
    /// A purchase naming one product twice: a customer buys at most one unit of each.
    #[error(
        "product {0} appears more than once in items: a purchase has at most one unit of each product"
    )]
    DuplicateProduct(ProductId),
    /// A purchase naming a product that is not in the catalog.
    #[error("product {0} does not exist")]
    UnknownProduct(ProductId),
    /// A purchase at a branch the chain does not have.
    #[error("supermarket {0} does not exist")]
    UnknownBranch(BranchId),
    /// A product without a name.
    #[error("a product name must not be empty")]
    EmptyProductName,
    /// An idempotency key that is empty, too long, or not visible ASCII.
    #[error("the idempotency key must be 1 to 255 visible ASCII characters, such as a UUID")]
    InvalidIdempotencyKey,
    /// A role's name that is none of the roles.
    #[error("role {0:?} is not valid: expected till, manager, analyst or admin")]
    InvalidRole(String),
    /// A till key without its branch.
    #[error("a till key needs a branch")]
    TillWithoutBranch,
    /// An analyst or admin key given a branch.
    #[error("a key of role {0} covers every branch and takes none")]
    RoleTakesNoBranch(Role),
    /// A key name that is empty, too long or has other characters than the allowed ones.
    #[error("key name {0:?} is not valid: expected 1 to 64 letters, digits, '.', '_' or '-'")]
    InvalidKeyName(String),
    /// A secret given from outside that is too short, too long or not visible ASCII. The
    /// sentence never repeats the secret.
    #[error("an API key must be 32 to 256 visible ASCII characters")]
    InvalidSecret,
    /// A kind of audit entry that icash does not know.
    #[error("audit entry kind {0:?} is not valid")]
    InvalidAuditKind(String),
    /// A page size out of its bounds.
    #[error("limit {limit} is not valid: expected 1 to {max}")]
    InvalidPageLimit {
        /// The size asked for.
        limit: u32,
        /// The largest page.
        max: u32,
    },
    /// A void's reason that is blank or too long.
    #[error(
        "field `reason` is not valid: expected 1 to {max} characters saying why the purchase is voided"
    )]
    InvalidVoidReason {
        /// The most characters a reason may have.
        max: usize,
    },
    /// A till's purchase id that is not a UUID.
    #[error("client_id {0:?} is not valid: expected a UUID")]
    InvalidClientId(String),
    /// A sale of a product retired at or before the sale's time.
    #[error("product {product} was retired at {}: it can no longer be sold", rfc3339(.retired_at))]
    ProductRetired {
        /// The product.
        product: ProductId,
        /// When it was retired.
        retired_at: DateTime<Utc>,
    },
    /// A sale made before its product was added to the catalog.
    #[error(
        "product {product} was not in the catalog yet at {}: it was added at {}",
        rfc3339(.sold_at),
        rfc3339(.added_at)
    )]
    ProductNotYetAdded {
        /// The product.
        product: ProductId,
        /// When the sale was made.
        sold_at: DateTime<Utc>,
        /// When the product was added.
        added_at: DateTime<Utc>,
    },
    /// A sale time further ahead of the server's clock than a till's clock may be.
    #[error(
        "purchased_at {} is in the future: a sale time may be at most {skew_minutes} minutes ahead of the server's clock",
        rfc3339(.at)
    )]
    SaleInTheFuture {
        /// The sale time sent.
        at: DateTime<Utc>,
        /// How far ahead a till's clock may be.
        skew_minutes: i64,
    },
    /// A sale time older than the window in which offline sales are taken.
    #[error(
        "purchased_at {} is older than the {days} days within which a till may hand in a sale it made offline",
        rfc3339(.at)
    )]
    SaleTooOld {
        /// The sale time sent.
        at: DateTime<Utc>,
        /// The window, in days.
        days: u32,
    },
    /// A price set to take effect before its product was in the catalog.
    #[error(
        "effective_from {} is before product {product} was added to the catalog at {}",
        rfc3339(.effective_from),
        rfc3339(.added_at)
    )]
    PriceBeforeAdded {
        /// The product.
        product: ProductId,
        /// When the price was to take effect.
        effective_from: DateTime<Utc>,
        /// When the product was added.
        added_at: DateTime<Utc>,
    },
    /// A batch of purchases that is empty or longer than a batch may be.
    #[error("purchases has {count} purchases: a batch holds 1 to {max}")]
    BatchSize {
        /// How many purchases were sent.
        count: usize,
        /// The most a batch may hold.
        max: usize,
    },
    /// A time zone that is not an IANA zone name.
    #[error(
        "time_zone {0:?} is not valid: expected an IANA time zone name, such as Europe/Paris, Asia/Jerusalem or UTC"
    )]
    UnknownTimeZone(String),
    /// The start of a business day that is not a time of day in whole minutes.
    #[error(
        "day_starts_at {0:?} is not valid: expected a time of day written HH:MM, from 00:00 to 23:59, such as 04:00"
    )]
    InvalidDayStart(String),
    /// A branch's name that is blank, too long, or has a control character.
    #[error(
        "field `name` is not valid: expected 1 to {max} characters naming the branch, without control characters"
    )]
    InvalidBranchName {
        /// The most characters a name may have.
        max: usize,
    },
    /// Business dates whose last day is before their first.
    #[error("the dates are empty: `to_date` must not be before `from_date`")]
    EmptyDates,
    /// A period given both as business dates and as instants.
    #[error(
        "`date`, `from_date` and `to_date` name business days, and `from` and `to` instants: give one or the other, not both"
    )]
    DatesAndInstants,
    /// Business dates that a branch's clocks skipped whole, so that it had no such day.
    #[error("branch {0} had no business day on these dates: its clocks skipped them")]
    SkippedDates(BranchId),
    /// A single business date given with a range of dates.
    #[error("`date` is one business day: give it alone, or `from_date` and `to_date` instead")]
    DateAndDateRange,
    /// A granularity of the sales over time that is none of those offered.
    #[error("granularity {0:?} is not valid: expected hour, day, week or month")]
    UnknownGranularity(String),
    /// Sales over time asked for more periods than a series may have.
    #[error(
        "the series would have {points} {unit}s, more than the {max} it may have: ask for fewer dates or a coarser granularity"
    )]
    SeriesTooLong {
        /// How many periods the dates hold at the granularity asked.
        points: usize,
        /// The granularity's name.
        unit: &'static str,
        /// The most a series may have.
        max: usize,
    },
    /// An analytics filter whose period ends before it starts.
    #[error("the period is empty: `from` must be before `to`")]
    EmptyPeriod,

    /// A consistency token the store cannot have made.
    #[error(
        "the icash-consistency header is not valid: send back the token a write's answer carried"
    )]
    InvalidConsistency,
}

/// An instant as the API writes it, so that a sentence quotes it as the client sent it.
fn rfc3339(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Error {
    /// Wraps an unexpected infrastructure failure.
    pub fn internal(cause: impl Into<Cause>) -> Error {
        Error::Store(StoreError::Internal(cause.into()))
    }

    /// Wraps a failure to reach the store.
    pub fn unavailable(cause: impl Into<Cause>) -> Error {
        Error::Store(StoreError::Unavailable(cause.into()))
    }

    /// Wraps a wait for a connection that ran out because every one is in use.
    pub fn busy(cause: impl Into<Cause>) -> Error {
        Error::Store(StoreError::Busy(cause.into()))
    }

    /// Wraps an operation the store cut short at its time limit.
    pub fn timed_out(cause: impl Into<Cause>) -> Error {
        Error::Store(StoreError::TimedOut(cause.into()))
    }
}
