//! Query parameters: the analytics filter, paging, and their cursors.
//!
//! Every parameter arrives as text and is checked here, so that a bad value gets a sentence
//! naming the parameter. Unknown parameters are ignored (browsers add cache busters); a known
//! one given twice is refused.

use chrono::{DateTime, NaiveDate, Utc};
use icash_core::analytics::{CustomerPurchases, LoyalCursor};
use icash_core::period::{DatedFilter, Period};
use icash_core::series::{Granularity, SeriesQuery};
use icash_core::{BranchId, BusinessDates, CustomerId, Filter, Money, ValidationError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::error::ApiError;

/// The most entries one page may have.
pub const MAX_LIMIT: u32 = 1_000;

/// Parses a raw query string into one of the parameter sets.
pub(crate) fn parse<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw)
        .map_err(|error| ApiError::BadRequest(format!("the query string is not valid: {error}")))
}

fn bad(name: &str, expected: &str, value: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "query parameter `{name}` must be {expected}, not {value:?}"
    ))
}

/// A whole number in `range`.
pub(crate) fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    name: &str,
    value: &str,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ApiError> {
    let expected = format!("a whole number from {} to {}", range.start(), range.end());
    value
        .trim()
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| bad(name, &expected, value))
}

/// Which purchases an analytic looks at.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Only the purchases made at this branch.
    #[param(value_type = Option<i32>, minimum = 1, maximum = 2147483647)]
    supermarket_id: Option<String>,
    /// Only the purchases made at or after this RFC 3339 instant, such as 2025-05-01T00:00:00Z.
    /// With `to`, it must be before `to`: an empty period is refused.
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Only the purchases made before this RFC 3339 instant; with `from`, after `from`.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// One business day, such as 2025-05-01: each branch's day in its own time zone from its
    /// own start of day (see `GET /branches`). Not with `from_date`, `to_date`, `from` or `to`.
    #[param(value_type = Option<String>, format = Date)]
    date: Option<String>,
    /// From this business day (inclusive), such as 2025-05-01, in each branch's zone. Not with
    /// `from` or `to`.
    #[param(value_type = Option<String>, format = Date)]
    from_date: Option<String>,
    /// To this business day (inclusive), such as 2025-05-31, in each branch's zone; not before
    /// `from_date`. Not with `from` or `to`.
    #[param(value_type = Option<String>, format = Date)]
    to_date: Option<String>,
}

impl FilterParams {
    /// The period these parameters describe: instants, or business dates.
    pub(crate) fn period(&self) -> Result<Period, ApiError> {
        let dated = self.date.is_some() || self.from_date.is_some() || self.to_date.is_some();
        if !dated {
            return Ok(Period::Instants(self.filter()?));
        }
        if self.from.is_some() || self.to.is_some() {
            return Err(ValidationError::DatesAndInstants.into());
        }
        let date = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|value| business_date(name, value))
                .transpose()
        };
        let dates = match date("date", &self.date)? {
            Some(_) if self.from_date.is_some() || self.to_date.is_some() => {
                return Err(ValidationError::DateAndDateRange.into());
            }
            Some(day) => BusinessDates::day(day),
            None => BusinessDates::new(
                date("from_date", &self.from_date)?,
                date("to_date", &self.to_date)?,
            )?,
        };
        Ok(Period::Dates(DatedFilter {
            branch: self.branch()?,
            dates,
        }))
    }

    /// The branch asked for, if any.
    fn branch(&self) -> Result<Option<BranchId>, ApiError> {
        self.supermarket_id
            .as_deref()
            .map(|value| branch_id("supermarket_id", value))
            .transpose()
    }

    /// The instant filter these parameters describe.
    fn filter(&self) -> Result<Filter, ApiError> {
        let branch = self.branch()?;
        let from = self
            .from
            .as_deref()
            .map(|value| instant("from", value))
            .transpose()?;
        let to = self
            .to
            .as_deref()
            .map(|value| instant("to", value))
            .transpose()?;
        Filter::new(branch, from, to).map_err(ApiError::from)
    }
}

