// Dialogs of chat: create a channel, start a DM or group DM, browse and join
// public channels, edit a channel, add people, and manage webhooks.

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, patch, put, del, seg } from '../api.js';
import { navigate } from '../router.js';
import { field, selectField, errorBox, onSubmit, openDialog, avatar, loading, confirmDialog, runAction, toast, messageOf, formatDateTime } from '../ui.js';
import { chat, loadPeople, upsertChannel, isWsAdmin, myId, personName, channelPath, loadChannelMembers } from './store.js';

/**
 * A searchable list of workspace members with checkboxes. `initial`: ids
 * selected from the start (people no longer in the workspace are dropped).
 */
export function peoplePicker({ exclude = [], initial = [], testid = 'people-picker', label = t('chat.people'), hint, onChange } = {}) {
  const skip = new Set([myId(), ...exclude]);
  const selected = new Map();
  const searchId = uid('ppl');
  const search = h('input', { id: searchId, type: 'search', class: 'people-search', testid: 'people-search', placeholder: t('chat.searchPeople'), autocomplete: 'off' });
  const chips = h('div', { class: 'people-chips', 'aria-live': 'polite' });
  const list = h('ul', { class: 'people-list', testid: `${testid}-list`, 'aria-label': label });
  const hintId = hint ? `${searchId}-hint` : null;
  if (hintId) search.setAttribute('aria-describedby', hintId);
  const el = h('div', { class: 'people-picker', testid },
    h('label', { for: searchId, class: 'people-label' }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    chips, search, list,
  );
  let people = [];
  const renderChips = () => {
    replace(chips, [...selected.values()].map((p) => h('button', {
      type: 'button', class: 'chip', testid: 'people-chip', 'aria-label': t('chat.removePerson', { name: personName(p) }),
      onclick: () => {
        selected.delete(p.id);
        renderChips();
        renderList();
        onChange?.([...selected.keys()]);
      },
    }, personName(p), h('span', { 'aria-hidden': 'true', class: 'chip-x' }, '×'))));
  };
  const renderList = () => {
    const q = search.value.trim().toLowerCase();
    const shown = people.filter((p) => !skip.has(p.id) && !p.deactivated
      && (!q || p.display_name.toLowerCase().includes(q) || p.username.toLowerCase().includes(q)));
    if (!shown.length) {
      replace(list, h('li', { class: 'people-empty' }, t('chat.noPeople')));
      return;
    }
    replace(list, shown.slice(0, 200).map((p) => {
      const id = uid('pp');
      const box = h('input', {
        id, type: 'checkbox', checked: selected.has(p.id), testid: 'people-option-check',
        onchange: () => {
          if (box.checked) selected.set(p.id, p);
          else selected.delete(p.id);
          renderChips();
          onChange?.([...selected.keys()]);
        },
      });
      return h('li', { class: 'people-row', testid: 'people-option', dataset: { userId: p.id, username: p.username } },
        box,
        h('label', { for: id, class: 'people-row-label' },
          avatar(p, 'sm'),
          h('span', { class: 'people-name' }, p.display_name),
          h('span', { class: 'people-username' }, `@${p.username}`),
        ),
      );
    }));
  };
  search.addEventListener('input', renderList);
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      list.querySelector('input[type="checkbox"]:not(:checked)')?.click();
    }
  });
  replace(list, h('li', {}, loading()));
  // Fetched afresh: people who joined (or were deactivated) since the workspace was opened count.
  loadPeople(true).then((p) => {
    people = p;
    for (const id of initial) {
      const found = p.find((x) => x.id === id);
      if (found && !skip.has(id)) selected.set(id, found);
    }
    if (selected.size) renderChips();
    renderList();
  }).catch((err) => replace(list, h('li', { class: 'form-error' }, messageOf(err))));
  el.selected = () => [...selected.keys()];
  el.focusSearch = () => search.focus();
  return el;
}

// --- create channel ----------------------------------------------------------------

