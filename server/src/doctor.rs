//! `convene doctor`: checks a configuration the way a running server uses it and says
//! what is wrong and how to fix it.
//!
//! Checks: the database answers and carries every migration of this binary (and none it
//! does not know); Redis answers (when configured); the data directory is a writable
//! directory; an HTTP server answers `/healthz` on `listen`; the UDP media port is held
//! by the server and answers a probe from this machine (or is free, when no server
//! runs); the address browsers are told for media fits the public URL; each TURN server
//! grants a real Allocate with credentials derived from `turn_secret`; the public URL is
//! a base URL browsers allow cameras on; the clock agrees with the database's and
//! Redis's.
//!
//! The doctor changes nothing: it opens no database file that does not exist, applies no
//! migration, and binds the media port only for the instant it takes to learn whether
//! something else holds it. Every probe has a deadline, so a missing server shows as a
//! finding, never as a hang.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::stun::error_code::ErrorCodeAttribute;
use rtc::stun::message::{
    BINDING_REQUEST, CLASS_ERROR_RESPONSE, Getter, METHOD_ALLOCATE, Message, TransactionId,
};
use rtc::turn::client::{Client as TurnClient, ClientConfig, Event as TurnEvent};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::config::{Config, redact_url_password};

/// How long one probe (a connection, a TURN exchange, a datagram) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the media port is watched for an answer to the STUN probe.
const MEDIA_WAIT: Duration = Duration::from_millis(700);
/// Clock differences above this are reported.
const CLOCK_WARN_MS: i64 = 5_000;
/// Clock differences above this are a failure: past the leeway of tokens and the
/// order of messages written by different nodes.
const CLOCK_FAIL_MS: i64 = 60_000;
/// 2025-01-01T00:00:00Z: a system clock before this has never been set.
const CLOCK_FLOOR_UNIX: u64 = 1_735_689_600;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Not checked or not configured; nothing to do.
    Info,
    /// Works, but probably not as intended.
    Warn,
    /// Broken: the exit code is non-zero.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Which check: `database`, `media port`, `turn <url>`, ….
    pub check: String,
    pub status: Status,
    /// What was found.
    pub message: String,
    /// What to do about it, for warnings and failures.
    pub fix: Option<String>,
}

/// Everything the doctor found, in the order it looked.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    fn add(&mut self, check: &str, status: Status, message: String, fix: Option<String>) {
        self.findings.push(Finding {
            check: check.to_owned(),
            status,
            message,
            fix,
        });
    }

    fn ok(&mut self, check: &str, message: impl Into<String>) {
        self.add(check, Status::Ok, message.into(), None);
    }

    fn info(&mut self, check: &str, message: impl Into<String>) {
        self.add(check, Status::Info, message.into(), None);
    }

    fn warn(&mut self, check: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(check, Status::Warn, message.into(), Some(fix.into()));
    }

    fn fail(&mut self, check: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(check, Status::Fail, message.into(), Some(fix.into()));
    }

    /// Did any check fail?
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.status == Status::Fail)
    }

    /// The finding of `check`, if it ran (tests and callers look findings up by name).
    pub fn finding(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }

    /// The report as printed: one line per check, fixes indented below, a summary.
    pub fn render(&self) -> String {
        let width = self
            .findings
            .iter()
            .map(|f| f.check.chars().count())
            .max()
            .unwrap_or(0)
            .max(8);
        let mut out = String::new();
        for f in &self.findings {
            let tag = match f.status {
                Status::Ok => "ok",
                Status::Info => "-",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            let _ = writeln!(out, "{tag:<5} {:<width$}  {}", f.check, f.message);
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "{:<5} {:<width$}  fix: {fix}", "", "");
            }
        }
        let fails = self.count(Status::Fail);
        let warns = self.count(Status::Warn);
        let _ = match (fails, warns) {
            (0, 0) => writeln!(out, "convene doctor: all checks passed"),
            (0, w) => writeln!(out, "convene doctor: no problems, {}", plural(w, "warning")),
            (f, w) => writeln!(
                out,
                "convene doctor: {}, {}",
                plural(f, "problem"),
                plural(w, "warning")
            ),
        };
        out
    }

    fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The report for a configuration that did not load (the other checks need one).
pub fn config_error(error: &anyhow::Error) -> Report {
    let mut report = Report::default();
    report.fail(
        "config",
        format!("{error:#}"),
        "correct that setting in the config file, its CONVENE_* variable or its flag \
         (`convene config` prints the effective settings)",
    );
    report
}

/// Run every check against `config`.
pub async fn run(config: &Config) -> Report {
    let mut report = Report::default();
    report.ok(
        "config",
        format!(
            "loaded (database {}, data dir {})",
            redact_url_password(&config.database_url()),
            config.data_dir.display()
        ),
    );
    let db = check_database(config, &mut report).await;
    let db_clock = match db {
        Some(mut conn) => {
            check_migrations(&mut conn, &mut report).await;
            let clock = conn.clock_offset().await;
            conn.close().await;
            clock
        }
        None => None,
    };
    let redis_clock = check_redis(config, &mut report).await;
    check_data_dir(&config.data_dir, &mut report);
    let server_up = check_http(config, &mut report).await;
    check_media_port(config, server_up, &mut report).await;
    check_media_address(config, &mut report);
    check_turn(config, &mut report).await;
    check_public_url(config, &mut report);
    check_clock(db_clock, redis_clock, &mut report);
    report
}

// --- database --------------------------------------------------------------------------

/// A connection of either backend, opened without creating anything.
enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// The applied-migrations table.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

