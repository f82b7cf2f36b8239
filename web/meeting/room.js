// The in-meeting view: video grid (or a screen share on stage with the
// others in a strip), the control bar, the participants panel (with host
// controls and the lobby), the meeting chat, notices, and the connection
// state. Everything is drawn from a MeetingCall (call.js).

import { h, replace, uid } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { confirmDialog, toast, openDialog } from '../ui.js';
import { devicePickers } from './prejoin.js';

const narrow = window.matchMedia('(max-width: 767px)');

function initials(name) {
  const s = String(name || '?').trim();
  if (!s) return '?';
  const parts = s.split(/\s+/);
  const chars = parts.length > 1 ? [...parts[0]][0] + [...parts[parts.length - 1]][0] : [...s].slice(0, 2).join('');
  return chars.toUpperCase();
}

function hue(text) {
  let x = 0;
  for (const ch of String(text)) x = (x * 31 + ch.codePointAt(0)) % 360;
  return x;
}

function icon(name) {
  return h('span', { class: `ic ic-${name}`, 'aria-hidden': 'true' });
}

/** Tile size for n tiles of 16:9 in a w x h box with `gap` between them: the largest that fits. */
function bestFit(n, w, hgt, gap) {
  let best = { cols: 1, width: 0 };
  for (let cols = 1; cols <= n; cols += 1) {
    const rows = Math.ceil(n / cols);
    const maxW = (w - gap * (cols - 1)) / cols;
    const maxH = (hgt - gap * (rows - 1)) / rows;
    const width = Math.min(maxW, maxH * 16 / 9);
    if (width > best.width) best = { cols, width };
  }
  return best;
}

export class MeetingRoom {
  /**
   * call: MeetingCall; opts.onLeave(): the user pressed Leave; opts.title: meeting title
   */
  constructor(call, { title, onLeave }) {
    this.call = call;
    this.onLeave = onLeave;
    this.titleText = title || '';
    this.tiles = new Map(); // key -> tile element
    this.audios = new Map(); // track id -> <audio>
    this.panel = null; // 'people' | 'chat' | null
    this.unreadChat = 0;
    this.noticeTimers = new Set();

    this.title = h('h1', { class: 'mt-title', id: uid('mt-title'), testid: 'meeting-title', tabindex: '-1' }, this.titleText);
    this.lockBadge = h('span', { class: 'mt-lock', testid: 'meeting-locked', hidden: true, title: t('meeting.locked') },
      icon('lock'), h('span', { class: 'visually-hidden' }, t('meeting.locked')));
    this.status = h('span', { class: 'mt-status', testid: 'meeting-status', role: 'status', 'aria-live': 'polite' });
    this.copyBtn = h('button', { type: 'button', class: 'mt-top-btn', testid: 'meeting-copy-link', 'aria-label': t('meeting.copyLink'), title: t('meeting.copyLink'), onclick: () => this.copyLink() },
      icon('link'));
    this.top = h('header', { class: 'mt-top' },
      h('div', { class: 'mt-top-titles' }, this.title, this.lockBadge),
      this.status,
      h('div', { class: 'mt-top-spacer' }),
      this.copyBtn,
    );

    this.grid = h('div', { class: 'mt-grid', testid: 'meeting-grid', dataset: { layout: 'grid' } });
    this.stageMain = h('div', { class: 'mt-stage-main' });
    this.strip = h('div', { class: 'mt-strip' });
    this.stage = h('div', { class: 'mt-stage', testid: 'meeting-stage', 'aria-label': t('meeting.videos') }, this.grid);
    this.panelEl = h('aside', { class: 'mt-panel', hidden: true });
    this.notices = h('div', { class: 'mt-notices', 'aria-live': 'assertive' });
    this.body = h('div', { class: 'mt-body' }, this.stage, this.panelEl, this.notices);

    this.btn = {};
    this.btn.mic = this.control('meeting-mic', () => this.call.setMic(!this.call.media.micLive));
    this.btn.camera = this.control('meeting-camera', () => this.toggleCamera());
    this.btn.screen = this.control('meeting-screen', () => this.toggleScreen());
    this.btn.hand = this.control('meeting-hand', () => this.call.setHand(!this.call.hand));
    this.btn.settings = this.control('meeting-settings', () => this.openSettings());
    this.btn.people = this.control('meeting-participants-open', () => this.togglePanel('people'));
    this.peopleCount = h('span', { class: 'mt-ctl-count', testid: 'meeting-participant-count' });
    this.btn.people.appendChild(this.peopleCount);
    this.btn.chat = this.control('meeting-chat-open', () => this.togglePanel('chat'));
    this.chatBadge = h('span', { class: 'mt-ctl-badge', testid: 'meeting-chat-unread', hidden: true });
    this.btn.chat.appendChild(this.chatBadge);
    this.btn.leave = h('button', { type: 'button', class: 'mt-ctl mt-ctl-leave', testid: 'meeting-leave', 'aria-label': t('meeting.leave'), title: t('meeting.leave'), onclick: () => this.onLeave() },
      icon('phone-off'), h('span', { class: 'mt-ctl-text' }, t('meeting.leaveShort')));
    this.controls = h('footer', { class: 'mt-controls', role: 'toolbar', 'aria-label': t('meeting.controls') },
      h('div', { class: 'mt-ctl-group' }, this.btn.mic, this.btn.camera, this.btn.screen, this.btn.hand, this.btn.settings),
      h('div', { class: 'mt-ctl-group' }, this.btn.people, this.btn.chat),
      h('div', { class: 'mt-ctl-group' }, this.btn.leave),
    );
    this.audioBox = h('div', { class: 'mt-audio', hidden: true });

    this.el = h('section', { class: 'meeting-room', testid: 'meeting-room', 'aria-labelledby': this.title.id, dataset: { state: call.state } },
      this.top, this.body, this.controls, this.audioBox);

    const listen = (type, fn) => call.addEventListener(type, fn);
    listen('state', () => this.renderState());
    listen('participants', () => this.renderAll());
    listen('media', () => this.renderAll());
    listen('speaker', () => this.renderTiles());
    listen('local', () => this.renderAll());
    listen('lobby', () => this.lobbyChanged());
    listen('meeting', () => this.renderTop());
    listen('chat', (e) => this.chatArrived(e.detail));
    listen('notice', (e) => this.notice(e.detail));
    this.media = call.media;
    this.onMedia = () => this.renderAll();
    this.media.addEventListener('change', this.onMedia);

    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(this.stage);
    this.onNarrow = () => this.renderTiles();
    narrow.addEventListener('change', this.onNarrow);
    this.renderAll();
    this.renderState();
  }

