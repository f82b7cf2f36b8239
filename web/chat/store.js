// Chat state for the current workspace: my channels with unread and mention
// counts, message windows per channel and per thread, read positions of
// members (receipts), presence, typing, and the outbox of messages being sent.
//
// Realtime (docs/PROTOCOL.md): every change to a channel's messages carries the
// channel's next `seq`. We keep, per channel, the highest seq seen; it goes in
// the `resume` of each auth frame, and a live seq more than one above it means
// we missed something, so we fetch `changed_after`.
//
// Views and components listen on `bus` for:
//   'channels'            the channel list or a count changed
//   'messages'  {key}     a message window changed (key = channelId or channelId:rootId)
//   'outbox'    {channelId}
//   'read'      {channelId, userId}
//   'typing'    {channelId}
//   'presence'
//   'members'   {channelId} channel members reloaded
//   'left'      {channelId} I left or was removed
//   'acks'      {messageId}

import { get, post, seg, ApiError } from '../api.js';
import { realtime } from '../realtime.js';
import { state as session, workspaceSummary, isAdminRole } from '../session.js';
import { maybeNotify, updateTitleBadge, showDing } from './notify.js';

export const bus = new EventTarget();

function emit(type, detail = {}) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}

export function on(type, fn) {
  const handler = (e) => fn(e.detail || {});
  bus.addEventListener(type, handler);
  return () => bus.removeEventListener(type, handler);
}

export const chat = {
  wsId: null,
  /** @type {Map<string, any>} my channels in this workspace */
  channels: new Map(),
  loaded: false,
  loadError: null,
  /** workspace members (people pickers, names) */
  people: [],
  peopleById: new Map(),
  peopleLoaded: null,
  /** channelId -> highest seq seen in events */
  positions: new Map(),
  /** key -> View */
  views: new Map(),
  /** channelId -> { receipts, members: Map<userId, seq> } */
  readStates: new Map(),
  /** channelId -> [{ user, role }] */
  channelMembers: new Map(),
  /** userId -> { status, last_seen_at, status_text } */
  presence: new Map(),
  /** channelId -> Map<userId, { until, threadRootId }> */
  typing: new Map(),
  /** messages being sent */
  outbox: [],
  /** messageId -> { acked, pending } */
  acks: new Map(),
  activeChannelId: null,
};

export function me() {
  return session.user;
}

export function myId() {
  return session.user?.id;
}

export function wsRole() {
  return workspaceSummary(chat.wsId)?.role;
}

export function isWsAdmin() {
  return isAdminRole(wsRole());
}

// --- channel helpers ------------------------------------------------------------

export function isDirect(c) {
  return c && (c.kind === 'dm' || c.kind === 'group');
}

export function mayManage(c) {
  if (!c || isDirect(c)) return false;
  return isWsAdmin() || c.my_role === 'admin';
}

export function mayPost(c) {
  if (!c || !c.is_member || c.archived) return false;
  if (c.kind === 'announcement') return mayManage(c);
  return true;
}

export function personName(p) {
  return p?.display_name || p?.username || '';
}

/** A user summary by id, from channel peers/members or the workspace list. */
export function person(id) {
  if (!id) return null;
  const p = chat.peopleById.get(id);
  if (p) return p;
  for (const list of chat.channelMembers.values()) {
    const m = list.find((x) => x.user.id === id);
    if (m) return m.user;
  }
  for (const c of chat.channels.values()) {
    const peer = c.peers?.find((x) => x.id === id);
    if (peer) return peer;
  }
  return null;
}

export function channelPath(channelId, threadRootId, messageId) {
  let p = `/w/${seg(chat.wsId)}/c/${seg(channelId)}`;
  if (threadRootId) p += `/t/${seg(threadRootId)}`;
  if (messageId) p += `?m=${seg(messageId)}`;
  return p;
}

export function mentionsMe(m) {
  const id = myId();
  return !!(m.mention_all || (id && m.mentions?.includes(id)));
}

