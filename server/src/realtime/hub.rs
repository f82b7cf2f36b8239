//! The hub: every live websocket connection on this node, by user, with a bounded
//! outbound queue each. Events are serialised once and shared by all recipients; a
//! connection whose queue is full is too slow to keep up and is closed (it resumes on
//! reconnect), so it never stalls fan-out to the others.
//!
//! The hub also caches channel member lists (for routing) and tracks presence.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;

use super::protocol::{CLOSE_SESSION_ENDED, CLOSE_TOO_SLOW};
use crate::store::ids::{ChannelId, SessionId, UserId};

/// An instruction to one connection's task that must get through even when its
/// event queue is full.
#[derive(Debug, Clone, Copy)]
pub enum Control {
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// An event for a connection: the serialised frame, and for channel events the
/// channel and sequence (so a resuming connection can drop what it already replayed).
#[derive(Debug, Clone)]
pub struct Outbound {
    pub channel: Option<(ChannelId, i64)>,
    pub frame: Utf8Bytes,
}

struct Conn {
    id: u64,
    session: SessionId,
    events: mpsc::Sender<Outbound>,
    control: mpsc::Sender<Control>,
    away: bool,
}

/// Presence of a user on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Online,
    Away,
    Offline,
}

/// Cheap-clone handle to the registry.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    next_id: AtomicU64,
    queue_len: usize,
    users: RwLock<HashMap<UserId, Vec<Conn>>>,
    members: RwLock<HashMap<ChannelId, Arc<[UserId]>>>,
    /// Bumped on every invalidation, so a load that raced with one is not cached.
    members_generation: AtomicU64,
    /// Who watches whose presence: watched user → (watcher connection id, watcher user).
    watchers: Mutex<HashMap<UserId, HashSet<(u64, UserId)>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new(1024)
    }
}

/// Removes the connection from the hub when the connection task ends.
pub struct Registration {
    hub: Hub,
    user: UserId,
    id: u64,
}

impl Registration {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.user, self.id);
    }
}

/// What a new connection gets from the hub.
pub struct Connected {
    pub registration: Registration,
    pub events: mpsc::Receiver<Outbound>,
    pub control: mpsc::Receiver<Control>,
    /// The user's presence changed (first connection): tell watchers.
    pub presence_changed: bool,
}

impl Hub {
    /// A hub whose connections queue at most `queue_len` events.
    pub fn new(queue_len: usize) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                next_id: AtomicU64::new(1),
                queue_len: queue_len.max(1),
                users: RwLock::new(HashMap::new()),
                members: RwLock::new(HashMap::new()),
                members_generation: AtomicU64::new(0),
                watchers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Register a live connection; it stays registered until the guard drops.
    pub fn register(&self, user: UserId, session: SessionId) -> Connected {
        let (events_tx, events) = mpsc::channel(self.inner.queue_len);
        let (control_tx, control) = mpsc::channel(4);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut presence_changed = false;
        if let Ok(mut users) = self.inner.users.write() {
            let conns = users.entry(user).or_default();
            presence_changed = conns.iter().all(|c| c.away);
            conns.push(Conn {
                id,
                session,
                events: events_tx,
                control: control_tx,
                away: false,
            });
        }
        metrics::gauge!("convene_ws_connections").increment(1.0);
        Connected {
            registration: Registration {
                hub: self.clone(),
                user,
                id,
            },
            events,
            control,
            presence_changed,
        }
    }

    fn unregister(&self, user: UserId, id: u64) {
        if let Ok(mut users) = self.inner.users.write()
            && let Some(conns) = users.get_mut(&user)
        {
            conns.retain(|c| c.id != id);
            if conns.is_empty() {
                users.remove(&user);
            }
        }
        if let Ok(mut watchers) = self.inner.watchers.lock() {
            for set in watchers.values_mut() {
                set.retain(|(conn, _)| *conn != id);
            }
            watchers.retain(|_, set| !set.is_empty());
        }
        metrics::gauge!("convene_ws_connections").decrement(1.0);
    }