  dispose() {
    this.resize.disconnect();
    narrow.removeEventListener('change', this.onNarrow);
    this.media.removeEventListener('change', this.onMedia);
    for (const timer of this.noticeTimers) clearTimeout(timer);
    for (const a of this.audios.values()) a.srcObject = null;
    for (const tile of this.tiles.values()) tile.video.srcObject = null;
  }

  control(testid, onclick) {
    const b = h('button', { type: 'button', class: 'mt-ctl', testid, onclick });
    b.iconEl = icon('mic');
    b.textEl = h('span', { class: 'mt-ctl-text' });
    b.append(b.iconEl, b.textEl);
    return b;
  }

  setControl(b, { name, label, short, on = null, pressed = null, off = false, disabled = false }) {
    b.iconEl.className = `ic ic-${name}`;
    b.setAttribute('aria-label', label);
    b.title = label;
    b.textEl.textContent = short;
    if (pressed != null) b.setAttribute('aria-pressed', String(pressed));
    if (on != null) b.dataset.on = String(on);
    b.classList.toggle('is-off', off);
    b.classList.toggle('is-active', !!pressed);
    b.disabled = disabled;
  }

  // --- rendering ------------------------------------------------------------------------------

  renderAll() {
    this.renderControls();
    this.renderTiles();
    this.renderAudio();
    if (this.panel === 'people') this.renderPeople();
    this.peopleCount.textContent = String(this.call.participants.size || 1);
  }

  renderState() {
    const s = this.call.state;
    this.el.dataset.state = s;
    const text = {
      joining: t('meeting.state.connecting'),
      connecting: t('meeting.state.connecting'),
      reconnecting: t('meeting.state.reconnecting'),
      waiting: t('meeting.state.waiting'),
    }[s] || '';
    this.status.textContent = text;
    this.status.hidden = !text;
    this.status.dataset.state = s;
  }

