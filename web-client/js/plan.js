// A teacher schedules a lesson of its school (or edits one: `?edit=<id>`): its own classroom
// hosts, partner classrooms are picked from the list (paired schools first, a search by name),
// a weekly repeat with exceptions; a research session with its two compared lessons and invited
// people. A clash is shown in words, naming the lesson it clashes with, before anything is
// saved; a bad field is marked at the field.

import { applyI18n, t, toggleLang } from './i18n.js';
import { h } from './dom.js';

const $ = (id) => document.getElementById(id);
const editing = Number(new URLSearchParams(location.search).get('edit')) || null;
let me = null;
let options = null;
let lastError = null;
/** The fields last marked, to mark again in the other language. */
let lastFields = [];

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me ? me.csrf : '' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  return { res, data };
}

function banner(text) {
  $('plan-error').hidden = !text;
  $('plan-error').textContent = text || '';
}

/** Marks the fields a 400 named (`classrooms[1]` marks the classroom list). */
function markFields(fields) {
  lastFields = fields;
  for (const el of document.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  for (const el of document.querySelectorAll('.field-error')) el.remove();
  for (const f of fields) {
    const base = f.field.replace(/\[\d+\]/g, '');
    const target = (base.startsWith('classrooms') ? $('classrooms-field') : null) ||
      document.querySelector(`[name="${base}"]`) ||
      (base.startsWith('repeat') ? $('until') : null) ||
      (base.startsWith('comparison') ? $('compare-field') : null) || $('title');
    target.setAttribute('aria-invalid', 'true');
    const note = h('p', 'field-error', f.key ? t(f.key) : localFieldText(base, f.message));
    note.setAttribute('role', 'alert');
    target.closest('.field, fieldset').append(note);
  }
  const first = document.querySelector('[aria-invalid="true"]');
  if (first && first.focus) first.focus();
}

/** The page's words for a field's problem; the server's own words in parentheses. */
function localFieldText(field, serverMessage) {
  // The most specific words the page has: `comparison.left.title`, then `comparison`.
  const parts = field.split('.');
  for (let n = parts.length; n > 0; n--) {
    const key = `plan_bad_${parts.slice(0, n).join('_')}`;
    const local = t(key);
    if (local !== key) return `${local} (${serverMessage})`;
  }
  return serverMessage;
}

/** A clash, in the page's language: which classroom, which lesson, when. */
function clashText(c) {
  return t('plan_clash')
    .replace('{classroom}', c.classroom_name)
    .replace('{title}', c.title)
    .replace('{start}', c.start_local);
}

function renderOptions() {
  $('host').replaceChildren(...options.mine.map((c) => {
    const o = h('option', '', c.name);
    o.value = c.id;
    return o;
  }));
  const grade = $('grade');
  if (grade.options.length === 1) {
    for (let g = 1; g <= 12; g++) {
      const o = h('option', '', t(`grade_${g}`));
      o.dataset.i18n = `grade_${g}`;
      o.value = g;
      grade.append(o);
    }
  }
  const list = $('partners');
  list.replaceChildren();
  for (const p of options.partners) {
    const li = h('li', p.paired ? 'partner paired' : 'partner');
    li.dataset.name = `${p.school_name} ${p.name}`;
    const label = h('label');
    const box = h('input');
    box.type = 'checkbox';
    box.name = 'classrooms';
    box.value = p.id;
    label.append(box, ` ${p.school_name} · ${p.name}`);
    if (p.paired) {
      const pill = h('span', 'pill', t('plan_paired'));
      pill.dataset.i18n = 'plan_paired';
      label.append(' ', pill);
    }
    li.append(label);
    list.append(li);
  }
  filterPartners();
  compareChoices();
}

function filterPartners() {
  const q = $('partner-search').value.trim();
  for (const li of $('partners').children) {
    const checked = li.querySelector('input').checked;
    li.hidden = !(checked || !q || li.dataset.name.includes(q));
  }
}

/** The compared lessons are taught in classrooms of the session (the host or a partner). */
function compareChoices() {
  const chosen = [
    ...options.mine.filter((c) => String(c.id) === $('host').value),
    ...options.partners.filter((p) => checkedIds().includes(p.id)),
  ];
  for (const id of ['left-classroom', 'right-classroom']) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren(...chosen.map((c) => {
      const o = h('option', '', `${c.school_name} · ${c.name}`);
      o.value = c.id;
      return o;
    }));
    if (chosen.some((c) => String(c.id) === keep)) sel.value = keep;
  }
}

function checkedIds() {
  return [...document.querySelectorAll('#partners input:checked')].map((b) => Number(b.value));
}

function showKind() {
  const research = $('kind').value === 'research';
  $('compare-field').hidden = !research;
  $('people-field').hidden = $('kind').value === 'lesson';
  $('audience-field').hidden = $('kind').value !== 'lecture';
}

