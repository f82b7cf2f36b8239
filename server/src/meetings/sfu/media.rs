//! The media plane: datagrams in, connection events, RTP forwarding with per-leg SSRC,
//! payload type and header-extension ids, and keyframe requests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

use super::peer::{AUDIO_LEVEL_URI, PER_LEG_EXTENSIONS};
use super::rooms::Source;
use super::{PeerKey, Router, TrackKey, demux};

/// Keyframe requests to one publisher track at most this often.
const KEYFRAME_EVERY: Duration = Duration::from_millis(300);
/// Used when no connection has a deadline.
const IDLE: Duration = Duration::from_secs(3600);

/// Which way media flows on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The participant sends (client offers).
    Publish,
    /// The participant receives (server offers).
    Subscribe,
}

/// One server-side peer connection.
pub struct Peer {
    pub pc: RTCPeerConnection,
    pub owner: String,
    pub direction: Direction,
    pub ufrag: String,
    pub addrs: Vec<SocketAddr>,
    pub connected: bool,
    pub deadline: Option<Instant>,
    /// Publish side: the remote track id → our track.
    pub incoming: HashMap<String, TrackKey>,
    /// Subscribe side: our local track id → the published track it carries.
    pub outgoing: HashMap<String, TrackKey>,
    /// Subscribe side: an offer is out and not yet answered.
    pub offer_pending: bool,
    /// Subscribe side: tracks changed since the last offer.
    pub needs_offer: bool,
    /// Subscribe side: the next offer restarts ICE.
    pub restart: bool,
    /// A connectivity check that arrived before the answer (the client's first check
    /// often beats its answer over the websocket); replayed once the answer is in.
    pub early_check: Option<(SocketAddr, Vec<u8>)>,
}

/// A track a participant publishes.
pub struct Track {
    pub owner: String,
    pub source: Source,
    /// The publish-leg m-line it arrives on.
    pub mid: String,
    pub peer: PeerKey,
    pub receiver: RTCRtpReceiverId,
    pub remote_track_id: String,
    pub media_ssrc: u32,
    pub kind: RtpCodecKind,
    pub codec: RTCRtpCodec,
    /// Header extensions negotiated on the publish leg: id → URI.
    pub extensions: Vec<(u8, String)>,
    pub audio_level_id: Option<u8>,
    pub last_keyframe_request: Option<Instant>,
    /// Not forwarded (muted by the participant or a host).
    pub paused: bool,
    pub subs: Vec<Sub>,
    /// Active-speaker accumulation since the last tick: sum of loudness and packets.
    pub loudness: u64,
    pub level_packets: u64,
    /// Highest RTP sequence number seen from the publisher, for the loss count.
    pub last_seq: Option<u16>,
}

/// Packets missing between the highest sequence number seen so far and `seq` (RTP
/// numbers wrap at 2^16), and the new highest. A late packet counts nothing and does not
/// move the highest, so a reordered one was counted as lost: an upper bound, like
/// RTCP's cumulative loss before it nets out duplicates.
fn sequence_gap(last: Option<u16>, seq: u16) -> (u64, u16) {
    match last {
        None => (0, seq),
        Some(prev) => {
            let ahead = seq.wrapping_sub(prev);
            if ahead == 0 || ahead >= 0x8000 {
                (0, prev)
            } else {
                (u64::from(ahead - 1), seq)
            }
        }
    }
}

/// One subscriber leg of a published track.
pub struct Sub {
    pub peer: PeerKey,
    pub sender: RTCRtpSenderId,
    pub local_track_id: String,
    pub ssrc: u32,
    /// Payload type negotiated on this leg; `None` until the answer is in.
    pub payload_type: Option<u8>,
    /// Publish-leg extension id → this leg's id; others are dropped.
    pub extension_ids: Vec<(u8, u8)>,
    /// Forwarding started (negotiated and connected).
    pub active: bool,
    /// Sequence numbers are shifted by this so pauses leave no gap.
    pub seq_offset: u16,
    pub last_seq: Option<u16>,
    pub resync: bool,
}

