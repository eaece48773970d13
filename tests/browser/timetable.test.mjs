// A classroom's timetable page in real Chromium: the session running now has a working join
// button, the next one a countdown; the language toggle switches the page; a bad link says so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, operatorApi, artifacts } from './harness.mjs';

const env = serverAndBrowser();

const iso = (secs) => new Date(secs * 1000).toISOString().replace('.000', '');

test('the timetable opens joins in the window and counts down before', { timeout: 60000 }, async () => {
  const { server, browser } = env;
  // Two classrooms of their own, so nothing clashes with the demo lesson.
  const [, schools] = await operatorApi(server, 'GET', '/api/schools');
  const school = schools.find((s) => s.name === '四子王旗第一中学');
  const beijing = schools.find((s) => s.name === '北京一零一中学怀柔校区');
  const [, host] = await operatorApi(server, 'POST', '/api/classrooms', { school: beijing.id, name: '初三(2)班', grade: 9 });
  const [, room] = await operatorApi(server, 'POST', '/api/classrooms', { school: school.id, name: '初三(4)班', grade: 9 });
  const now = Math.floor(Date.now() / 1000);
  for (const [title, start] of [['浮力', now - 300], ['压强', now + 15 * 60]]) {
    const [status, body] = await operatorApi(server, 'POST', '/api/sessions', {
      kind: 'lesson', title, subject: '物理', grade: 9, start: iso(start), duration_min: 10,
      host: host.id, classrooms: [room.id],
    });
    assert.equal(status, 201, JSON.stringify(body));
  }
  const [status, link] = await operatorApi(server, 'POST', `/api/classrooms/${room.id}/schedule-link`);
  assert.equal(status, 200, JSON.stringify(link));

  const page = await browser.context.newPage();
  await page.goto(server.url + link.url);
  await page.waitForSelector('.session');
  assert.equal(await page.textContent('#classroom'), '四子王旗第一中学 · 初三(4)班');
  const entries = await page.$$eval('.session', (els) => els.map((e) => ({
    title: e.querySelector('.title').textContent,
    join: e.querySelector('a.join-now')?.textContent ?? null,
    later: e.querySelector('button.join-later')?.textContent ?? null,
    disabled: e.querySelector('button.join-later')?.disabled ?? null,
  })));
  const nowEntry = entries.find((e) => e.title.includes('浮力'));
  const nextEntry = entries.find((e) => e.title.includes('压强'));
  assert.equal(nowEntry.join, '进入课堂');
  assert.equal(nextEntry.join, null);
  assert.equal(nextEntry.disabled, true);
  assert.match(nextEntry.later, /^距开放 00:0[45]:\d\d$/, 'opens 10 minutes before its start');
  // The countdown runs.
  const first = nextEntry.later;
  await page.waitForFunction((t) => document.querySelector('button.join-later').textContent !== t, first, { timeout: 5000 });
  await page.screenshot({ path: join(artifacts, 'timetable.png'), fullPage: true });

  // English: every visible string switches.
  await page.click('#lang');
  assert.equal(await page.textContent('#schedule-title'), "This week's timetable");
  assert.equal(await page.textContent('a.join-now'), 'Join now');
  assert.match(await page.textContent('button.join-later'), /^Opens in 00:0\d:\d\d$/);
  assert.match(await page.textContent('#schedule-zone'), /Beijing time/);
  const text = await page.textContent('main');
  assert.doesNotMatch(text.replace(/[\u4e00-\u9fff（）·、]+[班学中旗]/g, ''), /进入课堂|距开放|本周课表|同步课堂/, 'no Chinese UI strings left');
  await page.screenshot({ path: join(artifacts, 'timetable-en.png'), fullPage: true });
  await page.click('#lang');

  // Joining from the timetable opens the lesson as this classroom.
  await Promise.all([page.waitForURL(/lesson\.html\?token=/), page.click('a.join-now')]);
  await page.waitForFunction(() => document.querySelector('#state')?.textContent === '可加入', null, { timeout: 15000 });
  await page.close();

  // A broken link says what is wrong instead of showing an empty page.
  const bad = await browser.context.newPage();
  await bad.goto(server.url + '/schedule.html?token=not-a-token');
  await bad.waitForSelector('#schedule-error:not([hidden])');
  assert.match(await bad.textContent('#schedule-error'), /无法打开课表/);
  await bad.close();
});