  renderTop() {
    const m = this.call.meeting || {};
    if (m.title) this.title.textContent = m.title;
    this.lockBadge.hidden = !m.locked;
    if (this.panel === 'people') this.renderPeople();
  }

  renderControls() {
    const { media } = this.call;
    const micOn = media.micLive;
    this.setControl(this.btn.mic, {
      name: micOn ? 'mic' : 'mic-off', label: micOn ? t('meeting.mic.off') : t('meeting.mic.on'),
      short: micOn ? t('meeting.mic.short') : t('meeting.mic.unmuteShort'), on: micOn, off: !micOn, disabled: !media.micTrack && !media.hasMic,
    });
    const camOn = media.camLive;
    this.setControl(this.btn.camera, {
      name: camOn ? 'video' : 'video-off', label: camOn ? t('meeting.camera.off') : t('meeting.camera.on'),
      short: camOn ? t('meeting.camera.short') : t('meeting.camera.startShort'), on: camOn, off: !camOn, disabled: !media.hasCam && media.blocked === 'denied',
    });
    const sharing = !!this.call.screenTrack;
    this.setControl(this.btn.screen, {
      name: 'screen', label: sharing ? t('meeting.screen.stop') : t('meeting.screen.start'),
      short: sharing ? t('meeting.screen.stopShort') : t('meeting.screen.short'), on: sharing, pressed: sharing,
      disabled: !navigator.mediaDevices?.getDisplayMedia,
    });
    const hand = this.call.hand;
    this.setControl(this.btn.hand, {
      name: 'hand', label: hand ? t('meeting.hand.lower') : t('meeting.hand.raise'), short: hand ? t('meeting.hand.lowerShort') : t('meeting.hand.short'), on: hand, pressed: hand,
    });
    this.setControl(this.btn.settings, { name: 'settings', label: t('meeting.settings'), short: t('meeting.settingsShort') });
    this.setControl(this.btn.people, { name: 'members', label: t('meeting.people.open'), short: t('meeting.people.short'), pressed: this.panel === 'people' });
    this.setControl(this.btn.chat, { name: 'chat', label: t('meeting.chat.open'), short: t('meeting.chat.short'), pressed: this.panel === 'chat' });
  }

  /** The tiles to show: [{key, participant, source, track, self}] in display order. */
  wantedTiles() {
    const call = this.call;
    const out = [];
    const self = call.self;
    const selfP = self || { id: call.selfId || 'self', name: t('meeting.you'), mic: call.media.micLive, camera: call.media.camLive, hand: call.hand };
    const people = [...call.participants.values()].filter((p) => p.id !== selfP.id);
    // Screen shares first (the first goes on stage), then me, then everyone else.
    if (call.screenTrack) out.push({ key: `${selfP.id}:screen`, participant: selfP, source: 'screen', track: call.screenTrack, self: true });
    for (const p of people) {
      const tracks = call.remote.get(p.id) || {};
      if (tracks.screen && p.screen !== false) out.push({ key: `${p.id}:screen`, participant: p, source: 'screen', track: tracks.screen, self: false });
    }
    out.push({ key: `${selfP.id}:camera`, participant: selfP, source: 'camera', track: call.media.camLive ? call.media.camTrack : null, self: true });
    for (const p of people) {
      const tracks = call.remote.get(p.id) || {};
      out.push({ key: `${p.id}:camera`, participant: p, source: 'camera', track: p.camera === false ? null : tracks.camera || null, self: false });
    }
    return out;
  }

