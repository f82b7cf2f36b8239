// The page recovers by itself after the server restarts. A member has a
// channel open; the server process stops (SIGTERM) and a new one starts on
// the same address with the same data directory. Without a reload the page
// shows the reconnecting banner, queues a message written while the server
// is down, reconnects (same access token: jwt.key is in the data directory),
// delivers the queued message exactly once, catches up on a message posted
// before it reconnected (resume positions in the auth frame) and receives a
// new message live.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newContext, watchPage, shot, tid, isHttpError,
  api, setupViaApi, registerViaInvite, signInThroughPage, writeConsoleLog,
} from './harness.mjs';

const OWNER = { displayName: 'Olivia Owner', username: 'olivia', email: 'olivia@example.com', password: 'violet-harbor-tram-1987' };
const MEMBER = { displayName: 'Mika Member', username: 'mika', email: 'mika@example.com', password: 'copper-lantern-fjord-42' };

describe('recovery after a server restart', () => {
  let server;
  let browser;
  let context;
  let page;
  let watcher;
  const s = {};

  before(async () => {
    server = await startServer({ name: 'recovery-server' });
    browser = await launchBrowser();
    const owner = await setupViaApi(server, 'Harbor Labs', OWNER);
    Object.assign(s, { wsId: owner.wsId, ownerToken: owner.token });
    const member = await registerViaInvite(server, owner.token, owner.wsId, MEMBER);
    const channel = await api(server, 'POST', `/api/workspaces/${encodeURIComponent(owner.wsId)}/channels`, {
      token: owner.token, body: { name: 'ops', member_ids: [member.userId] },
    });
    s.channelId = channel.id;
    s.say = (body) => api(server, 'POST', `/api/channels/${encodeURIComponent(channel.id)}/messages`, { token: s.ownerToken, body: { body } });
    await s.say('before the restart');
  });

  after(async () => {
    if (watcher) writeConsoleLog([watcher], 'recovery-console.log');
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  const message = (text) => tid(page, 'message-list').getByTestId('message').filter({ hasText: text });

  it('a channel page reconnects after a restart and gets queued, missed and new messages without a reload', async (t) => {
    try {
      context = await newContext(browser);
      page = await context.newPage();
      watcher = watchPage(page, { label: 'member' });
      watcher.allow((e) => isHttpError(e, '/api/auth/refresh', 401));
      // While the server is down, Chromium logs each refused socket.
      watcher.allow((e) => /WebSocket connection to .*\/api\/ws.* failed/.test(e.text));
      await signInThroughPage(page, server, s.wsId, { login: MEMBER.username, password: MEMBER.password });
      await page.goto(`${server.url}/w/${encodeURIComponent(s.wsId)}/c/${encodeURIComponent(s.channelId)}`);
      await message('before the restart').waitFor();
      await watcher.realtimeReady();
      await page.evaluate(() => { window.__e2eNoReload = true; });
      const socketsBefore = watcher.sockets.length;

      // The server goes away: the page says it is reconnecting.
      const dataDir = server.dataDir;
      await server.stop({ keepData: true });
      await tid(page, 'reconnect-banner').waitFor({ state: 'visible' });
      // Written while the server is down: queued, not lost.
      await tid(page, 'composer-input').fill('written while the server was down');
      await tid(page, 'composer-send').click();
      await message('written while the server was down').waitFor();
      await shot(page, 'server-down');

      // A new process on the same address and data directory.
      server = await startServer({ name: 'recovery-server-restarted', dataDir, listen: new URL(server.url).host });
      // Posted before the page is back: it must arrive through the resume.
      await s.say('posted right after the restart');
      const socket = await waitFor(() => watcher.sockets.slice(socketsBefore).find((x) => x.authenticated && !x.closed), 30_000, 'a new authenticated socket');
      assert.ok(socket);
      await tid(page, 'reconnect-banner').waitFor({ state: 'hidden' });
      await message('posted right after the restart').waitFor();

      // The queued message went out exactly once.
      await waitFor(async () => {
        const list = await api(server, 'GET', `/api/channels/${encodeURIComponent(s.channelId)}/messages?limit=50`, { token: s.ownerToken });
        return list.messages.filter((m) => m.body === 'written while the server was down').length === 1;
      }, 15_000, 'the queued message on the server');

      // And live updates flow again.
      await s.say('live after the restart');
      await message('live after the restart').waitFor();
      assert.equal(await message('written while the server was down').count(), 1);
      assert.equal(await page.evaluate(() => window.__e2eNoReload), true, 'the page was not reloaded');
      await shot(page, 'recovered');
      assert.deepEqual(watcher.problems(), []);
      assert.deepEqual(context.cspViolations, []);
    } catch (err) {
      if (page && !page.isClosed()) await shot(page, `FAILED-${t.name}`).catch(() => {});
      throw err;
    }
  });
});

/** Poll fn() until it returns something truthy. */
async function waitFor(fn, timeout, what) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
