// Replay: a lesson recorded for a few seconds plays on the replay page opened with its replay
// link (no operator credential): the teacher's camera large, time advancing; a seek puts every
// file at the same moment. Then 同课异构: the research session recorded too, the two lessons side
// by side with one seek bar.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, artifacts, operatorApi, until } from './harness.mjs';

const env = serverAndBrowser();

/**
 * Records `session` for `seconds`: the host's page from the start, the classroom's (if any)
 * joining 2 s into the recording, so that its files begin later on the recording's timeline.
 */
async function record(server, browser, session, hostLink, classLink, seconds) {
  const open = async (l) => {
    const p = await browser.context.newPage();
    await p.goto(server.url + l.url);
    await p.waitForFunction(() => document.querySelector('#self-video')?.srcObject, null, { timeout: 20000 });
    return p;
  };
  const pages = [await open(hostLink)];
  await new Promise((r) => setTimeout(r, 1500));
  const [on] = await operatorApi(server, 'POST', `/api/sessions/${session}/recording`, { on: true });
  assert.equal(on, 200);
  if (classLink) {
    await new Promise((r) => setTimeout(r, 2000));
    pages.push(await open(classLink));
  }
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const [off, view] = await operatorApi(server, 'POST', `/api/sessions/${session}/recording`, { on: false });
  assert.equal(off, 200);
  for (const p of pages) await p.close();
  return view;
}

/** Where every media element of the replay is, against where the timeline says it should be. */
const positions = (page) => page.evaluate(() => {
  const r = window.tongbuReplay;
  const T = r.now();
  return r.media.map((m) => {
    const want = r.wantOf(m, T);
    return { tag: m.el.tagName, want, begun: want >= m.from, at: m.el.currentTime, paused: m.el.paused, width: m.el.videoWidth || 0 };
  });
});