  renderTiles() {
    const wanted = this.wantedTiles();
    const keys = new Set(wanted.map((w) => w.key));
    for (const [key, tile] of this.tiles) {
      if (!keys.has(key)) {
        tile.video.srcObject = null;
        tile.remove();
        this.tiles.delete(key);
      }
    }
    const screens = wanted.filter((w) => w.source === 'screen');
    const stageKey = screens[0]?.key || null;
    for (const w of wanted) {
      let tile = this.tiles.get(w.key);
      if (!tile) {
        tile = this.buildTile(w);
        this.tiles.set(w.key, tile);
      }
      this.updateTile(tile, w, w.key === stageKey);
    }
    const ordered = wanted.map((w) => this.tiles.get(w.key));
    if (stageKey) {
      this.grid.dataset.layout = 'stage';
      const main = this.tiles.get(stageKey);
      if (this.stageMain.firstChild !== main || this.stageMain.childNodes.length !== 1) replace(this.stageMain, main);
      const rest = ordered.filter((tile) => tile.dataset.key !== stageKey);
      const inStrip = [...this.strip.children];
      if (inStrip.length !== rest.length || inStrip.some((el, i) => el !== rest[i])) replace(this.strip, rest);
      if (this.grid.firstChild !== this.stageMain || this.grid.childNodes.length !== 2) replace(this.grid, this.stageMain, this.strip);
    } else {
      this.grid.dataset.layout = 'grid';
      // Re-append only when the order changed (moving a playing <video> can pause it).
      const current = [...this.grid.children];
      if (current.length !== ordered.length || current.some((el, i) => el !== ordered[i])) replace(this.grid, ordered);
    }
    this.el.classList.toggle('has-stage', !!stageKey);
    this.layout();
  }

  buildTile(w) {
    const video = h('video', { class: 'mt-video', autoplay: true, playsinline: true, muted: true });
    video.muted = true; // audio plays through the hidden <audio> elements
    const avatarEl = h('span', { class: 'mt-avatar', 'aria-hidden': 'true' });
    const name = h('span', { class: 'mt-tile-name', testid: 'tile-name' });
    const muted = h('span', { class: 'mt-tile-muted', testid: 'tile-muted', hidden: true, title: t('meeting.tile.muted') },
      icon('mic-off'), h('span', { class: 'visually-hidden' }, t('meeting.tile.muted')));
    const hand = h('span', { class: 'mt-tile-hand', testid: 'tile-hand', hidden: true, title: t('meeting.tile.hand') },
      icon('hand'), h('span', { class: 'visually-hidden' }, t('meeting.tile.hand')));
    const tile = h('div', { class: 'mt-tile', testid: 'meeting-tile', role: 'group', dataset: { key: w.key } },
      video, h('div', { class: 'mt-avatar-wrap' }, avatarEl), hand,
      h('div', { class: 'mt-tile-label' }, muted, name));
    Object.assign(tile, { video, avatarEl, nameEl: name, mutedEl: muted, handEl: hand, track: null });
    video.addEventListener('loadedmetadata', () => video.play().catch(() => {}));
    return tile;
  }

  updateTile(tile, w, large) {
    const p = w.participant;
    const call = this.call;
    const displayName = p.name || t('meeting.someone');
    const label = w.source === 'screen'
      ? (w.self ? t('meeting.tile.yourScreen') : t('meeting.tile.screenOf', { name: displayName }))
      : (w.self ? t('meeting.tile.you', { name: displayName }) : displayName);
    tile.nameEl.textContent = label;
    tile.setAttribute('aria-label', label);
    tile.dataset.participantId = p.id;
    tile.dataset.source = w.source;
    tile.dataset.self = String(w.self);
    tile.dataset.large = String(large);
    tile.classList.toggle('is-large', large);
    tile.classList.toggle('is-self', w.self && w.source === 'camera');
    tile.classList.toggle('is-screen', w.source === 'screen');
    const micOff = w.source === 'camera' && (w.self ? !call.media.micLive : p.mic === false);
    tile.mutedEl.hidden = !micOff;
    tile.dataset.muted = String(micOff);
    const hand = w.source === 'camera' && (w.self ? call.hand : !!p.hand);
    tile.handEl.hidden = !hand;
    tile.dataset.hand = String(hand);
    const speaking = w.source === 'camera' && call.speakerId != null && call.speakerId === p.id && !micOff;
    tile.classList.toggle('is-speaking', speaking);
    tile.dataset.speaking = String(speaking);
    tile.avatarEl.textContent = initials(displayName);
    tile.avatarEl.style.setProperty('--avatar-hue', String(hue(p.user_id || p.id || displayName)));
    if (tile.track !== w.track) {
      tile.track = w.track;
      tile.video.srcObject = w.track ? new MediaStream([w.track]) : null;
      if (w.track) tile.video.play().catch(() => {});
    }
    const hasVideo = !!w.track && w.track.readyState === 'live';
    tile.classList.toggle('has-video', hasVideo);
    tile.dataset.video = String(hasVideo);
  }