/// The sales over time asked for.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// Only this branch; without it, the chain, each branch's periods reckoned in its own zone
    /// and those with the same local start added up.
    #[param(value_type = Option<i32>, minimum = 1, maximum = 2147483647)]
    supermarket_id: Option<String>,
    /// How long each period is: `hour`, `day`, `week` (seven days from a Monday, ISO 8601) or
    /// `month`.
    #[param(required = true, value_type = String, pattern = "^(hour|day|week|month)$")]
    granularity: Option<String>,
    /// The first business day (inclusive), such as 2025-05-01, in each branch's zone.
    #[param(required = true, value_type = String, format = Date)]
    from_date: Option<String>,
    /// The last business day (inclusive), such as 2025-05-31; not before `from_date`. The
    /// series has at most 8784 periods (a leap year's hours).
    #[param(required = true, value_type = String, format = Date)]
    to_date: Option<String>,
}

impl SeriesParams {
    /// The series these parameters ask for.
    pub(crate) fn query(&self) -> Result<SeriesQuery, ApiError> {
        let branch = self
            .supermarket_id
            .as_deref()
            .map(|value| branch_id("supermarket_id", value))
            .transpose()?;
        let granularity = required("granularity", &self.granularity)?
            .parse::<Granularity>()
            .map_err(ApiError::from)?;
        let from = business_date("from_date", required("from_date", &self.from_date)?)?;
        let to = business_date("to_date", required("to_date", &self.to_date)?)?;
        Ok(SeriesQuery::new(branch, granularity, from, to)?)
    }
}

/// Which lines of the day's report a CSV export holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReportLines {
    /// A line per product.
    Products,
    /// A line per hour.
    Hours,
    /// A line per till.
    Tills,
}

/// The day's report asked for.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// The branch.
    #[param(required = true, value_type = i32, minimum = 1, maximum = 2147483647)]
    supermarket_id: Option<String>,
    /// The business day, such as 2025-05-01, in the branch's zone from its start of day.
    #[param(required = true, value_type = String, format = Date)]
    date: Option<String>,
    /// Which lines a CSV export holds: `products` (the default), `hours` or `tills`. JSON holds
    /// them all.
    #[param(value_type = Option<String>, pattern = "^(products|hours|tills)$")]
    lines: Option<String>,
}

impl ReportParams {
    /// The branch and the business date.
    pub(crate) fn day(&self) -> Result<(BranchId, NaiveDate), ApiError> {
        let branch = branch_id(
            "supermarket_id",
            required("supermarket_id", &self.supermarket_id)?,
        )?;
        let date = business_date("date", required("date", &self.date)?)?;
        Ok((branch, date))
    }

    /// The lines a CSV export holds.
    pub(crate) fn lines(&self) -> Result<ReportLines, ApiError> {
        match self.lines.as_deref() {
            None | Some("products") => Ok(ReportLines::Products),
            Some("hours") => Ok(ReportLines::Hours),
            Some("tills") => Ok(ReportLines::Tills),
            Some(other) => Err(bad("lines", "products, hours or tills", other)),
        }
    }
}

/// A parameter that must be given.
fn required<'a>(name: &str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest(format!("query parameter `{name}` is required")))
}

/// A branch's id.
fn branch_id(name: &str, value: &str) -> Result<BranchId, ApiError> {
    number(name, value, 1..=i32::MAX).map(|id| BranchId::new(id).expect("positive"))
}

/// A calendar date written `YYYY-MM-DD`.
fn business_date(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    let trimmed = value.trim();
    let well_formed = trimmed.len() == 10
        && trimmed.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    well_formed
        .then(|| NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| bad(name, "a date written YYYY-MM-DD, such as 2025-05-01", value))
}

