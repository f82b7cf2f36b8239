// The channel view (`/w/<ws>/c/<id>`, `/w/<ws>/c/<id>/t/<root>`, `?m=<id>` to
// jump): header, message list, typing line, composer, and a side panel for a
// thread, pins, members, read receipts or DING acknowledgements. On phones the
// panel is a full-screen overlay.

import { h, replace } from '../dom.js';
import { t, onLangChange } from '../i18n.js';
import { get, post, put, del, patch, seg } from '../api.js';
import { navigate } from '../router.js';
import { avatar, confirmDialog, runAction, toast, messageOf, loading, openDialog, formatRelative } from '../ui.js';
import {
  chat, on, fetchChannel, viewFor, setActiveChannel, loadReadState, loadChannelMembers, isDirect, mayManage, mayPost,
  channelPath, myId, typingNames, presenceOf, applyMessage, removeChannel, acknowledge, loadAcks, personName, subscribePresence,
  upsertChannel, findMessage, isWsAdmin, useWorkspace,
} from './store.js';
import { Timeline } from './timeline.js';
import { Composer } from './composer.js';
import { renderMessage, excerptOf } from './message.js';
import { emojiPicker, menuPopover } from './popover.js';
import { downloadFile, blobUrl } from './files.js';
import { channelTitle } from './sidebar.js';
import { setPageTitle } from './notify.js';
import { workspaceSummary } from '../session.js';
import { editChannelDialog, setArchived, addMembersDialog, webhooksDialog, openDmWith } from './dialogs.js';
import { startMeetingButton } from '../meeting/card.js';

let current = null;

// Views are built in one language: drop the current one when it changes (the app re-renders).
onLangChange(() => {
  current?.dispose();
  current = null;
});

/** Route handler for channel and thread paths. */
export function channelPage(ctx) {
  const { ws, channel: channelId, thread } = ctx.params;
  // The page may be built before the frame (and its sidebar) on a first load.
  useWorkspace(ws);
  const jump = new URLSearchParams(location.search).get('m');
  if (current && current.channelId === channelId && current.wsId === ws && !current.disposed) {
    current.route({ thread: thread || null, jump });
    return current.el;
  }
  current?.dispose();
  current = new ChannelPage(ws, channelId, { jump, thread });
  current.route({ thread: thread || null, jump });
  return current.el;
}

/** Called by the app on every page change: drop the channel view when it is replaced. */
export function chatPageChanged(content) {
  if (current && current.el !== content) {
    current.dispose();
    current = null;
  }
}

const narrow = window.matchMedia('(max-width: 767px)');

