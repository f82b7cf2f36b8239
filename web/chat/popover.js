// Floating panels anchored to a button (emoji picker, menus, mention list).
// Positioned through CSSOM (the CSP forbids style attributes).

import { h } from '../dom.js';
import { t } from '../i18n.js';

let openOne = null;

/** Close whichever popover is open. */
export function closePopover() {
  openOne?.close();
}

/**
 * Show `content` next to `anchor`. Closes on Escape, on a click outside, or
 * when another popover opens. Returns { el, close }.
 */
export function popover(anchor, content, { testid, label, placement = 'above', onClose, className } = {}) {
  closePopover();
  const el = h('div', { class: ['popover', className], testid, role: 'dialog', 'aria-label': label }, content);
  document.body.appendChild(el);
  place(el, anchor, placement);
  const close = () => {
    if (openOne !== api) return;
    openOne = null;
    el.remove();
    document.removeEventListener('pointerdown', outside, true);
    document.removeEventListener('keydown', onKey, true);
    window.removeEventListener('resize', close);
    onClose?.();
  };
  const outside = (e) => {
    if (!el.contains(e.target) && !anchor.contains(e.target)) close();
  };
  const onKey = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      close();
      if (anchor.isConnected) anchor.focus();
    }
  };
  const api = { el, close };
  openOne = api;
  setTimeout(() => {
    document.addEventListener('pointerdown', outside, true);
    document.addEventListener('keydown', onKey, true);
    window.addEventListener('resize', close);
  }, 0);
  return api;
}

function place(el, anchor, placement) {
  const r = anchor.getBoundingClientRect();
  const vw = document.documentElement.clientWidth;
  const vh = document.documentElement.clientHeight;
  const w = el.offsetWidth;
  const ht = el.offsetHeight;
  let left = Math.min(Math.max(8, r.right - w), vw - w - 8);
  if (placement === 'below-start' || placement === 'above-start') left = Math.min(Math.max(8, r.left), vw - w - 8);
  let top = placement.startsWith('above') ? r.top - ht - 6 : r.bottom + 6;
  if (top < 8) top = r.bottom + 6;
  if (top + ht > vh - 8) top = Math.max(8, r.top - ht - 6);
  el.style.setProperty('left', `${Math.max(8, left)}px`);
  el.style.setProperty('top', `${Math.max(8, top)}px`);
}

/** A small built-in emoji set (reactions and the composer). */
export const EMOJI = [
  '👍', '👏', '🙏', '❤️', '😄', '😂', '🎉', '🔥',
  '✅', '👀', '🤔', '😮', '😢', '😅', '💯', '🚀',
  '👌', '💪', '🙌', '😊', '😉', '😎', '🤝', '☕',
  '📌', '📎', '⚠️', '❓', '❌', '⭐', '🌹', '🍻',
];

/** Open the emoji picker; `onPick(emoji)`. */
export function emojiPicker(anchor, onPick, placement = 'above') {
  const grid = h('div', { class: 'emoji-grid', role: 'listbox', 'aria-label': t('chat.emojiPicker') });
  const buttons = EMOJI.map((e) => h('button', {
    type: 'button', class: 'emoji-btn', testid: 'emoji-option', dataset: { emoji: e }, role: 'option', 'aria-label': e,
    onclick: () => {
      p.close();
      onPick(e);
    },
  }, e));
  grid.append(...buttons);
  grid.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const cols = 8;
    let j = i;
    if (e.key === 'ArrowRight') j = i + 1;
    else if (e.key === 'ArrowLeft') j = i - 1;
    else if (e.key === 'ArrowDown') j = i + cols;
    else if (e.key === 'ArrowUp') j = i - cols;
    else return;
    e.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, j))].focus();
  });
  const p = popover(anchor, grid, { testid: 'emoji-picker', label: t('chat.emojiPicker'), placement });
  buttons[0].focus();
  return p;
}

/** A simple action menu: items [{ label, testid, onSelect, danger, checked }] (null = separator). */
export function menuPopover(anchor, items, { testid, label, placement = 'below' } = {}) {
  const list = h('div', { class: 'pop-menu', role: 'menu' });
  const buttons = [];
  for (const item of items) {
    if (!item) {
      list.appendChild(h('hr', { class: 'menu-sep' }));
      continue;
    }
    if (item.heading) {
      list.appendChild(h('p', { class: 'menu-label' }, item.heading));
      continue;
    }
    const b = h('button', {
      type: 'button', class: ['menu-item', item.danger && 'menu-item-danger'], testid: item.testid,
      role: item.checked != null ? 'menuitemradio' : 'menuitem',
      'aria-checked': item.checked != null ? String(!!item.checked) : null,
      dataset: item.dataset,
      onclick: () => {
        p.close();
        item.onSelect();
      },
    }, h('span', { class: 'menu-item-main' }, item.label), item.checked ? h('span', { class: 'menu-check', 'aria-hidden': 'true' }, '✓') : null);
    buttons.push(b);
    list.appendChild(b);
  }
  list.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const j = e.key === 'ArrowDown' ? (i + 1) % buttons.length : (i - 1 + buttons.length) % buttons.length;
      buttons[j]?.focus();
    }
  });
  const p = popover(anchor, list, { testid, label, placement });
  buttons[0]?.focus();
  return p;
}
