// The message composer: multi-line input (Enter sends, Shift+Enter is a new
// line, IME-safe), @mention autocomplete from the channel's members, emoji,
// file upload (button, drag and drop, paste) with progress, quote replies, the
// DING toggle, and typing notifications.

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { realtime } from '../realtime.js';
import { avatar, toast, messageOf } from '../ui.js';
import { chat, sendMessage, loadChannelMembers, myId, isDirect } from './store.js';
import { uploadFile, formatSize } from './files.js';
import { emojiPicker, popover, closePopover } from './popover.js';
import { senderLabel, excerptOf } from './message.js';

const drafts = new Map(); // key -> text
const TYPING_EVERY_MS = 3000;
const MAX_FILES = 10;

export class Composer {
  /** opts: channel() -> Channel, threadRootId, placeholder, onSent() */
  constructor(opts) {
    this.opts = opts;
    this.key = opts.threadRootId ? `${opts.channelId}:${opts.threadRootId}` : opts.channelId;
    this.uploads = []; // { file, info, progress, error, abort, node }
    this.quote = null;
    this.ding = false;
    this.lastTyping = 0;
    this.mention = null; // { start, query, items, index, pop }

    const inputId = uid('composer');
    this.input = h('textarea', {
      id: inputId, class: 'composer-input', testid: 'composer-input', rows: '1',
      placeholder: opts.placeholder || t('chat.writeMessage'),
      'aria-label': opts.placeholder || t('chat.writeMessage'),
      'aria-autocomplete': 'list', enterkeyhint: 'send', spellcheck: 'true',
    });
    this.input.value = drafts.get(this.key) || '';
    this.fileInput = h('input', { type: 'file', multiple: true, class: 'file-input', testid: 'composer-file-input', tabindex: '-1', 'aria-hidden': 'true' });
    this.tray = h('div', { class: 'composer-tray', hidden: true });
    this.quoteBox = h('div', { class: 'composer-quote', hidden: true });
    this.sendBtn = h('button', { type: 'button', class: 'composer-send', testid: 'composer-send', 'aria-label': t('chat.send'), title: t('chat.sendHint') },
      h('span', { class: 'ic ic-send', 'aria-hidden': 'true' }));
    this.dingBtn = opts.threadRootId ? null : h('button', {
      type: 'button', class: 'composer-tool composer-ding', testid: 'composer-ding', 'aria-pressed': 'false', title: t('chat.dingHint'),
    }, t('chat.ding'));
    this.emojiBtn = h('button', { type: 'button', class: 'composer-tool', testid: 'composer-emoji', 'aria-label': t('chat.insertEmoji'), title: t('chat.insertEmoji') },
      h('span', { class: 'ic ic-smile', 'aria-hidden': 'true' }));
    this.attachBtn = h('button', { type: 'button', class: 'composer-tool', testid: 'composer-attach', 'aria-label': t('chat.attachFiles'), title: t('chat.attachFiles') },
      h('span', { class: 'ic ic-clip', 'aria-hidden': 'true' }));
    this.mentionBtn = h('button', { type: 'button', class: 'composer-tool', testid: 'composer-mention', 'aria-label': t('chat.mentionSomeone'), title: t('chat.mentionSomeone') },
      h('span', { class: 'ic ic-at', 'aria-hidden': 'true' }));
    this.note = h('p', { class: 'composer-note', testid: 'composer-disabled', hidden: true });
    this.box = h('div', { class: 'composer-box' },
      this.quoteBox,
      this.tray,
      h('div', { class: 'composer-row' }, this.input, this.sendBtn),
      h('div', { class: 'composer-tools' },
        this.emojiBtn, this.mentionBtn, this.attachBtn, this.fileInput, this.dingBtn,
        h('span', { class: 'composer-hint', id: `${inputId}-hint` }, t('chat.markdownHint'))),
    );
    this.input.setAttribute('aria-describedby', `${inputId}-hint`);
    this.dropHint = h('div', { class: 'drop-hint', 'aria-hidden': 'true' }, t('chat.dropFiles'));
    this.el = h('div', { class: 'composer', testid: opts.threadRootId ? 'thread-composer' : 'composer' }, this.note, this.box, this.dropHint);

    this.sendBtn.addEventListener('click', () => this.submit());
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.input.addEventListener('input', () => this.onInput());
    this.input.addEventListener('blur', () => setTimeout(() => {
      if (!this.el.contains(document.activeElement)) this.closeMentions();
    }, 150));
    this.input.addEventListener('paste', (e) => {
      const files = [...(e.clipboardData?.files || [])];
      if (files.length) {
        e.preventDefault();
        this.addFiles(files);
      }
    });
    this.attachBtn.addEventListener('click', () => this.fileInput.click());
    this.fileInput.addEventListener('change', () => {
      this.addFiles([...this.fileInput.files]);
      this.fileInput.value = '';
    });
    this.emojiBtn.addEventListener('click', () => emojiPicker(this.emojiBtn, (e) => this.insert(e)));
    this.mentionBtn.addEventListener('click', () => {
      this.insert(this.needsSpaceBefore() ? ' @' : '@');
      this.onInput();
    });
    this.dingBtn?.addEventListener('click', () => this.setDing(!this.ding));
    // Drag and drop anywhere on the composer's host (set by the page via dropTarget()).
    this.autosize();
    this.refreshSend();
  }

