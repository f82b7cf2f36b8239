// Chat entry points for the app shell: routes, the sidebar region, the
// workspace home panel, and the page-change hook.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { chat, on, sortedChannels, channelPath, useWorkspace } from './store.js';
import { channelTitle } from './sidebar.js';
import { createChannelDialog, newDmDialog, browseDialog } from './dialogs.js';

export { channelPage, chatPageChanged } from './channel-page.js';
export { searchPage } from './search-page.js';
export { mountChannels } from './sidebar.js';
export { setPageTitle } from './notify.js';

/** The workspace home's chat panel (#chat-main): recent conversations and shortcuts. */
export function homeChat(ctx) {
  useWorkspace(ctx.params.ws);
  const list = h('ul', { class: 'home-recent', testid: 'home-recent' });
  const render = () => {
    if (!ctx.alive()) {
      off();
      return;
    }
    if (!chat.loaded) {
      replace(list, h('li', { class: 'muted' }, t('common.loading')));
      return;
    }
    const { named, direct } = sortedChannels();
    const recent = [...named, ...direct]
      .sort((a, b) => (b.unread_count + b.mention_count * 100) - (a.unread_count + a.mention_count * 100)
        || (Date.parse(b.last_message_at || b.created_at) - Date.parse(a.last_message_at || a.created_at)))
      .slice(0, 8);
    if (!recent.length) {
      replace(list, h('li', { class: 'muted', testid: 'home-empty' }, t('chat.homeEmpty')));
      return;
    }
    replace(list, recent.map((c) => h('li', {},
      h('a', { href: channelPath(c.id), class: ['home-chan', c.unread_count && 'is-unread'], testid: 'home-channel', dataset: { channelId: c.id } },
        h('span', { class: `chan-icon chan-icon-${c.kind === 'dm' || c.kind === 'group' ? 'group' : c.kind}`, 'aria-hidden': 'true' }),
        h('span', { class: 'chan-name' }, channelTitle(c)),
        c.mention_count ? h('span', { class: 'chan-badge chan-badge-mention' }, `@${c.mention_count}`) : null,
        c.unread_count ? h('span', { class: 'chan-badge' }, String(c.unread_count)) : null))));
  };
  const off = on('channels', render);
  render();
  return h('div', { class: 'home-chat' },
    h('h2', { class: 'card-title' }, t('chat.homeTitle')),
    h('p', { class: 'muted' }, t('chat.homeText')),
    list,
    h('div', { class: 'home-actions' },
      h('button', { type: 'button', class: 'btn btn-primary', testid: 'home-create-channel', onclick: createChannelDialog }, t('chat.createChannel')),
      h('button', { type: 'button', class: 'btn', testid: 'home-new-dm', onclick: newDmDialog }, t('chat.newMessage')),
      h('button', { type: 'button', class: 'btn', testid: 'home-browse', onclick: browseDialog }, t('chat.browseChannels'))),
  );
}
