//! Load-client peers. Each is a sans-I/O `rtc` `RTCPeerConnection` on its own UDP socket,
//! driven by one task on the load generator's single-threaded runtime.
//!
//! A **publisher** sends VP8-shaped synthetic RTP: 1,100-byte payloads at 170 packets/s
//! (about 1.5 Mbit/s), 30 frames/s, the marker bit on each frame's last packet. Its frames
//! are delta frames until a keyframe request (PLI or FIR) arrives; the next frame is then a
//! keyframe, whose first packet carries a real VP8 keyframe header (start code
//! `9d 01 2a`), which the subscriber side recognises.
//!
//! A **subscriber** counts every RTP packet per SSRC by its (unencrypted) RTP header:
//! extended sequence numbers give the loss. Every packet of a stream goes through SRTP
//! until that stream's first keyframe has been recognised (its payload is needed for that);
//! after it, one packet in `decrypt_every` still does (a check that what arrives decrypts and
//! authenticates), and the rest are only counted, so that one load-generator core can
//! receive more than a server core can forward. No NACKs are sent (loss is measured, not
//! repaired). Like a browser, a subscriber that receives a stream before its first keyframe
//! asks for one (PLI, at most every 200 ms).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_VP8, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::{SettingEngine, SettingEngineBuilder};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::header::{FORMAT_FIR, FORMAT_PLI, PacketType};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::error::Error as RtcError;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

/// RTP payload bytes per packet.
pub const PAYLOAD_BYTES: usize = 1100;
/// Packets per second per publisher (170 × 1,100 × 8 ≈ 1.5 Mbit/s).
pub const PACKETS_PER_SEC: u32 = 170;
const FRAMES_PER_SEC: u32 = 30;
/// Receive buffer asked for on every load-client socket (forced past `rmem_max`: the bench
/// runs as root). A full buffer here would be the load generator's loss, not the server's.
const RECV_BUFFER: usize = 4 << 20;
/// Connectivity checks 50 ms apart, as a browser paces them while no pair works (rtc's
/// default is 200 ms, which alone adds up to 200 ms to every connection setup)...
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// ...for 10 s, as patient as a browser (rtc's default gives up after 1.4 s, which a busy
/// server's late answer can outlast).
const ICE_BINDING_REQUESTS: u16 = 200;
/// A subscriber repeats its keyframe request at most this often.
const PLI_INTERVAL: Duration = Duration::from_millis(200);

/// Settings shared by every peer of a run.
#[derive(Clone, Copy)]
pub struct PeerOpts {
    pub local_ip: IpAddr,
    /// After a stream's first keyframe, one packet in this many goes through SRTP.
    pub decrypt_every: u64,
    /// Ask for a keyframe (PLI) while a stream has not shown one yet, as browsers do.
    pub subscriber_pli: bool,
}

/// What one subscriber has received of one stream (one SSRC).
#[derive(Clone)]
pub struct StreamStats {
    /// Highest extended sequence number seen.
    pub highest: i64,
    /// Packets counted (duplicates included; nothing here asks for retransmissions).
    pub received: u64,
    pub last_at: Instant,
    /// When the first packet of the first keyframe arrived.
    pub keyframe_at: Option<Instant>,
    /// Packets that went through SRTP and came out as RTP.
    pub decrypted: u64,
    last_pli: Option<Instant>,
}

/// A snapshot of a stream's counters, to diff two of them over a window.
#[derive(Clone, Copy, Default)]
pub struct Mark {
    pub highest: i64,
    pub received: u64,
}

pub struct Shared {
    pc: RefCell<RTCPeerConnection>,
    wake: Notify,
    pub local_addr: SocketAddr,
    pub connected_at: Cell<Option<Instant>>,
    pub failed: Cell<bool>,
    /// Subscriber: per SSRC.
    pub streams: RefCell<HashMap<u32, StreamStats>>,
    /// Publisher: packets handed to the connection, keyframe requests received, keyframes sent.
    pub sent: Cell<u64>,
    pub keyframe_requests: Cell<u64>,
    pub keyframes_sent: Cell<u64>,
    keyframe_pending: Cell<bool>,
    /// Errors from the connection (handling a datagram, writing RTP), and the last one.
    pub errors: Cell<u64>,
    pub last_error: RefCell<Option<String>>,
    /// Datagrams that were not delivered to the socket's peer (send errors).
    pub send_errors: Cell<u64>,
}