  /** Size grid tiles to the largest 16:9 that fits. */
  layout() {
    const box = this.grid.dataset.layout === 'stage' ? null : this.stage.getBoundingClientRect();
    if (!box || !box.width) return;
    const n = this.grid.children.length || 1;
    let width;
    let height;
    if (narrow.matches) {
      // Phones: fill the column (portrait screens have height to spare), one or two across.
      const gap = 6;
      const cols = n <= 3 ? 1 : 2;
      const rows = Math.ceil(n / cols);
      width = (box.width - 2 * 4 - gap * (cols - 1)) / cols;
      height = Math.min((box.height - 2 * 4 - gap * (rows - 1)) / rows, width * 1.25);
    } else {
      const gap = 8;
      ({ width } = bestFit(n, box.width - 2 * gap, box.height - 2 * gap, gap));
      height = width * 9 / 16;
    }
    this.grid.style.setProperty('--tile-w', `${Math.max(80, Math.floor(width))}px`);
    this.grid.style.setProperty('--tile-h', `${Math.max(45, Math.floor(height))}px`);
  }

  renderAudio() {
    const want = new Map();
    for (const [pid, tracks] of this.call.remote) {
      if (tracks.mic && pid !== this.call.selfId) want.set(tracks.mic.id, tracks.mic);
    }
    for (const [id, el] of this.audios) {
      if (!want.has(id)) {
        el.srcObject = null;
        el.remove();
        this.audios.delete(id);
      }
    }
    for (const [id, track] of want) {
      if (this.audios.has(id)) continue;
      const el = h('audio', { autoplay: true });
      el.srcObject = new MediaStream([track]);
      if (this.call.media.speakerId && el.setSinkId) el.setSinkId(this.call.media.speakerId).catch(() => {});
      el.play().catch(() => {});
      this.audios.set(id, el);
      this.audioBox.appendChild(el);
    }
  }

  // --- controls -------------------------------------------------------------------------------

  async toggleCamera() {
    const b = this.btn.camera;
    b.disabled = true;
    try {
      await this.call.setCamera(!this.call.media.camLive);
    } catch (err) {
      this.notice({ key: err?.name === 'NotAllowedError' ? 'meeting.notice.cameraBlocked' : 'meeting.notice.cameraFailed' });
    } finally {
      this.renderControls();
    }
  }

  async toggleScreen() {
    if (this.call.screenTrack) {
      await this.call.stopScreen();
      return;
    }
    try {
      await this.call.startScreen();
    } catch (err) {
      if (err?.name !== 'NotAllowedError' && err?.name !== 'AbortError') this.notice({ key: 'meeting.notice.screenFailed' });
    }
  }

  openSettings() {
    const pickers = devicePickers(this.call.media, async (kind) => {
      try {
        await this.call.replaceDevice(kind);
      } catch {
        this.notice({ key: 'meeting.notice.deviceFailed' });
      }
    }, { speakers: true, onSpeaker: (id) => this.setSpeaker(id) });
    const { dialog } = openDialog({ title: t('meeting.settings'), body: h('div', { class: 'mt-settings' }, pickers.el), testid: 'meeting-settings-dialog' });
    dialog.addEventListener('close', () => pickers.dispose());
  }

  setSpeaker(id) {
    this.call.media.speakerId = id;
    for (const el of this.audios.values()) el.setSinkId?.(id).catch(() => {});
  }

  async copyLink() {
    const url = `${location.origin}/m/${encodeURIComponent(this.call.code)}`;
    try {
      await navigator.clipboard.writeText(url);
      toast(t('meeting.linkCopied'));
    } catch {
      openDialog({ title: t('meeting.copyLink'), body: h('input', { class: 'mt-link-input', readOnly: true, value: url, testid: 'meeting-link' }), testid: 'meeting-link-dialog' });
    }
  }

  // --- notices ---------------------------------------------------------------------------------

