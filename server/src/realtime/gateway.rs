//! `/api/ws`: one websocket per client tab. The first frame authenticates (no token in
//! the URL, so none in access logs) and may ask to resume; then the connection carries
//! chat events out and requests in, pings, and closes when the session ends.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio::time::{Instant, interval, timeout};

use super::bus::Delivery;
use super::hub::{Control, Outbound};
use super::protocol::{
    CLOSE_AUTH_FAILED, CLOSE_IDLE, CLOSE_POLICY, ClientFrame, Positions, PresenceState, ServerFrame,
};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::auth::current_user::authenticate;
use crate::chat::access::ChannelAccess;
use crate::chat::events::{self, Event};
use crate::chat::load::{self, COLUMNS, MessageRow};
use crate::chat::messages::{self, SendMessage};
use crate::chat::receipts;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::meetings::signal::{Caller, MeetingFrame, Session};
use crate::store::ids::{ChannelId, UserId};
use crate::store::now_ms;

/// Largest accepted client frame.
const MAX_FRAME: usize = 64 * 1024;
/// Time allowed for the auth frame.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Server ping interval; a client silent for three intervals is closed.
pub(super) const PING_EVERY: Duration = Duration::from_secs(25);
/// Frames a client may send per second before it is cut off.
pub(super) const MAX_FRAMES_PER_SEC: u32 = 50;
/// Most changes replayed per channel on resume; beyond that the client reloads.
const MAX_REPLAY: i64 = 500;
/// Most channels in one resume.
const MAX_RESUME_CHANNELS: usize = 2000;
/// Typing events per channel at most this often.
const TYPING_EVERY: Duration = Duration::from_secs(2);
/// A client that accepts nothing for this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Sends queued per connection before new ones are refused.
const MAX_PENDING_SENDS: usize = 64;

/// Upgrade to the realtime websocket.
pub async fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return AppError::BadRequest(format!(
                "this endpoint speaks websocket only: {}",
                e.body_text()
            ))
            .into_response();
        }
    };
    // A small read buffer keeps idle connections cheap (the write buffer starts empty
    // and only grows while there is something to send); batching writes up to 16 KiB
    // per flush keeps fan-out to one send() per burst, not per event.
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(2 * 1024)
        .write_buffer_size(16 * 1024)
        .on_upgrade(move |socket| serve(socket, state))
}

pub(super) fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

pub(super) fn error_frame(id: Option<&str>, e: &AppError) -> Message {
    let message = e.to_string();
    Message::Text(
        ServerFrame::Error {
            id,
            code: e.code(),
            message: &message,
        }
        .text(),
    )
}

