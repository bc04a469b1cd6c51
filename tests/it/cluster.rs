//! PostgreSQL clusters of a test's own, on private ports in temporary directories: a primary
//! made with `initdb`, standbys copied from it with `pg_basebackup -R`, stopped, killed and
//! promoted with `pg_ctl`. The programs run as `postgres` when the test runs as root, since
//! `initdb` refuses root. Without them the test fails and says what to install.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A PostgreSQL cluster of the test's own, in a temporary directory, that the test can stop,
/// start and promote; stopped (immediately) when dropped.
pub struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Whether the PostgreSQL programs run as the `postgres` user, because the test runs as
    /// root and initdb refuses root.
    as_postgres: bool,
    /// Settings given to the server at each start (`-c name=value`).
    settings: Vec<String>,
}

impl Cluster {
    /// Creates the cluster (initdb) on a free port, and starts it.
    pub fn start() -> Cluster {
        Cluster::start_with(&[])
    }

    /// [`Cluster::start`] with server settings (`name=value`) given at each start.
    pub fn start_with(settings: &[&str]) -> Cluster {
        let cluster = Cluster::empty(settings);
        run(cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args(["-U", "postgres", "--auth=trust", "--no-sync"]));
        cluster.pg_ctl_start();
        cluster
    }

    /// A standby of `primary`, copied from it with `pg_basebackup -R` (so it streams from it
    /// and is in recovery), on a port of its own, and started.
    pub fn standby_of(primary: &Cluster) -> Cluster {
        let standby = Cluster::empty(&[]);
        run(standby
            .command("pg_basebackup")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
            .args(["-c", "fast", "--no-sync"])
            .arg("-p")
            .arg(primary.port.to_string())
            .arg("-D")
            .arg(standby.data()));
        standby.pg_ctl_start();
        standby
    }

    /// A cluster directory and port, nothing in it yet.
    fn empty(settings: &[&str]) -> Cluster {
        let bin = postgres_bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let uid = Command::new("id").arg("-u").output().expect("id runs");
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Cluster {
            bin,
            dir,
            port,
            as_postgres,
            settings: settings.iter().map(|setting| setting.to_string()).collect(),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A PostgreSQL program, run as `postgres` when the test is root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// The cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@{}/postgres", self.host())
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pg_ctl_start(&self) {
        let settings: String = self
            .settings
            .iter()
            .map(|setting| format!(" -c {setting}"))
            .collect();
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1{settings}",
                self.port,
                self.dir.path().display()
            ))
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "start"])
            .stdin(Stdio::null())
            .output()
            .expect("pg_ctl runs");
        assert!(
            output.status.success(),
            "pg_ctl start failed: {}\n{}",
            describe(&output),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    pub fn pg_ctl_stop(&self, mode: &str) -> Output {
        self.command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", mode, "-w", "stop"])
            .stdin(Stdio::null())
            .output()
            .expect("pg_ctl runs")
    }

    /// Promotes a standby to a primary, and waits until it is one.
    pub fn promote(&self) {
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "promote"]));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl_stop("immediate");
    }
}

/// The directory of `initdb` and `pg_ctl`: `pg_config --bindir`, or the newest
/// `/usr/lib/postgresql/*/bin`.
fn postgres_bin_dir() -> PathBuf {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|version| version.path().join("bin"))
        .max_by_key(|bin| {
            bin.parent()
                .and_then(|version| version.file_name())
                .and_then(|name| name.to_str())
                .and_then(|name| name.parse::<u32>().ok())
        });
    from_pg_config
        .into_iter()
        .chain(installed)
        .find(|bin| {
            ["pg_ctl", "initdb", "pg_basebackup"]
                .iter()
                .all(|program| bin.join(program).is_file())
        })
        .expect(
            "this test runs PostgreSQL clusters of its own: install the PostgreSQL server \
             programs (initdb, pg_ctl, pg_basebackup), found with pg_config --bindir or in \
             /usr/lib/postgresql/*/bin",
        )
}

fn run(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        describe(&output)
    );
}

pub fn describe(output: &Output) -> String {
    format!(
        "{}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