function sortKey(c) {
  return Date.parse(c.last_message_at || c.created_at) || 0;
}

/** Channels (by name), then DMs and group DMs (most recent activity first). */
export function sortedChannels() {
  const all = [...chat.channels.values()];
  const named = all.filter((c) => !isDirect(c)).sort((a, b) => (a.name || '').localeCompare(b.name || '', undefined, { sensitivity: 'base' }));
  const direct = all.filter((c) => isDirect(c)).sort((a, b) => sortKey(b) - sortKey(a));
  return { named, direct };
}

function position(channelId) {
  const seen = chat.positions.get(channelId);
  const c = chat.channels.get(channelId);
  const listed = c ? c.last_seq : undefined;
  if (seen == null) return listed;
  if (listed == null) return seen;
  return Math.max(seen, listed);
}

function notePosition(channelId, seq) {
  const prev = chat.positions.get(channelId);
  if (prev == null || seq > prev) chat.positions.set(channelId, seq);
}

// --- loading ---------------------------------------------------------------------

let listSeq = 0;

/** Switch to a workspace (drops the previous one's state) and load its channels. */
export function useWorkspace(wsId) {
  if (chat.wsId === wsId) return;
  chat.wsId = wsId;
  chat.channels = new Map();
  chat.loaded = false;
  chat.loadError = null;
  chat.people = [];
  chat.peopleById = new Map();
  chat.peopleLoaded = null;
  chat.views = new Map();
  chat.readStates = new Map();
  chat.channelMembers = new Map();
  chat.typing = new Map();
  chat.acks = new Map();
  chat.activeChannelId = null;
  foreign.clear();
  // Positions are per channel id and stay valid; keep them for resume.
  emit('channels');
  if (wsId) {
    loadChannels();
    loadPeople();
  }
}

export async function loadChannels() {
  const wsId = chat.wsId;
  if (!wsId) return;
  const seq = ++listSeq;
  try {
    const list = await get(`/api/workspaces/${seg(wsId)}/channels`);
    if (wsId !== chat.wsId || seq !== listSeq) return;
    const next = new Map();
    const stale = [];
    for (const c of list) {
      next.set(c.id, c);
      const seen = chat.positions.get(c.id);
      // Events newer than this list were already counted: fetch that channel again.
      if (seen != null && seen > c.last_seq) stale.push(c.id);
    }
    chat.channels = next;
    chat.loaded = true;
    chat.loadError = null;
    emit('channels');
    stale.forEach((id) => scheduleChannelRefresh(id));
    subscribePresence();
  } catch (err) {
    if (wsId !== chat.wsId) return;
    chat.loadError = err;
    emit('channels');
  }
}

export function loadPeople(force = false) {
  const wsId = chat.wsId;
  if (!wsId) return Promise.resolve([]);
  if (chat.peopleLoaded && !force) return chat.peopleLoaded;
  chat.peopleLoaded = get(`/api/workspaces/${seg(wsId)}/members`)
    .then((list) => {
      if (wsId !== chat.wsId) return [];
      chat.people = list.map((m) => ({ id: m.user_id, username: m.username, display_name: m.display_name, avatar_url: m.avatar_url, role: m.role, deactivated: m.deactivated }));
      chat.peopleById = new Map(chat.people.map((p) => [p.id, p]));
      emit('presence');
      return chat.people;
    })
    .catch((err) => {
      chat.peopleLoaded = null;
      throw err;
    });
  return chat.peopleLoaded;
}

/** Channels seen in events that belong to another workspace (not fetched again). */
const foreign = new Set();

/** Fetch one channel again (counts, name, members). */
export async function fetchChannel(id) {
  try {
    const c = await get(`/api/channels/${seg(id)}`);
    if (c.workspace_id !== chat.wsId) {
      foreign.add(id);
      return null;
    }
    if (c.is_member) {
      const had = chat.channels.has(id);
      chat.channels.set(id, c);
      emit('channels');
      if (!had && isDirect(c)) subscribePresence();
    } else {
      chat.channels.delete(id);
      emit('channels');
    }
    emit('channel', { channelId: id, channel: c });
    return c;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
      if (chat.channels.delete(id)) emit('channels');
    }
    return null;
  }
}