/// Send one frame, giving up after [`SEND_TIMEOUT`]; false when it did not go out.
pub(super) async fn send_timed(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        timeout(SEND_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}

/// Per-connection state beyond the socket.
struct Conn {
    state: AppState,
    user: CurrentUser,
    conn_id: u64,
    /// Highest replayed sequence per channel: live events at or below it were already sent.
    replayed: HashMap<ChannelId, i64>,
    last_typing: HashMap<ChannelId, Instant>,
    /// Sends run in order on a worker so the socket keeps flowing meanwhile.
    sends: Option<mpsc::Sender<(Option<String>, ChannelId, SendMessage)>>,
    replies: mpsc::Sender<Message>,
    /// This tab's part in a meeting.
    meeting: Session,
}

/// One connection's task. The steps with large futures (authentication, replay, frame
/// handling, hang-up) are boxed: a task is as large as its largest await, and idle
/// connections, thousands of them, would all carry that size.
async fn serve(mut socket: WebSocket, state: AppState) {
    let first = match timeout(AUTH_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<ClientFrame>(&t).ok(),
        _ => None,
    };
    let Some(ClientFrame::Auth { id, token, resume }) = first else {
        let _ = socket
            .send(close(CLOSE_AUTH_FAILED, "first frame must be auth"))
            .await;
        return;
    };
    // A meeting guest's token opens a connection that only speaks meeting frames.
    if let Some(guest) = crate::meetings::guests::verify(&state.tokens, &token) {
        Box::pin(super::guest::serve(socket, state, id, guest)).await;
        return;
    }
    let user = match Box::pin(authenticate(&state, &token)).await {
        Ok(u) => u,
        Err(e) => {
            let _ = socket.send(error_frame(id.as_deref(), &e)).await;
            let _ = socket
                .send(close(CLOSE_AUTH_FAILED, "authentication failed"))
                .await;
            return;
        }
    };
    // Register before replaying, so nothing published meanwhile is missed; the replay
    // filter drops what both paths deliver.
    let connected = state.bus.hub().register(user.user_id, user.session_id);
    let (replies_tx, mut replies) = mpsc::channel(MAX_PENDING_SENDS);
    let mut conn = Conn {
        state: state.clone(),
        user,
        conn_id: connected.registration.id(),
        replayed: HashMap::new(),
        last_typing: HashMap::new(),
        sends: None,
        replies: replies_tx,
        meeting: Session::default(),
    };
    if connected.presence_changed {
        state
            .bus
            .publish(Delivery::Presence { user: user.user_id })
            .await;
    }
    if socket
        .send(Message::Text(ServerFrame::ok(id.as_deref()).text()))
        .await
        .is_err()
    {
        return;
    }
    if let Some(positions) = resume
        && Box::pin(conn.replay(&mut socket, &positions))
            .await
            .is_err()
    {
        return;
    }
    let mut events = connected.events;
    let mut control = connected.control;
    let mut ticker = interval(PING_EVERY);
    ticker.reset();
    let mut last_heard = Instant::now();
    let mut window_start = Instant::now();
    let mut frames_in_window = 0u32;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(msg)) = incoming else { break };
                last_heard = Instant::now();
                if window_start.elapsed() >= Duration::from_secs(1) {
                    window_start = Instant::now();
                    frames_in_window = 0;
                }
                frames_in_window += 1;
                if frames_in_window > MAX_FRAMES_PER_SEC {
                    send_timed(&mut socket, close(CLOSE_POLICY, "too many frames")).await;
                    break;
                }
                match msg {
                    Message::Text(t) => {
                        if Box::pin(conn.handle(&mut socket, &t)).await.is_err() {
                            break;
                        }
                    }
                    Message::Binary(_) => {
                        send_timed(&mut socket, close(CLOSE_POLICY, "binary frames are not supported")).await;
                        break;
                    }
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            Some(Control::Close(code, reason)) = control.recv() => {
                send_timed(&mut socket, close(code, reason)).await;
                break;
            }
            Some(event) = events.recv() => {
                // Send what is queued in one flush. A client that stops reading would
                // block the flush forever: give up on it after SEND_TIMEOUT.
                let flushed = timeout(SEND_TIMEOUT, async {
                    let mut next = Some(event);
                    while let Some(e) = next {
                        if conn.wanted(&e) {
                            socket.feed(Message::Text(e.frame)).await?;
                        }
                        next = events.try_recv().ok();
                    }
                    socket.flush().await
                })
                .await;
                if !matches!(flushed, Ok(Ok(()))) {
                    break;
                }
            }
            Some(reply) = replies.recv() => {
                if !send_timed(&mut socket, reply).await {
                    break;
                }
            }
            event = super::guest::next_meeting_event(&mut conn.meeting) => {
                match event {
                    Some(frame) => {
                        if !send_timed(&mut socket, Message::Text(frame)).await {
                            break;
                        }
                    }
                    None => Box::pin(conn.meeting.events_closed(&state)).await,
                }
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > PING_EVERY * 3 {
                    send_timed(&mut socket, close(CLOSE_IDLE, "no answer to pings")).await;
                    break;
                }
                if !send_timed(&mut socket, Message::Text(ServerFrame::Ping.text())).await {
                    break;
                }
            }
        }
    }
    Box::pin(hang_up(&state, conn, connected.registration)).await;
}

/// After the socket closed: leave any meeting, drop the hub registration, and note
/// when the person was last seen if this was their last connection.
async fn hang_up(state: &AppState, mut conn: Conn, registration: super::hub::Registration) {
    conn.meeting.disconnected(state).await;
    let user_id = conn.user.user_id;
    let hub = state.bus.hub();
    let before = hub.presence(user_id);
    drop(registration);
    let after = hub.presence(user_id);
    if after == super::hub::Presence::Offline {
        let _ = db!(state.store.write(), c => sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()));
    }
    if before != after {
        state
            .bus
            .publish(Delivery::Presence { user: user_id })
            .await;
    }
}

