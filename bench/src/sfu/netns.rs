//! The bench's own network namespaces: the servers in one, the load in the other, joined by
//! a veth pair. Janus gathers no loopback candidates, so both servers get a real interface,
//! and every packet crosses the veth pair; nothing leaves this machine. (With both ends in
//! one namespace, libnice's answers to the load's addresses never leave Janus.)
//!
//! The namespaces are removed when [`Netns`] is dropped, after every process still inside
//! them (only ones this bench started can be there) has been killed. Namespaces left by a
//! bench that was killed outright are removed by the next run ([`remove_stale`]).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Address of the servers' end of the veth pair (RFC 2544 benchmarking range).
pub const SERVER_IP: &str = "198.18.0.1";
/// Address of the load generator's end.
pub const LOAD_IP: &str = "198.18.0.2";

const PREFIX: &str = "convene-bench-";

pub struct Netns {
    /// Where the servers run.
    pub server: String,
    /// Where the load generator runs.
    pub load: String,
}

fn ip(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ip (is iproute2 installed?)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Netns {
    /// `convene-bench-<pid>-s` (servers) and `convene-bench-<pid>-l` (load), joined by the
    /// veth pair `cvb<pid>s` / `cvb<pid>l`.
    pub fn create() -> anyhow::Result<Netns> {
        let pid = std::process::id();
        let mut ns = Netns {
            server: String::new(),
            load: String::new(),
        };
        // From each `ip netns add` on, dropping `ns` removes what was made.
        for (field, tag) in [(&mut ns.server, "s"), (&mut ns.load, "l")] {
            let name = format!("{PREFIX}{pid}-{tag}");
            ip(&["netns", "add", &name])?;
            *field = name;
        }
        let s = format!("cvb{pid}s");
        let l = format!("cvb{pid}l");
        ip(&[
            "link", "add", &s, "netns", &ns.server, "type", "veth", "peer", "name", &l, "netns",
            &ns.load,
        ])?;
        for (n, dev, addr) in [(&ns.server, &s, SERVER_IP), (&ns.load, &l, LOAD_IP)] {
            ip(&["-n", n, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", n, "link", "set", "lo", "up"])?;
            ip(&["-n", n, "link", "set", dev, "up"])?;
        }
        Ok(ns)
    }
}

/// Processes inside namespace `name`.
fn pids(name: &str) -> Vec<i32> {
    ip(&["netns", "pids", name])
        .map(|out| {
            out.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Stop every process in `name`, then delete it (and so the veth end inside it).
fn remove(name: &str) {
    if name.is_empty() {
        return;
    }
    let left = pids(name);
    for &p in &left {
        signal(p, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pids(name).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in pids(name) {
        signal(p, rustix::process::Signal::KILL);
    }
    if !left.is_empty() {
        eprintln!("bench: stopped {} process(es) left in {name}", left.len());
    }
    match ip(&["netns", "del", name]) {
        Ok(_) => eprintln!("bench: removed network namespace {name}"),
        Err(e) => eprintln!("bench: warning: {e}"),
    }
}

fn signal(pid: i32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.load);
        remove(&self.server);
    }
}

/// Remove namespaces left by benches that no longer run (killed before they could clean up).
pub fn remove_stale() {
    let Ok(list) = ip(&["netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|p| p.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        eprintln!("bench: removing {name}, left by an earlier run");
        remove(name);
    }
}