impl DbConn {
    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
        match self {
            DbConn::Sqlite(_) => &SQLITE,
            DbConn::Postgres(_) => &POSTGRES,
        }
    }

    async fn has_migrations_table(&mut self) -> Result<bool, sqlx::Error> {
        match self {
            DbConn::Sqlite(c) => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            )
            .bind(MIGRATIONS_TABLE)
            .fetch_one(c)
            .await
            .map(|n| n > 0),
            DbConn::Postgres(c) => {
                sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
                    .bind(MIGRATIONS_TABLE)
                    .fetch_one(c)
                    .await
            }
        }
    }

    /// `(version, success, checksum)` of every applied migration.
    async fn applied(&mut self) -> Result<Vec<(i64, bool, Vec<u8>)>, sqlx::Error> {
        const SQL: &str =
            "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version";
        match self {
            DbConn::Sqlite(c) => sqlx::query_as(SQL).fetch_all(c).await,
            DbConn::Postgres(c) => sqlx::query_as(SQL).fetch_all(c).await,
        }
    }

    /// The database server's clock minus ours, in milliseconds (PostgreSQL only: SQLite
    /// runs on this machine's clock).
    async fn clock_offset(&mut self) -> Option<ClockReading> {
        let DbConn::Postgres(c) = self else {
            return None;
        };
        let before = unix_ms();
        let theirs: i64 = sqlx::query_scalar(
            "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        )
        .fetch_one(c)
        .await
        .ok()?;
        let after = unix_ms();
        Some(ClockReading {
            source: "PostgreSQL",
            offset_ms: theirs - (before + after) / 2,
        })
    }

    async fn close(self) {
        let _ = match self {
            DbConn::Sqlite(c) => c.close().await,
            DbConn::Postgres(c) => c.close().await,
        };
    }
}

async fn check_database(config: &Config, report: &mut Report) -> Option<DbConn> {
    const CHECK: &str = "database";
    let url = config.database_url();
    let shown = redact_url_password(&url);
    if url.starts_with("sqlite:") {
        let options = match SqliteConnectOptions::from_str(&url) {
            Ok(o) => o,
            Err(e) => {
                report.fail(
                    CHECK,
                    format!("{shown} is not a SQLite URL: {e}"),
                    "write database_url as sqlite://path/to/convene.db, or leave it empty \
                     for <data_dir>/convene.db",
                );
                return None;
            }
        };
        let path = options.get_filename().to_path_buf();
        if !path.exists() {
            report.fail(
                CHECK,
                format!("no SQLite database at {}", path.display()),
                "run `convene migrate` (or start the server once) to create it; if the \
                 server has run before, data_dir or database_url points at the wrong place",
            );
            return None;
        }
        let options = options.create_if_missing(false).busy_timeout(PROBE_TIMEOUT);
        match tokio::time::timeout(PROBE_TIMEOUT, SqliteConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => {
                report.ok(CHECK, format!("SQLite database {} opens", path.display()));
                Some(DbConn::Sqlite(conn))
            }
            Ok(Err(e)) => {
                report.fail(
                    CHECK,
                    format!("cannot open the SQLite database {}: {e}", path.display()),
                    "check that the file is a Convene database and that this user may \
                     read and write it and its directory",
                );
                None
            }
            Err(_) => {
                report.fail(
                    CHECK,
                    format!("opening {} took more than 5 s", path.display()),
                    "another process holds a lock on the database; check for a stuck \
                     `sqlite3` shell or backup job",
                );
                None
            }
        }
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let options = match PgConnectOptions::from_str(&url) {
            Ok(o) => o,
            Err(e) => {
                report.fail(
                    CHECK,
                    format!("{shown} is not a PostgreSQL URL: {e}"),
                    "write database_url as postgres://user:password@host:5432/dbname",
                );
                return None;
            }
        };
        let at = format!("{}:{}", options.get_host(), options.get_port());
        match tokio::time::timeout(PROBE_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(conn)) => {
                report.ok(CHECK, format!("PostgreSQL at {at} answers"));
                Some(DbConn::Postgres(conn))
            }
            Ok(Err(e)) => {
                let (message, fix) = postgres_failure(&e, &at, &options);
                report.fail(CHECK, message, fix);
                None
            }
            Err(_) => {
                report.fail(
                    CHECK,
                    format!("no answer from PostgreSQL at {at} within 5 s"),
                    "check that PostgreSQL runs there and that a firewall lets this \
                     machine reach the port",
                );
                None
            }
        }
    } else {
        report.fail(
            CHECK,
            format!("database_url {shown} is neither sqlite:// nor postgres://"),
            "set database_url (CONVENE_DATABASE_URL) to sqlite://… or postgres://…, or \
             leave it empty for SQLite in the data directory",
        );
        None
    }
}

/// What a failed PostgreSQL connection means, and what to do.
fn postgres_failure(e: &sqlx::Error, at: &str, options: &PgConnectOptions) -> (String, String) {
    let user = options.get_username();
    let db = options.get_database().unwrap_or(user);
    if let Some(db_error) = e.as_database_error()
        && let Some(code) = db_error.code()
    {
        match code.as_ref() {
            "28P01" | "28000" => {
                return (
                    format!(
                        "PostgreSQL at {at} refused user {user:?}: {}",
                        db_error.message()
                    ),
                    "check the user and password in database_url, and pg_hba.conf on the \
                     database server for this client's address"
                        .into(),
                );
            }
            "3D000" => {
                return (
                    format!("PostgreSQL at {at} has no database {db:?}"),
                    format!("create it: `createdb -O {user} {db}` (Convene creates the tables)"),
                );
            }
            _ => {}
        }
    }
    let refused =
        matches!(e, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused);
    if refused {
        (
            format!("cannot connect to PostgreSQL at {at}: connection refused"),
            "start PostgreSQL, or correct the host and port in database_url \
             (CONVENE_DATABASE_URL)"
                .into(),
        )
    } else {
        (
            format!("cannot connect to PostgreSQL at {at}: {e}"),
            "check database_url (CONVENE_DATABASE_URL) and that PostgreSQL runs there".into(),
        )
    }
}

