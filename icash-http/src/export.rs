//! CSV exports of the analytic lists (the sales over time and the day's report's lines
//! included): asked with `?format=csv` or `Accept: text/csv`, written with a header row, money to
//! two decimals and dates and instants in ISO 8601, streamed when the list is long, and named for
//! what they hold and when.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use icash_core::Money;
use icash_core::analytics::{CustomerActivity, CustomerPurchases, LoyalStream, RankedProduct};
use icash_core::daily_report::DailyReport;
use icash_core::period::Period;
use icash_core::series::SeriesPoint;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use warp::http::HeaderValue;
use warp::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderMap};
use warp::reply::Response;

use crate::context::json_chunks;
use crate::dto::period_start;
use crate::error::ApiError;
use crate::query::ReportLines;

/// The media type of an export.
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";

/// How many bytes of a streamed export are gathered before they are sent.
const CHUNK_BYTES: usize = 64 * 1024;

/// How a list is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// JSON, the default.
    Json,
    /// CSV with a header row.
    Csv,
}

/// The format asked for in the query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParams {
    /// `csv` for a CSV file (as `Accept: text/csv` asks too), `json` (the default) for JSON.
    #[param(value_type = Option<String>, pattern = "^(json|csv)$")]
    format: Option<String>,
}

impl Format {
    /// The format a request asks for: `format` in its query, else the first of JSON and CSV
    /// that its `Accept` header names, else JSON.
    pub(crate) fn asked(params: &FormatParams, headers: &HeaderMap) -> Result<Format, ApiError> {
        match params.format.as_deref() {
            Some("csv") => return Ok(Format::Csv),
            Some("json") => return Ok(Format::Json),
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "query parameter `format` must be csv or json, not {other:?}"
                )));
            }
            None => {}
        }
        let accepted = headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|range| {
                range
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .find_map(|media| match media.as_str() {
                "text/csv" => Some(Format::Csv),
                "application/json" | "application/*" | "*/*" => Some(Format::Json),
                _ => None,
            });
        Ok(accepted.unwrap_or(Format::Json))
    }
}

/// The file name of an export of `what` under `period` (or of the whole history, as of
/// `now`): `loyal-customers_branch-2_2025-05-01.csv`.
pub(crate) fn file_name(what: &str, period: Option<&Period>, now: DateTime<Utc>) -> String {
    let mut name = what.to_owned();
    if let Some(branch) = period.and_then(Period::branch) {
        name.push_str(&format!("_branch-{branch}"));
    }
    let when = match period {
        Some(Period::Dates(dated)) => match (dated.dates.from(), dated.dates.to()) {
            (Some(from), Some(to)) if from == to => from.to_string(),
            (from, to) => format!(
                "{}_to_{}",
                from.map_or("start".to_owned(), |d| d.to_string()),
                to.map_or("now".to_owned(), |d| d.to_string())
            ),
        },
        Some(Period::Instants(filter)) if filter.from().is_some() || filter.to().is_some() => {
            let stamp = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H%M%SZ").to_string();
            format!(
                "{}_to_{}",
                filter.from().map_or("start".to_owned(), stamp),
                filter.to().map_or("now".to_owned(), stamp)
            )
        }
        _ => format!("as-of_{}", now.format("%Y-%m-%d")),
    };
    format!("{name}_{when}.csv")
}

/// Money as CSV writes it: two decimals.
fn money(amount: Money) -> String {
    format!("{:.2}", amount.amount())
}

/// An instant as CSV writes it: ISO 8601 in UTC.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A row of the loyal customers' export.
#[derive(Serialize)]
struct LoyalCsvRow {
    user_id: String,
    purchase_count: u64,
    total_spent: String,
    first_purchase: String,
    last_purchase: String,
}

impl From<&CustomerActivity> for LoyalCsvRow {
    fn from(entry: &CustomerActivity) -> LoyalCsvRow {
        LoyalCsvRow {
            user_id: entry.customer.to_string(),
            purchase_count: entry.purchase_count,
            total_spent: money(entry.total_spent),
            first_purchase: instant(entry.first_purchase),
            last_purchase: instant(entry.last_purchase),
        }
    }
}

/// A row of the top products' export.
#[derive(Serialize)]
struct TopProductCsvRow {
    rank: u32,
    product_id: i32,
    product_name: String,
    units_sold: u64,
}

/// A row of the customers' export.
#[derive(Serialize)]
struct CustomerCsvRow {
    user_id: String,
    purchase_count: u64,
}

/// A CSV writer into memory, which writes no header of its own: each export writes its header
/// row itself, so that an empty list still has one.
fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new())
}

/// `rows` as CSV text, `header` first.
fn write_rows<R: Serialize>(header: &[&str], rows: impl IntoIterator<Item = R>) -> Vec<u8> {
    let mut writer = writer();
    writer.write_record(header).expect("a header writes");
    for row in rows {
        writer.serialize(row).expect("a row writes");
    }
    writer.into_inner().expect("a buffer never fails")
}

const LOYAL_HEADER: [&str; 5] = [
    "user_id",
    "purchase_count",
    "total_spent",
    "first_purchase",
    "last_purchase",
];

/// A CSV response named `file`.
pub(crate) fn csv_response(body: Vec<u8>, file: &str) -> Response {
    let mut response = Response::new(body.into());
    set_csv_headers(&mut response, file);
    response
}

fn set_csv_headers(response: &mut Response, file: &str) {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_CSV));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(CONTENT_DISPOSITION, disposition);
    }
}

