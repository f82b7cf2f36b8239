// One message: sender, time, the server-rendered body, quote, files,
// reactions, thread summary, DING status, read receipt and the action toolbar.
//
// The message's `html` (rendered and sanitised by the server) is the only HTML
// ever inserted. It is parsed with DOMParser into an inert document, checked
// once more against an allowlist (defence in depth), and its nodes are moved
// into the body container. Every other string goes in as text.

import { h, replace } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { avatar, formatDateTime } from '../ui.js';
import { chat, myId, me, unreadBy, loadAcks, personName } from './store.js';
import { blobUrl, formatSize, isImage } from './files.js';
import { meetingCards } from '../meeting/card.js';

// --- server HTML -----------------------------------------------------------------------

const ALLOWED = new Set(['P', 'BR', 'STRONG', 'B', 'EM', 'I', 'DEL', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'LI',
  'A', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD', 'HR', 'INPUT', 'SPAN', 'DIV',
  'SUP', 'SUB', 'KBD', 'MARK', 'DL', 'DT', 'DD', 'U', 'SMALL', 'DETAILS', 'SUMMARY']);
const DROP = new Set(['SCRIPT', 'STYLE', 'IFRAME', 'OBJECT', 'EMBED', 'IMG', 'SVG', 'MATH', 'VIDEO', 'AUDIO', 'SOURCE',
  'LINK', 'META', 'BASE', 'FORM', 'TEXTAREA', 'SELECT', 'BUTTON', 'TEMPLATE', 'FRAME', 'FRAMESET', 'NOSCRIPT', 'PICTURE', 'CANVAS']);
const KEEP_ATTRS = { A: ['href', 'title'], INPUT: ['type', 'checked', 'disabled'], TH: ['align'], TD: ['align'], CODE: ['class'], OL: ['start'] };

function cleanTree(root) {
  for (const el of [...root.querySelectorAll('*')]) {
    if (!root.contains(el)) continue; // inside something already dropped
    const tag = el.tagName.toUpperCase();
    if (DROP.has(tag)) {
      el.remove();
      continue;
    }
    if (!ALLOWED.has(tag)) {
      el.replaceWith(...el.childNodes);
      continue;
    }
    const keep = KEEP_ATTRS[tag] || [];
    for (const attr of [...el.attributes]) {
      if (!keep.includes(attr.name.toLowerCase())) el.removeAttribute(attr.name);
    }
    if (tag === 'INPUT') {
      if ((el.getAttribute('type') || '').toLowerCase() !== 'checkbox') {
        el.remove();
        continue;
      }
      el.setAttribute('disabled', '');
    }
    if (tag === 'A') {
      const href = el.getAttribute('href') || '';
      let url = null;
      try {
        url = href ? new URL(href, location.href) : null;
      } catch {
        url = null;
      }
      if (!url || !['http:', 'https:', 'mailto:'].includes(url.protocol)) {
        el.removeAttribute('href');
        el.classList.add('dead-link');
      } else if (url.origin !== location.origin) {
        el.setAttribute('target', '_blank');
        el.setAttribute('rel', 'noopener noreferrer nofollow');
      }
    }
  }
}

const MENTION_RE = /@(所有人|[A-Za-z0-9._-]+)/g;

function markMentions(root) {
  const mine = (me()?.username || '').toLowerCase();
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement?.closest('code, pre, a')) continue;
    if (n.nodeValue.includes('@')) nodes.push(n);
  }
  for (const node of nodes) {
    const text = node.nodeValue;
    const parts = [];
    let last = 0;
    for (const m of text.matchAll(MENTION_RE)) {
      const before = m.index > 0 ? text[m.index - 1] : '';
      if (before && /[\p{L}\p{N}.]/u.test(before)) continue;
      const name = m[1].replace(/\.+$/, '');
      const lower = name.toLowerCase();
      const all = ['all', 'channel', 'everyone', '所有人'].includes(lower);
      const known = all || chat.people.some((p) => p.username.toLowerCase() === lower);
      if (!known) continue;
      parts.push(document.createTextNode(text.slice(last, m.index)));
      const isMe = all || lower === mine;
      parts.push(h('span', { class: ['mention', isMe && 'mention-me'] }, `@${name}`));
      last = m.index + 1 + name.length;
    }
    if (!parts.length) continue;
    parts.push(document.createTextNode(text.slice(last)));
    node.replaceWith(...parts);
  }
}

