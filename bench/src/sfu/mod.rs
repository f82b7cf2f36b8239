//! `convene-bench sfu`: the same synthetic video load through Convene's SFU and through
//! Janus's videoroom, in a network namespace of the bench's own; a table per server and
//! scenario and one `RESULT` line.
//!
//! Processes: this binary (outside) makes the namespace and runs itself again inside it,
//! pinned to the load core; that copy starts each server pinned to the server core and
//! drives the load. When the inner copy ends, however it ends, the outer one stops whatever
//! is left in the namespace and removes it.

mod convene;
mod janus;
mod netns;
mod peer;
mod report;
mod ws;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use futures_util::stream;
use serde_json::json;

use self::peer::{Mark, PACKETS_PER_SEC, Peer, PeerOpts};
use self::report::{Step, Summary};
use crate::servers::LOADGEN_CORE;
use crate::sys;

/// Set in the copy of the bench that runs inside the load's namespace.
const INNER_ENV: &str = "BENCH_SFU_INNER";
/// Shortfall of arrived against sent packets (percent) that fails a step.
const SENT_LOSS_LIMIT_PCT: f64 = 1.0;
/// The servers' namespace, for that copy.
const SERVER_NS_ENV: &str = "BENCH_SFU_SERVER_NS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum ServerKind {
    Janus,
    Convene,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Janus => "Janus",
            ServerKind::Convene => "Convene",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// One publisher, every other participant subscribes to it.
    OneToMany,
    /// Everyone publishes and receives everyone else.
    AllPublish,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::OneToMany => "one publisher, many subscribers",
            Scenario::AllPublish => "everyone publishes",
        }
    }

    /// Streams forwarded with `n` participants.
    pub fn streams(self, n: usize) -> usize {
        match self {
            Scenario::OneToMany => n.saturating_sub(1),
            Scenario::AllPublish => n * n.saturating_sub(1),
        }
    }

    /// Participants whose forwarded streams come closest to `streams` without passing it.
    fn participants_for(self, streams: f64) -> usize {
        (2..100_000)
            .take_while(|&n| self.streams(n) as f64 <= streams)
            .last()
            .unwrap_or(2)
    }
}

#[derive(Debug, Clone, Args)]
pub struct SfuArgs {
    /// Servers to measure, in this order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "janus,convene"
    )]
    pub servers: Vec<ServerKind>,
    /// Scenarios to measure.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "one-to-many,all-publish"
    )]
    pub scenarios: Vec<Scenario>,
    /// Seconds counted per step (after the warm-up).
    #[arg(long, default_value_t = 8.0)]
    pub window_secs: f64,
    /// Seconds of flowing media before a step's window opens.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Loss (percent) above which a step is not sustained.
    #[arg(long, default_value_t = 0.1)]
    pub loss_limit_pct: f64,
    /// One to many: first number of subscribers; doubled until a step fails.
    #[arg(long, default_value_t = 25)]
    pub fanout_start: usize,
    /// All publish: first number of participants.
    #[arg(long, default_value_t = 4)]
    pub mesh_start: usize,
    /// All publish: participants added per step until a step fails.
    #[arg(long, default_value_t = 4)]
    pub mesh_step: usize,
    /// Bisection steps between the last sustained and the first failed size.
    #[arg(long, default_value_t = 3)]
    pub bisect: u32,
    /// Most participants in one room.
    #[arg(long, default_value_t = 500)]
    pub max_participants: usize,
    /// Seconds counted at 80% of the maximum.
    #[arg(long, default_value_t = 20.0)]
    pub confirm_secs: f64,
    /// New subscribers timed from join to their first keyframe.
    #[arg(long, default_value_t = 20)]
    pub first_frame_joins: usize,
    /// After a stream's first keyframe, one packet in this many is decrypted (SRTP) by the
    /// load generator; the rest are counted by their RTP header. 1 decrypts everything.
    #[arg(long, default_value_t = 16)]
    pub decrypt_every: u64,
    /// Subscribers do not ask for keyframes themselves (only the SFU does).
    #[arg(long)]
    pub no_subscriber_pli: bool,
    /// Joins in flight at once while a step sets up.
    #[arg(long, default_value_t = 8)]
    pub setup_concurrency: usize,
    /// Longest wait before a step for other processes to leave the two cores.
    #[arg(long, default_value_t = 30.0)]
    pub quiet_wait_secs: f64,
    /// Do not run a failed step again when other processes were busy during it.
    #[arg(long)]
    pub no_busy_retry: bool,
    /// Janus `event_loops` (0: Janus's default, one thread per handle).
    #[arg(long, default_value_t = 0)]
    pub janus_event_loops: u32,
    /// The convene binary [default: `convene` next to this binary].
    #[arg(long)]
    pub convene: Option<PathBuf>,
    /// Keep the work directory (server logs, configuration) at the end.
    #[arg(long)]
    pub keep: bool,
}

