//! The units a set of customers is kept for, and how a period is covered by them.

use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};

/// An instant; `None` is unbounded on its side of a range.
pub(crate) type Bound = Option<DateTime<Utc>>;

/// A span of time a set of customers is kept for: the UTC hour, day or month, as the aggregates'
/// `icash_hour`, `icash_day` and `icash_month` cut them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Unit {
    Hour,
    Day,
    Month,
}

impl Unit {
    /// Every unit, from the shortest.
    pub(crate) const ALL: [Unit; 3] = [Unit::Hour, Unit::Day, Unit::Month];

    /// The unit's name in `customer_sets.unit`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Month => "month",
        }
    }

    /// The first instant of the unit that holds `at`.
    pub(crate) fn start(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let seconds = match self {
            Unit::Hour => 3600,
            Unit::Day => 86_400,
            Unit::Month => {
                let day = Unit::Day.start(at).date_naive();
                let first = NaiveDate::from_ymd_opt(
                    chrono::Datelike::year(&day),
                    chrono::Datelike::month(&day),
                    1,
                )
                .expect("the first of a month exists");
                return Utc.from_utc_datetime(&first.and_time(chrono::NaiveTime::MIN));
            }
        };
        let start = at.timestamp().div_euclid(seconds) * seconds;
        DateTime::from_timestamp(start, 0).expect("the start of an instant's unit is an instant")
    }

    /// The first instant of the unit after the one that starts at `start`.
    pub(crate) fn next(self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Unit::Hour => start + chrono::TimeDelta::hours(1),
            Unit::Day => start + chrono::TimeDelta::days(1),
            Unit::Month => start
                .checked_add_months(Months::new(1))
                .expect("a month after an instant PostgreSQL keeps is an instant"),
        }
    }

    /// The first boundary of a unit at or after `at`.
    fn ceil(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let start = self.start(at);
        if start == at { start } else { self.next(start) }
    }
}

/// A range of instants, `[from, to)`: either end may be unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) from: Bound,
    pub(crate) to: Bound,
}

impl Span {
    /// No instant (PostgreSQL reads `[epoch, epoch)` as an empty range like any other).
    const EMPTY: Span = Span {
        from: Some(DateTime::UNIX_EPOCH),
        to: Some(DateTime::UNIX_EPOCH),
    };

    /// `[from, to)`, or [`Span::EMPTY`] when it holds no instant.
    fn new(from: Bound, to: Bound) -> Span {
        match (from, to) {
            (Some(from), Some(to)) if from >= to => Span::EMPTY,
            _ => Span { from, to },
        }
    }

    /// Whether `at` is inside.
    #[cfg(test)]
    fn holds(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| from <= at) && self.to.is_none_or(|to| at < to)
    }
}

/// A period `[from, to)` as whole UTC months, days and hours, each read from the sets kept for
/// it, and the partial hours at its edges, read from the purchases. Each level is used only for
/// what the level above cannot cover, so the period's length costs at most twelve months a year
/// plus 60 days and 46 hours, and its edges less than two hours of purchases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cover {
    /// Read from the purchases: before the first whole hour, after the last.
    pub(crate) edges: [Span; 2],
    /// The units whose start is in each span: hours before the first whole day and after the
    /// last, days before the first whole month and after the last, and the whole months.
    pub(crate) hours: [Span; 2],
    pub(crate) days: [Span; 2],
    pub(crate) months: Span,
}

impl Cover {
    /// The cover of `[from, to)`.
    pub(crate) fn new(from: Bound, to: Bound) -> Cover {
        let mut cover = Cover {
            edges: [Span::EMPTY; 2],
            hours: [Span::EMPTY; 2],
            days: [Span::EMPTY; 2],
            months: Span::EMPTY,
        };
        let Some((from, to, edges)) = split(Unit::Hour, from, to) else {
            cover.edges[0] = Span::new(from, to);
            return cover;
        };
        cover.edges = edges;
        let Some((from, to, hours)) = split(Unit::Day, from, to) else {
            cover.hours[0] = Span::new(from, to);
            return cover;
        };
        cover.hours = hours;
        let Some((from, to, days)) = split(Unit::Month, from, to) else {
            cover.days[0] = Span::new(from, to);
            return cover;
        };
        cover.days = days;
        cover.months = Span::new(from, to);
        cover
    }
}

