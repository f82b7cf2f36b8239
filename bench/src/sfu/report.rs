//! Steps, the tables and the `RESULT` line of `convene-bench sfu`.

use std::collections::HashMap;
use std::time::Duration;

use super::netns::LOAD_IP;
use super::peer::{PACKETS_PER_SEC, PAYLOAD_BYTES};
use super::{Scenario, ServerKind, SfuArgs};

/// UDP counters of the namespace: drops at the load's sockets and at the servers' (per
/// socket, `/proc/net/udp{,6}`), and the kernel's buffer errors (`/proc/net/snmp`).
#[derive(Clone, Copy, Default)]
pub struct UdpCounters {
    pub load_drops: u64,
    pub server_drops: u64,
    pub rcvbuf_errors: u64,
    pub sndbuf_errors: u64,
}

impl UdpCounters {
    pub fn read() -> UdpCounters {
        let mut c = UdpCounters::default();
        let load: std::net::Ipv4Addr = LOAD_IP.parse().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        for file in ["/proc/net/udp", "/proc/net/udp6"] {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (Some(local), Some(drops)) = (f.get(1), f.last()) else {
                    continue;
                };
                let drops: u64 = drops.parse().unwrap_or(0);
                let ip = local.split(':').next().unwrap_or("");
                // IPv4 sockets print the address as a native-endian hex word.
                let is_load = ip.len() == 8
                    && u32::from_str_radix(ip, 16)
                        .is_ok_and(|w| std::net::Ipv4Addr::from(w.to_le_bytes()) == load);
                if is_load {
                    c.load_drops += drops;
                } else {
                    c.server_drops += drops;
                }
            }
        }
        if let Ok(snmp) = std::fs::read_to_string("/proc/net/snmp") {
            let rows: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
            if let [names, values] = rows[..] {
                for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                    let v = v.parse().unwrap_or(0);
                    match n {
                        "RcvbufErrors" => c.rcvbuf_errors = v,
                        "SndbufErrors" => c.sndbuf_errors = v,
                        _ => {}
                    }
                }
            }
        }
        c
    }

    pub fn since(&self, a: &UdpCounters) -> UdpCounters {
        UdpCounters {
            load_drops: self.load_drops.saturating_sub(a.load_drops),
            server_drops: self.server_drops.saturating_sub(a.server_drops),
            rcvbuf_errors: self.rcvbuf_errors.saturating_sub(a.rcvbuf_errors),
            sndbuf_errors: self.sndbuf_errors.saturating_sub(a.sndbuf_errors),
        }
    }
}

/// Share of a core that other processes may use during a step before a failed step is
/// run again (and the result is flagged when it fails again).
pub const BUSY: f64 = 0.15;

/// One measured step.
#[derive(Clone)]
pub struct Step {
    pub scenario: Scenario,
    pub participants: usize,
    /// Streams forwarded (publisher → subscriber pairs).
    pub streams: usize,
    pub fwd_pps: f64,
    pub sent_pps: f64,
    pub loss_pct: f64,
    pub srv_cpu: f64,
    pub gen_cpu: f64,
    /// Busy time of everything else on the server core and the load core.
    pub other: (f64, f64),
    pub udp: UdpCounters,
    pub setup_secs: f64,
    pub window_secs: f64,
    /// Packets that went through SRTP at the load generator in the window.
    pub checked: u64,
    pub ok: bool,
    pub load_bound: bool,
    /// A second run of a step that failed while the machine was busy.
    pub retry: bool,
    pub note: String,
    /// Notes gathered while measuring.
    pub note_extra: Vec<String>,
}

impl Step {
    pub fn new(scenario: Scenario, participants: usize) -> Step {
        Step {
            scenario,
            participants,
            streams: scenario.streams(participants),
            fwd_pps: 0.0,
            sent_pps: 0.0,
            loss_pct: 100.0,
            srv_cpu: 0.0,
            gen_cpu: 0.0,
            other: (0.0, 0.0),
            udp: UdpCounters::default(),
            setup_secs: 0.0,
            window_secs: 0.0,
            checked: 0,
            ok: false,
            load_bound: false,
            retry: false,
            note: String::new(),
            note_extra: Vec::new(),
        }
    }

