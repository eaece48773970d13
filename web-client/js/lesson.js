// The lesson page: one page for every role; the layout follows the role.
// Host: the remote classrooms in a grid (a spotlighted one on the stage), start/end.
// Classroom and observer: the teacher on the stage, other classrooms small, raise hand.

import { TongbuClient } from './protocol.js';
import { Courseware } from './courseware.js';
import { applyI18n, t, toggleLang } from './i18n.js';

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get('token') || '';
// `&codec=h264` on a link: this page sends H.264 (a classroom PC with a hardware encoder).
const videoCodec = new URLSearchParams(location.search).get('codec') === 'h264' ? 'h264' : null;
const client = new TongbuClient(token, { videoCodec });
// For the console and the tests: its peer connections' getStats() say what arrives.
window.tongbuClient = client;
// The session's slides, fetched ahead (see courseware.js).
const courseware = new Courseware(token);
window.tongbuCourseware = courseware;
// Errors after which retrying cannot help.
const PERMANENT = ['invalid_token', 'session_closed', 'not_yet_open', 'unsupported_version', 'removed'];
let localStream = null;

/** The pages' simulcast layers by number (see SIMULCAST_LAYERS in protocol.js). */
const LAYER_NAMES = ['180p', '360p', '720p'];

const ui = {
  me: null,
  role: null,
  roster: new Map(), // id -> participant info
  streams: new Map(), // participant id -> MediaStream
  spotlight: null,
  state: null,
  hand: false,
  ended: false,
  links: new Map(), // participant id -> { health, reasons } from `link_health`
  compare: null, // the two compared lessons (同课异构), when the session has them
  videoPaused: new Set(), // participants whose video the server paused to keep their audio
  layers: new Map(), // participant id -> simulcast layer of its camera we receive (null: paused)
  speaker: null, // the participant who speaks now (active_speaker)
  screens: new Map(), // participant id -> MediaStream of the screen it shares
  slide: null, // the courseware page the host shows: { deck, page }, or null
  trackIds: new Map(), // server track id -> { pid, source, track }
  sharing: null, // what this page shares: null, 'screen' or 'slides'
};

function hostId() {
  for (const p of ui.roster.values()) if (p.role === 'host') return p.id;
  return null;
}

function displayName(p) {
  return p ? p.name : '';
}

/** A reason the server gives (English words) in the page's language. */
function reason(r) {
  return t(`reason_${r.replaceAll(' ', '_')}`);
}

/** A banner while this participant's own link is weak or lost; gone when it is good again. */
function showOwnLink() {
  const own = ui.me ? ui.links.get(ui.me.id) : null;
  const b = $('link-banner');
  // Paused by the server: all video (audio first), or the teacher's camera because not even
  // its lowest layer fits this classroom's link.
  const teacherPaused = ui.role !== 'host' && ui.layers.get(hostId()) === null;
  const paused = ui.me && (ui.videoPaused.has(ui.me.id) || teacherPaused) && !ui.ended;
  // Audio first: the pictures stop on purpose; say so instead of showing them frozen.
  document.body.classList.toggle('video-paused', !!paused);
  $('stage-paused').textContent = t('video_paused_stage');
  const bad = paused || (own && own.health !== 'good' && !ui.ended);
  b.hidden = !bad;
  b.dataset.health = bad ? (paused ? 'weak' : own.health) : '';
  if (paused) {
    b.textContent = t('video_paused_self');
  } else if (bad) {
    const why = own.reasons.map(reason).join('；');
    b.textContent = t(own.health === 'lost' ? 'link_lost_self' : 'link_weak_self').replace('{why}', why);
  }
}

function banner(text) {
  const b = $('banner');
  b.textContent = text || '';
  b.hidden = !text;
}

function setConn(key) {
  $('conn').dataset.i18n = key;
  $('conn').dataset.state = key;
  $('conn').textContent = t(key);
}

