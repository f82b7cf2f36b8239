// Meetings inside chat: the "Start meeting" button of channel and DM headers,
// and the meeting card shown for any message link to /m/<code>.

import { h } from '../dom.js';
import { t } from '../i18n.js';
import { post, seg } from '../api.js';
import { navigate } from '../router.js';
import { runAction, formatDateTime } from '../ui.js';

const MEETING_PATH = /^\/m\/([A-Za-z0-9_-]+)\/?$/;
// The server posts a scheduled meeting as "📹 [title](link) · <start, RFC 3339 UTC>".
const STARTS_AFTER_LINK = /^\s*·\s*(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))/;

/** The meeting code of a same-origin link to /m/<code>, else null. */
export function meetingCodeOf(href) {
  let url;
  try {
    url = new URL(href, location.href);
  } catch {
    return null;
  }
  if (url.origin !== location.origin) return null;
  const m = MEETING_PATH.exec(url.pathname);
  return m ? m[1] : null;
}

/**
 * Turn meeting links in a rendered message body into cards (title + Join).
 * When the message is nothing but the link (and an emoji), the card replaces
 * the text; otherwise it follows it. Returns the cards added.
 */
export function meetingCards(body) {
  const links = [...body.querySelectorAll('a[href]')].filter((a) => meetingCodeOf(a.getAttribute('href')));
  if (!links.length) return [];
  const seen = new Set();
  const cards = [];
  const times = [];
  for (const a of links) {
    const code = meetingCodeOf(a.getAttribute('href'));
    // A start time right after the link is shown in the reader's own time zone.
    const after = a.nextSibling?.nodeType === Node.TEXT_NODE ? STARTS_AFTER_LINK.exec(a.nextSibling.textContent) : null;
    const startsAt = after && !Number.isNaN(Date.parse(after[1])) ? after[1] : null;
    if (after) times.push(after[0]);
    if (seen.has(code)) continue;
    seen.add(code);
    const title = a.textContent.trim() || t('meeting.untitled');
    cards.push(h('div', { class: 'meeting-card', testid: 'meeting-card', dataset: { code } },
      h('span', { class: 'meeting-card-icon', 'aria-hidden': 'true' }, h('span', { class: 'ic ic-video' })),
      h('span', { class: 'meeting-card-main' },
        h('span', { class: 'meeting-card-kind' }, t('meeting.card.kind')),
        h('span', { class: 'meeting-card-title', testid: 'meeting-card-title' }, title),
        startsAt ? h('time', { class: 'meeting-card-when', testid: 'meeting-card-when', datetime: startsAt }, formatDateTime(startsAt)) : null),
      h('a', { href: `/m/${seg(code)}`, class: 'btn btn-primary btn-sm meeting-card-join', testid: 'meeting-card-join', 'aria-label': t('meeting.card.joinNamed', { title }) }, t('meeting.card.join')),
    ));
  }
  let rest = body.textContent;
  for (const a of links) rest = rest.replace(a.textContent, '');
  for (const time of times) rest = rest.replace(time, '');
  const onlyLinks = rest.replace(/[\s\p{Extended_Pictographic}\u200d\ufe0f]/gu, '') === '';
  if (onlyLinks) body.hidden = true;
  return cards;
}

/**
 * The header button that starts a meeting in a channel or DM: creates it
 * (the server posts the link into the channel) and opens it in this tab.
 */
export function startMeetingButton({ wsId, channelId, title }) {
  const button = h('button', {
    type: 'button', class: 'tool-btn', testid: 'channel-meeting-start',
    'aria-label': t('meeting.start'), title: t('meeting.start'),
  }, h('span', { class: 'ic ic-video', 'aria-hidden': 'true' }));
  button.addEventListener('click', () => runAction(button, async () => {
    const meeting = await post(`/api/workspaces/${seg(wsId)}/meetings`, { channel_id: channelId, title: title() });
    navigate(`/m/${seg(meeting.code)}`);
  }));
  return button;
}
