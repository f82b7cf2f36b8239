// Admin: invite links — create (email, role, expiry, max uses), copy, list, revoke.

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, del, seg } from '../api.js';
import {
  field, selectField, errorBox, onSubmit, pageHeader, loading, emptyState, confirmDialog, runAction, toast,
  roleLabel, messageOf, timeEl, copyLink,
} from '../ui.js';
import { workspaceSummary } from '../session.js';

/**
 * The link a person opens: the server's `url`, else built from the token.
 * The server returns both only when the invite is created (it keeps tokens
 * hashed), so listed invites have no link to copy.
 */
function inviteUrl(invite) {
  if (invite.url) return invite.url;
  return invite.token ? `${location.origin}/invite#${encodeURIComponent(invite.token)}` : null;
}

function status(invite) {
  if (invite.revoked) return 'revoked';
  if (invite.expires_at && new Date(invite.expires_at).getTime() <= Date.now()) return 'expired';
  if (invite.max_uses != null && invite.uses >= invite.max_uses) return 'used';
  return 'active';
}

export function invitesPage(ctx) {
  const wsId = ctx.params.ws;
  const me = workspaceSummary(wsId);
  const base = `/api/workspaces/${seg(wsId)}/invites`;
  const list = h('div', { class: 'list-card', testid: 'invite-list' }, loading());
  const listErrors = errorBox('invite-list-error');
  const result = h('div', { class: 'invite-result', testid: 'invite-result', hidden: true });

  // --- create form ---
  const email = field({ label: t('invites.email'), name: 'email', type: 'email', testid: 'invite-email', autocomplete: 'off', hint: t('invites.emailHint'), spellcheck: 'false' });
  const roleOptions = ['member', 'guest', 'admin'].concat(me?.role === 'owner' ? ['owner'] : [])
    .map((r) => ({ value: r, label: roleLabel(r) }));
  const role = selectField({ label: t('invites.role'), name: 'role', testid: 'invite-role', options: roleOptions, value: 'member' });
  const expiry = selectField({
    label: t('invites.expires'), name: 'expires_in_hours', testid: 'invite-expiry', value: '168',
    options: [
      { value: '24', label: t('invites.hours24') },
      { value: '72', label: t('invites.days3') },
      { value: '168', label: t('invites.days7') },
      { value: '720', label: t('invites.days30') },
    ],
  });
  const maxUses = field({ label: t('invites.maxUses'), name: 'max_uses', type: 'number', testid: 'invite-max-uses', min: '1', inputmode: 'numeric', hint: t('invites.maxUsesHint') });
  const errors = errorBox('invite-error');
  const form = h('form', { class: 'form form-grid', testid: 'invite-form' },
    email, role, expiry, maxUses, errors,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'invite-create' }, t('invites.create'))),
  );
  onSubmit(form, errors, async () => {
    const body = { role: role.input.value, expires_in_hours: Number(expiry.input.value) };
    const mail = email.input.value.trim();
    if (mail) body.email = mail;
    const uses = maxUses.input.value.trim();
    if (uses) body.max_uses = Number(uses);
    const invite = await post(base, body);
    showResult(invite);
    form.reset();
    role.input.value = 'member';
    expiry.input.value = '168';
    await load();
  });

  function showResult(invite) {
    const url = inviteUrl(invite);
    const id = uid('link');
    const input = h('input', { id, type: 'text', class: 'code-input', readOnly: true, value: url, testid: 'invite-link' });
    input.addEventListener('focus', () => input.select());
    const copyBtn = h('button', { type: 'button', class: 'btn btn-primary', testid: 'invite-copy' }, t('common.copyLink'));
    copyBtn.addEventListener('click', () => copyLink(url, input));
    replace(result,
      h('label', { for: id, class: 'result-label' }, invite.email ? t('invites.linkFor', { email: invite.email }) : t('invites.linkReady')),
      h('div', { class: 'copy-row' }, input, copyBtn),
      h('p', { class: 'hint' }, t('invites.linkHint')),
    );
    result.hidden = false;
    input.focus();
  }

  // --- list ---
  const load = async () => {
    try {
      const invites = await get(base);
      if (!ctx.alive()) return;
      replace(list, invites.length
        ? h('ul', { class: 'rows' }, invites.map(inviteRow))
        : emptyState(t('invites.none'), null, 'invite-empty'));
    } catch (err) {
      if (ctx.alive()) replace(list, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    }
  };

  function inviteRow(invite) {
    const st = status(invite);
    const revoke = st === 'active' || st === 'used'
      ? h('button', { type: 'button', class: 'btn btn-sm btn-ghost-danger', testid: 'invite-revoke' }, t('invites.revoke'))
      : null;
    revoke?.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: t('invites.revokeTitle'), message: t('invites.revokeText'), confirmLabel: t('invites.revoke'), danger: true });
      if (!ok) return;
      await runAction(revoke, async () => {
        await del(`${base}/${seg(invite.id)}`);
        toast(t('invites.revoked'));
        await load();
      }, listErrors);
    });
    const copyBtn = st === 'active' && inviteUrl(invite)
      ? h('button', { type: 'button', class: 'btn btn-sm', testid: 'invite-row-copy', onclick: () => copyLink(inviteUrl(invite)) }, t('common.copyLink'))
      : null;
    const uses = invite.max_uses != null
      ? t('invites.usesOf', { uses: invite.uses, max: invite.max_uses })
      : t('invites.uses', { uses: invite.uses });
    return h('li', { class: ['row', st !== 'active' && 'is-muted'], testid: 'invite-row', dataset: { inviteId: invite.id, status: st } },
      h('span', { class: 'row-icon icon-link', 'aria-hidden': 'true' }),
      h('div', { class: 'row-main' },
        h('p', { class: 'row-title' },
          h('span', {}, invite.email || t('invites.anyone')),
          h('span', { class: 'badge' }, roleLabel(invite.role)),
          h('span', { class: `badge badge-${st}`, testid: 'invite-status' }, t(`invites.status.${st}`)),
        ),
        h('p', { class: 'row-meta' },
          h('span', { testid: 'invite-uses' }, uses),
          invite.expires_at ? h('span', {}, t('invites.expiresAt'), ' ', timeEl(invite.expires_at)) : null,
          h('span', {}, t('invites.createdAt'), ' ', timeEl(invite.created_at)),
        ),
      ),
      h('div', { class: 'row-actions' }, copyBtn, revoke),
    );
  }

  load();

  return h('div', { class: 'page' },
    pageHeader(t('invites.title'), t('invites.subtitle')),
    h('section', { class: 'card', 'aria-labelledby': 'invite-create-title' },
      h('h2', { class: 'card-title', id: 'invite-create-title' }, t('invites.createTitle')),
      form,
      result,
    ),
    h('h2', { class: 'section-title' }, t('invites.listTitle')),
    listErrors,
    list,
  );
}