async fn check_migrations(conn: &mut DbConn, report: &mut Report) {
    const CHECK: &str = "migrations";
    match conn.has_migrations_table().await {
        Ok(true) => {}
        Ok(false) => {
            report.fail(
                CHECK,
                "the database is empty: no migration has been applied",
                "run `convene migrate` (the server also applies migrations when it starts)",
            );
            return;
        }
        Err(e) => {
            report.fail(
                CHECK,
                format!("cannot read the database: {e}"),
                "check that database_url points at Convene's database",
            );
            return;
        }
    }
    let applied = match conn.applied().await {
        Ok(rows) => rows,
        Err(e) => {
            report.fail(
                CHECK,
                format!("cannot read {MIGRATIONS_TABLE}: {e}"),
                "check that database_url points at Convene's database",
            );
            return;
        }
    };
    let known: Vec<&sqlx::migrate::Migration> = conn
        .migrator()
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    if let Some((version, _, _)) = applied.iter().find(|(_, ok, _)| !ok) {
        report.fail(
            CHECK,
            format!("migration {version} failed part-way"),
            "restore the database from the backup taken before the upgrade, then start the \
             server again",
        );
        return;
    }
    let unknown: Vec<i64> = applied
        .iter()
        .map(|(v, _, _)| *v)
        .filter(|v| !known.iter().any(|m| m.version == *v))
        .collect();
    if let Some(first) = unknown.first() {
        report.fail(
            CHECK,
            format!(
                "the database has {} this binary does not know (from version {first}): a \
                 newer Convene upgraded it",
                plural(unknown.len(), "migration")
            ),
            "run that newer version of Convene, or restore the backup taken before the \
             upgrade",
        );
        return;
    }
    let changed: Vec<i64> = applied
        .iter()
        .filter(|(v, _, sum)| {
            known
                .iter()
                .any(|m| m.version == *v && m.checksum.as_ref() != sum.as_slice())
        })
        .map(|(v, _, _)| *v)
        .collect();
    if let Some(first) = changed.first() {
        report.fail(
            CHECK,
            format!("migration {first} differs from the one applied to this database"),
            "this binary was built from modified sources; run an official build",
        );
        return;
    }
    let pending: Vec<&&sqlx::migrate::Migration> = known
        .iter()
        .filter(|m| !applied.iter().any(|(v, _, _)| *v == m.version))
        .collect();
    match pending.first() {
        None => report.ok(
            CHECK,
            format!("all {} applied", plural(known.len(), "migration")),
        ),
        Some(first) => report.fail(
            CHECK,
            format!(
                "{} pending (from {} {})",
                plural(pending.len(), "migration"),
                first.version,
                first.description
            ),
            "back up, then run `convene migrate` or restart the server (it applies \
             migrations when it starts)",
        ),
    }
}

// --- Redis -----------------------------------------------------------------------------

async fn check_redis(config: &Config, report: &mut Report) -> Option<ClockReading> {
    const CHECK: &str = "redis";
    if config.redis_url.is_empty() {
        report.info(CHECK, "not configured (one node)");
        return None;
    }
    let shown = redact_url_password(&config.redis_url);
    let client = match redis::Client::open(config.redis_url.as_str()) {
        Ok(c) => c,
        Err(e) => {
            report.fail(
                CHECK,
                format!("{shown} is not a Redis URL: {e}"),
                "write redis_url as redis://host:6379",
            );
            return None;
        }
    };
    let probe = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let before = unix_ms();
        let (secs, micros): (String, String) = redis::cmd("TIME").query_async(&mut conn).await?;
        let after = unix_ms();
        Ok::<_, redis::RedisError>((secs, micros, before, after))
    };
    match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
        Ok(Ok((secs, micros, before, after))) => {
            report.ok(CHECK, format!("{shown} answers"));
            let theirs = secs.parse::<i64>().ok()? * 1000 + micros.parse::<i64>().ok()? / 1000;
            Some(ClockReading {
                source: "Redis",
                offset_ms: theirs - (before + after) / 2,
            })
        }
        Ok(Err(e)) => {
            report.fail(
                CHECK,
                format!("cannot reach Redis at {shown}: {e}"),
                "start Redis, or correct redis_url (CONVENE_REDIS_URL); leave it empty to \
                 run a single node",
            );
            None
        }
        Err(_) => {
            report.fail(
                CHECK,
                format!("no answer from Redis at {shown} within 5 s"),
                "check that Redis runs there and that a firewall lets this machine reach it",
            );
            None
        }
    }
}

// --- data directory --------------------------------------------------------------------

