// The meeting journey in real browsers: the host (a workspace member) starts a
// meeting from a channel header and joins through the pre-join screen; a guest
// without an account joins from the same link with a name. Each page must
// decode the other's camera (getStats on the subscribe connection:
// inbound-rtp framesDecoded > 0 and still rising a second later); the guest's
// screen share must reach the host as a second video shown large; the host
// mutes the guest from the participants panel and the guest's page shows it;
// meeting chat and a raised hand go across; the host's websocket drops and the
// call comes back (rejoin key, ICE restart) with video still flowing; a phone-
// width guest fits; the meeting card in the channel opens the meeting; the
// host ends it for everyone. Every page is checked for console errors and CSP
// violations.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, newContext, watchPage, shot, tid, isHttpError, DESKTOP, PHONE,
  api, setupViaApi, signInThroughPage, writeConsoleLog,
  roomState, assertNoHorizontalScroll,
} from './harness.mjs';

const WORKSPACE = 'Lighthouse Studio';
const CHANNEL = 'standup';
const HOST = {
  displayName: 'Hana Host',
  username: 'hana',
  email: 'hana@example.com',
  password: 'amber-meadow-lantern-77',
};
const GUEST_NAME = 'Gita Guest';
const PHONE_GUEST_NAME = 'Pavel Phone';
const LOBBY_GUEST_NAME = 'Lena Lobby';
const MEETING_TITLE = `Meeting in #${CHANNEL}`;

