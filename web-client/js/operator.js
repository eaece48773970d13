// The operator dashboard: every live session with its health (refreshed every two seconds); one
// session's participants as tiles with sparklines of bitrate, loss and RTT from the live feed (a
// sample a second); and the past sessions with their quality reports.

import { applyI18n, t, toggleLang } from './i18n.js';
import { h, schoolNotInName } from './dom.js';
import { adoptTokenFromLink, downloadCsv, get, liveFeed, platformOperator, send, signIn, signOut, token } from './operator-api.js';
import { round, sparkline } from './charts.js';

const $ = (id) => document.getElementById(id);
const HISTORY = 60; // samples kept per participant: a minute
const REFRESH_MS = 2000;

let live = [];
let reports = [];
let detail = null; // { id, title, feed, sample, history: Map<participant, {bitrate, loss, rtt}> }
let timer = null;

adoptTokenFromLink();

function dot(health) {
  const d = h('span', `dot dot-${health}`);
  d.setAttribute('aria-hidden', 'true');
  return d;
}

function healthLabel(health) {
  const s = h('span', `dot-label health-${health}`);
  s.append(dot(health), document.createTextNode(t(`health_${health}`)));
  return s;
}

const beijing = (utc) =>
  new Date(utc * 1000).toLocaleString(document.documentElement.lang, {
    timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
  });

function showError(message) {
  $('error').hidden = !message;
  $('error').textContent = message || '';
}

function signedIn(yes) {
  $('sign-in').hidden = yes;
  $('sign-out').hidden = !yes;
  $('live').hidden = !yes || detail !== null;
  $('past').hidden = !yes || detail !== null;
  $('detail').hidden = !yes || detail === null;
}

let liveIds = '';
let reportsAt = 0;
const REPORTS_EVERY_MS = 30000;

async function refresh() {
  try {
    live = await get('/api/live');
    // The past list changes when a session ends (it leaves the live list): fetch it then, and
    // now and again, not every two seconds.
    const ids = live.map((l) => l.session.id).join(',');
    if (ids !== liveIds || Date.now() - reportsAt > REPORTS_EVERY_MS) {
      liveIds = ids;
      reportsAt = Date.now();
      reports = await get('/api/reports?limit=50').catch((e) => {
        if (e.status === 401) throw e;
        reportsAt = 0;
        return reports;
      });
    }
    showError('');
    signedIn(true);
    $('updated').textContent = `${t('ops_updated')} ${new Date().toLocaleTimeString(document.documentElement.lang, { hour12: false })}`;
    render();
  } catch (e) {
    if (e.status === 401) {
      const tried = token() !== '';
      signOut();
      closeDetail();
      signedIn(false);
      showError(tried ? t('ops_wrong_token') : '');
      clearInterval(timer);
      timer = null;
    } else {
      showError(`${t('ops_unreachable')} ${e.message}`);
    }
  }
}

function render() {
  applyI18n();
  document.title = `${t('ops_title')} · ${t('app_name')}`;
  renderLive();
  renderPast();
  if (detail) renderDetail();
}

function renderLive() {
  const list = $('sessions');
  list.replaceChildren();
  $('live-empty').hidden = live.length > 0;
  for (const l of live) {
    const s = l.session;
    const li = h('li', `ops-session health-${l.health}`);
    li.dataset.session = s.id;
    const open = h('button', 'ops-open');
    open.type = 'button';
    open.append(dot(l.health));
    const title = h('span', 'ops-session-title', `${s.subject} · ${s.title}`);
    open.append(title);
    open.setAttribute('aria-label', `${s.subject} · ${s.title}: ${t(`health_${l.health}`)}`);
    open.addEventListener('click', () => openDetail(s.id, `${s.subject} · ${s.title}`, s.host_name));
    const meta = h('span', 'muted', `${t(`kind_${s.kind}`)} · ${t(`state_${s.state}`)} · ${s.start_local.slice(11)}–${s.end_local.slice(11)} · ${s.host_name}`);
    const counts = h('span', 'ops-counts');
    counts.textContent = t('ops_people').replace('{n}', l.participants);
    if (l.weak + l.lost > 0) {
      const trouble = h('span', 'ops-trouble', ` · ${t('ops_in_trouble').replace('{n}', l.weak + l.lost)}: ${l.troubled.join('、')}`);
      counts.append(trouble);
    }
    li.append(open, meta, counts);
    list.append(li);
  }
}

function renderPast() {
  const body = $('reports').querySelector('tbody');
  body.replaceChildren();
  $('past-empty').hidden = reports.length > 0;
  $('reports').hidden = reports.length === 0;
  for (const r of reports) {
    const tr = h('tr');
    tr.dataset.session = r.session;
    const title = h('th', '', r.title);
    title.scope = 'row';
    const actions = h('td', 'actions');
    const view = h('a', 'button-link', t('ops_view_report'));
    view.href = `/report.html?session=${r.session}`;
    const csv = h('button', 'ghost', 'CSV');
    csv.type = 'button';
    csv.setAttribute('aria-label', `${t('ops_download_csv')}: ${r.title}`);
    csv.addEventListener('click', () => downloadCsv(r.session).catch((e) => showError(e.message)));
    actions.append(view, csv);
    tr.append(
      title,
      h('td', '', beijing(r.ended_utc)),
      h('td', 'num', String(r.participants)),
      h('td', `num ${r.troubled ? 'bad' : ''}`, String(r.troubled)),
      h('td', 'num', r.worst_loss_pct == null ? '—' : `${round(r.worst_loss_pct)}%`),
      h('td', 'num', String(r.freezes)),
      actions,
    );
    body.append(tr);
  }
}

// ---- one session ----------------------------------------------------------------------------