pub fn main(args: SfuArgs) -> anyhow::Result<()> {
    if std::env::var_os(INNER_ENV).is_some() {
        inner_main(args)
    } else {
        outer_main(&args)
    }
}

fn convene_bin(args: &SfuArgs) -> anyhow::Result<PathBuf> {
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

/// Outside the namespace: make it, run the bench inside it, remove it.
fn outer_main(args: &SfuArgs) -> anyhow::Result<()> {
    if !rustix::process::geteuid().is_root() {
        bail!("the SFU bench needs root: it makes a network namespace and a veth pair");
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if cores < 2 {
        bail!(
            "the bench needs two cores (servers on core 0, load on core 1); this process may use {cores}"
        );
    }
    if args.servers.contains(&ServerKind::Janus) {
        janus::check_installed()?;
    }
    if args.servers.contains(&ServerKind::Convene) {
        convene_bin(args)?;
    }
    netns::remove_stale();
    let ns = netns::Netns::create()?;
    eprintln!(
        "bench: network namespaces {} (servers, {}) and {} (load, {}), a veth pair between them",
        ns.server,
        netns::SERVER_IP,
        ns.load,
        netns::LOAD_IP
    );
    let exe = std::env::current_exe().context("locating this binary")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let code = rt.block_on(async {
        let mut child = tokio::process::Command::new("ip")
            .args(["netns", "exec", &ns.load, "taskset", "-c", LOADGEN_CORE])
            .arg(&exe)
            .args(std::env::args_os().skip(1))
            .env(INNER_ENV, "1")
            .env(SERVER_NS_ENV, &ns.server)
            .spawn()
            .context("running the bench inside the namespace")?;
        let pid = child.id().context("inner bench pid")?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let status = tokio::select! {
            s = child.wait() => s?,
            _ = term.recv() => stop_child(&mut child, pid).await?,
            _ = int.recv() => stop_child(&mut child, pid).await?,
        };
        anyhow::Ok(status.code().unwrap_or(1))
    });
    // Stops what is left inside and removes the namespace with its veth pair.
    drop(ns);
    let code = code?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

async fn stop_child(
    child: &mut tokio::process::Child,
    pid: u32,
) -> anyhow::Result<std::process::ExitStatus> {
    eprintln!("bench: interrupted; stopping");
    sys::terminate(pid);
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(s) => Ok(s?),
        Err(_) => {
            let _ = child.kill().await;
            Ok(child.wait().await?)
        }
    }
}

/// Inside the namespace, pinned to the load core.
fn inner_main(args: SfuArgs) -> anyhow::Result<()> {
    let nofile = sys::raise_nofile()?;
    eprintln!(
        "bench: open-file limit {nofile}; load generator on core {LOADGEN_CORE}, servers on core {}",
        crate::servers::SERVER_CORE
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let local = tokio::task::LocalSet::new();
    let work = std::env::temp_dir().join(format!("convene-bench-sfu-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let result = local.block_on(&rt, run(&args, &work));
    if result.is_err() || args.keep {
        eprintln!("bench: kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

/// The server under test.
enum Sfu {
    Janus(janus::Janus),
    Convene(convene::Convene),
}

enum Room {
    Janus(u64),
    Convene(String),
}

/// The signalling that keeps a participant in its room.
enum Link {
    Janus(janus::Conn),
    Convene(convene::Client),
}

struct Participant {
    /// When the request that makes it a subscriber went out.
    joined_at: Cell<Option<Instant>>,
    publisher: Option<Rc<Peer>>,
    /// Janus: the feed id of its publisher.
    feed: Option<u64>,
    subscriber: Rc<RefCell<Option<Rc<Peer>>>>,
    link: Link,
}

impl Participant {
    fn subscriber(&self) -> Option<Rc<Peer>> {
        self.subscriber.borrow().clone()
    }
}

impl Sfu {
    fn pid(&self) -> u32 {
        match self {
            Sfu::Janus(j) => j.pid,
            Sfu::Convene(c) => c.pid(),
        }
    }

    async fn room(&mut self, publishers: usize) -> anyhow::Result<Room> {
        Ok(match self {
            Sfu::Janus(j) => Room::Janus(j.create_room(publishers).await?),
            Sfu::Convene(c) => Room::Convene(c.create_meeting().await?),
        })
    }

    async fn end_room(&mut self, room: &Room) {
        if let (Sfu::Janus(j), Room::Janus(r)) = (self, room) {
            let _ = j.destroy_room(*r).await;
        }
    }

    async fn stop(self) {
        match self {
            Sfu::Janus(j) => j.stop().await,
            Sfu::Convene(c) => c.stop().await,
        }
    }
}

/// What a join needs from the server, copied so that many joins can run at once.
#[derive(Clone)]
enum JoinTarget {
    Janus {
        url: String,
        room: u64,
    },
    Convene {
        addr: std::net::SocketAddr,
        code: String,
        token: Rc<RefCell<Vec<String>>>,
    },
}

/// Join `target`; publish if `publish`; subscribe (Janus) to `feeds` if not empty.
async fn join(
    target: &JoinTarget,
    idx: usize,
    publish: bool,
    feeds: &[u64],
    opts: PeerOpts,
) -> anyhow::Result<Participant> {
    let ssrc = 0x1000_0000 + idx as u32 * 16;
    match target {
        JoinTarget::Janus { url, room } => {
            let conn = janus::Conn::open(url).await?;
            let mut p = Participant {
                joined_at: Cell::new(None),
                publisher: None,
                feed: None,
                subscriber: Rc::default(),
                link: Link::Janus(conn),
            };
            if publish {
                janus_publish(&mut p, *room, idx, opts, ssrc).await?;
            }
            if !feeds.is_empty() {
                janus_subscribe(&p, *room, feeds, opts).await?;
            }
            Ok(p)
        }
        JoinTarget::Convene { addr, code, token } => {
            let tok = token
                .borrow_mut()
                .pop()
                .context("no guest token left for this join")?;
            let mut client = convene::Client::connect(*addr, &tok, opts).await?;
            let at = client.join(code).await?;
            if publish {
                client.publish(opts, ssrc).await?;
            }
            Ok(Participant {
                joined_at: Cell::new(Some(at)),
                publisher: client.publisher.clone(),
                feed: None,
                subscriber: client.subscriber.clone(),
                link: Link::Convene(client),
            })
        }
    }
}

async fn janus_publish(
    p: &mut Participant,
    room: u64,
    idx: usize,
    opts: PeerOpts,
    ssrc: u32,
) -> anyhow::Result<()> {
    let Link::Janus(conn) = &p.link else {
        bail!("not a Janus participant");
    };
    let handle = conn.attach().await?;
    let (peer, offer) = Peer::publisher(opts, ssrc).await?;
    let peer = Rc::new(peer);
    conn.route(handle, &peer);
    let (data, jsep) = conn
        .message(
            handle,
            json!({"request": "joinandconfigure", "room": room, "ptype": "publisher", "display": format!("p{idx}")}),
            Some(janus::offer(&offer)),
        )
        .await?;
    let feed = data["id"]
        .as_u64()
        .with_context(|| format!("videoroom joinandconfigure: {data}"))?;
    let answer = janus::sdp_of(jsep, "joinandconfigure")?;
    peer.set_answer(&answer)?;
    conn.candidates_done(handle);
    p.feed = Some(feed);
    p.publisher = Some(peer);
    Ok(())
}

async fn janus_subscribe(
    p: &Participant,
    room: u64,
    feeds: &[u64],
    opts: PeerOpts,
) -> anyhow::Result<()> {
    let Link::Janus(conn) = &p.link else {
        bail!("not a Janus participant");
    };
    let handle = conn.attach().await?;
    let streams: Vec<_> = feeds.iter().map(|f| json!({"feed": f})).collect();
    let body = json!({"request": "join", "room": room, "ptype": "subscriber", "streams": streams});
    let mut tries = 0;
    let (data, jsep) = loop {
        p.joined_at.set(Some(Instant::now()));
        match conn.message(handle, body.clone(), None).await {
            Ok(x) => break x,
            // A publisher whose connection is not up yet is not a feed yet.
            Err(e) if tries < 50 && e.to_string().contains("428") => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    };
    if data["videoroom"] != "attached" {
        bail!("videoroom subscriber join: {data}");
    }
    let offer = janus::sdp_of(jsep, "subscriber join")?;
    let (peer, answer) = Peer::subscriber(opts, &offer).await?;
    let peer = Rc::new(peer);
    conn.route(handle, &peer);
    *p.subscriber.borrow_mut() = Some(peer);
    conn.message(
        handle,
        json!({"request": "start"}),
        Some(janus::answer(&answer)),
    )
    .await?;
    conn.candidates_done(handle);
    Ok(())
}

/// A room with its participants.
struct Session {
    room: Room,
    target: JoinTarget,
    participants: Vec<Participant>,
}

impl Session {
    async fn close(self, sfu: &mut Sfu) {
        for p in &self.participants {
            if let Link::Convene(c) = &p.link {
                c.leave().await;
            }
        }
        drop(self.participants);
        sfu.end_room(&self.room).await;
    }
}

struct Bench<'a> {
    args: &'a SfuArgs,
    opts: PeerOpts,
}

impl Bench<'_> {
    async fn target(
        &self,
        sfu: &mut Sfu,
        room: &Room,
        guests: usize,
    ) -> anyhow::Result<JoinTarget> {
        Ok(match (sfu, room) {
            (Sfu::Janus(j), Room::Janus(r)) => JoinTarget::Janus {
                url: j.url().to_owned(),
                room: *r,
            },
            (Sfu::Convene(c), Room::Convene(code)) => {
                let mut tokens = Vec::with_capacity(guests);
                for i in 0..guests {
                    tokens.push(c.guest(code, &format!("Guest {i}")).await?);
                }
                JoinTarget::Convene {
                    addr: c.addr(),
                    code: code.clone(),
                    token: Rc::new(RefCell::new(tokens)),
                }
            }
            _ => bail!("room of another server"),
        })
    }

    /// Set up `n` participants of `scenario` and wait until every stream flows.
    async fn setup(&self, sfu: &mut Sfu, scenario: Scenario, n: usize) -> anyhow::Result<Session> {
        let publishers = match scenario {
            Scenario::OneToMany => 1,
            Scenario::AllPublish => n,
        };
        let room = sfu.room(publishers).await?;
        let target = self.target(sfu, &room, n).await?;
        let mut session = Session {
            room,
            target: target.clone(),
            participants: Vec::with_capacity(n),
        };
        let r = self.fill(&mut session, scenario, n, publishers).await;
        match r {
            Ok(()) => Ok(session),
            Err(e) => {
                session.close(sfu).await;
                Err(e)
            }
        }
    }

    async fn fill(
        &self,
        session: &mut Session,
        scenario: Scenario,
        n: usize,
        publishers: usize,
    ) -> anyhow::Result<()> {
        let opts = self.opts;
        let target = session.target.clone();
        let target = &target;
        let conc = self.args.setup_concurrency.max(1);
        let limit = |k: usize| Duration::from_secs(60) + Duration::from_millis(250) * k as u32;
        // Publishers first.
        run_all(
            "publishers joined",
            (0..publishers).map(|i| join(target, i, true, &[], opts)),
            publishers,
            conc,
            limit(publishers),
            |p| session.participants.push(p),
        )
        .await?;
        let pubs: Vec<&Peer> = session
            .participants
            .iter()
            .filter_map(|p| p.publisher.as_deref())
            .collect();
        peer::wait_connected(&pubs, Duration::from_secs(30))
            .await
            .context("publishers")?;
        let feeds: Vec<u64> = session.participants.iter().filter_map(|p| p.feed).collect();
        match (scenario, target) {
            (Scenario::AllPublish, JoinTarget::Janus { room, .. }) => {
                // Each publisher also subscribes to everyone else.
                let feeds = &feeds;
                run_all(
                    "subscriptions",
                    session.participants.iter().map(|p| async move {
                        let others: Vec<u64> = feeds
                            .iter()
                            .copied()
                            .filter(|f| Some(*f) != p.feed)
                            .collect();
                        janus_subscribe(p, *room, &others, opts).await
                    }),
                    n,
                    conc,
                    limit(n),
                    |()| {},
                )
                .await?;
            }
            (Scenario::AllPublish, JoinTarget::Convene { .. }) => {}
            (Scenario::OneToMany, _) => {
                let feeds = &feeds;
                run_all(
                    "subscribers joined",
                    (publishers..n).map(|i| join(target, i, false, feeds, opts)),
                    n - publishers,
                    conc,
                    limit(n - publishers),
                    |p| session.participants.push(p),
                )
                .await?;
            }
        }
        let (subs, per_sub) = match scenario {
            Scenario::OneToMany => (n - publishers, 1),
            Scenario::AllPublish => (n, n - 1),
        };
        wait_flowing(
            &session.participants,
            subs,
            per_sub,
            Duration::from_secs(30),
        )
        .await
    }

    /// One step: set up, warm up, count over `secs`, tear down.
    async fn step(&self, sfu: &mut Sfu, scenario: Scenario, n: usize, secs: f64) -> Step {
        let mut step = Step::new(scenario, n);
        let waited = crate::fleet::wait_for_quiet_at_most(
            sfu.pid(),
            Duration::from_secs_f64(self.args.quiet_wait_secs),
        )
        .await;
        if waited >= Duration::from_secs(2) {
            eprintln!(
                "bench:   waited {:.0} s for other processes to leave the cores",
                waited.as_secs_f64()
            );
        }
        let started = Instant::now();
        let session = match self.setup(sfu, scenario, n).await {
            Ok(s) => s,
            Err(e) => {
                step.setup_secs = started.elapsed().as_secs_f64();
                step.fail(format!("setup: {e:#}"));
                return step;
            }
        };
        step.setup_secs = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs_f64(self.args.warmup_secs)).await;
        let a = Snapshot::take(&session.participants, sfu.pid());
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let b = Snapshot::take(&session.participants, sfu.pid());
        measure(&mut step, &a, &b, &session.participants, self.args);
        session.close(sfu).await;
        step
    }

    /// [`Bench::step`], run once more when it failed while other processes used more than
    /// [`BUSY`] of either core: a step measured beside a compiler measures the compiler.
    /// Every row goes into `summary`; returns the last.
    async fn step_busy_retry(
        &self,
        sfu: &mut Sfu,
        scenario: Scenario,
        n: usize,
        secs: f64,
        summary: &mut Summary,
    ) -> Step {
        let mut s = self.step(sfu, scenario, n, secs).await;
        report::print_row(&s);
        if !s.ok && s.busy() && !self.args.no_busy_retry {
            summary.steps.push(s);
            eprintln!("bench:   other processes were busy on the cores; once more");
            s = self.step(sfu, scenario, n, secs).await;
            s.retry = true;
            report::print_row(&s);
        }
        if !s.ok && s.busy() {
            summary.busy = true;
        }
        summary.steps.push(s.clone());
        s
    }

    /// Time from join to the first keyframe for new subscribers of a lone publisher.
    async fn first_frames(&self, sfu: &mut Sfu) -> anyhow::Result<Vec<f64>> {
        let joins = self.args.first_frame_joins;
        let room = sfu.room(1).await?;
        let target = self.target(sfu, &room, joins + 1).await?;
        let mut session = Session {
            room,
            target: target.clone(),
            participants: Vec::new(),
        };
        let r = async {
            let p = join(&target, 0, true, &[], self.opts).await?;
            let feeds: Vec<u64> = p.feed.into_iter().collect();
            peer::wait_connected(
                &[p.publisher.as_deref().context("no publisher")?],
                Duration::from_secs(30),
            )
            .await?;
            session.participants.push(p);
            // Let the publisher's stream settle.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut times = Vec::new();
            for i in 1..=joins {
                let p = join(&target, i, false, &feeds, self.opts).await?;
                let deadline = Instant::now() + Duration::from_secs(10);
                let ms = loop {
                    let at = p.subscriber().and_then(|s| {
                        s.shared
                            .streams
                            .borrow()
                            .values()
                            .filter_map(|st| st.keyframe_at)
                            .min()
                    });
                    if let (Some(at), Some(joined)) = (at, p.joined_at.get()) {
                        break at.duration_since(joined).as_secs_f64() * 1000.0;
                    }
                    if Instant::now() > deadline {
                        bail!("subscriber {i}: no keyframe within 10 s of joining");
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                };
                times.push(ms);
                session.participants.push(p);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            anyhow::Ok(times)
        }
        .await;
        session.close(sfu).await;
        r
    }
}

/// Run `futs` (`n` of them) `conc` at a time, handing each result to `done`; fails on the
/// first error or when all are not done within `limit`. Reports progress for large sets.
async fn run_all<T, F>(
    what: &str,
    futs: impl Iterator<Item = F>,
    n: usize,
    conc: usize,
    limit: Duration,
    mut done: impl FnMut(T),
) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + limit);
    let mut s = std::pin::pin!(stream::iter(futs).buffered(conc));
    let report = (n / 4).max(1);
    let mut count = 0;
    loop {
        let next = tokio::time::timeout_at(deadline, s.next())
            .await
            .map_err(|_| anyhow::anyhow!("{what}: only {count} of {n} after {limit:?}"))?;
        let Some(r) = next else {
            return Ok(());
        };
        done(r.with_context(|| format!("{what}: #{count}"))?);
        count += 1;
        if n >= 100 && count % report == 0 {
            eprintln!(
                "bench:   {what}: {count} of {n} ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Wait until `expected` subscribers have received a keyframe on `per_sub` streams each.
async fn wait_flowing(
    participants: &[Participant],
    expected: usize,
    per_sub: usize,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let ready = participants
            .iter()
            .filter_map(|p| p.subscriber())
            .filter(|s| {
                s.shared
                    .streams
                    .borrow()
                    .values()
                    .filter(|st| st.keyframe_at.is_some())
                    .count()
                    >= per_sub
            })
            .count();
        if ready >= expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            let with_sub = participants
                .iter()
                .filter(|p| p.subscriber().is_some())
                .count();
            let flowing: usize = participants
                .iter()
                .filter_map(|p| p.subscriber())
                .map(|s| s.shared.streams.borrow().len())
                .sum();
            let mut errors: Vec<String> = participants
                .iter()
                .filter_map(|p| p.subscriber())
                .filter_map(|s| s.shared.last_error.borrow().clone())
                .take(3)
                .collect();
            errors.extend(
                participants
                    .iter()
                    .filter_map(|p| match &p.link {
                        Link::Convene(c) => c.offer_errors.borrow().1.clone(),
                        Link::Janus(_) => None,
                    })
                    .take(3),
            );
            bail!(
                "after {limit:?} only {ready} of {expected} subscribers had a keyframe on all {per_sub} stream(s) ({with_sub} subscribe connections, {flowing} streams receiving packets){}",
                if errors.is_empty() {
                    String::new()
                } else {
                    format!("; errors: {}", errors.join("; "))
                }
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Counters at one instant.
struct Snapshot {
    at: Instant,
    /// Per participant with a subscriber: stream counters.
    marks: Vec<Option<HashMap<u32, Mark>>>,
    decrypted: u64,
    sent: u64,
    server_cpu: f64,
    gen_cpu: f64,
    busy: Vec<f64>,
    udp: report::UdpCounters,
}

impl Snapshot {
    fn take(participants: &[Participant], server_pid: u32) -> Snapshot {
        let mut decrypted = 0;
        let marks = participants
            .iter()
            .map(|p| {
                p.subscriber().map(|s| {
                    decrypted += s
                        .shared
                        .streams
                        .borrow()
                        .values()
                        .map(|st| st.decrypted)
                        .sum::<u64>();
                    s.shared.marks()
                })
            })
            .collect();
        let sent = participants
            .iter()
            .filter_map(|p| p.publisher.as_ref())
            .map(|p| p.shared.sent.get())
            .sum();
        Snapshot {
            at: Instant::now(),
            marks,
            decrypted,
            sent,
            server_cpu: sys::cpu_secs(Some(server_pid)),
            gen_cpu: sys::cpu_secs(None),
            busy: sys::cpu_busy_secs(),
            udp: report::UdpCounters::read(),
        }
    }
}

fn measure(
    step: &mut Step,
    a: &Snapshot,
    b: &Snapshot,
    participants: &[Participant],
    args: &SfuArgs,
) {
    let secs = b.at.duration_since(a.at).as_secs_f64();
    let rate = f64::from(PACKETS_PER_SEC);
    let mut expected = 0.0;
    let mut received = 0.0;
    let mut stalled = 0;
    let mut missing = 0;
    let per_sub = match step.scenario {
        Scenario::OneToMany => 1,
        Scenario::AllPublish => step.participants - 1,
    };
    for (i, p) in participants.iter().enumerate() {
        let Some(sub) = p.subscriber() else {
            continue;
        };
        let (Some(Some(ma)), Some(Some(mb))) = (a.marks.get(i), b.marks.get(i)) else {
            continue;
        };
        let streams = sub.shared.streams.borrow();
        let mut counted = 0;
        for (ssrc, end) in mb {
            let start = ma.get(ssrc).copied().unwrap_or(Mark {
                highest: end.highest,
                received: 0,
            });
            let got = (end.received - start.received) as f64;
            let mut exp = (end.highest - start.highest).max(0) as f64;
            exp = exp.max(got);
            // A stream that stopped before the window closed lost what it did not send.
            if let Some(st) = streams.get(ssrc) {
                let quiet = b.at.saturating_duration_since(st.last_at.max(a.at));
                if quiet > Duration::from_millis(500) {
                    stalled += 1;
                    exp += quiet.as_secs_f64() * rate;
                }
            }
            if exp > 0.0 {
                counted += 1;
            }
            if std::env::var_os("BENCH_SFU_DEBUG").is_some() && exp > got {
                eprintln!(
                    "sub {i} ssrc {ssrc}: expected {exp} got {got} highest {}..{}",
                    start.highest, end.highest
                );
            }
            expected += exp;
            received += got;
        }
        if counted < per_sub {
            missing += per_sub - counted;
            expected += (per_sub - counted) as f64 * rate * secs;
        }
    }
    step.streams = step.scenario.streams(step.participants);
    step.window_secs = secs;
    step.fwd_pps = received / secs;
    let seq_loss = if expected > 0.0 {
        ((expected - received) / expected * 100.0).max(0.0)
    } else {
        100.0
    };
    // An SFU may renumber what it forwards (so that its own drops leave no gap): also
    // hold what arrived against what the publishers sent in the same window. Every
    // subscriber should get every other participant's packets.
    let sent = (b.sent - a.sent) as f64;
    let subs = participants
        .iter()
        .filter(|p| p.subscriber().is_some())
        .count() as f64;
    let should = match step.scenario {
        Scenario::OneToMany => sent * subs,
        Scenario::AllPublish => sent * (step.participants as f64 - 1.0),
    };
    let sent_loss = if should > 0.0 {
        ((should - received) / should * 100.0).max(0.0)
    } else {
        100.0
    };
    if sent_loss > seq_loss + args.loss_limit_pct {
        step.note_extra.push(format!(
            "{sent_loss:.3}% fewer packets arrived than were sent, {seq_loss:.3}% by sequence numbers"
        ));
    }
    // Held against the sends, a window's edges move with the latency (a few ms are a
    // few tenths of a percent), so that count fails a step only from 1%: a server that
    // cannot keep up falls behind by far more.
    step.loss_pct = if sent_loss >= SENT_LOSS_LIMIT_PCT {
        seq_loss.max(sent_loss)
    } else {
        seq_loss
    };
    step.sent_pps = sent / secs;
    step.srv_cpu = (b.server_cpu - a.server_cpu) / secs;
    step.gen_cpu = (b.gen_cpu - a.gen_cpu) / secs;
    let busy: Vec<f64> = b
        .busy
        .iter()
        .zip(&a.busy)
        .map(|(x, y)| (x - y) / secs)
        .collect();
    let core = |c: &str| {
        c.parse::<usize>()
            .ok()
            .and_then(|i| busy.get(i))
            .copied()
            .unwrap_or(0.0)
    };
    step.other = (
        (core(crate::servers::SERVER_CORE) - step.srv_cpu).max(0.0),
        (core(LOADGEN_CORE) - step.gen_cpu).max(0.0),
    );
    step.udp = b.udp.since(&a.udp);
    let checked = b.decrypted - a.decrypted;
    let pub_errors: u64 = participants
        .iter()
        .filter_map(|p| p.publisher.as_ref())
        .map(|p| p.shared.errors.get() + p.shared.send_errors.get())
        .sum();
    if pub_errors > 0 {
        step.note_extra
            .push(format!("{pub_errors} publisher errors"));
    }
    let mut notes = std::mem::take(&mut step.note_extra);
    if missing > 0 {
        notes.push(format!("{missing} streams missing"));
    }
    if stalled > 0 {
        notes.push(format!("{stalled} streams stalled"));
    }
    if received > 1000.0 && checked == 0 {
        notes.push("no packet decrypted".to_owned());
    }
    step.checked = checked;
    if step.udp.load_drops > 0 {
        notes.push(format!(
            "{} packets dropped at load sockets",
            step.udp.load_drops
        ));
    }
    let sustained = step.loss_pct <= args.loss_limit_pct && missing == 0 && stalled == 0;
    if !sustained {
        notes.insert(
            0,
            format!("loss {:.3}% > {}%", step.loss_pct, args.loss_limit_pct),
        );
    }
    if step.gen_cpu > 0.9 && step.srv_cpu < 0.9 {
        step.load_bound = true;
        notes.push("load generator saturated".to_owned());
    }
    step.ok = sustained && step.udp.load_drops == 0 && !step.load_bound;
    step.note = notes.join("; ");
}

/// Find the largest sustained size of `scenario`; steps are recorded in `summary`.
async fn search(bench: &Bench<'_>, sfu: &mut Sfu, scenario: Scenario, summary: &mut Summary) {
    let args = bench.args;
    let max_n = args.max_participants.max(2);
    let mut n = match scenario {
        Scenario::OneToMany => args.fanout_start + 1,
        Scenario::AllPublish => args.mesh_start,
    }
    .clamp(2, max_n);
    let mut best: Option<usize> = None;
    let mut failed: Option<usize> = None;
    loop {
        let s = bench
            .step_busy_retry(sfu, scenario, n, args.window_secs, summary)
            .await;
        let ok = s.ok;
        let load_bound = s.load_bound;
        if ok {
            best = Some(n);
            if n >= max_n {
                break;
            }
            n = match scenario {
                Scenario::OneToMany => (n - 1) * 2 + 1,
                Scenario::AllPublish => n + args.mesh_step.max(1),
            }
            .min(max_n);
        } else {
            failed = Some(n);
            if load_bound {
                eprintln!(
                    "bench: the load generator, not the server, limited this step; stopping the search here"
                );
            }
            break;
        }
    }
    if let (Some(lo), Some(hi)) = (best, failed)
        && !summary.steps.last().is_some_and(|s| s.load_bound)
    {
        let (mut lo, mut hi) = (lo, hi);
        for _ in 0..args.bisect {
            if hi - lo <= 1 {
                break;
            }
            let mid = lo + (hi - lo) / 2;
            let s = bench
                .step_busy_retry(sfu, scenario, mid, args.window_secs, summary)
                .await;
            if s.ok {
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    summary.best = summary
        .steps
        .iter()
        .filter(|s| s.ok)
        .max_by(|a, b| a.fwd_pps.total_cmp(&b.fwd_pps))
        .cloned();
    summary.capped = best.is_some_and(|b| b >= max_n);
    // At 80% of the maximum, for longer.
    if let Some(b) = &summary.best {
        let n80 = scenario.participants_for(0.8 * b.fwd_pps / f64::from(PACKETS_PER_SEC));
        eprint!("  at 80%: ");
        let s = bench
            .step_busy_retry(sfu, scenario, n80, args.confirm_secs, summary)
            .await;
        // The 80% row is reported on its own (an earlier busy try stays in the table).
        summary.steps.pop();
        summary.at80 = Some(s);
    }
}

async fn start(kind: ServerKind, args: &SfuArgs, work: &Path, tag: &str) -> anyhow::Result<Sfu> {
    let netns = std::env::var(SERVER_NS_ENV).context("the servers' namespace is not set")?;
    Ok(match kind {
        ServerKind::Janus => {
            let dir = work.join(format!("janus-{tag}"));
            std::fs::create_dir_all(&dir)?;
            Sfu::Janus(
                janus::Janus::start(
                    &dir,
                    &work.join(format!("janus-{tag}.log")),
                    janus::JanusOpts {
                        event_loops: args.janus_event_loops,
                    },
                    &netns,
                )
                .await?,
            )
        }
        ServerKind::Convene => {
            let data = work.join(format!("convene-{tag}"));
            let _ = std::fs::remove_dir_all(&data);
            Sfu::Convene(
                convene::Convene::start(
                    &convene_bin(args)?,
                    &data,
                    work.join(format!("convene-{tag}.log")),
                    &netns,
                )
                .await?,
            )
        }
    })
}

async fn run(args: &SfuArgs, work: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let local_ip: IpAddr = netns::LOAD_IP.parse()?;
    let bench = Bench {
        args,
        opts: PeerOpts {
            local_ip,
            decrypt_every: args.decrypt_every.max(1),
            subscriber_pli: !args.no_subscriber_pli,
        },
    };
    report::print_header(args);
    let mut summaries: Vec<Summary> = Vec::new();
    let mut first_frames: HashMap<ServerKind, Vec<f64>> = HashMap::new();
    for &kind in &args.servers {
        for &scenario in &args.scenarios {
            let tag = match scenario {
                Scenario::OneToMany => "one",
                Scenario::AllPublish => "all",
            };
            eprintln!("bench: [{}] {}", kind.name(), scenario.name());
            let mut sfu = start(kind, args, work, tag).await?;
            let mut summary = Summary::new(kind, scenario);
            report::print_columns(kind, scenario);
            search(&bench, &mut sfu, scenario, &mut summary).await;
            summaries.push(summary);
            sfu.stop().await;
        }
        if args.first_frame_joins > 0 {
            eprintln!("bench: [{}] join → first keyframe", kind.name());
            let mut sfu = start(kind, args, work, "first").await?;
            match bench.first_frames(&mut sfu).await {
                Ok(t) => {
                    report::print_first_frames(kind, &t);
                    first_frames.insert(kind, t);
                }
                Err(e) => eprintln!("bench: [{}] first-frame test failed: {e:#}", kind.name()),
            }
            sfu.stop().await;
        }
    }
    report::print_result(args, &summaries, &first_frames, started.elapsed());
    Ok(())
}