/// `[from, to)` split at `unit`'s boundaries: the bounds of the whole units inside it, and the
/// parts before the first and after the last. `None` when no whole unit fits.
fn split(unit: Unit, from: Bound, to: Bound) -> Option<(Bound, Bound, [Span; 2])> {
    let inner_from = from.map(|at| unit.ceil(at));
    let inner_to = to.map(|at| unit.start(at));
    if let (Some(inner_from), Some(inner_to)) = (inner_from, inner_to)
        && inner_from >= inner_to
    {
        return None;
    }
    let before = from.map_or(Span::EMPTY, |from| Span::new(Some(from), inner_from));
    let after = to.map_or(Span::EMPTY, |to| Span::new(inner_to, Some(to)));
    Some((inner_from, inner_to, [before, after]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// An instant within a few years, to the second, or unbounded.
    fn bound() -> impl Strategy<Value = Bound> {
        prop_oneof![
            1 => Just(None),
            8 => (1_700_000_000i64..1_800_000_000).prop_map(|s| DateTime::from_timestamp(s, 0)),
            // On or near boundaries, where the cuts happen.
            4 => (0i64..40, 0i64..3, -1i64..=1).prop_map(|(days, hours, s)| {
                DateTime::from_timestamp(1_735_689_600 + days * 86_400 + hours * 3600 + s, 0)
            }),
        ]
    }

    proptest! {
        /// Every instant of the period is read exactly once, by an edge or by the set of the
        /// unit that holds it, and no instant outside it is read.
        #[test]
        fn a_cover_reads_each_instant_of_its_period_once(
            from in bound(),
            to in bound(),
            offsets in prop::collection::vec(-5_000_000i64..5_000_000, 64),
        ) {
            let cover = Cover::new(from, to);
            let period = Span { from, to };
            let anchor = from.or(to).unwrap_or(DateTime::UNIX_EPOCH);
            for offset in offsets {
                let at = anchor + chrono::TimeDelta::seconds(offset);
                let reads = cover.edges.iter().filter(|span| span.holds(at)).count()
                    + cover.hours.iter().filter(|span| span.holds(Unit::Hour.start(at))).count()
                    + cover.days.iter().filter(|span| span.holds(Unit::Day.start(at))).count()
                    + usize::from(cover.months.holds(Unit::Month.start(at)));
                prop_assert_eq!(reads, usize::from(period.holds(at)), "{:?} in {:?}", at, cover);
            }
        }
    }

    #[test]
    fn a_year_from_ten_oclock_is_eleven_months_and_a_few_days_and_hours() {
        let at = |text: &str| Some(text.parse::<DateTime<Utc>>().unwrap());
        let cover = Cover::new(at("2025-01-01T10:30:00Z"), at("2026-01-01T10:30:00Z"));
        assert_eq!(
            cover.edges[0],
            Span::new(at("2025-01-01T10:30:00Z"), at("2025-01-01T11:00:00Z"))
        );
        assert_eq!(
            cover.hours[0],
            Span::new(at("2025-01-01T11:00:00Z"), at("2025-01-02T00:00:00Z"))
        );
        assert_eq!(
            cover.days[0],
            Span::new(at("2025-01-02T00:00:00Z"), at("2025-02-01T00:00:00Z"))
        );
        assert_eq!(
            cover.months,
            Span::new(at("2025-02-01T00:00:00Z"), at("2026-01-01T00:00:00Z"))
        );
        assert_eq!(cover.days[1], Span::EMPTY);
        assert_eq!(
            cover.hours[1],
            Span::new(at("2026-01-01T00:00:00Z"), at("2026-01-01T10:00:00Z"))
        );
        assert_eq!(
            cover.edges[1],
            Span::new(at("2026-01-01T10:00:00Z"), at("2026-01-01T10:30:00Z"))
        );
    }
}
