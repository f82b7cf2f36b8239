// The meeting page at /m/<code>: works out who is asking (a workspace member
// signed in, or a guest through the public endpoint), shows the pre-join
// screen, joins, then the room; the end screen when it is over.
//
// Members signal over the tab's realtime socket; guests get a token from
// POST /api/meetings/{code}/guests and a socket of their own.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, seg, ApiError } from '../api.js';
import { state, workspaceSummary } from '../session.js';
import { realtime, RealtimeClient } from '../realtime.js';
import { setReturnTo } from '../flow.js';
import { langPicker, loading, messageOf } from '../ui.js';
import { setPageTitle } from '../chat/notify.js';
import { LocalMedia } from './media.js';
import { MeetingCall, joinErrorKind } from './call.js';
import { Prejoin } from './prejoin.js';
import { MeetingRoom } from './room.js';

export { meetingCards, startMeetingButton } from './card.js';

const JOIN_TIMEOUT_MS = 20_000;

let current = null;

/** Route handler for /m/:code. The page survives re-renders (language change) of the same meeting. */
export function meetingPage(ctx) {
  const { code } = ctx.params;
  if (current && current.code === code && !current.disposed && current.signedIn === !!state.user) {
    current.relocalize();
    return current.el;
  }
  current?.dispose();
  current = new MeetingPage(code);
  return current.el;
}

/** Called by the app on every page change: leave the meeting when another page replaces it. */
export function meetingPageChanged(content) {
  if (current && current.el !== content) {
    current.dispose();
    current = null;
  }
}

function joinErrorMessage(err) {
  if (err instanceof ApiError) return messageOf(err);
  const kind = joinErrorKind(err);
  if (kind === 'network') return t('meeting.error.network');
  if (kind === 'error' || kind === 'conflict') return err?.frame?.message || t('meeting.error.generic');
  return t(`meeting.error.${kind}`);
}

class MeetingPage {
  constructor(code) {
    this.code = code;
    this.signedIn = !!state.user;
    this.disposed = false;
    this.phase = 'loading';
    this.info = null; // { title, workspaceName, workspaceId, ended, allowGuests }
    this.mode = null; // 'member' | 'guest' | 'signin'
    this.media = null;
    this.prejoin = null;
    this.room = null;
    this.call = null;
    this.guestRt = null;
    this.guestName = '';
    this.endReason = null;

    this.content = h('div', { class: 'mt-content' });
    this.top = h('header', { class: 'mt-page-top' });
    this.el = h('div', { class: 'meeting-page', testid: 'meeting-page' }, this.top, h('main', { class: 'mt-main', id: 'main', tabindex: '-1' }, this.content));
    this.onPageHide = () => this.call?.leaveNow();
    window.addEventListener('pagehide', this.onPageHide);
    this.renderTop();
    this.load();
  }

