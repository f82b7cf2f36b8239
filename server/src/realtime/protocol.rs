//! Frames of the websocket protocol (see `docs/PROTOCOL.md`).

use serde::{Deserialize, Serialize};

/// Close code: the session was revoked or the account deactivated. Do not reconnect.
pub const CLOSE_SESSION_ENDED: u16 = 4001;
/// Close code: the first frame was not a valid `auth`; refresh the token and reconnect.
pub const CLOSE_AUTH_FAILED: u16 = 4003;
/// Close code: the client broke the protocol (bad frame, too many frames).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code: no answer to pings.
pub const CLOSE_IDLE: u16 = 4008;

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Must be the first frame.
    Auth { id: Option<String>, token: String },
    /// Answer to a server `ping`.
    Pong,
    /// Client-initiated keepalive; answered with `pong`.
    Ping { id: Option<String> },
}

/// A frame from the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Ok {
        id: Option<&'a str>,
    },
    Error {
        id: Option<&'a str>,
        code: &'a str,
        message: &'a str,
    },
    Ping,
    Pong {
        id: Option<&'a str>,
    },
}

impl ServerFrame<'_> {
    pub fn to_text(&self) -> String {
        // Serialising these plain enums cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