/** The server's sanitised HTML as DOM nodes inside `container`. */
export function fillHtml(container, html, { mentions = true } = {}) {
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html || ''}`, 'text/html');
  cleanTree(doc.body);
  if (mentions) markMentions(doc.body);
  container.replaceChildren(...[...doc.body.childNodes].map((n) => document.importNode(n, true)));
  return container;
}

/** Wrap occurrences of `q` in <mark> (search results). Text nodes only. */
export function highlight(root, q) {
  const needle = (q || '').trim().toLowerCase();
  if (!needle) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.nodeValue.toLowerCase().includes(needle)) nodes.push(n);
  for (const node of nodes) {
    const text = node.nodeValue;
    const lower = text.toLowerCase();
    const parts = [];
    let i = 0;
    for (let j = lower.indexOf(needle); j >= 0; j = lower.indexOf(needle, i)) {
      parts.push(document.createTextNode(text.slice(i, j)));
      parts.push(h('mark', {}, text.slice(j, j + needle.length)));
      i = j + needle.length;
    }
    parts.push(document.createTextNode(text.slice(i)));
    node.replaceWith(...parts);
  }
}

// --- time -------------------------------------------------------------------------------

export function timeOnly(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(getLang(), { hour: '2-digit', minute: '2-digit' }).format(d);
}

export function dayLabel(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  const same = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  if (same(d, today)) return t('chat.today');
  if (same(d, yesterday)) return t('chat.yesterday');
  const opts = { weekday: 'long', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== today.getFullYear()) opts.year = 'numeric';
  return new Intl.DateTimeFormat(getLang(), opts).format(d);
}

export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function senderLabel(m) {
  if (m.sender) return personName(m.sender);
  return m.bot_name || t('chat.someone');
}

// --- pieces ------------------------------------------------------------------------------

function quoteBlock(q, onJump) {
  const inner = [
    h('span', { class: 'msg-quote-who' }, q.sender_name || t('chat.someone')),
    h('span', { class: 'msg-quote-text' }, q.deleted ? t('chat.deletedMessage') : q.excerpt),
  ];
  if (!onJump) return h('blockquote', { class: 'msg-quote', testid: 'message-quote-block' }, inner);
  return h('button', { type: 'button', class: 'msg-quote', testid: 'message-quote-block', onclick: () => onJump(q.id), title: t('chat.jumpToQuoted') }, inner);
}

function fileList(files, actions) {
  return h('div', { class: 'msg-files' }, files.map((f) => {
    if (isImage(f)) {
      const img = h('img', { alt: f.name, class: 'msg-thumb', loading: 'lazy', decoding: 'async' });
      if (f.width && f.height) {
        const scale = Math.min(1, 320 / f.width, 240 / f.height);
        img.width = Math.max(1, Math.round(f.width * scale));
        img.height = Math.max(1, Math.round(f.height * scale));
      }
      blobUrl(f.thumbnail_url).then((src) => {
        if (src) img.src = src;
        else img.classList.add('is-broken');
      });
      return h('div', { class: 'msg-image', testid: 'attachment', dataset: { fileId: f.id } },
        h('button', { type: 'button', class: 'msg-image-open', 'aria-label': t('chat.viewImage', { name: f.name }), onclick: () => actions.viewImage?.(f) }, img),
        h('button', { type: 'button', class: 'msg-image-dl', testid: 'attachment-download', title: t('chat.download'), 'aria-label': t('chat.downloadFile', { name: f.name }), onclick: (e) => actions.download?.(f, e.currentTarget) },
          h('span', { class: 'ic ic-download', 'aria-hidden': 'true' })),
      );
    }
    return h('div', { class: 'msg-file', testid: 'attachment', dataset: { fileId: f.id } },
      h('span', { class: 'msg-file-icon', 'aria-hidden': 'true' }, extLabel(f.name)),
      h('span', { class: 'msg-file-main' },
        h('span', { class: 'msg-file-name', testid: 'attachment-name' }, f.name),
        h('span', { class: 'msg-file-size' }, formatSize(f.size))),
      h('button', { type: 'button', class: 'btn btn-sm', testid: 'attachment-download', 'aria-label': t('chat.downloadFile', { name: f.name }), onclick: (e) => actions.download?.(f, e.currentTarget) },
        h('span', { class: 'ic ic-download', 'aria-hidden': 'true' }), t('chat.download')),
    );
  }));
}

function extLabel(name) {
  const m = /\.([A-Za-z0-9]{1,4})$/.exec(name || '');
  return m ? m[1].toUpperCase() : t('chat.fileShort');
}

function reactionsRow(m, actions) {
  const mine = myId();
  return h('div', { class: 'msg-reactions', testid: 'reactions' },
    m.reactions.map((r) => {
      const pressed = r.user_ids.includes(mine);
      const names = r.user_ids.map((u) => (u === mine ? t('chat.you') : personName(chat.peopleById.get(u)) || '…'));
      return h('button', {
        type: 'button', class: ['reaction', pressed && 'is-mine'], testid: 'reaction', dataset: { emoji: r.emoji, count: String(r.count) },
        'aria-pressed': String(pressed),
        title: t('chat.reactedBy', { names: names.join(', '), emoji: r.emoji }),
        'aria-label': t('chat.reactionLabel', { emoji: r.emoji, count: r.count }),
        disabled: !actions.react,
        onclick: () => actions.react?.(m, r.emoji, !pressed),
      }, h('span', { class: 'reaction-emoji' }, r.emoji), h('span', { class: 'reaction-count' }, String(r.count)));
    }),
    actions.react ? h('button', {
      type: 'button', class: 'reaction reaction-more', testid: 'reaction-add-inline', 'aria-label': t('chat.addReaction'), title: t('chat.addReaction'),
      onclick: (e) => actions.pickReaction?.(m, e.currentTarget),
    }, h('span', { class: 'ic ic-smile', 'aria-hidden': 'true' })) : null,
  );
}

/** "N unread" / "All read" for my message; updated in place on read events. */
export function receiptButton(channelId, m, onOpen) {
  const b = h('button', { type: 'button', class: 'msg-receipt', testid: 'message-receipt', onclick: () => onOpen?.(m) });
  updateReceipt(b, channelId, m);
  return b;
}

export function updateReceipt(b, channelId, m) {
  const r = unreadBy(channelId, m);
  // Nobody else to read it (yet): no indicator.
  if (!r || r.total === 0) {
    b.hidden = true;
    return;
  }
  const n = r.unread;
  b.hidden = false;
  b.dataset.unread = String(n);
  b.classList.toggle('is-all-read', n === 0);
  b.textContent = n === 0 ? t('chat.allRead') : t('chat.nUnread', { count: n });
  b.setAttribute('aria-label', `${b.textContent} — ${t('chat.showReceipts')}`);
}

function dingBlock(m, actions) {
  const box = h('div', { class: 'msg-ding', testid: 'ding-status' });
  const mine = m.sender?.id === myId();
  const fill = () => {
    const a = chat.acks.get(m.id);
    if (!a) {
      replace(box, h('span', { class: 'ding-badge' }, t('chat.ding')), h('span', { class: 'muted' }, t('common.loading')));
      return;
    }
    if (mine) {
      const pending = a.pending.length;
      replace(box, h('span', { class: 'ding-badge' }, t('chat.ding')),
        h('button', { type: 'button', class: ['msg-ack-status', pending === 0 && 'is-done'], testid: 'ack-status', dataset: { pending: String(pending) }, onclick: () => actions.openAcks?.(m) },
          pending === 0 ? t('chat.allAcknowledged') : t('chat.nNotAcknowledged', { count: pending })));
      return;
    }
    const me2 = myId();
    const waiting = a.pending.some((u) => u.id === me2);
    replace(box, h('span', { class: 'ding-badge' }, t('chat.ding')),
      waiting
        ? h('button', { type: 'button', class: 'btn btn-sm btn-primary', testid: 'message-ack', onclick: (e) => actions.ack?.(m, e.currentTarget) }, t('chat.acknowledge'))
        : h('span', { class: 'msg-acked', testid: 'message-acked' }, a.acked.some((x) => x.user.id === me2) ? t('chat.acknowledged') : t('chat.dingNotForYou')));
  };
  fill();
  box.refresh = fill;
  if (!chat.acks.has(m.id)) loadAcks(m.id);
  return box;
}

function actionButton(icon, label, testid, onclick, extra = {}) {
  return h('button', { type: 'button', class: 'msg-action', testid, title: label, 'aria-label': label, onclick, ...extra },
    h('span', { class: `ic ic-${icon}`, 'aria-hidden': 'true' }));
}

/**
 * Build a message element.
 * opts: channel, head (first of a group), mode ('main' | 'thread' | 'root' | 'pins'),
 *       actions: { react, pickReaction, openThread, quote, edit, remove, pin, copyLink,
 *                  openReceipts, openAcks, ack, download, viewImage, jump }
 */
export function renderMessage(m, opts) {
  const { channel, head = true, mode = 'main', actions = {} } = opts;
  const mine = !!m.sender && m.sender.id === myId();
  const deleted = !!m.deleted;
  const el = h('article', {
    class: ['msg', head ? 'msg-head' : 'msg-cont', mine && 'is-mine', deleted && 'is-deleted', m.pinned && 'is-pinned', m.ack_required && 'is-ding'],
    testid: 'message',
    dataset: { messageId: m.id, seq: String(m.seq), version: String(m.version ?? m.seq), sender: m.sender?.id || '' },
    tabindex: '-1',
    'aria-label': `${senderLabel(m)}, ${formatDateTime(m.created_at)}`,
  });

  const gutter = head
    ? h('div', { class: 'msg-gutter' }, m.sender ? avatar(m.sender, 'md') : h('span', { class: 'avatar avatar-md avatar-bot', 'aria-hidden': 'true' }, t('chat.botShort')))
    : h('div', { class: 'msg-gutter' }, h('time', { class: 'msg-time-hover', datetime: m.created_at, title: formatDateTime(m.created_at) }, timeOnly(m.created_at)));

  const content = h('div', { class: 'msg-content' });
  if (head) {
    content.appendChild(h('div', { class: 'msg-meta' },
      h('span', { class: 'msg-sender', testid: 'message-sender' }, senderLabel(m)),
      m.bot_name && !m.sender ? h('span', { class: 'badge badge-accent' }, t('chat.bot')) : null,
      h('time', { class: 'msg-time', datetime: m.created_at, title: formatDateTime(m.created_at) }, timeOnly(m.created_at)),
      m.pinned ? h('span', { class: 'msg-pinned', testid: 'message-pinned' }, h('span', { class: 'ic ic-pin', 'aria-hidden': 'true' }), t('chat.pinned')) : null,
    ));
  } else if (m.pinned) {
    content.appendChild(h('div', { class: 'msg-meta msg-meta-flags' },
      h('span', { class: 'msg-pinned', testid: 'message-pinned' }, h('span', { class: 'ic ic-pin', 'aria-hidden': 'true' }), t('chat.pinned'))));
  }

  if (deleted) {
    content.appendChild(h('p', { class: 'msg-tombstone', testid: 'message-deleted' }, t('chat.deletedMessage')));
  } else {
    if (m.quote) content.appendChild(quoteBlock(m.quote, actions.jump));
    const text = h('div', { class: 'msg-text' });
    if (m.html || m.body) {
      const body = h('div', { class: 'msg-body', testid: 'message-body' });
      fillHtml(body, m.html);
      text.appendChild(body);
      // Links to /m/<code> (e.g. the server's "meeting started" message) become meeting cards.
      const cards = meetingCards(body);
      if (cards.length) text.append(...cards);
    }
    if (m.edited_at) text.appendChild(h('span', { class: 'msg-edited', testid: 'message-edited', title: formatDateTime(m.edited_at) }, t('chat.edited')));
    if (text.childNodes.length) content.appendChild(text);
    if (m.files?.length) content.appendChild(fileList(m.files, actions));
    if (m.reactions?.length) content.appendChild(reactionsRow(m, actions));
  }

  const foot = h('div', { class: 'msg-foot' });
  if (m.ack_required && !deleted && mode !== 'pins') {
    const ding = dingBlock(m, actions);
    foot.appendChild(ding);
    el.dingBlock = ding;
  }
  if (mode === 'main' && !m.thread_root_id && m.reply_count > 0) {
    foot.appendChild(h('button', { type: 'button', class: 'msg-thread', testid: 'thread-open', onclick: () => actions.openThread?.(m) },
      h('span', { class: 'ic ic-thread', 'aria-hidden': 'true' }),
      h('span', { class: 'msg-thread-count' }, t('chat.replies', { count: m.reply_count })),
      m.last_reply_at ? h('span', { class: 'msg-thread-last' }, t('chat.lastReply', { time: timeOnly(m.last_reply_at) })) : null));
  }
  if (mine && !deleted && channel?.receipts && (mode === 'main' || mode === 'thread' || mode === 'root')) {
    const r = receiptButton(channel.id, m, actions.openReceipts);
    foot.appendChild(r);
    el.receipt = r;
  }
  if (foot.childNodes.length) content.appendChild(foot);

  el.append(gutter, content);

  if (!deleted && mode !== 'pins' && Object.keys(actions).length) {
    const bar = h('div', { class: 'msg-actions', role: 'toolbar', 'aria-label': t('chat.messageActions') });
    if (actions.pickReaction) bar.appendChild(actionButton('smile', t('chat.addReaction'), 'reaction-add', (e) => actions.pickReaction(m, e.currentTarget)));
    if (mode === 'main' && !m.thread_root_id && actions.openThread) {
      bar.appendChild(actionButton('thread', t('chat.replyInThread'), m.reply_count > 0 ? 'thread-reply' : 'thread-open', () => actions.openThread(m)));
    }
    if (actions.quote) bar.appendChild(actionButton('quote', t('chat.quote'), 'message-quote', () => actions.quote(m)));
    if (actions.pin) bar.appendChild(actionButton('pin', m.pinned ? t('chat.unpin') : t('chat.pin'), 'message-pin', () => actions.pin(m, !m.pinned), { 'aria-pressed': String(!!m.pinned) }));
    if (actions.copyLink) bar.appendChild(actionButton('link', t('chat.copyLink'), 'message-copy-link', () => actions.copyLink(m)));
    if (mine && actions.edit) bar.appendChild(actionButton('edit', t('chat.edit'), 'message-edit', () => actions.edit(m)));
    if (actions.remove && (mine || actions.canModerate)) bar.appendChild(actionButton('trash', t('chat.delete'), 'message-delete', () => actions.remove(m), { class: 'msg-action msg-action-danger' }));
    if (bar.childNodes.length) el.appendChild(bar);
  }
  return el;
}

/** A message still being sent (from the outbox). */
export function renderPending(entry, { head = true, onRetry, onDiscard } = {}) {
  const user = me();
  const el = h('article', {
    class: ['msg', head ? 'msg-head' : 'msg-cont', 'is-mine', 'is-pending', entry.state === 'failed' && 'is-failed'],
    testid: 'message',
    dataset: { pending: 'true', clientKey: entry.clientKey, state: entry.state },
  });
  const gutter = h('div', { class: 'msg-gutter' }, head ? avatar(user, 'md') : null);
  const content = h('div', { class: 'msg-content' });
  if (head) {
    content.appendChild(h('div', { class: 'msg-meta' },
      h('span', { class: 'msg-sender' }, personName(user)),
      h('time', { class: 'msg-time', datetime: entry.createdAt }, timeOnly(entry.createdAt))));
  }
  if (entry.quote) content.appendChild(quoteBlock({ sender_name: senderLabel(entry.quote), excerpt: excerptOf(entry.quote), deleted: false }, null));
  if (entry.body) content.appendChild(h('div', { class: 'msg-body msg-body-plain', testid: 'message-body' }, entry.body));
  if (entry.files.length) {
    content.appendChild(h('div', { class: 'msg-files' }, entry.files.map((f) => h('div', { class: 'msg-file' },
      h('span', { class: 'msg-file-icon', 'aria-hidden': 'true' }, extLabel(f.name)),
      h('span', { class: 'msg-file-main' }, h('span', { class: 'msg-file-name' }, f.name), h('span', { class: 'msg-file-size' }, formatSize(f.size)))))));
  }
  const status = h('div', { class: 'msg-foot' });
  if (entry.state === 'failed') {
    status.append(
      h('span', { class: 'msg-status msg-status-failed', testid: 'message-failed', role: 'alert' }, t('chat.sendFailed', { reason: entry.error || '' })),
      h('button', { type: 'button', class: 'link-btn', testid: 'message-retry', onclick: onRetry }, t('chat.retry')),
      h('button', { type: 'button', class: 'link-btn', testid: 'message-discard', onclick: onDiscard }, t('chat.discard')),
    );
  } else {
    status.append(h('span', { class: 'msg-status', testid: 'message-pending' }, entry.state === 'queued' ? t('chat.waitingConnection') : t('chat.sending')));
  }
  content.appendChild(status);
  el.append(gutter, content);
  return el;
}

export function excerptOf(m) {
  if (!m) return '';
  const text = (m.body || '').replace(/\s+/g, ' ').trim();
  if (text) return text.length > 120 ? `${text.slice(0, 120)}…` : text;
  if (m.files?.length) return m.files.map((f) => f.name).join(', ');
  return '';
}
