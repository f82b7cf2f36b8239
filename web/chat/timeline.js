// A scrolling list of messages (a channel's top level, or one thread):
// grouping by sender and time, day dividers, the "new messages" line,
// loading older/newer pages at the edges, keeping the bottom pinned while
// new messages arrive, jumping to a message, inline editing, and reporting
// what is actually visible as read (IntersectionObserver + page visibility).

import { h } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { chat, on, outboxFor, reportRead, myId, retry, discard } from './store.js';
import { renderMessage, renderPending, dayKey, dayLabel, updateReceipt } from './message.js';

const GROUP_MS = 5 * 60 * 1000;

function senderKey(m) {
  return m.sender?.id || `bot:${m.bot_name || ''}`;
}

export class Timeline {
  /**
   * opts: view, channel() -> Channel, mode 'main' | 'thread', testid,
   *       actions() -> action handlers, onEdit(m, body) -> Promise
   */
  constructor(opts) {
    this.opts = opts;
    this.view = opts.view;
    this.mode = opts.mode || 'main';
    this.cache = new Map(); // key -> { node, sig }
    this.receipts = new Map(); // messageId -> { button, m }
    this.editingId = null;
    this.unreadMark = null;
    this.pendingScroll = { type: 'initial' };
    this.visible = new Set();
    this.disposed = false;

    this.top = h('div', { class: 'timeline-top' });
    this.items = h('div', { class: 'timeline-items' });
    this.scroller = h('div', {
      class: 'timeline', testid: opts.testid || 'message-list', role: 'log', 'aria-label': opts.label || t('chat.messages'),
      'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0',
    }, this.top, this.items);
    this.jumpBtn = h('button', { type: 'button', class: 'jump-latest', testid: 'jump-latest', hidden: true, onclick: () => this.toLatest() },
      h('span', { class: 'ic ic-down', 'aria-hidden': 'true' }), t('chat.jumpToLatest'));
    this.el = h('div', { class: 'timeline-wrap' }, this.scroller, this.jumpBtn);

    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.io = new IntersectionObserver((entries) => this.onIntersect(entries), { root: this.scroller, threshold: [0, 0.5, 0.9] });
    this.ro = new ResizeObserver(() => {
      if (this.stick) this.scrollToBottom();
    });
    this.ro.observe(this.items);
    this.ro.observe(this.scroller);
    this.onVisibility = () => {
      if (document.visibilityState === 'visible') this.reportVisible();
    };
    document.addEventListener('visibilitychange', this.onVisibility);
    this.stick = true;
    this.offs = [
      on('read', ({ channelId }) => {
        if (channelId === this.view.channelId) this.updateReceipts();
      }),
      on('acks', ({ messageId }) => {
        const entry = this.cache.get(`m:${messageId}`) || (this.view.root?.id === messageId ? this.cache.get('root') : null);
        entry?.node.dingBlock?.refresh();
      }),
    ];
  }

  dispose() {
    this.disposed = true;
    this.io.disconnect();
    this.ro.disconnect();
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.offs.forEach((off) => off());
  }

  channel() {
    return this.opts.channel();
  }

  // --- scrolling ---------------------------------------------------------------------------

  distanceFromBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  onScroll() {
    const s = this.scroller;
    const fromBottom = this.distanceFromBottom();
    this.stick = fromBottom < 40 && !this.view.hasMoreAfter;
    if (s.scrollTop < 400 && this.view.hasMoreBefore && !this.view.loading && this.view.loaded) {
      this.view.loadOlder().catch(() => {});
    }
    if (fromBottom < 400 && this.view.hasMoreAfter && !this.view.loading && this.view.loaded) {
      this.view.loadNewer().catch(() => {});
    }
    this.jumpBtn.hidden = !(this.view.hasMoreAfter || fromBottom > 600);
  }

  async toLatest() {
    this.pendingScroll = { type: 'bottom' };
    if (this.view.hasMoreAfter) {
      await this.view.loadLatest().catch(() => {});
    } else {
      this.render();
    }
  }

