// Admin: teams (departments) as a tree — create, rename, move, delete, and
// each team's members with the lead flag.

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, patch, put, del, seg } from '../api.js';
import {
  field, selectField, errorBox, onSubmit, pageHeader, loading, emptyState, avatar, confirmDialog, runAction,
  toast, messageOf,
} from '../ui.js';

/** Order teams as a depth-first tree: [{ team, depth }], siblings by name. */
function flattenTree(teams) {
  const byParent = new Map();
  const ids = new Set(teams.map((x) => x.id));
  for (const team of teams) {
    const parent = team.parent_id && ids.has(team.parent_id) ? team.parent_id : null;
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push(team);
  }
  for (const list of byParent.values()) list.sort((a, b) => a.name.localeCompare(b.name));
  const out = [];
  const seen = new Set();
  const walk = (parent, depth) => {
    for (const team of byParent.get(parent) || []) {
      if (seen.has(team.id)) continue; // defend against a cycle in bad data
      seen.add(team.id);
      out.push({ team, depth });
      walk(team.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

/** The ids of a team and everything below it (it may not move under these). */
function subtreeIds(teams, id) {
  const result = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const team of teams) {
      if (team.parent_id && result.has(team.parent_id) && !result.has(team.id)) {
        result.add(team.id);
        grew = true;
      }
    }
  }
  return result;
}

/** Options for a parent picker: "top level" plus the tree, indented. */
function parentOptions(teams, exclude = new Set()) {
  return [
    { value: '', label: t('teams.topLevel') },
    ...flattenTree(teams)
      .filter(({ team }) => !exclude.has(team.id))
      .map(({ team, depth }) => ({ value: team.id, label: `${'\u2003'.repeat(depth)}${depth ? '└ ' : ''}${team.name}` })),
  ];
}

export function teamsPage(ctx) {
  const wsId = ctx.params.ws;
  const base = `/api/workspaces/${seg(wsId)}/teams`;
  let teams = [];
  let selectedId = new URLSearchParams(location.search).get('team');
  let workspaceMembers = null; // loaded when first needed

  const treeHost = h('div', { class: 'list-card team-tree', testid: 'team-tree' }, loading());
  const panelHost = h('section', { class: 'card team-panel', testid: 'team-panel', 'aria-live': 'polite' });
  const createHost = h('section', { class: 'card team-create', 'aria-labelledby': 'team-create-title' });

  const loadTeams = async () => {
    try {
      teams = await get(base);
      if (!ctx.alive()) return;
      if (selectedId && !teams.some((x) => x.id === selectedId)) selectedId = null;
      renderTree();
      renderCreate();
      renderPanel();
    } catch (err) {
      if (ctx.alive()) replace(treeHost, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    }
  };

  function select(id) {
    selectedId = id;
    const url = new URL(location.href);
    if (id) url.searchParams.set('team', id);
    else url.searchParams.delete('team');
    history.replaceState(null, '', url.pathname + url.search);
    renderTree();
    renderPanel();
    if (id && window.matchMedia('(max-width: 1023px)').matches) panelHost.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }

  // --- tree ---

  function renderTree() {
    if (!teams.length) {
      replace(treeHost, emptyState(t('teams.emptyTitle'), t('teams.emptyText'), 'team-empty'));
      return;
    }
    // Nested lists mirror the hierarchy for assistive technology; CSS indents them.
    const flat = flattenTree(teams);
    const root = h('ul', { class: 'tree' });
    const lists = new Map([[null, root]]);
    for (const { team } of flat) {
      const li = teamRow(team);
      const parentList = lists.get(team.parent_id && lists.has(team.parent_id) ? team.parent_id : null) || root;
      parentList.appendChild(li);
      const children = h('ul', { class: 'tree tree-children' });
      li.appendChild(children);
      lists.set(team.id, children);
    }
    for (const list of lists.values()) if (list !== root && !list.children.length) list.remove();
    replace(treeHost, root);
  }

  function teamRow(team) {
    const isSelected = team.id === selectedId;
    const name = h('button', {
      type: 'button', class: 'team-name', testid: 'team-select', 'aria-pressed': String(isSelected),
    }, h('span', { class: 'team-icon', 'aria-hidden': 'true' }), h('span', { class: 'team-label' }, team.name),
    h('span', { class: 'badge', title: t('teams.memberCount', { count: team.member_count ?? 0 }) }, String(team.member_count ?? 0)));
    name.addEventListener('click', () => select(team.id));
    return h('li', { class: 'tree-item', testid: 'team-row', dataset: { teamId: team.id } },
      h('div', { class: ['tree-row', isSelected && 'is-selected'] }, name));
  }

  // --- actions on the selected team ---

  function teamActions(team, host) {
    const rename = h('button', { type: 'button', class: 'btn btn-sm', testid: 'team-rename' }, t('teams.rename'));
    const move = h('button', { type: 'button', class: 'btn btn-sm', testid: 'team-move' }, t('teams.move'));
    const addChild = h('button', { type: 'button', class: 'btn btn-sm', testid: 'team-add-child' }, t('teams.addChild'));
    const remove = h('button', { type: 'button', class: 'btn btn-sm btn-ghost-danger', testid: 'team-delete' }, t('common.delete'));
    const bar = h('div', { class: 'team-actions' }, rename, move, addChild, remove);
    const errors = errorBox('team-action-error');
    const formHost = h('div', {});
    const closeForm = () => {
      formHost.replaceChildren();
      bar.hidden = false;
    };
    const openForm = (form, focus) => {
      bar.hidden = true;
      replace(formHost, form);
      focus.focus();
    };

    rename.addEventListener('click', () => {
      const input = field({ label: t('teams.newName'), name: 'name', testid: 'team-rename-input', required: true, value: team.name, autocomplete: 'off' });
      const errors = errorBox('team-rename-error');
      const form = h('form', { class: 'inline-form' }, input, errors, h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'btn btn-sm', onclick: closeForm }, t('common.cancel')),
        h('button', { type: 'submit', class: 'btn btn-sm btn-primary', testid: 'team-rename-save' }, t('common.save')),
      ));
      onSubmit(form, errors, async () => {
        await patch(`${base}/${seg(team.id)}`, { name: input.input.value.trim() });
        await loadTeams();
      });
      openForm(form, input.input);
      input.input.select();
    });

    move.addEventListener('click', () => {
      const parent = selectField({
        label: t('teams.moveUnder', { name: team.name }), name: 'parent_id', testid: 'team-move-parent',
        options: parentOptions(teams, subtreeIds(teams, team.id)), value: team.parent_id || '',
      });
      const errors = errorBox('team-move-error');
      const form = h('form', { class: 'inline-form' }, parent, errors, h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'btn btn-sm', onclick: closeForm }, t('common.cancel')),
        h('button', { type: 'submit', class: 'btn btn-sm btn-primary', testid: 'team-move-save' }, t('teams.move')),
      ));
      onSubmit(form, errors, async () => {
        await patch(`${base}/${seg(team.id)}`, { parent_id: parent.input.value || null });
        await loadTeams();
      });
      openForm(form, parent.input);
    });

    addChild.addEventListener('click', () => {
      const parentSelect = createHost.querySelector('[data-testid="team-create-parent"]');
      if (parentSelect) parentSelect.value = team.id;
      const nameInput = createHost.querySelector('[data-testid="team-create-name"]');
      nameInput?.scrollIntoView({ block: 'center', behavior: 'smooth' });
      nameInput?.focus({ preventScroll: true });
    });

    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: t('teams.deleteTitle', { name: team.name }), message: t('teams.deleteText'),
        confirmLabel: t('common.delete'), danger: true,
      });
      if (!ok) return;
      await runAction(remove, async () => {
        await del(`${base}/${seg(team.id)}`);
        toast(t('teams.deleted', { name: team.name }));
        if (selectedId === team.id) select(null);
        await loadTeams();
      }, errors);
    });
    replace(host, bar, errors, formHost);
  }

  // --- create ---

  function renderCreate() {
    const name = field({ label: t('teams.name'), name: 'name', testid: 'team-create-name', required: true, autocomplete: 'off' });
    const parent = selectField({ label: t('teams.parent'), name: 'parent_id', testid: 'team-create-parent', options: parentOptions(teams), value: '' });
    const errors = errorBox('team-create-error');
    const form = h('form', { class: 'form', testid: 'team-create-form' }, name, parent, errors,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'team-create-submit' }, t('teams.create'))));
    onSubmit(form, errors, async () => {
      const body = { name: name.input.value.trim() };
      if (parent.input.value) body.parent_id = parent.input.value;
      const team = await post(base, body);
      toast(t('teams.created', { name: team.name }));
      await loadTeams();
      createHost.querySelector('[data-testid="team-create-name"]')?.focus();
    });
    replace(createHost, h('h2', { class: 'card-title', id: 'team-create-title' }, t('teams.createTitle')), form);
  }

  // --- selected team's members ---

  async function renderPanel() {
    const team = teams.find((x) => x.id === selectedId);
    panelHost.classList.toggle('is-empty', !team);
    if (!team) {
      panelHost.hidden = !teams.length;
      replace(panelHost, emptyState(t('teams.pickTitle'), t('teams.pickText'), 'team-panel-empty'));
      return;
    }
    panelHost.hidden = false;
    const list = h('div', {}, loading());
    const memberErrors = errorBox('team-member-error');
    const addHost = h('div', { class: 'team-add' });
    const actionsHost = h('div', {});
    const parent = teams.find((x) => x.id === team.parent_id);
    replace(panelHost,
      h('div', { class: 'panel-head' },
        h('h2', { class: 'card-title', testid: 'team-panel-title' }, team.name),
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': t('common.close'), testid: 'team-panel-close', onclick: () => select(null) }, '×'),
      ),
      h('p', { class: 'card-subtitle' }, parent ? t('teams.under', { name: parent.name }) : t('teams.isTopLevel')),
      actionsHost,
      h('h3', { class: 'subsection-title' }, t('teams.membersOf')),
      memberErrors,
      list,
      addHost,
    );
    teamActions(team, actionsHost);
    try {
      const [members, all] = await Promise.all([
        get(`${base}/${seg(team.id)}/members`),
        workspaceMembers || get(`/api/workspaces/${seg(wsId)}/members`),
      ]);
      workspaceMembers = all;
      if (!ctx.alive() || selectedId !== team.id) return;
      const byId = new Map(all.map((m) => [m.user_id, m]));
      replace(list, members.length
        ? h('ul', { class: 'rows rows-compact' }, members
          .slice()
          .sort((a, b) => (b.lead - a.lead) || a.display_name.localeCompare(b.display_name))
          .map((m) => teamMemberRow(team, m, byId.get(m.user_id), memberErrors)))
        : emptyState(t('teams.noMembers'), null, 'team-members-empty'));
      renderAdd(team, members, all, addHost);
    } catch (err) {
      if (ctx.alive()) replace(list, h('p', { class: 'form-error', role: 'alert' }, messageOf(err)));
    }
  }

  function teamMemberRow(team, m, member, errors) {
    const leadId = uid('lead');
    const lead = h('input', { type: 'checkbox', id: leadId, testid: 'team-member-lead', checked: !!m.lead });
    lead.addEventListener('change', () => runAction(lead, async () => {
      try {
        await put(`${base}/${seg(team.id)}/members/${seg(m.user_id)}`, { lead: lead.checked });
        toast(t(lead.checked ? 'teams.leadOn' : 'teams.leadOff', { name: m.display_name }));
        renderPanel();
      } catch (err) {
        lead.checked = !lead.checked;
        throw err;
      }
    }, errors));
    const remove = h('button', { type: 'button', class: 'btn btn-sm btn-ghost-danger', testid: 'team-member-remove' }, t('teams.removeMember'));
    remove.addEventListener('click', () => runAction(remove, async () => {
      await del(`${base}/${seg(team.id)}/members/${seg(m.user_id)}`);
      toast(t('teams.memberRemoved', { name: m.display_name, team: team.name }));
      await loadTeams();
    }, errors));
    return h('li', { class: 'row', testid: 'team-member-row', dataset: { userId: m.user_id } },
      avatar({ ...m, avatar_url: member?.avatar_url }, 'sm'),
      h('div', { class: 'row-main' },
        h('p', { class: 'row-title' }, h('span', {}, m.display_name)),
        h('p', { class: 'row-meta' }, `@${m.username}`),
      ),
      h('div', { class: 'row-actions' },
        h('span', { class: 'check-inline' }, lead, h('label', { for: leadId }, t('teams.lead'))),
        remove,
      ),
    );
  }

  function renderAdd(team, members, all, host) {
    const inTeam = new Set(members.map((m) => m.user_id));
    const candidates = all.filter((m) => !inTeam.has(m.user_id) && !m.deactivated)
      .sort((a, b) => a.display_name.localeCompare(b.display_name));
    if (!candidates.length) {
      replace(host, h('p', { class: 'hint' }, t('teams.everyoneIn')));
      return;
    }
    const who = selectField({
      label: t('teams.addMember'), name: 'user_id', testid: 'team-add-member',
      options: candidates.map((m) => ({ value: m.user_id, label: `${m.display_name} (@${m.username})` })),
    });
    const errors = errorBox('team-add-member-error');
    const form = h('form', { class: 'inline-form inline-form-row' }, who,
      h('button', { type: 'submit', class: 'btn btn-primary', testid: 'team-add-member-submit' }, t('teams.add')), errors);
    onSubmit(form, errors, async () => {
      await put(`${base}/${seg(team.id)}/members/${seg(who.input.value)}`, { lead: false });
      const added = candidates.find((m) => m.user_id === who.input.value);
      toast(t('teams.memberAdded', { name: added?.display_name || '', team: team.name }));
      await loadTeams();
    });
    replace(host, form);
  }

  loadTeams();

  return h('div', { class: 'page' },
    pageHeader(t('teams.title'), t('teams.subtitle')),
    h('div', { class: 'teams-layout' }, treeHost, panelHost, createHost),
  );
}