export function createChannelDialog() {
  const admin = isWsAdmin();
  const name = field({ label: t('chat.channelName'), name: 'name', testid: 'channel-create-name', required: true, maxlength: 80, placeholder: t('chat.channelNamePlaceholder'), autocomplete: 'off' });
  const kinds = [
    { value: 'public', label: t('chat.kind.public') },
    { value: 'private', label: t('chat.kind.private') },
  ];
  if (admin) {
    kinds.push({ value: 'announcement', label: t('chat.kind.announcement') });
    kinds.push({ value: 'team', label: t('chat.kind.team') });
  }
  const kind = selectField({ label: t('chat.channelKind'), name: 'kind', testid: 'channel-create-kind', options: kinds, value: 'public', hint: t('chat.kindHint.public') });
  const kindHint = kind.querySelector('.hint');
  const team = selectField({ label: t('chat.team'), name: 'team', testid: 'channel-create-team', options: [{ value: '', label: t('common.loading') }] });
  team.hidden = true;
  const topic = field({ label: t('chat.topic'), name: 'topic', testid: 'channel-create-topic', maxlength: 250, placeholder: t('chat.topicPlaceholder') });
  const people = peoplePicker({ testid: 'channel-create-members', label: t('chat.addMembersOptional') });
  const errors = errorBox('channel-create-error');
  let teamsLoaded = false;
  kind.input.addEventListener('change', async () => {
    const k = kind.input.value;
    kindHint.textContent = t(`chat.kindHint.${k}`);
    team.hidden = k !== 'team';
    people.hidden = k === 'team';
    if (k === 'team' && !teamsLoaded) {
      teamsLoaded = true;
      try {
        const teams = await get(`/api/workspaces/${seg(chat.wsId)}/teams`);
        replace(team.input, teams.length
          ? teams.map((tm) => h('option', { value: tm.id }, tm.name))
          : h('option', { value: '' }, t('chat.noTeams')));
      } catch (err) {
        teamsLoaded = false;
        errors.show(messageOf(err));
      }
    }
  });
  const form = h('form', { class: 'form', testid: 'channel-create-form' }, name, kind, team, topic, people, errors,
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', testid: 'channel-create-submit' }, t('chat.createChannel')),
    ),
  );
  const { close } = openDialog({ title: t('chat.createChannel'), body: form, testid: 'channel-create-dialog' });
  onSubmit(form, errors, async () => {
    const k = kind.input.value;
    const body = { name: name.input.value.trim(), kind: k, topic: topic.input.value.trim() };
    if (k === 'team') {
      if (!team.input.value) {
        errors.show(t('chat.pickTeam'));
        return;
      }
      body.team_id = team.input.value;
    } else {
      body.member_ids = people.selected();
    }
    const c = await post(`/api/workspaces/${seg(chat.wsId)}/channels`, body);
    upsertChannel(c);
    close();
    if (c.is_member) navigate(channelPath(c.id));
    // A team channel for a team I am not in: created, but not mine to open.
    else toast(t('chat.createdNotMember', { name: c.name }));
  });
}

// --- direct messages -----------------------------------------------------------------