  notice({ key, error, sticky = false }) {
    const text = t(key, { error: error || '' });
    const close = h('button', { type: 'button', class: 'mt-notice-close', 'aria-label': t('common.close') }, icon('close'));
    const el = h('div', { class: 'mt-notice', testid: 'meeting-notice', role: 'status', dataset: { kind: key.replace(/^meeting\.notice\./, '') } },
      h('span', { class: 'mt-notice-text' }, text), close);
    close.addEventListener('click', () => el.remove());
    this.notices.appendChild(el);
    while (this.notices.children.length > 3) this.notices.firstElementChild.remove();
    const timer = setTimeout(() => {
      this.noticeTimers.delete(timer);
      el.remove();
    }, sticky ? 12_000 : 6_000);
    this.noticeTimers.add(timer);
  }

  // --- side panel ----------------------------------------------------------------------------

  togglePanel(kind) {
    this.panel = this.panel === kind ? null : kind;
    this.renderPanel();
    this.renderControls();
    this.layout();
    if (this.panel) this.panelEl.querySelector('.mt-panel-title')?.focus({ preventScroll: true });
  }

  renderPanel() {
    this.el.classList.toggle('has-panel', !!this.panel);
    if (!this.panel) {
      this.panelEl.hidden = true;
      replace(this.panelEl);
      return;
    }
    this.panelEl.hidden = false;
    if (this.panel === 'people') this.renderPeople();
    else this.renderChat();
  }

  panelHead(title, testid) {
    return h('div', { class: 'mt-panel-head' },
      h('h2', { class: 'mt-panel-title', tabindex: '-1' }, title),
      h('button', { type: 'button', class: 'icon-btn', testid: 'meeting-panel-close', 'aria-label': t('common.close'), title: t('common.close'), onclick: () => this.togglePanel(this.panel) }, icon('close')),
    );
  }

  lobbyChanged() {
    if (this.call.lobby.length && this.call.isHost && this.panel !== 'people') {
      this.notice({ key: 'meeting.notice.lobby' });
    }
    if (this.panel === 'people') this.renderPeople();
    this.btn.people.classList.toggle('has-waiting', this.call.lobby.length > 0 && this.call.isHost);
  }

  hostAction(button, action, participantId) {
    button.disabled = true;
    return this.call.host(action, participantId)
      .catch((err) => toast(err?.frame?.message || t('meeting.hostFailed'), 'error'))
      .finally(() => {
        if (button.isConnected) button.disabled = false;
      });
  }

