// Admin: the audit log, newest first, filterable by action, paged with "older".

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, seg } from '../api.js';
import { pageHeader, loading, emptyState, messageOf, timeEl, runAction } from '../ui.js';

const PAGE = 50;

/** The `before` cursor for the next page: the id of the oldest entry shown so far. */
const cursorOf = (entry) => entry.id;

function detailText(detail) {
  if (detail == null || detail === '') return '';
  if (typeof detail === 'string') return detail;
  if (typeof detail === 'object' && !Object.keys(detail).length) return '';
  return JSON.stringify(detail);
}

export function auditPage(ctx) {
  const wsId = ctx.params.ws;
  const base = `/api/workspaces/${seg(wsId)}/audit`;
  const host = h('div', { class: 'table-wrap', testid: 'audit-log' }, loading());
  const more = h('button', { type: 'button', class: 'btn', testid: 'audit-more', hidden: true }, t('audit.older'));
  const filterId = uid('action');
  const actions = new Set();
  const datalist = h('datalist', { id: `${filterId}-list` });
  const filter = h('input', {
    id: filterId, type: 'search', class: 'search-input', testid: 'audit-filter-action', list: `${filterId}-list`,
    placeholder: t('audit.filterPlaceholder'), autocomplete: 'off', spellcheck: 'false',
  });
  let entries = [];
  let seq = 0;
  let timer = null;

  const query = (before) => {
    const params = new URLSearchParams({ limit: String(PAGE) });
    const action = filter.value.trim();
    if (action) params.set('action', action);
    if (before) params.set('before', before);
    return `${base}?${params}`;
  };

  const load = async () => {
    const mine = ++seq;
    try {
      const page = await get(query());
      if (!ctx.alive() || mine !== seq) return;
      entries = page;
      render(page.length === PAGE);
    } catch (err) {
      if (ctx.alive() && mine === seq) replace(host, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    }
  };

  more.addEventListener('click', () => runAction(more, async () => {
    const mine = seq;
    const page = await get(query(cursorOf(entries[entries.length - 1])));
    if (!ctx.alive() || mine !== seq) return;
    const seen = new Set(entries.map((e) => e.id));
    entries = entries.concat(page.filter((e) => !seen.has(e.id)));
    render(page.length === PAGE);
  }));

  filter.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  });

  function render(hasMore) {
    for (const e of entries) {
      if (!actions.has(e.action)) {
        actions.add(e.action);
        datalist.appendChild(h('option', { value: e.action }));
      }
    }
    more.hidden = !hasMore;
    if (!entries.length) {
      replace(host, emptyState(filter.value.trim() ? t('audit.noMatch') : t('audit.none'), null, 'audit-empty'));
      return;
    }
    replace(host, h('table', { class: 'table', testid: 'audit-table' },
      h('caption', { class: 'visually-hidden' }, t('audit.title')),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('audit.time')),
        h('th', { scope: 'col' }, t('audit.actor')),
        h('th', { scope: 'col' }, t('audit.action')),
        h('th', { scope: 'col' }, t('audit.target')),
        h('th', { scope: 'col' }, t('audit.detail')),
        h('th', { scope: 'col' }, t('audit.ip')),
      )),
      h('tbody', {}, entries.map((e) => h('tr', { testid: 'audit-row', dataset: { action: e.action } },
        h('td', { class: 'nowrap' }, timeEl(e.created_at)),
        h('td', {}, e.actor_name || (e.actor_id ? e.actor_id : t('audit.system'))),
        h('td', {}, h('code', { class: 'action-code' }, e.action)),
        h('td', { class: 'muted' }, [e.target_type, e.target_id].filter(Boolean).join(' · ')),
        h('td', { class: 'detail-cell' }, detailText(e.detail)),
        h('td', { class: 'muted nowrap' }, e.ip || ''),
      ))),
    ));
  }

  load();

  return h('div', { class: 'page' },
    pageHeader(t('audit.title'), t('audit.subtitle')),
    h('div', { class: 'toolbar' },
      h('label', { for: filterId, class: 'toolbar-label' }, t('audit.filter')),
      filter, datalist,
    ),
    host,
    h('div', { class: 'center' }, more),
  );
}
