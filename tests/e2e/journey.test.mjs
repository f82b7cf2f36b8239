// The admin's whole journey through the pages, as a person would do it, run
// three times against three fresh servers: in English at desktop size, in
// Simplified Chinese (a zh-CN browser; the client picks 简体中文 by itself) at
// desktop size, and in English at phone size. Each run: first-run setup from
// the printed setup link; an invite link from the Invites page, a second
// person registering through it; a team with that person in it; a channel
// where a message goes each way live; a meeting started from the channel that
// the second person joins from the channel's meeting card, both decoding the
// other's camera, then both leave; the owner deactivates the second person,
// whose open page is signed out at once; the audit log filtered by action
// shows the deactivation naming the person; the workspace is renamed on the
// Settings page and the new name shows in the frame, also after a reload.
// The Chinese run checks that pages carry Chinese and none of a few English
// labels; the phone run checks that no page scrolls sideways. Every page is
// checked for console errors, CSP violations and script dialogs.
//
// Screenshots: output/journey-<run>-<NN>-<step>[-member].png after each step.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  startServer, launchBrowser, newContext, watchPage, shot, tid, isHttpError, DESKTOP, PHONE, OUTPUT,
  writeConsoleLog,
  assertText, assertNoHorizontalScroll, roomState,
} from './harness.mjs';

// Texts may sit in a part of the page that is present but hidden (the sidebar at phone
// width): assertText accepts them there.
const ATTACHED = { state: 'attached' };

// How soon a deactivated person's open page must show the sign-in page.
const SIGN_OUT_WITHIN_MS = 5_000;

const RUNS = [
  {
    name: 'en-desktop',
    options: DESKTOP,
    lang: 'en',
    workspace: 'Northwind Works',
    renamed: 'Northwind Works HQ',
    team: 'Field Operations',
    channel: 'launch-plan',
    owner: { displayName: 'Olivia Owner', username: 'olivia', email: 'olivia@example.com', password: 'violet-harbor-tram-1987' },
    member: { displayName: 'Mika Member', username: 'mika', email: 'mika@example.com', password: 'copper-lantern-fjord-42' },
    hello: 'Welcome aboard, Mika! The launch plan lives here.',
    reply: 'Thanks Olivia, reading it now.',
  },
  {
    name: 'zh-CN-desktop',
    options: { ...DESKTOP, locale: 'zh-CN' },
    lang: 'zh-CN',
    workspace: '星火实验室',
    renamed: '星火实验室总部',
    team: '工程部',
    channel: 'launch-plan',
    owner: { displayName: '王丽', username: 'wangli', email: 'wangli@example.com', password: 'violet-harbor-tram-1987' },
    member: { displayName: '陈明', username: 'chenming', email: 'chenming@example.com', password: 'copper-lantern-fjord-42' },
    hello: '欢迎加入！发布计划都在这里。',
    reply: '谢谢，我现在就看。',
  },
  {
    name: 'en-phone',
    options: PHONE,
    lang: 'en',
    phone: true,
    workspace: 'Pocket Studio',
    renamed: 'Pocket Studio Co',
    team: 'Mobile',
    channel: 'on-the-go',
    owner: { displayName: 'Petra Owner', username: 'petra', email: 'petra@example.com', password: 'violet-harbor-tram-1987' },
    member: { displayName: 'Milo Member', username: 'milo', email: 'milo@example.com', password: 'copper-lantern-fjord-42' },
    hello: 'Hi Milo, this is where we plan on the go.',
    reply: 'Hi Petra, got it!',
  },
];

// English labels that must not show anywhere on a Chinese page.
const ENGLISH_LABELS = [
  'Members', 'Teams', 'Invites', 'Audit log', 'Settings', 'Save', 'Sign in', 'Sign out', 'Deactivate',
  'Create team', 'Meetings', 'Home', 'Channels', 'Profile', 'Workspace settings', 'Action',
];

