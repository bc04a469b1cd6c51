//! Tills that were offline: the sales they hand in late, each with the till's own id for it
//! ([`ClientId`](crate::ClientId)) and the time it was made, alone or in batches.
//!
//! A purchase with a client id is recorded once per (recording key, client id), and the pair is
//! kept with the purchase for good: sent again at any later time, it answers with the purchase
//! recorded the first time. A sale time may be a little ahead of the server's clock
//! ([`CLOCK_SKEW`]) and at most a configured number of days old ([`OfflineWindow`]); it is
//! priced at the price in force at that time, and counts in the analytics of the hour, day and
//! branch it was made in.

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, ValidationError};
use crate::id::PurchaseId;

/// The most purchases one batch may hold.
pub const MAX_BATCH: usize = 1_000;

/// How far ahead of the server's clock a till's clock may be.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// How many days old a sale may be when it is handed in, unless configured otherwise.
pub const DEFAULT_WINDOW_DAYS: u32 = 7;

/// The sale times the server takes: from `days` days ago to [`CLOCK_SKEW`] ahead of now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfflineWindow {
    days: u32,
}

impl OfflineWindow {
    /// Sales up to `days` days old.
    pub fn days(days: u32) -> OfflineWindow {
        OfflineWindow { days }
    }

    /// How many days old a sale may be.
    pub fn length_days(self) -> u32 {
        self.days
    }

    /// Refuses a sale time `at` too far ahead of `now`, or older than the window.
    pub fn check(self, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ValidationError> {
        if at > now + CLOCK_SKEW {
            return Err(ValidationError::SaleInTheFuture {
                at,
                skew_minutes: CLOCK_SKEW.num_minutes(),
            });
        }
        if at < now - Duration::days(i64::from(self.days)) {
            return Err(ValidationError::SaleTooOld {
                at,
                days: self.days,
            });
        }
        Ok(())
    }
}

impl Default for OfflineWindow {
    fn default() -> OfflineWindow {
        OfflineWindow::days(DEFAULT_WINDOW_DAYS)
    }
}

/// Refuses a batch of `count` purchases that is empty or longer than [`MAX_BATCH`].
pub fn check_batch_size(count: usize) -> Result<(), ValidationError> {
    if count == 0 || count > MAX_BATCH {
        return Err(ValidationError::BatchSize {
            count,
            max: MAX_BATCH,
        });
    }
    Ok(())
}

/// What became of one purchase of a batch.
#[derive(Debug)]
pub enum BatchOutcome {
    /// Recorded now, under this id.
    Recorded(PurchaseId),
    /// Its client id was recorded before by the same key: the purchase recorded then.
    AlreadyRecorded(PurchaseId),
    /// Refused, for this reason; nothing of it was written.
    Refused(Error),
}

impl BatchOutcome {
    /// The purchase's id, unless it was refused.
    pub fn purchase(&self) -> Option<PurchaseId> {
        match self {
            BatchOutcome::Recorded(id) | BatchOutcome::AlreadyRecorded(id) => Some(*id),
            BatchOutcome::Refused(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_sale_time_is_taken_from_the_window_to_a_little_ahead() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let window = OfflineWindow::default();
        assert!(window.check(now, now).is_ok());
        assert!(window.check(now + Duration::minutes(5), now).is_ok());
        assert!(window.check(now - Duration::days(7), now).is_ok());
        let ahead = window.check(now + Duration::minutes(6), now).unwrap_err();
        assert_eq!(
            ahead.to_string(),
            "purchased_at 2026-03-10T12:06:00Z is in the future: a sale time may be at most 5 minutes ahead of the server's clock"
        );
        let old = window
            .check(now - Duration::days(7) - Duration::seconds(1), now)
            .unwrap_err();
        assert_eq!(
            old.to_string(),
            "purchased_at 2026-03-03T11:59:59Z is older than the 7 days within which a till may hand in a sale it made offline"
        );
        assert!(
            OfflineWindow::days(30)
                .check(now - Duration::days(20), now)
                .is_ok()
        );
    }

    #[test]
    fn a_batch_holds_one_to_a_thousand_purchases() {
        assert!(check_batch_size(1).is_ok());
        assert!(check_batch_size(MAX_BATCH).is_ok());
        assert_eq!(
            check_batch_size(MAX_BATCH + 1).unwrap_err().to_string(),
            "purchases has 1001 purchases: a batch holds 1 to 1000"
        );
        assert!(check_batch_size(0).is_err());
    }
}