test('a recorded lesson replays from its link, and two lessons side by side', { timeout: 150000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const lesson = demo.session.id;
  const view = await record(server, browser, lesson, demo.links.find((l) => l.role === 'host'), demo.links.find((l) => l.role === 'classroom'), 6);
  assert.ok(view.files.length >= 4, JSON.stringify(view.files.map((f) => f.name)));
  const [, link] = await operatorApi(server, 'POST', `/api/sessions/${lesson}/replay-link`, { valid_days: 1 });

  // A new tab holds no operator credential (it lives in a tab's session storage): the link alone.
  const page = await browser.context.newPage();
  try {
    await page.goto(server.url + link.url);
    await page.waitForFunction(() => !document.querySelector('#play').disabled, null, { timeout: 15000 });
    await page.waitForFunction(() => window.tongbuReplay.media.every((m) => m.el.readyState >= 1), null, { timeout: 15000 });
    const duration = await page.evaluate(() => window.tongbuReplay.duration());
    console.log(`replay of ${duration.toFixed(2)} s, ${(await positions(page)).length} files`);
    assert.ok(duration > 5 && duration < 10, `duration ${duration}`);
    // The classroom joined 2 s in: its files begin later than the teacher's.
    const late = await page.evaluate(() => Math.max(...window.tongbuReplay.media.map((m) => m.from - m.start)));
    assert.ok(late > 1.5, `a file begins ${late} s into the recording`);
    await page.click('#play');
    await new Promise((r) => setTimeout(r, 2000));
    let pos = await positions(page);
    const teacher = await page.evaluate(() => {
      const v = document.querySelector('.replay-stage video[data-role="host"]');
      return { width: v.videoWidth, at: v.currentTime };
    });
    console.log('after 2 s of play:', JSON.stringify(pos));
    assert.ok(teacher.width > 0, 'the teacher is seen');
    assert.ok(teacher.at > 1, `the teacher's time advances: ${teacher.at}`);
    // Seek to 4 s: every file, the late ones too, is within 0.4 s of it.
    await page.evaluate(() => {
      const s = document.querySelector('#seek');
      s.value = '4';
      s.dispatchEvent(new Event('input'));
    });
    await new Promise((r) => setTimeout(r, 600));
    pos = await positions(page);
    console.log('after seeking to 4 s:', JSON.stringify(pos));
    for (const m of pos.filter((m) => m.begun)) {
      assert.ok(Math.abs(m.at - m.want) < 0.4, `${m.tag} at ${m.at}, the timeline at ${m.want}`);
    }
    await page.screenshot({ path: join(artifacts, 'replay-lesson.png') });

    // 同课异构: the research session recorded as well, both side by side.
    const research = demo.research.session.id;
    const rView = await record(server, browser, research, demo.research.links.find((l) => l.role === 'host'), null, 4);
    assert.ok(rView.files.length >= 2);
    const [, rLink] = await operatorApi(server, 'POST', `/api/sessions/${research}/replay-link`, {});
    await page.goto(`${server.url}${link.url}&compare=${research}&ctoken=${rLink.token}`);
    await page.waitForFunction(() => !document.querySelector('#play').disabled, null, { timeout: 15000 });
    const panes = await page.$$eval('.replay-pane', (ps) => ps.map((p) => p.dataset.session));
    assert.deepEqual(panes, [String(lesson), String(research)]);
    await page.click('#play');
    await new Promise((r) => setTimeout(r, 2000));
    // Each teacher's time from its own recording's start.
    const both = await page.evaluate(() => window.tongbuReplay.media
      .filter((m) => m.el.matches('.replay-stage video[data-role="host"]'))
      .map((m) => ({ width: m.el.videoWidth, at: m.el.currentTime - m.start })));
    console.log('side by side:', JSON.stringify(both));
    assert.equal(both.length, 2, 'both teachers on stage');
    for (const v of both) assert.ok(v.width > 0 && v.at > 1, JSON.stringify(v));
    assert.ok(Math.abs(both[0].at - both[1].at) < 0.4, 'one seek bar: both at the same moment of their lessons');
    await page.screenshot({ path: join(artifacts, 'replay-compare.png') });

    // The lesson recorded again (as after a restart mid-lesson): its parts offered in order,
    // the first shown first, the second playing when chosen.
    await record(server, browser, lesson, demo.links.find((l) => l.role === 'host'), null, 3);
    await page.goto(server.url + link.url);
    await page.waitForFunction(() => !document.querySelector('#play').disabled, null, { timeout: 15000 });
    const parts = await page.$$eval('.replay-parts button', (bs) => bs.map((b) => ({ text: b.textContent, pressed: b.getAttribute('aria-pressed') })));
    console.log('parts:', JSON.stringify(parts));
    assert.equal(parts.length, 2, 'two parts offered');
    assert.deepEqual(parts.map((p) => p.pressed), ['true', 'false'], 'the first part first');
    const first = await page.evaluate(() => window.tongbuReplay.duration());
    assert.ok(first > 5, `part 1 lasts ${first} s`);
    await page.click('.replay-parts button:nth-child(2)');
    await page.waitForFunction(() => window.tongbuReplay.media.every((m) => m.el.readyState >= 1), null, { timeout: 15000 });
    const second = await page.evaluate(() => window.tongbuReplay.duration());
    assert.ok(second > 2 && second < 5, `part 2 lasts ${second} s`);
    await page.click('#play');
    const teacherAt = () => page.evaluate(() => {
      const v = document.querySelector('.replay-stage video[data-role="host"]');
      return v && v.videoWidth > 0 && v.currentTime > 0 ? { at: v.currentTime, files: window.tongbuReplay.media.length } : null;
    });
    const { value: p0 } = await until(teacherAt, 'the teacher of part 2', 10000);
    await new Promise((r) => setTimeout(r, 1000));
    const p1 = await teacherAt();
    console.log(`part 1 ${first.toFixed(2)} s, part 2 ${second.toFixed(2)} s; part 2 plays ${p0.at.toFixed(2)} → ${p1.at.toFixed(2)} with ${p1.files} files`);
    assert.ok(p1.at > p0.at + 0.5, 'part 2 plays');
    assert.equal(p1.files, 2, 'part 2 holds the teacher alone (camera and microphone)');
    await page.screenshot({ path: join(artifacts, 'replay-parts.png') });
  } finally {
    await page.close();
  }
});
