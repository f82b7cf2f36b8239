// Browser test harness: the real server binary on a random port with a fresh
// data directory, Debian's Chromium driven by playwright-core, page watchers
// (console errors, page errors, CSP violations, the realtime socket) and
// named screenshots in output/.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const OUTPUT = join(HERE, 'output');
mkdirSync(OUTPUT, { recursive: true });

const SERVER_START_TIMEOUT_MS = 30_000;

/** The server binary: $CONVENE_BIN, else the debug build of the workspace. */
export function serverBinary() {
  const bin = process.env.CONVENE_BIN || resolve(HERE, '../../target/debug/convene');
  if (!existsSync(bin)) {
    throw new Error(`server binary not found at ${bin}: build it (cargo build --bin convene) or set CONVENE_BIN`);
  }
  return bin;
}

/**
 * Start `convene serve` on 127.0.0.1:0 with a fresh data directory and rate
 * limits raised for tests. Resolves once the listening line (and, on a first
 * run, the setup link) has been printed.
 * Returns { url, setupLink, dataDir, log(), stop() }.
 *
 * `dataDir` and `listen` (host:port) reuse an existing data directory and
 * address (a restart); then no setup link is awaited.
 */
export async function startServer({ name = 'server', env = {}, dataDir: reuseDir = null, listen = '127.0.0.1:0' } = {}) {
  const bin = serverBinary();
  const dataDir = reuseDir || mkdtempSync(join(tmpdir(), 'convene-e2e-'));
  const expectSetupLink = !reuseDir;
  const child = spawn(bin, ['serve', '--listen', listen, '--data-dir', dataDir], {
    env: {
      ...inheritedEnv(),
      CONVENE_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE: '10000',
      CONVENE_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE: '10000',
      CONVENE_REGISTRATIONS_PER_IP_PER_HOUR: '10000',
      CONVENE_LOG_FORMAT: 'text',
      // Media on an ephemeral loopback port: tests must not depend on the default UDP
      // port being free (another server, a bench or a parallel run may hold it).
      CONVENE_MEDIA_IP: '127.0.0.1',
      CONVENE_MEDIA_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const record = (stream) => (line) => lines.push(`[${stream}] ${line}`);
  const stdout = createInterface({ input: child.stdout });
  createInterface({ input: child.stderr }).on('line', record('stderr'));
  stdout.on('line', record('stdout'));
  let exited = null;
  const exit = new Promise((res) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    res(exited);
  }));
  // Never leave a server behind, even if the test process dies early.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let url = null;
  let setupLink = null;
  try {
    await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`server did not start within ${SERVER_START_TIMEOUT_MS} ms`)), SERVER_START_TIMEOUT_MS);
      const done = (fn) => (v) => { clearTimeout(timer); stdout.off('line', onLine); fn(v); };
      const ok = done(res);
      const fail = done(rej);
      const onLine = (line) => {
        const listening = line.match(/convene: listening on (http:\/\/127\.0\.0\.1:\d+)/);
        if (listening) url = listening[1];
        const setup = line.match(/(https?:\/\/\S+\/setup#token=\S+)/);
        if (setup) setupLink = setup[1];
        if (url && (setupLink || !expectSetupLink)) ok();
      };
      stdout.on('line', onLine);
      exit.then(({ code, signal }) => fail(new Error(`server exited before it was ready (code ${code}, signal ${signal})`)));
    });
  } catch (err) {
    child.kill('SIGKILL');
    writeFileSync(join(OUTPUT, `${name}.log`), lines.join('\n') + '\n');
    throw new Error(`${err.message}\n--- server output ---\n${lines.join('\n')}`);
  }

  return {
    url,
    setupLink,
    dataDir,
    log: () => lines.join('\n'),
    /**
     * Stop the server (SIGTERM, then SIGKILL), keep its log in output/, then
     * remove its data unless `keepData`.
     */
    async stop({ keepData = false } = {}) {
      process.off('exit', killOnExit);
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exit;
        clearTimeout(timer);
      }
      writeFileSync(join(OUTPUT, `${name}.log`), lines.join('\n') + '\n');
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The environment minus inherited CONVENE_* settings (a database URL or a
 * public URL from the caller's shell would point the server elsewhere);
 * CONVENE_LOG is kept for debugging.
 */
function inheritedEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CONVENE_') || key === 'CONVENE_LOG') env[key] = value;
  }
  return env;
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
];