class ChannelPage {
  constructor(wsId, channelId, { jump, thread } = {}) {
    this.wsId = wsId;
    this.jumpWanted = jump || null;
    this.initialThread = thread || null;
    this.channelId = channelId;
    this.disposed = false;
    this.c = chat.channels.get(channelId) || null;
    this.panel = null; // { type, id, el, close }
    this.threadId = null;
    this.threadParts = null;
    this.afterRoute = null;

    this.title = h('h1', { class: 'chat-title', testid: 'channel-title', tabindex: '-1' });
    this.titleIcon = h('span', { class: 'chat-title-icon' });
    this.subtitle = h('p', { class: 'chat-subtitle', testid: 'channel-topic' });
    this.tools = h('div', { class: 'chat-tools' });
    this.header = h('header', { class: 'chat-header', testid: 'channel-header' },
      this.titleIcon,
      h('div', { class: 'chat-titles' }, this.title, this.subtitle),
      this.tools);

    this.view = viewFor(channelId);
    this.timeline = new Timeline({
      view: this.view,
      channel: () => this.c,
      mode: 'main',
      testid: 'message-list',
      label: t('chat.messages'),
      actions: () => this.actions('main'),
      onEdit: (m, body) => this.edit(m, body),
      startTitle: () => (this.c ? (isDirect(this.c) ? channelTitle(this.c) : `#${this.c.name}`) : ''),
      canReport: () => !(narrow.matches && this.panel),
    });
    this.typing = h('div', { class: 'typing', testid: 'typing-indicator', 'aria-live': 'polite' });
    this.composer = new Composer({
      channelId,
      channel: () => this.c,
      placeholder: t('chat.messagePlaceholder', { name: '' }),
      onEditLast: () => this.editLast(),
      onSent: () => {
        // After I write, everything above is read: drop the "new messages" line.
        if (this.timeline.unreadMark != null) {
          this.timeline.unreadMark = null;
          this.timeline.render();
        }
      },
    });
    this.joinBar = h('div', { class: 'join-bar', testid: 'channel-join-bar', hidden: true });
    this.center = h('div', { class: 'chat-center' }, this.timeline.el, this.typing, this.composer.el, this.joinBar);
    this.side = h('aside', { class: 'chat-panel', hidden: true });
    this.body = h('div', { class: 'chat-body' }, this.center, this.side);
    this.el = h('section', { class: 'chat-view', id: 'chat-main', testid: 'chat-main', 'aria-labelledby': 'chat-title-h' }, this.header, this.body);
    this.title.id = 'chat-title-h';
    this.composer.dropTarget(this.center);

    this.offs = [
      on('channels', () => {
        const c = chat.channels.get(channelId);
        if (c && c !== this.c) this.setChannel(c);
        else if (c) this.renderHeader();
      }),
      on('channel', ({ channelId: id, channel }) => {
        if (id === channelId && channel) this.setChannel(channel);
      }),
      on('messages', ({ key, messageId }) => {
        if (key === this.view.key) this.timeline.render();
        if (this.threadParts && key === this.threadParts.view.key) {
          this.threadParts.timeline.render();
          // Replying makes me follow the thread (unless I opted out): ask the server.
          if (messageId && findMessage(messageId)?.sender?.id === myId()) this.threadParts.refreshFollow();
        }
        if (this.panel?.type === 'pins') this.panel.refresh?.();
      }),
      on('outbox', ({ channelId: id }) => {
        if (id !== channelId) return;
        this.timeline.render();
        this.threadParts?.timeline.render();
      }),
      on('typing', ({ channelId: id }) => {
        if (id === channelId) this.renderTyping();
      }),
      on('presence', () => this.renderHeader()),
      on('members', ({ channelId: id }) => {
        if (id === channelId) {
          this.renderTyping();
          if (this.panel?.type === 'members') this.panel.refresh?.();
        }
      }),
      on('read', ({ channelId: id }) => {
        if (id !== channelId) return;
        if (this.panel?.type === 'receipts' || this.panel?.type === 'acks') this.panel.refresh?.(true);
        this.threadParts?.timeline.updateReceipts();
      }),
      on('left', ({ channelId: id }) => {
        if (id !== channelId || this.disposed) return;
        if (this.leaving) return;
        toast(t('chat.removedFromChannel'));
        navigate(`/w/${seg(wsId)}`);
      }),
    ];
    this.onKey = (e) => {
      if (e.key === 'Escape' && this.panel && !e.defaultPrevented && !document.querySelector('dialog[open], .popover')) {
        this.closePanel();
      }
    };
    document.addEventListener('keydown', this.onKey);
    this.typingTimer = setInterval(() => this.renderTyping(), 2000);

    setActiveChannel(channelId);
    this.start();
  }

  async start() {
    if (!this.c) {
      replace(this.title, t('common.loading'));
      const c = await fetchChannel(this.channelId);
      if (this.disposed) return;
      if (!c) {
        this.showMissing();
        return;
      }
      this.c = c;
    }
    this.setChannel(this.c);
    // "New messages" marks what was unread when the channel was opened.
    this.timeline.unreadMark = this.c.is_member && this.c.unread_count > 0 ? this.c.last_read_seq : null;
    // A jump loads the page around its message (route()); otherwise the live end.
    if (this.initialThread && !this.view.loaded) this.timeline.jumpTo(this.initialThread, { focus: false });
    else if (!this.jumpWanted && this.c.is_member && this.c.unread_count > 30) this.view.loadAfter(this.c.last_read_seq).catch(() => {});
    else if (!this.jumpWanted && (!this.view.loaded || this.view.hasMoreAfter)) this.view.loadLatest().catch(() => {});
    this.timeline.render();
    if (this.c.is_member) {
      if (this.c.receipts) loadReadState(this.channelId);
      loadChannelMembers(this.channelId).then(() => {
        // Follow the presence of everyone shown in small channels.
        const list = chat.channelMembers.get(this.channelId) || [];
        if (list.length <= 100) subscribePresence(list.map((m) => m.user.id));
      }).catch(() => {});
    }
    if (!narrow.matches && !this.threadId) requestAnimationFrame(() => this.composer.focus());
  }