impl Shared {
    fn error(&self, what: &str, e: impl std::fmt::Display) {
        if std::env::var_os("BENCH_SFU_DEBUG").is_some() {
            eprintln!("peer {}: {what}: {e}", self.local_addr);
        }
        self.errors.set(self.errors.get() + 1);
        *self.last_error.borrow_mut() = Some(format!("{what}: {e}"));
    }

    pub fn is_connected(&self) -> bool {
        self.connected_at.get().is_some()
    }

    /// Current counters of every stream.
    pub fn marks(&self) -> HashMap<u32, Mark> {
        self.streams
            .borrow()
            .iter()
            .map(|(&ssrc, s)| {
                (
                    ssrc,
                    Mark {
                        highest: s.highest,
                        received: s.received,
                    },
                )
            })
            .collect()
    }
}

/// A running peer; dropping it stops its task and closes its socket.
pub struct Peer {
    pub shared: Rc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.shared.pc.borrow_mut().close();
    }
}

fn vp8() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![
                RTCPFeedback {
                    typ: "nack".to_owned(),
                    parameter: String::new(),
                },
                RTCPFeedback {
                    typ: "nack".to_owned(),
                    parameter: "pli".to_owned(),
                },
                RTCPFeedback {
                    typ: "ccm".to_owned(),
                    parameter: "fir".to_owned(),
                },
            ],
        },
        payload_type: 96,
    }
}

async fn bind(ip: IpAddr) -> anyhow::Result<(UdpSocket, SocketAddr)> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
        .await
        .with_context(|| format!("binding a UDP socket on {ip}"))?;
    // Best effort: without CAP_NET_ADMIN the kernel's rmem_max applies.
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(&socket, RECV_BUFFER).is_err() {
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&socket, RECV_BUFFER);
    }
    let addr = socket.local_addr()?;
    Ok((socket, addr))
}

fn settings() -> SettingEngine {
    SettingEngineBuilder::new()
        .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(ICE_BINDING_REQUESTS))
        .build()
}

fn host_candidate(addr: SocketAddr) -> anyhow::Result<RTCIceCandidateInit> {
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()?;
    Ok(RTCIceCandidate::from(&candidate).to_json()?)
}

fn new_shared(pc: RTCPeerConnection, local_addr: SocketAddr) -> Rc<Shared> {
    Rc::new(Shared {
        pc: RefCell::new(pc),
        wake: Notify::new(),
        local_addr,
        connected_at: Cell::new(None),
        failed: Cell::new(false),
        streams: RefCell::new(HashMap::new()),
        sent: Cell::new(0),
        keyframe_requests: Cell::new(0),
        keyframes_sent: Cell::new(0),
        keyframe_pending: Cell::new(false),
        errors: Cell::new(0),
        last_error: RefCell::new(None),
        send_errors: Cell::new(0),
    })
}

/// The `a=mid:` of the first m-line of an SDP.
pub fn first_mid(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=mid:"))
        .map(str::to_owned)
}

