// The pre-join screen: camera preview, microphone level, device pickers,
// microphone and camera toggles, the guest's name, and the Join button.

import { h, replace, uid } from '../dom.js';
import { t } from '../i18n.js';
import { errorBox } from '../ui.js';

function icon(name) {
  return h('span', { class: `ic ic-${name}`, 'aria-hidden': 'true' });
}

/**
 * Camera and microphone selects (and the speaker, where the browser can
 * choose one). onChange(kind) runs after media switched device ('mic' | 'camera').
 * Returns { el, dispose }.
 */
export function devicePickers(media, onChange, { speakers = false, onSpeaker = null } = {}) {
  const micId = uid('mic');
  const camId = uid('cam');
  const spkId = uid('spk');
  const mic = h('select', { id: micId, testid: 'device-mic' });
  const cam = h('select', { id: camId, testid: 'device-camera' });
  const spk = h('select', { id: spkId, testid: 'device-speaker' });
  const error = errorBox('device-error');
  const canPickSpeaker = speakers && 'setSinkId' in HTMLMediaElement.prototype;
  const spkField = canPickSpeaker ? h('div', { class: 'field' }, h('label', { for: spkId }, t('meeting.device.speaker')), spk) : null;

  const fill = (select, list, current, emptyLabel, prefix) => {
    const options = list.map((d, i) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label || `${prefix} ${i + 1}`));
    if (!options.length) options.push(h('option', { value: '' }, emptyLabel));
    replace(select, options);
    select.disabled = !list.length;
  };
  const render = () => {
    fill(mic, media.devices.mic, media.micId, t('meeting.device.none'), t('meeting.device.micN'));
    fill(cam, media.devices.camera, media.camId, t('meeting.device.none'), t('meeting.device.cameraN'));
    if (canPickSpeaker) {
      const outs = media.devices.speaker || [];
      fill(spk, outs, media.speakerId || 'default', t('meeting.device.default'), t('meeting.device.speakerN'));
      spkField.hidden = !outs.length;
    }
  };
  const switchTo = async (kind, id) => {
    error.clear();
    try {
      if (kind === 'mic') await media.setMic(id);
      else await media.setCamera(id);
      await onChange?.(kind);
    } catch {
      error.show(t('meeting.device.failed'));
      render();
    }
  };
  mic.addEventListener('change', () => switchTo('mic', mic.value));
  cam.addEventListener('change', () => switchTo('camera', cam.value));
  spk.addEventListener('change', () => {
    media.speakerId = spk.value;
    onSpeaker?.(spk.value);
  });
  media.addEventListener('devices', render);
  render();
  const el = h('div', { class: 'pj-devices' },
    h('div', { class: 'field' }, h('label', { for: camId }, t('meeting.device.camera')), cam),
    h('div', { class: 'field' }, h('label', { for: micId }, t('meeting.device.mic')), mic),
    spkField,
    error,
  );
  return { el, dispose: () => media.removeEventListener('devices', render) };
}

/**
 * The pre-join view.
 * opts: media (LocalMedia), title, workspaceName, guest (ask for a name),
 *       name (prefill), note (text under the button), onJoin({ name }) -> Promise
 */
