//! Realtime events of chat, serialised once and handed to the bus.

use serde::Serialize;

use crate::chat::model::Message;
use crate::realtime::bus::{Bus, Delivery};
use crate::store::ids::{ChannelId, UserId, WorkspaceId};

/// A chat event as sent on the websocket (see `docs/PROTOCOL.md`).
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum Event<'a> {
    /// A message was posted or changed; `seq` is its position in the channel.
    #[serde(rename = "message")]
    Message {
        channel_id: ChannelId,
        seq: i64,
        message: &'a Message,
    },
    /// `user_id` has read `channel_id` up to `seq`.
    #[serde(rename = "read")]
    Read {
        channel_id: ChannelId,
        user_id: UserId,
        seq: i64,
    },
    /// `user_id` is typing; forget it after `expires_in_ms`.
    #[serde(rename = "typing")]
    Typing {
        channel_id: ChannelId,
        user_id: UserId,
        thread_root_id: Option<crate::store::ids::MessageId>,
        expires_in_ms: u64,
    },
    /// A channel's name, topic, archive state or member count changed: refetch it.
    #[serde(rename = "channel.updated")]
    ChannelUpdated {
        channel_id: ChannelId,
        workspace_id: WorkspaceId,
    },
    /// I was added to a channel: fetch it.
    #[serde(rename = "channel.joined")]
    ChannelJoined {
        channel_id: ChannelId,
        workspace_id: WorkspaceId,
    },
    /// I left or was removed from a channel.
    #[serde(rename = "channel.left")]
    ChannelLeft {
        channel_id: ChannelId,
        workspace_id: WorkspaceId,
    },
    /// `user_id` acknowledged my DING message.
    #[serde(rename = "ack")]
    Ack {
        channel_id: ChannelId,
        message_id: crate::store::ids::MessageId,
        user_id: UserId,
    },
    /// Reminder of a message that asks me to acknowledge it.
    #[serde(rename = "ding")]
    Ding { message: &'a Message },
}

impl Event<'_> {
    pub fn frame(&self) -> String {
        // These plain structs always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Publish a posted or changed message to the channel's members.
pub async fn message(bus: &Bus, message: &Message) {
    let frame = Event::Message {
        channel_id: message.channel_id,
        seq: message.version,
        message,
    }
    .frame();
    bus.publish(Delivery::Channel {
        channel: message.channel_id,
        seq: Some(message.version),
        frame,
    })
    .await;
}

/// Publish an unsequenced event to a channel's members.
pub async fn to_channel(bus: &Bus, channel: ChannelId, event: Event<'_>) {
    bus.publish(Delivery::Channel {
        channel,
        seq: None,
        frame: event.frame(),
    })
    .await;
}

/// Publish an event to some users' connections.
pub async fn to_users(bus: &Bus, users: Vec<UserId>, event: Event<'_>) {
    if !users.is_empty() {
        bus.publish(Delivery::Users {
            users,
            frame: event.frame(),
        })
        .await;
    }
}
