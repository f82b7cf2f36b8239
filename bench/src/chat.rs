//! `convene-bench chat`: the same load against the bare broadcaster and Convene, then
//! Convene's idle memory and persistence; a table and one `RESULT` line.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use crate::client::{BODY_CHARS, Spec, Target};
use crate::convene::{self, Accounts};
use crate::fleet::{Fleet, Outcome, Plan, run_step};
use crate::servers::{LOADGEN_CORE, Server};
use crate::sys;

/// Set in the re-executed, pinned load generator.
const PINNED_ENV: &str = "BENCH_LOADGEN_PINNED";

#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// Connections in the one fan-out channel.
    #[arg(long, default_value_t = 2000)]
    pub clients: usize,
    /// Of those, how many send (round robin at the offered rate).
    #[arg(long, default_value_t = 200)]
    pub senders: usize,
    /// Seconds per offered rate.
    #[arg(long, default_value_t = 5.0)]
    pub step_secs: f64,
    /// First offered rate (sends/s into the channel); doubled until a step fails.
    #[arg(long, default_value_t = 25.0)]
    pub start_rate: f64,
    /// Highest offered rate tried.
    #[arg(long, default_value_t = 6400.0)]
    pub max_rate: f64,
    /// Bisection steps between the last sustained and the first failed rate.
    #[arg(long, default_value_t = 3)]
    pub bisect: u32,
    /// The offered rate at which p99 latencies are compared.
    #[arg(long, default_value_t = 100.0)]
    pub p99_rate: f64,
    /// A step with p99 above this is not sustained.
    #[arg(long, default_value_t = 250.0)]
    pub p99_limit_ms: f64,
    /// Idle authenticated connections for the memory measurement.
    #[arg(long, default_value_t = 10_000)]
    pub idle_conns: usize,
    /// Sender connections (each in its own channel) for the persistence measurement.
    #[arg(long, default_value_t = 500)]
    pub persist_senders: usize,
    /// First offered rate of the persistence measurement (sends/s in total).
    #[arg(long, default_value_t = 500.0)]
    pub persist_start_rate: f64,
    /// The convene binary [default: `convene` next to this binary].
    #[arg(long)]
    pub convene: Option<PathBuf>,
    /// Phases to run: any of bare, convene, idle, persist (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bare,convene,idle,persist"
    )]
    pub phases: Vec<String>,
    /// Pad the bare server's frames by this many bytes (to compare at Convene's frame size).
    #[arg(long, default_value_t = 0)]
    pub bare_pad: usize,
    /// Keep the work directory (server logs, the database) at the end.
    #[arg(long)]
    pub keep: bool,
}

pub fn main(args: ChatArgs) -> anyhow::Result<()> {
    let nofile = sys::raise_nofile()?;
    if std::env::var_os(PINNED_ENV).is_none() {
        // Pin the load generator (this process, re-executed) to its own core.
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        if cores < 2 {
            bail!(
                "the bench needs two cores (server on core 0, load generator on core 1); this process may use {cores}"
            );
        }
        let exe = std::env::current_exe().context("locating this binary")?;
        let status = std::process::Command::new("taskset")
            .args(["-c", LOADGEN_CORE])
            .arg(exe)
            .args(std::env::args_os().skip(1))
            .env(PINNED_ENV, "1")
            .status()
            .context("running taskset (is util-linux installed?)")?;
        std::process::exit(status.code().unwrap_or(1));
    }
    eprintln!(
        "bench: open-file limit {nofile}; load generator pinned to core {LOADGEN_CORE}, servers to core 0; load average {}",
        load_average()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(args))
}

/// Work directory for the database and the server logs.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("bench: kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[derive(Default)]
struct Report {
    bare: Vec<Outcome>,
    convene: Vec<Outcome>,
    persist: Vec<Outcome>,
    bare_best: Option<Outcome>,
    convene_best: Option<Outcome>,
    persist_best: Option<Outcome>,
    idle: Option<Idle>,
    persisted_check: Option<(u64, u64)>,
    registration_secs: f64,
}

struct Idle {
    conns: usize,
    before_kib: u64,
    after_kib: u64,
}

impl Idle {
    fn per_conn_kib(&self) -> f64 {
        (self.after_kib as f64 - self.before_kib as f64) / self.conns as f64
    }
}

