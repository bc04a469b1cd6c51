//! The timestamps of the old system's files.

use chrono::format::{Fixed, Item, Numeric, Pad};
use chrono::{DateTime, Utc};

use super::error::RowProblem;
use crate::business_day::TimeZone;

/// Reads an instant: a date and time without a zone (the files' own form), read in `zone`, the
/// branch's, or RFC 3339 with a zone. A time the clocks passed twice is the earlier instant; a
/// time they skipped is refused.
pub(super) fn parse_timestamp(text: &str, zone: TimeZone) -> Result<DateTime<Utc>, RowProblem> {
    let trimmed = text.trim();
    let naive = [NAIVE_WITH_T, NAIVE_WITH_SPACE].iter().find_map(|items| {
        let mut parsed = chrono::format::Parsed::new();
        chrono::format::parse(&mut parsed, trimmed, items.iter()).ok()?;
        parsed.to_naive_datetime_with_offset(0).ok()
    });
    match naive {
        Some(naive) => zone
            .instant_of_local(naive)
            .ok_or_else(|| RowProblem::SkippedLocalTime {
                at: text.to_owned(),
                zone: zone.to_string(),
            }),
        None => DateTime::parse_from_rfc3339(trimmed)
            .map(|with_zone| with_zone.with_timezone(&Utc))
            .map_err(|_| RowProblem::MalformedTimestamp(text.to_owned())),
    }
}

/// `%Y-%m-%dT%H:%M:%S%.f` (`2025-05-26T19:51:00.539354`), as chrono's items: a format string
/// would be parsed again for each of millions of rows.
const NAIVE_WITH_T: [Item<'static>; 12] = naive_items(Item::Literal("T"));
/// `%Y-%m-%d %H:%M:%S%.f`.
const NAIVE_WITH_SPACE: [Item<'static>; 12] = naive_items(Item::Space(" "));

/// A date, `between`, and a time with optional fractional seconds.
const fn naive_items(between: Item<'static>) -> [Item<'static>; 12] {
    [
        Item::Numeric(Numeric::Year, Pad::Zero),
        Item::Literal("-"),
        Item::Numeric(Numeric::Month, Pad::Zero),
        Item::Literal("-"),
        Item::Numeric(Numeric::Day, Pad::Zero),
        between,
        Item::Numeric(Numeric::Hour, Pad::Zero),
        Item::Literal(":"),
        Item::Numeric(Numeric::Minute, Pad::Zero),
        Item::Literal(":"),
        Item::Numeric(Numeric::Second, Pad::Zero),
        Item::Fixed(Fixed::Nanosecond),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_with_t_or_a_space_without_a_zone_and_in_rfc_3339_with_one() {
        let read = |text| {
            parse_timestamp(text, TimeZone::UTC)
                .ok()
                .map(|at| at.to_rfc3339())
        };
        let expected = Some("2025-05-26T19:51:00.539354+00:00".to_owned());
        assert_eq!(read("2025-05-26T19:51:00.539354"), expected);
        assert_eq!(read(" 2025-05-26 19:51:00.539354 "), expected);
        assert_eq!(read("2025-05-26T21:51:00.539354+02:00"), expected);
        assert_eq!(
            read("2025-05-26T19:51:00"),
            Some("2025-05-26T19:51:00+00:00".to_owned())
        );
        for bad in [
            "2025-05-26",
            "2025-05-26T19:51",
            "2025-13-26T19:51:00",
            "26/05/2025 19:51:00",
            "2025-05-26T19:51:00 junk",
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_without_a_zone_are_read_in_the_branchs_zone() {
        let jerusalem: TimeZone = "Asia/Jerusalem".parse().unwrap();
        let read = |text| parse_timestamp(text, jerusalem).map(|at| at.to_rfc3339());
        assert_eq!(
            read("2025-05-26T19:51:00"),
            Ok("2025-05-26T16:51:00+00:00".to_owned()),
            "summer time: three hours ahead"
        );
        assert_eq!(
            read("2025-05-26T19:51:00+00:00"),
            Ok("2025-05-26T19:51:00+00:00".to_owned()),
            "a time with its zone keeps it"
        );
        let new_york: TimeZone = "America/New_York".parse().unwrap();
        let skipped = parse_timestamp("2025-03-09T02:30:00", new_york).unwrap_err();
        assert_eq!(
            skipped.to_string(),
            "timestamp \"2025-03-09T02:30:00\" never happened in the branch's time zone America/New_York: its clocks skipped it"
        );
    }
}
