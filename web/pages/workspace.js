// Workspace home (recent conversations) and the workspace list.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { pageHeader, emptyState, roleLabel } from '../ui.js';
import { state, isAdminRole, workspaceSummary } from '../session.js';
import { createWorkspaceDialog } from './frame.js';
import { homeChat } from '../chat/index.js';

export function workspaceHome(ctx) {
  const ws = workspaceSummary(ctx.params.ws);
  const base = `/w/${encodeURIComponent(ws.id)}`;
  const admin = isAdminRole(ws.role);
  return h('div', { class: 'page' },
    pageHeader(t('home.welcome', { name: ws.name }), t('home.subtitle', { role: roleLabel(ws.role) })),
    // Chat renders its message view here.
    h('section', { class: 'chat-main', id: 'chat-main', testid: 'chat-main', 'aria-label': t('nav.channels') },
      homeChat(ctx),
    ),
    admin
      ? h('section', { class: 'card quick-links' },
        h('h2', { class: 'card-title' }, t('home.getStarted')),
        h('ul', { class: 'link-list' },
          h('li', {}, h('a', { href: `${base}/admin/invites` }, t('home.invitePeople'))),
          h('li', {}, h('a', { href: `${base}/admin/teams` }, t('home.arrangeTeams'))),
          h('li', {}, h('a', { href: `${base}/settings` }, t('home.settings'))),
        ),
      )
      : null,
  );
}

export function workspacesPage() {
  const list = state.workspaces.length
    ? h('ul', { class: 'ws-list', testid: 'workspace-list' },
      state.workspaces.map((w) => h('li', {},
        h('a', { href: `/w/${encodeURIComponent(w.id)}`, class: 'ws-list-item', testid: 'workspace-list-item', dataset: { workspaceId: w.id } },
          h('span', { class: 'ws-mark', 'aria-hidden': 'true' }, [...w.name][0]?.toUpperCase() || '·'),
          h('span', { class: 'ws-list-name' }, w.name),
          h('span', { class: 'badge' }, roleLabel(w.role)),
        ),
      )),
    )
    : emptyState(t('workspaces.emptyTitle'), t('workspaces.emptyText'), 'workspaces-empty');
  return h('div', { class: 'page page-narrow' },
    pageHeader(t('workspaces.title'), null,
      h('button', { type: 'button', class: 'btn btn-primary', testid: 'workspaces-create', onclick: createWorkspaceDialog }, t('frame.createWorkspace')),
    ),
    list,
  );
}