fn convene_bin(args: &ChatArgs) -> anyhow::Result<PathBuf> {
    let bin = match &args.convene {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .join("convene"),
    };
    if !bin.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p convene-bench -p convene`",
            bin.display()
        );
    }
    Ok(bin)
}

async fn run(args: ChatArgs) -> anyhow::Result<()> {
    let mut work = WorkDir {
        path: std::env::temp_dir().join(format!("convene-bench-{}", std::process::id())),
        keep: args.keep,
    };
    std::fs::create_dir_all(&work.path)
        .with_context(|| format!("creating {}", work.path.display()))?;
    let result = phases(&args, &work).await;
    if result.is_err() {
        // Keep the server logs for the error message to point at.
        work.keep = true;
    }
    result
}

async fn phases(args: &ChatArgs, work: &WorkDir) -> anyhow::Result<()> {
    let args = args.clone();
    let phase = |p: &str| args.phases.iter().any(|x| x == p);
    let needs_convene = phase("convene") || phase("idle") || phase("persist");
    let bin = if needs_convene {
        Some(convene_bin(&args)?)
    } else {
        None
    };
    let data = work.path.join("data");
    let started = Instant::now();
    let mut report = Report::default();
    if args.senders == 0 || args.senders > args.clients {
        bail!("--senders must be between 1 and --clients");
    }
    if args.max_rate / args.senders as f64 > 40.0
        || args.max_rate / args.persist_senders.max(1) as f64 > 40.0
    {
        eprintln!(
            "bench: warning: more than 40 sends/s per connection at the top rate; Convene closes connections sending over 50 frames/s"
        );
    }

    if phase("bare") {
        eprintln!("bench: [bare] starting the bare broadcaster");
        let server = Server::start_bare(work.path.join("bare.log")).await?;
        let specs = (0..args.clients)
            .map(|idx| Spec {
                idx,
                token: None,
                channel: Rc::from("bench"),
                read_buf: 64 * 1024,
                pad: args.bare_pad,
            })
            .collect();
        let mut fleet = Fleet::new(
            Target {
                addr: server.addr,
                path: "/",
            },
            specs,
        );
        fleet.connect().await?;
        eprintln!("bench: [bare] {} connections open", fleet.alive());
        let (steps, best) = fanout_search(&mut fleet, &args, server.pid, false, "bare").await?;
        report.bare = steps;
        report.bare_best = best;
        fleet.close().await;
        server.stop(Duration::from_secs(5)).await;
    }

    let mut accounts: Option<Accounts> = None;
    if let Some(bin) = &bin {
        eprintln!("bench: [convene] starting convene on a new SQLite database");
        let server =
            Server::start_convene(bin, &data, work.path.join("convene-1.log"), true).await?;
        let token = server
            .setup_token
            .clone()
            .context("no setup token printed")?;
        let users = args.clients.max(args.persist_senders).max(1);
        eprintln!(
            "bench: [convene] registering {users} accounts (Argon2id each, on the server's one core)"
        );
        let t = Instant::now();
        let acc = convene::prepare(server.addr, &token, users).await?;
        report.registration_secs = t.elapsed().as_secs_f64();
        eprintln!(
            "bench: [convene] {users} accounts in {:.0} s",
            report.registration_secs
        );
        if phase("convene") {
            let channel: Rc<str> = convene::fanout_channel(server.addr, &acc, "bench")
                .await?
                .into();
            let specs = (0..args.clients)
                .map(|idx| Spec {
                    idx,
                    token: Some(acc.users[idx].token.clone()),
                    channel: channel.clone(),
                    read_buf: 64 * 1024,
                    pad: 0,
                })
                .collect();
            let mut fleet = Fleet::new(
                Target {
                    addr: server.addr,
                    path: "/api/ws",
                },
                specs,
            );
            fleet.connect().await?;
            eprintln!(
                "bench: [convene] {} authenticated connections open, all members of one channel",
                fleet.alive()
            );
            let (steps, best) =
                fanout_search(&mut fleet, &args, server.pid, true, "convene").await?;
            report.convene = steps;
            report.convene_best = best;
            fleet.close().await;
        }
        server.stop(Duration::from_secs(15)).await;
        accounts = Some(acc);
    }

    if let (true, Some(bin), Some(acc)) = (phase("idle"), &bin, &accounts) {
        report.idle = Some(idle_phase(bin, &data, &work.path, acc, &args).await?);
    }

    if let (true, Some(bin), Some(acc)) = (phase("persist"), &bin, &accounts) {
        eprintln!("bench: [persist] restarting convene");
        let server =
            Server::start_convene(bin, &data, work.path.join("convene-3.log"), false).await?;
        let senders = &acc.users[..args.persist_senders.min(acc.users.len())];
        let channels = convene::own_channels(server.addr, acc, senders).await?;
        let specs = senders
            .iter()
            .zip(&channels)
            .enumerate()
            .map(|(idx, (u, c))| Spec {
                idx,
                token: Some(u.token.clone()),
                channel: Rc::from(c.as_str()),
                read_buf: 16 * 1024,
                pad: 0,
            })
            .collect();
        let mut fleet = Fleet::new(
            Target {
                addr: server.addr,
                path: "/api/ws",
            },
            specs,
        );
        fleet.connect().await?;
        eprintln!(
            "bench: [persist] {} senders connected, each alone in its own channel",
            fleet.alive()
        );
        let all: Vec<usize> = (0..fleet.len()).collect();
        let mut plan = Plan {
            rate: 0.0,
            secs: args.step_secs,
            fanout: false,
            acks: true,
            p99_limit_ms: args.p99_limit_ms,
        };
        warm_up(
            &fleet,
            &all,
            &mut plan,
            server.pid,
            args.persist_start_rate / 2.0,
        )
        .await;
        let max = args.persist_senders as f64 * 32.0;
        let (steps, best) = search(
            &mut fleet,
            &all,
            &mut plan,
            server.pid,
            args.persist_start_rate,
            max,
            args.bisect,
            "persist",
        )
        .await?;
        fleet.close().await;
        let acked: u64 = fleet.stats.total_acks();
        let stored = convene::stored_messages(server.addr, acc, &channels).await?;
        report.persisted_check = Some((acked, stored));
        report.persist = steps;
        report.persist_best = best;
        server.stop(Duration::from_secs(15)).await;
    }

    print_report(&args, &report, started.elapsed());
    Ok(())
}

async fn idle_phase(
    bin: &std::path::Path,
    data: &std::path::Path,
    work: &std::path::Path,
    acc: &Accounts,
    args: &ChatArgs,
) -> anyhow::Result<Idle> {
    eprintln!("bench: [idle] restarting convene for a clean memory baseline");
    let server = Server::start_convene(bin, data, work.join("convene-2.log"), false).await?;
    let n = args.idle_conns;
    let specs = (0..=n)
        .map(|idx| Spec {
            idx,
            token: Some(acc.users[idx % acc.users.len()].token.clone()),
            channel: Rc::from(""),
            read_buf: 4096,
            pad: 0,
        })
        .collect::<Vec<_>>();
    // One connection first, so the baseline includes what the first connection sets up.
    let mut warm = Fleet::new(
        Target {
            addr: server.addr,
            path: "/api/ws",
        },
        specs[n..].to_vec(),
    );
    warm.connect().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_kib = server.rss_kib()?;
    let mut fleet = Fleet::new(
        Target {
            addr: server.addr,
            path: "/api/ws",
        },
        specs[..n].to_vec(),
    );
    let t = Instant::now();
    fleet.connect().await?;
    eprintln!(
        "bench: [idle] {} authenticated idle connections in {:.1} s",
        fleet.alive(),
        t.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_kib = server.rss_kib()?;
    let alive = fleet.alive();
    if alive != n {
        bail!("only {alive} of {n} idle connections stayed open");
    }
    eprintln!("bench: [idle] RSS {before_kib} KiB -> {after_kib} KiB");
    fleet.close().await;
    warm.close().await;
    server.stop(Duration::from_secs(15)).await;
    Ok(Idle {
        conns: n,
        before_kib,
        after_kib,
    })
}

async fn warm_up(fleet: &Fleet, senders: &[usize], plan: &mut Plan, pid: u32, rate: f64) {
    let secs = plan.secs;
    plan.rate = rate;
    plan.secs = 2.0;
    let o = run_step(fleet, senders, plan, pid).await;
    eprintln!(
        "bench:   warm-up at {rate}/s: {}",
        if o.pass {
            "ok".to_owned()
        } else {
            o.why.clone()
        }
    );
    plan.secs = secs;
}

/// Warm up, then find the highest sustained rate into the one channel.
async fn fanout_search(
    fleet: &mut Fleet,
    args: &ChatArgs,
    pid: u32,
    acks: bool,
    label: &str,
) -> anyhow::Result<(Vec<Outcome>, Option<Outcome>)> {
    let senders: Vec<usize> = (0..args.senders).collect();
    let mut plan = Plan {
        rate: 0.0,
        secs: args.step_secs,
        fanout: true,
        acks,
        p99_limit_ms: args.p99_limit_ms,
    };
    warm_up(fleet, &senders, &mut plan, pid, args.start_rate).await;
    let mut steps = Vec::new();
    // The p99 comparison rate, measured on its own when the doubling does not hit it.
    let mut rate = args.start_rate;
    let mut hits = false;
    while rate <= args.max_rate {
        hits |= (rate - args.p99_rate).abs() < 1e-9;
        rate *= 2.0;
    }
    if !hits {
        attempt(
            fleet,
            &senders,
            &mut plan,
            pid,
            args.p99_rate,
            label,
            &mut steps,
        )
        .await?;
    }
    let (more, best) = search(
        fleet,
        &senders,
        &mut plan,
        pid,
        args.start_rate,
        args.max_rate,
        args.bisect,
        label,
    )
    .await?;
    steps.extend(more);
    Ok((steps, best))
}

fn log_step(label: &str, o: &Outcome) {
    eprintln!(
        "bench:   {label} {:>6}/s: {:>9.0} deliveries/s p99 {:>7.1} ms, server cpu {:>3.0}%, gen cpu {:>3.0}% {}",
        o.rate,
        o.deliveries_per_s,
        o.p99_ms,
        o.server_cpu * 100.0,
        o.gen_cpu * 100.0,
        if o.pass {
            "sustained".to_owned()
        } else {
            format!("NOT sustained: {}", o.why)
        }
    );
}

/// Run one rate; a step that missed only on latency is repeated once (the machine may
/// be shared, and one noisy step should not end a search). Both rows are kept.
async fn attempt(
    fleet: &mut Fleet,
    senders: &[usize],
    plan: &mut Plan,
    pid: u32,
    rate: f64,
    label: &str,
    steps: &mut Vec<Outcome>,
) -> anyhow::Result<Outcome> {
    plan.rate = rate;
    let mut o = run_step(fleet, senders, plan, pid).await;
    log_step(label, &o);
    for retry in [false, true] {
        if retry {
            plan.rate = rate;
            o = run_step(fleet, senders, plan, pid).await;
            o.retry = true;
            log_step(label, &o);
        }
        steps.push(o.clone());
        fleet.connect().await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if o.pass || o.overloaded() {
            break;
        }
    }
    Ok(o)
}

/// Double the rate from `start` until a step is overloaded (deliveries lost, sends
/// refused), two rates in a row miss on latency, or `max`; then bisect between the
/// highest sustained rate and the next rate above it.
#[allow(clippy::too_many_arguments)]
async fn search(
    fleet: &mut Fleet,
    senders: &[usize],
    plan: &mut Plan,
    pid: u32,
    start: f64,
    max: f64,
    rounds: u32,
    label: &str,
) -> anyhow::Result<(Vec<Outcome>, Option<Outcome>)> {
    let mut steps = Vec::new();
    let mut best: Option<Outcome> = None;
    let mut bad: Option<f64> = None;
    let mut failures_in_a_row = 0;
    let mut rate = start;
    while rate <= max && failures_in_a_row < 2 {
        let o = attempt(fleet, senders, plan, pid, rate, label, &mut steps).await?;
        if o.pass {
            best = Some(o);
            bad = None;
            failures_in_a_row = 0;
        } else {
            bad.get_or_insert(rate);
            failures_in_a_row += 1;
            if o.overloaded() {
                // Lost deliveries or refused sends: past capacity, no need to go higher.
                break;
            }
        }
        rate *= 2.0;
    }
    if let (Some(mut good), Some(mut bad)) = (best.as_ref().map(|b| b.rate), bad) {
        for _ in 0..rounds {
            let mid = ((good + bad) / 2.0).round();
            if mid <= good || mid >= bad {
                break;
            }
            let o = attempt(fleet, senders, plan, pid, mid, label, &mut steps).await?;
            if o.pass {
                good = mid;
                best = Some(o);
            } else {
                bad = mid;
            }
        }
    }
    Ok((steps, best))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn fmt_rate(o: &Option<Outcome>) -> String {
    o.as_ref()
        .map(|o| format!("{:.0}", o.deliveries_per_s))
        .unwrap_or_else(|| "none".into())
}

fn print_table(title: &str, rows: &[Outcome], per_send: &str) {
    println!("{title}");
    println!(
        "  {:>8} {:>8} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>9}  result",
        "offered",
        "sent",
        per_send,
        "missing",
        "p50 ms",
        "p99 ms",
        "max ms",
        "ack p99",
        "errors",
        "srv cpu",
        "gen cpu",
        "other c0/c1"
    );
    for o in rows {
        println!(
            "  {:>8} {:>8} {:>11.0} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>7} {:>6.0}% {:>6.0}% {:>4.0}%/{:>3.0}%  {}{}",
            o.rate,
            o.sent,
            o.deliveries_per_s,
            o.missing,
            o.p50_ms,
            o.p99_ms,
            o.max_ms,
            o.ack_p99_ms,
            o.errors,
            o.server_cpu * 100.0,
            o.gen_cpu * 100.0,
            o.noise.0 * 100.0,
            o.noise.1 * 100.0,
            if o.retry { "(retry) " } else { "" },
            if o.pass {
                "sustained".to_owned()
            } else {
                format!("no: {}", o.why)
            }
        );
    }
}

fn print_report(args: &ChatArgs, r: &Report, took: Duration) {
    println!();
    println!(
        "convene-bench chat: {} clients in one channel, {} of them sending, {}-character bodies, {} s per step; \
         servers on core 0, load generator on core 1",
        args.clients, args.senders, BODY_CHARS, args.step_secs
    );
    if !r.bare.is_empty() {
        print_table(
            "bare broadcaster (tokio-tungstenite, no auth, no database):",
            &r.bare,
            "deliv/s",
        );
    }
    if !r.convene.is_empty() {
        print_table(
            "Convene (SQLite, real accounts, every message stored before it is delivered):",
            &r.convene,
            "deliv/s",
        );
    }
    if !r.persist.is_empty() {
        println!(
            "Convene persistence ({} senders, each alone in its own private channel; sustained = every send acknowledged after commit):",
            args.persist_senders
        );
        print_table("", &r.persist, "acked/s");
    }
    println!();
    let at = |rows: &[Outcome]| {
        rows.iter()
            .rev()
            .find(|o| (o.rate - args.p99_rate).abs() < 1e-9)
            .map(|o| o.p99_ms)
    };
    let fanout_ratio = match (&r.convene_best, &r.bare_best) {
        (Some(c), Some(b)) => Some(c.deliveries_per_s / b.deliveries_per_s),
        (None, Some(_)) if !r.convene.is_empty() => Some(0.0),
        _ => None,
    };
    let p99_ratio = match (at(&r.convene), at(&r.bare)) {
        (Some(c), Some(b)) if b > 0.0 => Some(c / b),
        _ => None,
    };
    println!(
        "max sustained deliveries/s: bare {}, Convene {}",
        fmt_rate(&r.bare_best),
        fmt_rate(&r.convene_best)
    );
    if let (Some(c), Some(b)) = (at(&r.convene), at(&r.bare)) {
        println!(
            "p99 send->deliver at {} sends/s: bare {b:.1} ms, Convene {c:.1} ms",
            args.p99_rate
        );
    }
    let frame = |rows: &[Outcome]| {
        rows.iter()
            .find(|o| o.frame_bytes > 0.0)
            .map(|o| o.frame_bytes)
    };
    if let (Some(c), Some(b)) = (frame(&r.convene), frame(&r.bare)) {
        println!(
            "delivered frame size: bare {b:.0} bytes (the send frame echoed), Convene {c:.0} bytes (the stored message event)"
        );
    }
    if r.registration_secs > 0.0 {
        println!("account registration: {:.0} s", r.registration_secs);
    }
    if let Some(i) = &r.idle {
        println!(
            "idle memory: RSS {} KiB with 1 connection, {} KiB with {} more idle authenticated connections: {:.1} KiB each",
            i.before_kib,
            i.after_kib,
            i.conns,
            i.per_conn_kib()
        );
    }
    let persist = r.persist_best.as_ref().map(|o| o.acked_per_s);
    if let Some(best) = &r.persist_best {
        let capped = r.persist.iter().all(|o| o.pass);
        println!(
            "persistence: {:.0} acknowledged sends/s sustained{}",
            best.acked_per_s,
            if capped {
                " (every rate tried passed: the true ceiling is higher)"
            } else {
                ""
            }
        );
        println!(
            "persistence: {:.1} KiB written to storage per message at {:.0} sends/s",
            best.disk_bytes_per_send / 1024.0,
            best.rate
        );
    }
    if let Some((acked, stored)) = r.persisted_check {
        println!(
            "persistence check: {acked} sends acknowledged, {stored} messages stored{}",
            if acked == stored { "" } else { "  MISMATCH" }
        );
    }
    println!(
        "total time {:.0} s; load average at the end: {}",
        took.as_secs_f64(),
        load_average()
    );
    let fmt = |v: Option<f64>, prec: usize| {
        v.map(|v| format!("{v:.prec$}"))
            .unwrap_or_else(|| "n/a".into())
    };
    println!(
        "RESULT fanout_ratio={} p99_ratio={} idle_kib_per_conn={} persist_msgs_per_s={}",
        fmt(fanout_ratio, 2),
        fmt(p99_ratio, 2),
        fmt(r.idle.as_ref().map(Idle::per_conn_kib), 1),
        fmt(persist, 0)
    );
}
