// The signed-in frame: header (menu button, workspace switcher, language,
// user menu), sidebar (chat channel list, admin and account links) and the
// main region pages render into. The frame stays mounted across navigations in
// the same workspace, so the channels region (#chat-channels) survives for chat.

import { h, replace } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { post, seg } from '../api.js';
import { langPicker, avatar, openDialog, field, errorBox, onSubmit, confirmDialog, runAction, toast } from '../ui.js';
import { navigate } from '../router.js';
import { state, events, isAdminRole, workspaceSummary, loadMe, signOut, rememberWorkspace } from '../session.js';
import { homePath } from '../flow.js';
import { mountChannels } from '../chat/index.js';

let frame = null;

const mq = window.matchMedia('(max-width: 767px)');

/** Build the frame if needed and return the emptied main region for a page. */
export function mountFrame(app, { wsId, active, bleed = false, keep = null }) {
  if (!frame || frame.wsId !== wsId || frame.lang !== getLang() || !frame.root.isConnected) {
    frame = buildFrame(wsId);
    replace(app, frame.root);
  }
  frame.active = active;
  setSidebarOpen(false);
  refreshChrome();
  // Chat views fill the main region edge to edge and scroll inside themselves.
  frame.main.classList.toggle('main-chat', bleed);
  if (!keep || keep.parentNode !== frame.main) {
    frame.main.replaceChildren();
    frame.main.scrollTop = 0;
  }
  return frame.main;
}

/** Forget the frame (sign-out, language change). */
export function unmountFrame() {
  frame = null;
}

/** Focus the page heading after navigation, for keyboard and screen reader users. */
export function focusMain() {
  const heading = frame?.main.querySelector('h1');
  if (heading) heading.focus({ preventScroll: true });
}

events.addEventListener('change', () => {
  if (frame && frame.root.isConnected) refreshChrome();
});

function buildFrame(wsId) {
  const f = { wsId, lang: getLang(), active: null };

  // Header
  f.navToggle = h('button', {
    type: 'button', class: 'icon-btn nav-toggle', testid: 'nav-toggle',
    'aria-controls': 'sidebar', 'aria-expanded': 'false', 'aria-label': t('frame.menu'),
  }, h('span', { class: 'hamburger', 'aria-hidden': 'true' }));
  f.navToggle.addEventListener('click', () => setSidebarOpen(!f.sidebarOpen));

  f.wsName = h('span', { class: 'ws-name', testid: 'workspace-name' });
  f.wsAvatar = h('span', { class: 'ws-mark', 'aria-hidden': 'true' });
  f.switcherBtn = h('button', {
    type: 'button', class: 'ws-switcher-btn', testid: 'workspace-switcher',
    'aria-haspopup': 'true', 'aria-expanded': 'false',
  }, f.wsAvatar, f.wsName, h('span', { class: 'caret', 'aria-hidden': 'true' }));
  f.switcherMenu = h('div', { class: 'menu', testid: 'workspace-menu', hidden: true });
  const switcher = h('div', { class: 'ws-switcher menu-host' }, f.switcherBtn, f.switcherMenu);
  menu(f.switcherBtn, f.switcherMenu);

  f.userBtn = h('button', {
    type: 'button', class: 'user-btn', testid: 'user-menu', 'aria-haspopup': 'true', 'aria-expanded': 'false',
  });
  f.userMenu = h('div', { class: 'menu menu-end', hidden: true },
    h('a', { href: '/profile', class: 'menu-item', testid: 'menu-profile' }, t('nav.profile')),
    h('a', { href: '/sessions', class: 'menu-item', testid: 'menu-sessions' }, t('nav.sessions')),
    h('hr', { class: 'menu-sep' }),
    h('button', { type: 'button', class: 'menu-item', testid: 'sign-out', onclick: () => signOut() }, t('nav.signOut')),
  );
  menu(f.userBtn, f.userMenu);

  const header = h('header', { class: 'topbar' },
    f.navToggle,
    h('a', { href: '/', class: 'brand', 'aria-label': 'Convene' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' })),
    switcher,
    h('div', { class: 'topbar-spacer' }),
    langPicker(),
    h('div', { class: 'menu-host' }, f.userBtn, f.userMenu),
  );

  // Sidebar. Chat fills the channels region (chat/sidebar.js).
  f.channels = wsId
    ? h('section', { class: 'nav-section', id: 'chat-channels', testid: 'channels-region', 'aria-labelledby': 'chat-channels-title' },
      h('h2', { class: 'nav-heading', id: 'chat-channels-title' }, t('nav.channels')),
    )
    : null;
  if (f.channels) mountChannels(f.channels, wsId);
  f.links = h('div', { class: 'nav-links' });
  f.sidebar = h('nav', { class: 'sidebar', id: 'sidebar', 'aria-label': t('nav.label'), testid: 'sidebar' }, f.channels, f.links);
  f.scrim = h('div', { class: 'scrim', hidden: true });
  f.scrim.addEventListener('click', () => setSidebarOpen(false));
  f.main = h('main', { class: 'main', id: 'main', tabindex: '-1' });
  f.sidebar.addEventListener('click', (e) => {
    if (e.target.closest('a')) setSidebarOpen(false);
  });
  f.sidebar.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && f.sidebarOpen) {
      setSidebarOpen(false);
      f.navToggle.focus();
    }
  });

  f.root = h('div', { class: 'frame' },
    h('a', { href: '#main', class: 'skip-link', 'data-external': '', onclick: (e) => { e.preventDefault(); f.main.focus(); } }, t('frame.skip')),
    header,
    h('div', { class: 'frame-body' }, f.sidebar, f.scrim, f.main),
  );
  f.sidebarOpen = false;
  return f;
}