impl Peer {
    /// A publisher with one VP8 track; returns it with its offer.
    pub async fn publisher(opts: PeerOpts, ssrc: u32) -> anyhow::Result<(Peer, String)> {
        let (socket, local_addr) = bind(opts.local_ip).await?;
        let mut me = MediaEngine::default();
        me.register_codec(vp8(), RtpCodecKind::Video)?;
        let registry = Registry::new().with(Slot::from(14_000), MarkKeyframeRequests::default());
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings())
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .build(Instant::now())?;
        let track = MediaStreamTrack::new(
            format!("bench-{ssrc}"),
            format!("bench-video-{ssrc}"),
            "camera".to_owned(),
            RtpCodecKind::Video,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: vp8().rtp_codec,
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track)?;
        pc.add_local_candidate(host_candidate(local_addr)?)?;
        pc.add_local_candidate(RTCIceCandidateInit::default())?;
        let offer = pc.create_offer(None)?;
        pc.set_local_description(Instant::now(), offer)?;
        let sdp = pc
            .local_description()
            .context("no local description after set_local_description")?
            .sdp;
        let shared = new_shared(pc, local_addr);
        let task = tokio::task::spawn_local(run(
            shared.clone(),
            socket,
            opts,
            Some(Synth::new(ssrc, sender)),
        ));
        Ok((Peer { shared, task }, sdp))
    }

    /// A subscriber answering `offer`; returns it with its answer.
    pub async fn subscriber(opts: PeerOpts, offer: &str) -> anyhow::Result<(Peer, String)> {
        let (socket, local_addr) = bind(opts.local_ip).await?;
        let mut me = MediaEngine::default();
        me.register_codec(vp8(), RtpCodecKind::Video)?;
        let pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings())
            .with_media_engine(me)
            .with_interceptor_registry(Registry::new())
            .build(Instant::now())?;
        let shared = new_shared(pc, local_addr);
        let answer = {
            let mut pc = shared.pc.borrow_mut();
            pc.set_remote_description(
                Instant::now(),
                RTCSessionDescription::offer(offer.to_owned())?,
            )?;
            pc.add_local_candidate(host_candidate(local_addr)?)?;
            pc.add_local_candidate(RTCIceCandidateInit::default())?;
            let answer = pc.create_answer(None)?;
            pc.set_local_description(Instant::now(), answer)?;
            pc.local_description()
                .context("no local description after set_local_description")?
                .sdp
        };
        let task = tokio::task::spawn_local(run(shared.clone(), socket, opts, None));
        Ok((Peer { shared, task }, answer))
    }

    /// Apply the remote answer to this peer's offer.
    pub fn set_answer(&self, sdp: &str) -> anyhow::Result<()> {
        self.shared.pc.borrow_mut().set_remote_description(
            Instant::now(),
            RTCSessionDescription::answer(sdp.to_owned())?,
        )?;
        self.shared.wake.notify_one();
        Ok(())
    }

    /// A new offer from the server on a connection this peer answered before.
    pub fn renegotiate(&self, offer: &str) -> anyhow::Result<String> {
        let sdp = {
            let mut pc = self.shared.pc.borrow_mut();
            pc.set_remote_description(
                Instant::now(),
                RTCSessionDescription::offer(offer.to_owned())?,
            )?;
            let answer = pc.create_answer(None)?;
            pc.set_local_description(Instant::now(), answer)?;
            pc.local_description()
                .context("no local description after set_local_description")?
                .sdp
        };
        self.shared.wake.notify_one();
        Ok(sdp)
    }

    /// A remote candidate (trickled by the server).
    pub fn add_candidate(&self, candidate: &str, mid: Option<String>, index: Option<u16>) {
        let init = RTCIceCandidateInit {
            candidate: candidate.to_owned(),
            sdp_mid: mid,
            sdp_mline_index: index,
            ..Default::default()
        };
        if let Err(e) = self.shared.pc.borrow_mut().add_remote_candidate(init) {
            self.shared.error("remote candidate", e);
        }
        self.shared.wake.notify_one();
    }
}

/// The synthetic VP8 stream of a publisher.
struct Synth {
    ssrc: u32,
    sender: RTCRtpSenderId,
    pt: Option<u8>,
    seq: u16,
    frame: u64,
    /// Packets left in the current frame.
    left: u32,
    filler: Bytes,
}

impl Synth {
    fn new(ssrc: u32, sender: RTCRtpSenderId) -> Synth {
        Synth {
            ssrc,
            sender,
            pt: None,
            seq: (ssrc >> 16) as u16,
            frame: 0,
            left: 0,
            filler: Bytes::from(vec![0xa5u8; PAYLOAD_BYTES]),
        }
    }