fn check_data_dir(dir: &Path, report: &mut Report) {
    const CHECK: &str = "data dir";
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report.warn(
                CHECK,
                format!("{shown} does not exist yet"),
                "the server creates it on start; to keep data elsewhere set data_dir \
                 (CONVENE_DATA_DIR)",
            );
            return;
        }
        Err(e) => {
            report.fail(
                CHECK,
                format!("cannot look at {shown}: {e}"),
                "give the user that runs Convene access to the directory and its parents",
            );
            return;
        }
    };
    if !meta.is_dir() {
        report.fail(
            CHECK,
            format!("{shown} is not a directory"),
            "point data_dir (CONVENE_DATA_DIR) at a directory",
        );
        return;
    }
    for sub in [dir.to_path_buf(), dir.join("files")] {
        if sub != dir && !sub.is_dir() {
            continue;
        }
        if let Err(e) = write_probe(&sub) {
            let owner = owner_of(&sub);
            report.fail(
                CHECK,
                format!("cannot write in {}: {e}", sub.display()),
                format!(
                    "give the user that runs Convene write access (the directory is owned by \
                     {owner}; the Docker image runs as uid 10001): e.g. `chown -R <user> {}`",
                    dir.display()
                ),
            );
            return;
        }
    }
    let key = dir.join("jwt.key");
    if let Some(mode) = mode_of(&key)
        && mode & 0o077 != 0
    {
        report.warn(
            CHECK,
            format!(
                "{} can be read by other users (mode {:o})",
                key.display(),
                mode & 0o777
            ),
            format!("chmod 600 {}", key.display()),
        );
        return;
    }
    report.ok(CHECK, format!("{shown} is writable"));
}

/// Create, write, sync and remove a file in `dir`.
fn write_probe(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(format!(".convene-doctor-{}", std::process::id()));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| {
            f.write_all(b"convene doctor write test\n")?;
            f.sync_all()
        });
    let removed = std::fs::remove_file(&path);
    result.and(removed)
}

#[cfg(unix)]
fn owner_of(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| format!("uid {}", m.uid()))
        .unwrap_or_else(|_| "an unknown user".into())
}