impl Conn {
    /// Drop live channel events already delivered by the replay.
    fn wanted(&self, event: &Outbound) -> bool {
        match event.channel {
            Some((channel, seq)) => self.replayed.get(&channel).is_none_or(|max| seq > *max),
            None => true,
        }
    }

    /// Send every message of these channels changed after the given positions.
    async fn replay(&mut self, socket: &mut WebSocket, positions: &Positions) -> Result<(), ()> {
        if positions.len() > MAX_RESUME_CHANNELS {
            let e = AppError::Validation(format!("resume at most {MAX_RESUME_CHANNELS} channels"));
            return if send_timed(socket, error_frame(None, &e)).await {
                Ok(())
            } else {
                Err(())
            };
        }
        for (channel, after) in positions {
            // Only channels the caller belongs to; others replay nothing.
            let member = ChannelAccess::load(&self.state.store, *channel, self.user.user_id).await;
            if !matches!(member, Ok(a) if a.is_member()) {
                continue;
            }
            let rows: Result<Vec<MessageRow>, sqlx::Error> = db!(self.state.store.read(), c => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM messages m WHERE m.channel_id = $1 AND m.version_seq > $2 ORDER BY m.version_seq LIMIT $3"
            )))
            .bind(*channel)
            .bind(*after)
            .bind(MAX_REPLAY + 1)
            .fetch_all(c)
            .await);
            let Ok(rows) = rows else { return Err(()) };
            if rows.len() as i64 > MAX_REPLAY {
                socket
                    .send(Message::Text(
                        ServerFrame::Resync {
                            channel_id: *channel,
                        }
                        .text(),
                    ))
                    .await
                    .map_err(|_| ())?;
                // Everything live is still wanted: the client reloads up to now.
                continue;
            }
            let Ok(messages) = load::hydrate(&self.state.store, rows).await else {
                return Err(());
            };
            let mut max = *after;
            for m in &messages {
                max = max.max(m.version);
                let frame = Event::Message {
                    channel_id: *channel,
                    seq: m.version,
                    message: m,
                }
                .frame();
                socket
                    .feed(Message::Text(frame.into()))
                    .await
                    .map_err(|_| ())?;
            }
            socket.flush().await.map_err(|_| ())?;
            self.replayed.insert(*channel, max);
        }
        Ok(())
    }

    /// Handle one client text frame. `Err` ends the connection.
    async fn handle(&mut self, socket: &mut WebSocket, text: &str) -> Result<(), ()> {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(f) => f,
            Err(_) if super::guest::is_meeting_frame(text) => {
                let reply = match serde_json::from_str::<MeetingFrame>(text) {
                    Ok(frame) => {
                        let caller = Caller::User(self.user.user_id);
                        Message::Text(self.meeting.handle(&self.state, &caller, frame).await)
                    }
                    Err(e) => error_frame(
                        None,
                        &AppError::BadRequest(format!("unrecognised frame: {e}")),
                    ),
                };
                return if send_timed(socket, reply).await {
                    Ok(())
                } else {
                    Err(())
                };
            }
            Err(e) => {
                let e = AppError::BadRequest(format!("unrecognised frame: {e}"));
                return if send_timed(socket, error_frame(None, &e)).await {
                    Ok(())
                } else {
                    Err(())
                };
            }
        };
        let reply = match frame {
            ClientFrame::Pong => None,
            ClientFrame::Ping { id } => Some(Message::Text(
                ServerFrame::Pong { id: id.as_deref() }.text(),
            )),
            ClientFrame::Auth { id, .. } => Some(error_frame(
                id.as_deref(),
                &AppError::BadRequest("already authenticated".into()),
            )),
            ClientFrame::Resume { id, positions } => {
                self.replay(socket, &positions).await?;
                Some(Message::Text(ServerFrame::ok(id.as_deref()).text()))
            }
            ClientFrame::Send {
                id,
                channel_id,
                message,
            } => {
                self.queue_send(id, channel_id, message);
                None
            }
            ClientFrame::Read {
                id,
                channel_id,
                seq,
            } => Some(
                match receipts::mark_read(&self.state.chat, self.user.user_id, channel_id, seq)
                    .await
                {
                    Ok(seq) => Message::Text(
                        ServerFrame::Ok {
                            id: id.as_deref(),
                            message: None,
                            seq: Some(seq),
                            presence: None,
                        }
                        .text(),
                    ),
                    Err(e) => error_frame(id.as_deref(), &e),
                },
            ),
            ClientFrame::Typing {
                channel_id,
                thread_root_id,
            } => {
                self.typing(channel_id, thread_root_id).await;
                None
            }
            ClientFrame::PresenceSubscribe { id, user_ids } => {
                Some(self.subscribe_presence(id.as_deref(), user_ids).await)
            }
            ClientFrame::Away { away } => {
                let hub = self.state.bus.hub();
                if hub.set_away(self.user.user_id, self.conn_id, away) {
                    self.state
                        .bus
                        .publish(Delivery::Presence {
                            user: self.user.user_id,
                        })
                        .await;
                }
                None
            }
        };
        match reply {
            Some(r) => {
                if send_timed(socket, r).await {
                    Ok(())
                } else {
                    Err(())
                }
            }
            None => Ok(()),
        }
    }

    fn queue_send(&mut self, id: Option<String>, channel: ChannelId, message: SendMessage) {
        let sends = self.sends.get_or_insert_with(|| {
            let (tx, mut rx) =
                mpsc::channel::<(Option<String>, ChannelId, SendMessage)>(MAX_PENDING_SENDS);
            let chat = self.state.chat.clone();
            let user = self.user.user_id;
            let replies = self.replies.clone();
            tokio::spawn(async move {
                while let Some((id, channel, message)) = rx.recv().await {
                    let reply = match messages::send(&chat, user, channel, message).await {
                        Ok(m) => Message::Text(
                            ServerFrame::Ok {
                                id: id.as_deref(),
                                message: Some(&m),
                                seq: Some(m.seq),
                                presence: None,
                            }
                            .text(),
                        ),
                        Err(e) => error_frame(id.as_deref(), &e),
                    };
                    if replies.send(reply).await.is_err() {
                        break;
                    }
                }
            });
            tx
        });
        if let Err(
            mpsc::error::TrySendError::Full((id, _, _))
            | mpsc::error::TrySendError::Closed((id, _, _)),
        ) = sends.try_send((id, channel, message))
        {
            let e = AppError::RateLimited(1);
            let _ = self.replies.try_send(error_frame(id.as_deref(), &e));
        }
    }

    async fn typing(
        &mut self,
        channel: ChannelId,
        thread_root_id: Option<crate::store::ids::MessageId>,
    ) {
        let now = Instant::now();
        if self
            .last_typing
            .get(&channel)
            .is_some_and(|t| now.duration_since(*t) < TYPING_EVERY)
        {
            return;
        }
        self.last_typing.insert(channel, now);
        let members = self.state.bus.members(channel).await;
        if !members.contains(&self.user.user_id) {
            return;
        }
        let event = Event::Typing {
            channel_id: channel,
            user_id: self.user.user_id,
            thread_root_id,
            expires_in_ms: 6000,
        };
        events::to_channel(&self.state.bus, channel, event).await;
    }

    async fn subscribe_presence(&mut self, id: Option<&str>, users: Vec<UserId>) -> Message {
        if users.len() > 500 {
            return error_frame(
                id,
                &AppError::Validation("subscribe to at most 500 people".into()),
            );
        }
        let visible: AppResult<Vec<UserId>> =
            visible_people(&self.state, self.user.user_id, &users).await;
        match visible {
            Ok(users) => {
                let hub = self.state.bus.hub();
                hub.watch_presence(self.conn_id, self.user.user_id, &users);
                let states: Vec<PresenceState> = users
                    .iter()
                    .map(|u| PresenceState {
                        user_id: *u,
                        status: hub.presence(*u),
                    })
                    .collect();
                Message::Text(
                    ServerFrame::Ok {
                        id,
                        message: None,
                        seq: None,
                        presence: Some(&states),
                    }
                    .text(),
                )
            }
            Err(e) => error_frame(id, &e),
        }
    }
}

/// The subset of `users` who share a workspace with `me`.
async fn visible_people(state: &AppState, me: UserId, users: &[UserId]) -> AppResult<Vec<UserId>> {
    if users.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT DISTINCT m2.user_id FROM memberships m1 JOIN memberships m2 ON m1.workspace_id = m2.workspace_id
         WHERE m1.user_id = $1 AND m2.user_id IN ({})",
        load::placeholders(2, users.len())
    );
    Ok(db!(state.store.read(), c => {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(me);
        for u in users {
            q = q.bind(*u);
        }
        q.fetch_all(c).await
    })?)
}
