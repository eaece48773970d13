// A Beijing teacher schedules a joint lesson in the browser, signed in through the education
// platform (oidc-provider on loopback): two paired Inner Mongolia classrooms, the clash named in
// words when it double-books one of them, the links, and a classroom page opened from a link
// that joins and decodes the teacher. Keyboard only for the form, at 1366×768, in both languages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { launchBrowser, artifacts, operatorApi, waitForLiveVideo } from './harness.mjs';
import { serverWithPlatform, signInOnPlatform } from './platform.mjs';

const env = {};
before(async () => {
  Object.assign(env, await serverWithPlatform({
    wang: { name: '王老师', school: '北京一零一中学怀柔校区', roles: ['teacher'] },
  }));
  env.browser = await launchBrowser();
});
after(async () => {
  if (env.browser) await env.browser.close();
  if (env.server) {
    writeFileSync(join(artifacts, 'schedule_lesson.test.mjs.server.log'), env.server.log());
    await env.server.stop();
  }
  if (env.platform) await env.platform.stop();
});

/** Beijing wall-clock time `minutes` from now, as a datetime-local input takes it. */
function beijingLocal(minutes) {
  const d = new Date(Date.now() + minutes * 60000 + 8 * 3600000);
  return d.toISOString().slice(0, 16);
}

/** Types into a field reached by keyboard focus. */
async function typeInto(page, selector, text) {
  await page.focus(selector);
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
}

