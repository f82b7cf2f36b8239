//! A set of connections and the open-loop step that drives them at one offered rate.

use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::StreamExt;
use futures_util::stream;

use crate::client::{self, Conn, Spec, Stats, Target};
use crate::sys;

/// Connections opened at once.
const DIAL_CONCURRENCY: usize = 64;
/// How long deliveries may trail the last send before they count as missing.
const DRAIN: Duration = Duration::from_secs(2);

pub struct Fleet {
    pub target: Target,
    pub stats: Rc<Stats>,
    specs: Vec<Spec>,
    conns: Vec<Option<Conn>>,
}

impl Fleet {
    pub fn new(target: Target, specs: Vec<Spec>) -> Fleet {
        let stats = Stats::new(specs.len());
        let conns = specs.iter().map(|_| None).collect();
        Fleet {
            target,
            stats,
            specs,
            conns,
        }
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn alive(&self) -> usize {
        self.conns
            .iter()
            .filter(|c| c.as_ref().is_some_and(Conn::is_alive))
            .count()
    }

    /// Open every connection that is not open (at most twice each).
    pub async fn connect(&mut self) -> anyhow::Result<()> {
        for attempt in 0..2 {
            let todo: Vec<usize> = (0..self.specs.len())
                .filter(|i| !self.conns[*i].as_ref().is_some_and(Conn::is_alive))
                .collect();
            if todo.is_empty() {
                return Ok(());
            }
            let dialed: Vec<(usize, anyhow::Result<Conn>)> = stream::iter(todo)
                .map(|i| {
                    let spec = self.specs[i].clone();
                    let target = self.target.clone();
                    let stats = self.stats.clone();
                    async move { (i, client::dial(&target, spec, stats).await) }
                })
                .buffer_unordered(DIAL_CONCURRENCY)
                .collect()
                .await;
            let mut failed = 0;
            let mut first = None;
            for (i, r) in dialed {
                match r {
                    Ok(c) => self.conns[i] = Some(c),
                    Err(e) => {
                        failed += 1;
                        first.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first {
                if attempt == 1 {
                    bail!(
                        "{failed} of {} connections failed; first: {e:#}",
                        self.specs.len()
                    );
                }
                eprintln!("bench: {failed} connections failed ({e:#}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Ok(())
    }

    /// Close every connection and wait (up to 10 s) for the tasks to end.
    pub async fn close(&mut self) {
        for c in self.conns.iter().flatten() {
            c.close();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.alive() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.conns.iter_mut().for_each(|c| *c = None);
    }
}

/// One step's plan.
pub struct Plan {
    pub rate: f64,
    pub secs: f64,
    /// Every connection receives every send (one channel); otherwise only the
    /// sender's own connection does (its own channel).
    pub fanout: bool,
    /// Sends are answered with `ok` (Convene): every send must be. Without fan-out the
    /// `ok` is what is measured, so its p99 must be under the limit too.
    pub acks: bool,
    pub p99_limit_ms: f64,
}

/// What one step measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub rate: f64,
    pub offered: u64,
    pub sent: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub acks: u64,
    pub errors: u64,
    pub closed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub ack_p99_ms: f64,
    pub gen_cpu: f64,
    pub server_cpu: f64,
    /// Average payload of a delivered frame, bytes.
    pub frame_bytes: f64,
    /// Bytes the server wrote to storage while sending, per send.
    pub disk_bytes_per_send: f64,
    /// CPU used on the server's core by anything but the server (other processes,
    /// steal), and on the load generator's core by anything but the generator.
    pub noise: (f64, f64),
    pub deliveries_per_s: f64,
    pub acked_per_s: f64,
    pub pass: bool,
    pub why: String,
    /// This step repeats a failed one at the same rate.
    pub retry: bool,
}

impl Outcome {
    /// Failed for a reason that noise on the machine does not explain: deliveries or
    /// acknowledgements lost, connections closed, sends refused or not even written.
    pub fn overloaded(&self) -> bool {
        !self.pass
            && (self.missing > 0
                || self.closed > 0
                || self.errors > 0
                || self.acks < self.sent && self.acks > 0
                || (self.sent as f64) < 0.99 * self.offered as f64)
    }
}

/// Other processes' share of the two cores above which a step waits.
const QUIET: f64 = 0.10;
/// Longest wait for the cores to be quiet before a step runs anyway.
const QUIET_WAIT: Duration = Duration::from_secs(30);

/// Wait (bounded) until little but the server and the load generator runs on the two
/// cores: the machine may be shared, and a step measured beside a compiler measures
/// the compiler. Returns how long it waited.
pub async fn wait_for_quiet(server_pid: u32) -> Duration {
    wait_for_quiet_at_most(server_pid, QUIET_WAIT).await
}

/// [`wait_for_quiet`], waiting at most `limit`.
pub async fn wait_for_quiet_at_most(server_pid: u32, limit: Duration) -> Duration {
    let started = Instant::now();
    if limit.is_zero() {
        return Duration::ZERO;
    }
    loop {
        let (g0, s0, b0) = (
            sys::cpu_secs(None),
            sys::cpu_secs(Some(server_pid)),
            sys::cpu_busy_secs(),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (g1, s1, b1) = (
            sys::cpu_secs(None),
            sys::cpu_secs(Some(server_pid)),
            sys::cpu_busy_secs(),
        );
        let secs = 0.5;
        let busy: f64 = b0.iter().zip(&b1).take(2).map(|(a, b)| b - a).sum::<f64>() / secs;
        let own = (g1 - g0 + s1 - s0) / secs;
        if busy - own < QUIET || started.elapsed() >= limit {
            return started.elapsed();
        }
    }
}

/// Send at `plan.rate` for `plan.secs` from `senders` (round robin, open loop), wait for
/// the deliveries, and judge: sustained means every send written and answered, every
/// delivery made exactly once, nothing closed, no error, and p99 under the limit.
pub async fn run_step(fleet: &Fleet, senders: &[usize], plan: &Plan, server_pid: u32) -> Outcome {
    let waited = wait_for_quiet(server_pid).await;
    if waited >= Duration::from_secs(2) {
        eprintln!(
            "bench:   (waited {:.0} s for other load on the cores to settle)",
            waited.as_secs_f64()
        );
    }
    let stats = &fleet.stats;
    let step = stats.new_step();
    let closed_before = stats.closed.get();
    let offered = (plan.rate * plan.secs).round() as u64;
    let (gen0, srv0, busy0) = (
        sys::cpu_secs(None),
        sys::cpu_secs(Some(server_pid)),
        sys::cpu_busy_secs(),
    );
    let disk0 = sys::write_bytes(server_pid);
    let start = Instant::now();
    let mut issued = 0u64;
    while issued < offered {
        let due = ((start.elapsed().as_secs_f64() * plan.rate) as u64 + 1).min(offered);
        while issued < due {
            let s = senders[issued as usize % senders.len()];
            if let Some(c) = &fleet.conns[s] {
                c.send(step);
            }
            issued += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let window = start.elapsed().as_secs_f64();
    let (gen1, srv1, busy1) = (
        sys::cpu_secs(None),
        sys::cpu_secs(Some(server_pid)),
        sys::cpu_busy_secs(),
    );
    let disk = sys::write_bytes(server_pid).saturating_sub(disk0) as f64;
    let busy = |core: usize| match (busy0.get(core), busy1.get(core)) {
        (Some(a), Some(b)) => (b - a) / window,
        _ => 0.0,
    };
    let (gen_cpu, server_cpu) = ((gen1 - gen0) / window, (srv1 - srv0) / window);
    let noise = (
        (busy(0) - server_cpu).max(0.0),
        (busy(1) - gen_cpu).max(0.0),
    );
    let n = fleet.len() as u64;
    let expected_of = |sent: u64| if plan.fanout { sent * n } else { sent };
    let deadline = Instant::now() + DRAIN;
    loop {
        let (sent, delivered, acks) = stats.with_step(step, |s| (s.sent, s.delivered, s.acks));
        let done = delivered >= expected_of(sent) && (!plan.acks || acks >= sent);
        if done || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let closed = stats.closed.get() - closed_before;
    let mut o = stats.with_step(step, |s| {
        let (mut missing, mut duplicates) = (0u64, 0u64);
        for i in 0..fleet.len() {
            let want = if plan.fanout {
                s.sent
            } else {
                u64::from(s.sent_by[i])
            };
            let got = u64::from(s.delivered_to[i]);
            missing += want.saturating_sub(got);
            duplicates += got.saturating_sub(want);
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Outcome {
            rate: plan.rate,
            offered,
            sent: s.sent,
            missing,
            duplicates,
            acks: s.acks,
            errors: s.errors,
            closed,
            p50_ms: ms(s.latency.quantile(0.50)),
            p99_ms: ms(s.latency.quantile(0.99)),
            max_ms: ms(s.latency.max()),
            ack_p99_ms: ms(s.ack_latency.quantile(0.99)),
            gen_cpu,
            server_cpu,
            frame_bytes: s.delivered_bytes as f64 / s.delivered.max(1) as f64,
            disk_bytes_per_send: disk / s.sent.max(1) as f64,
            noise,
            deliveries_per_s: s.delivered as f64 / plan.secs,
            acked_per_s: s.acks as f64 / plan.secs,
            pass: false,
            why: String::new(),
            retry: false,
        }
    });
    let mut why = Vec::new();
    if (o.sent as f64) < 0.99 * o.offered as f64 {
        why.push(format!("only {} of {} sends written", o.sent, o.offered));
    }
    if o.missing > 0 {
        why.push(format!(
            "{} deliveries missing after {} s",
            o.missing,
            DRAIN.as_secs()
        ));
    }
    if o.duplicates > 0 {
        why.push(format!("{} duplicate deliveries", o.duplicates));
    }
    if plan.acks && o.acks < o.sent {
        why.push(format!("{} sends not acknowledged", o.sent - o.acks));
    }
    if o.errors > 0 {
        why.push(format!("{} error frames", o.errors));
    }
    if o.closed > 0 {
        why.push(format!("{} connections closed", o.closed));
    }
    if o.p99_ms > plan.p99_limit_ms {
        why.push(format!(
            "p99 {:.0} ms > {:.0} ms",
            o.p99_ms, plan.p99_limit_ms
        ));
    }
    if plan.acks && !plan.fanout && o.ack_p99_ms > plan.p99_limit_ms {
        why.push(format!(
            "ack p99 {:.0} ms > {:.0} ms",
            o.ack_p99_ms, plan.p99_limit_ms
        ));
    }
    let notes = stats.take_notes();
    let n_notes = notes.len();
    why.extend(notes.into_iter().take(2));
    if n_notes > 2 {
        why.push("…".to_owned());
    }
    o.pass = why.is_empty();
    if !o.pass && o.gen_cpu > 0.9 {
        why.push(format!(
            "load generator near saturation ({:.0}% cpu)",
            o.gen_cpu * 100.0
        ));
    }
    if !o.pass && o.noise.0.max(o.noise.1) > 0.15 {
        why.push(format!(
            "other load on the cores: {:.0}% / {:.0}%",
            o.noise.0 * 100.0,
            o.noise.1 * 100.0
        ));
    }
    o.why = why.join("; ");
    stats.forget_step(step);
    // Let a backlog from an overloaded step finish before the next one (max 20 s).
    let quiet_deadline = Instant::now() + Duration::from_secs(20);
    while stats.quiet_for_us() < 300_000 && Instant::now() < quiet_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    o
}