/** The form as a SessionDraft; checks what the page can check itself, in its language. */
function draft() {
  const problems = [];
  const title = $('title').value.trim();
  if (!title) problems.push({ field: 'title', key: 'plan_need_title' });
  const start = $('start').value;
  if (!start) problems.push({ field: 'start', key: 'plan_need_start' });
  const duration = Number($('duration_min').value);
  if (!(duration >= 5 && duration <= 480)) problems.push({ field: 'duration_min', key: 'plan_need_duration' });
  const d = {
    kind: $('kind').value,
    title,
    subject: $('subject').value.trim(),
    grade: $('grade').value ? Number($('grade').value) : null,
    start: start.replace('T', ' '),
    duration_min: duration,
    host: Number($('host').value),
    classrooms: checkedIds(),
    people: $('people-field').hidden ? [] : $('people').value.split('\n').map((s) => s.trim()).filter(Boolean),
  };
  if (d.kind === 'lecture' && $('audience').value) {
    d.audience = Number($('audience').value);
    if (!(Number.isInteger(d.audience) && d.audience >= 1 && d.audience <= 100000)) {
      problems.push({ field: 'audience', key: 'plan_need_audience' });
    }
  }
  if ($('record').value) d.record = $('record').value === 'true';
  if ($('weekly').checked) {
    if (!$('until').value) problems.push({ field: 'repeat.until', key: 'plan_need_until' });
    d.repeat = {
      until: $('until').value,
      except: $('except').value.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean),
    };
  }
  if (d.kind === 'research') {
    const side = (s) => ({
      classroom: Number($(`${s}-classroom`).value),
      title: $(`${s}-title`).value.trim(),
      teacher: $(`${s}-teacher`).value.trim(),
    });
    d.comparison = { left: side('left'), right: side('right') };
  }
  return { d, problems };
}

async function save(e) {
  e.preventDefault();
  banner('');
  const { d, problems } = draft();
  markFields(problems);
  if (problems.length) return;
  $('save').disabled = true;
  try {
    const { res, data } = editing
      ? await call('PUT', `/api/teacher/sessions/${editing}`, d)
      : await call('POST', '/api/teacher/sessions', d);
    lastError = res.ok ? null : data;
    if (res.ok) {
      const first = Array.isArray(data) ? data[0] : data;
      location.href = `/teacher.html?saved=${first.id}`;
      return;
    }
    if (res.status === 409 && data.clash) {
      banner(clashText(data.clash));
      markFields([{ field: 'classrooms', key: 'plan_clash_short' }]);
    } else if (res.status === 400 && data.fields) {
      banner(t('plan_fix_fields'));
      markFields(data.fields);
    } else {
      banner(`${t('plan_failed')} ${data.message || res.statusText}`);
    }
  } finally {
    $('save').disabled = false;
  }
}

/** Fills the form from a lesson (editing). */
function fill(s) {
  $('kind').value = s.kind;
  $('title').value = s.title;
  $('subject').value = s.subject || '';
  $('grade').value = s.grade || '';
  $('host').value = s.host;
  $('start').value = s.start_local.replace(' ', 'T');
  $('duration_min').value = s.duration_min;
  for (const b of document.querySelectorAll('#partners input')) b.checked = s.classrooms.includes(Number(b.value));
  $('people').value = (s.people || []).join('\n');
  $('audience').value = s.audience || '';
  $('record').value = s.record == null ? '' : String(s.record);
  $('weekly').closest('fieldset').hidden = true; // an occurrence is edited alone
  showKind();
  compareChoices();
  if (s.comparison) {
    for (const side of ['left', 'right']) {
      $(`${side}-classroom`).value = s.comparison[side].classroom;
      $(`${side}-title`).value = s.comparison[side].title;
      $(`${side}-teacher`).value = s.comparison[side].teacher;
    }
  }
  filterPartners();
}

async function load() {
  applyI18n();
  const who = await call('GET', '/api/me');
  if (who.res.status === 401) {
    location.href = `/auth/login?return_to=${encodeURIComponent(location.pathname + location.search)}`;
    return;
  }
  me = who.data;
  $('who').textContent = [me.name, me.school_name].filter(Boolean).join(' · ');
  const opts = await call('GET', '/api/teacher/classrooms');
  if (!opts.res.ok) {
    banner(`${t('plan_failed')} ${opts.data.message || opts.res.statusText}`);
    $('save').disabled = true;
    return;
  }
  options = opts.data;
  renderOptions();
  showKind();
  if (editing) {
    document.title = `${t('plan_edit_title')} · ${t('app_name')}`;
    $('plan-title').dataset.i18n = 'plan_edit_title';
    applyI18n();
    const s = await call('GET', `/api/teacher/sessions/${editing}`);
    if (!s.res.ok) {
      banner(`${t('plan_failed')} ${s.data.message || s.res.statusText}`);
      return;
    }
    fill(s.data);
  }
  document.body.dataset.ready = 'true';
}

$('plan').addEventListener('submit', save);
$('partner-search').addEventListener('input', filterPartners);
$('partners').addEventListener('change', compareChoices);
$('host').addEventListener('change', compareChoices);
$('kind').addEventListener('change', showKind);
$('weekly').addEventListener('change', () => ($('repeat-detail').hidden = !$('weekly').checked));
$('lang').addEventListener('click', () => {
  toggleLang();
  applyI18n();
  if (lastError && lastError.clash) banner(clashText(lastError.clash));
  else if (lastError && lastError.fields) banner(t('plan_fix_fields'));
  const focused = document.activeElement;
  markFields(lastFields);
  if (focused && focused.focus) focused.focus();
});
load();