test('a teacher schedules a joint lesson, meets a clash in words, and a classroom joins from its link', { timeout: 150000 }, async () => {
  const { server, browser } = env;
  // Rooms free now (the demo lesson books others): the host's, and two in the paired school.
  const schools = (await operatorApi(server, 'GET', '/api/schools'))[1];
  const school = (name) => schools.find((s) => s.name === name).id;
  const room = async (s, name, grade) =>
    (await operatorApi(server, 'POST', '/api/classrooms', { school: school(s), name, grade }))[1];
  await room('北京一零一中学怀柔校区', '初一(7)班', 7);
  await room('北京一零一中学怀柔校区', '初一(8)班', 7);
  const im1 = await room('四子王旗第一中学', '初一(2)班', 7);
  const im2 = await room('四子王旗第一中学', '初一(3)班', 7);

  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.goto(`${server.url}/plan.html`);
  await signInOnPlatform(page, 'wang');
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 15000 });
  assert.equal(new URL(page.url()).pathname, '/plan.html');
  // Paired schools' classrooms come first.
  const first = await page.$$eval('#partners li', (lis) => lis.slice(0, 2).map((li) => li.className));
  assert.ok(first.every((c) => c.includes('paired')), `paired first: ${first}`);

  const fillLesson = async (title, host, partners) => {
    await typeInto(page, '#title', title);
    await typeInto(page, '#subject', '数学');
    await page.selectOption('#host', { label: host });
    await typeInto(page, '#partner-search', '四子王旗');
    for (const id of partners) {
      await page.focus(`#partners input[value="${id}"]`);
      await page.keyboard.press('Space');
    }
    await page.focus('#start');
    await page.fill('#start', beijingLocal(5));
    await typeInto(page, '#duration_min', '40');
  };
  await fillLesson('分数的意义', '初一(7)班', [im1.id, im2.id]);
  await page.screenshot({ path: join(artifacts, 'plan-form-zh.png'), fullPage: true });
  await page.focus('#title');
  await Promise.all([page.waitForURL(/teacher\.html\?saved=/), page.keyboard.press('Enter')]);
  await page.waitForSelector('.session .title >> text=分数的意义');
  const lesson = page.locator('.session', { hasText: '分数的意义' });
  const links = await lesson.locator('.link-row a[data-role="classroom"]').evaluateAll((as) => as.map((a) => a.href));
  assert.equal(links.length, 2, 'a link for each of the two classrooms');
  const id = Number(await lesson.getAttribute('data-session'));

  // Another of the school's classrooms, with one of the same partners at that time: the clash
  // is named, nothing saved.
  await page.goto(`${server.url}/plan.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await fillLesson('小数的认识', '初一(8)班', [im2.id]);
  await page.click('#save');
  await page.waitForSelector('#plan-error:not([hidden])');
  const clash = await page.textContent('#plan-error');
  console.log(`clash: ${clash}`);
  assert.match(clash, /时间冲突.*初一\(3\)班.*分数的意义/);
  assert.equal(await page.getAttribute('#classrooms-field', 'aria-invalid'), 'true');
  await page.screenshot({ path: join(artifacts, 'plan-clash-zh.png'), fullPage: true });
  await page.click('#lang');
  assert.match(await page.textContent('#plan-error'), /Clash: .*初一\(3\)班 already has “分数的意义”/);
  await page.screenshot({ path: join(artifacts, 'plan-clash-en.png'), fullPage: true });
  // A bad field is marked at the field, in the page's language.
  await typeInto(page, '#title', ' ');
  await page.click('#save');
  await page.waitForSelector('#title[aria-invalid="true"]');
  assert.match(await page.textContent('#title ~ .field-error, .field:has(#title) .field-error'), /Write the topic/);
  await page.click('#lang');
  const [, sessions] = await operatorApi(server, 'GET', '/api/sessions?range=week');
  assert.equal(sessions.filter((s) => s.title === '小数的认识').length, 0, 'nothing was saved');

  // An expert lecture has seats: the field shows for a lecture only, a bad count is marked at
  // the field in the page's language, and the seats are kept.
  await page.goto(`${server.url}/plan.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  assert.equal(await page.isVisible('#audience'), false, 'a lesson has no seats');
  await page.selectOption('#kind', 'lecture');
  await typeInto(page, '#title', '专家讲座：课堂提问');
  await page.selectOption('#host', { label: '初一(8)班' });
  await page.fill('#start', beijingLocal(3 * 60));
  await typeInto(page, '#audience', '0');
  await page.click('#save');
  await page.waitForSelector('#audience[aria-invalid="true"]');
  assert.match(await page.textContent('.field:has(#audience) .field-error'), /1 到 100000/);
  await page.screenshot({ path: join(artifacts, 'plan-lecture-zh.png'), fullPage: true });
  await typeInto(page, '#audience', '800');
  await Promise.all([page.waitForURL(/saved=/), page.click('#save')]);
  const lectureId = Number(new URL(page.url()).searchParams.get('saved'));
  const [, lecture] = await operatorApi(server, 'GET', `/api/sessions/${lectureId}`);
  assert.equal(lecture.kind, 'lecture');
  assert.equal(lecture.audience, 800, 'the lecture keeps its seats');

  // Edit: the lesson's topic changes; a weekly series, then the rest of it cancelled.
  await page.goto(`${server.url}/plan.html?edit=${id}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  assert.equal(await page.inputValue('#title'), '分数的意义');
  await typeInto(page, '#title', '分数的意义（一）');
  await Promise.all([page.waitForURL(/saved=/), page.click('#save')]);
  await page.waitForSelector('.session .title >> text=分数的意义（一）');
  await page.goto(`${server.url}/plan.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await typeInto(page, '#title', '每周练习');
  await page.selectOption('#host', { label: '初一(8)班' });
  await page.fill('#start', beijingLocal(24 * 60 + 60));
  await page.check(`#partners input[value="${im1.id}"]`);
  await page.check('#weekly');
  const until = new Date(Date.now() + 22 * 86400000 + 8 * 3600000).toISOString().slice(0, 10);
  await page.fill('#until', until);
  await page.click('#save');
  await page.waitForURL(/saved=/, { timeout: 10000 }).catch(async (e) => {
    throw new Error(`not saved: ${await page.textContent('#plan-error')} ${await page.$$eval('.field-error', (es) => es.map((x) => x.textContent))}; ${e.message}`);
  });
  const seriesFirst = Number(new URL(page.url()).searchParams.get('saved'));
  const cancelled = await page.evaluate(async (sid) => {
    const { csrf } = await (await fetch('/api/me')).json();
    const res = await fetch(`/api/teacher/sessions/${sid}?series=true`, { method: 'DELETE', headers: { 'X-CSRF-Token': csrf } });
    return (await res.json()).cancelled;
  }, seriesFirst);
  console.log(`weekly series: ${cancelled.length} occurrences cancelled together`);
  assert.ok(cancelled.length >= 3, `the rest of the series: ${cancelled}`);

  // The teacher joins as host; a classroom opens its link and decodes the teacher.
  await page.goto(`${server.url}/teacher.html`);
  await Promise.all([page.waitForNavigation(), page.locator('.session', { hasText: '分数的意义' }).locator('.join-now').click()]);
  await page.waitForFunction(() => document.body.dataset.role === 'host', null, { timeout: 15000 });
  const classroom = await browser.context.newPage();
  await classroom.goto(links[0]);
  const video = await waitForLiveVideo(classroom, '#stage-video', 30000);
  assert.ok(video.width > 0, 'the classroom decodes the teacher');
  await classroom.screenshot({ path: join(artifacts, 'plan-classroom-joined.png') });
  await classroom.close();
  await page.close();
});
