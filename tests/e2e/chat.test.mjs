// The chat journey in real browsers: two people in separate browser contexts
// (accounts made through the API, sessions through the sign-in page). The
// owner creates a channel with the member in it; both chat live both ways;
// the read receipt goes from "1 unread" to "All read" when the member opens
// the channel; a few-MB upload arrives byte-identical; a Chinese search finds
// its message; hostile Markdown stays inert text; threads, a reaction, an
// edit and a delete reach the other side; a phone-width view fits. Every page
// is checked for console errors, CSP violations and script dialogs.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  startServer, launchBrowser, newContext, watchPage, shot, tid, isHttpError, DESKTOP, PHONE,
  api, setupViaApi, registerViaInvite, signInThroughPage, writeConsoleLog,
  assertText, assertNoHorizontalScroll,
} from './harness.mjs';

const WORKSPACE = 'Harbor Labs';
const CHANNEL = 'design-review';
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
const UPLOAD_BYTES = 3 * 1024 * 1024 + 4321;
// Upload speed while the upload runs (about 1.5 s for UPLOAD_BYTES).
const UPLOAD_THROTTLE_BYTES_PER_S = 2 * 1024 * 1024;

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

describe('chat journey', () => {
  let server;
  let browser;
  const contexts = [];
  const watchers = [];
  const pages = [];
  // Script dialogs (alert/confirm/prompt) on any page: there must be none.
  const dialogs = [];
  // Filled in as the journey goes; later steps skip if an earlier one failed.
  const s = {};

  /** A new page in a new context, watched for errors and script dialogs. */
  async function openPage(label, options = DESKTOP) {
    const context = await newContext(browser, options);
    contexts.push(context);
    const page = await context.newPage();
    const watcher = watchPage(page, { label });
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
    server = await startServer({ name: 'chat-server' });
    browser = await launchBrowser();
    // Accounts through the API (the UI for setup and invites is foundation's).
    const owner = await setupViaApi(server, WORKSPACE, OWNER);
    s.wsId = owner.wsId;
    s.ownerId = owner.userId;
    const member = await registerViaInvite(server, owner.token, owner.wsId, MEMBER);
    s.memberId = member.userId;
    s.memberToken = member.token;
  });

  after(async () => {
    writeConsoleLog(watchers, 'chat-console.log');
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it('both people sign in through the login page', step(async (t) => {
    if (!need(t, 'wsId', 'memberId')) return;
    for (const [key, user] of [['owner', OWNER], ['member', MEMBER]]) {
      const { page, watcher } = await openPage(key);
      await signInThroughPage(page, server, s.wsId, { login: user.username, password: user.password });
      await tid(page, 'channel-list').waitFor();
      await watcher.realtimeReady();
      // Survives only if the page is never reloaded: every later update must come live.
      await page.evaluate(() => { window.__e2eNoReload = true; });
      s[key] = { page, watcher };
    }
  }));

  it('the owner creates a channel with the member in it; it appears at the member live', step(async (t) => {
    if (!need(t, 'owner', 'member')) return;
    const owner = s.owner.page;
    const member = s.member.page;
    await tid(owner, 'channel-create-open').click();
    const dialog = tid(owner, 'channel-create-dialog');
    await dialog.waitFor();
    await tid(owner, 'channel-create-name').fill(CHANNEL);
    await tid(owner, 'channel-create-topic').fill('Weekly design review');
    await dialog.getByTestId('people-search').fill(MEMBER.username);
    const option = dialog.getByTestId('people-option').and(owner.locator(`[data-user-id="${s.memberId}"]`));
    await option.getByTestId('people-option-check').check();
    await dialog.getByTestId('people-chip').filter({ hasText: MEMBER.displayName }).waitFor();
    await shot(owner, 'desktop-owner-create-channel');
    await tid(owner, 'channel-create-submit').click();

    await owner.waitForURL(/\/w\/[^/]+\/c\/[^/?#]+$/);
    s.channelPath = new URL(owner.url()).pathname;
    const channelId = decodeURIComponent(s.channelPath.split('/')[4]);
    await dialog.waitFor({ state: 'detached' });
    await assertText(tid(owner, 'channel-title'), CHANNEL);
    await assertText(tid(owner, 'channel-member-count'), '2');
    await channelItem(owner, channelId).waitFor();
    await tid(owner, 'message-list').waitFor();

    // The member, on the workspace home, sees the new channel without a reload.
    await assertText(channelItem(member, channelId), CHANNEL);
    s.channelId = channelId;
  }));

  it('a read receipt says "1 unread" until the member opens the channel, then "All read"', step(async (t) => {
    if (!need(t, 'owner', 'member', 'channelId')) return;
    const owner = s.owner.page;
    const member = s.member.page;
    const text = 'Hello Mika, welcome to the design review channel!';
    const id = await send(owner, text);
    s.firstId = id;
    const mine = messageById(owner, id);
    const receipt = mine.getByTestId('message-receipt');
    await mine.locator('[data-testid="message-receipt"][data-unread="1"]').waitFor();
    assert.equal((await receipt.innerText()).trim(), '1 unread');

    // The member, still on the home page, gets an unread badge live…
    const item = channelItem(member, s.channelId);
    await assertText(item.getByTestId('channel-unread'), '1');
    await shot(member, 'desktop-member-unread-badge');
    // …and has not read the message: the receipt stays at 1.
    assert.equal(await receipt.getAttribute('data-unread'), '1');
    await shot(owner, 'desktop-owner-receipt-1-unread');

    await item.click();
    await member.waitForURL(`${server.url}${s.channelPath}`);
    const theirs = messageById(member, id);
    await theirs.waitFor();
    await assertText(theirs.getByTestId('message-body'), text);
    assert.equal(await theirs.isVisible(), true);

    await mine.locator('[data-testid="message-receipt"][data-unread="0"]').waitFor();
    assert.equal((await receipt.innerText()).trim(), 'All read');
    // Opening the channel cleared the member's badge.
    await item.getByTestId('channel-unread').waitFor({ state: 'detached' });

    await receipt.click();
    const panel = tid(owner, 'receipt-panel');
    await panel.waitFor();
    await panel.getByTestId('receipt-read-list').getByTestId('receipt-person')
      .and(owner.locator(`[data-user-id="${s.memberId}"]`)).waitFor();
    assert.equal(await panel.getByTestId('receipt-unread-list').getByTestId('receipt-person').count(), 0);
    await assertText(panel.getByTestId('receipt-read-list'), MEMBER.displayName);
    await shot(owner, 'desktop-owner-receipt-panel-all-read');
    await panel.getByTestId('panel-close').click();
    await panel.waitFor({ state: 'detached' });
  }));

  it('both people chat both ways in real time (with the typing indicator)', step(async (t) => {
    if (!need(t, 'owner', 'member', 'channelId')) return;
    const owner = s.owner.page;
    const member = s.member.page;

    // The member types: the owner sees who is typing.
    const reply = 'Hi Olivia! Glad to be here.';
    const input = tid(member, 'composer').getByTestId('composer-input');
    await input.fill(reply);
    await assertText(tid(owner, 'typing-indicator'), `${MEMBER.displayName} is typing`);
    await shot(owner, 'desktop-owner-typing-indicator');
    await input.press('Enter');
    const replyId = await waitForMessage(member, reply);
    await assertText(messageById(owner, replyId).getByTestId('message-body'), reply);
    const lingering = (await tid(owner, 'typing-indicator').innerText()).trim();
    if (lingering) t.diagnostic(`the typing indicator still says "${lingering}" after that person's message arrived`);
    s.replyId = replyId;

    const answer = 'Great. The first mockups are in Figma, have a look before Thursday.';
    const answerId = await send(owner, answer);
    await assertText(messageById(member, answerId).getByTestId('message-body'), answer);
    s.answerId = answerId;

    // Each side has the other's message on screen: both receipts end at "All read",
    // and the channel being viewed ends without an unread badge.
    const badge = channelItem(member, s.channelId).getByTestId('channel-unread');
    const flashed = Date.now();
    const badgeShown = await badge.count();
    await messageById(member, replyId).locator('[data-testid="message-receipt"][data-unread="0"]').waitFor();
    await messageById(owner, answerId).locator('[data-testid="message-receipt"][data-unread="0"]').waitFor();
    await badge.waitFor({ state: 'detached' });
    if (badgeShown) t.diagnostic(`the open channel showed an unread badge for ~${Date.now() - flashed} ms after a message arrived in view`);

    for (const { page } of [s.owner, s.member]) {
      assert.equal(await page.evaluate(() => window.__e2eNoReload === true), true, 'the page was not reloaded');
    }
    await shot(member, 'desktop-member-conversation');
    await shot(owner, 'desktop-owner-conversation');
  }));

  it('a few-MB upload shows progress and downloads byte-identical at the other side', step(async (t) => {
    if (!need(t, 'owner', 'member', 'channelId')) return;
    const owner = s.owner.page;
    const member = s.member.page;
    const bytes = randomBytes(UPLOAD_BYTES);
    const name = 'site-survey-data.bin';
    const composer = tid(owner, 'composer');
    // Loopback uploads finish at once: throttle this page's uploads (DevTools
    // network emulation) so the progress can be seen moving.
    const cdp = await owner.context().newCDPSession(owner);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: UPLOAD_THROTTLE_BYTES_PER_S,
    });
    await composer.evaluate((el) => {
      window.__e2ePercents = [];
      new MutationObserver(() => {
        const pct = el.querySelector('[data-testid="upload-percent"]');
        if (pct) window.__e2ePercents.push(pct.textContent);
      }).observe(el, { subtree: true, childList: true, characterData: true });
    });
    try {
      await composer.getByTestId('composer-file-input').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: bytes });
      const upload = composer.getByTestId('upload-item');
      await upload.getByTestId('upload-progress').waitFor({ state: 'visible' });
      await assertText(upload, name);
      await upload.getByTestId('upload-percent').filter({ hasText: /^[1-9]\d?%$/ }).waitFor();
      await shot(owner, 'desktop-owner-upload-in-progress');
      await composer.locator('[data-testid="upload-item"][data-state="done"]').waitFor();
      assert.equal(await upload.getByTestId('upload-progress').evaluate((el) => el.value), 100);
      assert.equal((await upload.getByTestId('upload-percent').innerText()).trim(), '100%');
    } finally {
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
    const percents = [...new Set(await owner.evaluate(() => window.__e2ePercents))];
    assert.ok(percents.filter((p) => p !== '0%' && p !== '100%').length >= 2, `progress moved through several values: ${percents.join(' ')}`);
    t.diagnostic(`upload progress went ${percents.join(' ')}`);
    await shot(owner, 'desktop-owner-upload-done');

    const text = 'Site survey data from Tuesday';
    const id = await send(owner, text);
    const attachment = messageById(member, id).getByTestId('attachment');
    await attachment.waitFor();
    await assertText(attachment.getByTestId('attachment-name'), name);
    await shot(member, 'desktop-member-attachment');

    const [download] = await Promise.all([
      member.waitForEvent('download'),
      attachment.getByTestId('attachment-download').click(),
    ]);
    assert.equal(download.suggestedFilename(), name);
    const got = await readFile(await download.path());
    assert.equal(got.length, bytes.length, 'downloaded size');
    assert.equal(sha256(got), sha256(bytes), 'downloaded bytes are identical');
    t.diagnostic(`${bytes.length} bytes, sha256 ${sha256(bytes)}`);
  }));

  it('searching 会议纪要 finds the Chinese message', step(async (t) => {
    if (!need(t, 'owner', 'member', 'channelId')) return;
    const owner = s.owner.page;
    const member = s.member.page;
    const text = '今天的会议纪要已上传';
    const id = await send(owner, text);
    await assertText(messageById(member, id).getByTestId('message-body'), text);

    // The sidebar's search box (empty) opens the search page.
    await tid(member, 'sidebar-search').press('Enter');
    await member.waitForURL(/\/w\/[^/]+\/search$/);
    await tid(member, 'search-input').fill('会议纪要');
    await tid(member, 'search-input').press('Enter');
    const result = tid(member, 'search-result').and(member.locator(`[data-message-id="${id}"]`));
    await result.waitFor();
    assert.equal(await tid(member, 'search-result').count(), 1);
    await assertText(result.getByTestId('search-snippet'), text);
    assert.equal((await result.getByTestId('search-snippet').locator('mark').innerText()).trim(), '会议纪要');
    await assertText(result.getByTestId('search-result-channel'), `#${CHANNEL}`);
    await shot(member, 'desktop-member-search-result');

    // The result jumps to the message in its channel.
    await result.click();
    await member.waitForURL((u) => u.pathname === s.channelPath && u.searchParams.get('m') === id);
    await messageById(member, id).waitFor();
  }));

  it('hostile Markdown arrives as inert text: no image, no javascript: link, no dialog', step(async (t) => {
    if (!need(t, 'owner', 'member', 'channelId')) return;
    const owner = s.owner.page;
    const member = s.member.page;
    const img = '<img src=x onerror=alert(1)>';
    const text = `XSS check ${img} and [x](javascript:alert(1)) done`;
    const id = await send(owner, text, { match: 'XSS check' });
    for (const page of [member, owner]) {
      const body = messageById(page, id).getByTestId('message-body');
      await body.waitFor();
      assert.equal(await body.locator('img').count(), 0, 'no <img> in the message body');
      const hrefs = await body.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      assert.ok(hrefs.every((h) => h == null || !/^\s*javascript:/i.test(h)), `no javascript: link (hrefs: ${JSON.stringify(hrefs)})`);
      assert.equal(await page.locator('a[href^="javascript:" i]').count(), 0, 'no javascript: link on the page');
      const shown = await body.innerText();
      assert.ok(shown.includes(img), `the literal text is shown (body text: ${JSON.stringify(shown)})`);
      await body.getByText(img, { exact: false }).waitFor({ state: 'visible' });
    }
    // The link text is there but leads nowhere: clicking it changes nothing.
    const before = member.url();
    await messageById(member, id).getByTestId('message-body').getByText('x', { exact: true }).click();
    // One more round trip before checking no dialog fired meanwhile.
    const pingId = await send(owner, 'Anything pop up on your side?');
    await messageById(member, pingId).waitFor();
    assert.equal(member.url(), before);
    assert.deepEqual(dialogs, [], 'no script dialog opened');
    await shot(member, 'desktop-member-xss-inert');
    s.pingId = pingId;
  }));

  it('a thread: the member replies, the owner sees the count, both write in it', step(async (t) => {
    if (!need(t, 'owner', 'member', 'channelId', 'firstId')) return;
    const owner = s.owner.page;
    const member = s.member.page;
    const root = messageById(member, s.firstId);
    await root.hover();
    await root.getByTestId('thread-open').click();
    await member.waitForURL(`${server.url}${s.channelPath}/t/${encodeURIComponent(s.firstId)}`);
    const memberPanel = tid(member, 'thread-panel');
    await memberPanel.waitFor();
    const reply = 'Replying in the thread: which day suits you?';
    const replyId = await send(member, reply, { scope: memberPanel });

    // The owner's root message now shows "1 reply" and opens the thread.
    const summary = messageById(owner, s.firstId).getByTestId('thread-open');
    await assertText(summary, '1 reply');
    await summary.click();
    const ownerPanel = tid(owner, 'thread-panel');
    await ownerPanel.waitFor();
    await assertText(messageById(owner, replyId, ownerPanel).getByTestId('message-body'), reply);
    const answer = 'Thursday works, 10:00.';
    const answerId = await send(owner, answer, { scope: ownerPanel });
    await assertText(messageById(member, answerId, memberPanel).getByTestId('message-body'), answer);
    await assertText(summary, '2 replies');
    // The member has the thread open: the owner's reply ends up read.
    await messageById(owner, answerId, ownerPanel).locator('[data-testid="message-receipt"][data-unread="0"]').waitFor();
    await shot(owner, 'desktop-owner-thread');
    await shot(member, 'desktop-member-thread');

    // Repliers follow a thread (server); say so if the panel's button disagrees.
    const follow = await api(server, 'GET', `/api/messages/${encodeURIComponent(s.firstId)}/follow`, { token: s.memberToken });
    const shown = await memberPanel.getByTestId('thread-follow').getAttribute('aria-pressed');
    if (String(follow.following) !== shown) {
      t.diagnostic(`APP: thread-follow shows aria-pressed=${shown} to the member, the server says following=${follow.following}`);
    }

    for (const page of [owner, member]) {
      await tid(page, 'thread-panel').getByTestId('panel-close').click();
      await page.waitForURL(`${server.url}${s.channelPath}`);
      await tid(page, 'thread-panel').waitFor({ state: 'detached' });
    }
  }));

  it('a reaction, an edit and a delete reach the other side', step(async (t) => {
    if (!need(t, 'owner', 'member', 'replyId', 'answerId', 'pingId')) return;
    const owner = s.owner.page;
    const member = s.member.page;

    // The owner reacts to the member's message; the member adds theirs.
    const theirs = messageById(owner, s.replyId);
    await theirs.hover();
    await theirs.getByTestId('reaction-add').click();
    await tid(owner, 'emoji-picker').getByTestId('emoji-option').and(owner.locator('[data-emoji="🎉"]')).click();
    await theirs.locator('[data-testid="reaction"][data-emoji="🎉"][data-count="1"][aria-pressed="true"]').waitFor();
    const atMember = messageById(member, s.replyId).locator('[data-testid="reaction"][data-emoji="🎉"]');
    await atMember.and(member.locator('[data-count="1"][aria-pressed="false"]')).waitFor();
    await atMember.click();
    await theirs.locator('[data-testid="reaction"][data-emoji="🎉"][data-count="2"]').waitFor();
    await atMember.and(member.locator('[data-count="2"][aria-pressed="true"]')).waitFor();

    // The owner edits a message.
    const mine = messageById(owner, s.answerId);
    await mine.hover();
    await mine.getByTestId('message-edit').click();
    const edit = mine.getByTestId('message-edit-input');
    await edit.waitFor();
    const edited = 'Great. The first mockups are in Figma, please look before Wednesday (edited).';
    await edit.fill(edited);
    await edit.press('Enter');
    await edit.waitFor({ state: 'detached' });
    const seen = messageById(member, s.answerId);
    await assertText(seen.getByTestId('message-body'), edited);
    await seen.getByTestId('message-edited').waitFor();
    await shot(member, 'desktop-member-reaction-and-edit');

    // The owner deletes a message: the member sees a tombstone.
    const doomed = messageById(owner, s.pingId);
    await doomed.hover();
    await doomed.getByTestId('message-delete').click();
    await tid(owner, 'confirm-dialog').waitFor();
    await tid(owner, 'confirm-ok').click();
    await doomed.getByTestId('message-deleted').waitFor();
    const gone = messageById(member, s.pingId);
    await gone.getByTestId('message-deleted').waitFor();
    assert.equal(await gone.getByTestId('message-body').count(), 0, 'the deleted text is gone');
    await shot(member, 'desktop-member-deleted');
  }));

  it('at 375 px the channel and a thread fit the screen', step(async (t) => {
    if (!need(t, 'channelPath', 'firstId')) return;
    const { page, watcher } = await openPage('phone', PHONE);
    await signInThroughPage(page, server, s.wsId, { login: MEMBER.username, password: MEMBER.password });
    await watcher.realtimeReady();
    // The sidebar is closed on a phone: open it and pick the channel.
    await tid(page, 'nav-toggle').click();
    await channelItem(page, s.channelId).click();
    await page.waitForURL(`${server.url}${s.channelPath}`);
    await messageById(page, s.firstId).waitFor();
    await tid(page, 'composer').getByTestId('composer-input').waitFor({ state: 'visible' });
    // Picking the channel closed the sidebar again.
    await channelItem(page, s.channelId).waitFor({ state: 'hidden' });
    assert.equal(await tid(page, 'nav-toggle').getAttribute('aria-expanded'), 'false');
    await assertNoHorizontalScroll(page, 'channel view');
    await shot(page, 'phone-channel');

    const summary = messageById(page, s.firstId).getByTestId('thread-open');
    await summary.scrollIntoViewIfNeeded();
    await summary.click();
    const panel = tid(page, 'thread-panel');
    await panel.waitFor();
    await panel.getByTestId('composer-input').waitFor({ state: 'visible' });
    await assertNoHorizontalScroll(page, 'thread view');
    await shot(page, 'phone-thread');
  }));

  it('no page logged an unexpected console error, a CSP violation or a dialog', step(async () => {
    const problems = watchers.flatMap((w) => w.problems());
    const csp = contexts.flatMap((c) => c.cspViolations);
    assert.deepEqual(csp, [], `CSP violations:\n${JSON.stringify(csp, null, 2)}`);
    assert.deepEqual(problems, [], `unexpected console errors:\n${problems.join('\n')}`);
    assert.deepEqual(dialogs, [], 'script dialogs');
    for (const key of ['owner', 'member']) {
      if (s[key]) assert.equal(await s[key].page.evaluate(() => window.__e2eNoReload === true), true, `${key} page was not reloaded`);
    }
    assert.doesNotMatch(server.log(), /panicked/, 'the server panicked');
  }));
});