function setState(state) {
  ui.state = state;
  $('state').dataset.state = state;
  $('state').textContent = t('state_' + state);
  const host = ui.role === 'host';
  $('start').hidden = !host || state === 'live' || ui.ended;
  $('end').hidden = !host || ui.ended;
  showRecordButton();
  if (state === 'ended' || state === 'report') {
    ui.ended = true;
    banner(t('lesson_ended'));
    document.body.dataset.ended = 'true';
    for (const b of document.querySelectorAll('.controls button, #chat-form button')) b.disabled = true;
    client.close();
  }
}

function play(video) {
  const p = video.play();
  if (p) p.catch(() => ($('sound').hidden = false));
}

function tile(pid) {
  let el = document.querySelector(`#grid [data-participant="${pid}"]`);
  if (el) return el;
  const p = ui.roster.get(pid);
  el = document.createElement('figure');
  el.className = 'tile';
  el.dataset.participant = pid;
  el.dataset.role = p ? p.role : '';
  el.innerHTML = '<video autoplay playsinline></video><figcaption><span class="dot" hidden></span><span class="name"></span><span class="hand" hidden></span><span class="speaking-tag" hidden></span><span class="paused-tag" hidden></span><span class="layer-tag" hidden></span><span class="floor-tag" hidden></span><span class="muted-tag" hidden></span></figcaption>';
  el.querySelector('.name').textContent = displayName(p);
  if (ui.role === 'host') {
    const actions = document.createElement('div');
    actions.className = 'tile-actions';
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'spot ghost';
    b.addEventListener('click', () => client.spotlight(ui.spotlight === pid ? null : pid));
    const m = document.createElement('button');
    m.type = 'button';
    m.className = 'mute ghost';
    m.addEventListener('click', () => {
      const q = ui.roster.get(pid);
      client.mute(pid, !(q && q.muted));
    });
    actions.append(b, m);
    if (p && p.role !== 'host') {
      const r = document.createElement('button');
      r.type = 'button';
      r.className = 'remove ghost';
      r.addEventListener('click', () => {
        const q = ui.roster.get(pid);
        if (confirm(t('remove_confirm').replace('{name}', displayName(q)))) client.remove(pid);
      });
      actions.append(r);
    }
    if (p && p.role === 'observer') {
      const f = document.createElement('button');
      f.type = 'button';
      f.className = 'floor ghost';
      f.addEventListener('click', () => {
        const q = ui.roster.get(pid);
        client.grantFloor(pid, !(q && q.floor));
      });
      actions.append(f);
    }
    el.append(actions);
  }
  $('grid').append(el);
  refreshTiles();
  return el;
}