export class Prejoin {
  constructor(opts) {
    this.opts = opts;
    this.media = opts.media;
    this.stopMeter = null;

    this.video = h('video', { class: 'pj-video', testid: 'prejoin-preview', autoplay: true, playsinline: true, muted: true });
    this.video.muted = true;
    this.off = h('div', { class: 'pj-off', testid: 'prejoin-camera-off', hidden: true }, t('meeting.prejoin.cameraOff'));
    this.retry = h('button', { type: 'button', class: 'btn btn-sm', testid: 'prejoin-retry', onclick: () => this.retryMedia() }, t('meeting.prejoin.retry'));
    this.blockedText = h('p', { class: 'pj-blocked-text' });
    this.blocked = h('div', { class: 'pj-blocked', testid: 'prejoin-blocked', role: 'alert', hidden: true },
      icon('video-off'), h('p', { class: 'pj-blocked-title' }, t('meeting.prejoin.blockedTitle')), this.blockedText, this.retry);
    this.starting = h('div', { class: 'pj-off', testid: 'prejoin-starting' }, t('meeting.prejoin.starting'));

    this.micBtn = h('button', { type: 'button', class: 'mt-ctl mt-ctl-round', testid: 'prejoin-mic-toggle', onclick: () => this.toggleMic() }, icon('mic'));
    this.camBtn = h('button', { type: 'button', class: 'mt-ctl mt-ctl-round', testid: 'prejoin-camera-toggle', onclick: () => this.toggleCam() }, icon('video'));

    this.levelFill = h('span', { class: 'pj-level-fill' });
    this.level = h('div', {
      class: 'pj-level', testid: 'prejoin-mic-level', role: 'meter', 'aria-label': t('meeting.prejoin.micLevel'),
      'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0', dataset: { level: '0' },
    }, h('span', { class: 'pj-level-bar' }, this.levelFill));

    this.preview = h('div', { class: 'pj-preview' }, this.video, this.off, this.starting, this.blocked,
      h('div', { class: 'pj-toggles' }, this.micBtn, this.camBtn));
    this.pickers = devicePickers(this.media, () => this.renderMedia());

    this.error = errorBox('prejoin-error');
    const form = h('form', { class: 'pj-form', testid: 'prejoin-form', novalidate: true });
    if (opts.guest) {
      const nameId = uid('pj-name');
      this.nameInput = h('input', { id: nameId, type: 'text', testid: 'prejoin-name', maxlength: '64', autocomplete: 'name', required: true, value: opts.name || '' });
      this.nameInput.value = opts.name || '';
      form.appendChild(h('div', { class: 'field' }, h('label', { for: nameId }, t('meeting.prejoin.yourName')), this.nameInput));
    }
    this.joinBtn = h('button', { type: 'submit', class: 'btn btn-primary pj-join', testid: 'prejoin-join' }, t('meeting.prejoin.join'));
    form.append(this.joinBtn, this.error);
    if (opts.note) form.appendChild(h('p', { class: 'pj-note muted', testid: 'prejoin-note' }, opts.note));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.join();
    });

    this.el = h('div', { class: 'pj', testid: 'meeting-prejoin' },
      h('div', { class: 'pj-media' }, this.preview, h('div', { class: 'pj-level-row' }, icon('mic'), this.level)),
      this.pickers.el,
      h('div', { class: 'pj-side' },
        opts.workspaceName ? h('p', { class: 'pj-workspace', testid: 'prejoin-workspace' }, opts.workspaceName) : null,
        h('h1', { class: 'pj-title', testid: 'prejoin-title', tabindex: '-1' }, opts.title || t('meeting.untitled')),
        h('p', { class: 'pj-ready muted' }, opts.guest ? t('meeting.prejoin.readyGuest') : t('meeting.prejoin.ready')),
        form),
    );

    this.onMedia = () => this.renderMedia();
    this.media.addEventListener('change', this.onMedia);
    this.renderMedia();
    this.stopMeter = this.media.meter((v) => this.setLevel(v));
  }

  dispose() {
    this.stopMeter?.();
    this.stopMeter = null;
    this.pickers.dispose();
    this.media.removeEventListener('change', this.onMedia);
    this.video.srcObject = null;
  }

  setLevel(v) {
    const pct = Math.round(v * 100);
    this.levelFill.style.setProperty('--level', String(v));
    this.level.setAttribute('aria-valuenow', String(pct));
    this.level.dataset.level = String(pct);
  }

  renderMedia() {
    const m = this.media;
    const ready = m.micTrack || m.camTrack || m.blocked;
    this.starting.hidden = !!ready;
    this.blocked.hidden = !m.blocked;
    if (m.blocked) {
      this.blockedText.textContent = t(m.blocked === 'denied' ? 'meeting.prejoin.blockedDenied' : m.blocked === 'notfound' ? 'meeting.prejoin.blockedNone' : 'meeting.prejoin.blockedError');
    }
    const track = m.camOn ? m.camTrack : null;
    const current = this.video.srcObject?.getVideoTracks?.()[0] || null;
    if (current !== track) {
      this.video.srcObject = track ? new MediaStream([track]) : null;
      if (track) this.video.play().catch(() => {});
    }
    this.video.hidden = !track;
    this.off.hidden = !!track || !!m.blocked || !ready;

    const micOn = m.micOn && !!m.micTrack;
    this.micBtn.querySelector('.ic').className = `ic ic-${micOn ? 'mic' : 'mic-off'}`;
    this.micBtn.setAttribute('aria-label', micOn ? t('meeting.mic.off') : t('meeting.mic.on'));
    this.micBtn.title = this.micBtn.getAttribute('aria-label');
    this.micBtn.dataset.on = String(micOn);
    this.micBtn.classList.toggle('is-off', !micOn);
    this.micBtn.disabled = !m.micTrack;
    const camOn = m.camOn && !!m.camTrack;
    this.camBtn.querySelector('.ic').className = `ic ic-${camOn ? 'video' : 'video-off'}`;
    this.camBtn.setAttribute('aria-label', camOn ? t('meeting.camera.off') : t('meeting.camera.on'));
    this.camBtn.title = this.camBtn.getAttribute('aria-label');
    this.camBtn.dataset.on = String(camOn);
    this.camBtn.classList.toggle('is-off', !camOn);
    this.camBtn.disabled = !m.hasCam;
    this.level.classList.toggle('is-muted', !micOn);
  }

  toggleMic() {
    this.media.setMicOn(!this.media.micOn);
  }

  async toggleCam() {
    this.camBtn.disabled = true;
    try {
      await this.media.setCamOn(!this.media.camOn);
    } catch {
      this.error.show(t('meeting.notice.cameraFailed'));
    } finally {
      this.renderMedia();
    }
  }

  async retryMedia() {
    this.retry.disabled = true;
    this.media.stopTracks();
    await this.media.start();
    this.retry.disabled = false;
    this.stopMeter?.();
    this.stopMeter = this.media.meter((v) => this.setLevel(v));
  }

  async join() {
    this.error.clear();
    let name = '';
    if (this.nameInput) {
      name = this.nameInput.value.trim();
      if (!name) {
        this.error.show(t('meeting.prejoin.nameRequired'));
        this.nameInput.focus();
        return;
      }
    }
    this.joinBtn.disabled = true;
    this.joinBtn.textContent = t('meeting.prejoin.joining');
    try {
      await this.media.ready();
      await this.opts.onJoin({ name });
    } catch (err) {
      this.error.show(err?.message || t('error.unexpected'));
    } finally {
      if (this.joinBtn.isConnected) {
        this.joinBtn.disabled = false;
        this.joinBtn.textContent = t('meeting.prejoin.join');
      }
    }
  }
}
