//! Rooms: who is in a meeting, the lobby, lock, mute state, meeting chat and host actions.
//! Runs inside the router task; events go out on each participant's channel.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use rand::Rng;
use rand::distr::Alphanumeric;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::media::Direction;
use super::{Command, Identity, PeerKey, Router, TrackKey};
use crate::error::{AppError, AppResult};
use crate::store::ids::MeetingId;
use crate::store::now_ms;

/// A dropped websocket keeps its participant this long.
const REJOIN_GRACE: Duration = Duration::from_secs(30);
/// Chat lines kept for people who join later.
const CHAT_HISTORY: usize = 100;
/// Longest meeting chat line, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;

/// A participant's part in the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Host,
    Cohost,
    Member,
    Guest,
}

impl Role {
    fn hosts(self) -> bool {
        matches!(self, Role::Host | Role::Cohost)
    }
}

/// What a published m-line carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Mic,
    Camera,
    Screen,
}

impl Source {
    pub fn kind(self) -> RtpCodecKind {
        match self {
            Source::Mic => RtpCodecKind::Audio,
            Source::Camera | Source::Screen => RtpCodecKind::Video,
        }
    }
}

/// One entry of `meeting.publish`'s `tracks`.
#[derive(Debug, Clone, Deserialize)]
pub struct TrackSpec {
    pub mid: String,
    pub source: Source,
}

/// What the router needs to know about a meeting to open its room.
#[derive(Debug, Clone)]
pub struct RoomInfo {
    pub id: MeetingId,
    pub code: String,
    pub title: String,
    pub locked: bool,
    pub lobby: bool,
    pub max_participants: u32,
}

/// Host actions (`meeting.host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostAction {
    Mute,
    MuteAll,
    StopVideo,
    Remove,
    Admit,
    Refuse,
    Lock,
    Unlock,
    End,
}

/// Requests of a participant in a room.
pub enum Request {
    Publish {
        sdp: String,
        tracks: Vec<TrackSpec>,
    },
    Answer {
        sdp: String,
    },
    Restart,
    Candidate {
        publish: bool,
        candidate: rtc::peer_connection::transport::RTCIceCandidateInit,
    },
    Update {
        mic: Option<bool>,
        camera: Option<bool>,
        hand: Option<bool>,
    },
    Chat {
        text: String,
    },
    Host {
        action: HostAction,
        target: Option<String>,
    },
    Leave,
}

/// The answer to a join.
pub enum JoinOutcome {
    /// In the meeting: the `joined` payload, and the participant id to address requests.
    Joined { participant: String, payload: Value },
    /// In the lobby; admission arrives as a `meeting.joined` event for `participant`.
    Waiting { participant: String },
}

/// A person in a room (or in its lobby).
pub struct Participant {
    pub id: String,
    pub room: MeetingId,
    pub who: Identity,
    pub mic: bool,
    pub camera: bool,
    pub hand: bool,
    pub waiting: bool,
    pub events: mpsc::Sender<Utf8Bytes>,
    pub rejoin_key: String,
    pub ice_servers: Value,
    pub disconnected_at: Option<Instant>,
    pub publisher: Option<PeerKey>,
    pub subscriber: Option<PeerKey>,
    /// mid → source, from the last `meeting.publish`.
    pub sources: HashMap<String, Source>,
    pub published: HashMap<Source, TrackKey>,
}

impl Participant {
    /// Is this source switched on (not muted)?
    pub fn source_on(&self, source: Source) -> bool {
        match source {
            Source::Mic => self.mic,
            Source::Camera => self.camera,
            Source::Screen => true,
        }
    }

    fn view(&self) -> Value {
        json!({
            "id": self.id,
            "user_id": self.who.user_id,
            "name": self.who.name,
            "role": self.who.role,
            "mic": self.mic && self.published.contains_key(&Source::Mic),
            "camera": self.camera && self.published.contains_key(&Source::Camera),
            "screen": self.published.contains_key(&Source::Screen),
            "hand": self.hand,
        })
    }

    fn send(&self, frame: &Value) {
        // A participant that stopped reading loses events, never the router's time.
        let _ = self.events.try_send(frame.to_string().into());
    }
}

/// A meeting in progress.
pub struct Room {
    pub info: RoomInfo,
    /// Participants in the meeting, in joining order (the lobby is separate).
    pub members: Vec<String>,
    pub lobby: Vec<String>,
    /// Identity keys removed by a host: they cannot come back.
    pub removed: HashSet<String>,
    pub chat: VecDeque<Value>,
    pub speaker: Option<String>,
}