  showMissing() {
    replace(this.el, h('div', { class: 'page page-narrow chat-missing' },
      h('h1', { class: 'visually-hidden', tabindex: '-1' }, t('chat.channelNotFound')),
      h('div', { class: 'empty-state', testid: 'channel-not-found' },
        h('p', { class: 'empty-title' }, t('chat.channelNotFound')),
        h('p', { class: 'empty-text' }, t('chat.channelNotFoundText'))),
      h('p', { class: 'center' }, h('a', { href: `/w/${seg(this.wsId)}`, class: 'btn' }, t('notFound.home')))));
  }

  setChannel(c) {
    const before = this.c;
    this.c = c;
    this.renderHeader();
    this.renderComposerState();
    if (this.threadParts) {
      this.threadParts.composer.setDisabled(this.postBlock());
      this.threadParts.composer.el.hidden = !c.is_member;
      this.threadParts.followBtn.hidden = !c.is_member;
    }
    if (before && (before.archived !== c.archived || before.receipts !== c.receipts || before.my_role !== c.my_role || before.is_member !== c.is_member)) {
      this.timeline.invalidate();
      this.timeline.render();
      if (this.threadParts) {
        this.threadParts.timeline.invalidate();
        this.threadParts.timeline.render();
      }
      if (c.is_member && c.receipts && !chat.readStates.has(c.id)) loadReadState(c.id);
    }
  }

  route({ thread, jump }) {
    this.jumpWanted = jump;
    if (thread !== this.threadId) {
      if (thread) this.openThread(thread, jump);
      else if (this.panel?.type === 'thread' || this.threadId) this.closePanel({ navigate: false });
      if (!thread && jump) this.timeline.jumpTo(jump);
    } else if (jump) {
      if (thread) this.threadParts?.timeline.jumpTo(jump);
      else this.timeline.jumpTo(jump);
    }
    if (!thread && this.afterRoute) {
      const fn = this.afterRoute;
      this.afterRoute = null;
      fn();
    }
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    this.offs.forEach((off) => off());
    document.removeEventListener('keydown', this.onKey);
    clearInterval(this.typingTimer);
    this.timeline.dispose();
    this.composer.dispose();
    this.threadParts?.timeline.dispose();
    this.threadParts?.composer.dispose();
    if (chat.activeChannelId === this.channelId) setActiveChannel(null);
  }

  // --- header --------------------------------------------------------------------------------