describe('meeting journey', () => {
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

  before(async () => {
    server = await startServer({ name: 'meeting-server' });
    browser = await launchBrowser();
    const host = await setupViaApi(server, WORKSPACE, HOST);
    s.wsId = host.wsId;
    s.hostToken = host.token;
    const channel = await api(server, 'POST', `/api/workspaces/${encodeURIComponent(host.wsId)}/channels`, {
      token: host.token, body: { name: CHANNEL, topic: 'Daily standup' },
    });
    s.channelId = channel.id;
  });

  after(async () => {
    writeConsoleLog(watchers, 'meeting-console.log');
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it('the host starts a meeting from the channel header and sees the pre-join screen', step(async (t) => {
    if (!need(t, 'wsId', 'channelId')) return;
    const { page, watcher } = await openPage('host');
    await signInThroughPage(page, server, s.wsId, { login: HOST.username, password: HOST.password });
    await watcher.realtimeReady();
    await page.goto(`${server.url}/w/${encodeURIComponent(s.wsId)}/c/${encodeURIComponent(s.channelId)}`);
    await tid(page, 'channel-title').filter({ hasText: CHANNEL }).waitFor();
    const start = tid(page, 'channel-meeting-start');
    assert.equal(await start.getAttribute('aria-label'), 'Start a meeting');
    await start.click();
    await page.waitForURL(/\/m\/[^/]+$/);
    s.code = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
    s.meetingPath = `/m/${encodeURIComponent(s.code)}`;

    const prejoin = tid(page, 'meeting-prejoin');
    await prejoin.waitFor();
    await tid(page, 'prejoin-title').filter({ hasText: MEETING_TITLE }).waitFor();
    // Camera preview playing, microphone level moving, devices listed.
    await page.waitForFunction(() => {
      const v = document.querySelector('[data-testid="prejoin-preview"]');
      return v && v.videoWidth > 0 && !v.paused;
    });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="prejoin-mic-level"]')?.dataset.level) > 0);
    assert.ok(await tid(page, 'device-camera').locator('option').count() >= 1, 'a camera is listed');
    assert.ok(await tid(page, 'device-mic').locator('option').count() >= 1, 'a microphone is listed');
    assert.equal(await tid(page, 'prejoin-name').count(), 0, 'members are not asked for a name');
    await shot(page, 'desktop-host-prejoin');

    // The server posted the meeting into the channel (checked on screen later).
    const meeting = await api(server, 'GET', `/api/meetings/${encodeURIComponent(s.code)}`, { token: s.hostToken });
    assert.equal(meeting.title, MEETING_TITLE);
    assert.equal(meeting.channel_id, s.channelId);
    s.host = { page, watcher };
  }));

  it('the host joins; the room connects', step(async (t) => {
    if (!need(t, 'host')) return;
    const { page } = s.host;
    await tid(page, 'prejoin-join').click();
    await tid(page, 'meeting-room').waitFor();
    await roomState(page, 'connected');
    await page.locator('[data-testid="meeting-tile"][data-self="true"][data-video="true"]').waitFor();
    assert.equal(await page.evaluate(() => !!window.__convene?.meeting?.pcs?.subscribe), true, 'the peer connections are exposed for the test');
    await shot(page, 'desktop-host-alone');
  }));

  it('a guest joins through the guest pre-join; both decode each other\'s video', step(async (t) => {
    if (!need(t, 'host', 'code')) return;
    const { page, watcher } = await openPage('guest');
    await page.goto(`${server.url}${s.meetingPath}`);
    await tid(page, 'meeting-prejoin').waitFor();
    await tid(page, 'prejoin-title').filter({ hasText: MEETING_TITLE }).waitFor();
    await tid(page, 'prejoin-workspace').filter({ hasText: WORKSPACE }).waitFor();
    // A name is required.
    await tid(page, 'prejoin-join').click();
    await tid(page, 'prejoin-error').filter({ hasText: 'Enter your name' }).waitFor();
    await tid(page, 'prejoin-name').fill(GUEST_NAME);
    await shot(page, 'desktop-guest-prejoin');
    await tid(page, 'prejoin-join').click();
    await tid(page, 'meeting-room').waitFor();
    s.guest = { page, watcher };

    // Each page decodes the other's camera, and keeps decoding.
    const hostSees = await framesRising(s.host.page, { source: 'camera' });
    const guestSees = await framesRising(page, { source: 'camera' });
    t.diagnostic(`host decoded ${hostSees.before}→${hostSees.after} frames; guest ${guestSees.before}→${guestSees.after}`);
    await roomState(page, 'connected');
    await roomState(s.host.page, 'connected');

    // One tile per person, names shown, the remote tile playing video.
    for (const [viewer, other] of [[s.host.page, GUEST_NAME], [page, HOST.displayName]]) {
      const tile = viewer.locator('[data-testid="meeting-tile"][data-self="false"][data-source="camera"]');
      await tile.locator('[data-testid="tile-name"]').filter({ hasText: other }).waitFor();
      await viewer.locator('[data-testid="meeting-tile"][data-self="false"][data-source="camera"][data-video="true"]').waitFor();
      assert.equal(await viewer.locator('[data-testid="meeting-tile"][data-source="camera"]').count(), 2);
    }
    await shot(s.host.page, 'desktop-host-grid');
    await shot(page, 'desktop-guest-grid');
  }));

  it('each page receives the other\'s microphone (audio inbound-rtp packets rising)', step(async (t) => {
    if (!need(t, 'host', 'guest')) return;
    for (const page of [s.host.page, s.guest.page]) {
      const a = await audioPackets(page);
      await page.waitForTimeout(1_000);
      const b = await audioPackets(page);
      assert.ok(b > a && a > 0, `audio packets received: ${a}, then ${b} a second later`);
    }
  }));

  it('the guest shares the screen: a second video reaches the host and is shown large', step(async (t) => {
    if (!need(t, 'host', 'guest')) return;
    const host = s.host.page;
    const guest = s.guest.page;
    await tid(guest, 'meeting-screen').click();
    await tid(guest, 'meeting-screen').and(guest.locator('[aria-pressed="true"]')).waitFor();

    const screen = await framesRising(host, { source: 'screen' });
    t.diagnostic(`host decoded the screen share: ${screen.before}→${screen.after} frames`);
    // Both videos are decoding now.
    const videos = await inboundVideo(host);
    assert.ok(videos.filter((v) => v.framesDecoded > 0).length >= 2, `two videos decoding at the host: ${JSON.stringify(videos)}`);

    const big = host.locator('[data-testid="meeting-tile"][data-source="screen"][data-large="true"][data-video="true"]');
    await big.waitFor();
    assert.equal(await tid(host, 'meeting-grid').getAttribute('data-layout'), 'stage');
    const [bigBox, camBox] = await Promise.all([
      big.boundingBox(),
      host.locator('[data-testid="meeting-tile"][data-source="camera"]').first().boundingBox(),
    ]);
    assert.ok(bigBox.width * bigBox.height > 4 * camBox.width * camBox.height, `the screen share is shown large (${bigBox.width}x${bigBox.height} vs ${camBox.width}x${camBox.height})`);
    await big.locator('[data-testid="tile-name"]').filter({ hasText: GUEST_NAME }).waitFor();
    await shot(host, 'desktop-host-screen-share');

    // Stopping the share removes it.
    await tid(guest, 'meeting-screen').click();
    await host.locator('[data-testid="meeting-tile"][data-source="screen"]').waitFor({ state: 'detached' });
    assert.equal(await tid(host, 'meeting-grid').getAttribute('data-layout'), 'grid');
  }));

  it('the host mutes the guest from the participants panel; the guest sees it', step(async (t) => {
    if (!need(t, 'host', 'guest')) return;
    const host = s.host.page;
    const guest = s.guest.page;
    await tid(guest, 'meeting-mic').and(guest.locator('[data-on="true"]')).waitFor();

    await tid(host, 'meeting-participants-open').click();
    const panel = tid(host, 'participants-panel');
    await panel.waitFor();
    const row = panel.getByTestId('participant-row').filter({ hasText: GUEST_NAME });
    await row.waitFor();
    await row.getByTestId('participant-mute').click();

    // The guest's page: notice, the mic button off, the track really muted, own tile marked.
    const notice = tid(guest, 'meeting-notice').and(guest.locator('[data-kind="muted"]'));
    await notice.filter({ hasText: 'You were muted by the host' }).waitFor();
    await tid(guest, 'meeting-mic').and(guest.locator('[data-on="false"]')).waitFor();
    await guest.locator('[data-testid="meeting-tile"][data-self="true"][data-source="camera"][data-muted="true"]').getByTestId('tile-muted').waitFor({ state: 'visible' });
    const micEnabled = await guest.evaluate(() => {
      const tr = window.__convene.meeting.pcs.publish.getTransceivers().find((x) => x.sender.track?.kind === 'audio');
      return tr ? tr.sender.track.enabled : null;
    });
    assert.equal(micEnabled, false, 'the guest\'s microphone track is disabled');

    // The host sees the guest muted, in the list and on the tile.
    await row.getByTestId('participant-muted').waitFor();
    await host.locator('[data-testid="meeting-tile"][data-self="false"][data-source="camera"][data-muted="true"]').waitFor();
    await shot(guest, 'desktop-guest-muted-by-host');
    await shot(host, 'desktop-host-participants-panel');
  }));

  it('the guest turns the camera off and on; the host sees the avatar, then video again', step(async (t) => {
    if (!need(t, 'host', 'guest')) return;
    const host = s.host.page;
    const guest = s.guest.page;
    const remote = host.locator('[data-testid="meeting-tile"][data-self="false"][data-source="camera"]');
    await tid(guest, 'meeting-camera').click();
    await tid(guest, 'meeting-camera').and(guest.locator('[data-on="false"]')).waitFor();
    // The camera is released, not just blacked out.
    assert.equal(await guest.evaluate(() => window.__convene.meeting.call.media.camTrack), null);
    await remote.and(host.locator('[data-video="false"]')).waitFor();
    await guest.locator('[data-testid="meeting-tile"][data-self="true"][data-video="false"]').waitFor();
    await shot(host, 'desktop-host-guest-camera-off');
    await tid(guest, 'meeting-camera').click();
    await tid(guest, 'meeting-camera').and(guest.locator('[data-on="true"]')).waitFor();
    await remote.and(host.locator('[data-video="true"]')).waitFor();
    const again = await framesRising(host, { source: 'camera' });
    t.diagnostic(`host decodes the guest's camera again: ${again.before}→${again.after}`);
  }));

  it('the host switches microphone in the settings dialog', step(async (t) => {
    if (!need(t, 'host')) return;
    const host = s.host.page;
    const senderLabel = () => host.evaluate(() => window.__convene.meeting.pcs.publish.getSenders().find((x) => x.track?.kind === 'audio')?.track.label);
    const before = await senderLabel();
    await tid(host, 'meeting-settings').click();
    const dialog = tid(host, 'meeting-settings-dialog');
    await dialog.waitFor();
    const options = await dialog.getByTestId('device-mic').locator('option').evaluateAll((els) => els.map((o) => ({ value: o.value, label: o.textContent })));
    const other = options.find((o) => o.label !== before && o.value !== 'default');
    assert.ok(other, `another microphone to pick: ${JSON.stringify(options)}`);
    await dialog.getByTestId('device-mic').selectOption(other.value);
    await host.waitForFunction((label) => window.__convene.meeting.pcs.publish.getSenders().find((x) => x.track?.kind === 'audio')?.track.label === label, other.label);
    await shot(host, 'desktop-host-settings');
    await dialog.getByTestId('dialog-close').click();
    await dialog.waitFor({ state: 'detached' });
    t.diagnostic(`microphone: ${before} → ${other.label}`);
  }));

  it('meeting chat and a raised hand reach the other side', step(async (t) => {
    if (!need(t, 'host', 'guest')) return;
    const host = s.host.page;
    const guest = s.guest.page;
    await tid(guest, 'meeting-hand').click();
    await host.locator('[data-testid="meeting-tile"][data-self="false"][data-hand="true"]').getByTestId('tile-hand').waitFor({ state: 'visible' });
    await tid(host, 'participants-panel').getByTestId('participant-row').filter({ hasText: GUEST_NAME }).getByTestId('participant-hand').waitFor();

    const text = 'Can everyone see my slides? 能看到吗';
    await tid(guest, 'meeting-chat-open').click();
    await tid(guest, 'meeting-chat-input').fill(text);
    await tid(guest, 'meeting-chat-input').press('Enter');
    await tid(guest, 'meeting-chat-message').filter({ hasText: text }).waitFor();
    await tid(host, 'meeting-chat-unread').filter({ hasText: '1' }).waitFor();
    await tid(host, 'meeting-chat-open').click();
    const msg = tid(host, 'meeting-chat-message').filter({ hasText: text });
    await msg.waitFor();
    await msg.filter({ hasText: GUEST_NAME }).waitFor();
    await shot(host, 'desktop-host-chat');
    await tid(guest, 'meeting-hand').click();
    await host.locator('[data-testid="meeting-tile"][data-self="false"][data-hand="false"]').waitFor();
    await tid(guest, 'meeting-panel-close').click();
  }));

  it('the host\'s websocket drops: "Reconnecting…", then back with video flowing both ways', step(async (t) => {
    if (!need(t, 'host', 'guest')) return;
    const host = s.host.page;
    const guest = s.guest.page;
    // Watch the state attribute from inside the page, so a short "reconnecting" is not missed.
    await host.evaluate(() => {
      window.__e2eStates = [];
      const room = document.querySelector('[data-testid="meeting-room"]');
      new MutationObserver(() => window.__e2eStates.push(room.dataset.state)).observe(room, { attributes: true, attributeFilter: ['data-state'] });
      window.__convene.meeting.call.rt.ws.close();
    });
    await host.waitForFunction(() => window.__e2eStates.includes('reconnecting'));
    await roomState(host, 'connected', 20_000);
    const states = await host.evaluate(() => window.__e2eStates);
    t.diagnostic(`host states: ${states.join(' → ')}`);
    // The rejoin sent the rejoin key, an ICE-restart publish and a subscribe restart.
    const sent = s.host.watcher.sockets.flatMap((sock) => sock.sent);
    const rejoin = sent.find((f) => f?.type === 'meeting.join' && f.rejoin_key);
    assert.ok(rejoin, 'the host rejoined with its rejoin key');
    assert.ok(sent.some((f) => f?.type === 'meeting.restart'), 'the host asked for a subscribe restart');

    const atGuest = await framesRising(guest, { source: 'camera' });
    const atHost = await framesRising(host, { source: 'camera' });
    t.diagnostic(`after the reconnect: guest decoded ${atGuest.before}→${atGuest.after}, host ${atHost.before}→${atHost.after}`);
    assert.equal(await host.locator('[data-testid="meeting-tile"][data-source="camera"]').count(), 2, 'still one tile per person');
  }));

  it('a guest on a phone joins; the room fits 375 px', step(async (t) => {
    if (!need(t, 'host', 'code')) return;
    const { page } = await openPage('phone', PHONE);
    await page.goto(`${server.url}${s.meetingPath}`);
    await tid(page, 'meeting-prejoin').waitFor();
    await tid(page, 'prejoin-name').fill(PHONE_GUEST_NAME);
    await assertNoHorizontalScroll(page, 'the phone pre-join screen');
    await shot(page, 'phone-guest-prejoin');
    await tid(page, 'prejoin-join').click();
    await tid(page, 'meeting-room').waitFor();
    await framesRising(page, { source: 'camera' });
    await page.locator('[data-testid="meeting-tile"][data-source="camera"][data-video="true"]').nth(2).waitFor();
    await assertNoHorizontalScroll(page, 'the phone meeting room');
    // Every control is on screen.
    for (const id of ['meeting-mic', 'meeting-camera', 'meeting-screen', 'meeting-hand', 'meeting-participants-open', 'meeting-chat-open', 'meeting-leave']) {
      const box = await tid(page, id).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 375 && box.y + box.height <= 812, `${id} is on screen (${JSON.stringify(box)})`);
      assert.ok(await tid(page, id).getAttribute('aria-label'), `${id} has an accessible name`);
    }
    await shot(page, 'phone-guest-grid');
    await tid(page, 'meeting-participants-open').click();
    await tid(page, 'participants-panel').waitFor();
    await assertNoHorizontalScroll(page, 'the phone participants panel');
    await shot(page, 'phone-guest-participants');
    await tid(page, 'meeting-panel-close').click();
    await tid(page, 'meeting-leave').click();
    await tid(page, 'meeting-ended').and(page.locator('[data-reason="left"]')).waitFor();
    await s.host.page.locator('[data-testid="meeting-tile"][data-source="camera"]').nth(2).waitFor({ state: 'detached' });
  }));

  it('with the waiting room on, a guest whose camera is blocked waits, is admitted and watches', step(async (t) => {
    if (!need(t, 'host', 'code')) return;
    const host = s.host.page;
    await api(server, 'PATCH', `/api/meetings/${encodeURIComponent(s.code)}`, { token: s.hostToken, body: { lobby: true } });
    const { page, context } = await openPage('blocked');
    // This visitor refused the camera and microphone prompt.
    await context.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    await page.goto(`${server.url}${s.meetingPath}`);
    await tid(page, 'prejoin-blocked').filter({ hasText: 'Camera and microphone blocked' }).waitFor();
    assert.equal(await tid(page, 'prejoin-camera-toggle').isDisabled(), true, 'the camera toggle is off');
    await tid(page, 'prejoin-name').fill(LOBBY_GUEST_NAME);
    await shot(page, 'desktop-blocked-prejoin');
    await tid(page, 'prejoin-join').click();
    await tid(page, 'meeting-waiting').waitFor();
    await shot(page, 'desktop-blocked-waiting');

    // The host is told, and admits from the participants panel.
    await tid(host, 'meeting-notice').and(host.locator('[data-kind="lobby"]')).waitFor();
    if (!(await tid(host, 'participants-panel').count())) await tid(host, 'meeting-participants-open').click();
    const entry = tid(host, 'lobby-list').getByTestId('lobby-entry').filter({ hasText: LOBBY_GUEST_NAME });
    await entry.waitFor();
    await shot(host, 'desktop-host-lobby');
    await entry.getByTestId('lobby-admit').click();
    await tid(host, 'lobby-list').waitFor({ state: 'detached' });

    // Admitted: in the room without sending media, watching the others.
    await tid(page, 'meeting-room').waitFor();
    const seen = await framesRising(page, { source: 'camera' });
    t.diagnostic(`the receive-only guest decoded ${seen.before}→${seen.after} frames`);
    await tid(host, 'participants-panel').getByTestId('participant-row').filter({ hasText: LOBBY_GUEST_NAME }).waitFor();
    await shot(page, 'desktop-blocked-in-room');
    await tid(page, 'meeting-leave').click();
    await tid(page, 'meeting-ended').waitFor();
    await api(server, 'PATCH', `/api/meetings/${encodeURIComponent(s.code)}`, { token: s.hostToken, body: { lobby: false } });
  }));

  it('the host leaves, finds the meeting card in the channel and rejoins from it', step(async (t) => {
    if (!need(t, 'host', 'guest', 'channelId')) return;
    const host = s.host.page;
    await tid(host, 'meeting-leave').click();
    const ended = tid(host, 'meeting-ended');
    await ended.and(host.locator('[data-reason="left"]')).waitFor();
    await shot(host, 'desktop-host-left');
    await tid(host, 'meeting-back').click();
    await host.waitForURL(`${server.url}/w/${encodeURIComponent(s.wsId)}`);
    await host.goto(`${server.url}/w/${encodeURIComponent(s.wsId)}/c/${encodeURIComponent(s.channelId)}`);
    const card = tid(host, 'message-list').getByTestId('meeting-card');
    await card.waitFor();
    assert.equal((await card.getByTestId('meeting-card-title').innerText()).trim(), MEETING_TITLE);
    assert.equal(await card.getAttribute('data-code'), s.code);
    await shot(host, 'desktop-host-meeting-card');
    await card.getByTestId('meeting-card-join').click();
    await host.waitForURL(`${server.url}${s.meetingPath}`);
    await tid(host, 'prejoin-join').click();
    await tid(host, 'meeting-room').waitFor();
    await framesRising(host, { source: 'camera' });
  }));

  it('the host ends the meeting for everyone', step(async (t) => {
    if (!need(t, 'host', 'guest')) return;
    const host = s.host.page;
    const guest = s.guest.page;
    await tid(host, 'meeting-participants-open').click();
    await tid(host, 'meeting-end-all').click();
    await tid(host, 'confirm-ok').click();
    await tid(guest, 'meeting-ended').and(guest.locator('[data-reason="ended"]')).waitFor();
    await tid(host, 'meeting-ended').waitFor();
    await shot(guest, 'desktop-guest-meeting-ended');
    // The camera is released at the end.
    const live = await guest.evaluate(() => window.__convene.meeting.call.media.camTrack?.readyState ?? 'none');
    assert.notEqual(live, 'live', 'the guest\'s camera is stopped');
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

// --- helpers ----------------------------------------------------------------------------------

/** Video inbound-rtp of the page's subscribe connection, with the source behind each mid. */
async function inboundVideo(page) {
  return page.evaluate(async () => {
    const m = window.__convene?.meeting;
    const pc = m?.pcs?.subscribe;
    if (!pc || pc.signalingState === 'closed') return [];
    const report = await pc.getStats();
    const out = [];
    report.forEach((r) => {
      if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
      const info = m.call?.subTracks?.get(String(r.mid));
      out.push({ mid: r.mid, source: info?.source ?? null, participant: info?.participant_id ?? null, framesDecoded: r.framesDecoded || 0, width: r.frameWidth || 0 });
    });
    return out;
  });
}

/**
 * Wait until a video of `source` is decoding on the page's subscribe connection
 * and still decoding about a second later (framesDecoded > 0 and rising).
 */
async function framesRising(page, { source, timeout = 20_000 }) {
  const deadline = Date.now() + timeout;
  let last = [];
  let stalled = null;
  while (Date.now() < deadline) {
    const first = (await inboundVideo(page)).filter((v) => v.source === source && v.framesDecoded > 0);
    if (first.length) {
      await page.waitForTimeout(1_000);
      last = await inboundVideo(page);
      for (const a of first) {
        const b = last.find((v) => v.mid === a.mid);
        if (b && b.framesDecoded > a.framesDecoded) return { before: a.framesDecoded, after: b.framesDecoded, mid: a.mid };
        stalled = `${a.framesDecoded} frames, then ${b?.framesDecoded} a second later`;
      }
    } else {
      await page.waitForTimeout(250);
    }
  }
  assert.fail(`no ${source} video kept decoding on the subscribe connection (${stalled || 'nothing decoded'}): ${JSON.stringify(last)}`);
}

/** Audio inbound-rtp of the page's subscribe connection: total packets received. */
async function audioPackets(page) {
  return page.evaluate(async () => {
    const pc = window.__convene?.meeting?.pcs?.subscribe;
    if (!pc || pc.signalingState === 'closed') return 0;
    let n = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.packetsReceived || 0;
    });
    return n;
  });
}