  renderPeople() {
    if (this.panel !== 'people') return;
    const call = this.call;
    const host = call.isHost;
    const list = [...call.participants.values()].sort((a, b) => {
      if (a.id === call.selfId) return -1;
      if (b.id === call.selfId) return 1;
      return String(a.name || '').localeCompare(String(b.name || ''), getLang());
    });
    const focusId = this.panelEl.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    const focusRow = document.activeElement?.closest?.('[data-participant-id]')?.dataset.participantId;

    const parts = [this.panelHead(t('meeting.people.title', { count: list.length }))];

    if (host && call.lobby.length) {
      parts.push(h('section', { class: 'mt-lobby', testid: 'lobby-list', 'aria-label': t('meeting.lobby.title') },
        h('h3', { class: 'mt-section-title' }, t('meeting.lobby.title', { count: call.lobby.length })),
        call.lobby.map((w) => {
          const admit = h('button', { type: 'button', class: 'btn btn-sm btn-primary', testid: 'lobby-admit', 'aria-label': t('meeting.lobby.admitNamed', { name: w.name }) }, t('meeting.lobby.admit'));
          const refuse = h('button', { type: 'button', class: 'btn btn-sm', testid: 'lobby-refuse', 'aria-label': t('meeting.lobby.refuseNamed', { name: w.name }) }, t('meeting.lobby.refuse'));
          admit.addEventListener('click', () => this.hostAction(admit, 'admit', w.id));
          refuse.addEventListener('click', () => this.hostAction(refuse, 'refuse', w.id));
          return h('div', { class: 'mt-person', testid: 'lobby-entry', dataset: { lobbyId: w.id } },
            this.personAvatar(w.name, w.user_id || w.id),
            h('span', { class: 'mt-person-name' }, w.name || t('meeting.someone'), w.user_id ? null : h('span', { class: 'mt-role' }, t('meeting.role.guest'))),
            h('span', { class: 'mt-person-actions' }, refuse, admit));
        })));
    }

    if (host) {
      const muteAll = h('button', { type: 'button', class: 'btn btn-sm', testid: 'meeting-mute-all' }, icon('mic-off'), t('meeting.host.muteAll'));
      muteAll.addEventListener('click', () => this.hostAction(muteAll, 'mute_all'));
      const locked = !!call.meeting?.locked;
      const lock = h('button', { type: 'button', class: 'btn btn-sm', testid: 'meeting-lock', 'aria-pressed': String(locked) }, icon('lock'), locked ? t('meeting.host.unlock') : t('meeting.host.lock'));
      lock.addEventListener('click', () => this.hostAction(lock, locked ? 'unlock' : 'lock'));
      const end = h('button', { type: 'button', class: 'btn btn-sm btn-ghost-danger', testid: 'meeting-end-all' }, t('meeting.host.end'));
      end.addEventListener('click', async () => {
        const ok = await confirmDialog({ title: t('meeting.host.endTitle'), message: t('meeting.host.endText'), confirmLabel: t('meeting.host.end'), danger: true });
        if (ok) this.hostAction(end, 'end');
      });
      parts.push(h('div', { class: 'mt-host-tools', role: 'group', 'aria-label': t('meeting.host.tools') }, muteAll, lock, end));
    }

    parts.push(h('ul', { class: 'mt-people', testid: 'participant-list' }, list.map((p) => {
      const me = p.id === call.selfId;
      const micOn = me ? call.media.micLive : p.mic !== false;
      const camOn = me ? call.media.camLive : p.camera !== false;
      const hand = me ? call.hand : !!p.hand;
      const actions = [];
      if (host && !me) {
        if (micOn) {
          const b = h('button', { type: 'button', class: 'icon-btn icon-btn-sm', testid: 'participant-mute', 'aria-label': t('meeting.host.muteNamed', { name: p.name }), title: t('meeting.host.mute') }, icon('mic-off'));
          b.addEventListener('click', () => this.hostAction(b, 'mute', p.id));
          actions.push(b);
        }
        if (camOn) {
          const b = h('button', { type: 'button', class: 'icon-btn icon-btn-sm', testid: 'participant-stop-video', 'aria-label': t('meeting.host.stopVideoNamed', { name: p.name }), title: t('meeting.host.stopVideo') }, icon('video-off'));
          b.addEventListener('click', () => this.hostAction(b, 'stop_video', p.id));
          actions.push(b);
        }
        const r = h('button', { type: 'button', class: 'icon-btn icon-btn-sm icon-btn-danger', testid: 'participant-remove', 'aria-label': t('meeting.host.removeNamed', { name: p.name }), title: t('meeting.host.remove') }, icon('close'));
        r.addEventListener('click', async () => {
          const ok = await confirmDialog({ title: t('meeting.host.removeTitle', { name: p.name }), message: t('meeting.host.removeText'), confirmLabel: t('meeting.host.remove'), danger: true });
          if (ok) this.hostAction(r, 'remove', p.id);
        });
        actions.push(r);
      }
      const role = p.role === 'host' || p.role === 'cohost' || p.role === 'guest' ? t(`meeting.role.${p.role}`) : null;
      return h('li', { class: 'mt-person', testid: 'participant-row', dataset: { participantId: p.id, mic: String(micOn), camera: String(camOn) } },
        this.personAvatar(p.name, p.user_id || p.id),
        h('span', { class: 'mt-person-name' },
          h('span', { testid: 'participant-name' }, me ? t('meeting.tile.you', { name: p.name || '' }) : (p.name || t('meeting.someone'))),
          role ? h('span', { class: 'mt-role' }, role) : null),
        h('span', { class: 'mt-person-state' },
          hand ? h('span', { class: 'mt-state-ic', testid: 'participant-hand', title: t('meeting.tile.hand') }, icon('hand'), h('span', { class: 'visually-hidden' }, t('meeting.tile.hand'))) : null,
          micOn ? null : h('span', { class: 'mt-state-ic is-off', testid: 'participant-muted', title: t('meeting.tile.muted') }, icon('mic-off'), h('span', { class: 'visually-hidden' }, t('meeting.tile.muted'))),
          camOn ? null : h('span', { class: 'mt-state-ic is-off', title: t('meeting.tile.cameraOff') }, icon('video-off'), h('span', { class: 'visually-hidden' }, t('meeting.tile.cameraOff')))),
        actions.length ? h('span', { class: 'mt-person-actions' }, actions) : null);
    })));

    replace(this.panelEl, h('div', { class: 'mt-panel-inner', testid: 'participants-panel' }, parts));
    if (focusId) {
      const sel = focusRow ? `[data-participant-id="${CSS.escape(focusRow)}"] [data-testid="${focusId}"]` : `[data-testid="${focusId}"]`;
      this.panelEl.querySelector(sel)?.focus({ preventScroll: true });
    }
  }