  /** Accept files dropped anywhere on `target` (e.g. the whole channel view). */
  dropTarget(target) {
    let depth = 0;
    const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
    target.addEventListener('dragenter', (e) => {
      if (!hasFiles(e) || this.disabled) return;
      e.preventDefault();
      depth += 1;
      this.el.classList.add('is-dropping');
    });
    target.addEventListener('dragover', (e) => {
      if (!hasFiles(e) || this.disabled) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    });
    target.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) this.el.classList.remove('is-dropping');
    });
    target.addEventListener('drop', (e) => {
      if (!hasFiles(e) || this.disabled) return;
      e.preventDefault();
      e.stopPropagation();
      depth = 0;
      this.el.classList.remove('is-dropping');
      this.addFiles([...e.dataTransfer.files]);
    });
  }

  channel() {
    return this.opts.channel();
  }

  /** Disable with a note (archived, announcement), or enable with null. */
  setDisabled(reason) {
    this.disabled = !!reason;
    this.note.hidden = !reason;
    this.note.textContent = reason || '';
    this.box.hidden = !!reason;
  }

  focus() {
    if (!this.disabled) this.input.focus();
  }

  setDing(on) {
    this.ding = on;
    if (!this.dingBtn) return;
    this.dingBtn.setAttribute('aria-pressed', String(on));
    this.dingBtn.classList.toggle('is-on', on);
  }

  setQuote(m) {
    this.quote = m;
    if (!m) {
      this.quoteBox.hidden = true;
      replace(this.quoteBox);
      return;
    }
    replace(this.quoteBox,
      h('div', { class: 'composer-quote-main', testid: 'composer-quote' },
        h('span', { class: 'composer-quote-label' }, t('chat.quoting', { name: senderLabel(m) })),
        h('span', { class: 'composer-quote-text' }, excerptOf(m))),
      h('button', { type: 'button', class: 'icon-btn icon-btn-sm', testid: 'composer-quote-clear', 'aria-label': t('chat.cancelQuote'), onclick: () => { this.setQuote(null); this.focus(); } }, '×'));
    this.quoteBox.hidden = false;
    this.focus();
  }

  // --- text ---------------------------------------------------------------------------------

  autosize() {
    const el = this.input;
    el.style.setProperty('height', 'auto');
    const max = window.innerHeight < 600 ? 120 : 220;
    el.style.setProperty('height', `${Math.min(max, el.scrollHeight + 2)}px`);
  }

  needsSpaceBefore() {
    const pos = this.input.selectionStart ?? this.input.value.length;
    return pos > 0 && !/\s/.test(this.input.value[pos - 1]);
  }

  insert(text) {
    const el = this.input;
    const start = el.selectionStart ?? el.value.length;
    const end = el.selectionEnd ?? el.value.length;
    el.setRangeText(text, start, end, 'end');
    el.focus();
    this.afterChange();
  }

  afterChange() {
    drafts.set(this.key, this.input.value);
    this.autosize();
    this.refreshSend();
  }

  onInput() {
    this.afterChange();
    if (this.input.value.trim()) this.sendTyping();
    this.updateMentions();
  }

  sendTyping() {
    const now = Date.now();
    if (now - this.lastTyping < TYPING_EVERY_MS) return;
    this.lastTyping = now;
    realtime.send({ type: 'typing', channel_id: this.opts.channelId, thread_root_id: this.opts.threadRootId || null });
  }

  onKey(e) {
    if (this.mention?.items.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const n = this.mention.items.length;
        this.mention.index = (this.mention.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
        this.renderMentions();
        return;
      }
      if ((e.key === 'Enter' || e.key === 'Tab') && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.pickMention(this.mention.items[this.mention.index]);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        this.closeMentions();
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      // Do not send while an input method is composing (Chinese, Japanese…).
      if (e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      this.submit();
      return;
    }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      this.submit();
      return;
    }
    if (e.key === 'ArrowUp' && !this.input.value && this.opts.onEditLast) {
      if (this.opts.onEditLast()) e.preventDefault();
      return;
    }
    if (e.key === 'Escape' && this.quote) {
      e.preventDefault();
      this.setQuote(null);
    }
  }

  // --- mentions -------------------------------------------------------------------------------

  async updateMentions() {
    const el = this.input;
    const pos = el.selectionStart ?? 0;
    const before = el.value.slice(0, pos);
    const m = /(^|[^\p{L}\p{N}._])@([\p{L}\p{N}._-]{0,30})$/u.exec(before);
    if (!m) {
      this.closeMentions();
      return;
    }
    const query = m[2].toLowerCase();
    const start = pos - m[2].length - 1;
    let members = chat.channelMembers.get(this.opts.channelId);
    if (!members) {
      try {
        members = await loadChannelMembers(this.opts.channelId);
      } catch {
        members = [];
      }
    }
    const c = this.channel();
    const items = [];
    const mine = myId();
    if (c && !isDirect(c)) {
      const allWords = ['all', '所有人'];
      if (!query || allWords.some((w) => w.startsWith(query))) {
        items.push({ username: 'all', label: t('chat.mentionAll'), all: true });
      }
    }
    for (const mem of members) {
      const u = mem.user;
      if (u.id === mine) continue;
      if (!query || u.username.toLowerCase().includes(query) || (u.display_name || '').toLowerCase().includes(query)) {
        items.push({ username: u.username, label: u.display_name, user: u });
      }
      if (items.length >= 8) break;
    }
    if (!items.length) {
      this.closeMentions();
      return;
    }
    const keep = this.mention && this.mention.start === start ? Math.min(this.mention.index, items.length - 1) : 0;
    this.mention = { ...(this.mention || {}), start, query, items, index: keep };
    this.renderMentions();
  }

  renderMentions() {
    const mm = this.mention;
    const listId = `${this.input.id}-mentions`;
    const list = h('ul', { class: 'mention-list', id: listId, role: 'listbox', testid: 'mention-popup', 'aria-label': t('chat.mentionSomeone') },
      mm.items.map((it, i) => h('li', {
        id: `${listId}-${i}`, role: 'option', class: ['mention-option', i === mm.index && 'is-active'], testid: 'mention-option',
        dataset: { username: it.username }, 'aria-selected': String(i === mm.index),
        onmousedown: (e) => {
          e.preventDefault();
          this.pickMention(it);
        },
      },
      it.all ? h('span', { class: 'avatar avatar-xs avatar-all', 'aria-hidden': 'true' }, '@') : avatar(it.user, 'xs'),
      h('span', { class: 'mention-name' }, it.label),
      h('span', { class: 'mention-username' }, `@${it.username}`))));
    if (mm.pop && mm.pop.el.isConnected) {
      mm.pop.el.replaceChildren(list);
    } else {
      mm.pop = popover(this.input, list, { testid: 'mention-popover', label: t('chat.mentionSomeone'), placement: 'above-start', className: 'popover-mentions', onClose: () => { if (this.mention?.pop === mm.pop) this.mention = null; } });
      this.input.focus();
    }
    this.input.setAttribute('aria-controls', listId);
    this.input.setAttribute('aria-expanded', 'true');
    this.input.setAttribute('aria-activedescendant', `${listId}-${mm.index}`);
  }

  pickMention(item) {
    const mm = this.mention;
    if (!mm) return;
    const el = this.input;
    const pos = el.selectionStart ?? el.value.length;
    el.setRangeText(`@${item.username} `, mm.start, pos, 'end');
    this.closeMentions();
    el.focus();
    this.afterChange();
  }

  closeMentions() {
    if (this.mention?.pop) {
      const pop = this.mention.pop;
      this.mention = null;
      pop.close();
    }
    this.mention = null;
    this.input.removeAttribute('aria-activedescendant');
    this.input.setAttribute('aria-expanded', 'false');
  }

  // --- files ----------------------------------------------------------------------------------------

  addFiles(files) {
    if (this.disabled) return;
    for (const file of files) {
      if (this.uploads.length >= MAX_FILES) {
        toast(t('chat.tooManyFiles', { count: MAX_FILES }), 'error');
        break;
      }
      this.startUpload(file);
    }
  }

  startUpload(file) {
    const up = { file, info: null, error: null, progress: 0 };
    const bar = h('progress', { class: 'upload-bar', testid: 'upload-progress', max: '100', value: '0', 'aria-label': t('chat.uploading', { name: file.name }) });
    const pct = h('span', { class: 'upload-pct', testid: 'upload-percent' }, '0%');
    const remove = h('button', { type: 'button', class: 'icon-btn icon-btn-sm', testid: 'upload-remove', 'aria-label': t('chat.removeFile', { name: file.name }) }, '×');
    const status = h('span', { class: 'upload-status', role: 'status' });
    up.node = h('div', { class: 'upload', testid: 'upload-item', dataset: { state: 'uploading' } },
      h('span', { class: 'upload-name' }, file.name),
      h('span', { class: 'upload-size' }, formatSize(file.size)),
      bar, pct, status, remove);
    up.bar = bar;
    up.pct = pct;
    remove.addEventListener('click', () => {
      up.abort?.();
      this.uploads = this.uploads.filter((x) => x !== up);
      up.node.remove();
      this.tray.hidden = !this.uploads.length;
      this.refreshSend();
    });
    this.uploads.push(up);
    this.tray.appendChild(up.node);
    this.tray.hidden = false;
    const { promise, abort } = uploadFile(this.opts.channelId, file, (loaded, total) => {
      const p = total ? Math.round((loaded / total) * 100) : 0;
      up.progress = p;
      bar.value = p;
      pct.textContent = `${p}%`;
    });
    up.abort = abort;
    this.refreshSend();
    promise.then((info) => {
      up.info = info;
      bar.value = 100;
      pct.textContent = '100%';
      up.node.dataset.state = 'done';
      status.textContent = t('chat.uploaded');
      this.refreshSend();
    }).catch((err) => {
      if (err?.name === 'AbortError') return;
      up.error = err;
      up.node.dataset.state = 'failed';
      up.node.classList.add('is-failed');
      status.textContent = messageOf(err);
      this.refreshSend();
    });
  }

  uploading() {
    return this.uploads.some((u) => !u.info && !u.error);
  }

  refreshSend() {
    const ready = this.uploads.filter((u) => u.info);
    const has = this.input.value.trim().length > 0 || ready.length > 0;
    this.sendBtn.disabled = !has || this.uploading();
    this.sendBtn.title = this.uploading() ? t('chat.waitForUploads') : t('chat.sendHint');
  }

  // --- send ---------------------------------------------------------------------------------------------

  submit() {
    if (this.disabled) return;
    if (this.uploading()) {
      toast(t('chat.waitForUploads'));
      return;
    }
    const body = this.input.value.replace(/\s+$/, '');
    const files = this.uploads.filter((u) => u.info).map((u) => u.info);
    if (!body.trim() && !files.length) return;
    sendMessage(this.opts.channelId, {
      body: body.trim() ? body : '',
      threadRootId: this.opts.threadRootId || null,
      quote: this.quote,
      files,
      ackRequired: this.ding,
    });
    this.input.value = '';
    drafts.delete(this.key);
    this.uploads = [];
    replace(this.tray);
    this.tray.hidden = true;
    this.setQuote(null);
    this.setDing(false);
    this.closeMentions();
    closePopover();
    this.autosize();
    this.refreshSend();
    this.input.focus();
    this.opts.onSent?.();
  }

  dispose() {
    this.closeMentions();
    for (const u of this.uploads) if (!u.info) u.abort?.();
  }
}

