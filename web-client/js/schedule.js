// A classroom's timetable: this week's sessions by day, each with a join button that opens in
// the session's join window (a countdown before). Opened with the classroom's schedule link.

import { applyI18n, t, toggleLang } from './i18n.js';

const token = new URLSearchParams(location.search).get('token') || '';
// The pre-lesson network check opens with the same link.
document.getElementById('check-link').href = `/check.html?token=${encodeURIComponent(token)}`;
const $ = (id) => document.getElementById(id);
let data = null;
let clockOffset = 0; // server clock − this PC's clock, in ms
let reloading = false;

const now = () => (Date.now() + clockOffset) / 1000;

function pad(n) {
  return String(n).padStart(2, '0');
}

/** "01:02:03" for seconds, or "3 天" / "3 days" beyond a day. */
function countdown(secs) {
  const s = Math.max(0, Math.ceil(secs));
  if (s >= 86400) return t('in_days').replace('{n}', Math.floor(s / 86400));
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

async function load() {
  if (!token) {
    showError(t('schedule_no_token'));
    return;
  }
  const get = async (query) => {
    const res = await fetch(`/api/timetable?${query}&token=${encodeURIComponent(token)}`);
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || res.statusText);
    return body;
  };
  try {
    const week = await get('range=week');
    // Tomorrow in the school's zone: on a Sunday evening, Monday's first lesson is next week's,
    // yet it belongs on the page a classroom opens that night.
    const tomorrow = new Intl.DateTimeFormat('en-CA', { timeZone: week.zone })
      .format(new Date(week.now_utc * 1000 + 86400000));
    const next = await get(`range=today&date=${tomorrow}`);
    const seen = new Set(week.sessions.map((s) => s.id));
    week.sessions.push(...next.sessions.filter((s) => !seen.has(s.id)));
    data = week;
  } catch (e) {
    showError(e.message);
    return;
  }
  clockOffset = data.now_utc * 1000 - Date.now();
  render();
}

function showError(message) {
  $('schedule-error').hidden = false;
  $('schedule-error').textContent = `${t('schedule_error')} ${message}`;
}

function render() {
  applyI18n();
  document.title = `${t('schedule_title')} · ${t('app_name')}`;
  if (!data) return;
  $('classroom').textContent = `${data.classroom.school_name} · ${data.classroom.name}`;
  $('schedule-zone').textContent = t('times_in_zone').replace('{zone}', data.zone === 'Asia/Shanghai' ? t('beijing_time') : data.zone);
  const days = $('days');
  days.replaceChildren();
  $('schedule-empty').hidden = data.sessions.length > 0;
  let list = null;
  let lastDay = '';
  for (const s of data.sessions) {
    const day = s.start_local.slice(0, 10);
    if (day !== lastDay) {
      const h = document.createElement('h3');
      h.className = 'day';
      h.textContent = day;
      list = document.createElement('ul');
      list.className = 'sessions';
      days.append(h, list);
      lastDay = day;
    }
    list.append(entry(s));
  }
  tick();
}

function entry(s) {
  const li = document.createElement('li');
  li.className = 'session';
  li.dataset.session = s.id;
  li.dataset.state = s.state;
  const others = s.role === 'host' ? s.classroom_names : [s.host_name];
  li.innerHTML = `
    <div class="when"><span class="time"></span><span class="pill kind"></span></div>
    <div class="what"><div class="title"></div><div class="muted with"></div></div>
    <div class="action"></div>`;
  li.querySelector('.time').textContent = `${s.start_local.slice(11)}–${s.end_local.slice(11)}`;
  li.querySelector('.kind').textContent = t(`kind_${s.kind}`);
  li.querySelector('.title').textContent = [s.subject, s.title].filter(Boolean).join(' · ');
  li.querySelector('.with').textContent = `${t(s.role === 'host' ? 'role_host' : 'role_classroom')} · ${t('with')} ${others.join('、') || '—'}`;
  const action = li.querySelector('.action');
  if (s.join_url) {
    const a = document.createElement('a');
    a.className = 'join-now';
    a.href = s.join_url;
    a.textContent = t('join_now');
    action.append(a);
  } else if (s.state === 'ended' || s.state === 'report' || now() >= s.closes_utc) {
    action.innerHTML = `<span class="pill" data-state="ended"></span>`;
    action.firstChild.textContent = t('state_ended');
  } else {
    const b = document.createElement('button');
    b.type = 'button';
    b.disabled = true;
    b.className = 'join-later';
    b.dataset.opens = s.opens_utc;
    action.append(b);
  }
  return li;
}

/** Updates countdowns each second; reloads when a window opens, to get its join link. */
function tick() {
  for (const b of document.querySelectorAll('button.join-later')) {
    const left = Number(b.dataset.opens) - now();
    b.textContent = `${t('opens_in')} ${countdown(left)}`;
    b.setAttribute('aria-label', b.textContent);
    if (left <= 0 && !reloading) {
      reloading = true;
      load().finally(() => (reloading = false));
    }
  }
}

$('lang').addEventListener('click', () => {
  toggleLang();
  render();
});
setInterval(tick, 1000);
applyI18n();
load();
