//! The servers behind a [`PgStore`](crate::PgStore): which one takes the writes, which standbys
//! serve reads, and how far behind each is.
//!
//! One task (the monitor) asks every server, every [`TICK`], whether it is in recovery and
//! where its WAL is: the primary's current position, a standby's replay position. It keeps the
//! primary's positions of the last seconds with the instant each was read, so that a standby's
//! lag is a time measured from its replay position: a standby that has replayed what the primary
//! had written at instant `t` is at most `now - t` behind. An idle primary's position stays put,
//! so a standby that has replayed it is current, however old its last replayed transaction.
//!
//! When the writer stops answering, or answers from recovery (it was demoted), the monitor picks
//! the first server of the database URL's list that is not in recovery, and points the store's
//! pools at it: connections opened before the change are discarded when next handed out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use futures::future::join_all;
use icash_core::{Error, Node, NodeRole, Result};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{Connection, PgConnection};

use crate::hosts;

/// How often the monitor asks every server: the resolution of the lag it measures.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// How long the monitor waits for a server's answer (connecting included) before it takes the
/// server as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the primary's positions are kept: a standby further behind than this is only
/// known to be further behind than any bound worth setting.
const HISTORY: Duration = Duration::from_secs(60);

/// What the store's writes connect to now; shared with the till pool, which cannot be told of a
/// change otherwise.
pub(crate) struct Writer {
    options: RwLock<PgConnectOptions>,
    /// Bumped at every change of server, so that a connection can tell it is to the old one.
    generation: AtomicU64,
    /// When the writer last changed.
    changed: Mutex<Instant>,
}

impl Writer {
    pub(crate) fn new(options: PgConnectOptions) -> Writer {
        Writer {
            options: RwLock::new(options),
            generation: AtomicU64::new(0),
            changed: Mutex::new(Instant::now()),
        }
    }