  personAvatar(name, seed) {
    const el = h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, initials(name));
    el.style.setProperty('--avatar-hue', String(hue(seed || name)));
    return el;
  }

  // --- chat ------------------------------------------------------------------------------------

  chatArrived(message) {
    if (message && this.panel !== 'chat' && message.participant_id !== this.call.selfId) {
      this.unreadChat += 1;
      this.chatBadge.textContent = String(Math.min(this.unreadChat, 99));
      this.chatBadge.hidden = false;
      if (narrow.matches || this.panel) this.notice({ key: 'meeting.notice.chat' });
    }
    if (this.panel === 'chat') this.appendChat(message);
  }

  chatItem(m) {
    const mine = m.participant_id === this.call.selfId;
    const at = m.at ? new Date(m.at) : null;
    return h('li', { class: ['mt-chat-msg', mine && 'is-mine'], testid: 'meeting-chat-message', dataset: { participantId: m.participant_id || '' } },
      h('div', { class: 'mt-chat-meta' },
        h('span', { class: 'mt-chat-name' }, mine ? t('meeting.chat.you') : (m.name || t('meeting.someone'))),
        at && !Number.isNaN(at.getTime())
          ? h('time', { datetime: at.toISOString() }, new Intl.DateTimeFormat(getLang(), { hour: '2-digit', minute: '2-digit' }).format(at))
          : null),
      h('p', { class: 'mt-chat-text', testid: 'meeting-chat-text' }, m.text || ''));
  }

  appendChat(message) {
    if (!this.chatList) return;
    if (!message) {
      this.renderChat();
      return;
    }
    this.chatEmpty?.remove();
    const stick = this.chatList.scrollHeight - this.chatList.scrollTop - this.chatList.clientHeight < 40;
    this.chatList.appendChild(this.chatItem(message));
    if (stick) this.chatList.scrollTop = this.chatList.scrollHeight;
  }

  renderChat() {
    this.unreadChat = 0;
    this.chatBadge.hidden = true;
    const msgs = this.call.messages;
    this.chatEmpty = msgs.length ? null : h('li', { class: 'mt-chat-empty muted' }, t('meeting.chat.empty'));
    this.chatList = h('ol', { class: 'mt-chat-list', testid: 'meeting-chat-list', role: 'log', 'aria-label': t('meeting.chat.title') },
      this.chatEmpty, msgs.map((m) => this.chatItem(m)));
    const inputId = uid('mt-chat');
    const input = h('textarea', { id: inputId, class: 'mt-chat-input', testid: 'meeting-chat-input', rows: '1', maxlength: '2000', placeholder: t('meeting.chat.placeholder') });
    const send = h('button', { type: 'submit', class: 'icon-btn mt-chat-send', testid: 'meeting-chat-send', 'aria-label': t('meeting.chat.send'), title: t('meeting.chat.send') }, icon('send'));
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true, testid: 'meeting-chat-error' });
    const form = h('form', { class: 'mt-chat-form' },
      h('label', { for: inputId, class: 'visually-hidden' }, t('meeting.chat.placeholder')), input, send);
    const submit = async () => {
      const text = input.value.trim();
      if (!text) return;
      send.disabled = true;
      error.hidden = true;
      try {
        await this.call.sendChat(text);
        input.value = '';
      } catch (err) {
        error.textContent = err?.frame?.message || t('meeting.chat.failed');
        error.hidden = false;
      } finally {
        send.disabled = false;
        input.focus();
      }
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit();
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    replace(this.panelEl, h('div', { class: 'mt-panel-inner', testid: 'meeting-chat-panel' },
      this.panelHead(t('meeting.chat.title')), this.chatList, error, form));
    this.chatList.scrollTop = this.chatList.scrollHeight;
    setTimeout(() => input.focus({ preventScroll: true }), 0);
  }
}