impl Sub {
    /// Rewrite a publisher's packet for this leg. `None`: not negotiated yet.
    fn rewrite(&mut self, mut packet: rtp::Packet) -> Option<rtp::Packet> {
        let payload_type = self.payload_type?;
        if self.resync {
            if let Some(last) = self.last_seq {
                self.seq_offset = packet
                    .header
                    .sequence_number
                    .wrapping_sub(last.wrapping_add(1));
            }
            self.resync = false;
        }
        let seq = packet.header.sequence_number.wrapping_sub(self.seq_offset);
        self.last_seq = Some(seq);
        packet.header.sequence_number = seq;
        packet.header.ssrc = self.ssrc;
        packet.header.payload_type = payload_type;
        // Rebuild the extension block through the setter, which keeps the padding the
        // encoder relies on consistent (editing the list in place breaks marshalling).
        let kept: Vec<(u8, bytes::Bytes)> = packet
            .header
            .extensions
            .iter()
            .filter_map(|e| {
                self.extension_ids
                    .iter()
                    .find(|(from, _)| *from == e.id)
                    .map(|(_, to)| (*to, e.payload.clone()))
            })
            .collect();
        packet.header.extensions.clear();
        packet.header.extensions_padding = 0;
        packet.header.extension = false;
        for (id, payload) in kept {
            if !packet.header.extension {
                packet.header.extension = true;
                packet.header.extension_profile = rtp::header::EXTENSION_PROFILE_ONE_BYTE;
            }
            if packet.header.set_extension(id, payload).is_err() {
                // Only ids above 14 fail here; drop that extension rather than the packet.
                continue;
            }
        }
        if packet.header.extensions.is_empty() {
            packet.header.extension = false;
        }
        Some(packet)
    }
}

/// The payload type for `codec` among `negotiated` (same MIME type, same fmtp if possible).
pub fn payload_type_for(
    codec: &RTCRtpCodec,
    negotiated: &[rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters],
) -> Option<u8> {
    let same_mime = |c: &&rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters| {
        c.rtp_codec.mime_type.eq_ignore_ascii_case(&codec.mime_type)
    };
    negotiated
        .iter()
        .filter(same_mime)
        .find(|c| c.rtp_codec.sdp_fmtp_line == codec.sdp_fmtp_line)
        .or_else(|| negotiated.iter().find(same_mime))
        .map(|c| c.payload_type)
}

/// Publish-leg extension ids mapped to a subscriber leg's, by URI; per-leg ones dropped.
pub fn extension_map(from: &[(u8, String)], to: &[(u8, String)]) -> Vec<(u8, u8)> {
    from.iter()
        .filter(|(_, uri)| !PER_LEG_EXTENSIONS.contains(&uri.as_str()))
        .filter_map(|(id, uri)| {
            to.iter()
                .find(|(_, u)| u == uri)
                .map(|(out, _)| (*id, *out))
        })
        .collect()
}

impl Router {
    fn context(&self, peer_addr: SocketAddr) -> TransportContext {
        TransportContext {
            local_addr: self.advertised,
            peer_addr,
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        }
    }

    /// One datagram from the media port.
    pub(super) fn datagram(&mut self, data: &[u8], from: SocketAddr, now: Instant) {
        let known = self.by_addr.get(&from).copied();
        let key = if demux::is_stun(data) {
            // A request names its connection (and may move it to a new address, as after
            // a network change); a response only has the address it came from.
            match demux::local_ufrag(data).and_then(|u| self.by_ufrag.get(&u).copied()) {
                Some(key) => {
                    if known != Some(key) {
                        self.by_addr.insert(from, key);
                        if let Some(peer) = self.peers.get_mut(&key) {
                            peer.addrs.push(from);
                        }
                    }
                    key
                }
                None => match known {
                    Some(key) => key,
                    None => return,
                },
            }
        } else {
            match known {
                Some(key) => key,
                None => return,
            }
        };
        let context = self.context(from);
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let result = peer.pc.handle_read(TaggedBytesMut {
            now,
            transport: context,
            message: BytesMut::from(data),
        });
        if let Err(e) = result {
            if peer.offer_pending && demux::is_stun(data) {
                peer.early_check = Some((from, data.to_vec()));
            }
            tracing::trace!(error = %e, "media datagram refused");
        }
        self.process(key, now);
    }

