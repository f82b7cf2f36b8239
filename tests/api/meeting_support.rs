//! A WebRTC client for meeting tests: webrtc-rs' sans-I/O peer connection on its own
//! loopback UDP socket, stepped by the test between websocket exchanges.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability,
    RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use serde_json::{Value, json};
use tokio::net::UdpSocket;

use crate::chat_support::frame_where;
use crate::harness::{Ws, ws_send};

const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// Hands every inbound RTCP packet to the test (keyframe requests included).
#[derive(Default)]
struct DeliverRtcp {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for DeliverRtcp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;
    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Error> {
        if matches!(msg.message.packet, Packet::Rtcp(_)) {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.reads.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.writes.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
    fn handle_timeout(&mut self, _now: Instant) -> Result<(), Error> {
        Ok(())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

impl Interceptor for DeliverRtcp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// What a client saw.
#[derive(Default, Debug)]
pub struct Seen {
    /// RTP packets received: (ssrc, payload type, payload).
    pub rtp: Vec<(u32, u8, Bytes)>,
    /// Keyframe requests (PLI) received, by media SSRC.
    pub plis: Vec<u32>,
    pub connected: bool,
    pub tracks_opened: usize,
}

pub struct Client {
    pub pc: RTCPeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    pub seen: Seen,
    senders: Vec<(RTCRtpSenderId, u32)>,
    seq: u16,
}

impl Client {
    pub async fn new() -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let local = socket.local_addr().expect("addr");
        let mut media = MediaEngine::default();
        media.register_default_codecs().expect("codecs");
        // Like browsers: audio packets say how loud they are.
        media
            .register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: AUDIO_LEVEL.into(),
                },
                RtpCodecKind::Audio,
                None,
            )
            .expect("audio level");
        let registry = register_default_interceptors(Registry::new(), &mut media)
            .expect("interceptors")
            .with(Slot::from(14_000), DeliverRtcp::default());
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build(Instant::now())
            .expect("peer connection");
        let host = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: local.ip().to_string(),
                port: local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .expect("candidate");
        pc.add_local_candidate(RTCIceCandidate::from(&host).to_json().expect("json"))
            .expect("add candidate");
        pc.add_local_candidate(RTCIceCandidateInit::default())
            .expect("end of candidates");
        Client {
            pc,
            socket,
            local,
            seen: Seen::default(),
            senders: Vec::new(),
            seq: 0,
        }
    }

    /// Add a send-only track (VP8 video or Opus audio) with this SSRC.
    pub fn add_track(&mut self, kind: RtpCodecKind, ssrc: u32) {
        let codec = match kind {
            RtpCodecKind::Audio => RTCRtpCodec {
                mime_type: "audio/opus".into(),
                clock_rate: 48000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
                ..Default::default()
            },
            _ => RTCRtpCodec {
                mime_type: "video/VP8".into(),
                clock_rate: 90000,
                ..Default::default()
            },
        };
        let track = MediaStreamTrack::new(
            "stream".into(),
            format!("track-{ssrc}"),
            "label".into(),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        );
        let t = self
            .pc
            .add_transceiver_from_track(
                track,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: vec!["stream".into()],
                    send_encodings: vec![],
                }),
            )
            .expect("add track");
        let sender = self
            .pc
            .rtp_transceiver(t)
            .and_then(|t| t.sender())
            .expect("sender");
        self.senders.push((sender, ssrc));
    }

    /// Create and apply an offer; returns its SDP.
    pub fn offer(&mut self) -> String {
        let offer = self.pc.create_offer(None).expect("offer");
        self.pc
            .set_local_description(Instant::now(), offer)
            .expect("set local offer");
        self.pc.local_description().expect("local").sdp
    }

    pub fn apply_answer(&mut self, sdp: &str) {
        let answer = RTCSessionDescription::answer(sdp.to_owned()).expect("answer sdp");
        self.pc
            .set_remote_description(Instant::now(), answer)
            .expect("set remote answer");
    }

    /// Apply an offer and return our answer.
    pub fn answer(&mut self, sdp: &str) -> String {
        let offer = RTCSessionDescription::offer(sdp.to_owned()).expect("offer sdp");
        self.pc
            .set_remote_description(Instant::now(), offer)
            .expect("set remote offer");
        let answer = self.pc.create_answer(None).expect("answer");
        self.pc
            .set_local_description(Instant::now(), answer)
            .expect("set local answer");
        self.pc.local_description().expect("local").sdp
    }

    /// Send one RTP packet on every track: payload = [marker byte, seq hi, seq lo, ...].
    pub fn send_rtp(&mut self, marker: u8) {
        self.seq = self.seq.wrapping_add(1);
        let now = Instant::now();
        for (sender_id, ssrc) in self.senders.clone() {
            let Some(mut sender) = self.pc.rtp_sender(sender_id) else {
                continue;
            };
            let params = sender.get_parameters();
            let Some(pt) = params.rtp_parameters.codecs.first().map(|c| c.payload_type) else {
                continue;
            };
            let level_id = params
                .rtp_parameters
                .header_extensions
                .iter()
                .find(|e| e.uri == AUDIO_LEVEL)
                .map(|e| e.id as u8);
            let twcc_id = params
                .rtp_parameters
                .header_extensions
                .iter()
                .find(|e| e.uri.contains("transport-wide-cc"))
                .map(|e| e.id as u8);
            let mut payload = vec![marker, (self.seq >> 8) as u8, self.seq as u8];
            payload.resize(200, 0xAB);
            let mut packet = rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    payload_type: pt,
                    sequence_number: self.seq,
                    timestamp: u32::from(self.seq) * 3000,
                    ssrc,
                    marker: true,
                    ..Default::default()
                },
                payload: Bytes::from(payload),
            };
            packet.header.extension_profile = 0xBEDE;
            // Like Chrome: a transport-wide sequence number on every packet (the SFU
            // drops it, it belongs to this leg) and, on audio, the level.
            if let Some(id) = twcc_id {
                packet.header.extension = true;
                let _ = packet
                    .header
                    .set_extension(id, Bytes::from(self.seq.to_be_bytes().to_vec()));
            }
            if let Some(id) = level_id {
                // Voice activity, level 20 (-20 dBov): a person speaking.
                packet.header.extension = true;
                let _ = packet
                    .header
                    .set_extension(id, Bytes::from_static(&[0x80 | 20]));
            }
            let _ = sender.write_rtp(now, packet);
        }
    }

    /// Run the connection for `dur`: sockets, timers, events.
    pub async fn step(&mut self, dur: Duration) {
        let end = Instant::now() + dur;
        let mut buf = vec![0u8; 2048];
        loop {
            while let Some(out) = self.pc.poll_write() {
                let _ = self
                    .socket
                    .send_to(&out.message, out.transport.peer_addr)
                    .await;
            }
            while let Some(e) = self.pc.poll_event() {
                match e {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                        self.seen.connected = s == RTCPeerConnectionState::Connected;
                    }
                    RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(_)) => {
                        self.seen.tracks_opened += 1;
                    }
                    _ => {}
                }
            }
            while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
                match message {
                    RTCMessage::RtpPacket(_, p) => {
                        self.seen.rtp.push((
                            p.header.ssrc,
                            p.header.payload_type,
                            p.payload.clone(),
                        ));
                    }
                    RTCMessage::RtcpPacket(_, packets) => {
                        for p in packets {
                            if let Some(pli) = p.as_any().downcast_ref::<PictureLossIndication>() {
                                self.seen.plis.push(pli.media_ssrc);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            if now >= end {
                return;
            }
            let deadline = self.pc.poll_timeout().unwrap_or(end).min(end);
            let wait = deadline.saturating_duration_since(now);
            match tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) => {
                    let _ = self.pc.handle_read(TaggedBytesMut {
                        now: Instant::now(),
                        transport: TransportContext {
                            local_addr: self.local,
                            peer_addr: from,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: BytesMut::from(&buf[..n]),
                    });
                }
                _ => {
                    let _ = self.pc.handle_timeout(Instant::now());
                }
            }
        }
    }

    /// Step until `done` holds or `limit` passes; true if it held.
    pub async fn step_until(&mut self, limit: Duration, done: impl Fn(&Seen) -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if done(&self.seen) {
                return true;
            }
            self.step(Duration::from_millis(20)).await;
        }
        done(&self.seen)
    }
}

/// Send a meeting request and wait for its answer (`ok` or `error`).
pub async fn request(ws: &mut Ws, id: &str, mut body: Value) -> Value {
    body["id"] = json!(id);
    ws_send(ws, body).await;
    frame_where(ws, "answer", |f| {
        f["id"] == id && (f["type"] == "ok" || f["type"] == "error")
    })
    .await
}

/// The payload type an SDP maps to `codec` (e.g. "VP8/90000").
pub fn payload_type(sdp: &str, codec: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let rest = l.strip_prefix("a=rtpmap:")?;
        let (pt, name) = rest.split_once(' ')?;
        name.eq_ignore_ascii_case(codec)
            .then(|| pt.parse().ok())
            .flatten()
    })
}
