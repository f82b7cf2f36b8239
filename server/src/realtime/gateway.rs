//! `/api/ws`: one websocket per client tab. The first frame authenticates (no token in
//! the URL, so none in access logs); then the server pings, answers pings, and closes
//! the socket when the hub says the session has ended.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::time::{Instant, interval, timeout};

use super::hub::Control;
use super::protocol::{CLOSE_AUTH_FAILED, CLOSE_IDLE, CLOSE_POLICY, ClientFrame, ServerFrame};
use crate::AppState;
use crate::auth::current_user::authenticate;

/// Largest accepted client frame.
const MAX_FRAME: usize = 64 * 1024;
/// Time allowed for the auth frame.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Server ping interval; a client silent for three intervals is closed.
const PING_EVERY: Duration = Duration::from_secs(25);
/// Frames a client may send per second before it is cut off.
const MAX_FRAMES_PER_SEC: u32 = 50;

/// Upgrade to the realtime websocket.
pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    // Small buffers: an idle connection should cost a few KiB, not tungstenite's defaults.
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| serve(socket, state))
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

fn text(frame: ServerFrame<'_>) -> Message {
    Message::Text(frame.to_text().into())
}

async fn serve(mut socket: WebSocket, state: AppState) {
    let first = match timeout(AUTH_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<ClientFrame>(&t).ok(),
        _ => None,
    };
    let (id, token) = match first {
        Some(ClientFrame::Auth { id, token }) => (id, token),
        _ => {
            let _ = socket
                .send(close(CLOSE_AUTH_FAILED, "first frame must be auth"))
                .await;
            return;
        }
    };
    let user = match authenticate(&state, &token).await {
        Ok(u) => u,
        Err(e) => {
            let message = e.to_string();
            let _ = socket
                .send(text(ServerFrame::Error {
                    id: id.as_deref(),
                    code: e.code(),
                    message: &message,
                }))
                .await;
            let _ = socket
                .send(close(CLOSE_AUTH_FAILED, "authentication failed"))
                .await;
            return;
        }
    };
    let (_registration, mut control) = state.hub.register(user.user_id, user.session_id);
    if socket
        .send(text(ServerFrame::Ok { id: id.as_deref() }))
        .await
        .is_err()
    {
        return;
    }

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
                    let _ = socket.send(close(CLOSE_POLICY, "too many frames")).await;
                    break;
                }
                match msg {
                    Message::Text(t) => {
                        let reply = match serde_json::from_str::<ClientFrame>(&t) {
                            Ok(ClientFrame::Pong) => None,
                            Ok(ClientFrame::Ping { id }) => Some(text(ServerFrame::Pong { id: id.as_deref() })),
                            Ok(ClientFrame::Auth { id, .. }) => Some(text(ServerFrame::Error {
                                id: id.as_deref(), code: "bad_request", message: "already authenticated",
                            })),
                            Err(e) => {
                                let message = format!("unrecognised frame: {e}");
                                Some(text(ServerFrame::Error { id: None, code: "bad_request", message: &message }))
                            }
                        };
                        if let Some(reply) = reply
                            && socket.send(reply).await.is_err()
                        {
                            break;
                        }
                    }
                    Message::Binary(_) => {
                        let _ = socket.send(close(CLOSE_POLICY, "binary frames are not supported")).await;
                        break;
                    }
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            Some(Control::Close(code, reason)) = control.recv() => {
                let _ = socket.send(close(code, reason)).await;
                break;
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > PING_EVERY * 3 {
                    let _ = socket.send(close(CLOSE_IDLE, "no answer to pings")).await;
                    break;
                }
                if socket.send(text(ServerFrame::Ping)).await.is_err() {
                    break;
                }
            }
        }
    }
}