#[cfg(not(unix))]
fn owner_of(_path: &Path) -> String {
    "another user".into()
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

// --- the running server ----------------------------------------------------------------

/// A local address to reach a socket bound to `ip` (a wildcard means loopback).
fn local_target(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// Does a Convene server answer `/healthz` on `listen`? Returns whether one does.
async fn check_http(config: &Config, report: &mut Report) -> bool {
    const CHECK: &str = "server";
    let Ok(listen) = config.listen.parse::<SocketAddr>() else {
        return false;
    };
    let target = SocketAddr::new(local_target(listen.ip()), listen.port());
    match healthz(target).await {
        Ok(true) => {
            report.ok(CHECK, format!("answers on http://{target}/healthz"));
            true
        }
        Ok(false) => {
            report.fail(
                CHECK,
                format!("something else answers HTTP on {target} (not Convene's /healthz)"),
                "another program holds the port: stop it or choose another listen address \
                 (CONVENE_LISTEN)",
            );
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            report.warn(
                CHECK,
                format!("no server is running on {target}"),
                "start it with `convene serve` (the checks of the media port need it)",
            );
            false
        }
        Err(e) => {
            report.warn(
                CHECK,
                format!("no answer from {target}: {e}"),
                "start the server with `convene serve`, or check what holds the port",
            );
            false
        }
    }
}

/// `GET /healthz` over plain HTTP/1.1; `Ok(true)` when the answer is Convene's `ok`.
async fn healthz(target: SocketAddr) -> std::io::Result<bool> {
    let exchange = async {
        let mut stream = TcpStream::connect(target).await?;
        let request =
            format!("GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.take(64 * 1024).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))??;
    let text = String::from_utf8_lossy(&answer);
    Ok(text.starts_with("HTTP/1.1 200") && text.trim_end().ends_with("\r\n\r\nok"))
}

/// Is the media port held, and does it answer from this machine?
async fn check_media_port(config: &Config, server_up: bool, report: &mut Report) {
    const CHECK: &str = "media port";
    let Ok(ip) = config.media_ip.parse::<IpAddr>() else {
        return;
    };
    if config.media_port == 0 {
        report.warn(
            CHECK,
            "media_port is 0: the server picks a random UDP port at each start",
            "set media_port (CONVENE_MEDIA_PORT) to a fixed port such as 7882 and open it in \
             the firewall",
        );
        return;
    }
    let bind_at = SocketAddr::new(ip, config.media_port);
    // Binding tells whether something holds the port; the socket closes at once.
    match std::net::UdpSocket::bind(bind_at) {
        Ok(socket) => {
            drop(socket);
            if server_up {
                report.fail(
                    CHECK,
                    format!(
                        "UDP {bind_at} is free although a server answers on {}: that server \
                         uses other media settings",
                        config.listen
                    ),
                    "run the doctor with the configuration the server runs with (same file \
                     and CONVENE_* variables)",
                );
            } else {
                report.warn(
                    CHECK,
                    format!(
                        "UDP {bind_at} is free, so no Convene server is running with this \
                         configuration (the server can bind it)"
                    ),
                    "start the server, then run the doctor again to check that the port \
                     answers",
                );
            }
            return;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
            report.fail(
                CHECK,
                format!("cannot bind UDP {bind_at}: {ip} is not an address of this machine"),
                "set media_ip (CONVENE_MEDIA_IP) to an address of this machine, or 0.0.0.0; \
                 behind NAT put the public address in media_public_ip",
            );
            return;
        }
        Err(e) => {
            report.fail(
                CHECK,
                format!("cannot bind UDP {bind_at}: {e}"),
                "ports below 1024 need privileges: keep the default 7882",
            );
            return;
        }
    }
    if !server_up {
        report.fail(
            CHECK,
            format!(
                "UDP {bind_at} is held by another program and no Convene answers on {}",
                config.listen
            ),
            format!(
                "find it with `ss -ulpn 'sport = :{}'` and stop it, or choose another \
                 media_port",
                config.media_port
            ),
        );
        return;
    }
    let target = SocketAddr::new(local_target(ip), config.media_port);
    match stun_probe(target).await {
        Ok(answered) => report.ok(
            CHECK,
            format!(
                "UDP {bind_at} is bound by the server and takes datagrams from this machine \
                 ({}); whether other networks reach it depends on firewalls and NAT",
                if answered {
                    "it answered a STUN binding request"
                } else {
                    "it ignored a STUN probe without an ICE username, as it should"
                }
            ),
        ),
        Err(e) => report.fail(
            CHECK,
            format!("a STUN probe to {target} was refused: {e}"),
            "the port is held but not reachable from this machine: check local firewall \
             rules (nft list ruleset / iptables -L) for UDP on that port",
        ),
    }
}

/// Send a STUN binding request to `target` from a connected socket. `Ok(true)` when a
/// STUN answer came back, `Ok(false)` on silence (the SFU drops checks it cannot route),
/// `Err` when the port is unreachable (ICMP port unreachable shows as refused).
async fn stun_probe(target: SocketAddr) -> std::io::Result<bool> {
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(target).await?;
    let mut request = Message::new();
    request
        .build(&[Box::new(BINDING_REQUEST), Box::new(TransactionId::new())])
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    socket.send(&request.raw).await?;
    let mut buf = [0u8; 1500];
    match tokio::time::timeout(MEDIA_WAIT, socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Ok(n >= 20 && buf[4..8] == [0x21, 0x12, 0xA4, 0x42]),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(false),
    }
}

/// The address browsers are told to send media to, as the server computes it.
fn advertised_media_ip(config: &Config) -> Option<IpAddr> {
    if !config.media_public_ip.is_empty() {
        return config.media_public_ip.parse().ok();
    }
    let ip: IpAddr = config.media_ip.parse().ok()?;
    if !ip.is_unspecified() {
        return Some(ip);
    }
    // The interface on the default route (connecting a UDP socket sends nothing).
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    probe.local_addr().ok().map(|a| a.ip())
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_link_local()
                || (v4.octets()[0] == 100 && v4.octets()[1] & 0xC0 == 64)
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Does the media address browsers are given fit where people come from?
fn check_media_address(config: &Config, report: &mut Report) {
    const CHECK: &str = "media address";
    let Some(ip) = advertised_media_ip(config) else {
        report.warn(
            CHECK,
            "cannot tell which address browsers are given for media (no default route)",
            "set media_public_ip (CONVENE_MEDIA_PUBLIC_IP) to the address people reach this \
             machine on",
        );
        return;
    };
    let port = config.media_port;
    let public_host = public_url(config)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    let local_only = public_host.as_deref().is_none_or(is_local_host);
    if ip.is_loopback() && !local_only {
        report.fail(
            CHECK,
            format!(
                "browsers are told to send media to {ip}:{port}, which only this machine \
                 reaches"
            ),
            "set media_public_ip (CONVENE_MEDIA_PUBLIC_IP) to the address people reach this \
             machine on, or media_ip to 0.0.0.0",
        );
    } else if is_private(ip) && config.media_public_ip.is_empty() && !local_only {
        report.warn(
            CHECK,
            format!(
                "browsers are told to send media to {ip}:{port}, a private address: only \
                 people on this network reach it"
            ),
            "if people join from the internet, set media_public_ip (CONVENE_MEDIA_PUBLIC_IP) \
             to the public address that forwards UDP to this machine",
        );
    } else {
        report.ok(
            CHECK,
            format!("browsers are told to send media to {ip}:{port}"),
        );
    }
}

// --- TURN ------------------------------------------------------------------------------

/// A `turn:`/`turns:` URL (RFC 7065).
#[derive(Debug, PartialEq, Eq)]
struct TurnUrl {
    tls: bool,
    host: String,
    port: u16,
    tcp: bool,
}

fn parse_turn_url(url: &str) -> Result<TurnUrl, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("turns:") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("turn:") {
        (false, r)
    } else {
        return Err("it does not start with turn: or turns:".into());
    };
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let tcp = match query {
        "" => tls,
        "transport=udp" => false,
        "transport=tcp" => true,
        other => {
            return Err(format!(
                "unknown parameter {other:?} (use transport=udp or tcp)"
            ));
        }
    };
    let default_port = if tls { 5349 } else { 3478 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| "an IPv6 address lacks its closing ]".to_owned())?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
            None if after.is_empty() => default_port,
            None => return Err(format!("unexpected {after:?} after the address")),
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_owned(),
                p.parse().map_err(|_| format!("bad port {p:?}"))?,
            ),
            None => (authority.to_owned(), default_port),
        }
    };
    if host.is_empty() || host.contains('/') {
        return Err("it names no host".into());
    }
    Ok(TurnUrl {
        tls,
        host,
        port,
        tcp,
    })
}

/// Why an Allocate did not succeed.
#[derive(Debug)]
enum TurnFailure {
    /// The server answered with a STUN error code.
    Code(u16, String),
    Refused,
    Timeout,
    Other(String),
}

async fn check_turn(config: &Config, report: &mut Report) {
    if config.turn_urls.is_empty() {
        if config.turn_secret.is_empty() {
            report.info(
                "turn",
                "no TURN server configured: people whose networks block UDP cannot join \
                 meetings",
            );
        } else {
            report.warn(
                "turn",
                "turn_secret is set but turn_urls is empty: browsers are given no TURN server",
                "set turn_urls (CONVENE_TURN_URLS), e.g. [\"turn:turn.example.com:3478?transport=udp\"]",
            );
        }
        return;
    }
    if config.turn_secret.is_empty() {
        report.fail(
            "turn",
            "turn_urls is set but turn_secret is empty: browsers would get credentials the \
             TURN server refuses",
            "set turn_secret (CONVENE_TURN_SECRET) to the value of coturn's \
             static-auth-secret (coturn also needs use-auth-secret)",
        );
        return;
    }
    let expiry = unix_ms() / 1000 + config.turn_credential_ttl_secs.min(3600) as i64;
    let username = format!("{expiry}:convene-doctor");
    let password = crate::meetings::turn::credential(&config.turn_secret, &username);
    for url in &config.turn_urls {
        let check = format!("turn {url}");
        let parsed = match parse_turn_url(url) {
            Ok(p) => p,
            Err(e) => {
                report.fail(
                    &check,
                    format!("not a TURN URL: {e}"),
                    "write it as turn:host:3478?transport=udp, turn:host:3478?transport=tcp \
                     or turns:host:5349",
                );
                continue;
            }
        };
        if parsed.tls {
            report.info(
                &check,
                format!(
                    "not probed (TLS); check its certificate with `openssl s_client -connect \
                     {}:{}`",
                    parsed.host, parsed.port
                ),
            );
            continue;
        }
        let proto = if parsed.tcp { "TCP" } else { "UDP" };
        let server = match tokio::net::lookup_host((parsed.host.as_str(), parsed.port)).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => a,
                None => {
                    report.fail(
                        &check,
                        format!("{} has no address", parsed.host),
                        "check DNS",
                    );
                    continue;
                }
            },
            Err(e) => {
                report.fail(
                    &check,
                    format!("cannot resolve {}: {e}", parsed.host),
                    "check the host name in turn_urls and this machine's DNS",
                );
                continue;
            }
        };
        match turn_allocate(server, parsed.tcp, &username, &password).await {
            Ok(relayed) => report.ok(
                &check,
                format!(
                    "{server} over {proto} granted an allocation (relay {relayed}) to \
                     credentials derived from turn_secret"
                ),
            ),
            Err(failure) => {
                let (message, fix) = turn_failure(failure, server, proto);
                report.fail(&check, message, fix);
            }
        }
    }
}