export function newDmDialog() {
  const errors = errorBox('dm-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'dm-submit', disabled: true }, t('chat.startDm'));
  const people = peoplePicker({
    testid: 'dm-people',
    label: t('chat.dmWho'),
    onChange: (ids) => {
      submit.disabled = ids.length === 0;
      submit.textContent = ids.length > 1 ? t('chat.startGroup', { count: ids.length + 1 }) : t('chat.startDm');
    },
  });
  const form = h('form', { class: 'form', testid: 'dm-form' },
    h('p', { class: 'hint' }, t('chat.dmHint')),
    people, errors,
    h('div', { class: 'form-actions' }, submit),
  );
  const { close } = openDialog({ title: t('chat.newMessage'), body: form, testid: 'dm-dialog' });
  people.focusSearch();
  onSubmit(form, errors, async () => {
    const ids = people.selected();
    if (!ids.length) return;
    const c = await post(`/api/workspaces/${seg(chat.wsId)}/dms`, { user_ids: ids });
    upsertChannel(c);
    close();
    navigate(channelPath(c.id));
  });
}

/** Open (or create) the DM with one person. */
export async function openDmWith(userId) {
  const c = await post(`/api/workspaces/${seg(chat.wsId)}/dms`, { user_ids: [userId] });
  upsertChannel(c);
  navigate(channelPath(c.id));
}

// --- browse public channels ---------------------------------------------------------------

export function browseDialog() {
  const list = h('ul', { class: 'rows browse-list', testid: 'channel-browse-list' }, h('li', {}, loading()));
  const filterId = uid('browse');
  const filter = h('input', { id: filterId, type: 'search', testid: 'channel-browse-search', placeholder: t('chat.filterChannels'), autocomplete: 'off' });
  const body = h('div', { class: 'form' },
    h('label', { for: filterId, class: 'visually-hidden' }, t('chat.filterChannels')),
    filter, list);
  const { close } = openDialog({ title: t('chat.browseChannels'), body, testid: 'channel-browse-dialog' });
  let channels = [];
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = channels.filter((c) => !q || c.name.toLowerCase().includes(q) || (c.topic || '').toLowerCase().includes(q));
    if (!shown.length) {
      replace(list, h('li', { class: 'people-empty' }, t('chat.noChannelsToBrowse')));
      return;
    }
    replace(list, shown.map((c) => {
      const action = c.is_member
        ? h('button', { type: 'button', class: 'btn btn-sm', testid: 'channel-browse-open', onclick: () => { close(); navigate(channelPath(c.id)); } }, t('chat.open'))
        : h('button', {
          type: 'button', class: 'btn btn-sm btn-primary', testid: 'channel-join', disabled: c.archived,
          onclick: (e) => runAction(e.currentTarget, async () => {
            const joined = await post(`/api/channels/${seg(c.id)}/join`, {});
            upsertChannel(joined);
            close();
            navigate(channelPath(c.id));
          }),
        }, t('chat.join'));
      return h('li', { class: 'row', testid: 'channel-browse-row', dataset: { channelId: c.id } },
        h('div', { class: 'row-main' },
          h('div', { class: 'row-title' }, h('span', { class: `chan-icon chan-icon-${c.kind}`, 'aria-hidden': 'true' }), c.name,
            c.archived ? h('span', { class: 'badge' }, t('chat.archived')) : null,
            c.kind === 'announcement' ? h('span', { class: 'badge' }, t('chat.kind.announcement')) : null),
          h('div', { class: 'row-meta' },
            h('span', {}, t('chat.memberCount', { count: c.member_count })),
            c.topic ? h('span', {}, c.topic) : null),
        ),
        h('div', { class: 'row-actions' }, action),
      );
    }));
  };
  filter.addEventListener('input', render);
  get(`/api/workspaces/${seg(chat.wsId)}/channels/browse`).then((list2) => {
    channels = list2;
    render();
  }).catch((err) => replace(list, h('li', { class: 'form-error' }, messageOf(err))));
}

// --- edit channel --------------------------------------------------------------------------

export function editChannelDialog(c) {
  const name = field({ label: t('chat.channelName'), name: 'name', testid: 'channel-edit-name', required: true, maxlength: 80, value: c.name });
  const topic = field({ label: t('chat.topic'), name: 'topic', testid: 'channel-edit-topic', maxlength: 250, value: c.topic });
  const errors = errorBox('channel-edit-error');
  const form = h('form', { class: 'form', testid: 'channel-edit-form' }, name, topic, errors,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'channel-edit-save' }, t('common.save'))),
  );
  const { close } = openDialog({ title: t('chat.editChannel'), body: form, testid: 'channel-edit-dialog' });
  onSubmit(form, errors, async () => {
    const body = {};
    const n = name.input.value.trim();
    const tp = topic.input.value.trim();
    if (n !== c.name) body.name = n;
    if (tp !== c.topic) body.topic = tp;
    if (Object.keys(body).length) upsertChannel(await patch(`/api/channels/${seg(c.id)}`, body));
    close();
  });
}

export async function setArchived(c, archived) {
  if (archived) {
    const ok = await confirmDialog({ title: t('chat.archiveTitle', { name: c.name }), message: t('chat.archiveText'), confirmLabel: t('chat.archive'), danger: true });
    if (!ok) return;
  }
  await runAction(null, async () => {
    upsertChannel(await patch(`/api/channels/${seg(c.id)}`, { archived }));
    toast(archived ? t('chat.archivedToast') : t('chat.unarchivedToast'));
  });
}

// --- members ----------------------------------------------------------------------------------

