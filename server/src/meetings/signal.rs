//! Meeting signalling on the realtime websocket: `meeting.*` frames in, answers out, and
//! the participant's event channel from the router (see `docs/PROTOCOL.md`, "Meetings").

use axum::extract::ws::Utf8Bytes;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::guests::Guest;
use super::records::{self, MeetingRow};
use super::sfu::{self, Command, HostAction, Identity, JoinOutcome, RoomInfo, TrackSpec};
use super::turn;
use crate::AppState;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::store::ids::{MeetingId, UserId};
use crate::store::now_ms;

/// Meeting events queued per participant before they are dropped.
const EVENT_QUEUE: usize = 256;

/// A `meeting.*` frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum MeetingFrame {
    #[serde(rename = "meeting.join")]
    Join {
        id: Option<String>,
        code: String,
        rejoin_key: Option<String>,
    },
    #[serde(rename = "meeting.publish")]
    Publish {
        id: Option<String>,
        sdp: String,
        tracks: Vec<TrackSpec>,
    },
    #[serde(rename = "meeting.answer")]
    Answer { id: Option<String>, sdp: String },
    #[serde(rename = "meeting.restart")]
    Restart { id: Option<String> },
    #[serde(rename = "meeting.candidate")]
    Candidate {
        id: Option<String>,
        target: Target,
        candidate: RTCIceCandidateInit,
    },
    #[serde(rename = "meeting.update")]
    Update {
        id: Option<String>,
        mic: Option<bool>,
        camera: Option<bool>,
        hand: Option<bool>,
    },
    #[serde(rename = "meeting.chat")]
    Chat { id: Option<String>, text: String },
    #[serde(rename = "meeting.host")]
    Host {
        id: Option<String>,
        action: HostAction,
        participant_id: Option<String>,
    },
    #[serde(rename = "meeting.leave")]
    Leave { id: Option<String> },
}

/// Which connection a trickled candidate is for.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Publish,
    Subscribe,
}

/// Who is on the websocket.
#[derive(Debug, Clone)]
pub enum Caller {
    User(UserId),
    Guest(Guest),
}

/// A websocket's part in (at most) one meeting.
#[derive(Default)]
pub struct Session {
    /// Events from the router for this participant.
    pub events: Option<mpsc::Receiver<Utf8Bytes>>,
    joined: Option<(MeetingId, String)>,
}

/// `{"type": "ok", "id": …, …fields}`.
fn ok(id: Option<&str>, fields: Value) -> Utf8Bytes {
    let mut frame = json!({"type": "ok", "id": id});
    if let (Some(out), Value::Object(extra)) = (frame.as_object_mut(), fields) {
        out.extend(extra);
    }
    frame.to_string().into()
}

fn error(id: Option<&str>, e: &AppError) -> Utf8Bytes {
    json!({"type": "error", "id": id, "code": e.code(), "message": e.to_string()})
        .to_string()
        .into()
}

impl Session {
    /// Handle one frame; the answer to send back.
    pub async fn handle(
        &mut self,
        state: &AppState,
        caller: &Caller,
        frame: MeetingFrame,
    ) -> Utf8Bytes {
        let (id, result) = match frame {
            MeetingFrame::Join {
                id,
                code,
                rejoin_key,
            } => {
                let r = self.join(state, caller, &code, rejoin_key).await;
                (id, r)
            }
            MeetingFrame::Publish { id, sdp, tracks } => {
                let r = self
                    .request(state, sfu::Request::Publish { sdp, tracks })
                    .await;
                (id, r)
            }
            MeetingFrame::Answer { id, sdp } => {
                (id, self.request(state, sfu::Request::Answer { sdp }).await)
            }
            MeetingFrame::Restart { id } => (id, self.request(state, sfu::Request::Restart).await),
            MeetingFrame::Candidate {
                id,
                target,
                candidate,
            } => {
                let publish = matches!(target, Target::Publish);
                (
                    id,
                    self.request(state, sfu::Request::Candidate { publish, candidate })
                        .await,
                )
            }
            MeetingFrame::Update {
                id,
                mic,
                camera,
                hand,
            } => (
                id,
                self.request(state, sfu::Request::Update { mic, camera, hand })
                    .await,
            ),
            MeetingFrame::Chat { id, text } => {
                (id, self.request(state, sfu::Request::Chat { text }).await)
            }
            MeetingFrame::Host {
                id,
                action,
                participant_id,
            } => {
                let r = self
                    .request(
                        state,
                        sfu::Request::Host {
                            action,
                            target: participant_id,
                        },
                    )
                    .await;
                if r.is_ok()
                    && let Some((meeting, _)) = &self.joined
                {
                    persist_host_action(state, *meeting, action).await;
                }
                (id, r)
            }
            MeetingFrame::Leave { id } => {
                let r = self.request(state, sfu::Request::Leave).await;
                self.left(state).await;
                (id, r)
            }
        };
        match result {
            Ok(fields) => ok(id.as_deref(), fields),
            Err(e) => error(id.as_deref(), &e),
        }
    }

    async fn request(&mut self, state: &AppState, request: sfu::Request) -> AppResult<Value> {
        let Some((_, participant)) = &self.joined else {
            return Err(AppError::Conflict("join a meeting first".into()));
        };
        state.meetings.sfu.request(participant, request).await
    }