fn turn_failure(failure: TurnFailure, server: SocketAddr, proto: &str) -> (String, String) {
    match failure {
        TurnFailure::Code(401, reason) => (
            format!("{server} refused the credentials (401 {reason})"),
            "turn_secret must equal coturn's static-auth-secret, and coturn needs \
             use-auth-secret; if both are right, compare the clocks of the two machines \
             (credentials carry their expiry time)"
                .into(),
        ),
        TurnFailure::Code(438, reason) => (
            format!("{server} answered 438 {reason} (stale nonce) to a fresh nonce"),
            "the TURN server's nonce lifetime or clock is off: check its stale-nonce setting \
             and clock, then run the doctor again"
                .into(),
        ),
        TurnFailure::Code(403, reason) => (
            format!("{server} refused the allocation (403 {reason})"),
            "the TURN server forbids this client: check coturn's allowed-peer-ip, \
             denied-peer-ip and no-udp-relay settings"
                .into(),
        ),
        TurnFailure::Code(486, reason) => (
            format!("{server} has no allocation left for this user (486 {reason})"),
            "raise coturn's user-quota / total-quota".into(),
        ),
        TurnFailure::Code(508, reason) => (
            format!("{server} is out of relay ports (508 {reason})"),
            "widen coturn's min-port..max-port range".into(),
        ),
        TurnFailure::Code(code, reason) => (
            format!("{server} refused the allocation ({code} {reason})"),
            "see the TURN server's log for this request".into(),
        ),
        TurnFailure::Refused => (
            format!("nothing listens on {server} over {proto} (connection refused)"),
            "start the TURN server (coturn), or correct the port in turn_urls".into(),
        ),
        TurnFailure::Timeout => (
            format!("no answer from {server} over {proto} within 5 s"),
            format!(
                "check that the TURN server runs and that firewalls pass {proto} port {} to it",
                server.port()
            ),
        ),
        TurnFailure::Other(e) => (
            format!("the exchange with {server} over {proto} failed: {e}"),
            "see the TURN server's log for this request".into(),
        ),
    }
}

/// A connection to the TURN server carrying whole STUN messages.
enum TurnTransport {
    Udp(UdpSocket),
    /// STUN over TCP frames itself: a 20-byte header carrying the body length.
    Tcp(TcpStream, Vec<u8>),
}

impl TurnTransport {
    async fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            TurnTransport::Udp(s) => s.send(data).await.map(|_| ()),
            TurnTransport::Tcp(s, _) => s.write_all(data).await,
        }
    }

    async fn recv(&mut self) -> std::io::Result<Vec<u8>> {
        match self {
            TurnTransport::Udp(s) => {
                let mut buf = vec![0u8; 2048];
                let n = s.recv(&mut buf).await?;
                buf.truncate(n);
                Ok(buf)
            }
            TurnTransport::Tcp(s, pending) => loop {
                if pending.len() >= 20 {
                    let len = 20 + u16::from_be_bytes([pending[2], pending[3]]) as usize;
                    if pending.len() >= len {
                        return Ok(pending.drain(..len).collect());
                    }
                }
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                pending.extend_from_slice(&buf[..n]);
            },
        }
    }
}

