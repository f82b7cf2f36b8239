//! A minimal HTTP/1.1 JSON client over one keep-alive connection (enough for the
//! bench's setup calls; no TLS, no redirects).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Longest any one request may take (registrations hash a password on a busy core).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Http {
    addr: SocketAddr,
    conn: Option<TcpStream>,
    buf: Vec<u8>,
}

/// A response: status and JSON body (`Null` when empty or not JSON).
pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl Response {
    /// The body when the status is 2xx, else an error naming `what`.
    pub fn ok(self, what: &str) -> anyhow::Result<Value> {
        if (200..300).contains(&self.status) {
            Ok(self.body)
        } else {
            bail!("{what}: HTTP {} {}", self.status, self.body)
        }
    }
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http {
            addr,
            conn: None,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// Send a request; retried once on a fresh connection if the kept-alive one failed.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Response> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n",
            self.addr
        );
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        let reused = self.conn.is_some();
        match timeout(REQUEST_TIMEOUT, self.exchange(req.as_bytes())).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) if reused => {
                self.conn = None;
                timeout(REQUEST_TIMEOUT, self.exchange(req.as_bytes()))
                    .await
                    .with_context(|| format!("{method} {path} timed out"))?
            }
            Ok(Err(e)) => {
                self.conn = None;
                Err(e.context(format!("{method} {path}")))
            }
            Err(_) => {
                self.conn = None;
                bail!("{method} {path} timed out")
            }
        }
    }

    async fn exchange(&mut self, req: &[u8]) -> anyhow::Result<Response> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connecting to {}", self.addr))?;
            s.set_nodelay(true)?;
            self.conn = Some(s);
            self.buf.clear();
        }
        let conn = self.conn.as_mut().context("no connection")?;
        conn.write_all(req).await?;
        // Read the head.
        let (status, head_len, length, chunked, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = resp.parse(&self.buf)? {
                let mut length = None;
                let mut chunked = false;
                let mut close = false;
                for h in resp.headers.iter() {
                    let v = std::str::from_utf8(h.value).unwrap_or("").trim();
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = v.parse::<usize>().ok();
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        chunked = v.eq_ignore_ascii_case("chunked");
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = v.eq_ignore_ascii_case("close");
                    }
                }
                break (resp.code.unwrap_or(0), n, length, chunked, close);
            }
            if read_more(conn, &mut self.buf).await? == 0 {
                bail!("connection closed before the response head");
            }
        };
        self.buf.drain(..head_len);
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let Some(line_end) = find(&self.buf, b"\r\n") else {
                    if read_more(conn, &mut self.buf).await? == 0 {
                        bail!("connection closed in a chunk");
                    }
                    continue;
                };
                let size_text = std::str::from_utf8(&self.buf[..line_end])?;
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
                while self.buf.len() < line_end + 2 + size + 2 {
                    if read_more(conn, &mut self.buf).await? == 0 {
                        bail!("connection closed in a chunk");
                    }
                }
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break body;
                }
            }
        } else {
            let length = length.unwrap_or(0);
            while self.buf.len() < length {
                if read_more(conn, &mut self.buf).await? == 0 {
                    bail!("connection closed in the body");
                }
            }
            self.buf.drain(..length).collect()
        };
        if close {
            self.conn = None;
        }
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        Ok(Response { status, body })
    }
}

async fn read_more(conn: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<usize> {
    let mut chunk = [0u8; 8192];
    let n = conn.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}
