// Scheduling meetings in real browsers: the owner (English, Europe/Berlin)
// opens Meetings from the sidebar, schedules a meeting for tomorrow at 10:30
// local time with an invitee and posts the link in a channel; the invitee
// (Chinese, Asia/Shanghai, a second browser context) sees it in their list at
// the right local time and downloads the .ics (DTSTART in UTC); the owner
// edits the title (only the title is sent) and the invitee sees it after a
// reload; a phone-width page and dialog fit; "Start a meeting now" opens the
// meeting and its link is listed until ended; the owner cancels the scheduled
// meeting (after keeping it once) and it disappears for both. Every page is
// checked for console errors and CSP violations.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  startServer, launchBrowser, newContext, watchPage, shot, tid, isHttpError, DESKTOP, PHONE,
  api, setupViaApi, registerViaInvite, signInThroughPage, writeConsoleLog, horizontalOverflow,
} from './harness.mjs';

const WORKSPACE = 'Harbour Works';
const CHANNEL = 'planning';
const OWNER = {
  displayName: 'Olga Owner',
  username: 'olga',
  email: 'olga@example.com',
  password: 'copper-kettle-orchard-41',
};
const INVITEE = {
  displayName: 'Ivan Invitee',
  username: 'ivan',
  email: 'ivan@example.com',
  password: 'silver-harbour-pebble-58',
};
const OWNER_ZONE = 'Europe/Berlin';
const INVITEE_ZONE = 'Asia/Shanghai';
const TITLE = 'Quarterly planning';
const NEW_TITLE = 'Quarterly planning (room 4)';

// --- time zone arithmetic, independent of the client's code ------------------------------

/** Wall-clock fields of `date` in `zone` (24-hour). */
function wall(zone, date) {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23',
  });
  const o = {};
  for (const p of f.formatToParts(date)) if (p.type !== 'literal') o[p.type] = Number(p.value);
  return o;
}

/** The instant at which the clock in `zone` shows y-m-d hh:mm. */
function zonedInstant(zone, y, m, d, hh, mm) {
  const target = Date.UTC(y, m - 1, d, hh, mm);
  let guess = target;
  for (let i = 0; i < 3; i++) {
    const w = wall(zone, new Date(guess));
    guess += target - Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
  }
  return new Date(guess);
}

/** Calendar days between the dates `zone` shows for `a` and for `b`. */
function dayDiff(zone, a, b) {
  const x = wall(zone, a);
  const y = wall(zone, b);
  return Math.round((Date.UTC(x.year, x.month - 1, x.day) - Date.UTC(y.year, y.month - 1, y.day)) / 86_400_000);
}

const pad = (n) => String(n).padStart(2, '0');

/** `YYYY-MM-DD` of tomorrow in `zone`, and its parts. */
function tomorrowIn(zone) {
  const now = wall(zone, new Date());
  const d = new Date(Date.UTC(now.year, now.month - 1, now.day + 1));
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return { y, m, d: day, value: `${y}-${pad(m)}-${pad(day)}` };
}

