// The workspace's Meetings page (/w/<ws>/meetings): start a meeting now,
// schedule one (title, local date and time, length, invitees, co-hosts,
// guests, waiting room, post the link in a channel), and the list of
// meetings I host, co-host or am invited to, with Join, Copy link, Add to
// calendar (.ics) and, for the people who run a meeting, Edit and Cancel.
//
// Times are entered and shown in the browser's time zone and sent as UTC
// (RFC 3339). The server lists every meeting that has not ended; scheduled
// ones whose time is still ahead (or under way) are "upcoming", the rest
// (instant meetings and past schedules nobody ended) are "open links".

import { h, replace, uid } from '../dom.js';
import { t, getLang } from '../i18n.js';
import { get, post, patch, seg } from '../api.js';
import { navigate } from '../router.js';
import {
  field, selectField, checkboxField, errorBox, onSubmit, openDialog, confirmDialog, runAction, toast,
  pageHeader, loading, emptyState, avatar, messageOf,
} from '../ui.js';
import { state, workspaceSummary, isAdminRole, localTimeZone } from '../session.js';
import { chat, on, useWorkspace, loadPeople, sortedChannels, mayPost, personName, isDirect } from '../chat/store.js';
import { channelTitle } from '../chat/sidebar.js';
import { peoplePicker } from '../chat/dialogs.js';
import { downloadFile } from '../chat/files.js';

/** Lengths offered in the form, in minutes (the server takes 5–1440). */
const DURATIONS = [15, 30, 45, 60, 90, 120, 180, 240, 480];
const DEFAULT_DURATION = 30;
const MINUTE = 60_000;
/** Badge "Starting soon" this long before the start. */
const SOON_MS = 15 * MINUTE;

// --- time helpers ---------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, '0');