  renderHeader() {
    const c = this.c;
    if (!c) return;
    this.title.textContent = isDirect(c) ? channelTitle(c) : c.name;
    if (current === this && this.el.isConnected) {
      setPageTitle([this.title.textContent, workspaceSummary(this.wsId)?.name, 'Convene'].filter(Boolean).join(' · '));
    }
    if (c.kind === 'dm' && c.peers?.length === 1) {
      const peer = c.peers[0];
      const status = presenceOf(peer.id);
      replace(this.titleIcon, avatar(peer, 'sm'), h('span', { class: `presence-dot presence-${status}`, testid: 'presence-dot', dataset: { status } }));
      const p = chat.presence.get(peer.id);
      const parts = [t(`chat.presence.${status}`)];
      if (status === 'offline' && p?.last_seen_at) parts.push(t('chat.lastSeen', { time: formatRelative(p.last_seen_at) }));
      if (p?.status_text) parts.push(p.status_text);
      this.subtitle.textContent = parts.join(' · ');
    } else {
      replace(this.titleIcon, h('span', { class: `chan-icon chan-icon-${isDirect(c) ? 'group' : c.kind}`, 'aria-hidden': 'true' }));
      const bits = [];
      if (c.archived) bits.push(t('chat.archived'));
      if (c.kind === 'announcement') bits.push(t('chat.kind.announcement'));
      if (c.kind === 'team') bits.push(t('chat.kind.team'));
      if (c.topic) bits.push(c.topic);
      this.subtitle.textContent = bits.join(' · ');
    }
    this.subtitle.hidden = !this.subtitle.textContent;

    // Rebuild the buttons only when what they show changed (keeps focus and open menus).
    const sig = [c.member_count, c.notify, c.is_member, c.archived, c.my_role, c.kind, this.panel?.type, isWsAdmin()].join('|');
    if (sig === this.toolsSig) return;
    this.toolsSig = sig;
    const focused = this.tools.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
    const tools = [];
    if (c.is_member && !c.archived) {
      tools.push(startMeetingButton({
        wsId: this.wsId,
        channelId: c.id,
        title: () => (isDirect(this.c) ? t('meeting.titleWith', { name: channelTitle(this.c) }) : t('meeting.titleIn', { name: this.c.name })),
      }));
    }
    tools.push(h('button', {
      type: 'button', class: 'tool-btn', testid: 'channel-members-open', 'aria-label': t('chat.membersCount', { count: c.member_count }), title: t('chat.members'),
      'aria-pressed': String(this.panel?.type === 'members'), onclick: () => this.togglePanel('members'),
    }, h('span', { class: 'ic ic-members', 'aria-hidden': 'true' }), h('span', { class: 'tool-count', testid: 'channel-member-count' }, String(c.member_count))));
    tools.push(h('button', {
      type: 'button', class: 'tool-btn', testid: 'channel-pins-open', 'aria-label': t('chat.pins'), title: t('chat.pins'),
      'aria-pressed': String(this.panel?.type === 'pins'), onclick: () => this.togglePanel('pins'),
    }, h('span', { class: 'ic ic-pin', 'aria-hidden': 'true' })));
    tools.push(h('a', {
      href: `/w/${seg(this.wsId)}/search?channel=${seg(c.id)}`, class: 'tool-btn', testid: 'channel-search-open', 'aria-label': t('chat.searchChannel'), title: t('chat.searchChannel'),
    }, h('span', { class: 'ic ic-search', 'aria-hidden': 'true' })));
    if (c.is_member) {
      const notifyBtn = h('button', {
        type: 'button', class: 'tool-btn', testid: 'channel-notify-open', 'aria-haspopup': 'true',
        'aria-label': `${t('chat.notifications')}: ${t(`chat.notify.${c.notify}`)}`, title: `${t('chat.notifications')}: ${t(`chat.notify.${c.notify}`)}`, dataset: { level: c.notify },
      }, h('span', { class: `ic ${c.notify === 'mute' ? 'ic-mute' : 'ic-bell'}`, 'aria-hidden': 'true' }));
      notifyBtn.addEventListener('click', () => menuPopover(notifyBtn, [
        { heading: t('chat.notifyHeading') },
        ...['all', 'mentions', 'mute'].map((level) => ({
          label: t(`chat.notify.${level}`), testid: `channel-notify-${level}`, checked: c.notify === level,
          onSelect: () => runAction(null, async () => upsertChannel(await put(`/api/channels/${seg(c.id)}/notify`, { level }))),
        })),
      ], { testid: 'channel-notify-menu', label: t('chat.notifications') }));
      tools.push(notifyBtn);
    }
    const more = this.moreItems();
    if (more.length) {
      const moreBtn = h('button', { type: 'button', class: 'tool-btn', testid: 'channel-menu-open', 'aria-haspopup': 'true', 'aria-label': t('chat.channelMenu'), title: t('chat.channelMenu') },
        h('span', { class: 'ic ic-more', 'aria-hidden': 'true' }));
      moreBtn.addEventListener('click', () => menuPopover(moreBtn, this.moreItems(), { testid: 'channel-menu', label: t('chat.channelMenu') }));
      tools.push(moreBtn);
    }
    replace(this.tools, tools);
    if (focused) this.tools.querySelector(`[data-testid="${focused}"]`)?.focus({ preventScroll: true });
  }

  moreItems() {
    const c = this.c;
    const items = [];
    if (!c) return items;
    const manage = mayManage(c);
    if (manage) {
      items.push({ label: t('chat.editChannel'), testid: 'channel-edit-open', onSelect: () => editChannelDialog(c) });
      items.push({ label: t('chat.webhooks'), testid: 'channel-webhooks-open', onSelect: () => webhooksDialog(c) });
      items.push({ label: c.archived ? t('chat.unarchive') : t('chat.archive'), testid: 'channel-archive', onSelect: () => setArchived(c, !c.archived) });
    }
    if (c.is_member && c.kind !== 'dm' && c.kind !== 'team') {
      if (items.length) items.push(null);
      items.push({ label: t('chat.leave'), testid: 'channel-leave', danger: true, onSelect: () => this.leave() });
    }
    return items;
  }

  async leave() {
    const c = this.c;
    const ok = await confirmDialog({ title: t('chat.leaveTitle', { name: channelTitle(c) }), message: c.kind === 'private' || c.kind === 'group' ? t('chat.leavePrivateText') : t('chat.leaveText'), confirmLabel: t('chat.leave'), danger: true });
    if (!ok) return;
    await runAction(null, async () => {
      this.leaving = true;
      await post(`/api/channels/${seg(c.id)}/leave`, {});
      removeChannel(c.id);
      toast(t('chat.leftChannel', { name: channelTitle(c) }));
      navigate(`/w/${seg(this.wsId)}`);
    });
    this.leaving = false;
  }

