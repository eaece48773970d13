// Replay of recorded lessons. One lesson: the teacher's camera large, a shared screen beside it,
// the classrooms' cameras below, every microphone heard, all on one timeline. 同课异构: two
// lessons side by side (`&compare=<session>&ctoken=<token>`), one seek bar for both, each from
// its own recording's start. The files come from the recordings API with the replay link's
// token (an operator without one gets a day's link first), served with byte ranges. A lesson
// recorded in parts (the host stopped and started again, or the server restarted mid-lesson)
// offers its parts in order, the first shown first.

import { applyI18n, t, toggleLang } from './i18n.js';
import { h } from './dom.js';
import { send, token as operatorToken } from './operator-api.js';

const $ = (id) => document.getElementById(id);
const q = new URLSearchParams(location.search);

/**
 * Every media element of every pane. A recorded file keeps its frames' times on its recording's
 * timeline (a camera that began 1.2 s in starts at 1.2 s, and browsers play it so), so an
 * element's time is the recording's: `start`, the pane's recording's first frame, puts the seek
 * bar's 0 there; `from` and `to` are the file's own first and last frame (s).
 */
const media = [];
/** The lessons shown: `{ view, tok, body, duration, recording }` each. */
const panes = [];
let duration = 0;
let playing = false;
let base = { at: 0, t: 0 };

const fmt = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

function showError(message) {
  $('error').hidden = false;
  $('error').textContent = message;
}

async function replayToken(session, given) {
  if (given) return given;
  if (!operatorToken()) return null;
  const link = await send('POST', `/api/sessions/${session}/replay-link`, { valid_days: 1 });
  return link.token;
}