    /// Queue `event` on every connection of `user`; close those that are too slow.
    pub fn send_to_user(&self, user: UserId, event: &Outbound) {
        let Ok(users) = self.inner.users.read() else {
            return;
        };
        if let Some(conns) = users.get(&user) {
            for conn in conns {
                push(conn, event);
            }
        }
    }

    /// Queue `event` for every member of `channel` connected here.
    pub fn send_to_members(&self, members: &[UserId], event: &Outbound) {
        let Ok(users) = self.inner.users.read() else {
            return;
        };
        for user in members {
            if let Some(conns) = users.get(user) {
                for conn in conns {
                    push(conn, event);
                }
            }
        }
    }

    /// Cached member list of a channel, if known.
    pub fn cached_members(&self, channel: ChannelId) -> Option<Arc<[UserId]>> {
        self.inner.members.read().ok()?.get(&channel).cloned()
    }

    /// The current cache generation; pass it back to [`Hub::cache_members`].
    pub fn members_generation(&self) -> u64 {
        self.inner.members_generation.load(Ordering::Acquire)
    }

    /// Cache a member list loaded when the generation was `generation`, unless an
    /// invalidation happened since.
    pub fn cache_members(&self, channel: ChannelId, members: Arc<[UserId]>, generation: u64) {
        if let Ok(mut m) = self.inner.members.write()
            && self.members_generation() == generation
        {
            m.insert(channel, members);
        }
    }

    /// Forget a channel's member list (membership changed).
    pub fn invalidate_members(&self, channel: ChannelId) {
        if let Ok(mut m) = self.inner.members.write() {
            self.inner.members_generation.fetch_add(1, Ordering::AcqRel);
            m.remove(&channel);
        }
    }

    fn close_where(&self, pred: impl Fn(UserId, &Conn) -> bool, code: u16, reason: &'static str) {
        let Ok(users) = self.inner.users.read() else {
            return;
        };
        for (user, conns) in users.iter() {
            for conn in conns.iter().filter(|c| pred(*user, c)) {
                // A full control queue means a close is already pending.
                let _ = conn.control.try_send(Control::Close(code, reason));
            }
        }
    }

    /// Close every connection of this session.
    pub fn disconnect_session(&self, session: SessionId) {
        self.close_where(
            |_, c| c.session == session,
            CLOSE_SESSION_ENDED,
            "session ended",
        );
    }

    /// Close every connection of this user.
    pub fn disconnect_user(&self, user: UserId) {
        self.close_where(|u, _| u == user, CLOSE_SESSION_ENDED, "account deactivated");
    }

    /// Close every connection (shutdown).
    pub fn disconnect_all(&self) {
        self.close_where(|_, _| true, 1001, "server shutting down");
    }

