// Admin: workspace members — search, role, deactivate/reactivate, password-reset links, remove.

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, patch, post, del, seg } from '../api.js';
import {
  errorBox, pageHeader, loading, emptyState, avatar, confirmDialog, openDialog, runAction, toast, roleLabel, messageOf, timeEl,
  formatDateTime, copyLink,
} from '../ui.js';
import { state, workspaceSummary, loadMe } from '../session.js';

const ROLES = ['owner', 'admin', 'member', 'guest'];

export function membersPage(ctx) {
  const wsId = ctx.params.ws;
  const me = workspaceSummary(wsId);
  const base = `/api/workspaces/${seg(wsId)}/members`;
  const list = h('div', { class: 'list-card', testid: 'member-list' }, loading());
  const actionErrors = errorBox('member-error');
  const count = h('p', { class: 'page-subtitle', 'aria-live': 'polite' });
  const searchId = uid('search');
  const search = h('input', {
    id: searchId, type: 'search', class: 'search-input', testid: 'member-search',
    placeholder: t('members.searchPlaceholder'), autocomplete: 'off', spellcheck: 'false',
  });
  let timer = null;
  let seq = 0;

  const load = async () => {
    const mine = ++seq;
    const q = search.value.trim();
    try {
      const members = await get(`${base}${q ? `?q=${encodeURIComponent(q)}` : ''}`);
      if (!ctx.alive() || mine !== seq) return;
      count.textContent = t('members.count', { count: members.length });
      replace(list, members.length
        ? h('ul', { class: 'rows' }, members.map((m) => memberRow(m)))
        : emptyState(q ? t('members.noMatch') : t('members.none'), null, 'member-empty'));
    } catch (err) {
      if (ctx.alive() && mine === seq) replace(list, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    }
  };

  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });

  function memberRow(m) {
    const self = m.user_id === state.user?.id;
    const canTouchOwner = me.role === 'owner';
    const roleId = uid('role');
    const roleSelect = h('select', {
      id: roleId, class: 'select-sm', testid: 'member-role',
      disabled: self || (m.role === 'owner' && !canTouchOwner),
    }, ROLES.map((r) => h('option', { value: r, selected: r === m.role, disabled: r === 'owner' && !canTouchOwner }, roleLabel(r))));
    roleSelect.addEventListener('change', () => runAction(roleSelect, async () => {
      try {
        const updated = await patch(`${base}/${seg(m.user_id)}`, { role: roleSelect.value });
        toast(t('members.roleChanged', { name: m.display_name, role: roleLabel(updated.role) }));
        replaceRow(m, updated);
      } catch (err) {
        roleSelect.value = m.role;
        throw err;
      }
    }, actionErrors));

    const deactivate = m.deactivated
      ? h('button', { type: 'button', class: 'btn btn-sm', testid: 'member-reactivate', disabled: self }, t('members.reactivate'))
      : h('button', { type: 'button', class: 'btn btn-sm', testid: 'member-deactivate', disabled: self }, t('members.deactivate'));
    deactivate.addEventListener('click', () => runAction(deactivate, async () => {
      const action = m.deactivated ? 'reactivate' : 'deactivate';
      const updated = await post(`${base}/${seg(m.user_id)}/${action}`, {});
      toast(t(m.deactivated ? 'members.reactivated' : 'members.deactivated', { name: m.display_name }));
      replaceRow(m, updated);
    }, actionErrors));

    // Admins may not reset owners; deactivated accounts get no link.
    const reset = self || m.deactivated || (m.role === 'owner' && !canTouchOwner)
      ? null
      : h('button', { type: 'button', class: 'btn btn-sm', testid: 'member-reset-password' }, t('members.resetPassword'));
    reset?.addEventListener('click', () => runAction(reset, async () => {
      const link = await post(`${base}/${seg(m.user_id)}/password-reset`, {});
      showResetLink(m, link);
    }, actionErrors));

    const remove = h('button', { type: 'button', class: 'btn btn-sm btn-ghost-danger', testid: 'member-remove', disabled: self }, t('members.remove'));
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: t('members.removeTitle', { name: m.display_name }),
        message: t('members.removeText'),
        confirmLabel: t('members.remove'),
        danger: true,
      });
      if (!ok) return;
      await runAction(remove, async () => {
        await del(`${base}/${seg(m.user_id)}`);
        toast(t('members.removed', { name: m.display_name }));
        await load();
      }, actionErrors);
    });

    const row = h('li', { class: ['row', m.deactivated && 'is-muted'], testid: 'member-row', dataset: { userId: m.user_id } },
      avatar(m, 'md'),
      h('div', { class: 'row-main' },
        h('p', { class: 'row-title' },
          h('span', { testid: 'member-name' }, m.display_name),
          self ? h('span', { class: 'badge' }, t('members.you')) : null,
          m.deactivated ? h('span', { class: 'badge badge-warn', testid: 'member-deactivated' }, t('members.deactivatedBadge')) : null,
        ),
        h('p', { class: 'row-meta' },
          h('span', {}, `@${m.username}`),
          h('span', {}, m.email),
          h('span', {}, t('members.joined'), ' ', timeEl(m.joined_at)),
        ),
      ),
      h('div', { class: 'row-actions' },
        h('label', { for: roleId, class: 'visually-hidden' }, t('members.roleFor', { name: m.display_name })),
        roleSelect, reset, deactivate, remove,
      ),
    );
    row.member = m;
    return row;
  }

  function showResetLink(m, link) {
    const id = uid('reset');
    const input = h('input', { id, type: 'text', class: 'code-input', readOnly: true, value: link.url, testid: 'reset-link' });
    input.addEventListener('focus', () => input.select());
    const copyBtn = h('button', { type: 'button', class: 'btn btn-primary', testid: 'reset-copy' }, t('common.copyLink'));
    copyBtn.addEventListener('click', () => copyLink(link.url, input));
    openDialog({
      title: t('members.resetTitle', { name: m.display_name }),
      testid: 'reset-dialog',
      body: h('div', { class: 'dialog-body' },
        h('label', { for: id, class: 'result-label' }, t('members.resetLabel')),
        h('div', { class: 'copy-row' }, input, copyBtn),
        h('p', { class: 'hint' }, t('members.resetHint', { name: m.display_name, time: formatDateTime(link.expires_at) })),
      ),
    });
  }

  function replaceRow(old, updated) {
    const row = [...list.querySelectorAll('[data-testid="member-row"]')].find((r) => r.member === old);
    if (row) row.replaceWith(memberRow({ ...old, ...updated }));
    if (old.user_id === state.user?.id) loadMe().catch(() => {});
  }

  load();

  return h('div', { class: 'page' },
    pageHeader(t('members.title'), null),
    h('div', { class: 'toolbar' },
      h('label', { for: searchId, class: 'visually-hidden' }, t('members.search')),
      search,
      count,
    ),
    actionErrors,
    list,
  );
}
