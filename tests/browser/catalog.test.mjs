// The operator's catalog in Chromium: two schools and their classrooms added, the pair made, a
// term file with one bad row checked — the page names the row and the field, and nothing is
// stored — then the corrected file imported; a local teacher account made for a school without
// the platform signs in; a school's dependents are listed before a delete.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { serverAndBrowser, artifacts, operatorApi, startServer, OPERATOR_TOKEN } from './harness.mjs';

const env = serverAndBrowser();

async function addVia(page, form, fields) {
  for (const [sel, value] of Object.entries(fields)) {
    if (sel.endsWith('-region') || sel.endsWith('-school') || sel.startsWith('#pair-b') || sel === '#pair-im') {
      await page.selectOption(sel, { label: value });
    } else {
      await page.fill(sel, value);
    }
  }
  await page.click(`${form} button[type="submit"]`);
}

test('an operator adds a school pair and imports a term, told which row and field are wrong', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.goto(`${server.url}/catalog.html#token=${OPERATOR_TOKEN}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 15000 });

  await addVia(page, '#school-form', { '#school-name': '北京市第八中学', '#school-region': '北京', '#school-district': '西城区' });
  await page.waitForSelector('#school-list li >> text=北京市第八中学');
  await addVia(page, '#school-form', { '#school-name': '乌兰察布市第一中学', '#school-region': '内蒙古', '#school-district': '集宁区' });
  await page.waitForSelector('#school-list li >> text=乌兰察布市第一中学');
  await addVia(page, '#classroom-form', { '#classroom-school': '北京市第八中学', '#classroom-name': '高一(1)班' });
  await page.waitForSelector('#classroom-list li >> text=北京市第八中学 · 高一(1)班');
  await addVia(page, '#classroom-form', { '#classroom-school': '乌兰察布市第一中学', '#classroom-name': '高一(5)班' });
  await page.waitForSelector('#classroom-list li >> text=乌兰察布市第一中学 · 高一(5)班');
  await page.selectOption('#pair-beijing', { label: '北京市第八中学' });
  await page.selectOption('#pair-im', { label: '乌兰察布市第一中学' });
  await page.fill('#pair-since', '2026-09-01');
  await page.click('#pair-form button[type="submit"]');
  await page.waitForSelector('#pair-list li >> text=北京市第八中学 ↔ 乌兰察布市第一中学');
  const [, pairs] = await operatorApi(server, 'GET', '/api/pairs');
  assert.ok(pairs.some((p) => p.beijing_name === '北京市第八中学' && p.inner_mongolia_name === '乌兰察布市第一中学'));

  // A term file whose third line has a duration of 0 minutes.
  const dir = mkdtempSync(join(tmpdir(), 'tongbu-term-'));
  const header = 'kind,title,subject,grade,start,zone,duration_min,host,classrooms,people,repeat_until,except';
  const good = 'lesson,函数的概念,数学,10,2027-03-02 08:00,,45,北京市第八中学/高一(1)班,乌兰察布市第一中学/高一(5)班,,2027-03-30,';
  const bad = 'lesson,集合,数学,10,2027-03-03 08:00,,0,北京市第八中学/高一(1)班,乌兰察布市第一中学/高一(5)班,,,';
  const file = join(dir, 'term.csv');
  writeFileSync(file, [header, good, bad].join('\n') + '\n');
  await page.setInputFiles('#import-file', file);
  await page.click('#import-check');
  await page.waitForFunction(() => document.body.dataset.imported === 'problems');
  const rows = await page.$$eval('#import-problems tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  console.log(`problems: ${JSON.stringify(rows)}`);
  assert.equal(rows.length, 1, 'one bad row');
  assert.equal(rows[0][1], '3', 'the line of the file');
  assert.equal(rows[0][2], 'duration_min', 'the field');
  assert.ok(await page.isDisabled('#import-go'), 'nothing to import while a row is wrong');
  let [, sessions] = await operatorApi(server, 'GET', '/api/sessions?range=week&date=2027-03-02');
  assert.equal(sessions.length, 0, 'nothing stored');
  await page.screenshot({ path: join(artifacts, 'catalog-import-problems.png'), fullPage: true });
  await page.click('#lang');
  assert.match(await page.textContent('#import-summary'), /1 problems found|problems/);

  const fixed = join(dir, 'term-fixed.csv');
  writeFileSync(fixed, [header, good, bad.replace(',0,', ',40,')].join('\n') + '\n');
  await page.setInputFiles('#import-file', fixed);
  await page.evaluate(() => delete document.body.dataset.imported);
  await page.click('#import-check');
  await page.waitForFunction(() => document.body.dataset.imported);
  const left = await page.$$eval('#import-problems tbody tr', (trs) => trs.map((tr) => tr.textContent));
  assert.equal(await page.evaluate(() => document.body.dataset.imported), 'checked', `problems left: ${left}`);
  await page.click('#import-go');
  await page.waitForFunction(() => document.body.dataset.imported === 'stored');
  console.log(`imported: ${await page.textContent('#import-summary')}`);
  [, sessions] = await operatorApi(server, 'GET', '/api/sessions?range=week&date=2027-03-02');
  assert.deepEqual(sessions.map((s) => s.title).sort(), ['函数的概念', '集合']);

  // A teacher account for the school (it has no platform); the teacher signs in with it.
  await page.selectOption('#account-school', { label: '北京市第八中学' });
  await page.fill('#account-username', 'zhang.wei');
  await page.fill('#account-name', '张老师');
  await page.fill('#account-password', 'short');
  await page.click('#account-form button[type="submit"]');
  await page.waitForSelector('#account-form [name="password"][aria-invalid="true"]');
  await page.fill('#account-password', '八中的数学课 2026');
  await page.click('#account-form button[type="submit"]');
  await page.waitForSelector('#account-list li >> text=zhang.wei');
  const tpage = await browser.context.newPage();
  await tpage.goto(`${server.url}/teacher.html`);
  await tpage.waitForSelector('#local-form');
  await tpage.fill('#local-user', 'zhang.wei');
  await tpage.fill('#local-password', '八中的数学课 2026');
  await tpage.click('#local-form button[type="submit"]');
  await tpage.waitForFunction(() => document.body.dataset.signedIn === 'true', null, { timeout: 10000 });
  assert.match(await tpage.textContent('#who'), /张老师 · 北京市第八中学/);
  await tpage.screenshot({ path: join(artifacts, 'catalog-local-teacher.png') });
  // A restart (an update) signs nobody out: sessions are kept in the data directory.
  const port = Number(new URL(server.url).port);
  await server.stop({ keepData: true });
  env.server = await startServer({ port, dataDir: server.dataDir });
  const me = await tpage.evaluate(async () => (await fetch('/api/me')).status);
  assert.equal(me, 200, 'still signed in after the restart');
  // The teacher forgot the password: the operator sets a new one, the open page is signed out
  // and the new password signs in.
  await page.reload();
  await page.waitForSelector('#account-list li >> text=zhang.wei');
  page.once('dialog', (d) => d.accept('八中的语文课 2027'));
  await page.click('#account-list li:has-text("zhang.wei") button.password');
  await page.waitForFunction(() => /zhang\.wei/.test(document.querySelector('#error')?.textContent || ''), null, { timeout: 10000 });
  assert.equal(await tpage.evaluate(async () => (await fetch('/api/me')).status), 401, 'signed out by the new password');
  await tpage.goto(`${server.url}/teacher.html`);
  await tpage.waitForSelector('#local-form');
  await tpage.fill('#local-user', 'zhang.wei');
  await tpage.fill('#local-password', '八中的语文课 2027');
  await tpage.click('#local-form button[type="submit"]');
  await tpage.waitForFunction(() => document.body.dataset.signedIn === 'true', null, { timeout: 10000 });
  await tpage.close();

  // A classroom renamed (its school and grade kept).
  page.once('dialog', (d) => d.accept('高一(一)班'));
  await page.locator('#classroom-list li', { hasText: '北京市第八中学 · 高一(1)班' }).locator('button.rename').click();
  await page.waitForSelector('#classroom-list li >> text=北京市第八中学 · 高一(一)班');
  const [, rooms] = await operatorApi(server, 'GET', '/api/classrooms');
  assert.ok(rooms.some((c) => c.name === '高一(一)班' && c.school_name === '北京市第八中学'), 'renamed in the store');

  // Deleting the school lists what depends on it first.
  let dialog = '';
  page.once('dialog', (d) => {
    dialog = d.message();
    d.dismiss();
  });
  await page.locator('#school-list li', { hasText: '北京市第八中学' }).locator('button.delete').click();
  await page.waitForFunction(() => true);
  await new Promise((r) => setTimeout(r, 500));
  console.log(`before deleting: ${dialog.replace(/\n+/g, ' | ')}`);
  assert.match(dialog, /高一\(一\)班/);
  assert.match(dialog, /乌兰察布市第一中学/);
  assert.match(dialog, /zhang\.wei/);
  await page.screenshot({ path: join(artifacts, 'catalog-en.png'), fullPage: true });
  await page.close();
});
