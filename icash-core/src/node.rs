//! The database servers behind a store, as an operator sees them: which one takes the writes,
//! which serve reads, and how far behind each copy is.

use std::time::Duration;

/// What a server is to the store now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRole {
    /// It accepts writes: the store's writes go there.
    Primary,
    /// A copy that replays the primary's history and serves reads.
    Standby,
    /// It does not answer.
    Down,
}

impl NodeRole {
    /// The role as operators write it: `primary`, `standby` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Primary => "primary",
            NodeRole::Standby => "standby",
            NodeRole::Down => "down",
        }
    }
}

/// One database server of a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Where it is (`host:port`, never a credential), or the store's own name for itself.
    pub name: String,
    /// What it is now.
    pub role: NodeRole,
    /// How far its data is behind the primary's (zero for the primary); `None` when it cannot
    /// be told.
    pub lag: Option<Duration>,
    /// Whether the store sends it writes now.
    pub writes: bool,
    /// Whether the store sends it reads now (a standby within the staleness bound).
    pub reads: bool,
}

impl Node {
    /// A store that is its own only server, such as one in memory.
    pub fn single(name: &str) -> Node {
        Node {
            name: name.to_owned(),
            role: NodeRole::Primary,
            lag: Some(Duration::ZERO),
            writes: true,
            reads: true,
        }
    }
}