function refreshTiles() {
  for (const el of document.querySelectorAll('#grid .tile')) {
    const pid = Number(el.dataset.participant);
    const p = ui.roster.get(pid);
    el.classList.toggle('spotlit', ui.spotlight === pid);
    // The classroom that speaks now (the server's active speaker).
    el.classList.toggle('speaking', ui.speaker === pid);
    el.querySelector('.speaking-tag').hidden = ui.speaker !== pid;
    el.querySelector('.speaking-tag').textContent = t('speaking');
    el.querySelector('.hand').hidden = !(p && p.hand_raised);
    el.querySelector('.hand').textContent = t('raise_hand');
    const ft = el.querySelector('.floor-tag');
    ft.hidden = !(p && p.floor);
    ft.textContent = t('has_floor');
    const fb = el.querySelector('.floor');
    if (fb) {
      fb.textContent = p && p.floor ? t('take_floor') : t('give_floor');
      fb.setAttribute('aria-label', `${fb.textContent}: ${displayName(p)}`);
    }
    const layer = ui.layers.get(pid);
    const tag = el.querySelector('.paused-tag');
    tag.hidden = !ui.videoPaused.has(pid) && layer !== null;
    tag.textContent = t('video_paused');
    // Which simulcast layer of this camera our link carries now.
    const lt = el.querySelector('.layer-tag');
    lt.hidden = layer == null;
    lt.textContent = layer == null ? '' : LAYER_NAMES[layer] || `L${layer}`;
    lt.title = t('layer');
    el.dataset.layer = layer == null ? '' : String(layer);
    const b = el.querySelector('.spot');
    if (b) {
      b.textContent = ui.spotlight === pid ? t('unspotlight') : t('spotlight');
      b.setAttribute('aria-label', `${b.textContent}: ${displayName(p)}`);
    }
    const m = el.querySelector('.mute');
    if (m) {
      m.textContent = p && p.muted ? t('unmute') : t('mute');
      m.setAttribute('aria-pressed', String(!!(p && p.muted)));
      m.setAttribute('aria-label', `${m.textContent}: ${displayName(p)}`);
    }
    const r = el.querySelector('.remove');
    if (r) {
      r.textContent = t('remove');
      r.setAttribute('aria-label', `${r.textContent}: ${displayName(p)}`);
    }
    const mt = el.querySelector('.muted-tag');
    mt.hidden = !(p && p.muted);
    mt.textContent = t('muted_tag');
    // The host sees each classroom's link as the server measures it.
    const link = ui.links.get(pid);
    const dot = el.querySelector('.dot');
    dot.hidden = !link;
    if (link) {
      dot.className = `dot dot-${link.health}`;
      dot.setAttribute('role', 'img');
      dot.setAttribute('aria-label', `${t('link')}: ${t('health_' + link.health)}`);
      dot.title = [t('health_' + link.health), ...link.reasons.map(reason)].join(' · ');
      el.dataset.health = link.health;
    }
  }
  showOwnLink();
  showSharing();
  const h = hostId();
  if (ui.role === 'host') {
    $('stage-caption').textContent = ui.spotlight ? displayName(ui.roster.get(ui.spotlight)) : '';
    $('stage-empty').textContent = ui.spotlight ? '' : t('waiting_classrooms');
    $('stage-empty').hidden = !!(ui.spotlight && ui.streams.get(ui.spotlight));
  } else {
    const layer = ui.layers.get(h);
    const quality = layer == null ? '' : ` · ${LAYER_NAMES[layer] || `L${layer}`}`;
    $('stage-caption').textContent = h ? `${t('teacher')} · ${displayName(ui.roster.get(h))}${quality}` : '';
    $('stage').dataset.layer = layer == null ? '' : String(layer);
    $('stage-empty').textContent = t('waiting_teacher');
    $('stage-empty').hidden = !!(h && ui.streams.get(h));
  }
  document.body.classList.toggle('has-spotlight', ui.spotlight != null);
  refreshCompare();
}

// ---- 同课异构: two lessons side by side (research sessions that compare two lessons) -------

/** Builds the two panels, each waiting for its classroom's video. */
function buildCompare(comparison) {
  ui.compare = comparison;
  document.body.dataset.view = 'compare';
  const box = $('compare');
  box.hidden = false;
  box.replaceChildren();
  comparison.forEach((c, i) => {
    const fig = document.createElement('figure');
    fig.className = 'compare-panel';
    fig.dataset.classroom = c.classroom;
    fig.innerHTML = '<header><span class="compare-side"></span><h2 class="compare-title"></h2><p class="compare-who"></p></header>'
      + '<div class="tile"><video autoplay playsinline></video><p class="empty"></p></div>';
    fig.querySelector('.compare-side').dataset.side = i === 0 ? 'a' : 'b';
    fig.querySelector('.compare-title').textContent = c.title;
    fig.setAttribute('aria-label', c.title);
    box.append(fig);
  });
  refreshCompare();
}

/** Texts of the panels (they follow the language). */
function refreshCompare() {
  if (!ui.compare) return;
  for (const fig of document.querySelectorAll('#compare .compare-panel')) {
    const c = ui.compare.find((x) => String(x.classroom) === fig.dataset.classroom);
    const side = fig.querySelector('.compare-side');
    side.textContent = t(side.dataset.side === 'a' ? 'compare_a' : 'compare_b');
    fig.querySelector('.compare-who').textContent = t('compare_who').replace('{teacher}', c.teacher).replace('{classroom}', c.classroom_name);
    const v = fig.querySelector('video');
    const empty = fig.querySelector('.empty');
    empty.textContent = t('compare_waiting');
    empty.hidden = !!(v.srcObject && v.srcObject.getVideoTracks().length);
  }
}