/// An RFC 3339 instant. A `+` of an offset that was not percent-encoded arrives as a space, so
/// a space is read back as `+`.
fn instant(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    let value = value.trim();
    DateTime::parse_from_rfc3339(value)
        .or_else(|_| DateTime::parse_from_rfc3339(&value.replace(' ', "+")))
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| {
            bad(
                name,
                "an RFC 3339 instant such as 2025-05-01T00:00:00Z",
                value,
            )
        })
}

/// Paging of a long list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// At most this many entries (1 to 1000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// Where to start: the cursor the previous page handed out. Each list writes its own
    /// cursors, so each operation describes this parameter with its own pattern.
    #[param(ignore)]
    cursor: Option<String>,
}

impl PageParams {
    /// Whether the client asked for paging.
    pub(crate) fn is_paging(&self) -> bool {
        self.limit.is_some() || self.cursor.is_some()
    }

    /// The limit asked for, if any.
    pub(crate) fn limit(&self) -> Result<Option<u32>, ApiError> {
        self.limit
            .as_deref()
            .map(|value| number("limit", value, 1..=MAX_LIMIT))
            .transpose()
    }

    /// The loyal customers cursor, if any.
    pub(crate) fn loyal_cursor(&self) -> Result<Option<LoyalCursor>, ApiError> {
        self.cursor.as_deref().map(decode_loyal_cursor).transpose()
    }

    /// The customers list cursor, if any.
    pub(crate) fn customers_cursor(&self) -> Result<Option<CustomerPurchases>, ApiError> {
        self.cursor
            .as_deref()
            .map(decode_customers_cursor)
            .transpose()
    }
}

/// The fewest purchases that make a customer loyal.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoyalParams {
    /// The fewest purchases that make a customer loyal (default 3).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2147483647)]
    min_purchases: Option<String>,
}

impl LoyalParams {
    /// The threshold asked for, or the default.
    pub(crate) fn min_purchases(&self) -> Result<u32, ApiError> {
        self.min_purchases.as_deref().map_or(
            Ok(icash_core::analytics::DEFAULT_LOYAL_MIN_PURCHASES),
            |value| number("min_purchases", value, 1..=i32::MAX as u32),
        )
    }
}

/// How far down the ranking the top products go.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankParams {
    /// Every product ranked this or better is listed (default 3).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 2147483647)]
    max_rank: Option<String>,
}

impl RankParams {
    /// The rank asked for, or the default.
    pub(crate) fn max_rank(&self) -> Result<u32, ApiError> {
        self.max_rank.as_deref().map_or(
            Ok(icash_core::analytics::DEFAULT_TOP_PRODUCTS_MAX_RANK),
            |value| number("max_rank", value, 1..=i32::MAX as u32),
        )
    }
}

fn invalid_cursor(value: &str) -> ApiError {
    bad("cursor", "a cursor this API returned", value)
}

/// A loyal customers cursor: `<purchase count>_<total spent>_<customer>`.
pub(crate) fn encode_loyal_cursor(cursor: &LoyalCursor) -> String {
    format!(
        "{}_{}_{}",
        cursor.purchase_count,
        cursor.total_spent,
        cursor.customer.uuid().simple()
    )
}

fn decode_loyal_cursor(value: &str) -> Result<LoyalCursor, ApiError> {
    let parts: Vec<&str> = value.split('_').collect();
    let [count, spent, customer] = parts[..] else {
        return Err(invalid_cursor(value));
    };
    Ok(LoyalCursor {
        purchase_count: count.parse().map_err(|_| invalid_cursor(value))?,
        total_spent: spent.parse::<Money>().map_err(|_| invalid_cursor(value))?,
        customer: customer
            .parse::<CustomerId>()
            .map_err(|_| invalid_cursor(value))?,
    })
}

/// A customers list cursor: `<purchase count>_<customer>`.
pub(crate) fn encode_customers_cursor(entry: &CustomerPurchases) -> String {
    format!(
        "{}_{}",
        entry.purchase_count,
        entry.customer.uuid().simple()
    )
}

