//! A branch's business day: the IANA time zone its clocks follow and the time of day its
//! business day starts.
//!
//! Every conversion between local times and instants goes through `chrono-tz`, so that daylight
//! saving changes and offsets that are not whole hours come out as the zone database says.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone as _, Timelike, Utc};
use chrono_tz::Tz;

use crate::error::ValidationError;

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
}