/** The panel that shows this participant, if it teaches one of the compared lessons. */
function comparePanel(pid) {
  const p = ui.roster.get(pid);
  if (!ui.compare || !p || p.classroom == null) return null;
  return document.querySelector(`#compare .compare-panel[data-classroom="${p.classroom}"]`);
}

function attach(pid) {
  const stream = ui.streams.get(pid);
  if (!stream) return;
  const panel = comparePanel(pid);
  if (panel) {
    const v = panel.querySelector('video');
    if (v.srcObject !== stream) {
      v.srcObject = stream;
      play(v);
    }
    refreshCompare();
    return;
  }
  const isHost = pid === hostId();
  if (isHost && ui.role !== 'host' && !ui.compare) {
    updateStage();
  } else {
    const v = tile(pid).querySelector('video');
    if (v.srcObject !== stream) {
      v.srcObject = stream;
      play(v);
    }
    if (ui.role === 'host') {
      const sv = $('stage-video');
      const want = ui.spotlight != null ? ui.streams.get(ui.spotlight) || null : null;
      if (sv.srcObject !== want) {
        sv.srcObject = want;
        sv.muted = true; // the grid tile already plays its sound
        if (want) play(sv);
      }
    }
  }
  refreshTiles();
}

/** A classroom's (or observer's) stage: the teacher large, or, while courseware or a screen is
 *  shared, the shared content large and the teacher's camera (and voice) in its corner. A
 *  courseware page is an image fetched ahead, so it shows even while the video is paused. */
function updateStage() {
  if (ui.role === 'host' || ui.compare) return;
  const cam = ui.streams.get(hostId()) || null;
  const slide = ui.slide;
  const screen = slide ? null : [...ui.screens.values()][0] || null;
  const stage = $('stage-video');
  const pip = $('stage-pip');
  const img = $('stage-slide');
  const set = (v, s, muted) => {
    if (v.srcObject !== s) {
      v.srcObject = s;
      v.muted = muted;
      if (s) play(v);
    }
  };
  img.hidden = !slide;
  stage.hidden = !!slide;
  if (slide) courseware.show(img, slide.deck, slide.page);
  if (slide || screen) {
    set(stage, screen, true);
    set(pip, cam, false);
    pip.hidden = !cam;
  } else {
    set(pip, null, true);
    pip.hidden = true;
    set(stage, cam, false);
  }
  document.body.classList.toggle('has-screen', !!(slide || screen));
  document.body.classList.toggle('has-slide', !!slide);
  refreshTiles();
}

function removeParticipant(pid) {
  // Asked before it leaves the roster, which names the host.
  const wasHost = pid === hostId();
  ui.roster.delete(pid);
  ui.streams.delete(pid);
  ui.screens.delete(pid);
  const el = document.querySelector(`#grid [data-participant="${pid}"]`);
  if (el) el.remove();
  if (wasHost) $('stage-video').srcObject = null;
  updateStage();
  refreshTiles();
}

function chatLine(name, text) {
  const li = document.createElement('li');
  const b = document.createElement('b');
  b.textContent = name + '：';
  li.append(b, document.createTextNode(text));
  $('chat-log').append(li);
  li.scrollIntoView({ block: 'end' });
}

/** The host sees every classroom that is in, with or without video (its dot says why). */
function classroomTiles() {
  if (ui.role !== 'host') return;
  for (const p of ui.roster.values()) {
    if (p.role === 'classroom' && !comparePanel(p.id)) tile(p.id);
    // An observer gets a tile while it asks to speak or has the floor.
    if (p.role === 'observer') {
      const el = document.querySelector(`#grid [data-participant="${p.id}"]`);
      if (p.hand_raised || p.floor) tile(p.id);
      else if (el && !ui.streams.has(p.id)) el.remove();
    }
  }
}

