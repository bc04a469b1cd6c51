//! The sales over time and the day's report.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use icash_core::analytics::ProductSales;
use icash_core::daily_report::{DailyReport, HourLine, TillLine};
use icash_core::sales::SalesFigures;
use icash_core::series::{PeriodStart, SeriesPoint};
use serde::Serialize;
use utoipa::ToSchema;

use super::{RefundTotalsBody, amount, signed_amount};

/// A period's start as the API writes it: a date (`2025-05-01`) for a day, week or month, a
/// local date and time without offset (`2025-05-01T09:00:00`) for an hour.
pub(crate) fn period_start(start: &PeriodStart) -> String {
    match start {
        PeriodStart::Date(date) => date.to_string(),
        PeriodStart::Time(time) => time.format("%Y-%m-%dT%H:%M:%S").to_string(),
    }
}

/// One period of `GET /analytics/sales`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesPointBody {
    /// Where the period starts in its branch's zone: a date for a day, a week (from its Monday)
    /// or a month (from its first), a local date and time such as `2025-05-01T09:00:00` for an
    /// hour.
    pub period_start: String,
    /// Purchases made in it and not voided.
    pub purchases: u64,
    /// Their exact sum.
    pub revenue: f64,
    /// `revenue` minus the refunds made in it (whenever the purchase was made); may be negative.
    pub net_revenue: f64,
    /// Units those purchases sold.
    pub units: u64,
}

impl From<&SeriesPoint> for SalesPointBody {
    fn from(point: &SeriesPoint) -> SalesPointBody {
        SalesPointBody {
            period_start: period_start(&point.start),
            purchases: point.figures.purchases,
            revenue: amount(point.figures.revenue),
            net_revenue: signed_amount(point.figures.net_revenue()),
            units: point.figures.units,
        }
    }
}

/// A product's line of the day's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportProductBody {
    /// The product.
    pub product_id: i32,
    /// Its name.
    pub product_name: String,
    /// Units sold by the day's purchases not voided.
    pub units_sold: u64,
    /// Units returned by the day's refunds.
    pub units_returned: u64,
}

impl From<&ProductSales> for ReportProductBody {
    fn from(sales: &ProductSales) -> ReportProductBody {
        ReportProductBody {
            product_id: sales.product.get(),
            product_name: sales.name.clone(),
            units_sold: sales.units_sold,
            units_returned: sales.units_returned,
        }
    }
}

/// An hour's line of the day's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportHourBody {
    /// The hour's first instant at the branch's offset then, such as
    /// `2025-11-02T01:00:00-05:00` (the second 01:00 of a day the clocks went back).
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: DateTime<FixedOffset>,
    /// Purchases made in it and not voided.
    pub purchases: u64,
    /// Their exact sum.
    pub revenue: f64,
    /// Units they sold.
    pub units: u64,
    /// The refunds made in it.
    pub refunds: RefundTotalsBody,
    /// `revenue` minus the refunds' amount.
    pub net_revenue: f64,
}

impl From<&HourLine> for ReportHourBody {
    fn from(hour: &HourLine) -> ReportHourBody {
        ReportHourBody {
            starts_at: hour.start,
            purchases: hour.figures.purchases,
            revenue: amount(hour.figures.revenue),
            units: hour.figures.units,
            refunds: RefundTotalsBody::from(hour.figures.refunds),
            net_revenue: signed_amount(hour.figures.net_revenue()),
        }
    }
}

/// A till's line of the day's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportTillBody {
    /// The name of the key that recorded the purchases; null for those recorded without one
    /// (loaded from files, or with authentication off).
    pub recorded_by: Option<String>,
    /// Its purchases not voided.
    pub purchases: u64,
    /// Their exact sum.
    pub revenue: f64,
    /// Units they sold.
    pub units: u64,
    /// Its first sale.
    pub first_sale: DateTime<Utc>,
    /// Its last sale.
    pub last_sale: DateTime<Utc>,
}

impl From<&TillLine> for ReportTillBody {
    fn from(till: &TillLine) -> ReportTillBody {
        ReportTillBody {
            recorded_by: till
                .recorded_by
                .as_ref()
                .map(|name| name.as_str().to_owned()),
            purchases: till.figures.purchases,
            revenue: amount(till.figures.revenue),
            units: till.figures.units,
            first_sale: till.first_sale,
            last_sale: till.last_sale,
        }
    }
}

/// The voided purchases of the day.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoidTotalsBody {
    /// How many of the day's purchases were voided.
    pub count: u64,
    /// Their totals' exact sum.
    pub amount: f64,
}

/// `GET /analytics/daily-report`: what one branch did on one business day. Its purchases,
/// revenue, refunds and net revenue are those of `/analytics/statistics` with the same
/// `supermarket_id` and `date`; the hours' and the tills' lines add up to them.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyReportBody {
    /// The branch.
    pub supermarket_id: i32,
    /// The business date.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// The branch's IANA time zone.
    pub time_zone: String,
    /// The local time its business day starts, `HH:MM`.
    pub day_starts_at: String,
    /// The day's first instant.
    pub starts_at: DateTime<Utc>,
    /// The next day's first instant (the day lasts 23 or 25 hours when the clocks change).
    pub ends_at: DateTime<Utc>,
    /// Purchases made that day and not voided.
    pub purchases: u64,
    /// Their exact sum: the gross revenue.
    pub revenue: f64,
    /// Units they sold.
    pub units: u64,
    /// The refunds made that day (whenever the purchase was made).
    pub refunds: RefundTotalsBody,
    /// `revenue` minus the refunds' amount; may be negative.
    pub net_revenue: f64,
    /// The day's purchases that were voided (they count nowhere else).
    pub voids: VoidTotalsBody,
    /// The first sale, or null on a day without one.
    pub first_sale: Option<DateTime<Utc>>,
    /// The last sale, or null on a day without one.
    pub last_sale: Option<DateTime<Utc>>,
    /// Units sold and returned per product that sold or returned any, in product id order.
    pub products: Vec<ReportProductBody>,
    /// Every hour of the business day, from its start: 24, or 23 and 25 on the days the clocks
    /// change.
    pub hours: Vec<ReportHourBody>,
    /// Per till (the key that recorded the purchases), the purchases without a key first.
    pub tills: Vec<ReportTillBody>,
}

impl From<&DailyReport> for DailyReportBody {
    fn from(report: &DailyReport) -> DailyReportBody {
        let figures: &SalesFigures = &report.figures;
        DailyReportBody {
            supermarket_id: report.branch.id().get(),
            date: report.date,
            time_zone: report.branch.time_zone().to_string(),
            day_starts_at: report.branch.day_starts_at().to_string(),
            starts_at: report.starts_at,
            ends_at: report.ends_at,
            purchases: figures.purchases,
            revenue: amount(figures.revenue),
            units: figures.units,
            refunds: RefundTotalsBody::from(figures.refunds),
            net_revenue: signed_amount(figures.net_revenue()),
            voids: VoidTotalsBody {
                count: report.voids.count,
                amount: amount(report.voids.amount),
            },
            first_sale: report.first_sale,
            last_sale: report.last_sale,
            products: report
                .products
                .iter()
                .map(ReportProductBody::from)
                .collect(),
            hours: report.hours.iter().map(ReportHourBody::from).collect(),
            tills: report.tills.iter().map(ReportTillBody::from).collect(),
        }
    }
}
