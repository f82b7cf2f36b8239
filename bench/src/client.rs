//! The load generator's websocket client: lean on purpose, so that one core can read
//! well over a million deliveries per second. One task per connection reads server
//! frames straight from the socket (server frames are unmasked: parsing them is a few
//! comparisons), recognises a delivery by its type prefix and reads the send time
//! stamped in the message body with one substring search. Nothing is JSON-parsed.
//!
//! The same client talks to the bare broadcaster and to Convene; only the path, the
//! optional `auth` frame and the channel id differ.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::hist::Hist;

/// Body text after the stamp: the body is exactly [`BODY_CHARS`] characters.
const FILLER: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod";
/// `T=<12> S=<3> N=<7> ` is 31 characters.
pub const BODY_CHARS: usize = 31 + FILLER.len();
const _: () = assert!(BODY_CHARS == 100);

/// What the load generator counted in one step (one offered rate).
pub struct StepStats {
    /// Send frames written.
    pub sent: u64,
    /// Send frames written per connection.
    pub sent_by: Vec<u32>,
    /// Deliveries (message events carrying this step's stamp).
    pub delivered: u64,
    /// Deliveries per receiving connection.
    pub delivered_to: Vec<u32>,
    /// Payload bytes of the delivered frames.
    pub delivered_bytes: u64,
    /// `ok` answers to sends.
    pub acks: u64,
    /// `error` frames while this step ran.
    pub errors: u64,
    /// Send → delivery latency, µs.
    pub latency: Hist,
    /// Send → `ok` latency, µs.
    pub ack_latency: Hist,
}

/// Counters shared by every connection task (single-threaded: no atomics).
pub struct Stats {
    origin: Instant,
    n_conns: usize,
    steps: RefCell<Vec<StepStats>>,
    /// Step charged with errors and closes that carry no stamp.
    current: Cell<usize>,
    /// Connections closed by the server or the network while the bench wanted them.
    pub closed: Cell<u64>,
    /// Time of the last delivery, µs since `origin`.
    last_delivery: Cell<u64>,
    /// The first few errors and closes, for the report.
    notes: RefCell<Vec<String>>,
}

impl Stats {
    pub fn new(n_conns: usize) -> Rc<Stats> {
        Rc::new(Stats {
            origin: Instant::now(),
            n_conns,
            steps: RefCell::new(Vec::new()),
            current: Cell::new(0),
            closed: Cell::new(0),
            last_delivery: Cell::new(0),
            notes: RefCell::new(Vec::new()),
        })
    }

    pub fn now_us(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }

    /// Start counting a new step; returns its id (stamped into bodies).
    pub fn new_step(&self) -> usize {
        let mut steps = self.steps.borrow_mut();
        steps.push(StepStats {
            sent: 0,
            sent_by: vec![0; self.n_conns],
            delivered: 0,
            delivered_to: vec![0; self.n_conns],
            delivered_bytes: 0,
            acks: 0,
            errors: 0,
            latency: Hist::default(),
            ack_latency: Hist::default(),
        });
        let id = steps.len() - 1;
        self.current.set(id);
        id
    }

    pub fn with_step<R>(&self, id: usize, f: impl FnOnce(&StepStats) -> R) -> R {
        f(&self.steps.borrow()[id])
    }

    /// Drop the per-step tables of a finished step (histograms are large).
    pub fn forget_step(&self, id: usize) {
        if let Some(s) = self.steps.borrow_mut().get_mut(id) {
            s.latency = Hist::default();
            s.ack_latency = Hist::default();
            s.sent_by = Vec::new();
            s.delivered_to = Vec::new();
        }
    }

    /// `ok` answers to sends over all steps.
    pub fn total_acks(&self) -> u64 {
        self.steps.borrow().iter().map(|s| s.acks).sum()
    }

    /// µs since the last delivery.
    pub fn quiet_for_us(&self) -> u64 {
        self.now_us().saturating_sub(self.last_delivery.get())
    }

    pub fn note(&self, text: String) {
        let mut notes = self.notes.borrow_mut();
        if notes.len() < 8 {
            notes.push(text);
        }
    }

    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.borrow_mut())
    }
}

