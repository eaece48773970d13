// Tongbu signaling client: the browser side of docs/PROTOCOL.md, with no UI in it.
//
// A participant has two peer connections: `send` (we offer, the server answers) to publish,
// and `recv` (the server offers, we answer) to receive. One offerer per connection, so offers
// never collide. Every server message is re-dispatched as an event named by its `type`.

export const PROTOCOL_VERSION = 1;

/**
 * The camera's simulcast layers, lowest first: 320×180 at 15 frames/s (with the audio it fits a
 * 300 kbit/s rural link), 640×360 and 1280×720 of a 720p camera (a smaller camera sends fewer;
 * the server uses what arrives).
 */
export const SIMULCAST_LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 100_000, maxFramerate: 15 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 450_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];

export class TongbuClient extends EventTarget {
  constructor(token, { url, videoCodec } = {}) {
    super();
    this.token = token;
    // 'h264': the camera and shares are sent as H.264 (a hardware encoder on a weak PC);
    // otherwise VP8, the server's first choice.
    this.videoCodec = videoCodec || null;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.url = url || `${proto}//${location.host}/ws?token=${encodeURIComponent(token)}`;
    this.ws = null;
    this.sendPc = null;
    this.recvPc = null;
    this.recvTracks = new Map(); // mid -> track info {id, participant, kind}
    this.pendingAnswer = null;
    this.recvChain = Promise.resolve();
    this.joined = null;
    this.screenTransceiver = null; // the media line of our screen or courseware share
    this.cameraSender = null; // the camera's sender, whose simulcast encodings dynacast sets
    this.sendChain = Promise.resolve();
  }

