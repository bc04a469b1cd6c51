//! [`PgStore`]: the connection pool, the migrations, and how to connect.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use icash_core::{Branch, Catalog, Error, Result, TimeZone, consistency};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres, migrate::Migrator};

use crate::consistency::{Position, VISIBLE};
use crate::customer_sets::Sums;
use crate::error::{from_pool, from_sqlx, retry_elsewhere};
use crate::pool_metrics::{self, Pool};
use crate::till::{self, Till, TillPool};
use crate::topology::{self, Replica, Topology, Writer};

/// The schema, embedded in the binary and applied by [`PgStore::migrate`].
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Settings of every session the store opens:
/// - JIT compilation costs more per query than any of the store's queries gains from it: they
///   read aggregates and index ranges, and are short;
/// - counting the distinct customers of a long period hashes up to all of them: with the
///   default `work_mem` the hash spills to disk, many times slower. It is a bound per hash,
///   used only by the queries that need it.
const SESSION_SETTINGS: [(&str, &str); 2] = [("jit", "off"), ("work_mem", "64MB")];

/// A pooled connection idle for longer than this is checked with a round trip before it is
/// handed out. sqlx checks every one by default, which doubles the round trips of a purchase
/// (one statement); a connection used a moment ago is very likely still there, and one that is
/// not fails its request as unavailable (503) and leaves the pool.
pub(crate) const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// How a [`PgStore`] uses its pool.
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// The most connections each of the store's two pools opens: the main pool, and the till
    /// connections that record purchases without an idempotency key (see
    /// [`PgStore::from_pool`]). The store opens connections as they are needed, up to twice
    /// this in all.
    pub max_connections: u32,
    /// How long a request waits for a connection before the store reports itself unavailable:
    /// a bounded wait, so that an outage answers quickly instead of hanging.
    pub acquire_timeout: Duration,
    /// How long idempotency keys are honoured.
    pub idempotency_ttl: Duration,
    /// The longest a statement may run before PostgreSQL cancels it and the store reports
    /// itself unavailable; `None` for no limit. A request whose client has gone away does not
    /// stop its query, so this bounds the work such queries go on doing. Bulk loads and
    /// [`PgStore::validate_foreign_keys`] are exempt: they are long by nature.
    pub statement_timeout: Option<Duration>,
    /// How many customers a bulk load sums in memory (with their first three branches; a
    /// further branch of a customer counts as one more) before handing partial sums to
    /// PostgreSQL. It bounds a load's memory whatever the files' size: about 145 bytes a
    /// customer at the most. A load past it comes out the same, only slower by each hand-over.
    pub load_customer_sums: usize,
    /// Whether [`PgStore::connect_with`] applies the migrations the database lacks (the
    /// default), or leaves the schema alone: for a role that cannot change it, the schema's
    /// owner having applied them (see [`PgStore::grant_serving_role`]). Then
    /// [`Catalog::missing_migrations`](icash_core::Catalog::missing_migrations) tells whether
    /// the owner has.
    pub apply_migrations: bool,
    /// How far behind the primary a standby may be and still serve reads: one further behind
    /// is skipped, for another standby or the primary.
    pub max_replica_lag: Duration,
    /// The time zone of the branches [`PgStore::migrate`] adds: their business days, and the
    /// times of their data files, are read in it. Branches that exist keep theirs.
    pub time_zone: TimeZone,
}

/// How long a read that must see a write (see [`icash_core::consistency`]) waits for a standby
/// to replay it before it goes to the primary, and how often it looks.
const REPLAY_WAIT: Duration = Duration::from_millis(500);
const REPLAY_POLL: Duration = Duration::from_millis(10);

impl Default for PgConfig {
    fn default() -> PgConfig {
        PgConfig {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            idempotency_ttl: icash_core::idempotency::DEFAULT_TTL,
            statement_timeout: Some(Duration::from_secs(30)),
            load_customer_sums: crate::import::DEFAULT_CUSTOMER_SUMS,
            apply_migrations: true,
            max_replica_lag: Duration::from_secs(1),
            time_zone: TimeZone::UTC,
        }
    }
}

/// The icash store on PostgreSQL. Cheap to clone: clones share its pools.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    tills: TillPool,
    topology: Arc<Topology>,
    idempotency_ttl: Duration,
    load_customer_sums: usize,
    load_purchases_per_copy: usize,
    time_zone: TimeZone,
    /// The sums of customer sets this server has read, shared by its clones.
    sums: Arc<Sums>,
}

