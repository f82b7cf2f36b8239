// Who is signed in: the user, their workspaces, and the sign-in / sign-out
// transitions (tokens in api.js, realtime connection in realtime.js).

import { api, get, patch, refresh, setSession, clearSession, setAuthLostHandler, getAccessToken, ApiError } from './api.js';
import { realtime } from './realtime.js';
import { setLang, hasStoredLang, isSupportedLang } from './i18n.js';

export const state = {
  /** @type {null | {id, email, username, display_name, locale, time_zone, avatar_url, created_at}} */
  user: null,
  /** @type {Array<{id, name, slug, role}>} */
  workspaces: [],
};

/** Fires 'change' (user or workspaces updated) and 'signed-out' (detail: { reason }). */
export const events = new EventTarget();

const LAST_WS_KEY = 'convene.lastWorkspace';
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('convene-session') : null;

function emitChange() {
  events.dispatchEvent(new Event('change'));
}

/** Try the refresh cookie. Resolves true when a session was restored. */
export async function restore() {
  try {
    const auth = await refresh();
    await adopt(auth);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 0) throw err; // offline: let the caller say so
    clearSession();
    return false;
  }
}

/**
 * Take an AuthResponse from login, register or setup. A new account gets this
 * device's time zone (sign-up bodies carry the language but not the zone).
 */
export async function signIn(auth, { newAccount = false } = {}) {
  setSession(auth);
  const zone = localTimeZone();
  if (newAccount && auth.user?.time_zone !== zone) {
    try {
      auth = { ...auth, user: await patch('/api/me', { time_zone: zone }) };
    } catch {
      // Not worth failing the sign-up over; the profile page can set it.
    }
  }
  await adopt(auth);
}

export function localTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

async function adopt(auth) {
  state.user = auth.user ?? null;
  await loadMe();
  if (!hasStoredLang() && isSupportedLang(state.user?.locale)) setLang(state.user.locale, { persist: false });
  realtime.start({
    getToken: getAccessToken,
    refreshToken: refresh,
    onSessionEnded: (reason) => endSession(reason),
  });
}

/** Reload the user and their workspace list. */
export async function loadMe() {
  const me = await get('/api/me');
  state.user = me.user;
  state.workspaces = me.workspaces || [];
  emitChange();
  return me;
}

export function setUser(user) {
  state.user = user;
  emitChange();
}

export function isAdminRole(role) {
  return role === 'owner' || role === 'admin';
}

export function workspaceSummary(id) {
  return state.workspaces.find((w) => w.id === id) || null;
}

export function rememberWorkspace(id) {
  try {
    localStorage.setItem(LAST_WS_KEY, id);
  } catch {
    /* storage may be disabled */
  }
}

/** The workspace to open by default: the last one used if still a member, else the first. */
export function defaultWorkspaceId() {
  let last = null;
  try {
    last = localStorage.getItem(LAST_WS_KEY);
  } catch {
    /* ignore */
  }
  if (last && workspaceSummary(last)) return last;
  return state.workspaces[0]?.id ?? null;
}

function resetLocal() {
  realtime.stop();
  clearSession();
  state.user = null;
  state.workspaces = [];
}

/** The server ended the session (4001, or a refresh was refused): drop everything now. */
export function endSession(reason = 'ended') {
  if (!state.user && !getAccessToken()) return;
  resetLocal();
  events.dispatchEvent(new CustomEvent('signed-out', { detail: { reason } }));
}

/** Sign out by choice; `everywhere` ends all of the user's sessions. */
export async function signOut({ everywhere = false } = {}) {
  try {
    await api('POST', everywhere ? '/api/auth/logout-all' : '/api/auth/logout', { body: {} });
  } catch {
    // Even if the server could not be told, this tab forgets the session.
  }
  resetLocal();
  channel?.postMessage({ type: 'signed-out' });
  events.dispatchEvent(new CustomEvent('signed-out', { detail: { reason: 'manual' } }));
}

// A refresh that fails for good means the session is over.
setAuthLostHandler(() => endSession('expired'));

// Keep tabs in step: signing out in one signs out the others.
if (channel) {
  channel.onmessage = (event) => {
    if (event.data?.type === 'signed-out') endSession('elsewhere');
  };
}
