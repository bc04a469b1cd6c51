//! Read-your-writes across a store's copies: the position of a write, handed to the client as
//! an opaque token, and the session a request runs in.
//!
//! A store that reads from copies of its data (streaming replicas) notes, for each write, a
//! [`Consistency`] token naming where the write is in its history; a client that sends the token
//! back with a read is answered only from a copy that holds that write. The token travels
//! through a task-local [`session`] rather than through every port's arguments, so that every
//! port method, present and future, takes part without a change of signature, and a store
//! without copies simply ignores it.

use std::future::Future;
use std::sync::Mutex;

use crate::error::ValidationError;

/// The longest token a client may send back.
const MAX_LEN: usize = 128;

/// Where a write is in a store's history, as the store wrote it: opaque to everyone but the
/// store that made it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Consistency(String);

impl Consistency {
    /// A token as a client sent it back: 1 to 128 visible ASCII characters. Whether the store
    /// reads it is the store's to say.
    pub fn parse(token: &str) -> Result<Consistency, ValidationError> {
        if (1..=MAX_LEN).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Consistency(token.to_owned()))
        } else {
            Err(ValidationError::InvalidConsistency)
        }
    }

    /// A token a store makes for one of its writes.
    pub fn from_store(token: String) -> Consistency {
        Consistency(token)
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Consistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one request's session knows: the write its reads must see, and the last write it made.
struct Session {
    read_after: Option<Consistency>,
    wrote: Mutex<Option<Consistency>>,
}

tokio::task_local! {
    static SESSION: Session;
}

/// Runs `work` as one client's session: the store's reads in it see at least the write
/// `read_after` names. Returns what `work` returned and the token of the last write it made,
/// if the store noted one.
pub async fn session<F: Future>(
    read_after: Option<Consistency>,
    work: F,
) -> (F::Output, Option<Consistency>) {
    let session = Session {
        read_after,
        wrote: Mutex::new(None),
    };
    SESSION
        .scope(session, async {
            let output = work.await;
            let wrote = SESSION.with(|session| {
                session
                    .wrote
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
            });
            (output, wrote)
        })
        .await
}

/// The write the current session's reads must see; `None` outside a session.
pub fn read_after() -> Option<Consistency> {
    SESSION
        .try_with(|session| session.read_after.clone())
        .ok()
        .flatten()
}

/// Notes a write of the current session, for its answer to carry; nothing outside a session.
pub fn wrote(token: Consistency) {
    let _ = SESSION.try_with(|session| {
        *session
            .wrote
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(token);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_carries_what_its_reads_must_see_and_returns_its_last_write() {
        let seen = Consistency::parse("0/1:2").unwrap();
        let (inside, last) = session(Some(seen.clone()), async {
            wrote(Consistency::from_store("first".into()));
            wrote(Consistency::from_store("last".into()));
            read_after()
        })
        .await;
        assert_eq!(inside, Some(seen));
        assert_eq!(last.unwrap().as_str(), "last");
        assert_eq!(read_after(), None, "nothing outside a session");
        wrote_outside_a_session_is_ignored();
    }

    fn wrote_outside_a_session_is_ignored() {
        wrote(Consistency::from_store("nowhere".into()));
    }

    #[test]
    fn a_token_is_short_visible_ascii() {
        assert!(Consistency::parse("0/16B3748:731").is_ok());
        for bad in ["", "a b", "é", &"x".repeat(129)] {
            assert!(Consistency::parse(bad).is_err(), "{bad:?}");
        }
    }
}