// --- locators and actions -------------------------------------------------------------------

/** The sidebar link of a channel. */
function channelItem(page, channelId) {
  return tid(page, 'channel-item').and(page.locator(`[data-channel-id="${channelId}"]`));
}

/** A sent (not pending) message by id, in the main list or in `scope`. */
function messageById(page, id, scope = null) {
  return (scope || tid(page, 'message-list')).locator(`[data-testid="message"][data-message-id="${id}"]`);
}

/** The sent message whose body contains `text`; resolves to its id. */
async function waitForMessage(page, text, scope = null) {
  const list = scope || tid(page, 'message-list');
  const m = list.locator('[data-testid="message"][data-message-id]')
    .filter({ has: page.getByTestId('message-body').filter({ hasText: text }) });
  await m.waitFor();
  return m.getAttribute('data-message-id');
}

/**
 * Type `text` into the composer (the main one, or the one inside `scope`,
 * e.g. the thread panel), press Enter and wait until the server confirmed it.
 * `match`: the part of the text to find the message by (if rendering changes it).
 */
async function send(page, text, { scope = null, match = text } = {}) {
  const composer = scope ? scope.getByTestId('thread-composer') : tid(page, 'composer');
  const input = composer.getByTestId('composer-input');
  await input.fill(text);
  await input.press('Enter');
  const id = await waitForMessage(page, match, scope);
  assert.equal(await input.inputValue(), '', 'the composer is cleared after sending');
  return id;
}

