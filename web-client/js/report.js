// One session's quality report, for operators: time in good / unknown / weak / lost health per classroom,
// loss and RTT over the session, and every figure per classroom in a table (also as CSV).

import { applyI18n, t, toggleLang } from './i18n.js';
import { fullName, h } from './dom.js';
import { adoptTokenFromLink, downloadCsv, get, send } from './operator-api.js';
import { clock, legend, lineChart, round } from './charts.js';

const $ = (id) => document.getElementById(id);
const session = Number(new URLSearchParams(location.search).get('session'));
let report = null;
let info = null;
let recorded = null;

adoptTokenFromLink();

const fmt = (v, unit = '') => (v == null ? '—' : `${round(v)}${unit}`);

async function load() {
  if (!Number.isInteger(session) || session <= 0) {
    showError(t('report_bad_link'));
    return;
  }
  try {
    [report, info] = await Promise.all([get(`/api/sessions/${session}/report`), get(`/api/sessions/${session}`)]);
  } catch (e) {
    showError(e.status === 401 ? t('ops_wrong_token') : e.status === 404 ? t('report_not_yet') : e.message);
    return;
  }
  render();
  loadRecordings().catch((e) => showError(e.message));
}

/** The session's recordings, and a replay link to them (30 days) when there are any. */
async function loadRecordings() {
  const r = await get(`/api/sessions/${session}/recordings`);
  if (!r.files.length && r.recording_since_utc == null) return;
  const link = r.files.length ? await send('POST', `/api/sessions/${session}/replay-link`, { valid_days: 30 }) : null;
  recorded = { ...r, link };
  render();
}

function renderRecordings() {
  $('recordings').hidden = !recorded;
  if (!recorded) return;
  const files = recorded.files;
  const summary = files.length
    ? t('report_recorded')
      .replace('{n}', new Set(files.map((f) => f.recording_utc)).size)
      .replace('{files}', files.length)
      .replace('{mb}', round(files.reduce((a, f) => a + f.bytes, 0) / 1048576))
    : '';
  $('recordings-summary').textContent = [summary, recorded.recording_since_utc != null ? t('report_recording_now') : '']
    .filter(Boolean).join(' ');
  $('replay-link').hidden = !recorded.link;
  if (recorded.link) $('replay-link').href = recorded.link.url;
}

function showError(message) {
  $('error').hidden = false;
  $('error').textContent = message;
  applyI18n();
}

function render() {
  applyI18n();
  document.title = `${t('report_title')} · ${t('app_name')}`;
  if (!report) return;
  renderRecordings();
  $('report-title').textContent = `${t('report_title')} · ${info.subject} · ${info.title}`;
  $('report-sub').textContent = `${info.start_local}–${info.end_local.slice(11)} · ${info.host_name} · ${t('report_people').replace('{n}', report.participants.length)}`;
  $('csv').hidden = false;
  const people = report.participants;
  $('report-empty').hidden = people.length > 0;
  $('charts').hidden = people.length === 0;
  $('table').hidden = people.length === 0;

  // Time in each health state, as one stacked bar per participant.
  const bars = $('health-bars');
  bars.replaceChildren();
  for (const p of people) {
    const hs = p.health_secs;
    const unknown = hs.unknown || 0; // reports from before the state have none
    const total = hs.good + unknown + hs.weak + hs.lost || 1;
    const li = h('li');
    li.dataset.name = p.name;
    li.append(h('span', 'bar-label', fullName(p)));
    const bar = h('span', 'stack');
    bar.setAttribute('role', 'img');
    const pct = (v) => Math.round((v / total) * 1000) / 10;
    bar.setAttribute('aria-label', `${fullName(p)}: ${t('health_good')} ${pct(hs.good)}%, ${t('health_unknown')} ${pct(unknown)}%, ${t('health_weak')} ${pct(hs.weak)}%, ${t('health_lost')} ${pct(hs.lost)}%`);
    for (const k of ['good', 'unknown', 'weak', 'lost']) {
      const seg = h('span', `seg ${k}`);
      seg.style.width = `${pct(hs[k] || 0)}%`;
      bar.append(seg);
    }
    li.append(bar, h('span', 'bar-value', clock(p.connected_secs)));
    bars.append(li);
  }

  // The charts follow the rooms: listeners and observers are summed up without a timeline.
  const charted = people.filter((p) => p.timeline.length > 0);
  const series = (key) => charted.map((p) => ({ name: fullName(p), points: p.timeline.map((pt) => [pt.t, key(pt)]) }));
  const worstLoss = (pt) => {
    const v = [pt.loss_up_pct, pt.loss_down_pct].filter((x) => x != null);
    return v.length ? Math.max(...v) : null;
  };
  $('loss-chart').replaceChildren(
    lineChart(series(worstLoss), { label: t('report_loss_over_time'), unit: '%', floor: 5 }),
    legend(charted.map(fullName)),
  );
  $('rtt-chart').replaceChildren(
    lineChart(series((pt) => pt.rtt_ms), { label: t('report_rtt_over_time'), unit: ' ms', floor: 50 }),
    legend(charted.map(fullName)),
  );

  const cols = [
    ['report_col_who', fullName],
    // The role, and what its camera sent (an encoder's or a page's H.264 beside VP8).
    ['report_col_role', (p) => [t(`role_${p.role}`), ...(p.video_codecs || [])].join(' · ')],
    ['report_col_minutes', (p) => clock(p.connected_secs)],
    ['report_col_top_layer', (p) => fmt(p.top_layer_pct, '%')],
    ['report_col_bwe', (p) => (p.bwe_down_kbps ? `${fmt(p.bwe_down_kbps.mean)} / ${fmt(p.bwe_down_kbps.p95)}` : '')],
    ['report_col_freezes', (p) => p.freezes],
    ['report_col_audio_gaps', (p) => p.audio_gaps_up],
    ['report_col_loss_down', (p) => `${fmt(p.loss_down_pct.mean, '%')} / ${fmt(p.loss_down_pct.p95, '%')}`],
    ['report_col_loss_up', (p) => `${fmt(p.loss_up_pct.mean, '%')} / ${fmt(p.loss_up_pct.p95, '%')}`],
    ['report_col_rtt', (p) => `${fmt(p.rtt_ms.mean)} / ${fmt(p.rtt_ms.p95)}`],
    ['report_col_reconnects', (p) => p.reconnects],
  ];
  const head = $('rows').querySelector('thead tr');
  head.replaceChildren(...cols.map(([k], i) => {
    const th = h('th', i > 1 ? 'num' : '', t(k));
    th.scope = 'col';
    return th;
  }));
  const body = $('rows').querySelector('tbody');
  body.replaceChildren();
  for (const p of people) {
    const tr = h('tr');
    tr.dataset.name = p.name;
    const troubled = p.health_secs.weak + p.health_secs.lost > 0.1 * (p.health_secs.good + p.health_secs.weak + p.health_secs.lost);
    if (troubled) tr.className = 'troubled';
    cols.forEach(([, f], i) => {
      const cell = h(i === 0 ? 'th' : 'td', i > 1 ? 'num' : i === 1 ? 'role' : '', String(f(p)));
      if (i === 0) cell.scope = 'row';
      tr.append(cell);
    });
    body.append(tr);
  }
}

$('lang').addEventListener('click', toggleLang);
document.addEventListener('langchange', render);
$('csv').addEventListener('click', () => downloadCsv(session).catch((e) => showError(e.message)));
applyI18n();
load();
