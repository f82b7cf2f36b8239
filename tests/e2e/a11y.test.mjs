// Accessibility: axe-core (tests/e2e/node_modules/axe-core, injected into the
// page) over the main pages — sign-in, workspace home, a channel with
// messages and read receipts, search, profile, sessions, the admin pages,
// meetings and a meeting's pre-join screen — in English, the channel page
// also in Chinese, and the channel page and a few others in dark mode. Any
// violation with impact "serious" or "critical" fails. Also saves the
// screenshots for the docs into docs/screenshots/ when E2E_DOC_SHOTS=1.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  HERE, startServer, launchBrowser, newContext, watchPage, shot, tid, isHttpError, DESKTOP,
  api, setupViaApi, registerViaInvite, signInThroughPage, writeConsoleLog,
} from './harness.mjs';

const AXE_SOURCE = readFileSync(join(HERE, 'node_modules/axe-core/axe.min.js'), 'utf8');
const DOCS_SHOTS = resolve(HERE, '../../docs/screenshots');
const WORKSPACE = 'Harbor Labs';
const CHANNEL = 'design-review';
const OWNER = { displayName: 'Olivia Owner', username: 'olivia', email: 'olivia@example.com', password: 'violet-harbor-tram-1987' };
const MEMBER = { displayName: 'Mika Member', username: 'mika', email: 'mika@example.com', password: 'copper-lantern-fjord-42' };
const PHONE_390 = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true, locale: 'en-US' };

