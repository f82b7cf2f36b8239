// Admin: usage per day (active people, messages, meeting minutes) as three small bar
// charts drawn as inline SVG, each with a data table for screen readers and copying.

import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { get, seg } from '../api.js';
import { pageHeader, loading, messageOf } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const RANGES = [7, 30, 90];

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) if (c != null) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

/** A bar chart of `key` over `days`; the bars carry titles, the figure a summary label. */
function chart(days, key, title, testid, peakOnly = false) {
  const values = days.map((d) => Number(d[key]) || 0);
  const max = Math.max(1, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const W = 600; const H = 120; const gap = days.length > 40 ? 1 : 2;
  const bw = W / days.length;
  const label = t('usage.chartLabel', { title, total, max: Math.max(...values, 0), from: days[0]?.date || '', to: days[days.length - 1]?.date || '' });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H + 16}`, class: 'usage-svg', role: 'img', 'aria-label': label, preserveAspectRatio: 'none' },
    s('line', { x1: 0, y1: H + 0.5, x2: W, y2: H + 0.5, class: 'usage-axis' }),
    ...days.map((d, i) => {
      const v = values[i];
      const bh = v ? Math.max(2, (v / max) * (H - 4)) : 0;
      return s('rect', { x: i * bw + gap / 2, y: H - bh, width: Math.max(1, bw - gap), height: bh, class: 'usage-bar' },
        s('title', {}, `${d.date}: ${v}`));
    }),
  );
  return h('figure', { class: 'usage-chart', testid },
    h('figcaption', { class: 'usage-caption' },
      h('span', { class: 'usage-title' }, title),
      // Summing distinct people over days counts people twice: show the busiest day instead.
      h('span', { class: 'usage-total' }, peakOnly ? t('usage.peak', { max: Math.max(...values, 0) }) : t('usage.total', { total }))),
    svg,
    h('div', { class: 'usage-range muted', 'aria-hidden': 'true' },
      h('span', {}, days[0]?.date || ''), h('span', {}, days[days.length - 1]?.date || '')),
  );
}

function table(days) {
  return h('details', { class: 'usage-details' },
    h('summary', {}, t('usage.showTable')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'table', testid: 'usage-table' },
        h('caption', { class: 'visually-hidden' }, t('usage.title')),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, t('usage.date')),
          h('th', { scope: 'col' }, t('usage.active')),
          h('th', { scope: 'col' }, t('usage.messages')),
          h('th', { scope: 'col' }, t('usage.minutes')))),
        h('tbody', {}, days.slice().reverse().map((d) => h('tr', {},
          h('th', { scope: 'row', class: 'nowrap' }, d.date),
          h('td', { 'data-label': t('usage.active') }, String(d.active_people)),
          h('td', { 'data-label': t('usage.messages') }, String(d.messages)),
          h('td', { 'data-label': t('usage.minutes') }, String(d.meeting_minutes))))))));
}

export function usagePage(ctx) {
  const wsId = ctx.params.ws;
  const host = h('div', { class: 'usage', testid: 'usage' }, loading());
  const picker = h('select', { id: 'usage-range', class: 'usage-picker', testid: 'usage-range' },
    RANGES.map((n) => h('option', { value: String(n), selected: n === 30 }, t('usage.lastDays', { n }))));
  let seq = 0;

  const load = async () => {
    const mine = ++seq;
    replace(host, loading());
    try {
      const data = await get(`/api/workspaces/${seg(wsId)}/usage?days=${seg(picker.value)}`);
      if (!ctx.alive() || mine !== seq) return;
      const days = data.days || [];
      replace(host,
        h('div', { class: 'usage-grid' },
          chart(days, 'active_people', t('usage.active'), 'usage-active', true),
          chart(days, 'messages', t('usage.messages'), 'usage-messages'),
          chart(days, 'meeting_minutes', t('usage.minutes'), 'usage-minutes')),
        table(days));
    } catch (err) {
      if (ctx.alive() && mine === seq) replace(host, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    }
  };
  picker.addEventListener('change', load);
  load();

  return h('div', { class: 'page' },
    pageHeader(t('usage.title'), t('usage.subtitle')),
    h('div', { class: 'toolbar' },
      h('label', { for: 'usage-range', class: 'toolbar-label' }, t('usage.range')),
      picker),
    host,
  );
}
