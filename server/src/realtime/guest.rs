//! The websocket of a meeting guest: authenticated by a guest token, it carries only
//! `meeting.*` frames (and keepalive) for that one meeting.

use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use tokio::time::{Instant, interval};

use super::gateway::{MAX_FRAMES_PER_SEC, PING_EVERY, close, error_frame, send_timed};
use super::protocol::{CLOSE_IDLE, CLOSE_POLICY, ServerFrame};
use crate::AppState;
use crate::error::AppError;
use crate::meetings::guests::Guest;
use crate::meetings::signal::{Caller, MeetingFrame, Session};

/// Is this a `meeting.*` frame (by its `type`)?
pub fn is_meeting_frame(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(borrow, rename = "type")]
        kind: &'a str,
    }
    serde_json::from_str::<Kind<'_>>(text).is_ok_and(|k| k.kind.starts_with("meeting."))
}

/// The next event for this tab's participant; pends while not in a meeting.
/// `None`: the router let the participant go.
pub async fn next_meeting_event(session: &mut Session) -> Option<Utf8Bytes> {
    match session.events.as_mut() {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// Serve a guest's websocket after a valid `auth` frame.
pub async fn serve(mut socket: WebSocket, state: AppState, auth_id: Option<String>, guest: Guest) {
    if !send_timed(
        &mut socket,
        Message::Text(ServerFrame::ok(auth_id.as_deref()).text()),
    )
    .await
    {
        return;
    }
    let caller = Caller::Guest(guest);
    let mut session = Session::default();
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
                let reply = match msg {
                    Message::Text(text) => reply(&state, &caller, &mut session, &text).await,
                    Message::Binary(_) => {
                        send_timed(&mut socket, close(CLOSE_POLICY, "binary frames are not supported")).await;
                        break;
                    }
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => None,
                };
                if let Some(r) = reply
                    && !send_timed(&mut socket, r).await
                {
                    break;
                }
            }
            event = next_meeting_event(&mut session) => {
                match event {
                    Some(frame) => {
                        if !send_timed(&mut socket, Message::Text(frame)).await {
                            break;
                        }
                    }
                    None => session.events_closed(&state).await,
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
    session.disconnected(&state).await;
}

async fn reply(
    state: &AppState,
    caller: &Caller,
    session: &mut Session,
    text: &str,
) -> Option<Message> {
    #[derive(serde::Deserialize)]
    #[serde(tag = "type")]
    enum Keepalive {
        #[serde(rename = "ping")]
        Ping { id: Option<String> },
        #[serde(rename = "pong")]
        Pong,
    }
    if is_meeting_frame(text) {
        return Some(match serde_json::from_str::<MeetingFrame>(text) {
            Ok(frame) => Message::Text(session.handle(state, caller, frame).await),
            Err(e) => error_frame(
                None,
                &AppError::BadRequest(format!("unrecognised frame: {e}")),
            ),
        });
    }
    match serde_json::from_str::<Keepalive>(text) {
        Ok(Keepalive::Ping { id }) => Some(Message::Text(
            ServerFrame::Pong { id: id.as_deref() }.text(),
        )),
        Ok(Keepalive::Pong) => None,
        Err(_) => {
            #[derive(serde::Deserialize)]
            struct Named {
                id: Option<String>,
            }
            let id = serde_json::from_str::<Named>(text).ok().and_then(|n| n.id);
            Some(error_frame(
                id.as_deref(),
                &AppError::Forbidden("a meeting guest may only send meeting frames".into()),
            ))
        }
    }
}