    /// Send what a connection has queued.
    pub(super) fn flush(&mut self, key: PeerKey) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        while let Some(out) = peer.pc.poll_write() {
            // Never wait: a full socket buffer loses the datagram, as a congested link would.
            if self
                .socket
                .try_send_to(&out.message, out.transport.peer_addr)
                .is_err()
            {
                metrics::counter!("convene_media_send_dropped_total").increment(1);
            }
        }
        peer.deadline = peer.pc.poll_timeout();
    }

    /// Drain a connection after input: outgoing datagrams, events, media.
    pub(super) fn process(&mut self, key: PeerKey, now: Instant) {
        self.flush(key);
        let mut events = Vec::new();
        let mut messages = Vec::new();
        if let Some(peer) = self.peers.get_mut(&key) {
            while let Some(e) = peer.pc.poll_event() {
                events.push(e);
            }
            while let Some(TaggedRTCMessage { message, .. }) = peer.pc.poll_read() {
                messages.push(message);
            }
        }
        for event in events {
            self.peer_event(key, event, now);
        }
        for message in messages {
            match message {
                RTCMessage::RtpPacket(track_id, packet) => {
                    self.forward(key, &track_id, packet, now)
                }
                RTCMessage::RtcpPacket(track_id, _) => {
                    // Only keyframe requests are delivered (see `peer::KeyframeRequests`).
                    let published = self
                        .peers
                        .get(&key)
                        .and_then(|p| p.outgoing.get(&track_id).copied());
                    if let Some(track) = published {
                        self.request_keyframe(track, now);
                    }
                }
                _ => {}
            }
        }
        self.flush(key);
    }

    fn peer_event(&mut self, key: PeerKey, event: RTCPeerConnectionEvent, now: Instant) {
        match event {
            RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
                let Some(peer) = self.peers.get_mut(&key) else {
                    return;
                };
                tracing::debug!(owner = %peer.owner, direction = ?peer.direction, %state, "media connection state");
                match state {
                    RTCPeerConnectionState::Connected => {
                        peer.connected = true;
                        if peer.direction == Direction::Subscribe {
                            self.activate_subs(key, now);
                        }
                    }
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        peer.connected = false;
                        if peer.direction == Direction::Publish {
                            let tracks: Vec<TrackKey> = peer.incoming.values().copied().collect();
                            for t in tracks {
                                self.unpublish(t);
                            }
                        }
                    }
                    _ => {}
                }
            }
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                self.track_opened(key, init, now);
            }
            RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnClose(track_id)) => {
                let track = self
                    .peers
                    .get(&key)
                    .and_then(|p| p.incoming.get(&track_id).copied());
                // A source still listed on its m-line stays; `publish` ends the others.
                let listed = track.and_then(|t| self.tracks.get(&t)).is_some_and(|t| {
                    self.participants
                        .get(&t.owner)
                        .and_then(|p| p.sources.get(&t.mid))
                        == Some(&t.source)
                });
                if let Some(t) = track
                    && !listed
                {
                    self.unpublish(t);
                }
            }
            _ => {}
        }
    }

    /// A publisher's track started: label it from the mid and subscribe everyone else.
    fn track_opened(
        &mut self,
        key: PeerKey,
        init: rtc::peer_connection::event::RTCTrackEventInit,
        now: Instant,
    ) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let owner = peer.owner.clone();
        let transceivers: Vec<_> = peer.pc.get_transceivers().collect();
        let mid = transceivers.into_iter().find_map(|t| {
            let transceiver = peer.pc.rtp_transceiver(t)?;
            (transceiver.receiver() == Some(init.receiver_id))
                .then(|| transceiver.mid().clone())
                .flatten()
        });
        let Some(mut receiver) = peer.pc.rtp_receiver(init.receiver_id) else {
            return;
        };
        let kind = receiver.track().kind();
        let Some(codec) = receiver.track().codec(init.ssrc).cloned() else {
            return;
        };
        let extensions: Vec<(u8, String)> = receiver
            .get_parameters()
            .rtp_parameters
            .header_extensions
            .iter()
            .map(|e| (e.id as u8, e.uri.clone()))
            .collect();
        let Some((mid, source)) = mid.and_then(|m| {
            self.participants
                .get(&owner)
                .and_then(|p| p.sources.get(&m).copied())
                .map(|s| (m, s))
        }) else {
            tracing::debug!(%owner, "media on an m-line not named in meeting.publish: ignored");
            return;
        };
        if source.kind() != kind {
            return;
        }
        let audio_level_id = extensions
            .iter()
            .find(|(_, u)| u == AUDIO_LEVEL_URI)
            .map(|(id, _)| *id);
        // The same source again (renegotiation, a new SSRC after a restart): keep the
        // subscriber legs, so nobody renegotiates; a different codec starts afresh.
        if let Some(old) = self
            .participants
            .get(&owner)
            .and_then(|p| p.published.get(&source).copied())
        {
            let same_codec = self.tracks.get(&old).is_some_and(|t| {
                t.codec.mime_type.eq_ignore_ascii_case(&codec.mime_type)
                    && t.codec.sdp_fmtp_line == codec.sdp_fmtp_line
            });
            if same_codec {
                let mut previous_id = None;
                if let Some(t) = self.tracks.get_mut(&old) {
                    previous_id = Some((t.peer, std::mem::take(&mut t.remote_track_id)));
                    t.peer = key;
                    t.mid = mid;
                    t.receiver = init.receiver_id;
                    t.remote_track_id = init.track_id.clone();
                    t.media_ssrc = init.ssrc;
                    for sub in &mut t.subs {
                        sub.extension_ids = Vec::new();
                        sub.active = false;
                        sub.resync = true;
                    }
                    t.extensions = extensions;
                    t.audio_level_id = audio_level_id;
                }
                if let Some((peer, id)) = previous_id
                    && let Some(p) = self.peers.get_mut(&peer)
                {
                    p.incoming.remove(&id);
                }
                if let Some(peer) = self.peers.get_mut(&key) {
                    peer.incoming.insert(init.track_id, old);
                }
                // Re-derive each leg's extension map and restart forwarding.
                let legs: Vec<PeerKey> = self
                    .tracks
                    .get(&old)
                    .map(|t| t.subs.iter().map(|s| s.peer).collect())
                    .unwrap_or_default();
                for leg in legs {
                    self.activate_subs(leg, now);
                }
                self.request_keyframe(old, now);
                return;
            }
            self.unpublish(old);
        }
        let track_key = self.key();
        let paused = self
            .participants
            .get(&owner)
            .is_some_and(|p| !p.source_on(source));
        self.tracks.insert(
            track_key,
            Track {
                owner: owner.clone(),
                source,
                mid,
                peer: key,
                receiver: init.receiver_id,
                remote_track_id: init.track_id.clone(),
                media_ssrc: init.ssrc,
                kind,
                codec,
                extensions,
                audio_level_id,
                last_keyframe_request: None,
                paused,
                subs: Vec::new(),
                loudness: 0,
                level_packets: 0,
                last_seq: None,
            },
        );
        if let Some(peer) = self.peers.get_mut(&key) {
            peer.incoming.insert(init.track_id, track_key);
        }
        if let Some(p) = self.participants.get_mut(&owner) {
            p.published.insert(source, track_key);
        }
        tracing::debug!(%owner, ?source, ssrc = init.ssrc, "track published");
        metrics::gauge!("convene_meeting_tracks").increment(1.0);
        let others = self
            .room_of(&owner)
            .map(|r| r.others(&owner))
            .unwrap_or_default();
        for other in others {
            self.subscribe(&other, track_key);
        }
        self.request_keyframe(track_key, now);
        self.participant_changed(&owner);
    }

    /// RTP from a publisher: rewrite and hand it to every active subscriber leg.
    fn forward(&mut self, key: PeerKey, track_id: &str, packet: rtp::Packet, _now: Instant) {
        let Some(track_key) = self
            .peers
            .get(&key)
            .and_then(|p| p.incoming.get(track_id).copied())
        else {
            return;
        };
        let Some(track) = self.tracks.get_mut(&track_key) else {
            return;
        };
        metrics::counter!("convene_media_packets_received_total").increment(1);
        let (lost, highest) = sequence_gap(track.last_seq, packet.header.sequence_number);
        track.last_seq = Some(highest);
        if lost > 0 {
            metrics::counter!("convene_media_packets_lost_total").increment(lost);
        }
        if let Some(id) = track.audio_level_id
            && let Some(level) = packet.header.get_extension(id)
            && let Some(byte) = level.first()
        {
            // 0 is the loudest (0 dBov), 127 silence.
            track.loudness += u64::from(127 - (byte & 0x7f));
            track.level_packets += 1;
        }
        if track.paused {
            return;
        }
        let mut sent = 0u64;
        for sub in track.subs.iter_mut().filter(|s| s.active) {
            let Some(out) = sub.rewrite(packet.clone()) else {
                continue;
            };
            let Some(peer) = self.peers.get_mut(&sub.peer) else {
                continue;
            };
            let written = peer.pc.handle_write(TaggedRTCMessage {
                now: Instant::now(),
                message: RTCMessage::RtpPacket(sub.local_track_id.clone(), out),
            });
            if written.is_ok() {
                sent += 1;
            }
            while let Some(out) = peer.pc.poll_write() {
                if self
                    .socket
                    .try_send_to(&out.message, out.transport.peer_addr)
                    .is_err()
                {
                    metrics::counter!("convene_media_send_dropped_total").increment(1);
                }
            }
        }
        metrics::counter!("convene_media_packets_forwarded_total").increment(sent);
    }

    /// Ask the publisher of `track` for a keyframe (throttled).
    pub(super) fn request_keyframe(&mut self, track_key: TrackKey, now: Instant) {
        let Some(track) = self.tracks.get_mut(&track_key) else {
            return;
        };
        if track.kind != RtpCodecKind::Video
            || track
                .last_keyframe_request
                .is_some_and(|t| now.duration_since(t) < KEYFRAME_EVERY)
        {
            return;
        }
        track.last_keyframe_request = Some(now);
        let (peer_key, receiver, ssrc) = (track.peer, track.receiver, track.media_ssrc);
        if let Some(peer) = self.peers.get_mut(&peer_key)
            && let Some(mut r) = peer.pc.rtp_receiver(receiver)
        {
            let _ = r.write_rtcp(
                now,
                vec![Box::new(PictureLossIndication {
                    sender_ssrc: 0,
                    media_ssrc: ssrc,
                })],
            );
        }
        self.flush(peer_key);
    }

    /// A subscribe connection is connected or answered: start what is negotiated.
    pub(super) fn activate_subs(&mut self, key: PeerKey, now: Instant) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if !peer.connected || peer.offer_pending {
            return;
        }
        let carried: Vec<TrackKey> = peer.outgoing.values().copied().collect();
        let mut started = Vec::new();
        for track_key in carried {
            let Some(track) = self.tracks.get_mut(&track_key) else {
                continue;
            };
            let Some(sub) = track.subs.iter_mut().find(|s| s.peer == key) else {
                continue;
            };
            if sub.active {
                continue;
            }
            let Some(mut sender) = peer.pc.rtp_sender(sub.sender) else {
                continue;
            };
            let params = sender.get_parameters();
            let Some(pt) = payload_type_for(&track.codec, &params.rtp_parameters.codecs) else {
                continue;
            };
            let leg: Vec<(u8, String)> = params
                .rtp_parameters
                .header_extensions
                .iter()
                .map(|e| (e.id as u8, e.uri.clone()))
                .collect();
            sub.payload_type = Some(pt);
            sub.extension_ids = extension_map(&track.extensions, &leg);
            sub.active = true;
            started.push(track_key);
        }
        for t in started {
            self.request_keyframe(t, now);
        }
    }

    /// Earliest connection deadline.
    pub(super) fn next_deadline(&self) -> Instant {
        self.peers
            .values()
            .filter_map(|p| p.deadline)
            .min()
            .unwrap_or_else(|| Instant::now() + IDLE)
    }

    /// Run the timers of every connection whose deadline has passed.
    pub(super) fn timeouts(&mut self, now: Instant) {
        let due: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some(peer) = self.peers.get_mut(&key) {
                let _ = peer.pc.handle_timeout(now);
            }
            self.process(key, now);
        }
    }

    /// Forget a connection and its routes.
    pub(super) fn drop_peer(&mut self, key: PeerKey) {
        if let Some(mut peer) = self.peers.remove(&key) {
            let _ = peer.pc.close();
            while let Some(out) = peer.pc.poll_write() {
                let _ = self
                    .socket
                    .try_send_to(&out.message, out.transport.peer_addr);
            }
            self.by_ufrag.retain(|_, k| *k != key);
            for a in peer.addrs {
                if self.by_addr.get(&a) == Some(&key) {
                    self.by_addr.remove(&a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtp_transceiver::rtp_sender::RTCRtpCodecParameters;
    use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};

    fn codec(mime: &str, fmtp: &str, pt: u8) -> RTCRtpCodecParameters {
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.into(),
                clock_rate: 90000,
                sdp_fmtp_line: fmtp.into(),
                ..Default::default()
            },
            payload_type: pt,
        }
    }

    #[test]
    fn sequence_gaps_count_missing_packets_across_the_wrap() {
        assert_eq!(sequence_gap(None, 500), (0, 500));
        assert_eq!(sequence_gap(Some(500), 501), (0, 501));
        assert_eq!(sequence_gap(Some(500), 504), (3, 504));
        assert_eq!(sequence_gap(Some(65534), 1), (2, 1));
        // Late or repeated packets count nothing and leave the highest alone.
        assert_eq!(sequence_gap(Some(504), 502), (0, 504));
        assert_eq!(sequence_gap(Some(504), 504), (0, 504));
        assert_eq!(sequence_gap(Some(2), 65530), (0, 2));
    }

    #[test]
    fn payload_type_is_found_by_codec_not_number() {
        let leg = [
            codec("video/rtx", "apt=96", 97),
            codec("video/VP8", "", 96),
            codec("video/H264", "profile-level-id=42e01f", 102),
            codec("video/H264", "profile-level-id=42001f", 104),
        ];
        let vp8 = codec("video/vp8", "", 120).rtp_codec;
        assert_eq!(payload_type_for(&vp8, &leg), Some(96));
        let h264 = codec("video/H264", "profile-level-id=42001f", 99).rtp_codec;
        assert_eq!(payload_type_for(&h264, &leg), Some(104));
        let av1 = codec("video/AV1", "", 45).rtp_codec;
        assert_eq!(payload_type_for(&av1, &leg), None);
    }

    #[test]
    fn extensions_map_by_uri_and_per_leg_ones_are_dropped() {
        let from = vec![
            (1, AUDIO_LEVEL_URI.to_owned()),
            (3, PER_LEG_EXTENSIONS[0].to_owned()),
            (4, "urn:ietf:params:rtp-hdrext:sdes:mid".to_owned()),
            (9, "urn:3gpp:video-orientation".to_owned()),
        ];
        let to = vec![
            (5, AUDIO_LEVEL_URI.to_owned()),
            (4, PER_LEG_EXTENSIONS[0].to_owned()),
            (1, "urn:ietf:params:rtp-hdrext:sdes:mid".to_owned()),
        ];
        assert_eq!(extension_map(&from, &to), vec![(1, 5)]);
    }

    #[test]
    fn rewrite_sets_leg_ssrc_pt_extensions_and_closes_gaps() {
        let mut sub = Sub {
            peer: 1,
            sender: RTCRtpSenderId::default(),
            local_track_id: "t".into(),
            ssrc: 777,
            payload_type: Some(96),
            extension_ids: vec![(1, 5)],
            active: true,
            seq_offset: 0,
            last_seq: None,
            resync: false,
        };
        let mut p = rtp::Packet::default();
        p.header.version = 2;
        p.payload = bytes::Bytes::from_static(&[1, 2, 3, 4, 5]);
        p.header.ssrc = 1;
        p.header.payload_type = 120;
        p.header.sequence_number = 10;
        p.header.extension = true;
        p.header.extension_profile = 0xBEDE;
        p.header
            .set_extension(1, bytes::Bytes::from_static(&[0x10]))
            .expect("ext");
        p.header
            .set_extension(3, bytes::Bytes::from_static(&[0, 1]))
            .expect("ext");
        let out = sub.rewrite(p.clone()).expect("negotiated");
        assert_eq!((out.header.ssrc, out.header.payload_type), (777, 96));
        assert_eq!(out.header.get_extension_ids(), vec![5]);
        assert_eq!(out.header.get_extension(5).as_deref(), Some(&[0x10][..]));
        // It must still encode to exactly the size it claims (SRTP relies on that).
        let wire = out.marshal().expect("marshal");
        assert_eq!(wire.len(), out.marshal_size());
        let back = rtp::Packet::unmarshal(&mut wire.clone()).expect("unmarshal");
        assert_eq!(back.payload, p.payload);
        assert_eq!(out.header.sequence_number, 10);
        // A pause then resumes at seq 50: the leg continues at 11.
        sub.resync = true;
        p.header.sequence_number = 50;
        assert_eq!(
            sub.rewrite(p.clone()).expect("ok").header.sequence_number,
            11
        );
        p.header.sequence_number = 51;
        assert_eq!(sub.rewrite(p).expect("ok").header.sequence_number, 12);
        sub.payload_type = None;
        assert!(sub.rewrite(rtp::Packet::default()).is_none());
    }
}