const refreshTimers = new Map();
export function scheduleChannelRefresh(id, delay = 250) {
  clearTimeout(refreshTimers.get(id));
  refreshTimers.set(id, setTimeout(() => {
    refreshTimers.delete(id);
    fetchChannel(id);
  }, delay));
}

export function upsertChannel(c) {
  if (c.workspace_id !== chat.wsId) return;
  if (c.is_member) chat.channels.set(c.id, c);
  emit('channels');
  emit('channel', { channelId: c.id, channel: c });
}

export function removeChannel(id) {
  if (chat.channels.delete(id)) emit('channels');
}

export function setActiveChannel(id) {
  if (chat.activeChannelId === id) return;
  chat.activeChannelId = id;
  emit('active');
}

// --- read state (receipts) ---------------------------------------------------------

export async function loadReadState(channelId) {
  try {
    const rs = await get(`/api/channels/${seg(channelId)}/read-state`);
    const members = new Map(rs.members.map((m) => [m.user_id, m.last_read_seq]));
    const prev = chat.readStates.get(channelId);
    // Keep live positions that are newer than this answer.
    if (prev) for (const [u, s] of prev.members) if ((members.get(u) ?? -1) < s && members.has(u)) members.set(u, s);
    chat.readStates.set(channelId, { receipts: rs.receipts, members });
    emit('read', { channelId });
  } catch {
    /* receipts are a nicety; the list still works */
  }
}

/**
 * How many members (other than me and the sender) have not read message `m`:
 * { unread, total }, or null when receipts are off or unknown.
 */
export function unreadBy(channelId, m) {
  const rs = chat.readStates.get(channelId);
  if (!rs || !rs.receipts) return null;
  let unread = 0;
  let total = 0;
  const mine = myId();
  for (const [u, s] of rs.members) {
    if (u === mine || u === m.sender?.id) continue;
    total += 1;
    if (s < m.seq) unread += 1;
  }
  return { unread, total };
}

export async function loadChannelMembers(channelId) {
  const list = await get(`/api/channels/${seg(channelId)}/members`);
  chat.channelMembers.set(channelId, list);
  emit('members', { channelId });
  return list;
}

// --- message windows -------------------------------------------------------------

const PAGE = 50;

/** A window of a channel's top-level messages, or of one thread's replies. */
export class View {
  constructor(channelId, rootId = null) {
    this.channelId = channelId;
    this.rootId = rootId;
    this.key = rootId ? `${channelId}:${rootId}` : channelId;
    this.byId = new Map();
    this.order = [];
    this.hasMoreBefore = false;
    this.hasMoreAfter = false;
    this.loaded = false;
    this.loading = null;
    this.error = null;
    this.root = null; // thread root message
  }

  query(extra) {
    const q = new URLSearchParams(extra);
    if (this.rootId) q.set('thread', this.rootId);
    return `/api/channels/${seg(this.channelId)}/messages?${q}`;
  }

  reset(messages) {
    this.byId = new Map();
    this.order = [];
    for (const m of messages) this.byId.set(m.id, m);
    this.resort();
  }