for (const run of RUNS) {
  describe(`admin journey (${run.name})`, () => {
    let server;
    let browser;
    const contexts = [];
    const watchers = [];
    const pages = [];
    const dialogs = [];
    // Filled in as the journey goes; later steps skip if an earlier one failed.
    const s = {};
    const { owner: OWNER, member: MEMBER } = run;

    async function openPage(label) {
      const context = await newContext(browser, run.options);
      contexts.push(context);
      const page = await context.newPage();
      const watcher = watchPage(page, { label: `${run.name}-${label}` });
      // Signed out, every page load first tries the refresh cookie: a 401 there is expected.
      watcher.allow((e) => isHttpError(e, '/api/auth/refresh', 401));
      page.on('dialog', (d) => {
        dialogs.push({ page: label, type: d.type(), message: d.message() });
        d.dismiss().catch(() => {});
      });
      watchers.push(watcher);
      pages.push({ label, page });
      return { context, page, watcher };
    }

    /** Run a step; on failure keep a screenshot of every open page. */
    function step(fn) {
      return async (t) => {
        try {
          await fn(t);
        } catch (err) {
          for (const { label, page } of pages) {
            if (!page.isClosed()) await shot(page, `FAILED-${run.name}-${t.name}-${label}`).catch(() => {});
          }
          throw err;
        }
      };
    }

    function need(t, ...keys) {
      const missing = keys.filter((k) => s[k] == null);
      if (missing.length) {
        t.skip(`an earlier step failed (no ${missing.join(', ')})`);
        return false;
      }
      return true;
    }

    /** output/journey-<run>-<NN>-<step>[-suffix].png; at phone size also checks for sideways scrolling. */
    async function snap(page, n, stepName, suffix = '') {
      const file = join(OUTPUT, `journey-${run.name}-${String(n).padStart(2, '0')}-${stepName}${suffix ? `-${suffix}` : ''}.png`);
      await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
      if (run.phone) await assertNoHorizontalScroll(page, `${stepName}${suffix ? ` (${suffix})` : ''}`);
      return file;
    }

    /** Chinese run: the page shows Chinese and none of the English labels. */
    async function assertTranslated(page, what) {
      if (run.lang !== 'zh-CN') return;
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN', `${what}: <html lang>`);
      const text = await page.locator('body').innerText();
      assert.match(text, /[\u4e00-\u9fff]/, `${what}: no Chinese on the page`);
      const english = ENGLISH_LABELS.filter((label) => new RegExp(`(^|[^A-Za-z])${label}([^A-Za-z]|$)`).test(text));
      assert.deepEqual(english, [], `${what}: English labels on a Chinese page:\n${text}`);
    }

    /** Follow a sidebar link (at phone width the sidebar opens from the menu button first). */
    async function nav(page, testid) {
      await openSidebar(page);
      await tid(page, testid).click();
    }

    async function openSidebar(page) {
      if (!run.phone) return;
      const toggle = tid(page, 'nav-toggle');
      if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
      await tid(page, 'sidebar').locator('a').first().waitFor({ state: 'visible' });
    }

    before(async () => {
      server = await startServer({ name: `journey-${run.name}-server` });
      browser = await launchBrowser();
    });

    after(async () => {
      writeConsoleLog(watchers, `journey-${run.name}-console.log`);
      for (const c of contexts) await c.close().catch(() => {});
      await browser?.close().catch(() => {});
      await server?.stop();
    });

    it('1. setup: the owner opens the setup link and completes first-run setup', step(async () => {
      const { page, watcher } = await openPage('owner');
      await page.goto(server.setupLink);
      await tid(page, 'setup-form').waitFor();
      assert.equal(await page.evaluate(() => document.documentElement.lang), run.lang, 'the client picked the browser\'s language');
      await assertTranslated(page, 'setup page');
      await tid(page, 'setup-workspace-name').fill(run.workspace);
      await tid(page, 'setup-display-name').fill(OWNER.displayName);
      await tid(page, 'setup-username').fill(OWNER.username);
      await tid(page, 'setup-email').fill(OWNER.email);
      await tid(page, 'setup-password').fill(OWNER.password);
      await snap(page, 1, 'setup', 'form');
      await tid(page, 'setup-submit').click();

      await page.waitForURL(/\/w\/[^/]+$/);
      await assertText(tid(page, 'workspace-name'), run.workspace, ATTACHED);
      await watcher.realtimeReady();
      s.wsId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
      s.owner = { page, watcher };
      await assertTranslated(page, 'workspace home');
      await snap(page, 1, 'setup');
    }));

    it('2. invite: the owner creates an invite link; a second person registers through it', step(async (t) => {
      if (!need(t, 'owner')) return;
      const owner = s.owner.page;
      await nav(owner, 'nav-admin-invites');
      await owner.waitForURL(/\/admin\/invites$/);
      await tid(owner, 'invite-form').waitFor();
      await tid(owner, 'invite-create').click();
      const link = tid(owner, 'invite-link');
      await link.waitFor();
      const url = await link.inputValue();
      assert.ok(url.startsWith(`${server.url}/invite`), `invite link ${url} should point at ${server.url}/invite…`);
      await tid(owner, 'invite-row').and(owner.locator('[data-status="active"]')).waitFor();
      await assertTranslated(owner, 'invites page');
      await snap(owner, 2, 'invite', 'owner');

      const { page, watcher } = await openPage('member');
      await page.goto(url);
      await assertText(tid(page, 'invite-workspace-name'), run.workspace, ATTACHED);
      await tid(page, 'register-form').waitFor();
      await assertTranslated(page, 'invite registration page');
      await tid(page, 'register-display-name').fill(MEMBER.displayName);
      await tid(page, 'register-username').fill(MEMBER.username);
      await tid(page, 'register-email').fill(MEMBER.email);
      await tid(page, 'register-password').fill(MEMBER.password);
      await snap(page, 2, 'invite', 'member-form');
      await tid(page, 'register-submit').click();

      await page.waitForURL(`${server.url}/w/${encodeURIComponent(s.wsId)}`);
      await assertText(tid(page, 'workspace-name'), run.workspace, ATTACHED);
      await tid(page, 'sidebar').waitFor({ state: 'attached' });
      assert.equal(await tid(page, 'nav-admin').count(), 0, 'a member has no admin section');
      await watcher.realtimeReady();
      s.member = { page, watcher };
      await snap(page, 2, 'invite');
    }));

    it('3. teams: the owner creates a team and adds the second person to it', step(async (t) => {
      if (!need(t, 'owner', 'member')) return;
      const owner = s.owner.page;
      await nav(owner, 'nav-admin-teams');
      await owner.waitForURL(/\/admin\/teams/);
      await tid(owner, 'team-create-form').waitFor();
      await tid(owner, 'team-create-name').fill(run.team);
      await tid(owner, 'team-create-submit').click();
      const row = tid(owner, 'team-row').filter({ hasText: run.team });
      await row.waitFor();
      await row.getByTestId('team-select').click();
      const panel = tid(owner, 'team-panel');
      await assertText(panel.getByTestId('team-panel-title'), run.team, ATTACHED);
      await panel.getByTestId('team-add-member').selectOption({ label: `${MEMBER.displayName} (@${MEMBER.username})` });
      await panel.getByTestId('team-add-member-submit').click();
      const memberRow = panel.getByTestId('team-member-row').filter({ hasText: MEMBER.displayName });
      await memberRow.waitFor();
      s.memberUserId = await memberRow.getAttribute('data-user-id');
      assert.ok(s.memberUserId, 'the team member row carries data-user-id');
      await assertTranslated(owner, 'teams page');
      await snap(owner, 3, 'teams');
    }));

    it('4. chat: both open the same channel; a message each way arrives live', step(async (t) => {
      if (!need(t, 'owner', 'member')) return;
      const owner = s.owner.page;
      const member = s.member.page;
      // The owner creates the channel with the second person in it.
      await openSidebar(owner);
      await tid(owner, 'channel-create-open').click();
      const dialog = tid(owner, 'channel-create-dialog');
      await dialog.waitFor();
      await tid(owner, 'channel-create-name').fill(run.channel);
      await dialog.getByTestId('people-search').fill(MEMBER.username);
      await dialog.getByTestId('people-option').filter({ hasText: MEMBER.displayName })
        .getByTestId('people-option-check').check();
      await dialog.getByTestId('people-chip').filter({ hasText: MEMBER.displayName }).waitFor();
      await tid(owner, 'channel-create-submit').click();
      await owner.waitForURL(/\/w\/[^/]+\/c\/[^/?#]+$/);
      await dialog.waitFor({ state: 'detached' });
      s.channelPath = new URL(owner.url()).pathname;
      const channelId = decodeURIComponent(s.channelPath.split('/')[4]);
      await assertText(tid(owner, 'channel-title'), run.channel, ATTACHED);
      await tid(owner, 'message-list').waitFor();

      // The second person sees it appear in the sidebar without a reload and opens it.
      await member.evaluate(() => { window.__e2eNoReload = true; });
      await openSidebar(member);
      const item = tid(member, 'channel-item').and(member.locator(`[data-channel-id="${channelId}"]`));
      await assertText(item, run.channel, ATTACHED);
      await item.click();
      await member.waitForURL(`${server.url}${s.channelPath}`);
      await tid(member, 'message-list').waitFor();
      await tid(member, 'composer').getByTestId('composer-input').waitFor({ state: 'visible' });

      // A message each way, live.
      const helloId = await send(owner, run.hello);
      await assertText(messageById(member, helloId).getByTestId('message-body'), run.hello, ATTACHED);
      const replyId = await send(member, run.reply);
      await assertText(messageById(owner, replyId).getByTestId('message-body'), run.reply, ATTACHED);
      assert.equal(await member.evaluate(() => window.__e2eNoReload === true), true, 'the second person\'s page was not reloaded');
      s.channelId = channelId;
      await assertTranslated(owner, 'channel page');
      await snap(owner, 4, 'chat');
      await snap(member, 4, 'chat', 'member');
    }));

    it('5. meeting: the owner starts a meeting in the channel, the second person joins; both see each other, then leave', step(async (t) => {
      if (!need(t, 'owner', 'member', 'channelId')) return;
      const owner = s.owner.page;
      const member = s.member.page;
      await tid(owner, 'channel-meeting-start').click();
      await owner.waitForURL(/\/m\/[^/]+$/);
      const code = decodeURIComponent(new URL(owner.url()).pathname.split('/')[2]);
      await tid(owner, 'meeting-prejoin').waitFor();
      await assertTranslated(owner, 'meeting pre-join');
      await tid(owner, 'prejoin-join').click();
      await tid(owner, 'meeting-room').waitFor();
      await roomState(owner, 'connected');

      // The meeting card arrives live in the second person's channel; they join from it.
      const card = tid(member, 'message-list').getByTestId('meeting-card').and(member.locator(`[data-code="${code}"]`));
      await card.waitFor();
      await card.getByTestId('meeting-card-join').click();
      await member.waitForURL(`${server.url}/m/${encodeURIComponent(code)}`);
      await tid(member, 'meeting-prejoin').waitFor();
      assert.equal(await tid(member, 'prejoin-name').count(), 0, 'a member is not asked for a name');
      await tid(member, 'prejoin-join').click();
      await tid(member, 'meeting-room').waitFor();

      // Each page decodes the other's camera, and shows the other's tile with their name.
      const ownerSees = await framesRising(owner);
      const memberSees = await framesRising(member);
      t.diagnostic(`owner decoded ${ownerSees.before}→${ownerSees.after} frames; member ${memberSees.before}→${memberSees.after}`);
      for (const [viewer, other] of [[owner, MEMBER.displayName], [member, OWNER.displayName]]) {
        await roomState(viewer, 'connected');
        const remote = viewer.locator('[data-testid="meeting-tile"][data-self="false"][data-source="camera"][data-video="true"]');
        await remote.getByTestId('tile-name').filter({ hasText: other }).waitFor();
        assert.equal(await viewer.locator('[data-testid="meeting-tile"][data-source="camera"]').count(), 2, 'one tile per person');
      }
      await assertTranslated(member, 'meeting room');
      await snap(owner, 5, 'meeting');
      await snap(member, 5, 'meeting', 'member');

      // Both leave, and go back to the workspace.
      await tid(member, 'meeting-leave').click();
      await tid(member, 'meeting-ended').and(member.locator('[data-reason="left"]')).waitFor();
      await owner.locator('[data-testid="meeting-tile"][data-source="camera"]').nth(1).waitFor({ state: 'detached' });
      await tid(owner, 'meeting-leave').click();
      await tid(owner, 'meeting-ended').and(owner.locator('[data-reason="left"]')).waitFor();
      await snap(owner, 5, 'meeting', 'left');
      for (const page of [owner, member]) {
        await tid(page, 'meeting-back').click();
        await page.waitForURL(`${server.url}/w/${encodeURIComponent(s.wsId)}`);
        await tid(page, 'workspace-name').waitFor({ state: 'attached' });
      }
      s.met = true;
    }));

    it('6. the owner deactivates the second person; their open page is signed out at once', step(async (t) => {
      if (!need(t, 'owner', 'member')) return;
      const owner = s.owner.page;
      const { page, watcher } = s.member;
      const socket = await watcher.realtimeReady();
      await page.evaluate(() => { window.__e2eNoReload = true; });

      await nav(owner, 'nav-admin-members');
      await owner.waitForURL(/\/admin\/members$/);
      const row = tid(owner, 'member-row').filter({ has: tid(owner, 'member-name').getByText(MEMBER.displayName, { exact: true }) });
      await row.waitFor();
      if (s.memberUserId) assert.equal(await row.getAttribute('data-user-id'), s.memberUserId);
      s.memberUserId ??= await row.getAttribute('data-user-id');
      await assertTranslated(owner, 'members page');
      const started = Date.now();
      await row.getByTestId('member-deactivate').click();

      await tid(page, 'signed-out-message').waitFor({ timeout: SIGN_OUT_WITHIN_MS });
      t.diagnostic(`the second person's page was signed out ${Date.now() - started} ms after the click`);
      assert.equal(new URL(page.url()).pathname, '/login');
      await tid(page, 'login-form').waitFor();
      assert.equal(await page.evaluate(() => window.__e2eNoReload === true), true, 'the page was not reloaded');
      assert.ok(socket.closed, 'the realtime socket was closed');
      await assertTranslated(page, 'signed-out sign-in page');

      const fresh = tid(owner, 'member-row').and(owner.locator(`[data-user-id="${s.memberUserId}"]`));
      await fresh.getByTestId('member-deactivated').waitFor();
      await snap(owner, 6, 'deactivate');
      await snap(page, 6, 'deactivate', 'member');
      s.deactivated = true;
    }));

    it('7. the audit log, filtered by action, shows the deactivation naming the person', step(async (t) => {
      if (!need(t, 'owner', 'deactivated')) return;
      const owner = s.owner.page;
      await nav(owner, 'nav-admin-audit');
      await owner.waitForURL(/\/admin\/audit$/);
      await tid(owner, 'audit-row').first().waitFor();
      // Before filtering, other actions are listed too.
      assert.ok(await tid(owner, 'audit-row').and(owner.locator(':not([data-action="member.deactivated"])')).count() > 0,
        'the unfiltered log has other entries');
      await tid(owner, 'audit-filter-action').fill('member.deactivated');
      const others = owner.locator('[data-testid="audit-row"]:not([data-action="member.deactivated"])');
      await others.first().waitFor({ state: 'detached' });
      const rows = tid(owner, 'audit-row');
      await rows.first().waitFor();
      assert.equal(await rows.count(), 1, 'exactly one deactivation');
      const entry = rows.first();
      assert.equal(await entry.getAttribute('data-action'), 'member.deactivated');
      const text = await entry.innerText();
      assert.match(text, new RegExp(MEMBER.username), `the entry names the person: ${text}`);
      assert.match(text, new RegExp(OWNER.displayName), `the entry names the owner as actor: ${text}`);
      await assertTranslated(owner, 'audit page');
      await snap(owner, 7, 'audit');
    }));

    it('8. the owner renames the workspace on the Settings page; the frame shows it, also after a reload', step(async (t) => {
      if (!need(t, 'owner')) return;
      const owner = s.owner.page;
      await nav(owner, 'nav-settings');
      await owner.waitForURL(/\/settings$/);
      const name = tid(owner, 'settings-name');
      await name.waitFor();
      assert.equal(await name.inputValue(), run.workspace);
      await name.fill(run.renamed);
      await tid(owner, 'settings-save').click();
      await tid(owner, 'settings-saved').filter({ hasText: /\S/ }).waitFor();
      await assertText(tid(owner, 'workspace-name'), run.renamed, ATTACHED);
      await assertTranslated(owner, 'settings page');
      await snap(owner, 8, 'settings');

      await owner.reload();
      await tid(owner, 'settings-name').waitFor();
      assert.equal(await tid(owner, 'settings-name').inputValue(), run.renamed);
      await assertText(tid(owner, 'workspace-name'), run.renamed, ATTACHED);
      await snap(owner, 8, 'settings', 'reloaded');
    }));

    it('no page logged an unexpected console error, a CSP violation or a dialog', step(async () => {
      const problems = watchers.flatMap((w) => w.problems());
      const csp = contexts.flatMap((c) => c.cspViolations);
      assert.deepEqual(csp, [], `CSP violations:\n${JSON.stringify(csp, null, 2)}`);
      assert.deepEqual(problems, [], `unexpected console errors:\n${problems.join('\n')}`);
      assert.deepEqual(dialogs, [], 'script dialogs');
      assert.doesNotMatch(server.log(), /panicked/, 'the server panicked');
    }));
  });
}

// --- helpers ----------------------------------------------------------------------------------

/** A sent (not pending) message by id in the main list. */
function messageById(page, id) {
  return tid(page, 'message-list').locator(`[data-testid="message"][data-message-id="${id}"]`);
}

/** Type `text` into the composer, press Enter, wait until the server confirmed it; resolves to its id. */
async function send(page, text) {
  const input = tid(page, 'composer').getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  const m = tid(page, 'message-list').locator('[data-testid="message"][data-message-id]')
    .filter({ has: page.getByTestId('message-body').filter({ hasText: text }) });
  await m.waitFor();
  return m.getAttribute('data-message-id');
}

/** Camera video inbound-rtp on the page's subscribe connection. */
async function inboundCamera(page) {
  return page.evaluate(async () => {
    const m = window.__convene?.meeting;
    const pc = m?.pcs?.subscribe;
    if (!pc || pc.signalingState === 'closed') return [];
    const out = [];
    (await pc.getStats()).forEach((r) => {
      if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
      const info = m.call?.subTracks?.get(String(r.mid));
      if (info?.source === 'camera') out.push({ mid: r.mid, framesDecoded: r.framesDecoded || 0 });
    });
    return out;
  });
}

/** Wait until a camera video is decoding and still decoding about a second later. */
async function framesRising(page, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  let stalled = 'nothing decoded';
  while (Date.now() < deadline) {
    const first = (await inboundCamera(page)).filter((v) => v.framesDecoded > 0);
    if (first.length) {
      await page.waitForTimeout(1_000);
      const later = await inboundCamera(page);
      for (const a of first) {
        const b = later.find((v) => v.mid === a.mid);
        if (b && b.framesDecoded > a.framesDecoded) return { before: a.framesDecoded, after: b.framesDecoded };
        stalled = `${a.framesDecoded} frames, then ${b?.framesDecoded} a second later`;
      }
    } else {
      await page.waitForTimeout(250);
    }
  }
  assert.fail(`no camera video kept decoding on the subscribe connection (${stalled})`);
}