impl PgStore {
    /// Connects to the database at `url` (such as `postgres://postgres@127.0.0.1:5432/icash`)
    /// with the default [`PgConfig`], and migrates it.
    ///
    /// Fails with [`StoreError::Unavailable`](icash_core::StoreError::Unavailable) when the
    /// database cannot be reached.
    ///
    /// `url` may name several servers as libpq does (`postgres://icash@db1:5432,db2:5432/icash`,
    /// see [`connect_to`](PgStore::connect_to)).
    pub async fn connect(url: &str) -> Result<PgStore> {
        let servers = crate::hosts::connect_options(url).map_err(Error::internal)?;
        PgStore::connect_to(servers, Vec::new(), &PgConfig::default()).await
    }

    /// `options` with the session settings the store's queries are measured with (JIT off,
    /// `work_mem` 64 MB), which [`PgStore::connect_with`] gives every connection: for a host
    /// that makes its own pool for [`PgStore::from_pool`]. Without them the figures come out
    /// the same, only slower (a long period's distinct customers spill to disk).
    pub fn session_options(options: PgConnectOptions) -> PgConnectOptions {
        options.options(SESSION_SETTINGS)
    }

    /// Connects with explicit options, and migrates the database unless
    /// [`PgConfig::apply_migrations`] says not to.
    pub async fn connect_with(options: PgConnectOptions, config: &PgConfig) -> Result<PgStore> {
        PgStore::connect_to(vec![options], Vec::new(), config).await
    }

