//! A branch's business day: the IANA time zone its clocks follow and the time of day its
//! business day starts, and business dates turned into each branch's instants.
//!
//! Every conversion between local times and instants goes through `chrono-tz`, so that daylight
//! saving changes and offsets that are not whole hours come out as the zone database says.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _, Timelike, Utc,
};
use chrono_tz::Tz;

use crate::error::ValidationError;
use crate::product::Branch;

/// An IANA time zone, such as `Europe/Paris` or `UTC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeZone(Tz);

impl TimeZone {
    /// Coordinated Universal Time: a branch's zone unless configured otherwise.
    pub const UTC: TimeZone = TimeZone(Tz::UTC);

    /// Every zone of the zone database this build carries, by name.
    pub fn all() -> impl Iterator<Item = TimeZone> {
        chrono_tz::TZ_VARIANTS.iter().copied().map(TimeZone)
    }

    /// The zone's IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The zone as `chrono-tz` knows it.
    pub fn tz(self) -> Tz {
        self.0
    }

    /// The instant a wall-clock time of this zone names. A time the clocks passed twice (when
    /// they went back) is the earlier instant; a time they skipped (when they went forward) is
    /// none.
    pub fn instant_of_local(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.0
            .from_local_datetime(&local)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
    }

    /// The wall-clock time of this zone at `at`.
    pub fn local_of_instant(self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.0).naive_local()
    }
}

impl Default for TimeZone {
    fn default() -> TimeZone {
        TimeZone::UTC
    }
}

impl FromStr for TimeZone {
    type Err = ValidationError;

    /// Parses an IANA zone name, exactly as the zone database spells it.
    fn from_str(text: &str) -> Result<TimeZone, ValidationError> {
        text.parse::<Tz>()
            .map(TimeZone)
            .map_err(|_| ValidationError::UnknownTimeZone(text.to_owned()))
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The time of day, in whole minutes, at which a branch's business day starts: `00:00` for a
/// day from midnight to midnight, `04:00` for a store open past midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DayStart(NaiveTime);

impl DayStart {
    /// Midnight: the start of a calendar day.
    pub const MIDNIGHT: DayStart = DayStart(NaiveTime::MIN);

    /// The start at `time`, which must fall on a whole minute.
    pub fn new(time: NaiveTime) -> Result<DayStart, ValidationError> {
        if time.second() != 0 || time.nanosecond() != 0 {
            return Err(ValidationError::InvalidDayStart(time.to_string()));
        }
        Ok(DayStart(time))
    }

    /// The time of day.
    pub fn time(self) -> NaiveTime {
        self.0
    }
}

impl Default for DayStart {
    fn default() -> DayStart {
        DayStart::MIDNIGHT
    }
}

impl FromStr for DayStart {
    type Err = ValidationError;

    /// Parses `HH:MM`, two digits each, from `00:00` to `23:59`.
    fn from_str(text: &str) -> Result<DayStart, ValidationError> {
        let invalid = || ValidationError::InvalidDayStart(text.to_owned());
        let well_formed = text.len() == 5
            && text.as_bytes()[2] == b':'
            && text
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 2 || b.is_ascii_digit());
        if !well_formed {
            return Err(invalid());
        }
        NaiveTime::parse_from_str(text, "%H:%M")
            .map(DayStart)
            .map_err(|_| invalid())
    }
}

impl fmt::Display for DayStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

/// Business dates asked for: from a date, to a date (both inclusive), either open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BusinessDates {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl BusinessDates {
    /// The business days from `from` to `to`, inclusive; `to` before `from` is refused.
    pub fn new(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<BusinessDates, ValidationError> {
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(ValidationError::EmptyDates);
        }
        Ok(BusinessDates { from, to })
    }

    /// One business day.
    pub fn day(date: NaiveDate) -> BusinessDates {
        BusinessDates {
            from: Some(date),
            to: Some(date),
        }
    }

    /// The first business day, if any.
    pub fn from(&self) -> Option<NaiveDate> {
        self.from
    }

    /// The last business day (inclusive), if any.
    pub fn to(&self) -> Option<NaiveDate> {
        self.to
    }