client.addEventListener('participant_joined', (e) => {
  ui.roster.set(e.detail.participant.id, e.detail.participant);
  classroomTiles();
  refreshTiles();
});
client.addEventListener('participant_left', (e) => removeParticipant(e.detail.participant));
client.addEventListener('track', (e) => {
  const { participant, track, source, id } = e.detail;
  if (id != null) ui.trackIds.set(id, { pid: participant, source, track });
  if (source === 'screen') {
    ui.screens.set(participant, new MediaStream([track]));
    updateStage();
    return;
  }
  let s = ui.streams.get(participant);
  if (!s) {
    s = new MediaStream();
    ui.streams.set(participant, s);
  }
  s.addTrack(track);
  track.addEventListener('ended', () => s.removeTrack(track));
  attach(participant);
});
client.addEventListener('track_unpublished', (e) => {
  const info = ui.trackIds.get(e.detail.track);
  ui.trackIds.delete(e.detail.track);
  if (info && info.source === 'screen') {
    ui.screens.delete(info.pid);
    updateStage();
  } else if (info) {
    const s = ui.streams.get(info.pid);
    if (s) s.removeTrack(info.track);
  }
  refreshTiles();
});
client.addEventListener('floor', (e) => {
  const { participant, granted } = e.detail;
  const p = ui.roster.get(participant);
  if (p) {
    p.floor = granted;
    if (granted) p.hand_raised = false;
  }
  if (ui.me && participant === ui.me.id) {
    ui.hand = false;
    showHand();
    if (granted) startCamera().then(() => banner(t('floor_granted_self')));
    else stopCamera();
  } else if (!granted) {
    ui.streams.delete(participant);
    const el = document.querySelector(`#grid [data-participant="${participant}"]`);
    if (el && ui.role !== 'host') el.remove();
  }
  classroomTiles();
  refreshTiles();
});
client.addEventListener('session_state', (e) => setState(e.detail.state));
// The session is recorded (a pill in the header), or no longer; a recording the server had to
// stop (its disk is full) is said once, and the lesson goes on.
function showRecordButton() {
  const b = $('record');
  b.hidden = ui.role !== 'host' || ui.ended;
  b.setAttribute('aria-pressed', String(!!ui.recording));
  b.dataset.i18n = ui.recording ? 'record_stop' : 'record_start';
  b.textContent = t(b.dataset.i18n);
}
$('record').addEventListener('click', () => client.record(!ui.recording));

