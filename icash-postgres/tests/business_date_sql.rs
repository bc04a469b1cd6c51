//! PostgreSQL's reckoning of business dates (the triggers' `icash_business_date`) is the
//! domain's, instant by instant, around every change of the clocks in zones that go forward,
//! go back, by half an hour, across midnight, or never, for starts of day inside the hours the
//! clocks skip or repeat.

use chrono::{DateTime, Duration, Utc};
use icash_core::business_day::business_date;
use icash_core::{Branch, BranchId};
use icash_postgres::testing::TestDb;

/// Zones, and an instant near which their clocks changed.
const ZONES: [(&str, &str); 7] = [
    ("America/New_York", "2025-11-02T06:00:00Z"),
    ("America/New_York", "2025-03-09T07:00:00Z"),
    ("Europe/Paris", "2025-10-26T01:00:00Z"),
    ("Australia/Lord_Howe", "2025-04-05T15:00:00Z"),
    ("America/Santiago", "2025-04-06T03:00:00Z"),
    ("America/Santiago", "2025-09-07T04:00:00Z"),
    ("Asia/Kathmandu", "2025-05-01T00:00:00Z"),
];

const STARTS: [&str; 7] = [
    "00:00", "00:30", "01:30", "02:30", "04:00", "23:00", "23:45",
];

#[tokio::test]
async fn postgresql_reckons_business_dates_as_the_domain_does() {
    let db = TestDb::new().await;
    for (zone, change) in ZONES {
        let change: DateTime<Utc> = change.parse().unwrap();
        // Every 5 minutes over two days around the change.
        let instants: Vec<DateTime<Utc>> = (-288..288)
            .map(|n| change + Duration::minutes(5 * n))
            .collect();
        for start in STARTS {
            let branch = Branch::with_settings(
                BranchId::new(1).unwrap(),
                "b",
                zone.parse().unwrap(),
                start.parse().unwrap(),
            )
            .unwrap();
            let dates: Vec<(chrono::NaiveDate,)> = sqlx::query_as(
                "SELECT icash_business_date(at, $2, $3::time)
                 FROM unnest($1::timestamptz[]) WITH ORDINALITY AS given (at, n) ORDER BY n",
            )
            .bind(&instants)
            .bind(zone)
            .bind(start)
            .fetch_all(db.store().pool())
            .await
            .unwrap();
            for (at, (date,)) in instants.iter().zip(dates) {
                assert_eq!(
                    date,
                    business_date(&branch, *at),
                    "{zone} from {start}, at {at}"
                );
            }
        }
    }
}
