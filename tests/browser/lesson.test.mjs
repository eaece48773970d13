// A host and two remote classrooms join the demo lesson in real Chromium: each classroom sees the
// teacher's video decode, the host sees both classrooms.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, waitForLiveVideo, operatorApi, artifacts } from './harness.mjs';

const env = serverAndBrowser();

test('classrooms see the teacher, the host sees the classrooms', { timeout: 90000 }, async () => {
  const { server, browser } = env;
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
    // The server's measurement of each classroom's link shows as a dot on its tile.
    await host.waitForFunction(() => {
      const tiles = [...document.querySelectorAll('#grid .tile')];
      return tiles.length >= 2 && tiles.every((t) => t.dataset.health === 'good' && !t.querySelector('.dot').hidden);
    }, null, { timeout: 15000 });
    assert.equal(await host.getAttribute('#grid .tile .dot', 'aria-label'), '网络: 良好');
    for (const p of classrooms) assert.equal(await p.isVisible('#link-banner'), false, 'no banner on a good link');
    const names = await host.$$eval('#grid .tile .name', (els) => els.map((e) => e.textContent));
    for (const l of classLinks) assert.ok(names.includes(l.name), `host shows ${l.name}: ${names}`);
  } finally {
    await host.screenshot({ path: join(artifacts, 'host.png') });
    for (const [i, p] of classrooms.entries()) {
      await p.screenshot({ path: join(artifacts, `classroom-${i + 1}.png`) });
    }
    for (const p of [host, ...classrooms]) await p.close();
  }
});

test('spotlight, raised hand, chat and the end of the lesson reach every page', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = demo.links.find((l) => l.role === 'host');
  const [aLink, bLink] = demo.links.filter((l) => l.role === 'classroom').slice(1, 3);
  const host = await browser.context.newPage();
  await host.goto(server.url + hostLink.url);
  const a = await browser.context.newPage();
  await a.goto(server.url + aLink.url);
  const b = await browser.context.newPage();
  await b.goto(server.url + bLink.url);
  try {
    await waitForLiveVideo(b, '#stage-video', 15000);
    await host.waitForFunction(() => document.querySelectorAll('#grid .tile video').length >= 2, null, {
      timeout: 15000,
    });

    // The host spotlights classroom A: B sees A's tile enlarged.
    const aTile = host.locator('#grid .tile', { hasText: aLink.name });
    await aTile.locator('button.spot').click();
    await b.waitForFunction(
      (name) => [...document.querySelectorAll('#grid .tile.spotlit .name')].some((n) => n.textContent === name),
      aLink.name,
      { timeout: 5000 },
    );
    const sizes = await b.$$eval('#grid .tile', (ts) =>
      ts.map((t) => ({ spot: t.classList.contains('spotlit'), w: t.getBoundingClientRect().width })));
    const spot = sizes.find((x) => x.spot);
    assert.ok(spot, 'a spotlit tile at B');
    // The host's stage shows the spotlit classroom.
    await host.waitForFunction(() => {
      const v = document.querySelector('#stage-video');
      return v && v.srcObject && v.videoWidth > 0;
    }, null, { timeout: 10000 });

    // B raises a hand: the host sees it on B's tile.
    await b.click('#hand');
    const bTile = host.locator('#grid .tile', { hasText: bLink.name });
    await bTile.locator('.hand').waitFor({ state: 'visible', timeout: 5000 });

    // Chat round-trips between A and the host.
    await a.fill('#chat-input', '老师，我们听得很清楚');
    await a.press('#chat-input', 'Enter');
    await host.locator('#chat-log li', { hasText: '老师，我们听得很清楚' }).waitFor({ timeout: 5000 });
    await a.locator('#chat-log li', { hasText: '老师，我们听得很清楚' }).waitFor({ timeout: 5000 });

    // The host mutes classroom B: B's microphone goes off and B's page says so.
    await bTile.locator('button.mute').click();
    await b.waitForFunction(() => !document.querySelector('#banner').hidden, null, { timeout: 5000 });
    assert.match(await b.textContent('#banner'), /主讲老师已将你的麦克风静音/);
    const bMic = await b.evaluate(() => document.querySelector('#self-video').srcObject.getAudioTracks().map((t) => t.enabled));
    assert.deepEqual(bMic, [false]);
    // The host's tile marks it muted, and its button now lifts the mute.
    await bTile.locator('.muted-tag', { hasText: '已静音' }).waitFor({ timeout: 5000 });
    await bTile.locator('button.mute', { hasText: '取消静音' }).waitFor({ timeout: 5000 });

    await host.screenshot({ path: join(artifacts, 'host-spotlight.png') });
    await b.screenshot({ path: join(artifacts, 'classroom-spotlight.png') });

    // The host ends the lesson: every page says so.
    await host.click('#end');
    for (const p of [host, a, b]) {
      await p.waitForFunction(() => document.body.dataset.ended === 'true', null, { timeout: 5000 });
      const text = await p.textContent('#banner');
      assert.match(text, /本节课已结束/);
    }
    await b.screenshot({ path: join(artifacts, 'classroom-ended.png') });
  } finally {
    for (const p of [host, a, b]) await p.close();
  }
});

test('a classroom link opened in a second window takes the seat; the first page says so and stays out', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  // The lesson has ended (the test before): the research session's links.
  const { research } = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = research.links.find((l) => l.role === 'host');
  const link = research.links.find((l) => l.role === 'classroom');
  const host = await browser.context.newPage();
  await host.goto(server.url + hostLink.url);
  const first = await browser.context.newPage();
  await first.goto(server.url + link.url);
  // The research session shows its two compared lessons, not a stage: connected is enough.
  const connected = (p) => p.waitForSelector('#conn[data-state="connected"]', { timeout: 20000 });
  await connected(first);
  await first.evaluate(() => (window.stillHere = true));
  const second = await browser.context.newPage();
  try {
    await second.goto(server.url + link.url);
    await connected(second);
    await first.waitForFunction(() => document.querySelector('#banner').textContent.includes('已在别的窗口'), null, { timeout: 10000 });
    // It does not rejoin by itself (the two would take the seat from each other in turn).
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await first.evaluate(() => window.stillHere === true), true, 'the first page did not reload');
    // The session has the classroom once.
    const [, health] = await operatorApi(server, 'GET', `/api/sessions/${research.session.id}/health`);
    assert.equal(health.participants.filter((p) => p.name === link.name).length, 1, JSON.stringify(health.participants.map((p) => p.name)));
    await first.screenshot({ path: join(artifacts, 'lesson-replaced.png') });
  } finally {
    for (const p of [host, first, second]) await p.close();
  }
});
