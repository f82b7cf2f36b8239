// One meeting call: signalling over the realtime websocket (docs/PROTOCOL.md,
// "Meetings") and the two peer connections to the server's SFU.
//
//   publish   - we offer our microphone, camera and screen share; the server
//               answers (`meeting.publish` -> ok {sdp}). Renegotiated with the
//               full track list whenever the screen share starts or stops.
//   subscribe - the server offers everyone else's tracks (`meeting.offer`
//               {sdp, tracks:[{mid, participant_id, source}]}) and we answer
//               (`meeting.answer`). Remote tracks are matched to participants
//               by transceiver mid.
//
// The server is ICE-lite and learns our address from connectivity checks, so
// we never trickle candidates. When the websocket drops we keep both peer
// connections, rejoin with the rejoin key once the socket is back, restart
// ICE on the publish connection (a new offer made with iceRestart) and ask
// for a restarted subscribe offer (`meeting.restart`).
//
// Events (EventTarget): 'state' (connection state), 'participants',
// 'media' (remote tracks changed), 'local' (own mic/camera/screen/hand),
// 'lobby', 'chat' (detail: message), 'notice' (detail: {key}), 'speaker',
// 'meeting' (title/lock changed), 'ended' (detail: {reason}).

import { captureScreen } from './media.js';

const SOURCES = ['mic', 'camera', 'screen'];

export class MeetingCall extends EventTarget {
  /**
   * rt: a RealtimeClient (the tab's own for members, a separate one for guests)
   * media: the LocalMedia from the pre-join screen
   */
  constructor({ code, rt, media }) {
    super();
    this.code = code;
    this.rt = rt;
    this.media = media;
    /** 'idle' | 'joining' | 'waiting' | 'connecting' | 'connected' | 'reconnecting' | 'ended' */
    this.state = 'idle';
    this.endReason = null;
    this.meeting = null;
    this.selfId = null;
    this.rejoinKey = null;
    this.participants = new Map();
    this.lobby = [];
    this.messages = [];
    this.speakerId = null;
    this.iceServers = [];
    this.pub = null;
    this.sub = null;
    this.tx = {}; // source -> RTCRtpTransceiver on the publish connection
    this.screenTrack = null;
    this.hand = false;
    this.subTracks = new Map(); // mid -> {participant_id, source}
    this.remote = new Map(); // participant id -> {mic, camera, screen} MediaStreamTrack
    this.pubChain = Promise.resolve();
    this.subChain = Promise.resolve();
    this.wsLost = false;
    this.rejoining = false;
    this.offs = [];
    this.onStatus = (e) => this.socketStatus(e.detail.status);
  }

  get self() {
    return this.participants.get(this.selfId) || null;
  }

  get isHost() {
    const role = this.self?.role;
    return role === 'host' || role === 'cohost';
  }

  // --- joining -----------------------------------------------------------------------------

  async join() {
    this.listen();
    this.setState('joining');
    let answer;
    try {
      answer = await this.rt.request({ type: 'meeting.join', code: this.code });
    } catch (err) {
      this.unlisten();
      this.setState('idle');
      throw err;
    }
    if (this.state === 'ended') return;
    if (answer.status === 'waiting') {
      this.setState('waiting');
      return;
    }
    await this.enter(answer);
  }

  listen() {
    if (this.offs.length) return;
    const on = (type, fn) => this.offs.push(this.rt.on(type, (f) => {
      if (this.state !== 'ended' && this.state !== 'idle') fn(f);
    }));
    on('meeting.joined', (f) => this.enter(f).catch((err) => this.fail(err)));
    on('meeting.participant_joined', (f) => this.upsert(f.participant));
    on('meeting.participant', (f) => this.upsert(f.participant));
    on('meeting.participant_left', (f) => this.removeParticipant(f.participant_id));
    on('meeting.offer', (f) => this.onOffer(f));
    on('meeting.speaker', (f) => {
      this.speakerId = f.participant_id || null;
      this.emit('speaker');
    });
    on('meeting.lobby', (f) => {
      this.lobby = Array.isArray(f.waiting) ? f.waiting : [];
      this.emit('lobby');
    });
    on('meeting.muted', (f) => this.mutedByHost(f.source));
    on('meeting.locked', (f) => {
      if (this.meeting) this.meeting.locked = !!f.locked;
      this.emit('meeting');
      this.emit('notice', { key: f.locked ? 'meeting.notice.locked' : 'meeting.notice.unlocked' });
    });
    on('meeting.chat', (f) => this.addChat(f));
    on('meeting.ended', (f) => this.ended(f.reason || 'ended'));
    this.rt.addEventListener('status', this.onStatus);
  }