    /// Number of live connections on this node.
    pub fn len(&self) -> usize {
        self.inner
            .users
            .read()
            .map(|u| u.values().map(Vec::len).sum())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The user's presence as seen from this node.
    pub fn presence(&self, user: UserId) -> Presence {
        let Ok(users) = self.inner.users.read() else {
            return Presence::Offline;
        };
        match users.get(&user) {
            None => Presence::Offline,
            Some(conns) if conns.iter().all(|c| c.away) => Presence::Away,
            Some(_) => Presence::Online,
        }
    }

    /// Mark one connection away or back; true when the user's presence changed.
    pub fn set_away(&self, user: UserId, conn_id: u64, away: bool) -> bool {
        let before = self.presence(user);
        if let Ok(mut users) = self.inner.users.write()
            && let Some(conn) = users
                .get_mut(&user)
                .and_then(|c| c.iter_mut().find(|c| c.id == conn_id))
        {
            conn.away = away;
        }
        before != self.presence(user)
    }

    /// Let connection `conn_id` of `watcher` receive presence changes of `users`.
    pub fn watch_presence(&self, conn_id: u64, watcher: UserId, users: &[UserId]) {
        if let Ok(mut w) = self.inner.watchers.lock() {
            for set in w.values_mut() {
                set.retain(|(c, _)| *c != conn_id);
            }
            for u in users {
                w.entry(*u).or_default().insert((conn_id, watcher));
            }
            w.retain(|_, set| !set.is_empty());
        }
    }

    /// Connections watching `user`'s presence, as (user, connection id).
    fn watchers_of(&self, user: UserId) -> Vec<(u64, UserId)> {
        self.inner
            .watchers
            .lock()
            .map(|w| {
                w.get(&user)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    /// Send `user`'s current presence to everyone watching it on this node.
    pub fn notify_presence(&self, user: UserId) {
        let watchers = self.watchers_of(user);
        if watchers.is_empty() {
            return;
        }
        let frame = super::protocol::presence_frame(user, self.presence(user));
        let event = Outbound {
            channel: None,
            frame,
        };
        let Ok(users) = self.inner.users.read() else {
            return;
        };
        for (conn_id, watcher) in watchers {
            if let Some(conn) = users
                .get(&watcher)
                .and_then(|c| c.iter().find(|c| c.id == conn_id))
            {
                push(conn, &event);
            }
        }
    }
}

fn push(conn: &Conn, event: &Outbound) {
    match conn.events.try_send(event.clone()) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            metrics::counter!("convene_ws_slow_consumers_total").increment(1);
            let _ = conn.control.try_send(Control::Close(
                CLOSE_TOO_SLOW,
                "too slow; reconnect and resume",
            ));
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &'static str) -> Outbound {
        Outbound {
            channel: None,
            frame: Utf8Bytes::from_static(s),
        }
    }

    #[tokio::test]
    async fn disconnecting_a_user_reaches_only_their_connections() {
        let hub = Hub::default();
        let (a, b) = (UserId::new(), UserId::new());
        let ca = hub.register(a, SessionId::new());
        let mut cb = hub.register(b, SessionId::new());
        let mut ca_control = ca.control;
        hub.disconnect_user(a);
        assert!(matches!(ca_control.try_recv(), Ok(Control::Close(4001, _))));
        assert!(cb.control.try_recv().is_err());
        assert_eq!(hub.len(), 2);
        drop(ca.registration);
        assert_eq!(hub.len(), 1);
    }

    #[tokio::test]
    async fn a_full_queue_closes_only_the_slow_connection() {
        let hub = Hub::new(2);
        let (slow, fast) = (UserId::new(), UserId::new());
        let mut s = hub.register(slow, SessionId::new());
        let mut f = hub.register(fast, SessionId::new());
        for _ in 0..3 {
            hub.send_to_members(&[slow, fast], &frame("x"));
            // The fast consumer keeps reading.
            assert!(f.events.try_recv().is_ok());
        }
        assert!(matches!(
            s.control.try_recv(),
            Ok(Control::Close(CLOSE_TOO_SLOW, _))
        ));
        assert!(f.control.try_recv().is_err());
        assert_eq!(
            s.events
                .try_recv()
                .map(|e| e.frame.to_string())
                .ok()
                .as_deref(),
            Some("x")
        );
    }

    #[tokio::test]
    async fn presence_follows_connections_and_away_flags() {
        let hub = Hub::default();
        let u = UserId::new();
        assert_eq!(hub.presence(u), Presence::Offline);
        let c1 = hub.register(u, SessionId::new());
        assert!(c1.presence_changed);
        let c2 = hub.register(u, SessionId::new());
        assert!(!c2.presence_changed);
        assert!(!hub.set_away(u, c1.registration.id(), true));
        assert!(hub.set_away(u, c2.registration.id(), true));
        assert_eq!(hub.presence(u), Presence::Away);
        drop(c1);
        drop(c2);
        assert_eq!(hub.presence(u), Presence::Offline);
    }
}