    /// The options new write connections are opened with.
    pub(crate) fn options(&self) -> PgConnectOptions {
        self.options
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The writer's generation: a connection opened in an older one is to a former writer.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether a connection opened `age` ago predates the last change of writer.
    pub(crate) fn predates_change(&self, age: Duration) -> bool {
        let changed = *self
            .changed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        age > changed.elapsed()
    }

    fn set(&self, options: PgConnectOptions) {
        *self
            .options
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = options;
        *self
            .changed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// What the monitor last heard from a server.
#[derive(Clone, Copy, Debug)]
struct Heard {
    role: NodeRole,
    /// The primary's current WAL position, or a standby's replay position.
    position: Option<u64>,
}

/// A server the database URL names: a candidate for the writes.
struct Candidate {
    name: String,
    options: PgConnectOptions,
    heard: Mutex<Heard>,
}

/// A standby of `ICASH_READ_DATABASE_URL`, with its own pool.
pub(crate) struct Replica {
    pub(crate) name: String,
    options: PgConnectOptions,
    pub(crate) pool: PgPool,
    heard: Mutex<Heard>,
}

impl Replica {
    pub(crate) fn new(options: PgConnectOptions, pool: PgPool) -> Replica {
        Replica {
            name: hosts::name(&options),
            options,
            pool,
            // Unknown until the monitor has heard it: no reads before.
            heard: Mutex::new(Heard {
                role: NodeRole::Down,
                position: None,
            }),
        }
    }

    fn heard(&self) -> Heard {
        *lock(&self.heard)
    }

    /// Takes the standby out of the reads until the monitor hears it again: a read found it
    /// unreachable.
    pub(crate) fn mark_down(&self) {
        lock(&self.heard).role = NodeRole::Down;
    }
}

/// Not derived for the types that hold connect options: their own `Debug` shows the password.
impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("server", &hosts::name(&self.options()))
            .field("generation", &self.generation())
            .finish()
    }
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field("nodes", &self.nodes())
            .field("max_lag", &self.max_lag)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The servers behind a store and what is known of them.
pub(crate) struct Topology {
    candidates: Vec<Candidate>,
    current: AtomicUsize,
    pub(crate) writer: Arc<Writer>,
    /// The main pool, told of a change of writer.
    main: PgPool,
    pub(crate) replicas: Vec<Replica>,
    /// The primary's WAL positions, oldest first, each with the instant it was read.
    history: Mutex<VecDeque<(Instant, u64)>>,
    pub(crate) max_lag: Duration,
}

impl Topology {
    /// The servers: `candidates` for the writes (`first` is the writer until the monitor says
    /// otherwise), `replicas` for reads. Each candidate's options must already carry the
    /// store's session settings.
    pub(crate) fn new(
        candidates: Vec<PgConnectOptions>,
        first: usize,
        writer: Arc<Writer>,
        main: PgPool,
        replicas: Vec<Replica>,
        max_lag: Duration,
    ) -> Topology {
        let candidates = candidates
            .into_iter()
            .map(|options| Candidate {
                name: hosts::name(&options),
                options,
                heard: Mutex::new(Heard {
                    role: NodeRole::Primary,
                    position: None,
                }),
            })
            .collect();
        Topology {
            candidates,
            current: AtomicUsize::new(first),
            writer,
            main,
            replicas,
            history: Mutex::new(VecDeque::new()),
            max_lag,
        }
    }

    /// The writer's name (`host:port`).
    pub(crate) fn writer_name(&self) -> String {
        self.candidates[self.current.load(Ordering::Acquire)]
            .name
            .clone()
    }

    /// Whether there is anything to watch: several candidates, or standbys.
    pub(crate) fn needs_monitor(&self) -> bool {
        self.candidates.len() > 1 || !self.replicas.is_empty()
    }

    /// How far behind the primary a standby is that has replayed up to `position`, now: `None`
    /// when nothing is known (not heard yet, or behind the whole history kept).
    fn lag_of(&self, position: Option<u64>) -> Option<Duration> {
        let position = position?;
        let history = lock(&self.history);
        history
            .iter()
            .rev()
            .find(|(_, primary)| *primary <= position)
            .map(|(at, _)| at.elapsed())
    }

    /// The standbys a read may go to now, least behind first: in recovery, heard, and behind by
    /// at most the bound. Each comes with its replay position.
    pub(crate) fn readers(&self) -> Vec<(&Replica, u64)> {
        let mut usable: Vec<(&Replica, u64, Duration)> = self
            .replicas
            .iter()
            .filter_map(|replica| {
                let heard = replica.heard();
                if heard.role != NodeRole::Standby {
                    return None;
                }
                let lag = self.lag_of(heard.position)?;
                (lag <= self.max_lag).then_some((replica, heard.position?, lag))
            })
            .collect();
        usable.sort_by_key(|(_, _, lag)| *lag);
        usable
            .into_iter()
            .map(|(replica, position, _)| (replica, position))
            .collect()
    }

    /// Every server, the writer first, as `/readyz` and `/metrics` show them: each once, though
    /// a host may be both a candidate for the writes and a standby for the reads.
    pub(crate) fn nodes(&self) -> Vec<Node> {
        let current = self.current.load(Ordering::Acquire);
        let readers: Vec<&str> = self
            .readers()
            .iter()
            .map(|(replica, _)| replica.name.as_str())
            .collect();
        let lag = |heard: Heard| match heard.role {
            NodeRole::Primary => Some(Duration::ZERO),
            NodeRole::Standby => self.lag_of(heard.position),
            NodeRole::Down => None,
        };
        let mut candidates: Vec<(usize, &Candidate)> = self.candidates.iter().enumerate().collect();
        candidates.sort_by_key(|(index, _)| *index != current);
        let mut nodes: Vec<Node> = candidates
            .into_iter()
            .map(|(index, candidate)| {
                let heard = *lock(&candidate.heard);
                Node {
                    name: candidate.name.clone(),
                    role: heard.role,
                    lag: lag(heard),
                    writes: index == current,
                    // The writer answers the reads no standby may.
                    reads: if index == current {
                        readers.is_empty()
                    } else {
                        readers.contains(&candidate.name.as_str())
                    },
                }
            })
            .collect();
        for replica in &self.replicas {
            if nodes.iter().any(|node| node.name == replica.name) {
                continue;
            }
            let heard = replica.heard();
            nodes.push(Node {
                name: replica.name.clone(),
                role: heard.role,
                lag: lag(heard),
                writes: false,
                reads: readers.contains(&replica.name.as_str()),
            });
        }
        nodes
    }

    /// Asks every server once, concurrently, and acts on the answers: a new writer if the
    /// current one is gone, the primary's position into the history.
    async fn tick(&self, connections: &mut [Option<PgConnection>]) {
        // The primary's position is read after this instant, so the primary had at most that
        // position then: dating it here can only overstate a standby's lag, never understate it.
        let read_at = Instant::now();
        let (for_candidates, for_replicas) = connections.split_at_mut(self.candidates.len());
        let probes = self
            .candidates
            .iter()
            .map(|candidate| &candidate.options)
            .chain(self.replicas.iter().map(|replica| &replica.options))
            .zip(for_candidates.iter_mut().chain(for_replicas.iter_mut()))
            .map(|(options, connection)| probe(options, connection));
        let heard = join_all(probes).await;
        let (candidates_heard, replicas_heard) = heard.split_at(self.candidates.len());
        for (candidate, heard) in self.candidates.iter().zip(candidates_heard) {
            *lock(&candidate.heard) = *heard;
        }
        let current = self.current.load(Ordering::Acquire);
        let writer = if candidates_heard[current].role == NodeRole::Primary {
            Some(current)
        } else {
            candidates_heard
                .iter()
                .position(|heard| heard.role == NodeRole::Primary)
        };
        if let Some(writer) = writer {
            if writer != current {
                self.switch_to(writer);
            }
            if let Some(position) = candidates_heard[writer].position {
                let mut history = lock(&self.history);
                history.push_back((read_at, position));
                while history
                    .front()
                    .is_some_and(|(at, _)| at.elapsed() > HISTORY)
                {
                    history.pop_front();
                }
            }
        }
        for (replica, heard) in self.replicas.iter().zip(replicas_heard) {
            *lock(&replica.heard) = *heard;
        }
    }

    /// Points the writes at candidate `index`.
    fn switch_to(&self, index: usize) {
        let candidate = &self.candidates[index];
        tracing::warn!(
            writer = %candidate.name,
            "the database's writer changed: writes go to the server that is not in recovery"
        );
        self.current.store(index, Ordering::Release);
        self.writer.set(candidate.options.clone());
        self.main.set_connect_options(candidate.options.clone());
        // The primary's positions before the change are the old timeline's.
        lock(&self.history).clear();
    }
}

/// Asks one server whether it is in recovery and where its WAL is, on `connection` (opened,
/// or opened again, as needed); down when it does not answer within [`PROBE_TIMEOUT`].
async fn probe(options: &PgConnectOptions, connection: &mut Option<PgConnection>) -> Heard {
    const DOWN: Heard = Heard {
        role: NodeRole::Down,
        position: None,
    };
    let asked = tokio::time::timeout(PROBE_TIMEOUT, async {
        if connection.is_none() {
            *connection = Some(PgConnection::connect_with(options).await?);
        }
        let conn = connection.as_mut().expect("opened above");
        sqlx::query_as::<_, (bool, Option<i64>)>(
            "SELECT pg_is_in_recovery(),
                    pg_wal_lsn_diff(
                        CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                             ELSE pg_current_wal_lsn() END,
                        '0/0')::bigint",
        )
        .fetch_one(conn)
        .await
    })
    .await;
    match asked {
        Ok(Ok((in_recovery, position))) => Heard {
            role: if in_recovery {
                NodeRole::Standby
            } else {
                NodeRole::Primary
            },
            position: position.and_then(|position| u64::try_from(position).ok()),
        },
        _ => {
            *connection = None;
            DOWN
        }
    }
}

/// The index of the first of `servers` that accepts writes: the only one, unasked, when there
/// is one (its pool reports whether it answers); else the first that answers and is not in
/// recovery.
pub(crate) async fn find_writer(servers: &[PgConnectOptions]) -> Result<usize> {
    if servers.len() == 1 {
        return Ok(0);
    }
    let heard = join_all(servers.iter().map(|options| async {
        let mut connection = None;
        let heard = probe(options, &mut connection).await;
        if let Some(connection) = connection {
            let _ = connection.close().await;
        }
        heard
    }))
    .await;
    heard
        .iter()
        .position(|heard| heard.role == NodeRole::Primary)
        .ok_or_else(|| {
            Error::unavailable(format!(
                "none of the database URL's {} servers accepts writes",
                servers.len()
            ))
        })
}

/// Watches the servers every [`TICK`] until the topology is dropped (with its store).
pub(crate) async fn monitor(topology: Weak<Topology>) {
    let mut connections = match topology.upgrade() {
        Some(topology) => {
            let servers = topology.candidates.len() + topology.replicas.len();
            (0..servers).map(|_| None).collect::<Vec<_>>()
        }
        None => return,
    };
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(topology) = topology.upgrade() else {
            return;
        };
        topology.tick(&mut connections).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A topology of one server nobody asks, with the primary's positions `history` (how long
    /// ago, position).
    fn with_history(history: &[(Duration, u64)]) -> Topology {
        let options: PgConnectOptions = "postgres://icash@db:5432/icash".parse().unwrap();
        let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy_with(options.clone());
        let writer = Arc::new(Writer::new(options.clone()));
        let topology = Topology::new(vec![options], 0, writer, pool, Vec::new(), TICK);
        let now = Instant::now();
        lock(&topology.history).extend(
            history
                .iter()
                .map(|(ago, position)| (now - *ago, *position)),
        );
        topology
    }

    #[tokio::test]
    async fn a_standby_is_as_far_behind_as_the_last_primary_position_it_has_replayed() {
        let secs = Duration::from_secs;
        let topology = with_history(&[(secs(3), 100), (secs(2), 200), (secs(1), 300)]);
        let lag = |position| topology.lag_of(Some(position)).map(|lag| lag.as_secs());
        // It has all the primary had a second ago, not what came since.
        assert_eq!(lag(300), Some(1));
        assert_eq!(lag(299), Some(2));
        assert_eq!(lag(200), Some(2));
        assert_eq!(lag(150), Some(3));
        // Behind everything kept: not to be told, so not to be read from.
        assert_eq!(lag(99), None);
        assert_eq!(topology.lag_of(None), None);
        // An idle primary: the same position read again and again; a standby that has it is
        // current, however long ago that position was written.
        let idle = with_history(&[(secs(50), 500), (Duration::ZERO, 500)]);
        assert_eq!(idle.lag_of(Some(500)).map(|lag| lag.as_secs()), Some(0));
    }
}