  /** Opens the connection and joins; resolves with the `joined` message. */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let joined = false;
      ws.onopen = () => this.send({ type: 'join', version: PROTOCOL_VERSION });
      ws.onerror = () => {
        if (!joined) reject(new Error('connection failed'));
      };
      ws.onclose = (ev) => {
        this.dispatchEvent(new CustomEvent('close', { detail: { code: ev.code, joined } }));
        if (!joined) reject(new Error('connection closed before joining'));
      };
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (msg.type === 'joined') {
          joined = true;
          this.joined = msg;
          resolve(msg);
        } else if (msg.type === 'error' && !joined) {
          const err = new Error(msg.message);
          err.code = msg.code;
          reject(err);
        }
        this.handle(msg);
      };
    });
  }

  /** Both peer connections' settings: the relays the server gave (TURN over TLS on 443 for
   *  networks that let only HTTPS out), or none. */
  rtcConfig() {
    const iceServers = (this.joined && this.joined.ice_servers) || [];
    return { bundlePolicy: 'max-bundle', iceServers };
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  handle(msg) {
    if (msg.type === 'answer' && msg.transport === 'send' && this.pendingAnswer) {
      const { resolve } = this.pendingAnswer;
      this.pendingAnswer = null;
      resolve(msg.sdp);
    } else if (msg.type === 'offer' && msg.transport === 'recv') {
      // Serialize: a new offer waits until the previous one is answered.
      this.recvChain = this.recvChain.then(() => this.answerRecv(msg)).catch((e) =>
        this.dispatchEvent(new CustomEvent('negotiation-error', { detail: e })));
    } else if (msg.type === 'publish_layers') {
      this.sendLayers(msg.active).catch((e) =>
        this.dispatchEvent(new CustomEvent('negotiation-error', { detail: e })));
    } else if (msg.type === 'error' && this.pendingAnswer && msg.code === 'negotiation_failed') {
      const { reject } = this.pendingAnswer;
      this.pendingAnswer = null;
      reject(new Error(msg.message));
    }
    this.dispatchEvent(new CustomEvent(msg.type, { detail: msg }));
  }

  /**
   * Publishes the tracks of a MediaStream (camera + microphone). The camera goes as three
   * simulcast layers, lowest first (the server numbers layers in this order): each classroom
   * gets the best one its link carries.
   */
  async publish(stream) {
    const pc = new RTCPeerConnection(this.rtcConfig());
    this.sendPc = pc;
    for (const track of stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [stream] };
      if (track.kind === 'video') init.sendEncodings = SIMULCAST_LAYERS;
      const t = pc.addTransceiver(track, init);
      if (track.kind === 'video') {
        this.cameraSender = t.sender;
        this.preferCodec(t);
      }
    }
    pc.onconnectionstatechange = () =>
      this.dispatchEvent(new CustomEvent('connection', { detail: { transport: 'send', state: pc.connectionState } }));
    await this.renegotiate();
    return pc;
  }

  /**
   * Dynacast: sends only the camera's simulcast encodings the server asks for (lowest first);
   * nobody receives the others, and on a rural uplink they would cost it for nothing.
   */
  async sendLayers(active) {
    const sender = this.cameraSender;
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) return;
    let changed = false;
    params.encodings.forEach((e, i) => {
      const on = active[i] !== false;
      if (e.active !== on) {
        e.active = on;
        changed = true;
      }
    });
    if (changed) await sender.setParameters(params);
  }

  /** Offers the send connection as it is now (one offer at a time) and applies the answer. */
  renegotiate() {
    const run = async () => {
      const pc = this.sendPc;
      if (!pc) return;
      await pc.setLocalDescription(await pc.createOffer());
      const answer = new Promise((resolve, reject) => (this.pendingAnswer = { resolve, reject }));
      const t = this.screenTransceiver;
      const screen = t && t.direction === 'sendonly' ? t.mid : undefined;
      this.send({ type: 'offer', transport: 'send', sdp: pc.localDescription.sdp, screen });
      await pc.setRemoteDescription({ type: 'answer', sdp: await answer });
    };
    this.sendChain = this.sendChain.then(run, run);
    return this.sendChain;
  }

  /** Shares a screen or courseware (a video track) beside the camera; publish() first. */
  async share(track) {
    if (!this.sendPc) throw new Error('publish the camera first');
    const t = this.screenTransceiver;
    if (t) {
      await t.sender.replaceTrack(track);
      t.direction = 'sendonly';
    } else {
      this.screenTransceiver = this.sendPc.addTransceiver(track, { direction: 'sendonly' });
      this.preferCodec(this.screenTransceiver);
    }
    await this.renegotiate();
  }

  /** Offers only the chosen video codec on a sending line (packetization mode 1 for H.264). */
  preferCodec(transceiver) {
    if (this.videoCodec !== 'h264' || !transceiver.setCodecPreferences) return;
    const caps = RTCRtpSender.getCapabilities('video');
    const h264 = (caps ? caps.codecs : []).filter((c) =>
      c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine || ''));
    if (!h264.length) return; // this browser cannot send it: VP8 as usual
    const rtx = caps.codecs.filter((c) => c.mimeType === 'video/rtx');
    transceiver.setCodecPreferences([...h264, ...rtx]);
  }

  /** Stops the share; the media line stays for the next one. */
  async stopShare() {
    const t = this.screenTransceiver;
    if (!t || t.direction === 'inactive') return;
    await t.sender.replaceTrack(null);
    t.direction = 'inactive';
    await this.renegotiate();
  }

  /** Stops publishing altogether (an observer's floor was taken back). */
  unpublish() {
    if (this.sendPc) this.sendPc.close();
    this.sendPc = null;
    this.screenTransceiver = null;
    this.cameraSender = null;
  }

  async answerRecv(msg) {
    if (msg.new_transport && this.recvPc) {
      // The server rebuilt our receiving transport: its media lines start over.
      this.recvPc.close();
      this.recvPc = null;
      this.recvTracks.clear();
      this.dispatchEvent(new CustomEvent('recv-reset'));
    }
    for (const t of msg.tracks || []) this.recvTracks.set(t.mid, t);
    if (!this.recvPc) {
      const pc = new RTCPeerConnection(this.rtcConfig());
      this.recvPc = pc;
      pc.ontrack = (ev) => {
        const info = this.recvTracks.get(ev.transceiver.mid) || {};
        const streamId = ev.streams[0] ? ev.streams[0].id : '';
        const participant = info.participant ?? Number(streamId.replace(/^p/, ''));
        this.dispatchEvent(new CustomEvent('track', {
          detail: {
            participant, kind: ev.track.kind, track: ev.track, mid: ev.transceiver.mid,
            source: info.source || 'camera', id: info.id,
          },
        }));
      };
      pc.onconnectionstatechange = () =>
        this.dispatchEvent(new CustomEvent('connection', { detail: { transport: 'recv', state: pc.connectionState } }));
    }
    const pc = this.recvPc;
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    this.send({ type: 'answer', transport: 'recv', sdp: pc.localDescription.sdp });
  }

  /** The highest simulcast layer to receive (0 the lowest). */
  setMaxLayer(maxLayer) { this.send({ type: 'set_preferences', max_layer: maxLayer }); }
  raiseHand(raised) { this.send({ type: 'raise_hand', raised }); }
  chat(text) { this.send({ type: 'chat', text }); }
  spotlight(participant) { this.send({ type: 'spotlight', participant }); }
  /** Host: show page `page` (from 0) of courseware deck `deck` to everyone; `null` puts it away. */
  showSlide(deck, page) { this.send({ type: 'show_slide', deck, page }); }
  /** Host: mute a participant's microphone (the server stops its audio), or lift it. */
  mute(participant, muted = true) { this.send({ type: 'mute', participant, muted }); }
  /** Host: remove a participant; its link no longer opens this session. */
  remove(participant) { this.send({ type: 'remove', participant }); }
  grantFloor(participant, granted) { this.send({ type: 'grant_floor', participant, granted }); }
  start() { this.send({ type: 'start' }); }
  end() { this.send({ type: 'end' }); }
  record(on) { this.send({ type: 'record', on }); }

  close() {
    for (const pc of [this.sendPc, this.recvPc]) if (pc) pc.close();
    if (this.ws) this.ws.close();
  }
}