/** Debian's Chromium, headless. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

export const DESKTOP = { viewport: { width: 1280, height: 800 }, locale: 'en-US' };
export const PHONE = {
  viewport: { width: 375, height: 812 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'en-US',
};

/**
 * A browser context whose pages record CSP violations (through an init
 * script, reported back over a binding that survives navigations). The time
 * zone is Europe/Berlin unless `options.timezoneId` says otherwise.
 */
export async function newContext(browser, options = DESKTOP) {
  const context = await browser.newContext({ timezoneId: 'Europe/Berlin', ...options });
  context.setDefaultTimeout(15_000);
  context.cspViolations = [];
  await context.exposeBinding('__conveneCspViolation', ({ page }, v) => {
    context.cspViolations.push({ page: page?.url(), ...v });
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      // eslint-disable-next-line no-undef
      window.__conveneCspViolation({
        directive: e.violatedDirective,
        blocked: e.blockedURI,
        source: e.sourceFile,
        line: e.lineNumber,
        sample: e.sample,
      });
    });
  });
  return context;
}

/**
 * Watch a page: console errors and warnings, uncaught page errors, failed
 * requests and the realtime websocket (/api/ws).
 *
 * allow: functions (entry) -> bool naming console errors that are expected.
 * The returned watcher has problems() (unexpected errors), realtimeReady()
 * (resolves once a socket authenticated) and sockets (per socket: url,
 * frames sent/received, closed).
 */
export function watchPage(page, { label = 'page' } = {}) {
  const watcher = {
    label,
    console: [],
    pageErrors: [],
    sockets: [],
    allowed: [],
    allow(fn) {
      this.allowed.push(fn);
    },
    /** Console errors (and page errors) not matched by an allow rule. */
    problems() {
      const errors = this.console.filter((e) => e.type === 'error' && !this.allowed.some((fn) => fn(e)));
      return [...errors.map((e) => `${this.label}: console.${e.type}: ${e.text} (${e.url})`),
        ...this.pageErrors.map((e) => `${this.label}: uncaught: ${e}`)];
    },
    /** Resolves once a realtime socket has been answered `ok` to its auth frame. */
    realtimeReady(timeout = 15_000) {
      const open = () => this.sockets.find((s) => s.authenticated && !s.closed);
      if (open()) return Promise.resolve(open());
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`${label}: realtime socket not authenticated within ${timeout} ms`)), timeout);
        this.onAuth = (s) => { clearTimeout(timer); this.onAuth = null; res(s); };
      });
    },
    openSocket() {
      return this.sockets.find((s) => s.authenticated && !s.closed) || null;
    },
  };
  page.on('console', (msg) => {
    const loc = msg.location();
    watcher.console.push({ type: msg.type(), text: msg.text(), url: loc?.url || '', at: page.url() });
  });
  page.on('pageerror', (err) => watcher.pageErrors.push(String(err?.stack || err)));
  page.on('websocket', (ws) => {
    if (!/\/api\/ws$/.test(new URL(ws.url()).pathname)) return;
    const s = { url: ws.url(), sent: [], received: [], authId: null, authenticated: false, closed: false };
    watcher.sockets.push(s);
    ws.on('framesent', ({ payload }) => {
      const f = parse(payload);
      s.sent.push(f ?? payload);
      if (f?.type === 'auth') s.authId = f.id;
    });
    ws.on('framereceived', ({ payload }) => {
      const f = parse(payload);
      s.received.push(f ?? payload);
      if (f?.type === 'ok' && f.id != null && f.id === s.authId) {
        s.authenticated = true;
        watcher.onAuth?.(s);
      }
    });
    ws.on('close', () => { s.closed = true; });
  });
  return watcher;
}

function parse(payload) {
  try {
    return JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    return null;
  }
}

/** The console error Chromium logs for an HTTP error answer to `path` with `status`. */
export function isHttpError(entry, path, status) {
  let pathname = '';
  try {
    pathname = new URL(entry.url).pathname;
  } catch {
    return false;
  }
  return pathname === path && entry.text.includes(`status of ${status}`);
}

let shotSeq = 0;
// node --test runs each test file in its own process: name shots after the file.
const SHOT_PREFIX = basename(process.argv[1] || 'e2e').replace(/\.test\.m?js$/, '');

