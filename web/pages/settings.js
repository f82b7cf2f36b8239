// Admin: workspace settings — name and open registration.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { get, patch, seg } from '../api.js';
import { field, checkboxField, errorBox, noticeBox, onSubmit, pageHeader, loading, messageOf, timeEl } from '../ui.js';
import { loadMe } from '../session.js';

export function settingsPage(ctx) {
  const wsId = ctx.params.ws;
  const path = `/api/workspaces/${seg(wsId)}`;
  const host = h('section', { class: 'card' }, loading());

  get(path)
    .then((ws) => {
      if (!ctx.alive()) return;
      const name = field({ label: t('field.workspaceName'), name: 'name', testid: 'settings-name', required: true, value: ws.name, autocomplete: 'organization' });
      const open = checkboxField({
        label: t('settings.openRegistration'), name: 'open_registration', testid: 'settings-open-registration',
        checked: ws.open_registration, hint: t('settings.openRegistrationHint'),
      });
      const errors = errorBox('settings-error');
      const saved = noticeBox('settings-saved');
      const form = h('form', { class: 'form', testid: 'settings-form' },
        h('dl', { class: 'facts' },
          h('div', {}, h('dt', {}, t('settings.slug')), h('dd', { testid: 'settings-slug' }, ws.slug)),
          h('div', {}, h('dt', {}, t('settings.created')), h('dd', {}, timeEl(ws.created_at))),
        ),
        name, open, errors, saved,
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'settings-save' }, t('common.save'))),
      );
      onSubmit(form, errors, async () => {
        saved.clear();
        const updated = await patch(path, { name: name.input.value.trim(), open_registration: open.input.checked });
        name.input.value = updated.name;
        open.input.checked = updated.open_registration;
        await loadMe(); // the header shows the new name
        saved.show(t('settings.saved'));
      });
      replace(host, form);
    })
    .catch((err) => {
      if (ctx.alive()) replace(host, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    });

  return h('div', { class: 'page page-narrow' },
    pageHeader(t('settings.title'), t('settings.subtitle')),
    host,
  );
}