  /** Scroll to a message (loading the page around it if needed) and flash it. */
  jumpTo(id, { focus = true } = {}) {
    this.pendingScroll = { type: 'message', id, focus };
    if (this.view.byId.has(id) || this.view.root?.id === id) this.render();
    else this.view.loadAround(id).catch(() => {});
  }

  anchor() {
    // The first message whose top is inside the viewport keeps its place.
    const top = this.scroller.getBoundingClientRect().top;
    for (const node of this.items.children) {
      // Only messages: dividers move when older pages arrive.
      if (!node.dataset.messageId) continue;
      const r = node.getBoundingClientRect();
      if (r.bottom > top) return { node, offset: r.top - top };
    }
    return null;
  }

  // --- rendering ---------------------------------------------------------------------------

  channelSig(c) {
    return [c?.receipts, c?.archived, c?.is_member, c?.my_role, getLang(), chat.peopleById.size].join('|');
  }

  /** Rebuild what changed and keep the scroll position sensible. */
  render() {
    if (this.disposed) return;
    const v = this.view;
    const c = this.channel();
    const actions = this.opts.actions();
    const wasStuck = this.stick && this.distanceFromBottom() < 40;
    const anchor = this.pendingScroll ? null : this.anchor();

    // Top: loading older / start of conversation.
    this.top.replaceChildren();
    if (v.loaded && !v.hasMoreBefore && this.mode === 'main') {
      this.top.appendChild(h('div', { class: 'timeline-start', testid: 'timeline-start' },
        h('p', { class: 'timeline-start-title' }, this.opts.startTitle?.() || ''),
        h('p', { class: 'muted' }, t('chat.startOfConversation'))));
    } else if (v.hasMoreBefore || (!v.loaded && v.loading)) {
      this.top.appendChild(h('p', { class: 'timeline-loading', role: 'status' }, t('common.loading')));
    }
    if (v.error && !v.loaded) {
      this.top.appendChild(h('p', { class: 'form-error', role: 'alert' }, v.error.message || t('error.unexpected'),
        ' ', h('button', { type: 'button', class: 'link-btn', onclick: () => v.loadLatest().catch(() => {}) }, t('boot.retry'))));
    }

    const nodes = [];
    const used = new Set();
    const chanSig = this.channelSig(c);
    const mine = myId();
    let prev = null;
    let lastDay = null;
    let newLineDone = false;

    const push = (key, sig, build) => {
      let entry = this.cache.get(key);
      if (!entry || entry.sig !== sig) {
        const node = build();
        if (entry) this.unobserve(entry.node);
        entry = { node, sig };
        this.cache.set(key, entry);
        if (node.dataset.seq && node.dataset.pending !== 'true') this.io.observe(node);
      }
      used.add(key);
      nodes.push(entry.node);
    };

    if (this.mode === 'thread' && v.root) {
      const root = v.root;
      lastDay = dayKey(root.created_at);
      push('root', `${root.version}|${chanSig}|${root.reply_count}`, () => {
        const node = renderMessage(root, { channel: c, head: true, mode: 'root', actions });
        node.classList.add('msg-root');
        if (node.receipt) this.receipts.set(root.id, { button: node.receipt, m: root });
        return node;
      });
      push('root-sep', `${root.reply_count}|${getLang()}`, () => h('div', { class: 'thread-sep', testid: 'thread-reply-count' },
        h('span', {}, t('chat.replies', { count: root.reply_count }))));
    }

    const addDay = (iso) => {
      const key = dayKey(iso);
      if (key === lastDay) return false;
      lastDay = key;
      push(`d:${key}`, `${dayLabel(iso)}`, () => h('div', { class: 'day-divider', role: 'separator' }, h('span', {}, dayLabel(iso))));
      return true;
    };

    for (const m of v.order) {
      const newDay = addDay(m.created_at);
      if (this.mode === 'main' && !newLineDone && this.unreadMark != null && m.seq > this.unreadMark && m.sender?.id !== mine && !m.deleted) {
        newLineDone = true;
        push('new', getLang(), () => h('div', { class: 'new-divider', testid: 'new-messages-divider', role: 'separator' }, h('span', {}, t('chat.newMessages'))));
        prev = null;
      }
      const head = newDay || !prev || senderKey(prev) !== senderKey(m)
        || Date.parse(m.created_at) - Date.parse(prev.created_at) > GROUP_MS || !!m.ack_required || !!prev.ack_required;
      const editing = this.editingId === m.id;
      push(`m:${m.id}`, `${m.version}|${head}|${editing}|${chanSig}|${m.reactions?.length}`, () => {
        const node = renderMessage(m, { channel: c, head, mode: this.mode, actions });
        if (editing) this.attachEditor(node, m);
        if (node.receipt) this.receipts.set(m.id, { button: node.receipt, m });
        else this.receipts.delete(m.id);
        this.attachLongPress(node);
        return node;
      });
      prev = m;
    }

    // Messages still being sent, after the stored ones.
    if (!v.hasMoreAfter) {
      for (const entry of outboxFor(v.channelId, v.rootId)) {
        addDay(entry.createdAt);
        const head = !prev || prev.sender?.id !== mine || Date.now() - Date.parse(prev.created_at) > GROUP_MS;
        push(`p:${entry.clientKey}`, `${entry.state}|${head}|${entry.error}`, () => renderPending(entry, {
          head,
          onRetry: () => retry(entry),
          onDiscard: () => discard(entry),
        }));
        prev = { sender: { id: mine }, created_at: entry.createdAt };
      }
    }

    if (v.loaded && !v.order.length && !outboxFor(v.channelId, v.rootId).length && this.mode === 'thread') {
      push('empty', getLang(), () => h('p', { class: 'muted thread-empty' }, t('chat.noRepliesYet')));
    }

    // Reconcile: move/insert in order, drop what is gone.
    let ref = this.items.firstChild;
    for (const node of nodes) {
      if (node === ref) {
        ref = ref.nextSibling;
        continue;
      }
      this.items.insertBefore(node, ref);
    }
    while (ref) {
      const next = ref.nextSibling;
      this.unobserve(ref);
      ref.remove();
      ref = next;
    }
    for (const key of [...this.cache.keys()]) {
      if (!used.has(key)) {
        const id = key.startsWith('m:') ? key.slice(2) : null;
        if (id) this.receipts.delete(id);
        this.cache.delete(key);
      }
    }

    // Scroll.
    const ps = this.pendingScroll;
    if (ps && v.loaded && !v.loading) {
      this.pendingScroll = null;
      if (ps.type === 'message') {
        const entry = this.cache.get(`m:${ps.id}`) || (v.root?.id === ps.id ? this.cache.get('root') : null);
        if (entry) {
          entry.node.scrollIntoView({ block: 'center' });
          this.flash(entry.node, ps.focus);
        } else {
          this.scrollToBottom();
        }
        this.stick = this.distanceFromBottom() < 40 && !v.hasMoreAfter;
      } else if (ps.type === 'initial' && this.cache.get('new')) {
        const line = this.cache.get('new').node;
        this.scroller.scrollTop = Math.max(0, line.offsetTop - this.scroller.clientHeight / 3);
        this.stick = this.distanceFromBottom() < 40;
      } else {
        this.scrollToBottom();
        this.stick = true;
      }
    } else if (wasStuck && !v.hasMoreAfter) {
      this.scrollToBottom();
    } else if (anchor) {
      // The anchor message may have been rebuilt (e.g. it now continues a group).
      const node = this.cache.get(`m:${anchor.node.dataset.messageId}`)?.node;
      if (node?.isConnected) {
        const top = this.scroller.getBoundingClientRect().top;
        const now = node.getBoundingClientRect().top - top;
        this.scroller.scrollTop += now - anchor.offset;
      }
    }
    this.jumpBtn.hidden = !(v.hasMoreAfter || this.distanceFromBottom() > 600);

    // Near an edge with more to load (or the list cannot scroll yet): fetch the
    // next page now, since no scroll event may come (e.g. already at the top).
    if (v.loaded && !v.loading && !this.pendingScroll) {
      if (v.hasMoreBefore && this.scroller.scrollTop < 400) v.loadOlder().catch(() => {});
      else if (v.hasMoreAfter && this.distanceFromBottom() < 400) v.loadNewer().catch(() => {});
    }
  }

