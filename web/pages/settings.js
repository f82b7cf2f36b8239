// Admin: workspace settings — name, open registration, message retention and meetings.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { get, patch, seg } from '../api.js';
import { field, checkboxField, selectField, errorBox, noticeBox, onSubmit, pageHeader, loading, messageOf, timeEl } from '../ui.js';
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
      const keep = checkboxField({
        label: t('settings.retention'), name: 'retention_on', testid: 'settings-retention-on',
        checked: ws.retention_days != null, hint: t('settings.retentionHint'),
      });
      const days = field({
        label: t('settings.retentionDays'), name: 'retention_days', type: 'number', testid: 'settings-retention-days',
        min: 1, max: 3650, inputmode: 'numeric', value: String(ws.retention_days ?? 365),
      });
      days.hidden = ws.retention_days == null;
      keep.input.addEventListener('change', () => { days.hidden = !keep.input.checked; });
      const creators = selectField({
        label: t('settings.meetingCreators'), name: 'meeting_creators', testid: 'settings-meeting-creators',
        value: ws.meeting_creators,
        options: [
          { value: 'everyone', label: t('settings.meetingCreatorsEveryone') },
          { value: 'admins', label: t('settings.meetingCreatorsAdmins') },
        ],
      });
      const guests = checkboxField({
        label: t('settings.meetingGuests'), name: 'meeting_guests_allowed', testid: 'settings-meeting-guests',
        checked: ws.meeting_guests_allowed, hint: t('settings.meetingGuestsHint'),
      });
      const errors = errorBox('settings-error');
      const saved = noticeBox('settings-saved');
      const form = h('form', { class: 'form', testid: 'settings-form' },
        h('dl', { class: 'facts' },
          h('div', {}, h('dt', {}, t('settings.slug')), h('dd', { testid: 'settings-slug' }, ws.slug)),
          h('div', {}, h('dt', {}, t('settings.created')), h('dd', {}, timeEl(ws.created_at))),
        ),
        name, open,
        h('fieldset', { class: 'fieldset' }, h('legend', {}, t('settings.messagesSection')), keep, days),
        h('fieldset', { class: 'fieldset' }, h('legend', {}, t('settings.meetingsSection')), creators, guests),
        errors, saved,
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'settings-save' }, t('common.save'))),
      );
      onSubmit(form, errors, async () => {
        saved.clear();
        const retention = keep.input.checked ? Number.parseInt(days.input.value, 10) : null;
        if (retention !== null && !(retention >= 1 && retention <= 3650)) {
          errors.show(t('settings.retentionInvalid'));
          days.input.focus();
          return;
        }
        const updated = await patch(path, {
          name: name.input.value.trim(), open_registration: open.input.checked, retention_days: retention,
          meeting_creators: creators.input.value, meeting_guests_allowed: guests.input.checked,
        });
        name.input.value = updated.name;
        open.input.checked = updated.open_registration;
        keep.input.checked = updated.retention_days != null;
        days.hidden = updated.retention_days == null;
        if (updated.retention_days != null) days.input.value = String(updated.retention_days);
        creators.input.value = updated.meeting_creators;
        guests.input.checked = updated.meeting_guests_allowed;
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
