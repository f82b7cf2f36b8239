//! Offer/answer: the publish connection (the participant offers), the subscribe connection
//! (the server offers, again whenever tracks come or go; never two offers in flight).

use std::time::Instant;

use rand::Rng;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use serde_json::json;

use super::media::{Direction, Sub};
use super::rooms::{Source, TrackSpec};
use super::{PeerKey, Router, TrackKey, peer};
use crate::error::{AppError, AppResult};

fn invalid(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Validation(format!("{what}: {e}"))
}

impl Router {
    /// Keep the ufrag route in step with the connection's current local description.
    fn update_ufrag(&mut self, key: PeerKey) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let Some(ufrag) = peer
            .pc
            .local_description()
            .and_then(|d| peer::sdp_ufrag(&d.sdp).map(str::to_owned))
        else {
            return;
        };
        if ufrag != peer.ufrag {
            self.by_ufrag.remove(&peer.ufrag);
            peer.ufrag = ufrag.clone();
            self.by_ufrag.insert(ufrag, key);
        }
    }

    /// `meeting.publish`: apply the participant's offer, answer it, and unpublish sources
    /// it no longer lists.
    pub(super) fn publish(
        &mut self,
        id: &str,
        sdp: String,
        tracks: Vec<TrackSpec>,
        now: Instant,
    ) -> AppResult<String> {
        let mut seen = Vec::new();
        for t in &tracks {
            if seen.contains(&t.source) {
                return Err(AppError::Validation(
                    "tracks: each source (mic, camera, screen) at most once".into(),
                ));
            }
            seen.push(t.source);
        }
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| invalid("sdp", e))?;
        let key = self.ensure_peer(id, Direction::Publish)?;
        let Some(peer) = self.peers.get_mut(&key) else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "publish connection vanished"
            )));
        };
        peer.pc
            .set_remote_description(now, offer)
            .map_err(|e| invalid("sdp", e))?;
        let answer = peer.pc.create_answer(None).map_err(|e| invalid("sdp", e))?;
        peer.pc
            .set_local_description(now, answer)
            .map_err(|e| invalid("sdp", e))?;
        let answer = peer
            .pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no local description")))?;
        self.update_ufrag(key);
        // Sources no longer listed (or moved to another m-line) stop.
        let stale: Vec<TrackKey> = match self.participants.get_mut(id) {
            Some(p) => {
                p.sources = tracks.iter().map(|t| (t.mid.clone(), t.source)).collect();
                p.published
                    .iter()
                    .filter(|(s, _)| !tracks.iter().any(|t| t.source == **s))
                    .map(|(_, t)| *t)
                    .collect()
            }
            None => Vec::new(),
        };
        let changed = !stale.is_empty();
        for t in stale {
            self.unpublish(t);
        }
        if changed {
            self.participant_changed(id);
        }
        self.process(key, now);
        Ok(answer)
    }

    /// `meeting.answer`: the participant's answer to our subscribe offer.
    pub(super) fn answer(&mut self, id: &str, sdp: String, now: Instant) -> AppResult<()> {
        let answer = RTCSessionDescription::answer(sdp).map_err(|e| invalid("sdp", e))?;
        let key = self
            .participants
            .get(id)
            .and_then(|p| p.subscriber)
            .ok_or_else(|| AppError::Conflict("no offer to answer".into()))?;
        let Some(peer) = self.peers.get_mut(&key) else {
            return Err(AppError::Conflict("no offer to answer".into()));
        };
        if !peer.offer_pending {
            return Err(AppError::Conflict("no offer to answer".into()));
        }
        peer.pc
            .set_remote_description(now, answer)
            .map_err(|e| invalid("sdp", e))?;
        peer.offer_pending = false;
        let early = peer.early_check.take();
        self.process(key, now);
        if let Some((from, data)) = early {
            self.datagram(&data, from, now);
        }
        self.activate_subs(key, now);
        self.renegotiate.push(key);
        Ok(())
    }

    /// Carry `track` on participant `id`'s subscribe connection.
    pub(super) fn subscribe(&mut self, id: &str, track_key: TrackKey) {
        if !self.tracks.contains_key(&track_key) {
            return;
        }
        let Ok(key) = self.ensure_peer(id, Direction::Subscribe) else {
            return;
        };
        let Some(track) = self.tracks.get(&track_key) else {
            return;
        };
        let (kind, codec, source, owner) = (
            track.kind,
            track.codec.clone(),
            track.source,
            track.owner.clone(),
        );
        let ssrc: u32 = rand::rng().random();
        let local_track_id = format!("{owner}-{}-{track_key}", source_name(source));
        let media = MediaStreamTrack::new(
            owner.clone(),
            local_track_id.clone(),
            source_name(source).to_owned(),
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
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let added = peer.pc.add_transceiver_from_track(
            media,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                streams: vec![owner],
                send_encodings: vec![],
            }),
        );
        let sender = match added {
            Ok(t) => peer.pc.rtp_transceiver(t).and_then(|t| t.sender()),
            Err(e) => {
                tracing::warn!(error = %e, "could not add a track to a subscribe connection");
                None
            }
        };
        let Some(sender) = sender else {
            return;
        };
        peer.outgoing.insert(local_track_id.clone(), track_key);
        peer.needs_offer = true;
        self.renegotiate.push(key);
        if let Some(track) = self.tracks.get_mut(&track_key) {
            track.subs.push(Sub {
                peer: key,
                sender,
                local_track_id,
                ssrc,
                payload_type: None,
                extension_ids: Vec::new(),
                active: false,
                seq_offset: 0,
                last_seq: None,
                resync: false,
            });
        }
    }

    /// A published track ended: take it off every subscribe connection.
    pub(super) fn unpublish(&mut self, track_key: TrackKey) {
        let Some(track) = self.tracks.remove(&track_key) else {
            return;
        };
        metrics::gauge!("convene_meeting_tracks").decrement(1.0);
        if let Some(peer) = self.peers.get_mut(&track.peer) {
            peer.incoming.remove(&track.remote_track_id);
        }
        if let Some(p) = self.participants.get_mut(&track.owner)
            && p.published.get(&track.source) == Some(&track_key)
        {
            p.published.remove(&track.source);
        }
        for sub in track.subs {
            if let Some(peer) = self.peers.get_mut(&sub.peer) {
                peer.outgoing.remove(&sub.local_track_id);
                if let Err(e) = peer.pc.remove_track(sub.sender) {
                    tracing::debug!(error = %e, "removing a forwarded track");
                }
                peer.needs_offer = true;
                self.renegotiate.push(sub.peer);
            }
        }
    }

    /// Send new offers on subscribe connections whose tracks changed.
    pub(super) fn offer_where_needed(&mut self) {
        if self.renegotiate.is_empty() {
            return;
        }
        let mut keys = std::mem::take(&mut self.renegotiate);
        keys.sort_unstable();
        keys.dedup();
        let now = Instant::now();
        for key in keys {
            if let Err(e) = self.offer(key, now) {
                tracing::warn!(error = %e, "subscribe offer failed");
            }
        }
    }

    fn offer(&mut self, key: PeerKey, now: Instant) -> anyhow::Result<()> {
        let Some(peer) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        if peer.offer_pending || !peer.needs_offer {
            return Ok(());
        }
        if peer.restart {
            peer.pc.restart_ice();
            peer.restart = false;
        }
        let offer = peer.pc.create_offer(None)?;
        peer.pc.set_local_description(now, offer)?;
        peer.offer_pending = true;
        peer.needs_offer = false;
        let sdp = peer
            .pc
            .local_description()
            .map(|d| d.sdp)
            .unwrap_or_default();
        // Name the participant and source behind each m-line that carries a track.
        let mut tracks = Vec::new();
        let transceivers: Vec<_> = peer.pc.get_transceivers().collect();
        for t in transceivers {
            let Some(transceiver) = peer.pc.rtp_transceiver(t) else {
                continue;
            };
            let (Some(mid), Some(sender)) = (transceiver.mid().clone(), transceiver.sender())
            else {
                continue;
            };
            let Some(mut s) = peer.pc.rtp_sender(sender) else {
                continue;
            };
            let local_id = s.track().track_id().clone();
            let _ = s.get_parameters();
            if let Some(track) = peer
                .outgoing
                .get(&local_id)
                .and_then(|tk| self.tracks.get(tk))
            {
                tracks.push(json!({"mid": mid, "participant_id": track.owner,
                                   "source": track.source}));
            }
        }
        let owner = peer.owner.clone();
        self.update_ufrag(key);
        self.flush(key);
        if let Some(p) = self.participants.get(&owner) {
            let _ = p.events.try_send(
                json!({"type": "meeting.offer", "sdp": sdp, "tracks": tracks})
                    .to_string()
                    .into(),
            );
        }
        Ok(())
    }
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Mic => "mic",
        Source::Camera => "camera",
        Source::Screen => "screen",
    }
}