    /// Connects to the one of `servers` that accepts writes (not in recovery), reads from the
    /// standbys `replicas` when they are within [`PgConfig::max_replica_lag`], and migrates the
    /// database.
    ///
    /// With several servers or any standby, a task on the current Tokio runtime watches them
    /// all for as long as the store lives: it measures each standby's lag, and when the writer
    /// stops answering or is demoted, it moves the writes to the server of `servers` that is
    /// not in recovery (one promoted by an HA manager).
    pub async fn connect_to(
        servers: Vec<PgConnectOptions>,
        replicas: Vec<PgConnectOptions>,
        config: &PgConfig,
    ) -> Result<PgStore> {
        let session = |options: PgConnectOptions| {
            let options = PgStore::session_options(options);
            match config.statement_timeout {
                Some(limit) => {
                    options.options([("statement_timeout", format!("{}ms", limit.as_millis()))])
                }
                None => options,
            }
        };
        let servers: Vec<PgConnectOptions> = servers.into_iter().map(session).collect();
        let first = topology::find_writer(&servers).await?;
        let writer = Arc::new(Writer::new(servers[first].clone()));
        let pool = pool_options(config, Some(writer.clone()))
            .connect_with(servers[first].clone())
            .await
            .map_err(from_sqlx)?;
        let replicas = replicas
            .into_iter()
            .map(|options| {
                let options = session(options);
                let pool = pool_options(config, None).connect_lazy_with(options.clone());
                Replica::new(options, pool)
            })
            .collect();
        let topology = Arc::new(Topology::new(
            servers,
            first,
            writer.clone(),
            pool.clone(),
            replicas,
            config.max_replica_lag,
        ));
        let store = PgStore::over(pool, writer, topology)
            .with_idempotency_ttl(config.idempotency_ttl)
            .with_load_customer_sums(config.load_customer_sums)
            .with_time_zone(config.time_zone);
        if config.apply_migrations {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// A store over a pool the caller made; the database must be migrated already (see
    /// [`PgStore::migrate`]). Its connections keep the caller's settings: make them with
    /// [`PgStore::session_options`] for the store's speed.
    ///
    /// Purchases without an idempotency key are recorded on till connections, a second pool
    /// that the store opens with the same options, as many connections at the most, the same
    /// wait for one and the same idle timeout (closed by a task on the current Tokio runtime):
    /// that pool skips the round trip that `pool` makes on every connection handed back to it,
    /// and keeps the tills selling while analytics hold every connection of `pool`.
    pub fn from_pool(pool: PgPool) -> PgStore {
        let options = (*pool.connect_options()).clone();
        let writer = Arc::new(Writer::new(options.clone()));
        let topology = Arc::new(Topology::new(
            vec![options],
            0,
            writer.clone(),
            pool.clone(),
            Vec::new(),
            PgConfig::default().max_replica_lag,
        ));
        PgStore::over(pool, writer, topology)
    }

    /// A store writing through `pool` to `writer`, among the servers of `topology`; starts the
    /// task that watches them when there is more than one.
    fn over(pool: PgPool, writer: Arc<Writer>, topology: Arc<Topology>) -> PgStore {
        let tills = till::pool(
            writer,
            pool.options().get_max_connections() as usize,
            pool.options().get_acquire_timeout(),
            pool.options().get_idle_timeout(),
        );
        if topology.needs_monitor()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(topology::monitor(Arc::downgrade(&topology)));
        }
        PgStore {
            pool,
            tills,
            topology,
            idempotency_ttl: icash_core::idempotency::DEFAULT_TTL,
            load_customer_sums: crate::import::DEFAULT_CUSTOMER_SUMS,
            load_purchases_per_copy: crate::import::DEFAULT_PURCHASES_PER_COPY,
            time_zone: TimeZone::UTC,
            sums: Arc::default(),
        }
    }

    /// The same store, honouring idempotency keys for `ttl` instead of
    /// [`DEFAULT_TTL`](icash_core::idempotency::DEFAULT_TTL).
    pub fn with_idempotency_ttl(mut self, ttl: Duration) -> PgStore {
        self.idempotency_ttl = ttl;
        self
    }

    /// The same store, adding its default branches in `zone` (see [`PgConfig::time_zone`]).
    pub fn with_time_zone(mut self, zone: TimeZone) -> PgStore {
        self.time_zone = zone;
        self
    }

    /// The same store, its bulk loads summing at most `entries` customers in memory at a time
    /// (see [`PgConfig::load_customer_sums`]).
    pub fn with_load_customer_sums(mut self, entries: usize) -> PgStore {
        self.load_customer_sums = entries;
        self
    }

    /// The same store, its bulk loads sending `purchases` purchases in each COPY (50,000 by
    /// default). A load holds two such COPYs in memory, about 220 bytes a purchase each: one
    /// being sent while the next is encoded. Fewer make PostgreSQL set up more COPYs, each a
    /// fixed cost; the figures come out the same.
    pub fn with_load_purchases_per_copy(mut self, purchases: usize) -> PgStore {
        self.load_purchases_per_copy = purchases.max(1);
        self
    }

    /// How many customers and pairs a bulk load sums in memory at a time.
    pub(crate) fn load_customer_sums(&self) -> usize {
        self.load_customer_sums
    }

    /// How many purchases a bulk load sends in one COPY.
    pub(crate) fn load_purchases_per_copy(&self) -> usize {
        self.load_purchases_per_copy
    }

    /// How long idempotency keys are honoured.
    pub(crate) fn idempotency_ttl(&self) -> Duration {
        self.idempotency_ttl
    }

    /// Applies the migrations that the database lacks, and adds the chain's default branches
    /// that it lacks ([`Branch::defaults_in`] the store's zone). Safe to run at every start, and from several processes at once.
    pub async fn migrate(&self) -> Result<()> {
        // A migration may build an index over every purchase of a large store, and a second
        // process waits for the first one's migration lock: neither is bounded by the statement
        // timeout.
        let mut conn = self.connection().await?;
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut *conn)
            .await
            .map_err(from_sqlx)?;
        let migrated = MIGRATOR.run(&mut *conn).await;
        sqlx::query("RESET statement_timeout")
            .execute(&mut *conn)
            .await
            .map_err(from_sqlx)?;
        // Adding the branches takes a connection of its own: a pool of one must have this back.
        drop(conn);
        migrated.map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(error) => from_sqlx(error),
            other => Error::internal(other),
        })?;
        self.put_branches(&Branch::defaults_in(self.time_zone))
            .await
    }

    /// Lets `role` serve from this database: read and write its data, never change its
    /// schema. Run by the schema's owner, after [`PgStore::migrate`] (and again after each
    /// migration, as it grants on what exists). Fails, with PostgreSQL's sentence as the
    /// cause, when no role has that name or this one may not grant.
    pub async fn grant_serving_role(&self, role: &str) -> Result<()> {
        sqlx::query("SELECT icash_grant_serving_role($1)")
            .bind(role)
            .execute(self.pool())
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    /// The pool of the primary, the server that takes the writes: for an embedder's own
    /// queries, and for every write.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The sums of customer sets this server keeps for the periods' reads.
    pub(crate) fn sums(&self) -> &Sums {
        &self.sums
    }

    /// The pool a read may use now: a standby within the staleness bound that holds the write
    /// the current session must see (see [`icash_core::consistency`]), else the primary's.
    /// For an embedder's own reads; the store's own go through a retry on the primary when a
    /// standby cancels them.
    pub async fn reader(&self) -> Result<PgPool> {
        Ok(match self.standby_for_session().await? {
            Some(replica) => replica.pool.clone(),
            None => self.pool.clone(),
        })
    }

    /// Runs the read `work` on a standby's pool when one may answer it (see
    /// [`PgStore::reader`]), else on the primary's. A standby that cancels the read (a conflict
    /// with its recovery) or cannot be reached is skipped for the next, and at the end the
    /// primary answers: never an error the client could not have had from the primary.
    pub(crate) async fn read<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = std::result::Result<T, sqlx::Error>>,
    {
        let standbys = match session_read_after() {
            ReadAfter::Unreadable => Vec::new(),
            _ => self.topology.readers(),
        };
        let position = session_read_after().position();
        for (replica, replayed) in standbys {
            if !self.holds(replica, replayed, position.as_ref()).await {
                continue;
            }
            match work(replica.pool.clone()).await {
                Ok(answer) => {
                    pool_metrics::read_answered(&replica.name);
                    return Ok(answer);
                }
                Err(error) if retry_elsewhere(&error) => {
                    tracing::info!(standby = %replica.name, %error, "a standby failed a read: asking the next server");
                    if crate::error::is_unreachable(&error) {
                        replica.mark_down();
                    }
                }
                Err(error) => return Err(from_sqlx(error)),
            }
        }
        let answer = work(self.pool.clone())
            .await
            .map_err(|error| from_pool(&self.pool, error))?;
        pool_metrics::read_answered(&self.topology.writer_name());
        Ok(answer)
    }

    /// The standby the current session's reads may use, if any.
    async fn standby_for_session(&self) -> Result<Option<&Replica>> {
        let position = match session_read_after() {
            ReadAfter::Unreadable => return Ok(None),
            read_after => read_after.position(),
        };
        for (replica, replayed) in self.topology.readers() {
            if self.holds(replica, replayed, position.as_ref()).await {
                return Ok(Some(replica));
            }
        }
        Ok(None)
    }

    /// Whether `replica`, known to have replayed up to `replayed`, holds the write at
    /// `position`: at once when there is none, else asked, waiting up to [`REPLAY_WAIT`].
    async fn holds(&self, replica: &Replica, replayed: u64, position: Option<&Position>) -> bool {
        let Some(position) = position else {
            return true;
        };
        // A position the monitor has seen it pass needs no question, unless a transaction must
        // be seen to have committed.
        if replayed >= position.bytes && position.xact.is_none() {
            return true;
        }
        let deadline = Instant::now() + REPLAY_WAIT;
        loop {
            let visible: std::result::Result<bool, sqlx::Error> = sqlx::query_scalar(VISIBLE)
                .bind(&position.lsn)
                .bind(position.xact.as_deref())
                .fetch_one(&replica.pool)
                .await;
            match visible {
                Ok(true) => return true,
                Ok(false) if Instant::now() < deadline => tokio::time::sleep(REPLAY_POLL).await,
                _ => return false,
            }
        }
    }

    /// The servers behind the store, as [`Catalog::nodes`] reports them.
    pub(crate) fn topology(&self) -> &Topology {
        &self.topology
    }

    /// A connection from the pool, or unavailable after the configured wait.
    pub(crate) async fn connection(&self) -> Result<PoolConnection<Postgres>> {
        pool_metrics::acquire(Pool::Main, self.pool.acquire())
            .await
            .map_err(|error| from_pool(self.pool(), error))
    }

    /// A till connection, or unavailable after the configured wait.
    pub(crate) async fn till(&self) -> Result<Till> {
        pool_metrics::acquire(Pool::Till, till::get(&self.tills)).await
    }

    /// The till connections' pool.
    pub(crate) fn tills(&self) -> &TillPool {
        &self.tills
    }
}

/// What the current session's reads must see.
enum ReadAfter {
    /// Nothing in particular: any server within the staleness bound.
    Anything,
    /// A write at this position.
    Position(Position),
    /// A token this store cannot have made: only the primary is sure to hold it.
    Unreadable,
}

impl ReadAfter {
    fn position(self) -> Option<Position> {
        match self {
            ReadAfter::Position(position) => Some(position),
            _ => None,
        }
    }
}

fn session_read_after() -> ReadAfter {
    match consistency::read_after() {
        None => ReadAfter::Anything,
        Some(token) => Position::parse(&token).map_or(ReadAfter::Unreadable, ReadAfter::Position),
    }
}

/// The options of the store's pools: `writer`, for the primary's pool, discards connections
/// opened before the writer last changed.
fn pool_options(config: &PgConfig, writer: Option<Arc<Writer>>) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            let former = writer
                .as_ref()
                .is_some_and(|writer| writer.predates_change(meta.age));
            Box::pin(async move {
                if former {
                    return Ok(false);
                }
                if meta.idle_for > CHECK_IDLE_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}
