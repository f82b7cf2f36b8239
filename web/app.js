// Convene web client: boot, routes and layouts.
//
// Boot: apply the language, try the refresh cookie (POST /api/auth/refresh),
// then route. Pages are functions (ctx) -> Node; ctx.params holds route
// parameters and ctx.alive() turns false once the user has navigated away,
// so late async results are dropped.

import { h, replace } from './dom.js';
import { t, onLangChange } from './i18n.js';
import './theme.js'; // applies the colour theme before the first render
import { route, match, navigate, reload, onNavigate, startRouter } from './router.js';
import { realtime } from './realtime.js';
import { state, events, restore, loadMe, workspaceSummary, isAdminRole, rememberWorkspace, defaultWorkspaceId } from './session.js';
import { homePath, setReturnTo, setSignedOutReason } from './flow.js';
import { langPicker, emptyState } from './ui.js';
import { mountFrame, unmountFrame, focusMain } from './pages/frame.js';
import { loginPage, setupPage, registerPage, invitePage, resetPasswordPage } from './pages/auth.js';
import { workspaceHome, workspacesPage } from './pages/workspace.js';
import { profilePage, sessionsPage } from './pages/account.js';
import { membersPage } from './pages/admin-members.js';
import { teamsPage } from './pages/admin-teams.js';
import { invitesPage } from './pages/admin-invites.js';
import { auditPage } from './pages/admin-audit.js';
import { usagePage } from './pages/admin-usage.js';
import { settingsPage } from './pages/settings.js';
import { channelPage, searchPage, chatPageChanged, setPageTitle } from './chat/index.js';
import { meetingPage, meetingPageChanged } from './meeting/index.js';
import { meetingsPage } from './meeting/schedule.js';

const app = document.getElementById('app');

// access: 'any' (signed in or not), 'guest' (signed-out only), 'user', 'member'
// (of :ws), 'admin' (owner or admin of :ws). layout: 'auth' | 'frame'.
route('/', null, { access: 'any' });
route('/login', loginPage, { layout: 'auth', access: 'guest' });
route('/register', registerPage, { layout: 'auth', access: 'guest' });
route('/setup', setupPage, { layout: 'auth', access: 'any' });
route('/invite', invitePage, { layout: 'auth', access: 'any' });
route('/invite/:token', invitePage, { layout: 'auth', access: 'any' });
route('/reset-password', resetPasswordPage, { layout: 'auth', access: 'any' });
route('/workspaces', workspacesPage, { layout: 'frame', access: 'user', nav: 'workspaces' });
route('/profile', profilePage, { layout: 'frame', access: 'user', nav: 'profile' });
route('/sessions', sessionsPage, { layout: 'frame', access: 'user', nav: 'sessions' });
route('/w/:ws', workspaceHome, { layout: 'frame', access: 'member', nav: 'home' });
route('/w/:ws/c/:channel', channelPage, { layout: 'frame', access: 'member', nav: 'chat', bleed: true, ownFocus: true });
route('/w/:ws/c/:channel/t/:thread', channelPage, { layout: 'frame', access: 'member', nav: 'chat', bleed: true, ownFocus: true });
route('/w/:ws/search', searchPage, { layout: 'frame', access: 'member', nav: 'search' });
route('/w/:ws/meetings', meetingsPage, { layout: 'frame', access: 'member', nav: 'meetings' });
route('/w/:ws/admin/members', membersPage, { layout: 'frame', access: 'admin', nav: 'members' });
route('/w/:ws/admin/teams', teamsPage, { layout: 'frame', access: 'admin', nav: 'teams' });
route('/w/:ws/admin/invites', invitesPage, { layout: 'frame', access: 'admin', nav: 'invites' });
route('/w/:ws/admin/audit', auditPage, { layout: 'frame', access: 'admin', nav: 'audit' });
route('/w/:ws/admin/usage', usagePage, { layout: 'frame', access: 'admin', nav: 'usage' });
route('/w/:ws/settings', settingsPage, { layout: 'frame', access: 'admin', nav: 'settings' });
// Meetings: members signed in, or guests through the public endpoint (the page decides).
route('/m/:code', meetingPage, { layout: 'meeting', access: 'any' });

let renderSeq = 0;
let firstRender = true;
let started = false;

