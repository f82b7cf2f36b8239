//! A JSON-over-websocket client (tokio-tungstenite) for signalling: requests matched to
//! their answers by a key field, everything else delivered as events.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// How long any one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Which field matches a frame to its request, or `None` for events (and frames to drop).
pub type KeyFn = fn(&Value) -> Option<Key>;

pub enum Key {
    /// The answer to the request with this key.
    Reply(String),
    /// Not an answer: drop it (e.g. Janus's `ack`).
    Ignore,
}

/// Frames that answer no request.
pub type Events = mpsc::UnboundedReceiver<Value>;

type Pending = Rc<RefCell<HashMap<String, oneshot::Sender<Value>>>>;

pub struct JsonWs {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next: Cell<u64>,
    key_field: &'static str,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
}

impl Drop for JsonWs {
    fn drop(&mut self) {
        self.reader.abort();
        // The writer ends (closing the socket) once the sender is dropped.
        let _ = self.out.send(Message::Close(None));
    }
}

impl JsonWs {
    /// Connect to `url`, with `protocol` as the websocket subprotocol if given; returns the
    /// connection and its events.
    pub async fn connect(
        url: &str,
        protocol: Option<&str>,
        key_field: &'static str,
        key: KeyFn,
    ) -> anyhow::Result<(JsonWs, Events)> {
        let mut req = url.into_client_request()?;
        if let Some(p) = protocol {
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p)?);
        }
        let (ws, _) = tokio::time::timeout(REQUEST_TIMEOUT, tokio_tungstenite::connect_async(req))
            .await
            .with_context(|| format!("connecting to {url} timed out"))?
            .with_context(|| format!("connecting to {url}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let pending: Pending = Rc::default();
        let writer = tokio::task::spawn_local(async move {
            while let Some(m) = out_rx.recv().await {
                let close = matches!(m, Message::Close(_));
                if sink.send(m).await.is_err() || close {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let p = pending.clone();
        let reader = tokio::task::spawn_local(async move {
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(t) = m else { continue };
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                match key(&v) {
                    Some(Key::Ignore) => {}
                    Some(Key::Reply(k)) => {
                        let waiter = p.borrow_mut().remove(&k);
                        match waiter {
                            Some(w) => {
                                let _ = w.send(v);
                            }
                            None => {
                                let _ = ev_tx.send(v);
                            }
                        }
                    }
                    None => {
                        let _ = ev_tx.send(v);
                    }
                }
            }
            // Closed: fail whoever still waits.
            p.borrow_mut().clear();
        });
        Ok((
            JsonWs {
                out,
                pending,
                next: Cell::new(1),
                key_field,
                reader,
                writer,
            },
            events,
        ))
    }

    /// Send `frame` with a fresh key and wait for its answer.
    pub async fn request(&self, mut frame: Value) -> anyhow::Result<Value> {
        let id = self.next.get();
        self.next.set(id + 1);
        let key = id.to_string();
        frame[self.key_field] = Value::String(key.clone());
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().insert(key.clone(), tx);
        self.send(&frame)?;
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => bail!("the connection closed before the answer to {frame}"),
            Err(_) => {
                self.pending.borrow_mut().remove(&key);
                bail!("no answer within {REQUEST_TIMEOUT:?} to {}", short(&frame))
            }
        }
    }

    /// Send a frame that gets no answer.
    pub fn send(&self, frame: &Value) -> anyhow::Result<()> {
        self.out
            .send(Message::Text(frame.to_string().into()))
            .ok()
            .context("the websocket is closed")
    }

    /// Whether the writer is still running (the socket is open as far as we know).
    pub fn is_open(&self) -> bool {
        !self.writer.is_finished() && !self.reader.is_finished()
    }
}

/// A frame for an error message, without its SDP.
pub fn short(v: &Value) -> String {
    let mut v = v.clone();
    if let Some(s) = v.get_mut("sdp") {
        *s = Value::String("…".to_owned());
    }
    if let Some(s) = v.get_mut("jsep").and_then(|j| j.get_mut("sdp")) {
        *s = Value::String("…".to_owned());
    }
    let s = v.to_string();
    if s.len() > 400 {
        format!("{}…", &s[..s.floor_char_boundary(400)])
    } else {
        s
    }
}