  // --- composer state ---------------------------------------------------------------------------

  postBlock() {
    const c = this.c;
    if (!c) return t('common.loading');
    if (!c.is_member) return t('chat.joinToPost');
    if (c.archived) return t('chat.archivedNote');
    if (c.kind === 'announcement' && !mayPost(c)) return t('chat.announcementNote');
    return null;
  }

  renderComposerState() {
    const c = this.c;
    if (!c) return;
    if (!c.is_member) {
      this.composer.el.hidden = true;
      this.joinBar.hidden = false;
      replace(this.joinBar,
        h('p', {}, t('chat.previewing', { name: c.name || '' })),
        h('button', {
          type: 'button', class: 'btn btn-primary', testid: 'channel-join-here', disabled: c.archived,
          onclick: (e) => runAction(e.currentTarget, async () => {
            const joined = await post(`/api/channels/${seg(c.id)}/join`, {});
            upsertChannel(joined);
            this.setChannel(joined);
            if (joined.receipts) loadReadState(c.id);
            loadChannelMembers(c.id).catch(() => {});
          }),
        }, t('chat.joinChannel')));
      return;
    }
    this.joinBar.hidden = true;
    this.composer.el.hidden = false;
    this.composer.setDisabled(this.postBlock());
    const name = isDirect(c) ? channelTitle(c) : `#${c.name}`;
    const ph = t('chat.messagePlaceholder', { name });
    this.composer.input.placeholder = ph;
    this.composer.input.setAttribute('aria-label', ph);
  }

  renderTyping() {
    const names = typingNames(this.channelId, null);
    this.typing.textContent = typingText(names);
    this.typing.classList.toggle('is-active', names.length > 0);
    if (this.threadParts) {
      const tn = typingNames(this.channelId, this.threadId);
      this.threadParts.typing.textContent = typingText(tn);
      this.threadParts.typing.classList.toggle('is-active', tn.length > 0);
    }
  }

  // --- message actions -------------------------------------------------------------------------------

  actions(mode) {
    const c = this.c;
    if (!c) return {};
    const participate = c.is_member && !c.archived;
    const post2 = mayPost(c);
    const a = {
      download: (f, btn) => runAction(btn, () => downloadFile(f)),
      viewImage: (f) => viewImage(f),
      jump: (id) => this.jumpToMessage(id),
      openReceipts: (m) => this.openPanel('receipts', m),
      openAcks: (m) => this.openPanel('acks', m),
      copyLink: (m) => copyLink(m),
    };
    if (participate) {
      a.react = (m, emoji, add) => react(m, emoji, add);
      a.pickReaction = (m, anchor) => emojiPicker(anchor, (emoji) => {
        const mine = m.reactions?.find((r) => r.emoji === emoji)?.user_ids.includes(myId());
        react(m, emoji, !mine);
      }, 'below');
      a.pin = (m, pin) => runAction(null, async () => applyMessage(await (pin ? put : del)(`/api/messages/${seg(m.id)}/pin`, pin ? {} : undefined)));
      a.ack = (m, btn) => runAction(btn, () => acknowledge(m.id));
      a.edit = (m) => (mode === 'thread' ? this.threadParts?.timeline.startEdit(m) : this.timeline.startEdit(m));
    }
    if (c.is_member) {
      a.remove = (m) => this.remove(m);
      a.canModerate = mayManage(c);
    }
    if (post2) {
      a.quote = (m) => (mode === 'thread' ? this.threadParts?.composer.setQuote(m) : this.composer.setQuote(m));
    }
    if (mode === 'main') a.openThread = (m) => navigate(channelPath(this.channelId, m.id));
    return a;
  }

  async edit(m, body) {
    applyMessage(await patch(`/api/messages/${seg(m.id)}`, { body }));
  }

  editLast() {
    const mine = myId();
    const last = [...this.view.order].reverse().find((m) => m.sender?.id === mine && !m.deleted);
    if (!last || !this.c?.is_member || this.c.archived) return false;
    this.timeline.startEdit(last);
    return true;
  }

  async remove(m) {
    const ok = await confirmDialog({ title: t('chat.deleteTitle'), message: t('chat.deleteText'), confirmLabel: t('chat.delete'), danger: true });
    if (!ok) return;
    await runAction(null, async () => applyMessage(await del(`/api/messages/${seg(m.id)}`)));
  }

  jumpToMessage(id) {
    const m = findMessage(id);
    if (m?.thread_root_id) navigate(channelPath(this.channelId, m.thread_root_id, id));
    else navigate(channelPath(this.channelId, null, id));
  }

