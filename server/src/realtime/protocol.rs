//! Frames of the websocket protocol (see `docs/PROTOCOL.md`).

use std::collections::HashMap;

use axum::extract::ws::Utf8Bytes;
use serde::{Deserialize, Serialize};

use super::hub::Presence;
use crate::chat::messages::SendMessage;
use crate::chat::model::Message;
use crate::store::ids::{ChannelId, MessageId, UserId};

/// Close code: the session was revoked or the account deactivated. Do not reconnect.
pub const CLOSE_SESSION_ENDED: u16 = 4001;
/// Close code: the first frame was not a valid `auth`; refresh the token and reconnect.
pub const CLOSE_AUTH_FAILED: u16 = 4003;
/// Close code: no answer to pings.
pub const CLOSE_IDLE: u16 = 4008;
/// Close code: the client did not read its events fast enough; reconnect and resume.
pub const CLOSE_TOO_SLOW: u16 = 4009;
/// Close code: the client broke the protocol (bad frame, too many frames).
pub const CLOSE_POLICY: u16 = 1008;

/// Positions a client has seen, per channel.
pub type Positions = HashMap<ChannelId, i64>;

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum ClientFrame {
    /// Must be the first frame. `resume` replays what changed after these positions.
    #[serde(rename = "auth")]
    Auth {
        id: Option<String>,
        token: String,
        #[serde(default)]
        resume: Option<Positions>,
    },
    /// Replay what changed in these channels after these positions.
    #[serde(rename = "resume")]
    Resume {
        id: Option<String>,
        positions: Positions,
    },
    /// Post a message; answered with `ok` carrying the stored message.
    #[serde(rename = "send")]
    Send {
        id: Option<String>,
        channel_id: ChannelId,
        message: SendMessage,
    },
    /// I have read this channel up to `seq`.
    #[serde(rename = "read")]
    Read {
        id: Option<String>,
        channel_id: ChannelId,
        seq: i64,
    },
    /// I am typing in this channel (or thread).
    #[serde(rename = "typing")]
    Typing {
        channel_id: ChannelId,
        thread_root_id: Option<MessageId>,
    },
    /// Send me presence changes of these people (replaces the previous list).
    #[serde(rename = "presence.subscribe")]
    PresenceSubscribe {
        id: Option<String>,
        user_ids: Vec<UserId>,
    },
    /// This tab is idle or hidden (`true`) or back (`false`).
    #[serde(rename = "away")]
    Away { away: bool },
    /// Answer to a server `ping`.
    #[serde(rename = "pong")]
    Pong,
    /// Client keepalive; answered with `pong`.
    #[serde(rename = "ping")]
    Ping { id: Option<String> },
}

/// A reply or control frame from the server (chat events are in `chat::events`).
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ServerFrame<'a> {
    #[serde(rename = "ok")]
    Ok {
        id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<&'a Message>,
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        presence: Option<&'a [PresenceState]>,
    },
    #[serde(rename = "error")]
    Error {
        id: Option<&'a str>,
        code: &'a str,
        message: &'a str,
    },
    #[serde(rename = "ping")]
    Ping,
    #[serde(rename = "pong")]
    Pong { id: Option<&'a str> },
    /// Too much changed in this channel to replay: reload it over REST.
    #[serde(rename = "resync")]
    Resync { channel_id: ChannelId },
}

impl ServerFrame<'_> {
    pub fn ok(id: Option<&str>) -> ServerFrame<'_> {
        ServerFrame::Ok {
            id,
            message: None,
            seq: None,
            presence: None,
        }
    }

    pub fn text(&self) -> Utf8Bytes {
        // Serialising these plain enums cannot fail.
        serde_json::to_string(self).unwrap_or_default().into()
    }
}

/// One person's presence.
#[derive(Debug, Serialize)]
pub struct PresenceState {
    pub user_id: UserId,
    pub status: Presence,
}

/// `{"type": "presence", "user_id", "status"}`.
pub fn presence_frame(user: UserId, status: Presence) -> Utf8Bytes {
    #[derive(Serialize)]
    struct Frame {
        r#type: &'static str,
        user_id: UserId,
        status: Presence,
    }
    serde_json::to_string(&Frame {
        r#type: "presence",
        user_id: user,
        status,
    })
    .unwrap_or_default()
    .into()
}