function authLayout(content) {
  return h('div', { class: 'auth-layout' },
    h('header', { class: 'auth-top' },
      h('a', { href: '/', class: 'brand brand-text' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Convene'),
      langPicker(),
    ),
    h('main', { class: 'auth-main', id: 'main' }, content),
    h('footer', { class: 'auth-foot' }, t('app.tagline')),
  );
}

function showAuth(content) {
  chatPageChanged(content);
  meetingPageChanged(content);
  unmountFrame();
  replace(app, authLayout(content));
  setPageTitle(`${content.querySelector('h1')?.textContent || ''} · Convene`);
  if (!firstRender) content.querySelector('h1')?.focus({ preventScroll: true });
}

function showFrame(wsId, nav, content, meta = {}) {
  chatPageChanged(content);
  meetingPageChanged(content);
  // The channel view stays mounted when only its thread or jump target changes.
  const main = mountFrame(app, { wsId, active: nav, bleed: !!meta.bleed, keep: content });
  if (content.parentNode !== main) main.appendChild(content);
  const ws = wsId ? workspaceSummary(wsId) : null;
  setPageTitle([content.querySelector('h1')?.textContent, ws?.name, 'Convene'].filter(Boolean).join(' · '));
  if (!firstRender && !meta.ownFocus) focusMain();
}

/** The meeting page fills the window on its own (no frame); it sets its own title. */
function showMeeting(content) {
  chatPageChanged(content);
  meetingPageChanged(content);
  unmountFrame();
  if (content.parentNode !== app || app.childNodes.length !== 1) replace(app, content);
}

function notFound(title = t('notFound.title'), text = t('notFound.text')) {
  return h('div', { class: 'page page-narrow' },
    h('h1', { class: 'visually-hidden', tabindex: '-1' }, title),
    emptyState(title, text, 'not-found'),
    h('p', { class: 'center' }, h('a', { href: '/', class: 'btn' }, t('notFound.home'))),
  );
}

async function render(loc) {
  const seq = ++renderSeq;
  const alive = () => seq === renderSeq;
  const m = match(loc.pathname);
  const signedIn = !!state.user;
  const here = loc.pathname + loc.search + loc.hash;

  try {
    if (!m) {
      if (signedIn) showFrame(defaultWorkspaceId(), null, notFound());
      else showAuth(h('section', { class: 'auth-card' }, notFound()));
      return;
    }
    const { meta, params } = m;
    if (m.pattern === '/') {
      navigate(signedIn ? homePath() : '/login', { replace: true });
      return;
    }
    if (meta.access === 'guest' && signedIn) {
      navigate(homePath(), { replace: true });
      return;
    }
    if (['user', 'member', 'admin'].includes(meta.access) && !signedIn) {
      setReturnTo(here);
      navigate('/login', { replace: true });
      return;
    }

    const ctx = { params, alive };
    const wsId = params.ws ?? defaultWorkspaceId();
    if (meta.access === 'member' || meta.access === 'admin') {
      if (!workspaceSummary(wsId)) {
        // Perhaps just joined in another tab: refresh the list once.
        await loadMe().catch(() => {});
        if (!alive()) return;
      }
      const ws = workspaceSummary(wsId);
      if (!ws) {
        showFrame(null, null, notFound(t('notFound.workspaceTitle'), t('notFound.workspaceText')));
        return;
      }
      rememberWorkspace(ws.id);
      if (meta.access === 'admin' && !isAdminRole(ws.role)) {
        showFrame(wsId, null, notFound(t('forbidden.title'), t('forbidden.text')));
        return;
      }
    }

    const content = m.handler(ctx);
    if (meta.layout === 'meeting') showMeeting(content);
    else if (meta.layout === 'auth') showAuth(content);
    else showFrame(wsId, meta.nav, content, meta);
  } finally {
    if (alive()) firstRender = false;
  }
}

// --- session transitions ---------------------------------------------------------

events.addEventListener('signed-out', (event) => {
  setSignedOutReason(event.detail.reason);
  unmountFrame();
  const m = match(location.pathname);
  if (m && (m.meta.access === 'any' || m.meta.access === 'guest') && m.pattern !== '/') reload();
  else navigate('/login', { replace: true });
});

onLangChange(() => {
  unmountFrame();
  if (started) reload();
  else if (offline) showOffline();
  // else: still booting; the first render uses the new language
});

// --- realtime banner ----------------------------------------------------------------

const banner = document.getElementById('reconnect-banner');
let bannerTimer = null;
realtime.addEventListener('status', (event) => {
  const { status } = event.detail;
  clearTimeout(bannerTimer);
  if (status === 'reconnecting') {
    // Wait a moment: a quick reconnect (e.g. after a token refresh) needs no banner.
    bannerTimer = setTimeout(() => {
      banner.querySelector('.reconnect-text').textContent = t('realtime.reconnecting');
      banner.hidden = false;
    }, 800);
  } else {
    banner.hidden = true;
  }
});

// --- boot ------------------------------------------------------------------------------

let offline = false;

/** Shown when the server cannot be reached at start. */
function showOffline() {
  const retry = h('button', { type: 'button', class: 'btn btn-primary', testid: 'boot-retry', onclick: () => location.reload() }, t('boot.retry'));
  showAuth(h('section', { class: 'auth-card' },
    h('h1', { class: 'auth-title', tabindex: '-1' }, t('boot.offlineTitle')),
    h('p', { class: 'auth-subtitle' }, t('boot.offlineText')),
    retry,
  ));
}

async function boot() {
  onNavigate(render);
  try {
    await restore();
  } catch {
    offline = true;
    showOffline();
    return;
  }
  started = true;
  startRouter();
}

boot();
