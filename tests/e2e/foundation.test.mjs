// The foundation journey in a real browser: first-run setup, teams, invites,
// registration through an invite, the members list, deactivation ending the
// other user's session live, the Chinese UI, and phone-width layouts. Every
// page is also checked for console errors and CSP violations.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startServer, launchBrowser, newContext, watchPage, shot, tid, isHttpError, DESKTOP, PHONE, OUTPUT,
  assertText, assertNoHorizontalScroll,
} from './harness.mjs';

const WORKSPACE = 'Acme Robotics';
const TEAM = 'Engineering';
const OWNER = {
  displayName: 'Olivia Owner',
  username: 'olivia',
  email: 'olivia@example.com',
  password: 'violet-harbor-tram-1987',
};
const MEMBER = {
  displayName: 'Mika Member',
  username: 'mika',
  email: 'mika@example.com',
  password: 'copper-lantern-fjord-42',
};
// How soon a deactivated user's open page must show the sign-in page.
const SIGN_OUT_WITHIN_MS = 5_000;

describe('foundation journey', () => {
  let server;
  let browser;
  const contexts = [];
  const watchers = [];
  const pages = [];
  // Filled in as the journey goes; later steps skip if an earlier one failed.
  const s = {};

  /** A new page in a new context, watched for errors. */
  async function openPage(label, options = DESKTOP) {
    const context = await newContext(browser, options);
    contexts.push(context);
    const page = await context.newPage();
    const watcher = watchPage(page, { label });
    // Signed out, every page load first tries the refresh cookie: a 401 there is expected.
    watcher.allow((e) => isHttpError(e, '/api/auth/refresh', 401));
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
          if (!page.isClosed()) await shot(page, `FAILED-${t.name}-${label}`).catch(() => {});
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

  before(async () => {
    server = await startServer({ name: 'foundation-server' });
    browser = await launchBrowser();
  });

  after(async () => {
    dumpConsole(watchers);
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it('the setup link creates the owner account and the workspace', step(async () => {
    assert.match(server.setupLink, /^http:\/\/127\.0\.0\.1:\d+\/setup#token=.+/);
    const { page, watcher } = await openPage('owner');
    await page.goto(server.setupLink);
    await tid(page, 'setup-form').waitFor();
    // The token came from the link, so the form does not ask for it.
    assert.equal(await tid(page, 'setup-token').count(), 0);
    await tid(page, 'setup-workspace-name').fill(WORKSPACE);
    await tid(page, 'setup-display-name').fill(OWNER.displayName);
    await tid(page, 'setup-username').fill(OWNER.username);
    await tid(page, 'setup-email').fill(OWNER.email);
    await tid(page, 'setup-password').fill(OWNER.password);
    await shot(page, 'desktop-setup-form');
    await tid(page, 'setup-submit').click();

    await page.waitForURL(/\/w\/[^/]+$/);
    await assertText(tid(page, 'workspace-name'), WORKSPACE);
    await tid(page, 'sidebar').waitFor();
    await tid(page, 'nav-admin').waitFor();
    await watcher.realtimeReady();
    s.wsId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
    s.owner = { page, watcher };
    await shot(page, 'desktop-owner-home');

    // The setup link works once: opened again it says Convene is set up.
    const again = await openPage('setup-again');
    await again.page.goto(server.setupLink);
    await tid(again.page, 'setup-done').waitFor();
  }));

  it('the owner creates a team', step(async (t) => {
    if (!need(t, 'owner')) return;
    const { page } = s.owner;
    await tid(page, 'nav-admin-teams').click();
    await page.waitForURL(/\/admin\/teams$/);
    await tid(page, 'team-create-form').waitFor();
    await tid(page, 'team-create-name').fill(TEAM);
    await tid(page, 'team-create-submit').click();
    const row = tid(page, 'team-row').filter({ hasText: TEAM });
    await row.waitFor();
    assert.equal(await tid(page, 'team-row').count(), 1);
    await shot(page, 'desktop-owner-team-created');
  }));

  it('the owner creates an invite link', step(async (t) => {
    if (!need(t, 'owner')) return;
    const { page } = s.owner;
    await tid(page, 'nav-admin-invites').click();
    await page.waitForURL(/\/admin\/invites$/);
    await tid(page, 'invite-form').waitFor();
    await tid(page, 'invite-create').click();
    const link = tid(page, 'invite-link');
    await link.waitFor();
    const url = await link.inputValue();
    assert.ok(url.startsWith(`${server.url}/invite`), `invite link ${url} should point at ${server.url}/invite…`);
    await tid(page, 'invite-row').and(page.locator('[data-status="active"]')).waitFor();
    s.inviteLink = url;
    await shot(page, 'desktop-owner-invite-link');
  }));

  it('a second person opens the invite link and registers', step(async (t) => {
    if (!need(t, 'inviteLink', 'wsId')) return;
    const { page, watcher } = await openPage('member');
    await page.goto(s.inviteLink);
    await assertText(tid(page, 'invite-workspace-name'), WORKSPACE);
    await tid(page, 'register-form').waitFor();
    await tid(page, 'register-display-name').fill(MEMBER.displayName);
    await tid(page, 'register-username').fill(MEMBER.username);
    await tid(page, 'register-email').fill(MEMBER.email);
    await tid(page, 'register-password').fill(MEMBER.password);
    await shot(page, 'desktop-member-invite-register');
    await tid(page, 'register-submit').click();

    await page.waitForURL(`${server.url}/w/${encodeURIComponent(s.wsId)}`);
    await assertText(tid(page, 'workspace-name'), WORKSPACE);
    // A member has no admin section.
    await tid(page, 'sidebar').waitFor();
    assert.equal(await tid(page, 'nav-admin').count(), 0);
    await watcher.realtimeReady();
    s.member = { page, watcher };
    await shot(page, 'desktop-member-home');
  }));

  it('the owner sees the new member in the members list', step(async (t) => {
    if (!need(t, 'owner', 'member')) return;
    const { page } = s.owner;
    await assertText(tid(page, 'workspace-name'), WORKSPACE);
    await tid(page, 'nav-admin-members').click();
    await page.waitForURL(/\/admin\/members$/);
    const row = tid(page, 'member-row').filter({ has: tid(page, 'member-name').getByText(MEMBER.displayName, { exact: true }) });
    await row.waitFor();
    assert.equal(await tid(page, 'member-row').count(), 2);
    s.memberUserId = await row.getAttribute('data-user-id');
    assert.ok(s.memberUserId, 'member row carries data-user-id');
    await shot(page, 'desktop-owner-members');
  }));

  it('a password-reset link from the members page lets the member choose a new password', step(async (t) => {
    if (!need(t, 'owner', 'member', 'memberUserId')) return;
    const owner = s.owner.page;
    const { page, watcher } = s.member;
    await watcher.realtimeReady();
    const row = tid(owner, 'member-row').and(owner.locator(`[data-user-id="${s.memberUserId}"]`));
    await row.getByTestId('member-reset-password').click();
    const link = await tid(owner, 'reset-link').inputValue();
    assert.match(link, /\/reset-password#[A-Za-z0-9_-]{20,}$/);
    await shot(owner, 'desktop-owner-reset-link');
    await tid(owner, 'dialog-close').click();

    // The member opens it signed out, as someone who forgot the password would.
    const { page: resetPage, watcher: resetWatcher } = await openPage('reset');
    // The used-up link is looked up once more at the end: a 404 then is the point.
    resetWatcher.allow((e) => e.text.includes('status of 404') && String(e.url).includes('/api/auth/password-reset/'));
    await resetPage.goto(link);
    assert.match(await tid(resetPage, 'reset-for').innerText(), new RegExp(`${MEMBER.displayName}.*@${MEMBER.username}`));
    const newPassword = 'amber-quarry-violin-77';
    await tid(resetPage, 'reset-password').fill(newPassword);
    await shot(resetPage, 'desktop-member-reset-form');
    await tid(resetPage, 'reset-submit').click();
    await tid(resetPage, 'reset-done').waitFor();
    await shot(resetPage, 'desktop-member-reset-done');

    // The member's open page was signed out; the new password signs in.
    await tid(page, 'signed-out-message').waitFor({ timeout: SIGN_OUT_WITHIN_MS });
    await tid(page, 'login-login').fill(MEMBER.email);
    await tid(page, 'login-password').fill(newPassword);
    await tid(page, 'login-submit').click();
    await page.waitForURL((url) => url.pathname !== '/login');
    MEMBER.password = newPassword;
    await watcher.realtimeReady();
    // The link is used up.
    await resetPage.goto('about:blank');
    await resetPage.goto(link);
    await tid(resetPage, 'reset-invalid').waitFor();
  }));

  it('deactivating the member signs their open page out at once', step(async (t) => {
    if (!need(t, 'owner', 'member', 'memberUserId')) return;
    const owner = s.owner.page;
    const { page, watcher } = s.member;
    // The member's page must hold a live, authenticated socket for the server to close.
    const socket = await watcher.realtimeReady();
    // Set a marker: it survives only if the page is not reloaded.
    await page.evaluate(() => { window.__e2eNoReload = true; });

    const row = tid(owner, 'member-row').and(owner.locator(`[data-user-id="${s.memberUserId}"]`));
    const started = Date.now();
    await row.getByTestId('member-deactivate').click();

    await tid(page, 'signed-out-message').waitFor({ timeout: SIGN_OUT_WITHIN_MS });
    const elapsed = Date.now() - started;
    t.diagnostic(`member page signed out ${elapsed} ms after the click`);
    assert.equal(new URL(page.url()).pathname, '/login');
    await tid(page, 'login-form').waitFor();
    assert.equal(await page.evaluate(() => window.__e2eNoReload === true), true, 'the page was not reloaded');
    assert.match(await tid(page, 'signed-out-message').innerText(), /session has ended/i);
    assert.ok(socket.closed, 'the realtime socket was closed');
    await shot(page, 'desktop-member-signed-out');

    // The owner's list marks the member deactivated.
    const fresh = tid(owner, 'member-row').and(owner.locator(`[data-user-id="${s.memberUserId}"]`));
    await fresh.getByTestId('member-deactivated').waitFor();
    await fresh.getByTestId('member-reactivate').waitFor();
    await shot(owner, 'desktop-owner-member-deactivated');
    s.deactivated = true;
  }));

  it('a deactivated member cannot sign in again', step(async (t) => {
    if (!need(t, 'member', 'deactivated')) return;
    const { page, watcher } = s.member;
    // The refused sign-in is logged by Chromium as a failed request.
    watcher.allow((e) => isHttpError(e, '/api/auth/login', 401) || isHttpError(e, '/api/auth/login', 403));
    await tid(page, 'login-login').fill(MEMBER.email);
    await tid(page, 'login-password').fill(MEMBER.password);
    await tid(page, 'login-submit').click();
    await tid(page, 'login-error').waitFor();
    assert.ok((await tid(page, 'login-error').innerText()).trim().length > 0);
    assert.equal(new URL(page.url()).pathname, '/login');
    await shot(page, 'desktop-member-login-refused');
  }));

  it('the language picker switches the sign-in page to Simplified Chinese', step(async (t) => {
    if (!need(t, 'wsId')) return;
    const { page } = await openPage('zh');
    await page.goto(`${server.url}/login`);
    await tid(page, 'login-form').waitFor();
    await assertText(page.locator('h1'), 'Sign in');
    await tid(page, 'lang-picker').selectOption('zh-CN');
    await assertText(page.locator('h1'), '登录');
    await assertText(tid(page, 'login-submit'), '登录');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    assert.equal(await tid(page, 'lang-picker').inputValue(), 'zh-CN');
    await shot(page, 'desktop-login-zh-CN');

    // The choice sticks across a reload.
    await page.reload();
    await tid(page, 'login-form').waitFor();
    await assertText(page.locator('h1'), '登录');
  }));

  it('at 375 px the sign-in page and the app frame fit the screen', step(async (t) => {
    if (!need(t, 'wsId')) return;
    const { page, watcher } = await openPage('phone', PHONE);
    await page.goto(`${server.url}/login`);
    await tid(page, 'login-form').waitFor();
    await assertNoHorizontalScroll(page, 'sign-in page');
    await shot(page, 'phone-login');

    await tid(page, 'login-login').fill(OWNER.username);
    await tid(page, 'login-password').fill(OWNER.password);
    await tid(page, 'login-submit').click();
    await page.waitForURL(`${server.url}/w/${encodeURIComponent(s.wsId)}`);
    await assertText(tid(page, 'workspace-name'), WORKSPACE);
    await watcher.realtimeReady();
    // The sidebar is closed on a phone; the menu button opens it.
    const toggle = tid(page, 'nav-toggle');
    assert.equal(await toggle.isVisible(), true, 'the menu button shows at phone width');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await tid(page, 'nav-admin-members').isVisible(), false, 'the sidebar starts closed');
    await assertNoHorizontalScroll(page, 'app frame');
    await shot(page, 'phone-home');

    await toggle.click();
    await tid(page, 'nav-admin-members').waitFor({ state: 'visible' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await shot(page, 'phone-sidebar-open');

    await tid(page, 'nav-admin-members').click();
    await page.waitForURL(/\/admin\/members$/);
    await tid(page, 'member-row').first().waitFor();
    await tid(page, 'nav-admin-members').waitFor({ state: 'hidden' });
    assert.equal(await tid(page, 'member-row').count(), s.memberUserId ? 2 : 1);
    await assertNoHorizontalScroll(page, 'members page');
    await shot(page, 'phone-members');
  }));

  it('the CSP blocks inline script and inline style, and the watcher sees it', step(async (t) => {
    if (!need(t, 'wsId')) return;
    // A control for the check below: a violation must be noticed when it happens.
    const context = await newContext(browser, DESKTOP);
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/login`);
      await tid(page, 'login-form').waitFor();
      const ran = await page.evaluate(() => {
        const script = document.createElement('script');
        script.textContent = 'window.__e2eInline = true;';
        document.body.appendChild(script);
        const div = document.createElement('div');
        div.setAttribute('style', 'color: red');
        document.body.appendChild(div);
        return window.__e2eInline === true;
      });
      assert.equal(ran, false, 'inline script must not run');
      await waitUntil(() => context.cspViolations.length >= 2, 5_000, 'two CSP violations reported');
      const directives = context.cspViolations.map((v) => v.directive).sort();
      assert.ok(directives.some((d) => d.startsWith('script-src')), `script-src violation in ${directives}`);
      assert.ok(directives.some((d) => d.startsWith('style-src')), `style-src violation in ${directives}`);
    } finally {
      await context.close();
    }
  }));

  it('no page logged an unexpected console error or a CSP violation', step(async () => {
    const problems = watchers.flatMap((w) => w.problems());
    const csp = contexts.flatMap((c) => c.cspViolations);
    assert.deepEqual(csp, [], `CSP violations:\n${JSON.stringify(csp, null, 2)}`);
    assert.deepEqual(problems, [], `unexpected console errors:\n${problems.join('\n')}`);
    assert.doesNotMatch(server.log(), /panicked/, 'the server panicked');
  }));
});

/** Poll a condition (for state outside the page, e.g. reports from bindings). */
async function waitUntil(fn, timeout, what) {
  const deadline = Date.now() + timeout;
  while (!fn()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Keep every page's console in output/foundation-console.log for debugging. */
function dumpConsole(watchers) {
  const lines = watchers.flatMap((w) => [
    ...w.console.map((e) => `${w.label}\t${e.type}\t${e.text}\t${e.url}\t(at ${e.at})`),
    ...w.pageErrors.map((e) => `${w.label}\tpageerror\t${e}`),
  ]);
  writeFileSync(join(OUTPUT, 'foundation-console.log'), lines.join('\n') + '\n');
}

