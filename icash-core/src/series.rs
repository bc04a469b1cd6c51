//! Sales over time: a branch's (or the chain's) figures per hour, day, week or month of its
//! business dates, every period of the dates listed, those that sold nothing as zeros.
//!
//! Periods are local to each branch: a day is a business day in the branch's zone from its
//! start of day, a week the seven business days from a Monday (ISO 8601 weeks), a month the
//! business days of a calendar month, and an hour an hour of a business day, counted from its
//! start. Chain-wide, each branch's periods are reckoned in its own zone and the figures of
//! periods with the same local start are added. A week or month that the dates cut holds only
//! the dates asked.
//!
//! Days, weeks and months add up the branches' business days
//! ([`Analytics::business_day_sales`](crate::Analytics::business_day_sales)), at most one row
//! per branch and date. Hours are read in bins that fit the branch's hours
//! ([`Analytics::binned_sales`](crate::Analytics::binned_sales)): whole UTC hours when the
//! branch's hours start on them, finer bins (30 or 15 minutes in Asia/Kolkata or
//! Asia/Kathmandu) otherwise. An hour is labelled with its local start; on the day the clocks
//! go back, the hour they repeat has one label, and its row holds both.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};

use crate::analytics::Filter;
use crate::business_day::BusinessDates;
use crate::error::{Result, ValidationError};
use crate::id::BranchId;
use crate::product::Branch;
use crate::sales::{BinWidth, SalesFigures};
use crate::store::Store;

/// The most periods a series may have: a leap year's hours.
pub const MAX_POINTS: usize = 366 * 24;

/// How long each period of a series is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// An hour of a business day, from its start.
    Hour,
    /// A business day.
    Day,
    /// Seven business days from a Monday.
    Week,
    /// The business days of a calendar month.
    Month,
}

impl Granularity {
    /// The granularity's name, as a query gives it.
    pub fn name(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    /// The first date of the day, week or month that holds `date`.
    fn period_of(self, date: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Hour | Granularity::Day => date,
            Granularity::Week => {
                date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
            }
            Granularity::Month => date.with_day(1).expect("every month has a first day"),
        }
    }

    /// How many periods the dates from `from` to `to` (inclusive) hold; an hour counts 24 to
    /// the day.
    fn periods(self, from: NaiveDate, to: NaiveDate) -> usize {
        let days = |from: NaiveDate, to: NaiveDate| (to - from).num_days() + 1;
        let periods = match self {
            Granularity::Hour => days(from, to).saturating_mul(24),
            Granularity::Day => days(from, to),
            Granularity::Week => days(self.period_of(from), self.period_of(to)) / 7 + 1,
            Granularity::Month => {
                let months =
                    |date: NaiveDate| i64::from(date.year()) * 12 + i64::from(date.month0());
                months(to) - months(from) + 1
            }
        };
        usize::try_from(periods).unwrap_or(0)
    }
}

impl FromStr for Granularity {
    type Err = ValidationError;

    fn from_str(text: &str) -> Result<Granularity, ValidationError> {
        match text {
            "hour" => Ok(Granularity::Hour),
            "day" => Ok(Granularity::Day),
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            other => Err(ValidationError::UnknownGranularity(other.to_owned())),
        }
    }
}

impl fmt::Display for Granularity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The series asked for: a branch or (`None`) the chain, a granularity, and the business dates
/// from `from` to `to`, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesQuery {
    branch: Option<BranchId>,
    granularity: Granularity,
    from: NaiveDate,
    to: NaiveDate,
}

impl SeriesQuery {
    /// A series; refused when `to` is before `from`, or when the dates hold more than
    /// [`MAX_POINTS`] periods.
    pub fn new(
        branch: Option<BranchId>,
        granularity: Granularity,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<SeriesQuery, ValidationError> {
        if to < from {
            return Err(ValidationError::EmptyDates);
        }
        let points = granularity.periods(from, to);
        if points > MAX_POINTS {
            return Err(ValidationError::SeriesTooLong {
                points,
                unit: granularity.name(),
                max: MAX_POINTS,
            });
        }
        Ok(SeriesQuery {
            branch,
            granularity,
            from,
            to,
        })
    }

    /// The branch, if only one.
    pub fn branch(&self) -> Option<BranchId> {
        self.branch
    }

    /// The granularity.
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }

    /// The business dates.
    pub fn dates(&self) -> BusinessDates {
        BusinessDates::new(Some(self.from), Some(self.to)).expect("checked when made")
    }
}

/// Where a period starts, in its branch's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeriodStart {
    /// The first business date of a day, week or month.
    Date(NaiveDate),
    /// The local date and time an hour starts at.
    Time(NaiveDateTime),
}

/// One period of a series and what it sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesPoint {
    /// Where it starts.
    pub start: PeriodStart,
    /// What it sold.
    pub figures: SalesFigures,
}

/// The branches a series covers, as the chain reckons their days.
async fn covered(store: &dyn Store, branch: Option<BranchId>) -> Result<Vec<Branch>> {
    let branches = store.branches().await?;
    Ok(match branch {
        None => branches,
        Some(id) => vec![
            branches
                .into_iter()
                .find(|branch| branch.id() == id)
                .unwrap_or_else(|| Branch::new(id)),
        ],
    })
}

