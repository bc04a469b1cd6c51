//! Consistency tokens on PostgreSQL: a write's WAL position, and its transaction, so that a read
//! that sends the token back is answered only by a server that has replayed the write.
//!
//! A purchase is one statement, so the commit's own WAL position cannot be read in its round
//! trip: the statement returns its WAL insert position (reached before its commit record) and
//! its transaction id. A standby holds the write once its replay position has passed the first
//! and the transaction is visible in its snapshot ([`VISIBLE`]); the position alone lets the
//! store skip, without asking, a standby known to be behind it. A token without a transaction
//! (`<position>`) names a position read after the commit, such as a replayed purchase's.
//!
//! A token this store cannot have made is not refused: the read goes to the primary, which
//! holds every write, so that nothing a client sends back breaks a read.

use icash_core::Consistency;

/// Whether the server this runs on holds the write of a token: `$1` the position, `$2` the
/// transaction (or null). On a primary, replay position is null: it holds everything it wrote.
pub(crate) const VISIBLE: &str = "
    SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true)
       AND ($2::text IS NULL OR pg_visible_in_snapshot($2::text::xid8, pg_current_snapshot()))";

/// A write's place in the history, read back from its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    /// The WAL position, as PostgreSQL writes it (`16/B374D848`).
    pub(crate) lsn: String,
    /// The same, as a number of bytes, to compare with the positions the monitor reads.
    pub(crate) bytes: u64,
    /// The writing transaction's id, when the token has one.
    pub(crate) xact: Option<String>,
}

impl Position {
    /// Reads a token this store made; `None` for one it cannot have made.
    pub(crate) fn parse(token: &Consistency) -> Option<Position> {
        let (lsn, xact) = match token.as_str().split_once(':') {
            Some((lsn, xact)) => (lsn, Some(xact)),
            None => (token.as_str(), None),
        };
        let (high, low) = lsn.split_once('/')?;
        let high = u32::from_str_radix(high, 16).ok()?;
        let low = u32::from_str_radix(low, 16).ok()?;
        if xact.is_some_and(|xact| xact.parse::<u64>().is_err()) {
            return None;
        }
        Some(Position {
            lsn: lsn.to_owned(),
            bytes: (u64::from(high) << 32) | u64::from(low),
            xact: xact.map(str::to_owned),
        })
    }
}

/// The token of a write at WAL position `lsn` (PostgreSQL's text) by transaction `xact`.
pub(crate) fn token(lsn: &str, xact: Option<&str>) -> Consistency {
    Consistency::from_store(match xact {
        Some(xact) => format!("{lsn}:{xact}"),
        None => lsn.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_reads_back_as_its_position_and_transaction() {
        let position = Position::parse(&token("16/B374D848", Some("731"))).unwrap();
        assert_eq!(position.lsn, "16/B374D848");
        assert_eq!(position.bytes, (0x16 << 32) | 0xB374_D848);
        assert_eq!(position.xact.as_deref(), Some("731"));
        let position = Position::parse(&token("0/3000060", None)).unwrap();
        assert_eq!((position.bytes, position.xact), (0x300_0060, None));
    }

    #[test]
    fn a_token_this_store_cannot_have_made_reads_as_none() {
        for bad in ["x", "0/", "/1", "0/1:", "0/1:x", "G/1", "0/1/2", "0/1:-1"] {
            let token = Consistency::parse(bad).unwrap();
            assert!(Position::parse(&token).is_none(), "{bad}");
        }
    }
}
