// Browser notifications (asked for from a button, never on load), the page
// title badge "(3) Convene", and DING reminders.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { navigate } from '../router.js';
import { state as session } from '../session.js';
import { toast } from '../ui.js';

let baseTitle = document.title || 'Convene';
let badge = 0;

/** Set the page title (pages call this); the unread badge is kept in front. */
export function setPageTitle(text) {
  baseTitle = text || 'Convene';
  applyTitle();
}

export function updateTitleBadge(count) {
  if (count === badge) return;
  badge = count;
  applyTitle();
}

function applyTitle() {
  document.title = badge > 0 ? `(${badge > 99 ? '99+' : badge}) ${baseTitle}` : baseTitle;
}

export function notificationsSupported() {
  return 'Notification' in window;
}

export function notificationPermission() {
  return notificationsSupported() ? Notification.permission : 'denied';
}

export async function requestNotifications() {
  if (!notificationsSupported()) return 'denied';
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

function channelLabel(c) {
  if (c.kind === 'dm' || c.kind === 'group') {
    return c.peers?.map((p) => p.display_name || p.username).join(', ') || t('chat.notesToSelf');
  }
  return `#${c.name}`;
}

function excerpt(m) {
  const text = (m.body || '').replace(/\s+/g, ' ').trim();
  if (text) return text.length > 140 ? `${text.slice(0, 140)}…` : text;
  if (m.files?.length) return t('chat.sentFiles', { count: m.files.length });
  return '';
}

function senderName(m) {
  return m.sender?.display_name || m.sender?.username || m.bot_name || t('chat.someone');
}

function pathFor(c, m) {
  const base = `/w/${encodeURIComponent(c.workspace_id)}/c/${encodeURIComponent(c.id)}`;
  if (m.thread_root_id) return `${base}/t/${encodeURIComponent(m.thread_root_id)}?m=${encodeURIComponent(m.id)}`;
  return `${base}?m=${encodeURIComponent(m.id)}`;
}

/**
 * A new message from someone else arrived. Notify when the tab is hidden and
 * it mentions me or is a direct message, unless the channel's level says no
 * (mute: never; mentions: only mentions).
 */
export function maybeNotify(c, m) {
  if (document.visibilityState !== 'hidden') return;
  if (notificationPermission() !== 'granted') return;
  if (m.sender?.id && m.sender.id === session.user?.id) return;
  const mention = !!(m.mention_all || m.mentions?.includes(session.user?.id));
  const direct = c.kind === 'dm' || c.kind === 'group';
  if (c.notify === 'mute') return;
  if (c.notify === 'mentions' && !mention) return;
  if (!mention && !direct) return;
  show(c.kind === 'dm' ? senderName(m) : `${senderName(m)} · ${channelLabel(c)}`, excerpt(m), m.id, pathFor(c, m));
}

function show(title, body, tag, path) {
  try {
    const n = new Notification(title, { body, tag, icon: '/favicon.svg' });
    n.onclick = () => {
      window.focus();
      navigate(path);
      n.close();
    };
  } catch {
    /* some browsers only allow notifications from a service worker */
  }
}

/** A DING reminder: a toast with "Open", and a notification when hidden. */
export function showDing(c, m) {
  const text = t('chat.dingToast', { name: senderName(m), text: excerpt(m) });
  if (document.visibilityState === 'hidden' && notificationPermission() === 'granted' && c.notify !== 'mute') {
    show(t('chat.dingTitle', { channel: channelLabel(c) }), text, `ding-${m.id}`, pathFor(c, m));
  }
  const host = document.getElementById('toasts');
  if (!host) return toast(text);
  // Reminders repeat until acknowledged: one toast per message at a time.
  if ([...host.children].some((n) => n.dataset.messageId === m.id)) return;
  const el = h('div', { class: 'toast toast-ding', testid: 'ding-toast', role: 'alert', dataset: { messageId: m.id } },
    h('span', { class: 'toast-text' }, text),
    h('button', {
      type: 'button', class: 'btn btn-sm', onclick: () => {
        el.remove();
        navigate(pathFor(c, m));
      },
    }, t('chat.open')),
  );
  host.appendChild(el);
  setTimeout(() => el.remove(), 15000);
}