    /// Packets in frame `n`: 170 packets per 30 frames, spread evenly.
    fn frame_len(n: u64) -> u32 {
        let per = u64::from(PACKETS_PER_SEC);
        let fps = u64::from(FRAMES_PER_SEC);
        ((n + 1) * per / fps - n * per / fps) as u32
    }

    /// The next packet; `keyframe` is asked for at a frame start.
    fn next(
        &mut self,
        keyframe_pending: &Cell<bool>,
        keyframes_sent: &Cell<u64>,
        pt: u8,
    ) -> rtp::Packet {
        let first = self.left == 0;
        if first {
            self.frame += 1;
            self.left = Self::frame_len(self.frame);
        }
        self.left -= 1;
        let last = self.left == 0;
        let payload = if first {
            let key = keyframe_pending.replace(false);
            let mut p = BytesMut::with_capacity(PAYLOAD_BYTES);
            // VP8 payload descriptor: S=1 (start of partition), no extensions.
            p.extend_from_slice(&[0x10]);
            if key {
                keyframes_sent.set(keyframes_sent.get() + 1);
                // Frame tag: keyframe, version 0, shown; then the keyframe start code and
                // 640x360.
                p.extend_from_slice(&[0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01]);
            } else {
                // Frame tag: interframe, version 0, shown.
                p.extend_from_slice(&[0x11, 0x00, 0x00]);
            }
            let rest = PAYLOAD_BYTES - p.len();
            p.extend_from_slice(&self.filler[..rest]);
            p.freeze()
        } else {
            let mut p = BytesMut::with_capacity(PAYLOAD_BYTES);
            p.extend_from_slice(&[0x00]);
            p.extend_from_slice(&self.filler[..PAYLOAD_BYTES - 1]);
            p.freeze()
        };
        self.seq = self.seq.wrapping_add(1);
        rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker: last,
                payload_type: pt,
                sequence_number: self.seq,
                timestamp: (self.frame * u64::from(90_000 / FRAMES_PER_SEC)) as u32,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        }
    }
}

/// Is this VP8 payload the first packet of a keyframe?
pub fn is_vp8_keyframe_start(payload: &[u8]) -> bool {
    let Some(&d) = payload.first() else {
        return false;
    };
    if d & 0x10 == 0 {
        return false; // not the start of a partition
    }
    let mut i = 1;
    if d & 0x80 != 0 {
        // Extension byte: I, L, T, K.
        let Some(&x) = payload.get(1) else {
            return false;
        };
        i = 2;
        if x & 0x80 != 0 {
            // Picture ID: one byte, or two when its M bit is set.
            let Some(&pid) = payload.get(i) else {
                return false;
            };
            i += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1;
        }
        if x & 0x30 != 0 {
            i += 1;
        }
    }
    let Some(tag) = payload.get(i..i + 6) else {
        return false;
    };
    tag[0] & 0x01 == 0 && tag[3..6] == [0x9d, 0x01, 0x2a]
}

/// What a datagram is, from its first bytes (RFC 7983 demultiplexing).
enum Kind {
    Rtp { ssrc: u32, seq: u16 },
    Other,
}

fn classify(d: &[u8]) -> Kind {
    if d.len() >= 12 && (128..=191).contains(&d[0]) {
        let pt = d[1] & 0x7f;
        if !(64..=95).contains(&pt) {
            return Kind::Rtp {
                ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
                seq: u16::from_be_bytes([d[2], d[3]]),
            };
        }
    }
    Kind::Other
}