/// The series `query` asks for, its periods in order.
pub async fn sales_series(store: &dyn Store, query: &SeriesQuery) -> Result<Vec<SeriesPoint>> {
    let points: BTreeMap<PeriodStart, SalesFigures> = match query.granularity {
        Granularity::Hour => {
            let mut points = BTreeMap::new();
            for branch in covered(store, query.branch).await? {
                for (start, figures) in hours(store, &branch, &query.dates()).await? {
                    let local = branch.time_zone().local_of_instant(start);
                    let point = points.entry(PeriodStart::Time(local)).or_default();
                    *point = *point + figures;
                }
            }
            points
        }
        granularity => {
            let period = |date| PeriodStart::Date(granularity.period_of(date));
            let mut points: BTreeMap<PeriodStart, SalesFigures> = query
                .from
                .iter_days()
                .take_while(|date| *date <= query.to)
                .map(|date| (period(date), SalesFigures::default()))
                .collect();
            for day in store
                .business_day_sales(query.branch, query.from, query.to)
                .await?
            {
                let point = points.entry(period(day.date)).or_default();
                *point = *point + day.figures;
            }
            points
        }
    };
    Ok(points
        .into_iter()
        .map(|(start, figures)| SeriesPoint { start, figures })
        .collect())
}

/// The hours of `branch`'s business `dates`, each from its first instant, counted from the
/// start of each business day; the last hour of a day whose length is not whole hours (Lord
/// Howe's half-hour change) is shorter.
pub(crate) fn hour_starts(branch: &Branch, dates: &BusinessDates) -> Vec<DateTime<Utc>> {
    let mut starts = Vec::new();
    let Some(first) = dates.from() else {
        return starts;
    };
    let last = dates.to().unwrap_or(first);
    for date in first.iter_days().take_while(|date| *date <= last) {
        let (Some(start), Some(end)) = BusinessDates::day(date).instants(branch) else {
            continue;
        };
        let mut hour = start;
        while hour < end {
            starts.push(hour);
            hour += Duration::hours(1);
        }
    }
    starts
}

/// What each of `branch`'s hours of `dates` sold, every hour listed, in order.
pub(crate) async fn hours(
    store: &dyn Store,
    branch: &Branch,
    dates: &BusinessDates,
) -> Result<Vec<(DateTime<Utc>, SalesFigures)>> {
    let starts = hour_starts(branch, dates);
    let (from, to) = dates.instants(branch);
    let (Some(from), Some(to)) = (from, to) else {
        return Ok(Vec::new());
    };
    let Ok(filter) = Filter::new(Some(branch.id()), Some(from), Some(to)) else {
        // The clocks skipped the dates whole: the branch had no hour in them.
        return Ok(Vec::new());
    };
    let width = BinWidth::fitting(starts.iter().copied().chain([to]));
    let mut figures = vec![SalesFigures::default(); starts.len()];
    for bin in store.binned_sales(&filter, width).await? {
        let hour = starts.partition_point(|start| *start <= bin.start);
        if let Some(slot) = hour.checked_sub(1).and_then(|hour| figures.get_mut(hour)) {
            *slot = *slot + bin.figures;
        }
    }
    Ok(starts.into_iter().zip(figures).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn granularities_are_named_and_anything_else_is_refused() {
        for name in ["hour", "day", "week", "month"] {
            assert_eq!(name.parse::<Granularity>().unwrap().to_string(), name);
        }
        let error = "Day".parse::<Granularity>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "granularity \"Day\" is not valid: expected hour, day, week or month"
        );
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2025-05-01 was a Thursday.
        assert_eq!(
            Granularity::Week.period_of(date("2025-05-01")),
            date("2025-04-28")
        );
        assert_eq!(
            Granularity::Week.period_of(date("2025-04-28")),
            date("2025-04-28")
        );
        assert_eq!(
            Granularity::Month.period_of(date("2025-05-31")),
            date("2025-05-01")
        );
    }

    #[test]
    fn a_series_has_at_most_a_leap_years_hours() {
        let ask = |granularity, from: &str, to: &str| {
            SeriesQuery::new(None, granularity, date(from), date(to))
        };
        assert!(ask(Granularity::Hour, "2024-01-01", "2024-12-31").is_ok());
        let error = ask(Granularity::Hour, "2024-01-01", "2025-01-01").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the series would have 8808 hours, more than the 8784 it may have: ask for fewer dates or a coarser granularity"
        );
        assert!(ask(Granularity::Day, "2000-01-01", "2024-01-17").is_ok());
        assert!(ask(Granularity::Day, "2000-01-01", "2025-01-01").is_err());
        assert!(ask(Granularity::Month, "0001-01-01", "9999-12-31").is_err());
        assert!(ask(Granularity::Month, "1500-01-01", "2200-12-31").is_ok());
        assert_eq!(
            ask(Granularity::Day, "2025-05-02", "2025-05-01"),
            Err(ValidationError::EmptyDates)
        );
        // A Sunday to the next Monday: two weeks.
        assert_eq!(
            Granularity::Week.periods(date("2025-05-04"), date("2025-05-05")),
            2
        );
    }
}