/// The STUN error code of `data` when it is an error response to transaction `id`.
fn error_code_for(data: &[u8], id: &TransactionId) -> Option<(u16, String)> {
    let mut m = Message::new();
    m.raw = data.to_vec();
    m.decode().ok()?;
    if m.transaction_id != *id
        || m.typ.class != CLASS_ERROR_RESPONSE
        || m.typ.method != METHOD_ALLOCATE
    {
        return None;
    }
    let mut code = ErrorCodeAttribute::default();
    code.get_from(&m).ok()?;
    Some((
        code.code.0,
        String::from_utf8_lossy(&code.reason).into_owned(),
    ))
}

/// A TURN Allocate with long-term credentials; on success the allocation is released.
async fn turn_allocate(
    server: SocketAddr,
    tcp: bool,
    username: &str,
    password: &str,
) -> Result<SocketAddr, TurnFailure> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            TurnFailure::Refused
        } else {
            TurnFailure::Other(e.to_string())
        }
    };
    let deadline = tokio::time::Instant::now() + PROBE_TIMEOUT;
    let mut transport = if tcp {
        let stream = tokio::time::timeout_at(deadline, TcpStream::connect(server))
            .await
            .map_err(|_| TurnFailure::Timeout)?
            .map_err(io)?;
        TurnTransport::Tcp(stream, Vec::new())
    } else {
        let local: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await.map_err(io)?;
        socket.connect(server).await.map_err(io)?;
        TurnTransport::Udp(socket)
    };
    let local_addr = match &transport {
        TurnTransport::Udp(s) => s.local_addr(),
        TurnTransport::Tcp(s, _) => s.local_addr(),
    }
    .map_err(io)?;
    let protocol = if tcp {
        TransportProtocol::TCP
    } else {
        TransportProtocol::UDP
    };
    let crypto = rtc::crypto::default_provider().map_err(|e| TurnFailure::Other(e.to_string()))?;
    let mut client = TurnClient::new(
        ClientConfig {
            turn_serv_addr: server.to_string(),
            local_addr,
            transport_protocol: protocol,
            username: username.to_owned(),
            password: password.to_owned(),
            software: "convene doctor".into(),
            ..ClientConfig::default()
        },
        crypto,
    )
    .map_err(|e| TurnFailure::Other(e.to_string()))?;
    let allocate = client
        .allocate(Instant::now())
        .map_err(|e| TurnFailure::Other(e.to_string()))?;
    let mut last_error: Option<(u16, String)> = None;
    let mut relayed: Option<SocketAddr> = None;
    loop {
        while let Some(out) = client.poll_write() {
            transport.send(&out.message).await.map_err(io)?;
        }
        if let Some(addr) = relayed {
            return Ok(addr);
        }
        while let Some(event) = client.poll_event() {
            match event {
                TurnEvent::AllocateResponse(id, addr) if id == allocate => {
                    // Release the allocation right away (a Refresh with lifetime 0); the
                    // answer does not matter.
                    if let Ok(mut relay) = client.relay(addr) {
                        let _ = relay.close(Instant::now());
                    }
                    relayed = Some(addr);
                }
                TurnEvent::AllocateError(_, e) => {
                    return Err(match last_error.take() {
                        Some((code, reason)) => TurnFailure::Code(code, reason),
                        None => TurnFailure::Other(e.to_string()),
                    });
                }
                TurnEvent::TransactionTimeout(_) => return Err(TurnFailure::Timeout),
                _ => {}
            }
        }
        if relayed.is_some() {
            continue;
        }
        let wake = client
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .map_or(deadline, |t| t.min(deadline));
        tokio::select! {
            received = transport.recv() => {
                let data = received.map_err(io)?;
                if let Some(code) = error_code_for(&data, &allocate) {
                    last_error = Some(code);
                }
                let message = TaggedBytesMut {
                    now: Instant::now(),
                    transport: TransportContext {
                        local_addr,
                        peer_addr: server,
                        transport_protocol: protocol,
                        ecn: None,
                    },
                    message: BytesMut::from(&data[..]),
                };
                if let Err(e) = client.handle_read(message) {
                    tracing::debug!(error = %e, "TURN answer not understood");
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(TurnFailure::Timeout);
                }
                let _ = client.handle_timeout(Instant::now());
            }
        }
    }
}

// --- public URL ------------------------------------------------------------------------

/// The public URL as the server uses it: the setting, or `http://<listen>`.
fn public_url(config: &Config) -> Result<url::Url, url::ParseError> {
    if config.public_url.is_empty() {
        url::Url::parse(&format!("http://{}", config.listen))
    } else {
        url::Url::parse(&config.public_url)
    }
}

