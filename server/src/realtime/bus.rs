//! The bus carries deliveries to the hubs: in-process on one node; with Redis, also to
//! every other node through one pub/sub channel. Code above the bus does not know how
//! many nodes there are.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::hub::{Hub, Outbound};
use crate::db;
use crate::store::Store;
use crate::store::ids::{ChannelId, SessionId, UserId};

/// The Redis pub/sub channel all nodes share.
const REDIS_CHANNEL: &str = "convene:bus";
/// Deliveries waiting to be published to Redis.
const PUBLISH_QUEUE: usize = 65_536;

/// Something to deliver to live connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    /// To every member of a channel; `seq` is set for sequenced channel events.
    Channel {
        channel: ChannelId,
        seq: Option<i64>,
        frame: String,
    },
    /// To these users' connections.
    Users {
        users: Vec<UserId>,
        frame: String,
    },
    /// A channel's membership changed: forget cached member lists.
    MembersChanged {
        channel: ChannelId,
    },
    /// Presence of this user may have changed.
    Presence {
        user: UserId,
    },
    DisconnectSession {
        session: SessionId,
    },
    DisconnectUser {
        user: UserId,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The node that published it (which has delivered it locally already).
    node: Uuid,
    delivery: Delivery,
}

/// Cheap-clone handle.
#[derive(Clone)]
pub struct Bus {
    hub: Hub,
    store: Store,
    node: Uuid,
    /// Deliveries to publish to the other nodes, when Redis is configured.
    remote: Option<mpsc::Sender<Delivery>>,
}

impl Bus {
    /// A bus for this node alone.
    pub fn local(hub: Hub, store: Store) -> Bus {
        Bus {
            hub,
            store,
            node: Uuid::now_v7(),
            remote: None,
        }
    }

    /// A bus that also reaches other nodes through Redis at `url`.
    pub async fn redis(hub: Hub, store: Store, url: &str) -> anyhow::Result<Bus> {
        let client = redis::Client::open(url)?;
        let publisher = client.get_connection_manager().await?;
        let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
        let bus = Bus {
            hub,
            store,
            node: Uuid::now_v7(),
            remote: Some(tx),
        };
        tokio::spawn(publish_loop(publisher, bus.node, rx));
        tokio::spawn(subscribe_loop(client, bus.clone()));
        Ok(bus)
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Deliver here at once, and to the other nodes when there are any.
    pub async fn publish(&self, delivery: Delivery) {
        if let Some(remote) = &self.remote
            && remote.send(delivery.clone()).await.is_err()
        {
            tracing::warn!("bus publisher stopped; delivering locally only");
        }
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
                    frame: Utf8Bytes::from(frame),
                };
                self.hub.send_to_members(&members, &event);
            }
            Delivery::Users { users, frame } => {
                let event = Outbound {
                    channel: None,
                    frame: Utf8Bytes::from(frame),
                };
                for user in users {
                    self.hub.send_to_user(user, &event);
                }
            }
            Delivery::MembersChanged { channel } => self.hub.invalidate_members(channel),
            Delivery::Presence { user } => self.hub.notify_presence(user),
            Delivery::DisconnectSession { session } => self.hub.disconnect_session(session),
            Delivery::DisconnectUser { user } => self.hub.disconnect_user(user),
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

async fn publish_loop(
    mut conn: redis::aio::ConnectionManager,
    node: Uuid,
    mut rx: mpsc::Receiver<Delivery>,
) {
    while let Some(delivery) = rx.recv().await {
        let Ok(payload) = serde_json::to_string(&Envelope { node, delivery }) else {
            continue;
        };
        // The connection manager reconnects by itself; a delivery lost while Redis is
        // down is recovered by clients through sequence numbers and resume.
        if let Err(e) = redis::cmd("PUBLISH")
            .arg(REDIS_CHANNEL)
            .arg(payload)
            .query_async::<()>(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "publishing to Redis failed");
        }
    }
}

async fn subscribe_loop(client: redis::Client, bus: Bus) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(e) = pubsub.subscribe(REDIS_CHANNEL).await {
                    tracing::warn!(error = %e, "subscribing to Redis failed");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        match serde_json::from_slice::<Envelope>(msg.get_payload_bytes()) {
                            Ok(env) if env.node != bus.node => bus.deliver_here(env.delivery).await,
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "bad message on the Redis bus"),
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "connecting to Redis for pub/sub failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
