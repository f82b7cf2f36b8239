// The sidebar's chat region (#chat-channels): channels, then DMs by last
// activity, with unread and mention badges, presence dots for DM peers,
// create / new message / browse, mark all read, and notifications.

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { navigate } from '../router.js';
import { avatar, runAction, toast } from '../ui.js';
import { chat, on, useWorkspace, sortedChannels, isDirect, presenceOf, markAllRead, channelPath, personName } from './store.js';
import { createChannelDialog, newDmDialog, browseDialog } from './dialogs.js';
import { notificationsSupported, notificationPermission, requestNotifications } from './notify.js';

let mounted = null;

/** Channel display name: `name`, or the other people's names for DMs. */
export function channelTitle(c) {
  if (!c) return '';
  if (!isDirect(c)) return c.name || '';
  if (!c.peers?.length) return t('chat.notesToSelf');
  return c.peers.map(personName).join(', ');
}

/** Fill the sidebar placeholder for workspace `wsId`. Safe to call again after a rebuild. */
export function mountChannels(section, wsId) {
  mounted?.dispose();
  useWorkspace(wsId);
  const list = h('div', { class: 'chan-list', testid: 'channel-list' });
  const searchId = uid('side-search');
  const search = h('input', { id: searchId, type: 'search', class: 'side-search-input', testid: 'sidebar-search', placeholder: t('chat.searchPlaceholder'), autocomplete: 'off', enterkeyhint: 'search' });
  const searchForm = h('form', { class: 'side-search', role: 'search' },
    h('label', { for: searchId, class: 'visually-hidden' }, t('chat.search')),
    h('span', { class: 'side-search-icon', 'aria-hidden': 'true' }),
    search,
  );
  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = search.value.trim();
    navigate(`/w/${encodeURIComponent(wsId)}/search${q ? `?q=${encodeURIComponent(q)}` : ''}`);
    search.value = '';
  });
  const notifyBox = h('div', { class: 'side-notify' });
  const heading = h('div', { class: 'chan-top' },
    h('h2', { class: 'nav-heading', id: 'chat-channels-title' }, t('chat.sidebarTitle')),
    h('button', {
      type: 'button', class: 'icon-btn icon-btn-sm', testid: 'mark-all-read', title: t('chat.markAllRead'), 'aria-label': t('chat.markAllRead'),
      onclick: (e) => runAction(e.currentTarget, async () => {
        await markAllRead();
        toast(t('chat.allMarkedRead'));
      }),
    }, h('span', { class: 'ic ic-check-all', 'aria-hidden': 'true' })),
  );
  replace(section, heading, searchForm, list, notifyBox);

  const render = () => {
    if (!chat.loaded) {
      replace(list, chat.loadError
        ? h('p', { class: 'nav-empty' }, t('chat.loadFailed'), ' ', h('button', { type: 'button', class: 'link-btn', onclick: () => import('./store.js').then((s) => s.loadChannels()) }, t('boot.retry')))
        : h('p', { class: 'nav-muted' }, t('common.loading')));
      return;
    }
    const { named, direct } = sortedChannels();
    // Keep keyboard focus across live re-renders (a message arrives while tabbing).
    const active = list.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = active && (active.dataset.channelId || active.dataset.testid);
    replace(list,
      group(t('chat.channels'), 'channels', named, h('button', {
        type: 'button', class: 'icon-btn icon-btn-sm', testid: 'channel-create-open', title: t('chat.createChannel'), 'aria-label': t('chat.createChannel'), onclick: createChannelDialog,
      }, h('span', { class: 'ic ic-plus', 'aria-hidden': 'true' })),
      h('button', { type: 'button', class: 'chan-more', testid: 'channel-browse-open', onclick: browseDialog }, h('span', { class: 'ic ic-browse', 'aria-hidden': 'true' }), t('chat.browseChannels')),
      t('chat.noChannels')),
      group(t('chat.directMessages'), 'dms', direct, h('button', {
        type: 'button', class: 'icon-btn icon-btn-sm', testid: 'dm-open', title: t('chat.newMessage'), 'aria-label': t('chat.newMessage'), onclick: newDmDialog,
      }, h('span', { class: 'ic ic-plus', 'aria-hidden': 'true' })), null, t('chat.noDms')),
    );
    if (focusKey) {
      const again = list.querySelector(`[data-channel-id="${CSS.escape(focusKey)}"], [data-testid="${CSS.escape(focusKey)}"]`);
      again?.focus({ preventScroll: true });
    }
  };

  const group = (title, key, items, addBtn, footer, emptyText) => {
    const titleId = uid('grp');
    return h('div', { class: 'chan-group', testid: `channel-group-${key}` },
      h('div', { class: 'chan-group-head' }, h('h3', { class: 'chan-group-title', id: titleId }, title), addBtn),
      items.length
        ? h('ul', { class: 'chan-items', 'aria-labelledby': titleId }, items.map(item))
        : h('p', { class: 'nav-muted' }, emptyText),
      footer,
    );
  };

  const item = (c) => {
    const active = c.id === chat.activeChannelId;
    const unread = c.unread_count > 0 && c.notify !== 'mute';
    const mention = c.mention_count > 0;
    const bold = (c.unread_count > 0 || mention) && c.notify !== 'mute';
    let icon;
    if (c.kind === 'dm' && c.peers?.length === 1) {
      const peer = c.peers[0];
      const status = presenceOf(peer.id);
      icon = h('span', { class: 'chan-avatar' }, avatar(peer, 'xs'),
        h('span', { class: `presence-dot presence-${status}`, testid: 'presence-dot', dataset: { status }, title: t(`chat.presence.${status}`) },
          h('span', { class: 'visually-hidden' }, t(`chat.presence.${status}`))));
    } else if (isDirect(c)) {
      icon = h('span', { class: 'chan-icon chan-icon-group', 'aria-hidden': 'true' });
    } else {
      icon = h('span', { class: `chan-icon chan-icon-${c.kind}`, 'aria-hidden': 'true' });
    }
    const labelParts = [channelTitle(c)];
    if (c.unread_count) labelParts.push(t('chat.unreadCount', { count: c.unread_count }));
    if (mention) labelParts.push(t('chat.mentionCount', { count: c.mention_count }));
    return h('li', {},
      h('a', {
        href: channelPath(c.id),
        class: ['chan-item', active && 'is-active', bold && 'is-unread', c.notify === 'mute' && 'is-muted', c.archived && 'is-archived'],
        testid: 'channel-item',
        dataset: { channelId: c.id, kind: c.kind, unread: String(c.unread_count), mentions: String(c.mention_count) },
        'aria-current': active ? 'page' : null,
      },
      icon,
      h('span', { class: 'chan-name' }, channelTitle(c)),
      // Counts for screen readers after the visible name (an aria-label would not match the visible text).
      labelParts.length > 1 ? h('span', { class: 'visually-hidden' }, `, ${labelParts.slice(1).join(', ')}`) : null,
      c.notify === 'mute' ? h('span', { class: 'ic ic-mute chan-muted', 'aria-hidden': 'true', title: t('chat.notify.mute') }) : null,
      mention ? h('span', { class: 'chan-badge chan-badge-mention', testid: 'channel-mention', 'aria-hidden': 'true' }, `@${c.mention_count > 99 ? '99+' : c.mention_count}`) : null,
      unread && !mention ? h('span', { class: 'chan-badge', testid: 'channel-unread', 'aria-hidden': 'true' }, c.unread_count > 99 ? '99+' : String(c.unread_count)) : null,
      unread && mention ? h('span', { class: 'chan-badge chan-badge-quiet', testid: 'channel-unread', 'aria-hidden': 'true' }, c.unread_count > 99 ? '99+' : String(c.unread_count)) : null,
      ),
    );
  };

  const renderNotify = () => {
    if (!notificationsSupported() || notificationPermission() !== 'default') {
      replace(notifyBox);
      return;
    }
    replace(notifyBox, h('button', {
      type: 'button', class: 'chan-more', testid: 'notifications-enable',
      onclick: async () => {
        const result = await requestNotifications();
        toast(result === 'granted' ? t('chat.notificationsOn') : t('chat.notificationsOff'));
        renderNotify();
      },
    }, h('span', { class: 'ic ic-bell', 'aria-hidden': 'true' }), t('chat.enableNotifications')));
  };

  const offs = [on('channels', render), on('presence', render), on('active', render)];
  render();
  renderNotify();
  mounted = {
    dispose: () => offs.forEach((off) => off()),
  };
}
