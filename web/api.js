// HTTP transport and the access token.
//
// The access token lives only in this module's memory. The refresh token is an
// HttpOnly cookie the browser sends to /api/auth/refresh on its own; the client
// never sees it (the `refresh_token` field in auth responses is ignored).

import { t } from './i18n.js';

/** An API failure: `status` 0 means the network failed before any answer. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let accessToken = null;
let expiresAt = 0; // ms since epoch
let refreshTimer = null;
let refreshInFlight = null;
let onAuthLost = () => {};

/** Called with an ApiError when a refresh proves the session is gone. */
export function setAuthLostHandler(fn) {
  onAuthLost = fn;
}

export function getAccessToken() {
  return accessToken;
}

/** Adopt the tokens of an AuthResponse and plan the next refresh. */
export function setSession(auth) {
  accessToken = auth.access_token;
  const ttl = Math.max(1, Number(auth.expires_in) || 900);
  expiresAt = Date.now() + ttl * 1000;
  // Refresh a minute early, or at three quarters of a short lifetime.
  const lead = ttl > 240 ? 60 : ttl / 4;
  scheduleRefresh((ttl - lead) * 1000);
}

/** Forget the access token and stop refreshing (the cookie is the server's business). */
export function clearSession() {
  accessToken = null;
  expiresAt = 0;
  clearTimeout(refreshTimer);
  refreshTimer = null;
}

function scheduleRefresh(delayMs) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(timedRefresh, Math.max(1000, delayMs));
}

async function timedRefresh() {
  if (!accessToken) return;
  try {
    await refresh();
  } catch (err) {
    if (err instanceof ApiError && err.status === 0) {
      scheduleRefresh(10_000); // offline: try again soon, the token may still be valid
    } else {
      onAuthLost(err);
    }
  }
}

// Timers do not run while a laptop sleeps; catch up when the tab is seen again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && accessToken && Date.now() > expiresAt - 30_000) {
    timedRefresh();
  }
});

/**
 * Exchange the refresh cookie for a new access token. Concurrent callers share
 * one request; across tabs a Web Lock serialises refreshes so two tabs never
 * present the same (rotating) refresh token at once.
 */
export function refresh() {
  if (!refreshInFlight) {
    const run = () => request('POST', '/api/auth/refresh', { body: {}, auth: false });
    const locked = navigator.locks?.request
      ? navigator.locks.request('convene-refresh', run)
      : run();
    refreshInFlight = locked
      .then((auth) => {
        setSession(auth);
        return auth;
      })
      .finally(() => {
        refreshInFlight = null;
      });
  }
  return refreshInFlight;
}

async function request(method, path, { body, auth = true, raw, contentType, signal, as } = {}) {
  const headers = {};
  let payload;
  if (raw !== undefined) {
    payload = raw;
    if (contentType) headers['Content-Type'] = contentType;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  if (auth && accessToken) headers.Authorization = `Bearer ${accessToken}`;
  headers.Accept = as === 'blob' ? '*/*' : 'application/json';

  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return null;
  if (as === 'blob') return res.blob();
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) return res.json();
  return null;
}

async function errorFrom(res) {
  let code = 'http_' + res.status;
  let message = '';
  try {
    const data = await res.json();
    if (data?.error) {
      code = data.error.code || code;
      message = data.error.message || '';
    }
  } catch {
    // not JSON: fall back to a generic message below
  }
  if (!message) {
    if (res.status === 429) message = t('error.rateLimited');
    else if (res.status >= 500) message = t('error.server');
    else message = t('error.generic', { status: res.status });
  }
  return new ApiError(res.status, code, message);
}

/**
 * Call the API with the current access token. On a 401 the token is refreshed
 * and the request retried once; if the refresh fails the session is lost.
 * Options: body (JSON), raw + contentType (binary upload), as: 'blob', signal,
 * auth: false for public endpoints.
 */
export async function api(method, path, options = {}) {
  const auth = options.auth !== false;
  if (auth && refreshInFlight) {
    try { await refreshInFlight; } catch { /* handled below by the 401 path */ }
  }
  try {
    return await request(method, path, options);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401 || !auth || !accessToken) throw err;
    try {
      await refresh();
    } catch (refreshErr) {
      if (refreshErr instanceof ApiError && refreshErr.status !== 0) onAuthLost(refreshErr);
      throw err;
    }
    return request(method, path, options);
  }
}

/** Shorthands. */
export const get = (path, opts) => api('GET', path, opts);
export const post = (path, body, opts) => api('POST', path, { ...opts, body });
export const patch = (path, body, opts) => api('PATCH', path, { ...opts, body });
export const put = (path, body, opts) => api('PUT', path, { ...opts, body });
export const del = (path, opts) => api('DELETE', path, opts);

/** Encode one path segment (IDs are opaque strings). */
export const seg = (value) => encodeURIComponent(String(value));