  resort() {
    this.order = [...this.byId.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Latest page (the live end). */
  async loadLatest() {
    return this.run(async () => {
      const page = await get(this.query({ limit: PAGE }));
      this.reset(page.messages);
      this.hasMoreBefore = page.has_more_before;
      this.hasMoreAfter = false;
      this.loaded = true;
      if (this.rootId && !this.root) this.root = await get(`/api/messages/${seg(this.rootId)}`).catch(() => null);
    });
  }

  /** The page just after my read position (many unread: start at the first one). */
  async loadAfter(seq) {
    return this.run(async () => {
      const page = await get(this.query({ after: seq, limit: PAGE }));
      this.reset(page.messages);
      this.hasMoreBefore = page.has_more_before;
      this.hasMoreAfter = page.has_more_after;
      this.loaded = true;
    });
  }

  /** A page around one message (jump). */
  async loadAround(messageId) {
    return this.run(async () => {
      const page = await get(this.query({ around: messageId, limit: PAGE }));
      this.reset(page.messages);
      this.hasMoreBefore = page.has_more_before;
      this.hasMoreAfter = page.has_more_after;
      this.loaded = true;
      if (this.rootId && !this.root) this.root = await get(`/api/messages/${seg(this.rootId)}`).catch(() => null);
    });
  }

  async loadOlder() {
    if (!this.hasMoreBefore || this.loading || !this.order.length) return false;
    return this.run(async () => {
      const page = await get(this.query({ before: this.order[0].seq, limit: PAGE }));
      for (const m of page.messages) this.merge(m, true);
      this.resort();
      this.hasMoreBefore = page.has_more_before;
    });
  }

  async loadNewer() {
    if (!this.hasMoreAfter || this.loading || !this.order.length) return false;
    return this.run(async () => {
      const page = await get(this.query({ after: this.order[this.order.length - 1].seq, limit: PAGE }));
      for (const m of page.messages) this.merge(m, true);
      this.resort();
      this.hasMoreAfter = page.has_more_after;
    });
  }

  async run(fn) {
    if (this.loading) await this.loading.catch(() => {});
    this.error = null;
    this.loading = fn()
      .catch((err) => {
        this.error = err;
        throw err;
      })
      .finally(() => {
        this.loading = null;
        emit('messages', { key: this.key, channelId: this.channelId });
      });
    return this.loading.then(() => true);
  }

  /** Put a message in the window if it belongs there. Returns true when something changed. */
  merge(m, force = false) {
    const existing = this.byId.get(m.id);
    if (existing) {
      if ((existing.version ?? 0) > (m.version ?? 0)) return false;
      this.byId.set(m.id, m);
      return true;
    }
    if (!force) {
      if (!this.loaded) return false;
      const last = this.order[this.order.length - 1];
      const first = this.order[0];
      if (last && m.seq > last.seq && this.hasMoreAfter) return false;
      if (first && m.seq < first.seq && this.hasMoreBefore) return false;
    }
    this.byId.set(m.id, m);
    return true;
  }

  upsert(m) {
    if (this.rootId && m.id === this.rootId) {
      if (!this.root || (this.root.version ?? 0) <= (m.version ?? 0)) {
        this.root = m;
        return true;
      }
      return false;
    }
    const changed = this.merge(m);
    if (changed) this.resort();
    return changed;
  }
}

export function viewFor(channelId, rootId = null) {
  const key = rootId ? `${channelId}:${rootId}` : channelId;
  let v = chat.views.get(key);
  if (!v) {
    v = new View(channelId, rootId);
    chat.views.set(key, v);
    // Keep a handful of windows around.
    if (chat.views.size > 24) {
      for (const k of chat.views.keys()) {
        if (k !== key && !k.startsWith(chat.activeChannelId || '\u0000')) {
          chat.views.delete(k);
          break;
        }
      }
    }
  }
  return v;
}

/** Apply a message (event, REST answer or send acknowledgement) to every window holding it. */
export function applyMessage(m) {
  const touched = new Set();
  if (m.thread_root_id) {
    const tv = chat.views.get(`${m.channel_id}:${m.thread_root_id}`);
    if (tv && tv.upsert(m)) touched.add(tv.key);
  } else {
    const v = chat.views.get(m.channel_id);
    if (v && v.upsert(m)) touched.add(v.key);
    const tv = chat.views.get(`${m.channel_id}:${m.id}`);
    if (tv && tv.upsert(m)) touched.add(tv.key);
  }
  for (const key of touched) emit('messages', { key, channelId: m.channel_id, messageId: m.id });
  return touched.size > 0;
}

/** A message by id from any loaded window. */
export function findMessage(id) {
  for (const v of chat.views.values()) {
    const m = v.byId.get(id);
    if (m) return m;
    if (v.root?.id === id) return v.root;
  }
  return null;
}

// --- realtime events ---------------------------------------------------------------

const gapFetching = new Set();

async function fillGap(channelId, after) {
  if (gapFetching.has(channelId)) return;
  gapFetching.add(channelId);
  try {
    const hasWindow = [...chat.views.values()].some((v) => v.channelId === channelId && v.loaded);
    if (hasWindow) {
      let from = after;
      for (let i = 0; i < 20; i += 1) {
        const page = await get(`/api/channels/${seg(channelId)}/messages?changed_after=${from}&limit=200`);
        for (const m of page.messages) {
          applyMessage(m);
          from = Math.max(from, m.version ?? m.seq);
        }
        if (!page.has_more_after || !page.messages.length) break;
      }
    }
    scheduleChannelRefresh(channelId);
  } catch {
    /* the next event or reconnect tries again */
  } finally {
    gapFetching.delete(channelId);
  }
}

function onMessage(frame) {
  const m = frame.message;
  if (!m) return;
  const channelId = frame.channel_id || m.channel_id;
  const seq = frame.seq ?? m.version ?? m.seq;
  const c = chat.channels.get(channelId);
  const prev = position(channelId);
  if (prev != null && seq > prev + 1 && (c || chat.views.has(channelId))) fillGap(channelId, prev);
  notePosition(channelId, seq);

  const isNew = (m.version ?? m.seq) === m.seq && !m.deleted;
  const mine = m.sender?.id && m.sender.id === myId();
  if (isNew && mine) settleEcho(m);
  applyMessage(m);
  if (isNew && m.sender?.id) clearTyping(channelId, m.sender.id);

  if (!c && chat.wsId && isNew && !mine && !chat.views.has(channelId) && !foreign.has(channelId)) {
    // A conversation I was just added to (its channel.joined may still be on the way):
    // fetch it; its counts already include this message.
    fetchChannel(channelId).then((fresh) => {
      if (fresh?.is_member) maybeNotify(fresh, m);
    });
    return;
  }
  if (c && seq > c.last_seq) {
    c.last_seq = seq;
    if (isNew) {
      if (!m.thread_root_id) c.last_message_at = m.created_at;
      if (!mine && m.seq > c.last_read_seq) {
        if (!m.thread_root_id) c.unread_count += 1;
        if (mentionsMe(m)) c.mention_count += 1;
      }
      if (!mine) maybeNotify(c, m);
    } else if (m.deleted && !mine && m.seq > c.last_read_seq) {
      scheduleChannelRefresh(channelId);
    }
    emit('channels');
  }
}

function onRead(frame) {
  const { channel_id: channelId, user_id: userId, seq } = frame;
  const rs = chat.readStates.get(channelId);
  if (rs) {
    const prev = rs.members.get(userId);
    if (prev == null || seq > prev) rs.members.set(userId, seq);
  }
  if (userId === myId()) {
    const c = chat.channels.get(channelId);
    if (c && seq > c.last_read_seq) {
      c.last_read_seq = seq;
      if (seq >= c.last_seq) {
        c.unread_count = 0;
        c.mention_count = 0;
      } else {
        scheduleChannelRefresh(channelId);
      }
      emit('channels');
    }
  }
  emit('read', { channelId, userId, seq });
}

const typingTimers = new Map();

function onTyping(frame) {
  const { channel_id: channelId, user_id: userId } = frame;
  if (userId === myId()) return;
  let map = chat.typing.get(channelId);
  if (!map) chat.typing.set(channelId, (map = new Map()));
  const ms = Math.min(Math.max(Number(frame.expires_in_ms) || 6000, 1000), 30_000);
  map.set(userId, { until: Date.now() + ms, threadRootId: frame.thread_root_id || null });
  const key = `${channelId}:${userId}`;
  clearTimeout(typingTimers.get(key));
  typingTimers.set(key, setTimeout(() => clearTyping(channelId, userId), ms));
  emit('typing', { channelId });
}

function clearTyping(channelId, userId) {
  const map = chat.typing.get(channelId);
  if (map?.delete(userId)) emit('typing', { channelId });
}

/** Names of people typing in a channel (or a thread). */
export function typingNames(channelId, threadRootId = null) {
  const map = chat.typing.get(channelId);
  if (!map) return [];
  const now = Date.now();
  const names = [];
  for (const [u, v] of map) {
    if (v.until < now || (v.threadRootId || null) !== (threadRootId || null)) continue;
    names.push(personName(person(u)) || '…');
  }
  return names;
}

function onPresence(frame) {
  const prev = chat.presence.get(frame.user_id) || {};
  chat.presence.set(frame.user_id, { ...prev, status: frame.status, last_seen_at: frame.status === 'offline' ? new Date().toISOString() : null });
  emit('presence');
}

function onChannelEvent(frame) {
  if (frame.workspace_id && frame.workspace_id !== chat.wsId) return;
  const id = frame.channel_id;
  if (frame.type === 'channel.left') {
    chat.channels.delete(id);
    chat.channelMembers.delete(id);
    emit('channels');
    emit('left', { channelId: id });
    // Someone else may have left while I stay (the event also reaches remaining members).
    return;
  }
  if (frame.type === 'channel.updated') {
    if (chat.channelMembers.has(id)) loadChannelMembers(id).catch(() => {});
    if (chat.readStates.has(id)) loadReadState(id);
  }
  scheduleChannelRefresh(id, frame.type === 'channel.joined' ? 0 : 150);
}

function onResync(frame) {
  const id = frame.channel_id;
  for (const v of chat.views.values()) {
    if (v.channelId === id && v.loaded) v.loadLatest().catch(() => {});
  }
  scheduleChannelRefresh(id);
}

function onDing(frame) {
  const m = frame.message;
  if (!m) return;
  const c = chat.channels.get(m.channel_id);
  if (!c) return;
  showDing(c, m);
}

realtime.on('message', onMessage);
realtime.on('read', onRead);
realtime.on('typing', onTyping);
realtime.on('presence', onPresence);
realtime.on('channel.joined', onChannelEvent);
realtime.on('channel.left', onChannelEvent);
realtime.on('channel.updated', onChannelEvent);
realtime.on('resync', onResync);
realtime.on('ding', onDing);

realtime.setResumeProvider(() => {
  const out = {};
  let n = 0;
  for (const id of chat.channels.keys()) {
    const p = position(id);
    if (p != null && n < 2000) {
      out[id] = p;
      n += 1;
    }
  }
  return out;
});

let connectedOnce = false;
realtime.addEventListener('status', (event) => {
  if (event.detail.status !== 'open') return;
  const again = connectedOnce;
  connectedOnce = true;
  if (document.visibilityState === 'hidden') realtime.send({ type: 'away', away: true });
  if (again && chat.wsId) {
    // Read positions, typing and presence are not replayed: fetch them again.
    loadChannels();
    for (const id of chat.readStates.keys()) loadReadState(id);
  } else {
    subscribePresence();
  }
  flushOutbox();
});

document.addEventListener('visibilitychange', () => {
  realtime.send({ type: 'away', away: document.visibilityState === 'hidden' });
});

// --- presence ------------------------------------------------------------------------

let presenceWanted = [];
let presenceKey = '';

/** Follow the presence of DM peers (and anyone else shown, via `extra`). */
export async function subscribePresence(extra = []) {
  const ids = new Set();
  for (const c of chat.channels.values()) if (isDirect(c)) c.peers.forEach((p) => ids.add(p.id));
  extra.forEach((id) => ids.add(id));
  ids.delete(myId());
  presenceWanted = [...ids].slice(0, 500);
  const key = presenceWanted.slice().sort().join(',');
  if (!presenceWanted.length) return;
  const fresh = key !== presenceKey;
  presenceKey = key;
  if (fresh && chat.wsId) {
    // Last seen and status text come from REST; live changes from the socket.
    get(`/api/workspaces/${seg(chat.wsId)}/presence?user_ids=${presenceWanted.map(encodeURIComponent).join(',')}`)
      .then((list) => {
        for (const p of list) chat.presence.set(p.user_id, { status: p.status, last_seen_at: p.last_seen_at, status_text: p.status_text });
        emit('presence');
      })
      .catch(() => {});
  }
  if (realtime.status !== 'open') return;
  try {
    const ok = await realtime.request({ type: 'presence.subscribe', user_ids: presenceWanted });
    for (const p of ok.presence || []) {
      const prev = chat.presence.get(p.user_id) || {};
      chat.presence.set(p.user_id, { ...prev, status: p.status });
    }
    emit('presence');
  } catch {
    /* retried on the next connect */
  }
}

export function presenceOf(userId) {
  return chat.presence.get(userId)?.status || 'offline';
}

// --- sending ---------------------------------------------------------------------------

function clientKey() {
  if (crypto.randomUUID) return `w-${crypto.randomUUID()}`;
  return `w-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Queue a message. It shows as pending until the server's `ok`; if the
 * connection drops it is sent again on reconnect with the same client_key, so
 * it lands once.
 */
export function sendMessage(channelId, { body, threadRootId = null, quote = null, files = [], ackRequired = false }) {
  const entry = {
    clientKey: clientKey(),
    channelId,
    threadRootId,
    body,
    quote,
    files,
    ackRequired: !!ackRequired && !threadRootId,
    state: 'queued',
    error: null,
    inFlight: false,
    createdAt: new Date().toISOString(),
  };
  chat.outbox.push(entry);
  emit('outbox', { channelId });
  flush(entry);
  return entry;
}

export function outboxFor(channelId, threadRootId = null) {
  return chat.outbox.filter((e) => e.channelId === channelId && (e.threadRootId || null) === (threadRootId || null));
}

export function discard(entry) {
  const i = chat.outbox.indexOf(entry);
  if (i >= 0) chat.outbox.splice(i, 1);
  emit('outbox', { channelId: entry.channelId });
}

export function retry(entry) {
  entry.state = 'queued';
  entry.error = null;
  emit('outbox', { channelId: entry.channelId });
  flush(entry);
}

function flushOutbox() {
  for (const e of chat.outbox) if (e.state === 'queued') flush(e);
}

async function flush(entry) {
  if (entry.inFlight || !chat.outbox.includes(entry)) return;
  if (realtime.status !== 'open') {
    entry.state = 'queued';
    emit('outbox', { channelId: entry.channelId });
    return;
  }
  entry.inFlight = true;
  entry.state = 'sending';
  emit('outbox', { channelId: entry.channelId });
  // A quick answer is normal; a slow one may mean a dead link: check it early.
  const slow = setTimeout(() => realtime.probe(), 4000);
  try {
    const ok = await realtime.request({
      type: 'send',
      channel_id: entry.channelId,
      message: {
        body: entry.body,
        client_key: entry.clientKey,
        thread_root_id: entry.threadRootId,
        quote_id: entry.quote?.id || null,
        file_ids: entry.files.map((f) => f.id),
        ack_required: entry.ackRequired,
        mention_team_ids: [],
      },
    });
    clearTimeout(slow);
    entry.inFlight = false;
    settle(entry, ok.message);
  } catch (err) {
    clearTimeout(slow);
    entry.inFlight = false;
    if (!chat.outbox.includes(entry)) return;
    const code = err?.frame?.code;
    if (code && code !== 'rate_limited' && code !== 'internal') {
      entry.state = 'failed';
      entry.error = err.frame.message || code;
    } else {
      entry.state = 'queued';
      // Still connected (timeout, rate limit): try again shortly. Otherwise on reconnect.
      if (realtime.status === 'open') setTimeout(() => flush(entry), code === 'rate_limited' ? 1500 : 2500);
    }
    emit('outbox', { channelId: entry.channelId });
  }
}

function settle(entry, message) {
  const i = chat.outbox.indexOf(entry);
  if (i >= 0) chat.outbox.splice(i, 1);
  if (message) applyMessage(message);
  emit('outbox', { channelId: entry.channelId });
}

/** My own message arrived as an event before the `ok`: drop the pending copy now. */
function settleEcho(m) {
  const entry = chat.outbox.find((e) => e.state === 'sending' && e.channelId === m.channel_id
    && (e.threadRootId || null) === (m.thread_root_id || null) && e.body === m.body
    && e.files.length === (m.files?.length || 0));
  if (entry) settle(entry, null);
}

// --- reading ---------------------------------------------------------------------------

const readSent = new Map(); // channelId -> seq reported
const readTimers = new Map();
const readWanted = new Map();
const READ_EVERY_MS = 800;
const readLast = new Map();

/** Report that messages up to `seq` are on screen (throttled, forward only). */
export function reportRead(channelId, seq) {
  const c = chat.channels.get(channelId);
  if (!c || !c.is_member) return;
  const known = Math.max(c.last_read_seq ?? 0, readSent.get(channelId) ?? 0, readWanted.get(channelId) ?? 0);
  if (seq <= known) return;
  readWanted.set(channelId, seq);
  if (readTimers.has(channelId)) return;
  const wait = Math.max(0, READ_EVERY_MS - (Date.now() - (readLast.get(channelId) || 0)));
  readTimers.set(channelId, setTimeout(() => sendRead(channelId), wait));
}

async function sendRead(channelId) {
  readTimers.delete(channelId);
  const seq = readWanted.get(channelId);
  readWanted.delete(channelId);
  if (seq == null) return;
  readLast.set(channelId, Date.now());
  readSent.set(channelId, Math.max(seq, readSent.get(channelId) ?? 0));
  try {
    if (realtime.status === 'open') await realtime.request({ type: 'read', channel_id: channelId, seq });
    else await post(`/api/channels/${seg(channelId)}/read`, { seq });
  } catch {
    readSent.delete(channelId); // try again on the next report
  }
}

export async function markAllRead() {
  await post(`/api/workspaces/${seg(chat.wsId)}/read-all`, {});
  for (const c of chat.channels.values()) {
    c.unread_count = 0;
    c.mention_count = 0;
    c.last_read_seq = c.last_seq;
  }
  emit('channels');
  loadChannels();
}

// --- DING acknowledgements ------------------------------------------------------------

const ackLoading = new Map();

export function loadAcks(messageId, force = false) {
  if (!force && (chat.acks.has(messageId) || ackLoading.has(messageId))) return ackLoading.get(messageId) || Promise.resolve(chat.acks.get(messageId));
  const p = get(`/api/messages/${seg(messageId)}/acks`)
    .then((a) => {
      chat.acks.set(messageId, a);
      emit('acks', { messageId });
      return a;
    })
    .catch(() => null)
    .finally(() => ackLoading.delete(messageId));
  ackLoading.set(messageId, p);
  return p;
}

export async function acknowledge(messageId) {
  await post(`/api/messages/${seg(messageId)}/ack`, {});
  await loadAcks(messageId, true);
}

/** Acks have no event of their own; a read event in the channel is the best hint. */
const ackRefresh = new Map();
on('read', ({ channelId }) => {
  clearTimeout(ackRefresh.get(channelId));
  ackRefresh.set(channelId, setTimeout(() => {
    for (const [id] of chat.acks) {
      const m = findMessage(id);
      if (m && m.channel_id === channelId) loadAcks(id, true);
    }
  }, 400));
});

// --- title badge -------------------------------------------------------------------------

/** Unread messages that should count in the title: muted channels do not, "mentions" counts mentions. */
export function badgeCount() {
  let n = 0;
  for (const c of chat.channels.values()) {
    if (c.notify === 'mute') continue;
    n += c.notify === 'mentions' ? c.mention_count : Math.max(c.unread_count, c.mention_count);
  }
  return n;
}

on('channels', () => updateTitleBadge(badgeCount()));