/// A page of loyal customers as CSV.
pub(crate) fn loyal_page(entries: &[CustomerActivity]) -> Vec<u8> {
    write_rows(&LOYAL_HEADER, entries.iter().map(LoyalCsvRow::from))
}

/// The whole loyal list as CSV, written as the store reads it.
pub(crate) fn loyal_stream(loyal: LoyalStream, file: &str) -> Response {
    let mut entries = loyal.customers;
    let chunks = async_stream::try_stream! {
        let mut writer = writer();
        writer.write_record(LOYAL_HEADER).expect("a header writes");
        while let Some(entry) = entries.try_next().await? {
            writer.serialize(LoyalCsvRow::from(&entry)).expect("a row writes");
            // Into the memory the writer writes to, so that its length counts every row.
            writer.flush().expect("a buffer never fails");
            if writer.get_ref().len() >= CHUNK_BYTES {
                let full = std::mem::replace(&mut writer, self::writer());
                yield Bytes::from(full.into_inner().expect("a buffer never fails"));
            }
        }
        yield Bytes::from(writer.into_inner().expect("a buffer never fails"));
    };
    let mut response = json_chunks(chunks);
    set_csv_headers(&mut response, file);
    response
}

/// The ranked products as CSV.
pub(crate) fn top_products(ranked: &[RankedProduct]) -> Vec<u8> {
    write_rows(
        &["rank", "product_id", "product_name", "units_sold"],
        ranked.iter().map(|ranked| TopProductCsvRow {
            rank: ranked.rank,
            product_id: ranked.sales.product.get(),
            product_name: ranked.sales.name.clone(),
            units_sold: ranked.sales.units_sold,
        }),
    )
}

/// The customers list as CSV.
pub(crate) fn customers(entries: &[CustomerPurchases]) -> Vec<u8> {
    write_rows(
        &["user_id", "purchase_count"],
        entries.iter().map(|entry| CustomerCsvRow {
            user_id: entry.customer.to_string(),
            purchase_count: entry.purchase_count,
        }),
    )
}

/// An exact amount that may be negative, as CSV writes it: two decimals.
fn signed(amount: Decimal) -> String {
    format!("{amount:.2}")
}

/// A row of the sales over time's export.
#[derive(Serialize)]
struct SeriesCsvRow {
    period_start: String,
    purchases: u64,
    revenue: String,
    net_revenue: String,
    units: u64,
}

/// The sales over time as CSV: a row per period, its start as the JSON writes it.
pub(crate) fn series(points: &[SeriesPoint]) -> Vec<u8> {
    write_rows(
        &[
            "period_start",
            "purchases",
            "revenue",
            "net_revenue",
            "units",
        ],
        points.iter().map(|point| SeriesCsvRow {
            period_start: period_start(&point.start),
            purchases: point.figures.purchases,
            revenue: money(point.figures.revenue),
            net_revenue: signed(point.figures.net_revenue()),
            units: point.figures.units,
        }),
    )
}

/// A row of the day's report's product lines.
#[derive(Serialize)]
struct ReportProductCsvRow {
    product_id: i32,
    product_name: String,
    units_sold: u64,
    units_returned: u64,
}

/// A row of the day's report's hour lines.
#[derive(Serialize)]
struct ReportHourCsvRow {
    starts_at: String,
    purchases: u64,
    revenue: String,
    units: u64,
    refunds: u64,
    refunded: String,
    net_revenue: String,
}

/// A row of the day's report's till lines.
#[derive(Serialize)]
struct ReportTillCsvRow {
    recorded_by: String,
    purchases: u64,
    revenue: String,
    units: u64,
    first_sale: String,
    last_sale: String,
}

/// The day's report's `lines` as CSV: its products, hours (each from its local start with its
/// offset) or tills (an empty `recorded_by` for the purchases recorded without a key).
pub(crate) fn report_lines(report: &DailyReport, lines: ReportLines) -> Vec<u8> {
    match lines {
        ReportLines::Products => write_rows(
            &["product_id", "product_name", "units_sold", "units_returned"],
            report.products.iter().map(|sales| ReportProductCsvRow {
                product_id: sales.product.get(),
                product_name: sales.name.clone(),
                units_sold: sales.units_sold,
                units_returned: sales.units_returned,
            }),
        ),
        ReportLines::Hours => write_rows(
            &[
                "starts_at",
                "purchases",
                "revenue",
                "units",
                "refunds",
                "refunded",
                "net_revenue",
            ],
            report.hours.iter().map(|hour| ReportHourCsvRow {
                starts_at: hour.start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                purchases: hour.figures.purchases,
                revenue: money(hour.figures.revenue),
                units: hour.figures.units,
                refunds: hour.figures.refunds.count,
                refunded: money(hour.figures.refunds.amount),
                net_revenue: signed(hour.figures.net_revenue()),
            }),
        ),
        ReportLines::Tills => write_rows(
            &[
                "recorded_by",
                "purchases",
                "revenue",
                "units",
                "first_sale",
                "last_sale",
            ],
            report.tills.iter().map(|till| ReportTillCsvRow {
                recorded_by: till
                    .recorded_by
                    .as_ref()
                    .map_or_else(String::new, |name| name.as_str().to_owned()),
                purchases: till.figures.purchases,
                revenue: money(till.figures.revenue),
                units: till.figures.units,
                first_sale: instant(till.first_sale),
                last_sale: instant(till.last_sale),
            }),
        ),
    }
}
