// A teacher's lessons, after signing in with the education platform: today and this week on
// the school's wall clock; for each, join as host (when the school hosts it) and the links of
// the classrooms and people, to copy and send.

import { applyI18n, t, toggleLang } from './i18n.js';
import { h } from './dom.js';

const $ = (id) => document.getElementById(id);
let me = null;
let data = null;

function showError(message) {
  $('mine-error').hidden = false;
  $('mine-error').textContent = message;
}

async function getJson(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  const body = await res.json().catch(() => ({}));
  return { res, body };
}

async function load() {
  const who = await getJson('/api/me');
  if (who.res.status === 401) {
    $('signin').hidden = false;
    return;
  }
  if (!who.res.ok) {
    showError(`${t('my_lessons_error')} ${who.body.message || who.res.statusText}`);
    return;
  }
  me = who.body;
  $('signout').hidden = false;
  $('who').textContent = [me.name, me.school_name].filter(Boolean).join(' · ');
  document.body.dataset.signedIn = 'true';
  $('plan-new').hidden = !me.school;
  const mine = await getJson('/api/teacher/lessons?range=week');
  if (!mine.res.ok) {
    showError(`${t('my_lessons_error')} ${mine.body.message || mine.res.statusText}`);
    return;
  }
  data = mine.body;
  render(data);
}

/** "3月2日周一" / "Mon, 2 Mar" of a `YYYY-MM-DD HH:MM` wall-clock time. */
function dayLabel(local) {
  const d = new Date(`${local.slice(0, 10)}T12:00:00Z`);
  return new Intl.DateTimeFormat(document.documentElement.lang, {
    weekday: 'short', month: 'short', day: 'numeric', timeZone: 'UTC',
  }).format(d);
}

function linkRow(l) {
  const row = h('li', 'link-row');
  const url = new URL(l.url, location.origin).href;
  row.append(h('span', 'link-name', `${t('role_' + l.role)} · ${l.name}`));
  const open = h('a', 'button-link small', t('open_link'));
  open.href = url;
  open.target = '_blank';
  open.dataset.role = l.role;
  const copy = h('button', 'ghost small', t('copy_link'));
  copy.type = 'button';
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(url);
      copy.textContent = t('copied');
    } catch {
      prompt(t('copy_link'), url);
    }
  });
  const qr = h('button', 'ghost small qr', t('qr_code'));
  qr.type = 'button';
  qr.setAttribute('aria-label', `${t('qr_code')}: ${l.name}`);
  qr.addEventListener('click', () => showQr(l.name, url));
  row.append(open, copy, qr);
  return row;
}

/** A link as a QR code, large, for a classroom's wall screen or a phone. */
function showQr(name, url) {
  $('qr-title').textContent = name;
  $('qr-image').alt = `${t('qr_code')}: ${name}`;
  $('qr-image').src = `/api/teacher/qr.svg?text=${encodeURIComponent(url)}`;
  $('qr-url').textContent = url;
  $('qr-dialog').showModal();
}

function render(data) {
  applyI18n();
  document.title = `${t('my_lessons')} · ${t('app_name')}`;
  $('mine-zone').textContent = `${data.school.name} · ${t('times_in_zone').replace('{zone}', data.school.timezone === 'Asia/Shanghai' ? t('beijing_time') : data.school.timezone)}`;
  const days = $('days');
  days.replaceChildren();
  $('mine-empty').hidden = data.lessons.length > 0;
  let list = null;
  let lastDay = '';
  for (const l of data.lessons) {
    const day = l.start_local.slice(0, 10);
    if (day !== lastDay) {
      list = h('ul', 'sessions');
      days.append(h('h3', 'day', dayLabel(l.start_local)), list);
      lastDay = day;
    }
    list.append(entry(l));
  }
}

function entry(l) {
  const li = h('li', 'session');
  li.dataset.session = l.id;
  li.dataset.state = l.state;
  const when = h('div', 'when');
  when.append(h('span', 'time', `${l.start_local.slice(11)}–${l.end_local.slice(11)}`), h('span', 'pill kind', t('kind_' + l.kind)));
  const what = h('div', 'what');
  what.append(h('div', 'title', [l.subject, l.title].filter(Boolean).join(' · ')));
  what.append(h('div', 'muted with', l.hosting
    ? `${t('with_classrooms')} ${l.classroom_names.join('、') || '—'}`
    : `${t('hosted_by')} ${l.host_name}`));
  const others = l.links.filter((x) => x.role !== 'host');
  if (others.length) {
    const links = h('ul', 'links');
    for (const link of others) links.append(linkRow(link));
    what.append(links);
  }
  if (l.hosting && (l.state === 'scheduled' || l.state === 'open')) what.append(manage(l));
  const action = h('div', 'action');
  const host = l.links.find((x) => x.role === 'host');
  if (host) {
    const a = h('a', 'join-now', t('join_as_host'));
    a.href = host.url;
    action.append(a);
  } else {
    action.append(h('span', 'pill', t('state_' + l.state)));
  }
  if (l.replay) {
    const a = h('a', 'button-link replay', t('replay_watch'));
    a.href = l.replay;
    a.target = '_blank';
    a.rel = 'noopener';
    action.append(a);
  }
  li.append(when, what, action);
  return li;
}

/** Edit, cancel this occurrence, or the rest of its weekly series. */
function manage(l) {
  const box = h('div', 'manage');
  const edit = h('a', 'button-link small', t('edit'));
  edit.href = `/plan.html?edit=${l.id}`;
  box.append(edit);
  const cancel = (series) => async () => {
    const when = `${l.start_local}`;
    if (!confirm(t('cancel_confirm').replace('{title}', l.title).replace('{when}', when))) return;
    const res = await fetch(`/api/teacher/sessions/${l.id}?series=${series}`, {
      method: 'DELETE',
      headers: { 'X-CSRF-Token': me.csrf },
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      showError(`${t('my_lessons_error')} ${body.message || res.statusText}`);
      return;
    }
    note(t('cancelled'));
    load();
  };
  const one = h('button', 'ghost small cancel-one', t('cancel_one'));
  one.type = 'button';
  one.addEventListener('click', cancel(false));
  box.append(one);
  if (l.series) {
    const rest = h('button', 'ghost small cancel-series', t('cancel_series'));
    rest.type = 'button';
    rest.addEventListener('click', cancel(true));
    box.append(rest);
  }
  return box;
}

function note(text) {
  $('mine-note').hidden = !text;
  $('mine-note').textContent = text || '';
}

if (new URLSearchParams(location.search).has('saved')) note(t('saved'));

// A school without the platform: a local account the operator made.
$('local-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await fetch('/auth/local', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: $('local-user').value, password: $('local-password').value }),
  });
  if (res.ok) {
    location.reload();
    return;
  }
  const body = await res.json().catch(() => ({}));
  $('local-error').hidden = false;
  $('local-error').textContent = res.status === 429 ? t('local_wait') : (res.status === 401 ? t('local_wrong') : body.message || res.statusText);
});

$('signout').addEventListener('click', async () => {
  await fetch('/auth/logout', { method: 'POST', headers: { 'X-CSRF-Token': me ? me.csrf : '' } });
  location.reload();
});
$('lang').addEventListener('click', () => {
  toggleLang();
  if (data) render(data);
  else applyI18n();
});
applyI18n();
load();