function setSidebarOpen(open) {
  if (!frame) return;
  frame.sidebarOpen = open && mq.matches;
  frame.root.classList.toggle('sidebar-open', frame.sidebarOpen);
  frame.navToggle.setAttribute('aria-expanded', String(frame.sidebarOpen));
  frame.scrim.hidden = !frame.sidebarOpen;
  if (frame.sidebarOpen) frame.sidebar.querySelector('a, button')?.focus();
}

mq.addEventListener('change', () => setSidebarOpen(false));

/** Update everything that depends on the user, the workspace list and the active page. */
function refreshChrome() {
  const f = frame;
  const ws = f.wsId ? workspaceSummary(f.wsId) : null;
  const wsLabel = ws ? ws.name : t('frame.noWorkspace');
  f.wsName.textContent = wsLabel;
  f.wsAvatar.textContent = [...(ws?.name || '·')][0].toUpperCase();

  // Workspace menu
  replace(f.switcherMenu,
    h('p', { class: 'menu-label' }, t('frame.workspaces')),
    state.workspaces.map((w) => h('a', {
      href: `/w/${encodeURIComponent(w.id)}`,
      class: ['menu-item', w.id === f.wsId && 'is-current'],
      testid: 'workspace-option',
      dataset: { workspaceId: w.id },
      'aria-current': w.id === f.wsId ? 'true' : null,
    }, h('span', { class: 'menu-item-main' }, w.name), h('span', { class: 'menu-item-meta' }, t(`role.${w.role}`)))),
    state.workspaces.length ? null : h('p', { class: 'menu-empty' }, t('frame.noWorkspaces')),
    h('hr', { class: 'menu-sep' }),
    h('button', { type: 'button', class: 'menu-item', testid: 'workspace-create-open', onclick: createWorkspaceDialog }, t('frame.createWorkspace')),
    ws ? h('button', { type: 'button', class: 'menu-item menu-item-danger', testid: 'workspace-leave', onclick: () => leaveWorkspace(ws) }, t('frame.leaveWorkspace')) : null,
  );

  // User button
  const user = state.user;
  replace(f.userBtn, avatar(user, 'sm'), h('span', { class: 'user-name' }, user?.display_name || user?.username || ''));
  // The name comes from the visible text (no aria-label that would differ from it); the title says what it opens.
  f.userBtn.title = t('frame.userMenu', { name: user?.display_name || '' });

  // Sidebar links
  const base = f.wsId ? `/w/${encodeURIComponent(f.wsId)}` : null;
  const link = (key, href, label, testid) => h('a', {
    href, class: ['nav-link', f.active === key && 'is-active'], testid, 'aria-current': f.active === key ? 'page' : null,
  }, h('span', { class: `nav-icon icon-${key}`, 'aria-hidden': 'true' }), h('span', {}, label));

  const sections = [];
  if (ws) {
    sections.push(h('section', { class: 'nav-section' },
      link('home', base, t('nav.home'), 'nav-home'),
      link('meetings', `${base}/meetings`, t('nav.meetings'), 'nav-meetings'),
    ));
    if (isAdminRole(ws.role)) {
      sections.push(h('section', { class: 'nav-section', testid: 'nav-admin', 'aria-labelledby': 'nav-admin-title' },
        h('h2', { class: 'nav-heading', id: 'nav-admin-title' }, t('nav.admin')),
        link('members', `${base}/admin/members`, t('nav.members'), 'nav-admin-members'),
        link('teams', `${base}/admin/teams`, t('nav.teams'), 'nav-admin-teams'),
        link('invites', `${base}/admin/invites`, t('nav.invites'), 'nav-admin-invites'),
        link('audit', `${base}/admin/audit`, t('nav.audit'), 'nav-admin-audit'),
        link('usage', `${base}/admin/usage`, t('nav.usage'), 'nav-admin-usage'),
        link('settings', `${base}/settings`, t('nav.settings'), 'nav-settings'),
      ));
    }
  } else {
    sections.push(h('section', { class: 'nav-section' },
      link('workspaces', '/workspaces', t('nav.workspaces'), 'nav-workspaces'),
    ));
  }
  sections.push(h('section', { class: 'nav-section', 'aria-labelledby': 'nav-account-title' },
    h('h2', { class: 'nav-heading', id: 'nav-account-title' }, t('nav.account')),
    link('profile', '/profile', t('nav.profile'), 'nav-profile'),
    link('sessions', '/sessions', t('nav.sessions'), 'nav-sessions'),
  ));
  replace(f.links, sections);
}