client.addEventListener('recording', (e) => {
  ui.recording = e.detail.recording;
  showRecordButton();
  const pill = $('recording');
  pill.hidden = !e.detail.recording;
  pill.dataset.i18n = 'recording_on';
  pill.textContent = t('recording_on');
  const reason = e.detail.reason || '';
  if (reason) banner(t(reason.startsWith('disk_full') ? 'recording_stopped_disk' : 'recording_stopped_error'));
});
client.addEventListener('chat', (e) => {
  const p = ui.roster.get(e.detail.from);
  chatLine(p ? p.name : e.detail.name, e.detail.text);
});
client.addEventListener('hand_raised', (e) => {
  const p = ui.roster.get(e.detail.participant);
  if (p) {
    p.hand_raised = e.detail.raised;
    if (e.detail.raised && ui.role === 'host') chatLine(p.name, t('hand_raised'));
  }
  classroomTiles();
  refreshTiles();
});
client.addEventListener('link_health', (e) => {
  ui.links.set(e.detail.participant, { health: e.detail.health, reasons: e.detail.reasons || [] });
  refreshTiles();
});
client.addEventListener('active_speaker', (e) => {
  ui.speaker = e.detail.participant;
  refreshTiles();
});
client.addEventListener('layer_changed', (e) => {
  const info = ui.trackIds.get(e.detail.track);
  if (!info || info.source === 'screen') return;
  ui.layers.set(info.pid, e.detail.layer);
  refreshTiles();
});
client.addEventListener('video_paused', (e) => {
  if (e.detail.paused) ui.videoPaused.add(e.detail.participant);
  else ui.videoPaused.delete(e.detail.participant);
  refreshTiles();
});
client.addEventListener('spotlight', (e) => {
  ui.spotlight = e.detail.participant;
  for (const pid of ui.streams.keys()) attach(pid);
  refreshTiles();
});
client.addEventListener('courseware', (e) => courseware.setDecks(e.detail.decks));
// A restart or an update: the connection closes (1012) and the page rejoins by itself.
client.addEventListener('server_restarting', () => banner(t('server_restarting')));
// This link joined the lesson elsewhere (another tab or computer): this page has left, and must
// not rejoin by itself, or two pages would take the seat from each other in turn.
client.addEventListener('replaced', () => {
  ui.ended = true;
  setConn('disconnected');
  banner(t('replaced'));
  // The camera and microphone are the other window's now.
  if (localStream) for (const tr of localStream.getTracks()) tr.stop();
});
client.addEventListener('slide', (e) => {
  const { deck, page } = e.detail;
  ui.slide = deck == null ? null : { deck, page };
  if (ui.role === 'host') {
    // Another host console may have put the slides up or away.
    if (ui.slide && !ui.sharing) ui.sharing = 'slides';
    if (!ui.slide && ui.sharing === 'slides') ui.sharing = null;
    showSharing();
  }
  updateStage();
});
courseware.addEventListener('ready', () => (document.body.dataset.courseware = 'ready'));
client.addEventListener('error', (e) => console.warn('server error', e.detail));
/** The host's mute, which the server enforces: the microphone is turned off here too, so
 *  the page shows what the others hear, and on again when the host lifts it. */
function setSelfMuted(muted) {
  ui.selfMuted = muted;
  if (localStream) for (const tr of localStream.getAudioTracks()) tr.enabled = !muted;
}
client.addEventListener('muted', (e) => {
  const { participant, muted } = e.detail;
  const p = ui.roster.get(participant);
  if (p) p.muted = muted;
  if (ui.me && participant === ui.me.id) {
    setSelfMuted(muted);
    banner(t(muted ? 'you_were_muted' : 'you_were_unmuted'));
  } else if (p) {
    chatLine(p.name, t(muted ? 'was_muted' : 'was_unmuted'));
  }
  refreshTiles();
});
// The host removed this page's classroom or person: it must not rejoin (its link is barred).
client.addEventListener('removed', () => {
  ui.ended = true;
  setConn('disconnected');
  banner(t('you_were_removed'));
  document.body.dataset.removed = 'true';
  if (localStream) for (const tr of localStream.getTracks()) tr.stop();
  client.close();
});
client.addEventListener('recv-reset', () => {
  for (const [pid, s] of ui.streams) for (const tr of s.getTracks()) s.removeTrack(tr);
  refreshTiles();
});
client.addEventListener('connection', (e) => {
  const s = e.detail.state;
  if (s === 'connected') setConn('connected');
  else if (s === 'disconnected' || s === 'failed') setConn('reconnecting');
});
/** Rejoins with the same link, waiting longer after each failed join (with jitter, so that a
 *  restarted server is not hit by every classroom at once). */
function reconnectLater() {
  if (ui.ended) return;
  setConn('reconnecting');
  const n = Number(sessionStorage.getItem('tongbu.retries') || 0);
  sessionStorage.setItem('tongbu.retries', String(n + 1));
  const delay = Math.min(8000, 1000 * 2 ** n) * (0.5 + Math.random());
  setTimeout(reloadWhenReachable, delay);
}

/** Reloads once the server answers again; until then asks every 1–2 s. A reload while the
 *  server is down (killed, restarting) would leave the browser's error page, which never
 *  comes back by itself. */