    async fn join(
        &mut self,
        state: &AppState,
        caller: &Caller,
        code: &str,
        rejoin_key: Option<String>,
    ) -> AppResult<Value> {
        let row = records::by_code(&state.store, code).await?;
        let who = identity(state, &row, caller).await?;
        if row.ended_at.is_some() {
            return Err(AppError::Conflict("ended: the meeting has ended".into()));
        }
        // One meeting per websocket: joining another leaves the first.
        if self.joined.is_some() {
            let _ = self.request(state, sfu::Request::Leave).await;
            self.left(state).await;
        }
        let ice_servers = turn::ice_servers(
            &state.config,
            &who.key,
            time::OffsetDateTime::now_utc().unix_timestamp(),
        );
        let (events, receiver) = mpsc::channel(EVENT_QUEUE);
        let (reply, answer) = oneshot::channel();
        let user_id = who.user_id;
        state
            .meetings
            .sfu
            .send(Command::Join {
                room: RoomInfo {
                    id: row.id,
                    code: row.code.clone(),
                    title: row.title.clone(),
                    locked: row.locked,
                    lobby: row.lobby,
                    max_participants: row.max_participants.max(2) as u32,
                },
                who,
                rejoin_key,
                ice_servers,
                events,
                reply,
            })
            .await?;
        let outcome = answer
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("media router dropped a join")))??;
        self.events = Some(receiver);
        let (participant, payload) = match outcome {
            JoinOutcome::Joined {
                participant,
                payload,
            } => (participant, payload),
            JoinOutcome::Waiting { participant } => (
                participant.clone(),
                json!({"status": "waiting", "participant_id": participant}),
            ),
        };
        // Attendance for usage reports; a rejoin continues the same stay.
        let _ = db!(state.store.write(), c => sqlx::query(
            "INSERT INTO meeting_attendance (meeting_id, participant, user_id, joined_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (meeting_id, participant) DO UPDATE SET left_at = NULL"
        )
        .bind(row.id)
        .bind(&participant)
        .bind(user_id)
        .bind(now_ms())
        .execute(c)
        .await
        .map(|r| r.rows_affected()));
        self.joined = Some((row.id, participant));
        Ok(payload)
    }

    async fn left(&mut self, state: &AppState) {
        self.events = None;
        if let Some((meeting, participant)) = self.joined.take() {
            let _ = db!(state.store.write(), c => sqlx::query(
                "UPDATE meeting_attendance SET left_at = $1 WHERE meeting_id = $2 AND participant = $3"
            )
            .bind(now_ms())
            .bind(meeting)
            .bind(&participant)
            .execute(c)
            .await
            .map(|r| r.rows_affected()));
        }
    }

    /// The router dropped this participant (removed, ended, refused).
    pub async fn events_closed(&mut self, state: &AppState) {
        self.left(state).await;
    }

    /// The websocket closed: keep the place for a rejoin.
    pub async fn disconnected(&mut self, state: &AppState) {
        if let Some((_, participant)) = &self.joined {
            let _ = state
                .meetings
                .sfu
                .send(Command::Disconnected {
                    participant: participant.clone(),
                })
                .await;
        }
        self.events = None;
    }
}

/// Who the caller is in this meeting; refusals per the protocol.
async fn identity(state: &AppState, row: &MeetingRow, caller: &Caller) -> AppResult<Identity> {
    match caller {
        Caller::User(user) => {
            let standing = records::standing(&state.store, row, *user).await?;
            let name: String = db!(state.store.read(), c => sqlx::query_scalar(
                "SELECT display_name FROM users WHERE id = $1"
            )
            .bind(*user)
            .fetch_one(c)
            .await)?;
            let role = if standing.is_host {
                sfu::ParticipantRole::Host
            } else if standing.manages {
                sfu::ParticipantRole::Cohost
            } else {
                sfu::ParticipantRole::Member
            };
            Ok(Identity {
                user_id: Some(*user),
                key: user.to_string(),
                name,
                role,
            })
        }
        Caller::Guest(guest) => {
            if guest.mtg != row.id {
                return Err(AppError::Forbidden(
                    "this guest link is for another meeting".into(),
                ));
            }
            let workspace_guests: bool = db!(state.store.read(), c => sqlx::query_scalar(
                "SELECT meeting_guests_allowed FROM workspaces WHERE id = $1"
            )
            .bind(row.workspace_id)
            .fetch_one(c)
            .await)?;
            if !(row.allow_guests && workspace_guests) {
                return Err(AppError::Forbidden(
                    "this meeting does not admit guests".into(),
                ));
            }
            Ok(Identity {
                user_id: None,
                key: guest.gid.clone(),
                name: guest.name.clone(),
                role: sfu::ParticipantRole::Guest,
            })
        }
    }
}

/// Lock and end outlive the room: store them.
async fn persist_host_action(state: &AppState, meeting: MeetingId, action: HostAction) {
    match action {
        HostAction::Lock | HostAction::Unlock => {
            let _ = db!(state.store.write(), c => sqlx::query("UPDATE meetings SET locked = $1 WHERE id = $2")
                .bind(action == HostAction::Lock)
                .bind(meeting)
                .execute(c)
                .await
                .map(|r| r.rows_affected()));
        }
        HostAction::End => {
            let _ = super::mark_ended(state, meeting).await;
        }
        _ => {}
    }
}