export function addMembersDialog(c) {
  const existing = (chat.channelMembers.get(c.id) || []).map((m) => m.user.id);
  const errors = errorBox('members-add-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'members-add-submit', disabled: true }, t('chat.add'));
  const people = peoplePicker({ exclude: existing, testid: 'members-add-people', label: t('chat.addPeople'), onChange: (ids) => { submit.disabled = !ids.length; } });
  const form = h('form', { class: 'form', testid: 'members-add-form' }, people, errors, h('div', { class: 'form-actions' }, submit));
  const { close } = openDialog({ title: t('chat.addPeopleTo', { name: c.name || t('chat.thisConversation') }), body: form, testid: 'members-add-dialog' });
  people.focusSearch();
  onSubmit(form, errors, async () => {
    let last = null;
    for (const id of people.selected()) last = await put(`/api/channels/${seg(c.id)}/members/${seg(id)}`, {});
    if (last) upsertChannel(last);
    await loadChannelMembers(c.id);
    close();
  });
}

// --- webhooks -------------------------------------------------------------------------------------

export function webhooksDialog(c) {
  const list = h('ul', { class: 'rows', testid: 'webhook-list' }, h('li', {}, loading()));
  const name = field({ label: t('chat.botName'), name: 'bot', testid: 'webhook-name', required: true, maxlength: 64, placeholder: t('chat.botNamePlaceholder') });
  const errors = errorBox('webhook-error');
  const result = h('div', { class: 'invite-result', testid: 'webhook-result', hidden: true });
  const form = h('form', { class: 'inline-form inline-form-row' }, name,
    h('button', { type: 'submit', class: 'btn btn-primary', testid: 'webhook-create' }, t('chat.createWebhook')),
    errors);
  const body = h('div', { class: 'form' },
    h('p', { class: 'hint' }, t('chat.webhooksHint')),
    form, result,
    h('h3', { class: 'section-title' }, t('chat.activeWebhooks')),
    list,
  );
  openDialog({ title: t('chat.webhooksTitle', { name: c.name }), body, testid: 'webhooks-dialog' });
  const load = async () => {
    try {
      const hooks = await get(`/api/channels/${seg(c.id)}/webhooks`);
      if (!hooks.length) {
        replace(list, h('li', { class: 'people-empty', testid: 'webhook-empty' }, t('chat.noWebhooks')));
        return;
      }
      replace(list, hooks.map((w) => h('li', { class: 'row', testid: 'webhook-row', dataset: { webhookId: w.id } },
        h('div', { class: 'row-main' },
          h('div', { class: 'row-title' }, w.name),
          h('div', { class: 'row-meta' }, t('chat.createdAt', { time: formatDateTime(w.created_at) }))),
        h('div', { class: 'row-actions' },
          h('button', {
            type: 'button', class: 'btn btn-sm btn-ghost-danger', testid: 'webhook-revoke',
            onclick: async () => {
              const ok = await confirmDialog({ title: t('chat.revokeWebhookTitle', { name: w.name }), message: t('chat.revokeWebhookText'), confirmLabel: t('chat.revoke'), danger: true });
              if (!ok) return;
              await runAction(null, async () => {
                await del(`/api/channels/${seg(c.id)}/webhooks/${seg(w.id)}`);
                load();
              });
            },
          }, t('chat.revoke'))),
      )));
    } catch (err) {
      replace(list, h('li', { class: 'form-error' }, messageOf(err)));
    }
  };
  onSubmit(form, errors, async () => {
    const w = await post(`/api/channels/${seg(c.id)}/webhooks`, { name: name.input.value.trim() });
    name.input.value = '';
    const input = h('input', { type: 'text', class: 'code-input', readOnly: true, value: w.url || '', testid: 'webhook-url', 'aria-label': t('chat.webhookUrl') });
    replace(result,
      h('p', { class: 'result-label' }, t('chat.webhookCreated', { name: w.name })),
      h('p', { class: 'hint' }, t('chat.webhookOnce')),
      h('div', { class: 'copy-row' }, input,
        h('button', {
          type: 'button', class: 'btn', testid: 'webhook-copy',
          onclick: async () => {
            input.select();
            try {
              await navigator.clipboard.writeText(input.value);
              toast(t('chat.copied'));
            } catch {
              document.execCommand?.('copy');
            }
          },
        }, t('chat.copy'))),
      h('p', { class: 'hint' }, t('chat.webhookUsage')),
    );
    result.hidden = false;
    load();
  });
  load();
}