async function reloadWhenReachable() {
  try {
    const r = await fetch(location.href, { method: 'HEAD', cache: 'no-store' });
    if (r.ok) {
      location.reload();
      return;
    }
  } catch {
    // Not reachable yet.
  }
  setTimeout(reloadWhenReachable, 1000 + Math.random() * 1000);
}

client.addEventListener('close', (e) => {
  if (e.detail.joined) reconnectLater();
});

function showMe() {
  if (ui.me) $('me').textContent = `${t('role_' + ui.role)} · ${ui.me.name}`;
}

/** A lecture's listeners outside the roster, counted in the header (hidden while none). */
function showAudience(n) {
  ui.audience = n;
  $('audience').hidden = !n;
  $('audience').textContent = t('audience_count').replace('{n}', n.toLocaleString());
}
client.addEventListener('audience', (e) => showAudience(e.detail.count));

$('lang').addEventListener('click', () => {
  toggleLang();
  showMe();
  showAudience(ui.audience || 0);
  setState(ui.state || 'open');
  setConn($('conn').dataset.state || 'connecting');
  refreshTiles();
});
$('start').addEventListener('click', () => client.start());
$('end').addEventListener('click', () => client.end());
function showHand() {
  $('hand').setAttribute('aria-pressed', String(ui.hand));
  $('hand').dataset.i18n = ui.hand ? 'lower_hand' : 'raise_hand';
  $('hand').textContent = t($('hand').dataset.i18n);
}
$('hand').addEventListener('click', () => {
  ui.hand = !ui.hand;
  client.raiseHand(ui.hand);
  showHand();
});

// ---- sharing a screen or courseware (host) ------------------------------------------------

/** The host's view of the page it shows: the image, its number, the buttons. */
function showSlideNav() {
  const slide = ui.slide;
  const deck = slide && courseware.decks.get(slide.deck);
  const count = deck ? deck.pages.length : 0;
  $('slide-count').textContent = deck ? `${slide.page + 1} / ${count}` : '';
  $('slide-prev').disabled = !deck || slide.page === 0;
  $('slide-next').disabled = !deck || slide.page >= count - 1;
  if (deck) courseware.show($('slide-preview'), slide.deck, slide.page);
}

function showSharing() {
  const on = ui.sharing != null;
  const can = (ui.role === 'host') && !ui.ended && !!localStream;
  $('share-screen').hidden = !can || on;
  $('share-slides').hidden = !can || on;
  $('stop-share').hidden = !on;
  $('share-preview').hidden = !on;
  $('slide-preview').hidden = ui.sharing !== 'slides';
  $('screen-preview').hidden = ui.sharing !== 'screen';
  $('slide-nav').hidden = ui.sharing !== 'slides';
  if (ui.sharing === 'slides') showSlideNav();
}

async function share(kind, track) {
  try {
    await client.share(track);
    ui.sharing = kind;
    track.addEventListener('ended', () => stopSharing());
  } catch (e) {
    track.stop();
    banner(t('share_error') + e.message);
  }
  showSharing();
}

async function stopSharing() {
  if (!ui.sharing) return;
  const was = ui.sharing;
  ui.sharing = null;
  showSharing();
  if (was === 'slides') {
    client.showSlide(null, 0);
    return;
  }
  const preview = $('screen-preview');
  if (preview.srcObject) for (const tr of preview.srcObject.getTracks()) tr.stop();
  preview.srcObject = null;
  await client.stopShare();
}

