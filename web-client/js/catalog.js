// The operator's catalog: schools, classrooms and school pairs (create; delete with what depends
// on them shown first), and a term's timetable import — a dry run whose problems are listed by
// row and field, then the import, which stores all or nothing. Opens with the operator token or
// a platform sign-in with the operator role.

import { applyI18n, t, toggleLang } from './i18n.js';
import { h } from './dom.js';
import { get, send, signIn, token, platformOperator, adoptTokenFromLink } from './operator-api.js';

const $ = (id) => document.getElementById(id);
let data = { schools: [], classrooms: [], pairs: [], accounts: [] };
let importText = null;
let importType = 'text/csv';
let lastReport = null;

function showError(message) {
  $('error').hidden = !message;
  $('error').textContent = message || '';
}

async function load() {
  try {
    const [schools, classrooms, pairs, accounts] = await Promise.all([
      get('/api/schools'), get('/api/classrooms'), get('/api/pairs'), get('/api/accounts'),
    ]);
    data = { schools, classrooms, pairs, accounts };
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      $('sign-in').hidden = false;
      return;
    }
    showError(e.message);
    return;
  }
  $('sign-in').hidden = true;
  for (const id of ['schools', 'classrooms', 'pairs', 'accounts', 'import']) $(id).hidden = false;
  render();
  document.body.dataset.ready = 'true';
}

function option(value, text) {
  const o = h('option', '', text);
  o.value = value;
  return o;
}

/** Renames a school or classroom (its other fields kept) after asking for the new name. */
function renameButton(label, path, body) {
  const b = h('button', 'ghost small rename', t('cat_rename'));
  b.type = 'button';
  b.setAttribute('aria-label', `${t('cat_rename')}: ${label}`);
  b.addEventListener('click', async () => {
    const name = prompt(t('cat_new_name').replace('{name}', label), label);
    if (!name || !name.trim() || name.trim() === label) return;
    try {
      await send('PUT', path, body(name.trim()));
      showError('');
    } catch (e) {
      showError(`${t('cat_failed')} ${e.message}`);
    }
    load();
  });
  return b;
}

/** Sets a new password for a teacher who forgot theirs; their open sessions end. */
function passwordButton(a) {
  const label = `${a.name} (${a.username})`;
  const b = h('button', 'ghost small password', t('cat_set_password'));
  b.type = 'button';
  b.setAttribute('aria-label', `${t('cat_set_password')}: ${label}`);
  b.addEventListener('click', async () => {
    const password = prompt(t('cat_new_password').replace('{name}', label));
    if (!password) return;
    try {
      await send('PUT', `/api/accounts/${a.id}/password`, { password });
      showError(t('cat_password_set').replace('{name}', label));
    } catch (e) {
      const field = e.body && e.body.fields && e.body.fields.find((f) => f.field === 'password');
      showError(`${t('cat_failed')} ${field ? t('cat_password_short') : e.message}`);
    }
  });
  return b;
}

function deleteButton(label, onClick) {
  const b = h('button', 'ghost small delete', t('cat_delete'));
  b.type = 'button';
  b.setAttribute('aria-label', `${t('cat_delete')}: ${label}`);
  b.addEventListener('click', onClick);
  return b;
}

/** Lists what depends on a school or classroom, then deletes it if the operator agrees. */
async function deleteWithDependents(what, name, path, dependents) {
  const lines = dependents.filter((d) => d.items.length)
    .map((d) => `${t(d.key)} (${d.items.length}): ${d.items.slice(0, 8).join('、')}${d.items.length > 8 ? '…' : ''}`);
  const text = lines.length
    ? `${t('cat_depends').replace('{name}', name)}\n\n${lines.join('\n')}\n\n${t('cat_delete_anyway')}`
    : t('cat_delete_confirm').replace('{name}', name);
  if (!confirm(text)) return;
  try {
    await send('DELETE', path);
    showError('');
  } catch (e) {
    showError(`${t('cat_failed')} ${e.message}`);
  }
  load();
}