/** Run axe on the page; returns the serious and critical violations as readable lines. */
async function axe(page) {
  const loaded = await page.evaluate(() => typeof window.axe === 'object');
  if (!loaded) {
    // Through CDP (page.evaluate): the CSP (script-src 'self') blocks addScriptTag's inline script.
    await page.evaluate(AXE_SOURCE);
  }
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const res = await window.axe.run(document, { resultTypes: ['violations'] });
    return res.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.filter((n) => n.impact === 'serious' || n.impact === 'critical')
        .map((n) => `${n.target.join(' ')} :: ${n.failureSummary.replace(/\s+/g, ' ').slice(0, 300)}`),
    }));
  });
  return violations.filter((v) => v.nodes.length)
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 8).join('\n    ')}`);
}

/** Save a viewport screenshot for the docs as docs/screenshots/<name>.png. */
async function saveDocShot(page, name) {
  if (process.env.E2E_DOC_SHOTS !== '1') return;
  mkdirSync(DOCS_SHOTS, { recursive: true });
  await page.screenshot({ path: join(DOCS_SHOTS, `${name}.png`), animations: 'disabled', caret: 'hide' });
}

describe('accessibility (axe-core)', () => {
  let server;
  let browser;
  const contexts = [];
  const watchers = [];
  const s = {};
  const found = [];

  async function openPage(label, options = DESKTOP) {
    const context = await newContext(browser, options);
    contexts.push(context);
    const page = await context.newPage();
    const watcher = watchPage(page, { label });
    watcher.allow((e) => isHttpError(e, '/api/auth/refresh', 401));
    watchers.push(watcher);
    return { context, page, watcher };
  }

  /** Check the page with axe, keep a screenshot, record the violations under `name`. */
  async function check(page, name) {
    // Let transitions and late renders settle.
    await page.waitForTimeout(300);
    await shot(page, name);
    const v = await axe(page);
    if (v.length) found.push(`${name}:\n  ${v.join('\n  ')}`);
    return v;
  }

  before(async () => {
    server = await startServer({ name: 'a11y-server' });
    browser = await launchBrowser();
    const owner = await setupViaApi(server, WORKSPACE, OWNER);
    Object.assign(s, { wsId: owner.wsId, ownerToken: owner.token });
    const member = await registerViaInvite(server, owner.token, owner.wsId, MEMBER);
    s.memberToken = member.token;
    const ws = encodeURIComponent(owner.wsId);
    const channel = await api(server, 'POST', `/api/workspaces/${ws}/channels`, {
      token: owner.token, body: { name: CHANNEL, topic: 'Weekly design review', member_ids: [member.userId] },
    });
    s.channelId = channel.id;
    const ch = encodeURIComponent(channel.id);
    const say = (token, body) => api(server, 'POST', `/api/channels/${ch}/messages`, { token, body: { body } });
    await say(owner.token, 'Morning! The **new onboarding flow** is ready for review.');
    await say(member.token, 'Looks great. Two notes:\n- the empty state needs a hint\n- `Save` should be the primary button');
    s.lastMessage = await say(owner.token, 'Thanks — I will update the mockups before Thursday.');
    await api(server, 'POST', `/api/workspaces/${ws}/invites`, { token: owner.token, body: { email: 'new.hire@example.com' } });
    const meeting = await api(server, 'POST', `/api/workspaces/${ws}/meetings`, {
      token: owner.token, body: { channel_id: channel.id, title: 'Design sync' },
    });
    s.meetingCode = meeting.code;
    // The newest message of the channel (the meeting card).
    const last = (await api(server, 'GET', `/api/channels/${ch}/messages?limit=1`, { token: owner.token }))?.messages?.[0] ?? s.lastMessage;
    // The member reads the channel, so the owner's messages show "All read".
    if (last?.seq != null) {
      await api(server, 'POST', `/api/channels/${ch}/read`, { token: member.token, body: { seq: last.seq } }).catch(() => {});
    }
  });

  after(async () => {
    writeConsoleLog(watchers, 'a11y-console.log');
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it('the sign-in page has no serious or critical violations', async () => {
    const { page } = await openPage('signed-out');
    await page.goto(`${server.url}/login`);
    await tid(page, 'login-form').waitFor();
    await saveDocShot(page, 'login');
    assert.deepEqual(await check(page, 'login'), []);
  });

  it('the signed-in pages have no serious or critical violations (light and dark)', async () => {
    found.length = 0;
    const { page, watcher } = await openPage('owner');
    await signInThroughPage(page, server, s.wsId, { login: OWNER.username, password: OWNER.password });
    await watcher.realtimeReady();
    const ws = `/w/${encodeURIComponent(s.wsId)}`;
    const pages = [
      ['home', ws, 'chat-main'],
      ['channel', `${ws}/c/${encodeURIComponent(s.channelId)}`, 'message-list'],
      ['search', `${ws}/search?q=${encodeURIComponent('mockups')}`, 'search-result'],
      ['profile', '/profile', 'profile-form'],
      ['sessions', '/sessions', 'session-list'],
      ['admin-members', `${ws}/admin/members`, 'member-row'],
      ['admin-teams', `${ws}/admin/teams`, 'team-create-form'],
      ['admin-invites', `${ws}/admin/invites`, 'invite-row'],
      ['admin-audit', `${ws}/admin/audit`, 'audit-row'],
      ['admin-usage', `${ws}/admin/usage`, 'usage-messages'],
      ['admin-settings', `${ws}/settings`, 'settings-form'],
      ['meetings', `${ws}/meetings`, 'meetings-list'],
      ['meeting-prejoin', `/m/${encodeURIComponent(s.meetingCode)}`, 'meeting-prejoin'],
    ];
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [name, path, ready] of pages) {
        await page.goto(`${server.url}${path}`);
        await tid(page, ready).first().waitFor();
        assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), scheme, `${name}: theme follows the system`);
        if (name === 'channel') {
          await page.getByText('update the mockups').waitFor();
          await tid(page, 'message-receipt').first().waitFor().catch(() => {});
        }
        if (scheme === 'light') await saveDocShot(page, name);
        else if (name === 'channel') await saveDocShot(page, 'channel-dark');
        await check(page, `${scheme}-${name}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    assert.deepEqual(found, [], `axe found serious or critical violations:\n${found.join('\n')}`);
    assert.deepEqual(watcher.problems(), []);
    assert.deepEqual(page.context().cspViolations, []);
  });

  it('the theme picker on the profile page switches light / dark / system and remembers it on this device', async () => {
    const { page } = await openPage('theme', { ...DESKTOP, colorScheme: 'light' });
    await signInThroughPage(page, server, s.wsId, { login: MEMBER.username, password: MEMBER.password });
    const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(await theme(), 'light');
    const lightBg = await bg();
    await page.goto(`${server.url}/profile`);
    const picker = tid(page, 'profile-theme');
    assert.equal(await picker.inputValue(), 'system');
    await picker.selectOption('dark');
    assert.equal(await theme(), 'dark');
    assert.notEqual(await bg(), lightBg, 'the dark palette applies');
    await page.reload();
    assert.equal(await theme(), 'dark', 'the choice survives a reload');
    assert.equal(await tid(page, 'profile-theme').inputValue(), 'dark');
    // 'system' follows prefers-color-scheme again, live.
    await tid(page, 'profile-theme').selectOption('system');
    assert.equal(await theme(), 'light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    assert.equal(await page.evaluate(() => localStorage.getItem('convene.theme')), null);
    await tid(page, 'profile-theme').selectOption('light');
    assert.equal(await theme(), 'light', 'an explicit choice wins over the system');
  });

  it('the channel page in Chinese and at phone width has no serious or critical violations', async () => {
    found.length = 0;
    const ch = `/w/${encodeURIComponent(s.wsId)}/c/${encodeURIComponent(s.channelId)}`;
    const { context, page } = await openPage('member-zh', { ...DESKTOP, locale: 'zh-CN' });
    // The language picked on this device wins over the profile's.
    await context.addInitScript(() => localStorage.setItem('convene.lang', 'zh-CN'));
    await signInThroughPage(page, server, s.wsId, { login: MEMBER.username, password: MEMBER.password });
    await page.goto(`${server.url}${ch}`);
    await page.getByText('update the mockups').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    await saveDocShot(page, 'channel-zh-CN');
    await check(page, 'zh-CN-channel');

    const phone = await openPage('member-phone', PHONE_390);
    await signInThroughPage(phone.page, server, s.wsId, { login: MEMBER.username, password: MEMBER.password });
    await phone.page.goto(`${server.url}${ch}`);
    await phone.page.getByText('update the mockups').waitFor();
    await phone.page.waitForTimeout(300);
    await saveDocShot(phone.page, 'phone-chat');
    await check(phone.page, 'phone-channel');
    assert.deepEqual(found, [], `axe found serious or critical violations:\n${found.join('\n')}`);
  });
});
