//! The bus carries deliveries to the hubs: in-process on one node. Code above the bus
//! does not know how many nodes there are.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;

use super::hub::{Hub, Outbound};
use crate::db;
use crate::store::Store;
use crate::store::ids::{ChannelId, SessionId, UserId};

/// Something to deliver to live connections.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// To every member of a channel; `seq` is set for sequenced channel events.
    Channel {
        channel: ChannelId,
        seq: Option<i64>,
        frame: Utf8Bytes,
    },
    /// To these users' connections.
    Users {
        users: Vec<UserId>,
        frame: Utf8Bytes,
    },
    /// A channel's membership changed: forget cached member lists.
    MembersChanged {
        channel: ChannelId,
    },
    /// Presence of this user may have changed.
    Presence {
        user: UserId,
    },
    DisconnectSession(SessionId),
    DisconnectUser(UserId),
}

/// Cheap-clone handle.
#[derive(Clone)]
pub struct Bus {
    hub: Hub,
    store: Store,
}

impl Bus {
    pub fn new(hub: Hub, store: Store) -> Bus {
        Bus { hub, store }
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Deliver everywhere it needs to go.
    pub async fn publish(&self, delivery: Delivery) {
        self.deliver_here(delivery).await;
    }

    /// Deliver to the connections of this node.
    async fn deliver_here(&self, delivery: Delivery) {
        match delivery {
            Delivery::Channel {
                channel,
                seq,
                frame,
            } => {
                let members = self.members(channel).await;
                let event = Outbound {
                    channel: seq.map(|s| (channel, s)),
                    frame,
                };
                self.hub.send_to_members(&members, &event);
            }
            Delivery::Users { users, frame } => {
                let event = Outbound {
                    channel: None,
                    frame,
                };
                for user in users {
                    self.hub.send_to_user(user, &event);
                }
            }
            Delivery::MembersChanged { channel } => self.hub.invalidate_members(channel),
            Delivery::Presence { user } => self.hub.notify_presence(user),
            Delivery::DisconnectSession(s) => self.hub.disconnect_session(s),
            Delivery::DisconnectUser(u) => self.hub.disconnect_user(u),
        }
    }

    /// Members of a channel, from the hub's cache or the database.
    pub async fn members(&self, channel: ChannelId) -> Arc<[UserId]> {
        if let Some(m) = self.hub.cached_members(channel) {
            return m;
        }
        let generation = self.hub.members_generation();
        let loaded: Result<Vec<UserId>, sqlx::Error> = db!(self.store.read(), c => sqlx::query_scalar(
            "SELECT user_id FROM channel_members WHERE channel_id = $1"
        )
        .bind(channel)
        .fetch_all(c)
        .await);
        match loaded {
            Ok(list) => {
                let list: Arc<[UserId]> = list.into();
                self.hub.cache_members(channel, list.clone(), generation);
                list
            }
            Err(e) => {
                tracing::error!(error = %e, "loading channel members for fan-out");
                Arc::from(Vec::new())
            }
        }
    }
}