  // --- panels -------------------------------------------------------------------------------------------

  togglePanel(type) {
    if (this.panel?.type === type) this.closePanel();
    else this.openPanel(type);
  }

  /** Open a side panel; a thread is a route, so other panels first leave the thread route. */
  openPanel(type, arg) {
    if (this.threadId && type !== 'thread') {
      this.afterRoute = () => this.openPanel(type, arg);
      navigate(channelPath(this.channelId));
      return;
    }
    const builders = { pins: () => this.pinsPanel(), members: () => this.membersPanel(), receipts: () => this.receiptsPanel(arg), acks: () => this.acksPanel(arg) };
    this.showPanel(type, builders[type]());
  }

  showPanel(type, { title, body, testid, refresh, extra }) {
    const close = h('button', { type: 'button', class: 'icon-btn panel-close', testid: 'panel-close', 'aria-label': t('common.close') },
      h('span', { class: 'ic ic-close', 'aria-hidden': 'true' }));
    close.addEventListener('click', () => this.closePanel());
    const titleId = `panel-title-${type}`;
    const el = h('div', { class: 'panel', testid, role: 'complementary', 'aria-labelledby': titleId },
      h('div', { class: 'panel-bar' },
        h('h2', { class: 'panel-title', id: titleId, tabindex: '-1' }, title),
        extra || null,
        close),
      body);
    replace(this.side, el);
    this.side.hidden = false;
    this.el.classList.add('has-panel');
    this.panel = { type, el, refresh };
    this.renderHeader();
    if (type !== 'thread') el.querySelector('.panel-title')?.focus({ preventScroll: true });
  }

  closePanel({ navigate: nav = true } = {}) {
    const wasThread = this.panel?.type === 'thread' || this.threadId;
    if (this.threadParts) {
      this.threadParts.timeline.dispose();
      this.threadParts.composer.dispose();
      this.threadParts = null;
    }
    this.threadId = null;
    this.panel = null;
    this.side.hidden = true;
    replace(this.side);
    this.el.classList.remove('has-panel');
    this.renderHeader();
    if (wasThread && nav) navigate(channelPath(this.channelId));
    else if (!narrow.matches) this.composer.focus();
  }

  openThread(rootId, jump) {
    if (this.threadParts) {
      this.threadParts.timeline.dispose();
      this.threadParts.composer.dispose();
    }
    this.threadId = rootId;
    const view = viewFor(this.channelId, rootId);
    const timeline = new Timeline({
      view,
      channel: () => this.c,
      mode: 'thread',
      testid: 'thread-message-list',
      label: t('chat.threadReplies'),
      actions: () => this.actions('thread'),
      onEdit: (m, body) => this.edit(m, body),
    });
    const composer = new Composer({ channelId: this.channelId, threadRootId: rootId, channel: () => this.c, placeholder: t('chat.replyPlaceholder') });
    composer.setDisabled(this.postBlock());
    if (!this.c?.is_member) composer.el.hidden = true;
    const typing = h('div', { class: 'typing', testid: 'thread-typing-indicator', 'aria-live': 'polite' });
    const followBtn = h('button', { type: 'button', class: 'btn btn-sm', testid: 'thread-follow', 'aria-pressed': 'false' });
    this.threadParts = { view, timeline, composer, typing, followBtn };
    // The server knows whether I follow (repliers and the author do unless they opted out).
    let following = false;
    const renderFollow = () => {
      followBtn.textContent = following ? t('chat.unfollow') : t('chat.follow');
      followBtn.setAttribute('aria-pressed', String(!!following));
      followBtn.title = following ? t('chat.unfollowHint') : t('chat.followHint');
    };
    followBtn.addEventListener('click', () => runAction(followBtn, async () => {
      const r = await put(`/api/messages/${seg(rootId)}/follow`, { following: !following });
      following = r.following;
      renderFollow();
      toast(following ? t('chat.followingNow') : t('chat.notFollowing'));
    }));
    followBtn.hidden = !this.c?.is_member;
    const body = h('div', { class: 'panel-body panel-thread' }, timeline.el, typing, composer.el);
    composer.dropTarget(body);
    this.showPanel('thread', { title: t('chat.thread'), body, testid: 'thread-panel', extra: followBtn });
    (jump ? view.loadAround(jump) : view.loadLatest()).catch(() => {});
    if (jump) timeline.jumpTo(jump);
    const refreshFollow = () => {
      if (!this.c?.is_member) return;
      get(`/api/messages/${seg(rootId)}/follow`)
        .then((r) => {
          following = r.following;
          renderFollow();
        })
        .catch(() => {});
    };
    this.threadParts.refreshFollow = refreshFollow;
    renderFollow();
    refreshFollow();
    timeline.render();
    this.renderTyping();
    requestAnimationFrame(() => composer.focus());
  }

