// The pre-lesson network check: camera, microphone, a real media connection to the server's UDP
// port, and the bandwidth and loss of what arrives there (measured by the server), then a plain
// verdict with advice. Opened with a classroom's timetable or join link (`?token=…`).

import { applyI18n, t, toggleLang } from './i18n.js';

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get('token') || '';
const MEASURE_MS = 8000;
const CONNECT_MS = 10000;
const results = {};
let verdict = null;

function step(name, state, detail = '') {
  const li = document.querySelector(`#steps [data-step="${name}"]`);
  li.querySelector('.step-state').dataset.state = state;
  li.querySelector('.step-state').textContent = t(`check_state_${state}`);
  li.querySelector('.step-detail').textContent = detail;
  results[name] = { state, detail };
}

function fmt(v, unit) {
  return v == null ? '—' : `${Math.round(v * 10) / 10}${unit}`;
}

/** Camera and microphone: a picture, and a microphone whose level we show. */
async function devices() {
  step('camera', 'running');
  step('microphone', 'running');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: 640 }, height: { ideal: 360 } } });
  } catch (e) {
    step('camera', 'fail', e.message);
    step('microphone', 'fail', e.message);
    return null;
  }
  const video = $('preview');
  video.srcObject = stream;
  await new Promise((r) => (video.videoWidth ? r() : video.addEventListener('loadedmetadata', r, { once: true })));
  const cam = stream.getVideoTracks()[0];
  step('camera', cam ? 'ok' : 'fail', cam ? `${cam.label} · ${video.videoWidth}×${video.videoHeight}` : t('check_no_camera'));
  const mic = stream.getAudioTracks()[0];
  if (!mic) {
    step('microphone', 'fail', t('check_no_microphone'));
    return stream;
  }
  // The level over two seconds: a silent room is fine, a dead microphone is worth a warning.
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  ctx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  let peak = 0;
  const until = Date.now() + 2000;
  while (Date.now() < until) {
    analyser.getFloatTimeDomainData(buf);
    const rms = Math.sqrt(buf.reduce((s, x) => s + x * x, 0) / buf.length);
    peak = Math.max(peak, rms);
    $('level').value = Math.min(1, rms * 4);
    await new Promise((r) => setTimeout(r, 100));
  }
  step('microphone', peak > 0.002 ? 'ok' : 'warn', `${mic.label}${peak > 0.002 ? '' : ' · ' + t('check_mic_silent')}`);
  return stream;
}