fn is_local_host(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_public_url(config: &Config, report: &mut Report) {
    const CHECK: &str = "public url";
    let derived = config.public_url.is_empty();
    let shown = if derived {
        format!("http://{} (derived from listen)", config.listen)
    } else {
        config.public_url.clone()
    };
    let url = match public_url(config) {
        Ok(u) => u,
        Err(e) => {
            report.fail(
                CHECK,
                format!("{shown} is not a URL: {e}"),
                "set public_url (CONVENE_PUBLIC_URL) to the URL people open, e.g. \
                 https://chat.example.com",
            );
            return;
        }
    };
    let Some(host) = url.host_str().map(str::to_owned) else {
        report.fail(
            CHECK,
            format!("{shown} names no host"),
            "set public_url to the URL people open, e.g. https://chat.example.com",
        );
        return;
    };
    let unspecified = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    if unspecified {
        report.fail(
            CHECK,
            format!(
                "{shown}: links in invitations would point at {host}, which no browser can open"
            ),
            "set public_url (CONVENE_PUBLIC_URL) to the URL people open, e.g. \
             https://chat.example.com",
        );
        return;
    }
    if !matches!(url.scheme(), "http" | "https") {
        report.fail(
            CHECK,
            format!("{shown} is not an http:// or https:// URL"),
            "set public_url to the https:// URL people open",
        );
        return;
    }
    if !url.username().is_empty() || url.password().is_some() {
        report.fail(
            CHECK,
            format!("{shown} carries a user name or password"),
            "remove them: public_url appears in every invitation link",
        );
        return;
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        report.fail(
            CHECK,
            format!(
                "{shown} has a path ({}): Convene serves from the root of its host (/api, /m/<code>)",
                &url[url::Position::BeforePath..]
            ),
            format!(
                "give the server a host name of its own and set public_url to {}",
                &url[..url::Position::BeforePath]
            ),
        );
        return;
    }
    let local = is_local_host(&host);
    if url.scheme() == "http" && !local {
        report.fail(
            CHECK,
            format!(
                "{shown} is plain http: browsers allow camera and microphone only on https \
                 pages (or http://localhost), so meetings would not work"
            ),
            "put a TLS reverse proxy in front (docs/OPERATIONS.md) and set public_url to \
             the https:// URL",
        );
        return;
    }
    if url.scheme() == "https" && !config.trust_proxy_headers {
        report.warn(
            CHECK,
            format!(
                "{shown} is https, so a TLS proxy is in front, but trust_proxy_headers is off: \
                 rate limits and the audit log see the proxy's address"
            ),
            "set trust_proxy_headers = true (CONVENE_TRUST_PROXY_HEADERS) if the proxy \
             overwrites X-Forwarded-For",
        );
        return;
    }
    report.ok(CHECK, shown);
}

// --- clock -----------------------------------------------------------------------------

/// Another server's clock minus ours.
#[derive(Debug, Clone, Copy)]
struct ClockReading {
    source: &'static str,
    offset_ms: i64,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn check_clock(db: Option<ClockReading>, redis: Option<ClockReading>, report: &mut Report) {
    const CHECK: &str = "clock";
    let now = time::OffsetDateTime::now_utc();
    let shown = now
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    if (unix_ms() / 1000) < CLOCK_FLOOR_UNIX as i64 {
        report.fail(
            CHECK,
            format!("the system clock says {shown}: it has not been set"),
            "set the clock and keep it set with NTP (`timedatectl set-ntp true`, chrony)",
        );
        return;
    }
    let readings: Vec<ClockReading> = [db, redis].into_iter().flatten().collect();
    if readings.is_empty() {
        report.ok(
            CHECK,
            format!("system clock {shown} (SQLite uses this machine's clock)"),
        );
        return;
    }
    let worst = readings
        .iter()
        .max_by_key(|r| r.offset_ms.abs())
        .copied()
        .unwrap_or(readings[0]);
    let all = readings
        .iter()
        .map(|r| format!("{} {:+} ms", r.source, r.offset_ms))
        .collect::<Vec<_>>()
        .join(", ");
    let fix = format!(
        "run NTP (chrony or systemd-timesyncd) on this machine and on {}'s",
        worst.source
    );
    if worst.offset_ms.abs() > CLOCK_FAIL_MS {
        report.fail(
            CHECK,
            format!(
                "this machine's clock is {} s off {}'s ({all})",
                worst.offset_ms.abs() / 1000,
                worst.source
            ),
            fix,
        );
    } else if worst.offset_ms.abs() > CLOCK_WARN_MS {
        report.warn(
            CHECK,
            format!(
                "this machine's clock is {} s off {}'s ({all})",
                worst.offset_ms.abs() / 1000,
                worst.source
            ),
            fix,
        );
    } else {
        report.ok(CHECK, format!("system clock {shown}; agrees with {all}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_urls_parse_with_their_defaults() {
        assert_eq!(
            parse_turn_url("turn:turn.example.com:3478?transport=udp"),
            Ok(TurnUrl {
                tls: false,
                host: "turn.example.com".into(),
                port: 3478,
                tcp: false
            })
        );
        assert_eq!(
            parse_turn_url("turns:turn.example.com"),
            Ok(TurnUrl {
                tls: true,
                host: "turn.example.com".into(),
                port: 5349,
                tcp: true
            })
        );
        assert_eq!(
            parse_turn_url("turn:[::1]:3479?transport=tcp"),
            Ok(TurnUrl {
                tls: false,
                host: "::1".into(),
                port: 3479,
                tcp: true
            })
        );
        assert!(parse_turn_url("stun:turn.example.com").is_err());
        assert!(parse_turn_url("turn:host:notaport").is_err());
        assert!(parse_turn_url("turn:host?transport=sctp").is_err());
    }

    #[test]
    fn the_report_ends_with_a_summary_and_fails_on_a_failure() {
        let mut r = Report::default();
        r.ok("database", "fine");
        r.warn("clock", "a bit off", "run NTP");
        assert!(!r.failed());
        assert!(
            r.render()
                .ends_with("convene doctor: no problems, 1 warning\n")
        );
        r.fail("turn", "refused", "fix the secret");
        assert!(r.failed());
        let text = r.render();
        assert!(text.contains("FAIL  turn"), "{text}");
        assert!(text.contains("fix: fix the secret"), "{text}");
        assert!(
            text.ends_with("convene doctor: 1 problem, 1 warning\n"),
            "{text}"
        );
    }
}
