// The realtime connection: one websocket per tab at /api/ws.
//
// Protocol (docs/PROTOCOL.md):
//   - the first client frame authenticates: {"type":"auth","id":..,"token":..};
//     the server answers {"type":"ok","id":..} or {"type":"error","id":..,"code":..}
//   - {"type":"ping"} is answered with {"type":"pong"}
//   - close 4001: the session was revoked or the user deactivated -> sign out now
//   - close 4003: the token failed or expired -> refresh it and reconnect
//   - any other close: reconnect with exponential backoff
//
// Chat and meetings build on this module:
//   realtime.on('message.created', (frame) => ...)   // any server frame type
//   await realtime.request({ type: 'subscribe', ... }) // resolves with the answer naming its id, rejects on error
//   realtime.addEventListener('status', (e) => e.detail.status)
//   realtime.setResumeProvider(() => ({ [channelId]: seq }))  // sent in every auth frame
// Status values: 'idle' | 'connecting' | 'open' | 'reconnecting'.

const CLOSE_SESSION_ENDED = 4001;
const CLOSE_AUTH_FAILED = 4003;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;
const PROBE_TIMEOUT_MS = 5_000;
// The server pings every 25 s; this much silence means the link is dead
// (e.g. a laptop resumed on another network) even if no close event came.
const SILENCE_MS = 65_000;

export class RealtimeClient extends EventTarget {
  constructor() {
    super();
    this.status = 'idle';
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> { resolve, reject, timer }
    this.handlers = new Map(); // type -> Set<fn>
    this.waiters = []; // resolvers for ready()
    this.watchdog = null;
    this.authFailed = false;
    this.options = null;
    this.resumeProvider = null;
    this.probing = null;
    this.onOnline = () => {
      if (this.status === 'reconnecting') this.reconnectNow();
      else if (this.status === 'open') this.probe();
    };
  }