/// Where to connect.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: &'static str,
}

/// One connection to open.
#[derive(Clone)]
pub struct Spec {
    /// Index into the per-connection tables of [`Stats`].
    pub idx: usize,
    /// Access token for the `auth` frame (Convene); none for the bare server.
    pub token: Option<Rc<str>>,
    /// Channel id put into send frames.
    pub channel: Rc<str>,
    /// Read buffer size: large for receivers under load, small for idle connections.
    pub read_buf: usize,
    /// Extra bytes in each send frame (a `pad` field; the bare server echoes it).
    pub pad: usize,
}

enum Cmd {
    Send { step: u16 },
    Close,
}

/// Handle to a live connection task.
pub struct Conn {
    cmds: mpsc::UnboundedSender<Cmd>,
    alive: Rc<Cell<bool>>,
}

impl Conn {
    pub fn is_alive(&self) -> bool {
        self.alive.get()
    }

    /// Queue one send frame stamped for `step`; false when the connection is gone.
    pub fn send(&self, step: usize) -> bool {
        self.alive.get() && self.cmds.send(Cmd::Send { step: step as u16 }).is_ok()
    }

    pub fn close(&self) {
        let _ = self.cmds.send(Cmd::Close);
    }
}

/// Numbers every connection made by this process.
static NEXT_DIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Connect, upgrade, authenticate (when the spec has a token) and start the task.
pub async fn dial(target: &Target, spec: Spec, stats: Rc<Stats>) -> anyhow::Result<Conn> {
    timeout(HANDSHAKE_TIMEOUT, dial_inner(target, spec, stats))
        .await
        .context("websocket connect + auth timed out")?
}