async function listing(session, tok) {
  const res = await fetch(`/api/sessions/${session}/recordings?token=${encodeURIComponent(tok)}`);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

/** The recordings (their `recording_utc`) in a session's listing, oldest first. */
const partsOf = (view) => [...new Set(view.files.map((f) => f.recording_utc))].sort((a, b) => a - b);

/** When a recording began, the viewer's local HH:MM (24-hour, as timetables are written). */
const clock = (utc) => {
  const d = new Date(utc * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

/** One lesson's pane: a part chooser when it was recorded in parts, then the part's files. */
function pane(view, session, tok) {
  const root = h('section', 'card replay-pane');
  root.dataset.session = String(session);
  root.append(h('h2', null, view.session_title || `#${session}`));
  const parts = partsOf(view);
  const body = h('div', 'replay-body');
  const p = { view, tok, body, duration: 0 };
  if (parts.length > 1) {
    const nav = h('nav', 'replay-parts');
    nav.setAttribute('aria-label', t('replay_parts'));
    parts.forEach((utc, i) => {
      const b = h('button', 'ghost', `${t('replay_part').replace('{n}', i + 1)} · ${clock(utc)}`);
      b.type = 'button';
      b.dataset.recording = String(utc);
      b.addEventListener('click', () => {
        for (const o of nav.children) o.setAttribute('aria-pressed', String(o === b));
        showPart(p, utc);
        recomputeDuration();
        sync(true);
      });
      b.setAttribute('aria-pressed', String(i === 0));
      nav.append(b);
    });
    root.append(nav);
  }
  root.append(body);
  panes.push(p);
  showPart(p, parts[0]);
  return root;
}

/** Lays out pane `p`'s recording `utc` (replacing what it showed), its files on the timeline. */
function showPart(p, utc) {
  for (let i = media.length - 1; i >= 0; i--) {
    if (media[i].pane === p) {
      media[i].el.pause();
      media[i].el.removeAttribute('src');
      media.splice(i, 1);
    }
  }
  p.body.replaceChildren();
  const files = p.view.files.filter((f) => f.recording_utc === utc);
  const start = Math.min(...files.map((f) => f.start_ms ?? 0));
  const end = Math.max(...files.map((f) => f.end_ms ?? 0));
  p.duration = (end - start) / 1000;
  p.recording = utc;
  const stage = h('div', 'replay-stage');
  const thumbs = h('div', 'replay-thumbs');
  p.body.append(stage, thumbs);
  const src = (f) => `${f.url}?token=${encodeURIComponent(p.tok)}`;
  const who = (f) => f.track?.name || f.name;
  // A camera's later parts (its picture's size changed) follow its first; the first is shown.
  const first = new Map();
  for (const f of files) {
    const key = f.track ? `${f.track.participant}-${f.track.source}` : f.name;
    if (!first.has(key) || (f.start_ms ?? 0) < (first.get(key).start_ms ?? 0)) first.set(key, f);
  }
  for (const f of first.values()) {
    const source = f.track?.source || (f.name.includes('microphone') ? 'microphone' : 'camera');
    const place = { pane: p, start: start / 1000, from: (f.start_ms ?? start) / 1000, to: (f.end_ms ?? end) / 1000 };
    if (source === 'microphone') {
      const a = h('audio');
      a.src = src(f);
      a.preload = 'auto';
      p.body.append(a);
      media.push({ el: a, ...place });
      continue;
    }
    const fig = h('figure', 'replay-video');
    const v = h('video');
    v.src = src(f);
    v.muted = true;
    v.playsInline = true;
    v.preload = 'auto';
    v.dataset.role = f.track?.role || '';
    v.dataset.source = source;
    fig.append(v, h('figcaption', null, source === 'screen' ? `${who(f)} · ${t('replay_screen')}` : who(f)));
    const main = f.track?.role === 'host' || source === 'screen';
    (main ? stage : thumbs).append(fig);
    media.push({ el: v, ...place });
  }
}

/** The seek bar spans the longest pane's part. */
function recomputeDuration() {
  duration = Math.max(0, ...panes.map((p) => p.duration));
  $('seek').max = String(duration);
}

/** The timeline now, s. */
function now() {
  return playing ? base.t + (performance.now() - base.at) / 1000 : base.t;
}

/** Where element `m` should be when the seek bar is at `T`. */
function wantOf(m, T) {
  return m.start + T;
}

/** Puts every element where the timeline is (a file not begun yet, or over, waits paused). */
function sync(force) {
  const T = now();
  for (const m of media) {
    const want = wantOf(m, T);
    const inside = want >= m.from && want < m.to;
    if (!inside) {
      if (!m.el.paused) m.el.pause();
      continue;
    }
    if (force || Math.abs(m.el.currentTime - want) > 0.3) m.el.currentTime = want;
    if (playing && m.el.paused) m.el.play().catch(() => {});
    if (!playing && !m.el.paused) m.el.pause();
  }
  $('seek').value = String(Math.min(T, duration));
  $('time').textContent = `${fmt(Math.min(T, duration))} / ${fmt(duration)}`;
  if (T >= duration && playing) setPlaying(false);
}

function setPlaying(on) {
  base = { at: performance.now(), t: Math.min(now(), duration) };
  playing = on;
  $('play').dataset.i18n = on ? 'replay_pause' : 'replay_play';
  $('play').textContent = t($('play').dataset.i18n);
  sync(true);
}

async function main() {
  $('lang').addEventListener('click', () => { toggleLang(); applyI18n(); });
  applyI18n();
  const sessions = [[q.get('session'), q.get('token')], [q.get('compare'), q.get('ctoken')]]
    .filter(([s]) => s && Number(s) > 0);
  if (!sessions.length) {
    showError(t('replay_bad_link'));
    return;
  }
  try {
    const titles = [];
    for (const [session, given] of sessions) {
      const tok = await replayToken(session, given);
      if (!tok) throw new Error(t('replay_bad_link'));
      const view = await listing(session, tok);
      if (!view.files.length) throw new Error(t('replay_nothing'));
      $('panes').append(pane(view, session, tok));
      titles.push(view.session_title || `#${session}`);
    }
    $('replay-title').textContent = titles.join(' ⇄ ');
    document.title = `${t('replay_title')} · ${titles.join(' ⇄ ')}`;
  } catch (e) {
    showError(e.message);
    return;
  }
  $('panes').classList.toggle('replay-compare', sessions.length > 1);
  recomputeDuration();
  for (const id of ['play', 'seek']) $(id).disabled = false;
  $('play').addEventListener('click', () => setPlaying(!playing));
  $('seek').addEventListener('input', () => {
    base = { at: performance.now(), t: Number($('seek').value) };
    sync(true);
  });
  setInterval(() => sync(false), 250);
  sync(true);
}

window.tongbuReplay = { media, panes, now, wantOf, duration: () => duration, setPlaying };
main();