  renderTop() {
    const inRoom = this.phase === 'room';
    this.el.classList.toggle('is-in-room', inRoom);
    this.top.hidden = inRoom;
    if (inRoom) return;
    replace(this.top,
      h('a', { href: '/', class: 'brand brand-text mt-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Convene'),
      h('div', { class: 'mt-top-spacer' }),
      langPicker());
  }

  setTitle(text) {
    setPageTitle([text, 'Convene'].filter(Boolean).join(' · '));
  }

  show(phase, node) {
    this.phase = phase;
    this.renderTop();
    replace(this.content, node);
    if (this.el.isConnected) node.querySelector?.('h1')?.focus({ preventScroll: true });
  }

  /** Re-render after a language change (the room keeps going untouched). */
  relocalize() {
    if (this.phase === 'room') return;
    this.renderTop();
    if (this.phase === 'prejoin') this.showPrejoin();
    else if (this.phase === 'ended') this.showEnded(this.endReason);
    else if (this.phase === 'waiting') this.showWaiting();
    else if (this.phase !== 'loading') this.load();
  }

  // --- who is asking -----------------------------------------------------------------------

  async load() {
    this.show('loading', h('div', { class: 'mt-center' }, loading()));
    try {
      if (state.user) {
        try {
          const m = await get(`/api/meetings/${seg(this.code)}`);
          this.mode = 'member';
          this.info = {
            title: m.title, workspaceId: m.workspace_id, workspaceName: workspaceSummary(m.workspace_id)?.name || '',
            ended: !!m.ended_at, allowGuests: !!m.allow_guests,
          };
        } catch (err) {
          if (!(err instanceof ApiError) || (err.status !== 404 && err.status !== 403)) throw err;
        }
      }
      if (!this.mode) {
        const p = await get(`/api/meetings/${seg(this.code)}/public`, { auth: false });
        this.info = { title: p.title, workspaceName: p.workspace_name || '', ended: !!p.ended, allowGuests: !!p.allow_guests };
        this.mode = p.allow_guests ? 'guest' : 'signin';
      }
    } catch (err) {
      if (this.disposed) return;
      if (err instanceof ApiError && err.status === 404) this.showProblem('notFound');
      else this.showProblem('loadFailed', messageOf(err));
      return;
    }
    if (this.disposed) return;
    this.setTitle(this.info.title || t('meeting.untitled'));
    if (this.info.ended) {
      this.showEnded('ended');
      return;
    }
    if (this.mode === 'signin') {
      this.showSignIn();
      return;
    }
    this.startPrejoin();
  }

  showProblem(kind, detail) {
    const retry = kind === 'loadFailed'
      ? h('button', { type: 'button', class: 'btn btn-primary', testid: 'meeting-retry', onclick: () => this.load() }, t('boot.retry'))
      : h('a', { href: '/', class: 'btn' }, t('notFound.home'));
    this.show('problem', h('section', { class: 'mt-card', testid: kind === 'notFound' ? 'meeting-not-found' : 'meeting-load-failed' },
      h('h1', { class: 'mt-card-title', tabindex: '-1' }, t(`meeting.${kind}.title`)),
      h('p', { class: 'mt-card-text' }, detail || t(`meeting.${kind}.text`)),
      h('div', { class: 'mt-card-actions' }, retry)));
  }

  showSignIn() {
    const here = `/m/${seg(this.code)}`;
    const signIn = h('a', { href: '/login', class: 'btn btn-primary', testid: 'meeting-sign-in', onclick: () => setReturnTo(here) }, t('meeting.signIn.button'));
    this.show('signin', h('section', { class: 'mt-card', testid: 'meeting-members-only' },
      this.info.workspaceName ? h('p', { class: 'pj-workspace' }, this.info.workspaceName) : null,
      h('h1', { class: 'mt-card-title', tabindex: '-1' }, this.info.title || t('meeting.untitled')),
      h('p', { class: 'mt-card-text' }, state.user ? t('meeting.signIn.notMember') : t('meeting.signIn.text')),
      state.user ? null : h('div', { class: 'mt-card-actions' }, signIn)));
  }

  // --- pre-join ----------------------------------------------------------------------------

  startPrejoin() {
    if (!this.media) {
      this.media = new LocalMedia();
      this.media.start();
    }
    this.showPrejoin();
  }

  showPrejoin() {
    this.prejoin?.dispose();
    const guest = this.mode === 'guest';
    const note = guest
      ? (state.user ? t('meeting.prejoin.guestNotMember') : t('meeting.prejoin.guestNote'))
      : null;
    this.prejoin = new Prejoin({
      media: this.media,
      title: this.info.title,
      workspaceName: this.info.workspaceName,
      guest,
      name: this.guestName || (guest && state.user ? state.user.display_name : ''),
      note,
      onJoin: (opts) => this.join(opts),
    });
    this.show('prejoin', this.prejoin.el);
  }

  async join({ name }) {
    let rt = realtime;
    let guestFailed = null;
    if (this.mode === 'guest') {
      this.guestName = name;
      let pass;
      try {
        pass = await post(`/api/meetings/${seg(this.code)}/guests`, { name }, { auth: false });
      } catch (err) {
        throw new Error(messageOf(err));
      }
      this.guestRt?.stop();
      rt = new RealtimeClient();
      this.guestRt = rt;
      const failed = new Promise((_, reject) => { guestFailed = reject; });
      rt.start({
        getToken: () => pass.token,
        // A guest pass cannot be refreshed: a failed auth ends the visit.
        refreshToken: () => Promise.reject(Object.assign(new Error('guest pass rejected'), { status: 401 })),
        onSessionEnded: () => {
          guestFailed?.(new Error(t('meeting.error.guestPass')));
          this.call?.ended('disconnected');
        },
      });
      await Promise.race([rt.ready(), failed, timeout()]).catch((err) => {
        rt.stop();
        throw err;
      });
    }
    if (this.disposed) return;
    const call = new MeetingCall({ code: this.code, rt, media: this.media });
    this.call = call;
    call.addEventListener('ended', (e) => this.onEnded(call, e.detail.reason));
    call.addEventListener('state', () => this.onCallState(call));
    try {
      await Promise.race([call.join(), timeout()]);
    } catch (err) {
      if (this.call === call) this.call = null;
      call.ended('error');
      if (this.mode === 'guest') {
        this.guestRt?.stop();
        this.guestRt = null;
      }
      throw new Error(joinErrorMessage(err));
    }
    guestFailed = null;
    if (this.disposed || call.state === 'ended') return;
    this.onCallState(call);
  }

  onCallState(call) {
    if (call !== this.call || this.disposed) return;
    const s = call.state;
    if (s === 'waiting' && this.phase !== 'waiting') this.showWaiting();
    else if (['connecting', 'connected', 'reconnecting'].includes(s) && this.phase !== 'room') this.showRoom();
  }

  showWaiting() {
    this.prejoin?.dispose();
    this.prejoin = null;
    const leave = h('button', { type: 'button', class: 'btn', testid: 'meeting-waiting-leave', onclick: () => this.leave() }, t('meeting.waiting.leave'));
    const video = h('video', { class: 'pj-video', autoplay: true, playsinline: true, muted: true });
    video.muted = true;
    const preview = this.media?.camOn ? this.media.previewStream() : null;
    if (preview) video.srcObject = preview;
    this.show('waiting', h('section', { class: 'mt-card mt-waiting', testid: 'meeting-waiting', role: 'status' },
      preview ? h('div', { class: 'pj-preview pj-preview-sm' }, video) : null,
      h('h1', { class: 'mt-card-title', tabindex: '-1' }, this.info.title || t('meeting.untitled')),
      h('p', { class: 'mt-card-text' }, t('meeting.waiting.text')),
      h('div', { class: 'mt-card-actions' }, leave)));
  }

  showRoom() {
    this.prejoin?.dispose();
    this.prejoin = null;
    this.room?.dispose();
    this.room = new MeetingRoom(this.call, { title: this.call.meeting?.title || this.info.title, onLeave: () => this.leave() });
    this.show('room', this.room.el);
    if (this.call.meeting?.title) this.setTitle(this.call.meeting.title);
  }

  async leave() {
    const call = this.call;
    if (!call) {
      this.showEnded('left');
      return;
    }
    await call.leave();
  }

  onEnded(call, reason) {
    if (call !== this.call) return;
    this.call = null;
    this.room?.dispose();
    this.room = null;
    this.guestRt?.stop();
    this.guestRt = null;
    // Camera light off: the end screen shows no preview.
    this.prejoin?.dispose();
    this.prejoin = null;
    this.media?.stop();
    this.media = null;
    if (!this.disposed) this.showEnded(reason);
  }

  showEnded(reason) {
    this.endReason = reason;
    const known = ['left', 'ended', 'removed', 'refused', 'disconnected'];
    const key = known.includes(reason) ? reason : 'disconnected';
    const actions = [];
    if ((key === 'left' || key === 'disconnected') && !(this.info?.ended)) {
      actions.push(h('button', { type: 'button', class: 'btn btn-primary', testid: 'meeting-rejoin', onclick: () => this.startPrejoin() }, t('meeting.end.rejoin')));
    }
    if (this.mode === 'member' && this.info?.workspaceId) {
      actions.push(h('a', { href: `/w/${seg(this.info.workspaceId)}`, class: 'btn', testid: 'meeting-back' }, t('meeting.end.back')));
    }
    this.show('ended', h('section', { class: 'mt-card', testid: 'meeting-ended', dataset: { reason: key } },
      h('h1', { class: 'mt-card-title', tabindex: '-1' }, t(`meeting.end.${key}.title`)),
      h('p', { class: 'mt-card-text' }, t(`meeting.end.${key}.text`)),
      actions.length ? h('div', { class: 'mt-card-actions' }, actions) : null));
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    window.removeEventListener('pagehide', this.onPageHide);
    const call = this.call;
    this.call = null;
    this.room?.dispose();
    this.prejoin?.dispose();
    this.media?.stop();
    const rt = this.guestRt;
    this.guestRt = null;
    if (call) call.leave().finally(() => rt?.stop());
    else rt?.stop();
  }
}

function timeout() {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(t('meeting.error.network'))), JOIN_TIMEOUT_MS));
}