    /// Other processes used more than [`BUSY`] of a core during the window.
    pub fn busy(&self) -> bool {
        self.other.0 > BUSY || self.other.1 > BUSY
    }

    pub fn fail(&mut self, why: String) {
        self.ok = false;
        self.note = why;
    }
}

/// The steps of one server and scenario.
pub struct Summary {
    pub server: ServerKind,
    pub scenario: Scenario,
    pub steps: Vec<Step>,
    pub best: Option<Step>,
    pub at80: Option<Step>,
    /// The largest room was sustained: the maximum is at least this.
    pub capped: bool,
    /// The search ended on a step that failed while other processes were busy on the cores
    /// (twice, unless `--no-busy-retry`).
    pub busy: bool,
}

impl Summary {
    pub fn new(server: ServerKind, scenario: Scenario) -> Summary {
        Summary {
            server,
            scenario,
            steps: Vec::new(),
            best: None,
            at80: None,
            capped: false,
            busy: false,
        }
    }
}

const COLUMNS: &str = "  people  streams  sent pkt/s  fwd pkt/s   loss %  srv cpu  gen cpu  other c0/c1  drops srv/gen  setup s  result";

pub fn print_header(args: &SfuArgs) {
    eprintln!(
        "convene-bench sfu: publishers send {PACKETS_PER_SEC} packets/s of {PAYLOAD_BYTES}-byte VP8-shaped RTP ({:.2} Mbit/s); {} s per step after {} s of warm-up; sustained = loss ≤ {}%",
        f64::from(PACKETS_PER_SEC) * PAYLOAD_BYTES as f64 * 8.0 / 1e6,
        args.window_secs,
        args.warmup_secs,
        args.loss_limit_pct
    );
}

pub fn print_columns(server: ServerKind, scenario: Scenario) {
    eprintln!("{} — {}:", server.name(), scenario.name());
    eprintln!("{COLUMNS}");
}

fn row(s: &Step) -> String {
    let retry = if s.retry { "(retry) " } else { "" };
    let result = if s.ok {
        if s.note.is_empty() {
            "sustained".to_owned()
        } else {
            format!("sustained ({})", s.note)
        }
    } else {
        format!("no: {}", s.note)
    };
    format!(
        "{:>8} {:>8} {:>11.0} {:>10.0} {:>8.3} {:>7.0}% {:>7.0}% {:>5.0}%/{:>4.0}% {:>7}/{:<6} {:>7.1}  {}{}",
        s.participants,
        s.streams,
        s.sent_pps,
        s.fwd_pps,
        s.loss_pct,
        s.srv_cpu * 100.0,
        s.gen_cpu * 100.0,
        s.other.0 * 100.0,
        s.other.1 * 100.0,
        s.udp.server_drops,
        s.udp.load_drops,
        s.setup_secs,
        retry,
        result
    )
}

