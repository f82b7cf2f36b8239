// Shared interface pieces: form fields, error boxes, dialogs, avatars, toasts,
// the language picker, and date formatting.

import { h, uid, replace } from './dom.js';
import { t, getLang, setLang, LANGS } from './i18n.js';
import { api, ApiError } from './api.js';

/** The language picker shown on every page. */
export function langPicker() {
  const id = uid('lang');
  const select = h(
    'select',
    {
      id,
      class: 'lang-select',
      testid: 'lang-picker',
      onchange: (e) => setLang(e.target.value),
    },
    LANGS.map((l) => h('option', { value: l.code, selected: l.code === getLang(), lang: l.code }, l.label)),
  );
  return h('div', { class: 'lang-picker' },
    h('label', { for: id, class: 'visually-hidden' }, t('lang.label')),
    h('span', { class: 'lang-icon', 'aria-hidden': 'true' }, '文A'),
    select,
  );
}

/**
 * A labelled input. Returns the wrapper; the control is `wrapper.input`.
 * opts: label, name, type, testid, value, required, autocomplete, hint,
 * placeholder, min, max, maxlength, inputmode, list, readonly.
 */
export function field(opts) {
  const id = uid(opts.name || 'f');
  const hintId = opts.hint ? `${id}-hint` : null;
  const attrs = {
    id,
    name: opts.name,
    type: opts.type || 'text',
    testid: opts.testid,
    required: !!opts.required,
    autocomplete: opts.autocomplete,
    placeholder: opts.placeholder,
    min: opts.min,
    max: opts.max,
    maxlength: opts.maxlength,
    inputmode: opts.inputmode,
    list: opts.list,
    readOnly: !!opts.readonly,
    'aria-describedby': hintId,
    spellcheck: opts.spellcheck,
    autocapitalize: opts.autocapitalize,
  };
  const input = h('input', attrs);
  if (opts.value != null) input.value = opts.value;
  const wrapper = h('div', { class: 'field' },
    h('label', { for: id }, opts.label),
    input,
    opts.hint ? h('p', { class: 'hint', id: hintId }, opts.hint) : null,
  );
  wrapper.input = input;
  return wrapper;
}

/** A labelled select; options: [{ value, label }]. Control is `wrapper.input`. */
export function selectField({ label, name, testid, options, value, hint }) {
  const id = uid(name || 's');
  const select = h('select', { id, name, testid },
    options.map((o) => h('option', { value: o.value, selected: o.value === value, disabled: !!o.disabled }, o.label)),
  );
  const wrapper = h('div', { class: 'field' },
    h('label', { for: id }, label),
    select,
    hint ? h('p', { class: 'hint' }, hint) : null,
  );
  wrapper.input = select;
  return wrapper;
}

/** A labelled checkbox (label after the box). Control is `wrapper.input`. */
export function checkboxField({ label, name, testid, checked, hint }) {
  const id = uid(name || 'c');
  const input = h('input', { id, name, type: 'checkbox', testid, checked: !!checked });
  const wrapper = h('div', { class: 'field field-check' },
    input,
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint' }, hint) : null,
  );
  wrapper.input = input;
  return wrapper;
}

/** An error line shown next to a form; `box.show(msg)` / `box.clear()`. */
export function errorBox(testid) {
  const box = h('p', { class: 'form-error', role: 'alert', testid, hidden: true });
  box.show = (message) => {
    box.textContent = message;
    box.hidden = !message;
  };
  box.clear = () => box.show('');
  return box;
}

/** A success/info line; `box.show(msg)` / `box.clear()`. */
export function noticeBox(testid) {
  const box = h('p', { class: 'form-notice', role: 'status', testid, hidden: true });
  box.show = (message) => {
    box.textContent = message;
    box.hidden = !message;
  };
  box.clear = () => box.show('');
  return box;
}

/** The message to show for any failure. */
export function messageOf(err) {
  if (err instanceof ApiError) return err.message;
  return t('error.unexpected');
}

/**
 * Wire a form: on submit, clear the error, disable the submit button, run
 * `action()`, and show its failure in `errors`. Returns the form.
 */