  pinsPanel() {
    const list = h('div', { class: 'panel-body panel-list', testid: 'pins-list' }, loading());
    const load = async () => {
      try {
        const pins = await get(`/api/channels/${seg(this.channelId)}/pins`);
        if (!pins.length) {
          replace(list, h('p', { class: 'panel-empty', testid: 'pins-empty' }, t('chat.noPins')));
          return;
        }
        const participate = this.c?.is_member && !this.c.archived;
        replace(list, pins.map((m) => h('div', { class: 'pin-item', testid: 'pin-item', dataset: { messageId: m.id } },
          renderMessage(m, { channel: this.c, head: true, mode: 'pins' }),
          h('div', { class: 'pin-actions' },
            h('button', { type: 'button', class: 'btn btn-sm', testid: 'pin-jump', onclick: () => this.jumpFromPanel(m) }, t('chat.jump')),
            participate ? h('button', { type: 'button', class: 'btn btn-sm btn-quiet', testid: 'pin-remove', onclick: (e) => runAction(e.currentTarget, async () => { applyMessage(await del(`/api/messages/${seg(m.id)}/pin`)); load(); }) }, t('chat.unpin')) : null))));
      } catch (err) {
        replace(list, h('p', { class: 'form-error' }, messageOf(err)));
      }
    };
    load();
    let timer = null;
    return { title: t('chat.pins'), body: list, testid: 'pins-panel', refresh: () => { clearTimeout(timer); timer = setTimeout(load, 300); } };
  }

  jumpFromPanel(m) {
    if (narrow.matches) this.closePanel({ navigate: false });
    if (m.thread_root_id) navigate(channelPath(this.channelId, m.thread_root_id, m.id));
    else navigate(channelPath(this.channelId, null, m.id));
  }

  membersPanel() {
    const c = this.c;
    const list = h('ul', { class: 'member-list-panel', testid: 'channel-member-list' }, h('li', {}, loading()));
    const canAdd = c.is_member && !c.archived && c.kind !== 'dm' && c.kind !== 'team' && (c.kind !== 'announcement' || mayManage(c));
    const canRemove = mayManage(c) && c.kind !== 'group' && c.kind !== 'team';
    const render = () => {
      const members = chat.channelMembers.get(this.channelId);
      if (!members) return;
      const mine = myId();
      replace(list, members.map((mem) => {
        const u = mem.user;
        const status = presenceOf(u.id);
        return h('li', { class: 'member-item', testid: 'channel-member', dataset: { userId: u.id } },
          h('span', { class: 'chan-avatar' }, avatar(u, 'sm'), h('span', { class: `presence-dot presence-${status}`, title: t(`chat.presence.${status}`) })),
          h('span', { class: 'member-names' },
            h('span', { class: 'member-display' }, u.display_name, u.id === mine ? h('span', { class: 'muted' }, ` (${t('chat.you')})`) : null),
            h('span', { class: 'member-username' }, `@${u.username}`)),
          mem.role === 'admin' ? h('span', { class: 'badge badge-accent' }, t('chat.channelAdmin')) : null,
          u.id !== mine ? h('button', { type: 'button', class: 'icon-btn icon-btn-sm', testid: 'member-dm', title: t('chat.sendDm'), 'aria-label': t('chat.sendDmTo', { name: u.display_name }), onclick: () => runAction(null, () => openDmWith(u.id)) },
            h('span', { class: 'ic ic-chat', 'aria-hidden': 'true' })) : null,
          canRemove && u.id !== mine ? h('button', {
            type: 'button', class: 'icon-btn icon-btn-sm icon-btn-danger', testid: 'channel-member-remove', title: t('chat.removeMember'), 'aria-label': t('chat.removeMemberNamed', { name: u.display_name }),
            onclick: async () => {
              const ok = await confirmDialog({ title: t('chat.removeMemberTitle', { name: u.display_name }), confirmLabel: t('chat.removeMember'), danger: true });
              if (!ok) return;
              await runAction(null, async () => {
                await del(`/api/channels/${seg(c.id)}/members/${seg(u.id)}`);
                await loadChannelMembers(c.id);
                fetchChannel(c.id);
              });
            },
          }, h('span', { class: 'ic ic-close', 'aria-hidden': 'true' })) : null,
        );
      }));
    };
    loadChannelMembers(this.channelId).then(render).catch((err) => replace(list, h('li', { class: 'form-error' }, messageOf(err))));
    const body = h('div', { class: 'panel-body panel-list' },
      canAdd ? h('button', { type: 'button', class: 'btn btn-sm members-add', testid: 'members-add-open', onclick: () => addMembersDialog(this.c) },
        h('span', { class: 'ic ic-plus', 'aria-hidden': 'true' }), t('chat.addPeople')) : null,
      list);
    return { title: t('chat.membersCount', { count: c.member_count }), body, testid: 'members-panel', refresh: render };
  }

