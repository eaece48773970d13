// An ordinary restart, in real Chromium: the server is stopped as systemd stops it (SIGTERM) in
// the middle of a lesson and started again on the same address and data; the pages, told it
// restarts, rejoin by themselves — the classroom sees the teacher again and the teacher the
// classroom, with no one touching a page. And a crash: kill -9, the server down for 3 s (a slow
// restart; a page that reloaded meanwhile would be left on the browser's error page), then back:
// the pages find it again and the classroom sees the teacher within 5 s.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, waitForLiveVideo, until, artifacts } from './harness.mjs';

test('after a restart the lesson pages rejoin by themselves, media and all', { timeout: 120000 }, async () => {
  let server = await startServer();
  const browser = await launchBrowser();
  try {
    const port = new URL(server.url).port;
    const demo = await (await fetch(`${server.url}/api/demo`)).json();
    const hostLink = demo.links.find((l) => l.role === 'host');
    const room = demo.links.find((l) => l.role === 'classroom');
    const host = await browser.context.newPage();
    await host.goto(server.url + hostLink.url);
    const page = await browser.context.newPage();
    await page.goto(server.url + room.url);
    await waitForLiveVideo(page, '#stage-video', 20000);
    const told = page.waitForFunction(() => document.querySelector('#banner').textContent.includes('服务器正在重启'), null, { timeout: 10000, polling: 50 });
    // Marks that survive only until the pages reload.
    for (const p of [host, page]) await p.evaluate(() => (window.beforeRestart = true));

    const stopped = Date.now();
    assert.equal(await server.stop({ keepData: true }), 0, 'a clean exit');
    console.log(`stopped gracefully in ${Date.now() - stopped} ms`);
    await told;
    server = await startServer({ port, dataDir: server.dataDir });
    const back = Date.now();
    for (const p of [host, page]) {
      await until(() => p.evaluate(() => !window.beforeRestart && document.readyState === 'complete').catch(() => false), 'the page rejoined', 40000);
    }
    await waitForLiveVideo(page, '#stage-video', 30000);
    await host.waitForFunction((name) => [...document.querySelectorAll('#grid .tile')].some((t) =>
      t.textContent.includes(name) && t.querySelector('video').videoWidth > 0), room.name, { timeout: 30000 });
    console.log(`the classroom sees the teacher again ${Date.now() - back} ms after the server is back`);
    await page.screenshot({ path: join(artifacts, 'restart-classroom.png') });
  } finally {
    await browser.close();
    await server.stop();
  }
});

test('after kill -9 and 3 s down, the pages come back within 5 s of the server', { timeout: 120000 }, async () => {
  let server = await startServer();
  const browser = await launchBrowser();
  try {
    const port = new URL(server.url).port;
    const demo = await (await fetch(`${server.url}/api/demo`)).json();
    const hostLink = demo.links.find((l) => l.role === 'host');
    const room = demo.links.find((l) => l.role === 'classroom');
    const host = await browser.context.newPage();
    await host.goto(server.url + hostLink.url);
    const page = await browser.context.newPage();
    await page.goto(server.url + room.url);
    await waitForLiveVideo(page, '#stage-video', 20000);

    assert.equal(await server.stop({ keepData: true, signal: 'SIGKILL' }), null, 'killed');
    await new Promise((r) => setTimeout(r, 3000));
    server = await startServer({ port, dataDir: server.dataDir });
    const back = Date.now();
    await waitForLiveVideo(page, '#stage-video', 30000);
    const seen = Date.now() - back;
    await host.waitForFunction((name) => [...document.querySelectorAll('#grid .tile')].some((t) =>
      t.textContent.includes(name) && t.querySelector('video').videoWidth > 0), room.name, { timeout: 30000 });
    console.log(`after kill -9: the classroom sees the teacher ${seen} ms and the teacher the classroom ${Date.now() - back} ms after the server is back`);
    await page.screenshot({ path: join(artifacts, 'crash-classroom.png') });
    assert.ok(seen < 5000, `the classroom sees the teacher ${seen} ms after the restart`);
  } finally {
    await browser.close();
    await server.stop();
  }
});