/** A disclosure menu: click toggles, Escape or a click outside closes. */
function menu(button, panel) {
  const close = () => {
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('click', outside, true);
    document.removeEventListener('keydown', onKey, true);
  };
  const outside = (e) => {
    if (!panel.contains(e.target) && !button.contains(e.target)) close();
  };
  const onKey = (e) => {
    if (e.key === 'Escape') {
      close();
      button.focus();
    }
  };
  button.addEventListener('click', () => {
    if (!panel.hidden) return close();
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    document.addEventListener('click', outside, true);
    document.addEventListener('keydown', onKey, true);
    panel.querySelector('a, button')?.focus();
  });
  panel.addEventListener('click', (e) => {
    if (e.target.closest('a, button')) close();
  });
}

/** The "create workspace" dialog (also used by the workspace list page). */
export function createWorkspaceDialog() {
  const name = field({ label: t('field.workspaceName'), name: 'name', testid: 'workspace-create-name', required: true, autocomplete: 'organization' });
  const errors = errorBox('workspace-create-error');
  const form = h('form', { class: 'form' }, name, errors,
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', testid: 'workspace-create-submit' }, t('frame.createWorkspace')),
    ),
  );
  const { close } = openDialog({ title: t('frame.createWorkspace'), body: form, testid: 'workspace-create-dialog' });
  onSubmit(form, errors, async () => {
    const ws = await post('/api/workspaces', { name: name.input.value.trim() });
    await loadMe();
    rememberWorkspace(ws.id);
    close();
    navigate(`/w/${encodeURIComponent(ws.id)}`);
  });
}

async function leaveWorkspace(ws) {
  const ok = await confirmDialog({
    title: t('frame.leaveTitle', { name: ws.name }),
    message: t('frame.leaveText'),
    confirmLabel: t('frame.leaveWorkspace'),
    danger: true,
  });
  if (!ok) return;
  await runAction(null, async () => {
    await post(`/api/workspaces/${seg(ws.id)}/leave`, {});
    await loadMe();
    toast(t('frame.left', { name: ws.name }));
    navigate(homePath());
  });
}
