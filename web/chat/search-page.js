// Search (`/w/<ws>/search?q=…&channel=…&from=…&after=…&before=…`): every
// message I may read, filtered by channel, person and date; results show the
// channel, sender, time and the message's rendered HTML with the match
// highlighted; a click jumps to the message.

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, seg } from '../api.js';
import { avatar, pageHeader, emptyState, messageOf, formatDateTime } from '../ui.js';
import { chat, on, loadPeople, sortedChannels, isDirect, channelPath, useWorkspace } from './store.js';
import { fillHtml, highlight, senderLabel } from './message.js';
import { channelTitle } from './sidebar.js';

function localMidnightIso(dateStr, addDays = 0) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateStr || '');
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + addDays);
  return d.toISOString();
}

export function searchPage(ctx) {
  const wsId = ctx.params.ws;
  useWorkspace(wsId);
  const params = new URLSearchParams(location.search);
  const qId = uid('q');
  const input = h('input', {
    id: qId, type: 'search', class: 'search-box', testid: 'search-input', placeholder: t('chat.searchPlaceholder'),
    autocomplete: 'off', enterkeyhint: 'search', maxlength: '200', value: params.get('q') || '',
  });
  const channelSel = h('select', { testid: 'search-channel', class: 'select-sm', 'aria-label': t('chat.searchInChannel') });
  const personSel = h('select', { testid: 'search-person', class: 'select-sm', 'aria-label': t('chat.searchFrom') });
  const afterIn = h('input', { type: 'date', testid: 'search-after', class: 'date-sm', 'aria-label': t('chat.searchAfter'), value: params.get('after') || '' });
  const beforeIn = h('input', { type: 'date', testid: 'search-before', class: 'date-sm', 'aria-label': t('chat.searchBefore'), value: params.get('before') || '' });
  const results = h('div', { class: 'search-results', testid: 'search-results', 'aria-live': 'polite' });
  const form = h('form', { class: 'search-form', role: 'search', testid: 'search-form' },
    h('div', { class: 'search-row' },
      h('label', { for: qId, class: 'visually-hidden' }, t('chat.search')),
      input,
      h('button', { type: 'submit', class: 'btn btn-primary', testid: 'search-submit' }, t('chat.search'))),
    h('div', { class: 'search-filters' },
      h('label', { class: 'filter' }, h('span', {}, t('chat.searchInChannel')), channelSel),
      h('label', { class: 'filter' }, h('span', {}, t('chat.searchFrom')), personSel),
      h('label', { class: 'filter' }, h('span', {}, t('chat.searchAfter')), afterIn),
      h('label', { class: 'filter' }, h('span', {}, t('chat.searchBefore')), beforeIn)),
  );

  const fillChannels = () => {
    const want = channelSel.value || params.get('channel') || '';
    const { named, direct } = sortedChannels();
    replace(channelSel,
      h('option', { value: '' }, t('chat.anyChannel')),
      named.map((c) => h('option', { value: c.id, selected: c.id === want }, `#${c.name}`)),
      direct.map((c) => h('option', { value: c.id, selected: c.id === want }, channelTitle(c))));
    if (want && !chat.channels.has(want)) channelSel.appendChild(h('option', { value: want, selected: true }, t('chat.thisChannel')));
  };
  const fillPeople = (people) => {
    const want = personSel.value || params.get('from') || '';
    replace(personSel,
      h('option', { value: '' }, t('chat.anyone')),
      people.filter((p) => !p.deactivated || p.id === want).map((p) => h('option', { value: p.id, selected: p.id === want }, `${p.display_name} (@${p.username})`)));
  };
  fillChannels();
  fillPeople([]);
  loadPeople().then((p) => ctx.alive() && fillPeople(p)).catch(() => {});
  const off = on('channels', () => {
    if (!form.isConnected && !ctx.alive()) {
      off();
      return;
    }
    fillChannels();
  });

  let seq = 0;
  let cursor = null;
  let query = null;

  const run = async (more = false) => {
    const q = input.value.trim();
    if (!q) {
      replace(results, emptyState(t('chat.searchPrompt'), t('chat.searchPromptText'), 'search-idle'));
      return;
    }
    const mySeq = ++seq;
    if (!more) {
      cursor = null;
      query = {
        q,
        channel_id: channelSel.value || null,
        from: personSel.value || null,
        after: localMidnightIso(afterIn.value),
        before: localMidnightIso(beforeIn.value, 1),
      };
      // Keep the URL shareable without re-rendering the page.
      const url = new URLSearchParams({ q });
      if (channelSel.value) url.set('channel', channelSel.value);
      if (personSel.value) url.set('from', personSel.value);
      if (afterIn.value) url.set('after', afterIn.value);
      if (beforeIn.value) url.set('before', beforeIn.value);
      history.replaceState(null, '', `${location.pathname}?${url}`);
      replace(results, h('p', { class: 'loading', role: 'status' }, t('chat.searching')));
    }
    const sp = new URLSearchParams({ q: query.q, limit: '20' });
    for (const k of ['channel_id', 'from', 'after', 'before']) if (query[k]) sp.set(k, query[k]);
    if (more && cursor) sp.set('cursor', cursor);
    try {
      const res = await get(`/api/workspaces/${seg(wsId)}/search?${sp}`);
      if (mySeq !== seq || !ctx.alive()) return;
      cursor = res.next_cursor;
      const list = more ? results.querySelector('.search-list') : h('ul', { class: 'search-list', testid: 'search-result-list' });
      if (!more) {
        if (!res.hits.length) {
          replace(results, emptyState(t('chat.noResults'), t('chat.noResultsText', { q: query.q }), 'search-empty'));
          return;
        }
        replace(results, list);
      }
      results.querySelector('.search-more')?.remove();
      for (const hit of res.hits) list.appendChild(resultItem(hit, query.q));
      if (cursor) {
        results.appendChild(h('div', { class: 'search-more center' },
          h('button', { type: 'button', class: 'btn', testid: 'search-more', onclick: () => run(true) }, t('chat.moreResults'))));
      }
    } catch (err) {
      if (mySeq !== seq) return;
      replace(results, h('p', { class: 'form-error', role: 'alert', testid: 'search-error' }, messageOf(err)));
    }
  };

  const resultItem = (hit, q) => {
    const m = hit.message;
    const c = chat.channels.get(m.channel_id);
    let where;
    if (hit.channel_name) where = `#${hit.channel_name}`;
    else if (c && isDirect(c)) where = channelTitle(c);
    else where = t('chat.directMessage');
    const body = h('div', { class: 'msg-body search-snippet', testid: 'search-snippet' });
    fillHtml(body, m.html);
    // The result is itself a link: links inside the snippet become plain text.
    for (const a of body.querySelectorAll('a')) a.replaceWith(h('span', { class: 'snippet-link' }, a.textContent));
    highlight(body, q);
    return h('li', {},
      h('a', {
        href: channelPath(m.channel_id, m.thread_root_id, m.id), class: 'search-result', testid: 'search-result', dataset: { messageId: m.id, channelId: m.channel_id },
      },
      h('span', { class: 'search-where' }, h('span', { class: 'search-channel', testid: 'search-result-channel' }, where),
        m.thread_root_id ? h('span', { class: 'badge' }, t('chat.inThread')) : null,
        h('time', { class: 'search-time', datetime: m.created_at }, formatDateTime(m.created_at))),
      h('span', { class: 'search-who' }, m.sender ? avatar(m.sender, 'xs') : null, h('span', { class: 'msg-sender' }, senderLabel(m))),
      body));
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  for (const el of [channelSel, personSel, afterIn, beforeIn]) el.addEventListener('change', () => run());

  const page = h('div', { class: 'page page-narrow search-page', testid: 'search-page' },
    pageHeader(t('chat.searchTitle'), null),
    form,
    results);
  run();
  requestAnimationFrame(() => {
    if (!input.value) input.focus();
  });
  return page;
}