pub fn print_row(s: &Step) {
    eprintln!("{}", row(s));
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

pub fn print_first_frames(server: ServerKind, times: &[f64]) {
    let s = sorted(times);
    eprintln!(
        "{}: join → first keyframe over {} joins: p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        server.name(),
        s.len(),
        percentile(&s, 0.5),
        percentile(&s, 0.9),
        percentile(&s, 1.0)
    );
}

fn best_of(summaries: &[Summary], server: ServerKind, scenario: Scenario) -> Option<&Summary> {
    summaries
        .iter()
        .find(|s| s.server == server && s.scenario == scenario)
}

pub fn print_result(
    args: &SfuArgs,
    summaries: &[Summary],
    first_frames: &HashMap<ServerKind, Vec<f64>>,
    elapsed: Duration,
) {
    println!();
    println!(
        "convene-bench sfu: {PACKETS_PER_SEC} packets/s of {PAYLOAD_BYTES}-byte RTP per publisher; servers on core 0, load on core 1, in a network namespace; {} s per step",
        args.window_secs
    );
    for s in summaries {
        println!("{} — {}:", s.server.name(), s.scenario.name());
        println!("{COLUMNS}");
        for step in &s.steps {
            println!("{}", row(step));
        }
        if let Some(a) = &s.at80 {
            println!("{}   (80% of the maximum, {:.0} s)", row(a), a.window_secs);
        }
    }
    println!();
    let mut ratios = Vec::new();
    let mut losses = Vec::new();
    let mut extra = Vec::new();
    for &scenario in &args.scenarios {
        let key = match scenario {
            Scenario::OneToMany => "one_to_many",
            Scenario::AllPublish => "all_publish",
        };
        let mut line = format!("{}: ", scenario.name());
        for &server in &args.servers {
            if let Some(s) = best_of(summaries, server, scenario) {
                match &s.best {
                    Some(b) => line.push_str(&format!(
                        "{} {}{:.0} forwarded packets/s ({} participants, {:.0}% of its core); ",
                        server.name(),
                        if s.capped { "≥ " } else { "" },
                        b.fwd_pps,
                        b.participants,
                        b.srv_cpu * 100.0
                    )),
                    None => line.push_str(&format!("{}: no step sustained; ", server.name())),
                }
            }
        }
        println!("{}", line.trim_end_matches("; "));
        for &server in &args.servers {
            if best_of(summaries, server, scenario).is_some_and(|s| s.busy) {
                println!(
                    "  warning: {}'s search ended on a step that failed while other processes used more than {:.0}% of a core; rerun on a quiet machine",
                    server.name(),
                    BUSY * 100.0
                );
            }
        }
        let conv = best_of(summaries, ServerKind::Convene, scenario);
        let janus = best_of(summaries, ServerKind::Janus, scenario);
        if let (Some(c), Some(j)) = (conv, janus) {
            let cb = c.best.as_ref().map_or(0.0, |b| b.fwd_pps);
            if let Some(jb) = j.best.as_ref().map(|b| b.fwd_pps).filter(|&x| x > 0.0) {
                let r = cb / jb;
                ratios.push(r);
                extra.push(format!("sfu_vs_janus_{key}={r:.2}"));
            }
        }
        if let Some(a) = conv.and_then(|c| c.at80.as_ref()) {
            losses.push(a.loss_pct);
            extra.push(format!("loss_pct_{key}={:.3}", a.loss_pct));
        }
    }
    for (server, times) in first_frames {
        let s = sorted(times);
        println!(
            "{}: join → first keyframe at a new subscriber: p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms ({} joins)",
            server.name(),
            percentile(&s, 0.5),
            percentile(&s, 0.9),
            percentile(&s, 1.0),
            s.len()
        );
        if *server == ServerKind::Janus {
            extra.push(format!(
                "janus_first_frame_ms_p50={:.0}",
                percentile(&s, 0.5)
            ));
        }
    }
    println!("total time {:.0} s", elapsed.as_secs_f64());
    let fmt =
        |v: Option<f64>, digits: usize| v.map_or("n/a".to_owned(), |x| format!("{x:.digits$}"));
    let ratio = ratios.iter().copied().reduce(f64::min);
    let loss = losses.iter().copied().reduce(f64::max);
    let ff = first_frames
        .get(&ServerKind::Convene)
        .map(|t| percentile(&sorted(t), 0.5));
    println!(
        "RESULT sfu_vs_janus={} loss_pct={} first_frame_ms_p50={}{}{}",
        fmt(ratio, 2),
        fmt(loss, 3),
        fmt(ff, 0),
        if extra.is_empty() { "" } else { " " },
        extra.join(" ")
    );
}
