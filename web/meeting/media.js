// Local media for a meeting: the microphone and camera tracks (chosen on the
// pre-join screen and carried into the call), device lists, switching
// devices, and a microphone level meter (WebAudio analyser).
//
// Camera off stops the camera track (the light goes out); camera on captures
// a new one. Microphone off only disables the track, so unmuting is instant.

const DEVICE_KEY = 'convene.meetingDevices';

/** Why media is unavailable: 'denied' (blocked by the user or the browser), 'notfound', 'error'. */
function reasonOf(err) {
  const name = err?.name || '';
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') return 'notfound';
  return 'error';
}

function storedDevices() {
  try {
    return JSON.parse(localStorage.getItem(DEVICE_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    const saved = storedDevices();
    this.micId = saved.mic || '';
    this.camId = saved.camera || '';
    this.micTrack = null;
    this.camTrack = null;
    this.micOn = true;
    this.camOn = true;
    /** null when fine, else 'denied' | 'notfound' | 'error' (for the camera and mic as a pair). */
    this.blocked = null;
    this.hasMic = false;
    this.hasCam = false;
    this.devices = { mic: [], camera: [], speaker: [] };
    /** Audio output for remote voices ('' = the system default). */
    this.speakerId = '';
    this.stopped = false;
    this.audioCtx = null;
    this.onDeviceChange = () => this.listDevices();
  }

  /** Ask for camera and microphone; on failure try each alone. Never throws. */
  start() {
    this.starting = this.run();
    return this.starting;
  }

  /** Resolves once the last start() has settled (a Join pressed early waits for the devices). */
  ready() {
    return this.starting || Promise.resolve();
  }

  async run() {
    this.stopped = false;
    this.blocked = null;
    navigator.mediaDevices?.addEventListener?.('devicechange', this.onDeviceChange);
    if (!navigator.mediaDevices?.getUserMedia) {
      this.blocked = 'error';
      this.changed();
      return;
    }
    await this.capture(true);
    if (this.stopped) {
      this.stopTracks();
      return;
    }
    await this.listDevices();
    this.changed();
  }

  async capture(retry) {
    const audio = this.micConstraints();
    const video = this.camConstraints();
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio, video });
      this.adopt(stream);
    } catch (err) {
      const reason = reasonOf(err);
      if (reason === 'denied') {
        this.blocked = 'denied';
      } else {
        // One of the two may exist on its own (no camera on a desktop, say).
        for (const kind of ['audio', 'video']) {
          try {
            const stream = await navigator.mediaDevices.getUserMedia(kind === 'audio' ? { audio } : { video });
            this.adopt(stream);
          } catch (e) {
            if (reasonOf(e) === 'denied') this.blocked = 'denied';
          }
        }
        if (!this.micTrack && !this.camTrack && !this.blocked) this.blocked = reason;
      }
    }
    // A remembered device that is gone: forget it and take the defaults.
    if (retry && this.blocked !== 'denied' && (this.micId || this.camId) && (!this.micTrack || !this.camTrack)) {
      if (!this.micTrack) this.micId = '';
      if (!this.camTrack) this.camId = '';
      if (!this.micTrack && !this.camTrack) {
        this.blocked = null;
        await this.capture(false);
      } else {
        try {
          this.adopt(await navigator.mediaDevices.getUserMedia(this.micTrack ? { video: this.camConstraints() } : { audio: this.micConstraints() }));
        } catch {
          /* that one is simply missing */
        }
      }
    }
  }

  /** The microphone is on and there is one. */
  get micLive() {
    return this.micOn && !!this.micTrack;
  }

  /** The camera is on and capturing. */
  get camLive() {
    return this.camOn && !!this.camTrack;
  }

  micConstraints() {
    return this.micId ? { deviceId: { exact: this.micId } } : true;
  }

  camConstraints() {
    const size = { width: { ideal: 1280 }, height: { ideal: 720 } };
    return this.camId ? { ...size, deviceId: { exact: this.camId } } : size;
  }

  adopt(stream) {
    for (const track of stream.getTracks()) {
      if (this.stopped) {
        track.stop();
        continue;
      }
      if (track.kind === 'audio') {
        this.micTrack?.stop();
        this.micTrack = track;
        this.hasMic = true;
        track.enabled = this.micOn;
        this.micId = track.getSettings().deviceId || this.micId;
      } else {
        this.camTrack?.stop();
        this.camTrack = track;
        this.hasCam = true;
        this.camId = track.getSettings().deviceId || this.camId;
      }
      track.addEventListener('ended', () => this.trackEnded(track));
    }
  }

  trackEnded(track) {
    // Unplugged, or revoked in the browser's settings.
    if (track === this.camTrack) {
      this.camTrack = null;
      this.camOn = false;
      this.changed('camera');
    } else if (track === this.micTrack) {
      this.micTrack = null;
      this.micOn = false;
      this.changed('mic');
    }
  }

  async listDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    try {
      const all = await navigator.mediaDevices.enumerateDevices();
      this.devices = {
        mic: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
        camera: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
        speaker: all.filter((d) => d.kind === 'audiooutput' && d.deviceId),
      };
    } catch {
      this.devices = { mic: [], camera: [], speaker: [] };
    }
    this.dispatchEvent(new Event('devices'));
  }

  remember() {
    try {
      localStorage.setItem(DEVICE_KEY, JSON.stringify({ mic: this.micId, camera: this.camId }));
    } catch {
      /* storage disabled */
    }
  }

  /** Use another microphone. Resolves with the new track (or null). */
  async setMic(deviceId) {
    this.micId = deviceId;
    this.remember();
    const stream = await navigator.mediaDevices.getUserMedia({ audio: this.micConstraints() });
    this.adopt(stream);
    this.changed('mic');
    return this.micTrack;
  }

  /** Use another camera (captured only while the camera is on). */
  async setCamera(deviceId) {
    this.camId = deviceId;
    this.remember();
    if (!this.camOn) {
      this.changed('camera');
      return null;
    }
    const stream = await navigator.mediaDevices.getUserMedia({ video: this.camConstraints() });
    this.adopt(stream);
    this.changed('camera');
    return this.camTrack;
  }

  setMicOn(on) {
    this.micOn = !!on && !!this.micTrack;
    if (this.micTrack) this.micTrack.enabled = this.micOn;
    this.changed('mic');
  }

  /** Camera on captures a new track; off stops it. Resolves with the track (or null). */
  async setCamOn(on) {
    if (!on) {
      this.camOn = false;
      this.camTrack?.stop();
      this.camTrack = null;
      this.changed('camera');
      return null;
    }
    if (!this.camTrack) {
      const stream = await navigator.mediaDevices.getUserMedia({ video: this.camConstraints() });
      this.adopt(stream);
    }
    this.camOn = !!this.camTrack;
    this.changed('camera');
    return this.camTrack;
  }

  /** A stream with the camera only (for a local preview; never plays our own audio). */
  previewStream() {
    return this.camTrack ? new MediaStream([this.camTrack]) : null;
  }

  /**
   * Call onLevel(0..1) about 15 times a second with the microphone's level.
   * Returns a stop function.
   */
  meter(onLevel) {
    let stopped = false;
    let source = null;
    let analyser = null;
    let track = null;
    let timer = null;
    const connect = () => {
      source?.disconnect();
      source = null;
      track = this.micTrack;
      if (!track) return;
      try {
        this.audioCtx ||= new AudioContext();
        if (this.audioCtx.state === 'suspended') this.audioCtx.resume().catch(() => {});
        analyser ||= Object.assign(this.audioCtx.createAnalyser(), { fftSize: 512, smoothingTimeConstant: 0.5 });
        source = this.audioCtx.createMediaStreamSource(new MediaStream([track]));
        source.connect(analyser);
      } catch {
        source = null;
      }
    };
    const data = new Float32Array(512);
    const tick = () => {
      if (stopped) return;
      if (track !== this.micTrack) connect();
      let level = 0;
      if (source && analyser && this.micOn) {
        analyser.getFloatTimeDomainData(data);
        let sum = 0;
        for (const v of data) sum += v * v;
        const rms = Math.sqrt(sum / data.length);
        // Speech sits around -40..-10 dBFS; map -60..0 dB onto 0..1.
        const db = 20 * Math.log10(rms || 1e-8);
        level = Math.max(0, Math.min(1, (db + 60) / 60));
      }
      onLevel(level);
      timer = setTimeout(tick, 66);
    };
    connect();
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      source?.disconnect();
    };
  }

  stopTracks() {
    this.micTrack?.stop();
    this.camTrack?.stop();
    this.micTrack = null;
    this.camTrack = null;
  }

  /** Release everything (leaving the page). */
  stop() {
    this.stopped = true;
    navigator.mediaDevices?.removeEventListener?.('devicechange', this.onDeviceChange);
    this.stopTracks();
    this.audioCtx?.close().catch(() => {});
    this.audioCtx = null;
  }

  changed(what = 'all') {
    this.dispatchEvent(new CustomEvent('change', { detail: { what } }));
  }
}

/** The screen (or a window or tab) to share; rejects when the user cancels. */
export async function captureScreen() {
  const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
  const track = stream.getVideoTracks()[0];
  if ('contentHint' in track) track.contentHint = 'detail';
  return track;
}