/** `YYYY-MM-DD` of a Date in the local zone (the value of <input type=date>). */
export function dateValue(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `HH:MM` of a Date in the local zone (the value of <input type=time>). */
export function timeValue(d) {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The local Date for a date input value and a time input value, or null. */
export function localDate(date, time) {
  const dm = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || '');
  const tm = /^(\d{2}):(\d{2})/.exec(time || '');
  if (!dm || !tm) return null;
  const d = new Date(Number(dm[1]), Number(dm[2]) - 1, Number(dm[3]), Number(tm[1]), Number(tm[2]));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The next half hour at least 15 minutes away: a sensible default start. */
function defaultStart() {
  const d = new Date(Date.now() + 15 * MINUTE);
  d.setSeconds(0, 0);
  const m = d.getMinutes();
  d.setMinutes(m === 0 || m === 30 ? m : m < 30 ? 30 : 60);
  return d;
}

/** Whole calendar days from today to `d` (local zone): 0 today, 1 tomorrow. */
function daysFromToday(d) {
  const now = new Date();
  const a = Date.UTC(d.getFullYear(), d.getMonth(), d.getDate());
  const b = Date.UTC(now.getFullYear(), now.getMonth(), now.getDate());
  return Math.round((a - b) / 86_400_000);
}

const fmt = (opts) => new Intl.DateTimeFormat(getLang(), opts);
const TIME = { hour: 'numeric', minute: '2-digit' };

function dayLabel(d) {
  const diff = daysFromToday(d);
  if (diff === 0) return t('meetings.today');
  if (diff === 1) return t('meetings.tomorrow');
  if (diff === -1) return t('meetings.yesterday');
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return fmt({ weekday: 'short', month: 'short', day: 'numeric', year: sameYear ? undefined : 'numeric' }).format(d);
}

/** "Tomorrow · 10:30 – 11:15 AM" for a scheduled meeting. */
function whenText(m) {
  const start = new Date(m.starts_at);
  const end = new Date(start.getTime() + (m.duration_min || 60) * MINUTE);
  const sameDay = daysFromToday(start) === daysFromToday(end);
  const range = sameDay
    ? fmt(TIME).formatRange(start, end)
    : fmt({ month: 'short', day: 'numeric', ...TIME }).formatRange(start, end);
  return `${dayLabel(start)} · ${range}`;
}

function durationLabel(min) {
  const hours = Math.floor(min / 60);
  const rest = min % 60;
  if (!hours) return t('meetings.duration.min', { n: rest });
  if (!rest) return t('meetings.duration.hours', { n: hours, count: hours });
  return t('meetings.duration.hoursMin', { h: hours, m: rest });
}

/** "Europe/Berlin (GMT+01:00)" for the local zone on a given day. */
function zoneLabel(at = new Date()) {
  const zone = localTimeZone();
  let offset = '';
  try {
    offset = new Intl.DateTimeFormat('en', { timeZoneName: 'longOffset' }).formatToParts(at)
      .find((p) => p.type === 'timeZoneName')?.value || '';
  } catch {
    /* older engines: the zone name alone */
  }
  return offset ? `${zone} (${offset})` : zone;
}

function startOf(m) {
  return m.starts_at ? Date.parse(m.starts_at) : null;
}

function endOf(m) {
  const s = startOf(m);
  return s == null ? null : s + (m.duration_min || 60) * MINUTE;
}

/** upcoming (scheduled, not yet started), soon, live (under way), or open (instant / past). */
function statusOf(m, now = Date.now()) {
  const s = startOf(m);
  if (s == null || endOf(m) <= now) return 'open';
  if (s <= now) return 'live';
  if (s - now <= SOON_MS) return 'soon';
  return 'upcoming';
}

// --- shared actions ---------------------------------------------------------------------

function meetingUrl(m) {
  return `${location.origin}/m/${encodeURIComponent(m.code)}`;
}

async function copyLink(m) {
  const url = meetingUrl(m);
  try {
    await navigator.clipboard.writeText(url);
    toast(t('meeting.linkCopied'));
  } catch {
    const input = h('input', { type: 'text', class: 'mt-link-input code-input', readOnly: true, value: url, testid: 'meeting-link', 'aria-label': t('meeting.copyLink') });
    openDialog({ title: t('meeting.copyLink'), body: h('div', { class: 'form' }, h('p', { class: 'hint' }, t('meetings.copyManually')), input), testid: 'meeting-link-dialog' });
    input.select();
  }
}

/** A file name from a meeting title (no path separators or control characters). */
function icsName(m) {
  const base = String(m.title || '').replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 80);
  return `${base || `meeting-${m.code}`}.ics`;
}

function downloadCalendar(m, button) {
  return runAction(button, () => downloadFile({ url: `/api/meetings/${seg(m.code)}/ics`, name: icsName(m) }));
}

/** Start an instant meeting and open it. */
async function startNow(wsId, button) {
  await runAction(button, async () => {
    const name = personName(state.user);
    const meeting = await post(`/api/workspaces/${seg(wsId)}/meetings`, {
      title: name ? t('meetings.instantTitle', { name }) : t('meeting.untitled'),
    });
    navigate(`/m/${seg(meeting.code)}`);
  });
}

// --- the page ---------------------------------------------------------------------------------

export function meetingsPage(ctx) {
  const wsId = ctx.params.ws;
  const ws = workspaceSummary(wsId);
  const myId = state.user?.id;
  const canCreate = ws.role !== 'guest';
  useWorkspace(wsId);

  const upcomingList = h('div', { class: 'list-card', testid: 'meetings-list', 'aria-busy': 'true' }, loading());
  const openList = h('div', { class: 'list-card', testid: 'meetings-open-list' });
  const openSection = h('section', { class: 'mtg-section', 'aria-labelledby': 'meetings-open-title', hidden: true },
    h('h2', { class: 'section-title', id: 'meetings-open-title' }, t('meetings.openTitle')),
    h('p', { class: 'hint mtg-section-hint' }, t('meetings.openHint')),
    openList,
  );
  const live = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
  let meetings = null;
  let loadSeq = 0;

  const manages = (m) => m.host_id === myId || m.cohost_ids.includes(myId) || isAdminRole(ws.role);

  async function load() {
    const mine = ++loadSeq;
    try {
      const [list] = await Promise.all([
        get(`/api/workspaces/${seg(wsId)}/meetings`),
        loadPeople().catch(() => []), // names only; the list works without them
      ]);
      if (!ctx.alive() || mine !== loadSeq) return;
      meetings = list.meetings || [];
      render();
    } catch (err) {
      if (!ctx.alive() || mine !== loadSeq) return;
      upcomingList.removeAttribute('aria-busy');
      replace(upcomingList, h('div', { class: 'mtg-error', testid: 'meetings-error', role: 'alert' },
        h('p', {}, t('meetings.loadFailed'), ' ', messageOf(err)),
        h('button', { type: 'button', class: 'btn btn-sm', testid: 'meetings-retry', onclick: () => { replace(upcomingList, loading()); load(); } }, t('boot.retry')),
      ));
    }
  }

  // What the rows show that depends on the clock: status badges and day labels.
  const signature = (now = Date.now()) => meetings.map((m) => `${m.code}:${statusOf(m, now)}:${m.starts_at ? daysFromToday(new Date(m.starts_at)) : ''}`).join();
  let shownSignature = '';

  function render() {
    if (!meetings) return;
    const now = Date.now();
    shownSignature = signature(now);
    const upcoming = [];
    const open = [];
    for (const m of meetings) (statusOf(m, now) === 'open' ? open : upcoming).push(m);
    upcoming.sort((a, b) => startOf(a) - startOf(b));
    open.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
    upcomingList.removeAttribute('aria-busy');
    // Keep focus on the same control across re-renders (the minute tick, a reload).
    const focused = document.activeElement;
    const focusRow = focused?.closest?.('[data-testid="meeting-row"]')?.dataset.code;
    const focusId = focused?.dataset?.testid;
    replace(upcomingList, upcoming.length
      ? h('ul', { class: 'rows', 'aria-label': t('meetings.upcomingTitle') }, upcoming.map((m) => row(m, now)))
      : emptyState(t('meetings.emptyTitle'), canCreate ? t('meetings.emptyText') : t('meetings.emptyTextGuest'), 'meetings-empty'));
    openSection.hidden = !open.length;
    replace(openList, open.length ? h('ul', { class: 'rows', 'aria-label': t('meetings.openTitle') }, open.map((m) => row(m, now))) : null);
    if (focusRow && focusId) {
      document.querySelector(`[data-testid="meeting-row"][data-code="${CSS.escape(focusRow)}"] [data-testid="${CSS.escape(focusId)}"]`)?.focus({ preventScroll: true });
    }
  }

  function row(m, now) {
    const status = statusOf(m, now);
    const titleId = uid('mtg');
    const start = startOf(m);
    const host = m.host_id === myId ? t('meetings.hostYou') : personName(chat.peopleById.get(m.host_id)) || t('meetings.hostUnknown');
    const invitees = m.invitee_ids.map((id) => chat.peopleById.get(id)).filter(Boolean);
    const describe = { 'aria-describedby': titleId };
    const icon = (name) => h('span', { class: `ic ic-${name}`, 'aria-hidden': 'true' });

    let tile;
    if (start != null) {
      const d = new Date(start);
      tile = h('div', { class: 'mtg-date', 'aria-hidden': 'true' },
        h('span', { class: 'mtg-date-month' }, fmt({ month: 'short' }).format(d)),
        h('span', { class: 'mtg-date-day' }, String(d.getDate())));
    } else {
      tile = h('div', { class: 'mtg-date mtg-date-instant', 'aria-hidden': 'true' }, icon('video'));
    }

    let when;
    if (start != null) {
      when = h('time', { datetime: m.starts_at, testid: 'meeting-row-when', class: 'mtg-when-text' }, whenText(m));
    } else {
      when = h('span', { testid: 'meeting-row-when' }, t('meetings.instantSince', { time: fmt({ dateStyle: 'medium', timeStyle: 'short' }).format(new Date(m.created_at)) }));
    }

    const badges = [];
    if (status === 'live') badges.push(h('span', { class: 'badge badge-active', testid: 'meeting-row-status' }, t('meetings.status.live')));
    if (status === 'soon') badges.push(h('span', { class: 'badge badge-accent', testid: 'meeting-row-status' }, t('meetings.status.soon')));
    if (status === 'open' && start != null) badges.push(h('span', { class: 'badge', testid: 'meeting-row-status' }, t('meetings.status.past')));
    if (m.lobby) badges.push(h('span', { class: 'badge' }, t('meetings.badge.lobby')));
    if (m.locked) badges.push(h('span', { class: 'badge badge-warn' }, t('meetings.badge.locked')));

    const inviteeText = m.invitee_ids.length
      ? t('meetings.invitees', { count: m.invitee_ids.length })
      : t('meetings.noInvitees');
    const inviteeNames = invitees.map(personName).join(', ');

    const actions = [
      h('a', { href: `/m/${seg(m.code)}`, class: 'btn btn-sm btn-primary', testid: 'meeting-row-join', ...describe }, icon('video'), t('meetings.join')),
      h('button', { type: 'button', class: 'btn btn-sm', testid: 'meeting-row-copy', ...describe, onclick: () => copyLink(m) }, icon('link'), t('meetings.copyLink')),
    ];
    if (start != null) {
      const ics = h('button', { type: 'button', class: 'btn btn-sm', testid: 'meeting-row-ics', ...describe }, icon('calendar'), t('meetings.addToCalendar'));
      ics.addEventListener('click', () => downloadCalendar(m, ics));
      actions.push(ics);
    }
    if (manages(m)) {
      actions.push(h('button', {
        type: 'button', class: 'btn btn-sm', testid: 'meeting-row-edit', ...describe,
        onclick: () => meetingDialog({ wsId, meeting: m, onSaved: () => load() }),
      }, icon('edit'), t('meetings.edit')));
      const cancel = h('button', { type: 'button', class: 'btn btn-sm btn-ghost-danger', testid: 'meeting-row-cancel', ...describe },
        status === 'upcoming' || status === 'soon' ? t('meetings.cancel') : t('meetings.end'));
      cancel.addEventListener('click', () => cancelMeeting(m, status, cancel));
      actions.push(cancel);
    }

    return h('li', { class: ['row', 'mtg-row', status === 'live' && 'is-live'], testid: 'meeting-row', dataset: { code: m.code, meetingId: m.id, status } },
      tile,
      h('div', { class: 'row-main' },
        h('p', { class: 'row-title' }, h('span', { id: titleId, class: 'mtg-title', testid: 'meeting-row-title' }, m.title), badges),
        h('p', { class: 'row-meta mtg-meta' },
          when,
          h('span', { testid: 'meeting-row-host' }, t('meetings.hostedBy', { name: host })),
          h('span', { class: 'mtg-invitees', testid: 'meeting-row-invitees', dataset: { count: String(m.invitee_ids.length) }, title: inviteeNames || null },
            invitees.length ? h('span', { class: 'mtg-faces', 'aria-hidden': 'true' }, invitees.slice(0, 3).map((p) => avatar(p, 'xs'))) : null,
            inviteeText),
        ),
      ),
      h('div', { class: 'row-actions mtg-actions' }, actions),
    );
  }

  async function cancelMeeting(m, status, button) {
    const ahead = status === 'upcoming' || status === 'soon';
    const ok = await confirmDialog({
      title: ahead ? t('meetings.cancelTitle', { title: m.title }) : t('meetings.endTitle', { title: m.title }),
      message: ahead ? t('meetings.cancelText') : t('meetings.endText'),
      confirmLabel: ahead ? t('meetings.cancelConfirm') : t('meetings.endConfirm'),
      cancelLabel: ahead ? t('meetings.keep') : t('common.cancel'),
      danger: true,
    });
    if (!ok) return;
    await runAction(button, async () => {
      await post(`/api/meetings/${seg(m.code)}/end`, {});
      toast(ahead ? t('meetings.cancelled', { title: m.title }) : t('meetings.ended', { title: m.title }));
      live.textContent = t('meetings.cancelled', { title: m.title });
      await load();
    });
  }

  // Labels like "Starting soon" and "In progress" follow the clock; the list
  // itself is fetched again when the tab comes back (no live events for it).
  const tick = setInterval(() => {
    if (!ctx.alive()) return stop();
    if (meetings && signature() !== shownSignature) render();
  }, 30_000);
  const onVisible = () => {
    if (!ctx.alive()) return stop();
    if (document.visibilityState === 'visible') load();
  };
  document.addEventListener('visibilitychange', onVisible);
  function stop() {
    clearInterval(tick);
    document.removeEventListener('visibilitychange', onVisible);
  }

  const startBtn = h('button', { type: 'button', class: 'btn btn-primary', testid: 'meetings-start-now', disabled: !canCreate },
    h('span', { class: 'ic ic-video', 'aria-hidden': 'true' }), t('meetings.startNow'));
  startBtn.addEventListener('click', () => startNow(wsId, startBtn));
  const scheduleBtn = h('button', {
    type: 'button', class: 'btn', testid: 'meetings-schedule-open', disabled: !canCreate,
    onclick: () => meetingDialog({ wsId, onSaved: () => load() }),
  }, h('span', { class: 'ic ic-calendar', 'aria-hidden': 'true' }), t('meetings.schedule'));

  load();

  return h('div', { class: 'page mtg-page', testid: 'meetings-page' },
    pageHeader(t('meetings.title'), t('meetings.subtitle'), startBtn, scheduleBtn),
    canCreate ? null : h('p', { class: 'notice', testid: 'meetings-guest-note' }, t('meetings.guestNote')),
    live,
    h('section', { class: 'mtg-section', 'aria-labelledby': 'meetings-upcoming-title' },
      h('h2', { class: 'section-title', id: 'meetings-upcoming-title' }, t('meetings.upcomingTitle')),
      upcomingList,
    ),
    openSection,
  );
}

// --- schedule / edit dialog -------------------------------------------------------------------

/** Channels and DMs I may post in, for "post the link in". */
function channelOptions(select, keep) {
  const { named, direct } = sortedChannels();
  const group = (label, items) => (items.length
    ? h('optgroup', { label }, items.map((c) => h('option', { value: c.id, selected: c.id === keep }, isDirect(c) ? channelTitle(c) : `#${channelTitle(c)}`)))
    : null);
  replace(select,
    h('option', { value: '' }, t('meetings.form.noChannel')),
    group(t('chat.channels'), named.filter(mayPost)),
    group(t('chat.directMessages'), direct.filter(mayPost)),
  );
}

/**
 * Schedule a meeting (no `meeting`) or edit one. Calls onSaved(meeting) after
 * the server accepted it.
 */
export function meetingDialog({ wsId, meeting = null, onSaved }) {
  const editing = !!meeting;
  const start = editing ? (meeting.starts_at ? new Date(meeting.starts_at) : null) : defaultStart();
  const origDate = start ? dateValue(start) : '';
  const origTime = start ? timeValue(start) : '';
  // Scheduled meetings keep a time; an instant one may be given one.
  const whenRequired = !editing || !!start;

  const title = field({
    label: t('meetings.form.title'), name: 'title', testid: 'meeting-form-title', maxlength: 200,
    placeholder: t('meetings.form.titlePlaceholder'), value: editing ? meeting.title : '', autocomplete: 'off',
  });
  const date = field({ label: t('meetings.form.date'), name: 'date', type: 'date', testid: 'meeting-form-date', required: whenRequired, value: origDate, min: editing ? null : dateValue(new Date()) });
  const time = field({ label: t('meetings.form.time'), name: 'time', type: 'time', testid: 'meeting-form-time', required: whenRequired, value: origTime });
  const durationValue = String(meeting?.duration_min || DEFAULT_DURATION);
  const durations = DURATIONS.includes(Number(durationValue)) ? DURATIONS : [...DURATIONS, Number(durationValue)].sort((a, b) => a - b);
  const duration = selectField({
    label: t('meetings.form.duration'), name: 'duration', testid: 'meeting-form-duration', value: durationValue,
    options: durations.map((n) => ({ value: String(n), label: durationLabel(n) })),
  });
  const zoneId = uid('mtg-zone');
  const zone = h('p', { class: 'hint mtg-zone', id: zoneId, testid: 'meeting-form-zone' });
  const showZone = () => {
    zone.textContent = t('meetings.form.zoneHint', { zone: zoneLabel(localDate(date.input.value, time.input.value || '12:00') || new Date()) });
  };
  date.input.addEventListener('change', showZone);
  showZone();
  for (const f of [date, time]) f.input.setAttribute('aria-describedby', zoneId);

  const invitees = peoplePicker({ testid: 'meeting-form-invitees', label: t('meetings.form.invitees'), initial: meeting?.invitee_ids || [] });
  const cohostCount = h('span', { class: 'mtg-more-count' });
  const cohosts = peoplePicker({
    testid: 'meeting-form-cohosts', label: t('meetings.form.cohosts'), hint: t('meetings.form.cohostsHint'),
    initial: meeting?.cohost_ids || [],
    onChange: (ids) => { cohostCount.textContent = ids.length ? ` (${ids.length})` : ''; },
  });
  if (meeting?.cohost_ids?.length) cohostCount.textContent = ` (${meeting.cohost_ids.length})`;
  const cohostBox = h('details', { class: 'mtg-more', testid: 'meeting-form-cohosts-toggle', open: meeting?.cohost_ids?.length ? true : null },
    h('summary', {}, t('meetings.form.cohostsSummary'), cohostCount),
    cohosts,
  );

  const guests = checkboxField({ label: t('meetings.form.allowGuests'), name: 'allow_guests', testid: 'meeting-form-guests', checked: editing ? meeting.allow_guests : true, hint: t('meetings.form.allowGuestsHint') });
  const lobby = checkboxField({ label: t('meetings.form.lobby'), name: 'lobby', testid: 'meeting-form-lobby', checked: editing ? meeting.lobby : false, hint: t('meetings.form.lobbyHint') });

  let channel = null;
  let offChannels = null;
  if (!editing) {
    const id = uid('mtg-chan');
    const select = h('select', { id, name: 'channel', testid: 'meeting-form-channel', 'aria-describedby': `${id}-hint` });
    channel = h('div', { class: 'field' },
      h('label', { for: id }, t('meetings.form.channel')),
      select,
      h('p', { class: 'hint', id: `${id}-hint` }, t('meetings.form.channelHint')));
    channel.input = select;
    channelOptions(select, '');
    offChannels = on('channels', () => channelOptions(select, select.value));
  }

  const errors = errorBox('meeting-form-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'meeting-form-submit' }, editing ? t('common.save') : t('meetings.form.submit'));
  const cancel = h('button', { type: 'button', class: 'btn', testid: 'meeting-form-cancel' }, t('common.cancel'));
  // The fields scroll; the error line and the buttons stay in view below them.
  const form = h('form', { class: 'mtg-form', testid: 'meeting-form', novalidate: true },
    h('div', { class: 'form mtg-form-body' },
      title,
      h('fieldset', { class: 'fieldset' },
        h('legend', {}, t('meetings.form.when')),
        h('div', { class: 'mtg-when' }, date, time, duration),
        zone),
      invitees,
      cohostBox,
      h('fieldset', { class: 'fieldset' },
        h('legend', {}, t('meetings.form.options')),
        guests, lobby),
      channel),
    h('div', { class: 'mtg-form-foot' },
      errors,
      h('div', { class: 'form-actions' }, cancel, submit)),
  );
  // A stale complaint goes away as soon as the fields change.
  form.addEventListener('input', () => errors.clear());
  const { dialog, close } = openDialog({
    title: editing ? t('meetings.editTitle') : t('meetings.scheduleTitle'),
    body: form,
    testid: editing ? 'meeting-edit-dialog' : 'meeting-schedule-dialog',
    className: 'dialog-meeting',
  });
  cancel.addEventListener('click', close);
  dialog.addEventListener('close', () => offChannels?.());

  const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

  onSubmit(form, errors, async () => {
    const dv = date.input.value;
    const tv = time.input.value;
    let startsAt;
    if (dv || tv || whenRequired) {
      if (!dv || !tv) {
        errors.show(t('meetings.form.needWhen'));
        (dv ? time : date).input.focus();
        return;
      }
      const when = localDate(dv, tv);
      if (!when) {
        errors.show(t('meetings.form.badWhen'));
        date.input.focus();
        return;
      }
      const changed = !editing || dv !== origDate || tv !== origTime;
      if (changed && when.getTime() < Date.now() - MINUTE) {
        errors.show(t('meetings.form.past'));
        time.input.focus();
        return;
      }
      if (changed) startsAt = when.toISOString();
    }
    const body = {};
    const titleText = title.input.value.trim();
    const minutes = Number(duration.input.value);
    if (!editing) {
      body.title = titleText || t('meeting.untitled');
      body.starts_at = startsAt;
      body.duration_min = minutes;
      body.invitee_ids = invitees.selected();
      body.cohost_ids = cohosts.selected();
      body.allow_guests = guests.input.checked;
      body.lobby = lobby.input.checked;
      if (channel?.input.value) body.channel_id = channel.input.value;
      const created = await post(`/api/workspaces/${seg(wsId)}/meetings`, body);
      close();
      toast(t('meetings.scheduled', { title: created.title }));
      onSaved?.(created);
      return;
    }
    if ((titleText || t('meeting.untitled')) !== meeting.title) body.title = titleText || t('meeting.untitled');
    if (startsAt) body.starts_at = startsAt;
    // An instant meeting has no length until it is given a time or one is picked.
    if (minutes !== (meeting.duration_min ?? DEFAULT_DURATION) || (startsAt && meeting.duration_min == null)) body.duration_min = minutes;
    if (!sameSet(invitees.selected(), meeting.invitee_ids)) body.invitee_ids = invitees.selected();
    if (!sameSet(cohosts.selected(), meeting.cohost_ids)) body.cohost_ids = cohosts.selected();
    if (guests.input.checked !== meeting.allow_guests) body.allow_guests = guests.input.checked;
    if (lobby.input.checked !== meeting.lobby) body.lobby = lobby.input.checked;
    const saved = Object.keys(body).length ? await patch(`/api/meetings/${seg(meeting.code)}`, body) : meeting;
    close();
    toast(t('meetings.saved', { title: saved.title }));
    onSaved?.(saved);
  });

  if (!editing) title.input.focus();
  return { dialog, close };
}