async fn dial_inner(target: &Target, spec: Spec, stats: Rc<Stats>) -> anyhow::Result<Conn> {
    let mut stream = TcpStream::connect(target.addr)
        .await
        .with_context(|| format!("connecting to {}", target.addr))?;
    stream.set_nodelay(true)?;
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path, target.addr
    );
    stream.write_all(req.as_bytes()).await?;
    let mut c = ConnTask::new(spec, stats);
    // Read the HTTP head; whatever follows it is already websocket data.
    loop {
        let n = stream.read(&mut c.buf[c.end..]).await?;
        if n == 0 {
            bail!("connection closed during the upgrade");
        }
        c.end += n;
        if let Some(i) = memmem::find(&c.buf[..c.end], b"\r\n\r\n") {
            if !c.buf.starts_with(b"HTTP/1.1 101") {
                let head = String::from_utf8_lossy(&c.buf[..i]).into_owned();
                bail!("upgrade refused: {head}");
            }
            c.start = i + 4;
            break;
        }
        if c.end == c.buf.len() {
            bail!("upgrade answer too long");
        }
    }
    if let Some(token) = c.spec.token.clone() {
        c.text.clear();
        let _ = write!(c.text, r#"{{"type":"auth","id":"1","token":"{token}"}}"#);
        c.queue_text_frame();
        stream.write_all(&c.out).await?;
        c.out.clear();
        // Wait for `ok` (or `error`) to the auth frame.
        loop {
            match c.next_frame() {
                Some((1, range)) => {
                    let p = &c.buf[range];
                    if p.starts_with(br#"{"type":"ok","id":"1""#) {
                        break;
                    }
                    if p.starts_with(br#"{"type":"error""#) {
                        bail!("auth refused: {}", String::from_utf8_lossy(p));
                    }
                }
                Some((8, range)) => bail!("closed during auth: {}", close_reason(&c.buf[range])),
                Some(_) => {}
                None => {
                    c.make_room();
                    let n = stream.read(&mut c.buf[c.end..]).await?;
                    if n == 0 {
                        bail!("connection closed during auth");
                    }
                    c.end += n;
                }
            }
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let alive = Rc::new(Cell::new(true));
    let conn = Conn {
        cmds: tx,
        alive: alive.clone(),
    };
    tokio::task::spawn_local(async move {
        c.run(stream, rx).await;
        alive.set(false);
    });
    Ok(conn)
}

fn close_reason(payload: &[u8]) -> String {
    if payload.len() >= 2 {
        let code = u16::from_be_bytes([payload[0], payload[1]]);
        format!("close {code} {}", String::from_utf8_lossy(&payload[2..]))
    } else {
        "close without code".to_owned()
    }
}

struct ConnTask {
    spec: Spec,
    stats: Rc<Stats>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Frames to write (pongs, sends).
    out: Vec<u8>,
    /// Scratch for a frame's text.
    text: String,
    /// Requests sent on this connection (frame ids and client keys).
    n: u32,
    /// Makes client keys unique across connections, reconnections and phases:
    /// Convene answers a repeated (sender, client_key) with the first message.
    key_prefix: u64,
    /// Mask key generator state.
    rng: u64,
    marker: memmem::Finder<'static>,
}

impl ConnTask {
    fn new(spec: Spec, stats: Rc<Stats>) -> ConnTask {
        let rng = 0x9E37_79B9_7F4A_7C15 ^ ((spec.idx as u64 + 1) * 0x2545_F491_4F6C_DD1D);
        ConnTask {
            buf: vec![0; spec.read_buf.max(4096)],
            spec,
            stats,
            start: 0,
            end: 0,
            out: Vec::with_capacity(512),
            text: String::with_capacity(512),
            n: 1,
            key_prefix: NEXT_DIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            rng,
            marker: memmem::Finder::new(b"T="),
        }
    }

    async fn run(&mut self, mut stream: TcpStream, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        let (mut rd, mut wr) = stream.split();
        let mut wanted = true;
        // Frames that arrived with the auth answer.
        let mut keep = self.process(self.stats.now_us());
        while keep {
            if !self.out.is_empty() {
                if wr.write_all(&self.out).await.is_err() {
                    break;
                }
                self.out.clear();
            }
            tokio::select! {
                read = rd.read(&mut self.buf[self.end..]) => {
                    match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            self.end += n;
                            keep = self.process(self.stats.now_us());
                        }
                    }
                }
                cmd = cmds.recv() => match cmd {
                    Some(Cmd::Send { step }) => self.queue_send(step),
                    Some(Cmd::Close) | None => {
                        wanted = false;
                        // Close frame, code 1000.
                        self.queue_frame(0x8, &[0x03, 0xE8]);
                        let _ = wr.write_all(&self.out).await;
                        break;
                    }
                },
            }
        }
        if wanted {
            self.stats.closed.set(self.stats.closed.get() + 1);
            if keep {
                self.stats.note(format!(
                    "connection {} closed by the server without a close frame",
                    self.spec.idx
                ));
            }
        }
    }

    /// The next complete frame in the buffer: (opcode, payload range).
    fn next_frame(&mut self) -> Option<(u8, std::ops::Range<usize>)> {
        let avail = &self.buf[self.start..self.end];
        if avail.len() < 2 {
            return None;
        }
        let opcode = avail[0] & 0x0F;
        let len7 = (avail[1] & 0x7F) as usize;
        let (head, len) = match len7 {
            126 => {
                if avail.len() < 4 {
                    return None;
                }
                (4, u16::from_be_bytes([avail[2], avail[3]]) as usize)
            }
            127 => {
                if avail.len() < 10 {
                    return None;
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&avail[2..10]);
                (10, u64::from_be_bytes(b) as usize)
            }
            n => (2, n),
        };
        if avail.len() < head + len {
            if head + len > self.buf.len() {
                // A frame larger than the buffer: grow it.
                self.buf.resize(head + len + 4096, 0);
            }
            return None;
        }
        let range = self.start + head..self.start + head + len;
        self.start += head + len;
        Some((opcode, range))
    }

    /// Move unread bytes to the front when the buffer's tail is short.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < self.buf.len() / 4 || self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let len = self.buf.len();
            self.buf.resize(len * 2, 0);
        }
    }

    /// Handle every complete frame; false when the connection must end.
    fn process(&mut self, now: u64) -> bool {
        let mut delivered_any = false;
        let mut keep = true;
        while let Some((opcode, range)) = self.next_frame() {
            match opcode {
                0x1 => {
                    let p = &self.buf[range];
                    if p.starts_with(br#"{"type":"message""#) || p.starts_with(br#"{"type":"send""#)
                    {
                        if let Some((t, step)) = self.stamp(p) {
                            let mut steps = self.stats.steps.borrow_mut();
                            if let Some(s) = steps.get_mut(step) {
                                s.delivered += 1;
                                s.delivered_bytes += p.len() as u64;
                                if let Some(c) = s.delivered_to.get_mut(self.spec.idx) {
                                    *c += 1;
                                }
                                s.latency.record(now.saturating_sub(t));
                            }
                            delivered_any = true;
                        }
                    } else if p.starts_with(br#"{"type":"ok""#) {
                        if let Some((t, step)) = self.stamp(p) {
                            let mut steps = self.stats.steps.borrow_mut();
                            if let Some(s) = steps.get_mut(step) {
                                s.acks += 1;
                                s.ack_latency.record(now.saturating_sub(t));
                            }
                        }
                    } else if p == br#"{"type":"ping"}"# {
                        self.queue_frame(0x1, br#"{"type":"pong"}"#);
                    } else if p.starts_with(br#"{"type":"error""#) {
                        let text = String::from_utf8_lossy(p).into_owned();
                        let current = self.stats.current.get();
                        if let Some(s) = self.stats.steps.borrow_mut().get_mut(current) {
                            s.errors += 1;
                        }
                        self.stats
                            .note(format!("connection {}: {text}", self.spec.idx));
                    }
                }
                0x8 => {
                    let reason = close_reason(&self.buf[range]);
                    self.stats.note(format!(
                        "connection {} closed by the server: {reason}",
                        self.spec.idx
                    ));
                    keep = false;
                    break;
                }
                0x9 => {
                    let payload = self.buf[range].to_vec();
                    self.queue_frame(0xA, &payload);
                }
                _ => {}
            }
        }
        if delivered_any {
            self.stats.last_delivery.set(now);
        }
        self.make_room();
        keep
    }

    /// `(send time µs, step)` from the first `T=<12 digits> S=<3 digits>` in `p`.
    fn stamp(&self, p: &[u8]) -> Option<(u64, usize)> {
        let i = self.marker.find(p)? + 2;
        let digits = p.get(i..i + 12)?;
        let step = p.get(i + 15..i + 18)?;
        if p.get(i + 12..i + 15)? != b" S=" {
            return None;
        }
        Some((number(digits)?, number(step)? as usize))
    }

    fn queue_send(&mut self, step: u16) {
        let n = self.n;
        self.n += 1;
        let t = self.stats.now_us();
        self.text.clear();
        let _ = write!(
            self.text,
            r#"{{"type":"send","id":"{n}","channel_id":"{}","message":{{"body":"T={t:012} S={step:03} N={:07} {FILLER}","client_key":"k{}-{n}"}}}}"#,
            self.spec.channel,
            n % 10_000_000,
            self.key_prefix
        );
        if self.spec.pad > 0 {
            self.text.pop();
            self.text.push_str(r#","pad":""#);
            self.text
                .extend(std::iter::repeat_n('x', self.spec.pad.saturating_sub(9)));
            self.text.push_str(r#""}"#);
        }
        self.queue_text_frame();
        let mut steps = self.stats.steps.borrow_mut();
        if let Some(s) = steps.get_mut(step as usize) {
            s.sent += 1;
            if let Some(c) = s.sent_by.get_mut(self.spec.idx) {
                *c += 1;
            }
        }
    }

    fn queue_text_frame(&mut self) {
        let text = std::mem::take(&mut self.text);
        self.queue_frame(0x1, text.as_bytes());
        self.text = text;
    }

    /// Append a masked client frame to `out`.
    fn queue_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let mask = (self.rng as u32).to_be_bytes();
        self.out.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => self.out.push(0x80 | n as u8),
            n if n <= u16::MAX as usize => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&mask);
        self.out
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    }
}

fn number(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
    })
}