    /// The instants these dates cover at `branch`: from the start of its first business day
    /// (inclusive) to the start of the day after its last (exclusive), in its zone.
    pub fn instants(&self, branch: &Branch) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let starts = |date: NaiveDate| day_start(branch, date);
        (
            self.from.map(starts),
            self.to
                .map(|to| starts(to.succ_opt().unwrap_or(NaiveDate::MAX))),
        )
    }
}

/// The instant business day `date` starts at `branch`: the first instant whose local time is
/// its start of day on that date. When the clocks passed that time twice, the first; when they
/// skipped it, the first instant after the gap.
pub fn day_start(branch: &Branch, date: NaiveDate) -> DateTime<Utc> {
    let zone = branch.time_zone();
    let local = date.and_time(branch.day_starts_at().time());
    // A gap in local time is shorter than a day, and begins and ends on a whole minute: the
    // first local minute after the start that the clocks showed is where the gap ends.
    (0..=24 * 60)
        .filter_map(|minute| local.checked_add_signed(Duration::minutes(minute)))
        .find_map(|local| zone.instant_of_local(local))
        .unwrap_or_else(|| local.and_utc())
}

/// The business date `at` falls on at `branch`: the last date whose business day started at or
/// before `at` ([`day_start`]). It is the local date of `at` less the start of day, but for the
/// instants the clocks showed twice when they went back over the start of day: those after the
/// first pass through it belong to the day it started.
pub fn business_date(branch: &Branch, at: DateTime<Utc>) -> NaiveDate {
    let since_start = branch.day_starts_at().time() - NaiveTime::MIN;
    let date = (branch.time_zone().local_of_instant(at) - since_start).date();
    match date.succ_opt() {
        Some(next) if day_start(branch, next) <= at => next,
        _ => date,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn zones_are_iana_names_and_anything_else_is_refused_with_a_sentence() {
        let paris: TimeZone = "Europe/Paris".parse().unwrap();
        assert_eq!(paris.to_string(), "Europe/Paris");
        assert_eq!("UTC".parse::<TimeZone>().unwrap(), TimeZone::UTC);
        for bad in ["", "Mars/Olympus", "europe/paris ", "+02:00"] {
            let error = bad.parse::<TimeZone>().unwrap_err();
            assert!(
                error.to_string().contains("IANA time zone"),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn local_times_become_instants_across_daylight_saving_and_odd_offsets() {
        let new_york: TimeZone = "America/New_York".parse().unwrap();
        // Clocks went back at 02:00 on 2025-11-02: 01:30 happened twice, the first at EDT.
        assert_eq!(
            new_york.instant_of_local(local("2025-11-02 01:30")),
            Some("2025-11-02T05:30:00Z".parse().unwrap())
        );
        // Clocks went forward at 02:00 on 2025-03-09: 02:30 never happened.
        assert_eq!(new_york.instant_of_local(local("2025-03-09 02:30")), None);
        let kathmandu: TimeZone = "Asia/Kathmandu".parse().unwrap();
        let at = kathmandu
            .instant_of_local(local("2025-05-01 00:00"))
            .unwrap();
        assert_eq!(at, "2025-04-30T18:15:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(kathmandu.local_of_instant(at), local("2025-05-01 00:00"));
    }

    #[test]
    fn a_day_starts_at_a_whole_minute_written_hh_mm() {
        let four: DayStart = "04:00".parse().unwrap();
        assert_eq!(four.to_string(), "04:00");
        assert_eq!(four.time(), NaiveTime::from_hms_opt(4, 0, 0).unwrap());
        assert_eq!("23:59".parse::<DayStart>().unwrap().to_string(), "23:59");
        for bad in [
            "4:00", "24:00", "04:60", "04:00:00", "0400", "", " 04:00", "ab:cd",
        ] {
            let error = bad.parse::<DayStart>().unwrap_err();
            assert!(error.to_string().contains("HH:MM"), "{bad:?}: {error}");
        }
        let with_seconds = NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_hms_opt(4, 0, 1)
            .unwrap()
            .time();
        assert!(DayStart::new(with_seconds).is_err());
    }

    fn branch_in(zone: &str, start: &str) -> Branch {
        Branch::with_settings(
            crate::id::BranchId::new(1).unwrap(),
            "b",
            zone.parse().unwrap(),
            start.parse().unwrap(),
        )
        .unwrap()
    }

    fn hours(branch: &Branch, date: &str) -> (String, i64) {
        let day = BusinessDates::day(date.parse().unwrap());
        let (Some(from), Some(to)) = day.instants(branch) else {
            panic!("a day has both ends")
        };
        (from.to_rfc3339(), (to - from).num_minutes())
    }

    #[test]
    fn a_business_day_lasts_23_or_25_hours_when_the_clocks_change() {
        let new_york = branch_in("America/New_York", "00:00");
        assert_eq!(
            hours(&new_york, "2025-03-09"),
            ("2025-03-09T05:00:00+00:00".to_owned(), 23 * 60)
        );
        assert_eq!(
            hours(&new_york, "2025-11-02"),
            ("2025-11-02T04:00:00+00:00".to_owned(), 25 * 60)
        );
        assert_eq!(hours(&new_york, "2025-05-01").1, 24 * 60);
        let night = branch_in("America/New_York", "04:00");
        assert_eq!(
            hours(&night, "2025-03-08"),
            ("2025-03-08T09:00:00+00:00".to_owned(), 23 * 60),
            "the day from 04:00 that holds the change"
        );
    }

    #[test]
    fn days_in_zones_off_the_whole_hour_start_at_their_own_midnight() {
        assert_eq!(
            hours(&branch_in("Asia/Kolkata", "00:00"), "2025-05-01"),
            ("2025-04-30T18:30:00+00:00".to_owned(), 24 * 60)
        );
        assert_eq!(
            hours(&branch_in("Asia/Kathmandu", "04:00"), "2025-05-01"),
            ("2025-04-30T22:15:00+00:00".to_owned(), 24 * 60)
        );
    }

    #[test]
    fn an_instant_falls_on_the_last_business_day_started_at_or_before_it() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        let date = |text: &str| text.parse::<NaiveDate>().unwrap();
        let kolkata = branch_in("Asia/Kolkata", "04:00");
        assert_eq!(
            business_date(&kolkata, at("2025-04-30T22:29:59Z")),
            date("2025-04-30")
        );
        assert_eq!(
            business_date(&kolkata, at("2025-04-30T22:30:00Z")),
            date("2025-05-01")
        );
        // New York went back from 02:00 EDT to 01:00 EST on 2025-11-02: a day starting at
        // 01:30 starts at the first 01:30, and the 01:00 to 01:30 shown again after it is its.
        let night = branch_in("America/New_York", "01:30");
        assert_eq!(
            business_date(&night, at("2025-11-02T05:29:59Z")),
            date("2025-11-01")
        );
        assert_eq!(
            business_date(&night, at("2025-11-02T05:30:00Z")),
            date("2025-11-02")
        );
        assert_eq!(
            business_date(&night, at("2025-11-02T06:10:00Z")),
            date("2025-11-02")
        );
        for probe in [
            "2025-03-09T06:59:59Z",
            "2025-03-09T07:00:00Z",
            "2025-11-02T06:45:00Z",
        ] {
            let probe = at(probe);
            let day = business_date(&night, probe);
            assert!(
                day_start(&night, day) <= probe
                    && probe < day_start(&night, day.succ_opt().unwrap())
            );
        }
    }

    #[test]
    fn a_day_whose_start_the_clocks_skipped_starts_when_they_resume() {
        // 02:30 never happened in New York on 2025-03-09: the day starts at 03:00 EDT.
        let branch = branch_in("America/New_York", "02:30");
        assert_eq!(hours(&branch, "2025-03-09").0, "2025-03-09T07:00:00+00:00");
        let dates = BusinessDates::new(
            Some("2025-05-02".parse().unwrap()),
            Some("2025-05-01".parse().unwrap()),
        );
        assert_eq!(dates, Err(ValidationError::EmptyDates));
        let open = BusinessDates::new(Some("2025-05-01".parse().unwrap()), None).unwrap();
        assert_eq!(open.instants(&branch).1, None);
    }
}
