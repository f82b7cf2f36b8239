// Admin: the audit log, newest first, filterable by action, paged with "older".

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, api, seg } from '../api.js';
import { pageHeader, loading, emptyState, messageOf, timeEl, runAction } from '../ui.js';

const PAGE = 50;

/** The `before` cursor for the next page: the id of the oldest entry shown so far. */
const cursorOf = (entry) => entry.id;

/** `detail` is free-form JSON: show an object as "key: value" pairs. */
function detailText(detail) {
  if (detail == null || detail === '') return '';
  if (typeof detail !== 'object') return String(detail);
  if (Array.isArray(detail)) return JSON.stringify(detail);
  return Object.entries(detail)
    .filter(([, v]) => v != null && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(', ');
}

/** Target as "type · short id", the full id in the tooltip. */
function targetCell(e) {
  if (!e.target_type && !e.target_id) return h('td', { class: 'muted', 'data-label': t('audit.target') });
  const id = e.target_id ? String(e.target_id) : '';
  // Ids are time-ordered (their heads repeat), so the tail tells them apart.
  const short = id.length > 12 ? `…${id.slice(-8)}` : id;
  return h('td', { class: 'muted', 'data-label': t('audit.target'), title: id || null },
    [e.target_type, short].filter(Boolean).join(' · '));
}

export function auditPage(ctx) {
  const wsId = ctx.params.ws;
  const base = `/api/workspaces/${seg(wsId)}/audit`;
  const host = h('div', { class: 'table-wrap', testid: 'audit-log' }, loading());
  const more = h('button', { type: 'button', class: 'btn', testid: 'audit-more', hidden: true }, t('audit.older'));
  const download = h('button', { type: 'button', class: 'btn', testid: 'audit-download' }, t('audit.downloadCsv'));
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

  // The token lives in memory, so the file is fetched with it and handed over as a blob.
  download.addEventListener('click', () => runAction(download, async () => {
    const params = new URLSearchParams();
    const action = filter.value.trim();
    if (action) params.set('action', action);
    const blob = await api('GET', `${base}.csv?${params}`, { as: 'blob' });
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `audit-${new Date().toISOString().slice(0, 10)}.csv`, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
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
      // data-label lets narrow screens show each row as a labelled card.
      h('tbody', {}, entries.map((e) => h('tr', { testid: 'audit-row', dataset: { action: e.action } },
        h('td', { class: 'nowrap', 'data-label': t('audit.time') }, timeEl(e.created_at)),
        h('td', { 'data-label': t('audit.actor') }, e.actor_name || e.actor_id || t('audit.system')),
        h('td', { 'data-label': t('audit.action') }, h('code', { class: 'action-code' }, e.action)),
        targetCell(e),
        h('td', { class: 'detail-cell', 'data-label': t('audit.detail') }, detailText(e.detail)),
        h('td', { class: 'muted nowrap', 'data-label': t('audit.ip') }, e.ip || ''),
      ))),
    ));
  }

  load();

  return h('div', { class: 'page' },
    pageHeader(t('audit.title'), t('audit.subtitle')),
    h('div', { class: 'toolbar' },
      h('label', { for: filterId, class: 'toolbar-label' }, t('audit.filter')),
      filter, datalist,
      download,
    ),
    host,
    h('div', { class: 'center' }, more),
  );
}