/// Count an RTP packet by its header; true when it must go through SRTP too.
fn count(shared: &Shared, ssrc: u32, seq: u16, now: Instant, decrypt_every: u64) -> bool {
    let mut streams = shared.streams.borrow_mut();
    let s = streams.entry(ssrc).or_insert_with(|| StreamStats {
        highest: i64::from(seq),
        received: 0,
        last_at: now,
        keyframe_at: None,
        decrypted: 0,
        last_pli: None,
    });
    // Extend the 16-bit number to the one nearest the highest seen.
    let last16 = (s.highest & 0xffff) as u16;
    let delta = i64::from(seq.wrapping_sub(last16) as i16);
    let ext = s.highest + delta;
    if ext > s.highest {
        s.highest = ext;
    }
    s.received += 1;
    s.last_at = now;
    s.keyframe_at.is_none() || s.received.is_multiple_of(decrypt_every.max(1))
}

/// The peer's event loop.
async fn run(shared: Rc<Shared>, socket: UdpSocket, opts: PeerOpts, mut synth: Option<Synth>) {
    let mut out: Vec<(Bytes, SocketAddr)> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let frame_gap = Duration::from_secs(1) / PACKETS_PER_SEC;
    let mut next_packet = Instant::now();
    let mut plis: VecDeque<u32> = VecDeque::new();
    let local_addr = shared.local_addr;
    loop {
        let now = Instant::now();
        // Everything the connection has to say, then the packets it wants sent.
        let deadline = {
            let mut pc = shared.pc.borrow_mut();
            while let Some(ev) = pc.poll_event() {
                if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = ev {
                    match state {
                        RTCPeerConnectionState::Connected
                            if shared.connected_at.get().is_none() =>
                        {
                            shared.connected_at.set(Some(Instant::now()));
                        }
                        RTCPeerConnectionState::Failed => shared.failed.set(true),
                        _ => {}
                    }
                }
            }
            while let Some(TaggedRTCMessage { message, now: at }) = pc.poll_read() {
                match message {
                    RTCMessage::RtpPacket(_, p) => {
                        let mut streams = shared.streams.borrow_mut();
                        if let Some(s) = streams.get_mut(&p.header.ssrc) {
                            s.decrypted += 1;
                            if s.keyframe_at.is_none() {
                                if is_vp8_keyframe_start(&p.payload) {
                                    s.keyframe_at = Some(at);
                                } else if opts.subscriber_pli
                                    && s.last_pli
                                        .is_none_or(|t| at.duration_since(t) >= PLI_INTERVAL)
                                {
                                    s.last_pli = Some(at);
                                    plis.push_back(p.header.ssrc);
                                }
                            }
                        }
                    }
                    RTCMessage::RtcpPacket(_, packets)
                        if packets.iter().any(|p| is_keyframe_request(p.header())) =>
                    {
                        shared
                            .keyframe_requests
                            .set(shared.keyframe_requests.get() + 1);
                        shared.keyframe_pending.set(true);
                    }
                    _ => {}
                }
            }
            while let Some(ssrc) = plis.pop_front() {
                send_pli(&mut pc, &shared, ssrc, now);
            }
            // The publisher's packets that are due.
            if let Some(synth) = synth.as_mut() {
                if shared.is_connected() {
                    while next_packet <= now {
                        next_packet += frame_gap;
                        let pt = match synth.pt {
                            Some(pt) => pt,
                            None => match negotiated_pt(&mut pc, synth.sender) {
                                Some(pt) => {
                                    synth.pt = Some(pt);
                                    pt
                                }
                                None => break,
                            },
                        };
                        let packet =
                            synth.next(&shared.keyframe_pending, &shared.keyframes_sent, pt);
                        match pc.rtp_sender(synth.sender) {
                            Some(mut sender) => match sender.write_rtp(now, packet) {
                                Ok(()) => shared.sent.set(shared.sent.get() + 1),
                                Err(e) => shared.error("write_rtp", e),
                            },
                            None => shared.error("write_rtp", "no sender"),
                        }
                    }
                    // Fell far behind (the load generator stalled for half a second): give
                    // up on what is late rather than send a second's worth at once.
                    if now.saturating_duration_since(next_packet) > Duration::from_millis(500) {
                        next_packet = now;
                    }
                } else {
                    next_packet = now;
                }
            }
            while let Some(m) = pc.poll_write() {
                out.push((m.message.freeze(), m.transport.peer_addr));
            }
            let mut deadline = pc.poll_timeout().unwrap_or(now + Duration::from_secs(3600));
            if synth.is_some() && shared.is_connected() {
                deadline = deadline.min(next_packet);
            }
            deadline
        };
        for (bytes, to) in out.drain(..) {
            if socket.send_to(&bytes, to).await.is_err() {
                shared.send_errors.set(shared.send_errors.get() + 1);
            }
        }
        if deadline <= Instant::now() {
            if let Err(e) = shared.pc.borrow_mut().handle_timeout(Instant::now()) {
                shared.error("timeout", e);
            }
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {
                if let Err(e) = shared.pc.borrow_mut().handle_timeout(Instant::now()) {
                    shared.error("timeout", e);
                }
            }
            _ = shared.wake.notified() => {}
            r = socket.readable() => {
                if r.is_err() {
                    return;
                }
                // Take everything that is queued.
                loop {
                    let (n, from) = match socket.try_recv_from(&mut buf) {
                        Ok(x) => x,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    };
                    let now = Instant::now();
                    let d = &buf[..n];
                    let to_rtc = match classify(d) {
                        Kind::Rtp { ssrc, seq } if synth.is_none() => {
                            count(&shared, ssrc, seq, now, opts.decrypt_every)
                        }
                        _ => true,
                    };
                    if !to_rtc {
                        continue;
                    }
                    let r = shared.pc.borrow_mut().handle_read(TaggedBytesMut {
                        now,
                        transport: TransportContext {
                            local_addr,
                            peer_addr: from,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: BytesMut::from(d),
                    });
                    if let Err(e) = r {
                        shared.error("datagram", e);
                    }
                }
            }
        }
    }
}

fn negotiated_pt(pc: &mut RTCPeerConnection, sender: RTCRtpSenderId) -> Option<u8> {
    let mut sender = pc.rtp_sender(sender)?;
    sender
        .get_parameters()
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(MIME_TYPE_VP8))
        .map(|c| c.payload_type)
}