$('share-screen').addEventListener('click', async () => {
  let stream;
  try {
    // Text must stay readable: resolution over frame rate.
    stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10 } }, audio: false });
  } catch (e) {
    banner(t('share_error') + e.message);
    return;
  }
  const track = stream.getVideoTracks()[0];
  track.contentHint = 'detail';
  $('screen-preview').srcObject = stream;
  await share('screen', track);
});
// Courseware: the images are uploaded once; classrooms fetch them ahead and follow each turn.
$('share-slides').addEventListener('click', () => $('slides-file').click());
$('slides-file').addEventListener('change', async () => {
  const files = [...$('slides-file').files].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  $('slides-file').value = '';
  if (!files.length) return;
  const title = files[0].name.replace(/[-_ ]*\d*\.[^.]+$/, '') || t('slides_title');
  banner(t('slides_uploading'));
  let deck;
  try {
    deck = await courseware.upload(title, files);
  } catch (e) {
    banner(t('share_error') + e.message);
    return;
  }
  banner('');
  ui.sharing = 'slides';
  client.showSlide(deck.id, 0);
  showSharing();
});
$('slide-prev').addEventListener('click', () => {
  if (ui.slide) client.showSlide(ui.slide.deck, Math.max(0, ui.slide.page - 1));
});
$('slide-next').addEventListener('click', () => {
  if (!ui.slide) return;
  const deck = courseware.decks.get(ui.slide.deck);
  if (deck) client.showSlide(ui.slide.deck, Math.min(deck.pages.length - 1, ui.slide.page + 1));
});
$('stop-share').addEventListener('click', () => stopSharing());
// The highest picture quality to receive (a metered link, a small screen); the server sends
// the best layer the link carries up to it.
$('quality').addEventListener('change', (e) => client.setMaxLayer(Number(e.target.value)));

// ---- own camera and microphone -------------------------------------------------------------

async function startCamera() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      // 720p, so that simulcast has its three layers (180p, 360p, 720p).
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24 } },
    });
    localStream = stream;
    // Muted by the host before this page (re)joined: the microphone starts off.
    if (ui.selfMuted) for (const tr of stream.getAudioTracks()) tr.enabled = false;
    $('self-video').srcObject = stream;
    $('self').hidden = false;
    await client.publish(stream);
  } catch (e) {
    banner(t('camera_error') + e.message);
  }
  showSharing();
}

/** An observer's turn ended: camera and microphone off, nothing published. */
function stopCamera() {
  if (localStream) for (const tr of localStream.getTracks()) tr.stop();
  localStream = null;
  $('self-video').srcObject = null;
  $('self').hidden = true;
  client.unpublish();
  banner(t('floor_taken_self'));
}
$('sound').addEventListener('click', () => {
  for (const v of document.querySelectorAll('video:not(#self-video)')) v.play().catch(() => {});
  $('sound').hidden = true;
});
$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('chat-input').value.trim();
  if (text) client.chat(text);
  $('chat-input').value = '';
});

async function main() {
  applyI18n();
  setConn('connecting');
  let joined;
  try {
    joined = await client.connect();
  } catch (e) {
    setConn('disconnected');
    // A removed link and a full lecture are told in the page's language; other refusals carry
    // the server's words. A full lecture is tried again (backing off): a seat may free up.
    const told = { removed: 'you_were_removed', full: 'lecture_full' }[e.code];
    banner(told ? t(told) : t('join_error') + e.message);
    if (e.code === 'removed') document.body.dataset.removed = 'true';
    if (PERMANENT.includes(e.code)) ui.ended = true;
    else reconnectLater();
    return;
  }
  sessionStorage.removeItem('tongbu.retries');
  ui.me = joined.you;
  ui.role = joined.you.role;
  document.body.dataset.role = ui.role;
  for (const p of joined.roster) ui.roster.set(p.id, p);
  showAudience(joined.audience || 0);
  // The lesson's own title, in whatever language the page is in.
  delete $('title').dataset.i18n;
  $('title').textContent = joined.session.title;
  showMe();
  if (joined.you.muted) {
    ui.selfMuted = true;
    banner(t('you_were_muted'));
  }
  $('hand').hidden = ui.role !== 'classroom' && ui.role !== 'observer';
  setState(joined.session.state);
  if (joined.session.comparison && joined.session.comparison.length === 2) buildCompare(joined.session.comparison);
  classroomTiles();
  refreshTiles();
  if (ui.role === 'host' || ui.role === 'classroom' || joined.you.floor) {
    await startCamera();
  } else {
    $('self').hidden = true;
  }
  setConn('connected');
}

main();