  /**
   * Start (or restart) the connection.
   *   getToken(): the current access token
   *   refreshToken(): Promise that refreshes it (rejects with err.status > 0 when the session is gone)
   *   onSessionEnded(reason): called once when the server ends the session (4001) or a refresh fails
   */
  start({ getToken, refreshToken, onSessionEnded }) {
    this.stop();
    this.options = { getToken, refreshToken, onSessionEnded };
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  /** Close for good (sign-out). Pending requests are rejected. */
  stop() {
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    this.timer = null;
    this.options = null;
    this.attempt = 0;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      detach(ws);
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000, 'bye');
    }
    this.failPending(new Error('realtime stopped'));
    this.setStatus('idle');
  }

  /**
   * Positions to resume from on every (re)connect: fn() -> { [channelId]: seq }.
   * They go in the auth frame, so the server replays what changed meanwhile.
   */
  setResumeProvider(fn) {
    this.resumeProvider = fn;
  }

  /** Subscribe to server frames of one type ('*' for all). Returns an unsubscribe function. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type)?.delete(fn);
  }

  /** Send a frame now if authenticated; returns whether it was sent. */
  send(frame) {
    if (this.status !== 'open' || !this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Resolves when the connection is open and authenticated. */
  ready() {
    if (this.status === 'open') return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Send a request frame with an id; resolves with the `ok` frame, rejects with the `error` frame. */
  async request(frame) {
    await this.ready();
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('realtime request timed out'));
        // No answer: the link may be dead without a close event. Check it.
        if (frame.type !== 'ping') this.probe();
      }, frame.type === 'ping' ? PROBE_TIMEOUT_MS : REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.send({ ...frame, id })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error('realtime not connected'));
      }
    });
  }

  /**
   * Check that the open connection still answers (after a request timed out,
   * or the browser came back online); if not, drop it and reconnect.
   */
  probe() {
    if (this.status !== 'open' || this.probing) return this.probing;
    const ws = this.ws;
    this.probing = this.request({ type: 'ping' })
      .then(() => true)
      .catch(() => {
        if (ws && ws === this.ws) {
          this.handleClose(ws, 4008);
          try { ws.close(); } catch { /* already closed */ }
        }
        return false;
      })
      .finally(() => {
        this.probing = null;
      });
    return this.probing;
  }

  // --- internals -----------------------------------------------------------

  connect() {
    if (!this.options) return;
    const token = this.options.getToken();
    if (!token) return;
    if (this.ws) {
      // Never keep two sockets: drop one still connecting.
      const old = this.ws;
      this.ws = null;
      detach(old);
      try { old.close(1000, 'replaced'); } catch { /* ignore */ }
    }
    this.authFailed = false;
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/api/ws`);
    this.ws = ws;
    const authId = String(this.nextId++);
    ws.onopen = () => {
      const frame = { type: 'auth', id: authId, token };
      let resume = null;
      try {
        resume = this.resumeProvider ? this.resumeProvider() : null;
      } catch (err) {
        console.error('resume positions failed', err);
      }
      if (resume && Object.keys(resume).length) frame.resume = resume;
      ws.send(JSON.stringify(frame));
      this.armWatchdog();
    };
    ws.onmessage = (event) => {
      if (ws === this.ws) this.handleFrame(event.data, authId);
    };
    ws.onclose = (event) => this.handleClose(ws, event.code);
    ws.onerror = () => {}; // a close event always follows
  }

  handleFrame(data, authId) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== 'string') return;
    this.armWatchdog();
    if (frame.type === 'ping') {
      this.ws?.send(JSON.stringify({ type: 'pong' }));
      return;
    }
    if (frame.id === authId && this.status !== 'open') {
      if (frame.type === 'ok') {
        this.attempt = 0;
        this.setStatus('open');
        this.waiters.splice(0).forEach((resolve) => resolve());
      } else if (frame.type === 'error') {
        this.authFailed = true; // the server closes next; handled in handleClose
      }
      return;
    }
    // An answer to request(): `ok` (or e.g. `pong`) resolves, `error` rejects.
    if (frame.id != null && this.pending.has(String(frame.id))) {
      const entry = this.pending.get(String(frame.id));
      this.pending.delete(String(frame.id));
      clearTimeout(entry.timer);
      if (frame.type === 'error') entry.reject(Object.assign(new Error(frame.message || frame.code || 'error'), { frame }));
      else entry.resolve(frame);
      return;
    }
    this.emit(frame.type, frame);
    this.emit('*', frame);
  }

  emit(type, frame) {
    const set = this.handlers.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(frame);
      } catch (err) {
        console.error('realtime handler failed', err);
      }
    }
  }

  armWatchdog() {
    clearTimeout(this.watchdog);
    const ws = this.ws;
    this.watchdog = setTimeout(() => {
      if (ws === this.ws) this.handleClose(ws, 4008); // treat as "no answer to pings"
      ws.close();
    }, SILENCE_MS);
  }

  async handleClose(ws, code) {
    if (ws !== this.ws) return; // an old socket we already replaced or stopped
    clearTimeout(this.watchdog);
    detach(ws);
    this.ws = null;
    this.failPending(new Error('realtime connection closed'));
    const options = this.options;
    if (!options) return;

    if (code === CLOSE_SESSION_ENDED) {
      this.stop();
      options.onSessionEnded('ended');
      return;
    }
    if (code === CLOSE_AUTH_FAILED || this.authFailed) {
      try {
        await options.refreshToken();
      } catch (err) {
        if (err && err.status > 0) {
          this.stop();
          options.onSessionEnded('expired');
          return;
        }
        // network trouble: fall through to the ordinary backoff
      }
      if (this.options !== options) return; // stopped meanwhile
      // Reconnect at once after the first auth failure, back off if it repeats.
      this.attempt += 1;
      if (this.attempt === 1) {
        this.connect();
        return;
      }
      this.scheduleReconnect();
      return;
    }
    this.attempt += 1;
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.setStatus('reconnecting');
    const exp = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.attempt - 1, 10));
    const delay = exp / 2 + Math.random() * (exp / 2);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    clearTimeout(this.timer);
    this.connect();
  }

  failPending(error) {
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    this.pending.clear();
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: { status, attempt: this.attempt } }));
  }
}

function detach(ws) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

/** The tab's single connection. */
export const realtime = new RealtimeClient();