/** iCalendar UTC stamp, e.g. 20261129T093000Z. */
function icsStamp(date) {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

describe('scheduling meetings', () => {
  let server;
  let browser;
  const contexts = [];
  const watchers = [];
  const pages = [];
  const dialogs = [];
  const s = {};

  async function openPage(label, options = DESKTOP) {
    const context = await newContext(browser, options);
    contexts.push(context);
    const page = await context.newPage();
    const watcher = watchPage(page, { label });
    watcher.allow((e) => isHttpError(e, '/api/auth/refresh', 401));
    page.on('dialog', (d) => {
      dialogs.push({ page: label, type: d.type(), message: d.message() });
      d.dismiss().catch(() => {});
    });
    watchers.push(watcher);
    pages.push({ label, page });
    return { context, page, watcher };
  }

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

  const meetingsPath = () => `/w/${encodeURIComponent(s.wsId)}/meetings`;
  const rowOf = (page, code) => page.locator(`[data-testid="meeting-row"][data-code="${code}"]`);

  before(async () => {
    server = await startServer({ name: 'meetings-schedule-server' });
    browser = await launchBrowser();
    const owner = await setupViaApi(server, WORKSPACE, OWNER);
    s.wsId = owner.wsId;
    s.ownerToken = owner.token;
    s.ownerId = owner.userId;
    const invitee = await registerViaInvite(server, owner.token, owner.wsId, INVITEE);
    s.inviteeToken = invitee.token;
    s.inviteeId = invitee.userId;
    // The invitee's profile says Chinese (the client adopts it at sign-in) and Shanghai.
    await api(server, 'PATCH', '/api/me', { token: invitee.token, body: { locale: 'zh-CN', time_zone: INVITEE_ZONE } });
    const channel = await api(server, 'POST', `/api/workspaces/${encodeURIComponent(owner.wsId)}/channels`, {
      token: owner.token, body: { name: CHANNEL, topic: 'Plans', member_ids: [invitee.userId] },
    });
    s.channelId = channel.id;
  });

  after(async () => {
    writeConsoleLog(watchers, 'meetings-schedule-console.log');
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it('the owner opens Meetings from the sidebar and sees no upcoming meetings', step(async (t) => {
    if (!need(t, 'wsId')) return;
    const { page, context, watcher } = await openPage('owner', { ...DESKTOP, timezoneId: OWNER_ZONE });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await signInThroughPage(page, server, s.wsId, { login: OWNER.username, password: OWNER.password });
    await watcher.realtimeReady();
    const nav = tid(page, 'nav-meetings');
    assert.equal((await nav.textContent()).trim(), 'Meetings');
    await nav.click();
    await page.waitForURL(`${server.url}${meetingsPath()}`);
    await tid(page, 'meetings-page').waitFor();
    assert.equal(await nav.getAttribute('aria-current'), 'page');
    await page.getByRole('heading', { level: 1, name: 'Meetings' }).waitFor();
    await tid(page, 'meetings-empty').filter({ hasText: 'No upcoming meetings' }).waitFor();
    assert.equal(await tid(page, 'meetings-open-list').isVisible(), false, 'no open links section while there are none');
    await shot(page, 'desktop-owner-empty');
    s.owner = { page, context, watcher };
  }));

  it('the schedule dialog refuses a time in the past, then schedules tomorrow 10:30 with an invitee', step(async (t) => {
    if (!need(t, 'owner')) return;
    const { page } = s.owner;
    await tid(page, 'meetings-schedule-open').click();
    const dialog = tid(page, 'meeting-schedule-dialog');
    await dialog.waitFor();
    await dialog.getByRole('heading', { name: 'Schedule a meeting' }).waitFor();
    // Sensible defaults: a date and time ahead, 30 minutes, guests allowed, no waiting room.
    assert.match(await tid(dialog, 'meeting-form-date').inputValue(), /^\d{4}-\d{2}-\d{2}$/);
    assert.match(await tid(dialog, 'meeting-form-time').inputValue(), /^\d{2}:\d{2}$/);
    assert.equal(await tid(dialog, 'meeting-form-duration').inputValue(), '30');
    assert.equal(await tid(dialog, 'meeting-form-guests').isChecked(), true);
    assert.equal(await tid(dialog, 'meeting-form-lobby').isChecked(), false);
    assert.match(await tid(dialog, 'meeting-form-zone').textContent(), /Europe\/Berlin \(GMT\+0[12]:00\)/);
    // Fields are labelled.
    await dialog.getByLabel('Title').waitFor();
    await dialog.getByLabel('Date').waitFor();
    await dialog.getByLabel('Start time').waitFor();
    await dialog.getByLabel('Duration').waitFor();

    await tid(dialog, 'meeting-form-title').fill(TITLE);
    const today = wall(OWNER_ZONE, new Date());
    await tid(dialog, 'meeting-form-date').fill(`${today.year}-${pad(today.month)}-${pad(today.day)}`);
    await tid(dialog, 'meeting-form-time').fill('00:00');
    await tid(dialog, 'meeting-form-submit').click();
    await tid(dialog, 'meeting-form-error').filter({ hasText: 'That time has already passed' }).waitFor();
    await shot(page, 'desktop-owner-schedule-error');

    const tomorrow = tomorrowIn(OWNER_ZONE);
    await tid(dialog, 'meeting-form-date').fill(tomorrow.value);
    await tid(dialog, 'meeting-form-time').fill('10:30');
    await tid(dialog, 'meeting-form-duration').selectOption('45');
    const invitees = tid(dialog, 'meeting-form-invitees');
    await tid(invitees, 'people-search').fill('ivan');
    await invitees.locator(`[data-testid="people-option"][data-user-id="${s.inviteeId}"] [data-testid="people-option-check"]`).check();
    await tid(invitees, 'people-chip').filter({ hasText: INVITEE.displayName }).waitFor();
    assert.equal(await invitees.locator(`[data-testid="people-option"][data-user-id="${s.ownerId}"]`).count(), 0, 'the owner is not offered as an invitee');
    await tid(dialog, 'meeting-form-lobby').check();
    await tid(dialog, 'meeting-form-channel').selectOption(s.channelId);
    await shot(page, 'desktop-owner-schedule-dialog');

    await tid(dialog, 'meeting-form-submit').click();
    await dialog.waitFor({ state: 'detached' });
    await tid(page, 'toast').filter({ hasText: `“${TITLE}” is scheduled.` }).waitFor();

    const row = tid(page, 'meeting-row').filter({ hasText: TITLE });
    await row.waitFor();
    s.code = await row.getAttribute('data-code');
    s.start = zonedInstant(OWNER_ZONE, tomorrow.y, tomorrow.m, tomorrow.d, 10, 30);

    // What the server stored: 10:30 Berlin time as UTC, 45 minutes, the people and options.
    const m = await api(server, 'GET', `/api/meetings/${encodeURIComponent(s.code)}`, { token: s.ownerToken });
    assert.equal(Date.parse(m.starts_at), s.start.getTime(), `starts_at ${m.starts_at} is 10:30 in ${OWNER_ZONE} tomorrow`);
    assert.equal(m.title, TITLE);
    assert.equal(m.duration_min, 45);
    assert.deepEqual(m.invitee_ids, [s.inviteeId]);
    assert.deepEqual(m.cohost_ids, []);
    assert.equal(m.lobby, true);
    assert.equal(m.allow_guests, true);
    assert.equal(m.channel_id, s.channelId);
    assert.equal(m.host_id, s.ownerId);
    // The link was posted in the channel.
    const history = await api(server, 'GET', `/api/channels/${encodeURIComponent(s.channelId)}/messages`, { token: s.ownerToken });
    assert.ok(history.messages.some((msg) => msg.body.includes(`/m/${s.code}`)), 'the meeting link is posted in #planning');

    // The row, in the owner's local time.
    assert.equal(await tid(row, 'meeting-row-title').textContent(), TITLE);
    const when = await tid(row, 'meeting-row-when').textContent();
    assert.match(when, /^Tomorrow · /, when);
    assert.match(when, /10:30/, when);
    assert.match(when, /11:15/, when);
    assert.equal(Date.parse(await tid(row, 'meeting-row-when').getAttribute('datetime')), s.start.getTime());
    assert.equal(await tid(row, 'meeting-row-host').textContent(), 'Host: you');
    assert.equal(await tid(row, 'meeting-row-invitees').getAttribute('data-count'), '1');
    assert.match(await tid(row, 'meeting-row-invitees').textContent(), /1 invited/);
    assert.equal(await row.getAttribute('data-status'), 'upcoming');
    for (const id of ['meeting-row-join', 'meeting-row-copy', 'meeting-row-ics', 'meeting-row-edit', 'meeting-row-cancel']) {
      assert.equal(await tid(row, id).count(), 1, `${id} is offered to the host`);
    }
    assert.equal(await tid(row, 'meeting-row-join').getAttribute('href'), `/m/${s.code}`);
    // Buttons name the meeting they act on.
    assert.equal(await tid(row, 'meeting-row-cancel').getAttribute('aria-describedby'), await tid(row, 'meeting-row-title').getAttribute('id'));
    await tid(page, 'meetings-empty').waitFor({ state: 'detached' });

    // Copy link puts the absolute meeting URL on the clipboard.
    await tid(row, 'meeting-row-copy').click();
    await tid(page, 'toast').filter({ hasText: 'Meeting link copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${server.url}/m/${s.code}`);
    await shot(page, 'desktop-owner-scheduled');
  }));

  it('the invitee (zh-CN, Asia/Shanghai) sees it at the right local time', step(async (t) => {
    if (!need(t, 'code', 'start')) return;
    const { page, watcher } = await openPage('invitee', { ...DESKTOP, locale: 'zh-CN', timezoneId: INVITEE_ZONE });
    await signInThroughPage(page, server, s.wsId, { login: INVITEE.username, password: INVITEE.password });
    await watcher.realtimeReady();
    assert.equal((await tid(page, 'nav-meetings').textContent()).trim(), '会议');
    await tid(page, 'nav-meetings').click();
    await tid(page, 'meetings-page').waitFor();
    const row = rowOf(page, s.code);
    await row.waitFor();
    assert.equal(await tid(row, 'meeting-row-title').textContent(), TITLE);
    const local = wall(INVITEE_ZONE, s.start);
    const end = wall(INVITEE_ZONE, new Date(s.start.getTime() + 45 * 60_000));
    const when = await tid(row, 'meeting-row-when').textContent();
    assert.ok(when.includes(`${local.hour}:${pad(local.minute)}`), `"${when}" shows ${local.hour}:${pad(local.minute)} (Shanghai)`);
    assert.ok(when.includes(`${end.hour}:${pad(end.minute)}`), `"${when}" shows the end ${end.hour}:${pad(end.minute)}`);
    const days = dayDiff(INVITEE_ZONE, s.start, new Date());
    if (days === 0) assert.match(when, /^今天/, when);
    if (days === 1) assert.match(when, /^明天/, when);
    assert.equal(await tid(row, 'meeting-row-host').textContent(), `主持人：${OWNER.displayName}`);
    assert.match(await tid(row, 'meeting-row-invitees').textContent(), /已邀请 1 人/);
    // Invitees may join, copy and add to their calendar, not edit or cancel.
    assert.equal(await tid(row, 'meeting-row-join').textContent(), '加入');
    assert.equal(await tid(row, 'meeting-row-edit').count(), 0);
    assert.equal(await tid(row, 'meeting-row-cancel').count(), 0);
    await shot(page, 'desktop-invitee-zh-CN-list');
    s.invitee = { page, watcher };
  }));

  it('the invitee finds the meeting card in the channel it was posted to', step(async (t) => {
    if (!need(t, 'invitee', 'code')) return;
    const { page } = s.invitee;
    await page.locator(`[data-testid="channel-item"][data-channel-id="${s.channelId}"]`).click();
    const card = page.locator(`[data-testid="meeting-card"][data-code="${s.code}"]`);
    await card.waitFor();
    assert.equal(await tid(card, 'meeting-card-title').textContent(), TITLE);
    // The start the server wrote in UTC is shown in the reader's zone, instead of the raw text.
    const when = tid(card, 'meeting-card-when');
    assert.equal(Date.parse(await when.getAttribute('datetime')), s.start.getTime());
    const local = wall(INVITEE_ZONE, s.start);
    assert.ok((await when.textContent()).includes(`${local.hour}:${pad(local.minute)}`), await when.textContent());
    const message = page.locator('[data-testid="message"]').filter({ has: card });
    assert.equal(await tid(message, 'message-body').isVisible(), false, 'the raw "link · time" text is hidden');
    await shot(page, 'desktop-invitee-zh-CN-channel-card');
    await tid(page, 'nav-meetings').click();
    await rowOf(page, s.code).waitFor();
  }));

  it('the .ics download carries the start in UTC', step(async (t) => {
    if (!need(t, 'invitee', 'start')) return;
    const { page } = s.invitee;
    const row = rowOf(page, s.code);
    const [download] = await Promise.all([page.waitForEvent('download'), tid(row, 'meeting-row-ics').click()]);
    assert.equal(download.suggestedFilename(), `${TITLE}.ics`);
    const text = await readFile(await download.path(), 'utf8');
    assert.ok(text.includes('BEGIN:VEVENT'), text);
    assert.ok(text.includes(`DTSTART:${icsStamp(s.start)}`), `DTSTART:${icsStamp(s.start)} in\n${text}`);
    assert.ok(text.includes(`DTEND:${icsStamp(new Date(s.start.getTime() + 45 * 60_000))}`), text);
    assert.ok(text.includes(`SUMMARY:${TITLE}`), text);
    assert.ok(text.includes(`/m/${s.code}`), text);
  }));

  it('the host edits the title; only the title is sent', step(async (t) => {
    if (!need(t, 'owner', 'code')) return;
    const { page } = s.owner;
    const row = rowOf(page, s.code);
    await tid(row, 'meeting-row-edit').click();
    const dialog = tid(page, 'meeting-edit-dialog');
    await dialog.waitFor();
    await dialog.getByRole('heading', { name: 'Edit meeting' }).waitFor();
    // The form shows the meeting as stored, in local time.
    assert.equal(await tid(dialog, 'meeting-form-title').inputValue(), TITLE);
    assert.equal(await tid(dialog, 'meeting-form-date').inputValue(), tomorrowIn(OWNER_ZONE).value);
    assert.equal(await tid(dialog, 'meeting-form-time').inputValue(), '10:30');
    assert.equal(await tid(dialog, 'meeting-form-duration').inputValue(), '45');
    assert.equal(await tid(dialog, 'meeting-form-lobby').isChecked(), true);
    await tid(tid(dialog, 'meeting-form-invitees'), 'people-chip').filter({ hasText: INVITEE.displayName }).waitFor();
    assert.equal(await tid(dialog, 'meeting-form-channel').count(), 0, 'the channel is chosen only when scheduling');
    await tid(dialog, 'meeting-form-title').fill(NEW_TITLE);
    await shot(page, 'desktop-owner-edit-dialog');
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'PATCH' && r.url().endsWith(`/api/meetings/${s.code}`)),
      tid(dialog, 'meeting-form-submit').click(),
    ]);
    assert.deepEqual(request.postDataJSON(), { title: NEW_TITLE });
    await dialog.waitFor({ state: 'detached' });
    await tid(rowOf(page, s.code), 'meeting-row-title').filter({ hasText: NEW_TITLE }).waitFor();
    const m = await api(server, 'GET', `/api/meetings/${encodeURIComponent(s.code)}`, { token: s.ownerToken });
    assert.equal(m.title, NEW_TITLE);
    assert.equal(Date.parse(m.starts_at), s.start.getTime(), 'the time did not move');
  }));

  it('the invitee sees the new title after a reload', step(async (t) => {
    if (!need(t, 'invitee', 'code')) return;
    const { page } = s.invitee;
    await page.reload();
    await tid(page, 'meetings-page').waitFor();
    await tid(rowOf(page, s.code), 'meeting-row-title').filter({ hasText: NEW_TITLE }).waitFor();
  }));

  it('on a phone the page and the schedule dialog fit the width', step(async (t) => {
    if (!need(t, 'code')) return;
    const { page, watcher } = await openPage('owner-phone', { ...PHONE, timezoneId: OWNER_ZONE });
    await signInThroughPage(page, server, s.wsId, { login: OWNER.username, password: OWNER.password });
    await watcher.realtimeReady();
    // The sidebar (closed on phones) has the Meetings entry.
    await tid(page, 'nav-toggle').click();
    await tid(page, 'nav-meetings').waitFor({ state: 'visible' });
    await tid(page, 'nav-meetings').click();
    await tid(page, 'meetings-page').waitFor();
    await rowOf(page, s.code).waitFor();
    assert.equal(await tid(page, 'nav-toggle').getAttribute('aria-expanded'), 'false', 'the sidebar closed again');
    let overflow = await horizontalOverflow(page);
    assert.ok(overflow.scroll <= overflow.client, `the page scrolls sideways: ${JSON.stringify(overflow)}`);
    for (const id of ['meeting-row-join', 'meeting-row-cancel']) {
      const box = await tid(rowOf(page, s.code), id).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `${id} is inside the screen: ${JSON.stringify(box)}`);
    }
    await shot(page, 'phone-owner-list');

    await tid(page, 'meetings-schedule-open').click();
    const dialog = tid(page, 'meeting-schedule-dialog');
    await dialog.waitFor();
    const box = await dialog.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 375, `the dialog fits: ${JSON.stringify(box)}`);
    for (const id of ['meeting-form-date', 'meeting-form-time', 'meeting-form-duration', 'meeting-form-channel']) {
      const b = await tid(dialog, id).boundingBox();
      assert.ok(b && b.x >= box.x && b.x + b.width <= box.x + box.width + 0.5, `${id} fits in the dialog: ${JSON.stringify(b)}`);
    }
    overflow = await horizontalOverflow(page);
    assert.ok(overflow.scroll <= overflow.client, `the page scrolls sideways with the dialog: ${JSON.stringify(overflow)}`);
    await shot(page, 'phone-owner-schedule-dialog');
    await tid(dialog, 'meeting-form-cancel').click();
    await dialog.waitFor({ state: 'detached' });
  }));

  it('"Start a meeting now" opens the meeting; its link is listed until ended', step(async (t) => {
    if (!need(t, 'owner')) return;
    const { page } = s.owner;
    await tid(page, 'meetings-start-now').click();
    await page.waitForURL(/\/m\/[a-z]{3}-[a-z]{4}-[a-z]{3}$/);
    const code = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
    await tid(page, 'meeting-prejoin').waitFor();
    await tid(page, 'prejoin-title').filter({ hasText: `${OWNER.displayName}’s meeting` }).waitFor();
    const m = await api(server, 'GET', `/api/meetings/${encodeURIComponent(code)}`, { token: s.ownerToken });
    assert.equal(m.starts_at, null, 'an instant meeting has no schedule');

    await page.goBack();
    await tid(page, 'meetings-page').waitFor();
    const openRow = tid(page, 'meetings-open-list').locator(`[data-testid="meeting-row"][data-code="${code}"]`);
    await openRow.waitFor();
    assert.equal(await openRow.getAttribute('data-status'), 'open');
    assert.equal(await tid(page, 'meetings-list').locator(`[data-code="${code}"]`).count(), 0, 'not among the upcoming ones');
    assert.equal(await tid(openRow, 'meeting-row-ics').count(), 0, 'no calendar file for an instant meeting');
    await shot(page, 'desktop-owner-open-link');
    await tid(openRow, 'meeting-row-cancel').click();
    const confirm = tid(page, 'confirm-dialog');
    await confirm.filter({ hasText: 'End “' }).waitFor();
    await tid(confirm, 'confirm-ok').click();
    await openRow.waitFor({ state: 'detached' });
    assert.equal(await tid(page, 'meetings-open-list').isVisible(), false);
  }));

  it('the host cancels the meeting (keeping it once); it disappears for both', step(async (t) => {
    if (!need(t, 'owner', 'invitee', 'code')) return;
    const { page } = s.owner;
    const row = rowOf(page, s.code);
    await tid(row, 'meeting-row-cancel').click();
    const confirm = tid(page, 'confirm-dialog');
    await confirm.waitFor();
    await confirm.getByRole('heading', { name: `Cancel “${NEW_TITLE}”?` }).waitFor();
    assert.equal(await tid(confirm, 'confirm-cancel').textContent(), 'Keep meeting');
    assert.equal(await tid(confirm, 'confirm-ok').textContent(), 'Cancel meeting');
    await shot(page, 'desktop-owner-cancel-confirm');
    await tid(confirm, 'confirm-cancel').click();
    await confirm.waitFor({ state: 'detached' });
    await row.waitFor();
    let m = await api(server, 'GET', `/api/meetings/${encodeURIComponent(s.code)}`, { token: s.ownerToken });
    assert.equal(m.ended_at, null, 'keeping it changed nothing');

    await tid(row, 'meeting-row-cancel').click();
    await tid(page, 'confirm-ok').click();
    await row.waitFor({ state: 'detached' });
    await tid(page, 'meetings-empty').waitFor();
    await tid(page, 'toast').filter({ hasText: `“${NEW_TITLE}” was cancelled.` }).waitFor();
    m = await api(server, 'GET', `/api/meetings/${encodeURIComponent(s.code)}`, { token: s.ownerToken });
    assert.ok(m.ended_at, 'the meeting has ended');

    const invitee = s.invitee.page;
    await invitee.reload();
    await tid(invitee, 'meetings-page').waitFor();
    await tid(invitee, 'meetings-empty').filter({ hasText: '暂无即将开始的会议' }).waitFor();
    assert.equal(await rowOf(invitee, s.code).count(), 0);
    await shot(invitee, 'desktop-invitee-zh-CN-empty');
  }));

  it('no console errors, CSP violations or browser dialogs', () => {
    const problems = watchers.flatMap((w) => w.problems());
    assert.deepEqual(problems, []);
    const csp = contexts.flatMap((c) => c.cspViolations);
    assert.deepEqual(csp, []);
    assert.deepEqual(dialogs, []);
  });
});