/** A real media connection to the server, and what the server measures of it. */
async function network(stream) {
  step('udp', 'running');
  step('bandwidth', 'waiting');
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/ws/check?token=${encodeURIComponent(token)}`);
  const samples = [];
  let udpPort = null;
  let refused = null;
  let gotRelays;
  const relays = new Promise((r) => (gotRelays = r));
  const answer = new Promise((resolve, reject) => {
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === 'ice_servers') gotRelays(msg.ice_servers || []);
      else if (msg.type === 'answer') resolve(msg.sdp);
      else if (msg.type === 'check_stats') {
        udpPort = msg.udp_port;
        samples.push(msg);
      } else if (msg.type === 'error') {
        refused = msg.message;
        reject(new Error(msg.message));
      }
    };
    ws.onclose = () => reject(new Error(refused || t('check_ws_closed')));
  });
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = () => j(new Error(t('check_ws_closed')));
  }).catch((e) => {
    refused = e.message;
  });
  if (refused) {
    step('udp', 'fail', refused);
    return;
  }
  // The relays the lesson would use too (a school that lets only HTTPS out reaches the server
  // through TURN over TLS); an error before them ends the check.
  const iceServers = await Promise.race([relays, answer.then(() => [], () => [])]);
  if (refused) {
    step('udp', 'fail', refused);
    return;
  }
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers });
  for (const tr of stream ? stream.getTracks() : []) pc.addTransceiver(tr, { direction: 'sendonly', streams: [stream] });
  if (!stream) pc.addTransceiver('video', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  ws.send(JSON.stringify({ type: 'offer', transport: 'send', sdp: pc.localDescription.sdp }));
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp: await answer });
  } catch (e) {
    step('udp', 'fail', e.message);
    ws.close();
    return;
  }
  const connected = await new Promise((resolve) => {
    const done = () => pc.connectionState === 'connected' && resolve(true);
    pc.addEventListener('connectionstatechange', done);
    done();
    setTimeout(() => resolve(pc.connectionState === 'connected'), CONNECT_MS);
  });
  if (!connected) {
    results.port = udpPort;
    step('udp', 'fail', t('check_udp_blocked').replace('{port}', udpPort ?? '?'));
    step('bandwidth', 'fail');
    pc.close();
    ws.close();
    return;
  }
  results.port = udpPort;
  // Over UDP; over TCP when the school's network blocks UDP (ICE-TCP, the same port); or through
  // the TURN relay (over TLS on 443) when it lets only HTTPS out.
  let protocol = 'udp';
  const stats = await pc.getStats();
  for (const s of stats.values()) {
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
      const local = stats.get(s.localCandidateId);
      if (local && local.candidateType === 'relay') protocol = `turn-${local.relayProtocol || 'udp'}`;
      else if (local && local.protocol) protocol = local.protocol;
    }
  }
  results.protocol = protocol;
  document.body.dataset.path = protocol;
  if (protocol.startsWith('turn-')) {
    const via = protocol === 'turn-tls' ? 'TURN/TLS' : `TURN/${protocol.slice(5).toUpperCase()}`;
    step('udp', 'warn', t('check_turn_only').replaceAll('{port}', udpPort ?? '?').replace('{via}', via));
  } else if (protocol === 'tcp') step('udp', 'warn', t('check_tcp_only').replaceAll('{port}', udpPort ?? '?'));
  else step('udp', 'ok', t('check_udp_port').replace('{port}', udpPort ?? '?'));
  step('bandwidth', 'running');
  const start = samples.length;
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  // The browser's own estimate of the uplink (its congestion controller), and what the server got.
  let available = null;
  let browserRtt = null;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'candidate-pair' && s.nominated) {
      if (s.availableOutgoingBitrate) available = s.availableOutgoingBitrate / 1000;
      if (s.currentRoundTripTime != null) browserRtt = s.currentRoundTripTime * 1000;
    }
  }
  const got = samples.slice(start).filter((s) => s.connected);
  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const kbps = mean(got.map((s) => s.kbps_in));
  const loss = mean(got.map((s) => s.loss_up_pct).filter((v) => v != null));
  // The server measures RTT only from the sender's reports; the browser's ICE checks always do.
  const rtt = mean(got.map((s) => s.rtt_ms).filter((v) => v != null)) ?? browserRtt;
  results.figures = { kbps, loss, rtt, available };
  // Weak: loss or delay a lesson would feel, an uplink estimate below what a classroom's camera
  // needs (about 500 kbit/s), or media that does not arrive.
  const weak = (loss != null && loss >= 5) || (rtt != null && rtt >= 300)
    || (available != null && available < 500) || kbps == null || kbps < 50;
  step('bandwidth', weak ? 'warn' : 'ok',
    t('check_figures').replace('{kbps}', fmt(kbps, '')).replace('{loss}', fmt(loss, '%')).replace('{rtt}', fmt(rtt, ' ms'))
      .replace('{available}', fmt(available, '')));
  pc.close();
  ws.close();
}

function decide() {
  const failed = ['camera', 'udp'].some((s) => results[s]?.state === 'fail');
  const warned = ['microphone', 'bandwidth', 'udp'].some((s) => results[s]?.state === 'warn' || results[s]?.state === 'fail');
  verdict = failed ? 'fail' : warned ? 'warn' : 'ok';
  render();
}

function render() {
  applyI18n();
  document.title = `${t('check_title')} · ${t('app_name')}`;
  $('preview').setAttribute('aria-label', t('check_camera'));
  for (const [name, r] of Object.entries(results)) {
    if (name === 'figures' || name === 'port' || name === 'protocol') continue;
    const li = document.querySelector(`#steps [data-step="${name}"] .step-state`);
    li.textContent = t(`check_state_${r.state}`);
  }
  if (!verdict) return;
  const box = $('verdict');
  box.hidden = false;
  box.dataset.verdict = verdict;
  box.querySelector('.verdict-line').textContent = t(`check_verdict_${verdict}`);
  let advice = t(`check_advice_${verdict}`).replaceAll('{port}', results.port ?? '?');
  if (verdict === 'warn' && results.protocol === 'tcp') advice = t('check_advice_tcp').replaceAll('{port}', results.port ?? '?');
  if (verdict === 'warn' && results.protocol?.startsWith('turn-')) advice = t('check_advice_turn').replaceAll('{port}', results.port ?? '?');
  if (results.camera?.state === 'fail') advice = t('check_advice_camera');
  box.querySelector('.verdict-advice').textContent = advice;
}

$('lang').addEventListener('click', () => {
  toggleLang();
  render();
});
$('start').addEventListener('click', async () => {
  $('start').disabled = true;
  $('verdict').hidden = true;
  verdict = null;
  const stream = await devices();
  await network(stream);
  if (stream) for (const tr of stream.getTracks()) tr.stop();
  decide();
  $('start').disabled = false;
  $('start').dataset.i18n = 'check_again';
  $('start').textContent = t('check_again');
});
for (const li of document.querySelectorAll('#steps li')) step(li.dataset.step, 'waiting');
render();
if (!token) {
  $('start').disabled = true;
  $('verdict').hidden = false;
  $('verdict').dataset.verdict = 'fail';
  $('verdict').querySelector('.verdict-line').textContent = t('schedule_no_token');
}
