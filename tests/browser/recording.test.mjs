// Recording a lesson: the host presses 开始录制, every page in the lesson shows 录制中 (also one
// that joins later), the operator switches it off and the pill goes; Chromium plays the
// teacher's recorded camera (fetched with the operator credential). Once the lesson ends, its
// report lists the recording and links its replay, which plays without the credential.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, artifacts, operatorApi, until, OPERATOR_TOKEN, openDemo } from './harness.mjs';

const env = serverAndBrowser();

const pill = (page) => page.evaluate(() => {
  const p = document.querySelector('#recording');
  return p && !p.hidden ? p.textContent : null;
});

test('the host records a lesson; the pages say so; Chromium plays the recording', { timeout: 120000 }, async () => {
  const { server, browser } = env;
  const { demo, pages: [host, a] } = await openDemo(env, 'host', 'classroom');
  const sid = demo.session.id;
  const bLink = demo.links.filter((l) => l.role === 'classroom')[1];
  let b, ops, replay;
  try {
    await host.waitForFunction(() => document.querySelector('#self-video')?.srcObject, null, { timeout: 20000 });
    await a.waitForFunction(() => document.querySelector('#stage-video')?.videoWidth > 0, null, { timeout: 30000 });
    // The host presses 开始录制; classrooms have no such button.
    assert.equal(await a.locator('#record').isVisible(), false);
    await host.locator('#record', { hasText: '开始录制' }).click();
    for (const p of [host, a]) await until(() => pill(p), 'the recording pill', 5000);
    await until(async () => (await host.locator('#record').textContent()) === '停止录制', 'the button turned to 停止录制', 5000);
    assert.equal(await pill(host), '● 录制中');
    // A classroom that joins during the recording is told too.
    b = await browser.context.newPage();
    await b.goto(server.url + bLink.url);
    await until(() => pill(b), 'the pill on a page that joined later', 15000);
    await host.screenshot({ path: join(artifacts, 'recording-host.png') });

    await new Promise((r) => setTimeout(r, 5000));
    const [off, view] = await operatorApi(server, 'POST', `/api/sessions/${sid}/recording`, { on: false });
    assert.equal(off, 200);
    for (const p of [host, a, b]) await until(async () => (await pill(p)) === null, 'the pill gone', 5000);
    const names = view.files.map((f) => f.name);
    console.log('recorded:', names.join(', '));
    assert.ok(names.filter((n) => n.endsWith('-camera.webm')).length >= 2, `cameras among ${names}`);
    assert.ok(names.filter((n) => n.endsWith('-microphone.webm')).length >= 2, `microphones among ${names}`);

    // The host's camera plays in Chromium: a picture, and time advancing.
    const [, me] = await operatorApi(server, 'GET', `/api/sessions/${sid}/health`);
    const teacher = me.participants.find((p) => p.role === 'host').participant;
    const file = view.files.find((f) => f.name === `p${teacher}-camera.webm`);
    assert.ok(file, `the teacher's camera among ${names}`);
    const played = await a.evaluate(async ({ url, token }) => {
      const blob = await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).blob();
      const v = document.createElement('video');
      v.muted = true;
      v.src = URL.createObjectURL(blob);
      document.body.append(v);
      await v.play();
      const t0 = v.currentTime;
      await new Promise((r) => setTimeout(r, 1500));
      return { type: blob.type, bytes: blob.size, width: v.videoWidth, height: v.videoHeight, advanced: v.currentTime - t0 };
    }, { url: server.url + file.url, token: OPERATOR_TOKEN });
    console.log('played', JSON.stringify(played));
    assert.equal(played.type, 'video/webm');
    assert.ok(played.width > 0, 'a picture');
    assert.ok(played.advanced > 0.5, `time advances: ${played.advanced}`);

    // The lesson ends; its report lists the recording with a replay link, which plays in a tab
    // that holds no operator credential.
    const [ended] = await operatorApi(server, 'POST', `/api/sessions/${sid}/end`);
    assert.equal(ended, 200);
    ops = await browser.context.newPage();
    await ops.goto(`${server.url}/report.html?session=${sid}#token=${OPERATOR_TOKEN}`);
    await ops.waitForSelector('#recordings:not([hidden]) #replay-link[href*="replay.html"]', { timeout: 15000 });
    const summary = await ops.textContent('#recordings-summary');
    assert.match(summary, /共 1 次录制、\d+ 个文件/);
    await ops.screenshot({ path: join(artifacts, 'recording-report.png'), fullPage: true });
    const href = await ops.getAttribute('#replay-link', 'href');
    replay = await browser.context.newPage();
    await replay.goto(server.url + href);
    await replay.waitForFunction(() => !document.querySelector('#play').disabled, null, { timeout: 15000 });
    const teacherAt = () => replay.evaluate(() => {
      const v = document.querySelector('.replay-stage video[data-role="host"]');
      return v && v.videoWidth > 0 ? { at: v.currentTime } : null;
    });
    await replay.click('#play');
    const { value: t0 } = await until(teacherAt, 'the teacher on the replay page', 10000);
    await new Promise((r) => setTimeout(r, 1500));
    const t1 = await teacherAt();
    assert.ok(t1.at - t0.at > 0.5, `the replay plays: ${t0.at} → ${t1.at}`);
  } finally {
    for (const p of [host, a, b, ops, replay]) if (p) await p.close();
  }
});