impl Room {
    pub fn others(&self, id: &str) -> Vec<String> {
        self.members.iter().filter(|m| *m != id).cloned().collect()
    }
}

fn random_id(prefix: &str) -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

fn conflict(what: &str) -> AppError {
    AppError::Conflict(what.into())
}

impl Router {
    pub(super) fn room_of(&self, participant: &str) -> Option<&Room> {
        self.participants
            .get(participant)
            .and_then(|p| self.rooms.get(&p.room))
    }

    pub(super) fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Join {
                room,
                who,
                rejoin_key,
                ice_servers,
                events,
                reply,
            } => {
                let _ = reply.send(self.join(room, who, rejoin_key, ice_servers, events));
            }
            Command::Request {
                participant,
                request,
                reply,
            } => {
                let result = if self.participants.contains_key(&participant) {
                    self.request(&participant, request, now)
                } else {
                    Err(AppError::Conflict("not in a meeting".into()))
                };
                let _ = reply.send(result);
            }
            Command::Disconnected { participant } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    if p.waiting {
                        self.leave(&participant);
                    } else {
                        p.disconnected_at = Some(now);
                    }
                }
            }
            Command::Settings {
                meeting,
                locked,
                lobby,
                max_participants,
            } => {
                if let Some(room) = self.rooms.get_mut(&meeting) {
                    let lock_changed = room.info.locked != locked;
                    room.info.locked = locked;
                    room.info.lobby = lobby;
                    room.info.max_participants = max_participants;
                    if lock_changed {
                        self.broadcast(
                            meeting,
                            &json!({"type": "meeting.locked", "locked": locked}),
                        );
                    }
                }
            }
            Command::End { meeting } => self.end(meeting),
        }
    }

    fn join(
        &mut self,
        info: RoomInfo,
        who: Identity,
        rejoin_key: Option<String>,
        ice_servers: Value,
        events: mpsc::Sender<Utf8Bytes>,
    ) -> AppResult<JoinOutcome> {
        if let Some(key) = rejoin_key {
            let found = self.participants.values_mut().find(|p| {
                p.room == info.id && p.rejoin_key == key && p.who.key == who.key && !p.waiting
            });
            let Some(p) = found else {
                return Err(conflict(
                    "that place in the meeting has expired: join again",
                ));
            };
            p.events = events;
            p.disconnected_at = None;
            let id = p.id.clone();
            return Ok(JoinOutcome::Joined {
                payload: self.joined_payload(&id),
                participant: id,
            });
        }
        let room = self.rooms.entry(info.id).or_insert_with(|| Room {
            info: info.clone(),
            members: Vec::new(),
            lobby: Vec::new(),
            removed: HashSet::new(),
            chat: VecDeque::new(),
            speaker: None,
        });
        if room.removed.contains(&who.key) {
            return Err(AppError::Forbidden(
                "you were removed from this meeting".into(),
            ));
        }
        let hosts = who.role.hosts();
        if room.info.locked && !hosts {
            return Err(conflict("locked: the meeting is locked"));
        }
        if room.members.len() >= room.info.max_participants as usize {
            return Err(conflict(
                "full: the meeting has reached its maximum participants",
            ));
        }
        let waiting = room.info.lobby && !hosts;
        let id = random_id("p_");
        let participant = Participant {
            id: id.clone(),
            room: info.id,
            who,
            mic: true,
            camera: true,
            hand: false,
            waiting,
            events,
            rejoin_key: random_id(""),
            ice_servers,
            disconnected_at: None,
            publisher: None,
            subscriber: None,
            sources: HashMap::new(),
            published: HashMap::new(),
        };
        self.participants.insert(id.clone(), participant);
        if waiting {
            room.lobby.push(id.clone());
            self.lobby_changed(info.id);
            return Ok(JoinOutcome::Waiting { participant: id });
        }
        self.enter(&id);
        Ok(JoinOutcome::Joined {
            payload: self.joined_payload(&id),
            participant: id,
        })
    }

    /// Put a participant (new, or admitted from the lobby) into the meeting.
    fn enter(&mut self, id: &str) {
        let Some(room_id) = self.participants.get_mut(id).map(|p| {
            p.waiting = false;
            p.room
        }) else {
            return;
        };
        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        room.lobby.retain(|l| l != id);
        room.members.push(id.to_owned());
        let others = room.others(id);
        metrics::gauge!("convene_meeting_participants").increment(1.0);
        if room.members.len() == 1 {
            metrics::gauge!("convene_meetings_active").increment(1.0);
        }
        // Everything already published reaches the newcomer.
        let tracks: Vec<TrackKey> = others
            .iter()
            .filter_map(|o| self.participants.get(o))
            .flat_map(|p| p.published.values().copied())
            .collect();
        for t in tracks {
            self.subscribe(id, t);
        }
        if let Some(p) = self.participants.get(id) {
            let frame = json!({"type": "meeting.participant_joined", "participant": p.view()});
            for o in &others {
                if let Some(other) = self.participants.get(o) {
                    other.send(&frame);
                }
            }
        }
    }

    fn joined_payload(&self, id: &str) -> Value {
        let Some(p) = self.participants.get(id) else {
            return Value::Null;
        };
        let Some(room) = self.rooms.get(&p.room) else {
            return Value::Null;
        };
        let others: Vec<Value> = room
            .others(id)
            .iter()
            .filter_map(|o| self.participants.get(o).map(Participant::view))
            .collect();
        json!({
            "status": "joined",
            "meeting": {"code": room.info.code, "title": room.info.title,
                        "locked": room.info.locked, "lobby": room.info.lobby},
            "self": p.view(),
            "participants": others,
            "rejoin_key": p.rejoin_key,
            "ice_servers": p.ice_servers,
            "chat": room.chat,
            "speaker": room.speaker,
        })
    }

    pub(super) fn broadcast(&self, room: MeetingId, frame: &Value) {
        if let Some(r) = self.rooms.get(&room) {
            for m in &r.members {
                if let Some(p) = self.participants.get(m) {
                    p.send(frame);
                }
            }
        }
    }

    /// Tell everyone about a participant's new state.
    pub(super) fn participant_changed(&self, id: &str) {
        if let Some(p) = self.participants.get(id) {
            self.broadcast(
                p.room,
                &json!({"type": "meeting.participant", "participant": p.view()}),
            );
        }
    }

    fn lobby_changed(&self, room_id: MeetingId) {
        let Some(room) = self.rooms.get(&room_id) else {
            return;
        };
        let waiting: Vec<Value> = room
            .lobby
            .iter()
            .filter_map(|l| self.participants.get(l))
            .map(|p| json!({"id": p.id, "name": p.who.name, "user_id": p.who.user_id}))
            .collect();
        let frame = json!({"type": "meeting.lobby", "waiting": waiting});
        for m in &room.members {
            if let Some(p) = self.participants.get(m)
                && p.who.role.hosts()
            {
                p.send(&frame);
            }
        }
    }

    fn request(&mut self, id: &str, request: Request, now: Instant) -> AppResult<Value> {
        let waiting = self.participants.get(id).is_some_and(|p| p.waiting);
        if waiting && !matches!(request, Request::Leave) {
            return Err(conflict("still waiting in the lobby"));
        }
        match request {
            Request::Publish { sdp, tracks } => {
                let answer = self.publish(id, sdp, tracks, now)?;
                Ok(json!({ "sdp": answer }))
            }
            Request::Answer { sdp } => {
                self.answer(id, sdp, now)?;
                Ok(json!({}))
            }
            Request::Restart => {
                let sub = self.participants.get(id).and_then(|p| p.subscriber);
                if let Some(key) = sub
                    && let Some(peer) = self.peers.get_mut(&key)
                {
                    peer.restart = true;
                    peer.needs_offer = true;
                    self.renegotiate.push(key);
                }
                Ok(json!({}))
            }
            Request::Candidate { publish, candidate } => {
                let p = self.participants.get(id);
                let key = p.and_then(|p| if publish { p.publisher } else { p.subscriber });
                if let Some(key) = key
                    && let Some(peer) = self.peers.get_mut(&key)
                {
                    peer.pc
                        .add_remote_candidate(candidate)
                        .map_err(|e| AppError::Validation(format!("candidate: {e}")))?;
                    self.process(key, now);
                }
                Ok(json!({}))
            }
            Request::Update { mic, camera, hand } => {
                if let Some(p) = self.participants.get_mut(id) {
                    if let Some(m) = mic {
                        p.mic = m;
                    }
                    if let Some(c) = camera {
                        p.camera = c;
                    }
                    if let Some(h) = hand {
                        p.hand = h;
                    }
                }
                self.apply_pauses(id, now);
                self.participant_changed(id);
                Ok(json!({}))
            }
            Request::Chat { text } => {
                let text = text.trim();
                let chars = text.chars().count();
                if chars == 0 || chars > MAX_CHAT_CHARS {
                    return Err(AppError::Validation(format!(
                        "text must be 1 to {MAX_CHAT_CHARS} characters"
                    )));
                }
                let Some(p) = self.participants.get(id) else {
                    return Ok(json!({}));
                };
                let line = json!({"type": "meeting.chat", "participant_id": p.id,
                                  "name": p.who.name, "text": text, "at": now_ms()});
                let room_id = p.room;
                if let Some(room) = self.rooms.get_mut(&room_id) {
                    room.chat.push_back(line.clone());
                    while room.chat.len() > CHAT_HISTORY {
                        room.chat.pop_front();
                    }
                }
                self.broadcast(room_id, &line);
                Ok(json!({}))
            }
            Request::Host { action, target } => self.host(id, action, target, now),
            Request::Leave => {
                self.leave(id);
                Ok(json!({}))
            }
        }
    }

    /// Pause or resume forwarding of a participant's tracks after a mute change.
    fn apply_pauses(&mut self, id: &str, now: Instant) {
        let Some(p) = self.participants.get(id) else {
            return;
        };
        let states: Vec<(TrackKey, bool)> = p
            .published
            .iter()
            .map(|(s, t)| (*t, !p.source_on(*s)))
            .collect();
        for (t, paused) in states {
            let resumed = match self.tracks.get_mut(&t) {
                Some(track) if track.paused != paused => {
                    track.paused = paused;
                    for s in &mut track.subs {
                        s.resync = true;
                    }
                    !paused
                }
                _ => false,
            };
            if resumed {
                self.request_keyframe(t, now);
            }
        }
    }

    fn host(
        &mut self,
        id: &str,
        action: HostAction,
        target: Option<String>,
        now: Instant,
    ) -> AppResult<Value> {
        let Some(me) = self.participants.get(id) else {
            return Ok(json!({}));
        };
        if !me.who.role.hosts() {
            return Err(AppError::Forbidden("only hosts may do this".into()));
        }
        let room_id = me.room;
        let in_room = |router: &Router, t: &Option<String>, lobby: bool| -> AppResult<String> {
            let t = t
                .clone()
                .ok_or_else(|| AppError::Validation("participant_id is required".into()))?;
            let ok = router.rooms.get(&room_id).is_some_and(|r| {
                if lobby {
                    r.lobby.contains(&t)
                } else {
                    r.members.contains(&t)
                }
            });
            if ok {
                Ok(t)
            } else {
                Err(AppError::not_found("participant"))
            }
        };
        match action {
            HostAction::Mute | HostAction::StopVideo => {
                let t = in_room(self, &target, false)?;
                self.force_mute(&t, action == HostAction::Mute, now);
            }
            HostAction::MuteAll => {
                let others = self
                    .rooms
                    .get(&room_id)
                    .map(|r| r.others(id))
                    .unwrap_or_default();
                for o in others {
                    self.force_mute(&o, true, now);
                }
            }
            HostAction::Remove => {
                let t = in_room(self, &target, false)?;
                if let Some(p) = self.participants.get(&t) {
                    if p.who.role == Role::Host {
                        return Err(AppError::Forbidden("the host cannot be removed".into()));
                    }
                    p.send(&json!({"type": "meeting.ended", "reason": "removed"}));
                    let key = p.who.key.clone();
                    if let Some(room) = self.rooms.get_mut(&room_id) {
                        room.removed.insert(key);
                    }
                }
                self.leave(&t);
            }
            HostAction::Admit => {
                let t = in_room(self, &target, true)?;
                if self
                    .rooms
                    .get(&room_id)
                    .is_some_and(|r| r.members.len() >= r.info.max_participants as usize)
                {
                    return Err(conflict(
                        "full: the meeting has reached its maximum participants",
                    ));
                }
                self.enter(&t);
                if let Some(p) = self.participants.get(&t) {
                    let mut payload = self.joined_payload(&t);
                    payload["type"] = json!("meeting.joined");
                    p.send(&payload);
                }
                self.lobby_changed(room_id);
            }
            HostAction::Refuse => {
                let t = in_room(self, &target, true)?;
                if let Some(p) = self.participants.get(&t) {
                    p.send(&json!({"type": "meeting.ended", "reason": "refused"}));
                }
                self.leave(&t);
                self.lobby_changed(room_id);
            }
            HostAction::Lock | HostAction::Unlock => {
                let locked = action == HostAction::Lock;
                if let Some(room) = self.rooms.get_mut(&room_id) {
                    room.info.locked = locked;
                }
                self.broadcast(
                    room_id,
                    &json!({"type": "meeting.locked", "locked": locked}),
                );
                return Ok(json!({"locked": locked}));
            }
            HostAction::End => self.end(room_id),
        }
        Ok(json!({}))
    }

    fn force_mute(&mut self, id: &str, mic: bool, now: Instant) {
        let Some(p) = self.participants.get_mut(id) else {
            return;
        };
        let source = if mic { "mic" } else { "camera" };
        if mic {
            p.mic = false;
        } else {
            p.camera = false;
        }
        p.send(&json!({"type": "meeting.muted", "source": source}));
        self.apply_pauses(id, now);
        self.participant_changed(id);
    }

    /// Everyone out; the room is gone.
    pub(super) fn end(&mut self, room_id: MeetingId) {
        let Some(room) = self.rooms.get(&room_id) else {
            return;
        };
        let everyone: Vec<String> = room.members.iter().chain(&room.lobby).cloned().collect();
        for id in everyone {
            if let Some(p) = self.participants.get(&id) {
                p.send(&json!({"type": "meeting.ended", "reason": "ended"}));
            }
            self.leave(&id);
        }
        self.rooms.remove(&room_id);
    }

    /// A participant leaves: tracks, connections and routes go.
    pub(super) fn leave(&mut self, id: &str) {
        let Some(p) = self.participants.remove(id) else {
            return;
        };
        for t in p.published.values() {
            self.unpublish(*t);
        }
        // Stop feeding this participant's subscribe leg.
        if let Some(sub) = p.subscriber {
            for track in self.tracks.values_mut() {
                track.subs.retain(|s| s.peer != sub);
            }
        }
        for key in [p.publisher, p.subscriber].into_iter().flatten() {
            self.drop_peer(key);
        }
        let Some(room) = self.rooms.get_mut(&p.room) else {
            return;
        };
        let was_member = room.members.contains(&p.id);
        room.members.retain(|m| m != id);
        room.lobby.retain(|m| m != id);
        if room.speaker.as_deref() == Some(id) {
            room.speaker = None;
        }
        let empty = room.members.is_empty() && room.lobby.is_empty();
        if was_member {
            metrics::gauge!("convene_meeting_participants").decrement(1.0);
            if room.members.is_empty() {
                metrics::gauge!("convene_meetings_active").decrement(1.0);
            }
            self.broadcast(
                p.room,
                &json!({"type": "meeting.participant_left", "participant_id": p.id}),
            );
        }
        if empty {
            self.rooms.remove(&p.room);
        }
    }

    /// Periodic work: reconnect grace, active speaker.
    pub(super) fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .participants
            .values()
            .filter(|p| {
                p.disconnected_at
                    .is_some_and(|t| now.duration_since(t) > REJOIN_GRACE)
            })
            .map(|p| p.id.clone())
            .collect();
        for id in expired {
            self.leave(&id);
        }
        self.update_speakers();
    }

    /// The connection of `direction` for a participant, created on first use.
    pub(super) fn ensure_peer(&mut self, id: &str, direction: Direction) -> AppResult<PeerKey> {
        let existing = self.participants.get(id).and_then(|p| match direction {
            Direction::Publish => p.publisher,
            Direction::Subscribe => p.subscriber,
        });
        if let Some(k) = existing {
            return Ok(k);
        }
        let (pc, ufrag) = super::peer::build(self.advertised)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("creating a peer connection: {e}")))?;
        let key = self.key();
        self.by_ufrag.insert(ufrag.clone(), key);
        self.peers.insert(
            key,
            super::media::Peer {
                pc,
                owner: id.to_owned(),
                direction,
                ufrag,
                addrs: Vec::new(),
                connected: false,
                deadline: None,
                incoming: HashMap::new(),
                outgoing: HashMap::new(),
                offer_pending: false,
                needs_offer: false,
                restart: false,
                early_check: None,
            },
        );
        if let Some(p) = self.participants.get_mut(id) {
            match direction {
                Direction::Publish => p.publisher = Some(key),
                Direction::Subscribe => p.subscriber = Some(key),
            }
        }
        Ok(key)
    }
}
