//! Starting and stopping the servers under test, each pinned to core 0 with `taskset`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

/// The core the servers run on; the load generator runs on [`LOADGEN_CORE`].
pub const SERVER_CORE: &str = "0";
pub const LOADGEN_CORE: &str = "1";

/// Environment for the Convene under test: limits meant for people at a keyboard
/// would refuse 2,000 registrations from one address.
pub const CONVENE_ENV: &[(&str, &str)] = &[
    ("CONVENE_REGISTRATIONS_PER_IP_PER_HOUR", "1000000"),
    ("CONVENE_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE", "1000000"),
    ("CONVENE_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE", "1000000"),
    // Tokens are issued at registration and used for the whole run.
    ("CONVENE_ACCESS_TOKEN_TTL_SECS", "7200"),
    // Media on a loopback port of its own, so a bench never collides with a server or
    // test already holding the default UDP port (the SFU bench sets its own).
    ("CONVENE_MEDIA_IP", "127.0.0.1"),
    ("CONVENE_MEDIA_PORT", "0"),
];

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
    /// The setup token printed on a first start.
    pub setup_token: Option<String>,
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<ChildStdout>>,
    log: &Path,
) -> anyhow::Result<String> {
    match timeout(Duration::from_secs(120), lines.next_line()).await {
        Ok(Ok(Some(l))) => Ok(l),
        Ok(Ok(None)) | Ok(Err(_)) => bail!("the server exited during start; see {}", log.display()),
        Err(_) => bail!(
            "the server did not start within 120 s; see {}",
            log.display()
        ),
    }
}

impl Server {
    /// `taskset -c 0 <this binary> bare-server`.
    pub async fn start_bare(log: PathBuf) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("locating this binary")?;
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", SERVER_CORE])
            .arg(exe)
            .args(["bare-server", "--listen", "127.0.0.1:0"]);
        let (child, mut lines) = spawn(cmd, &log)?;
        let line = next_line(&mut lines, &log).await?;
        let addr = line
            .strip_prefix("bare: listening on ")
            .and_then(|a| a.trim().parse().ok())
            .with_context(|| format!("unexpected first line from the bare server: {line}"))?;
        drain(lines);
        let pid = child.id().context("bare server pid")?;
        Ok(Server {
            child,
            addr,
            pid,
            setup_token: None,
        })
    }

    /// `taskset -c 0 convene serve --listen 127.0.0.1:0 --data-dir <dir>`; on a fresh
    /// data directory the setup token is read from the printed link.
    pub async fn start_convene(
        bin: &Path,
        data_dir: &Path,
        log: PathBuf,
        first_run: bool,
    ) -> anyhow::Result<Server> {
        Self::start_convene_with(bin, data_dir, log, first_run, &[], "127.0.0.1", None).await
    }

    /// As [`Server::start_convene`], listening on `ip`, with more `CONVENE_*` settings in
    /// `env`, inside network namespace `netns` if given.
    pub async fn start_convene_with(
        bin: &Path,
        data_dir: &Path,
        log: PathBuf,
        first_run: bool,
        env: &[(&str, &str)],
        ip: &str,
        netns: Option<&str>,
    ) -> anyhow::Result<Server> {
        let mut cmd = pinned(netns);
        cmd.arg(bin)
            .args(["serve", "--listen", &format!("{ip}:0"), "--data-dir"])
            .arg(data_dir)
            .envs(CONVENE_ENV.iter().copied())
            .envs(env.iter().copied());
        let (child, mut lines) = spawn(cmd, &log)?;
        let line = next_line(&mut lines, &log).await?;
        let addr = line
            .strip_prefix("convene: listening on http://")
            .and_then(|a| a.trim().parse().ok())
            .with_context(|| format!("unexpected first line from convene: {line}"))?;
        let mut setup_token = None;
        if first_run {
            let line = next_line(&mut lines, &log).await?;
            setup_token = Some(
                line.split_once("/setup#token=")
                    .map(|(_, t)| t.trim().to_owned())
                    .with_context(|| format!("expected the setup link, got: {line}"))?,
            );
        }
        drain(lines);
        let pid = child.id().context("convene pid")?;
        Ok(Server {
            child,
            addr,
            pid,
            setup_token,
        })
    }

    /// Resident memory of the server, KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        crate::sys::rss_kib(self.pid)
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        crate::sys::terminate(self.pid);
        if timeout(grace, self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// `taskset -c <server core>`, run inside network namespace `netns` if given.
pub fn pinned(netns: Option<&str>) -> Command {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "taskset"]);
            c
        }
        None => Command::new("taskset"),
    };
    cmd.args(["-c", SERVER_CORE]);
    cmd
}

type Lines = tokio::io::Lines<BufReader<ChildStdout>>;

fn spawn(mut cmd: Command, log: &Path) -> anyhow::Result<(Child, Lines)> {
    let err = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    cmd.env_remove("BENCH_LOADGEN_PINNED")
        .env_remove("BENCH_SFU_INNER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .context("starting a server with taskset (is util-linux installed?)")?;
    let stdout = child.stdout.take().context("server stdout")?;
    Ok((child, BufReader::new(stdout).lines()))
}

/// Keep reading the server's stdout so it never blocks on a full pipe.
fn drain(mut lines: Lines) {
    tokio::task::spawn_local(async move { while let Ok(Some(_)) = lines.next_line().await {} });
}