fn send_pli(pc: &mut RTCPeerConnection, shared: &Shared, ssrc: u32, now: Instant) {
    let receivers: Vec<_> = pc.get_receivers().collect();
    for id in receivers {
        let Some(mut receiver) = pc.rtp_receiver(id) else {
            continue;
        };
        if !receiver.track().ssrcs().any(|s| s == ssrc) {
            continue;
        }
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: ssrc,
        };
        if let Err(e) = receiver.write_rtcp(now, vec![Box::new(pli)]) {
            shared.error("pli", e);
        }
        return;
    }
}

fn is_keyframe_request(h: rtc::rtcp::header::Header) -> bool {
    h.packet_type == PacketType::PayloadSpecificFeedback
        && (h.count == FORMAT_PLI || h.count == FORMAT_FIR)
}

/// Marks inbound keyframe requests (PLI, FIR) for the application: without a mark, inbound
/// RTCP ends inside the interceptor chain.
#[derive(Default)]
struct MarkKeyframeRequests {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for MarkKeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = RtcError;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && packets.iter().any(|p| is_keyframe_request(p.header()))
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }

    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Self::Error> {
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Self::Time> {
        None
    }
}

impl Interceptor for MarkKeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// Fails unless every peer in `peers` connects within `limit`.
pub async fn wait_connected(peers: &[&Peer], limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if peers.iter().all(|p| p.shared.is_connected()) {
            return Ok(());
        }
        if let Some(p) = peers.iter().find(|p| p.shared.failed.get()) {
            bail!(
                "a peer connection failed (local {}; last error: {})",
                p.shared.local_addr,
                p.shared.last_error.borrow().as_deref().unwrap_or("none")
            );
        }
        if Instant::now() > deadline {
            let n = peers.iter().filter(|p| !p.shared.is_connected()).count();
            bail!(
                "{n} of {} peer connections not connected after {limit:?}",
                peers.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
