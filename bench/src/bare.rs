//! The ceiling: a bare broadcast server on tokio-tungstenite (the websocket library
//! under axum 0.8), with no auth and no database. Every `send` frame is queued
//! verbatim to every connection. It is built like Convene's hub on purpose (a bounded
//! queue per connection, one task per connection that writes everything queued and
//! then flushes, slow consumers closed with 4009), so the difference between the two
//! is what Convene adds: authentication, validation, persistence, rendering, JSON.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Events queued per connection, as Convene's default `ws_queue_len`.
const QUEUE_LEN: usize = 1024;

struct Peer {
    events: mpsc::Sender<Utf8Bytes>,
    slow: mpsc::Sender<()>,
}

#[derive(Default)]
struct Hub {
    next_id: AtomicU64,
    peers: RwLock<HashMap<u64, Peer>>,
}

impl Hub {
    fn broadcast(&self, frame: &Utf8Bytes) {
        let Ok(peers) = self.peers.read() else { return };
        for peer in peers.values() {
            if let Err(mpsc::error::TrySendError::Full(_)) = peer.events.try_send(frame.clone()) {
                let _ = peer.slow.try_send(());
            }
        }
    }
}

/// `convene-bench bare-server`: serve until killed.
pub fn main(listen: &str) -> anyhow::Result<()> {
    crate::sys::raise_nofile()?;
    // The same runtime as `convene serve` (`#[tokio::main]`): one worker per core it may use.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(serve(listen))
}

async fn serve(listen: &str) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    println!("bare: listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let hub = Arc::new(Hub::default());
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(connection(stream, hub.clone()));
    }
}

async fn connection(stream: TcpStream, hub: Arc<Hub>) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (events_tx, mut events) = mpsc::channel(QUEUE_LEN);
    let (slow_tx, mut slow) = mpsc::channel(1);
    let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut peers) = hub.peers.write() {
        peers.insert(
            id,
            Peer {
                events: events_tx,
                slow: slow_tx,
            },
        );
    }
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    if t.starts_with(r#"{"type":"send""#) {
                        hub.broadcast(&t);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            Some(()) = slow.recv() => {
                let close = CloseFrame { code: CloseCode::Library(4009), reason: "too slow".into() };
                let _ = ws.send(Message::Close(Some(close))).await;
                break;
            }
            Some(event) = events.recv() => {
                // Write everything queued, then flush once.
                let mut next = Some(event);
                let mut failed = false;
                while let Some(e) = next {
                    if ws.feed(Message::Text(e)).await.is_err() {
                        failed = true;
                        break;
                    }
                    next = events.try_recv().ok();
                }
                if failed || ws.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    if let Ok(mut peers) = hub.peers.write() {
        peers.remove(&id);
    }
}
