// A host and two remote classrooms join the demo lesson in real Chromium: each classroom sees the
// teacher's video decode, the host sees both classrooms.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, waitForLiveVideo, artifacts } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('classrooms see the teacher, the host sees the classrooms', { timeout: 90000 }, async () => {
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = demo.links.find((l) => l.role === 'host');
  const classLinks = demo.links.filter((l) => l.role === 'classroom').slice(0, 2);
  assert.equal(classLinks.length, 2);

  const landing = await browser.context.newPage();
  await landing.goto(server.url + '/');
  await landing.waitForSelector('#links a.join-host');
  const roles = await landing.$$eval('#links a', (as) => as.map((a) => a.dataset.role));
  assert.deepEqual(roles, ['host', 'classroom', 'classroom', 'classroom', 'observer']);
  await landing.screenshot({ path: join(artifacts, 'landing.png') });
  await landing.close();

  const host = await browser.context.newPage();
  await host.goto(server.url + hostLink.url);
  const classrooms = [];
  for (const l of classLinks) {
    const p = await browser.context.newPage();
    await p.goto(server.url + l.url);
    classrooms.push(p);
  }

  try {
    for (const p of classrooms) {
      const s = await waitForLiveVideo(p, '#stage-video', 15000);
      assert.ok(s.width > 0, 'teacher video has a size');
    }
    await host.waitForFunction(() => document.querySelectorAll('#grid .tile').length >= 2, null, {
      timeout: 15000,
    });
    for (let i = 1; i <= 2; i++) {
      await waitForLiveVideo(host, `#grid .tile:nth-child(${i}) video`, 15000);
    }
    assert.equal(await host.textContent('#state'), '可加入', 'the first join opened the lesson');
    const names = await host.$$eval('#grid .tile .name', (els) => els.map((e) => e.textContent));
    for (const l of classLinks) assert.ok(names.includes(l.name), `host shows ${l.name}: ${names}`);
  } finally {
    await host.screenshot({ path: join(artifacts, 'host.png') });
    for (const [i, p] of classrooms.entries()) {
      await p.screenshot({ path: join(artifacts, `classroom-${i + 1}.png`) });
    }
  }
});
