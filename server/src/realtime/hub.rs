//! The hub: a registry of live websocket connections by user and session, so that
//! revoking a session or deactivating a user closes their sockets at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::store::ids::{SessionId, UserId};

/// An instruction to one connection's task.
#[derive(Debug, Clone, Copy)]
pub enum Control {
    /// Close with this code and reason.
    Close(u16, &'static str),
}

struct Entry {
    user: UserId,
    session: SessionId,
    control: mpsc::Sender<Control>,
}

/// Cheap-clone handle to the registry.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: AtomicU64,
    connections: Mutex<HashMap<u64, Entry>>,
}

/// Removes the connection from the hub when the connection task ends.
pub struct Registration {
    hub: Hub,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut map) = self.hub.inner.connections.lock() {
            map.remove(&self.id);
        }
        metrics::gauge!("convene_ws_connections").decrement(1.0);
    }
}

impl Hub {
    /// Register a live connection; it stays registered until the guard drops.
    pub fn register(
        &self,
        user: UserId,
        session: SessionId,
    ) -> (Registration, mpsc::Receiver<Control>) {
        let (tx, rx) = mpsc::channel(4);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.inner.connections.lock() {
            map.insert(
                id,
                Entry {
                    user,
                    session,
                    control: tx,
                },
            );
        }
        metrics::gauge!("convene_ws_connections").increment(1.0);
        (
            Registration {
                hub: self.clone(),
                id,
            },
            rx,
        )
    }

    fn close_where(&self, pred: impl Fn(&Entry) -> bool, code: u16, reason: &'static str) {
        if let Ok(map) = self.inner.connections.lock() {
            for entry in map.values().filter(|e| pred(e)) {
                // A full control queue means a close is already pending.
                let _ = entry.control.try_send(Control::Close(code, reason));
            }
        }
    }

    /// Close every connection of this session.
    pub fn disconnect_session(&self, session: SessionId) {
        self.close_where(
            |e| e.session == session,
            super::protocol::CLOSE_SESSION_ENDED,
            "session ended",
        );
    }

    /// Close every connection of this user.
    pub fn disconnect_user(&self, user: UserId) {
        self.close_where(
            |e| e.user == user,
            super::protocol::CLOSE_SESSION_ENDED,
            "account deactivated",
        );
    }

    /// Close every connection (shutdown).
    pub fn disconnect_all(&self) {
        self.close_where(|_| true, 1001, "server shutting down");
    }

    /// Number of live connections.
    pub fn len(&self) -> usize {
        self.inner.connections.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn disconnecting_a_user_reaches_only_their_connections() {
        let hub = Hub::default();
        let (a, b) = (UserId::new(), UserId::new());
        let (_ga, mut ra) = hub.register(a, SessionId::new());
        let (_gb, mut rb) = hub.register(b, SessionId::new());
        hub.disconnect_user(a);
        assert!(matches!(ra.try_recv(), Ok(Control::Close(4001, _))));
        assert!(rb.try_recv().is_err());
        assert_eq!(hub.len(), 2);
        drop(_ga);
        assert_eq!(hub.len(), 1);
    }
}