async function upcoming(query) {
  try {
    return (await get(`/api/sessions?range=week&${query}`)).map((s) => `${s.start_local} ${s.title}`);
  } catch {
    return [];
  }
}

function render() {
  applyI18n();
  $('school-list').replaceChildren(...data.schools.map((s) => {
    const li = h('li', 'cat-item');
    const rooms = data.classrooms.filter((c) => c.school === s.id);
    li.append(h('span', '', `${s.name} · ${t('region_' + s.region)} · ${s.district}`), h('span', 'muted', `${rooms.length} ${t('cat_rooms')}`));
    li.append(renameButton(s.name, `/api/schools/${s.id}`, (name) => ({
      name, region: s.region, district: s.district, timezone: s.timezone,
    })));
    li.append(deleteButton(s.name, async () => deleteWithDependents('school', s.name, `/api/schools/${s.id}`, [
      { key: 'cat_classrooms', items: rooms.map((c) => c.name) },
      { key: 'cat_pairs', items: data.pairs.filter((p) => p.beijing === s.id || p.inner_mongolia === s.id).map((p) => `${p.beijing_name} ↔ ${p.inner_mongolia_name}`) },
      { key: 'cat_sessions', items: await upcoming(`school=${s.id}`) },
      { key: 'cat_accounts', items: data.accounts.filter((a) => a.school === s.id).map((a) => `${a.name} (${a.username})`) },
    ])));
    return li;
  }));
  $('classroom-list').replaceChildren(...data.classrooms.map((c) => {
    const li = h('li', 'cat-item');
    li.append(h('span', '', `${c.school_name} · ${c.name}`));
    li.append(renameButton(c.name, `/api/classrooms/${c.id}`, (name) => ({
      school: c.school, name, grade: c.grade, capacity: c.capacity,
    })));
    li.append(deleteButton(`${c.school_name} · ${c.name}`, async () => deleteWithDependents('classroom', c.name, `/api/classrooms/${c.id}`, [
      { key: 'cat_sessions', items: await upcoming(`classroom=${c.id}`) },
    ])));
    return li;
  }));
  $('pair-list').replaceChildren(...data.pairs.map((p) => {
    const li = h('li', 'cat-item');
    li.append(h('span', '', `${p.beijing_name} ↔ ${p.inner_mongolia_name}`), h('span', 'muted', `${t('cat_since')} ${p.since}`));
    li.append(deleteButton(`${p.beijing_name} ↔ ${p.inner_mongolia_name}`, async () => {
      if (!confirm(t('cat_delete_confirm').replace('{name}', `${p.beijing_name} ↔ ${p.inner_mongolia_name}`))) return;
      try {
        await send('DELETE', `/api/pairs/${p.id}`);
      } catch (e) {
        showError(`${t('cat_failed')} ${e.message}`);
      }
      load();
    }));
    return li;
  }));
  $('account-list').replaceChildren(...data.accounts.map((a) => {
    const li = h('li', 'cat-item');
    li.append(h('span', '', `${a.school_name} · ${a.name}`), h('span', 'muted', a.username));
    li.append(passwordButton(a));
    li.append(deleteButton(a.username, async () => {
      if (!confirm(t('cat_delete_confirm').replace('{name}', `${a.name} (${a.username})`))) return;
      try {
        await send('DELETE', `/api/accounts/${a.id}`);
      } catch (e) {
        showError(`${t('cat_failed')} ${e.message}`);
      }
      load();
    }));
    return li;
  }));
  const keep = (sel) => sel.value;
  const fill = (sel, schools) => {
    const v = keep(sel);
    sel.replaceChildren(...schools.map((s) => option(s.id, s.name)));
    if (v) sel.value = v;
  };
  fill($('classroom-school'), data.schools);
  fill($('account-school'), data.schools);
  fill($('pair-beijing'), data.schools.filter((s) => s.region === 'beijing'));
  fill($('pair-im'), data.schools.filter((s) => s.region === 'inner_mongolia'));
}

