// The user's own account: profile, avatar, password, sessions.

import { h, replace } from '../dom.js';
import { t, setLang, getLang, LANGS } from '../i18n.js';
import { api, get, patch, post, del, seg } from '../api.js';
import {
  field, selectField, errorBox, noticeBox, onSubmit, runAction, pageHeader, loading, avatar, forgetAvatar,
  confirmDialog, toast, timeEl, messageOf,
} from '../ui.js';
import { state, setUser, signOut, localTimeZone } from '../session.js';
import { THEMES, theme, setTheme } from '../theme.js';

const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
const AVATAR_MAX_BYTES = 5 * 1024 * 1024;

// --- profile -----------------------------------------------------------------------

export function profilePage() {
  return h('div', { class: 'page page-narrow' },
    pageHeader(t('profile.title'), t('profile.subtitle')),
    avatarCard(),
    profileCard(),
    appearanceCard(),
    passwordCard(),
  );
}

/** Light, dark or as the system says: this device only, applied at once. */
function appearanceCard() {
  const select = selectField({
    label: t('theme.label'), name: 'theme', testid: 'profile-theme', value: theme(),
    options: THEMES.map((v) => ({ value: v, label: t(`theme.${v}`) })), hint: t('theme.hint'),
  });
  select.input.addEventListener('change', () => setTheme(select.input.value));
  return h('section', { class: 'card', 'aria-labelledby': 'appearance-card-title', testid: 'appearance-card' },
    h('h2', { class: 'card-title', id: 'appearance-card-title' }, t('theme.title')),
    h('div', { class: 'form' }, select),
  );
}

function avatarCard() {
  const user = state.user;
  const preview = h('div', { class: 'avatar-preview', testid: 'avatar-preview' }, avatar(user, 'xl'));
  const errors = errorBox('avatar-error');
  const inputId = 'avatar-file';
  const input = h('input', { type: 'file', id: inputId, class: 'file-input', accept: AVATAR_TYPES.join(','), testid: 'avatar-input' });
  const chooseLabel = h('label', { for: inputId, class: 'btn' }, t('avatar.choose'));
  const upload = h('button', { type: 'button', class: 'btn btn-primary', testid: 'avatar-upload', hidden: true }, t('avatar.upload'));
  const cancel = h('button', { type: 'button', class: 'btn', testid: 'avatar-cancel', hidden: true }, t('common.cancel'));
  const remove = h('button', { type: 'button', class: 'btn btn-ghost-danger', testid: 'avatar-remove', hidden: !user?.avatar_url }, t('avatar.remove'));
  let chosen = null;
  let previewUrl = null;

  const reset = () => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    chosen = null;
    input.value = '';
    upload.hidden = cancel.hidden = true;
    chooseLabel.hidden = false;
    remove.hidden = !state.user?.avatar_url;
    replace(preview, avatar(state.user, 'xl'));
  };

  input.addEventListener('change', () => {
    errors.clear();
    const file = input.files?.[0];
    if (!file) return;
    if (!AVATAR_TYPES.includes(file.type)) {
      errors.show(t('avatar.badType'));
      input.value = '';
      return;
    }
    if (file.size > AVATAR_MAX_BYTES) {
      errors.show(t('avatar.tooLarge'));
      input.value = '';
      return;
    }
    chosen = file;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    replace(preview, h('span', { class: 'avatar avatar-xl has-image' }, h('img', { src: previewUrl, alt: t('avatar.previewAlt') })));
    upload.hidden = cancel.hidden = false;
    chooseLabel.hidden = true;
    remove.hidden = true;
    upload.focus();
  });
  cancel.addEventListener('click', reset);
  upload.addEventListener('click', () => runAction(upload, async () => {
    const old = state.user?.avatar_url;
    const user = await api('PUT', '/api/me/avatar', { raw: chosen, contentType: chosen.type });
    forgetAvatar(old);
    forgetAvatar(user.avatar_url);
    setUser(user);
    reset();
    toast(t('avatar.saved'));
  }, errors));
  remove.addEventListener('click', () => runAction(remove, async () => {
    const old = state.user?.avatar_url;
    const user = await del('/api/me/avatar');
    forgetAvatar(old);
    setUser(user || { ...state.user, avatar_url: null });
    reset();
    toast(t('avatar.removed'));
  }, errors));

  return h('section', { class: 'card', 'aria-labelledby': 'avatar-title' },
    h('h2', { class: 'card-title', id: 'avatar-title' }, t('avatar.title')),
    h('div', { class: 'avatar-row' },
      preview,
      h('div', { class: 'avatar-actions' },
        input, chooseLabel, upload, cancel, remove,
        h('p', { class: 'hint' }, t('avatar.hint')),
      ),
    ),
    errors,
  );
}

function timeZones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

