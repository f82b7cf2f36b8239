//! `convene doctor`: each broken setting is reported with the message a person reads,
//! a healthy running server passes, and the command's exit code says which is which.

use std::path::Path;
use std::process::Command;

use convene::config::Config;
use convene::doctor::{self, Report, Status};
use convene::store::Store;

use crate::harness::spawn_app;

/// A free port on loopback (TCP and UDP are checked separately, so bind both).
pub fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
        let port = udp.local_addr().expect("local address").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A config for a server that is not running: its own data directory, loopback
/// addresses on free ports.
fn offline_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        listen: format!("127.0.0.1:{}", free_port()),
        media_ip: "127.0.0.1".into(),
        media_port: free_port(),
        ..Config::default()
    }
}

/// Create and migrate the SQLite database of `config`, as `convene migrate` does.
async fn migrate(config: &Config) {
    let store = Store::connect(&config.database_url(), 2)
        .await
        .expect("open the database");
    store.migrate().await.expect("migrate");
    store.close().await;
}

/// The finding of `check`, with the whole report in the panic message when it is missing.
fn finding<'r>(report: &'r Report, check: &str) -> &'r doctor::Finding {
    report
        .finding(check)
        .unwrap_or_else(|| panic!("no {check} finding in\n{}", report.render()))
}

/// Assert that `check` came out as `status` with a message containing `text`.
fn assert_finding(report: &Report, check: &str, status: Status, text: &str) {
    let f = finding(report, check);
    assert_eq!(f.status, status, "{check}:\n{}", report.render());
    assert!(
        f.message.contains(text),
        "{check} should say {text:?}:\n{}",
        report.render()
    );
}

#[tokio::test]
async fn a_running_server_passes_every_check() {
    let app = spawn_app().await;
    let mut config = (*app.state.config).clone();
    config.listen = app.addr.to_string();
    config.media_port = app.state.meetings.sfu.advertised.port();
    let report = doctor::run(&config).await;
    assert!(!report.failed(), "{}", report.render());
    let database = if app.backend == "postgres" {
        "PostgreSQL at"
    } else {
        "SQLite database"
    };
    assert_finding(&report, "database", Status::Ok, database);
    assert_finding(&report, "migrations", Status::Ok, "applied");
    assert_finding(&report, "data dir", Status::Ok, "is writable");
    assert_finding(&report, "server", Status::Ok, "/healthz");
    assert_finding(&report, "media port", Status::Ok, "is bound by the server");
    assert_finding(&report, "public url", Status::Ok, "http://127.0.0.1");
    let clock = if app.backend == "postgres" {
        "agrees with PostgreSQL"
    } else {
        "SQLite uses this machine's clock"
    };
    assert_finding(&report, "clock", Status::Ok, clock);
    assert!(
        report
            .render()
            .ends_with("convene doctor: all checks passed\n"),
        "{}",
        report.render()
    );
}

#[tokio::test]
async fn without_a_running_server_the_doctor_says_so_and_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = offline_config(dir.path());
    migrate(&config).await;
    let report = doctor::run(&config).await;
    assert_finding(&report, "server", Status::Warn, "no server is running on");
    assert_finding(
        &report,
        "media port",
        Status::Warn,
        "is free, so no Convene server is running with this configuration",
    );
    assert!(!report.failed(), "{}", report.render());
}

#[tokio::test]
async fn a_missing_sqlite_database_is_reported_with_the_command_that_creates_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = offline_config(dir.path());
    let report = doctor::run(&config).await;
    assert_finding(&report, "database", Status::Fail, "no SQLite database at");
    let fix = finding(&report, "database").fix.clone().unwrap_or_default();
    assert!(fix.contains("convene migrate"), "{fix}");
    assert!(report.failed());
    assert!(
        !dir.path().join("convene.db").exists(),
        "the doctor must not create the database"
    );
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        database_url: format!(
            "postgres://convene:secret@127.0.0.1:{}/convene",
            free_port()
        ),
        ..offline_config(dir.path())
    };
    let report = doctor::run(&config).await;
    assert_finding(
        &report,
        "database",
        Status::Fail,
        "cannot connect to PostgreSQL at 127.0.0.1:",
    );
    assert_finding(&report, "database", Status::Fail, "connection refused");
    assert!(
        !report.render().contains("secret"),
        "the password must not be printed:\n{}",
        report.render()
    );
}

#[tokio::test]
async fn a_database_url_of_another_kind_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        database_url: "mysql://convene@127.0.0.1/convene".into(),
        ..offline_config(dir.path())
    };
    let report = doctor::run(&config).await;
    assert_finding(
        &report,
        "database",
        Status::Fail,
        "is neither sqlite:// nor postgres://",
    );
}

#[tokio::test]
async fn pending_and_unknown_migrations_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = offline_config(dir.path());
    migrate(&config).await;
    let url = config.database_url();
    let exec = |sql: &'static str| {
        let url = url.clone();
        async move {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect");
            sqlx::query(sql).execute(&mut c).await.expect(sql);
            let _ = c.close().await;
        }
    };

    exec(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101, 'from the future', TRUE, x'00', 0)",
    )
    .await;
    let report = doctor::run(&config).await;
    assert_finding(
        &report,
        "migrations",
        Status::Fail,
        "1 migration this binary does not know (from version 99990101)",
    );
    assert!(report.failed());

    exec("DELETE FROM _sqlx_migrations WHERE version = 99990101").await;
    exec(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .await;
    let report = doctor::run(&config).await;
    assert_finding(&report, "migrations", Status::Fail, "1 migration pending");
    let fix = finding(&report, "migrations")
        .fix
        .clone()
        .unwrap_or_default();
    assert!(fix.contains("back up"), "{fix}");

    exec("DROP TABLE _sqlx_migrations").await;
    let report = doctor::run(&config).await;
    assert_finding(
        &report,
        "migrations",
        Status::Fail,
        "the database is empty: no migration has been applied",
    );
}