/** Submits a catalog form; a 400's fields are marked where they are. */
function formHandler(form, path, body) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of form.querySelectorAll('.field-error')) el.remove();
    try {
      await send('POST', path, body());
      form.reset();
      showError('');
      load();
    } catch (err) {
      const fields = (err.body && err.body.fields) || [];
      for (const f of fields) {
        const input = form.querySelector(`[name="${f.field}"]`);
        if (!input) continue;
        input.setAttribute('aria-invalid', 'true');
        input.closest('.field').append(h('p', 'field-error', f.message));
      }
      showError(`${t('cat_failed')} ${err.message}`);
    }
  });
}

formHandler($('school-form'), '/api/schools', () => ({
  name: $('school-name').value.trim(), region: $('school-region').value, district: $('school-district').value.trim(),
}));
formHandler($('classroom-form'), '/api/classrooms', () => ({
  school: Number($('classroom-school').value), name: $('classroom-name').value.trim(),
}));
formHandler($('account-form'), '/api/accounts', () => ({
  school: Number($('account-school').value), username: $('account-username').value.trim(),
  name: $('account-name').value.trim(), password: $('account-password').value,
}));
formHandler($('pair-form'), '/api/pairs', () => ({
  beijing: Number($('pair-beijing').value), inner_mongolia: Number($('pair-im').value), since: $('pair-since').value,
}));

/** The dry run (or the import) of the chosen file; problems listed by row and field. */
async function runImport(dryRun) {
  await reading;
  if (importText === null) return;
  $('import-go').disabled = true;
  let report;
  try {
    report = await send('POST', `/api/timetable/import?dry_run=${dryRun}`, importText, importType);
  } catch (e) {
    $('import-summary').textContent = `${t('cat_import_unreadable')} ${e.message}`;
    $('import-problems').hidden = true;
    return;
  }
  lastReport = report;
  showReport(report);
  if (report.stored) load();
  document.body.dataset.imported = report.stored ? 'stored' : (report.problems.length ? 'problems' : 'checked');
}

/** A dry run's or import's outcome, in the page's language. */
function showReport(report) {
  const body = $('import-problems').querySelector('tbody');
  body.replaceChildren(...report.problems.map((p) => {
    const tr = h('tr');
    tr.dataset.row = p.row;
    tr.append(h('td', '', t('cat_section_' + p.section)), h('td', 'num', String(p.row)), h('td', '', p.field), h('td', '', p.message));
    return tr;
  }));
  $('import-problems').hidden = report.problems.length === 0;
  const counts = t('cat_import_counts')
    .replace('{schools}', report.schools_added).replace('{classrooms}', report.classrooms_added)
    .replace('{pairs}', report.pairs_added).replace('{sessions}', report.sessions_added);
  if (report.problems.length) {
    $('import-summary').textContent = t('cat_import_problems').replace('{n}', report.problems.length);
  } else if (report.stored) {
    $('import-summary').textContent = `${t('cat_import_stored')} ${counts}`;
  } else {
    $('import-summary').textContent = `${t('cat_import_ready')} ${counts}`;
    $('import-go').disabled = false;
  }
}

/** The chosen file being read (a check waits for it). */
let reading = Promise.resolve();
$('import-file').addEventListener('change', () => {
  reading = readChosen();
});

async function readChosen() {
  const f = $('import-file').files[0];
  importText = f ? await f.text() : null;
  lastReport = null;
  importType = f && f.name.endsWith('.json') ? 'application/json' : 'text/csv';
  $('import-go').disabled = true;
  $('import-summary').textContent = '';
  $('import-problems').hidden = true;
}
$('import-check').addEventListener('click', () => runImport(true));
$('import-go').addEventListener('click', () => runImport(false));
$('sign-in-form').addEventListener('submit', (e) => {
  e.preventDefault();
  signIn($('token').value);
  load();
});
$('lang').addEventListener('click', () => {
  toggleLang();
  render();
  if (lastReport) showReport(lastReport);
});

adoptTokenFromLink();
applyI18n();
if (!token()) await platformOperator().catch(() => false);
load();