/** Whether this browser knows the IANA zone name. */
function isTimeZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function profileCard() {
  const user = state.user;
  const displayName = field({ label: t('field.displayName'), name: 'display_name', testid: 'profile-display-name', required: true, value: user.display_name, autocomplete: 'name' });
  const locale = selectField({
    label: t('profile.locale'), name: 'locale', testid: 'profile-locale', value: user.locale || getLang(),
    options: LANGS.map((l) => ({ value: l.code, label: l.label })),
  });
  const tzList = h('datalist', { id: 'tz-list' }, timeZones().map((z) => h('option', { value: z })));
  const localZone = localTimeZone();
  const timeZone = field({
    label: t('profile.timeZone'), name: 'time_zone', testid: 'profile-time-zone', value: user.time_zone || localZone,
    list: 'tz-list', autocomplete: 'off', hint: t('profile.timeZoneHint', { zone: localZone }), spellcheck: 'false',
  });
  const errors = errorBox('profile-error');
  const saved = noticeBox('profile-saved');
  const form = h('form', { class: 'form', testid: 'profile-form' },
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, t('field.email')), h('dd', { testid: 'profile-email' }, user.email)),
      h('div', {}, h('dt', {}, t('field.username')), h('dd', { testid: 'profile-username' }, user.username)),
    ),
    displayName, locale, timeZone, tzList, errors, saved,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'profile-save' }, t('common.save'))),
  );
  onSubmit(form, errors, async () => {
    saved.clear();
    if (!isTimeZone(timeZone.input.value.trim())) {
      errors.show(t('profile.badZone'));
      timeZone.input.focus();
      return;
    }
    const updated = await patch('/api/me', {
      display_name: displayName.input.value.trim(),
      locale: locale.input.value,
      time_zone: timeZone.input.value.trim(),
    });
    setUser(updated);
    if (updated.locale && updated.locale !== getLang()) {
      toast(t('profile.saved'));
      setLang(updated.locale); // re-renders the page in the new language
      return;
    }
    saved.show(t('profile.saved'));
  });
  return h('section', { class: 'card', 'aria-labelledby': 'profile-card-title' },
    h('h2', { class: 'card-title', id: 'profile-card-title' }, t('profile.details')),
    form,
  );
}

function passwordCard() {
  const current = field({ label: t('password.current'), name: 'current_password', type: 'password', testid: 'password-current', required: true, autocomplete: 'current-password' });
  const next = field({ label: t('password.new'), name: 'new_password', type: 'password', testid: 'password-new', required: true, autocomplete: 'new-password', hint: t('field.passwordHint') });
  const confirm = field({ label: t('password.confirm'), name: 'confirm_password', type: 'password', testid: 'password-confirm', required: true, autocomplete: 'new-password' });
  const errors = errorBox('password-error');
  const saved = noticeBox('password-saved');
  const form = h('form', { class: 'form', testid: 'password-form' },
    current, next, confirm, errors, saved,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'password-submit' }, t('password.submit'))),
  );
  onSubmit(form, errors, async () => {
    saved.clear();
    if (next.input.value !== confirm.input.value) {
      errors.show(t('password.mismatch'));
      confirm.input.focus();
      return;
    }
    await post('/api/me/password', { current_password: current.input.value, new_password: next.input.value });
    form.reset();
    saved.show(t('password.saved'));
  });
  return h('section', { class: 'card', 'aria-labelledby': 'password-title' },
    h('h2', { class: 'card-title', id: 'password-title' }, t('password.title')),
    form,
  );
}

// --- sessions ----------------------------------------------------------------------

export function sessionsPage(ctx) {
  const list = h('div', { class: 'list-card', testid: 'session-list' }, loading());
  const errors = errorBox('sessions-error');
  const everywhere = h('button', { type: 'button', class: 'btn btn-ghost-danger', testid: 'sessions-logout-all' }, t('sessions.everywhere'));
  everywhere.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: t('sessions.everywhereTitle'), message: t('sessions.everywhereText'), confirmLabel: t('sessions.everywhere'), danger: true });
    if (ok) await signOut({ everywhere: true });
  });

  const load = async () => {
    try {
      const sessions = await get('/api/me/sessions');
      if (!ctx.alive()) return;
      sessions.sort((a, b) => (b.current - a.current) || String(b.last_seen_at).localeCompare(String(a.last_seen_at)));
      replace(list, h('ul', { class: 'rows' }, sessions.map((s) => sessionRow(s, load, errors))));
    } catch (err) {
      if (ctx.alive()) replace(list, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    }
  };
  load();

  return h('div', { class: 'page page-narrow' },
    pageHeader(t('sessions.title'), t('sessions.subtitle'), everywhere),
    errors,
    list,
  );
}

function sessionRow(s, reload, errors) {
  const revoke = h('button', {
    type: 'button', class: s.current ? 'btn btn-sm' : 'btn btn-sm btn-ghost-danger', testid: 'session-revoke',
  }, s.current ? t('nav.signOut') : t('sessions.revoke'));
  revoke.addEventListener('click', async () => {
    if (s.current) {
      await signOut();
      return;
    }
    const ok = await confirmDialog({ title: t('sessions.revokeTitle'), message: t('sessions.revokeText', { device: s.device || s.user_agent || '' }), confirmLabel: t('sessions.revoke'), danger: true });
    if (!ok) return;
    await runAction(revoke, async () => {
      await del(`/api/me/sessions/${seg(s.id)}`);
      toast(t('sessions.revoked'));
      await reload();
    }, errors);
  });
  return h('li', { class: ['row', s.current && 'is-current'], testid: 'session-row', dataset: { sessionId: s.id } },
    h('span', { class: 'row-icon icon-device', 'aria-hidden': 'true' }),
    h('div', { class: 'row-main' },
      h('p', { class: 'row-title' },
        h('span', {}, s.device || t('sessions.unknownDevice')),
        s.current ? h('span', { class: 'badge badge-accent', testid: 'session-current' }, t('sessions.current')) : null,
      ),
      h('p', { class: 'row-meta' },
        s.ip ? h('span', {}, s.ip) : null,
        h('span', {}, t('sessions.lastSeen'), ' ', timeEl(s.last_seen_at, true)),
        h('span', {}, t('sessions.signedIn'), ' ', timeEl(s.created_at)),
      ),
      s.user_agent ? h('p', { class: 'row-meta row-ua', title: s.user_agent }, s.user_agent) : null,
    ),
    h('div', { class: 'row-actions' }, revoke),
  );
}