#[tokio::test]
async fn a_data_dir_that_is_a_file_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").expect("write");
    let config = Config {
        data_dir: file,
        ..offline_config(dir.path())
    };
    let report = doctor::run(&config).await;
    assert_finding(&report, "data dir", Status::Fail, "is not a directory");
    assert!(report.failed());
}

#[tokio::test]
async fn an_unwritable_data_dir_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    }
    // Root writes through permissions; /sys refuses even root (and is a directory).
    let data_dir = if std::fs::write(locked.join("probe"), "x").is_ok() {
        std::path::PathBuf::from("/sys")
    } else {
        locked.clone()
    };
    let config = Config {
        data_dir: data_dir.clone(),
        ..offline_config(dir.path())
    };
    let report = doctor::run(&config).await;
    assert_finding(
        &report,
        "data dir",
        Status::Fail,
        &format!("cannot write in {}", data_dir.display()),
    );
    let fix = finding(&report, "data dir").fix.clone().unwrap_or_default();
    assert!(fix.contains("chown"), "{fix}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755));
    }
}

#[tokio::test]
async fn a_turn_url_without_a_secret_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        turn_urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
        ..offline_config(dir.path())
    };
    let report = doctor::run(&config).await;
    assert_finding(
        &report,
        "turn",
        Status::Fail,
        "turn_urls is set but turn_secret is empty",
    );
    let fix = finding(&report, "turn").fix.clone().unwrap_or_default();
    assert!(fix.contains("static-auth-secret"), "{fix}");

    let config = Config {
        turn_urls: Vec::new(),
        turn_secret: "s3cret".into(),
        ..offline_config(dir.path())
    };
    let report = doctor::run(&config).await;
    assert_finding(
        &report,
        "turn",
        Status::Warn,
        "turn_secret is set but turn_urls is empty",
    );
}

#[tokio::test]
async fn public_urls_browsers_cannot_use_for_meetings_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = offline_config(dir.path());
    let check = |public_url: &str, listen: &str, trust: bool| {
        let config = Config {
            public_url: public_url.into(),
            listen: listen.into(),
            trust_proxy_headers: trust,
            ..base.clone()
        };
        async move { doctor::run(&config).await }
    };

    let r = check("http://chat.example.com", "127.0.0.1:8080", false).await;
    assert_finding(
        &r,
        "public url",
        Status::Fail,
        "browsers allow camera and microphone only on https pages",
    );
    let r = check("https://chat.example.com/convene/", "127.0.0.1:8080", true).await;
    assert_finding(&r, "public url", Status::Fail, "has a path (/convene/)");
    let fix = finding(&r, "public url").fix.clone().unwrap_or_default();
    assert!(
        fix.contains("set public_url to https://chat.example.com"),
        "{fix}"
    );
    let r = check("", "0.0.0.0:8080", false).await;
    assert_finding(
        &r,
        "public url",
        Status::Fail,
        "links in invitations would point at 0.0.0.0",
    );
    let r = check("https://chat.example.com", "127.0.0.1:8080", false).await;
    assert_finding(&r, "public url", Status::Warn, "trust_proxy_headers is off");
    let r = check("https://chat.example.com/", "127.0.0.1:8080", true).await;
    assert_finding(&r, "public url", Status::Ok, "https://chat.example.com");
    // Media bound to loopback cannot serve people who come through a public host name.
    assert_finding(
        &r,
        "media address",
        Status::Fail,
        "which only this machine reaches",
    );
    let r = check("http://localhost:8080", "127.0.0.1:8080", false).await;
    assert_finding(&r, "public url", Status::Ok, "http://localhost:8080");
}

/// `convene doctor` as a person runs it, in `dir`, with `env` on top of a clean
/// environment (no CONVENE_* variables of the test run).
fn run_cli(dir: &Path, env: &[(&str, String)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_convene"));
    cmd.arg("doctor").current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("CONVENE_") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("run convene doctor");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_command_exits_non_zero_exactly_when_something_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = offline_config(dir.path());
    let env = vec![
        ("CONVENE_DATA_DIR", dir.path().display().to_string()),
        ("CONVENE_LISTEN", config.listen.clone()),
        ("CONVENE_MEDIA_IP", config.media_ip.clone()),
        ("CONVENE_MEDIA_PORT", config.media_port.to_string()),
    ];

    let (code, text) = run_cli(dir.path(), &env);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL  database"), "{text}");
    assert!(text.contains("no SQLite database at"), "{text}");
    assert!(text.contains("fix: run `convene migrate`"), "{text}");

    migrate(&config).await;
    let (code, text) = run_cli(dir.path(), &env);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("convene doctor: no problems, 2 warnings"),
        "{text}"
    );

    // A configuration that does not load is reported by the doctor too.
    let mut broken = env.clone();
    broken.push((
        "CONVENE_TURN_URLS",
        "[\"turn:127.0.0.1:3478?transport=udp\"]".into(),
    ));
    let (code, text) = run_cli(dir.path(), &broken);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("FAIL  config") && text.contains("turn_urls needs turn_secret"),
        "{text}"
    );
}