/** Save a full-page screenshot as output/<file>-NN-<name>.png; returns the path. */
export async function shot(page, name) {
  shotSeq += 1;
  const safe = name.replace(/[^a-z0-9._-]+/gi, '-').slice(0, 120);
  const file = join(OUTPUT, `${SHOT_PREFIX}-${String(shotSeq).padStart(2, '0')}-${safe}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
  return file;
}

/** A locator by data-testid. */
export const tid = (page, id) => page.getByTestId(id);

// --- helpers for journeys that set up accounts through the API --------------------------

/**
 * A JSON request to the server's API. Returns the parsed body (null for 204);
 * throws on a non-2xx answer with the status and body in the message.
 */
export async function api(server, method, path, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * First-run setup through POST /api/setup (the token comes from the printed
 * setup link). user: { displayName, username, email, password }.
 * Returns { token, userId, wsId }.
 */
export async function setupViaApi(server, workspaceName, user) {
  const setupToken = new URL(server.setupLink).hash.replace(/^#token=/, '');
  const auth = await api(server, 'POST', '/api/setup', {
    body: {
      token: decodeURIComponent(setupToken),
      email: user.email,
      username: user.username,
      display_name: user.displayName,
      password: user.password,
      workspace_name: workspaceName,
    },
  });
  const me = await api(server, 'GET', '/api/me', { token: auth.access_token });
  return { token: auth.access_token, userId: auth.user.id, wsId: me.workspaces[0].id };
}

/**
 * A new account joining workspace `wsId` through an invite created by an admin
 * (`adminToken`). Returns { token, userId }.
 */
export async function registerViaInvite(server, adminToken, wsId, user) {
  const invite = await api(server, 'POST', `/api/workspaces/${encodeURIComponent(wsId)}/invites`, { token: adminToken, body: {} });
  const auth = await api(server, 'POST', '/api/auth/register', {
    body: {
      invite_token: invite.token,
      email: user.email,
      username: user.username,
      display_name: user.displayName,
      password: user.password,
    },
  });
  return { token: auth.access_token, userId: auth.user.id };
}

/** Sign in through the login page; resolves on the workspace page (`/w/<wsId>`). */
export async function signInThroughPage(page, server, wsId, { login, password }) {
  await page.goto(`${server.url}/login`);
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-login').fill(login);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(`${server.url}/w/${encodeURIComponent(wsId)}`);
}

/** Write every watched page's console to output/<name>. */
export function writeConsoleLog(watchers, name) {
  const lines = watchers.flatMap((w) => [
    ...w.console.map((e) => `${w.label}\t${e.type}\t${e.text}\t${e.url}\t(at ${e.at})`),
    ...w.pageErrors.map((e) => `${w.label}\tpageerror\t${e}`),
  ]);
  writeFileSync(join(OUTPUT, name), lines.join('\n') + '\n');
}

/** The document's width and the viewport's (scroll > client: the page scrolls sideways). */
export async function horizontalOverflow(page) {
  return page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
}

/** Fail unless the page fits its viewport's width. */
export async function assertNoHorizontalScroll(page, what) {
  const { scroll, client } = await horizontalOverflow(page);
  assert.ok(scroll <= client, `${what} scrolls sideways: content ${scroll}px wide in a ${client}px viewport`);
}

/**
 * Wait until one element of `locator` contains `text`, else fail saying what is there.
 * `state: 'attached'` accepts elements that are present but not shown (a collapsed
 * sidebar at phone width).
 */
export async function assertText(locator, text, { timeout = 10_000, state = 'visible' } = {}) {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ timeout, state });
  } catch {
    const found = await locator.first().textContent({ timeout: 1_000 }).catch(() => '(no element)');
    assert.fail(`expected text "${text}", found "${found}"`);
  }
}

/** Wait until the meeting room's connection state is `state`. */
export async function roomState(page, state, timeout = 15_000) {
  try {
    await page.locator(`[data-testid="meeting-room"][data-state="${state}"]`).waitFor({ timeout });
  } catch {
    const now = await tid(page, 'meeting-room').getAttribute('data-state', { timeout: 1_000 }).catch(() => '(no room)');
    assert.fail(`expected the room to be ${state}, it is ${now}`);
  }
}