  flash(node, focus = true) {
    node.classList.add('is-highlight');
    if (focus) node.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove('is-highlight'), 2500);
  }

  updateReceipts() {
    for (const { button, m } of this.receipts.values()) updateReceipt(button, this.view.channelId, m);
  }

  /** Drop cached nodes so everything is rebuilt (channel permissions or language changed). */
  invalidate() {
    for (const { node } of this.cache.values()) this.unobserve(node);
    this.cache.clear();
    this.receipts.clear();
  }

  // --- editing ---------------------------------------------------------------------------------

  startEdit(m) {
    this.editingId = m.id;
    this.render();
  }

  stopEdit() {
    this.editingId = null;
    this.render();
  }

  attachEditor(node, m) {
    const text = node.querySelector('.msg-text') || node.querySelector('.msg-content');
    const input = h('textarea', { class: 'edit-input', testid: 'message-edit-input', rows: '3', 'aria-label': t('chat.editMessage') });
    input.value = m.body;
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = async () => {
      const body = input.value;
      if (!body.trim() && !m.files?.length) return;
      if (body === m.body) return this.stopEdit();
      saveBtn.disabled = true;
      try {
        await this.opts.onEdit(m, body);
        this.stopEdit();
      } catch (err) {
        saveBtn.disabled = false;
        error.textContent = err.message || t('error.unexpected');
        error.hidden = false;
      }
    };
    const saveBtn = h('button', { type: 'button', class: 'btn btn-sm btn-primary', testid: 'message-edit-save', onclick: save }, t('common.save'));
    const form = h('div', { class: 'edit-box' }, input, error,
      h('div', { class: 'edit-actions' },
        h('span', { class: 'hint' }, t('chat.editHint')),
        h('button', { type: 'button', class: 'btn btn-sm', testid: 'message-edit-cancel', onclick: () => this.stopEdit() }, t('common.cancel')),
        saveBtn));
    input.addEventListener('keydown', (e) => {
      if (e.isComposing || e.keyCode === 229) return;
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        this.stopEdit();
      } else if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        save();
      }
    });
    if (node.querySelector('.msg-text')) text.replaceWith(form);
    else text.appendChild(form);
    node.classList.add('is-editing');
    node.querySelector('.msg-actions')?.remove();
    requestAnimationFrame(() => {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    });
  }

  // --- touch: long-press shows the actions ------------------------------------------------------

  attachLongPress(node) {
    let timer = null;
    node.addEventListener('touchstart', () => {
      timer = setTimeout(() => {
        document.querySelectorAll('.msg.show-actions').forEach((n) => n !== node && n.classList.remove('show-actions'));
        node.classList.add('show-actions');
      }, 450);
    }, { passive: true });
    const cancel = () => clearTimeout(timer);
    node.addEventListener('touchend', cancel, { passive: true });
    node.addEventListener('touchmove', cancel, { passive: true });
    node.addEventListener('contextmenu', (e) => {
      if (window.matchMedia('(hover: none)').matches) {
        e.preventDefault();
        node.classList.add('show-actions');
      }
    });
  }

  // --- read reporting ----------------------------------------------------------------------------

  unobserve(node) {
    this.io.unobserve(node);
    this.visible.delete(node);
  }

  onIntersect(entries) {
    for (const e of entries) {
      const rootH = e.rootBounds?.height || this.scroller.clientHeight;
      const enough = e.isIntersecting && (e.intersectionRatio >= 0.5 || e.intersectionRect.height >= rootH * 0.5);
      if (enough) this.visible.add(e.target);
      else this.visible.delete(e.target);
    }
    this.reportVisible();
  }

  reportVisible() {
    if (this.disposed || document.visibilityState !== 'visible' || !this.scroller.isConnected) return;
    if (this.opts.canReport && !this.opts.canReport()) return;
    let max = -1;
    for (const node of this.visible) {
      if (!node.isConnected) continue;
      const seq = Number(node.dataset.seq);
      if (seq > max) max = seq;
    }
    if (max >= 0) reportRead(this.view.channelId, max);
  }
}