export function onSubmit(form, errors, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (form.dataset.busy) return;
    errors?.clear();
    form.dataset.busy = '1';
    const buttons = form.querySelectorAll('button[type="submit"]');
    buttons.forEach((b) => { b.disabled = true; });
    form.setAttribute('aria-busy', 'true');
    try {
      await action(event);
    } catch (err) {
      if (err?.name === 'AbortError') return;
      if (errors) errors.show(messageOf(err));
      else toast(messageOf(err), 'error');
    } finally {
      delete form.dataset.busy;
      form.removeAttribute('aria-busy');
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return form;
}

/** Run an action from a button: disables it meanwhile, reports failure as a toast (or into `errors`). */
export async function runAction(button, action, errors) {
  if (button) button.disabled = true;
  errors?.clear();
  try {
    return await action();
  } catch (err) {
    if (errors) errors.show(messageOf(err));
    else toast(messageOf(err), 'error');
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}

/** A short-lived message in the corner. */
export function toast(message, kind = 'info') {
  const host = document.getElementById('toasts');
  if (!host) return;
  const el = h('div', { class: `toast toast-${kind}`, testid: 'toast', role: kind === 'error' ? 'alert' : null }, message);
  host.appendChild(el);
  while (host.children.length > 3) host.firstElementChild.remove();
  setTimeout(() => el.remove(), kind === 'error' ? 7000 : 4000);
}

/** Copy a link, falling back to selecting its field when the clipboard is unavailable. */
export async function copyLink(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    toast(t('common.copied'));
  } catch {
    input?.select();
    toast(t('common.copyManually'));
  }
}

/** Ask for confirmation in a modal dialog. Resolves true when confirmed. */
export function confirmDialog({ title, message, confirmLabel, cancelLabel, danger = false }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary', testid: 'confirm-ok' }, confirmLabel || t('common.confirm'));
    const cancel = h('button', { type: 'button', class: 'btn', testid: 'confirm-cancel' }, cancelLabel || t('common.cancel'));
    const titleId = uid('dlg');
    const dialog = h('dialog', { class: 'dialog', testid: 'confirm-dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId, class: 'dialog-title' }, title),
      message ? h('p', { class: 'dialog-body' }, message) : null,
      h('div', { class: 'dialog-actions' }, cancel, ok),
    );
    let result = false;
    ok.addEventListener('click', () => { result = true; dialog.close(); });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A modal dialog holding arbitrary content; returns { dialog, close }. */
export function openDialog({ title, body, testid, className }) {
  const titleId = uid('dlg');
  const closeBtn = h('button', { type: 'button', class: 'icon-btn dialog-close', 'aria-label': t('common.close'), testid: 'dialog-close' }, '×');
  const dialog = h('dialog', { class: ['dialog', className], testid, 'aria-labelledby': titleId },
    h('div', { class: 'dialog-head' }, h('h2', { id: titleId, class: 'dialog-title' }, title), closeBtn),
    body,
  );
  closeBtn.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.appendChild(dialog);
  dialog.showModal();
  const first = dialog.querySelector('input, select, textarea');
  (first || closeBtn).focus();
  return { dialog, close: () => dialog.close() };
}

// --- avatars -----------------------------------------------------------------

// Avatars need the bearer token, so they are fetched as blobs and shown via
// object URLs. Cached per avatar_url (which changes when the picture does).
const avatarCache = new Map(); // url -> Promise<string|null>

function loadAvatar(url) {
  if (!avatarCache.has(url)) {
    const p = api('GET', url, { as: 'blob' })
      .then((blob) => (blob && blob.size ? URL.createObjectURL(blob) : null))
      .catch(() => {
        avatarCache.delete(url);
        return null;
      });
    avatarCache.set(url, p);
  }
  return avatarCache.get(url);
}

function initials(name) {
  const s = String(name || '?').trim();
  if (!s) return '?';
  const parts = s.split(/\s+/);
  const chars = parts.length > 1 ? [...parts[0]][0] + [...parts[parts.length - 1]][0] : [...s].slice(0, 2).join('');
  return chars.toUpperCase();
}

function hue(text) {
  let x = 0;
  for (const ch of String(text)) x = (x * 31 + ch.codePointAt(0)) % 360;
  return x;
}

/**
 * An avatar for a user-like object ({ id|user_id, display_name, avatar_url }).
 * Shows initials until the picture loads.
 */
export function avatar(person, size = 'md') {
  const name = person?.display_name || person?.username || '?';
  const el = h('span', { class: `avatar avatar-${size}`, 'aria-hidden': 'true' }, initials(name));
  el.style.setProperty('--avatar-hue', String(hue(person?.user_id || person?.id || name)));
  if (person?.avatar_url) {
    loadAvatar(person.avatar_url).then((src) => {
      if (!src) return;
      replace(el, h('img', { src, alt: '' }));
      el.classList.add('has-image');
    });
  }
  return el;
}

/** Forget a cached avatar (after upload/removal). */
export function forgetAvatar(url) {
  if (url) avatarCache.delete(url);
}

// --- time ----------------------------------------------------------------------

export function formatDateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(getLang(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

export function formatRelative(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const seconds = Math.round((d.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const rtf = new Intl.RelativeTimeFormat(getLang(), { numeric: 'auto' });
  if (abs < 45) return t('time.justNow');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 86400 * 30) return rtf.format(Math.round(seconds / 86400), 'day');
  return formatDateTime(iso);
}

/** A <time> element showing a relative time, with the exact time as its title. */
export function timeEl(iso, relative = false) {
  return h('time', { datetime: iso, title: formatDateTime(iso) }, relative ? formatRelative(iso) : formatDateTime(iso));
}

/** Page heading block used by every page. */
export function pageHeader(title, subtitle, ...actions) {
  return h('header', { class: 'page-header' },
    h('div', { class: 'page-titles' },
      h('h1', { class: 'page-title', tabindex: '-1' }, title),
      subtitle ? h('p', { class: 'page-subtitle' }, subtitle) : null,
    ),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

/** A spinner/placeholder line while data loads. */
export function loading() {
  return h('p', { class: 'loading', role: 'status' }, t('common.loading'));
}

/** An empty-state block. */
export function emptyState(title, text, testid) {
  return h('div', { class: 'empty-state', testid },
    h('p', { class: 'empty-title' }, title),
    text ? h('p', { class: 'empty-text' }, text) : null,
  );
}

/** Role labels. */
export function roleLabel(role) {
  return t(`role.${role}`);
}