fn decode_customers_cursor(value: &str) -> Result<CustomerPurchases, ApiError> {
    let (count, customer) = value.split_once('_').ok_or_else(|| invalid_cursor(value))?;
    Ok(CustomerPurchases {
        purchase_count: count.parse().map_err(|_| invalid_cursor(value))?,
        customer: customer
            .parse::<CustomerId>()
            .map_err(|_| invalid_cursor(value))?,
    })
}

/// The `Link` header's value for the next page: the same path and parameters, with the cursor.
pub(crate) fn next_link(path: &str, raw_query: &str, cursor: &str) -> String {
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw_query).unwrap_or_default();
    pairs.retain(|(name, _)| name != "cursor");
    pairs.push(("cursor".to_owned(), cursor.to_owned()));
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    format!("<{path}?{query}>; rel=\"next\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(raw: &str) -> Result<Filter, String> {
        parse::<FilterParams>(raw)
            .and_then(|params| params.filter())
            .map_err(|error| error.status_and_message().1)
    }

    #[test]
    fn filters_are_read_and_checked() {
        let parsed =
            filter("supermarket_id=2&from=2025-05-01T00:00:00Z&to=2025-05-02T00:00:00%2B02:00")
                .unwrap();
        assert_eq!(parsed.branch().map(BranchId::get), Some(2));
        assert_eq!(
            parsed.to().unwrap().to_rfc3339(),
            "2025-05-01T22:00:00+00:00"
        );
        assert_eq!(filter("").unwrap(), Filter::ALL);
        assert!(
            filter("from=2025-05-01T00:00:00+02:00").is_ok(),
            "an unencoded + is read back"
        );
        assert!(
            filter("x=1&_=123").is_ok(),
            "unknown parameters are ignored"
        );
        assert!(
            filter("supermarket_id=0")
                .unwrap_err()
                .contains("`supermarket_id` must be a whole number")
        );
        assert!(
            filter("supermarket_id=abc")
                .unwrap_err()
                .contains("supermarket_id")
        );
        assert!(
            filter("supermarket_id=99999999999")
                .unwrap_err()
                .contains("supermarket_id")
        );
        assert!(
            filter("from=yesterday")
                .unwrap_err()
                .contains("`from` must be an RFC 3339 instant")
        );
        assert!(
            filter("from=2025-05-02T00:00:00Z&to=2025-05-01T00:00:00Z")
                .unwrap_err()
                .contains("period is empty")
        );
        assert!(
            filter("from=2025-05-01T00:00:00Z&from=2025-05-02T00:00:00Z")
                .unwrap_err()
                .contains("duplicate field")
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let loyal = LoyalCursor {
            purchase_count: 4,
            total_spent: "12.5".parse().unwrap(),
            customer: "01e1e159-8045-43c2-88dd-5682b18bd680".parse().unwrap(),
        };
        assert_eq!(
            decode_loyal_cursor(&encode_loyal_cursor(&loyal)).unwrap(),
            loyal
        );
        let entry = CustomerPurchases {
            purchase_count: 3,
            customer: loyal.customer,
        };
        assert_eq!(
            decode_customers_cursor(&encode_customers_cursor(&entry)).unwrap(),
            entry
        );
        for garbage in [
            "",
            "_",
            "1_2",
            "x_1.0_01e1e159804543c288dd5682b18bd680",
            "1_-1_01e1e159804543c288dd5682b18bd680",
        ] {
            assert!(decode_loyal_cursor(garbage).is_err(), "{garbage}");
        }
        assert!(decode_customers_cursor("3_nope").is_err());
    }

    #[test]
    fn the_next_link_keeps_the_other_parameters() {
        let link = next_link(
            "/analytics/loyal-customers",
            "limit=2&cursor=old&supermarket_id=1",
            "4_12.50_abc",
        );
        assert_eq!(
            link,
            "</analytics/loyal-customers?limit=2&supermarket_id=1&cursor=4_12.50_abc>; rel=\"next\""
        );
    }
}