function openDetail(id, title, host) {
  closeDetail();
  detail = { id, title, host, sample: null, history: new Map() };
  follow(id);
  signedIn(true);
  renderDetail();
  $('back').focus();
}

/** Opens the session's live feed; when it drops, says so and opens it again. */
function follow(id) {
  detail.feed = liveFeed(id, (sample) => {
    $('detail-stale').hidden = true;
    if (!detail || detail.id !== id) return;
    detail.sample = sample;
    for (const p of sample.participants) {
      const hist = detail.history.get(p.participant) || { bitrate: [], loss: [], rtt: [] };
      const loss = [p.loss_up_pct, p.loss_down_pct].filter((v) => v != null);
      hist.bitrate.push(p.kbps_in + p.kbps_out);
      hist.loss.push(loss.length ? Math.max(...loss) : null);
      hist.rtt.push(p.rtt_ms);
      for (const k of Object.keys(hist)) if (hist[k].length > HISTORY) hist[k].shift();
      detail.history.set(p.participant, hist);
    }
    renderDetail();
  }, () => {
    if (!detail || detail.id !== id || detail.closing) return;
    $('detail-stale').hidden = false;
    detail.retry = setTimeout(() => detail && detail.id === id && follow(id), 2000);
  });
}

function closeDetail() {
  if (detail) {
    detail.closing = true;
    clearTimeout(detail.retry);
    if (detail.feed) detail.feed.close();
  }
  detail = null;
  $('detail-stale').hidden = true;
}

const order = { lost: 0, weak: 1, unknown: 2, good: 3 };

function renderDetail() {
  $('detail-title').textContent = detail.title;
  $('detail-sub').textContent = detail.host;
  const sample = detail.sample;
  $('detail-health').replaceChildren(sample ? healthLabel(sample.health) : document.createTextNode(t('connecting')));
  const tiles = $('tiles');
  tiles.replaceChildren();
  const people = sample ? [...sample.participants] : [];
  $('detail-empty').hidden = !sample || people.length > 0;
  // Trouble first: a weak classroom stands out at the top.
  people.sort((a, b) => order[a.health] - order[b.health] || a.name.localeCompare(b.name));
  for (const p of people) {
    const li = h('li', `ops-tile health-${p.health}`);
    li.dataset.name = p.name;
    li.dataset.health = p.health;
    const head = h('div', 'ops-tile-head');
    head.append(healthLabel(p.health));
    head.append(h('span', 'pill', t(`role_${p.role}`)));
    const name = h('h3', '', p.name);
    const school = h('p', 'muted', schoolNotInName(p));
    const reasons = h('p', 'reasons', p.reasons.map((r) => t(`reason_${r.replaceAll(' ', '_')}`)).join('；'));
    const hist = detail.history.get(p.participant) || { bitrate: [], loss: [], rtt: [] };
    const stats = h('dl', 'ops-stats');
    const loss = [p.loss_up_pct, p.loss_down_pct].filter((v) => v != null);
    for (const [key, value, unit, series, floor, cls] of [
      ['ops_bitrate', p.kbps_in + p.kbps_out, ' kbit/s', hist.bitrate, 100, 'spark-bitrate'],
      ['ops_loss', loss.length ? Math.max(...loss) : null, '%', hist.loss, 5, 'spark-loss'],
      ['ops_rtt', p.rtt_ms, ' ms', hist.rtt, 50, 'spark-rtt'],
    ]) {
      const dt = h('dt', '', t(key));
      const dd = h('dd');
      dd.append(h('span', 'value', value == null ? '—' : `${round(value)}${unit}`));
      dd.append(sparkline(series, { label: t(key), floor, cls }));
      stats.append(dt, dd);
    }
    const bwe = p.bwe_down_kbps == null ? '' : ` · ${t('ops_bwe')} ${round(p.bwe_down_kbps)} kbit/s`;
    // The simulcast layer it receives: 1/3 is the lowest of three, 3/3 the top.
    const layer = p.video_layer == null ? '' : ` ${p.video_layer + 1}/${p.video_layers}`;
    // What its camera sends (VP8, or H.264 from an encoder or a page set to it).
    const codec = p.video_codec ? ` · ${t('ops_sends')} ${p.video_codec}` : '';
    const extra = h('p', 'muted small',
      `${t(`conn_${p.connection}`)} · ${t(`video_${p.video}`)}${layer} · ${t('ops_freezes')} ${p.freezes} · ${t('ops_audio_gaps')} ${p.audio_gaps_up} · NACK ${p.nacks} · PLI ${p.plis}${bwe}${codec}`);
    li.append(head, name, school, reasons, stats, extra);
    tiles.append(li);
  }
}

// ---- wiring ---------------------------------------------------------------------------------

$('lang').addEventListener('click', toggleLang);
document.addEventListener('langchange', render);
$('back').addEventListener('click', () => {
  closeDetail();
  signedIn(true);
  render();
  const row = document.querySelector('.ops-open');
  if (row) row.focus();
});
$('sign-out').addEventListener('click', async () => {
  // A platform sign-in ends too (a token is only this tab's).
  if (!token()) await send('POST', '/auth/logout').catch(() => {});
  signOut();
  closeDetail();
  signedIn(false);
  clearInterval(timer);
  timer = null;
});
$('sign-in-form').addEventListener('submit', (e) => {
  e.preventDefault();
  signIn($('token').value);
  $('token').value = '';
  start();
});

function start() {
  refresh();
  if (!timer) timer = setInterval(refresh, REFRESH_MS);
}

applyI18n();
// The token of this tab, or else a platform sign-in with the operator role.
if (token()) start();
else platformOperator().then((yes) => (yes ? start() : signedIn(false))).catch(() => signedIn(false));