  receiptsPanel(m) {
    const body = h('div', { class: 'panel-body panel-list' }, loading());
    const load = async () => {
      try {
        const r = await get(`/api/messages/${seg(m.id)}/receipts`);
        replace(body,
          h('blockquote', { class: 'panel-quote' }, excerptOf(m)),
          peopleSection(t('chat.unreadBy', { count: r.unread.length }), r.unread, 'receipt-unread-list'),
          peopleSection(t('chat.readBy', { count: r.read.length }), r.read, 'receipt-read-list'));
      } catch (err) {
        replace(body, h('p', { class: 'form-error' }, messageOf(err)));
      }
    };
    load();
    let timer = null;
    return { title: t('chat.readReceipts'), body, testid: 'receipt-panel', refresh: () => { clearTimeout(timer); timer = setTimeout(load, 250); } };
  }

  acksPanel(m) {
    const body = h('div', { class: 'panel-body panel-list' }, loading());
    const load = async () => {
      const a = await loadAcks(m.id, true);
      if (!a) {
        replace(body, h('p', { class: 'form-error' }, t('error.unexpected')));
        return;
      }
      replace(body,
        h('blockquote', { class: 'panel-quote' }, excerptOf(m)),
        peopleSection(t('chat.notAcknowledgedBy', { count: a.pending.length }), a.pending, 'ack-pending-list'),
        peopleSection(t('chat.acknowledgedBy', { count: a.acked.length }), a.acked.map((x) => x.user), 'ack-done-list'));
    };
    load();
    let timer = null;
    return { title: t('chat.acknowledgements'), body, testid: 'ack-panel', refresh: () => { clearTimeout(timer); timer = setTimeout(load, 400); } };
  }
}

function peopleSection(title, people, testid) {
  return h('section', { class: 'people-section' },
    h('h3', { class: 'people-section-title' }, title),
    people.length
      ? h('ul', { class: 'people-mini', testid }, people.map((u) => h('li', { class: 'people-mini-item', testid: 'receipt-person', dataset: { userId: u.id } }, avatar(u, 'xs'), h('span', {}, personName(u)))))
      : h('ul', { class: 'people-mini', testid }, h('li', { class: 'muted' }, t('chat.nobody'))));
}

function typingText(names) {
  if (!names.length) return '';
  if (names.length === 1) return t('chat.typingOne', { name: names[0] });
  if (names.length === 2) return t('chat.typingTwo', { a: names[0], b: names[1] });
  return t('chat.typingMany');
}

async function react(m, emoji, add) {
  await runAction(null, async () => {
    const path = `/api/messages/${seg(m.id)}/reactions/${encodeURIComponent(emoji)}`;
    applyMessage(add ? await put(path, {}) : await del(path));
  });
}

async function copyLink(m) {
  const url = new URL(channelPath(m.channel_id, m.thread_root_id, m.id), location.origin).href;
  try {
    await navigator.clipboard.writeText(url);
    toast(t('chat.linkCopied'));
  } catch {
    const input = h('input', { type: 'text', class: 'code-input', readOnly: true, value: url, testid: 'message-link' });
    openDialog({ title: t('chat.copyLink'), body: h('div', { class: 'form' }, input), testid: 'message-link-dialog' });
    input.select();
  }
}

function viewImage(f) {
  const img = h('img', { class: 'lightbox-img', alt: f.name });
  const body = h('div', { class: 'lightbox' }, img,
    h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'btn', testid: 'lightbox-download', onclick: (e) => runAction(e.currentTarget, () => downloadFile(f)) }, t('chat.download'))));
  const { dialog } = openDialog({ title: f.name, body, testid: 'image-dialog' });
  dialog.classList.add('dialog-wide');
  blobUrl(f.url).then((src) => {
    if (src) img.src = src;
  });
}