  unlisten() {
    this.offs.splice(0).forEach((off) => off());
    this.rt.removeEventListener('status', this.onStatus);
  }

  /** Take a `joined` answer (or a `meeting.joined` event after the lobby). */
  async enter(f) {
    if (this.state === 'ended') return;
    this.adoptJoin(f);
    this.iceServers = Array.isArray(f.ice_servers) ? f.ice_servers : [];
    this.messages = Array.isArray(f.chat) ? f.chat.slice(-100) : [];
    this.emit('chat', null);
    this.setState('connecting');
    this.createConnections();
    await this.publish();
    this.sendState();
    this.checkConnected();
  }

  adoptJoin(f) {
    this.meeting = { ...(this.meeting || {}), ...(f.meeting || {}) };
    if (f.rejoin_key) this.rejoinKey = f.rejoin_key;
    const list = Array.isArray(f.participants) ? f.participants : [];
    this.participants = new Map(list.map((p) => [p.id, p]));
    if (f.self) {
      this.selfId = f.self.id;
      this.participants.set(f.self.id, { ...f.self });
    }
    this.emit('participants');
    this.emit('meeting');
  }

  createConnections() {
    const config = { iceServers: this.iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
    this.pub = new RTCPeerConnection(config);
    this.sub = new RTCPeerConnection(config);
    for (const pc of [this.pub, this.sub]) {
      pc.addEventListener('connectionstatechange', () => this.pcState(pc));
    }
    this.sub.addEventListener('track', () => this.refreshRemote());
    const stream = new MediaStream();
    this.localStream = stream;
    if (this.media.micTrack || this.media.hasMic) {
      this.tx.mic = this.pub.addTransceiver(this.media.micTrack || 'audio', { direction: 'sendonly', streams: [stream] });
    }
    if (this.media.camTrack || this.media.hasCam) {
      this.tx.camera = this.pub.addTransceiver(this.media.camTrack || 'video', { direction: 'sendonly', streams: [stream] });
    }
    window.__convene ||= {};
    window.__convene.meeting = { call: this, pcs: { publish: this.pub, subscribe: this.sub } };
  }

  // --- publish connection -------------------------------------------------------------------

  /** (Re)negotiate the publish connection with the full track list. Queued; never throws. */
  publish({ iceRestart = false } = {}) {
    const run = () => this.negotiate(iceRestart).catch((err) => {
      if (this.state === 'ended') return;
      console.warn('meeting: publish failed', err);
      if (err?.frame) this.emit('notice', { key: 'meeting.notice.publishFailed', error: err.frame.message });
    });
    this.pubChain = this.pubChain.then(run);
    return this.pubChain;
  }

  async negotiate(iceRestart) {
    const pc = this.pub;
    if (!pc || pc.signalingState === 'closed' || this.state === 'ended') return;
    if (!this.socketUsable()) return; // redone after the rejoin
    const live = this.publishedTracks(false);
    if (!live.length && !pc.remoteDescription) return; // nothing to publish yet
    if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
    const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
    await pc.setLocalDescription(offer);
    const tracks = this.publishedTracks(true);
    const answer = await this.rt.request({ type: 'meeting.publish', sdp: pc.localDescription.sdp, tracks });
    if (pc.signalingState !== 'have-local-offer') return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /** [{mid, source}] for every m-line carrying (or ready to carry) one of our sources. */
  publishedTracks(withMid) {
    const out = [];
    for (const source of SOURCES) {
      const tr = this.tx[source];
      if (!tr || tr.stopped || tr.currentDirection === 'stopped') continue;
      if (source === 'screen' && !this.screenTrack) continue;
      if (withMid && tr.mid == null) continue;
      out.push({ mid: tr.mid, source });
    }
    return out;
  }

  /** Put `track` on the m-line of `source`, adding the m-line (and renegotiating) if needed. */
  async setSourceTrack(source, track) {
    if (!this.pub) return;
    const tr = this.tx[source];
    if (tr) {
      if (track && tr.direction !== 'sendonly') tr.direction = 'sendonly';
      await tr.sender.replaceTrack(track);
      if (source === 'screen') await this.publish();
      return;
    }
    if (!track) return;
    this.tx[source] = this.pub.addTransceiver(track, { direction: 'sendonly', streams: [this.localStream] });
    await this.publish();
  }

  // --- subscribe connection -----------------------------------------------------------------

  onOffer(f) {
    this.subChain = this.subChain.then(async () => {
      const pc = this.sub;
      if (!pc || pc.signalingState === 'closed') return;
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp: f.sdp });
        this.subTracks = new Map((f.tracks || []).map((t) => [String(t.mid), t]));
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        this.refreshRemote();
        await this.rt.request({ type: 'meeting.answer', sdp: pc.localDescription.sdp });
      } catch (err) {
        if (this.state === 'ended') return;
        console.warn('meeting: subscribe offer failed', err);
      }
    });
    return this.subChain;
  }

  /** Rebuild participant -> tracks from the subscribe connection's transceivers. */
  refreshRemote() {
    const pc = this.sub;
    const remote = new Map();
    if (pc) {
      for (const tr of pc.getTransceivers()) {
        const info = tr.mid != null ? this.subTracks.get(String(tr.mid)) : null;
        const track = tr.receiver?.track;
        if (!info || !track || tr.currentDirection === 'inactive' || tr.currentDirection === 'stopped') continue;
        if (!remote.has(info.participant_id)) remote.set(info.participant_id, {});
        remote.get(info.participant_id)[info.source] = track;
      }
    }
    this.remote = remote;
    this.emit('media');
  }

  // --- connection state --------------------------------------------------------------------

  pcState(pc) {
    if (this.state === 'ended') return;
    const s = pc.connectionState;
    if (s === 'failed' && this.socketUsable()) {
      // A network change under a live websocket: restart ICE on that connection.
      if (pc === this.pub) this.publish({ iceRestart: true });
      else this.rt.request({ type: 'meeting.restart' }).catch(() => {});
    }
    this.checkConnected();
  }

  /** connecting -> connected once media flows; back when a connection is lost. */
  checkConnected() {
    if (!['connecting', 'connected', 'reconnecting'].includes(this.state)) return;
    if (this.wsLost || this.rejoining) {
      this.setState('reconnecting');
      return;
    }
    const pubLive = this.publishedTracks(false).length > 0;
    const pcs = [pubLive ? this.pub : null, this.sub?.remoteDescription ? this.sub : null].filter(Boolean);
    const states = pcs.map((pc) => pc.connectionState);
    if (states.some((s) => s === 'failed' || s === 'disconnected')) this.setState(this.state === 'connecting' ? 'connecting' : 'reconnecting');
    else if (states.every((s) => s === 'connected')) this.setState('connected');
    else if (this.state !== 'reconnecting') this.setState('connecting');
  }

  socketUsable() {
    return this.rt.status === 'open' && !this.wsLost;
  }

  socketStatus(status) {
    if (status === 'idle' && this.state !== 'ended' && this.state !== 'idle') {
      // The socket was stopped for good (signed out, or the guest pass ran out).
      this.ended('disconnected');
      return;
    }
    if (['idle', 'ended', 'waiting', 'joining'].includes(this.state) && status !== 'open') {
      if (this.state === 'waiting' && status !== 'open') this.wsLost = true;
      return;
    }
    if (status === 'open') {
      if (this.wsLost) this.rejoin();
      return;
    }
    this.wsLost = true;
    this.setState('reconnecting');
  }

  /** The websocket is back: re-attach with the rejoin key, then restart ICE on both connections. */
  async rejoin() {
    if (this.rejoining) return;
    this.rejoining = true;
    this.wsLost = false;
    const waiting = this.state === 'waiting';
    try {
      const frame = { type: 'meeting.join', code: this.code };
      if (this.rejoinKey && !waiting) frame.rejoin_key = this.rejoinKey;
      const answer = await this.rt.request(frame);
      if (this.state === 'ended') return;
      if (answer.status === 'waiting') {
        this.rejoining = false;
        this.setState('waiting');
        return;
      }
      if (waiting || !this.pub) {
        this.rejoining = false;
        await this.enter(answer);
        return;
      }
      this.adoptJoin(answer);
      if (Array.isArray(answer.ice_servers) && answer.ice_servers.length) {
        this.iceServers = answer.ice_servers;
        for (const pc of [this.pub, this.sub]) {
          try { pc.setConfiguration({ ...pc.getConfiguration(), iceServers: this.iceServers }); } catch { /* keep the old ones */ }
        }
      }
      // Both connections restart ICE: the server re-offers the subscribe side.
      this.rt.request({ type: 'meeting.restart' }).catch((err) => console.warn('meeting: restart failed', err));
      await this.publish({ iceRestart: true });
      this.sendState();
      this.rejoining = false;
      this.checkConnected();
    } catch (err) {
      this.rejoining = false;
      if (this.state === 'ended') return;
      if (!this.socketUsable()) {
        this.wsLost = true; // dropped again: try once the socket is back
        return;
      }
      // Our place is gone (more than 30 s away, or the server restarted): join afresh.
      console.warn('meeting: rejoin failed, joining again', err);
      const kind = joinErrorKind(err);
      if (kind === 'forbidden' || kind === 'not_found' || kind === 'ended') {
        this.ended(kind === 'forbidden' ? 'removed' : 'ended');
        return;
      }
      this.closeConnections();
      try {
        const answer = await this.rt.request({ type: 'meeting.join', code: this.code });
        if (answer.status === 'waiting') this.setState('waiting');
        else await this.enter(answer);
      } catch (e) {
        this.fail(e);
      }
    }
  }

  // --- own state -----------------------------------------------------------------------------

  /** Tell everyone our mic/camera/hand (after joining and after a rejoin). */
  sendState() {
    this.update({ mic: this.media.micLive, camera: this.media.camLive, hand: this.hand });
  }

  update(fields) {
    if (!this.socketUsable() || !this.selfId) return;
    this.rt.request({ type: 'meeting.update', ...fields }).catch((err) => console.warn('meeting: update failed', err));
    const self = this.self;
    if (self) {
      Object.assign(self, fields);
      this.emit('participants');
    }
  }

  setMic(on) {
    this.media.setMicOn(on);
    this.update({ mic: this.media.micLive });
    this.emit('local');
  }

  async setCamera(on) {
    let track = null;
    try {
      track = await this.media.setCamOn(on);
    } finally {
      await this.setSourceTrack('camera', track).catch((err) => console.warn('meeting: camera switch failed', err));
      this.update({ camera: this.media.camLive });
      this.emit('local');
    }
  }

  /** After a device switch on the pre-join or settings panel. */
  async replaceDevice(kind) {
    if (kind === 'mic') await this.setSourceTrack('mic', this.media.micTrack);
    else await this.setSourceTrack('camera', this.media.camOn ? this.media.camTrack : null);
  }

  setHand(up) {
    this.hand = !!up;
    this.update({ hand: this.hand });
    this.emit('local');
  }

  async startScreen() {
    if (this.screenTrack) return;
    const track = await captureScreen();
    if (this.state === 'ended') {
      track.stop();
      return;
    }
    this.screenTrack = track;
    track.addEventListener('ended', () => this.stopScreen()); // the browser's own "Stop sharing"
    this.emit('local');
    await this.setSourceTrack('screen', track);
  }

  async stopScreen() {
    const track = this.screenTrack;
    if (!track) return;
    this.screenTrack = null;
    track.stop();
    this.emit('local');
    const tr = this.tx.screen;
    if (tr) {
      await tr.sender.replaceTrack(null).catch(() => {});
      try { tr.direction = 'inactive'; } catch { /* closed */ }
      await this.publish();
    }
  }

  mutedByHost(source) {
    if (source === 'camera') {
      this.setCamera(false);
      this.emit('notice', { key: 'meeting.notice.videoStopped', sticky: true });
    } else {
      this.media.setMicOn(false);
      const self = this.self;
      if (self) self.mic = false;
      this.emit('participants');
      this.emit('local');
      this.emit('notice', { key: 'meeting.notice.muted', sticky: true });
    }
  }

  // --- people, chat, host actions -------------------------------------------------------------

  upsert(p) {
    if (!p?.id) return;
    const before = this.participants.get(p.id);
    this.participants.set(p.id, { ...(before || {}), ...p });
    this.emit('participants');
  }

  removeParticipant(id) {
    this.participants.delete(id);
    if (this.speakerId === id) this.speakerId = null;
    this.emit('participants');
  }

  addChat(f) {
    this.messages.push(f);
    if (this.messages.length > 200) this.messages.splice(0, this.messages.length - 200);
    this.emit('chat', f);
  }

  sendChat(text) {
    return this.rt.request({ type: 'meeting.chat', text });
  }

  host(action, participantId) {
    const frame = { type: 'meeting.host', action };
    if (participantId) frame.participant_id = participantId;
    return this.rt.request(frame);
  }

  // --- leaving ---------------------------------------------------------------------------------

  async leave() {
    if (this.state === 'ended' || this.leaving) return;
    this.leaving = true;
    // Say goodbye before tearing down (a guest's socket closes right after).
    if (this.state !== 'idle' && this.rt.status === 'open') {
      try {
        await Promise.race([this.rt.request({ type: 'meeting.leave' }), new Promise((r) => setTimeout(r, 2000))]);
      } catch {
        /* leaving anyway */
      }
    }
    this.ended('left');
  }

  /** Best effort on page unload: no answer awaited. */
  leaveNow() {
    if (this.state === 'ended' || this.state === 'idle') return;
    try {
      this.rt.send({ type: 'meeting.leave', id: `leave-${Date.now()}` });
    } catch {
      /* closing */
    }
    this.ended('left');
  }

  ended(reason) {
    if (this.state === 'ended') return;
    this.endReason = reason;
    this.unlisten();
    this.closeConnections();
    this.screenTrack?.stop();
    this.screenTrack = null;
    this.setState('ended');
    this.emit('ended', { reason });
  }

  fail(err) {
    console.warn('meeting: failed', err);
    this.ended('error');
  }

  closeConnections() {
    for (const pc of [this.pub, this.sub]) {
      try { pc?.close(); } catch { /* already closed */ }
    }
    this.pub = null;
    this.sub = null;
    this.tx = {};
    this.subTracks = new Map();
    this.remote = new Map();
    this.pubChain = Promise.resolve();
    this.subChain = Promise.resolve();
    this.emit('media');
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state');
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/**
 * What a failed meeting.join means: 'not_found', 'forbidden', 'locked', 'ended',
 * 'full', 'conflict' (another conflict), 'network' or 'error'.
 */
export function joinErrorKind(err) {
  const f = err?.frame;
  if (!f) return 'network';
  if (f.code === 'not_found' || f.code === 'forbidden') return f.code;
  if (f.code === 'conflict') {
    const text = `${f.reason || ''} ${f.detail || ''} ${f.message || ''}`.toLowerCase();
    for (const kind of ['locked', 'ended', 'full']) if (text.includes(kind)) return kind;
    return 'conflict';
  }
  return 'error';
}
